"""Keeps secrets (the bot token, the webhook secret) out of every log line, whoever logs it.

The token is part of every Bot API URL, so an HTTP library's error message or traceback could carry it.
A log-record factory scrubs each record — message and traceback — before any handler sees it.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

_secrets: set[str] = set()
_previous_factory: Any = None


def redact_in_logs(*secrets: str | None) -> None:
    global _previous_factory
    _secrets.update(s for s in secrets if s)
    if _previous_factory is None and _secrets:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_scrubbed_record)


def scrub(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "[redacted]")
    return text


def _scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _previous_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed log call is the logging module's to report
        return record
    if any(secret in message for secret in _secrets):
        record.msg, record.args = scrub(message), None
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
        if any(secret in text for secret in _secrets):
            record.exc_text = scrub(text.rstrip("\n"))
    return record
