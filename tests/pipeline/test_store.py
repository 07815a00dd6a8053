"""The store on real SQLite and real PostgreSQL: migrations, idempotent intake, admin state, forgetting."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pipeline_helpers import T0
from sqlmodel import SQLModel, select

from bot.decision import Decision, Outcome
from bot.store import NotFound, Store
from bot.store.compact import compact
from bot.store.engine import make_engine
from bot.store.migrate import current_revision, downgrade, head_revision, upgrade
from bot.store.models import DecisionRecord, EventRecord, LinkClick, OutboxMessage, TrackedLink, Viewer, utcnow
from bot.store.rows import insert_ignore, insert_rows, update_rows


def test_migrations_create_exactly_the_models_schema_and_downgrade_cleanly(db_url: str) -> None:
    engine = make_engine(db_url)
    assert upgrade(engine) == head_revision()
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    assert downgrade(engine, "base") is None
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    assert upgrade(engine) == head_revision()  # and up again
    engine.dispose()


def test_migration_0003_dates_viewers_by_their_first_comment_and_names_the_visitor_of_old_clicks(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0002")
    now, then = utcnow(), utcnow() - timedelta(days=3)
    with engine.begin() as conn:
        viewer = m_insert(conn, Viewer.__table__, id=1, platform="bilibili", pseudonym="v_old", first_seen=now, last_seen=now,
                          interests=[], attribution={})
        m_insert(conn, EventRecord.__table__, platform="bilibili", event_id="e1", kind="comment", viewer_id=viewer, text="",
                 created_at=then, received_at=now, status="decided", raw={})
        m_insert(conn, TrackedLink.__table__, id="L1", url="https://x.example/c", platform="bilibili", viewer_id=viewer, created_at=now)
        m_insert(conn, LinkClick.__table__, link_id="L1", clicked_at=now, viewer_id=viewer)
    upgrade(engine, "0003_creator_view")
    with engine.connect() as conn:
        first_seen = conn.execute(sa.select(Viewer.__table__.c.first_seen)).scalar_one()
        clicks = conn.execute(sa.select(LinkClick.__table__.c.visitor, LinkClick.__table__.c.automated)).all()
    assert abs((first_seen - then).total_seconds()) < 1
    assert [tuple(c) for c in clicks] == [("v_old", False)]
    assert downgrade(engine, "0002") == "0002"
    engine.dispose()


def m_insert(conn: sa.Connection, table: sa.Table, **values) -> int | None:
    """Insert with only the given columns (the table may be older than the model); returns the given id."""
    columns = [table.c[name] for name in values]
    conn.execute(sa.insert(sa.table(table.name, *[sa.column(c.name, c.type) for c in columns])).values(**values))
    return values.get("id")


def test_db_upgrade_command_migrates_the_given_database(db_url: str, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "coursebot"
    result = subprocess.run([str(script), "db", "upgrade", "--url", db_url], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"empty → {head_revision()}" in result.stdout
    assert "password" not in result.stdout
    again = subprocess.run([str(script), "db", "upgrade", "--url", db_url], capture_output=True, text=True, cwd=tmp_path,
                           timeout=120, check=False)
    assert f"{head_revision()} → {head_revision()}" in again.stdout
    assert current_revision(make_engine(db_url)) == head_revision()


def test_db_compact_command_rewrites_the_given_database(store: Store, db_url: str, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "coursebot"
    result = subprocess.run([str(script), "db", "compact", "--url", db_url], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert " compacted: " in result.stdout and " MiB → " in result.stdout


def test_db_upgrade_on_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "coursebot"
    result = subprocess.run([str(script), "db", "upgrade", "--url", "postgresql+psycopg://nobody:secret@127.0.0.1:9/x"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: database upgrade failed: OperationalError")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret" not in result.stderr


def test_recording_an_event_twice_stores_it_once(store: Store, comment) -> None:
    event = comment("这门课多少钱", author="42")
    first, second = store.record_events([event, event])
    again = store.record_event(event)
    assert first.event_pk == second.event_pk == again.event_pk
    with store.session(write=False) as session:
        assert session.exec(select(sa.func.count()).select_from(EventRecord)).one() == 1
        assert session.exec(select(sa.func.count()).select_from(Viewer)).one() == 1


def test_a_mixed_platform_batch_gets_each_events_own_row(store: Store, comment) -> None:
    # Event ids are only unique per platform: (douyin, "7") must not be taken for (bilibili, "7").
    first = store.record_events([comment("多少钱", event_id="7", platform="bilibili"), comment("链接", event_id="7", platform="douyin")])
    store.save_outcomes([Outcome(first[1], None, Decision("ignore", "test"))])
    batch = store.record_events([comment("多少钱", event_id="7", platform="bilibili"), comment("新问题", event_id="8", platform="douyin")])
    assert batch[0].event_pk == first[0].event_pk and not batch[0].decided
    assert batch[1].event_pk not in {a.event_pk for a in first} and not batch[1].decided


def test_a_second_decision_for_the_same_event_is_refused(store: Store, comment) -> None:
    accepted = store.record_event(comment("能开发票吗"))
    reply = Decision("reply_public", "test", text="可以开发票")
    assert store.save_outcomes([Outcome(accepted, None, reply)]) != [None]
    assert store.save_outcomes([Outcome(accepted, None, reply)]) == [None]
    assert store.record_event(accepted.event).decided
    with store.session(write=False) as session:
        assert session.exec(select(sa.func.count()).select_from(DecisionRecord)).one() == 1
        assert session.exec(select(sa.func.count()).select_from(OutboxMessage)).one() == 1


def test_raw_author_id_is_kept_only_where_a_reply_needs_it(store: Store, comment) -> None:
    event = comment("链接发一下", author="987654", raw={"mid": 987654, "member": {"mid": "987654", "uname": "小明"}})
    accepted = store.record_event(event)
    store.save_outcomes([Outcome(accepted, None, Decision("reply_public", "t", text="链接", dm_text="私信"))])
    with store.session(write=False) as session:
        row = session.exec(select(EventRecord)).one()
        assert "987654" not in str(row.raw)
        assert row.raw["member"]["mid"] == accepted.pseudonym
        viewer = session.exec(select(Viewer)).one()
        assert viewer.pseudonym == accepted.pseudonym != "987654"
        assert viewer.author_id == "987654"  # needed to DM
        dm = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "reply_dm")).one()
        assert dm.recipient_id == "987654" and dm.extra["viewer"] == accepted.pseudonym


def test_timestamps_come_back_timezone_aware_utc(store: Store, comment) -> None:
    store.record_event(comment("你好", at=T0))
    with store.session(write=False) as session:
        row = session.exec(select(EventRecord)).one()
    assert row.created_at == T0 and row.created_at.utcoffset() == timedelta(0)
    assert row.received_at.tzinfo is not None


def test_pause_takeover_and_cursors_are_shared_through_the_database(store: Store, db_url: str, pseudonymizer) -> None:
    other = Store.from_url(db_url, pseudonymizer, migrate=False)  # another worker
    store.set_paused(True, by="telegram:1")
    assert other.is_paused()
    store.set_paused(False)
    assert not other.is_paused()
    store.take_over("bilibili", "BV1", by="老师")
    assert [t.thread_id for t in other.taken_over_threads()] == ["BV1"]
    assert other.release("bilibili", "BV1") and not store.taken_over_threads()
    assert store.get_cursor("telegram", "offset") is None
    store.set_cursor("telegram", "offset", "1001")
    store.set_cursor("telegram", "offset", "1002")
    assert other.get_cursor("telegram", "offset") == "1002"
    other.close()


def test_a_due_job_is_claimed_by_one_worker_only(store: Store) -> None:
    now = utcnow()
    store.ensure_job("daily-summary", now - timedelta(minutes=1))
    assert store.claim_job("daily-summary", now) is not None
    assert store.claim_job("daily-summary", now) is None  # running
    store.finish_job("daily-summary", now + timedelta(days=1))
    assert store.claim_job("daily-summary", now) is None  # not due
    assert store.claim_job("daily-summary", now + timedelta(days=1, seconds=1)) is not None


def test_resolving_a_handoff_with_a_reply_queues_it_once(store: Store, comment) -> None:
    accepted = store.record_event(comment("我的订单一直没到账", author="55"))
    store.save_outcomes([Outcome(accepted, None, Decision("handoff", "complaint"))])
    [handoff] = store.list_handoffs()
    assert handoff.text == "我的订单一直没到账" and handoff.viewer == accepted.pseudonym
    store.resolve_handoff(handoff.id, by="老师", reply_text="已经帮你处理好了")
    store.resolve_handoff(handoff.id, by="老师", reply_text="已经帮你处理好了")
    assert store.list_handoffs() == []
    [claim] = store.claim_due(utcnow())
    assert claim.message.text == "已经帮你处理好了" and claim.message.reply_to == accepted.event.event_id
    with pytest.raises(NotFound, match="handoff #999 not found"):
        store.resolve_handoff(999, by="x")


def test_forgetting_a_viewer_removes_their_data_but_still_blocks_a_second_reply(store: Store, comment) -> None:
    event = comment("链接发一下", author="777")
    keep = comment("多少钱", author="888")
    mine, theirs = store.record_events([event, keep])
    store.save_outcomes([Outcome(mine, None, Decision("reply_public", "t", text="链接", dm_text="私信", assignment=("ask_link", "link-a"))),
                         Outcome(theirs, None, Decision("handoff", "t"))])
    counts = store.forget_viewer("bilibili:777")
    assert counts["viewers"] == 1 and counts["outbox"] == 2 and counts["ab_assignments"] == 1
    with store.session(write=False) as session:
        assert session.exec(select(Viewer.pseudonym)).all() == [theirs.pseudonym]
        texts = {e.event_id: e.text for e in session.exec(select(EventRecord))}
        assert texts == {event.event_id: "", keep.event_id: "多少钱"}
        assert "链接" not in str(session.exec(select(DecisionRecord.text)).all())
    with pytest.raises(NotFound):
        store.forget_viewer(mine.pseudonym or "")
    assert store.record_event(event).decided  # redelivered after forgetting: still never answered twice
    store.forget_viewer(theirs.pseudonym or "")
    assert store.list_handoffs() == []


def test_forgetting_a_viewer_leaves_no_raw_user_id_in_the_ids_of_their_direct_messages(store: Store, comment) -> None:
    # Telegram stored a DM as `<private chat id>:<message id>` before DM ids were pseudonymised; a private chat's id is the user id.
    old_dm, other = store.record_events([comment("还在吗", author="4242", platform="telegram", kind="dm", thread=None, event_id="4242:17"),
                                         comment("多少钱", author="5151", platform="telegram", kind="dm", thread=None, event_id="5151:3")])
    store.save_outcomes([Outcome(old_dm, None, Decision("ignore", "t")), Outcome(other, None, Decision("ignore", "t"))])
    store.forget_viewer("telegram:4242")
    with store.session(write=False) as session:
        ids = sorted(session.exec(select(EventRecord.event_id)).all())
    assert ids == sorted([f"{old_dm.pseudonym}:17", "5151:3"])  # another viewer's row is not theirs to rewrite
    assert not [i for i in ids if "4242" in i]
    # the id the Telegram intake now gives that message: a redelivery is still recognised, never answered twice
    assert store.record_event(comment("还在吗", author="4242", platform="telegram", kind="dm", thread=None,
                                      event_id=f"{old_dm.pseudonym}:17")).decided


def test_compacting_after_forget_rewrites_the_tables_so_deleted_text_leaves_the_data_files(store: Store, comment) -> None:
    secret = "我的手机号是13800138000-FORGET-ME"
    [accepted] = store.record_events([comment(secret, author="6060", name="FORGET-ME-NAME")])
    store.save_outcomes([Outcome(accepted, None, Decision("handoff", "t"))])
    store.forget_viewer("bilibili:6060")
    if store.dialect == "sqlite":
        files = [Path(store.engine.url.database), Path(f"{store.engine.url.database}-wal")]
        assert any(b"FORGET-ME" in f.read_bytes() for f in files if f.exists())  # deleted, not gone
        compact(store.engine)
        assert not any(b"FORGET-ME" in f.read_bytes() for f in files if f.exists())
    else:  # the server's files are not ours to read: VACUUM FULL writes each table to a new file
        def files() -> list[str]:
            with store.engine.connect() as conn:
                return [conn.execute(sa.text(f"SELECT pg_relation_filepath('{t}')")).scalar_one() for t in ("events", "viewers", "handoffs")]
        before = files()
        result = compact(store.engine)
        assert all(a != b for a, b in zip(before, files())) and result.bytes_after > 0
    with store.session(write=False) as session:
        assert session.exec(select(EventRecord.text)).all() == [""]  # the bot's own rows survive compaction


def test_bulk_written_rows_read_back_exactly_and_conflicts_are_skipped(store: Store) -> None:
    """insert_rows and update_rows send PostgreSQL one JSON recordset: every column type must survive it (aware times, nested
    JSON with quotes and any script, NULLs, floats, booleans); NaN, which JSON lacks, takes the executemany path."""
    moment = T0 + timedelta(microseconds=123_457)
    rows = [
        {"platform": "bilibili", "pseudonym": f"v_{i}", "author_id": None if i else 'a"b\\c', "display_name": "小明 🎓 \"引号\"",
         "first_seen": moment, "last_seen": moment + timedelta(hours=i), "interests": ["Python", "剪辑"] if i else [],
         "attribution": {"post": {"id": 7, "tags": ["a", None], "ok": True}} if i else {}, "dm_reachable": [None, True, False][i]}
        for i in range(3)
    ]
    with store.session() as session:
        insert_rows(session, store.dialect, Viewer, rows)
        insert_ignore(session, store.dialect, Viewer, [{**rows[0], "display_name": "second"}], ["platform", "pseudonym"])
    with store.session(write=False) as session:
        stored = session.exec(select(Viewer).order_by(Viewer.pseudonym)).all()
    assert [(v.pseudonym, v.author_id, v.display_name, v.first_seen, v.last_seen, v.interests, v.attribution, v.dm_reachable)
            for v in stored] == [(r["pseudonym"], r["author_id"], r["display_name"], r["first_seen"], r["last_seen"],
                                  r["interests"], r["attribution"], r["dm_reachable"]) for r in rows]

    later = moment + timedelta(days=1)
    with store.session() as session:
        ids = session.exec(select(Viewer.id).order_by(Viewer.pseudonym)).all()
        update_rows(session.connection(), store.dialect, Viewer, [{"id": ids[0], "interests": ["理财", 'say "hi"']},
                                                                  {"id": ids[2], "interests": []}], last_seen=later)
    with store.session(write=False) as session:
        updated = session.exec(select(Viewer.interests, Viewer.last_seen, Viewer.display_name).order_by(Viewer.pseudonym)).all()
    assert [tuple(v) for v in updated] == [(["理财", 'say "hi"'], later, rows[0]["display_name"]),
                                           (rows[1]["interests"], rows[1]["last_seen"], rows[1]["display_name"]),
                                           ([], later, rows[2]["display_name"])]

    with store.session() as session:
        viewer = session.exec(select(Viewer.id)).first()
        events = [{"platform": "bilibili", "event_id": f"e{i}", "kind": "comment", "thread_id": None, "parent_id": None,
                   "viewer_id": viewer, "text": "多少钱", "created_at": moment, "received_at": moment, "status": "received", "raw": {}}
                  for i in range(2)]
        insert_rows(session, store.dialect, EventRecord, events)
        pks = session.exec(select(EventRecord.id).order_by(EventRecord.event_id)).all()
        values = [0.1 + 0.2, float("nan") if store.dialect == "postgresql" else 1e-300]  # SQLite stores NaN as NULL
        insert_rows(session, store.dialect, DecisionRecord, [
            {"event_pk": pk, "platform": "bilibili", "action": "ignore", "confidence": value, "decided_at": moment}
            for pk, value in zip(pks, values)])
    with store.session(write=False) as session:
        confidences = session.exec(select(DecisionRecord.confidence).order_by(DecisionRecord.event_pk)).all()
    assert confidences[0] == values[0] and (math.isnan(confidences[1]) if math.isnan(values[1]) else confidences[1] == values[1])
