"""The bot's memory: SQLModel tables, engine (SQLite or PostgreSQL), migrations and the Store API (docs/pipeline.md)."""

from typing import Any

__all__ = ["NotFound", "Store", "StoreUnavailable"]


def __getattr__(name: str) -> Any:
    # Lazy: `from bot.store import models` (metrics) must not import the whole pipeline.
    if name in ("Store", "StoreUnavailable"):
        from bot.store import store

        return getattr(store, name)
    if name == "NotFound":
        from bot.store.admin import NotFound

        return NotFound
    raise AttributeError(name)
