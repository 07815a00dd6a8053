"""Quality of understanding and matching, printed as tables.

    python benchmarks/quality.py [--dev ../shared/data/dev] [--config config/coursebot.toml] [--calibrate]

Three labelled sets of our own always run: the bundled samples (config/samples/comments.jsonl), the
held-out comments (benchmarks/data/heldout_comments.jsonl) and the general-thread comments
(benchmarks/data/general_threads.jsonl: weekly Q&A posts, vlogs, announcements, where no thread names a
course). The last two were written and labelled from the label guide, catalog and FAQ alone by someone who
never saw the samples or the intent prototypes. They check that a change measured on the samples holds;
their phrasings never go into the prototypes or the FAQ. The development set (real comments, not
redistributable, so never in the repo) runs when `--dev` points at it; by default the script looks for
../shared/data/dev next to the checkout.

Measures: intent accuracy and macro-F1; FAQ top-1 / hit@3 / MRR for BM25-only, dense-only and both hybrid
fusions (convex, the default, and reciprocal rank);
abstain precision/recall; abstain rate on chitchat/danmaku; spam precision/recall; sentiment accuracy;
course resolution accuracy. `--calibrate` also prints the dense-score thresholds the data supports and
the right / wrong answers at each `min_margin`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.analysis import Analysis, Analyzer  # noqa: E402
from bot.comments_io import BadLine, read_comments  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.events import Event  # noqa: E402
from bot.knowledge import Knowledge  # noqa: E402
from retrieval.intents import INTENTS  # noqa: E402
from retrieval.search import Candidates, calibrate_threshold  # noqa: E402
from retrieval.text import normalize  # noqa: E402

ABSTAIN_INTENTS = {"chitchat", "praise", "other", "spam"}
HELD_OUT = ROOT / "benchmarks" / "data" / "heldout_comments.jsonl"
GENERAL_THREADS = ROOT / "benchmarks" / "data" / "general_threads.jsonl"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for n, row in enumerate(cells):
        print("  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> tuple[float, dict[str, float]]:
    per_label = {}
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        fp = sum(p == label and g != label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        if tp + fp + fn == 0:
            continue
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per_label[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (sum(per_label.values()) / len(per_label) if per_label else 0.0), per_label


def load_samples(path: Path) -> list[tuple[Event, dict]]:
    with path.open("rb") as stream:
        return [(item, item.raw.get("label", {})) for _, item in read_comments(stream) if not isinstance(item, BadLine)]


def load_dev_intents(dev: Path) -> list[tuple[Event, dict]]:
    rows = []
    for line in (dev / "intent_dev.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("note") == "proxy":
            continue  # chatbot turns / SMS, not comments
        rows.append((Event(platform="dev", event_id=row["id"], text=row["text"]), row))
    return rows


def intent_rows(name: str, gold: Sequence[str], analyses: Sequence[Analysis]) -> list[list[object]]:
    predicted = [a.understanding.intent for a in analyses]
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold)
    f1, per_label = macro_f1(gold, predicted, INTENTS)
    return [[name, len(gold), accuracy, f1, " ".join(f"{k}={v:.2f}" for k, v in per_label.items())]]


def faq_scope(analyzer: Analyzer, analysis: Analysis, vector: np.ndarray) -> tuple[Candidates, set[str | None]]:
    """A comment's search candidates and the FAQ scope the bot answers it from (its course's entries and general ones)."""
    found = analyzer.knowledge.searcher.candidates(vector[None, :], [analysis.understanding.terms])[0]
    named, thread_course = analyzer.context_courses(analysis.event, analysis.understanding, found)
    return found, {named or thread_course, None}


def faq_ranking(name: str, analyzer: Analyzer, samples: Sequence[tuple[Event, dict]], analyses: Sequence[Analysis]) -> list[list[object]]:
    """Rank of the gold FAQ entry when searching the FAQ (within the comment's course scope)."""
    searcher = analyzer.knowledge.searcher
    rows = []
    labelled = [(lab, a) for (_, lab), a in zip(samples, analyses) if lab.get("answer_id")]
    vectors = analyzer.knowledge.encoder.encode([a.understanding.text for _, a in labelled])
    scopes = [faq_scope(analyzer, analysis, vector) for (_, analysis), vector in zip(labelled, vectors)]
    for mode, fusion in (("bm25", None), ("dense", None), ("hybrid", "rrf"), ("hybrid", "convex")):
        top1 = hit3 = 0
        reciprocal = 0.0
        for (label, _), (found, scope) in zip(labelled, scopes):
            hits = searcher.rank(found, k=10, kinds={"faq"}, course_ids=scope, mode=mode, fusion=fusion)
            ids = [h.id.split(":", 1)[1] for h in hits]
            gold = label["answer_id"]
            if ids[:1] == [gold]:
                top1 += 1
            if gold in ids[:3]:
                hit3 += 1
            if gold in ids:
                reciprocal += 1 / (ids.index(gold) + 1)
        n = len(labelled)
        label = f"{mode} ({fusion}{', in use' if fusion == searcher.fusion else ''})" if fusion else mode
        rows.append([name, label, n, top1 / n, hit3 / n, reciprocal / n])
    return rows


def decision_rows(name: str, samples: Sequence[tuple[Event, dict]], analyses: Sequence[Analysis]) -> list[list[object]]:
    """End-to-end decisions on the samples: answer right, abstain right."""
    gold_answer = [lab.get("answer_id") for _, lab in samples]
    given = [a.match.answer_id for a in analyses]
    answered = [a.match.answered for a in analyses]
    faq_correct = sum(g is not None and g == p for g, p in zip(gold_answer, given))
    with_gold = sum(g is not None for g in gold_answer)
    wrong_faq = sum(p is not None and p != g for g, p in zip(gold_answer, given))
    # Abstain = no FAQ answer given. Correct when the gold has no FAQ answer either.
    abstained = [p is None for p in given]
    should_abstain = [g is None for g in gold_answer]
    tp = sum(a and s for a, s in zip(abstained, should_abstain))
    precision = tp / max(sum(abstained), 1)
    recall = tp / max(sum(should_abstain), 1)
    courses = [(lab.get("course_id"), a.match.course_id) for (_, lab), a in zip(samples, analyses)]
    course_acc = sum(g == p for g, p in courses) / len(courses)
    silent_chitchat = [not ans for (_, lab), ans in zip(samples, answered) if lab.get("intent") in ABSTAIN_INTENTS]
    rows = [
        ["FAQ answer correct (of gold FAQ answers)", f"{faq_correct}/{with_gold}", faq_correct / max(with_gold, 1)],
        ["wrong FAQ answers given (of all comments)", f"{wrong_faq}/{len(samples)}", wrong_faq / len(samples)],
        ["abstain precision (no FAQ answer given → none exists)", sum(abstained), precision],
        ["abstain recall (none exists → no FAQ answer given)", sum(should_abstain), recall],
        ["course_id accuracy", len(courses), course_acc],
        ["silent on chitchat/praise/other/spam", len(silent_chitchat), sum(silent_chitchat) / max(len(silent_chitchat), 1)],
    ]
    return [[name, *row] for row in rows]


def dev_abstain_rows(dev_rows: Sequence[tuple[Event, dict]], analyses: Sequence[Analysis]) -> list[list[object]]:
    rows = []
    for group, labels in (("chitchat/danmaku", {"chitchat"}), ("praise+other", {"praise", "other"}), ("spam", {"spam"}),
                          ("questions about other creators' videos", {"question_other", "ask_link", "ask_course_content", "ask_recommendation", "ask_price"})):
        chosen = [a for (_, row), a in zip(dev_rows, analyses) if row["intent"] in labels]
        silent = sum(not a.match.answered for a in chosen)
        rows.append([group, len(chosen), silent / max(len(chosen), 1)])
    return rows


def binary_rows(name: str, gold: Sequence[bool], predicted: Sequence[bool]) -> list[object]:
    tp = sum(g and p for g, p in zip(gold, predicted))
    precision = tp / max(sum(predicted), 1)
    recall = tp / max(sum(gold), 1)
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold)
    return [name, len(gold), accuracy, precision, recall]


