"""Deep links that open a DM with the bot: `https://t.me/<bot>?start=<payload>`.

Telegram passes the payload to the bot as `/start <payload>` when the viewer presses Start; it is how a
public reply hands a viewer over to a DM, and how coursebot learns which post or link brought them.
"""

from __future__ import annotations

import re

_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Telegram's own limit for start parameters
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


def valid_start_payload(payload: str) -> bool:
    return _PAYLOAD.fullmatch(payload) is not None


def deep_link(bot_username: str, payload: str) -> str:
    """The link a public reply includes so a viewer who never started the bot can open a DM."""
    username = bot_username.removeprefix("@")
    if not _USERNAME.fullmatch(username):
        raise ValueError(f"bot username {bot_username!r}: expected 4-32 characters of A-Z a-z 0-9 _ starting with a letter")
    if not valid_start_payload(payload):
        raise ValueError(f"start payload {payload!r}: expected 1-64 characters of A-Z a-z 0-9 _ -")
    return f"https://t.me/{username}?start={payload}"


def start_payload(text: str) -> str | None:
    """The payload of a `/start <payload>` message, or None when absent or not a valid payload."""
    parts = text.split(maxsplit=1)
    if not parts or parts[0].split("@", 1)[0] != "/start" or len(parts) == 1:
        return None
    payload = parts[1].strip()
    return payload if valid_start_payload(payload) else None


_COMMENT_PAYLOAD = re.compile(r"c(\d{1,20})_(\d{1,12})_(\d{1,12})")


def comment_payload(chat_id: int, thread_root: int, message_id: int) -> str:
    """A start payload naming the comment a public reply answered: `c<group>_<post root>_<comment>`.
    (Supergroup ids are negative; the sign is implied.)"""
    return f"c{abs(chat_id)}_{thread_root}_{message_id}"


def parse_comment_payload(payload: str) -> tuple[str, str] | None:
    """(thread id, comment event id) of a payload made by `comment_payload`, else None."""
    found = _COMMENT_PAYLOAD.fullmatch(payload)
    if found is None:
        return None
    chat, root, message = found.groups()
    return f"-{chat}:{root}", f"-{chat}:{message}"
