"""An edit of the FAQ or catalog is live for the next comment, in this worker and in another one sharing the
database (real m3e-small, FAISS, BM25; SQLite and PostgreSQL), and `coursebot ask` answers from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.analysis import Analyzer, Match
from bot.answers import answer_text
from bot.cli import app
from bot.events import Event
from bot.knowledge import Knowledge
from bot.learning.knowledge_base import KnowledgeBase
from bot.learning.teacher import teacher_for
from bot.store import Store

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
NOT_IN_FAQ = "课程里的代码能商用吗"  # no entry answers it (best cosine 0.81)
DOWNLOAD = "课程视频可以下载离线看吗？"  # faq-download's question, verbatim


def ask(analyzer: Analyzer, text: str) -> tuple[Match, str | None]:
    match = analyzer.analyze([Event("bilibili", "c1", text)])[0].match
    return match, answer_text(match, analyzer.knowledge.catalog)


def dense_of(match: Match, document: str) -> float:
    return next((h.dense for h in match.hits if h.id == document), 0.0)


def test_an_edited_question_answers_in_another_worker_before_its_next_comment(db_url: str, store: Store, fresh_analyzer) -> None:
    worker = fresh_analyzer()
    worker_store = Store.from_url(db_url, store.pseudonymizer)  # the worker's own connection; `store` is the editor's (console, CLI)
    try:
        teacher_for(worker).refresh(worker_store)
        assert not ask(worker, NOT_IN_FAQ)[0].answered
        assert dense_of(ask(worker, DOWNLOAD)[0], "faq:faq-download") > 0.99

        kb = KnowledgeBase.open(worker.knowledge.settings, store)
        assert kb.edit_faq("faq-download", "老师", question=NOT_IN_FAQ, answer="可以商用，注明出处即可").ok

        assert teacher_for(worker).refresh(worker_store)  # what the Runner does before every batch
        match, answer = ask(worker, NOT_IN_FAQ)
        assert (match.answer_id, answer) == ("faq-download", "可以商用，注明出处即可")
        old, _ = ask(worker, DOWNLOAD)
        assert dense_of(old, "faq:faq-download") < 0.9  # the old question left the index: no verbatim match any more
        assert not teacher_for(worker).refresh(worker_store)  # nothing new: one version query, nothing reloaded
    finally:
        worker_store.close()


def test_a_removed_phrasing_a_retired_entry_and_a_new_price_are_live_at_once(store: Store, fresh_analyzer) -> None:
    worker = fresh_analyzer()
    teacher = teacher_for(worker)
    teacher.refresh(store)
    assert ask(worker, "能缓存吗")[0].answer_id == "faq-download"
    assert ask(worker, "公司报销要发票")[0].answer_id == "faq-invoice"
    assert "259元" in (ask(worker, "爬虫课多少钱")[1] or "")
    vectors = worker.knowledge.searcher.vectors
    before = len(vectors)

    kb = KnowledgeBase.open(worker.knowledge.settings, store)
    assert kb.remove_phrasing("faq-download", "能缓存吗", "老师").ok
    assert kb.retire_faq("faq-invoice", "老师").ok
    assert kb.edit_course("py-spider", "老师", price="9.9", url="https://ke.example.com/c/spider-new").ok
    assert teacher.refresh(store)

    assert len(vectors) == before - 1 - 5  # FAISS removed the phrasing and the retired entry's 5 phrasings, rebuilt nothing
    assert not ask(worker, "能缓存吗")[0].answered
    invoice, _ = ask(worker, "公司报销要发票")
    assert not invoice.answered and dense_of(invoice, "faq:faq-invoice") == 0.0
    assert "faq-invoice" not in worker.knowledge.catalog.faq
    price, answer = ask(worker, "爬虫课多少钱")
    assert price.answer_kind == "course_price" and answer == "《Python爬虫从入门到项目实战》9.9元，详情：https://ke.example.com/c/spider-new"


def test_coursebot_ask_answers_from_an_edited_question(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       knowledge: Knowledge) -> None:
    monkeypatch.setenv("COURSEBOT_CONFIG", str(REPO_CONFIG / "coursebot.toml"))
    monkeypatch.setenv("COURSEBOT_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("COURSEBOT_STORE__URL", db_url)
    shutil.copytree(knowledge.settings.index_dir, tmp_path / knowledge.settings.index_dir.name)

    def run(*args: str):
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    refused = run("faq", "edit", "faq-download", "--answer", " ")
    assert refused.exit_code == 2
    assert refused.output.strip() == "error: field 'answer': string should have at least 1 character, got ' '"
    edited = run("faq", "edit", "faq-download", "--question", NOT_IN_FAQ, "--answer", "可以商用，注明出处即可", "--by", "老师")
    assert edited.exit_code == 0, edited.output
    assert "faq-download: question" in edited.output and "(revision #1)" in edited.output
    asked = run("ask", NOT_IN_FAQ)
    assert asked.exit_code == 0, asked.output
    assert "answer     可以商用，注明出处即可" in asked.output
    history = run("faq", "history", "faq-download")
    assert history.exit_code == 0 and "faq_edit" in history.output and "老师" in history.output
