"""`coursebot replay --input comments.jsonl`: the full pipeline on a file, with a recording sink.

Everything is stored in the configured database (SQLite by default), exactly as the live bot would store
it; replies go to a JSONL file or stdout instead of a platform. Replaying the same file again sends
nothing twice; a replay killed half-way and started again finishes the job without duplicates.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from bot.commands.handoffs import ConfigOption, StateOption


def register(app: typer.Typer) -> None:
    @app.command()
    def replay(
        input: Annotated[Path, typer.Option("--input", "-i", help="comments, one JSON object per line: {id, text, ...}")],
        output: Annotated[Path, typer.Option("--output", "-o", help="where 'sent' replies are recorded (JSONL; '-' for stdout)")] = Path("-"),
        config: ConfigOption = None,
        state_dir: StateOption = None,
        db: Annotated[str | None, typer.Option("--db", help="database URL, overrides [store] url")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="decide and record, send nothing")] = False,
        clock: Annotated[str, typer.Option(help="'now', or 'event': decide as of each comment's created_at (history)")] = "now",
        batch_size: Annotated[int, typer.Option(help="comments decided per batch")] = 64,
        drain_timeout: Annotated[float, typer.Option(help="seconds to keep sending after the input ends")] = 30.0,
    ) -> None:
        """Run the whole pipeline over a JSONL file: store, decide, and 'send' through a recording sink."""
        from bot.cli import _fail, _settings, err, require_catalog_files, require_file, require_writable
        from retrieval.errors import InputError

        try:  # arguments and files before the store and the model load
            if clock not in ("now", "event"):
                raise InputError(f"--clock must be 'now' or 'event', got {clock!r}")
            require_file(input)
            require_writable(output)
            settings = _settings(config, state_dir=state_dir)
            require_catalog_files(settings)
        except InputError as exc:
            _fail(exc)
        from bot.store import StoreUnavailable

        try:
            if db:
                settings.store.url = db
            if dry_run:
                settings.policy.dry_run = True
            summary = asyncio.run(_replay(settings, input, output, clock, batch_size, drain_timeout))
        except (InputError, StoreUnavailable) as exc:
            _fail(exc)
        err.print(summary, soft_wrap=True)


async def _replay(settings, input: Path, output: Path, clock: str, batch_size: int, drain_timeout: float) -> str:
    from bot.adapters.jsonl import JsonlSource
    from bot.adapters.recording import RecordingSink
    from bot.cli import err
    from bot.events import Quarantined
    from bot.outbox import ANY_PLATFORM
    from bot.runner import Runner, event_clock, wall_clock

    sink = RecordingSink(stream=sys.stdout) if str(output) == "-" else RecordingSink(output)
    runner = Runner.open(settings, {ANY_PLATFORM: sink}, clock=event_clock if clock == "event" else wall_clock)
    async def bad_line(bad) -> None:
        err.print(f"{input}:{bad}; quarantined", soft_wrap=True, markup=False)
        await runner.quarantine([Quarantined(f"{input}:line {bad.line}", bad.message, bad.raw)])

    source = JsonlSource(input, on_bad_line=bad_line)
    actions: Counter[str] = Counter()

    def count(outcomes) -> None:
        actions.update(o.decision.action for o in outcomes)

    try:
        await runner.run([source], batch_size=batch_size, until_exhausted=True, on_outcomes=count)
        drained = await runner.outbox.drain(drain_timeout) if runner.outbox else True
        counts = runner.store.outbox_counts()
    finally:
        await runner.analyzer.aclose()
        sink.close()
        runner.store.close()
    decided = ", ".join(f"{action} {n}" for action, n in actions.most_common()) or "nothing new"
    outbox = ", ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "empty"
    waiting = "" if drained else " (some messages wait for a retry or quiet hours: the running bot sends them)"
    return (f"replayed {source.read} comments ({source.skipped} malformed lines quarantined: `coursebot quarantine`): decided {decided}; "
            f"outbox {outbox}{waiting}")
