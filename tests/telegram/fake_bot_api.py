"""A small Telegram Bot API server for tests: real HTTP on 127.0.0.1, a random port, aiogram talks to it
through `TelegramAPIServer.from_base(api.base_url)`.

It keeps what a test needs to assert on and to script:
- `calls`: every request, in order, with its decoded parameters;
- `push(update)`: updates served by `getUpdates` with Telegram's offset semantics (updates below the
  offset are confirmed and never served again; long polling waits up to `timeout` seconds);
- `fail(...)` / `block(...)`: 429 with `parameters.retry_after`, 403 "bot was blocked by the user";
  a private chat whose user never wrote to the bot answers 403 "bot can't initiate conversation";
- `setWebhook` / `deliver_webhook(update)`: posts an update to the registered URL with the secret header;
- `enforce_limits()`: Telegram's flood control on sendMessage, counted when a request arrives: a second
  message into one chat within `chat_interval` (1 s), or more than `group_per_window` (20) into one group
  within `window` (60 s), gets 429 with retry_after, as the real API answers; `flood_429s` counts them.
  `jitter` delays each request's arrival by a random 0..jitter s, as the network between bot and Telegram does.
Messages are numbered per chat, as Telegram does, and a reply must name a message that exists.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
from aiohttp import web

TOKEN = "7000001:AAFakeTokenForTestsOnly_abcdefghijkl"
_STRING_FIELDS = {"text", "caption", "url", "secret_token", "parse_mode", "title", "description", "ip_address"}
_UPDATE_TYPES = ("message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member", "chat_member", "callback_query")


@dataclass
class ApiCall:
    method: str  # as sent, e.g. "sendMessage"
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    chat_id: int | None
    remaining: int


class FakeBotAPI:
    def __init__(self, token: str = TOKEN, *, bot_id: int | None = None, username: str = "coursebot_test_bot") -> None:
        self.token = token
        self.bot_user = {"id": bot_id or int(token.split(":")[0]), "is_bot": True, "first_name": "课程助手",
                         "username": username, "can_join_groups": True, "can_read_all_group_messages": True,
                         "supports_inline_queries": False}
        self.calls: list[ApiCall] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self._updates: list[dict[str, Any]] = []
        self._confirmed_below = 0
        self._next_update_id = 1000
        self._next_message_id: dict[int, int] = {}
        self._open_dms: set[int] = set()
        self._blocked: dict[int, str] = {}
        self._failures: list[_Failure] = []
        self._holds: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Condition()
        self._limits: tuple[float, int, float] | None = None
        self._jitter = 0.0
        self._rng = random.Random(16)
        self._accepted_at: dict[int, list[float]] = {}
        self.flood_429s = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> FakeBotAPI:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        self._closing = True
        for gate in self._holds.values():
            gate.set()
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- scripting ------------------------------------------------------------------------------------
    def new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def remember(self, message: dict[str, Any]) -> None:
        """A message now exists in its chat (so it can be replied to); a private message opens the DM."""
        chat = message["chat"]
        self.chats[chat["id"]] = chat
        self.messages[(chat["id"], message["message_id"])] = message
        if chat["type"] == "private":
            self._open_dms.add(chat["id"])

    def wrap(self, payload: dict[str, Any], kind: str = "message") -> dict[str, Any]:
        self._next_update_id += 1
        return {"update_id": self._next_update_id, kind: payload}

    def push(self, payload: dict[str, Any], kind: str = "message") -> dict[str, Any]:
        """Queue an update for getUpdates; returns it."""
        update = self.wrap(payload, kind)
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    def fail(self, method: str, *, status: int = 429, description: str | None = None, retry_after: int | None = None,
             chat_id: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` (to `chat_id`, when given) fail with this status."""
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if status == 429 else f"Error {status}"
        self._failures.append(_Failure(method.lower(), status, description, retry_after, chat_id, times))

    def hold(self, method: str) -> asyncio.Event:
        """Calls of `method` take effect at once but are answered only after the returned event is set: a
        client killed meanwhile never learns that Telegram already posted its message."""
        return self._holds.setdefault(method.lower(), asyncio.Event())

    def enforce_limits(self, *, chat_interval: float = 1.0, group_per_window: int = 20, window: float = 60.0,
                       jitter: float = 0.02) -> None:
        """From now on sendMessage obeys Telegram's per-chat and per-group limits (tests may shrink the times)."""
        self._limits = (chat_interval, group_per_window, window)
        self._jitter = jitter

    def block(self, chat_id: int, description: str = "Forbidden: bot was blocked by the user") -> None:
        self._blocked[chat_id] = description

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Parameters of every sendMessage that Telegram accepted."""
        return [c.params for c in self.calls_to("sendMessage") if c.params.get("_accepted")]

    @property
    def unconfirmed(self) -> int:
        return sum(1 for u in self._updates if u["update_id"] >= self._confirmed_below)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until `predicate(self)` is true (re-checked after every call), or fail the test."""
        async def check() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))
        await asyncio.wait_for(check(), timeout)

    async def deliver_webhook(self, update: dict[str, Any], *, secret: str | None = ...) -> int:  # type: ignore[assignment]
        """POST an update to the registered webhook, with its secret unless told otherwise (None: no header)."""
        assert self.webhook is not None, "no webhook set"
        token = self.webhook.get("secret_token") if secret is ... else secret
        headers = {} if token is None else {"X-Telegram-Bot-Api-Secret-Token": token}
        async with aiohttp.ClientSession() as session, session.post(self.webhook["url"], json=update, headers=headers) as resp:
            return resp.status

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- HTTP -------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        if self._jitter:
            await asyncio.sleep(self._rng.uniform(0, self._jitter))  # the request is still on its way
        call = ApiCall(method, params)
        self.calls.append(call)
        try:
            if failure := self._scripted_failure(method, params) or self._flood_control(method, params, call.at):
                return failure
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                return _error(404, "Not Found: method not found")
            result = await handler(params)
            if isinstance(result, web.Response):
                return result
            params["_accepted"] = True
            params["_result"] = result
            if (gate := self._holds.get(method.lower())) is not None:
                await self._notify()
                await gate.wait()
            return web.json_response({"ok": True, "result": result})
        finally:
            await self._notify()

    def _scripted_failure(self, method: str, params: dict[str, Any]) -> web.Response | None:
        for failure in self._failures:
            if failure.method == method.lower() and failure.remaining > 0 and failure.chat_id in (None, params.get("chat_id")):
                failure.remaining -= 1
                extra = {"parameters": {"retry_after": failure.retry_after}} if failure.retry_after is not None else {}
                return _error(failure.status, failure.description, **extra)
        return None

    def _flood_control(self, method: str, params: dict[str, Any], arrived: float) -> web.Response | None:
        chat_id = params.get("chat_id")
        if self._limits is None or method.lower() != "sendmessage" or not isinstance(chat_id, int):
            return None
        chat_interval, per_window, window = self._limits
        accepted = self._accepted_at.setdefault(chat_id, [])
        waits = [accepted[-1] + chat_interval - arrived] if accepted else []
        recent = [t for t in accepted if t > arrived - window]
        if chat_id < 0 and len(recent) >= per_window:
            waits.append(recent[-per_window] + window - arrived)
        if waits and max(waits) > 0:
            self.flood_429s += 1
            retry_after = max(1, round(max(waits) + 0.5))
            return _error(429, f"Too Many Requests: retry after {retry_after}", parameters={"retry_after": retry_after})
        accepted.append(arrived)
        return None

    # --- methods (named _m_<lowercase Bot API method>) ---------------------------------------------------
    async def _m_getme(self, params: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._confirmed_below = max(self._confirmed_below, offset)
        self._updates = [u for u in self._updates if u["update_id"] >= self._confirmed_below]
        allowed = params.get("allowed_updates") or list(_UPDATE_TYPES)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            ready = [u for u in self._updates if any(kind in u for kind in allowed)]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._closing:
                return ready[: int(params.get("limit") or 100)]
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    pass

    async def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False, "pending_update_count": self.unconfirmed}

    async def _m_getchat(self, params: dict[str, Any]) -> Any:
        chat = self.chats.get(params.get("chat_id"))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11} if chat else _error(400, "Bad Request: chat not found")

    async def _m_setmycommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id, text = params.get("chat_id"), params.get("text") or ""
        if chat_id in self._blocked:
            return _error(403, self._blocked[chat_id])
        chat = self.chats.get(chat_id)
        if chat is None or (chat["type"] == "private" and chat_id not in self._open_dms):
            if isinstance(chat_id, int) and chat_id > 0:
                return _error(403, "Forbidden: bot can't initiate conversation with a user")
            return _error(400, "Bad Request: chat not found")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        message: dict[str, Any] = {"message_id": self.new_message_id(chat_id), "date": int(time.time()), "chat": chat,
                                   "from": self.bot_user, "text": text}
        reply_to = (params.get("reply_parameters") or {}).get("message_id") or params.get("reply_to_message_id")
        if reply_to is not None:
            replied = self.messages.get((chat_id, reply_to))
            if replied is None:
                return _error(400, "Bad Request: message to be replied not found")
            message["reply_to_message"] = replied
            thread = replied.get("message_thread_id") or (replied["message_id"] if replied.get("is_automatic_forward") else None)
            if thread is not None:
                message["message_thread_id"] = thread
        self.messages[(chat_id, message["message_id"])] = message
        return message


    async def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        chat = self.chats.get(params.get("chat_id"))
        if chat is None or (chat["type"] == "private" and chat["id"] not in self._open_dms):
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        upload = params.get("photo")
        if isinstance(upload, str) and upload.startswith("attach://"):  # how aiogram uploads a file
            upload = params.pop(upload.removeprefix("attach://"), None)
        data = upload.file.read() if hasattr(upload, "file") else b""
        params["photo"] = {"filename": getattr(upload, "filename", None), "bytes": data}
        size = {"file_id": "p1", "file_unique_id": "u1", "width": 800, "height": 600, "file_size": len(data)}
        return {"message_id": self.new_message_id(chat["id"]), "date": int(time.time()), "chat": chat, "from": self.bot_user,
                "photo": [size]}


def _error(status: int, description: str, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description, **extra}, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    """aiogram sends form fields: strings as they are, everything else JSON-encoded."""
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str) or key in _STRING_FIELDS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params
