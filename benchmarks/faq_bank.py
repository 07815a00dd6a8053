"""A near-duplicate FAQ bank from real paraphrase pairs (AFQMC), answered through the bot's own matching.

    python benchmarks/faq_bank.py [../shared/data/dev/pairs_dev.csv or its folder] [--calibrate]

Every `sentence1` of pairs_dev.csv becomes an FAQ entry with its own answer (2,000 entries, most of them
near-duplicates: 花呗/借呗 questions that share most of their words). A same-label pair's `sentence2` is a
real paraphrase query whose right answer is its `sentence1` entry; a different-label pair's `sentence2` is
a near-miss query whose right outcome is no answer (a hand-off), since the closest entry asks something else.
The data is not redistributable and is never copied into the repo: the script reads it where it lies.

The bank replaces the FAQ of a copy of `config/` (the bundled courses, intents and `[matching]` settings
stay), and the queries go through `Knowledge.open`, `HybridSearcher` and `Analyzer` exactly as the bot's
comments do. Queries are split by pair id into a calibration half (odd ids: used to choose `[matching]
min_margin` and convex fusion's LEXICAL_REFERENCE_RANK) and a report half (even ids: the numbers the README quotes). Goals: answered-wrong ≤ 3 % of
positives, near-miss answered ≤ 2 %, fused top-1 ≥ dense top-1.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.quality import faq_scope, table  # noqa: E402
from bot.analysis import Analysis, Analyzer  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.events import Event  # noqa: E402
from bot.knowledge import Knowledge  # noqa: E402

DEFAULT_PAIRS = ROOT.parent / "shared" / "data" / "dev" / "pairs_dev.csv"
MARGINS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08)


@dataclass(frozen=True, slots=True)
class Query:
    pair_id: str
    text: str
    gold: str | None  # the FAQ entry that answers it; None for a near-miss (no answer is right)

    @property
    def half(self) -> str:
        return "calibration" if int(self.pair_id.rsplit("-", 1)[-1]) % 2 else "report"


def read_pairs(path: Path) -> tuple[list[dict], list[Query]]:
    """FAQ entries (one per sentence1) and queries (one per sentence2) from pairs_dev.csv."""
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    entries: dict[str, dict] = {}
    queries = []
    for number, row in enumerate(rows, 2):
        if not row.get("sentence1") or not row.get("sentence2") or row.get("label") not in {"0", "1"}:
            sys.exit(f"{path}:{number}: expected id, sentence1, sentence2 and label 0/1")
        entry = entries.setdefault(row["sentence1"], {
            "id": row["id"], "question": row["sentence1"], "answer": f"（{row['id']} 的答案）", "course_id": None,
        })
        queries.append(Query(row["id"], row["sentence2"], entry["id"] if row["label"] == "1" else None))
    return list(entries.values()), queries


def open_bank(entries: Sequence[dict], config: Path, state_dir: Path) -> Analyzer:
    """An Analyzer over a copy of `config/` whose FAQ is the bank."""
    target = state_dir / "config"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(config.parent, target)
    (target / "faq.yaml").write_text(yaml.safe_dump({"faq": list(entries)}, allow_unicode=True), encoding="utf-8")
    settings = load_settings(target / config.name, state_dir=str(state_dir / "state"))
    return Analyzer(Knowledge.open(settings))


def analyze(analyzer: Analyzer, queries: Sequence[Query]) -> list[Analysis]:
    events = [Event(platform="bench", event_id=q.pair_id, text=q.text) for q in queries]
    return [a for start in range(0, len(events), 256) for a in analyzer.analyze(events[start : start + 256])]


def ranking_rows(name: str, analyzer: Analyzer, queries: Sequence[Query], analyses: Sequence[Analysis]) -> list[list[object]]:
    """Top-1 of the gold entry among FAQ entries in the bot's scope, per ranking mode."""
    searcher = analyzer.knowledge.searcher
    positives = [(q, a) for q, a in zip(queries, analyses) if q.gold]
    vectors = analyzer.knowledge.encoder.encode([a.understanding.text for _, a in positives])
    scopes = [faq_scope(analyzer, a, v) for (_, a), v in zip(positives, vectors)]
    rows = []
    for mode in ("dense", "bm25", "hybrid"):
        top1 = sum(
            bool(hits) and hits[0].id == f"faq:{q.gold}"
            for (q, _), (found, scope) in zip(positives, scopes)
            for hits in [searcher.rank(found, k=1, kinds={"faq"}, course_ids=scope, mode=mode)]
        )
        label = f"hybrid ({searcher.fusion}, in use)" if mode == "hybrid" else mode
        rows.append([name, label, len(positives), top1 / max(len(positives), 1)])
    return rows


