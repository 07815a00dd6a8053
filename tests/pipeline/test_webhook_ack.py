"""Douyin webhook acknowledgements under concurrency, through the runner's durable intake, on SQLite and PostgreSQL:
every acknowledged delivery is committed first, deliveries arriving together share a transaction, and one that
cannot be stored fails only itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa

from bot.adapters.douyin import DouyinWebhook, sign
from bot.adapters.douyin.source import serve_webhook
from bot.adapters.serve import DurableAccept
from bot.runner import Runner
from bot.store import Store

pytestmark = pytest.mark.model

SECRET = "ack-test-secret"
PATH = "/douyin/webhook"


def _comment(n: int, text: str | None = None) -> bytes:
    return json.dumps({"event": "item_comment_reply", "client_key": "ck", "from_user_id": f"viewer-{n % 7}",
                       "to_user_id": "creator", "content": {
                           "comment_id": f"c-{n}", "comment_user_id": f"viewer-{n % 7}", "content": text or f"第{n}条：多少钱？",
                           "create_time": 1700000000 + n, "reply_to_comment_id": "", "reply_to_item_id": f"video-{n % 3}"}},
                      ensure_ascii=False).encode()


@asynccontextmanager
async def _webhook(runner: Runner) -> AsyncIterator[httpx.AsyncClient]:
    webhook = DouyinWebhook(client_secret=SECRET, accept=DurableAccept(runner), path=PATH)
    async with serve_webhook(webhook, "127.0.0.1", 0) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=httpx.Limits(max_connections=100)) as http:
            yield http


async def _deliver(http: httpx.AsyncClient, body: bytes, msg_id: str) -> httpx.Response:
    return await http.post(PATH, content=body, headers={"X-Douyin-Signature": sign(SECRET, body), "Msg-Id": msg_id})


def _stored(url: str) -> list[str]:
    """Event ids as a fresh connection sees them: only what was committed."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as db:
            return [row[0] for row in db.execute(sa.text("select event_id from events where platform = 'douyin'"))]
    finally:
        engine.dispose()


async def test_concurrent_deliveries_share_transactions_and_are_each_stored_once_and_acknowledged(
        store: Store, db_url: str, make_runner) -> None:
    runner = make_runner(store)
    commits = 0

    def count(_connection) -> None:
        nonlocal commits
        commits += 1

    sa.event.listen(store.engine, "commit", count)
    async with _webhook(runner) as http:
        responses = await asyncio.gather(*(_deliver(http, _comment(n), f"m-{n}") for n in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert sorted(_stored(db_url)) == sorted(f"c-{n}" for n in range(50))
    assert commits <= 25, f"{commits} transactions for 50 concurrent deliveries: they were not grouped"


async def test_a_duplicate_msg_id_is_acknowledged_and_stored_once(store: Store, db_url: str, make_runner) -> None:
    runner = make_runner(store)
    async with _webhook(runner) as http:
        together = await asyncio.gather(*(_deliver(http, _comment(1), "same-msg") for _ in range(10)))
        again = await _deliver(http, _comment(1), "same-msg")  # Douyin's retry after a lost acknowledgement
        other_id = await _deliver(http, _comment(1), "other-msg")  # the same comment under another Msg-Id
    assert {r.status_code for r in [*together, again, other_id]} == {200}
    assert _stored(db_url) == ["c-1"]


def _refuse_poison(store: Store) -> None:
    """A real database fault for one row: a trigger that rejects the event whose text is 'POISON'."""
    with store.engine.begin() as db:
        if store.dialect == "sqlite":
            db.exec_driver_sql("CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.text = 'POISON' "
                               "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")
        else:
            db.exec_driver_sql("CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.text = 'POISON' THEN "
                               "RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            db.exec_driver_sql("CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()")


async def test_a_delivery_that_cannot_be_stored_does_not_fail_its_batch_mates(store: Store, db_url: str, make_runner) -> None:
    _refuse_poison(store)
    runner = make_runner(store)
    bodies = [_comment(n, "POISON" if n == 7 else None) for n in range(30)]
    async with _webhook(runner) as http:
        responses = await asyncio.gather(*(_deliver(http, body, f"m-{n}") for n, body in enumerate(bodies)))
    assert {r.status_code for r in responses} == {200}  # the refused one too: it is kept in the quarantine
    assert sorted(_stored(db_url)) == sorted(f"c-{n}" for n in range(30) if n != 7)
    [kept] = store.quarantined()
    assert "POISON" in kept.raw


async def test_every_acknowledged_delivery_is_committed_before_its_acknowledgement(store: Store, db_url: str, make_runner) -> None:
    runner = make_runner(store)
    seen_at_ack: dict[str, bool] = {}

    async def deliver_and_look(http: httpx.AsyncClient, n: int) -> int:
        response = await _deliver(http, _comment(n), f"m-{n}")
        if response.status_code == 200:  # a fresh connection, at once: the acknowledged event must be there
            seen_at_ack[f"c-{n}"] = f"c-{n}" in await asyncio.to_thread(_stored, db_url)
        return response.status_code

    async with _webhook(runner) as http:
        codes = await asyncio.gather(*(deliver_and_look(http, n) for n in range(20)))
    store.close()  # the bot's connections gone (as after a crash): what was acknowledged is in the database
    assert codes == [200] * 20 and all(seen_at_ack.values()) and len(seen_at_ack) == 20
    assert sorted(_stored(db_url)) == sorted(f"c-{n}" for n in range(20))
