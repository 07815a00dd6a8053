"""Abstaining when two FAQ answers are too close to tell apart (bot/analysis.py, `[matching] min_margin`).

Real model and FAISS over a copy of the bundled config whose FAQ has a few more entries: near-duplicate
questions with another answer, a second phrasing entry with the same answer, and a course's own entry
beside a general one.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot.analysis import Analysis, Analyzer
from bot.config import load_settings
from bot.events import Event, Thread
from bot.knowledge import Knowledge

PYTHON_VIDEO = Thread(id="BV1xx411c7mD")  # mapped to py-101 in samples/threads.yaml
ADDED = [
    # Another answer to nearly the same question as faq-certificate ("学完有证书吗？").
    {"id": "faq-certificate-paper", "question": "学完有纸质证书吗？", "alternatives": ["证书是纸质的吗"],
     "answer": "纸质证书需要在课程页申请邮寄，工本费20元，15个工作日内寄出。", "course_id": None},
    # The same answer as faq-refund under another question: not a rival.
    {"id": "faq-refund-unhappy", "question": "学了不满意能退吗？", "answer": None, "course_id": None},
    # py-101's own answer to what the general faq-download answers.
    {"id": "faq-py101-download", "question": "Python课的视频可以下载吗？", "alternatives": ["python课能下载吗"],
     "answer": "Python零基础课的视频和源码都可以在课程页打包下载。", "course_id": "py-101"},
]


@pytest.fixture(scope="module")
def analyzer(encoder, repo_config_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Analyzer:
    config = tmp_path_factory.mktemp("close-answers") / "config"
    shutil.copytree(repo_config_dir, config)
    faq = yaml.safe_load((config / "faq.yaml").read_text(encoding="utf-8"))
    refund = next(entry["answer"] for entry in faq["faq"] if entry["id"] == "faq-refund")
    faq["faq"] += [{**entry, "answer": entry["answer"] or refund} for entry in ADDED]
    (config / "faq.yaml").write_text(yaml.safe_dump(faq, allow_unicode=True), encoding="utf-8")
    settings = load_settings(config / "coursebot.toml", state_dir=str(tmp_path_factory.mktemp("close-state")))
    return Analyzer(Knowledge.open(settings, encoder))


def analyze(analyzer: Analyzer, text: str, thread: Thread | None = None) -> Analysis:
    return analyzer.analyze([Event(platform="test", event_id="c1", text=text, thread=thread)])[0]


def test_a_close_rival_with_another_answer_hands_the_comment_off(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "学完会发证书吗")
    assert not analysis.match.answered
    named = re.fullmatch(r"two answers too close: ([\w-]+) \(0\.\d\d\) vs ([\w-]+) \(0\.\d\d\)", analysis.match.reason)
    assert named is not None, analysis.match.reason
    assert set(named.groups()) == {"faq-certificate", "faq-certificate-paper"}


def test_a_close_entry_with_the_same_answer_is_no_rival(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "学了不满意可以退款吗")
    assert {h.id for h in analysis.match.hits[:2]} == {"faq:faq-refund", "faq:faq-refund-unhappy"}
    assert analysis.match.answer_kind == "faq"
    assert analysis.match.answer_id in {"faq-refund", "faq-refund-unhappy"}


@pytest.mark.parametrize(("text", "thread"), [("视频可以下载吗", PYTHON_VIDEO), ("小白python课程视频可以下载离线看吗", None)],
                         ids=["thread's course", "named course"])
def test_the_course_in_view_decides_between_its_own_entry_and_a_general_one(analyzer: Analyzer, text: str, thread: Thread | None) -> None:
    analysis = analyze(analyzer, text, thread)
    cosines = {h.id: h.dense for h in analysis.match.hits}
    # The two entries are too close on their own: only the course tells them apart.
    assert abs(cosines["faq:faq-py101-download"] - cosines["faq:faq-download"]) < analyzer.threshold.min_margin
    assert analysis.match.course_id == "py-101"
    assert analysis.match.answer_id == "faq-py101-download", analysis.match.reason


def test_without_a_course_in_view_the_general_entry_answers(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "视频可以下载到电脑吗")
    assert analysis.match.answer_id == "faq-download", analysis.match.reason
