"""Sends outbox messages to Bilibili: public replies (`x/v2/reply/add`) and, where enabled, DMs.

Platform codes become the outbox's `SendError` vocabulary: risk control and "too frequent" wait and retry;
a duplicate counts as sent; a captcha or a lost login halts all sending (the messages stay queued) and
alerts the creator once; a viewer who accepts no more DMs is unreachable.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.adapters.alerts import Alert, log_alert
from bot.adapters.bilibili.bvid import parse_video
from bot.adapters.bilibili.client import BilibiliClient
from bot.adapters.bilibili.errors import (
    AccountPaused,
    BilibiliError,
    CaptchaRequired,
    CsrfFailed,
    DmLimit,
    DuplicateReply,
    NotLoggedIn,
    RiskControl,
    TooFrequent,
    TransportError,
)
from bot.adapters.bilibili.models import VIDEO
from bot.adapters.bilibili.pacing import Pacer
from bot.events import OutgoingMessage, SendError

log = logging.getLogger("coursebot.bilibili")

DM_BLOCKED = 21046  # the viewer accepts no more DMs until they reply or follow
_HALTING = (CaptchaRequired, NotLoggedIn, CsrfFailed)


class BilibiliSink:
    platform = "bilibili"

    def __init__(self, client: BilibiliClient, *, pacer: Pacer | None = None, dm_enabled: bool = False,
                 too_frequent_retry: float = 120.0, captcha_retry: float = 3600.0,
                 dm_limit_retry: float = 21600.0, alert: Alert = log_alert) -> None:
        self._client = client
        self._pacer = pacer or Pacer(30.0, 90.0)
        self._dm_enabled = dm_enabled
        self._too_frequent_retry, self._captcha_retry, self._dm_limit_retry = too_frequent_retry, captcha_retry, dm_limit_retry
        self._alert = alert
        self.halted: BilibiliError | None = None  # set by a captcha or a lost login; cleared by resume()

    @classmethod
    def from_settings(cls, settings: Any, client: BilibiliClient, **overrides: Any) -> BilibiliSink:
        options: dict[str, Any] = {
            "pacer": Pacer(settings.send_delay_min, settings.send_delay_max), "dm_enabled": settings.dm_enabled,
            "too_frequent_retry": settings.too_frequent_retry, "captcha_retry": settings.captcha_retry,
            "dm_limit_retry": settings.dm_limit_retry,
        }
        return cls(client, **{**options, **overrides})

    def resume(self) -> None:
        """The creator solved the captcha / refreshed the cookies: sending may go on."""
        self.halted = None

    async def send(self, message: OutgoingMessage) -> str:
        if self.halted is not None:
            raise SendError(f"bilibili sending halted: {self.halted}", transient=True, retry_after=self._captcha_retry,
                            code=self.halted.code)
        if (left := await self._client.paused_for()) > 0:  # before the 30-90 s pacing pause, not after it
            raise await self._send_error(AccountPaused(left))
        await self._pacer.wait()
        try:
            return await (self._reply(message) if message.kind == "reply_public" else self._dm(message))
        except DuplicateReply:
            log.info("bilibili: outbox %s was already posted (12051); counted as sent", message.outbox_id)
            return f"duplicate:{message.outbox_id}"
        except BilibiliError as exc:
            raise await self._send_error(exc) from None

    def _target(self, message: OutgoingMessage) -> dict[str, int]:
        routing = message.extra.get("reply") if isinstance(message.extra.get("reply"), dict) else {}
        target = {**self._target_from_fields(message), **{k: v for k, v in routing.items() if v is not None}}
        if not target.get("oid"):
            raise SendError("bilibili reply without a video: thread_id or extra.reply.oid is needed", transient=False,
                            code="no_target")
        root = int(target.get("root") or 0)
        return {"oid": int(target["oid"]), "type": int(target.get("type") or VIDEO), "root": root,
                "parent": int(target.get("parent") or root)}

    async def _reply(self, message: OutgoingMessage) -> str:
        target = self._target(message)
        return await self._client.post_reply(oid=target["oid"], type=target["type"], message=message.text,
                                             root=target["root"] or None, parent=target["parent"] or None)

    async def find_sent(self, message: OutgoingMessage, *, max_pages: int = 10) -> str | None:
        """After a crash mid-send: the rpid of this reply if Bilibili has it, None if it surely does not.

        Looks for the creator's own comment with exactly this text where it would be (inside its top-level
        comment, or among the newest comments). When that cannot be checked (a DM, an API error) it answers
        "unverified:<outbox id>", so the worker counts it as sent rather than risk posting it twice.
        """
        unverified = f"unverified:{message.outbox_id}"
        if message.kind != "reply_public" or not self._client.uid:
            return unverified
        try:
            target = self._target(message)
            for page_no in range(1, max_pages + 1):
                if target["root"]:
                    page = await self._client.replies_under(target["oid"], target["root"], page=page_no, type=target["type"])
                else:
                    page = await self._client.comments(target["oid"], page=page_no, type=target["type"])
                mine = [r for r in page.replies if r.mid == str(self._client.uid) and r.text == message.text]
                if mine:
                    return str(mine[-1].rpid)
                if len(page.replies) < 20 or not target["root"] and page_no >= 2:  # a new top-level one is on top
                    return None
        except (BilibiliError, SendError) as exc:
            log.warning("bilibili: could not check whether outbox %s was posted (%s); not re-sent", message.outbox_id, exc)
            return unverified
        return unverified

    @staticmethod
    def _target_from_fields(message: OutgoingMessage) -> dict[str, Any]:
        """Without extras: the thread is the video (BV/av) and `reply_to` the comment answered."""
        target: dict[str, Any] = {}
        if message.thread_id:
            try:
                target["oid"] = parse_video(message.thread_id)
            except ValueError:
                pass
        if message.reply_to:
            target["root"] = target["parent"] = int(message.reply_to)
        return target

    async def _dm(self, message: OutgoingMessage) -> str:
        if not self._dm_enabled:
            raise SendError("bilibili DMs are disabled (bilibili.dm_enabled = false)", transient=False, code="dm_disabled")
        if not message.recipient_id:
            raise SendError("bilibili DM without a recipient", transient=False, code="no_recipient")
        if not self._client.uid:
            raise SendError("bilibili DMs need bilibili.uid (the creator's own mid)", transient=False, code="no_uid")
        return await self._client.send_dm(message.recipient_id, message.text)

    async def _send_error(self, exc: BilibiliError) -> SendError:
        if isinstance(exc, _HALTING):
            first = self.halted is None
            self.halted = exc
            if first:
                what = "a captcha is required" if isinstance(exc, CaptchaRequired) else "the bot is logged out"
                await self._alert(f"Bilibili: {what} ({exc}). Sending is halted and replies wait in the outbox: "
                                  "post one comment by hand in the browser (or refresh the cookies), then restart.")
            return SendError(str(exc), transient=True, retry_after=self._captcha_retry, code=exc.code)
        if isinstance(exc, RiskControl):  # the whole account waits: this message and every other one
            return SendError(str(exc), transient=True, retry_after=exc.pause, code=exc.code,
                             attempted=not isinstance(exc, AccountPaused))
        if isinstance(exc, TooFrequent):
            return SendError(str(exc), transient=True, retry_after=self._too_frequent_retry, code=exc.code)
        if isinstance(exc, DmLimit):
            if exc.code == DM_BLOCKED:
                return SendError(str(exc), transient=False, recipient_unreachable=True, code=exc.code)
            return SendError(str(exc), transient=True, retry_after=self._dm_limit_retry, code=exc.code)
        if isinstance(exc, TransportError):
            return SendError(str(exc), transient=True, code=exc.code)
        return SendError(str(exc), transient=False, code=exc.code)  # e.g. deleted comment, closed comments
