"""The console's aiohttp application: templates, static files, security middlewares, the pages, and (for
`coursebot serve`) the tracked-link redirect, /healthz and the conversions webhook on the same port."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.actions import CreatorActions
from bot.console import auth, conversations, inbox, knowledge, live, switches, today
from bot.console.base import ACTIONS, ENCODER, HERE, SETTINGS, SIGNED_IN, STORE, TEMPLATES, templates
from bot.learning.knowledge_base import KnowledgeBase
from bot.store.store import Store

# Each page module exposes setup(app) (and has its entry in nav.NAV).
PAGES = [auth, inbox, conversations, today, live, switches, knowledge]
MAX_BODY = 256 * 1024

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _headers(response)
        raise
    _headers(response)
    return response


def _headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")


def console_app(store: Store, settings: Any, *, with_links: bool = True, encoder: Any = None) -> web.Application:
    """The whole server of `coursebot serve` on `store` (which stays open for the app's life). `encoder`: a loaded
    sentence encoder, used by Today to group unanswered questions by meaning (None: by keyword)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[security_headers, auth.session_middleware, auth.csrf_middleware])
    app[STORE] = store
    app[ACTIONS] = CreatorActions(store, KnowledgeBase.open(settings, store))  # the files as loaded now, the edits as stored
    app[SETTINGS] = settings
    app[ENCODER] = encoder
    app[TEMPLATES] = templates(settings.policy.timezone)
    app.router.add_static("/static/", HERE / "static", name="static")
    app.router.add_get("/", _home)
    for page in PAGES:
        page.setup(app)
    if with_links:
        from bot.web.links import add_link_routes_from_settings

        add_link_routes_from_settings(app, store.engine, settings)
        auth.exempt(app, settings.web.conversions_path)  # authenticated by its shared secret, not a session
    return app


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/inbox" if request.get(SIGNED_IN) else "/login")
