"""The creator's commands through the real `coursebot` entry point: handoffs, pause/resume, forget, route, demo, replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.decision import Decision, Outcome
from bot.outbox import IN_DOUBT
from bot.privacy import Pseudonymizer, load_secret_key
from bot.store import Store
from bot.store.engine import default_url

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir with a database holding one handoff and one reply, as the running bot would leave it."""
    monkeypatch.setenv("COURSEBOT_CONFIG", str(REPO_CONFIG / "coursebot.toml"))
    monkeypatch.setenv("COURSEBOT_STATE_DIR", str(tmp_path))
    from bot.events import Event

    store = Store.from_url(default_url(tmp_path), Pseudonymizer(load_secret_key(tmp_path / "secret.key")))
    complaint, question = store.record_events([
        Event("bilibili", "c1", "我的订单一直没到账", author_id="1001", author_name="小红"),
        Event("bilibili", "c2", "能退款吗", author_id="1002"),
    ])
    store.save_outcomes([Outcome(complaint, None, Decision("handoff", "complaint goes to a human")),
                         Outcome(question, None, Decision("reply_public", "faq", text="可以退款"))])
    store.close()
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_handoffs_lists_the_queue_and_resolve_queues_the_answer(state: Path) -> None:
    listed = run("handoffs")
    assert listed.exit_code == 0, listed.output
    assert "我的订单一直没到账" in listed.output and "小红" in listed.output and "1001" not in listed.output
    resolved = run("handoff", "resolve", "1", "--reply", "已经退给你了", "--by", "老师")
    assert resolved.exit_code == 0 and "handoff #1 resolved by 老师 — reply queued" in resolved.output
    assert "no open handoffs" in run("handoffs").output
    missing = run("handoff", "resolve", "99")
    assert missing.exit_code == 2 and "handoff #99 not found" in missing.output


def test_handoff_resend_queues_a_held_reply_again_in_one_command(state: Path) -> None:
    store = Store.from_url(default_url(state), Pseudonymizer(load_secret_key(state / "secret.key")))
    [reply] = [m for m in (store.outbox_message(n) for n in range(1, 5)) if m is not None]  # the bot's reply to c2
    handoff_id = store.hold_message(reply.id, IN_DOUBT)  # as the worker does after a crash in the middle of its send
    listed = run("handoffs")
    assert "may not have gone out" in listed.output and "能退款吗" in listed.output
    resent = run("handoff", "resend", str(handoff_id), "--by", "老师")
    assert resent.exit_code == 0, resent.output
    assert f"handoff #{handoff_id} resolved by 老师 — reply queued again" in resent.output
    assert store.outbox_message(reply.id).state == "pending"  # type: ignore[union-attr]
    again = run("handoff", "resend", str(handoff_id))
    assert again.exit_code == 2 and "holds no reply to resend" in again.output
    store.close()


def test_pause_and_resume_flip_the_switch_every_worker_reads(state: Path) -> None:
    store = Store.from_url(default_url(state), Pseudonymizer(load_secret_key(state / "secret.key")))
    assert run("pause").exit_code == 0 and store.is_paused()
    assert run("resume").exit_code == 0 and not store.is_paused()
    store.close()


def test_handoff_takeover_viewer_and_release_viewer(state: Path) -> None:
    taken = run("handoff", "takeover-viewer", "1", "--by", "老师")  # handoff #1: 小红's complaint
    assert taken.exit_code == 0, taken.output
    pseudonym = Pseudonymizer(load_secret_key(state / "secret.key")).pseudonym("bilibili", "1001")
    assert f"viewer {pseudonym} (bilibili) taken over by 老师" in taken.output and "1001" not in taken.output
    listed = run("handoff", "takeovers")
    assert f"viewer\tbilibili\t{pseudonym}\t老师" in listed.output
    released = run("handoff", "release-viewer", pseudonym)
    assert released.exit_code == 0 and "released: the bot answers them again" in released.output
    assert "was not taken over" in run("handoff", "release-viewer", pseudonym).output
    assert "nothing taken over" in run("handoff", "takeovers").output
    missing = run("handoff", "takeover-viewer", "v_nobody")
    assert missing.exit_code == 2 and "no viewer 'v_nobody'" in missing.output


def test_forget_deletes_a_viewer_without_echoing_their_id(state: Path) -> None:
    result = run("forget", "--viewer", "bilibili:1001")
    assert result.exit_code == 0, result.output
    assert "forgot 1 viewer record(s)" in result.output and "1001" not in result.output
    assert "no viewer" in run("forget", "--viewer", "bilibili:1001").output


def test_route_reports_action_reason_and_reply(cli, tmp_path: Path) -> None:
    comments = tmp_path / "in.jsonl"
    comments.write_text('{"id": "a", "text": "可以开发票吗", "author": "1"}\n{"id": "b", "text": "加v：py8899 送全套python视频 私聊"}\n'
                        '{"id": "c", "text": "垃圾课程 全是废话 退钱！"}\n', encoding="utf-8")
    result = cli("route", "--input", str(comments))
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert (rows["a"]["action"], bool(rows["a"]["reply"])) == ("reply_public", True)
    assert rows["b"]["action"] == "ignore" and rows["b"]["reason"].startswith("spam") and rows["b"]["reply"] is None
    assert rows["c"]["action"] == "handoff"
    assert all({"reason", "match_reason", "intent", "answer_id"} <= set(r) for r in rows.values())


def test_demo_replays_the_samples_into_a_fresh_database_and_summarises(cli) -> None:
    first = cli("demo")
    assert first.returncode == 0, first.stderr
    assert "200 comments:" in first.stdout and "answered" in first.stdout and "handed to you" in first.stdout
    assert "💬 23333333" in first.stdout
    again = cli("demo")
    summary = [line for line in again.stdout.splitlines() if line.startswith("200 comments:")]
    assert summary and summary[0].split("Database")[0] in first.stdout  # fresh database: the same story twice


def test_replay_sends_each_reply_once_across_runs(cli, tmp_path: Path) -> None:
    sent = tmp_path / "sent.jsonl"
    args = ("replay", "--input", str(REPO_CONFIG / "samples" / "comments.jsonl"), "--output", str(sent), "--clock", "event",
            "--db", f"sqlite:///{tmp_path / 'replay.db'}")
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    assert "replayed 200 comments" in first.stderr
    count = len(sent.read_text(encoding="utf-8").splitlines())
    assert count > 50
    second = cli(*args)
    assert "decided nothing new" in second.stderr
    assert len(sent.read_text(encoding="utf-8").splitlines()) == count
