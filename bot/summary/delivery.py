"""Where a finished summary goes: the `SummaryDelivery` protocol, who receives it, and the file delivery.

The Telegram DM delivery lives with the Telegram adapter and implements the same protocol.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from bot.metrics.window import zone
from bot.summary.chart import Chart
from bot.summary.model import DailySummary
from bot.summary.render import render


@dataclass(frozen=True, slots=True)
class Recipient:
    """A creator who gets a daily summary at `send_at` local time about the previous local day."""

    name: str
    tz: ZoneInfo
    send_at: time
    platforms: tuple[str, ...] = ()
    telegram_chat_id: int | None = None

    @classmethod
    def all_from_settings(cls, settings) -> list[Recipient]:
        summary = settings.summary
        default_tz = summary.timezone or settings.policy.timezone
        configured = summary.recipients or [None]
        recipients = []
        for entry in configured:
            tz_name = (entry.timezone if entry and entry.timezone else None) or default_tz
            send_at = (entry.send_at if entry and entry.send_at else None) or summary.send_at
            recipients.append(cls(
                name=entry.name if entry else "creator", tz=zone(tz_name), send_at=time.fromisoformat(send_at),
                platforms=tuple(entry.platforms) if entry else (), telegram_chat_id=entry.telegram_chat_id if entry else None,
            ))
        return recipients


@runtime_checkable
class SummaryDelivery(Protocol):
    """Sends one recipient's summary somewhere. Raise to report failure; the scheduler logs it and goes on
    with the other deliveries (a summary is never re-sent: see docs/summary.md)."""

    name: str

    async def deliver(self, recipient: Recipient, summary: DailySummary, chart: Chart | None) -> None: ...


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class FileDelivery:
    """Writes `<directory>/<recipient>/<day>.txt|.md|.json` and `.png` (default directory: state_dir/summaries)."""

    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def paths(self, recipient: str, day: str) -> dict[str, Path]:
        folder = self.directory / recipient
        return {ext: folder / f"{day}.{ext}" for ext in ("txt", "md", "json", "png")}

    def write(self, recipient: Recipient, summary: DailySummary, chart: Chart | None) -> list[Path]:
        paths = self.paths(recipient.name, summary.day.isoformat())
        paths["txt"].parent.mkdir(parents=True, exist_ok=True)
        contents = {"txt": render(summary, "text"), "md": render(summary, "markdown"), "json": render(summary, "json")}
        written = []
        for ext, text in contents.items():
            _write_atomically(paths[ext], text.encode("utf-8"))
            written.append(paths[ext])
        if chart is not None:
            _write_atomically(paths["png"], chart.png)
            written.append(paths["png"])
        return written

    async def deliver(self, recipient: Recipient, summary: DailySummary, chart: Chart | None) -> None:
        await asyncio.to_thread(self.write, recipient, summary, chart)


def file_delivery(settings) -> FileDelivery:
    return FileDelivery(Path(settings.state_dir) / "summaries")


def deliveries_from_settings(settings, extra: Sequence[SummaryDelivery] = ()) -> list[SummaryDelivery]:
    """The configured deliveries; adapters pass their own (e.g. Telegram) in `extra`."""
    chosen: list[SummaryDelivery] = []
    if "file" in settings.summary.deliveries:
        chosen.append(file_delivery(settings))
    chosen.extend(d for d in extra if d.name in settings.summary.deliveries)
    return chosen
