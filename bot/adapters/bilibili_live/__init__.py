"""Bilibili live rooms over the unofficial web endpoints (at the creator's own risk, as for comments).

`LiveApi` speaks HTTP (WBI-signed room info, danmaku server + token, the danmaku send endpoint); `LiveSource`
reads each room's WebSocket into Events; `LiveSink` sends one danmaku per outbox message. docs/bilibili-live.md
has the protocol notes and what the danmaku idempotency key can and cannot deduplicate.
"""

from bot.adapters.bilibili_live.api import LiveApi, SendResult, classify_send
from bot.adapters.bilibili_live.commands import PLATFORM, RoomState
from bot.adapters.bilibili_live.sink import LiveSink
from bot.adapters.bilibili_live.source import LiveSource

__all__ = ["PLATFORM", "LiveApi", "LiveSink", "LiveSource", "RoomState", "SendResult", "classify_send"]
