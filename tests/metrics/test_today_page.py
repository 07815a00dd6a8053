"""The console's Today page: the same numbers as `coursebot summary --format json`, charts, day picker,
escaping of viewer text, the empty day. HTML is read with the stdlib parser, never with regular expressions."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import DictLoader
from metrics_seed import DAY, Seeder, local, seed_shanghai_day
from sqlalchemy.engine import Engine

from bot.console.today import STYLESHEET, environment, lookup, render_fragment, requested_day, today_page_async, today_view
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from bot.summary.build import SummaryOptions, daily_summary, summary_zone
from bot.summary.render import render
from retrieval.errors import InputError

SCRIPT = '<script>alert("xss")</script>退款怎么申请'
HOVER = "<b onmouseover=alert(2)>能退吗</b>"
IMG_KEYWORD = "<img src=x onerror=alert(1)>"
NOW = datetime(2024, 6, 3, 4, 0, tzinfo=UTC)  # 12:00 on 2024-06-03 in Shanghai
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def seed_page_day(engine: Engine) -> Seeder:
    """The metrics tests' Shanghai day, plus an A/B test that reaches significance and hostile viewer text."""
    seed = seed_shanghai_day(engine)
    for n in range(11):  # ask_price/price-a: L1 clicked + 5 never clicked → 1/6; price-b: 5 of 6 clicked → 5/6
        variant, at = ("price-a" if n < 5 else "price-b"), local(DAY, 11, n)
        seed.viewer(f"ab{n}", at)
        _, decision = seed.event(at, f"ab{n}", text="多少钱", intent="ask_price", topics=("价格",), action="reply_public",
                                 template="ask_price", variant=variant)
        seed.outbox(decision, "sent", at, at + timedelta(seconds=20 + n))
        seed.link(f"AB{n}", decision, at, template="ask_price", variant=variant, viewer=f"ab{n}")
        if n > 5:
            seed.click(f"AB{n}", at + timedelta(minutes=5), viewer=f"ab{n}")
    seed.viewer("<svg/onload=alert(3)>", local(DAY, 16))
    seed.viewer("G", local(DAY, 17))
    hostile = "<svg/onload=alert(3)>"  # a viewer name; the page shows its first 8 characters, like the summary
    for name, kind, text, hour in ((hostile, "comment", SCRIPT, 16), ("G", "comment", HOVER, 17), (hostile, "dm", SCRIPT, 18)):
        pk, _ = seed.event(local(DAY, hour), name, kind=kind, text=text, intent="question_other", sentiment="negative",
                           topics=(IMG_KEYWORD,), action="handoff")
        seed.handoff(pk, local(DAY, hour))
    seed.event(local(DAY, 19), hostile, kind="dm", text="在吗", intent="chitchat", action="ignore")  # among the top viewers
    _, decision = seed.event(local(DAY, 20), "G", text="课程有效期多久", intent="ask_course_content", action="reply_public")
    seed.outbox(decision, "failed", local(DAY, 20), error="httpx.ReadTimeout/read: timed out")  # a failure reason with . and /
    return seed


