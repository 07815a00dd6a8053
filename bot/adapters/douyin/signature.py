"""Webhook signatures: `X-Douyin-Signature` = hex(sha1(client_secret + raw body)), checked on the raw bytes."""

from __future__ import annotations

import hashlib
import hmac


def sign(client_secret: str, body: bytes) -> str:
    return hashlib.sha1(client_secret.encode("utf-8") + body).hexdigest()  # the platform's scheme, not our choice


def verify(client_secret: str, body: bytes, signature: str | None) -> bool:
    """Case-insensitive, constant-time; a missing or empty signature never verifies."""
    if not signature or not client_secret:
        return False
    return hmac.compare_digest(sign(client_secret, body), signature.strip().lower())
