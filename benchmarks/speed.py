"""Speed and memory of coursebot's real code paths, printed as plain-text tables.

    python benchmarks/speed.py           # full run, a few minutes on 2 cores
    python benchmarks/speed.py --quick   # smoke run, under a minute
    python benchmarks/speed.py --only index   # one section: encode, route, ask, rss, index
    python benchmarks/speed.py --taught 1000  # route and ask again with 1,000 creator labels (+ phrasings, vetoes) loaded

Throughput is compared with the raw model measured in the same process (machines are shared and noisy, so
absolute numbers move; ratios move much less). See benchmarks/README.md for what every row means.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

from benchmarks._common import (
    REPO,
    Row,
    Timings,
    maxrss_mib,
    peak_rss_mib,
    percentiles,
    print_table,
    time_each,
    verdict,
)
from benchmarks._synthetic import SyntheticVectors, synthetic_catalog, synthetic_queries

CONFIG = REPO / "config" / "coursebot.toml"
SAMPLES = REPO / "config" / "samples" / "comments.jsonl"
SECTIONS = ("encode", "route", "ask", "rss", "index")
ROUTE_GOAL = 0.8  # route comments/s ÷ raw batch-32 texts/s
ASK_P50_MS, ASK_P99_MS = 20.0, 60.0
RSS_GOAL_MIB = 800.0
SEARCH_P99_MS = 5.0


@dataclass(frozen=True)
class Sizes:
    batch1: int  # texts encoded one by one
    batch32: int  # texts encoded 32 at a time
    route: int  # comments per route round
    route_rounds: int  # route and raw-encode rounds, interleaved so load changes hit both alike
    ask: int  # single-comment analyses per row
    catalogs: tuple[int, ...]  # synthetic catalog sizes
    queries: int  # searches per catalog size
    rss_cold: bool  # also measure a first run that builds the index


FULL = Sizes(batch1=200, batch32=640, route=512, route_rounds=4, ask=400, catalogs=(1_000, 10_000, 100_000), queries=400, rss_cold=True)
QUICK = Sizes(batch1=24, batch32=96, route=128, route_rounds=1, ask=60, catalogs=(1_000, 10_000), queries=100, rss_cold=False)


# -- inputs --------------------------------------------------------------------------------------------------


def sample_lines() -> list[dict]:
    """The bundled labelled comments (every intent, emoji-only, traditional characters, spam…)."""
    with SAMPLES.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def cycled(items: Sequence, n: int) -> list:
    return [items[i % len(items)] for i in range(n)]


def comments_jsonl(lines: Sequence[dict], n: int, round_no: int) -> bytes:
    """`n` sample comments cycled, with ids unique across rounds, as a JSONL byte stream."""
    out = io.StringIO()
    for i, line in enumerate(cycled(lines, n)):
        record = {k: v for k, v in line.items() if k != "label"} | {"id": f"r{round_no}-{i}"}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out.getvalue().encode("utf-8")


# -- 1. raw model ----------------------------------------------------------------------------------------------


def encode_rate(encoder, texts: Sequence[str], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        encoder.encode(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def bench_encode(encoder, texts: list[str], sizes: Sizes) -> tuple[list[Row], float]:
    import torch

    encoder.encode(texts[:32])  # warm-up: first call allocates
    b1 = encode_rate(encoder, cycled(texts, sizes.batch1), 1)
    b32 = encode_rate(encoder, cycled(texts, sizes.batch32), 32)
    threads = torch.get_num_threads()
    rows = [
        Row("raw encode, batch 1", f"{sizes.batch1} texts", f"{b1:.1f} texts/s", "", f"{b1 / b32:.2f}× batch 32"),
        Row("raw encode, batch 32 (baseline)", f"{sizes.batch32} texts", f"{b32:.1f} texts/s", "", "1.00×"),
    ]
    if threads > 1:
        # Diagnostic: on a busy machine torch's intra-op threads wait on each other at batch 1.
        torch.set_num_threads(1)
        try:
            single = encode_rate(encoder, cycled(texts, sizes.batch1), 1)
        finally:
            torch.set_num_threads(threads)
        rows.append(Row("raw encode, batch 1, 1 torch thread", f"{sizes.batch1} texts", f"{single:.1f} texts/s", "", f"{single / b1:.2f}× {threads} threads"))
    return rows, b32


# -- 2. route ------------------------------------------------------------------------------------------------


def route_once(analyzer, lines: list[dict], n: int, round_no: int, workdir: Path) -> float:
    """Seconds for `route_file` over a JSONL file of `n` sample comments, writing decision records."""
    from bot.cli import route_file

    source_path = workdir / f"route-{round_no}.jsonl"
    source_path.write_bytes(comments_jsonl(lines, n, round_no))
    with source_path.open("rb") as source, (workdir / "decisions.jsonl").open("w", encoding="utf-8") as sink:
        started = time.perf_counter()
        routed, skipped = route_file(analyzer, source, sink)
        seconds = time.perf_counter() - started
    assert (routed, skipped) == (n, 0), (routed, skipped)
    return seconds


def bench_route(uncached, cached, encoder, lines: list[dict], sizes: Sizes, workdir: Path) -> list[Row]:
    """Route rounds interleaved with raw batch-32 encoding of the same texts, so a change in machine load
    hits both alike. `uncached` uses the raw encoder: repeated sample texts are encoded every time.
    `cached` (encoder cache already holding every text) shows what the pipeline costs without the model."""
    route_seconds = raw_seconds = 0.0
    texts = [line["text"] for line in cycled(lines, sizes.route)]
    for round_no in range(sizes.route_rounds):
        route_seconds += route_once(uncached, lines, sizes.route, round_no, workdir)
        raw_seconds += sizes.route / encode_rate(encoder, texts, 32)
    total = sizes.route * sizes.route_rounds
    route_rate, raw_rate = total / route_seconds, total / raw_seconds
    cached_rate = sizes.route / route_once(cached, lines, sizes.route, -1, workdir)
    ratio = route_rate / raw_rate
    size = f"{total} comments"
    return [
        Row("raw encode, batch 32, same texts", size, f"{raw_rate:.1f} texts/s", "", "1.00× (baseline)"),
        Row("route end-to-end (route_file, no cache)", size, f"{route_rate:.1f} comments/s", f"≥ {ROUTE_GOAL}× raw b32",
            f"{ratio:.2f}× {verdict(ratio >= ROUTE_GOAL)}"),
        Row("route, every text cached (pipeline minus model)", f"{sizes.route} comments", f"{cached_rate:.1f} comments/s", "",
            f"{cached_rate / raw_rate:.2f}× raw b32"),
    ]


# -- 3. ask ----------------------------------------------------------------------------------------------------


def ask_passes(analyzer, raw_encoder, events: list, n: int, *, with_hits: bool = True) -> tuple[Timings, Timings]:
    """Time `analyzer.analyze([event])` for `n` events: each pass over the distinct texts gets a fresh
    encoder cache (every text a miss), then, if asked, repeats the pass on the now-filled cache (every text a hit)."""
    from retrieval.encoder import CachedEncoder

    misses, hits = Timings(), Timings()
    while len(misses) < n:
        cache = CachedEncoder(raw_encoder)
        analyzer.knowledge.encoder = cache
        batch = events[: n - len(misses)]
        misses += time_each(lambda e: analyzer.analyze([e]), batch)
        assert cache.hits == 0, "unique-text pass hit the cache"
        if with_hits:
            hits += time_each(lambda e: analyzer.analyze([e]), batch)
            assert cache.misses == len(batch), "cache-hit pass re-encoded a text"
    return misses, hits


def ask_row(label: str, timings: Timings, *, one_thread: bool) -> Row:
    """Verdict on wall clock. CPU p50 is shown only when all the work ran on the calling thread (no model
    call, or torch on one thread): thread CPU time would miss what torch's other threads did."""
    p50, p99 = (1000 * s for s in percentiles(timings.wall))
    cpu = f" (CPU p50 {1000 * percentiles(timings.cpu, [50])[0]:.1f})" if one_thread else ""
    ok = p50 < ASK_P50_MS and p99 < ASK_P99_MS
    return Row(label, f"{len(timings)} comments", f"p50 {p50:.1f}, p99 {p99:.1f} ms{cpu}",
               f"p50 < {ASK_P50_MS:.0f}, p99 < {ASK_P99_MS:.0f} ms", verdict(ok))


