"""Group commit: items submitted together by concurrent callers are stored in one transaction, each caller answered
once that transaction committed.

Webhook deliveries arrive in bursts (Douyin pushes a popular video's comments dozens at a time) and each must be
stored before it is acknowledged. A transaction per delivery made them queue for the database one by one (on
SQLite writers take turns; on PostgreSQL every commit waits for its own WAL flush): at 50 concurrent deliveries
p99 was 2.5 s against Douyin's 5 s limit. Here the first item waits `window` seconds for others to join, then
one transaction stores them all; items arriving while it runs form the next one. `parallel` transactions may
run at once: 1 on SQLite (writers take turns anyway), more on PostgreSQL, whose server works on several
connections at once while our thread waits for each statement's round trip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """`await submit(item)` returns `commit([..., item, ...])`'s result for `item`, or raises what storing it raised.

    `commit` is synchronous (it runs in a thread, off the event loop) and returns one result per item, in order.
    When a batch fails, its items are committed one by one, so one item that cannot be stored fails only its own
    caller; an exception of a `whole_batch_errors` type (the database is down) fails the rest of the batch at once
    instead of being retried item by item.
    """

    def __init__(self, commit: Callable[[list[T]], Sequence[R]], *, window: float = 0.002, max_batch: int = 256,
                 parallel: int = 1, whole_batch_errors: tuple[type[Exception], ...] = ()) -> None:
        self._commit = commit
        self._window = window
        self._max_batch = max_batch
        self._parallel = parallel
        self._whole_batch_errors = whole_batch_errors
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self.batches = 0  # transactions attempted (a failed batch's per-item retries not counted)

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._arrived.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future  # a caller that goes away does not stop the commit: the item is stored all the same

    async def _flush(self) -> None:
        await asyncio.sleep(self._window)  # let the rest of a burst join the first item's transaction
        running: set[asyncio.Future[None]] = set()
        try:
            while self._pending or running:
                while self._pending and len(running) < self._parallel:
                    batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                    running.add(asyncio.ensure_future(self._store(batch)))
                self._arrived.clear()
                arrival = asyncio.ensure_future(self._arrived.wait())  # a free slot takes the next item at once
                done, _ = await asyncio.wait({*running, arrival}, return_when=asyncio.FIRST_COMPLETED)
                arrival.cancel()
                running -= done
        finally:
            for task in running:  # cancelled (shutdown): the threads finish their transactions regardless
                task.cancel()

    async def _store(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        try:
            results = await asyncio.to_thread(self._commit_each, [item for item, _ in batch])
        except BaseException as exc:  # the whole batch failed: every caller hears why
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for (_, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _commit_each(self, items: list[T]) -> list[R | Exception]:
        try:
            return list(self._commit(items))
        except self._whole_batch_errors:
            raise
        except Exception as exc:  # noqa: BLE001 — one bad item; find it by committing each on its own
            if len(items) == 1:
                return [exc]
            log.warning("a batch of %d failed (%s); storing them one by one", len(items), type(exc).__name__)
        results: list[R | Exception] = []
        for n, item in enumerate(items):
            try:
                results.append(self._commit([item])[0])
            except self._whole_batch_errors as exc:  # the database went away: the rest would only wait for it too
                results += [exc] * (len(items) - n)
                break
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results
