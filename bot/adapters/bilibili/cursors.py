"""Where polling left off, persisted so a restart neither misses nor repeats comments.

`CursorStore` is the seam: `StoreCursors` keeps them in the database (`platform_cursors`, what `coursebot run`
uses); `FileCursorStore` keeps them in one small JSON file, replaced atomically (tools, tests without a
database). Anything with the same two methods will do.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any, Protocol


class CursorStore(Protocol):
    async def load(self, key: str) -> dict[str, Any] | None: ...

    async def save(self, key: str, value: dict[str, Any]) -> None: ...


class FileCursorStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()
        self._cache: dict[str, dict[str, Any]] | None = None

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{self.path}: cursor file is damaged ({exc}); move it away to start from now") from None
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())  # the rename below must never expose a half-written file
        os.replace(tmp, self.path)

    async def load(self, key: str) -> dict[str, Any] | None:
        async with self._lock:
            if self._cache is None:
                self._cache = await asyncio.to_thread(self._read)
            value = self._cache.get(key)
            return dict(value) if value is not None else None

    async def save(self, key: str, value: dict[str, Any]) -> None:
        async with self._lock:
            if self._cache is None:
                self._cache = await asyncio.to_thread(self._read)
            self._cache[key] = dict(value)
            await asyncio.to_thread(self._write, dict(self._cache))


class StoreCursors:
    """Cursors in the store's `platform_cursors` table (`Store.get_cursor` / `set_cursor`), JSON-encoded.

    Keys are "<platform>:<name>"; the store is synchronous, so every call runs in a worker thread.
    """

    def __init__(self, store: Any) -> None:
        self._store = store

    @staticmethod
    def _split(key: str) -> tuple[str, str]:
        platform, _, name = key.partition(":")
        return (platform, name) if name else ("adapter", key)

    async def load(self, key: str) -> dict[str, Any] | None:
        value = await asyncio.to_thread(self._store.get_cursor, *self._split(key))
        return json.loads(value) if value else None

    async def save(self, key: str, value: dict[str, Any]) -> None:
        await asyncio.to_thread(self._store.set_cursor, *self._split(key), json.dumps(value, sort_keys=True))