def decision_counts(queries: Sequence[Query], analyses: Sequence[Analysis]) -> dict[str, int]:
    counts = dict.fromkeys(("positives", "near-misses", "right", "wrong", "near-miss answered", "not a question", "too close"), 0)
    for query, analysis in zip(queries, analyses):
        match = analysis.match
        counts["positives" if query.gold else "near-misses"] += 1
        counts["not a question"] += match.reason.startswith("not a question")
        counts["too close"] += match.reason.startswith("two answers too close")
        if not match.answered:
            continue
        if query.gold is None:
            counts["near-miss answered"] += 1
        elif match.answer_kind == "faq" and match.answer_id == query.gold:
            counts["right"] += 1
        else:
            counts["wrong"] += 1
    return counts


def decision_rows(name: str, counts: dict[str, int]) -> list[list[object]]:
    positives, misses = max(counts["positives"], 1), max(counts["near-misses"], 1)
    return [
        [name, "answered correctly (of positives)", f"{counts['right']}/{counts['positives']}", counts["right"] / positives, ""],
        [name, "answered wrong (of positives)", f"{counts['wrong']}/{counts['positives']}", counts["wrong"] / positives, "≤ 3 %"],
        [name, "near-miss answered (of near-misses)", f"{counts['near-miss answered']}/{counts['near-misses']}",
         counts["near-miss answered"] / misses, "≤ 2 %"],
        [name, "abstained: two answers too close", counts["too close"], counts["too close"] / (positives + misses), ""],
        [name, "not taken for a question (intent)", counts["not a question"], counts["not a question"] / (positives + misses), ""],
    ]


def margin_sweep(analyzer: Analyzer, queries: Sequence[Query]) -> list[list[object]]:
    """Decisions on `queries` at every margin in MARGINS (the calibration half: this chooses the default)."""
    shipped = analyzer.threshold
    rows = []
    try:
        for margin in MARGINS:
            analyzer.threshold = dataclasses.replace(shipped, min_margin=margin)
            counts = decision_counts(queries, analyze(analyzer, queries))
            positives, misses = max(counts["positives"], 1), max(counts["near-misses"], 1)
            rows.append([f"{margin:.3f}{' (in use)' if margin == shipped.min_margin else ''}", counts["right"] / positives,
                         counts["wrong"] / positives, counts["near-miss answered"] / misses])
    finally:
        analyzer.threshold = shipped
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path, nargs="?", default=DEFAULT_PAIRS, help="pairs_dev.csv or the folder holding it")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "coursebot.toml")
    parser.add_argument("--state-dir", type=Path, help="keep the bank's index here between runs (default: a temporary directory)")
    parser.add_argument("--calibrate", action="store_true", help="also sweep min_margin on the calibration half")
    args = parser.parse_args()
    pairs = args.pairs / "pairs_dev.csv" if args.pairs.is_dir() else args.pairs
    if not pairs.exists():
        sys.exit(f"{pairs}: not found. The AFQMC pairs are development data outside the repo "
                 "(../shared/data/dev/pairs_dev.csv next to the checkout); pass its path.")

    entries, queries = read_pairs(pairs)
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="coursebot-faq-bank-"))
    analyzer = open_bank(entries, args.config, state_dir)
    print(f"coursebot FAQ bank — {len(entries)} entries from {pairs.name}, model {analyzer.knowledge.encoder.name}, "
          f"thresholds {analyzer.threshold}")
    halves = {half: [q for q in queries if q.half == half] for half in ("report", "calibration")}
    analysed = {half: analyze(analyzer, chosen) for half, chosen in halves.items()}
    table("FAQ ranking of real paraphrases (goal: hybrid top-1 ≥ dense)", ["half", "mode", "n", "top-1"],
          [row for half in halves for row in ranking_rows(half, analyzer, halves[half], analysed[half])])
    table("Decisions (goals: answered wrong ≤ 3 % of positives, near-miss answered ≤ 2 %)", ["half", "measure", "n", "value", "goal"],
          [row for half in halves for row in decision_rows(half, decision_counts(halves[half], analysed[half]))])
    if args.calibrate:
        table("min_margin sweep on the calibration half", ["min_margin", "answered correctly", "answered wrong", "near-miss answered"],
              margin_sweep(analyzer, halves["calibration"]))


if __name__ == "__main__":
    main()
