"""Bad input at the one boundary (bot/storable.py via Event): stored clean, ids mapped not cut, nothing stops."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from bot.adapters.jsonl import JsonlSource
from bot.events import Event, Thread
from bot.storable import storable_id
from bot.store import Store
from bot.store.models import DecisionRecord, EventRecord, OutboxMessage, Viewer


def _lines(path: Path, objects: list[dict]) -> Path:
    # json.dumps escapes a lone surrogate as \ud800, exactly as a platform export would carry it
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


async def test_a_replayed_file_with_lone_surrogates_stores_every_line(store: Store, make_runner, tmp_path: Path) -> None:
    lines = [{"id": f"ok{n}", "text": "这门课多少钱", "author": f"a{n}"} for n in range(5)]
    lines[2] = {"id": "bad-text", "text": "\ud800 多少钱", "author": "a2"}
    lines[3] = {"id": "bad-name", "text": "可以开发票吗", "author": "a3\udcff", "author_name": "小\ud83d明"}
    source = JsonlSource(_lines(tmp_path / "in.jsonl", lines))
    await make_runner(store).run([source], until_exhausted=True)
    with store.session(write=False) as session:
        stored = {e.event_id: e.text for e in session.exec(select(EventRecord))}
        names = {v.display_name for v in session.exec(select(Viewer))}
        decided = session.exec(select(sa.func.count()).select_from(DecisionRecord)).one()
    assert set(stored) == {"ok0", "ok1", "bad-text", "bad-name", "ok4"} and decided == 5
    assert stored["bad-text"] == "\ufffd 多少钱"
    assert "小\ufffd明" in names


async def test_a_nul_in_a_display_name_never_reaches_decision_or_outbox_texts(store: Store, make_runner, comment) -> None:
    outcomes = await make_runner(store).process([comment("这门课多少钱", name="小\x00明", platform="douyin")])
    assert outcomes[0].decision.text and "\x00" not in outcomes[0].decision.text
    with store.session(write=False) as session:
        texts = [m.text for m in session.exec(select(OutboxMessage))] + [d.text for d in session.exec(select(DecisionRecord))]
    assert texts and not any("\x00" in (t or "") for t in texts)


async def test_over_long_or_nul_ids_are_mapped_the_same_way_every_time(store: Store, make_runner, comment) -> None:
    long_id, nul_id, platform = "7" * 250, "a\x00b", "p" * 40
    events = [comment("多少钱", event_id=long_id), comment("多少钱", event_id=nul_id),
              comment("多少钱", event_id="ab"), comment("多少钱", platform=platform, event_id="x")]
    runner = make_runner(store)
    assert len(await runner.process(events)) == 4  # "a\x00b" and "ab" stay two events
    again = store.record_events([comment("多少钱", event_id=long_id), comment("多少钱", event_id=nul_id),
                                 comment("多少钱", platform=platform, event_id="x")])
    assert all(a.decided for a in again)  # looked up by the same mapped ids: never decided twice
    with store.session(write=False) as session:
        rows = {(e.platform, e.event_id) for e in session.exec(select(EventRecord))}
    assert ("bilibili", storable_id(long_id)) in rows and len(storable_id(long_id)) == 200
    assert storable_id(long_id).startswith("7" * 100) and storable_id(long_id) != storable_id("7" * 251)
    assert (storable_id(platform, 32), "x") in rows


def test_an_event_is_clean_as_it_is_built() -> None:
    event = Event(platform="douyin", event_id="1\x00", text="\ud800多少钱\x00\x1b[31m\t", author_id="9" * 300,
                  author_name="\x00", thread=Thread("t" * 300, "标题\x00", course_id="c" * 80))
    assert event.text == "\ufffd多少钱[31m\t" and event.author_name == ""
    assert len(event.author_id) == 128 and len(event.thread.id) == 200 and len(event.thread.course_id) == 64
    assert event.event_id == storable_id("1\x00") != "1" and event.thread.title == "标题"
    assert Event(**{f: getattr(event, f) for f in Event.__slots__}) == event  # clean is a fixed point (store round trip)


async def test_nan_and_infinity_in_a_line_are_kept_as_text(store: Store, make_runner, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "n1", "text": "多少钱", "likes": NaN, "score": -Infinity, "created_at": 1e300}\n', encoding="utf-8")
    await make_runner(store).run([JsonlSource(path)], until_exhausted=True)
    with store.session(write=False) as session:
        row = session.exec(select(EventRecord)).one()
    assert row.raw["likes"] == "nan" and row.raw["score"] == "-inf"


def test_route_decides_the_lines_around_a_lone_surrogate(analyzer, settings_factory) -> None:
    import io

    from bot.cli import route_file
    from bot.route_decisions import RouteDecisions

    lines = [{"id": "1", "text": "这门课多少钱"}, {"id": "2", "text": "\ud800 多少钱", "author_name": "\udcff"},
             {"id": "3\ud800", "text": "可以开发票吗"}]
    source = io.BytesIO("".join(json.dumps(line) + "\n" for line in lines).encode())
    out = io.StringIO()
    decisions = RouteDecisions(settings_factory(), analyzer)
    try:
        assert route_file(analyzer, source, out, decisions=decisions) == (3, 0)
    finally:
        decisions.close()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in records] == ["1", "2", storable_id("3\ud800")]
    assert all(r["action"] and r["reason"] for r in records)