def analyze_texts(analyzer: Analyzer, texts: Sequence[str], prefix: str) -> list[Analysis]:
    events = [Event(platform="dev", event_id=f"{prefix}-{i}", text=t) for i, t in enumerate(texts)]
    return [a for start in range(0, len(events), 256) for a in analyzer.analyze(events[start : start + 256])]


def run_dev_extras(analyzer: Analyzer, dev: Path) -> None:
    with (dev / "spam_dev.csv").open(encoding="utf-8") as f:
        spam = list(csv.DictReader(f))
    analyses = analyze_texts(analyzer, [r["text"] for r in spam], "spam")
    spam_row = binary_rows("spam_dev (SMS, not comments)", [r["label"] == "1" for r in spam], [a.understanding.intent == "spam" for a in analyses])
    table("Spam detection", ["set", "n", "accuracy", "precision", "recall"], [spam_row])

    with (dev / "sentiment_dev.csv").open(encoding="utf-8") as f:
        sentiment = list(csv.DictReader(f))
    analyses = analyze_texts(analyzer, [r["text"] for r in sentiment], "sent")
    gold = ["positive" if r["label"] == "1" else "negative" for r in sentiment]
    predicted = [a.understanding.sentiment for a in analyses]
    polar = [(g, p) for g, p in zip(gold, predicted) if p != "neutral"]
    table(
        "Sentiment (sentiment_dev: product reviews, positive/negative)",
        ["measure", "n", "value"],
        [
            ["accuracy (neutral counts as wrong)", len(gold), sum(g == p for g, p in zip(gold, predicted)) / len(gold)],
            ["accuracy where not neutral", len(polar), sum(g == p for g, p in polar) / max(len(polar), 1)],
            ["predicted neutral", len(gold), 1 - len(polar) / len(gold)],
        ],
    )

    with (dev / "pairs_dev.csv").open(encoding="utf-8") as f:
        pairs = list(csv.DictReader(f))
    encoder = analyzer.knowledge.encoder
    a = encoder.encode([normalize(p["sentence1"]).plain for p in pairs])
    b = encoder.encode([normalize(p["sentence2"]).plain for p in pairs])
    cosine = np.sum(a * b, axis=1)
    same = np.array([p["label"] == "1" for p in pairs])
    order = np.argsort(-cosine)
    ranks = np.empty(len(cosine))
    ranks[order] = np.arange(len(cosine))
    auc = 1 - (ranks[same].mean() - (same.sum() - 1) / 2) / (~same).sum()
    table(
        "Paraphrase pairs (pairs_dev, AFQMC finance questions): dense cosine",
        ["measure", "value"],
        [["ROC AUC same vs different", float(auc)], ["mean cosine same", float(cosine[same].mean())],
         ["mean cosine different", float(cosine[~same].mean())],
         ["cosine rejecting 95% of different pairs", calibrate_threshold(cosine[same], cosine[~same])]],
    )


