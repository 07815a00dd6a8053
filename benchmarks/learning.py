"""Learning curves on real comments: intent macro-F1 / complaint recall after 0…400 creator labels, and the
share of held-back unanswered questions answered correctly after the creator answers the top-N question clusters.

Everything goes through the creator's path: corrections in a real store (SQLite) picked up by the live
analyzer's Teacher (bot/learning), decisions by the real pipeline in dry run (bot/route_decisions, as
`coursebot route --decisions`). Reads the dev set by path; nothing of it is copied into the repo.

Intents: each fold holds back a quarter of the comments for scoring and stores one `relabel` per comment from
the rest, adding labels as a creator would (the 100 include the first 50). Two ways of choosing what the
creator labels: `random` (a random sample of the rest: the lower bound) and `export` (what the product asks
for: each round, the sheet `coursebot labels export --uncertain N` would write, through bot/learning/export.py,
ranked on the confidences the untaught bot stored when the comments arrived).

Questions: each fold holds back a third of the comments. The bot routes the rest as it would live; the questions
it left unanswered are clustered as the daily summary clusters them (bot/metrics/questions.py, same similarity),
and the "creator" answers the N largest clusters once each with a new FAQ entry (`Store.add_faq_entry`, what
`labels save-faq --new` and `labels import` rows with `answer` store) whose question is the cluster's
representative. The held-back questions the untaught bot left unanswered are then routed again. An answer is
*correct* when it comes from an entry whose question has the same dev `intent` and the same non-empty dev
`topic` (the subject, e.g. CSAPP, 高中生物) as the held-back question; any other answer from a creator entry is
*wrong*, which is strict (two C++ questions about different things count as correct, two topic-less 求同款
questions under different videos as wrong). Quiet comments (dev `needs_reply` false) answered from a creator
entry are counted as false replies.

Sentiment (`--part sentiment`, `--sentiment-data ../shared/data/dev/sentiment_dev.csv`): the same as intents for
the sentiment head: each fold holds back a quarter, the creator labels a random sample of the rest one
`sentiment_label` correction each (what `labels relabel --sentiment` and `labels import` with a `sentiment`
column store), and the held-back quarter is scored: macro-F1 over the labels the set has, negative recall, and
the share of negative comments handed to a human (negative at `[policy] negative_handoff_confidence` or surer).

    python benchmarks/learning.py [--data ../shared/data/dev/intent_dev.jsonl] [--folds 3] [--weights 1 3 5]
                                  [--part intents|questions|both|sentiment] [--tops 0 5 10 20] [--choice random export]
                                  [--sentiment-data ../shared/data/dev/sentiment_dev.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
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
from bot.learning.export import candidates
from bot.metrics.questions import cluster_questions, unanswered_questions
from bot.metrics.rows import ViewerEvent
from bot.privacy import Pseudonymizer
from bot.route_decisions import RouteDecisions
from bot.store import Store
from retrieval.encoder import CachedEncoder, SentenceTransformerEncoder
from retrieval.text import normalize

DEFAULT_DATA = REPO.parent / "shared" / "data" / "dev" / "intent_dev.jsonl"
DEFAULT_SENTIMENT_DATA = REPO.parent / "shared" / "data" / "dev" / "sentiment_dev.csv"
SENTIMENT_CODES = {"0": "negative", "1": "positive", "2": "neutral"}  # sentiment_dev.csv's `label` (0/1); names pass as they are
QUESTIONS = {"ask_price", "ask_link", "ask_course_content", "ask_recommendation", "question_other"}  # the dev set's


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


def load_sentiments(path: Path) -> list[dict]:
    """`text` and `sentiment` per distinct text, from a CSV with `text` and `label` (0 negative, 1 positive, or a name)."""
    rows, seen = [], set()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            plain = normalize(row["text"]).plain
            label = SENTIMENT_CODES.get(row["label"].strip(), row["label"].strip())
            if not plain or plain in seen or not label:
                continue
            seen.add(plain)
            rows.append({"id": row["id"], "text": row["text"], "sentiment": label})
    return rows


def sentiment_curve(analyzer: Analyzer, rows: list[dict], sizes: list[int], folds: int, seed: int,
                    handoff_confidence: float) -> dict[int, list[tuple[float, float, float]]]:
    """(macro-F1, negative recall, negatives handed off) per number of labels, one triple per fold."""
    scores: dict[int, list[tuple[float, float, float]]] = {n: [] for n in sizes}
    for fold in range(folds):
        order = np.random.default_rng(seed + fold).permutation(len(rows))
        held, pool = order[: len(rows) // 4], order[len(rows) // 4 :]
        events = [Event(platform="bench", event_id=rows[i]["id"], text=rows[i]["text"]) for i in held]
        truth = [rows[i]["sentiment"] for i in held]
        store = Store.from_url(f"sqlite:///{tempfile.mkdtemp()}/coursebot.db", Pseudonymizer(b"k" * 32))
        teacher = teaching.teacher_for(analyzer)
        teacher.version = -1  # a new store: start from the shipped prototypes
        teacher.refresh(store)
        labelled = 0
        for n in sizes:
            for i in pool[labelled:n]:
                # What `coursebot labels relabel --sentiment` / `labels import` (sentiment column) store.
                store.record_correction("sentiment_label", "benchmark", text=rows[i]["text"], payload={"sentiment": rows[i]["sentiment"]})
            labelled = max(labelled, n)
            teacher.refresh(store)
            read = [a.understanding for a in analyzer.analyze(events)]
            predicted = [u.sentiment for u in read]
            negatives = [u for u, t in zip(read, truth) if t == "negative"]
            handed = sum(u.sentiment == "negative" and u.sentiment_confidence >= handoff_confidence for u in negatives)
            scores[n].append((float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)),
                              float(recall_score(truth, predicted, labels=["negative"], average="macro", zero_division=0)),
                              handed / max(1, len(negatives))))
        store.close()
    return scores


def curve(analyzer: Analyzer, rows: list[dict], sizes: list[int], folds: int, seed: int,
          choice: str = "random") -> dict[int, list[tuple[float, float]]]:
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
        teacher.refresh(store)
        waiting = stored_understanding(analyzer, rows, pool) if choice == "export" else None
        labelled: list[int] = []
        for n in sizes:
            for i in next_labels(analyzer, pool, labelled, n - len(labelled), waiting):
                # What `coursebot labels relabel` / `labels import` store for a comment the creator labels.
                store.record_correction("relabel", "benchmark", text=rows[i]["text"], payload={"intent": rows[i]["intent"]})
                labelled.append(i)
            teacher.refresh(store)
            predicted = [a.understanding.intent for a in analyzer.analyze(events)]
            labels = sorted(set(truth))
            scores[n].append((float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
                              float(recall_score(truth, predicted, labels=["complaint"], average="macro", zero_division=0))))
        store.close()
    return scores


def stored_understanding(analyzer: Analyzer, rows: list[dict], pool) -> list[tuple[int, str, str, float]]:
    """What `Store.unlabelled_comments` holds for the pool: the intent and confidence the untaught bot gave each
    comment when it arrived (stored once; teaching does not rewrite them)."""
    analyses = analyzer.analyze([Event(platform="bench", event_id=rows[i]["id"], text=rows[i]["text"]) for i in pool])
    return [(int(i), rows[i]["text"], a.understanding.intent, a.understanding.intent_confidence) for i, a in zip(pool, analyses)]


def next_labels(analyzer: Analyzer, pool, labelled: list[int], n: int, waiting) -> list[int]:
    """The next `n` comments the creator labels: the next of a random order, or the next `labels export` sheet
    (bot/learning/export.py over the stored comments not labelled yet, as the command reads them)."""
    if n <= 0:
        return []
    if waiting is None:
        return [int(i) for i in pool[len(labelled) : len(labelled) + n]]
    done = set(labelled)
    return [c.id for c in candidates([w for w in waiting if w[0] not in done], analyzer.knowledge.encoder, n)]


REPLIES = ("reply_public", "reply_dm")


def route(settings, analyzer: Analyzer, rows: list[dict], fold: int) -> list[tuple[str, str | None, ViewerEvent]]:
    """(action, FAQ id answered from, the comment as the summary sees it) for each row, as the live bot decides."""
    events = [Event(platform="bench", event_id=f"{fold}-{row['id']}", text=row["text"]) for row in rows]
    analyses = analyzer.analyze(events)
    decisions = RouteDecisions(settings, analyzer)
    try:
        fields = decisions.fields(analyses)
    finally:
        decisions.close()
    now = datetime.now(UTC)
    out = []
    for index, (analysis, decided) in enumerate(zip(analyses, fields)):
        u, match = analysis.understanding, analysis.match
        faq = match.answer_id if decided["action"] in REPLIES and match.answer_kind == "faq" else None
        out.append((decided["action"], faq, ViewerEvent(index, "bench", "comment", now, text=rows[index]["text"],
                                                        intent=u.intent, topics=u.topics, action=decided["action"])))
    return out


def question_curve(settings, analyzer: Analyzer, rows: list[dict], tops: list[int], folds: int, seed: int,
                   similarity: float) -> dict[int, list[Counter]]:
    """Per number of clusters answered, one tally per fold: questions (the held-back ones left unanswered untaught),
    correct, wrong, other (answered from the shipped knowledge), quiet (false replies from creator entries)."""
    tallies: dict[int, list[Counter]] = {n: [] for n in tops}
    for fold in range(folds):
        order = np.random.default_rng(seed + fold).permutation(len(rows))
        held, seen = [rows[i] for i in order[: len(rows) // 3]], [rows[i] for i in order[len(rows) // 3 :]]
        store = Store.from_url(f"sqlite:///{tempfile.mkdtemp()}/coursebot.db", Pseudonymizer(b"k" * 32))
        teacher = teaching.teacher_for(analyzer)
        teacher.version = -1  # a new store: start from the shipped knowledge
        teacher.refresh(store)
        seen_routed = route(settings, analyzer, seen, fold)
        unanswered = unanswered_questions([event for _, _, event in seen_routed])
        clusters = cluster_questions(unanswered, analyzer.knowledge.encoder, similarity=similarity, limit=max(tops), max_texts=len(seen))
        by_text = {row["text"].strip(): row for row in seen}
        untaught = route(settings, analyzer, held, fold)
        targets = [i for i, (action, _, _) in enumerate(untaught) if held[i]["intent"] in QUESTIONS and action not in REPLIES]
        created: dict[str, tuple[str, str]] = {}
        for n in tops:
            for cluster in clusters[len(created):n]:
                asked = by_text[cluster.representative]
                # The creator answers the question the summary shows; the answer text names what it answers.
                entry = store.add_faq_entry(cluster.representative, f"{asked['intent']} / {asked.get('topic') or '-'}", "benchmark")
                created[entry.payload["faq_id"]] = (asked["intent"], asked.get("topic") or "")
            teacher.refresh(store)
            routed = route(settings, analyzer, held, fold) if n else untaught
            tally = Counter(questions=len(targets), clusters=len(created))
            for i in targets:
                action, faq, _ = routed[i]
                if faq in created:
                    intent, topic = created[faq]
                    tally["correct" if topic and (intent, topic) == (held[i]["intent"], held[i].get("topic") or "") else "wrong"] += 1
                elif action in REPLIES:
                    tally["other"] += 1
            tally["quiet"] = sum(1 for i, (_, faq, _) in enumerate(routed) if faq in created and not held[i].get("needs_reply"))
            tally["clustered"] = sum(c.questions for c in clusters[:n])
            tally["quiet_total"] = sum(1 for row in held if not row.get("needs_reply"))
            tallies[n].append(tally)
        store.close()
    return tallies


def question_table(tallies: dict[int, list[Counter]]) -> list[Row]:
    table = []
    for n, per_fold in tallies.items():
        total = sum(t["questions"] for t in per_fold) or 1
        quiet = sum(t["quiet_total"] for t in per_fold) or 1
        correct, wrong = (sum(t[k] for t in per_fold) / total for k in ("correct", "wrong"))
        table.append(Row("held-back unanswered questions: correct / wrong / shipped answer", f"top {n} clusters",
                         f"{correct:.1%} / {wrong:.1%} / {sum(t['other'] for t in per_fold) / total:.1%}",
                         "false replies ≤ 2 %",
                         f"{sum(t['quiet'] for t in per_fold) / quiet:.1%} quiet answered (of {quiet}); "
                         f"{sum(t['clusters'] for t in per_fold)} entries for {sum(t['clustered'] for t in per_fold)} seen questions; "
                         f"{total} held back"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="intent_dev.jsonl (id, text, intent, note)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 50, 100, 200, 300, 400])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--weights", type=float, nargs="+", default=[teaching.CREATOR_LABEL_WEIGHT],
                        help="weight of one creator label against one prototype (the first is the baseline)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--part", choices=["intents", "questions", "both", "sentiment"], default="both")
    parser.add_argument("--sentiment-data", type=Path, default=DEFAULT_SENTIMENT_DATA, help="sentiment_dev.csv (id, text, label)")
    parser.add_argument("--similarity", type=float, help="question clustering cut (default: the config's [summary] question_similarity)")
    parser.add_argument("--tops", type=int, nargs="+", default=[0, 5, 10, 20], help="question clusters the creator answers")
    parser.add_argument("--choice", nargs="+", choices=["random", "export"], default=["random", "export"],
                        help="how the creator's labels are chosen: at random, or as `labels export --uncertain N` asks")
    args = parser.parse_args()
    if args.part == "sentiment":
        sentiment_main(args)
        return
    if not args.data.exists():
        sys.exit(f"{args.data}: not found (the dev set is not part of the repository; pass --data)")
    rows = load_comments(args.data)
    settings = load_settings(REPO / "config" / "coursebot.toml", state_dir=tempfile.mkdtemp())
    analyzer = Analyzer(Knowledge.open(settings, CachedEncoder(SentenceTransformerEncoder(settings.model.path), maxsize=100_000)))
    if args.part in ("questions", "both"):
        tallies = question_curve(settings, analyzer, rows, sorted(set(args.tops)), args.folds, args.seed,
                                 args.similarity or settings.summary.question_similarity)
        print_table(f"Held-back unanswered questions after the creator answers the top-N clusters ({len(rows)} real comments, "
                    f"{args.folds} folds, a third held back each, clusters at cosine ≥ "
                    f"{args.similarity or settings.summary.question_similarity:g})", question_table(tallies))
    if args.part == "questions":
        return
    sizes = [n for n in args.sizes if n <= len(rows) - len(rows) // 4]
    table = []
    baseline: dict[int, float] = {}
    first = f"{args.choice[0]}, weight {args.weights[0]:g}"
    for choice in args.choice:
        for weight in args.weights:
            teaching.CREATOR_LABEL_WEIGHT = weight
            for n, pairs in curve(analyzer, rows, sizes, args.folds, args.seed, choice).items():
                f1, recall = np.mean(pairs, axis=0)
                spread = np.std([p[0] for p in pairs])
                baseline.setdefault(n, f1)
                table.append(Row(f"{choice}, weight {weight:g}: macro-F1 / complaint recall", f"{n} labels",
                                 f"{f1:.3f} ±{spread:.3f} / {recall:.3f}", "≥ 0.70 / ≥ 0.70 at ~300",
                                 f"{f1 - baseline[n]:+.3f} F1 vs {first}"))
    print_table(f"Intent learning curve ({len(rows)} real comments, {args.folds} folds, a quarter held out each)", table)


def sentiment_main(args: argparse.Namespace) -> None:
    if not args.sentiment_data.exists():
        sys.exit(f"{args.sentiment_data}: not found (the dev set is not part of the repository; pass --sentiment-data)")
    rows = load_sentiments(args.sentiment_data)
    settings = load_settings(REPO / "config" / "coursebot.toml", state_dir=tempfile.mkdtemp())
    analyzer = Analyzer(Knowledge.open(settings, CachedEncoder(SentenceTransformerEncoder(settings.model.path), maxsize=100_000)))
    sizes = [n for n in args.sizes if n <= len(rows) - len(rows) // 4]
    handoff = settings.policy.negative_handoff_confidence
    table = []
    baseline: dict[int, float] = {}
    first = f"weight {args.weights[0]:g}"
    for weight in args.weights:
        teaching.CREATOR_LABEL_WEIGHT = weight
        for n, triples in sentiment_curve(analyzer, rows, sizes, args.folds, args.seed, handoff).items():
            f1, recall, handed = np.mean(triples, axis=0)
            baseline.setdefault(n, f1)
            table.append(Row(f"weight {weight:g}: macro-F1 / negative recall / negatives handed off", f"{n} labels",
                             f"{f1:.3f} ±{np.std([t[0] for t in triples]):.3f} / {recall:.3f} / {handed:.3f}", "",
                             f"{f1 - baseline[n]:+.3f} F1 vs {first}"))
    counts = Counter(r["sentiment"] for r in rows)
    print_table(f"Sentiment learning curve ({len(rows)} texts: {dict(counts)}; {args.folds} folds, a quarter held out each; "
                f"handed off = negative at ≥ {handoff:g})", table)


if __name__ == "__main__":
    main()
