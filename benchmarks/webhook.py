"""Douyin webhook acknowledgement latency under concurrent deliveries, this code against a baseline commit.

    python benchmarks/webhook.py [--bursts 4] [--concurrency 50 --concurrency 200] [--baseline e92ab1a]
                                 [--postgres URL | --no-postgres]

The bot runs as in production, in a process of its own (benchmarks/_webhook_server.py: `coursebot run
--platform douyin` in dry run, so analysis and decisions run beside the webhook but nothing is sent), on a
fresh SQLite file or PostgreSQL database. This process is Douyin: httpx clients send bursts of N signed
`item_comment_reply` deliveries at once over loopback (keep-alive connections, opened by one unmeasured
warm-up burst, a new burst every second while the bot still analyses the last) and time each one from the
moment its request starts going out (httpx's trace hook, so the client's own queueing is not counted) to the
acknowledgement. Douyin gives up after 5 s and retries.

The baseline is the same benchmark run against the tree of `--baseline` (`git archive`, in a temporary
directory), servers of both started in turn, alternating which goes first, so both see the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa
from _common import REPO, Row, percentiles, print_table

from bot.adapters.douyin import sign

SECRET = "bench-client-secret"
PATH = "/douyin/webhook"
LIMIT_S = 5.0  # Douyin's acknowledgement timeout
GOAL_P99_S = 1.0  # at 50 concurrent
PER_CLIENT = 10  # connections per httpx client
SERVER = Path(__file__).resolve().parent / "_webhook_server.py"


def sample_texts() -> list[str]:
    with open(REPO / "config" / "samples" / "comments.jsonl", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines if line.strip()]


def delivery(n: int, tag: str, text: str) -> tuple[bytes, dict[str, str]]:
    """A signed comment as Douyin pushes it: 1 viewer in 3 writes twice or more, 20 videos."""
    body = json.dumps({
        "event": "item_comment_reply", "client_key": "bench", "from_user_id": f"viewer-{tag}-{n // 3}",
        "to_user_id": "creator", "content": {
            "comment_id": f"{tag}-{n}", "comment_user_id": f"viewer-{tag}-{n // 3}", "content": text,
            "create_time": int(time.time()), "reply_to_comment_id": "", "reply_to_item_id": f"video-{n % 20}"}},
        ensure_ascii=False).encode()
    return body, {"X-Douyin-Signature": sign(SECRET, body), "Msg-Id": f"msg-{tag}-{n}", "Content-Type": "application/json"}


class Databases:
    """A fresh database per server run: an SQLite file in `workdir`, or a scratch PostgreSQL database."""

    def __init__(self, postgres: str | None, workdir: Path) -> None:
        self.postgres, self.workdir, self.created = postgres, workdir, []

    def names(self) -> list[str]:
        return ["SQLite"] + (["PostgreSQL"] if self.postgres else [])

    def fresh(self, name: str) -> str:
        if name == "SQLite":
            return f"sqlite:///{self.workdir / f'{uuid.uuid4().hex}.db'}"
        assert self.postgres
        database = f"coursebot_bench_{uuid.uuid4().hex[:10]}"
        with sa.create_engine(self.postgres, isolation_level="AUTOCOMMIT").connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{database}"')
        self.created.append(database)
        return sa.engine.make_url(self.postgres).set(database=database).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.postgres and self.created:
            with sa.create_engine(self.postgres, isolation_level="AUTOCOMMIT").connect() as c:
                for database in self.created:
                    c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextmanager
def baseline_tree(commit: str, workdir: Path):
    tree = workdir / f"baseline-{commit}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    yield tree


@asynccontextmanager
async def bot_process(tree: Path, url: str, state_dir: Path, log: Path):
    """`coursebot run -p douyin` on `tree`'s code and config; yields the webhook's base URL."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COURSEBOT_STATE_DIR": str(state_dir), "COURSEBOT_STORE__URL": url,
           "COURSEBOT_POLICY__DRY_RUN": "true", "COURSEBOT_DOUYIN__ENABLED": "true",
           "COURSEBOT_DOUYIN__CLIENT_SECRET": SECRET, "COURSEBOT_DOUYIN__ACCESS_TOKEN": "unused-in-dry-run",
           "COURSEBOT_DOUYIN__API_BASE": "http://127.0.0.1:9", "COURSEBOT_DOUYIN__WEBHOOK_PORT": "0",
           "COURSEBOT_DOUYIN__WEBHOOK_PATH": PATH}
    with open(log, "ab") as stderr:
        process = await asyncio.create_subprocess_exec(sys.executable, str(SERVER), str(tree / "config" / "coursebot.toml"),
                                                        env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 600)
        if not line:
            raise RuntimeError(f"the bot did not start (see {log})")
        yield json.loads(line)["douyin"]
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def bursts(base_url: str, concurrency: int, count: int, texts: list[str]) -> tuple[list[float], Counter[int]]:
    """Seconds from send to acknowledgement of every delivery in `count` bursts of `concurrency`, and the statuses.

    Deliveries are spread over clients of `PER_CLIENT` connections each: one httpx pool of hundreds of connections
    spends more time finding a connection than the server spends answering, which is not what is measured here.
    """
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=PER_CLIENT, max_keepalive_connections=PER_CLIENT)
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0))
                   for _ in range(-(-concurrency // PER_CLIENT))]

        async def one(n: int, body: bytes, headers: dict[str, str]) -> tuple[float, int]:
            sent = [time.perf_counter()]

            async def trace(name: str, _info: dict) -> None:
                if name == "http11.send_request_headers.started":  # past this client's own queueing
                    sent[0] = time.perf_counter()

            response = await clients[n % len(clients)].post(PATH, content=body, headers=headers, extensions={"trace": trace})
            return time.perf_counter() - sent[0], response.status_code

        for burst in range(count + 1):  # the first opens the connections and is not counted
            tag = uuid.uuid4().hex[:8]
            prepared = [delivery(n, tag, texts[(burst * concurrency + n) % len(texts)]) for n in range(concurrency)]
            results = await asyncio.gather(*(one(n, body, headers) for n, (body, headers) in enumerate(prepared)))
            if burst:
                latencies += [seconds for seconds, _ in results]
                statuses.update(status for _, status in results)
            await asyncio.sleep(1.0)  # the bot is still analysing the burst: the next one arrives while it does
    return latencies, statuses


def summary(samples: list[float]) -> tuple[float, float, float]:
    p50, p99 = percentiles(samples)
    return p50, p99, max(samples)


def ms(p50: float, p99: float, top: float) -> str:
    return f"p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, max {top * 1000:,.0f} ms"


async def main(args: argparse.Namespace) -> None:
    texts = sample_texts()
    workdir = Path(tempfile.mkdtemp(prefix="coursebot-webhook-bench-"))
    state_dir = workdir / "state"  # shared: the index is built by the first server and reused
    databases = Databases(None if args.no_postgres else args.postgres, workdir)
    samples: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    statuses: dict[tuple[str, str, int], Counter[int]] = defaultdict(Counter)
    load = [os.getloadavg()[0]]
    try:
        with baseline_tree(args.baseline, workdir) as old_tree:
            trees = {"this code": REPO, f"baseline {args.baseline}": old_tree}
            for repeat in range(args.repeats):
                for database in databases.names():
                    order = list(trees) if repeat % 2 == 0 else list(reversed(trees))
                    for version in order:
                        async with bot_process(trees[version], databases.fresh(database), state_dir, workdir / "bot.log") as url:
                            for concurrency in args.concurrency:
                                latencies, codes = await bursts(url, concurrency, args.bursts, texts)
                                samples[(version, database, concurrency)] += latencies
                                statuses[(version, database, concurrency)] += codes
                        load.append(os.getloadavg()[0])
    finally:
        databases.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = []
    for database in databases.names():
        for concurrency in args.concurrency:
            size = f"{concurrency} concurrent × {args.bursts * args.repeats} bursts"
            new = summary(samples[("this code", database, concurrency)])
            old = summary(samples[(f"baseline {args.baseline}", database, concurrency)])
            codes = statuses[("this code", database, concurrency)]
            failed = sum(n for code, n in codes.items() if code >= 300)
            goal = f"p99 < {GOAL_P99_S:.0f} s" if concurrency == 50 else f"max < {LIMIT_S:.0f} s"
            met = new[1] < GOAL_P99_S if concurrency == 50 else new[2] < LIMIT_S
            rows.append(Row(f"ack → {database}, baseline {args.baseline}", size, ms(*old)))
            rows.append(Row(f"ack → {database}, this code", size, ms(*new) + (f", {failed} not 2xx" if failed else ""),
                            goal, f"{'PASS' if met and not failed else 'FAIL'}, p99 {new[1] / old[1]:.2f}× baseline, "
                                  f"max {new[2] / old[2]:.2f}×"))
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at start, {max(load):.2f} at most")
    print_table("Douyin webhook acknowledgement (benchmarks/webhook.py)", rows)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=4, help="measured bursts per concurrency, per server run")
    parser.add_argument("--repeats", type=int, default=2, help="server runs per version and database (alternating order)")
    parser.add_argument("--concurrency", type=int, action="append", help="deliveries per burst (default 50 and 200)")
    parser.add_argument("--baseline", default="e92ab1a", help="commit to compare with")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="server to create scratch databases on")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    args.concurrency = args.concurrency or [50, 200]
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
