"""Bilibili over its unofficial web API, with the creator's own cookies (at the creator's own risk).

`BilibiliClient` speaks HTTP and raises typed `BilibiliError`s; `BilibiliSource` polls comments into Events;
`BilibiliSink` posts replies and DMs for the outbox.
"""

from bot.adapters.bilibili.client import BilibiliClient
from bot.adapters.bilibili.errors import (
    BilibiliError,
    CaptchaRequired,
    CsrfFailed,
    DmLimit,
    DuplicateReply,
    NotLoggedIn,
    RiskControl,
    TooFrequent,
    TransportError,
)
from bot.adapters.bilibili.sink import BilibiliSink
from bot.adapters.bilibili.source import BilibiliSource

__all__ = [
    "BilibiliClient", "BilibiliError", "BilibiliSink", "BilibiliSource", "CaptchaRequired", "CsrfFailed", "DmLimit",
    "DuplicateReply", "NotLoggedIn", "RiskControl", "TooFrequent", "TransportError",
]
