"""One Telegram bot: the Source of viewer events, the Sink for replies, and the creator's commands.

    async with TelegramBot(settings.telegram, console=console) as telegram:
        async for event in telegram.source.events(): ...
        await telegram.sink.send(outgoing)

The Bot API base URL comes from the config (`[telegram] api_base`), so the same code talks to
api.telegram.org, a self-hosted telegram-bot-api server, or a local fake in tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import Self

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.adapters.telegram.admin import CreatorConsole, admin_router
from bot.adapters.telegram.contacts import DmContacts, MemoryDmContacts
from bot.adapters.telegram.handlers import viewer_router
from bot.adapters.telegram.inbox import EventInbox
from bot.adapters.telegram.intake import PLATFORM, Audience, Intake
from bot.adapters.telegram.links import deep_link
from bot.adapters.telegram.receive import poll, serve_webhook
from bot.adapters.telegram.redaction import redact_in_logs
from bot.adapters.telegram.sink import TelegramSink
from bot.adapters.telegram.throttle import SendThrottle
from bot.config import TelegramSettings
from bot.events import Event
from retrieval.errors import InputError

log = logging.getLogger("coursebot.telegram")


def bot_token(settings: TelegramSettings) -> str:
    token = settings.token.get_secret_value().strip() if settings.token else ""
    if not token:
        raise InputError("telegram.token: not set; put it in COURSEBOT_TELEGRAM__TOKEN or under [telegram] in the secrets file")
    left, sep, right = token.partition(":")
    if not (sep and left.isdigit() and right) or any(c.isspace() for c in token):
        raise InputError("telegram.token: not a bot token (expected '<digits>:<letters>' as BotFather gives it)")
    return token


class TelegramSource:
    """Yields viewer Events while receiving updates by long polling or webhook (Source protocol)."""

    platform = PLATFORM

    def __init__(self, inbox: EventInbox, receive: Callable[[], Awaitable[None]]) -> None:
        self.inbox = inbox
        self._receive = receive

    async def events(self) -> AsyncIterator[Event]:
        receiver = asyncio.ensure_future(self._receive())
        try:
            async for event in self.inbox.events(receiver):
                yield event
        finally:
            receiver.cancel()
            with suppress(asyncio.CancelledError):
                await receiver


class TelegramBot:
    def __init__(self, settings: TelegramSettings, *, console: CreatorConsole | None = None, contacts: DmContacts | None = None,
                 pseudonymise: Callable[[str], str] | None = None, accept: Callable[[Event], Awaitable[object]] | None = None) -> None:
        token = bot_token(settings)
        redact_in_logs(token, settings.webhook_secret.get_secret_value() if settings.webhook_secret else None)
        self.settings = settings
        self.console = console
        self.contacts = contacts or MemoryDmContacts()
        self.pseudonymise = pseudonymise or _process_pseudonym()
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base), timeout=settings.timeout)
        self.bot = Bot(token, session=session)
        self.throttle = SendThrottle(chat_interval=settings.chat_interval, group_per_minute=settings.group_per_minute,
                                     global_per_second=settings.global_per_second, margin=settings.pace_margin)
        self.sink = TelegramSink(self.bot, self.throttle, self.contacts)
        self.username = settings.bot_username
        # Where handlers hand events: `accept` (e.g. Runner.accept, which stores before returning) or,
        # when unset, the inbox that `source.events()` yields from.
        self.accept = accept
        self.inbox = EventInbox()
        self.source = TelegramSource(self.inbox, self.receive)
        self.intake: Intake | None = None
        self._dispatcher: Dispatcher | None = None

    async def __aenter__(self) -> Self:
        try:
            me = await self.bot.me()
            self.username = self.username or me.username
            self.intake = Intake(Audience(bot_id=me.id, admin_ids=frozenset(self.settings.admin_ids),
                                          channel_id=self.settings.channel_id, group_id=self.settings.discussion_group_id,
                                          bot_username=self.username), self.pseudonymise)
            self._dispatcher = self._build_dispatcher(self.intake)
        except BaseException:
            await self.bot.session.close()
            raise
        log.info("telegram bot @%s ready (%s mode)", self.username, self.settings.mode)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.bot.session.close()

    async def receive(self) -> None:
        """Receive updates (long polling, or the webhook server) until cancelled."""
        if self._dispatcher is None:
            raise RuntimeError("TelegramBot is used outside 'async with'")
        receive = serve_webhook if self.settings.mode == "webhook" else poll
        await receive(self.bot, self._dispatcher, self.settings)

    def deep_link(self, payload: str) -> str:
        """`https://t.me/<bot>?start=<payload>`: for public replies to viewers the bot cannot DM yet."""
        if not self.username:
            raise RuntimeError("bot username unknown before 'async with' (or set [telegram] bot_username)")
        return deep_link(self.username, payload)

    async def _deliver(self, event: Event) -> None:
        if self.accept is not None:
            await self.accept(event)
        else:
            await self.inbox.deliver(event)

    def _build_dispatcher(self, intake: Intake) -> Dispatcher:
        dispatcher = Dispatcher()
        # Order matters: creator commands first, then everything a viewer writes. Without a console (a bare
        # Source), commands are just not viewer events.
        if self.console is not None:
            dispatcher.include_router(admin_router(self.console, frozenset(self.settings.admin_ids),
                                                   group_id=self.settings.discussion_group_id, pseudonymise=self.pseudonymise))
        dispatcher.include_router(viewer_router(intake, self._deliver, self.contacts, self.pseudonymise))
        return dispatcher


def _process_pseudonym() -> Callable[[str], str]:
    """Log pseudonyms keyed per process, for use without the store (which keeps a persistent key)."""
    key = secrets.token_bytes(16)
    return lambda raw: "tg-" + hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:10]
