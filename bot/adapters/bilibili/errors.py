"""Bilibili's response envelope `{"code", "message", "data"}`: every non-zero code becomes a typed error."""

from __future__ import annotations

import json
from typing import Any

import httpx


class BilibiliError(Exception):
    """A Bilibili API call failed; `code` is the platform's own code (or the HTTP status for transport failures)."""

    def __init__(self, code: int, message: str = "", *, endpoint: str = "") -> None:
        self.code = code
        self.message = message
        self.endpoint = endpoint
        where = f"{endpoint}: " if endpoint else ""
        super().__init__(f"bilibili {where}code {code}: {message or type(self).__name__}")


class NotLoggedIn(BilibiliError):
    """-101: the SESSDATA cookie is missing or expired. Stop and ask the creator for fresh cookies."""


class CsrfFailed(BilibiliError):
    """-111: the csrf token (bili_jct cookie) does not match the session."""


class RiskControl(BilibiliError):
    """-352 / -412 (or HTTP 412): risk control intercepted the request. Back off for minutes.

    `pause`: seconds the whole account now waits (set by the client's AccountPause), None without one.
    """

    pause: float | None = None


class AccountPaused(RiskControl):
    """Not sent at all: the account is still paused after an earlier risk error, for `pause` more seconds."""

    def __init__(self, pause: float, *, endpoint: str = "") -> None:
        super().__init__(-412, f"account paused after risk control, {pause:.0f} s left", endpoint=endpoint)
        self.pause = pause


class TooFrequent(BilibiliError):
    """-509 / -799: requests too frequent."""


class CaptchaRequired(BilibiliError):
    """12015: posting needs a captcha. Stop sending and alert the creator."""


class DuplicateReply(BilibiliError):
    """12051: the same reply was already posted; the message counts as sent."""


class DmLimit(BilibiliError):
    """21046 / 21047: a DM limit (the viewer accepts no more messages, or too many DMs sent)."""


class TransportError(BilibiliError):
    """No usable envelope: network failure, HTTP 5xx, or a body that is not JSON."""


_BY_CODE: dict[int, type[BilibiliError]] = {
    -101: NotLoggedIn,
    -111: CsrfFailed,
    -352: RiskControl,
    -412: RiskControl,
    -509: TooFrequent,
    -799: TooFrequent,
    12015: CaptchaRequired,
    12051: DuplicateReply,
    21046: DmLimit,
    21047: DmLimit,
}


def error_for(code: int, message: str, *, endpoint: str = "") -> BilibiliError:
    return _BY_CODE.get(code, BilibiliError)(code, message, endpoint=endpoint)


def envelope_body(response: httpx.Response, *, endpoint: str) -> dict[str, Any]:
    """The JSON envelope of a response, or the typed error for what came instead (HTTP 412: risk control,
    which answers before any envelope; 5xx, not JSON, no code: transport). The code itself is not checked here."""
    if response.status_code == 412:
        raise RiskControl(-412, "HTTP 412 (request intercepted)", endpoint=endpoint)
    if response.status_code >= 500:
        raise TransportError(response.status_code, f"HTTP {response.status_code}", endpoint=endpoint)
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TransportError(response.status_code, "response is not JSON", endpoint=endpoint) from None
    if not isinstance(body, dict) or "code" not in body:
        raise TransportError(response.status_code, "response has no envelope code", endpoint=endpoint)
    return body


def envelope_data(body: dict[str, Any], *, endpoint: str) -> Any:
    """`data` of an envelope whose code is 0; any other code becomes its typed error."""
    code = int(body.get("code") or 0)
    if code != 0:
        raise error_for(code, str(body.get("message") or body.get("msg") or ""), endpoint=endpoint)
    return body.get("data")
