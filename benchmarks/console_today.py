"""The console's Today page for one 100,000-event day on SQLite and PostgreSQL: server time and bytes.

Goals (issue 20): the Today page of a 100k-event day in < 3 s, a page's HTML + JS + CSS < 300 KB.
Seeds the same synthetic Shanghai day as benchmarks/summary.py, then times, best of 3:

- baseline: what `coursebot summary --format json` does — `daily_summary` + the JSON rendering;
- Today fragment: `today_view` (the same `daily_summary`) + `render_fragment` (Jinja2, CSS bars);
- Today page: the fragment inside a stand-in `base.html`, as `today_page` renders it for the console.

The page adds only the template rendering to the summary: the ratio column shows what that costs.
Questions are grouped by keyword (no model), as `--group-questions-by keywords`; clustering by meaning is
timed by `benchmarks/summary.py --with-model`.

    python benchmarks/console_today.py [--events 100000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jinja2 import DictLoader

from benchmarks._common import REPO, Row, print_table, verdict
from benchmarks.summary import DAY, TZ, load, scratch_schema, synthetic_day
from bot.config import load_settings
from bot.console.today import STYLESHEET, environment, render_fragment, today_page, today_view
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from bot.summary.build import SummaryOptions, daily_summary
from bot.summary.render import render

GOAL_S = 3.0
GOAL_BYTES = 300 * 1024
# A stand-in for the console's layout, roughly its size (header, navigation, a few links).
BASE = ("<!doctype html><html lang=zh-CN><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        "<title>{% block title %}{% endblock %}</title><link rel=stylesheet href=/static/console.css></head>"
        "<body><header><nav><a href=/inbox>收件箱</a><a href=/conversations>对话</a><a href=/today>今日</a>"
        "<a href=/knowledge>知识库</a><a href=/switches>开关</a></nav></header><main>{% block content %}{% endblock %}</main></body></html>")


def best_of(call, runs: int = 3) -> tuple[float, float, float, object]:
    """(best wall, median wall, CPU seconds of this process in the best run, last result) of `runs` calls.
    On a shared machine wall time includes waiting for a core; this process's CPU time does not (for
    PostgreSQL it leaves out the server's share of the work)."""
    samples, result = [], None
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        result = call()
        samples.append((time.perf_counter() - started, time.process_time() - cpu))
    walls = sorted(wall for wall, _ in samples)
    return walls[0], walls[len(walls) // 2], min(samples)[1], result


def bench_backend(name: str, engine: sa.Engine, rows: dict[str, list[dict]], settings, results: list[Row]) -> None:
    upgrade(engine)
    load(engine, rows)
    size = f"{len(rows['events']):,} events"
    options = SummaryOptions.from_settings(settings)
    env = environment(DictLoader({"base.html": BASE}))

    def json_summary() -> str:
        return render(daily_summary(engine, DAY, TZ, options=options), "json")

    def fragment() -> str:
        return render_fragment(today_view(engine, settings, DAY), env=env)

    json_summary()  # warm-up: imports, query plans, template compilation
    fragment()
    base_s, base_median, base_cpu, _ = best_of(json_summary)
    results.append(Row(f"{name}: baseline — summary --format json", size, f"{base_s:.2f} s (median {base_median:.2f}; CPU {base_cpu:.2f})"))
    frag_s, frag_median, frag_cpu, html = best_of(fragment)
    results.append(Row(f"{name}: Today fragment (view + HTML)", size, f"{frag_s:.2f} s (median {frag_median:.2f}; CPU {frag_cpu:.2f})",
                       f"< {GOAL_S:.0f} s", f"{verdict(frag_s < GOAL_S)}, {frag_s / base_s:.2f}× baseline"))
    page_s, _, page_cpu, page = best_of(lambda: today_page(engine, settings, DAY, env=env))
    results.append(Row(f"{name}: Today page (in the layout)", size, f"{page_s:.2f} s (CPU {page_cpu:.2f})", f"< {GOAL_S:.0f} s",
                       f"{verdict(page_s < GOAL_S)}, {page_s / base_s:.2f}× baseline"))
    view = today_view(engine, settings, DAY)
    render_s, _, _, _ = best_of(lambda: render_fragment(view, env=env), runs=5)
    results.append(Row(f"{name}: template rendering alone", size, f"{render_s * 1000:.1f} ms"))
    css = STYLESHEET.stat().st_size
    fragment_bytes, page_bytes = len(str(html).encode()), len(str(page).encode())
    results.append(Row(f"{name}: fragment HTML", size, f"{fragment_bytes / 1024:.1f} KB"))
    results.append(Row(f"{name}: page HTML + today.css (no JS)", size, f"{(page_bytes + css) / 1024:.1f} KB "
                       f"({page_bytes / 1024:.1f} + {css / 1024:.1f})", f"< {GOAL_BYTES // 1024} KB", verdict(page_bytes + css < GOAL_BYTES)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    rows = synthetic_day(args.events)
    results: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="coursebot-bench-today-") as tmp:
        settings = load_settings(REPO / "config" / "coursebot.toml", state_dir=tmp)
        sqlite = make_engine(f"sqlite:///{Path(tmp) / 'coursebot.db'}")
        try:
            bench_backend("SQLite", sqlite, rows, settings, results)
        finally:
            sqlite.dispose()
        if not args.skip_postgres:
            with scratch_schema("bench_today") as postgres:
                bench_backend("PostgreSQL", postgres, rows, settings, results)
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print_table(f"Console Today page of one {TZ.key} day ({DAY}); {os.cpu_count()} CPUs, load average {load_avg}", results)


if __name__ == "__main__":
    main()
