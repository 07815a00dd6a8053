"""A small Douyin open-platform API on 127.0.0.1 for tests: comment reply, DM send and token refresh.

It checks the `access-token` header against the current token, records every call, and can be told to
answer the next calls to a path with an error code placed where Douyin puts it (`fail(path, code, where)`).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

from aiohttp import web

CLIENT_KEY = "awtestclientkey"
OPEN_ID = "creator-open-id"
ACCESS_TOKEN = "act.first-token"
REFRESH_TOKEN = "rft.first-refresh"


class FakeDouyin:
    def __init__(self) -> None:
        self.access_token = ACCESS_TOKEN
        self.refresh_token = REFRESH_TOKEN
        self.calls: list[dict[str, Any]] = []
        self.refreshes: list[dict[str, str]] = []
        self._failures: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._statuses: dict[str, list[int]] = defaultdict(list)
        self._ids = itertools.count(7_000_000_000)
        self._tokens = itertools.count(2)
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    def fail(self, path: str, code: int, where: str = "data") -> None:
        self._failures[path].append((code, where))

    def fail_http(self, path: str, status: int) -> None:
        self._statuses[path].append(status)

    def expire_token(self) -> None:
        self.access_token = "act.rotated-on-the-server"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/item/comment/reply/", self._reply)
        app.router.add_post("/im/send/msg/", self._send)
        app.router.add_post("/oauth/refresh_token/", self._refresh)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @staticmethod
    def _error(code: int, where: str) -> web.Response:
        if where == "extra":
            return web.json_response({"data": {}, "extra": {"error_code": code, "description": "scripted", "logid": "x"}})
        if where == "sub":
            return web.json_response({"data": {}, "extra": {"error_code": 0, "sub_error_code": code, "sub_description": "scripted"}})
        return web.json_response({"data": {"error_code": code, "description": "scripted"}, "extra": {"logid": "x"}})

    async def _checked(self, request: web.Request) -> tuple[web.Response | None, dict[str, Any]]:
        body = await request.json()
        self.calls.append({"path": request.path, "open_id": request.query.get("open_id"),
                           "token": request.headers.get("access-token"), "body": body})
        if self._statuses[request.path]:
            return web.Response(status=self._statuses[request.path].pop(0), text="oops"), body
        if self._failures[request.path]:
            return self._error(*self._failures[request.path].pop(0)), body
        if request.headers.get("access-token") != self.access_token:
            return self._error(2190008, "data"), body
        return None, body

    async def _reply(self, request: web.Request) -> web.Response:
        early, _ = await self._checked(request)
        if early is not None:
            return early
        return web.json_response({"data": {"comment_id": str(next(self._ids)), "error_code": 0, "description": ""},
                                  "extra": {"logid": "x", "error_code": 0}})

    async def _send(self, request: web.Request) -> web.Response:
        early, _ = await self._checked(request)
        if early is not None:
            return early
        return web.json_response({"data": {"error_code": 0, "description": ""}, "msg_id": f"m{next(self._ids)}",
                                  "extra": {"logid": "x"}})

    async def _refresh(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.refreshes.append(form)
        if form.get("refresh_token") != self.refresh_token or form.get("client_key") != CLIENT_KEY:
            return web.json_response({"data": {"error_code": 10010, "description": "refresh_token 过期"}})
        n = next(self._tokens)
        self.access_token, self.refresh_token = f"act.token-{n}", f"rft.refresh-{n}"
        return web.json_response({"data": {"access_token": self.access_token, "refresh_token": self.refresh_token,
                                           "expires_in": 1296000, "open_id": OPEN_ID, "error_code": 0},
                                  "message": "success"})
