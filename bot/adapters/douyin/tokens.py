"""The open-platform access token: a fixed one, or one refreshed with the refresh token when it expires.

Douyin rotates the refresh token on every refresh, so refreshed tokens are written to `path` (mode 0600)
and preferred over the configured ones at the next start.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any


class AccessTokens:
    def __init__(self, access_token: str | None, refresh_token: str | None = None, *, client_key: str | None = None,
                 path: Path | None = None) -> None:
        self.access_token = access_token or ""
        self.refresh_token = refresh_token or ""
        self.client_key = client_key or ""
        self.expires_at: float | None = None
        self.path = path
        self.lock = asyncio.Lock()  # one refresh at a time; the others wait and reuse its token
        if path is not None and path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            self.access_token = saved.get("access_token") or self.access_token
            self.refresh_token = saved.get("refresh_token") or self.refresh_token
            self.expires_at = saved.get("expires_at")

    def __repr__(self) -> str:
        return f"AccessTokens(refreshable={self.refreshable}, expires_at={self.expires_at})"

    @property
    def refreshable(self) -> bool:
        return bool(self.refresh_token and self.client_key)

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at - 60

    def update(self, data: dict[str, Any]) -> None:
        self.access_token = str(data["access_token"])
        self.refresh_token = str(data.get("refresh_token") or self.refresh_token)
        self.expires_at = time.time() + float(data.get("expires_in") or 0) if data.get("expires_in") else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"access_token": self.access_token, "refresh_token": self.refresh_token,
                           "expires_at": self.expires_at}, handle)
            os.replace(tmp, self.path)
