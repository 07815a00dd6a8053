"""What teaching costs a running bot: adding creator phrasings and labels to the live knowledge (bot/learning).

Through the real Teacher on the bundled config and the real model. The baseline is what a restart used to
cost for the same knowledge: re-encoding every catalog phrasing. Prints one table; asserts nothing.

    python benchmarks/teaching.py [--sizes 100 1000] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import REPO, Row, percentiles, print_table, time_each

from bot.analysis import Analyzer
from bot.config import load_settings
from bot.events import Event
from bot.knowledge import Knowledge
from bot.learning.lessons import Lessons
from bot.learning.teacher import Teacher
from bot.privacy import Pseudonymizer
from bot.store import Store
from retrieval.search import LexicalIndex
from retrieval.text import normalize


def _texts(count: int) -> list[str]:
    """`count` distinct comment-like texts: the bundled sample comments, numbered when more are needed."""
    samples = [json.loads(line)["text"] for line in (REPO / "config" / "samples" / "comments.jsonl").read_text(encoding="utf-8").splitlines()]
    return [samples[i % len(samples)] + (f" 第{i // len(samples)}遍" if i >= len(samples) else "") for i in range(count)]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="creator phrasings (and as many labels) taught")
    parser.add_argument("--state-dir", type=Path, default=None, help="index dir to reuse (default: a fresh temporary one)")
    args = parser.parse_args()
    settings = load_settings(REPO / "config" / "coursebot.toml", state_dir=str(args.state_dir or tempfile.mkdtemp()))
    knowledge = Knowledge.open(settings)
    items = [normalize(text).plain for doc in knowledge.catalog.documents() for _, text in doc.items()]
    started = time.perf_counter()
    knowledge.encoder.encode(items)  # uncached: the raw model
    full = time.perf_counter() - started
    rows = [Row("re-encode the whole catalog (a restart without an index)", f"{len(items)} phrasings", _ms(full), "", "baseline")]
    faq_ids = list(knowledge.catalog.faq)
    for size in args.sizes:
        analyzer = Analyzer(Knowledge.open(settings, knowledge.encoder))
        teacher = Teacher(analyzer)
        texts = _texts(size)
        phrasings: dict[str, list[str]] = {}
        for n, text in enumerate(texts):
            phrasings.setdefault(faq_ids[n % len(faq_ids)], []).append(text)
        lessons = Lessons({k: tuple(v) for k, v in phrasings.items()}, (), {}, ())
        started = time.perf_counter()
        teacher.apply(lessons)
        first = time.perf_counter() - started
        rows.append(Row("teach phrasings, first time (encodes only them)", f"{size}", _ms(first), "", f"{first / full:.2f}× re-encode"))
        one_more = {**lessons.phrasings, faq_ids[0]: (*lessons.phrasings[faq_ids[0]], "这个问题老师再讲一遍吧")}
        started = time.perf_counter()
        teacher.apply(Lessons(one_more, (), {}, ()))
        step = time.perf_counter() - started
        rows.append(Row("…then one more phrasing (FAISS add + BM25 rebuild)", f"{size}+1", _ms(step), "", f"{step / full:.3f}× re-encode"))
        documents = list(analyzer.knowledge.searcher.documents.values())
        terms = [teacher._document_terms(d) for d in documents]
        started = time.perf_counter()
        LexicalIndex.build([d.id for d in documents], terms)
        rows.append(Row("  of which the BM25 rebuild alone", f"{len(documents)} documents", _ms(time.perf_counter() - started)))
        labels = {normalize(t).plain: "question_other" if n % 2 else "complaint" for n, t in enumerate(texts)}
        started = time.perf_counter()
        teacher.apply(Lessons(one_more, (), labels, ()))
        rows.append(Row("retrain the intent head with creator labels", f"{len(labels)} labels", _ms(time.perf_counter() - started)))
        queries = [Event(platform="bench", event_id=str(n), text=t) for n, t in enumerate(_texts(200)[:100])]
        plain = Analyzer(Knowledge.open(settings, knowledge.encoder))
        for who in (plain, analyzer):  # warm the embedding cache: the rows compare the analysis around the model
            time_each(lambda e, who=who: who.analyze([e]), queries)
        base = percentiles(time_each(lambda e, who=plain: who.analyze([e]), queries).wall, (50,))[0]
        wrong = tuple((normalize(t).plain, f"faq:{faq_ids[n % len(faq_ids)]}") for n, t in enumerate(texts[:100]) if normalize(t).plain)
        teacher.apply(Lessons(one_more, (), labels, wrong))
        taught = percentiles(time_each(lambda e, who=analyzer: who.analyze([e]), queries).wall, (50,))[0]
        rows.append(Row("analyse one comment (cached embedding), p50", f"{size} phrasings+labels, {len(wrong)} vetoes",
                        _ms(taught), "", f"{taught / base:.2f}× untaught ({_ms(base)})"))
    store = Store.from_url(f"sqlite:///{tempfile.mkdtemp()}/coursebot.db", Pseudonymizer(b"k" * 32))
    started = time.perf_counter()
    for _ in range(200):
        store.knowledge_version()
    rows.append(Row("knowledge version check before a batch (SQLite)", "1 query", _ms((time.perf_counter() - started) / 200)))
    store.close()
    print_table("Teaching a running bot (bundled config, m3e-small)", rows)


if __name__ == "__main__":
    main()
