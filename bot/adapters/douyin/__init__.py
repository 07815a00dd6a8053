"""Douyin open platform: a signed webhook brings comments and DMs in; the open API (access token) sends replies.

`DouyinWebhook` verifies, dedupes and acknowledges deliveries and hands Events to an `accept` callback
(the runner's durable `accept`, or the queue behind `DouyinSource`); `DouyinClient` + `DouyinSink` send.
"""

from bot.adapters.douyin.client import (
    DouyinClient,
    DouyinError,
    RateLimited,
    TokenExpired,
)
from bot.adapters.douyin.mapping import to_event
from bot.adapters.douyin.signature import sign, verify
from bot.adapters.douyin.sink import DouyinSink, ProactiveDmLimits
from bot.adapters.douyin.source import DouyinSource
from bot.adapters.douyin.webhook import DouyinWebhook, QueueInbox

__all__ = [
    "DouyinClient", "DouyinError", "DouyinSink", "DouyinSource", "DouyinWebhook", "ProactiveDmLimits", "QueueInbox",
    "RateLimited", "TokenExpired", "sign", "to_event", "verify",
]
