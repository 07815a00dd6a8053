"""Shared helpers for tests/pipeline (imported by name: tests directories are not packages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.events import Event, Thread
from bot.store.models import utcnow

TEST_KEY = b"pipeline-tests-key-0123456789abcdef"
PY101_THREAD = Thread("BV1xx411c7mD", "Python零基础第1课：安装和环境配置")  # mapped to py-101 in config/samples/threads.yaml
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Monday


class Comments:
    """Builds viewer comments with unique ids, minutes apart (the event clock decides as of `created_at`)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, text: str, *, author: str | None = "u1", name: str | None = "小明", thread: Thread | None = PY101_THREAD,
                 platform: str = "bilibili", at: datetime | None = None, kind: str = "comment", event_id: str | None = None,
                 raw: dict | None = None) -> Event:
        self.count += 1
        return Event(platform=platform, event_id=event_id or f"c{self.count}", text=text, kind=kind,  # type: ignore[arg-type]
                     thread=thread, author_id=author, author_name=name, created_at=at or T0 + timedelta(minutes=self.count),
                     raw=raw or {})


class Clock:
    """The outbox worker's clock, moved by hand (messages queued now are due at once)."""

    def __init__(self) -> None:
        self.now = self.start = utcnow() + timedelta(minutes=1)  # later than any message queued by the test

    def __call__(self) -> datetime:
        return self.now
