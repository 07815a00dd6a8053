"""`async with BilibiliClient(...) as client:` — the web API over httpx, cookie auth, typed errors.

Every host is a constructor argument (and a config key), so the same code talks to Bilibili, a proxy or a
local fake server. Cookies are sent, never logged; the csrf token only travels in POST bodies.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Self

import httpx

from bot.adapters.bilibili.errors import AccountPaused, RiskControl, TransportError, envelope_body, envelope_data
from bot.adapters.bilibili.models import (
    VIDEO,
    CommentPage,
    FeedItem,
    FeedPage,
    Reply,
    VideoInfo,
)
from bot.adapters.bilibili.pacing import Backoff, Pacer
from bot.adapters.bilibili.risk import AccountPause

log = logging.getLogger("coursebot.bilibili")


class BilibiliClient:
    def __init__(
        self,
        *,
        api_base: str = "https://api.bilibili.com",
        vc_base: str = "https://api.vc.bilibili.com",
        sessdata: str | None = None,
        bili_jct: str | None = None,
        uid: str | None = None,
        timeout: float = 15.0,
        user_agent: str = "Mozilla/5.0",
        pacer: Pacer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        risk: AccountPause | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.vc_base = vc_base.rstrip("/")
        self.uid = uid
        self._csrf = bili_jct or ""
        self._cookies = {k: v for k, v in (("SESSDATA", sessdata), ("bili_jct", bili_jct), ("DedeUserID", uid)) if v}
        self._headers = {"User-Agent": user_agent, "Referer": "https://www.bilibili.com/"}
        self._timeout = httpx.Timeout(timeout)
        self._transport = transport
        self._pacer = pacer or Pacer(0, 0)
        self.risk = risk or AccountPause(Backoff(300.0, 3600.0))  # every read and send of this account: one pause
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> BilibiliClient:
        """From a `BilibiliSettings` section (secrets unwrapped here and nowhere else)."""
        secret = lambda value: value.get_secret_value() if value is not None else None
        options: dict[str, Any] = {
            "api_base": settings.api_base, "vc_base": settings.vc_base, "sessdata": secret(settings.sessdata),
            "bili_jct": secret(settings.bili_jct), "uid": settings.uid, "timeout": settings.timeout, "user_agent": settings.user_agent,
            "pacer": Pacer(settings.request_delay_min, settings.request_delay_max),
        }  # the account's risk pause (`risk`) is passed by the caller: it lives in the store
        return cls(**{**options, **overrides})

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(cookies=self._cookies, headers=self._headers, timeout=self._timeout,
                                       transport=self._transport)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def __repr__(self) -> str:  # cookies stay out of reprs and tracebacks
        return f"BilibiliClient(api_base={self.api_base!r}, uid={self.uid!r}, logged_in={'SESSDATA' in self._cookies})"

    async def paused_for(self) -> float:
        """Seconds this account must still wait after a risk error (0: it may call)."""
        return await self.risk.remaining()

    async def _call(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                    data: dict[str, Any] | None = None) -> Any:
        if self._http is None:
            raise RuntimeError("use `async with BilibiliClient(...) as client`")
        endpoint = httpx.URL(url).path
        await self._pacer.wait()
        if (left := await self.paused_for()) > 0:
            raise AccountPaused(left, endpoint=endpoint)
        try:
            return await self._request(method, url, endpoint, params=params, data=data)
        except RiskControl as exc:
            exc.pause = await self.risk.trip()
            raise

    async def _request(self, method: str, url: str, endpoint: str, *, params: dict[str, Any] | None,
                       data: dict[str, Any] | None) -> Any:
        assert self._http is not None
        try:
            response = await self._http.request(method, url, params=params, data=data)
        except httpx.HTTPError as exc:
            raise TransportError(-1, f"{type(exc).__name__}: {exc}", endpoint=endpoint) from None
        return envelope_data(envelope_body(response, endpoint=endpoint), endpoint=endpoint)

    async def video(self, aid: int) -> VideoInfo:
        data = await self._call("GET", f"{self.api_base}/x/web-interface/view", params={"aid": aid})
        return VideoInfo.from_api(data or {})

    async def comments(self, oid: int, *, page: int = 1, page_size: int = 20, type: int = VIDEO) -> CommentPage:
        """One page of top-level comments, newest first (sort=0: by time)."""
        params = {"oid": oid, "type": type, "sort": 0, "pn": page, "ps": page_size}
        data = await self._call("GET", f"{self.api_base}/x/v2/reply", params=params) or {}
        replies = tuple(Reply.from_api(r) for r in data.get("replies") or () if isinstance(r, dict))
        return CommentPage(replies=replies, count=int((data.get("page") or {}).get("count") or 0))

    async def replies_under(self, oid: int, root: int, *, page: int = 1, page_size: int = 20,
                            type: int = VIDEO) -> CommentPage:
        """One page of the replies inside top-level comment `root`, oldest first (`x/v2/reply/reply`)."""
        params = {"oid": oid, "type": type, "root": root, "pn": page, "ps": page_size}
        data = await self._call("GET", f"{self.api_base}/x/v2/reply/reply", params=params) or {}
        replies = tuple(Reply.from_api(r) for r in data.get("replies") or () if isinstance(r, dict))
        return CommentPage(replies=replies, count=int((data.get("page") or {}).get("count") or 0))

    async def replies_to_me(self, *, before_id: int | None = None, before_time: int | None = None) -> FeedPage:
        """One page of "replies to me" notifications, newest first; pass a page's next_id/next_time for older ones."""
        params: dict[str, Any] = {"platform": "web", "build": 0, "mobi_app": "web"}
        if before_id is not None and before_time is not None:
            params.update(id=before_id, reply_time=before_time)
        data = await self._call("GET", f"{self.api_base}/x/msgfeed/reply", params=params) or {}
        cursor = data.get("cursor") or {}
        items = tuple(FeedItem.from_api(i) for i in data.get("items") or () if isinstance(i, dict))
        return FeedPage(items=items, is_end=bool(cursor.get("is_end", True)),
                        next_id=cursor.get("id"), next_time=cursor.get("time"))

    async def post_reply(self, *, oid: int, message: str, type: int = VIDEO, root: int | None = None,
                         parent: int | None = None) -> str:
        """Post a comment (root/parent empty) or a reply under `root` answering `parent`; returns the new rpid."""
        form: dict[str, Any] = {"oid": oid, "type": type, "message": message, "plat": 1, "csrf": self._csrf}
        if root:
            form.update(root=root, parent=parent or root)
        data = await self._call("POST", f"{self.api_base}/x/v2/reply/add", data=form) or {}
        return str(data.get("rpid_str") or data.get("rpid") or "")

    async def send_dm(self, receiver_id: str, text: str) -> str:
        """A text DM from the creator's account (`uid`) to `receiver_id`; returns the message key."""
        form = {
            "msg[sender_uid]": self.uid or "", "msg[receiver_id]": receiver_id, "msg[receiver_type]": 1,
            "msg[msg_type]": 1, "msg[msg_status]": 0, "msg[content]": json.dumps({"content": text}, ensure_ascii=False),
            "msg[timestamp]": int(time.time()), "msg[dev_id]": str(uuid.uuid4()).upper(),
            "csrf": self._csrf, "csrf_token": self._csrf,
        }
        data = await self._call("POST", f"{self.vc_base}/web_im/v1/web_im/send_msg", data=form) or {}
        return str(data.get("msg_key") or "")