@pytest.fixture
def page_db(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    url = f"sqlite:///{tmp_path / 'coursebot.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_page_day(engine)
    yield engine, url
    engine.dispose()


class Page(HTMLParser):
    """Every `<data>` element (key, value, text), the text outside them, tags and attributes seen."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[tuple[str, str, str]] = []
        self.loose_text: list[str] = []  # text neither in a <data> nor in a data-free element
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._figure: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in VOID:
            return
        self._stack.append((tag, dict(attrs)))
        if tag == "data":
            self._figure = []

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, attrs = self._stack.pop()
            if open_tag == "data" and self._figure is not None:
                self.figures.append((str(attrs["data-key"]), str(attrs["value"]), "".join(self._figure)))
                self._figure = None
            if open_tag == tag:
                return

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._figure is not None:
            self._figure.append(data)
        elif not any("data-free" in attrs for _, attrs in self._stack):
            self.loose_text.append(data)

    def classes(self) -> set[str]:
        return {c for _, attrs in self.tags for c in (attrs.get("class") or "").split()}


def shown_as(value: Any, text: str) -> bool:
    """Does `text` on the page say `value` (the JSON's number, or string)? Checked independently of the
    page's own formatters: the displayed digits must come from this value at the displayed precision."""
    if value is None:
        return text == "—"
    if isinstance(value, bool) or isinstance(value, str):
        return text == str(value)
    if text.endswith("%"):
        return int(text[:-1]) == round(value * 100)
    if text[-1] in "秒分":  # 1分30秒, 2小时05分 (the hour form drops seconds)
        units = {"小时": 3600, "分": 60, "秒": 1}
        for unit in units:
            text = text.replace(unit, f" {unit} ")
        parts = text.split()
        seconds = sum(int(n) * units[u] for n, u in zip(parts[::2], parts[1::2]))
        return seconds == (round(value) // 60 * 60 if "小时" in parts else round(value))
    if text.startswith("¥"):
        text = text[1:]
    digits = len(text.split(".")[1]) if "." in text else 0
    return math.isclose(float(text), round(value, digits), abs_tol=10 ** -digits / 2 + 1e-9)


def check_against(json_data: dict[str, Any], html: str) -> Page:
    page = Page(html)
    assert page.figures, "the page shows no tagged numbers"
    for key, value, text in page.figures:
        expected = lookup(json_data, key)
        assert value == ("" if expected is None else str(expected)) or math.isclose(float(value), expected), (key, value, expected)
        assert shown_as(expected, text.strip()), (key, text, expected)
    loose = "".join(page.loose_text)
    assert not any(ch.isdigit() for ch in loose), f"a number on the page is not one of the summary's: {loose!r}"
    return page


def test_every_number_on_the_today_page_is_the_number_coursebot_summary_json_prints(page_db, cli, settings_factory) -> None:
    engine, url = page_db
    result = cli("summary", "--date", DAY.isoformat(), "--format", "json", "--group-questions-by", "keywords",
                 env={"COURSEBOT_STORE__URL": url})
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)

    view = today_view(engine, settings_factory(), DAY, now=NOW)
    page = check_against(printed, render_fragment(view))

    keys = {key for key, _, _ in page.figures}
    for wanted in ("performance.reply_rate", "performance.replied_by_bot", "performance.first_response_p50_s",
                   "performance.first_response_p90_s", "mood.intents.question_other", "mood.sentiments.negative", "mood.net_sentiment",
                   "questions.0.viewers", "engaged_viewers.0.interactions", "business.ctr", "business.variants.1.ctr",
                   "business.ab_tests.0.test.rate_b", "business.ab_tests.0.test.z", "business.ab_tests.0.test.p_value",
                   "volume.by_hour.23", "keywords.0.count", "business.revenue"):
        assert "/" + wanted.replace(".", "/") in keys, wanted
    assert "/performance/failure_reasons/httpx.ReadTimeout~1read" in keys
    # the A/B verdict the page states is the one the JSON states
    assert printed["business"]["ab_tests"][0]["test"]["significant"] is True
    assert "显著" in page.text and "不显著" not in page.text
    # the biggest intent's bar is full width and the bars' classes exist in the stylesheet
    css = STYLESHEET.read_text(encoding="utf-8")
    assert '"Noto Sans CJK SC"' in css and '"PingFang SC"' in css  # Chinese in a CJK font on Linux and on phones
    assert all(f".{c}{{" in css or f".{c} " in css or f".{c}," in css or f".{c}:" in css
               for c in page.classes() if c[0] in "wh" and c[1:].isdigit())


def test_viewer_text_on_the_today_page_is_shown_as_text_never_run(page_db, settings_factory) -> None:
    engine, _ = page_db
    html = render_fragment(today_view(engine, settings_factory(), DAY, now=NOW))
    page = Page(html)
    assert not [tag for tag, _ in page.tags if tag in {"script", "img", "svg"}]
    assert not [(tag, name) for tag, attrs in page.tags for name in attrs if name.startswith("on")]
    text = "".join(page.text)
    assert SCRIPT in text and HOVER in text and IMG_KEYWORD in text and "p-<svg/o" in text


def test_an_empty_day_says_so_kindly_and_still_offers_the_day_picker(sqlite_db, settings_factory) -> None:
    view = today_view(sqlite_db, settings_factory(), date(2024, 5, 20), now=NOW)
    page = Page(render_fragment(view))
    text = "".join(page.text)
    assert "这一天没有新的评论、私信、点击或成交。" in text
    assert not [attrs for tag, attrs in page.tags if tag == "article"]
    links = {attrs.get("rel"): attrs.get("href") for tag, attrs in page.tags if tag == "a"}
    assert links == {"prev": "?day=2024-05-19", "next": "?day=2024-05-21"}


def test_the_day_picker_goes_back_any_day_but_not_past_the_creators_today(sqlite_db, settings_factory) -> None:
    settings = settings_factory()
    assert requested_day(None, settings, now=NOW) == date(2024, 6, 3)
    assert requested_day(None, settings, now=datetime(2024, 6, 3, 17, tzinfo=UTC)) == date(2024, 6, 4)  # 01:00 in Shanghai
    page = Page(render_fragment(today_view(sqlite_db, settings, date(2024, 6, 3), now=NOW)))
    links = {attrs.get("rel"): attrs.get("href") for tag, attrs in page.tags if tag == "a"}
    assert links == {"prev": "?day=2024-06-02"}
    picker = next(attrs for tag, attrs in page.tags if tag == "input")
    assert (picker["name"], picker["value"], picker["max"]) == ("day", "2024-06-03", "2024-06-03")
    with pytest.raises(InputError, match=r"^date '2024-13-01': expected YYYY-MM-DD"):
        requested_day("2024-13-01", settings)
    with pytest.raises(InputError, match=r"^date '0001-01-01': expected a day between 1970-01-01 and 9998-12-31$"):
        requested_day("0001-01-01", settings)


async def test_the_full_page_sits_in_the_console_layout_and_is_built_off_the_event_loop(page_db, settings_factory) -> None:
    engine, _ = page_db
    base = "<!doctype html><title>{% block title %}{% endblock %}</title><main id=console>{% block content %}{% endblock %}</main>"
    env = environment(DictLoader({"base.html": base}))
    html = await today_page_async(engine, settings_factory(), DAY, env=env, static_url="/static/")
    page = Page(html)
    assert html.startswith("<!doctype html><title>每日总结 · 2024-06-01</title><main id=console>")
    assert ("link", {"rel": "stylesheet", "href": "/static/today.css"}) in page.tags
    assert "回复率" in "".join(page.text) and SCRIPT in "".join(page.text)


@pytest.mark.postgres
def test_today_page_on_postgres_shows_the_summary_json_numbers(engine: Engine, settings_factory) -> None:
    seed_page_day(engine)
    settings = settings_factory()
    printed = json.loads(render(daily_summary(engine, DAY, summary_zone(settings)), "json"))
    check_against(printed, render_fragment(today_view(engine, settings, DAY, now=NOW)))


@pytest.mark.model
def test_today_page_groups_questions_by_meaning_like_the_default_summary(page_db, settings_factory, encoder) -> None:
    engine, _ = page_db
    settings = settings_factory()
    printed = json.loads(render(daily_summary(engine, DAY, summary_zone(settings), encoder=encoder), "json"))
    view = today_view(engine, settings, DAY, encoder=encoder, now=NOW)
    page = check_against(printed, render_fragment(view))
    assert printed["question_grouping"] == "embeddings" and "按意思（向量模型）归类。" in "".join(page.text)


def test_day_boundaries_follow_the_summary_time_zone(sqlite_db, settings_factory) -> None:
    seed_shanghai_day(sqlite_db)
    settings = settings_factory(summary={"timezone": "America/New_York"})
    view = today_view(sqlite_db, settings, date(2024, 5, 31), now=NOW + timedelta(days=1))
    assert view.data["timezone"] == "America/New_York"
    again = daily_summary(sqlite_db, date(2024, 5, 31), "America/New_York", options=SummaryOptions.from_settings(settings),
                          now=view.summary.generated_at)
    assert view.json() == render(again, "json")
