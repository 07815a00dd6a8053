"""Live rooms (bilibili-live): the live policy, the host's question board and the post-live summary.

The reading side (protocol client, source, sink) lives in bot/adapters; this package decides what the bot says in
a room, keeps the board and sums a live session up. See docs/live.md.
"""

from __future__ import annotations

LIVE_PLATFORM = "bilibili-live"
QUESTION_KINDS = frozenset({"danmaku", "super_chat"})  # read by the model; super chats only for the host
ENGAGEMENT_KINDS = frozenset({"gift", "engagement", "live_start", "live_end"})  # stored and counted, never analysed


def is_live(platform: str) -> bool:
    return platform == LIVE_PLATFORM


def room_of(thread_id: str) -> str | None:
    """`live:<room_id>:<start unix s>` → the room id (None for any other thread)."""
    parts = thread_id.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "live" else None

