"""Editing the FAQ and catalog (bot/learning/knowledge_base.py) on real SQLite and PostgreSQL: the file loaders'
validation and wording, revisions with history, export → import round trips. No model here: what the bot
answers after an edit is tests/pipeline/test_knowledge_live.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.catalog import load_courses, load_faq
from bot.commands.labels import faq_ids
from bot.learning.knowledge_base import KnowledgeBase
from bot.store import Store
from retrieval.errors import InputError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def settings(settings_factory):
    return settings_factory()


@pytest.fixture
def kb(store: Store, settings) -> KnowledgeBase:
    return KnowledgeBase.open(settings, store)


def _loader_error(tmp_path: Path, key: str, change: dict, *, name: str = "faq.yaml") -> str:
    """What the file loader says about the bundled file's first entry with `change` applied."""
    source = REPO_CONFIG / ("faq.yaml" if key == "faq" else "catalog.yaml")
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data[key][0].update(change)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        if key == "faq":
            load_faq(path, load_courses(REPO_CONFIG / "catalog.yaml"))
        else:
            load_courses(path)
    return str(caught.value)


def _same_knowledge(a: dict, b: dict) -> bool:
    """Equal entries; phrasings compared as a set (their order changes nothing the bot answers)."""
    def key(e):
        return e.question, e.answer, e.course_id, frozenset(e.alternatives)
    return a.keys() == b.keys() and all(key(a[i]) == key(b[i]) for i in a)


def test_edits_are_refused_by_field_in_the_file_loaders_words(kb: KnowledgeBase, tmp_path: Path) -> None:
    empty = kb.edit_faq("faq-refund", "老师", answer="   ")
    assert not empty.ok and set(empty.errors) == {"answer"}
    assert _loader_error(tmp_path, "faq", {"answer": "   "}).endswith(f"faq entry 'faq-refund': {empty.errors['answer']}")

    course = kb.edit_faq("faq-refund", "老师", course_id="no-such-course")
    assert _loader_error(tmp_path, "faq", {"course_id": "no-such-course"}).endswith(course.errors["course_id"])

    bad_id = kb.add_faq("老师", question="能开发票吗", answer="能", faq_id="has space")
    assert _loader_error(tmp_path, "faq", {"id": "has space"}).endswith(bad_id.errors["id"])

    price = kb.edit_course("py-101", "老师", price="-5", url="ftp://x")
    assert set(price.errors) == {"price", "url"}
    assert _loader_error(tmp_path, "courses", {"price": "-5"}, name="c.yaml").endswith(price.errors["price"])
    assert _loader_error(tmp_path, "courses", {"url": "ftp://x"}, name="c.yaml").endswith(price.errors["url"])

    assert kb.edit_course("py-101", "老师", title="新标题").errors == {"title": "field 'title': not editable here (editable: price, url, description)"}
    assert kb.edit_faq("no-such", "老师", answer="x").errors == {"id": "field 'id': no faq entry 'no-such' (coursebot faq list shows them)"}
    assert kb.add_faq("老师", question="x", answer="y", faq_id="faq-refund").errors == {"id": "field 'id': faq entry 'faq-refund' already exists"}
    assert kb.add_phrasing("faq-refund", "能退款吗", "老师").errors == {
        "phrasing": "field 'phrasing': already a phrasing of faq entry 'faq-refund', got '能退款吗'"}
    assert kb.remove_phrasing("faq-refund", "买了课不满意可以退款吗？", "老师").errors == {
        "phrasing": "field 'phrasing': is the question of faq entry 'faq-refund'; edit the question instead"}
    assert "nothing to change" in kb.edit_faq("faq-refund", "老师", answer=kb.entry("faq-refund").answer).errors["entry"]
    assert kb.store.corrections() == [] and kb.store.knowledge_version() == 0  # nothing refused was stored


