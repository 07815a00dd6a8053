"""The kill -9 harness shared by tests/pipeline/test_crash.py and benchmarks/crash.py: the environment of a bot
process that is meant to be killed (fast lease, no rate limits), and SIGKILL once a condition holds."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config"
UNLIMITED = "100000"


def crash_env(state_dir: Path, **settings: str) -> dict[str, str]:
    """The environment for `coursebot` with the repo's config and `state_dir`, an interrupted send looked at again
    1 s later, no rate limit in the way; `settings` adds COURSEBOT_<NAME> variables (e.g. DOUYIN__API_BASE=…)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")} | {
        "COURSEBOT_CONFIG": str(REPO_CONFIG / "coursebot.toml"),
        "COURSEBOT_STATE_DIR": str(state_dir),
        "COURSEBOT_SECRET_KEY": "crash-test-key-0123456789abcdef",
        "COURSEBOT_OUTBOX__LEASE": "1",
        "COURSEBOT_OUTBOX__POLL_INTERVAL": "0.05",
        "COURSEBOT_POLICY__RATE_LIMITS__PER_THREAD_PER_HOUR": UNLIMITED,
        "COURSEBOT_POLICY__RATE_LIMITS__PER_VIEWER_PER_DAY": UNLIMITED,
        "COURSEBOT_POLICY__RATE_LIMITS__PER_PLATFORM_PER_DAY": UNLIMITED,
        "PYTHONIOENCODING": "utf-8",
    }
    return env | {f"COURSEBOT_{name.upper()}": value for name, value in settings.items()}


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 240) -> bool:
    """SIGKILL `process` as soon as `ready()` (checked every 20 ms), or once `timeout` has passed; True when it was
    killed because `ready()` held, False when it ended by itself or was killed at the timeout."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    return _kill(process.pid, process.poll() is None, ready)


async def kill_when_async(process: asyncio.subprocess.Process, ready: Callable[[], bool], timeout: float = 240) -> bool:
    """`kill_when` for a caller whose event loop must keep running meanwhile (fake platform servers in it)."""
    deadline = time.monotonic() + timeout
    while process.returncode is None and not ready() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    return _kill(process.pid, process.returncode is None, ready)


def _kill(pid: int, alive: bool, ready: Callable[[], bool]) -> bool:
    if not alive:
        return False
    on_time = ready()
    os.kill(pid, signal.SIGKILL)
    return on_time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
