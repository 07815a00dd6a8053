"""The console's Today page: one day's `DailySummary`, built by the same code as `coursebot summary`, as HTML.

The page never computes a number of its own. It renders `DailySummary.to_dict()` — the very dict that
`coursebot summary --format json` prints — and every number on it is a `<data value=… data-key=…>` element
whose key is that number's JSON Pointer in the JSON, so a test (or a curious creator) can check the page against the
CLI mechanically. Charts are CSS bars (widths as classes, no inline styles, no JS): a few KB, text stays text
in the page's CJK font stack, and bars reflow from a 390 px phone to a desktop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.engine import Engine

from bot.console.base import ENCODER, SETTINGS, STORE, call, render, requires
from bot.console.base import TEMPLATES as TEMPLATES_KEY
from bot.summary.build import SummaryOptions, daily_summary, summary_zone
from bot.summary.model import DailySummary
from bot.summary.render import SENTIMENT_LABELS, duration, intent_label, num, pct, render_json, short_viewer
from retrieval.encoder import Encoder
from retrieval.errors import InputError

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
STYLESHEET = STATIC / "today.css"
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)

# How a number is written on the page: the summary's own text formatters, so page and DM read alike.
FORMATS = {
    "int": lambda v: "—" if v is None else str(v),
    "pct": pct,
    "duration": duration,
    "num": num,
    "hours": lambda v: num(v, 0),
    "p": lambda v: num(v, 3),
    "signed": lambda v: num(v, signed=True),
    "money": lambda v: "—" if v is None else f"¥{v:.2f}",
    "text": lambda v: "—" if v is None else str(v),
}


@dataclass(frozen=True, slots=True)
class TodayView:
    """What the Today page shows: the summary, its JSON dict, and where the day picker can go."""

    summary: DailySummary
    data: dict[str, Any]  # summary.to_dict(): the JSON of `coursebot summary --format json`
    today: date  # the creator's local today (the picker goes no further)

    @property
    def day(self) -> date:
        return self.summary.day

    @property
    def previous_day(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next_day(self) -> date | None:
        following = self.day + timedelta(days=1)
        return following if following <= self.today else None

    def json(self) -> str:
        """The same bytes `coursebot summary --format json` prints (for the console's `today.json`)."""
        return render_json(self.summary)


def local_today(settings, *, tz: str | None = None, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(summary_zone(settings, tz)).date()


def requested_day(value: str | None, settings, *, tz: str | None = None, now: datetime | None = None) -> date:
    """The day a `?day=YYYY-MM-DD` parameter asks for (none: the creator's local today); a bad one raises
    InputError with the one-line message the CLI gives for `--date`."""
    from bot.local_days import parse_day
    from retrieval.errors import InputError

    if not value:
        return local_today(settings, tz=tz, now=now)
    day = parse_day(value)
    if not FIRST_DAY <= day <= LAST_DAY:  # date.min/max have no previous/next day and no UTC window in every zone
        raise InputError(f"date {value!r}: expected a day between {FIRST_DAY} and {LAST_DAY}")
    return day


def today_view(source: Engine | Any, settings, day: date, *, encoder: Encoder | None = None, platforms: Sequence[str] = (),
               tz: str | None = None, now: datetime | None = None) -> TodayView:
    """Blocking: reads the database (and runs `encoder` on unanswered questions when given, as
    `--group-questions-by meaning` does; None groups them by keyword like `--group-questions-by keywords`).
    `source` is an Engine or anything with an `.engine` (the Store)."""
    engine = getattr(source, "engine", source)
    zone = summary_zone(settings, tz)
    summary = daily_summary(engine, day, zone, options=SummaryOptions.from_settings(settings), encoder=encoder,
                            platforms=tuple(platforms), now=now)
    return TodayView(summary, summary.to_dict(), local_today(settings, tz=tz, now=now))


def environment(*extra_loaders) -> Environment:
    """A Jinja2 environment for the Today templates, autoescaped; `extra_loaders` come first (the console's
    own templates, which provide `base.html`)."""
    env = Environment(loader=ChoiceLoader([*extra_loaders, FileSystemLoader(TEMPLATES)]), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    install(env)
    return env


def install(env: Environment) -> Environment:
    """Add the filters and globals the Today templates use to an existing environment (the console's)."""
    env.globals.update(intent_label=intent_label, sentiment_label=lambda k: SENTIMENT_LABELS.get(k, k), short_viewer=short_viewer)
    env.filters.update(figure=figure, width=width)
    return env


def lookup(data: Any, pointer: str) -> Any:
    """The value at a JSON Pointer (RFC 6901) such as `/performance/reply_rate` — the `data-key` of a figure."""
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        data = data[int(token)] if isinstance(data, list) else data[token]
    return data


def figure(data: dict[str, Any], path: str, fmt: str = "int", key: str | None = None) -> Markup:
    """The number at `path` (dotted names of the summary's JSON, then `key` verbatim: an intent, a platform, a
    failure reason may contain dots), written for the creator and tagged with its JSON Pointer and raw value:
    `<data value="0.6" data-key="/performance/reply_rate">60%</data>`."""
    tokens = [*path.split("."), *([] if key is None else [str(key)])]
    pointer = "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)
    value = lookup(data, pointer)
    raw = "" if value is None else value
    return Markup('<data value="{}" data-key="{}">{}</data>').format(raw, pointer, FORMATS[fmt](value))


def width(part: float | None, whole: float | None, axis: str = "w") -> str:
    """A bar's size class `w0`…`w100` (or `h0`…`h100` for columns, today.css): |part| ÷ whole in whole percent,
    a visible sliver for any non-zero part. Classes rather than inline styles, so a strict
    Content-Security-Policy needs no exception."""
    if not part or not whole or whole <= 0:
        return f"{axis}0"
    return f"{axis}{min(100, max(1, round(100 * abs(part) / whole)))}"


@lru_cache(maxsize=1)
def _own_environment() -> Environment:
    return environment()


def render_fragment(view: TodayView, *, env: Environment | None = None, static_url: str = "/static") -> str:
    """The Today page's body (`today_body.html`): day picker, numbers and charts, linking today.css."""
    env = env or _own_environment()
    return env.get_template("today_body.html").render(view=view, d=view.data, static_url=static_url.rstrip("/"))


def render_page(view: TodayView, *, env: Environment, static_url: str = "/static") -> str:
    """The full page (`today.html` extends the console's `base.html`, so `env` must be able to find it)."""
    return env.get_template("today.html").render(view=view, d=view.data, static_url=static_url.rstrip("/"))


def today_page(source: Engine | Any, settings, day: date, *, env: Environment, encoder: Encoder | None = None,
               platforms: Sequence[str] = (), static_url: str = "/static", now: datetime | None = None) -> str:
    """Blocking: the whole Today page of `day`. The console calls it in a worker thread (`today_page_async`)."""
    view = today_view(source, settings, day, encoder=encoder, platforms=platforms, now=now)
    return render_page(view, env=env, static_url=static_url)


async def today_page_async(source: Engine | Any, settings, day: date, *, env: Environment, encoder: Encoder | None = None,
                           platforms: Sequence[str] = (), static_url: str = "/static") -> str:
    """`today_page` for an aiohttp handler: the database reads, the clustering and the rendering run off the event loop."""
    return await asyncio.to_thread(today_page, source, settings, day, env=env, encoder=encoder, platforms=platforms, static_url=static_url)



# -- the console's /today page ------------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    """Mount 今日 (/today, any role) and /today.json on the console `app`: its Jinja environment gains the Today
    filters; today.css is served by the console's /static/."""
    install(app[TEMPLATES_KEY])
    app.router.add_get("/today", page)
    app.router.add_get("/today.json", page_json)


async def _view(request: web.Request) -> TodayView:
    settings = request.app[SETTINGS]
    try:
        day = requested_day(request.query.get("day"), settings)
    except InputError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    # The database reads and the clustering (with the console's encoder, when one is loaded) run in a worker thread.
    return await call(today_view, request.app[STORE], settings, day, encoder=request.app.get(ENCODER))


@requires("assistant")
async def page(request: web.Request) -> web.StreamResponse:
    view = await _view(request)
    return render(request, "today.html", view=view, d=view.data, static_url="/static")


@requires("assistant")
async def page_json(request: web.Request) -> web.StreamResponse:
    """The same bytes as `coursebot summary --format json` for that day (datasette's rule: page and data agree)."""
    view = await _view(request)
    return web.Response(text=view.json(), content_type="application/json", charset="utf-8")