def calibration(analyzer: Analyzer, samples, sample_analyses, dev_rows, dev_analyses) -> None:
    """Dense score of the best FAQ hit for comments that should and should not get an FAQ answer."""
    searcher = analyzer.knowledge.searcher
    positives, negatives = [], []

    def best_faq(analysis: Analysis):
        found, scope = faq_scope(analyzer, analysis, analyzer.knowledge.encoder.encode([analysis.understanding.text])[0])
        hits = searcher.rank(found, k=1, kinds={"faq"}, course_ids=scope)
        return hits[0] if hits else None

    for (_, label), analysis in zip(samples, sample_analyses):
        if not analysis.understanding.text:
            continue
        hit = best_faq(analysis)
        if hit is None:
            continue
        gold = label.get("answer_id")
        if gold and hit.id == f"faq:{gold}":
            positives.append(hit.dense)
        elif not gold or hit.id != f"faq:{gold}":
            negatives.append(hit.dense)
    dev_negatives = []
    for (_, row), analysis in zip(dev_rows, dev_analyses):
        if analysis.understanding.text and row["intent"] in {"chitchat", "other", "praise", "question_other", "ask_link"}:
            hit = best_faq(analysis)
            if hit is not None:
                dev_negatives.append(hit.dense)
    rows = [
        ["correct top FAQ hits (samples)", len(positives), float(np.percentile(positives, 10)) if positives else 0.0, float(np.median(positives)) if positives else 0.0],
        ["wrong/no-answer top hits (samples)", len(negatives), float(np.percentile(negatives, 90)) if negatives else 0.0, float(np.median(negatives)) if negatives else 0.0],
        ["dev comments (no FAQ of ours answers them)", len(dev_negatives), float(np.percentile(dev_negatives, 90)) if dev_negatives else 0.0, float(np.median(dev_negatives)) if dev_negatives else 0.0],
    ]
    table("Calibration: dense cosine of the best FAQ hit", ["group", "n", "p10 / p90", "median"], rows)
    all_negatives = negatives + dev_negatives
    for rejection in (0.90, 0.95, 0.98):
        threshold = calibrate_threshold(positives, all_negatives, min_negative_rejection=rejection)
        kept = sum(p >= threshold for p in positives) / max(len(positives), 1)
        print(f"  threshold rejecting {rejection:.0%} of negatives: {threshold:.3f} (keeps {kept:.1%} of correct answers)")


