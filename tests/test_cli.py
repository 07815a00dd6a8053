"""The `coursebot` console script, run as a user runs it (subprocess, real model, bundled config).

Each command that opens the catalog loads the model in its own process (~10 s), so there are only a few;
they share the session state dir (`cli` fixture) and work in any order: the first one builds the index.
"""

from __future__ import annotations

import json
from pathlib import Path

RECORD_FIELDS = {"id", "intent", "intent_confidence", "sentiment", "topics", "matches", "answer_id", "course_id"}


def test_help_lists_the_commands(cli) -> None:
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("index", "ask", "route", "demo"):
        assert command in result.stdout


def test_index_builds_the_index_and_reports_what_it_holds(cli, shared_state_dir: Path) -> None:
    result = cli("index")
    assert result.returncode == 0, result.stderr
    assert "courses" in result.stdout and "FAQ entries" in result.stdout and "m3e-small" in result.stdout
    manifest = json.loads((shared_state_dir / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["count"] > 0 and manifest["model"].startswith("m3e-small@")


def test_ask_prints_the_answer_record_as_json(cli) -> None:
    result = cli("ask", "可以开发票吗", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert RECORD_FIELDS <= set(record)
    assert record["answer_id"] == "faq-invoice"
    assert record["matches"][0]["id"] == "faq-invoice" and record["matches"][0]["kind"] == "faq"


def test_route_skips_a_malformed_line_names_it_and_routes_the_rest(cli, tmp_path: Path) -> None:
    comments = tmp_path / "comments.jsonl"
    comments.write_text(
        '{"id": "c1", "text": "可以开发票吗"}\n'
        '{"id": "c2", "text": 这不是JSON}\n'
        '{"id": "c3", "text": "这课多少钱", "thread_id": "BV1xx411c7mD"}\n',
        encoding="utf-8",
    )
    decisions = tmp_path / "decisions.jsonl"
    result = cli("route", "--input", str(comments), "--output", str(decisions))
    assert result.returncode == 0, result.stderr
    assert f"{comments}:2: " in result.stderr and "invalid JSON" in result.stderr
    assert "skipped 1" in result.stderr
    records = [json.loads(line) for line in decisions.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["c1", "c3"]
    assert all(RECORD_FIELDS <= set(r) for r in records)
    assert records[0]["answer_id"] == "faq-invoice"
    assert records[1]["course_id"] == "py-101"


def test_broken_catalog_exits_2_with_a_one_line_error(cli, tmp_path: Path) -> None:
    catalog = tmp_path / "courses.yaml"
    catalog.write_text("courses:\n  - id: py-101\n    title: Python\n    price: 九十九\n    url: https://ke.example.com/py\n",
                       encoding="utf-8")
    result = cli("ask", "多少钱", "--catalog", str(catalog))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{catalog}:2:" in lines[0] and "price" in lines[0] and "九十九" in lines[0]
    assert "Traceback" not in result.stderr


def test_invalid_setting_in_the_environment_exits_2_naming_the_variable(cli) -> None:
    result = cli("index", env={"COURSEBOT_MATCHING__MIN_DENSE": "abc"})
    assert result.returncode == 2
    assert "COURSEBOT_MATCHING__MIN_DENSE" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- output: plain text, whole lines when piped (no model: these run in about a second) ------------------------

PIPED = {"COLUMNS": ""}  # no width from the environment: what a real pipe (`coursebot … | less`) gets


def test_help_and_errors_keep_the_config_section_names_they_mention(cli) -> None:
    help_ = cli("summary", "--help", env=PIPED)
    assert help_.returncode == 0, help_.stderr
    assert "(default: [summary] timezone, else [policy] timezone)" in help_.stdout
    error = cli("run", "--platform", "telegram", env=PIPED)
    assert error.returncode == 2
    assert error.stderr.strip() == ("error: telegram.token: not set; put it in COURSEBOT_TELEGRAM__TOKEN or under [telegram] "
                                    "in the secrets file")


def test_piped_output_is_never_wrapped(cli, tmp_path: Path) -> None:
    missing = tmp_path / ("a-long-directory-name-" * 5) / "comments-of-the-week.jsonl"
    result = cli("replay", "--input", str(missing), env=PIPED)
    assert result.returncode == 2
    assert result.stderr == f"error: {missing}: file not found\n"
    help_ = cli("route", "--help", env=PIPED)
    assert any(len(line) > 80 and "one JSON object per line: {id, text, ...}" in line for line in help_.stdout.splitlines())


def test_piped_handoffs_are_tab_separated_lines_with_each_comment_whole(cli, settings_factory) -> None:
    from bot.events import Event, Thread
    from bot.store import Store

    settings = settings_factory()
    comment = "老师请问这门课适合完全没有编程基础的文科生吗？[担心跟不上]\t另外有没有答疑群，群里老师多久回复一次呀"
    store = Store.open(settings)
    accepted = store.record_event(Event(platform="bilibili", event_id="c1", text=comment, author_id="42", author_name="小明",
                                        thread=Thread("BV1xx411c7mD", "Python 零基础入门第一课：安装与环境配置")))
    store.open_handoff(accepted.event_pk, "question the catalog can't answer: no answer above threshold [faq]")
    store.close()
    result = cli("handoffs", env=PIPED | {"COURSEBOT_STATE_DIR": str(settings.state_dir)})
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split("\t") == ["id", "state", "platform", "thread", "viewer", "comment", "reason"]
    assert row.split("\t")[3:] == ["Python 零基础入门第一课：安装与环境配置", "小明", " ".join(comment.split()),
                                   "question the catalog can't answer: no answer above threshold [faq]"]
