"""Telegram through aiogram 3: channel comments (in the linked discussion group), DMs, deep links and the
creator's commands. `TelegramBot` is the entry point; see docs/telegram.md for setting a bot up."""

from bot.adapters.telegram.admin import ADMIN_COMMANDS, CreatorConsole
from bot.adapters.telegram.connection import TelegramBot, TelegramSource, bot_token
from bot.adapters.telegram.contacts import DmContacts, MemoryDmContacts
from bot.adapters.telegram.intake import PLATFORM, Audience, Intake, Skipped
from bot.adapters.telegram.links import deep_link, start_payload, valid_start_payload
from bot.adapters.telegram.sink import TelegramSink
from bot.adapters.telegram.throttle import SendThrottle

__all__ = [
    "ADMIN_COMMANDS", "PLATFORM", "Audience", "CreatorConsole", "DmContacts", "Intake", "MemoryDmContacts", "SendThrottle",
    "Skipped", "TelegramBot", "TelegramSink", "TelegramSource", "bot_token", "deep_link", "start_payload", "valid_start_payload",
]
