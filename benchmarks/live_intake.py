"""Sustained live-room intake: danmaku at a set rate from a fake Bilibili live server (a process of its own)
through the real WebSocket client (LiveSource) into the runner, stored and analysed in batches.

    python benchmarks/live_intake.py [--rate 500] [--seconds 20] [--per-frame 10] [--postgres URL]

Two runs in the same process, same machine, one after the other:
- "intake only": danmaku are stored but not analysed (the runner analyses comment kinds only today);
- "intake + batched analysis": danmaku analysed like comments (normalise, encode with m3e-small, intents,
  search), batches of up to 64 as `coursebot run` does. Whether danmaku are analysed in the runner or by the
  live policy is the live policy's decision (h/livepolicy); this measures the cost either way.

Lag is per danmaku, from the wall-clock ms the fake server stamped on it when it sent the frame
(`info[0][4]`) to the moment its batch's decision was stored (`Runner.run(on_outcomes=…)`). CPU is the bot
process's user+system time over the streaming window divided by wall time (100 % = one core of the two);
the fake server's own CPU is reported separately. dropped = sent − decided (unique event ids). Texts are the
200 bundled sample comments cut to Bilibili's 20-character danmaku limit, cycled: the encoder's cache helps as
it would with real, repetitive danmaku. Policy is dry run: nothing is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "bilibili_live"))

from _common import REPO, Row, percentiles, print_table

ROOM = 5_050_505


def _texts() -> list[str]:
    lines = (REPO / "config" / "samples" / "comments.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["text"][:20] for line in lines if line.strip()]


def _fake_process(ports: mp.Queue, commands: mp.Queue, results: mp.Queue) -> None:
    """The fake live server: waits for the bot to connect, streams on command, reports its CPU."""
    from fake_server import FakeLive

    async def main() -> None:
        live = FakeLive()
        live.add_room(ROOM, title="基准直播间", live_time=int(time.time()))
        await live.start()
        ports.put(live.base_url)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, commands.get)
            if command is None:
                break
            count, rate, per_frame, texts = command
            await asyncio.wait_for(live.connected.wait(), 60)
            await asyncio.sleep(1.0)  # the bot's auth and first heartbeat settle
            cpu0, started = time.process_time(), time.perf_counter()
            await live.stream(ROOM, count, rate=rate, per_frame=per_frame, texts=texts)
            results.put({"sent": count, "seconds": time.perf_counter() - started,
                         "cpu": time.process_time() - cpu0})
        await live.stop()

    asyncio.run(main())


def _analyzer_ceiling(analyzer, texts: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Danmaku per second the analyzer alone manages in batches of 64, in this process, now, with the encoder
    cache warm on these texts as it is in the runs: the ceiling the intake + analysis run is compared with (the
    machine's load moves both)."""
    from bot.events import Event, Thread

    thread = Thread(id=f"live:{ROOM}:0", title="基准直播间")
    events = [Event(platform="bilibili-live", event_id=f"b{i}", text=texts[i % len(texts)], kind="danmaku", thread=thread)
              for i in range(len(texts) * 4)]
    for start in range(0, len(texts), 64):  # warm: every text once, as the encoder cache is in the runs that follow
        analyzer.analyze(events[start:start + 64])
    started = time.perf_counter()
    for start in range(0, len(events), 64):
        analyzer.analyze(events[start:start + 64])
    return len(events) / (time.perf_counter() - started)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_run(settings, analyzer, base_url: str, commands: mp.Queue, results: mp.Queue, *, analyse: bool,
                  count: int, rate: float, per_frame: int, texts: list[str]) -> dict[str, float]:
    import bot.runner as runner_module
    from bot.adapters.bilibili_live import LiveApi, LiveSource
    from bot.runner import Runner
    from bot.store.store import Store

    kinds = runner_module.COMMENT_KINDS  # danmaku are analysed (bot/pipeline.py); "intake only" leaves them out
    runner_module.COMMENT_KINDS = kinds if analyse else kinds - {"danmaku", "super_chat"}
    store = await asyncio.to_thread(Store.open, settings)
    lags: list[float] = []
    seen: set[str] = set()
    done = asyncio.Event()

    def on_outcomes(outcomes) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        for outcome in outcomes:
            event = outcome.accepted.event
            if event.kind == "danmaku" and event.event_id not in seen:
                seen.add(event.event_id)
                lags.append(now - event.created_at.timestamp())
        if len(seen) >= count:
            done.set()

    try:
        runner = await asyncio.to_thread(Runner.open, settings, {}, analyzer=analyzer, store=store)
        async with LiveApi(live_api_base=base_url, api_base=base_url) as api:
            source = LiveSource(api, [ROOM])
            stop = asyncio.Event()
            task = asyncio.create_task(runner.run([source], stop=stop, on_outcomes=on_outcomes))
            commands.put((count, rate, per_frame, texts))
            while not source.connected.get(ROOM, asyncio.Event()).is_set():
                await asyncio.sleep(0.05)
            cpu0, started = _cpu(), time.perf_counter()
            server = await asyncio.to_thread(results.get)
            try:
                await asyncio.wait_for(done.wait(), 60)
            except TimeoutError:
                pass
            wall, cpu = time.perf_counter() - started, _cpu() - cpu0
            stop.set()
            await task
    finally:
        runner_module.COMMENT_KINDS = kinds
        store.close()
    p50, p99 = percentiles(lags)
    return {"sent": server["sent"], "decided": len(seen), "rate": server["sent"] / server["seconds"],
            "cpu": 100 * cpu / wall, "server_cpu": 100 * server["cpu"] / server["seconds"], "p50": p50, "p99": p99,
            "max": max(lags) if lags else float("nan"), "duplicates": source.stats["duplicates"]}


