"""`coursebot labels …` through the real entry point, and `ask`/`route` applying what was taught in the config's store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.decision import Decision, Outcome
from bot.events import Event
from bot.knowledge import Knowledge
from bot.privacy import Pseudonymizer, load_secret_key
from bot.store import Store
from bot.store.engine import default_url

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, knowledge: Knowledge) -> Path:
    """A state dir (index already built) whose database holds a misread comment and an answered handoff."""
    monkeypatch.setenv("COURSEBOT_CONFIG", str(REPO_CONFIG / "coursebot.toml"))
    monkeypatch.setenv("COURSEBOT_STATE_DIR", str(tmp_path))
    shutil.copytree(knowledge.settings.index_dir, tmp_path / knowledge.settings.index_dir.name)
    store = Store.from_url(default_url(tmp_path), Pseudonymizer(load_secret_key(tmp_path / "secret.key")))
    misread, money = store.record_events([Event("bilibili", "c1", "这老师讲得太烂了吧", author_id="1001"),
                                          Event("bilibili", "c2", "钱能要回来吗", author_id="1002")])
    store.save_outcomes([Outcome(misread, None, Decision("ignore", "praise")), Outcome(money, None, Decision("handoff", "no answer"))])
    store.resolve_handoff(1, "老师", "七天内可以退款")
    store.close()
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_relabel_and_wrong_store_a_correction_or_refuse_in_one_line(state: Path) -> None:
    listed = run("labels", "recent")
    assert listed.exit_code == 0 and "这老师讲得太烂了吧" in listed.output and "1001" not in listed.output
    relabelled = run("labels", "relabel", "1", "complaint", "--by", "老师")
    assert relabelled.exit_code == 0 and "comment #1 labelled complaint (correction #2)" in relabelled.output
    bad = run("labels", "relabel", "1", "angry")
    assert bad.exit_code == 2 and "unknown intent 'angry'" in bad.output and len(bad.output.strip().splitlines()) == 1
    not_replied = run("labels", "wrong", "1")
    assert not_replied.exit_code == 2 and "the bot sent no reply to it" in not_replied.output
    assert run("labels", "save-faq", "1", "--phrasing-of", "no-such-entry").exit_code == 2


def test_save_faq_suggests_the_closest_entry_and_ask_and_route_use_what_was_taught(state: Path, tmp_path: Path) -> None:
    suggested = run("labels", "save-faq", "1")
    assert suggested.exit_code == 0, suggested.output
    assert "closest   FAQ faq-refund" in suggested.output and "cosine 0.8" in suggested.output
    saved = run("labels", "save-faq", "1", "--phrasing-of", "faq-refund")
    assert saved.exit_code == 0 and '"钱能要回来吗" is now a phrasing of FAQ entry faq-refund' in saved.output
    assert run("labels", "relabel", "1", "complaint").exit_code == 0

    comments = tmp_path / "in.jsonl"
    comments.write_text('{"id": "a", "text": "钱还能要回来吗"}\n{"id": "b", "text": "这老师讲得太烂了吧"}\n', encoding="utf-8")
    routed = run("route", "--input", str(comments))
    assert routed.exit_code == 0, routed.output
    rows = {r["id"]: r for r in map(json.loads, [line for line in routed.output.splitlines() if line.startswith("{")])}
    assert rows["a"]["answer_id"] == "faq-refund"
    assert (rows["b"]["intent"], rows["b"]["action"]) == ("complaint", "handoff")


def test_labels_import_reports_what_it_loaded_and_each_refused_row(state: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("text,intent,faq_id\n这课太水了,complaint,\n太贵了,angry,\n钱能要回来吗,,faq-refund\n", encoding="utf-8")
    result = run("labels", "import", str(labels))
    assert result.exit_code == 0, result.output
    assert f"{labels}:3: field 'intent': unknown intent 'angry'" in result.output
    assert f"loaded 2 correction(s) from {labels}; refused 1 row(s)" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n好,praise\n", encoding="utf-8")
    refused = run("labels", "import", str(bad))
    assert refused.exit_code == 2 and f"{bad}:1: unknown column 'label'" in refused.output


def test_labels_status_shows_the_thresholds_in_use_where_they_came_from_and_how_much_feedback(state: Path, tmp_path: Path) -> None:
    shipped = run("labels", "status")
    assert shipped.exit_code == 0, shipped.output
    assert "min_dense             0.840  (config 0.840)" in shipped.output and "the config (shipped calibration)" in shipped.output
    assert "0 reviewed FAQ replies (0 wrong)" in shipped.output
    not_replied = run("labels", "right", "1")
    assert not_replied.exit_code == 2 and "the bot sent no reply to it" in not_replied.output

    store = Store.from_url(default_url(state), Pseudonymizer(load_secret_key(state / "secret.key")))
    events = store.record_events([Event("bilibili", f"w{i}", f"评论{i}", author_id=f"20{i}") for i in range(5)])
    for i, accepted in enumerate(events):
        store.record_correction("wrong_reply", "老师", event_pk=accepted.event_pk,
                                payload={"answer_key": "faq:faq-coupon", "dense": 0.85 + i / 100, "bm25": 0.0})
    store.close()
    tightened = run("labels", "status")
    assert "min_dense             0.890  (config 0.840)" in tightened.output and "min_dense_with_terms  0.830" in tightened.output
    assert "raised by wrong replies" in tightened.output and "5 reviewed FAQ replies (5 wrong)" in tightened.output

    comments = tmp_path / "near.jsonl"  # answered at cosine 0.81 + BM25 4.8 by the configured cuts
    comments.write_text('{"id": "a", "text": "几个人能一起看吗"}\n', encoding="utf-8")
    routed = run("route", "--input", str(comments))
    assert routed.exit_code == 0, routed.output
    [row] = [json.loads(line) for line in routed.output.splitlines() if line.startswith("{")]
    assert row["answer_id"] is None and row["action"] == "handoff"  # route uses the raised cuts at once


def test_labels_history_lists_what_was_taught_and_undo_takes_a_lesson_back_for_ask_at_once(state: Path) -> None:
    assert "intent     praise" in run("ask", "这老师讲得太烂了吧").output  # the model's reading
    assert run("labels", "relabel", "1", "complaint", "--by", "老师").exit_code == 0  # correction #2 (#1: the handoff's answer)
    assert "intent     complaint (1.00, creator)" in run("ask", "这老师讲得太烂了吧").output

    undone = run("labels", "undo", "2", "--by", "老师")
    assert undone.exit_code == 0 and "correction #2 (relabel) undone (correction #3)" in undone.output
    asked = run("ask", "这老师讲得太烂了吧")  # the same state dir: the knowledge version moved, ask applies the undo
    assert asked.exit_code == 0 and "intent     praise" in asked.output

    listed = run("labels", "history")
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if line.strip("│ ")[:1].isdigit()]
    assert [line.split("│")[1].strip() for line in lines] == ["3", "2", "1"]  # newest first
    undo_row, relabel_row, answer_row = ([cell.strip() for cell in line.split("│")[1:-1]] for line in lines)
    assert undo_row[1] == "undo" and undo_row[3:7] == ["老师", "#1", "这老师讲得太烂了吧", "undid #2 (relabel)"]
    assert relabel_row[1] == "relabel" and relabel_row[6:] == ["intent complaint", "by #3"]
    assert answer_row[1] == "answer" and answer_row[6].startswith("answered handoff #1: 七天内可以退款") and answer_row[7] == "-"
    store = Store.from_url(default_url(state), Pseudonymizer(load_secret_key(state / "secret.key")))
    undo_at = store.corrections()[-1].at
    store.close()
    assert "at (Asia/Shanghai)" in listed.output and undo_row[2] == undo_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    only = run("labels", "history", "--kind", "relabel", "--limit", "5")
    assert only.exit_code == 0 and "intent complaint" in only.output and "undid" not in only.output

    for args, message in ((("undo", "2"), "correction #2 was already undone by #3"),
                          (("undo", "3"), "correction #3 (undo) is itself an undo of #2"),
                          (("undo", "1"), "correction #1 (answer) is your answer to a handoff, not a lesson"),
                          (("undo", "99"), "correction #99 not found (coursebot labels history lists them)"),
                          (("history", "--kind", "angry"), "unknown correction kind 'angry'")):
        refused = run("labels", *args)
        assert refused.exit_code == 2 and message in refused.output and len(refused.output.strip().splitlines()) == 1, refused.output
