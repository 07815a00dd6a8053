"""Knowledge edits as creator actions (bot/actions.py): one audit row per stored revision, none for a refused
edit, `coursebot faq …` writing through them; the live fields (`live_answer`, `live_topic`) edited through the
same revision path with `live_answer` held to the room's danmaku ([live] danmaku_max_chars). Real SQLite and
PostgreSQL, no model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.actions import ActionRefused, CreatorActions
from bot.learning.knowledge_base import KnowledgeBase
from bot.store import Store

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def settings(settings_factory):
    return settings_factory(live={"danmaku_max_chars": 12, "danmaku_parts": 1})


@pytest.fixture
def actions(store: Store, settings) -> CreatorActions:
    return CreatorActions(store, KnowledgeBase.open(settings, store))


def knowledge_audit(store: Store) -> list[tuple[str, str, str, dict]]:
    return [(e.by, e.action, e.target, e.detail) for e in reversed(store.audit_log()) if e.action.startswith("knowledge.")]


def test_every_stored_knowledge_edit_is_one_audit_row_and_a_refused_one_none(actions: CreatorActions, store: Store, tmp_path: Path) -> None:
    assert not actions.edit_faq("faq-refund", "老师", answer="").ok
    assert not actions.add_phrasing("faq-refund", "", "老师").ok
    assert not actions.edit_course("py-101", "老师", price=-1).ok
    assert knowledge_audit(store) == []  # refused: nothing stored, nothing audited

    added = actions.add_faq("老师", question="直播回放在哪看", answer="回放在课程群", faq_id="replay").revision
    edited = actions.edit_faq("replay", "老师", answer="回放在课程群里，保留30天").revision
    phrased = actions.add_phrasing("replay", "有回放吗", "助理").revision
    unphrased = actions.remove_phrasing("replay", "有回放吗", "助理").revision
    priced = actions.edit_course("py-101", "老师", price="99").revision
    retired = actions.retire_faq("replay", "老师").revision
    path = tmp_path / "faq.yaml"
    path.write_text(yaml.safe_dump({"faq": [{"id": "new-one", "question": "新问题", "answer": "新回答"}]}, allow_unicode=True), encoding="utf-8")
    report = actions.import_faq(path, "import")
    assert report.added == 1

    rows = knowledge_audit(store)
    assert [(by, action, target) for by, action, target, _ in rows] == [
        ("老师", "knowledge.faq_entry", "faq:replay"), ("老师", "knowledge.faq_edit", "faq:replay"),
        ("助理", "knowledge.faq_phrasing", "faq:replay"), ("助理", "knowledge.faq_unphrase", "faq:replay"),
        ("老师", "knowledge.course_edit", "course:py-101"), ("老师", "knowledge.faq_retire", "faq:replay"),
        ("import", "knowledge.import", "file:faq.yaml")]
    revisions = [added, edited, phrased, unphrased, priced, retired]
    assert [detail["revision"] for *_, detail in rows[:6]] == [r.id for r in revisions]  # the audit names its revision
    assert rows[1][3]["fields"] == ["answer"] and rows[4][3]["fields"] == ["price"]
    assert rows[6][3] == {"added": 1, "edited": 0, "retired": 0, "unchanged": 0, "refused": 0}
    assert "回放在课程群里" not in str(rows)  # the audit names fields, the revision keeps the text


def test_a_live_answer_must_fit_the_rooms_danmaku_and_the_live_fields_are_revisions(actions: CreatorActions, store: Store,
                                                                                    settings, tmp_path: Path) -> None:
    long = "退款请在我的订单里申请，三个工作日到账"  # 19 characters > 12
    refused = actions.edit_faq("faq-refund", "老师", live_answer=long)
    assert refused.errors == {"live_answer": "field 'live_answer': must fit one danmaku of 12 characters ([live] danmaku_max_chars), "
                                             "got 19 characters"}
    assert "live_answer" in actions.add_faq("老师", question="能退吗", answer="能", live_answer=long).errors

    saved = actions.edit_faq("faq-refund", "老师", live_answer="7天内可无理由退款", live_topic="退款")
    assert saved.ok and saved.revision.after == {"live_answer": "7天内可无理由退款", "live_topic": "退款"}
    fresh = KnowledgeBase.open(settings, store)  # another process: the revision is in the store
    entry = fresh.entry("faq-refund")
    assert (entry.live_answer, entry.live_topic) == ("7天内可无理由退款", "退款")
    assert actions.edit_faq("faq-refund", "老师", answer="新的退款说明").ok  # an unchanged live answer is not re-checked

    added = actions.add_faq("老师", question="直播回放在哪看", answer="回放在课程群", live_answer="回放在课程群")
    assert added.ok and fresh.entry(added.revision.target).live_answer == "回放在课程群"  # one revision, live fields in it

    path = tmp_path / "faq.yaml"
    path.write_text(yaml.safe_dump({"faq": [{"id": "faq-live", "question": "直播几点", "answer": "每周三晚八点", "live_answer": long}]},
                                   allow_unicode=True), encoding="utf-8")
    report = actions.import_faq(path, "import")
    assert report.added == 0 and report.refused == [
        f"{path}:2: faq entry 'faq-live': field 'live_answer': must fit one danmaku of 12 characters ([live] danmaku_max_chars), "
        "got 19 characters"]


def test_saving_a_comment_as_a_phrasing_of_a_retired_entry_is_refused(actions: CreatorActions, store: Store) -> None:
    assert actions.retire_faq("faq-invoice", "老师").ok
    with pytest.raises(ActionRefused, match="no faq entry 'faq-invoice'"):
        actions.save_answer_as_faq(1, "老师", "faq-invoice")


def test_the_faq_commands_write_through_the_audited_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings_factory) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("COURSEBOT_CONFIG", str(REPO_CONFIG / "coursebot.toml"))
    monkeypatch.setenv("COURSEBOT_STATE_DIR", str(tmp_path))

    def run(*args: str):
        return CliRunner().invoke(app, ["faq", *args], env={"COLUMNS": "200"})

    edited = run("edit", "faq-refund", "--live-answer", "7天内可退", "--live-topic", "退款", "--by", "老师")
    assert edited.exit_code == 0, edited.output
    assert run("phrasing", "add", "faq-refund", "钱能退吗").exit_code == 0
    assert run("edit", "faq-refund", "--answer", "").exit_code == 2  # refused: not audited
    assert "live       7天内可退 (topic: 退款)" in run("show", "faq-refund").output
    store = Store.open(settings_factory(state_dir=str(tmp_path)))
    try:
        assert [(by, action, target) for by, action, target, _ in knowledge_audit(store)] == [
            ("老师", "knowledge.faq_edit", "faq:faq-refund"), ("cli", "knowledge.faq_phrasing", "faq:faq-refund")]
    finally:
        store.close()
