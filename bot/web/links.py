"""Tracked links and conversions over HTTP (aiohttp).

- `GET /l/<id>`: records the click (with its pseudonymised visitor, for unique clicks: bot/web/visitors.py)
  and redirects (302) to the course page the link was made for. Unknown ids get 404; nothing about the
  viewer is revealed.
- `GET /healthz`: 200 `{"status": "ok"}` when the database answers, else 503 (container health checks).
- `POST <conversions_path>`: the shop reports orders as JSON (one object or a list). The request must
  carry the shared secret in `X-Coursebot-Secret` (compared in constant time); otherwise 401 and nothing
  is stored. Without a configured secret the endpoint answers 503.
Database work runs in worker threads: the event loop never blocks on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.metrics.conversions import parse_conversion, record_conversions
from bot.privacy import Pseudonymizer
from bot.store.models import LinkClick, TrackedLink, Viewer
from bot.web.visitors import client_address, is_automated, visitor
from retrieval.errors import InputError

log = logging.getLogger(__name__)
LINKS = TrackedLink.__table__
CLICKS = LinkClick.__table__
VIEWERS = Viewer.__table__
SECRET_HEADER = "X-Coursebot-Secret"
MAX_BODY = 256 * 1024
ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
PSEUDONYMIZER: web.AppKey[Pseudonymizer] = web.AppKey("pseudonymizer", Pseudonymizer)
_LINK_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # Pseudonymizer.token ids, and room for hand-made ones


def follow_link(engine: Engine, link_id: str, *, user_agent: str | None, referrer: str | None, now: datetime | None = None,
                pseudonymizer: Pseudonymizer | None = None, client: str | None = None) -> str | None:
    """The link's target URL, after recording the click; None for an unknown link."""
    pseudonymizer = pseudonymizer or Pseudonymizer(secrets.token_bytes(32))
    with engine.begin() as conn:
        link = conn.execute(sa.select(LINKS.c.url, LINKS.c.viewer_id, VIEWERS.c.pseudonym)
                            .select_from(LINKS.outerjoin(VIEWERS, VIEWERS.c.id == LINKS.c.viewer_id)).where(LINKS.c.id == link_id)).first()
        if link is None:
            return None
        conn.execute(sa.insert(CLICKS).values(link_id=link_id, viewer_id=link.viewer_id, clicked_at=now or datetime.now(UTC),
                                              user_agent=(user_agent or "")[:400] or None, referrer=(referrer or "")[:400] or None,
                                              visitor=visitor(pseudonymizer, link.pseudonym, client, user_agent),
                                              automated=is_automated(user_agent)))
        return link.url


async def _redirect(request: web.Request) -> web.StreamResponse:
    link_id = request.match_info["link_id"]
    if not _LINK_ID.fullmatch(link_id):  # ours are short tokens; anything else (NUL, 1 KB) is unknown, not a query
        raise web.HTTPNotFound(text="unknown link")
    client = client_address(request.headers.get("X-Forwarded-For"), request.remote)
    url = await asyncio.to_thread(follow_link, request.app[ENGINE], link_id, user_agent=request.headers.get("User-Agent"),
                                  referrer=request.headers.get("Referer"), pseudonymizer=request.app[PSEUDONYMIZER], client=client)
    if url is None:
        raise web.HTTPNotFound(text="unknown link")
    raise web.HTTPFound(url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _conversions_handler(secret: str | None, tz: ZoneInfo):
    async def handle(request: web.Request) -> web.Response:
        if not secret:
            return web.json_response({"error": "conversion webhook disabled: set [web] conversion_secret"}, status=503)
        # Header bytes that are not UTF-8 arrive as surrogate escapes: compared as the bytes sent, never a 500.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, secret.encode()):
            log.warning("conversion webhook: rejected a request without the right secret from %s", request.remote)
            return web.json_response({"error": "missing or wrong secret"}, status=401)
        try:
            payload = json.loads(await request.read())
            items = payload if isinstance(payload, list) else [payload]
            orders = [parse_conversion(item, f"item {index}") for index, item in enumerate(items)]
        except (ValueError, InputError) as exc:
            return web.json_response({"error": str(exc).splitlines()[0]}, status=400)
        result = await asyncio.to_thread(record_conversions, request.app[ENGINE], orders, tz=tz)
        return web.json_response({"recorded": result.recorded, "duplicates": result.duplicates, "unknown_links": result.unknown_links})

    return handle


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


async def _health(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, request.app[ENGINE]), timeout=5)
    except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def links_app(engine: Engine, *, conversion_secret: str | None, tz: ZoneInfo, conversions_path: str = "/conversions",
              pseudonymizer: Pseudonymizer | None = None) -> web.Application:
    """`pseudonymizer`: keys the visitor hash; without it a key per process (a restart splits a visitor in two)."""
    app = web.Application(client_max_size=MAX_BODY)
    add_link_routes(app, engine, conversion_secret=conversion_secret, tz=tz, conversions_path=conversions_path,
                    pseudonymizer=pseudonymizer)
    return app


def add_link_routes(app: web.Application, engine: Engine, *, conversion_secret: str | None, tz: ZoneInfo,
                    conversions_path: str = "/conversions", pseudonymizer: Pseudonymizer | None = None) -> None:
    """`/healthz`, `/l/<id>` and the conversions webhook on `app` (its own, or the console's: `coursebot serve`)."""
    app[ENGINE] = engine
    app[PSEUDONYMIZER] = pseudonymizer or Pseudonymizer(secrets.token_bytes(32))
    app.router.add_get("/healthz", _health)
    app.router.add_get("/l/{link_id}", _redirect)
    app.router.add_post(conversions_path, _conversions_handler(conversion_secret, tz))


def links_app_from_settings(engine: Engine, settings) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    add_link_routes_from_settings(app, engine, settings)
    return app


def add_link_routes_from_settings(app: web.Application, engine: Engine, settings) -> None:
    from bot.metrics.window import zone
    from bot.privacy import pseudonymizer_for

    secret = settings.web.conversion_secret.get_secret_value() if settings.web.conversion_secret else None
    tz = zone(settings.summary.timezone or settings.policy.timezone)
    add_link_routes(app, engine, conversion_secret=secret, tz=tz, conversions_path=settings.web.conversions_path,
                    pseudonymizer=pseudonymizer_for(settings))
