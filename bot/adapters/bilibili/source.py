"""Polls Bilibili for new comments on the configured videos and new replies to the creator, as Events.

Per video the cursor is the newest rpid handed on (rpids only grow); for the notification feed it is the newest
(reply_time, id). Events leave oldest first and the cursor moves after each one is taken, so a restart resumes
exactly there (at-least-once: an event taken but not yet processed when the process dies comes again, and the
store's unique event id drops the repeat).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import Any

from bot.adapters.alerts import Alert, log_alert
from bot.adapters.bilibili.bvid import aid_to_bvid, parse_video
from bot.adapters.bilibili.client import BilibiliClient
from bot.adapters.bilibili.cursors import CursorStore
from bot.adapters.bilibili.errors import (
    BilibiliError,
    CsrfFailed,
    NotLoggedIn,
    RiskControl,
    TooFrequent,
    TransportError,
)
from bot.adapters.bilibili.models import FeedItem, Reply
from bot.adapters.bilibili.pacing import Backoff, Sleep
from bot.events import Event, Thread

log = logging.getLogger("coursebot.bilibili")

FEED_KEY = "bilibili:msgfeed:reply"
_RECENT = 10_000
_ROUND_ERRORS = (RiskControl, TooFrequent, TransportError)  # the whole round waits, then retries
_LOGIN_ERRORS = (NotLoggedIn, CsrfFailed)  # nothing works until the creator logs in again


def video_key(aid: int) -> str:
    return f"bilibili:video:{aid}"


def _flatten(replies: Iterable[Reply]) -> Iterable[Reply]:
    for reply in replies:
        yield reply
        yield from reply.children


class BilibiliSource:
    platform = "bilibili"

    def __init__(self, client: BilibiliClient, cursors: CursorStore, *, videos: Iterable[str | int] = (),
                 replies_to_me: bool = True, backfill: bool = False, max_pages: int = 10, page_size: int = 20,
                 poll_interval: float = 120.0, backoff: Backoff | None = None, alert: Alert = log_alert,
                 sleep: Sleep = asyncio.sleep, fetch_titles: bool = True) -> None:
        self.aids = [parse_video(v) for v in videos]
        self._client, self._cursors = client, cursors
        self._replies_to_me, self._backfill = replies_to_me, backfill
        self._max_pages, self._page_size, self._poll_interval = max_pages, page_size, poll_interval
        self.backoff = backoff or Backoff(300.0, 3600.0)  # "too frequent" and transport errors; risk control pauses the client
        self._alert, self._sleep, self._fetch_titles = alert, sleep, fetch_titles
        self._threads: dict[int, Thread] = {}
        self._recent: OrderedDict[int, None] = OrderedDict()
        self.stopped: str | None = None  # why polling stopped for good (login needed)

    @classmethod
    def from_settings(cls, settings: Any, client: BilibiliClient, cursors: CursorStore, **overrides: Any) -> BilibiliSource:
        options: dict[str, Any] = {
            "videos": settings.videos, "replies_to_me": settings.replies_to_me, "backfill": settings.backfill,
            "max_pages": settings.max_pages, "page_size": settings.page_size, "poll_interval": settings.poll_interval,
            "backoff": Backoff(settings.risk_backoff, settings.risk_backoff_max),
        }
        return cls(client, cursors, **{**options, **overrides})

    async def events(self) -> AsyncIterator[Event]:
        """Poll forever: a round over every video and the feed, then a pause. Stops only when login is needed."""
        while True:
            try:
                async for event in self.poll_once():
                    yield event
            except _LOGIN_ERRORS as exc:
                self.stopped = str(exc)
                await self._alert(f"Bilibili: the bot is logged out ({exc}). Polling stopped: put fresh SESSDATA and "
                                  "bili_jct cookies in the secrets file and restart.")
                return
            except RiskControl as exc:  # the account's pause (shared with the sink), never reset by one good round
                delay = exc.pause if exc.pause is not None else self.backoff.next_delay()
                log.warning("bilibili: %s; no reads for %.0f s", exc, delay)
                await self._sleep(delay)
                continue
            except _ROUND_ERRORS as exc:
                delay = self.backoff.next_delay()
                log.warning("bilibili: %s; backing off %.0f s before the next round", exc, delay)
                await self._sleep(delay)
                continue
            self.backoff.reset()
            await self._sleep(self._poll_interval)

    async def poll_once(self) -> AsyncIterator[Event]:
        """One round: new comments on every configured video, then new replies to the creator."""
        for aid in self.aids:
            try:
                async for event in self._poll_video(aid):
                    yield event
            except (*_LOGIN_ERRORS, *_ROUND_ERRORS):
                raise
            except BilibiliError as exc:  # e.g. a deleted video or closed comments: the other videos go on
                log.warning("bilibili: video %s skipped this round: %s", aid_to_bvid(aid), exc)
        if self._replies_to_me:
            async for event in self._poll_feed():
                yield event

    def _is_new(self, reply_id: int, author: str) -> bool:
        """False for the creator's own comments and for a reply already handed on via the other path."""
        if reply_id in self._recent or (self._client.uid and author == str(self._client.uid)):
            return False
        self._recent[reply_id] = None
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        return True

    async def _thread(self, aid: int) -> Thread:
        if aid not in self._threads:
            thread = Thread(id=aid_to_bvid(aid))
            if self._fetch_titles:
                try:
                    thread = (await self._client.video(aid)).thread
                except (*_LOGIN_ERRORS, *_ROUND_ERRORS):
                    raise
                except BilibiliError as exc:
                    log.info("bilibili: no title for %s: %s", thread.id, exc)
            self._threads[aid] = thread
        return self._threads[aid]

    async def _poll_video(self, aid: int) -> AsyncIterator[Event]:
        key = video_key(aid)
        cursor = await self._cursors.load(key)
        if cursor is None and not self._backfill:
            first = await self._client.comments(aid, page=1, page_size=self._page_size)
            newest = max((r for r in _flatten(first.replies)), key=lambda r: r.rpid, default=None)
            await self._cursors.save(key, {"rpid": newest.rpid if newest else 0, "ctime": newest.ctime if newest else 0})
            log.info("bilibili: watching %s from now on", aid_to_bvid(aid))
            return
        last = int(cursor["rpid"]) if cursor else 0
        fresh = await self._collect(aid, last)
        if not fresh:
            return
        thread = await self._thread(aid)
        for reply in fresh:
            if self._is_new(reply.rpid, reply.mid):
                yield reply.event(thread)
            await self._cursors.save(key, {"rpid": reply.rpid, "ctime": reply.ctime})

    async def _collect(self, aid: int, last: int) -> list[Reply]:
        """Every comment newer than rpid `last`, oldest first, reading pages until one reaches `last`."""
        fresh: dict[int, Reply] = {}
        for page_no in range(1, self._max_pages + 1):
            page = await self._client.comments(aid, page=page_no, page_size=self._page_size)
            fresh.update((r.rpid, r) for r in _flatten(page.replies) if r.rpid > last)
            if len(page.replies) < self._page_size or min(r.rpid for r in page.replies) <= last:
                break
        else:
            log.warning("bilibili: %s has more than %d pages of new comments; raise bilibili.max_pages or "
                        "poll more often, older unread ones are skipped", aid_to_bvid(aid), self._max_pages)
        return sorted(fresh.values(), key=lambda r: r.rpid)

    async def _poll_feed(self) -> AsyncIterator[Event]:
        cursor = await self._cursors.load(FEED_KEY)
        if cursor is None and not self._backfill:
            first = await self._client.replies_to_me()
            newest = max(first.items, key=lambda i: i.position, default=None)
            await self._cursors.save(FEED_KEY, {"time": newest.reply_time if newest else 0, "id": newest.id if newest else 0})
            return
        last = (int(cursor["time"]), int(cursor["id"])) if cursor else (0, 0)
        for item in await self._collect_feed(last):
            if self._is_new(item.rpid, item.mid):
                yield item.event()
            await self._cursors.save(FEED_KEY, {"time": item.reply_time, "id": item.id})

    async def _collect_feed(self, last: tuple[int, int]) -> list[FeedItem]:
        fresh: dict[int, FeedItem] = {}
        before: tuple[int | None, int | None] = (None, None)
        for _ in range(self._max_pages):
            page = await self._client.replies_to_me(before_id=before[0], before_time=before[1])
            fresh.update((i.id, i) for i in page.items if i.position > last)
            if page.is_end or not page.items or min(i.position for i in page.items) <= last:
                break
            before = (page.next_id, page.next_time)
        return sorted(fresh.values(), key=lambda i: i.position)
