"""aiogram handlers for viewers: comments in the discussion group and private messages (DMs, /start).

Each handler turns a message into an Event (or a logged reason to skip it) and hands it on with `deliver`,
which returns only once the event is safe (stored, or taken by the pipeline: see inbox.py). A private message also records that
the viewer can now be written to by DM.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.types import Message

from bot.adapters.telegram.contacts import DmContacts
from bot.adapters.telegram.intake import Intake, Skipped
from bot.events import Event

log = logging.getLogger("coursebot.telegram")


def viewer_router(intake: Intake, deliver: Callable[[Event], Awaitable[None]], contacts: DmContacts,
                  pseudonymise: Callable[[str], str]) -> Router:
    router = Router(name="telegram-viewers")

    @router.message(F.chat.type.in_({"group", "supergroup"}))
    async def group_message(message: Message) -> None:
        event = intake.from_group(message)
        if isinstance(event, Skipped):
            log.debug("skipped group message %s:%s: %s", message.chat.id, message.message_id, event.reason)
            return
        log.info("comment %s in thread %s from %s", event.event_id, event.thread.id if event.thread else "-",
                 pseudonymise(event.author_id or ""))
        await deliver(event)

    @router.message(F.chat.type == "private")
    async def private_message(message: Message) -> None:
        event = intake.from_private(message)
        if isinstance(event, Skipped):
            log.debug("skipped private message from %s: %s", _sender(message, pseudonymise), event.reason)
            return
        assert event.author_id is not None
        await contacts.opened(event.author_id)
        if event.raw.get("start"):
            log.info("viewer %s started the bot (payload %s)", pseudonymise(event.author_id), event.raw.get("start_payload", "-"))
        else:
            log.info("DM from %s", pseudonymise(event.author_id))
        await deliver(event)

    return router


def _sender(message: Message, pseudonymise: Callable[[str], str]) -> str:
    return pseudonymise(str(message.from_user.id)) if message.from_user else "-"