def bench_ask(analyzer, raw_encoder, events: list, sizes: Sizes) -> list[Row]:
    """One `Analyzer.analyze([event])` at a time with a warm model, as a bot answering one comment does."""
    import torch

    from retrieval.text import normalize

    analyzer.analyze(events)  # warm-up: model, jieba, thread titles
    # Distinct by what the model sees: "哈哈哈哈哈" and "哈哈哈哈" normalise to the same text.
    distinct = list({normalize(e.text).plain: e for e in events}.values())
    misses, hits = ask_passes(analyzer, raw_encoder, distinct, sizes.ask)
    threads = torch.get_num_threads()
    rows = [ask_row("ask latency, unique texts (cache miss)", misses, one_thread=threads == 1),
            ask_row("ask latency, repeated texts (cache hit)", hits, one_thread=True)]
    if threads > 1:
        # Diagnostic: one comment is too little work to share; extra torch threads mostly wait for a core.
        torch.set_num_threads(1)
        try:
            single, _ = ask_passes(analyzer, raw_encoder, distinct, sizes.ask // 2, with_hits=False)
        finally:
            torch.set_num_threads(threads)
        rows.append(ask_row("ask latency, cache miss, 1 torch thread", single, one_thread=True))
    return rows


# -- 4. peak RSS ---------------------------------------------------------------------------------------------


def coursebot_command() -> list[str]:
    script = Path(sys.executable).parent / "coursebot"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import app; sys.argv[0] = 'coursebot'; app()"]


# A small Python process starts `coursebot` and reports its peak RSS. It must be small: on Linux a child's
# ru_maxrss starts from its parent's RSS at fork time, and this benchmark process holds the model.
_LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def route_rss(state_dir: Path, workdir: Path) -> tuple[float, str]:
    """Peak RSS (ru_maxrss via os.wait4) of a fresh `coursebot route` of the bundled samples."""
    output, log = workdir / "rss-decisions.jsonl", workdir / "rss-stderr.txt"
    command = [*coursebot_command(), "route", "--config", str(CONFIG), "--state-dir", str(state_dir),
               "--input", str(SAMPLES), "--output", str(output)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")}
    with log.open("wb") as stderr:
        launched = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], stdout=subprocess.PIPE, stderr=stderr,
                                  env=env, cwd=REPO, check=True, text=True)
    code, maxrss = (int(x) for x in launched.stdout.split())
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        return float("nan"), f"exit {code}: {' '.join(tail)[:80]}"
    return maxrss_mib(maxrss), f"{sum(1 for _ in output.open(encoding='utf-8'))} comments"