MARGINS = (0.0, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08)


def margin_rows(analyzer: Analyzer, labelled: dict[str, list[tuple[Event, dict]]]) -> list[list[object]]:
    """Right and wrong FAQ answers on each labelled set at every `min_margin` (benchmarks/faq_bank.py sweeps
    the same on the AFQMC bank's calibration half)."""
    shipped = analyzer.threshold
    rows = []
    try:
        for margin in MARGINS:
            analyzer.threshold = dataclasses.replace(shipped, min_margin=margin)
            cells: list[object] = [f"{margin:.2f}{' (in use)' if margin == shipped.min_margin else ''}"]
            for rows_ in labelled.values():
                analyses = analyzer.analyze([e for e, _ in rows_])
                gold = [lab.get("answer_id") for _, lab in rows_]
                given = [a.match.answer_id for a in analyses]
                right = sum(g is not None and g == p for g, p in zip(gold, given))
                wrong = sum(p is not None and p != g for g, p in zip(gold, given))
                cells.append(f"{right} / {wrong}")
            rows.append(cells)
    finally:
        analyzer.threshold = shipped
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "coursebot.toml")
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    parser.add_argument("--calibrate", action="store_true", help="print the thresholds the data supports")
    args = parser.parse_args()

    settings = load_settings(args.config)
    settings.state_dir = Path(tempfile.mkdtemp(prefix="coursebot-quality-"))
    analyzer = Analyzer(Knowledge.open(settings))
    labelled = {
        "bundled samples": load_samples(settings.config_path.parent / "samples" / "comments.jsonl"),
        "held-out comments": load_samples(HELD_OUT),
        "general threads": load_samples(GENERAL_THREADS),
    }
    analysed = {name: analyzer.analyze([e for e, _ in rows]) for name, rows in labelled.items()}
    samples, sample_analyses = labelled["bundled samples"], analysed["bundled samples"]
    have_dev = (args.dev / "intent_dev.jsonl").exists()
    dev_rows = load_dev_intents(args.dev) if have_dev else []
    dev_analyses = [a for s in range(0, len(dev_rows), 256) for a in analyzer.analyze([e for e, _ in dev_rows[s : s + 256]])]

    print(f"coursebot quality — model {analyzer.knowledge.encoder.name}, thresholds {analyzer.threshold}")
    rows = [row for name, rows_ in labelled.items() for row in intent_rows(name, [lab["intent"] for _, lab in rows_], analysed[name])]
    if have_dev:
        rows += intent_rows("dev (real comments, proxy rows dropped)", [r["intent"] for _, r in dev_rows], dev_analyses)
        random_rows = [(r, a) for (_, r), a in zip(dev_rows, dev_analyses) if r.get("note") == "random"]
        if random_rows:
            rows += intent_rows("dev natural-stream rows only", [r["intent"] for r, _ in random_rows], [a for _, a in random_rows])
    table("Intent (goal macro-F1 ≥ 0.85)", ["set", "n", "accuracy", "macro-F1", "per-intent F1"], rows)
    table("FAQ ranking (goal hybrid top-1 ≥ 0.92 on the bundled samples)", ["set", "mode", "n", "top-1", "hit@3", "MRR"],
          [row for name, rows_ in labelled.items() for row in faq_ranking(name, analyzer, rows_, analysed[name])])
    table("Decisions", ["set", "measure", "n", "value"], [row for name, rows_ in labelled.items() for row in decision_rows(name, rows_, analysed[name])])
    if have_dev:
        table("Abstain on the dev set (goal ≥ 0.95 silent on chitchat/danmaku)", ["group", "n", "silent"], dev_abstain_rows(dev_rows, dev_analyses))
        run_dev_extras(analyzer, args.dev)
    else:
        print(f"\n(dev set not found at {args.dev}: only our own labelled sets measured)")
    if args.calibrate:
        calibration(analyzer, samples, sample_analyses, dev_rows, dev_analyses)
        table("min_margin: right / wrong FAQ answers", ["min_margin", *labelled], margin_rows(analyzer, labelled))
    confusion = Counter((lab["intent"], a.understanding.intent) for (_, lab), a in zip(samples, sample_analyses) if lab["intent"] != a.understanding.intent)
    print("\nmost common intent confusions on samples (gold → predicted):", ", ".join(f"{g}→{p}×{n}" for (g, p), n in confusion.most_common(8)))


if __name__ == "__main__":
    main()
