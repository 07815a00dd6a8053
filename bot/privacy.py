"""Pseudonyms for viewers: a keyed HMAC of `platform:author_id`, stable for one installation.

The key comes from `COURSEBOT_SECRET_KEY` or a secrets file (default `<state_dir>/secret.key`, created
with mode 0600 on first use). Without the key a pseudonym cannot be turned back into a platform id, so
logs, metrics and summaries can carry pseudonyms freely. The key itself is never logged or printed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from retrieval.errors import InputError

SECRET_KEY_ENV = "COURSEBOT_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
_MIN_KEY_BYTES = 16


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < _MIN_KEY_BYTES:
            raise InputError(f"pseudonym key is {len(key)} bytes, need at least {_MIN_KEY_BYTES}")
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymizer(key=***)"

    def pseudonym(self, platform: str, author_id: str) -> str:
        digest = hmac.new(self._key, f"{platform}:{author_id}".encode(), hashlib.sha256).hexdigest()
        return f"v_{digest[:20]}"

    def token(self, *parts: str, length: int = 10) -> str:
        """A short deterministic id (tracked links, A/B buckets) nobody can forge or guess without the key."""
        digest = hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
        alphabet = "23456789abcdefghijkmnpqrstuvwxyz"  # no 0/1/l/o: readable when typed from a phone
        number = int.from_bytes(digest, "big")
        return "".join(alphabet[(number >> (5 * i)) & 31] for i in range(length))

    def bucket(self, *parts: str, buckets: int) -> int:
        digest = hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") % max(1, buckets)

    def scrub(self, value: Any, author_id: str | None, pseudonym: str | None) -> Any:
        """`value` with every string equal to the raw author id replaced by the pseudonym (for `events.raw`)."""
        if author_id is None:
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v, author_id, pseudonym) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v, author_id, pseudonym) for v in value]
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) == author_id:
            return pseudonym
        return value


def load_secret_key(key_file: Path) -> bytes:
    """The key from the environment, else from `key_file` (created with 0600 when missing)."""
    from_env = os.environ.get(SECRET_KEY_ENV)
    if from_env:
        return from_env.encode()
    try:
        return _read_key(key_file)
    except FileNotFoundError:
        pass
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write their own key.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(key_file)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return _read_key(key_file)


def _read_key(key_file: Path) -> bytes:
    key = key_file.read_bytes().strip()
    if not key:
        raise InputError(f"{key_file}: secret key file is empty; delete it to create a new key (pseudonyms will change)")
    return key


def pseudonymizer_for(settings) -> Pseudonymizer:
    key_file = settings.store.secret_key_file or Path(settings.state_dir) / KEY_FILE_NAME
    return Pseudonymizer(load_secret_key(Path(key_file)))
