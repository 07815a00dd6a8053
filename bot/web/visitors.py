"""Who clicked a tracked link, as far as unique clicks need to know: pseudonymised, and whether it was a person.

A link belongs to the viewer whose comment it answered, so that viewer is the visitor when known. Otherwise
the visitor is `c_` + a keyed hash of the client's address and user agent: the same browser reloading is
one visitor, and the stored value cannot be turned back into an address without the installation's key.
Link-preview fetchers (Telegram, WhatsApp, Slack… unfurl every link posted in a chat) and crawlers are
recognised by their user agent: their requests are recorded as raw clicks but are never unique ones.
"""

from __future__ import annotations

import re

from bot.privacy import Pseudonymizer

_AUTOMATED = re.compile(r"bot|crawl|spider|slurp|preview|facebookexternalhit|whatsapp|embedly|headless|python-|curl/|wget/",
                        re.IGNORECASE)


def is_automated(user_agent: str | None) -> bool:
    """A fetcher or crawler, not a person: every browser sends a user agent, so none at all counts as one too."""
    return not user_agent or bool(_AUTOMATED.search(user_agent))


def visitor(pseudonymizer: Pseudonymizer, viewer_pseudonym: str | None, client_address: str | None, user_agent: str | None) -> str:
    if viewer_pseudonym:
        return viewer_pseudonym
    return "c_" + pseudonymizer.token("click-visitor", client_address or "", user_agent or "", length=16)


def client_address(forwarded_for: str | None, remote: str | None) -> str | None:
    """The client behind a reverse proxy (first X-Forwarded-For hop), else the connection's peer."""
    first = (forwarded_for or "").split(",", 1)[0].strip()
    return first or remote
