"""The `coursebot` command with the real model and the bundled config.

What only a process shows runs the installed console script in a subprocess (`cli_process`): the entry point,
one command that loads the model and the index from nothing, settings and secrets from the environment,
piped output, what is imported before an argument error, `--version`. Each such process that opens the catalog
imports torch and loads the model again (~8 s of CPU), so the rest runs the same typer app in this process
with the session's model (`cli`). All share the session state dir and work in any order: the first one builds
the index.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "faq.csv"  # any existing file
RECORD_FIELDS = {"id", "intent", "intent_confidence", "sentiment", "topics", "matches", "answer_id", "course_id"}


def test_help_lists_the_commands(cli_process) -> None:
    result = cli_process("--help")
    assert result.returncode == 0, result.stderr
    for command in ("index", "ask", "route", "demo"):
        assert command in result.stdout


def test_index_builds_the_index_and_reports_what_it_holds(cli, shared_state_dir: Path) -> None:
    result = cli("index")
    assert result.returncode == 0, result.stderr
    assert "courses" in result.stdout and "FAQ entries" in result.stdout and "m3e-small" in result.stdout
    manifest = json.loads((shared_state_dir / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["count"] > 0 and manifest["model"].startswith("m3e-small@")


def test_ask_prints_the_answer_record_as_json(cli_process) -> None:
    result = cli_process("ask", "可以开发票吗", "--json")
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


def test_invalid_setting_in_the_environment_exits_2_naming_the_variable(cli_process) -> None:
    result = cli_process("index", env={"COURSEBOT_MATCHING__MIN_DENSE": "abc"})
    assert result.returncode == 2
    assert "COURSEBOT_MATCHING__MIN_DENSE" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- output: plain text, whole lines when piped (no model: these run in about a second) ------------------------

PIPED = {"COLUMNS": ""}  # no width from the environment: what a real pipe (`coursebot … | less`) gets


def test_help_and_errors_keep_the_config_section_names_they_mention(cli_process) -> None:
    help_ = cli_process("summary", "--help", env=PIPED)
    assert help_.returncode == 0, help_.stderr
    assert "(default: [summary] timezone, else [policy] timezone)" in help_.stdout
    error = cli_process("run", "--platform", "telegram", env=PIPED)
    assert error.returncode == 2
    assert error.stderr.strip() == ("error: telegram.token: not set; put it in COURSEBOT_TELEGRAM__TOKEN or under [telegram] "
                                    "in the secrets file")


def test_piped_output_is_never_wrapped(cli_process, tmp_path: Path) -> None:
    missing = tmp_path / ("a-long-directory-name-" * 5) / "comments-of-the-week.jsonl"
    result = cli_process("replay", "--input", str(missing), env=PIPED)
    assert result.returncode == 2
    assert result.stderr == f"error: {missing}: file not found\n"
    help_ = cli_process("route", "--help", env=PIPED)
    assert any(len(line) > 80 and "one JSON object per line: {id, text, ...}" in line for line in help_.stdout.splitlines())


def test_piped_handoffs_are_tab_separated_lines_with_each_comment_whole(cli_process, settings_factory) -> None:
    from bot.events import Event, Thread
    from bot.store import Store

    settings = settings_factory()
    comment = "老师请问这门课适合完全没有编程基础的文科生吗？[担心跟不上]\t另外有没有答疑群，群里老师多久回复一次呀"
    store = Store.open(settings)
    accepted = store.record_event(Event(platform="bilibili", event_id="c1", text=comment, author_id="42", author_name="小明",
                                        thread=Thread("BV1xx411c7mD", "Python 零基础入门第一课：安装与环境配置")))
    store.open_handoff(accepted.event_pk, "question the catalog can't answer: no answer above threshold [faq]")
    store.close()
    result = cli_process("handoffs", env=PIPED | {"COURSEBOT_STATE_DIR": str(settings.state_dir)})
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split("\t") == ["id", "state", "platform", "thread", "viewer", "comment", "reason"]
    assert row.split("\t")[3:] == ["Python 零基础入门第一课：安装与环境配置", "小明", " ".join(comment.split()),
                                   "question the catalog can't answer: no answer above threshold [faq]"]


# -- arguments and files are checked before anything heavy loads -----------------------------------------------

# Run as the console script runs, then list what was imported: the model stack (torch, sentence-transformers)
# costs 10-15 s, so an argument or file error must come before it. Modules, not wall-clock time, are asserted.
# One process runs the cases one after another (each start costs a second of CPU): after every case it prints
# its exit code and the heavy modules imported so far, so the first case that imports one is the one named.
IMPORT_PROBE = """
import json, sys
heavy = ("torch", "sentence_transformers")
from bot.cli import app
for args in json.loads(sys.argv[1]):
    try:
        app(args, prog_name="coursebot")
        code = 0
    except SystemExit as exit:
        code = exit.code or 0
    print("probe:", json.dumps([code, [m for m in heavy if m in sys.modules]]), file=sys.stderr, flush=True)
