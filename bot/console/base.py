"""What every console page shares: the app's keys, rendering a template, running store calls off the loop, and
`@requires(role)`."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from bot.actions import CreatorActions
from bot.console.nav import allowed, entries_for
from bot.store.accounts import SignedIn
from bot.store.store import Store

HERE = Path(__file__).parent
STORE: web.AppKey[Store] = web.AppKey("console_store", Store)
ACTIONS: web.AppKey[CreatorActions] = web.AppKey("console_actions", CreatorActions)
SETTINGS: web.AppKey[Any] = web.AppKey("console_settings", object)
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("console_templates", jinja2.Environment)
ENCODER: web.AppKey[Any] = web.AppKey("console_encoder", object)  # a loaded Encoder, or None (Today groups questions by keyword)
SIGNED_IN: web.RequestKey[SignedIn | None] = web.RequestKey("console_signed_in", SignedIn)  # the session cookie's account, or None

INTENT_ZH = {"ask_price": "问价格", "ask_link": "要链接", "ask_course_content": "问课程内容", "ask_recommendation": "求推荐",
             "question_other": "其他问题", "praise": "夸奖", "complaint": "投诉", "spam": "垃圾", "chitchat": "闲聊", "other": "其他"}
PLATFORM_ZH = {"bilibili": "B站", "douyin": "抖音", "telegram": "Telegram"}
ACTION_ZH = {"reply_public": "公开回复", "reply_dm": "私信回复", "handoff": "转人工", "ignore": "不回复"}
STATE_ZH = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败（会重试）", "dead": "放弃发送",
            "held": "已扣下（可能未发出）", "open": "待处理", "resolved": "已处理"}


def templates(timezone: str = "UTC") -> jinja2.Environment:
    """Times are shown in the creator's time zone (`[policy] timezone`)."""
    zone = ZoneInfo(timezone)
    # autoescape for every template, whatever its name: viewer text is hostile until proven otherwise.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = lambda value: value.astimezone(zone).strftime("%m-%d %H:%M") if value else ""
    env.filters["score"] = lambda value: f"{float(value):.2f}" if value is not None else "-"
    env.globals["static"] = _static_url
    env.globals.update(INTENT_ZH=INTENT_ZH, PLATFORM_ZH=PLATFORM_ZH, ACTION_ZH=ACTION_ZH, STATE_ZH=STATE_ZH)
    return env


@functools.cache
def _static_url(name: str) -> str:
    """`/static/<name>?v=<content hash>`: cached for good by the browser, refetched when the file changes."""
    digest = hashlib.sha256((HERE / "static" / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def signed_in(request: web.Request) -> SignedIn | None:
    return request.get(SIGNED_IN)


def by(request: web.Request) -> str:
    """Who does an action, as the audit log and the handoff history name them."""
    return f"console:{request[SIGNED_IN].account.name}"


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    """A page from `template` with what base.html needs: the account, its nav entries and the CSRF token."""
    signed = signed_in(request)
    html = request.app[TEMPLATES].get_template(template).render(
        account=signed.account if signed else None, csrf_token=signed.csrf_token if signed else "",
        nav=entries_for(signed.account.role) if signed else [], path=request.path, flash=request.query.get("msg", ""), **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


async def call(fn, *args: Any, **kwargs: Any) -> Any:
    """A store or action call off the event loop (the Store is synchronous)."""
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


def requires(role: str):
    """Only a signed-in account of at least `role` reaches the handler: others go to the login page (GET) or get
    403 (anything else, and a signed-in account whose role is too low)."""

    def wrap(handler):
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            signed = signed_in(request)
            if signed is None:
                if request.method == "GET":
                    raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
                raise web.HTTPForbidden(text="not signed in")
            if not allowed(signed.account.role, role):
                return render(request, "forbidden.html", status=403, needed=role)
            return await handler(request)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded

    return wrap


def redirect(location: str, message: str = "") -> web.HTTPFound:
    return web.HTTPFound(f"{location}{'&' if '?' in location else '?'}msg={quote(message)}" if message else location)
