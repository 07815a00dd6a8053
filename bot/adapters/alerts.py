"""How an adapter tells the creator something needs them (expired cookies, a captcha): an async callback.

The default only logs; `coursebot run` can pass one that DMs the creator on Telegram.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

Alert = Callable[[str], Awaitable[None]]

log = logging.getLogger("coursebot.alerts")


async def log_alert(text: str) -> None:
    log.error("creator action needed: %s", text)
