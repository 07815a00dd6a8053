"""Live rooms (bilibili-live): the live policy, pacing, the host's question board and the post-live summary, on the
real model and real databases (SQLite, and PostgreSQL where the board and pacing are shared by workers)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.events import Event, Thread
from bot.live.board import live_board
from bot.live.fit import fit_danmaku
from bot.live.policy import COVERED
from bot.runner import event_clock
from bot.store import Store
from bot.store.models import Handoff, LiveSummaryRecord, OutboxMessage, UnderstandingRecord

ROOM = 4242
START = (datetime.now(UTC) - timedelta(minutes=3)).replace(second=0, microsecond=0)  # on a minute: peak minutes
THREAD = Thread(f"live:{ROOM}:{int(START.timestamp())}", "Python零基础入门到实战 直播答疑")


def board_of(store, **options):
    """The room's board as seen 3 minutes into the session: the board looks back from `now`, and a module run late in
    a long test session must not find its questions aged out of the window."""
    return live_board(store, str(ROOM), now=START + timedelta(minutes=3), **options)
LIVE = {"min_interval": 10.0, "group_window": 120.0, "max_delay": 60.0, "min_confidence": 0.86}
PRICE = ["多少钱", "这课多少钱啊", "价格多少", "这个多少钱"]


def live_event(n: int, text: str, *, at: float, kind: str = "danmaku", uid: int | None = None, **raw) -> Event:
    uid = uid if uid is not None else 1000 + n
    author = None if kind in ("live_start", "live_end") else str(uid)
    return Event("bilibili-live", f"{kind}-{n}", text, kind=kind, thread=THREAD, author_id=author,  # type: ignore[arg-type]
                 created_at=START + timedelta(seconds=at), raw={"room_id": ROOM, "uid": uid, **raw})


def outbox(store: Store) -> list[OutboxMessage]:
    with store.session(write=False) as session:
        return list(session.exec(sa.select(OutboxMessage).order_by(OutboxMessage.next_attempt_at)).scalars())


def count(store: Store, model, *where) -> int:
    with store.session(write=False) as session:
        return session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar()


def test_a_question_many_ask_at_once_is_answered_once_for_all(store: Store, make_runner) -> None:
    runner = make_runner(store, live=LIVE)
    asks = [live_event(n, PRICE[n % len(PRICE)], at=n * 2) for n in range(30)]  # 30 viewers within a minute
    outcomes = []
    for part in (asks[:10], asks[10:20], asks[20:]):
        outcomes += asyncio.run(runner.process(part))
    replies = [o.decision for o in outcomes if o.decision.replies]
    assert len(replies) == 1, [o.decision.reason for o in outcomes]
    [sent] = outbox(store)
    assert sent.text == replies[0].text and sent.text.startswith("问价格的同学：") and len(sent.text) <= 20
    covered = [o for o in outcomes if COVERED in o.decision.reason]
    assert len(covered) == 29
    board = board_of(store, minutes=10)
    top = board.groups[0]
    assert top.questions == 30 and top.bot_answer == sent.text and top.status == "bot"


def test_bot_danmaku_stay_min_interval_apart_across_batches_workers_and_a_restart(store: Store, make_runner) -> None:
    first, second = make_runner(store, live=LIVE), make_runner(store, live=LIVE)  # two workers, one database
    # A third worker loads its facts before the others store their answers, and decides after: its facts are
    # stale, and the queue still paces its message.
    late = make_runner(store, live=LIVE)
    [accepted] = store.record_events([live_event(3, "什么时候更新", at=2)])
    analyses = {accepted.event_pk: late.analyzer.analyze([accepted.event])[0]}
    stale = store.load_ledger([accepted], START)
    asyncio.run(first.process([live_event(1, "多少钱", at=0)]))
    asyncio.run(second.process([live_event(2, "零基础能学吗", at=1)]))
    decision = asyncio.run(late.pipeline.decide(analyses[accepted.event_pk], accepted, stale.facts(accepted, START + timedelta(seconds=2))))
    assert decision.replies and decision.send_after is None  # it believed the room free
    from bot.decision import Outcome

    store.save_outcomes([Outcome(accepted, analyses[accepted.event_pk], decision)])
    restarted = make_runner(store, live=LIVE)  # a restart: nothing in memory
    asyncio.run(restarted.process([live_event(4, "能分期吗", at=3)]))
    slots = [m.next_attempt_at for m in outbox(store)]
    assert len(slots) == 4
    gaps = [(b - a).total_seconds() for a, b in zip(slots, slots[1:])]
    assert all(gap >= 10.0 for gap in gaps), gaps


def test_room_busy_leaves_the_question_on_the_board(store: Store, make_runner) -> None:
    runner = make_runner(store, live={**LIVE, "max_delay": 5.0})
    outcomes = asyncio.run(runner.process([live_event(1, "多少钱", at=0), live_event(2, "零基础能学吗", at=1)]))
    assert [o.decision.action for o in outcomes] == ["reply_public", "ignore"]
    assert "room busy" in outcomes[1].decision.reason
    assert {g.status for g in board_of(store).groups} == {"bot", "open"}


def test_live_answer_is_used_and_a_long_answer_is_never_cut(store: Store, make_runner) -> None:
    runner = make_runner(store, live=LIVE)
    zero, refund = asyncio.run(runner.process([live_event(1, "零基础能学吗", at=0), live_event(2, "能退款吗", at=1)]))
    assert zero.decision.text == "问零基础的同学：能，从安装讲起，不用基础"  # the FAQ entry's live_answer
    assert refund.decision.action == "ignore" and "live_answer" in refund.decision.reason  # 60 characters: not sent
    assert [m.text for m in outbox(store)] == [zero.decision.text]


def test_fit_splits_only_between_clauses_and_keeps_links_whole() -> None:
    text = "单价200元以上的课程支持花呗分期，3期和6期免息。"
    assert fit_danmaku(text, 20, 1) is None
    assert fit_danmaku(text, 20, 2) == ["单价200元以上的课程支持花呗分期", "3期和6期免息。"]
    link = "链接：https://go.example.com/l/abcdef"
    assert fit_danmaku(link, 20, 3) is None  # a link longer than a danmaku is never split
    assert fit_danmaku("看这里 " + link, 40, 2) == ["看这里 " + link]
    assert fit_danmaku("一二三四五六七八九十一二三四五六七八九十一", 20, 2) is None  # no clause boundary: never mid-word


def test_a_split_answer_goes_out_as_paced_danmaku(store: Store, make_runner) -> None:
    runner = make_runner(store, live={**LIVE, "danmaku_max_chars": 30, "danmaku_parts": 3})
    [o] = asyncio.run(runner.process([live_event(1, "能退款吗", at=0)]))  # a 60-character FAQ answer, no live_answer
    assert o.decision.replies, o.decision.reason
    parts = outbox(store)
    assert len(parts) == 3 and all(len(p.text) <= 30 for p in parts)
    assert [p.text[-1] for p in parts] == ["款", "回", "。"]  # each ends a clause (its comma dropped)
    assert "，".join(p.text for p in parts) == runner.analyzer.knowledge.catalog.faq["faq-refund"].answer
    gaps = [(b.next_attempt_at - a.next_attempt_at).total_seconds() for a, b in zip(parts, parts[1:])]
    assert all(gap >= 10.0 for gap in gaps), gaps


def test_super_chat_goes_to_the_host_and_is_never_answered(store: Store, make_runner) -> None:
    runner = make_runner(store, live=LIVE)
    [paid] = asyncio.run(runner.process([live_event(1, "老师这课多少钱", at=0, kind="super_chat", price=30, super_chat_id=77)]))
    assert paid.decision.action == "handoff" and "super chat ¥30" in paid.decision.reason
    assert outbox(store) == [] and count(store, Handoff) == 1
    [group] = board_of(store).groups
    assert group.paid == 1 and group.status == "open"


def test_engagement_is_stored_and_counted_but_never_analysed(store: Store, make_runner) -> None:
    runner = make_runner(store, live=LIVE)
    events = [live_event(n, "", at=n, kind="gift", gift_name="小心心", num=2, total_coin=0) for n in range(5)]
    events += [live_event(10 + n, "", at=n, kind="engagement", type="entry") for n in range(3)]
    outcomes = asyncio.run(runner.process(events))
    assert len(outcomes) == 8 and all(o.analysis is None and o.decision.action == "ignore" for o in outcomes)
    assert count(store, UnderstandingRecord) == 0  # the model never read them


def test_board_groups_by_meaning_newest_first_and_the_host_marks_a_group(store: Store, make_runner) -> None:
    runner = make_runner(store, live={**LIVE, "min_confidence": 0.99})  # nothing answered: all on the board
    texts = ["有回放吗", "直播有回放吗", "错过了能看回放吗", "主播用的什么编辑器", "老师用的什么编辑器", "有回放吗?"]
    asyncio.run(runner.process([live_event(n, t, at=n) for n, t in enumerate(texts)]))
    board = board_of(store)
    replay = next(g for g in board.groups if "有回放吗?" in g.examples)
    editor = next(g for g in board.groups if "老师用的什么编辑器" in g.examples)
    assert replay.questions >= 3 and editor.questions == 2, board.groups
    assert all("回放" in e for e in replay.examples) and all("编辑器" in e for e in editor.examples)
    assert board.groups[0] == replay  # the latest question ("有回放吗?") joined it: newest activity first
    assert store.mark_live_group(("bilibili-live", THREAD.id), editor.id, "助理")
    assert not store.mark_live_group(("bilibili-live", "live:1:1"), editor.id, "助理")  # another room's group
    marked = next(g for g in board_of(store).groups if g.id == editor.id)
    assert marked.status == "marked"


def test_post_live_summary_numbers_and_the_days_summary(store: Store, make_runner) -> None:
    runner = make_runner(store, live=LIVE)
    events = [live_event(0, "", at=0, kind="live_start")]
    events += [live_event(n, PRICE[n % 4], at=n) for n in range(1, 9)]  # 8 price questions: answered once
    events += [live_event(20, "666", at=61), live_event(21, "有回放吗", at=62)]
    events += [live_event(30, "老师讲讲项目", at=63, kind="super_chat", price=50)]
    events += [live_event(40 + n, "", at=64, kind="gift", gift_name="辣条", num=3, total_coin=300) for n in range(2)]
    events += [live_event(50, "", at=65, kind="engagement", type="follow")]
    events += [live_event(99, "", at=120, kind="live_end")]
    asyncio.run(runner.process(events))
    with store.session(write=False) as session:
        data = session.execute(sa.select(LiveSummaryRecord.data)).scalar_one()
    assert data["danmaku"] == 10 and data["questions"] == 9 and data["bot_danmaku"] == 1
    assert data["questions_answered_by_bot"] == 8 and data["open_groups"] == 1
    assert data["unanswered_groups"][0]["examples"] == ["有回放吗"]
    assert data["super_chats"] == {"count": 1, "total_cny": 50.0, "items": [{"price": 50.0, "text": "老师讲讲项目"}]}
    assert data["gifts"] == {"count": 2, "coins": 600, "by_name": {"辣条": 6}} and data["engagement"] == {"follow": 1}
    assert data["peak_minutes"][0]["danmaku"] == 8 and data["new_viewers"] == data["viewers"] == 14
    from bot.summary.build import daily_summary
    from bot.summary.render import render_json, render_text

    ended = START + timedelta(seconds=120)
    day = daily_summary(store.engine, ended.date(), "UTC")
    assert json.loads(render_json(day))["live"][0]["thread_id"] == THREAD.id
    assert "醒目留言 1 条 ¥50" in render_text(day)


def test_dry_run_decides_and_groups_but_sends_nothing(store: Store, make_runner) -> None:
    policy = {"dry_run": True, "platform_rate_limits": {"bilibili-live": {"per_thread_per_hour": 100}}}
    runner = make_runner(store, live=LIVE, policy=policy)
    outcomes = asyncio.run(runner.process([live_event(n, PRICE[n % 4], at=n) for n in range(6)]))
    replies = [o.decision for o in outcomes if o.decision.replies]
    assert len(replies) == 1 and replies[0].dry_run and replies[0].text.startswith("问价格的同学：")
    assert outbox(store) == []
    assert board_of(store).groups[0].bot_answer.startswith("(dry run) ")


def test_live_cli_board_json_and_marking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, analyzer, settings_factory) -> None:
    from bot.privacy import Pseudonymizer, load_secret_key
    from bot.runner import Runner
    from bot.store.engine import default_url

    monkeypatch.setenv("COURSEBOT_STATE_DIR", str(tmp_path))
    store = Store.from_url(default_url(tmp_path), Pseudonymizer(load_secret_key(tmp_path / "secret.key")))
    runner = Runner.open(settings_factory(state_dir=str(tmp_path), live=LIVE), None, analyzer=analyzer, store=store, clock=event_clock)
    asyncio.run(runner.process([live_event(1, "有回放吗", at=0), live_event(2, "多少钱", at=1)]))
    store.close()

    def run(*args: str):
        return CliRunner().invoke(__import__("bot.cli", fromlist=["app"]).app, ["live", *args], env={"COLUMNS": "200"})

    shown = run("board", str(ROOM), "--once", "--json", "--minutes", "60")
    assert shown.exit_code == 0, shown.output
    board = json.loads(shown.output)
    open_group = next(g for g in board["groups"] if g["status"] == "open")
    assert board["thread_id"] == THREAD.id and {g["status"] for g in board["groups"]} == {"open", "bot"}
    marked = run("answered", str(ROOM), str(open_group["id"]), "--by", "主播")
    assert marked.exit_code == 0 and f"group #{open_group['id']} marked answered by 主播" in marked.output
    audited = Store.from_url(default_url(tmp_path), Pseudonymizer(load_secret_key(tmp_path / "secret.key")))
    assert [(e.by, e.action, e.target) for e in audited.audit_log()] == [("主播", "live.answered", f"live_group:{THREAD.id}:{open_group['id']}")]
    audited.close()
    again = json.loads(run("board", str(ROOM), "--once", "--json", "--minutes", "60").output)
    assert {g["status"] for g in again["groups"]} == {"marked", "bot"}
    assert run("answered", str(ROOM), "999").exit_code == 2
    bad = run("board", "abc", "--once")
    assert bad.exit_code == 2 and "numeric live room id" in bad.output
    summary = run("summary", str(ROOM), "--json")
    assert summary.exit_code == 0 and json.loads(summary.output)["questions"] == 2
