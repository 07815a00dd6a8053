"""`async with DouyinClient(...) as client:` — the open-platform send APIs over httpx with the access token.

Responses carry error codes in several places (`error_code`/`err_no` at the top, `data.error_code`,
`extra.error_code`/`sub_error_code`); the first non-zero one becomes a typed `DouyinError`. An expired
token is refreshed once (when a refresh token is configured) and the call repeated.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Self

import httpx

from bot.adapters.douyin.tokens import AccessTokens

log = logging.getLogger("coursebot.douyin")

RATE_LIMITED = 28003070
TOKEN_CODES = {2190002, 2190008, 28001003, 28001008, 10008}  # access_token invalid / expired


class DouyinError(Exception):
    def __init__(self, code: int, message: str = "", *, endpoint: str = "") -> None:
        self.code, self.message, self.endpoint = code, message, endpoint
        super().__init__(f"douyin {endpoint}: code {code}: {message or type(self).__name__}")


class RateLimited(DouyinError):
    """28003070: calls too frequent; wait and retry."""


class TokenExpired(DouyinError):
    """The access token is invalid or expired (and could not be refreshed)."""


class DouyinTransportError(DouyinError):
    """No usable answer: network failure, HTTP 5xx, or a body that is not JSON."""


def _code(body: dict[str, Any]) -> tuple[int, str]:
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    extra = body.get("extra") if isinstance(body.get("extra"), dict) else {}
    candidates = [
        (body.get("error_code"), body.get("description")), (body.get("err_no"), body.get("err_msg")),
        (data.get("error_code"), data.get("description")), (extra.get("error_code"), extra.get("description")),
        (extra.get("sub_error_code"), extra.get("sub_description")),
    ]
    for code, message in candidates:
        if code not in (None, "", 0, "0"):
            return int(code), str(message or "")
    return 0, ""


def _error(code: int, message: str, endpoint: str) -> DouyinError:
    kind = RateLimited if code == RATE_LIMITED else TokenExpired if code in TOKEN_CODES else DouyinError
    return kind(code, message, endpoint=endpoint)


class DouyinClient:
    def __init__(self, *, api_base: str = "https://open.douyin.com", tokens: AccessTokens, open_id: str | None = None,
                 timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.api_base = api_base.rstrip("/")
        self.tokens = tokens
        self.open_id = open_id or ""
        self._timeout = httpx.Timeout(timeout)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"DouyinClient(api_base={self.api_base!r}, tokens={self.tokens!r})"

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if self._http is None:
            raise RuntimeError("use `async with DouyinClient(...) as client`")
        try:
            response = await self._http.request(method, f"{self.api_base}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise DouyinTransportError(-1, f"{type(exc).__name__}: {exc}", endpoint=path) from None
        if response.status_code == 401:
            raise TokenExpired(401, "HTTP 401", endpoint=path)
        if response.status_code >= 500:
            raise DouyinTransportError(response.status_code, f"HTTP {response.status_code}", endpoint=path)
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DouyinTransportError(response.status_code, "response is not JSON", endpoint=path) from None
        if not isinstance(body, dict):
            raise DouyinTransportError(response.status_code, "response is not a JSON object", endpoint=path)
        code, message = _code(body)
        if code:
            raise _error(code, message, path)
        return body

    async def _authorized(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST JSON with the access token; on an expired token, refresh once and try again."""
        if self.tokens.expired and self.tokens.refreshable:
            await self.refresh(stale=self.tokens.access_token)
        for attempt in (1, 2):
            token = self.tokens.access_token
            try:
                return await self._send("POST", path, params={"open_id": self.open_id}, json=payload,
                                        headers={"access-token": token})
            except TokenExpired:
                if attempt == 2 or not self.tokens.refreshable:
                    raise
                await self.refresh(stale=token)
        raise AssertionError("unreachable")

    async def refresh(self, *, stale: str | None = None) -> None:
        """Trade the refresh token for a new access token (skipped if another call already did)."""
        async with self.tokens.lock:
            if stale is not None and self.tokens.access_token != stale:
                return
            body = await self._send("POST", "/oauth/refresh_token/", data={
                "client_key": self.tokens.client_key, "grant_type": "refresh_token",
                "refresh_token": self.tokens.refresh_token})
            data = body.get("data") or {}
            if not data.get("access_token"):
                raise TokenExpired(-1, "refresh answered without an access_token", endpoint="/oauth/refresh_token/")
            self.tokens.update(data)
            log.info("douyin: access token refreshed")

    async def reply_comment(self, *, item_id: str, comment_id: str | None, content: str) -> str:
        """Reply under video `item_id` to `comment_id` (None: a top-level comment); returns the new comment id."""
        payload = {"item_id": item_id, "content": content, **({"comment_id": comment_id} if comment_id else {})}
        body = await self._authorized("/item/comment/reply/", payload)
        data = body.get("data") or {}
        return str(data.get("comment_id") or (body.get("extra") or {}).get("logid") or "")

    async def send_dm(self, *, to_user_id: str, text: str, conversation_id: str | None = None,
                      msg_id: str | None = None, scene: str | None = None) -> str:
        """A text DM; `msg_id`/`conversation_id` answer a received message (scene im_replay_msg)."""
        payload: dict[str, Any] = {"to_user_id": to_user_id, "content": {"msg_type": 1, "text": {"text": text}}}
        payload.update({k: v for k, v in (("conversation_id", conversation_id), ("msg_id", msg_id), ("scene", scene)) if v})
        body = await self._authorized("/im/send/msg/", payload)
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        return str(body.get("msg_id") or data.get("msg_id") or data.get("server_message_id") or uuid.uuid4().hex)
