"""`coursebot demo`: the bundled sample comments through the whole pipeline, into a fresh SQLite database.

The comments are given times a few minutes apart over one day (as if they arrived live) and decided as of
those times, so rate limits and quiet hours behave as they would in production. Replies go to an
in-memory recording sink; the database stays behind for `coursebot handoffs` and friends.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape

from bot.adapters.recording import RecordingSink
from bot.analysis import Analyzer
from bot.comments_io import BadLine, open_input, read_comments
from bot.config import Settings
from bot.decision import Outcome
from bot.events import Event
from bot.outbox import ANY_PLATFORM
from bot.privacy import KEY_FILE_NAME
from bot.runner import Runner, event_clock
from bot.store.engine import DEFAULT_DB_NAME
from bot.store.store import Store

SPACING = timedelta(minutes=6)
_MARKS = {"reply_public": "[green]✔ reply[/]", "reply_dm": "[green]✔ DM[/]", "handoff": "[yellow]🙋 to you[/]", "ignore": "[dim]· silent[/]"}


@dataclass(frozen=True, slots=True)
class DemoResult:
    outcomes: list[Outcome]
    sent: int
    database: Path


def demo_database(settings: Settings) -> Path:
    """A fresh database file under state_dir/demo (the creator's own database is never touched)."""
    directory = Path(settings.state_dir) / "demo"
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / DEFAULT_DB_NAME
    for leftover in directory.glob(DEFAULT_DB_NAME + "*"):
        leftover.unlink()
    return database


def sample_events(path: Path, start: datetime) -> list[Event]:
    with open_input(path) as stream:
        events = [item for _, item in read_comments(stream) if not isinstance(item, BadLine)]
    return [replace(e, created_at=start + i * SPACING) for i, e in enumerate(events)]


async def run_demo(settings: Settings, analyzer: Analyzer, samples: Path) -> DemoResult:
    settings = settings.model_copy(deep=True)
    database = demo_database(settings)
    settings.store.url = f"sqlite:///{database}"
    # The demo's pseudonym key lives beside its database, so `--state-dir <demo dir>` reads it with the same key.
    settings.store.secret_key_file = settings.store.secret_key_file or database.parent / KEY_FILE_NAME
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    events = sample_events(samples, start)
    sink = RecordingSink()
    runner = Runner.open(settings, {ANY_PLATFORM: sink}, analyzer=analyzer, store=Store.open(settings), clock=event_clock)
    outcomes: list[Outcome] = []
    for i in range(0, len(events), 64):
        outcomes += await runner.process(events[i : i + 64])
        await runner.outbox.drain(5)  # type: ignore[union-attr]
    runner.store.close()
    return DemoResult(outcomes, sink.count, database)


def follow_up_commands(result: DemoResult, settings: Settings, config: Path | None = None) -> list[str]:
    """Commands that read the demo's database, to be typed next exactly as printed (same shell and directory):
    its handoffs, and the summary of the day most sample comments fall on."""
    where = (["--config", str(config.resolve())] if config is not None else []) + ["--state-dir", str(result.database.parent)]
    # A configured [store] url would win over --state-dir: name the demo's file instead.
    env = f"COURSEBOT_STORE__URL={shlex.quote(f'sqlite:///{result.database}')} " if settings.store.url else ""
    zone = ZoneInfo(settings.summary.timezone or settings.policy.timezone)
    days = Counter(o.accepted.event.created_at.astimezone(zone).date() for o in result.outcomes)
    summary = ["coursebot", "summary", *(["--date", days.most_common(1)[0][0].isoformat()] if days else []), *where]
    return [env + shlex.join(["coursebot", "handoffs", *where]), env + shlex.join(summary)]


def print_demo(out: Console, result: DemoResult, commands: Sequence[str] = ()) -> None:
    for outcome in result.outcomes:
        event, d = outcome.accepted.event, outcome.decision
        title = event.thread.title if event.thread else ""
        # Markup on purpose here, every piece of outside text escaped (the console's default is plain text).
        out.print(f"[bold]{escape(event.event_id)}[/] [dim]{escape(event.platform)} · {escape(title[:40])}[/]", markup=True)
        out.print(f"  💬 {escape(event.text)}", markup=True)
        out.print(f"  {_MARKS[d.action]} [dim]{escape(d.reason)}[/]", markup=True)
        if d.text:
            out.print(f"  [green]↳ {escape(d.text)}[/]", markup=True)
        if d.dm_text:
            out.print(f"  [green]✉ {escape(d.dm_text)}[/]", markup=True)
    out.print()
    out.print(summary_line(result), markup=True)
    if commands:
        out.print("\nWhat the demo left for you (its own database; your own is untouched):")
        for command in commands:
            out.print(f"  {command}")


def summary_line(result: DemoResult) -> str:
    actions = Counter(o.decision.action for o in result.outcomes)
    silent = Counter(_reason_kind(o.decision.reason) for o in result.outcomes if o.decision.action == "ignore")
    with_dm = sum(1 for o in result.outcomes if o.decision.dm_text)
    replied = actions["reply_public"] + actions["reply_dm"]
    return (
        f"[bold]{len(result.outcomes)} comments[/]: {replied} answered ({with_dm} with details by DM), "
        f"{actions['handoff']} handed to you, {actions['ignore']} left alone ("
        + ", ".join(f"{kind} {n}" for kind, n in silent.most_common())
        + f"); {result.sent} messages sent to the recording sink. Database: {escape(str(result.database))}"
    )


def _reason_kind(reason: str) -> str:
    return reason.split("(")[0].split(":")[0].strip()