def bench_rss(warm_state: Path, sizes: Sizes, workdir: Path) -> list[Row]:
    runs = [("peak RSS, coursebot route (index built)", warm_state)]
    if sizes.rss_cold:
        runs.insert(0, ("peak RSS, coursebot route (first run, builds index)", workdir / "cold-state"))
    rows = []
    for label, state in runs:
        mib, size = route_rss(state, workdir)
        rows.append(Row(label, size, f"{mib:.0f} MiB", f"< {RSS_GOAL_MIB:.0f} MiB", verdict(mib < RSS_GOAL_MIB)))
    return rows


# -- 5. synthetic catalogs -------------------------------------------------------------------------------------


def bench_catalog(n: int, dimension: int, encode_per_s: float, sizes: Sizes, rng: np.random.Generator) -> list[Row]:
    from retrieval.index import VectorIndex
    from retrieval.search import HybridSearcher, LexicalIndex, top_positive

    vectors, documents, terms, zipf = synthetic_catalog(n, dimension, rng)
    started = time.perf_counter()
    index = VectorIndex.build(SyntheticVectors(vectors), [item for d in documents for item in d.items()])
    vector_s = time.perf_counter() - started
    started = time.perf_counter()
    lexical = LexicalIndex.build([d.id for d in documents], terms)
    bm25_s = time.perf_counter() - started
    searcher = HybridSearcher(documents, index, lexical)
    queries = synthetic_queries(vectors, terms, zipf, sizes.queries, rng)
    searcher.search(*queries[0])  # warm-up
    size = f"{n:,} items"
    rows = [
        Row(f"build FAISS index ({index.manifest.kind})", size, f"{n / vector_s:,.0f} items/s", "", f"{vector_s:.1f} s"),
        Row("build BM25 index", size, f"{n / bm25_s:,.0f} items/s", "", f"{bm25_s:.1f} s"),
        Row("build incl. encoding at raw b32 rate", size, f"{1 / (1 / encode_per_s + (vector_s + bm25_s) / n):,.1f} items/s", "",
            f"{n / encode_per_s + vector_s + bm25_s:,.0f} s"),
    ]
    depth = searcher.lookup_depth  # what HybridSearcher asks FAISS and BM25 for, once per query
    found = {id(q): searcher.candidates(q[0][None, :], [q[1]])[0] for q in queries}
    timings = {
        f"dense lookup (FAISS {index.manifest.kind}, top {depth})": time_each(lambda q: index.search_numbers(q[0][None, :], depth), queries),
        f"BM25 lookup (scores, top {depth})": time_each(lambda q: top_positive(searcher.lexical.scores(q[1]), depth), queries),
        "hybrid search (dense + BM25, fused)": time_each(lambda q: searcher.search(q[0], q[1]), queries),
        "hybrid search, FAQ only (as ask does)": time_each(lambda q: searcher.search(q[0], q[1], kinds={"faq"}), queries),
        "another ranking of its candidates, FAQ only": time_each(lambda q: searcher.rank(found[id(q)], kinds={"faq"}), queries),
        "the same ranking, reciprocal-rank fusion": time_each(lambda q: searcher.rank(found[id(q)], kinds={"faq"}, fusion="rrf"), queries),
    }
    for label, samples in timings.items():
        rows.append(search_row(label, size, samples))
    return rows