"""


def _probe(cases: list[list[str]], cwd: Path) -> list[tuple[int, list[str], str]]:
    """`(exit code, stderr lines, heavy modules imported)` of each command line in `cases`, run in one new process."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")}
    env |= {"COURSEBOT_CONFIG": str(Path(__file__).resolve().parent.parent / "config" / "coursebot.toml"),
            "COURSEBOT_STATE_DIR": str(cwd / "state"), "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE, json.dumps(cases)], capture_output=True, text=True,
                            encoding="utf-8", env=env, cwd=cwd, timeout=300, check=False)
    results, messages = [], []
    for line in result.stderr.splitlines():
        if line.startswith("probe: "):
            code, heavy = json.loads(line.removeprefix("probe: "))
            results.append((code, messages, ",".join(heavy)))
            messages = []
        elif line.strip():
            messages.append(line)
    assert result.returncode == 0 and len(results) == len(cases), f"the probe stopped after {len(results)} case(s): {result.stderr}"
    return results


def test_argument_and_file_errors_come_before_the_model_loads(tmp_path: Path) -> None:
    missing = tmp_path / "nonexist.jsonl"
    cases = [
        (["route", "-i", str(missing)], f"{missing}: file not found"),
        (["replay", "-i", str(missing)], f"{missing}: file not found"),
        (["import", "-p", "douyin", "-i", str(missing)], f"{missing}: export file not found"),
        (["import", "-p", "weibo", "-i", str(DATA_FILE)], "--platform 'weibo': expected one of kuaishou, douyin, bilibili"),
        (["replay", "-i", str(DATA_FILE), "--clock", "later"], "--clock must be 'now' or 'event', got 'later'"),
        (["route", "-i", str(DATA_FILE), "-o", str(tmp_path / "no-such-dir" / "out.jsonl")], "no-such-dir not found"),
        (["ask", "多少钱", "--catalog", str(tmp_path / "courses.yaml")], f"{tmp_path / 'courses.yaml'}: file not found"),
        (["index", "--faq", str(tmp_path / "faq.yaml")], f"{tmp_path / 'faq.yaml'}: file not found"),
        (["summary", "--date", "2024-13-01"], "expected YYYY-MM-DD"),
        (["summary", "--format", "pdf"], "--format 'pdf': expected text, markdown or json"),
        (["summary", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["conversions", "import", "-i", str(tmp_path / "orders.csv")], f"{tmp_path / 'orders.csv'}: file not found"),
        (["run", "-p", "weibo"], "--platform 'weibo': expected one of telegram, bilibili, bilibili-live, douyin"),
        (["run", "-p", "telegram"], "telegram.token: not set"),
        (["run", "-p", "bilibili-live"], "bilibili_live.rooms is empty"),
        (["handoffs"], f"no coursebot database at {tmp_path / 'state' / 'coursebot.db'}"),
    ]
    for (args, expected), (code, messages, heavy) in zip(cases, _probe([args for args, _ in cases], tmp_path), strict=True):
        assert code == 2, (args, messages)
        assert len(messages) == 1 and messages[0].startswith("error: ") and expected in messages[0], (args, messages)
        assert heavy == "", f"{args}: imported {heavy} before failing"
    assert not (tmp_path / "state" / "coursebot.db").exists()


def test_a_row_number_no_database_can_hold_is_refused_as_an_argument(tmp_path: Path) -> None:
    huge = "9" * 30  # before: accepted, then OverflowError from the database driver with a traceback
    cases = [["handoff", "resend", huge], ["handoff", "resolve", "0"], ["labels", "wrong", huge], ["quarantine", "--delete", huge]]
    for args, (code, messages, heavy) in zip(cases, _probe(cases, tmp_path), strict=True):
        assert code == 2 and any(m.startswith("Error: Invalid value") for m in messages), (args, messages)
        assert heavy == "" and not any("Traceback" in m for m in messages), (args, messages)


def test_run_knows_the_platforms_the_adapters_serve() -> None:
    from bot.adapters.serve import PLATFORMS
    from bot.commands.platforms import RUN_PLATFORMS

    assert RUN_PLATFORMS == PLATFORMS


def test_version_is_printed_without_loading_anything(tmp_path: Path) -> None:
    from importlib.metadata import version

    assert _probe([["--version"]], tmp_path) == [(0, [], "")]
    import subprocess
    import sys

    printed = subprocess.run([sys.executable, "-m", "bot.cli", "--version"], capture_output=True, text=True, check=False)
    assert printed.stdout == f"coursebot {version('coursebot')}\n", printed.stderr


# -- the demo's database, and commands that only read one ------------------------------------------------------


def test_the_demo_prints_commands_that_work_as_printed(cli, shared_state_dir: Path, tmp_path: Path) -> None:
    import shlex
    import shutil

    state = tmp_path / "state"
    if (shared_state_dir / "index").is_dir():  # the session's index: the demo need not encode the catalog again
        shutil.copytree(shared_state_dir / "index", state / "index")
    demo = cli("demo", "--state-dir", str(state), env=PIPED, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.splitlines()
    commands = [line.strip() for line in lines[lines.index("What the demo left for you (its own database; your own is untouched):") + 1:]]
    assert [c.split()[:2] for c in commands] == [["coursebot", "handoffs"], ["coursebot", "summary"]]
    handed = [lines[i - 1].removeprefix("  💬 ") for i, line in enumerate(lines) if line.startswith("  🙋 to you")]
    assert handed

    listed = cli(*shlex.split(commands[0])[1:], env=PIPED, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [row.split("\t") for row in listed.stdout.splitlines()[1:]]
    assert len(rows) == min(len(handed), 50)
    assert {row[5] for row in rows} <= {" ".join(text.split()) for text in handed}

    summary = cli(*shlex.split(commands[1])[1:], env=PIPED, cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert "这一天没有新的评论" not in summary.stdout and "评论" in summary.stdout
    assert not (state / "coursebot.db").exists()  # the creator's own database was never created


def test_commands_that_read_a_database_never_create_one(cli, tmp_path: Path) -> None:
    state = tmp_path / "nothing-here"
    database = state / "coursebot.db"
    for args in (["handoffs"], ["handoff", "resolve", "1"], ["pause"], ["forget", "--viewer", "v_0123456789abcdef0123"],
                 ["summary", "--group-questions-by", "keywords"], ["summaries", "run", "--once"], ["db", "current"]):
        result = cli(*args, env=PIPED | {"COURSEBOT_STATE_DIR": str(state)})
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith(f"error: no coursebot database at {database}: `coursebot db upgrade` creates it"), args
        assert len(result.stderr.splitlines()) == 1
    assert not state.exists()
