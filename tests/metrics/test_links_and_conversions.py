"""Tracked-link redirect and the conversions webhook on a real aiohttp server, called with httpx; CSV import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiohttp import web
from metrics_seed import DAY, SHANGHAI, Seeder
from sqlalchemy.engine import Engine

from bot.metrics.conversions import read_conversions_csv, record_conversions
from bot.store.models import Conversion, LinkClick
from bot.summary.build import daily_summary
from bot.summary.render import render_text
from bot.web.links import SECRET_HEADER, links_app
from retrieval.errors import InputError

SECRET = "s3cret-for-tests"


def _seed_link(engine: Engine) -> None:
    seed = Seeder(engine)
    at = datetime(2024, 6, 1, 2, tzinfo=UTC)
    seed.viewer("A", at)
    _, decision = seed.event(at, "A", text="多少钱", intent="ask_price", action="reply_public", template="ask_price", variant="price-b")
    seed.outbox(decision, "sent", at, at)
    seed.link("abc123", decision, at, template="ask_price", variant="price-b", viewer="A")


@pytest_asyncio.fixture(loop_scope="function")  # the server must live on the test's own event loop
async def server(engine: Engine) -> AsyncIterator[tuple[str, Engine]]:
    _seed_link(engine)
    runner = web.AppRunner(links_app(engine, conversion_secret=SECRET, tz=SHANGHAI))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", engine
    await runner.cleanup()


def _count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


async def test_link_click_is_recorded_and_redirects_to_the_course(server) -> None:
    base, engine = server
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/l/abc123", headers={"User-Agent": "BiliApp/7.0"})
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/course?abc123"
    with engine.connect() as conn:
        clicks = conn.execute(sa.select(LinkClick.__table__.c.link_id, LinkClick.__table__.c.user_agent)).all()
    assert [tuple(c) for c in clicks] == [("abc123", "BiliApp/7.0")]


async def test_health_endpoint_answers_ok_while_the_database_does(server) -> None:
    base, _ = server
    async with httpx.AsyncClient() as client:
        healthy = await client.get(f"{base}/healthz")
    assert (healthy.status_code, healthy.json()) == (200, {"status": "ok"})


async def test_health_endpoint_answers_503_when_the_database_does_not() -> None:
    nothing_listens = sa.create_engine("postgresql+psycopg://coursebot@127.0.0.1:9/coursebot", connect_args={"connect_timeout": 2})
    runner = web.AppRunner(links_app(nothing_listens, conversion_secret=SECRET, tz=SHANGHAI))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with httpx.AsyncClient() as client:
            broken = await client.get(f"http://127.0.0.1:{runner.addresses[0][1]}/healthz")
    finally:
        await runner.cleanup()
        nothing_listens.dispose()
    assert (broken.status_code, broken.json()) == (503, {"status": "database unavailable"})


async def test_unknown_link_is_404_and_records_nothing(server) -> None:
    base, engine = server
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/l/nope")
    assert response.status_code == 404
    assert _count(engine, LinkClick.__table__) == 0


async def test_conversion_webhook_requires_the_shared_secret(server) -> None:
    base, engine = server
    order = {"order_id": "o-1", "amount": 199, "link_id": "abc123"}
    async with httpx.AsyncClient() as client:
        missing = await client.post(f"{base}/conversions", json=order)
        wrong = await client.post(f"{base}/conversions", json=order, headers={SECRET_HEADER: "guess"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert _count(engine, Conversion.__table__) == 0


async def test_conversion_webhook_records_each_order_once_and_attributes_the_link(server) -> None:
    base, engine = server
    orders = [{"order_id": "o-1", "amount": 199, "link_id": "abc123", "occurred_at": "2024-06-01T13:00:00"},
              {"order_id": "o-2", "amount": 99, "link_id": "not-ours"}]
    async with httpx.AsyncClient() as client:
        first = await client.post(f"{base}/conversions", json=orders, headers={SECRET_HEADER: SECRET})
        again = await client.post(f"{base}/conversions", json=orders[0], headers={SECRET_HEADER: SECRET})
        bad = await client.post(f"{base}/conversions", json={"amount": 5}, headers={SECRET_HEADER: SECRET})
    assert first.json() == {"recorded": 2, "duplicates": 0, "unknown_links": 1}
    assert again.json() == {"recorded": 0, "duplicates": 1, "unknown_links": 0}
    assert bad.status_code == 400 and "order_id" in bad.json()["error"]
    summary = daily_summary(engine, DAY, SHANGHAI)  # 13:00 without offset = Shanghai time, inside June 1
    assert (summary.business.conversions, summary.business.conversions_attributed, summary.business.revenue_attributed) == (1, 1, 199.0)


async def test_webhook_without_a_configured_secret_is_disabled(sqlite_db: Engine) -> None:
    runner = web.AppRunner(links_app(sqlite_db, conversion_secret=None, tz=SHANGHAI))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{runner.addresses[0][1]}/conversions", json={"order_id": "x"},
                                         headers={SECRET_HEADER: ""})
        assert response.status_code == 503
    finally:
        await runner.cleanup()


def test_csv_import_reads_local_times_and_is_idempotent(sqlite_db: Engine, tmp_path: Path) -> None:
    _seed_link(sqlite_db)
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text("order_id,amount,link_id,occurred_at\nA1,199,abc123,2024-06-01 23:30:00\nA2,99,,2024-06-02 00:30:00\n",
                        encoding="utf-8")
    orders = read_conversions_csv(csv_file)
    assert record_conversions(sqlite_db, orders, tz=SHANGHAI).recorded == 2
    assert record_conversions(sqlite_db, orders, tz=SHANGHAI).duplicates == 2
    assert daily_summary(sqlite_db, DAY, SHANGHAI).business.conversions == 1  # A2 is past local midnight
    assert daily_summary(sqlite_db, date(2024, 6, 2), SHANGHAI).business.conversions == 1
    assert daily_summary(sqlite_db, DAY, ZoneInfo("UTC")).business.conversions == 2  # both before 16:30Z on June 1


def test_csv_errors_name_the_line_and_column(tmp_path: Path) -> None:
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text("order_id,amount\nA1,199\nA2,九十九\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"orders.csv:3: amount: "):
        read_conversions_csv(csv_file)
    no_header = tmp_path / "bad.csv"
    no_header.write_text("id,amount\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="header must include order_id"):
        read_conversions_csv(no_header)


BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 BiliApp/7.0"
PREVIEW = "TelegramBot (like TwitterBot)"


@pytest_asyncio.fixture(loop_scope="function")
async def three_links(engine: Engine) -> AsyncIterator[tuple[str, Engine]]:
    """L1 answers viewer A (price-b); L2 and L3 answer anonymous comments (price-a). All sent on June 1."""
    seed = Seeder(engine)
    at = datetime(2024, 6, 1, 2, tzinfo=UTC)
    seed.viewer("A", at)
    for link_id, viewer, variant in (("L1", "A", "price-b"), ("L2", None, "price-a"), ("L3", None, "price-a")):
        _, decision = seed.event(at, viewer, text="多少钱", intent="ask_price", action="reply_public", template="ask_price", variant=variant)
        seed.outbox(decision, "sent", at, at)
        seed.link(link_id, decision, at, template="ask_price", variant=variant, viewer=viewer)
    runner = web.AppRunner(links_app(engine, conversion_secret=SECRET, tz=SHANGHAI))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", engine
    await runner.cleanup()


async def test_reloads_and_link_previews_add_raw_clicks_but_unique_clicks_count_each_visitor_once_a_day(three_links) -> None:
    base, engine = three_links
    async with httpx.AsyncClient() as client:
        for _ in range(5):  # viewer A reloads
            await client.get(f"{base}/l/L1", headers={"User-Agent": BROWSER})
        await client.get(f"{base}/l/L1", headers={"User-Agent": PREVIEW})  # Telegram unfurls the link
        await client.get(f"{base}/l/L2", headers={"User-Agent": PREVIEW})  # nobody opened L2
        for address in ("203.0.113.7", "198.51.100.9"):  # two people open L3, three times each
            for _ in range(3):
                await client.get(f"{base}/l/L3", headers={"User-Agent": BROWSER, "X-Forwarded-For": f"{address}, 10.0.0.1"})
    with engine.begin() as conn:
        visitors = conn.execute(sa.select(LinkClick.__table__.c.visitor).where(LinkClick.__table__.c.link_id == "L3")).scalars().all()
        conn.execute(sa.update(LinkClick.__table__).values(clicked_at=datetime(2024, 6, 1, 3, tzinfo=UTC)))  # on the seeded day
    assert len(set(visitors)) == 2 and all(v.startswith("c_") and "203.0" not in v for v in visitors)  # pseudonymised

    summary = daily_summary(engine, DAY, SHANGHAI)
    biz = summary.business
    assert (biz.clicks_today, biz.unique_clicks_today) == (13, 3)
    per_variant = {v.variant: (v.links_sent, v.links_clicked, v.clicks, v.unique_clicks) for v in biz.variants}
    assert per_variant == {"price-a": (2, 1, 7, 2), "price-b": (1, 1, 6, 1)}  # L2's preview fetch is not a click
    assert biz.ctr == pytest.approx(2 / 3)
    assert [(f.viewer, f.clicks) for f in summary.engaged_viewers] == [("p-A", 1)]
    assert summary.engagement.propagation == 3
    assert "当天点击 3 人次（原始 13 次）" in render_text(summary)


@pytest.mark.parametrize("path", ["/l/a%00b", "/l/%ED%A0%80", "/l/" + "x" * 33, "/l/a%01b"])
async def test_a_link_id_that_cannot_be_ours_is_404_on_every_database(server, path: str) -> None:
    base, engine = server
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}{path}")
    assert response.status_code == 404
    assert _count(engine, LinkClick.__table__) == 0


@pytest.mark.parametrize("secret", [b"\xff\xfe", SECRET.encode() + b"\xff", b"\xe4\xbd"])
async def test_a_secret_header_that_is_not_utf8_is_401(server, secret: bytes) -> None:
    base, engine = server
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{base}/conversions", json={"order_id": "o-9", "amount": 1},
                                     headers={SECRET_HEADER: secret})
    assert response.status_code == 401
    assert _count(engine, Conversion.__table__) == 0
