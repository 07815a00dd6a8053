"""The recording sink (replays, demo): whole JSONL lines, crash confirmation, bounded memory."""

from __future__ import annotations

import json
from pathlib import Path

from bot.adapters.recording import KEEP_RECORDS, RecordingSink
from bot.events import OutgoingMessage


def message(outbox_id: int) -> OutgoingMessage:
    return OutgoingMessage(outbox_id=outbox_id, platform="bilibili", kind="reply_public", text=f"回复{outbox_id}")


async def test_a_long_replay_keeps_recent_records_only_but_confirms_every_message_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    sink = RecordingSink(path)
    total = 2 * KEEP_RECORDS + 10
    for outbox_id in range(1, total + 1):
        assert await sink.send(message(outbox_id)) == f"rec-{outbox_id}"
    sink.close()
    assert sink.count == total
    assert KEEP_RECORDS <= len(sink.records) < 2 * KEEP_RECORDS and sink.records[-1]["outbox_id"] == total
    assert await sink.find_sent(message(1)) == "rec-1"  # long gone from `records`
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["outbox_id"] for line in lines] == list(range(1, total + 1))

    restarted = RecordingSink(path)  # after a crash: what the file holds counts as sent
    assert await restarted.find_sent(message(total)) == f"rec-{total}"
    assert await restarted.find_sent(message(total + 1)) is None
    restarted.close()


async def test_a_line_cut_short_by_a_kill_mid_character_is_skipped_on_restart(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    first = RecordingSink(path)
    await first.send(message(1))
    await first.send(message(2))
    first.close()
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.rindex("回".encode()) + 1])  # the second line stops inside 回 (3 bytes in UTF-8)
    again = RecordingSink(path)
    assert await again.find_sent(message(1)) is not None and await again.find_sent(message(2)) is None
    await again.send(message(3))
    again.close()
    assert await RecordingSink(path).find_sent(message(3)) is not None
