"""Learning curve: intent macro-F1 and complaint recall on real comments after 0…400 creator labels.

The labels go through the same path as the creator's: one `relabel` correction per comment in a real store
(SQLite), picked up by the live analyzer's Teacher before it analyses (bot/learning). Each fold holds back a
quarter of the dev set's comments for scoring and labels comments from the rest, adding labels as a creator
would (the 100 include the first 50). Reads the dev set by path; nothing of it is copied into the repo.

    python benchmarks/learning.py [--data ../shared/data/dev/intent_dev.jsonl] [--folds 3] [--weights 1 3 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

from _common import REPO, Row, print_table
from sklearn.metrics import f1_score, recall_score

import bot.learning.teacher as teaching
from bot.analysis import Analyzer
from bot.config import load_settings
from bot.events import Event
from bot.knowledge import Knowledge
from bot.privacy import Pseudonymizer
from bot.store import Store
from retrieval.encoder import CachedEncoder, SentenceTransformerEncoder
from retrieval.text import normalize

DEFAULT_DATA = REPO.parent / "shared" / "data" / "dev" / "intent_dev.jsonl"


def load_comments(path: Path) -> list[dict]:
    """Real comments only (the README's `proxy` rows are chatbot turns and SMS), one row per distinct text."""
    rows, seen = [], set()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        plain = normalize(row["text"]).plain
        if "proxy" in (row.get("note") or "") or not plain or plain in seen:
            continue
        seen.add(plain)
        rows.append(row)
    return rows


def curve(analyzer: Analyzer, rows: list[dict], sizes: list[int], folds: int, seed: int) -> dict[int, list[tuple[float, float]]]:
    """(macro-F1, complaint recall) per number of labels, one pair per fold."""
    scores: dict[int, list[tuple[float, float]]] = {n: [] for n in sizes}
    for fold in range(folds):
        order = np.random.default_rng(seed + fold).permutation(len(rows))
        held, pool = order[: len(rows) // 4], order[len(rows) // 4 :]
        events = [Event(platform="bench", event_id=rows[i]["id"], text=rows[i]["text"]) for i in held]
        truth = [rows[i]["intent"] for i in held]
        store = Store.from_url(f"sqlite:///{tempfile.mkdtemp()}/coursebot.db", Pseudonymizer(b"k" * 32))
        teacher = teaching.teacher_for(analyzer)
        teacher.version = -1  # a new store: start from the shipped prototypes
        given = 0
        for n in sizes:
            for i in pool[given:n]:
                # What `coursebot labels relabel` / `labels import` store for a comment the creator labels.
                store.record_correction("relabel", "benchmark", text=rows[i]["text"], payload={"intent": rows[i]["intent"]})
            given = max(given, n)
            teacher.refresh(store)
            predicted = [a.understanding.intent for a in analyzer.analyze(events)]
            labels = sorted(set(truth))
            scores[n].append((float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
                              float(recall_score(truth, predicted, labels=["complaint"], average="macro", zero_division=0))))
        store.close()
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="intent_dev.jsonl (id, text, intent, note)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 50, 100, 200, 400])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--weights", type=float, nargs="+", default=[teaching.CREATOR_LABEL_WEIGHT],
                        help="weight of one creator label against one prototype (the first is the baseline)")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data}: not found (the dev set is not part of the repository; pass --data)")
    rows = load_comments(args.data)
    settings = load_settings(REPO / "config" / "coursebot.toml", state_dir=tempfile.mkdtemp())
    analyzer = Analyzer(Knowledge.open(settings, CachedEncoder(SentenceTransformerEncoder(settings.model.path), maxsize=100_000)))
    sizes = [n for n in args.sizes if n <= len(rows) - len(rows) // 4]
    table = []
    baseline: dict[int, float] = {}
    for weight in args.weights:
        teaching.CREATOR_LABEL_WEIGHT = weight
        for n, pairs in curve(analyzer, rows, sizes, args.folds, args.seed).items():
            f1, recall = np.mean(pairs, axis=0)
            spread = np.std([p[0] for p in pairs])
            baseline.setdefault(n, f1)
            table.append(Row(f"weight {weight:g}: macro-F1 / complaint recall", f"{n} labels",
                             f"{f1:.3f} ±{spread:.3f} / {recall:.3f}", "≥ 0.70 / ≥ 0.70 at ~300",
                             f"{f1 - baseline[n]:+.3f} F1 vs weight {args.weights[0]:g}"))
    print_table(f"Intent learning curve ({len(rows)} real comments, {args.folds} folds, a quarter held out each)", table)


if __name__ == "__main__":
    main()
