"""知识库 (/knowledge, owner only): the FAQ and the catalog's course facts — list, search, add, edit, phrasings,
retire, history. Every change is a CreatorActions call (bot/actions.py → bot/learning/knowledge_base.py), the
same `coursebot faq …` makes: validated by the file loaders' own validators, stored as a revision, audited, and
live in every worker before its next comment. A refused form comes back with each error next to its field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.console.base import ACTIONS, by, call, redirect, render, requires

# The edit form's fields, in the order shown (labels zh-CN; the errors keep the loaders' English words, which
# are what the file loaders and `coursebot faq` print — one wording to search for).
FAQ_FORM = (("question", "问题"), ("answer", "回答"), ("course_id", "所属课程"), ("live_answer", "直播短回答"), ("live_topic", "直播话题"))
COURSE_FORM = (("price", "价格（元）"), ("url", "链接"), ("description", "简介"))
KIND_ZH = {"faq_entry": "新增", "faq_phrasing": "加问法", "faq_edit": "修改", "faq_unphrase": "删问法", "faq_retire": "停用",
           "course_edit": "修改课程"}
FIELD_ZH = {"question": "问题", "answer": "回答", "course_id": "课程", "live_answer": "直播短回答", "live_topic": "直播话题",
            "alternatives": "问法", "phrasing": "问法", "price": "价格", "url": "链接", "description": "简介", "id": "编号"}


def _kb(request: web.Request):
    return request.app[ACTIONS].knowledge


@requires("owner")
async def index(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "").strip()[:200]
    kb = _kb(request)
    faq, courses = await call(kb.faq, q or None), await call(kb.courses, q or None)
    return render(request, "knowledge.html", q=q, faq=faq, courses=courses)


async def _entry_page(request: web.Request, faq_id: str, *, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                      status: int = 200) -> web.Response:
    kb = _kb(request)
    entry = await call(kb.entry, faq_id)
    if entry is None:
        raise web.HTTPNotFound(text="no such FAQ entry (retired, or never there)")
    history = await call(kb.history, faq_id)
    courses = await call(kb.courses)
    shown = {name: getattr(entry, name) or "" for name, _ in FAQ_FORM} | (values or {})
    return render(request, "knowledge_entry.html", status=status, entry=entry, history=history, courses=courses, form=FAQ_FORM,
                  values=shown, errors=errors or {}, KIND_ZH=KIND_ZH, FIELD_ZH=FIELD_ZH,
                  danmaku=request.app[ACTIONS].knowledge.danmaku)


@requires("owner")
async def entry(request: web.Request) -> web.StreamResponse:
    return await _entry_page(request, request.match_info["id"])


def _fields(form: Any, names: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name, _ in names if name in form}


@requires("owner")
async def edit(request: web.Request) -> web.StreamResponse:
    faq_id = request.match_info["id"]
    values = _fields(await request.post(), FAQ_FORM)
    result = await call(request.app[ACTIONS].edit_faq, faq_id, by(request), **values)
    if result.ok:
        raise redirect(f"/knowledge/faq/{faq_id}", "已保存，下一条评论起生效")
    return await _entry_page(request, faq_id, errors=result.errors, values=values, status=422)


@requires("owner")
async def phrasing(request: web.Request) -> web.StreamResponse:
    """Add (`text`) or remove (`remove`) a phrasing; a refusal shows next to the phrasing box."""
    faq_id = request.match_info["id"]
    form = await request.post()
    actions, who = request.app[ACTIONS], by(request)
    if "remove" in form:
        result = await call(actions.remove_phrasing, faq_id, str(form.get("remove", "")), who)
        done = "问法已删除"
    else:
        result = await call(actions.add_phrasing, faq_id, str(form.get("text", "")), who)
        done = "问法已添加"
    if result.ok:
        raise redirect(f"/knowledge/faq/{faq_id}", done)
    return await _entry_page(request, faq_id, errors=result.errors, values={"phrasing": str(form.get("text", ""))}, status=422)


@requires("owner")
async def retire_confirm(request: web.Request) -> web.StreamResponse:
    entry = await call(_kb(request).entry, request.match_info["id"])
    if entry is None:
        raise web.HTTPNotFound(text="no such FAQ entry")
    return render(request, "knowledge_retire.html", entry=entry)


@requires("owner")
async def retire(request: web.Request) -> web.StreamResponse:
    faq_id = request.match_info["id"]
    result = await call(request.app[ACTIONS].retire_faq, faq_id, by(request))
    if not result.ok:
        raise redirect("/knowledge", f"未完成：{'；'.join(result.errors.values())}")
    raise redirect("/knowledge", f"{faq_id} 已停用（内容保存在修改记录里）")


FAQ_NEW = (("faq_id", "编号（可不填）"), *FAQ_FORM, ("alternatives", "其他问法（每行一个）"))


@requires("owner")
async def new(request: web.Request) -> web.StreamResponse:
    courses = await call(_kb(request).courses)
    return render(request, "knowledge_new.html", form=FAQ_NEW, values={name: "" for name, _ in FAQ_NEW}, errors={}, courses=courses,
                  FIELD_ZH=FIELD_ZH)


@requires("owner")
async def add(request: web.Request) -> web.StreamResponse:
    values = _fields(await request.post(), FAQ_NEW)
    fields: dict[str, Any] = {name: values.get(name, "") for name in ("question", "answer", "live_answer", "live_topic")}
    fields |= {"course_id": values.get("course_id") or None, "faq_id": values.get("faq_id", "").strip() or None,
               "alternatives": [line.strip() for line in values.get("alternatives", "").splitlines() if line.strip()]}
    result = await call(request.app[ACTIONS].add_faq, by(request), **fields)
    if result.ok:
        raise redirect(f"/knowledge/faq/{result.revision.target}", "已添加，下一条评论起生效")  # type: ignore[union-attr]
    courses = await call(_kb(request).courses)
    errors = {("faq_id" if name == "id" else name): message for name, message in result.errors.items()}
    return render(request, "knowledge_new.html", status=422, form=FAQ_NEW, values={name: "" for name, _ in FAQ_NEW} | values,
                  errors=errors, courses=courses, FIELD_ZH=FIELD_ZH)


async def _course_page(request: web.Request, course_id: str, *, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                       status: int = 200) -> web.Response:
    kb = _kb(request)
    course = next((c for c in await call(kb.courses) if c.id == course_id), None)
    if course is None:
        raise web.HTTPNotFound(text="no such course")
    history = await call(kb.history, course_id)
    shown = {"price": f"{course.price:g}", "url": course.url, "description": course.description} | (values or {})
    return render(request, "knowledge_course.html", status=status, course=course, history=history, form=COURSE_FORM, values=shown,
                  errors=errors or {}, KIND_ZH=KIND_ZH, FIELD_ZH=FIELD_ZH)


@requires("owner")
async def course(request: web.Request) -> web.StreamResponse:
    return await _course_page(request, request.match_info["id"])


@requires("owner")
async def course_edit(request: web.Request) -> web.StreamResponse:
    course_id = request.match_info["id"]
    values = _fields(await request.post(), COURSE_FORM)
    result = await call(request.app[ACTIONS].edit_course, course_id, by(request), **values)
    if result.ok:
        raise redirect(f"/knowledge/course/{course_id}", "已保存，下一条评论起生效")
    return await _course_page(request, course_id, errors=result.errors, values=values, status=422)


def setup(app: web.Application) -> None:
    app.router.add_get("/knowledge", index)
    app.router.add_get("/knowledge/faq/new", new)
    app.router.add_post("/knowledge/faq/new", add)
    app.router.add_get("/knowledge/faq/{id}", entry)
    app.router.add_post("/knowledge/faq/{id}", edit)
    app.router.add_post("/knowledge/faq/{id}/phrasing", phrasing)
    app.router.add_get("/knowledge/faq/{id}/retire", retire_confirm)
    app.router.add_post("/knowledge/faq/{id}/retire", retire)
    app.router.add_get("/knowledge/course/{id}", course)
    app.router.add_post("/knowledge/course/{id}", course_edit)
