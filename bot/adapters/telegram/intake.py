"""Telegram messages → platform-neutral Events, or the reason a message is not one.

A channel's comments live in its linked discussion group: each post is auto-forwarded there and becomes
the root of a thread (`message_thread_id` = the forwarded copy's id); viewer comments reply to it or to
one another inside that thread. The thread — and so replies, metrics and human takeover — is the post:
`<group chat id>:<root message id>`. Event ids are `<chat id>:<message id>`, unique and stable, so a
redelivered update is recognised downstream. A private chat's id is the viewer's own user id, so a DM's
event id is `<viewer pseudonym>:<message id>` instead: just as stable (the pseudonym is keyed with the
installation's secret key), and the raw user id never reaches events, logs or what `forget` leaves behind.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from aiogram.types import Message

from bot.adapters.telegram.links import comment_payload, deep_link, start_payload
from bot.events import Event, Thread

PLATFORM = "telegram"
_TITLE_CHARS = 120
_DESCRIPTION_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message that is not a viewer event, and why (logged at debug level, never stored)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is who in the creator's chats."""

    bot_id: int
    admin_ids: frozenset[int] = frozenset()
    channel_id: int | None = None
    group_id: int | None = None  # None: accept comments from any discussion group the bot is in
    bot_username: str | None = None  # for the DM deep link offered with public replies


@dataclass(slots=True)
class _Post:
    title: str
    description: str
    channel_id: int | None


@dataclass
class Intake:
    audience: Audience
    pseudonymise: Callable[[str], str]  # raw user id → the viewer's pseudonym (the store's, when there is one)
    cache_size: int = 4096
    _posts: OrderedDict[str, _Post] = field(default_factory=OrderedDict)

    def from_group(self, message: Message) -> Event | Skipped:
        chat = message.chat
        if self.audience.group_id is not None and chat.id != self.audience.group_id:
            return Skipped("not the configured discussion group")
        if message.is_automatic_forward:
            self._remember_post(f"{chat.id}:{message.message_id}", message)
            return Skipped("automatic forward of a channel post")
        text = message.text or message.caption
        if text is None:
            return Skipped("no text (service message or media without caption)")
        root = self._thread_root(message)
        if root is None:
            return Skipped("not under a channel post")
        thread_id = f"{chat.id}:{root}"
        if isinstance(reason := self._author_skip(message, thread_id), Skipped):
            return reason
        if text.startswith("/"):
            return Skipped("a command")
        parent = message.reply_to_message
        is_comment = parent is None or parent.message_id == root
        post = self._posts.get(thread_id)
        return Event(
            platform=PLATFORM,
            event_id=f"{chat.id}:{message.message_id}",
            text=text,
            kind="comment" if is_comment else "reply",
            thread=Thread(id=thread_id, title=post.title if post else "", description=post.description if post else ""),
            parent_id=None if is_comment else f"{chat.id}:{parent.message_id}",  # type: ignore[union-attr]
            author_id=str(_author(message)),
            author_name=_display_name(message),
            created_at=message.date.astimezone(UTC),
            raw=self._comment_raw(message, root),
        )

    def from_private(self, message: Message) -> Event | Skipped:
        sender = message.from_user
        if sender is None or sender.is_bot:
            return Skipped("a bot")
        if sender.id in self.audience.admin_ids:
            return Skipped("the creator or an admin (their commands are handled apart)")
        text = message.text or message.caption
        if text is None:
            return Skipped("no text")
        raw = _raw(message)
        if _command(text) == "/start":
            payload = start_payload(text)
            raw["start"] = True
            if payload is not None:
                raw["start_payload"] = payload  # attribution: which post/comment/link brought the viewer
            text = ""
        elif text.startswith("/"):
            return Skipped("a command")
        return Event(
            platform=PLATFORM,
            event_id=f"{self.pseudonymise(str(sender.id))}:{message.message_id}",
            text=text,
            kind="dm",
            author_id=str(sender.id),
            author_name=_display_name(message),
            created_at=message.date.astimezone(UTC),
            raw=raw,
        )

    def thread_title(self, thread_id: str) -> str | None:
        post = self._posts.get(thread_id)
        return post.title if post else None

    # --- helpers ------------------------------------------------------------------------------------------
    def _comment_raw(self, message: Message, root: int) -> dict[str, Any]:
        raw = _raw(message, thread_root=root)
        if self.audience.bot_username:
            # A public reply can offer this link to a viewer the bot may not DM yet; /start then carries
            # the comment back (attribution) and opens the DM.
            raw["dm_link"] = deep_link(self.audience.bot_username, comment_payload(message.chat.id, root, message.message_id))
        return raw

    def _thread_root(self, message: Message) -> int | None:
        parent = message.reply_to_message
        if parent is not None and parent.is_automatic_forward:
            self._remember_post(f"{message.chat.id}:{parent.message_id}", parent)
            return parent.message_id
        if message.message_thread_id is None or message.is_topic_message:
            return None  # ordinary group chat, or a forum topic: not a comment under a post
        return message.message_thread_id

    def _author_skip(self, message: Message, thread_id: str) -> Skipped | None:
        sender_chat = message.sender_chat
        if sender_chat is not None:
            post = self._posts.get(thread_id)
            creator_chats = {message.chat.id, self.audience.channel_id, post.channel_id if post else None}
            if sender_chat.id in creator_chats:
                return Skipped("written by the creator (as the channel or an anonymous admin)")
            return None  # a viewer commenting as their own channel
        sender = message.from_user
        if sender is None:
            return Skipped("no author")
        if sender.id == self.audience.bot_id:
            return Skipped("the bot itself")
        if sender.is_bot:
            return Skipped("another bot")
        if sender.id in self.audience.admin_ids:
            return Skipped("written by the creator or an admin")
        return None

    def _remember_post(self, thread_id: str, message: Message) -> None:
        text = (message.text or message.caption or "").strip()
        first, _, rest = text.partition("\n")
        channel = message.sender_chat.id if message.sender_chat else None
        self._posts[thread_id] = _Post(first.strip()[:_TITLE_CHARS], rest.strip()[:_DESCRIPTION_CHARS], channel)
        self._posts.move_to_end(thread_id)
        while len(self._posts) > self.cache_size:
            self._posts.popitem(last=False)


def _command(text: str) -> str:
    words = text.split(maxsplit=1)
    return words[0].split("@", 1)[0] if words and words[0].startswith("/") else ""


def _author(message: Message) -> int:
    if message.sender_chat is not None:
        return message.sender_chat.id
    assert message.from_user is not None
    return message.from_user.id


def _display_name(message: Message) -> str | None:
    if message.sender_chat is not None:
        return message.sender_chat.title
    return message.from_user.full_name if message.from_user else None


def _raw(message: Message, *, thread_root: int | None = None) -> dict[str, Any]:
    """What an audit needs to find the message again; no user ids (the store keeps those apart)."""
    raw: dict[str, Any] = {"chat_id": message.chat.id, "chat_type": message.chat.type, "message_id": message.message_id}
    if thread_root is not None:
        raw["thread_root"] = thread_root
    if message.reply_to_message is not None:
        raw["reply_to_message_id"] = message.reply_to_message.message_id
    if message.caption is not None and message.text is None:
        raw["caption"] = True
    return raw
