"""Signing in and out, the session cookie, and the CSRF check on every state-changing request.

- Session: a random token in an HttpOnly, SameSite=Lax cookie (Secure and `__Host-` with `[web] secure_cookies`);
  the database keeps its SHA-256 (bot/store/accounts.py), so every worker sharing the database knows it.
  Lax, not Strict: a link to a handoff tapped in Telegram opens signed in; GETs change nothing, and every
  POST needs the session's CSRF token besides the cookie (which Lax does not send cross-site anyway).
- CSRF: a middleware, so a page added later is covered without remembering: any method but GET/HEAD/OPTIONS
  needs the session's token (form field `csrf_token` or header `X-CSRF-Token`), compared in constant time.
  `EXEMPT` paths (the login form, the shop's secret-signed conversions webhook) are kept in one set per app.
- Rate limit: besides the per-account lockout (accounts.py), at most `LOGIN_ATTEMPTS` tries per client address
  per `LOGIN_WINDOW` seconds, counted by this process's app.
"""

from __future__ import annotations

import hmac
import time
from collections import defaultdict, deque
from urllib.parse import urlsplit

from aiohttp import web

from bot.console.base import SETTINGS, SIGNED_IN, STORE, call, redirect, render, signed_in
from bot.web.visitors import client_address

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths a POST may reach without a session's CSRF token, per app: the login form, and what app.py adds (the
# conversions webhook, authenticated by its shared secret).
EXEMPT: web.AppKey[set[str]] = web.AppKey("console_csrf_exempt", set)
LOGIN_ATTEMPTS = 20
LOGIN_WINDOW = 600.0
# Sign-in times per client address, owned by the app (one per server; a new app starts with none).
LOGIN_TRIES: web.AppKey[defaultdict[str, deque[float]]] = web.AppKey("console_login_tries", defaultdict)


def exempt(app: web.Application, path: str) -> None:
    app.setdefault(EXEMPT, {"/login"}).add(path)


def cookie_name(request: web.Request) -> str:
    return "__Host-coursebot" if request.app[SETTINGS].web.secure_cookies else "coursebot_session"


@web.middleware
async def session_middleware(request: web.Request, handler) -> web.StreamResponse:
    request[SIGNED_IN] = None
    token = request.cookies.get(cookie_name(request))
    if token and not request.path.startswith(("/static/", "/l/", "/healthz")):
        request[SIGNED_IN] = await call(request.app[STORE].signed_in, token[:200])
    return await handler(request)


@web.middleware
async def csrf_middleware(request: web.Request, handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        return await handler(request)
    if request.path in request.app.get(EXEMPT, {"/login"}):
        if request.path == "/login" and not _same_origin(request):
            raise web.HTTPForbidden(text="cross-site login refused")
        return await handler(request)
    signed = signed_in(request)
    if signed is None:
        raise web.HTTPForbidden(text="not signed in")
    given = request.headers.get("X-CSRF-Token", "")
    if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = str((await request.post()).get("csrf_token", ""))
    if not given or not hmac.compare_digest(given.encode(), signed.csrf_token.encode()):
        raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page and try again")
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    """A browser sends Origin on a POST; one from another site is a login CSRF. No Origin (curl): allowed."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


def _rate_limited(request: web.Request) -> bool:
    now = time.monotonic()
    key = client_address(request.headers.get("X-Forwarded-For"), request.remote) or "?"
    recent = request.app[LOGIN_TRIES][key]
    while recent and recent[0] < now - LOGIN_WINDOW:
        recent.popleft()
    if len(recent) >= LOGIN_ATTEMPTS:
        return True
    recent.append(now)
    return False


def _next(value: str | None) -> str:
    """Only a path on this site (never //evil.example or https://…)."""
    return value if value and value.startswith("/") and not value.startswith("//") and "\\" not in value else "/inbox"


async def login_page(request: web.Request) -> web.StreamResponse:
    if signed_in(request):
        raise web.HTTPFound(_next(request.query.get("next")))
    return render(request, "login.html", error="", name="", next=_next(request.query.get("next")))


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    target = _next(str(form.get("next", "")))
    if _rate_limited(request):
        return render(request, "login.html", status=429, error="尝试次数过多，请稍后再试", name=name, next=target)
    result = await call(request.app[STORE].log_in, name, password)
    if result.token is None:
        return render(request, "login.html", status=401, error=result.error, name=name, next=target)
    response = web.HTTPFound(target)
    secure = request.app[SETTINGS].web.secure_cookies
    response.set_cookie(cookie_name(request), result.token, httponly=True, samesite="Lax", secure=secure, path="/",
                        max_age=14 * 24 * 3600)
    await call(request.app[STORE].audit, f"console:{name}", "console.login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(cookie_name(request))
    if token:
        await call(request.app[STORE].log_out, token[:200])
    response = redirect("/login", "已退出")
    response.del_cookie(cookie_name(request), path="/")
    raise response


def setup(app: web.Application) -> None:
    exempt(app, "/login")
    app[LOGIN_TRIES] = defaultdict(deque)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
