"""`coursebot import`: platform exports (CSV/JSONL) → Events, columns by config, bad rows reported and skipped."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.importer import ExportSource, event_record, read_export
from bot.comments_io import BadLine, read_comments
from bot.config import ImportColumns
from retrieval.errors import InputError

KUAISHOU_CSV = """评论ID,评论内容,用户ID,用户昵称,作品ID,作品标题,评论时间
k1,零基础能学Python吗？,u1,小王,p100,Python入门第1课,2024-05-01 12:30:00
k2,多少钱,u2,小李,p100,Python入门第1课,2024/05/01 13:00
k3,,u3,空评论,p100,Python入门第1课,2024-05-01 13:05:00
k4,有优惠吗,u4,小赵,p100,Python入门第1课,昨天
k5,"老师讲得好，
想报名",u5,小周,p100,Python入门第1课,1714545600
k6,多出一格,u6,小孙,p100,Python入门第1课,2024-05-01 14:00:00,extra
"""


def _write(path: Path, text: str, encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _split(items: list) -> tuple[list, list[BadLine]]:
    return [i for i in items if not isinstance(i, BadLine)], [i for i in items if isinstance(i, BadLine)]


def test_a_kuaishou_csv_export_maps_its_chinese_headers(tmp_path: Path) -> None:
    events, bad = _split(list(read_export(_write(tmp_path / "ks.csv", KUAISHOU_CSV), "kuaishou")))
    assert [e.event_id for e in events] == ["k1", "k2", "k5"]
    first = events[0]
    assert (first.platform, first.text, first.author_id, first.author_name, first.kind) == (
        "kuaishou", "零基础能学Python吗？", "u1", "小王", "comment")
    assert (first.thread.id, first.thread.title) == ("p100", "Python入门第1课")
    assert first.created_at == datetime(2024, 5, 1, 4, 30, tzinfo=UTC)  # Beijing time in the export
    assert events[2].text == "老师讲得好，\n想报名" and events[2].created_at == datetime.fromtimestamp(1714545600, UTC)
    assert [(b.line, b.message.split(":")[0]) for b in bad] == [(4, "评论内容"), (5, "created_at"), (8, "8 cells, header has 7")]


def test_a_gbk_encoded_export_from_excel_is_read(tmp_path: Path) -> None:
    events, bad = _split(list(read_export(_write(tmp_path / "ks.csv", KUAISHOU_CSV, "gb18030"), "kuaishou")))
    assert events[0].text == "零基础能学Python吗？" and len(bad) == 3


def test_columns_can_be_named_in_the_config(tmp_path: Path) -> None:
    export = _write(tmp_path / "dy.csv", "编号,留言,视频\nd1,怎么报名,@v1\n")
    configured = ImportColumns(id="编号", text="留言", thread_id="视频")
    [event] = list(read_export(export, "douyin", configured))
    assert (event.platform, event.event_id, event.text, event.thread.id) == ("douyin", "d1", "怎么报名", "@v1")


def test_a_configured_column_missing_from_the_header_is_a_one_line_error(tmp_path: Path) -> None:
    export = _write(tmp_path / "dy.csv", "评论ID,评论内容\nd1,hi\n")
    with pytest.raises(InputError, match=r"dy.csv:1: imports.douyin.text: column '留言' is not in the header"):
        list(read_export(export, "douyin", ImportColumns(text="留言")))


def test_an_export_without_a_text_column_names_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"ks.csv:1: no text column: expected one of 评论内容"):
        list(read_export(_write(tmp_path / "ks.csv", "评论ID,作品ID\nk1,p1\n"), "kuaishou"))


def test_a_jsonl_export_skips_bad_lines_with_their_numbers(tmp_path: Path) -> None:
    lines = [
        json.dumps({"rpid": 123, "message": "有字幕吗", "mid": 9, "oid": 170001, "parent": 0, "ctime": 1714545600}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"rpid": 124, "mid": 9}),
        json.dumps({"rpid": 125, "message": "同问", "oid": 170001, "parent": 123, "ctime": 1714545700}),
    ]
    events, bad = _split(list(read_export(_write(tmp_path / "bili.jsonl", "\n".join(lines) + "\n"), "bilibili")))
    assert [(e.event_id, e.kind, e.parent_id) for e in events] == [("123", "comment", None), ("125", "reply", "123")]
    assert events[0].thread.id == "BV17x411w7KC"  # av170001: the same thread id the live adapter uses
    assert [b.line for b in bad] == [2, 3, 4]


def test_exported_lines_read_back_as_route_and_replay_comments(tmp_path: Path) -> None:
    events, _ = _split(list(read_export(_write(tmp_path / "ks.csv", KUAISHOU_CSV), "kuaishou")))
    jsonl = "".join(json.dumps(event_record(e), ensure_ascii=False) + "\n" for e in events).encode()
    back = [item for _, item in read_comments(io.BytesIO(jsonl))]
    assert not any(isinstance(b, BadLine) for b in back)
    assert [(b.event_id, b.platform, b.text, b.thread.id) for b in back] == [
        (e.event_id, "kuaishou", e.text, "p100") for e in events]


def test_an_unknown_platform_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected one of kuaishou, douyin, bilibili"):
        list(read_export(_write(tmp_path / "x.csv", KUAISHOU_CSV), "weibo"))


def test_cli_dry_run_prints_the_comments_and_reports_bad_rows(cli: Callable[..., subprocess.CompletedProcess[str]],
                                                              tmp_path: Path) -> None:
    export = _write(tmp_path / "ks.csv", KUAISHOU_CSV)
    result = cli("import", "--platform", "kuaishou", "--input", str(export), "--dry-run")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["k1", "k2", "k5"] and records[0]["thread_id"] == "p100"
    assert f"{export}:line 4: 评论内容: empty comment text" in result.stderr
    assert "read 3 comments, skipped 3 malformed row(s)" in result.stderr


@pytest.mark.model
async def test_importing_through_the_pipeline_records_decisions_once(analyzer, settings_factory, tmp_path: Path) -> None:
    from bot.runner import Runner, event_clock

    settings = settings_factory()
    settings.policy.dry_run = True  # what `coursebot import` does without --send
    export = _write(tmp_path / "ks.csv", KUAISHOU_CSV)
    counts = []
    for _ in range(2):  # importing the same file again decides nothing twice
        runner = Runner.open(settings, None, analyzer=analyzer, clock=event_clock)
        source = ExportSource(export, "kuaishou")
        decided: list = []
        await runner.run([source], until_exhausted=True, on_outcomes=decided.extend)
        counts.append((source.read, source.skipped, len(decided)))
        runner.store.close()
    assert counts == [(3, 3, 3), (3, 3, 0)]
    from bot.store.store import Store

    store = Store.open(settings)
    try:
        assert sum(store.outbox_counts().values()) == 0  # dry run: decisions recorded, nothing queued to send
        assert store.record_event(decided_event(export)).decided  # the imported comment is known and decided
    finally:
        store.close()


def decided_event(export: Path):
    return next(e for e in read_export(export, "kuaishou") if not isinstance(e, BadLine))
