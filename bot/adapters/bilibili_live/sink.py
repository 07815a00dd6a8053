"""Sends one danmaku per outbox message to the live room of its thread (`live:<room_id>:<start>`).

The live policy decides what to say and when; this sink only sends and translates the send endpoint's
answers into the outbox's `SendError` vocabulary: risk control pauses the whole account (the AccountPause
the comment adapter shares) and waits; "too fast" is retried shortly; a duplicate-text or banned-word refusal
is final (retrying the same text can never succeed); a lost login halts sending and alerts the creator once.
A text longer than `danmaku_max_chars` is refused, never cut (a cut sentence or link is worse than none).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.adapters.alerts import Alert, log_alert
from bot.adapters.bilibili_live.api import LiveApi, SendResult
from bot.adapters.bilibili_live.commands import PLATFORM
from bot.events import OutgoingMessage, SendError

log = logging.getLogger("coursebot.bilibili_live")

_FINAL = {"duplicate": "duplicate_text", "banned_words": "banned_words", "too_long": "too_long", "muted": "muted",
          "other": None}


def room_of(message: OutgoingMessage) -> int:
    """The real room id: `extra["room_id"]`, else from the thread id `live:<room_id>:<start>`."""
    if message.extra.get("room_id") is not None:
        return int(message.extra["room_id"])
    parts = (message.thread_id or "").split(":")
    if len(parts) == 3 and parts[0] == "live" and parts[1].isdigit():
        return int(parts[1])
    raise SendError(f"bilibili-live message without a room: thread {message.thread_id!r} is not live:<room>:<start>",
                    transient=False, code="no_room")


class LiveSink:
    platform = PLATFORM

    def __init__(self, api: LiveApi, *, max_chars: int = 20, too_fast_retry: float = 5.0, login_retry: float = 3600.0,
                 alert: Alert = log_alert) -> None:
        self._api = api
        self._max_chars = max_chars
        self._too_fast_retry, self._login_retry = too_fast_retry, login_retry
        self._alert = alert
        self.halted: SendResult | None = None  # a lost login; cleared by resume()
        self.muted_rooms: set[int] = set()

    @classmethod
    def from_settings(cls, live: Any, api: LiveApi, *, max_chars: int, **overrides: Any) -> LiveSink:
        """`max_chars` is `[live] danmaku_max_chars`: one limit for what the policy composes and what is sent."""
        options: dict[str, Any] = {"max_chars": max_chars, "too_fast_retry": live.too_fast_retry,
                                   "login_retry": live.login_retry}
        return cls(api, **{**options, **overrides})

    def resume(self) -> None:
        self.halted = None

    async def send(self, message: OutgoingMessage) -> str:
        if message.kind != "reply_public":
            raise SendError("bilibili-live sends danmaku only (reply_public)", transient=False, code="not_public")
        room = room_of(message)
        if len(message.text) > self._max_chars:
            raise SendError(f"danmaku of {len(message.text)} characters is over the limit of {self._max_chars} "
                            "(live.danmaku_max_chars); not cut", transient=False, code="too_long")
        if self.halted is not None:
            raise SendError(f"bilibili-live sending halted: {self.halted.message or self.halted.outcome}", transient=True,
                            retry_after=self._login_retry, code=self.halted.code, attempted=False)
        result = await self._api.send_danmaku(room, message.text)
        if result.ok:
            return result.message_id or f"live:{room}:{message.outbox_id}"
        raise await self._error(result, room, message)

    async def _error(self, result: SendResult, room: int, message: OutgoingMessage) -> SendError:
        reason = f"bilibili-live room {room}: {result.outcome} (code {result.code}{': ' + result.message if result.message else ''})"
        if result.outcome == "not_logged_in":
            first = self.halted is None
            self.halted = result
            if first:
                await self._alert(f"Bilibili live: the bot is logged out ({reason}). Danmaku sending is halted and answers "
                                  "wait in the outbox: put fresh SESSDATA and bili_jct cookies in the secrets file, then restart.")
            return SendError(reason, transient=True, retry_after=self._login_retry, code=result.code)
        if result.outcome in ("risk_control", "paused"):
            return SendError(reason, transient=True, retry_after=result.pause, code=result.code,
                             attempted=result.outcome == "risk_control")
        if result.outcome == "too_fast":
            return SendError(reason, transient=True, retry_after=self._too_fast_retry, code=result.code)
        if result.outcome == "transport":
            return SendError(reason, transient=True, code=result.code)
        if result.outcome == "muted" and room not in self.muted_rooms:
            self.muted_rooms.add(room)
            await self._alert(f"Bilibili live: the bot's account is muted in room {room} ({result.message}).")
        log.info("bilibili-live: outbox %s refused for good: %s", message.outbox_id, reason)
        return SendError(reason, transient=False, code=_FINAL.get(result.outcome) or result.code)