async def main(args: argparse.Namespace) -> None:
    from bot.analysis import Analyzer
    from bot.config import load_settings
    from bot.knowledge import Knowledge

    state = Path(tempfile.mkdtemp(prefix="coursebot-live-bench-"))
    overrides: dict[str, object] = {"state_dir": state, "policy": {"dry_run": True}}
    if args.postgres:
        overrides["store"] = {"url": args.postgres}
    settings = load_settings(REPO / "config" / "coursebot.toml", **overrides)
    analyzer = Analyzer(await asyncio.to_thread(Knowledge.open, settings))
    texts = _texts()
    ceiling = await asyncio.to_thread(_analyzer_ceiling, analyzer, texts)
    ctx = mp.get_context("spawn")
    ports, commands, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=_fake_process, args=(ports, commands, results), daemon=True)
    server.start()
    base_url = ports.get(timeout=60)
    count = int(args.rate * args.seconds)
    rows: list[Row] = [Row("Analyzer.analyze alone, batches of 64 (baseline)", f"{len(texts) * 4:,} dm",
                           f"{ceiling:,.0f} dm/s", f">= {args.rate:.0f}/s", "PASS" if ceiling >= args.rate else "FAIL")]
    try:
        measured = {}
        for name, analyse in (("intake only", False), ("intake + batched analysis", True)):
            m = measured[name] = await one_run(settings, analyzer, base_url, commands, results, analyse=analyse,
                                               count=count, rate=args.rate, per_frame=args.per_frame, texts=texts)
            size = f"{m['sent']:,} dm @ {m['rate']:.0f}/s"
            rows += [
                Row(f"{name}: dropped", size, f"{m['sent'] - m['decided']:,.0f} (dup {m['duplicates']:.0f})", "0",
                    "PASS" if m["sent"] == m["decided"] else "FAIL"),
                Row(f"{name}: lag p50 / p99 / max", size, f"{m['p50']:.3f} / {m['p99']:.3f} / {m['max']:.3f} s", "p99 < 2 s",
                    "PASS" if m["p99"] < 2 else "FAIL"),
                Row(f"{name}: bot CPU", size, f"{m['cpu']:.0f} % of a core", "< 200 % (2 cores)",
                    f"{m['cpu'] / measured['intake only']['cpu']:.2f}× intake only"),
                Row(f"{name}: fake server CPU", size, f"{m['server_cpu']:.0f} % of a core"),
            ]
    finally:
        commands.put(None)
        server.join(10)
    load = os.getloadavg()
    print_table(f"Live intake (benchmarks/live_intake.py, {os.cpu_count()} CPUs, load {load[0]:.1f}, "
                f"{'PostgreSQL' if args.postgres else 'SQLite'})", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="danmaku per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each run streams")
    parser.add_argument("--per-frame", type=int, default=10, help="danmaku per WebSocket frame (brotli)")
    parser.add_argument("--postgres", help="a PostgreSQL URL for the store (default: SQLite in a temp dir)")
    asyncio.run(main(parser.parse_args()))
