"""Recommendations that know the viewer, through the real runner and store (SQLite and PostgreSQL): purchases and
courses just shown are not recommended again, profiles inform a request that names no topic, `forget` deletes them,
and [recommend] personalise = false keeps and reads none."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pipeline_helpers import T0, Comments
from sqlmodel import select

from bot import runner as runner_module
from bot.analysis import Analyzer
from bot.events import Thread
from bot.runner import Runner, event_clock
from bot.store import Store
from bot.store.models import TrackedLink, ViewerProfile

PANDAS = Thread("BV-pandas", "Pandas数据清洗实战：10分钟搞定一份脏数据")
EDITING = ("剪映和pr哪个好用", "想学视频剪辑 接单难不难", "剪辑的时候卡点怎么做", "视频调色有什么技巧")


@pytest.fixture
def runner_for(knowledge, settings_factory, store: Store):
    """`runner_for(**recommend)` → a Runner on the real model whose analyzer has those [recommend] settings."""

    def make(**recommend) -> Runner:
        settings = settings_factory()
        for key, value in recommend.items():
            setattr(settings.recommend, key, value)
        analyzer = Analyzer(dataclasses.replace(knowledge, settings=settings))
        return Runner.open(settings, None, analyzer=analyzer, store=store, clock=event_clock)

    return make


def _one(runner: Runner, event):
    [outcome] = asyncio.run(runner.process([event]))
    return outcome


def _content_only(runner: Runner, event):
    return runner.analyzer.analyze([event])[0].match


def _profiles(store: Store) -> int:
    with store.session(write=False) as session:
        return len(session.exec(select(ViewerProfile)).all())


def test_a_viewer_without_history_gets_the_content_ranking(runner_for, comment: Comments):
    runner = runner_for()
    event = comment("有没有适合零基础的编程课推荐", thread=None, author="new-viewer")
    assert _one(runner, event).analysis.match.recommendations == _content_only(runner, event).recommendations


def test_a_bought_course_is_never_recommended_again(runner_for, comment: Comments, store: Store):
    runner = runner_for()
    first = _one(runner, comment("有没有适合零基础的编程课推荐", thread=None))
    bought = first.decision.course_id
    assert first.decision.replies and bought == first.analysis.match.recommendations[0].course_id
    with store.session(write=False) as session:
        [link] = session.exec(select(TrackedLink.id).where(TrackedLink.decision_id.is_not(None))).all()
    assert store.record_conversion("shop", "order-1", link_id=link, at=T0 + timedelta(minutes=30))

    again = comment("有没有适合零基础的编程课推荐", thread=None, at=T0 + timedelta(hours=2))
    assert _content_only(runner, again).recommendations[0].course_id == bought  # what the comment alone would say
    outcome = _one(runner, again)
    assert bought not in [r.course_id for r in outcome.analysis.match.recommendations]
    assert outcome.decision.course_id != bought


def test_a_course_just_shown_in_this_thread_is_not_repeated(runner_for, comment: Comments):
    runner = runner_for()
    first = _one(runner, comment("还有别的课推荐吗", thread=PANDAS))
    shown = first.decision.course_id
    assert first.decision.replies and shown
    second = _one(runner, comment("还有别的课推荐吗？", thread=PANDAS))
    assert shown not in [r.course_id for r in second.analysis.match.recommendations]
    other_viewer = _one(runner, comment("还有别的课推荐吗", thread=PANDAS, author="u2"))
    assert other_viewer.analysis.match.recommendations[0].course_id == shown  # shown to u1, not to u2


def _editing_fan(runner: Runner, comment: Comments) -> None:
    asyncio.run(runner.process([comment(text, thread=None) for text in EDITING]))


def test_history_answers_a_request_naming_no_topic_and_forget_deletes_it(runner_for, comment: Comments, store: Store):
    runner = runner_for()
    _editing_fan(runner, comment)
    assert _profiles(store) == 1
    ask = comment("推荐个课呗", thread=None)
    assert _content_only(runner, ask).answer_kind is None  # the comment alone names nothing to recommend
    match = _one(runner, ask).analysis.match
    assert match.answer_kind == "recommendation" and match.course_source == "history"
    assert "视频剪辑" in runner.analyzer.knowledge.catalog.courses[match.course_id].tags
    assert "和你之前关心的内容相关" in match.recommendations[0].reasons

    store.forget_viewer("bilibili:u1")
    assert _profiles(store) == 0
    after = _one(runner, comment("推荐个课呗", thread=None)).analysis.match
    assert after.answer_kind is None and after.course_source != "history"


def test_personalise_false_ignores_history_and_keeps_no_profile(runner_for, comment: Comments, store: Store):
    _editing_fan(runner_for(), comment)  # a profile kept while personalisation was on
    off = runner_for(personalise=False)
    ask = comment("推荐个课呗", thread=None)
    match = _one(off, ask).analysis.match
    assert match.answer_kind is None and match.recommendations == _content_only(off, ask).recommendations
    asyncio.run(off.process([comment(text, thread=None, author="u2") for text in EDITING]))
    assert _profiles(store) == 1  # u1's from before; none for u2


def _history_statements(store: Store) -> list[str]:
    """Statements the store runs on its history engine (every read of viewers' history goes there)."""
    seen: list[str] = []
    sa.event.listen(store.history_engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: seen.append(statement) if "viewer_profiles" in statement and "link_clicks" in statement else None)
    return seen


def _bought_first_recommendation(runner: Runner, comment: Comments, store: Store, author: str) -> str:
    """`author` asks for a beginner's course, gets one and buys it; returns its id."""
    bought = _one(runner, comment("有没有适合零基础的编程课推荐", thread=None, author=author)).decision.course_id
    with store.session(write=False) as session:
        [link] = session.exec(select(TrackedLink.id).where(TrackedLink.decision_id.is_not(None))).all()
    assert store.record_conversion("shop", "order-1", link_id=link, at=T0 + timedelta(minutes=30))
    return bought


@pytest.mark.parametrize("rerank_on_loop", [runner_module.RERANK_ON_LOOP, 0], ids=["on the event loop", "in a worker thread"])
def test_a_batch_reads_its_viewers_history_in_one_statement_each_their_own(runner_for, comment: Comments, store: Store,
                                                                           monkeypatch, rerank_on_loop: int):
    """The runner reads the batch's commenters' history in one statement while the batch is analysed (not one round
    trip per request after it), and each request is still ranked with its own viewer's purchases only — whether the
    batch's requests are re-ranked on the event loop (a few) or in a thread (many)."""
    monkeypatch.setattr(runner_module, "RERANK_ON_LOOP", rerank_on_loop)
    runner = runner_for()
    bought = _bought_first_recommendation(runner, comment, store, "buyer")

    statements = _history_statements(store)
    later = T0 + timedelta(hours=2)
    outcomes = asyncio.run(runner.process([
        comment("有没有适合零基础的编程课推荐", thread=None, author="buyer", at=later),
        comment("有没有适合零基础的编程课推荐", thread=None, author="newcomer", at=later),
        comment("零基础有什么编程课推荐", thread=None, author="third", at=later),
    ]))
    ranked = {o.accepted.event.author_id: [r.course_id for r in o.analysis.match.recommendations] for o in outcomes}
    assert bought not in ranked["buyer"]
    assert ranked["newcomer"][0] == bought  # bought by someone else: still this viewer's best course
    assert len(statements) == 1


def test_a_history_read_failing_beside_the_analysis_is_read_again_for_the_requests(runner_for, comment: Comments, store: Store):
    """The connection drops under the read started beside the analysis: the requests' history is read again after
    it, so a course the viewer bought is still not recommended."""
    runner = runner_for()
    bought = _bought_first_recommendation(runner, comment, store, "buyer")
    statements = _history_statements(store)
    failures = iter([sa.exc.OperationalError("reading viewers' history", {}, ConnectionError("server closed the connection"))])

    def drop_once(conn, cursor, statement, *args) -> None:
        if "viewer_profiles" in statement and "link_clicks" in statement and (failure := next(failures, None)):
            raise failure

    sa.event.listen(store.history_engine, "before_cursor_execute", drop_once)
    outcome = _one(runner, comment("有没有适合零基础的编程课推荐", thread=None, author="buyer", at=T0 + timedelta(hours=2)))
    assert len(statements) == 2  # the read beside the analysis (dropped), and again for the request
    assert bought not in [r.course_id for r in outcome.analysis.match.recommendations]
