"""Hybrid search (retrieval/search.py) over the bundled catalog with the real model: BM25 + dense, fused (convex or RRF)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.knowledge import Knowledge
from retrieval.index import VectorIndex
from retrieval.search import (
    RRF_K,
    AbstainThreshold,
    Candidates,
    Document,
    Hit,
    HybridSearcher,
    LexicalIndex,
    calibrate_threshold,
    lexical_informativeness,
    recalibrate_threshold,
)
from retrieval.text import normalize


def search(knowledge: Knowledge, text: str, **options) -> list[Hit]:
    plain = normalize(text).plain
    vector = knowledge.encoder.encode([plain])[0]
    return knowledge.searcher.search(vector, knowledge.segmenter.terms(plain), **options)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("可以开发票吗", "faq:faq-invoice"),
        ("能退款吗", "faq:faq-refund"),
        ("可以開發票嗎", "faq:faq-invoice"),  # traditional characters
        ("学完有证书吗", "faq:faq-certificate"),
    ],
)
def test_hybrid_search_ranks_the_faq_entry_first(knowledge: Knowledge, question: str, expected: str) -> None:
    hits = search(knowledge, question, k=3)
    assert hits[0].id == expected
    assert hits[0].kind == "faq"
    assert hits[0].dense > 0.9 and hits[0].bm25 > 0 and hits[0].fused > 0


def test_course_title_finds_the_course(knowledge: Knowledge) -> None:
    hits = search(knowledge, "Python零基础入门到实战", k=3, kinds={"course"})
    assert hits[0].id == "course:py-101" and hits[0].course_id == "py-101"


def test_hybrid_hits_carry_dense_bm25_and_fused_scores(knowledge: Knowledge) -> None:
    hits = search(knowledge, "剪映课收费吗", k=5)
    assert len(hits) == 5
    assert len({h.id for h in hits}) == 5  # one hit per document, not per phrasing
    assert [h.fused for h in hits] == sorted((h.fused for h in hits), reverse=True)
    assert any(h.dense > 0 and h.bm25 > 0 for h in hits)
    for hit in hits:
        document = knowledge.searcher.documents[hit.id]
        assert hit.kind == document.kind and hit.course_id == document.course_id
        assert hit.matched == "" or hit.matched in document.phrasings


def test_rrf_fused_score_is_the_reciprocal_rank_fusion_of_both_rankings(knowledge: Knowledge) -> None:
    question = "买了课不满意能退钱吗"
    dense_ranking = [h.id for h in search(knowledge, question, k=50, mode="dense")]
    bm25_ranking = [h.id for h in search(knowledge, question, k=50, mode="bm25")]
    for hit in search(knowledge, question, k=5, fusion="rrf"):
        expected = sum(1 / (RRF_K + ranking.index(hit.id) + 1) for ranking in (dense_ranking, bm25_ranking) if hit.id in ranking)
        assert hit.fused == pytest.approx(expected, abs=2e-5)


def test_convex_fused_score_averages_min_max_dense_and_max_scaled_bm25_weighted_by_informativeness(knowledge: Knowledge) -> None:
    assert knowledge.searcher.fusion == "convex"  # the default
    question = "买了课不满意能退钱吗"
    dense = {h.id: h.dense for h in search(knowledge, question, k=1000, mode="dense")}
    bm25 = {h.id: h.bm25 for h in search(knowledge, question, k=1000, mode="bm25")}
    low, high = min(dense.values()), max(dense.values())
    assert knowledge.searcher.strong_bm25 == knowledge.settings.matching.min_bm25 > 0
    best = max(*bm25.values(), knowledge.searcher.strong_bm25)
    # BM25's half shrinks by how little its best match stands above the one at the reference rank.
    informativeness = lexical_informativeness(np.array(sorted(bm25.values(), reverse=True)))
    assert 0 < informativeness < 1  # "吗" alone matches more than ten entries here
    hits = search(knowledge, question, k=5)
    assert hits[0].id == "faq:faq-refund"
    for hit in hits:
        expected = (dense.get(hit.id, low) - low) / (high - low) / 2 + informativeness * bm25.get(hit.id, 0.0) / best / 2
        assert hit.fused == pytest.approx(expected, abs=1e-3)  # hits carry scores rounded to 4 places


def test_weak_near_equal_bm25_scores_do_not_outrank_a_clearly_better_dense_match() -> None:
    # A comment that shares only a question word (吗) with every FAQ entry gets near-equal, tiny BM25 scores.
    # Reciprocal-rank fusion weighs the first BM25 rank like a strong match and lets it beat the best
    # dense match; convex fusion lets such scores only break near-ties.
    docs = [Document(f"faq:{name}", "faq", name, (name,)) for name in ("a", "b", "c", "d")]
    searcher = HybridSearcher(docs, VectorIndex("none", 4), LexicalIndex.build([d.id for d in docs], [["x"]] * 4))
    candidates = Candidates(
        dense_docs=np.array([0, 1, 2, 3]), dense_scores=np.array([0.90, 0.85, 0.84, 0.10]), dense_items=np.array([0, 1, 2, 3]),
        lexical_docs=np.array([1, 2, 0]), lexical_scores=np.array([0.42, 0.41, 0.40]),
    )
    assert searcher.rank(candidates, k=1, fusion="rrf")[0].id == "faq:b"
    assert searcher.rank(candidates, k=1)[0].id == "faq:a"
    # A clearly stronger lexical match still wins over a slightly better cosine.
    strong = Candidates(
        dense_docs=np.array([0, 1, 2, 3]), dense_scores=np.array([0.90, 0.88, 0.84, 0.10]), dense_items=np.array([0, 1, 2, 3]),
        lexical_docs=np.array([1, 0]), lexical_scores=np.array([5.0, 0.4]),
    )
    assert searcher.rank(strong, k=1)[0].id == "faq:b"


def test_a_weak_best_bm25_match_is_not_scaled_up_to_a_strong_one() -> None:
    # "我学会计的 一点代码都没碰过 跟得上吗": its best lexical match shares two common words with the comment
    # (BM25 1.7); max-scaling alone gives that the whole lexical half and outvotes a clearly better cosine.
    docs = [Document(f"faq:{name}", "faq", name, (name,)) for name in ("zero-basics", "version", "other")]
    lexical = LexicalIndex.build([d.id for d in docs], [["x"]] * 3)
    candidates = Candidates(
        dense_docs=np.array([0, 1, 2]), dense_scores=np.array([0.86, 0.75, 0.68]), dense_items=np.array([0, 1, 2]),
        lexical_docs=np.array([1, 0]), lexical_scores=np.array([1.73, 0.41]),
    )
    plain = HybridSearcher(docs, VectorIndex("none", 4), lexical)
    assert plain.rank(candidates, k=1)[0].id == "faq:version"
    floored = HybridSearcher(docs, VectorIndex("none", 4), lexical, strong_bm25=3.0)
    top = floored.rank(candidates, k=1)[0]
    assert top.id == "faq:zero-basics"
    assert top.fused == pytest.approx(0.5 + 0.41 / 3.0 / 2, abs=1e-4)
    # A best match above the bar is scaled as before: the strong lexical match still wins.
    strong = Candidates(
        dense_docs=candidates.dense_docs, dense_scores=candidates.dense_scores, dense_items=candidates.dense_items,
        lexical_docs=np.array([1, 0]), lexical_scores=np.array([6.0, 0.41]),
    )
    assert floored.rank(strong, k=1)[0].id == "faq:version"


def test_dense_only_search_has_no_bm25_scores(knowledge: Knowledge) -> None:
    hits = search(knowledge, "可以开发票吗", k=5, mode="dense")
    assert hits[0].id == "faq:faq-invoice"
    assert all(h.bm25 == 0 and h.dense > 0 for h in hits)
    assert [h.dense for h in hits] == sorted((h.dense for h in hits), reverse=True)


def test_bm25_only_search_has_no_dense_scores(knowledge: Knowledge) -> None:
    hits = search(knowledge, "可以开发票吗", k=5, mode="bm25")
    assert hits[0].id == "faq:faq-invoice"
    assert all(h.dense == 0 and h.bm25 > 0 for h in hits)
    assert [h.bm25 for h in hits] == sorted((h.bm25 for h in hits), reverse=True)


def test_bm25_finds_nothing_for_words_no_document_contains(knowledge: Knowledge) -> None:
    assert search(knowledge, "哈哈哈", k=5, mode="bm25") == []


def test_search_restricted_to_courses_returns_only_courses(knowledge: Knowledge) -> None:
    hits = search(knowledge, "可以开发票吗", k=10, kinds={"course"})
    assert hits and all(h.kind == "course" for h in hits)


def test_search_restricted_to_one_course_returns_only_its_documents(knowledge: Knowledge) -> None:
    hits = search(knowledge, "多少钱", k=10, course_ids={"py-101"})
    assert hits and all(h.course_id == "py-101" for h in hits)
    assert {h.kind for h in hits} <= {"course", "faq"}


def test_search_restricted_to_a_course_and_general_faq_never_returns_another_courses_faq(knowledge: Knowledge) -> None:
    hits = search(knowledge, "需要数学基础吗", k=20, kinds={"faq"}, course_ids={"jianying-101", None})
    assert hits
    assert all(h.kind == "faq" and h.course_id in {"jianying-101", None} for h in hits)
    assert "faq:faq-py101-zero" not in {h.id for h in hits}  # the best unrestricted match, about py-101
    assert search(knowledge, "需要数学基础吗", k=1, kinds={"faq"})[0].id == "faq:faq-py101-zero"


def test_a_batch_of_queries_is_ranked_as_each_query_searched_alone(knowledge: Knowledge) -> None:
    searcher = knowledge.searcher
    texts = [normalize(t).plain for t in ("剪映课收费吗", "能退款吗", "考研英语怎么复习", "哈哈哈哈")]
    found = searcher.candidates(knowledge.encoder.encode(texts), [knowledge.segmenter.terms(t) for t in texts])
    for text, candidates in zip(texts, found):
        for options in ({}, {"kinds": {"faq"}}, {"kinds": {"course"}, "mode": "dense"}):
            alone = search(knowledge, text, k=5, **options)
            batched = searcher.rank(candidates, k=5, **options)
            assert [h.id for h in batched] == [h.id for h in alone]
            assert [h.dense for h in batched] == pytest.approx([h.dense for h in alone], abs=1e-3)


def test_a_restricted_ranking_reaches_documents_below_the_unrestricted_depth(knowledge: Knowledge) -> None:
    # Fusion sees the top `depth` documents of a ranking; candidates are looked up 8× deeper, so the FAQ of a
    # course the query is not about (excel-pro, not Python) is still found when the search is restricted to it.
    shallow = HybridSearcher(list(knowledge.searcher.documents.values()), knowledge.searcher.vectors, knowledge.searcher.lexical, depth=3)
    plain = normalize("Python零基础能学吗").plain
    vector = knowledge.encoder.encode([plain])[0]
    unrestricted = {h.id for h in shallow.search(vector, knowledge.segmenter.terms(plain), k=3, mode="dense")}
    restricted = shallow.search(vector, knowledge.segmenter.terms(plain), k=3, kinds={"faq"}, course_ids={"excel-pro"}, mode="dense")
    assert restricted and not unrestricted & {h.id for h in restricted}
    assert {knowledge.searcher.documents[h.id].course_id for h in restricted} == {"excel-pro"}


def test_k_limits_the_number_of_hits(knowledge: Knowledge) -> None:
    assert len(search(knowledge, "可以开发票吗", k=1)) == 1
    assert len(search(knowledge, "可以开发票吗", k=7)) == 7


# -- the abstain threshold ---------------------------------------------------------------------------------------


def hit(dense: float, bm25: float) -> Hit:
    return Hit(id="faq:x", kind="faq", course_id=None, dense=dense, bm25=bm25, fused=0.03)


def test_threshold_abstains_without_a_hit_or_below_the_dense_cut() -> None:
    threshold = AbstainThreshold(min_dense=0.8, min_dense_with_terms=0.72, min_bm25=3.0)
    assert not threshold.accepts(None)
    assert not threshold.accepts(hit(0.79, 0.0))
    assert threshold.accepts(hit(0.80, 0.0))


def test_threshold_accepts_a_lower_dense_score_only_with_strong_term_overlap() -> None:
    threshold = AbstainThreshold(min_dense=0.8, min_dense_with_terms=0.72, min_bm25=3.0)
    assert threshold.accepts(hit(0.75, 3.5))
    assert not threshold.accepts(hit(0.75, 2.9))
    assert not threshold.accepts(hit(0.70, 9.0))


def test_calibrated_threshold_rejects_the_required_share_of_negatives() -> None:
    negatives = [i / 100 for i in range(40, 80)]  # 0.40 … 0.79, 40 comments that must get no answer
    positives = [0.85, 0.9, 0.95]
    cut = calibrate_threshold(positives, negatives, min_negative_rejection=0.95)
    rejected = sum(score < cut for score in negatives) / len(negatives)
    assert rejected >= 0.95
    assert all(score >= cut for score in positives)
    assert calibrate_threshold(positives, negatives, min_negative_rejection=1.0) > max(negatives)


def test_calibration_without_negatives_keeps_every_positive() -> None:
    assert calibrate_threshold([0.83, 0.9], []) == 0.83


def test_enough_wrong_answers_just_above_the_shipped_cut_tighten_it_past_them() -> None:
    feedback = [(0.84 + i / 1000, False) for i in range(8)] + [(0.90 + i / 1000, True) for i in range(40)]
    result = recalibrate_threshold(0.84, feedback, target_precision=0.97)
    assert result.source == "tightened" and 0.846 < result.cut <= 0.90
    kept = [ok for d, ok in feedback if d >= result.cut]
    assert sum(kept) / len(kept) >= 0.97 and result.wrong == 8 and result.reviewed == 48


def test_a_handful_of_wrong_answers_does_not_move_the_cut() -> None:
    feedback = [(0.845, False), (0.85, False), (0.86, False), (0.87, True)]
    assert recalibrate_threshold(0.84, feedback).cut == 0.84
    assert recalibrate_threshold(0.84, feedback).source == "shipped"


def test_confirmed_answers_never_loosen_the_cut_until_there_are_enough_near_it() -> None:
    below = [(0.79 + i / 1000, True) for i in range(40)]  # 0.790 … 0.829, all right
    far = [(0.95, True)] * 59
    assert recalibrate_threshold(0.84, below + far).cut == 0.84  # 99 reviewed: not enough
    assert recalibrate_threshold(0.84, below[:20] + far * 2).cut == 0.84  # 138 reviewed, only 20 near the cut
    enough = recalibrate_threshold(0.84, below + far + [(0.95, True)])
    assert enough.source == "recalibrated" and enough.cut == 0.79
    assert recalibrate_threshold(0.84, [(0.845, True)] * 200).cut == 0.84  # all right, none below: no reason to move


def test_recalibration_stops_where_the_precision_bound_fails_and_never_below_the_floor() -> None:
    wrong_low = [(0.80 + i / 1000, i % 2 == 0) for i in range(20)]  # half wrong below 0.82
    right = [(0.82 + i / 1000, True) for i in range(100)]
    result = recalibrate_threshold(0.84, wrong_low + right)
    assert result.source == "recalibrated" and 0.81 < result.cut <= 0.82
    assert recalibrate_threshold(0.84, [(0.50, True)] * 200, min_near=0).cut == 0.70


def test_wrong_replies_to_near_verbatim_questions_do_not_raise_the_cut_past_the_ceiling() -> None:
    result = recalibrate_threshold(0.84, [(1.0, False)] * 6, ceiling=0.95)
    assert result.source == "tightened" and result.cut == 0.95


def test_bm25_order_among_many_equally_matching_entries_does_not_outvote_the_dense_ranking() -> None:
    # A bank of near-duplicate questions (花呗/借呗): a dozen entries share the comment's words about equally, so
    # their BM25 order says little; the real paraphrase is the best dense match and must stay first.
    docs = [Document(f"faq:q{i}", "faq", f"q{i}", (f"q{i}",)) for i in range(12)]
    searcher = HybridSearcher(docs, VectorIndex("none", 4), LexicalIndex.build([d.id for d in docs], [["x"]] * 12), strong_bm25=3.0)
    lexical = np.array([5.3, 5.1, 5.0, 4.9, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2, 4.1])
    candidates = Candidates(
        dense_docs=np.arange(12), dense_items=np.arange(12),
        dense_scores=np.array([0.95, 0.945, 0.94, 0.935, 0.93, 0.925, 0.92, 0.915, 0.91, 0.905, 0.90, 0.60]),
        lexical_docs=np.array([3, 4, 5, 6, 0, 1, 2, 7, 8, 9, 10, 11]), lexical_scores=lexical,
    )
    assert searcher.rank(candidates, k=1, mode="dense")[0].id == "faq:q0"
    assert searcher.rank(candidates, k=1)[0].id == "faq:q0"
    assert lexical_informativeness(lexical) == pytest.approx(1 - 4.3 / 5.3)
    # The same best lexical match standing far above the rest still wins, as in a creator's own FAQ.
    standout = Candidates(
        dense_docs=candidates.dense_docs, dense_scores=candidates.dense_scores, dense_items=candidates.dense_items,
        lexical_docs=candidates.lexical_docs, lexical_scores=np.array([5.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]),
    )
    assert searcher.rank(standout, k=1)[0].id == "faq:q3"


def test_fewer_lexical_matches_than_the_reference_rank_keep_the_full_bm25_half() -> None:
    assert lexical_informativeness(np.array([4.0, 3.9, 3.8])) == 1.0
    assert lexical_informativeness(np.array([])) == 0.0


def test_a_hit_with_another_answer_within_the_margin_is_a_close_rival() -> None:
    def hit(name: str, dense: float) -> Hit:
        return Hit(id=f"faq:{name}", kind="faq", course_id=None, dense=dense, bm25=0.0, fused=dense)

    threshold = AbstainThreshold(min_dense=0.84, min_margin=0.05)
    answers = {"faq:a": "refund", "faq:a2": "refund", "faq:b": "invoice", "faq:c": "certificate"}
    # a2 gives a's answer: no rival, however close; b is the closest hit with another answer.
    assert threshold.close_rival([hit("a", 0.92), hit("a2", 0.92), hit("c", 0.86), hit("b", 0.89)], answers).id == "faq:b"
    assert threshold.close_rival([hit("a", 0.92), hit("a2", 0.92), hit("b", 0.86)], answers) is None
    assert threshold.close_rival([hit("a", 0.92), hit("a2", 0.90)], answers) is None
    # Ranked first by fusion, but another answer has the higher cosine: too close as well.
    assert threshold.close_rival([hit("a", 0.86), hit("b", 0.90)], answers).id == "faq:b"
    # A close hit the bot would not answer with on its own is no rival.
    assert threshold.close_rival([hit("a", 0.85), hit("b", 0.83)], answers) is None
    assert AbstainThreshold(min_margin=0.0).close_rival([hit("a", 0.90), hit("b", 0.90)], answers) is None
    assert threshold.close_rival([], answers) is None
