"""Which FAQ entry a comment is closest to, so the creator can save their answer as another phrasing of it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.analysis import Analyzer
from retrieval.text import normalize


@dataclass(frozen=True, slots=True)
class Suggestion:
    faq_id: str
    question: str
    cosine: float  # dense cosine between the comment and the entry's closest phrasing
    matched: str  # that phrasing


def closest_faq(analyzer: Analyzer, text: str) -> Suggestion | None:
    """The FAQ entry (creator-added ones included) whose phrasing is closest to `text` in embedding space."""
    knowledge = analyzer.knowledge
    plain = normalize(text).plain
    if not plain:
        return None
    hits = knowledge.searcher.search(knowledge.encoder.encode([plain])[0], knowledge.segmenter.terms(plain), k=1,
                                     kinds={"faq"}, mode="dense")
    if not hits:
        return None
    faq_id = hits[0].id.split(":", 1)[1]
    return Suggestion(faq_id, knowledge.catalog.faq[faq_id].question, hits[0].dense, hits[0].matched)
