"""对话 (/conversations): threads by latest activity; one thread's comments with the bot's decisions (reasons,
scores), what was sent and when, and sends that failed or are not confirmed (outbox states). Above the list, what a
human has taken over (threads and viewers), each with its release button."""

from __future__ import annotations

from aiohttp import web

from bot.console.base import ACTIONS, STORE, by, call, redirect, render, requires
from bot.console.queries import thread, threads
from bot.storable import MAX_ROW_ID
from bot.store.admin import NotFound


@requires("assistant")
async def thread_list(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    rows = await call(threads, store)
    taken_threads, taken_viewers = await call(store.taken_over_threads), await call(store.taken_over_viewers)
    return render(request, "conversations.html", threads=rows, taken_threads=taken_threads, taken_viewers=taken_viewers)


def _pk(request: web.Request) -> int:
    value = request.match_info["id"]
    if not (value.isdigit() and 0 < int(value) <= MAX_ROW_ID):
        raise web.HTTPNotFound(text="no such thread")
    return int(value)


@requires("assistant")
async def thread_page(request: web.Request) -> web.StreamResponse:
    record, turns = await call(thread, request.app[STORE], _pk(request))
    if record is None:
        raise web.HTTPNotFound(text="no such thread")
    return render(request, "thread.html", thread=record, turns=turns)


@requires("assistant")
async def take_over(request: web.Request) -> web.StreamResponse:
    pk = _pk(request)
    record, _ = await call(thread, request.app[STORE], pk, 0)
    if record is None:
        raise web.HTTPNotFound(text="no such thread")
    form = await request.post()
    if form.get("release"):
        await call(request.app[ACTIONS].release, record.platform, record.thread_id, by(request))
        raise redirect(f"/conversations/{pk}", "已交还，机器人恢复回复")
    await call(request.app[ACTIONS].take_over, record.platform, record.thread_id, by(request))
    raise redirect(f"/conversations/{pk}", "已接管：机器人在这里保持沉默")


@requires("assistant")
async def release_viewer(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        released = await call(request.app[ACTIONS].release_viewer, str(form.get("viewer", "")), by(request))
    except NotFound as exc:
        raise redirect("/conversations", f"未完成：{exc}") from None
    raise redirect("/conversations", "已交还该观众，机器人恢复回复" if released else "该观众没有被接管")


def setup(app: web.Application) -> None:
    app.router.add_get("/conversations", thread_list)
    app.router.add_get(r"/conversations/{id:\d+}", thread_page)
    app.router.add_post(r"/conversations/{id:\d+}/takeover", take_over)
    app.router.add_post("/conversations/release-viewer", release_viewer)
