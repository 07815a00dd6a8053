"""The creator's commands, accepted only from configured admin user ids.

`/summary [date]`, `/pause`, `/resume`, `/handoffs`, `/takeover <thread>`, `/release <thread>`,
`/takeover <handoff id> viewer` (the viewer who wrote it, on every thread), `/release <v_…|handoff id viewer>`,
`/reply <handoff id> <text>`, `/resend <handoff id>` (a held reply), `/recent`, `/relabel <comment id> [intent] [sentiment=<negative|neutral|positive>]`,
`/wrong <comment id>`, `/right <comment id>`, `/savefaq <handoff id>`, `/history [kind]` (what was taught, with correction ids),
`/undo <correction id>`. The same commands from anyone else are ignored (no answer, so the bot does not
advertise them) and logged with the sender's pseudonym. What a command does lives behind `CreatorConsole`,
so this module only parses and answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Protocol

from aiogram import Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import Message

from bot.storable import row_id
from retrieval.errors import InputError

log = logging.getLogger("coursebot.telegram.admin")
ADMIN_COMMANDS = ("summary", "pause", "resume", "handoffs", "takeover", "release", "reply", "resend", "recent", "relabel", "wrong",
                  "right", "savefaq", "history", "undo")
_THREAD = re.compile(r"-?\d+:\d+")
_PSEUDONYM = re.compile(r"v_[0-9a-f]{1,64}")
VIEWER_WORDS = ("viewer", "观众")
USAGE = {
    "takeover": "用法：/takeover <帖子编号>（在帖子评论里发送可省略编号）；接管观众：/takeover <转人工编号> viewer",
    "release": "用法：/release <帖子编号>（在帖子评论里发送可省略编号）；交还观众：/release <v_…> 或 /release <转人工编号> viewer",
    "reply": "用法：/reply <转人工编号> <回复内容>",
    "resend": "用法：/resend <转人工编号>（重发被扣下的回复）",
    "summary": "用法：/summary [YYYY-MM-DD | today | yesterday]",
    "relabel": "用法：/relabel <评论编号> <意图>（如 complaint、ask_price、spam）和/或 sentiment=<negative|neutral|positive>",
    "wrong": "用法：/wrong <评论编号>（机器人对这条评论的回复是错的）",
    "right": "用法：/right <评论编号>（机器人对这条评论的回复是对的）",
    "savefaq": "用法：/savefaq <转人工编号>（把你对它的回复存为新的常见问题）",
    "undo": "用法：/undo <纠正编号>（撤销一次 relabel / wrong / right，编号见 /history）",
    "history": "用法：/history [类型]（如 relabel、wrong_reply、undo）",
}


class CreatorConsole(Protocol):
    """What the creator's commands do; every method returns the answer shown to the creator."""

    async def summary(self, day: date | None) -> str: ...
    async def pause(self, by: str) -> str: ...
    async def resume(self, by: str) -> str: ...
    async def handoffs(self) -> str: ...
    async def takeover(self, thread_id: str, by: str) -> str: ...
    async def release(self, thread_id: str, by: str) -> str: ...
    async def takeover_viewer(self, viewer: int | str, by: str) -> str: ...
    async def release_viewer(self, viewer: int | str, by: str) -> str: ...
    async def reply(self, handoff_id: int, text: str, by: str) -> str: ...
    async def resend(self, handoff_id: int, by: str) -> str: ...
    async def relabel(self, event_pk: int, intent: str | None, by: str, sentiment: str | None = None) -> str: ...
    async def wrong(self, event_pk: int, by: str) -> str: ...
    async def right(self, event_pk: int, by: str) -> str: ...
    async def recent(self) -> str: ...
    async def savefaq(self, handoff_id: int, by: str) -> str: ...
    async def history(self, kind: str | None) -> str: ...
    async def undo(self, correction_id: int, by: str) -> str: ...


class IsAdmin(Filter):
    def __init__(self, admin_ids: frozenset[int]) -> None:
        self.admin_ids = admin_ids

    async def __call__(self, message: Message) -> bool:
        # An anonymous admin posts as the group itself: we cannot tell who it is, so it is not trusted.
        return message.sender_chat is None and message.from_user is not None and message.from_user.id in self.admin_ids


