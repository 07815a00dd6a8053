"""Sends outbox messages to Telegram: public replies under the comment, DMs to viewers who started the bot.

Telegram's refusals become `SendError`s the outbox understands: 429 → transient with the exact
`retry_after`; 403 on a DM → permanent and the viewer is unreachable by DM; network trouble and 5xx →
transient; anything else (a deleted comment, a bad chat id) → permanent with Telegram's own description.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import ReplyParameters

from bot.adapters.telegram.contacts import DmContacts
from bot.adapters.telegram.intake import PLATFORM
from bot.adapters.telegram.throttle import SendThrottle
from bot.events import OutgoingMessage, SendError


class TelegramSink:
    platform = PLATFORM

    def __init__(self, bot: Bot, throttle: SendThrottle, contacts: DmContacts) -> None:
        self.bot = bot
        self.throttle = throttle
        self.contacts = contacts

    async def send(self, message: OutgoingMessage) -> str:
        """Send one message; returns `<chat id>:<message id>` of the sent message."""
        if message.kind == "reply_dm":
            chat_id, reply_to = await self._dm_target(message), None
        else:
            chat_id, reply_to = _public_target(message)
        parameters = ReplyParameters(message_id=reply_to, allow_sending_without_reply=False) if reply_to else None
        try:
            async with self.throttle.slot(chat_id):
                sent = await self.bot.send_message(chat_id, message.text, reply_parameters=parameters)
        except TelegramRetryAfter as exc:
            self.throttle.hold(chat_id, exc.retry_after)
            raise SendError(f"telegram flood control: retry after {exc.retry_after} s", transient=True,
                            retry_after=float(exc.retry_after), code=429) from None
        except TelegramForbiddenError as exc:
            if message.kind == "reply_dm":
                await self.contacts.unreachable(str(chat_id))
            raise SendError(f"telegram 403: {exc.message}", transient=False, code=403,
                            recipient_unreachable=message.kind == "reply_dm") from None
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise SendError(f"telegram unreachable: {exc.message}", transient=True, code="network") from None
        except TelegramAPIError as exc:
            raise SendError(f"telegram refused: {exc.message}", transient=False, code=type(exc).__name__) from None
        return f"{sent.chat.id}:{sent.message_id}"

    async def _dm_target(self, message: OutgoingMessage) -> int:
        recipient = message.recipient_id
        if not recipient or not recipient.lstrip("-").isdigit():
            raise SendError("telegram DM without a numeric recipient id", transient=False, code="bad_recipient")
        if not await self.contacts.can_message(recipient):
            # A bot cannot open a conversation; the pipeline answers publicly with a deep link instead.
            raise SendError("telegram: the viewer has not started the bot, DM not possible", transient=False,
                            code=403, recipient_unreachable=True)
        return int(recipient)


def _public_target(message: OutgoingMessage) -> tuple[int, int | None]:
    """`reply_to` is `<chat id>:<message id>` of the comment; without it, answer under the post itself."""
    for ref in (message.reply_to, message.thread_id):
        if ref:
            chat, _, msg = ref.rpartition(":")
            if chat.lstrip("-").isdigit() and msg.isdigit():
                return int(chat), int(msg)
    raise SendError(f"telegram public reply needs reply_to or thread_id '<chat>:<message>', got {message.reply_to!r}",
                    transient=False, code="bad_target")
