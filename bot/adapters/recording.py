"""A sink that records instead of posting: JSONL lines to a file or stdout (replays, demos, tests).

It behaves like a careful platform: each message is one `write` of one whole line to an O_APPEND file
(a SIGKILL can't leave half a line), and it can tell whether it already holds a message (`find_sent`),
so the outbox never sends a message twice after a crash. Recipients are written as pseudonyms only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from bot.events import OutgoingMessage, SendError

KEEP_RECORDS = 1000  # recent records kept for tests and the demo; a long replay must not hold every message


class RecordingSink:
    platform = "*"

    def __init__(self, path: Path | None = None, *, stream: IO[str] | None = None, fail_with: list[SendError] | None = None) -> None:
        self.path = path
        self.stream = stream if path is None else None
        self.sent_ids: set[int] = set()  # outbox ids recorded, including what an earlier run wrote
        self.records: list[dict[str, Any]] = []  # the last KEEP_RECORDS or more, oldest first
        self.count = 0  # records written by this sink
        self.fail_with = list(fail_with or [])  # errors to raise on the next sends (fault injection in tests)
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torn = self._load(path)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if torn:
                os.write(self._fd, b"\n")  # end the line cut short, or the next record would be glued to it

    def _load(self, path: Path) -> bool:
        """Remember the outbox ids an earlier run wrote; True when the file ends in the middle of a line."""
        if not path.exists():
            return False
        data = path.read_bytes()
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a write cut short by SIGKILL (a single write can stop at a page boundary): never crash on it
            self.sent_ids.add(int(record["outbox_id"]))
        return bool(data) and not data.endswith(b"\n")

    async def send(self, message: OutgoingMessage) -> str:
        if self.fail_with:
            raise self.fail_with.pop(0)
        message_id = _message_id(message)
        record = {
            "outbox_id": message.outbox_id, "message_id": message_id, "platform": message.platform, "kind": message.kind,
            "thread_id": message.thread_id, "reply_to": message.reply_to, "event_id": message.extra.get("event_id"),
            "viewer": message.extra.get("viewer"),
            "text": message.text,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        if self._fd is not None:
            os.write(self._fd, line.encode("utf-8"))
        elif self.stream is not None:
            self.stream.write(line)
            self.stream.flush()
        self.sent_ids.add(message.outbox_id)
        self.count += 1
        self.records.append(record)
        if len(self.records) >= 2 * KEEP_RECORDS:
            del self.records[:-KEEP_RECORDS]
        return message_id

    async def find_sent(self, message: OutgoingMessage) -> str | None:
        return _message_id(message) if message.outbox_id in self.sent_ids else None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _message_id(message: OutgoingMessage) -> str:
    return f"rec-{message.outbox_id}"


def stdout_sink() -> RecordingSink:
    return RecordingSink(stream=sys.stdout)
