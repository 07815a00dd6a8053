"""`coursebot labels export`: the comments whose label would teach the bot most, as a sheet to fill in.

A comment is worth labelling when the intent head is unsure of it (1 − confidence) and many waiting comments
are like it (cosine ≥ `SIMILAR`): one label then settles them all. The sheet skips comments that near-repeat
one already on it, so every row teaches something new.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.text import normalize

SIMILAR = 0.85  # m3e-small cosine at which two comments are taken for the same question or remark
SHEET_COLUMNS = ("id", "text", "bot_intent", "bot_confidence", "bot_sentiment", "similar_waiting", "intent", "sentiment", "faq_id",
                 "answer", "correct")


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    text: str
    intent: str
    confidence: float
    similar: int  # other waiting comments at cosine ≥ SIMILAR
    value: float  # (1 − confidence) × (1 + similar)
    sentiment: str = ""  # what the bot read, shown beside the empty `sentiment` column


def most_useful(vectors: np.ndarray, confidences: Sequence[float], n: int, *, similar: float = SIMILAR) -> list[tuple[int, int, float]]:
    """(position, similar count, value) of the `n` most useful comments, best first, none near-repeating another."""
    if len(vectors) == 0 or n <= 0:
        return []
    close = (vectors @ vectors.T) >= similar
    counts = close.sum(axis=1) - 1
    values = (1.0 - np.asarray(confidences, dtype=np.float64)) * (1 + counts)
    chosen: list[tuple[int, int, float]] = []
    taken = np.zeros(len(vectors), dtype=bool)
    for at in np.argsort(-values, kind="stable").tolist():
        if taken[at]:
            continue
        chosen.append((at, int(counts[at]), float(values[at])))
        taken |= close[at]
        if len(chosen) == n:
            break
    return chosen


def candidates(rows: Sequence[tuple[int, str, str, float] | tuple[int, str, str, float, str]], encoder, n: int) -> list[Candidate]:
    """`rows` as `Store.unlabelled_comments` gives them: (id, text, intent, confidence[, sentiment])."""
    texts = [normalize(row[1]).plain for row in rows]
    keep = [i for i, t in enumerate(texts) if t]
    if not keep:
        return []
    vectors = encoder.encode([texts[i] for i in keep])
    picked = most_useful(vectors, [rows[i][3] for i in keep], n)
    return [Candidate(*rows[keep[at]][:4], count, value, str(rows[keep[at]][4]) if len(rows[keep[at]]) > 4 else "")  # type: ignore[misc]
            for at, count, value in picked]


def write_sheet(path: Path, picked: Sequence[Candidate]) -> None:
    """CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese right) that `labels import` reads back."""
    with path.open("w", encoding="utf-8-sig", newline="") as sheet:
        writer = csv.writer(sheet)
        writer.writerow(SHEET_COLUMNS)
        for c in picked:
            writer.writerow([c.id, c.text, c.intent, f"{c.confidence:.2f}", c.sentiment, c.similar, "", "", "", "", ""])
