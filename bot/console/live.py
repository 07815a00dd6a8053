"""直播 (/live): the host's question board per Bilibili live room — the questions of the last `[live] board_minutes`
grouped by meaning with counts and examples, newest activity first, what the bot already answered, super chats
highlighted. The board (/live/<room>/board) is polled every second by console.js and swapped in when it changed;
"已回答" marks a group through `CreatorActions.mark_live_answered`, the action `coursebot live answered` calls."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.console.base import ACTIONS, SETTINGS, STORE, TEMPLATES, by, call, redirect, render, requires
from bot.live import LIVE_PLATFORM, room_of
from bot.live.board import LiveBoard, live_board
from bot.storable import MAX_ROW_ID
from bot.store.admin import NotFound
from bot.store.models import ThreadRecord

_ROOM = re.compile(r"[0-9]{1,20}")  # as `coursebot live board ROOM`
STATUS_ZH = {"open": "待回答", "bot": "机器人已答", "marked": "主播已回答"}


@dataclass(frozen=True, slots=True)
class Room:
    room_id: str
    session: ThreadRecord  # its latest live session
    sessions: int
    ended_at: datetime | None  # None: live now (or the end was never seen)


def rooms(store) -> list[Room]:
    """Blocking: every room with a stored live session, the latest session first."""
    latest: dict[str, ThreadRecord] = {}
    counts: dict[str, int] = {}
    for record in store.live_sessions():
        room = room_of(record.thread_id)
        if room is None:
            continue
        latest.setdefault(room, record)
        counts[room] = counts.get(room, 0) + 1
    return [Room(room, record, counts[room], store.live_ended_at(record.platform, record.thread_id)) for room, record in latest.items()]


def version(board: LiveBoard) -> str:
    """Changes whenever what the board shows changes (the page swaps the board in only then)."""
    shown = [(g.id, g.questions, g.status, g.paid, g.examples, g.bot_answer, g.last_at.isoformat()) for g in board.groups]
    return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()[:16]


def _room(request: web.Request) -> str:
    room = request.match_info["room"]
    if not _ROOM.fullmatch(room):
        raise web.HTTPNotFound(text="no such room")
    return room


async def _board(request: web.Request) -> tuple[str, LiveBoard]:
    room = _room(request)
    minutes = request.app[SETTINGS].live.board_minutes
    board = await call(live_board, request.app[STORE], room, minutes=minutes)
    if board is None:
        raise web.HTTPNotFound(text=f"room {room}: no live session stored")
    return room, board


@requires("assistant")
async def room_list(request: web.Request) -> web.StreamResponse:
    found = await call(rooms, request.app[STORE])
    if len(found) == 1 and not request.query.get("all"):
        raise web.HTTPFound(f"/live/{found[0].room_id}")  # one room (the usual case): straight to its board
    return render(request, "live.html", rooms=found)


@requires("assistant")
async def board_page(request: web.Request) -> web.StreamResponse:
    room, board = await _board(request)
    ended = await call(request.app[STORE].live_ended_at, LIVE_PLATFORM, board.thread_id)
    return render(request, "live_board.html", room=room, board=board, version=version(board), ended_at=ended, STATUS_ZH=STATUS_ZH)


@requires("assistant")
async def board_fragment(request: web.Request) -> web.StreamResponse:
    """The board alone: what the page's script fetches every second."""
    room, board = await _board(request)
    return render(request, "live_groups.html", room=room, board=board, version=version(board), STATUS_ZH=STATUS_ZH)


@requires("assistant")
async def board_json(request: web.Request) -> web.StreamResponse:
    """The same data as `coursebot live board ROOM --json`."""
    _, board = await _board(request)
    return web.json_response(board.as_json(), dumps=lambda data: json.dumps(data, ensure_ascii=False))


@requires("assistant")
async def mark_answered(request: web.Request) -> web.StreamResponse:
    room, group = _room(request), request.match_info["group"]
    form = await request.post()
    if not (group.isdigit() and 0 < int(group) <= MAX_ROW_ID):
        raise web.HTTPNotFound(text="no such group")
    session = str(form.get("session") or "") or None  # the session the page showed: a new live does not take the mark
    try:
        await call(request.app[ACTIONS].mark_live_answered, room, int(group), by(request), session)
    except NotFound as exc:
        raise redirect(f"/live/{room}", f"未完成：{exc}") from None
    raise redirect(f"/live/{room}", f"第 {group} 组已标记为已回答")


def setup(app: web.Application) -> None:
    zone = ZoneInfo(app[SETTINGS].policy.timezone)
    app[TEMPLATES].filters["clock"] = lambda value: value.astimezone(zone).strftime("%H:%M:%S") if value else ""
    app.router.add_get("/live", room_list)
    app.router.add_get(r"/live/{room:\d+}", board_page)
    app.router.add_get(r"/live/{room:\d+}/board", board_fragment)
    app.router.add_get(r"/live/{room:\d+}.json", board_json)
    app.router.add_post(r"/live/{room:\d+}/groups/{group:\d+}/answered", mark_answered)
