"""Taking over a viewer (issue 20): the bot stays silent with them on every thread of their platform and in DMs,
their comments reach the inbox as handoffs, until released — real model, real pipeline, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.actions import CreatorActions
from bot.events import Thread
from bot.policy import VIEWER_TAKEN_OVER
from bot.store import NotFound, Store
from bot.store.models import OutboxMessage

INVOICE = "可以开发票吗"  # answered from the FAQ when the bot may
OTHER_THREAD = Thread("BV1Gt4y1m7Qe", "Python第2课")


def outbox_texts(store: Store) -> list[str]:
    with store.session(write=False) as session:
        return [m.text for m in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]


async def test_a_taken_over_viewer_is_handed_off_on_every_thread_and_in_dms_until_released(store: Store, make_runner, comment) -> None:
    runner, actions = make_runner(store), CreatorActions(store)
    [complaint] = await runner.process([comment("垃圾课程 全是废话 退钱！", author="fan")])
    [handoff] = store.list_handoffs()
    taken = actions.take_over_viewer(handoff.id, "console:owner")  # by the handoff: the viewer who wrote it
    assert (taken.pseudonym, taken.by) == (complaint.accepted.pseudonym, "console:owner")

    other_thread, dm, someone_else = await runner.process([
        comment(INVOICE, author="fan", thread=OTHER_THREAD), comment(INVOICE, author="fan", thread=None, kind="dm"),
        comment(INVOICE, author="someone-else", thread=OTHER_THREAD)])
    assert [(o.decision.action, o.decision.reason, o.decision.text) for o in (other_thread, dm)] == [
        ("handoff", VIEWER_TAKEN_OVER, None)] * 2
    assert someone_else.decision.action == "reply_public"  # only that viewer: the thread is not taken over
    assert [(h.text, h.reason) for h in store.list_handoffs()[1:]] == [(INVOICE, VIEWER_TAKEN_OVER)] * 2
    assert len(outbox_texts(store)) == 1  # the other viewer's answer; nothing to the taken-over one

    assert [(v.pseudonym, v.platform) for v in store.taken_over_viewers()] == [(taken.pseudonym, "bilibili")]
    assert actions.release_viewer(taken.pseudonym, "cli") is True
    assert actions.release_viewer(taken.pseudonym, "cli") is False  # already released: nothing audited twice
    [answered] = await runner.process([comment(INVOICE, author="fan", thread=OTHER_THREAD)])
    assert answered.decision.action == "reply_public"
    assert [(e.action, e.target, e.by) for e in reversed(store.audit_log()) if e.action.startswith("viewer.")] == [
        ("viewer.take_over", f"viewer:{taken.pseudonym}", "console:owner"), ("viewer.release", f"viewer:{taken.pseudonym}", "cli")]


async def test_a_viewer_taken_over_by_pseudonym_on_one_platform_is_answered_on_another(store: Store, make_runner, comment) -> None:
    runner = make_runner(store)
    await runner.process([comment(INVOICE, author="fan")])
    pseudonym = store.pseudonym("bilibili", "fan")
    CreatorActions(store).take_over_viewer(pseudonym, "cli")
    bilibili, douyin = await runner.process([comment(INVOICE, author="fan"), comment(INVOICE, author="fan", platform="douyin")])
    assert (bilibili.decision.action, douyin.decision.action) == ("handoff", "reply_public")


async def test_forgetting_a_taken_over_viewer_forgets_the_takeover_too(store: Store, make_runner, comment) -> None:
    runner = make_runner(store)
    await runner.process([comment(INVOICE, author="fan")])
    CreatorActions(store).take_over_viewer(store.pseudonym("bilibili", "fan"), "cli")
    store.forget_viewer("bilibili:fan")
    assert store.taken_over_viewers() == []
    [again] = await runner.process([comment(INVOICE, author="fan")])  # writing again: a new viewer row, not taken over
    assert again.decision.action == "reply_public"


def test_unknown_viewers_and_handoffs_are_refused_with_a_clear_line(store: Store) -> None:
    actions = CreatorActions(store)
    with pytest.raises(NotFound, match="no viewer 'v_nobody'"):
        actions.take_over_viewer("v_nobody", "cli")
    with pytest.raises(NotFound, match="handoff #42 not found"):
        actions.release_viewer(42, "cli")
    assert store.audit_log() == []
