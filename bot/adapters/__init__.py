"""Platform adapters: each turns platform payloads into Events (a Source) and sends outbox messages (a Sink)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Future]) -> None:
    """Cancel every task, then wait for each to finish unwinding (their `finally` blocks close connections)."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
