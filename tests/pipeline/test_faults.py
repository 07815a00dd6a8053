"""Bad input and bad days: odd comments, a locked SQLite file, a PostgreSQL server that goes away."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.adapters.jsonl import JsonlSource
from bot.store import Store, StoreUnavailable
from bot.store.models import DecisionRecord, EventRecord

BAD_COMMENTS = {
    "empty": "",
    "whitespace": " \t\n\u3000 ",
    "huge": "这门课多少钱" * 17_000,  # ~100 KB of UTF-8
    "emoji": "😀😀👍🙏🔥",
    "control": "多少钱\x00\x07\x1b[31m\u202e\u200b吗\x7f",
    "mixed": "Python课 how much？多少钱 Привет ¥199 ١٢٣ 價格",
}


async def test_odd_comments_are_decided_and_stored_without_crashing(store: Store, make_runner, comment) -> None:
    events = [comment(text, event_id=name) for name, text in BAD_COMMENTS.items()]
    outcomes = await make_runner(store).process(events)
    assert {o.accepted.event.event_id for o in outcomes} == set(BAD_COMMENTS)
    by_id = {o.accepted.event.event_id: o.decision for o in outcomes}
    assert by_id["empty"].action == by_id["whitespace"].action == by_id["emoji"].action == "ignore"
    with store.session(write=False) as session:
        stored = {e.event_id: e.text for e in session.exec(select(EventRecord))}
    assert stored["control"] == "多少钱[31m\u202e\u200b吗"  # NUL and control characters removed (bot/storable.py), the rest kept
    assert 0 < len(stored["huge"]) <= 20_000


async def test_unknown_fields_in_jsonl_are_kept_for_audit_and_ignored(store: Store, make_runner, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": "x1", "text": "可以开发票吗", "author": "9", "likes": 12, "nested": {"ip": "1.2.3.4"}, "label": null}\n'
        'not json\n{"id": "x2"}\n', encoding="utf-8")
    bad: list[str] = []
    source = JsonlSource(path, on_bad_line=lambda b: bad.append(str(b)))
    events = [e async for e in source.events()]
    outcomes = await make_runner(store).process(events)
    assert [o.decision.action for o in outcomes] == ["reply_public"]
    assert bad == ["line 2: invalid JSON at column 1: Expecting value", "line 3: missing field 'text'"]
    with store.session(write=False) as session:
        row = session.exec(select(EventRecord)).one()
    assert row.raw["likes"] == 12 and row.raw["nested"] == {"ip": "1.2.3.4"}
    assert row.raw["author"] == outcomes[0].accepted.pseudonym  # the raw id never reaches the audit copy


_ALPHABET = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(list("多少钱课程链接退款发票能吗？！😀🙏\u200b\u202e\x00\x1b python PYTHON 123")),
)
_ids = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.text(alphabet=_ALPHABET, max_size=300), author=st.one_of(st.none(), st.text(min_size=1, max_size=40)))
def test_random_texts_never_crash_the_pipeline(sqlite_url: str, pseudonymizer, make_runner, comment, text: str, author) -> None:
    store = Store.from_url(sqlite_url, pseudonymizer)
    try:
        runner = make_runner(store)
        [outcome] = asyncio.run(runner.process([comment(text, author=author, event_id=f"h{next(_ids)}")]))
        assert outcome.decision.action in {"reply_public", "reply_dm", "handoff", "ignore"}
        assert outcome.decision.reason
    finally:
        store.close()


async def test_a_locked_sqlite_database_is_a_clear_error_and_is_ridden_out(tmp_path: Path, pseudonymizer, make_runner, comment) -> None:
    path = tmp_path / "locked.db"
    store = Store.from_url(f"sqlite:///{path}", pseudonymizer, busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    with pytest.raises(StoreUnavailable, match=r"^database unavailable while using the database: OperationalError: database is locked$"):
        store.record_event(comment("能退款吗"))
    runner = make_runner(store)
    runner.store_patience = 30
    threading.Timer(1.5, blocker.rollback).start()  # the other process finishes
    events = [comment("能退款吗"), comment("可以开发票吗")]
    outcomes = await runner.process(events)
    assert len(outcomes) == 2
    with store.session(write=False) as session:
        assert session.exec(select(sa.func.count()).select_from(DecisionRecord)).one() == 2
    blocker.close()
    store.close()


class TcpProxy:
    """A real TCP hop in front of PostgreSQL that can be cut (server down) and restored on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.mark.postgres
async def test_postgres_going_down_is_a_clear_error_and_events_wait_until_it_is_back(postgres_url: str, pseudonymizer, make_runner, comment) -> None:
    url = sa.engine.make_url(postgres_url)
    proxy = TcpProxy(url.port or 5432)
    await proxy.up()
    # Every database call runs in a thread: the proxy lives on this event loop and must keep serving.
    store = await asyncio.to_thread(Store.from_url, url.set(port=proxy.port).render_as_string(hide_password=False), pseudonymizer,
                                    busy_timeout=2)
    runner = make_runner(store)
    assert len(await runner.process([comment("能退款吗")])) == 1
    await proxy.down()
    with pytest.raises(StoreUnavailable, match=r"^database unavailable while using the database: OperationalError"):
        await asyncio.to_thread(store.record_event, comment("可以开发票吗"))
    runner.store_patience = 60
    late = [comment("可以开发票吗"), comment("课程有效期多久")]
    pending = asyncio.create_task(runner.process(late))
    await asyncio.sleep(2)
    assert not pending.done()
    await proxy.up()  # the server is back
    outcomes = await asyncio.wait_for(pending, 60)
    assert [o.accepted.event.event_id for o in outcomes] == [e.event_id for e in late]

    def decisions() -> int:
        with store.session(write=False) as session:
            return session.exec(select(sa.func.count()).select_from(DecisionRecord)).one()

    assert await asyncio.to_thread(decisions) == 3
    await asyncio.to_thread(store.close)
    await proxy.down()


async def test_events_accepted_before_a_crash_are_decided_on_restart(store: Store, make_runner, comment) -> None:
    events = [comment("可以开发票吗"), comment("能退款吗")]
    store.record_events(events)  # accepted, then the process died before deciding
    assert [a.event.event_id for a in store.undecided_events()] == [e.event_id for e in events]
    assert await make_runner(store).recover() == 2
    assert store.undecided_events() == []
    with store.session(write=False) as session:
        assert session.exec(select(sa.func.count()).select_from(DecisionRecord)).one() == 2


async def test_webhook_events_accepted_while_running_are_decided_and_sent(store: Store, make_runner, comment) -> None:
    from bot.adapters.recording import RecordingSink
    from bot.outbox import ANY_PLATFORM

    sink = RecordingSink()
    runner = make_runner(store, {ANY_PLATFORM: sink}, outbox={"poll_interval": 0.05})
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run([], stop=stop, max_wait=0.05))
    event = comment("可以开发票吗")
    accepted = await runner.accept(event)
    assert (await runner.accept(event)).event_pk == accepted.event_pk  # the platform retried the webhook
    for _ in range(400):
        if sink.records:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 30)
    assert [r["event_id"] for r in sink.records] == [event.event_id]
