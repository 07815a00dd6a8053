"""收件箱 (/inbox): the handoff queue, newest first, live (the list polls /inbox/list every second), with the
reply box and the actions on each handoff's own page (/inbox/<id>). `/inbox.json` serves the same page as data."""

from __future__ import annotations

from aiohttp import web

from bot.actions import ActionRefused
from bot.console.base import ACTIONS, STORE, by, call, redirect, render, requires
from bot.console.queries import InboxFilter, InboxItem, inbox_item, inbox_page
from bot.storable import MAX_ROW_ID, row_id
from bot.store.admin import NotFound
from bot.store.corrections import UNDOABLE, HistoryEntry
from retrieval.intents import INTENTS

STATES = ("open", "resolved")


def _filter(request: web.Request) -> InboxFilter:
    q = request.query
    before = q.get("before", "")
    state = q.get("state", "open")
    return InboxFilter(platform=q.get("platform") or None, thread_id=q.get("thread") or None,
                       intent=q.get("intent") if q.get("intent") in INTENTS else None, state=state if state in STATES else "open",
                       before=int(before) if before.isdigit() and 0 < int(before) <= MAX_ROW_ID else None)


def _id(request: web.Request, name: str = "id") -> int:
    value = request.match_info[name]
    if not (value.isdigit() and 0 < int(value) <= MAX_ROW_ID):
        raise web.HTTPNotFound(text="no such item")
    return int(value)


@requires("assistant")
async def inbox(request: web.Request) -> web.StreamResponse:
    f = _filter(request)
    page = await call(inbox_page, request.app[STORE], f)
    return render(request, "inbox.html", page=page, f=f, intents=INTENTS, query=request.query_string)


@requires("assistant")
async def inbox_list(request: web.Request) -> web.StreamResponse:
    """The list alone: what the page's script fetches every second (new handoffs without a reload)."""
    f = _filter(request)
    page = await call(inbox_page, request.app[STORE], f)
    return render(request, "inbox_list.html", page=page, f=f)


@requires("assistant")
async def inbox_json(request: web.Request) -> web.StreamResponse:
    page = await call(inbox_page, request.app[STORE], _filter(request))
    return web.json_response({"open": page.open_count, "next_before": page.next_before, "items": [i.as_json() for i in page.items]})


@requires("assistant")
async def handoff_page(request: web.Request) -> web.StreamResponse:
    item = await call(inbox_item, request.app[STORE], _id(request))
    if item is None:
        raise web.HTTPNotFound(text="no such handoff")
    return render(request, "handoff.html", item=item, intents=INTENTS, suggestion=await call(_suggestion, request.app[ACTIONS], item),
                  lessons=await call(_lessons, request.app[STORE], item))


def _lessons(store, item: InboxItem) -> list[HistoryEntry]:
    """What the creator taught from this handoff's comment (intent, sentiment, reply verdicts), newest first, each
    with its undo if it was taken back: listed on the page so a lesson given by mistake can be undone there."""
    if item.event_pk is None:
        return []
    return [entry for entry in store.correction_history(limit=50, event_pk=item.event_pk) if entry.correction.kind in UNDOABLE]


def _suggestion(actions, item: InboxItem) -> tuple[str, str, float] | None:
    """(faq id, question, cosine) of the FAQ entry closest to the comment, to save it as another phrasing of.

    The pipeline's own hits, stored when the comment was understood (dense cosine against the entry's closest
    phrasing — what bot/learning/suggest.py computes), rather than a fresh search: the console loads no model
    (it starts in a second and runs beside the bot on a small server). An entry retired since is skipped; one
    added since is not suggested until the next comment like it."""
    if item.understood is None:
        return None
    for hit in item.understood.hits:
        kind, _, faq_id = str(hit.get("id", "")).partition(":")
        if kind == "faq" and faq_id:
            entry = actions.knowledge.entry(faq_id)
            if entry is not None:
                return entry.id, entry.question, float(hit.get("dense") or 0.0)
    return None


async def _act(request: web.Request, done: str, action) -> web.StreamResponse:
    """Run an action for the handoff in the URL; NotFound / refusals come back as a message on its page."""
    handoff_id = _id(request)
    form = await request.post()
    try:
        message = await action(handoff_id, form)
    except (NotFound, ActionRefused, ValueError) as exc:
        raise redirect(f"/inbox/{handoff_id}", f"未完成：{exc}") from None
    raise redirect(done.format(id=handoff_id), message)


@requires("assistant")
async def reply(request: web.Request) -> web.StreamResponse:
    async def run(handoff_id: int, form) -> str:
        result = await call(request.app[ACTIONS].reply, handoff_id, str(form.get("text", "")), by(request))
        return "已回复，消息已进入发送队列" if result.queued else "这条已经处理过了（没有重复发送）"

    return await _act(request, "/inbox/{id}", run)


