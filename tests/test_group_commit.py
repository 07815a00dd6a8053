"""GroupCommit: concurrent submissions share commits, each caller gets its own item's result or error."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.group_commit import GroupCommit


class Ledger:
    """A commit function that records every call (items per transaction) and how many ran at once."""

    def __init__(self, refuse: set[int] = frozenset(), seconds: float = 0.02) -> None:
        self.calls: list[list[int]] = []
        self.refuse, self.seconds = refuse, seconds
        self.running = self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self._lock:
            self.calls.append(list(items))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.seconds)
            if self.refuse & set(items):
                raise ValueError(f"refused {sorted(self.refuse & set(items))}")
            return [item * 10 for item in items]
        finally:
            with self._lock:
                self.running -= 1


async def test_concurrent_submissions_share_a_commit_and_each_gets_its_own_result() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger)
    results = await asyncio.gather(*(group.submit(n) for n in range(40)))
    assert results == [n * 10 for n in range(40)]
    assert len(ledger.calls) < 5 and sorted(sum(ledger.calls, [])) == list(range(40))


async def test_an_item_that_fails_fails_only_its_own_caller() -> None:
    ledger = Ledger(refuse={3})
    group = GroupCommit(ledger)
    results = await asyncio.gather(*(group.submit(n) for n in range(8)), return_exceptions=True)
    assert isinstance(results[3], ValueError)
    assert [r for n, r in enumerate(results) if n != 3] == [n * 10 for n in range(8) if n != 3]


async def test_a_whole_batch_error_fails_the_batch_without_retrying_each_item() -> None:
    class Down(Exception):
        pass

    calls = []

    def down(items: list[int]) -> list[int]:
        calls.append(items)
        raise Down("database unavailable")

    group = GroupCommit(down, whole_batch_errors=(Down,))
    results = await asyncio.gather(*(group.submit(n) for n in range(5)), return_exceptions=True)
    assert all(isinstance(r, Down) for r in results) and len(calls) == 1


@pytest.mark.parametrize("parallel", [1, 3])
async def test_no_more_than_parallel_commits_run_at_once(parallel: int) -> None:
    ledger = Ledger(seconds=0.03)
    group = GroupCommit(ledger, parallel=parallel, max_batch=4)
    results = await asyncio.gather(*(group.submit(n) for n in range(40)))
    assert results == [n * 10 for n in range(40)]
    assert ledger.most_at_once == parallel


async def test_a_caller_that_goes_away_does_not_stop_its_item_or_the_others() -> None:
    ledger = Ledger(seconds=0.05)
    group = GroupCommit(ledger)
    gone = asyncio.ensure_future(group.submit(1))
    stays = asyncio.ensure_future(group.submit(2))
    await asyncio.sleep(0.01)  # the batch is being committed
    gone.cancel()
    assert await stays == 20
    assert ledger.calls == [[1, 2]]
