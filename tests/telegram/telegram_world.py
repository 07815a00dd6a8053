"""Scripted Telegram situations as the Bot API shapes them: a channel with a linked discussion group,
viewers commenting under posts, DMs, deep links, admin commands, edits and service messages.

Every builder returns the message dict; with `push=True` (default) it is also queued for getUpdates.
Field shapes follow the Bot API: an auto-forwarded post is sent "from" Telegram (777000) on behalf of the
channel with `is_automatic_forward`; comments reply to it and carry `message_thread_id` = its id.
"""

from __future__ import annotations

import time
from typing import Any

from fake_bot_api import FakeBotAPI

TELEGRAM_SERVICE = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


class TelegramWorld:
    def __init__(self, api: FakeBotAPI, *, channel_id: int = -1001500000001, group_id: int = -1001500000002) -> None:
        self.api = api
        self.channel = {"id": channel_id, "type": "channel", "title": "Python 编程课频道", "username": "py_course"}
        self.group = {"id": group_id, "type": "supergroup", "title": "Python 编程课讨论组"}
        api.chats[channel_id] = self.channel
        api.chats[group_id] = self.group
        self._post_ids = 0

    @staticmethod
    def user(user_id: int, first_name: str = "学员", *, username: str | None = None, is_bot: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name, "language_code": "zh-hans"}
        if username:
            user["username"] = username
        return user

    def _message(self, chat: dict[str, Any], sender: dict[str, Any], text: str | None, **fields: Any) -> dict[str, Any]:
        message = {"message_id": self.api.new_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
                   "from": sender, **fields}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self.api.remember(message)
        return message

    def _emit(self, message: dict[str, Any], push: bool, kind: str = "message") -> dict[str, Any]:
        if push:
            self.api.push(message, kind)
        return message

    # --- the channel and its discussion group ---------------------------------------------------------------
    def channel_post(self, text: str, *, push: bool = True) -> dict[str, Any]:
        """A post in the channel, as its automatic forward into the discussion group (the thread root)."""
        self._post_ids += 1
        date = int(time.time())
        origin = {"type": "channel", "chat": self.channel, "message_id": self._post_ids, "date": date}
        message = self._message(self.group, TELEGRAM_SERVICE, text, sender_chat=self.channel, is_automatic_forward=True,
                                forward_origin=origin, forward_from_chat=self.channel, forward_from_message_id=self._post_ids,
                                forward_date=date)
        return self._emit(message, push)

    def comment(self, sender: dict[str, Any], root: dict[str, Any], text: str | None, *, push: bool = True, **fields: Any) -> dict[str, Any]:
        """A viewer's comment under a channel post (a reply to its auto-forwarded copy)."""
        message = self._message(self.group, sender, text, reply_to_message=root, message_thread_id=root["message_id"], **fields)
        return self._emit(message, push)

    def reply(self, sender: dict[str, Any], to: dict[str, Any], text: str, *, push: bool = True) -> dict[str, Any]:
        """A reply to another comment, inside the same post's thread."""
        reply_to = {k: v for k, v in to.items() if k != "reply_to_message"}  # Telegram nests one level only
        message = self._message(self.group, sender, text, reply_to_message=reply_to, message_thread_id=to["message_thread_id"])
        return self._emit(message, push)

    def group_chatter(self, sender: dict[str, Any], text: str, *, push: bool = True) -> dict[str, Any]:
        """A message in the discussion group that is not under any post."""
        return self._emit(self._message(self.group, sender, text), push)

    def as_channel(self, root: dict[str, Any], text: str, *, push: bool = True) -> dict[str, Any]:
        """The creator commenting on behalf of the channel."""
        return self.comment(CHANNEL_BOT, root, text, push=push, sender_chat=self.channel)

    def as_anonymous_admin(self, root: dict[str, Any], text: str, *, push: bool = True) -> dict[str, Any]:
        return self.comment(ANONYMOUS_ADMIN, root, text, push=push, sender_chat=self.group)

    def member_joined(self, member: dict[str, Any], *, push: bool = True) -> dict[str, Any]:
        """A service message: no text, `new_chat_members`."""
        return self._emit(self._message(self.group, member, None, new_chat_members=[member]), push)

    def edit(self, message: dict[str, Any], text: str, *, push: bool = True) -> dict[str, Any]:
        edited = {**message, "text": text, "edit_date": int(time.time())}
        if push:
            self.api.push(edited, "edited_message")
        return edited

    # --- private chats -----------------------------------------------------------------------------------
    def private_chat(self, sender: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": sender["id"], "type": "private", "first_name": sender["first_name"]}
        self.api.chats.setdefault(sender["id"], chat)
        return chat

    def dm(self, sender: dict[str, Any], text: str, *, push: bool = True) -> dict[str, Any]:
        return self._emit(self._message(self.private_chat(sender), sender, text), push)

    def start(self, sender: dict[str, Any], payload: str | None = None, *, push: bool = True) -> dict[str, Any]:
        """The viewer pressed Start, from a deep link `t.me/<bot>?start=<payload>` when a payload is given."""
        return self.dm(sender, "/start" if payload is None else f"/start {payload}", push=push)

    def group_command(self, sender: dict[str, Any], text: str, *, root: dict[str, Any] | None = None, push: bool = True) -> dict[str, Any]:
        if root is not None:
            return self.comment(sender, root, text, push=push)
        return self.group_chatter(sender, text, push=push)