@requires("assistant")
async def dismiss(request: web.Request) -> web.StreamResponse:
    async def run(handoff_id: int, form) -> str:
        await call(request.app[ACTIONS].dismiss, handoff_id, by(request))
        return f"#{handoff_id} 已关闭（未回复）"

    return await _act(request, "/inbox", run)


@requires("assistant")
async def take_over(request: web.Request) -> web.StreamResponse:
    async def run(handoff_id: int, form) -> str:
        item = await call(inbox_item, request.app[STORE], handoff_id)
        if item is None or not item.thread_id:
            raise ActionRefused("这条消息不属于任何帖子（私信），无法接管")
        if form.get("release"):
            await call(request.app[ACTIONS].release, item.platform, item.thread_id, by(request))
            return "已交还，机器人恢复在这个帖子里回复"
        await call(request.app[ACTIONS].take_over, item.platform, item.thread_id, by(request))
        return "已接管：机器人在这个帖子里保持沉默"

    return await _act(request, "/inbox/{id}", run)


@requires("assistant")
async def take_over_viewer(request: web.Request) -> web.StreamResponse:
    """The viewer who wrote this handoff: the bot stays silent with them on every thread (and in DMs)."""
    async def run(handoff_id: int, form) -> str:
        if form.get("release"):
            released = await call(request.app[ACTIONS].release_viewer, handoff_id, by(request))
            return "已交还该观众，机器人恢复回复" if released else "该观众没有被接管"
        await call(request.app[ACTIONS].take_over_viewer, handoff_id, by(request))
        return "已接管该观众：机器人在所有帖子和私信里都不再回复此人，其评论转给你"

    return await _act(request, "/inbox/{id}", run)


@requires("assistant")
async def save_faq(request: web.Request) -> web.StreamResponse:
    async def run(handoff_id: int, form) -> str:
        faq_id = str(form.get("faq_id", "")).strip() or None  # None: a new entry with my answer
        correction = await call(request.app[ACTIONS].save_answer_as_faq, handoff_id, by(request), faq_id)
        if faq_id:
            return f"已把这条评论存为常见问题 {faq_id} 的另一种问法"
        return f"已存为常见问题 {correction.payload.get('faq_id')}"

    return await _act(request, "/inbox/{id}", run)


@requires("assistant")
async def learn(request: web.Request) -> web.StreamResponse:
    """The learning actions on the handoff's comment: relabel (intent), sentiment, the bot's reply was wrong / right,
    and undo one of those lessons."""
    async def run(handoff_id: int, form) -> str:
        item = await call(inbox_item, request.app[STORE], handoff_id)
        if item is None:
            raise NotFound(f"handoff #{handoff_id} not found")
        what, actions, who = str(form.get("what", "")), request.app[ACTIONS], by(request)
        if what == "relabel":
            intent = str(form.get("intent", ""))
            await call(actions.relabel, item.event_pk, intent, who)
            return f"已将这条评论标为 {intent}"
        if what == "sentiment":
            sentiment = str(form.get("sentiment", ""))
            await call(actions.relabel_sentiment, item.event_pk, sentiment, who)
            return f"已将这条评论的情绪标为 {sentiment}"
        if what == "wrong":
            await call(actions.mark_wrong, item.event_pk, who)
            return "已记下：机器人的回复是错的"
        if what == "right":
            await call(actions.confirm_reply, item.event_pk, who)
            return "已记下：机器人的回复是对的"
        if what == "undo":
            # Only a lesson given on this handoff's comment: the page lists exactly those.
            correction_id = row_id(str(form.get("correction", "")).strip()) or 0
            if correction_id not in {e.correction.id for e in await call(_lessons, request.app[STORE], item)}:
                raise ActionRefused(f"#{correction_id} 不是对这条评论的教学，无法在这里撤销")
            await call(actions.undo, correction_id, who)
            return f"已撤销 #{correction_id}：机器人不再按这条教学处理"
        raise ActionRefused(f"unknown lesson {what!r}")

    return await _act(request, "/inbox/{id}", run)


def setup(app: web.Application) -> None:
    app.router.add_get("/inbox", inbox)
    app.router.add_get("/inbox.json", inbox_json)
    app.router.add_get("/inbox/list", inbox_list)
    app.router.add_get(r"/inbox/{id:\d+}", handoff_page)
    app.router.add_post(r"/inbox/{id:\d+}/reply", reply)
    app.router.add_post(r"/inbox/{id:\d+}/dismiss", dismiss)
    app.router.add_post(r"/inbox/{id:\d+}/takeover", take_over)
    app.router.add_post(r"/inbox/{id:\d+}/takeover-viewer", take_over_viewer)
    app.router.add_post(r"/inbox/{id:\d+}/save-faq", save_faq)
    app.router.add_post(r"/inbox/{id:\d+}/learn", learn)
