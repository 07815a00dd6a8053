"""Unanswered questions grouped by meaning with the real m3e-small model (the session `encoder`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.metrics.questions import cluster_questions, unanswered_questions
from bot.metrics.rows import ViewerEvent

pytestmark = pytest.mark.model
AT = datetime(2024, 6, 1, 3, tzinfo=UTC)


def _question(index: int, text: str, viewer: str, topics: tuple[str, ...] = (), action: str = "handoff") -> ViewerEvent:
    return ViewerEvent(index, "bilibili", "comment", AT, viewer, "BV1", text, "question_other", "neutral", topics, action)


def test_paraphrases_of_one_question_form_one_cluster_with_the_most_asked_phrasing(encoder) -> None:
    invoice = ["可以开发票吗", "可以开发票吗", "能开发票吗？", "能开具发票吗", "报销需要发票，能开吗", "发票怎么开"]
    refund = ["不满意可以退款吗", "能退款吗", "怎么申请退款"]
    events = [_question(i, text, f"v{i}", ("发票",)) for i, text in enumerate(invoice)]
    events += [_question(100 + i, text, f"w{i}", ("退款",)) for i, text in enumerate(refund)]
    events.append(_question(200, "这个课有字幕吗", "x0"))
    events.append(_question(300, "课程多少钱", "y0", action="reply_public"))  # answered by the bot: not listed
    clusters = cluster_questions(unanswered_questions(events), encoder)  # default similarity 0.85
    top = clusters[0]
    assert top.keyword == "发票" and top.viewers == 6 and top.questions == 6
    assert top.representative == "可以开发票吗"
    assert clusters[1].keyword == "退款" and clusters[1].viewers == 3
    assert all("多少钱" not in c.representative for c in clusters)
    assert sum(c.questions for c in clusters) == 10


def test_clustering_is_bounded_by_max_texts(encoder) -> None:
    events = [_question(i, f"第{i}章的作业怎么提交", f"v{i}") for i in range(30)]
    clusters = cluster_questions(events, encoder, similarity=0.99, max_texts=5, limit=50)
    assert sum(c.questions for c in clusters) == 5
