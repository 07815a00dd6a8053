"""Recommendations: the pure scoring core (retrieval/recommend.py) and the analyzer's ranking on the real model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bot.analysis import Analyzer
from bot.comments_io import decision_record
from bot.events import Event, Thread
from retrieval import recommend as recommend_module
from retrieval.recommend import (
    CourseFacts,
    ItemSimilarity,
    RecommendationQuery,
    RecommendationWeights,
    ViewerHistory,
    done_with,
    recommend,
    tag_affinity,
    wanted_budget,
    wanted_level,
)

# Five courses: 0 and 1 are what the comment is about, 2 is free, 3 advanced, 4 far from the comment.
FACTS = CourseFacts(("a", "b", "c", "d", "e"), np.array([0, 0, 0, 2, 1]), np.array([199.0, 99.0, 0.0, 399.0, 299.0]))
COMMENT = np.array([0.90, 0.88, 0.80, 0.82, 0.70], dtype=np.float32)


def _ids(ranked) -> list[str]:
    return [FACTS.ids[r.course] for r in ranked]


def _co_viewers(pairs: list[tuple[int, int]], copies: int) -> ItemSimilarity:
    """`copies` viewers for each pair of courses (i, j) they all clicked."""
    viewers, courses = [], []
    for n, (i, j) in enumerate(pairs * copies):
        viewers += [n, n]
        courses += [i, j]
    return ItemSimilarity.from_pairs(np.array(viewers), np.array(courses), len(FACTS.ids), min_support=3)


def test_cold_start_collaborative_signal_is_off_until_enough_viewers_share_courses():
    history = ViewerHistory(interactions={4: 1.0})  # the viewer bought nothing yet, clicked course e
    few = _co_viewers([(4, 3)], copies=5)  # five viewers clicked e and d: below min_supporting_viewers
    many = _co_viewers([(4, 3)], copies=40)
    generic = RecommendationQuery(np.full(5, 0.8, dtype=np.float32), specific=False)  # "有什么课推荐吗"
    content = _ids(recommend(generic, FACTS, k=5))
    assert _ids(recommend(generic, FACTS, history=history, similarity=few, k=5)) == content
    with_signal = recommend(generic, FACTS, history=history, similarity=many, k=5)
    assert _ids(with_signal)[0] == "d"
    assert any(r.code == "collaborative" and r.course == 4 for r in with_signal[0].reasons)


def test_pairs_fewer_viewers_share_than_min_support_are_no_evidence():
    similarity = _co_viewers([(0, 1)], copies=2)
    assert similarity.similarity.nnz == 0
    assert _co_viewers([(0, 1)], copies=3).similarity[0, 1] > 0


def test_a_large_catalogs_sparse_table_scores_as_a_small_catalogs_dense_one(monkeypatch):
    """Catalogs up to DENSE_COURSES courses keep the item-to-item table dense for speed; larger ones slice the sparse
    table. Both must give a viewer the same scores and the same "took X" course."""
    rng = np.random.default_rng(5)
    viewers, courses = rng.integers(0, 400, 4000), rng.integers(0, 12, 4000)
    dense = ItemSimilarity.from_pairs(viewers, courses, 12, min_support=3)
    monkeypatch.setattr(recommend_module, "DENSE_COURSES", 11)
    sparse_only = ItemSimilarity.from_pairs(viewers, courses, 12, min_support=3)
    seeds = {3: 1.0, 7: 2.0, 0: 0.5}
    (dense_scores, dense_best), (sparse_scores, sparse_best) = dense.scores(seeds), sparse_only.scores(seeds)
    assert dense_scores.any() and (dense_best >= 0).any()
    np.testing.assert_array_equal(dense_scores, sparse_scores)
    np.testing.assert_array_equal(dense_best, sparse_best)


def test_a_bought_course_is_never_recommended_unless_named():
    history = ViewerHistory(bought=frozenset({0}))
    assert "a" not in _ids(recommend(RecommendationQuery(COMMENT), FACTS, history=history, k=5))
    named = recommend(RecommendationQuery(COMMENT, named=0), FACTS, history=history, k=5)
    assert _ids(named)[0] == "a"


def test_a_course_just_shown_in_the_thread_is_not_repeated():
    first = _ids(recommend(RecommendationQuery(COMMENT), FACTS))[0]
    shown = ViewerHistory(shown=frozenset({FACTS.ids.index(first)}))
    assert first not in _ids(recommend(RecommendationQuery(COMMENT), FACTS, history=shown, k=5))


def test_level_and_budget_words_move_the_ranking():
    assert wanted_level("完全零基础有推荐的吗") == 0 and wanted_level("想进阶一下") == 1 and wanted_level("有推荐吗") is None
    assert wanted_budget("有免费的吗") == "free" and wanted_budget("学生党 便宜点的") == "cheap"
    free = recommend(RecommendationQuery(COMMENT, budget="free"), FACTS)
    assert _ids(free)[0] == "c" and any(r.code == "budget" for r in free[0].reasons)
    advanced = recommend(RecommendationQuery(COMMENT, level=1), FACTS)
    assert _ids(advanced)[0] == "d"


def test_the_threads_own_course_gives_way_when_another_is_asked_for():
    query = RecommendationQuery(COMMENT, thread_course=0, other=True)
    assert _ids(recommend(query, FACTS))[0] != "a"


def test_a_course_the_viewer_says_they_finished_is_not_recommended():
    finished = recommend(RecommendationQuery(COMMENT, done=frozenset({0})), FACTS, k=5)
    assert "a" not in _ids(finished) and _ids(finished)[0] == "b"


@pytest.mark.parametrize(("text", "name", "done"), [
    ("学完pandas了 下一步学啥", "pandas", True), ("pandas学完啦 想往机器学习方向走", "pandas", True),
    ("雅思出分了！还有啥推荐", "雅思", True), ("买过python入门 还有进阶的吗", "python入门", True),
    ("修图学的差不多了 想学画画", "修图", True), ("想学pandas 有推荐的课吗", "pandas", False),
    ("pandas课多少钱", "pandas", False), ("学完这个想学pandas", "pandas", False),
    ("雅思终于考完了 还有啥推荐", "雅思", True), ("听完理财入门 基金定投那个适合我吗", "理财入门", True),
    ("四级过了想冲雅思", "四级", True), ("学生党 除了ppt还有便宜点的办公课吗", "ppt", True),
    ("要考编 普通话之外还要准备啥", "普通话", True), ("大二想先把六级过了 有对应的课吗", "六级", False),
])
def test_done_with_reads_whether_a_named_course_is_finished(text: str, name: str, done: bool):
    start = text.index(name)
    assert done_with(text, start, start + len(name)) is done


def test_the_video_speaks_less_for_a_comment_that_names_its_own_topic():
    """A comment about course e (far from the video's) under course a's video: the thread pulls toward a's
    neighbours in full for a generic comment, at `thread_specific` of its weight for a specific one."""
    comment = np.array([0.80, 0.80, 0.80, 0.80, 0.87], dtype=np.float32)
    thread = np.array([0.95, 0.94, 0.80, 0.80, 0.80], dtype=np.float32)
    base = dict(thread=thread, thread_course=0)
    assert _ids(recommend(RecommendationQuery(comment, **base, specific=True), FACTS))[0] == "e"
    assert _ids(recommend(RecommendationQuery(comment, **base, specific=True), FACTS,
                          weights=RecommendationWeights(thread_specific=1.0)))[0] == "b"


def test_viewer_history_profile_pulls_towards_past_interests():
    profile = np.array([0.70, 0.70, 0.70, 0.70, 0.95], dtype=np.float32)  # the viewer always wrote about e
    flat = np.full(5, 0.8, dtype=np.float32)
    ranked = recommend(RecommendationQuery(flat, specific=False), FACTS, history=ViewerHistory(profile=profile))
    assert _ids(ranked)[0] == "e" and any(r.code == "history" for r in ranked[0].reasons)


def test_tag_affinity_weighs_rare_tags_over_common_ones():
    affinity = tag_affinity([["python", "零基础"], ["python", "数据分析"], ["剪映", "零基础"], ["吉他", "零基础"]])
    assert affinity[0, 2] < affinity[0, 1] < 1.0 and affinity[0, 0] == 0.0


def test_a_course_sharing_only_a_common_tag_is_barely_related():
    """Relative to the course's own tag weight, not to its best neighbour: the guitar course's best neighbour shares
    only 零基础, and that must not make it "closely related" (which once pulled every beginner course up)."""
    tags = [["吉他", "音乐", "零基础"], ["python", "零基础"], ["剪映", "零基础"], ["摄影", "零基础"], ["理财", "零基础"],
            ["python", "数据分析"], ["音乐", "乐理"]]
    affinity = tag_affinity(tags)
    assert affinity[0, 1] < 0.15 and affinity[0, 6] > 3 * affinity[0, 1]
    assert np.isclose(tag_affinity([["a", "b"], ["a", "b"], ["c"]])[0, 1], 1.0)  # same tags: fully related


# -- on the real model: the analyzer's recommendations ------------------------------------------------------------
def _recommend(analyzer: Analyzer, text: str, title: str | None):
    thread = Thread(id=f"title:{title}", title=title) if title else None
    return analyzer.analyze([Event(platform="cli", event_id="r", text=text, thread=thread)])[0]


@pytest.fixture(scope="module")
def without_thread_context(knowledge) -> Analyzer:
    settings = knowledge.settings.model_copy(deep=True)
    settings.recommend.use_thread_context = False
    return Analyzer(dataclasses.replace(knowledge, settings=settings))


def test_thread_context_changes_the_ranking(analyzer: Analyzer, without_thread_context: Analyzer):
    python, jianying = "Pandas数据清洗实战：10分钟搞定一份脏数据", "剪映手机剪辑入门：三分钟做出第一支vlog"
    with_python = _recommend(analyzer, "还有别的课推荐吗", python).match
    with_jianying = _recommend(analyzer, "还有别的课推荐吗", jianying).match
    assert with_python.recommendations[0].course_id != with_jianying.recommendations[0].course_id
    courses, common = analyzer.knowledge.catalog.courses, {"零基础", "免费", "进阶", "职场"}
    assert set(courses[with_python.recommendations[0].course_id].tags) & set(courses["py-data"].tags) - common  # the video's subject
    assert set(courses[with_jianying.recommendations[0].course_id].tags) & set(courses["jianying-101"].tags) - common
    assert "和这个视频的内容相关" in with_python.recommendations[0].reasons
    blind = [_recommend(without_thread_context, "还有别的课推荐吗", t).match.recommendations for t in (python, jianying)]
    assert blind[0] == blind[1]  # without the thread's words both videos get the same list


def test_recommendations_and_their_reasons_are_in_the_route_record(analyzer: Analyzer):
    analysis = _recommend(analyzer, "零基础有什么免费的课推荐吗", None)
    record = decision_record(analysis)
    assert record["answer_kind"] == "recommendation"
    top = record["recommendations"][0]
    assert top["course_id"] == record["course_id"]
    assert analyzer.knowledge.catalog.courses[top["course_id"]].price == 0
    assert "免费" in top["reasons"] and "适合零基础" in top["reasons"]


def test_ask_prints_the_recommendations_with_their_reasons(cli):
    result = cli("ask", "还有别的课推荐吗", "--thread-title", "Pandas数据清洗实战：10分钟搞定一份脏数据")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.split()[:1] in (["recommend"], ["2."], ["3."])]
    assert len(lines) == 3 and "1." in lines[0]
    assert "和这个视频的内容相关" in lines[0]


def test_requests_in_the_forms_viewers_use_get_a_recommendation(analyzer: Analyzer):
    """"免费的课有吗" (was taken for a price question) and "蹲一个高阶的课" (for a link request) ask for a course: they
    get a recommendation (issue 18: such requests got none)."""
    video = "剪映手机剪辑入门：三分钟做出第一支vlog"
    free = _recommend(analyzer, "免费的课有吗", video)
    assert (free.understanding.intent, free.match.answer_kind) == ("ask_recommendation", "recommendation")
    assert analyzer.knowledge.catalog.courses[free.match.course_id].price == 0
    advanced = _recommend(analyzer, "蹲一个高阶的课", video)
    assert (advanced.understanding.intent, advanced.match.answer_kind) == ("ask_recommendation", "recommendation")
    assert advanced.match.course_id != "jianying-101"  # not the beginner course the video is about


def test_a_course_named_as_finished_or_as_the_videos_own_is_not_what_a_request_gets(analyzer: Analyzer):
    """"学完pandas了 下一步学啥": the named course is where the viewer comes from (it used to come first, named);
    a request naming the video's own course under it is asking for another one."""
    finished = _recommend(analyzer, "pandas学完了 下一步学啥好", None).match
    assert finished.answer_kind == "recommendation" and finished.recommendations
    assert "py-data" not in [r.course_id for r in finished.recommendations]
    asked = _recommend(analyzer, "想学pandas 有推荐的课吗", None).match
    assert asked.recommendations[0].course_id == "py-data"  # named, not finished: it comes first
    ielts = Thread(id="v-ielts", title="雅思7分备考经验", course_id="ielts-7")
    under = analyzer.analyze([Event(platform="cli", event_id="r", text="雅思终于考完了 还有啥课推荐", thread=ielts)])[0].match
    assert under.recommendations and "ielts-7" not in [r.course_id for r in under.recommendations]
    context = analyzer.analyze([Event(platform="cli", event_id="r", text="雅思要考口语 有推荐的课吗", thread=ielts)])[0].match
    assert context.recommendations and context.recommendations[0].course_id != "ielts-7"
