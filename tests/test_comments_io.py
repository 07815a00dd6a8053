"""JSONL comments in, routing records out (bot/comments_io.py and the `route` batch loop), real model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.analysis import Analyzer
from bot.cli import route_file
from bot.comments_io import MAX_LINE_BYTES, BadLine, parse_comment, read_comments
from bot.events import Event

RECORD_FIELDS = {"id", "intent", "intent_confidence", "sentiment", "topics", "matches", "answer_id", "course_id"}


def jsonl(*objects: object) -> bytes:
    return b"".join(json.dumps(o, ensure_ascii=False).encode("utf-8") + b"\n" for o in objects)


MIXED = b"".join([
    jsonl({"id": "c1", "text": "可以开发票吗"}),                                  # 1 good
    b'{"id": "c2", "text": "unterminated\n',                                     # 2 invalid JSON
    b"\n",                                                                        # 3 blank: skipped silently
    jsonl({"id": "c4"}),                                                          # 4 missing text
    jsonl(["c5", "这课多少钱"]),                                                    # 5 not an object
    jsonl({"id": "c6", "text": 12345}),                                           # 6 text of the wrong type
    '{"id": "c7", "text": "这课多少钱"}\n'.encode("gbk"),                           # 7 not UTF-8
    jsonl({"id": "c8", "text": "长" * (MAX_LINE_BYTES // 3 + 10)}),              # 8 over-long line
    jsonl({"id": "c9", "text": "这课多少钱", "thread_id": "BV1xx411c7mD"}),        # 9 good
    jsonl({"id": True, "text": "id is a boolean"}),                               # 10 wrong id type
    jsonl({"id": "c11", "text": "hi", "kind": "tweet"}),                          # 11 unknown kind
    jsonl({"id": "c12", "text": "hi", "thread_id": ["BV1"]}),                     # 12 thread id of the wrong type
    b"   \t  \n",                                                                 # 13 whitespace: skipped silently
    jsonl({"id": 14, "text": "哈哈哈哈"}),                                          # 14 good (numeric id)
])
EXPECTED_BAD = {
    2: "invalid JSON",
    4: "missing field 'text'",
    5: "expected a JSON object, got list",
    6: "field 'text' must be a string",
    7: "not UTF-8",
    8: "over the 1,000,000-byte limit",
    10: "field 'id'",
    11: "field 'kind'",
    12: "field 'thread_id' must be a string",
}


def test_malformed_lines_are_reported_with_their_number_and_good_lines_are_read() -> None:
    items = list(read_comments(io.BytesIO(MIXED)))
    bad = {number: item for number, item in items if isinstance(item, BadLine)}
    good = [item for _, item in items if isinstance(item, Event)]
    assert set(bad) == set(EXPECTED_BAD)
    for number, fragment in EXPECTED_BAD.items():
        assert bad[number].line == number
        assert fragment in bad[number].message, (number, bad[number].message)
        assert str(bad[number]).startswith(f"line {number}: ") and "\n" not in str(bad[number])
    assert [e.event_id for e in good] == ["c1", "c9", "14"]


def test_byte_order_mark_on_the_first_line_is_accepted() -> None:
    items = list(read_comments(io.BytesIO(b"\xef\xbb\xbf" + jsonl({"id": "a", "text": "多少钱"}))))
    assert [(n, e.event_id) for n, e in items] == [(1, "a")]


def test_comment_fields_become_an_event_with_its_thread() -> None:
    event = parse_comment({
        "id": "c1", "text": "这课多少钱", "platform": "bilibili", "author": 42, "thread_id": "BV1", "thread_title": "Python第1课",
        "thread_course_id": "py-101", "kind": "reply", "parent_id": "c0", "extra": "kept",
    })
    assert (event.platform, event.event_id, event.text, event.kind, event.parent_id) == ("bilibili", "c1", "这课多少钱", "reply", "c0")
    assert event.author_id == "42"
    assert event.thread is not None
    assert (event.thread.id, event.thread.title, event.thread.course_id) == ("BV1", "Python第1课", "py-101")
    assert event.raw["extra"] == "kept"


def test_comment_with_only_a_thread_title_gets_a_thread_keyed_by_title() -> None:
    event = parse_comment({"id": "c1", "text": "多少钱", "thread_title": "剪映卡点教程"})
    assert event.thread is not None and event.thread.title == "剪映卡点教程" and event.thread.id == "title:剪映卡点教程"
    assert parse_comment({"id": "c2", "text": "多少钱"}).thread is None


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [({"text": "x"}, "missing field 'id'"), ({"id": "", "text": "x"}, "field 'id'"), ({"id": "a", "text": None}, "missing field 'text'"),
     ({"id": "a", "text": "x", "author": {"n": 1}}, "field 'author'")],
)
def test_invalid_comment_fields_are_named(obj: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_comment(obj)


# -- routing -----------------------------------------------------------------------------------------------------


def route(analyzer: Analyzer, data: bytes, batch_size: int = 2) -> tuple[list[dict], list[BadLine], tuple[int, int]]:
    """Route JSONL bytes; a batch of 2 by default so batches are cut between good and bad lines."""
    sink, reported = io.StringIO(), []
    counts = route_file(analyzer, io.BytesIO(data), sink, batch_size=batch_size, report=reported.append)
    return [json.loads(line) for line in sink.getvalue().splitlines()], reported, counts


def test_route_skips_malformed_lines_and_routes_the_rest(analyzer: Analyzer) -> None:
    records, reported, counts = route(analyzer, MIXED)
    assert counts == (3, len(EXPECTED_BAD))
    assert [bad.line for bad in reported] == sorted(EXPECTED_BAD)
    assert [r["id"] for r in records] == ["c1", "c9", "14"]
    by_id = {r["id"]: r for r in records}
    assert by_id["c1"]["answer_id"] == "faq-invoice"
    assert by_id["c9"]["course_id"] == "py-101"  # from the thread mapping in samples/threads.yaml
    assert by_id["14"]["answer_id"] is None


def test_route_records_have_the_documented_fields(analyzer: Analyzer) -> None:
    records, _, _ = route(analyzer, jsonl({"id": "a", "text": "可以开发票吗"}, {"id": "b", "text": "剪映课多少钱"},
                                          {"id": "c", "text": "😂😂😂"}))
    for record in records:
        assert RECORD_FIELDS <= set(record)
        assert isinstance(record["intent"], str) and 0 <= record["intent_confidence"] <= 1
        assert record["sentiment"] in {"positive", "neutral", "negative"}
        assert isinstance(record["topics"], list)
        for match in record["matches"]:
            assert {"id", "kind", "score"} <= set(match)
            assert match["kind"] in {"course", "faq"} and ":" not in match["id"]
            assert isinstance(match["score"], float)
    invoice, jianying, emoji = records
    assert invoice["matches"][0] == invoice["matches"][0] | {"id": "faq-invoice", "kind": "faq"}
    assert jianying["course_id"] == "jianying-101"
    assert emoji["matches"] == [] and emoji["answer_id"] is None and emoji["course_id"] is None


def test_route_uses_the_thread_course_given_in_the_input(analyzer: Analyzer) -> None:
    records, _, _ = route(analyzer, jsonl({"id": "a", "text": "这课多少钱", "thread_id": "v-new", "thread_course_id": "excel-pro"}))
    assert records[0]["course_id"] == "excel-pro"


def test_bundled_sample_comments_route_without_a_malformed_line(analyzer: Analyzer, repo_config_dir: Path) -> None:
    data = (repo_config_dir / "samples" / "comments.jsonl").read_bytes()
    records, reported, counts = route(analyzer, data, batch_size=256)
    assert reported == [] and counts == (200, 0)
    catalog = analyzer.knowledge.catalog
    assert all(r["answer_id"] is None or r["answer_id"] in catalog.faq for r in records)
    assert all(r["course_id"] is None or r["course_id"] in catalog.courses for r in records)