def search_row(label: str, size: str, timings: Timings) -> Row:
    """Verdict on wall-clock p99; CPU p99 (this thread only) shows how much of it was our code."""
    p50, p99 = (1000 * s for s in percentiles(timings.wall))
    cpu99 = 1000 * percentiles(timings.cpu, [99])[0]
    return Row(label, size, f"p50 {p50:.2f}, p99 {p99:.2f} ms (CPU p99 {cpu99:.2f})", f"p99 < {SEARCH_P99_MS:.0f} ms",
               f"{verdict(p99 < SEARCH_P99_MS)} (CPU {verdict(cpu99 < SEARCH_P99_MS)})")


# -- main ------------------------------------------------------------------------------------------------------


def machine_line() -> str:
    import faiss
    import torch

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, load {load}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), faiss {faiss.__version__} "
            f"({faiss.omp_get_max_threads()} OpenMP threads)")


def open_knowledge(raw_encoder, state_dir: Path):
    from bot.config import load_settings
    from bot.knowledge import Knowledge
    from retrieval.encoder import CachedEncoder

    settings = load_settings(CONFIG)
    saved = settings.index_dir
    settings.state_dir = state_dir
    if saved.is_dir():  # start from the user's built index (copied, never written); Knowledge.open checks it
        shutil.copytree(saved, settings.index_dir)
    return Knowledge.open(settings, CachedEncoder(raw_encoder, maxsize=settings.model.cache_size))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="coursebot speed and memory benchmark (prints tables)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in under a minute")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the synthetic catalogs")
    parser.add_argument("--taught", type=int, default=0, metavar="N",
                        help="also time route and ask with N creator labels, N/10 FAQ phrasings and N/20 vetoes loaded")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sizes, sections = (QUICK if args.quick else FULL), set(args.only or SECTIONS)
    from retrieval.encoder import SentenceTransformerEncoder

    print(f"coursebot speed benchmark ({'quick' if args.quick else 'full'}): {machine_line()}\n", flush=True)
    started = time.perf_counter()
    lines = sample_lines()
    texts = [line["text"] for line in lines]
    raw = SentenceTransformerEncoder()
    b32 = None
    if "encode" in sections:
        rows, b32 = bench_encode(raw, texts, sizes)
        print_table("1. raw model: m3e-small, SentenceTransformerEncoder, no cache", rows)
    with tempfile.TemporaryDirectory(prefix="coursebot-speed-") as tmp:
        if sections & {"route", "ask", "rss"}:
            run_pipeline_sections(raw, lines, sizes, sections, Path(tmp), args.taught)
        if "index" in sections:
            rng = np.random.default_rng(args.seed)
            rate = b32 or encode_rate(raw, cycled(texts, 96), 32)
            rows = [row for n in sizes.catalogs for row in bench_catalog(n, raw.dimension, rate, sizes, rng)]
            print_table(f"5. synthetic catalogs: random unit vectors (dim {raw.dimension}), Zipf-distributed terms", rows)
    print(f"done in {time.perf_counter() - started:.0f} s; peak RSS of this benchmark process {peak_rss_mib():.0f} MiB "
          f"(includes the synthetic catalogs); load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def run_pipeline_sections(raw, lines: list[dict], sizes: Sizes, sections: set[str], workdir: Path, taught: int = 0) -> None:
    """Sections 2-4 share one Knowledge over the bundled config, indexed in a temporary state dir; with `taught`,
    2 and 3 run again after the creator's lessons are loaded into the same analyzers (the Teacher's path)."""
    from bot.analysis import Analyzer
    from bot.comments_io import BadLine, parse_comment, read_comments
    from retrieval.encoder import CachedEncoder

    knowledge = open_knowledge(raw, workdir / "state")
    uncached = Analyzer(replace(knowledge, encoder=raw))  # no cache: repeated texts are re-encoded
    cached = Analyzer(replace(knowledge, encoder=CachedEncoder(raw)))
    asker = Analyzer(knowledge)
    with SAMPLES.open("rb") as stream:
        events = [e for _, e in read_comments(stream) if not isinstance(e, BadLine)]
    for lessons in [0, taught] if taught else [0]:
        suffix = f", {lessons:,} creator labels loaded" if lessons else ""
        if lessons:
            print(teach(lessons, [uncached, cached, asker], [line["text"] for line in lines], workdir / "lessons.db"), flush=True)
        if "route" in sections:
            cached.analyze([parse_comment(line) for line in lines])  # fills the cache and the thread titles
            print_table(f"2. route: comments/s through bot.cli.route_file vs raw batch-32 encoding{suffix}",
                        bench_route(uncached, cached, raw, lines, sizes, workdir))
        if "ask" in sections:
            print_table(f"3. ask: one Analyzer.analyze([event]) at a time, warm model{suffix}", bench_ask(asker, raw, events, sizes))
    if "rss" in sections:
        print_table("4. memory: fresh `coursebot route` of config/samples/comments.jsonl", bench_rss(workdir / "state", sizes, workdir))


def teach(n: int, analyzers: list, texts: list[str], db: Path) -> str:
    """Store `n` relabels, n/10 FAQ phrasings and n/20 wrong-reply vetoes the way the creator's commands do, and
    load them into every analyzer through its Teacher. The taught comments are new texts made from pairs of
    sample comments, so none is an exact repeat of what is timed (the exact-text shortcut would flatter it)."""
    from bot.learning.teacher import teacher_for
    from bot.privacy import Pseudonymizer
    from bot.store import Store

    rng = np.random.default_rng(n)
    knowledge = analyzers[0].knowledge
    intents = sorted(knowledge.detector.intents.labels)
    faq_ids = sorted(knowledge.catalog.faq)
    made = [f"{texts[i]} {texts[j]} #{k}" for k, (i, j) in enumerate(rng.integers(0, len(texts), size=(n, 2)))]
    store = Store.from_url(f"sqlite:///{db}", Pseudonymizer(b"s" * 32))
    try:
        for k, text in enumerate(made):
            store.record_correction("relabel", "benchmark", text=text, payload={"intent": intents[k % len(intents)]})
        for k, text in enumerate(made[: n // 10]):
            store.record_correction("faq_phrasing", "benchmark", text=text, payload={"faq_id": faq_ids[k % len(faq_ids)], "phrasing": text})
        for k, text in enumerate(made[n // 10 : n // 10 + n // 20]):
            store.record_correction("wrong_reply", "benchmark", text=text, payload={"answer_key": f"faq:{faq_ids[k % len(faq_ids)]}"})
        started = time.perf_counter()
        for analyzer in analyzers:
            teacher_for(analyzer).refresh(store)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return (f"taught {n:,} relabels, {n // 10:,} FAQ phrasings, {n // 20:,} vetoes to {len(analyzers)} analyzers "
            f"in {seconds:.1f} s (encoding included)\n")


if __name__ == "__main__":
    main()
