"""Smoke tests of benchmarks/recommend.py's parts that need no model: the simulated audience and the labelled-set reader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from _audience import PERSONAS, REQUEST_BANK, catalog_infos, generate  # noqa: E402
from recommend import REQUESTS, Score, read_requests  # noqa: E402

CATALOG = REPO / "config" / "catalog.yaml"


@pytest.fixture(scope="module")
def catalog():
    return catalog_infos(CATALOG)


def test_the_same_seed_gives_the_same_audience_and_another_seed_another(catalog) -> None:
    first, again = generate(catalog, viewers=20, days=5, seed=7), generate(catalog, viewers=20, days=5, seed=7)
    other = generate(catalog, viewers=20, days=5, seed=8)
    assert first.steps and first.requests and first.next_click
    assert (first.steps, first.next_click, first.next_purchase) == (again.steps, again.next_click, again.next_purchase)
    assert first.steps != other.steps


def test_a_requests_next_click_and_purchase_are_the_viewers_first_after_it_on_another_course_than_the_videos(catalog) -> None:
    script = generate(catalog, viewers=20, days=5, seed=7)
    on_the_videos_course = 0
    for request in script.requests:
        for kind, labels in (("link", script.next_click), ("purchase", script.next_purchase)):
            later = [s for s in script.steps if s.viewer == request.viewer and s.kind == kind and s.at > request.at]
            on_the_videos_course += bool(later) and later[0].course == request.thread_course
            later = [s for s in later if s.course != request.thread_course]
            assert labels.get(request.id) == (later[0].course if later else None)
    assert on_the_videos_course  # the rule is exercised: some first clicks are on the video's own course


def test_requests_name_no_course_but_one_the_viewer_already_bought(catalog) -> None:
    """What would make the replay too easy: a request naming the course it is scored against."""
    script = generate(catalog, viewers=40, days=10, seed=3)
    names = {alias: c.id for c in catalog for alias in (c.title, *c.aliases)}
    bought: dict[str, set[str]] = {}
    entry = {v.id: {p.name: p for p in PERSONAS}[v.persona].path[: v.entry] for v in script.viewers}
    for step in script.steps:
        if step.kind == "purchase":
            bought.setdefault(step.viewer, set()).add(step.course)
        elif step.kind == "request":
            named = {course for alias, course in names.items() if alias in step.text}
            assert named <= bought.get(step.viewer, set()) | set(entry[step.viewer]), step.text
            if step.request_kind != "after":
                assert not named, step.text


def test_every_request_phrasing_fills_its_slots(catalog) -> None:
    script = generate(catalog, viewers=40, days=10, seed=3)
    assert {s.request_kind for s in script.requests} == set(REQUEST_BANK)
    assert not any("{" in s.text for s in script.steps)


def test_bad_labelled_lines_are_named_by_line_and_field_and_the_rest_are_kept(tmp_path: Path, catalog) -> None:
    good = {"text": "有没有推荐的课", "thread_title": "Python零基础第1课", "thread_course": "py-101", "relevant": ["py-data"]}
    lines = [json.dumps(good, ensure_ascii=False), "{not json", json.dumps({**good, "relevant": ["no-such-course"]}),
             json.dumps({**good, "thread_course": "nope"}), json.dumps({**good, "text": ""}), "",
             json.dumps({**good, "thread_course": None, "note": "no thread course"}, ensure_ascii=False)]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    items, errors = read_requests(path, {c.id for c in catalog})
    assert [i.line for i in items] == [1, 7]
    assert errors == ["requests.jsonl:2: not JSON (Expecting property name enclosed in double quotes)",
                      "requests.jsonl:3: field 'relevant': unknown course id 'no-such-course'",
                      "requests.jsonl:4: field 'thread_course': unknown course id 'nope'",
                      "requests.jsonl:5: field 'text': a non-empty string is required"]


def test_the_bundled_real_style_set_is_valid_and_large_enough(catalog) -> None:
    items, errors = read_requests(REQUESTS, {c.id for c in catalog})
    assert errors == []
    assert len(items) >= 60


def test_hit_at_k_and_mrr_count_the_first_relevant_rank() -> None:
    score = Score()
    score.add(["a", "b", "c"], {"a"})
    score.add(["x", "y", "b"], {"b", "z"})
    score.add(["x"], {"b"})
    score.add(["x", "y", "z", "b"], {"b"})
    assert (score.at(1), score.at(3)) == (1 / 4, 2 / 4)
    assert score.mrr == pytest.approx((1 + 1 / 3 + 1 / 4) / 4)
