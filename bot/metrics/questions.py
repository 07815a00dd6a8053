"""Questions the bot could not answer, grouped by meaning so the creator reads "23 人问到「发票」" once
instead of 23 variants of "能开发票吗".

Identical texts are merged first; the most frequent distinct texts (at most `max_texts`, bounding the
encoder's work on a busy day) are embedded and clustered with average-linkage agglomerative clustering on
cosine distance, cut at `1 − similarity`. Each cluster is shown by its weighted medoid — the question most
similar to all the others, weighted by how often each was asked — and its most common topic keyword.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.metrics.rows import BOT_REPLY_ACTIONS, ViewerEvent
from retrieval.encoder import Encoder
from retrieval.text import normalize


@dataclass(frozen=True, slots=True)
class QuestionCluster:
    representative: str  # the question that stands for the cluster, as a viewer wrote it
    keyword: str | None  # the cluster's most common topic keyword, e.g. 发票
    viewers: int  # distinct people who asked (events without a known viewer count one each)
    questions: int
    examples: tuple[str, ...]  # other distinct phrasings, most frequent first


def unanswered_questions(events: Sequence[ViewerEvent]) -> list[ViewerEvent]:
    """Questions the bot did not answer itself (handed off, abstained or not yet decided)."""
    return [e for e in events if e.is_question and e.action not in BOT_REPLY_ACTIONS and e.text.strip()]


def _clusters(vectors: np.ndarray, similarity: float) -> np.ndarray:
    if len(vectors) == 1:
        return np.zeros(1, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=1.0 - similarity)
    return model.fit_predict(vectors)


def cluster_questions(events: Sequence[ViewerEvent], encoder: Encoder, *, similarity: float = 0.85, limit: int = 5,
                      max_texts: int = 400) -> list[QuestionCluster]:
    """The `limit` largest clusters of `events` (already filtered to unanswered questions)."""
    groups: dict[str, list[ViewerEvent]] = {}
    for event in events:
        key = normalize(event.text).plain or event.text.strip()
        groups.setdefault(key, []).append(event)
    if not groups:
        return []
    keys = sorted(groups, key=lambda k: -len(groups[k]))[:max_texts]  # stable: ties keep first-seen order
    vectors = np.asarray(encoder.encode(keys), dtype=np.float32)
    labels = _clusters(vectors, similarity)
    weights = np.array([len(groups[k]) for k in keys], dtype=np.float32)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(int(label), []).append(index)
    clusters = [_describe([keys[i] for i in idx], [groups[keys[i]] for i in idx], vectors[idx], weights[idx]) for idx in members.values()]
    clusters.sort(key=lambda c: (-c.viewers, -c.questions, c.representative))
    return clusters[:limit]


def _describe(keys: list[str], groups: list[list[ViewerEvent]], vectors: np.ndarray, weights: np.ndarray) -> QuestionCluster:
    centrality = (vectors @ vectors.T) @ weights
    order = sorted(range(len(keys)), key=lambda i: (-centrality[i], -weights[i], keys[i]))
    representative = groups[order[0]][0].text.strip()
    events = [e for group in groups for e in group]
    people = {e.viewer for e in events if e.viewer} | {f"#{e.id}" for e in events if not e.viewer}
    topics = Counter(t for e in events for t in set(e.topics))
    keyword = topics.most_common(1)[0][0] if topics else None
    by_count = sorted(range(len(keys)), key=lambda i: (-weights[i], keys[i]))
    examples = tuple(groups[i][0].text.strip() for i in by_count if i != order[0])[:3]
    return QuestionCluster(representative, keyword, len(people), len(events), examples)


def group_by_keyword(events: Sequence[ViewerEvent], *, limit: int = 5) -> list[QuestionCluster]:
    """Without an encoder: questions grouped by their first topic keyword (texts with none stand alone)."""
    groups: dict[str, list[ViewerEvent]] = {}
    for event in events:
        key = event.topics[0] if event.topics else f"\x00{normalize(event.text).plain}"
        groups.setdefault(key, []).append(event)
    clusters = []
    for key, members in groups.items():
        phrasings = Counter(e.text.strip() for e in members)
        texts = [text for text, _ in sorted(phrasings.items(), key=lambda item: (-item[1], item[0]))]
        people = {e.viewer for e in members if e.viewer} | {f"#{e.id}" for e in members if not e.viewer}
        keyword = None if key.startswith("\x00") else key
        clusters.append(QuestionCluster(texts[0], keyword, len(people), len(members), tuple(texts[1:4])))
    clusters.sort(key=lambda c: (-c.viewers, -c.questions, c.representative))
    return clusters[:limit]
