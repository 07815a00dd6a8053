"""Sends outbox messages to Douyin: comment replies and DMs, within the platform's proactive-DM rules.

A DM that answers a viewer's own message (the outbox carries its conversation and message id) is a reply.
Any other DM is proactive: at most `per_day` per viewer per day (Beijing time) and `per_viewer` in all
until the viewer writes back — over the daily limit it waits for tomorrow, over the total the viewer is
unreachable. Rate limiting (28003070) waits `rate_limit_retry` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from bot.adapters.alerts import Alert, log_alert
from bot.adapters.douyin.client import (
    DouyinClient,
    DouyinError,
    DouyinTransportError,
    RateLimited,
    TokenExpired,
)
from bot.events import OutgoingMessage, SendError
from bot.store.proactive import BEIJING, next_day

log = logging.getLogger("coursebot.douyin")


class ProactiveDmLimits:
    """Douyin's proactive-DM rules, counted in the store (`proactive_dms`): they survive a restart and hold for
    every worker. A viewer's own DM (stored as an event) resets the "until they write back" count."""

    def __init__(self, store: Any, *, per_day: int = 1, per_viewer: int = 3, platform: str = "douyin") -> None:
        self.store, self.per_day, self.per_viewer, self.platform = store, per_day, per_viewer, platform

    async def reserve(self, viewer: str, now: datetime) -> int:
        """Count a proactive DM to `viewer` about to be sent; raises the SendError the outbox needs when over a limit."""
        reservation, refusal = await asyncio.to_thread(self.store.reserve_proactive_dm, self.platform, viewer,
                                                       per_day=self.per_day, per_viewer=self.per_viewer, now=now)
        if refusal == "unanswered":
            raise SendError(f"proactive DM limit: {self.per_viewer} messages without an answer", transient=False,
                            recipient_unreachable=True, code="proactive_dm_limit")
        if refusal == "daily":
            raise SendError(f"proactive DM limit: {self.per_day} per viewer per day", transient=True,
                            retry_after=(next_day(now) - now).total_seconds(), code="proactive_dm_daily")
        assert reservation is not None
        return reservation

    async def release(self, reservation: int) -> None:
        await asyncio.to_thread(self.store.release_proactive_dm, reservation)


class DouyinSink:
    platform = "douyin"

    def __init__(self, client: DouyinClient, *, dm_enabled: bool = True, limits: ProactiveDmLimits | None = None,
                 rate_limit_retry: float = 60.0, token_retry: float = 900.0, alert: Alert = log_alert) -> None:
        self._client = client
        self._dm_enabled = dm_enabled
        self.limits = limits  # None: proactive DMs are refused (nowhere to count them)
        self._rate_limit_retry, self._token_retry = rate_limit_retry, token_retry
        self._alert = alert
        self._alerted = False

    @classmethod
    def from_settings(cls, settings: Any, client: DouyinClient, **overrides: Any) -> DouyinSink:
        options: dict[str, Any] = {
            "dm_enabled": settings.dm_enabled, "rate_limit_retry": settings.rate_limit_retry,
        }  # `limits` needs the store: the caller passes ProactiveDmLimits(store, …)
        return cls(client, **{**options, **overrides})

    async def send(self, message: OutgoingMessage) -> str:
        try:
            if message.kind == "reply_public":
                return await self._reply(message)
            return await self._dm(message)
        except RateLimited as exc:
            raise SendError(str(exc), transient=True, retry_after=self._rate_limit_retry, code=exc.code) from None
        except TokenExpired as exc:
            if not self._alerted:
                self._alerted = True
                await self._alert(f"Douyin: the access token is expired or invalid ({exc}); replies wait in the "
                                  "outbox. Re-authorise the app or set douyin.refresh_token.")
            raise SendError(str(exc), transient=True, retry_after=self._token_retry, code=exc.code) from None
        except DouyinTransportError as exc:
            raise SendError(str(exc), transient=True, code=exc.code) from None
        except DouyinError as exc:
            raise SendError(str(exc), transient=False, code=exc.code) from None

    async def _reply(self, message: OutgoingMessage) -> str:
        routing = message.extra.get("reply") if isinstance(message.extra.get("reply"), dict) else {}
        item_id = routing.get("item_id") or message.thread_id
        if not item_id:
            raise SendError("douyin comment reply without a video (thread_id)", transient=False, code="no_target")
        return await self._client.reply_comment(item_id=str(item_id), comment_id=message.reply_to or routing.get("comment_id"),
                                                content=message.text)

    async def _dm(self, message: OutgoingMessage) -> str:
        if not self._dm_enabled:
            raise SendError("douyin DMs are disabled (douyin.dm_enabled = false)", transient=False, code="dm_disabled")
        if not message.recipient_id:
            raise SendError("douyin DM without a recipient", transient=False, code="no_recipient")
        routing = message.extra.get("reply") if isinstance(message.extra.get("reply"), dict) else {}
        answering = bool(routing.get("msg_id") and routing.get("conversation_id"))
        reservation = None
        if not answering:
            if self.limits is None:
                raise SendError("douyin proactive DM without limits to count it against", transient=False,
                                code="proactive_dm_limit")
            reservation = await self.limits.reserve(message.recipient_id, datetime.now(BEIJING))
        try:
            return await self._client.send_dm(
                to_user_id=message.recipient_id, text=message.text, conversation_id=routing.get("conversation_id"),
                msg_id=routing.get("msg_id") if answering else None, scene=routing.get("scene") if answering else None)
        except DouyinTransportError:
            raise  # it may have gone out: it keeps counting
        except DouyinError:
            if reservation is not None:  # Douyin refused it: it was not sent
                await self.limits.release(reservation)  # type: ignore[union-attr]
            raise
