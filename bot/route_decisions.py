"""What the bot would do with each comment of `coursebot route`: the real pipeline in dry run.

A throwaway SQLite database in a temp directory and a throwaway pseudonym key: nothing is sent, nothing
touches the creator's database, and rate limits never fire (dry-run replies are not counted).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.analysis import Analysis, Analyzer
from bot.config import Settings
from bot.pipeline import Pipeline
from bot.privacy import Pseudonymizer
from bot.runner import Runner
from bot.store.store import Store


class RouteDecisions:
    def __init__(self, settings: Settings, analyzer: Analyzer) -> None:
        settings = settings.model_copy(deep=True)
        settings.policy.dry_run = True
        self._dir = Path(tempfile.mkdtemp(prefix="coursebot-route-"))
        store = Store.from_url(f"sqlite:///{self._dir / 'route.db'}", Pseudonymizer(secrets.token_bytes(32)))
        pipeline = Pipeline.from_settings(settings, analyzer.knowledge.catalog, store.pseudonymizer)
        self.runner = Runner(analyzer, store, pipeline)
        self._loop = asyncio.new_event_loop()

    def fields(self, analyses: Sequence[Analysis]) -> list[dict[str, Any]]:
        """`action`, `reason`, `reply` (and `dm`) for each analysis, in order."""
        return self._loop.run_until_complete(self._fields(analyses))

    async def _fields(self, analyses: Sequence[Analysis]) -> list[dict[str, Any]]:
        accepted = self.runner.store.record_events([a.event for a in analyses])
        by_pk: dict[int, Analysis] = {}
        for a, analysis in zip(accepted, analyses):
            by_pk.setdefault(a.event_pk, analysis)  # an id repeated in the batch: the first line counts
        outcomes = await self.runner.decide([a for a in accepted if not a.decided], by_pk)
        decided = {o.accepted.event_pk: o.decision for o in outcomes}
        rows, seen = [], set()
        for a in accepted:
            d = decided.get(a.event_pk) if a.event_pk not in seen else None
            seen.add(a.event_pk)
            if d is None:  # the same id twice in the file: the first line was decided, this one is a repeat
                rows.append({"action": "ignore", "reason": "already decided (duplicate id)", "reply": None, "dm": None})
            else:
                rows.append({"action": d.action, "reason": d.reason, "reply": d.text, "dm": d.dm_text})
        return rows

    def close(self) -> None:
        self._loop.close()
        self.runner.store.close()
        shutil.rmtree(self._dir, ignore_errors=True)
