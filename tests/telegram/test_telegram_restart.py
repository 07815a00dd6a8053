"""`coursebot run --platform telegram` as a real process: SIGKILL it while Telegram is posting a reply,
restart it, and the comment is answered exactly once (the reply in doubt is held on the creator's queue,
not re-sent); then it stops cleanly on SIGTERM without logging the token."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from fake_bot_api import TOKEN
from telegram_helpers import ADMIN_ID, VIEWER_ID

from bot.outbox import IN_DOUBT

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.model]
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "coursebot.toml"
POST = "Python零基础入门到实战 第3课：列表和字典"


@pytest.fixture
def state_dir(tmp_path, knowledge, shared_state_dir):
    """A fresh database, but the session's already built index (no re-encoding in each process)."""
    target = tmp_path / "state"
    shutil.copytree(shared_state_dir, target, ignore=shutil.ignore_patterns("coursebot.db*", "summaries"))
    return target


def environment(api, world, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")}
    return env | {
        "COURSEBOT_CONFIG": str(REPO_CONFIG), "COURSEBOT_STATE_DIR": str(state_dir),
        "COURSEBOT_TELEGRAM__TOKEN": TOKEN, "COURSEBOT_TELEGRAM__API_BASE": api.base_url,
        "COURSEBOT_TELEGRAM__ADMIN_IDS": json.dumps([ADMIN_ID]),
        "COURSEBOT_TELEGRAM__DISCUSSION_GROUP_ID": str(world.group["id"]), "COURSEBOT_TELEGRAM__POLLING_TIMEOUT": "1",
        "COURSEBOT_OUTBOX__LEASE": "1", "COURSEBOT_OUTBOX__POLL_INTERVAL": "0.2", "COURSEBOT_SUMMARY__ENABLED": "false",
        "PYTHONIOENCODING": "utf-8",
    }


async def start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    script = Path(sys.executable).parent / "coursebot"
    return await asyncio.create_subprocess_exec(str(script), "run", "--platform", "telegram", env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"))


def outbox_rows(state_dir: Path) -> list[tuple[str, str | None]]:
    engine = sa.create_engine(f"sqlite:///{state_dir / 'coursebot.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text("select state, last_error from outbox order by id"))]
    except sa.exc.OperationalError:
        return []
    finally:
        engine.dispose()


def replies_to(api, message):
    return [s for s in api.sent if (s.get("reply_parameters") or {}).get("message_id") == message["message_id"]]


async def test_killed_mid_send_and_restarted_the_comment_is_answered_once(api, world, state_dir, tmp_path):
    env, log = environment(api, world, state_dir), tmp_path / "bot.log"
    post = world.channel_post(POST)
    question = world.comment(world.user(VIEWER_ID, "小明"), post, "这个课多少钱？")
    gate = api.hold("sendMessage")

    first = await start_bot(env, log)
    try:
        await api.wait_for(lambda a: replies_to(a, question), timeout=180)  # Telegram posted it…
    finally:
        first.send_signal(signal.SIGKILL)  # …and the bot dies before hearing back
        await first.wait()
    gate.set()
    api._holds.clear()

    second = await start_bot(env, log)
    try:
        await api.wait_for(lambda a: any(state == "held" for state, _ in outbox_rows(state_dir)), timeout=180)
        other = world.channel_post("Excel函数课第5章 XLOOKUP与动态数组")
        sentinel = world.comment(world.user(VIEWER_ID + 1), other, "课程链接在哪里")
        await api.wait_for(lambda a: replies_to(a, sentinel), timeout=60)
        await api.wait_for(lambda a: sorted(s for s, _ in outbox_rows(state_dir)) == ["held", "sent"], timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(second.wait(), 60)

    assert len(replies_to(api, question)) == 1  # never sent twice
    assert [e for s, e in outbox_rows(state_dir) if s == "held"] == [IN_DOUBT]
    assert code == 0
    output = log.read_text(encoding="utf-8")
    assert "telegram bot @coursebot_test_bot ready" in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