def admin_router(console: CreatorConsole, admin_ids: frozenset[int], *, group_id: int | None,
                 pseudonymise: Callable[[str], str]) -> Router:
    router = Router(name="telegram-admin")
    commands = Command(*ADMIN_COMMANDS, ignore_case=True)

    @router.message(commands, IsAdmin(admin_ids))
    async def run_command(message: Message, command: CommandObject) -> None:
        by = f"telegram:{message.from_user.id}"  # type: ignore[union-attr]
        try:
            answer = await _dispatch(console, command.command.lower(), (command.args or "").strip(), message, group_id, by)
        except (InputError, ValueError) as exc:
            answer = str(exc)
        log.info("admin command /%s", command.command.lower())
        await message.reply(answer)

    @router.message(commands)
    async def ignore_non_admin(message: Message, command: CommandObject) -> None:
        sender = message.sender_chat.id if message.sender_chat else message.from_user.id if message.from_user else None
        log.warning("ignored /%s from non-admin %s", command.command.lower(), pseudonymise(str(sender)))

    return router


async def _dispatch(console: CreatorConsole, name: str, args: str, message: Message, group_id: int | None, by: str) -> str:
    if name == "summary":
        return await console.summary(parse_day(args))
    if name == "pause":
        return await console.pause(by)
    if name == "resume":
        return await console.resume(by)
    if name == "handoffs":
        return await console.handoffs()
    if name in ("takeover", "release") and (viewer := viewer_ref(args)) is not None:
        return await (console.takeover_viewer if name == "takeover" else console.release_viewer)(viewer, by)
    if name in ("takeover", "release"):
        thread_id = resolve_thread(args, message, group_id)
        if thread_id is None:
            return USAGE[name]
        return await (console.takeover if name == "takeover" else console.release)(thread_id, by)
    if name == "recent":
        return await console.recent()
    if name == "history":
        return await console.history(args or None) if len(args.split()) <= 1 else USAGE[name]
    if name in ("resend", "wrong", "right", "savefaq", "undo"):
        row = row_id(args)
        return await getattr(console, name)(row, by) if row is not None else USAGE[name]
    first, _, rest = args.partition(" ")
    row = row_id(first)
    if row is None or not rest.strip():
        return USAGE[name]
    if name == "relabel":
        labels = relabel_args(rest)
        return await console.relabel(row, labels[0], by, sentiment=labels[1]) if labels else USAGE[name]
    return await console.reply(row, rest.strip(), by)


def relabel_args(rest: str) -> tuple[str | None, str | None] | None:
    """`complaint`, `sentiment=negative` (also `情绪=negative`) or both, in either order; None when it is neither."""
    intent = sentiment = None
    for word in rest.split():
        key, eq, value = word.partition("=")
        if eq and key.lower() in ("sentiment", "情绪") and sentiment is None and value:
            sentiment = value.lower()
        elif not eq and intent is None:
            intent = word
        else:
            return None
    return intent, sentiment


def viewer_ref(args: str) -> int | str | None:
    """`<handoff id> viewer` (or 观众) → that handoff's id; a pseudonym `v_…` → itself; anything else (a thread) → None."""
    words = args.split()
    if len(words) == 2 and words[1].lower() in VIEWER_WORDS:
        row = row_id(words[0])
        if row is None:
            raise InputError(USAGE["takeover"])
        return row
    if len(words) == 1 and _PSEUDONYM.fullmatch(words[0]):
        return words[0]
    return None


def parse_day(arg: str, today: date | None = None) -> date | None:
    today = today or date.today()
    if not arg:
        return None
    if arg.lower() in ("today", "今天"):
        return today
    if arg.lower() in ("yesterday", "昨天"):
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(arg)
    except ValueError:
        raise InputError(USAGE["summary"]) from None


def resolve_thread(arg: str, message: Message, group_id: int | None) -> str | None:
    """`<group>:<post root>`, a bare root message id (in the configured group), or — sent inside a post's
    comments without an argument — that post."""
    if _THREAD.fullmatch(arg):
        return arg
    if arg.isdigit() and group_id is not None:
        return f"{group_id}:{arg}"
    if not arg and message.chat.type != "private":
        parent = message.reply_to_message
        if parent is not None and parent.is_automatic_forward:
            return f"{message.chat.id}:{parent.message_id}"
        if message.message_thread_id is not None:
            return f"{message.chat.id}:{message.message_thread_id}"
    return None