def test_every_edit_is_a_revision_with_who_when_before_and_after_newest_first(kb: KnowledgeBase, store: Store, settings) -> None:
    old_answer = kb.entry("faq-refund").answer
    edited = kb.edit_faq("faq-refund", "老师", answer="十天内可以退款", course_id="py-101")
    added = kb.add_phrasing("faq-refund", "钱能退吗", "助理")
    removed = kb.remove_phrasing("faq-refund", "能退款吗", "老师")
    assert edited.ok and added.ok and removed.ok
    assert store.knowledge_version() == removed.revision.id  # every edit moves the version the workers compare

    history = kb.history("faq-refund")
    assert [(r.kind, r.by) for r in history] == [("faq_unphrase", "老师"), ("faq_phrasing", "助理"), ("faq_edit", "老师")]
    assert history[2].before == {"answer": old_answer, "course_id": None}
    assert history[2].after == {"answer": "十天内可以退款", "course_id": "py-101"}
    assert history[0].before == {"phrasing": "能退款吗"} and history[1].after == {"phrasing": "钱能退吗"}
    assert history[0].at >= history[2].at

    entry = kb.entry("faq-refund")
    assert (entry.answer, entry.course_id) == ("十天内可以退款", "py-101")
    assert "钱能退吗" in entry.alternatives and "能退款吗" not in entry.alternatives
    assert (entry.origin.source, entry.origin.by, entry.origin.revision) == ("creator", "老师", removed.revision.id)
    assert entry.file == "faq.yaml"  # born in the file, edited since
    assert (kb.entry("faq-invoice").origin.source, kb.entry("faq-invoice").file) == ("file", "faq.yaml")

    retired = kb.retire_faq("faq-refund", "老师")
    assert kb.entry("faq-refund") is None and "faq-refund" not in faq_ids(settings, store)
    assert retired.revision.before["answer"] == "十天内可以退款"  # the retired content stays in the history
    assert kb.history("faq-refund")[0].kind == "faq_retire"

    price = kb.edit_course("py-101", "老师", price="99")
    assert price.revision.before == {"price": 199.0} and price.revision.after == {"price": 99.0}
    assert next(c for c in kb.courses() if c.id == "py-101").price == 99.0
    assert [r.kind for r in kb.history("py-101")] == ["course_edit"]


def test_list_and_search_show_the_effective_faq(kb: KnowledgeBase) -> None:
    assert len(kb.faq()) == len(load_faq(REPO_CONFIG / "faq.yaml"))
    new = kb.add_faq("老师", question="课程里的代码能商用吗", answer="可以商用，注明出处即可", alternatives=["代码可以商用吗"])
    assert new.ok and new.revision.target == f"creator-{new.revision.id}"
    found = kb.faq("商用")
    assert [v.id for v in found] == [new.revision.target] and found[0].alternatives == ("代码可以商用吗",)
    assert found[0].file is None and found[0].origin.by == "老师"
    assert [v.id for v in kb.faq("發票")][:1] == ["faq-invoice"]  # traditional characters fold like comments do
    assert [c.id for c in kb.courses("爬虫")] == ["py-spider"]


def test_export_then_import_round_trips(kb: KnowledgeBase, store: Store, tmp_path: Path, settings_factory) -> None:
    kb.edit_faq("faq-refund", "老师", answer="十天内可以退款")
    kb.add_phrasing("faq-invoice", "发票怎么开", "老师")
    kb.remove_phrasing("faq-download", "能缓存吗", "老师")
    kb.retire_faq("faq-certificate", "老师")
    kb.add_faq("老师", question="课程里的代码能商用吗", answer="可以商用", faq_id="faq-commercial")
    kb.edit_course("py-spider", "老师", price=9.9)
    exported, courses = tmp_path / "faq.yaml", tmp_path / "courses.yaml"
    assert kb.export_faq(exported) == len(kb.faq())
    kb.export_courses(courses)

    # the file loader reads the export back as the same knowledge
    assert load_faq(exported, load_courses(courses)) == kb.current().faq
    assert load_courses(courses)["py-spider"].price == 9.9
    # importing it into the same store changes nothing
    again = kb.import_faq(exported, "import")
    assert (again.added, again.edited, again.unchanged, again.refused) == (0, 0, len(kb.faq()), [])
    # importing it over the untouched files (a fresh store) gives the same FAQ
    fresh_store = Store.from_url(f"sqlite:///{tmp_path / 'fresh.db'}", store.pseudonymizer)
    try:
        fresh = KnowledgeBase.open(settings_factory(), fresh_store)
        report = fresh.import_faq(exported, "import", prune=True)
        assert (report.added, report.edited, report.retired, report.refused) == (1, 3, 1, [])
        assert _same_knowledge(fresh.current().faq, kb.current().faq)
    finally:
        fresh_store.close()


