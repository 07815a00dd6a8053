"""Run-time switches the creator flips from the console, the CLI or Telegram (bot/actions.py), read by the runner
before each batch: dry run, per-platform replies, quiet hours — and every change is one audit-log row."""

from __future__ import annotations

from pipeline_helpers import T0
from sqlmodel import select

from bot.actions import ActionRefused, CreatorActions
from bot.store import Store
from bot.store.models import OutboxMessage

INVOICE = "可以开发票吗"  # answered from the FAQ with a public reply


def outbox_rows(store: Store) -> list[OutboxMessage]:
    with store.session(write=False) as session:
        return list(session.exec(select(OutboxMessage)))


async def test_dry_run_switch_records_replies_unsent_and_config_comes_back(store: Store, make_runner, comment) -> None:
    runner, actions = make_runner(store), CreatorActions(store)
    actions.set_dry_run(True, "console:owner")
    [dry] = await runner.process([comment(INVOICE)])
    assert dry.decision.action == "reply_public" and dry.decision.dry_run and outbox_rows(store) == []
    actions.use_config("dry_run", "console:owner")
    [live] = await runner.process([comment(INVOICE, author="u2")])
    assert not live.decision.dry_run and len(outbox_rows(store)) == 1


async def test_dry_run_switch_off_overrides_a_dry_run_config(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"dry_run": True})
    CreatorActions(store).set_dry_run(False, "cli")
    [outcome] = await runner.process([comment(INVOICE)])
    assert not outcome.decision.dry_run and len(outbox_rows(store)) == 1


async def test_a_platform_switched_off_sends_nothing_there_and_others_still_reply(store: Store, make_runner, comment) -> None:
    runner, actions = make_runner(store), CreatorActions(store)
    actions.set_platform("bilibili", False, "console:owner")
    off, on = await runner.process([comment(INVOICE, platform="bilibili"), comment(INVOICE, platform="douyin", author="u9")])
    assert (off.decision.action, off.decision.reason) == ("ignore", "bilibili switched off")
    assert on.decision.action == "reply_public"
    assert [m.platform for m in outbox_rows(store)] == ["douyin"]
    actions.set_platform("bilibili", True, "console:owner")
    [back] = await runner.process([comment(INVOICE, platform="bilibili", author="u3")])
    assert back.decision.action == "reply_public"


async def test_quiet_hours_switch_defers_or_skips_and_off_ends_them(store: Store, make_runner, comment) -> None:
    runner, actions = make_runner(store), CreatorActions(store)  # T0 is 10:00 in Asia/Shanghai
    actions.set_quiet_hours("09:00", "11:00", "defer", "cli")
    [deferred] = await runner.process([comment(INVOICE, at=T0)])
    assert deferred.decision.send_after is not None and "quiet hours: sent at 11:00" in deferred.decision.reason
    actions.set_quiet_hours("09:00", "11:00", "skip", "cli")
    [skipped] = await runner.process([comment(INVOICE, author="u2", at=T0)])
    assert (skipped.decision.action, skipped.decision.reason) == ("ignore", "quiet hours")
    actions.set_quiet_hours(None, None, "defer", "cli")  # off, whatever the config says
    [now] = await runner.process([comment(INVOICE, author="u3", at=T0)])
    assert now.decision.action == "reply_public" and now.decision.send_after is None


def test_switch_changes_are_audited_and_bad_values_refused(store: Store) -> None:
    actions = CreatorActions(store)
    actions.pause("telegram:1")
    actions.set_platform("douyin", False, "cli")
    actions.set_quiet_hours("23:00", "07:30", "skip", "console:owner")
    for bad in (lambda: actions.set_quiet_hours("25:00", "08:00", "defer", "cli"),
                lambda: actions.set_quiet_hours("23:00", None, "defer", "cli"),
                lambda: actions.set_platform("weibo", False, "cli")):
        try:
            bad()
        except ActionRefused as exc:
            assert "\n" not in str(exc)
        else:
            raise AssertionError("accepted a bad switch value")
    log = store.audit_log()
    assert [(e.by, e.action) for e in reversed(log)] == [
        ("telegram:1", "switch.pause"), ("cli", "switch.platform"), ("console:owner", "switch.quiet_hours")]
    s = store.switches()
    assert s.paused and s.platforms_off == ("douyin",) and s.quiet_hours == {"start": "23:00", "end": "07:30", "mode": "skip"}
