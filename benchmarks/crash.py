"""Crash safety of the outbox: comments through the Douyin webhook and the Telegram Bot API (local fakes), the bot
killed with kill -9 while a reply is in flight, restarted, until every comment is handled.

    python benchmarks/crash.py [--comments 200] [--kills 3] [--only douyin --only telegram] [--latency 0.05]

Rows, per platform (`coursebot run --platform …` as a real process on SQLite; the fake platform answers every
send after `--latency` seconds, and the kill comes while one of those sends is posted but not yet answered):
- replies posted exactly once: replies (to comments, and DMs) the platform posted once and the store marks sent;
- duplicates: a reply posted twice (goal 0: the outbox never re-sends what may have gone out);
- in doubt, on the creator's queue: replies in flight at a kill, held with an open handoff (goal ≤ 1 per kill);
- never-attempted lost: replies that never reached the platform and are neither sent nor on the queue (goal 0;
  before the per-message attempt record a kill lost the rest of the claimed batch this way).
Replies the platform refused for its own reasons (e.g. a DM to a viewer who never wrote to the bot) are counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the fake platforms and the kill -9 harness
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "douyin"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "telegram"))

import httpx
import sqlalchemy as sa
from _common import Row, print_table, verdict
from aiohttp import web
from crash_harness import crash_env, free_port, kill_when_async
from fake_bot_api import TOKEN, FakeBotAPI
from fake_douyin import ACCESS_TOKEN, CLIENT_KEY, OPEN_ID, FakeDouyin
from telegram_world import TelegramWorld

from bot.adapters.douyin import sign

SECRET = "dy-client-secret-crash-bench"
VIDEO = "7301856234917706024"  # mapped to a course in config/samples/threads.yaml
QUESTIONS = ["这个课多少钱？", "课程有效期多久", "可以开发票吗", "零基础能学会吗", "怎么下载课件", "能退款吗", "有没有优惠",
             "适合小白吗", "学完能找工作吗", "讲得真好，谢谢老师"]
HELD_IN_DOUBT = "this reply may not have gone out%"
COURSEBOT = Path(sys.executable).parent / "coursebot"  # the installed entry point of this interpreter


class InFlight:
    """What a fake platform posted, and how many sends are posted but not yet answered (the kill waits for one)."""

    def __init__(self, latency: float) -> None:
        self.latency, self.open, self.posted = latency, 0, 0

    async def answer_late(self) -> None:
        self.posted += 1
        self.open += 1
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.open -= 1


class SlowDouyin(FakeDouyin):
    def __init__(self, latency: float) -> None:
        super().__init__()
        self.flight = InFlight(latency)

    async def _reply(self, request: web.Request) -> web.Response:
        response = await super()._reply(request)
        self.calls[-1]["posted"] = True
        await self.flight.answer_late()
        return response

    async def _send(self, request: web.Request) -> web.Response:
        response = await super()._send(request)
        self.calls[-1]["posted"] = response.status == 200 and b'"error_code": 0' in (response.body or b"")  # type: ignore[operator]
        await self.flight.answer_late()
        return response


class SlowBotAPI(FakeBotAPI):
    def __init__(self, latency: float) -> None:
        super().__init__()
        self.flight = InFlight(latency)

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        result = await super()._m_sendmessage(params)
        if not isinstance(result, web.Response):
            params["_posted"] = True  # Telegram has posted it; the answer is still on its way
            await self.flight.answer_late()
        return result


@dataclass
class Outcome:
    comments: int
    kills: int
    queued: int
    once: int
    duplicates: int
    in_doubt: int
    in_doubt_on_queue: int
    lost: int
    refused: int
    seconds: float


# -- one platform, killed and restarted --------------------------------------------------------------------------
async def crash_run(name: str, env: dict[str, str], database: Path, log: Path, flight: InFlight, comments: int, kills: int,
                    deliver: Callable[[], Any], posts: Callable[[dict[str, Any]], int]) -> Outcome:
    """Start the bot, feed it, kill it `kills` times while a send is in flight, restart until all is handled."""
    started, killed = time.monotonic(), 0
    for n in range(1, kills + 2):
        process = await asyncio.create_subprocess_exec(str(COURSEBOT), "run", "--platform", name, env=env,
                                                       stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"))
        if n == 1:
            await deliver()
        if n <= kills:
            threshold = n * comments // (kills + 2)  # spread over the run, with room left to send after the last kill
            # A kill while nothing is in flight (nothing left to send by the timeout) is not counted.
            killed += await kill_when_async(process, lambda t=threshold: flight.posted >= t and flight.open > 0, timeout=300)  # type: ignore[misc]
            await process.wait()
            continue
        await _until_settled(database, comments)
        process.terminate()
        await process.wait()
    return _outcome(database, comments, killed, posts, time.monotonic() - started)


async def _until_settled(database: Path, comments: int, timeout: float = 600) -> None:
    """Until every comment is decided and every reply final (sent, held or dead), twice in a row 1 s apart."""
    deadline, quiet = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and quiet < 2:
        await asyncio.sleep(1)
        quiet = quiet + 1 if _settled(database, comments) else 0


def _settled(database: Path, comments: int) -> bool:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as db:
            decided = db.execute(sa.text("select count(*) from decisions")).scalar()
            open_ = db.execute(sa.text("select count(*) from outbox where state in ('pending', 'sending', 'failed')")).scalar()
            return bool(decided >= comments and open_ == 0)
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def _outcome(database: Path, comments: int, kills: int, posts: Callable[[dict[str, Any]], int], seconds: float) -> Outcome:
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as db:
        rows = [dict(r._mapping) for r in db.execute(sa.text(
            "select id, kind, text, reply_to, recipient_id, state, last_error from outbox"))]
        queued_for_creator = db.execute(sa.text(
            "select count(*) from handoffs where state = 'open' and reason like :held"), {"held": HELD_IN_DOUBT}).scalar()
    engine.dispose()
    posted = {row["id"]: posts(row) for row in rows}
    in_doubt = [r for r in rows if r["state"] == "held" or "interrupted while sending" in (r["last_error"] or "")]
    refused = [r for r in rows if r["state"] == "dead" and r not in in_doubt and posted[r["id"]] == 0
               and (r["last_error"] or "")[:3].isdigit()]  # the platform's own error code
    lost = [r for r in rows if r["state"] != "sent" and r not in in_doubt and r not in refused and posted[r["id"]] == 0]
    lost += [r for r in in_doubt if r["state"] != "held" and posted[r["id"]] == 0]  # given up without ever being tried
    return Outcome(comments, kills, len(rows), sum(1 for r in rows if r["state"] == "sent" and posted[r["id"]] == 1),
                   sum(1 for n in posted.values() if n > 1), len(in_doubt), queued_for_creator or 0, len(lost), len(refused), seconds)


# -- Douyin: signed webhook deliveries ------------------------------------------------------------------------------
async def douyin(workdir: Path, state: Path, args: argparse.Namespace) -> Outcome:
    fake = SlowDouyin(args.latency)
    await fake.start()
    port, database = free_port(), workdir / "douyin.db"
    env = crash_env(state, STORE__URL=f"sqlite:///{database}", DOUYIN__ENABLED="true", DOUYIN__API_BASE=fake.base_url,
                    DOUYIN__CLIENT_KEY=CLIENT_KEY, DOUYIN__CLIENT_SECRET=SECRET, DOUYIN__ACCESS_TOKEN=ACCESS_TOKEN,
                    DOUYIN__OPEN_ID=OPEN_ID, DOUYIN__WEBHOOK_PORT=str(port), SUMMARY__ENABLED="false")
    url = f"http://127.0.0.1:{port}/douyin/webhook"

    async def deliver() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            await _until_listening(http, url)
            for n in range(args.comments):  # stored before each 200; the bot answers meanwhile
                body = _douyin_comment(n)
                response = await http.post(url, content=body, headers={"X-Douyin-Signature": sign(SECRET, body), "Msg-Id": f"m-{n}"})
                response.raise_for_status()

    def posts(row: dict[str, Any]) -> int:
        if row["kind"] == "reply_public":
            return sum(1 for c in fake.calls if c.get("posted") and c["path"] == "/item/comment/reply/"
                       and c["body"].get("comment_id") == row["reply_to"])
        return sum(1 for c in fake.calls if c.get("posted") and c["path"] == "/im/send/msg/"
                   and c["body"].get("to_user_id") == row["recipient_id"] and c["body"]["content"]["text"]["text"] == row["text"])

    try:
        return await crash_run("douyin", env, database, workdir / "douyin.log", fake.flight, args.comments, args.kills, deliver, posts)
    finally:
        await fake.stop()


def _douyin_comment(n: int) -> bytes:
    return json.dumps({"event": "item_comment_reply", "client_key": CLIENT_KEY, "from_user_id": f"viewer-{n}", "to_user_id": OPEN_ID,
                       "content": {"comment_id": f"c-{n}", "comment_user_id": f"viewer-{n}", "content": QUESTIONS[n % len(QUESTIONS)],
                                   "create_time": int(time.time()), "reply_to_comment_id": "", "reply_to_item_id": VIDEO}},
                      ensure_ascii=False).encode()


async def _until_listening(http: httpx.AsyncClient, url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await http.get(url)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


# -- Telegram: comments under a channel post, read by long polling -------------------------------------------------
async def telegram(workdir: Path, state: Path, args: argparse.Namespace) -> Outcome:
    api = await SlowBotAPI(args.latency).start()
    world = TelegramWorld(api)
    database = workdir / "telegram.db"
    # Telegram's pacing is not what is measured here: without it the run takes seconds, not minutes.
    env = crash_env(state, STORE__URL=f"sqlite:///{database}", TELEGRAM__ENABLED="true", TELEGRAM__TOKEN=TOKEN,
                    TELEGRAM__API_BASE=api.base_url, TELEGRAM__DISCUSSION_GROUP_ID=str(world.group["id"]),
                    TELEGRAM__POLLING_TIMEOUT="1", TELEGRAM__CHAT_INTERVAL="0", TELEGRAM__GROUP_PER_MINUTE="100000",
                    TELEGRAM__GLOBAL_PER_SECOND="100000", SUMMARY__ENABLED="false")

    async def deliver() -> None:
        post = world.channel_post("Python零基础入门到实战 第3课：列表和字典")
        for n in range(args.comments):
            world.comment(world.user(8_000_000 + n, f"学员{n}"), post, QUESTIONS[n % len(QUESTIONS)])

    def posts(row: dict[str, Any]) -> int:
        if row["kind"] == "reply_public":
            target = int(str(row["reply_to"]).rsplit(":", 1)[-1])
            return sum(1 for s in api.calls_to("sendMessage") if s.params.get("_posted")
                       and (s.params.get("reply_parameters") or {}).get("message_id") == target and s.params.get("text") == row["text"])
        return sum(1 for s in api.calls_to("sendMessage") if s.params.get("_posted")
                   and str(s.params.get("chat_id")) == str(row["recipient_id"]) and s.params.get("text") == row["text"])

    try:
        return await crash_run("telegram", env, database, workdir / "telegram.log", api.flight, args.comments, args.kills, deliver, posts)
    finally:
        await api.close()


# -- the table ------------------------------------------------------------------------------------------------------
def rows_for(name: str, o: Outcome) -> list[Row]:
    size = f"{o.comments} comments, {o.kills} kills"
    return [
        Row(f"{name}: replies posted exactly once", size, f"{o.once} of {o.queued}", "all but the ones in doubt",
            f"{o.once / max(o.queued, 1):.1%} in {o.seconds:.0f} s"),
        Row(f"{name}: duplicates", size, str(o.duplicates), "0", verdict(o.duplicates == 0)),
        Row(f"{name}: in doubt, on the creator's queue", size, f"{o.in_doubt} ({o.in_doubt_on_queue} open handoffs)",
            f"≤ {o.kills} (1 per kill), all listed", verdict(o.in_doubt <= o.kills and o.in_doubt_on_queue == o.in_doubt)),
        Row(f"{name}: never-attempted lost", size, str(o.lost), "0", verdict(o.lost == 0)),
        Row(f"{name}: refused by the platform", size, str(o.refused), "(its own rules, e.g. DM never opened)"),
    ]


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="coursebot-crash-"))
    state = workdir / "state"
    state.mkdir()
    if args.state_dir:  # an index built by `coursebot index`: copied, not rebuilt by the first run
        shutil.copytree(args.state_dir, state, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.db*", "summaries"))
    rows: list[Row] = []
    try:
        for name, run in (("douyin", douyin), ("telegram", telegram)):
            if args.only and name not in args.only:
                continue
            outcome = await run(workdir, state, args)
            rows += rows_for(name.capitalize(), outcome)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(f"Crash safety (benchmarks/crash.py): kill -9 while a send is in flight, latency {args.latency * 1000:.0f} ms", rows)
    if args.keep:
        print(f"kept {workdir} (databases and bot logs)")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake platforms take to answer a send")
    parser.add_argument("--only", action="append", choices=["douyin", "telegram"])
    parser.add_argument("--state-dir", type=Path, help="a state dir with a built index to start from")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases and logs")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
