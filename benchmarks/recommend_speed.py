"""What recommendations add to `coursebot ask` with a large audience in PostgreSQL (issue 18: < 2 ms p99 with 100k
viewers and 1 M interaction events).

    python benchmarks/recommend_speed.py [--viewers 100000] [--events 1000000] [--asks 400] [--postgres URL]

Seeds a fresh database (COPY) with the viewers, their tracked links, 80 % clicks and 20 % purchases over the bundled
catalog (each viewer mostly within one of six interest segments, so the item-to-item table has structure), interest
profiles for a fifth of the viewers and a reply decision in a thread for every tenth; then times recommendation
requests from viewers with history, alternating, in one process:

- `ask` without the recommender: the analysis (model, intent, retrieval) minus the content ranking;
- what the recommender adds: the content ranking (comment, thread, level, budget words) plus the viewer's history
  read from PostgreSQL (one statement) and the personalised ranking, with the read after the analysis (as it was)
  and beside it (the runner's way, ranked in the calling thread);
- the same through the runner's own methods (`Runner._read_history` beside an analysis in `asyncio.to_thread`, then
  `Runner._personalise`), and the re-ranking handed to a worker thread as the runner did before.

Each stage after the analysis is also timed in this thread's CPU time beside the wall clock (the gap is waiting for a
core on a shared machine), with whether the thread was preempted in it (an involuntary context switch) and the
garbage collector's pauses inside it. The ratio is against the baseline measured in the same run; the item-to-item
rebuild over every event is timed apart (it runs on a schedule, never inside a request). The load average is printed
with the numbers. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import random
import resource
import sys
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO, Row, Timings, percentiles, print_table

NOW = datetime(2026, 12, 1, tzinfo=UTC)
REQUESTS = ["有没有推荐的课", "还有别的课推荐吗", "零基础有什么课推荐", "有便宜点的课推荐吗", "想进阶一下 推荐个课",
            "有没有免费的课", "推荐个课呗", "学完这个还能学什么"]


class Clocks:
    """One sample of a stage: wall and this thread's CPU time (the gap is waiting for a core on a shared machine), the
    involuntary context switches of this thread in it (preempted), and the garbage collector's pauses inside it."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float]] = []  # (start, end) of every collection, perf_counter
        self._collecting = 0.0

    def __enter__(self) -> Clocks:
        gc.callbacks.append(self._gc)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._gc)

    def _gc(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._collecting = time.perf_counter()
        else:
            self.pauses.append((self._collecting, time.perf_counter()))

    @staticmethod
    def now() -> tuple[float, float, int]:
        return time.perf_counter(), time.thread_time(), resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw

    def gc_between(self, start: float, end: float) -> float:
        return sum(min(e, end) - max(s, start) for s, e in self.pauses if e > start and s < end)


class Stage(Timings):
    """Timings of one stage, plus per sample whether the thread was preempted and how long the GC paused it."""

    def __init__(self) -> None:
        super().__init__()
        self.preempted: list[bool] = []
        self.gc: list[float] = []

    def add(self, clocks: Clocks, start: tuple[float, float, int], end: tuple[float, float, int]) -> None:
        self.wall.append(end[0] - start[0])
        self.cpu.append(end[1] - start[1])
        self.preempted.append(end[2] > start[2])
        self.gc.append(clocks.gc_between(start[0], end[0]))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _p50_p99(samples) -> str:
    p50, p99 = percentiles(samples)
    return f"{_ms(p50)} / {_ms(p99)}"


def stage_rows(stages: dict[str, Stage]) -> list[Row]:
    """Per stage: wall and this thread's CPU time p50 / p99, how often it was preempted, and GC pauses inside it."""
    rows = []
    for what, stage in stages.items():
        preempted = [w for w, p in zip(stage.wall, stage.preempted) if p]
        calm = [w for w, p in zip(stage.wall, stage.preempted) if not p]
        paused = [g for g in stage.gc if g > 0]
        rows += [Row(f"{what} p50 / p99", f"{len(stage)}", f"wall {_p50_p99(stage.wall)}"),
                 Row("", "", f"CPU {_p50_p99(stage.cpu)}",
                     verdict=f"preempted in {len(preempted)}: wall p99 {_ms(percentiles(preempted)[1]) if preempted else '-'}, "
                             f"not preempted p99 {_ms(percentiles(calm)[1]) if calm else '-'}; GC pause in {len(paused)}"
                             + (f", max {_ms(max(paused))}" if paused else ""))]
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000, help="clicks + purchases")
    parser.add_argument("--asks", type=int, default=400, help="recommendation requests timed")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test", help="server (a database is created on it)")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def _copy(raw, table: str, columns: str, rows) -> None:
    """COPY rows (tuples of str/None) into `table`: tab-separated text, \\N for NULL."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())


def seed(url: str, course_ids: list[str], dimension: int, args: argparse.Namespace) -> dict[str, float]:
    rng = np.random.default_rng(args.seed)
    n_viewers, n_events, n_courses = args.viewers, args.events, len(course_ids)
    segments = np.array_split(rng.permutation(n_courses), 6)
    started = time.perf_counter()
    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    try:
        iso = NOW.isoformat()
        _copy(raw, "viewers", "id, platform, pseudonym, first_seen, last_seen, interests, attribution",
              ((i, "bilibili", f"v_{i:012x}", iso, iso, "[]", "{}") for i in range(1, n_viewers + 1)))
        # Events: each picks a viewer (activity log-normal: most viewers a few events, some hundreds), mostly a course
        # of the viewer's segment.
        activity = rng.lognormal(0.0, 1.2, n_viewers)
        viewers = rng.choice(n_viewers, n_events, p=activity / activity.sum()) + 1
        segment_of = rng.integers(0, len(segments), n_viewers + 1)
        own = rng.random(n_events) < 0.8
        width = min(len(s) for s in segments)
        table = np.stack([s[:width] for s in segments])
        in_segment = table[segment_of[viewers[own]], rng.integers(0, width, int(own.sum()))]
        courses = rng.integers(0, n_courses, n_events)
        courses[own] = in_segment
        ages = rng.integers(0, 180 * 86400, n_events)
        bought = rng.random(n_events) < 0.2
        links = {}
        for v, c in zip(viewers.tolist(), courses.tolist()):
            links.setdefault((v, c), f"l{len(links):x}")
        _copy(raw, "links", "id, url, course_id, platform, viewer_id, created_at",
              ((lid, "https://ke.example.com/c", course_ids[c], "bilibili", v, iso) for (v, c), lid in links.items()))
        clicks = ~bought
        _copy(raw, "link_clicks", "link_id, clicked_at, viewer_id, automated",
              ((links[(v, c)], (NOW - timedelta(seconds=int(a))).isoformat(), v, "f")
               for v, c, a in zip(viewers[clicks].tolist(), courses[clicks].tolist(), ages[clicks].tolist())))
        _copy(raw, "conversions", "platform, external_id, viewer_id, link_id, course_id, amount, currency, occurred_at",
              (("shop", f"o{n}", v, links[(v, c)], course_ids[c], 99, "CNY", (NOW - timedelta(seconds=int(a))).isoformat())
               for n, (v, c, a) in enumerate(zip(viewers[bought].tolist(), courses[bought].tolist(), ages[bought].tolist()))))
        # Profiles for the viewers who commented (a fifth), replies in a thread for every tenth viewer.
        profiled = np.arange(1, n_viewers + 1, 5)
        vectors = rng.standard_normal((len(profiled), dimension)).astype(np.float32)
        _copy(raw, "viewer_profiles", "viewer_id, vector, weight, topics, updated_at",
              ((int(v), "\\\\x" + vectors[k].tobytes().hex(), 3.0, '{"python": 1.0}', iso) for k, v in enumerate(profiled)))
        answered = np.arange(1, n_viewers + 1, 10)
        _copy(raw, "events", "id, platform, event_id, kind, thread_id, viewer_id, text, created_at, received_at, status, raw",
              ((k + 1, "bilibili", f"e{k}", "comment", f"BV{v % 50}", int(v), "", iso, iso, "decided", "{}") for k, v in enumerate(answered)))
        _copy(raw, "decisions", "event_pk, platform, thread_id, viewer_id, action, reason, course_id, confidence, dry_run, counts_as_reply, decided_at",
              ((k + 1, "bilibili", f"BV{v % 50}", int(v), "reply_public", "", course_ids[int(v) % n_courses], 0.9, "f", "t", iso)
               for k, v in enumerate(answered)))
        with raw.cursor() as cursor:
            for table in ("viewers", "events"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return {"seconds": time.perf_counter() - started, "links": len(links), "clicks": int(clicks.sum()), "purchases": int(bought.sum()),
            "profiles": len(profiled), "decisions": len(answered)}


def main(argv=None) -> None:
    args = parse_args(argv)
    from bot.analysis import Analyzer
    from bot.config import load_settings
    from bot.decision import Accepted
    from bot.events import Event, Thread
    from bot.knowledge import Knowledge
    from bot.pipeline import Pipeline
    from bot.privacy import Pseudonymizer
    from bot.recommend import CollaborativeTable
    from bot.runner import Runner
    from bot.store import Store
    from bot.store.profiles import SignalsKey

    settings = load_settings(REPO / "config" / "coursebot.toml", state_dir=str(Path("/tmp") / "coursebot-recommend-speed"))
    analyzer = Analyzer(Knowledge.open(settings))
    recommender = analyzer.recommender
    course_ids = list(recommender.facts.ids)

    name = f"coursebot_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        store = Store.from_url(url, Pseudonymizer(b"benchmark-key-0123456789abcdef"))
        seeded = seed(url, course_ids, analyzer.knowledge.encoder.dimension, args)
        print_table("seeded PostgreSQL", [
            Row("viewers", f"{args.viewers:,}", f"{seeded['profiles']:,} with a profile"),
            Row("interaction events", f"{seeded['clicks'] + seeded['purchases']:,}",
                f"{seeded['clicks']:,} clicks, {seeded['purchases']:,} purchases, {seeded['links']:,} links"),
            Row("seeding (COPY)", "", f"{seeded['seconds']:.1f} s"),
        ])

        table = CollaborativeTable(recommender)
        tracemalloc.start()
        started = time.perf_counter()
        table.refresh(store.interaction_pairs(), NOW)
        rebuild = time.perf_counter() - started
        rss = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print_table("item-to-item table (on a schedule, not per request)", [
            Row("rebuild from every event", f"{seeded['clicks'] + seeded['purchases']:,} events",
                f"{rebuild:.2f} s", verdict=f"{table.similarity.supporting_viewers:,} viewers with 2+ courses"),
            Row("peak Python memory during rebuild", "", f"{rss:.0f} MiB", verdict="tracemalloc"),
            Row("table", f"{len(course_ids)} courses", f"{table.similarity.similarity.nnz} pairs"),
        ])

        rng = random.Random(args.seed)
        threads = [Thread("BV1xx411c7mD", "Python零基础第1课：安装和环境配置"),
                   Thread(f"BV{3}", "Pandas数据清洗实战：10分钟搞定一份脏数据"), None]
        asks = []
        for k in range(args.asks):  # the same request thrice with distinct text: each variant pays the model
            request, thread, viewer_id = rng.choice(REQUESTS), rng.choice(threads), rng.randrange(1, args.viewers + 1)
            asks.append(tuple(Event(platform="bilibili", event_id=f"a{k}{v}", text=f"{request} 第{k}{v}问", thread=thread)
                              for v in ("次", "回", "遍")) + (viewer_id,))
        for k in range(20):  # warm up (model, FAISS, thread titles, connections) on texts not timed: no cached encodings
            analyzer.analyze([Event(platform="bilibili", event_id=f"w{k}", text=f"{REQUESTS[k % len(REQUESTS)]} 热身{k}",
                                    thread=threads[k % len(threads)])])
        pool = ThreadPoolExecutor(1)  # the runner's to_thread beside the analysis
        base, added, total_with, reads, ranks = [], [], [], [], []
        overlapped_total, overlapped_added, waits = [], [], []
        runner_total: list[float] = []
        stages = {name: Stage() for name in ("content ranking (again)", "waiting for the read", "re-ranking with the history",
                                             "all added after the analysis")}
        runner_stages = {name: Stage() for name in ("Runner._personalise after the analysis",
                                                    "re-ranking through asyncio.to_thread (before; CPU: the loop thread)")}
        hop_cpu: list[float] = []  # the worker thread's CPU for the re-ranking it was handed
        personalised = 0
        runner = Runner(analyzer, store, Pipeline.from_settings(settings, analyzer.knowledge.catalog, store.pseudonymizer),
                        clock=lambda _event: NOW)
        runner.collaborative = table
        loop = asyncio.new_event_loop()
        clocks = Clocks()

        def sequential(event, viewer_id, _n) -> None:  # the history read after the analysis: how it was
            nonlocal personalised
            started = time.perf_counter()
            analysis = analyzer.analyze([event])[0]
            analysed = time.perf_counter() - started
            content = 0.0
            if analysis.match.request is not None:  # the content ranking, timed again on its own
                started = time.perf_counter()
                recommender.rank(analysis.match.request)
                content = time.perf_counter() - started
            started = time.perf_counter()
            if analysis.match.request is not None:
                thread = event.thread.id if event.thread else None
                signals = store.viewer_signals(viewer_id, "bilibili", thread, NOW, shown_within_days=7)
                read = time.perf_counter()
                after = analyzer.personalise(analysis, signals, NOW, table.similarity)
                reads.append(read - started)
                ranks.append(time.perf_counter() - read + content)
                personalised += after.match.recommendations != analysis.match.recommendations
            history = time.perf_counter() - started
            base.append(analysed - content)
            added.append(content + history)
            total_with.append(analysed + history)

        def overlapped(event, viewer_id, _n) -> None:  # the history read while the model runs, ranked in this thread
            started = time.perf_counter()
            key = SignalsKey(viewer_id, "bilibili", event.thread.id if event.thread else None, NOW)
            pending = pool.submit(store.viewers_signals, [key], shown_within_days=7)
            analysis = analyzer.analyze([event])[0]
            request = analysis.match.request
            analysed = clocks.now()
            if request is not None:  # the content ranking again: `analyze` did it inside, uncounted
                recommender.rank(request)
            ranked = clocks.now()
            signals = pending.result()[key]
            read = clocks.now()
            if request is not None:
                analyzer.personalise(analysis, signals, NOW, table.similarity)
            done = clocks.now()
            waits.append(read[0] - ranked[0])
            stages["waiting for the read"].add(clocks, ranked, read)
            if request is not None:
                stages["content ranking (again)"].add(clocks, analysed, ranked)
                stages["re-ranking with the history"].add(clocks, read, done)
            stages["all added after the analysis"].add(clocks, analysed, done)
            overlapped_total.append(done[0] - started)
            overlapped_added.append(done[0] - analysed[0])  # content ranking (again) + waiting for the read + re-ranking

        async def through_runner(event, viewer_id, n) -> None:  # Runner._analyze's steps, the runner's own methods
            accepted = Accepted(event, n, viewer_id)
            started = time.perf_counter()
            history = runner._read_history([accepted])
            analysis = (await asyncio.to_thread(analyzer.analyze, [event]))[0]
            analysed = clocks.now()
            await runner._personalise([accepted], {n: analysis}, history)
            done = clocks.now()
            runner_stages["Runner._personalise after the analysis"].add(clocks, analysed, done)
            runner_total.append(done[0] - started)
            if analysis.match.request is not None and history is not None:  # the same re-ranking as the runner did it
                signals = history.result()[runner._history_key(accepted)]

                def personalise() -> float:
                    cpu = time.thread_time()
                    analyzer.personalise(analysis, signals, NOW, table.similarity)
                    return time.thread_time() - cpu

                handed = clocks.now()
                hop_cpu.append(await asyncio.to_thread(personalise))
                runner_stages["re-ranking through asyncio.to_thread (before; CPU: the loop thread)"].add(clocks, handed, clocks.now())

        def runner_way(event, viewer_id, n) -> None:
            loop.run_until_complete(through_runner(event, viewer_id, n))

        load_before = os.getloadavg()
        with clocks:
            for n, (first, second, third, viewer_id) in enumerate(asks):  # rotate which goes first
                runs = [(sequential, first), (overlapped, second), (runner_way, third)]
                for run, event in runs[n % 3:] + runs[:n % 3]:
                    run(event, viewer_id, n)
        load_after = os.getloadavg()
        pool.shutdown()
        loop.close()
        b50, b99 = percentiles(base)
        a50, a99 = percentiles(added)
        w50, w99 = percentiles(total_with)
        o50, o99 = percentiles(overlapped_total)
        oa50, oa99 = percentiles(overlapped_added)
        r50, r99 = percentiles(runner_stages["Runner._personalise after the analysis"].wall)
        load = f"load average {load_before[0]:.1f} → {load_after[0]:.1f} (1 min), {os.cpu_count()} cores"
        print_table(f"ask: {len(asks)} recommendation requests from viewers with history ({personalised} re-ranked by it); {load}", [
            Row("ask without the recommender p50 / p99", "", f"{_ms(b50)} / {_ms(b99)}", verdict="baseline"),
            Row("history read after the analysis (before): ask p50 / p99", "", f"{_ms(w50)} / {_ms(w99)}",
                verdict=f"{w50 / b50:.2f}× / {w99 / b99:.2f}× baseline"),
            Row("  of which: the viewer's history read p50 / p99", "one statement", _p50_p99(reads)),
            Row("  of which: content + personalised ranking p50 / p99", "", _p50_p99(ranks)),
            Row("  added by the recommender p50 / p99", f"{args.viewers:,} viewers", f"{_ms(a50)} / {_ms(a99)}", "p99 < 2 ms",
                ("PASS" if a99 < 0.002 else "FAIL") + f" ({a99 / b50:.1%} of a baseline ask)"),
            Row("history read beside the analysis: ask p50 / p99", "", f"{_ms(o50)} / {_ms(o99)}",
                verdict=f"{o50 / b50:.2f}× / {o99 / b99:.2f}× baseline"),
            Row("  of which: waiting for the read after the analysis p50 / p99", "",
                _p50_p99(waits)),
            Row("  added after the analysis: ranking + wait + re-ranking p50 / p99", f"{args.viewers:,} viewers",
                f"{_ms(oa50)} / {_ms(oa99)}", "p99 < 2 ms", ("PASS" if oa99 < 0.002 else "FAIL") + f" ({oa99 / b50:.1%} of a baseline ask)"),
            Row("through the runner (read beside, to_thread analysis): ask p50 / p99", "", _p50_p99(runner_total),
                verdict=f"{percentiles(runner_total)[0] / b50:.2f}× / {percentiles(runner_total)[1] / b99:.2f}× baseline"),
            Row("  added after the analysis: Runner._personalise p50 / p99", f"{args.viewers:,} viewers", f"{_ms(r50)} / {_ms(r99)}",
                "p99 < 2 ms", ("PASS" if r99 < 0.002 else "FAIL") + f" ({r99 / b50:.1%} of a baseline ask)"),
        ])
        print_table("where the time added after the analysis goes (wall vs this thread's CPU: the gap is waiting for a core)",
                    stage_rows(stages) + stage_rows(runner_stages)
                    + [Row("  the worker thread's CPU for the re-ranking it was handed p50 / p99", f"{len(hop_cpu)}", _p50_p99(hop_cpu))])
        store.close()
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