def test_import_refuses_bad_rows_by_line_and_loads_the_rest(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("id,question,answer,course_id,alternatives\n"
                    "faq-commercial,课程里的代码能商用吗,可以商用,,代码能商用吗|能商用吗\n"
                    "faq-empty,没有答案的问题,,,\n"
                    "faq-other,别的课,有,no-such-course,\n"
                    "faq-commercial,重复,重复,,\n"
                    "faq-refund,买了课不满意可以退款吗？,十天内可以退款,,\n", encoding="utf-8")
    report = kb.import_faq(path, "import")
    assert report.refused == [
        f"{path}:3: faq entry 'faq-empty': field 'answer': string should have at least 1 character, got ''",
        f"{path}:4: faq entry 'faq-other': field 'course_id': unknown course 'no-such-course'",
        f"{path}:5: faq entry id 'faq-commercial' duplicates line 2",
    ]
    assert (report.added, report.edited) == (1, 1)
    assert kb.entry("faq-commercial").alternatives == ("代码能商用吗", "能商用吗")
    refund = kb.entry("faq-refund")
    assert refund.answer == "十天内可以退款" and refund.alternatives == ()  # the file's row has no phrasings: removed
    with pytest.raises(InputError, match="invalid YAML"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("faq: [", encoding="utf-8")
        kb.import_faq(bad, "import")


def test_the_faq_commands_edit_show_export_and_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("COURSEBOT_CONFIG", str(REPO_CONFIG / "coursebot.toml"))
    monkeypatch.setenv("COURSEBOT_STATE_DIR", str(tmp_path))

    def run(*args: str):
        return CliRunner().invoke(app, ["faq", *args], env={"COLUMNS": "200"})

    listed = run("list", "--search", "退款")  # no database yet: the file's FAQ, and none is created
    assert listed.exit_code == 0 and "faq-refund" in listed.output and not (tmp_path / "coursebot.db").exists()
    assert run("phrasing", "add", "faq-refund", "钱能退吗", "--by", "老师").exit_code == 0
    removed = run("phrasing", "remove", "faq-refund", "能退款吗")
    assert removed.exit_code == 0 and '"能退款吗" is no longer a phrasing of FAQ entry faq-refund (revision #2)' in removed.output
    bad = run("course-edit", "py-101", "--price", "-1")
    assert bad.exit_code == 2 and bad.output.strip() == "error: field 'price': input should be greater than or equal to 0, got '-1'"
    assert run("edit", "faq-refund").exit_code == 2  # nothing to change
    shown = run("show", "faq-refund")
    assert "phrasing   钱能退吗" in shown.output and "能退款吗" not in shown.output and "faq.yaml, edited by cli (#2)" in shown.output
    history = run("history", "faq-refund")
    assert history.output.index("faq_unphrase") < history.output.index("faq_phrasing")  # newest first
    assert run("retire", "faq-invoice").exit_code == 0
    assert run("show", "faq-invoice").exit_code == 2

    exported = tmp_path / "out.yaml"
    assert run("export", "--output", str(exported)).exit_code == 0
    assert "faq-invoice" not in load_faq(exported) and "钱能退吗" in load_faq(exported)["faq-refund"].alternatives
    imported = run("import", str(exported))
    assert imported.exit_code == 0 and f"{exported}: 0 added, 0 edited, {len(load_faq(exported))} unchanged; refused 0 row(s)" in imported.output
