"""What a knowledge edit costs a running bot: from `KnowledgeBase.edit_*` to the analyzer answering from it.

Through the real KnowledgeBase (SQLite store), Teacher and model on the bundled config. Each edit is stored,
then the worker's Teacher.refresh folds every revision over the files and brings FAISS (sync: remove_ids of
changed items, encode only new texts), BM25 (rebuilt) and the analyzer's FAQ tables up to date. The baselines
are a restart measured in the same run: `Knowledge.open` with the saved index, and a full re-encode.
Prints one table; asserts nothing.

    python benchmarks/knowledge.py [--revisions 0 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

from _common import REPO, Row, print_table

from bot.analysis import Analyzer
from bot.config import load_settings
from bot.knowledge import Knowledge
from bot.learning.knowledge_base import EditResult, KnowledgeBase
from bot.learning.teacher import Teacher
from bot.privacy import Pseudonymizer
from bot.store import Store
from retrieval.text import normalize


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _edits(kb: KnowledgeBase, faq_ids: list[str]) -> dict[str, Callable[[int], EditResult]]:
    """Edit kinds, each a call taking the repetition number (a different entry each time)."""
    return {
        "edit a question (1 new text encoded)": lambda n: kb.edit_faq(faq_ids[n], "bench", question=f"第{n}个问题改成这样问可以吗"),
        "edit an answer (no vector changes)": lambda n: kb.edit_faq(faq_ids[n], "bench", answer=f"新的回答{n}"),
        "remove a phrasing (FAISS remove_ids)": lambda n: kb.remove_phrasing(faq_ids[n], kb.entry(faq_ids[n]).alternatives[-1], "bench"),
        "retire an entry": lambda n: kb.retire_faq(faq_ids[-1 - n], "bench"),
        "edit a course's price": lambda n: kb.edit_course("py-101", "bench", price=100 + n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, nargs="+", default=[0, 1000], help="revisions already stored before the timed edits")
    parser.add_argument("--repeat", type=int, default=5, help="timed edits of each kind (the median is shown)")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp())
    settings = load_settings(REPO / "config" / "coursebot.toml", state_dir=str(state))
    knowledge = Knowledge.open(settings)  # builds and saves the index once
    items = [normalize(text).plain for doc in knowledge.catalog.documents() for _, text in doc.items()]
    raw = getattr(knowledge.encoder, "inner", knowledge.encoder)  # past the embedding cache: the model itself
    started = time.perf_counter()
    raw.encode(items)
    full = time.perf_counter() - started
    started = time.perf_counter()
    Knowledge.open(settings, knowledge.encoder)
    restart = time.perf_counter() - started
    rows = [Row("restart: Knowledge.open with the saved index (model already loaded)", f"{len(items)} phrasings", _ms(restart), "", "baseline"),
            Row("re-encode the whole catalog", f"{len(items)} phrasings", _ms(full), "", f"{full / restart:.1f}× restart")]
    faq_ids = list(knowledge.catalog.faq)
    for stored in args.revisions:
        store = Store.from_url(f"sqlite:///{tempfile.mkdtemp()}/coursebot.db", Pseudonymizer(b"k" * 32))
        kb = KnowledgeBase.open(settings, store)
        for n in range(stored // 2):  # earlier history: phrasings added and removed again, so the FAQ itself is unchanged
            faq_id = faq_ids[n % len(faq_ids)]
            kb.add_phrasing(faq_id, f"历史改动{n}", "bench")
            kb.remove_phrasing(faq_id, f"历史改动{n}", "bench")
        analyzer = Analyzer(Knowledge.open(settings, knowledge.encoder))
        teacher = Teacher(analyzer)
        teacher.refresh(store)
        edits = _edits(kb, faq_ids)
        for what, edit in edits.items():
            saves, refreshes = [], []
            for n in range(args.repeat):
                started = time.perf_counter()
                result = edit(n)
                saved = time.perf_counter()
                assert result.ok, result.errors
                teacher.refresh(store)
                refreshes.append(time.perf_counter() - saved)
                saves.append(saved - started)
            refresh = median(refreshes)
            rows.append(Row(f"{what}: refresh", f"{stored} revisions before", _ms(refresh), "", f"{refresh / restart:.2f}× restart"))
            rows.append(Row("  of which the edit itself (validate + store)", "", _ms(median(saves))))
        started = time.perf_counter()
        for _ in range(100):
            teacher.refresh(store)
        rows.append(Row("version check, nothing changed (before every batch)", f"{stored} revisions before",
                        _ms((time.perf_counter() - started) / 100)))
        store.close()
    print_table("A knowledge edit, live for the next comment (bundled config, m3e-small, SQLite)", rows)


if __name__ == "__main__":
    main()
