"""Douyin webhook payloads → Events.

Envelope `{"event", "client_key", "from_user_id", "to_user_id", "content"}`. `item_comment_reply` carries an
object; `im_receive_msg` and `im_enter_direct_msg` carry `content` as a JSON *string*. Field names as in
the open-platform docs (modelled by fudiwei/DotNetCore.SKIT.FlurlHttpClient.ByteDance).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.events import Event, Thread

PLATFORM = "douyin"
_NO_ID = {"", "0", "None", "null"}


class MalformedEvent(ValueError):
    """A known event whose content lacks what we need (named in the message)."""


def _content(payload: dict[str, Any]) -> dict[str, Any]:
    content = payload.get("content")
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except json.JSONDecodeError as exc:
            raise MalformedEvent(f"{payload.get('event')}: content is not JSON ({exc.msg})") from None
    if not isinstance(content, dict):
        raise MalformedEvent(f"{payload.get('event')}: content must be an object, got {type(content).__name__}")
    return content


def _id(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return None if text in _NO_ID else text


def _required(content: dict[str, Any], key: str, event: str) -> str:
    value = _id(content.get(key))
    if value is None:
        raise MalformedEvent(f"{event}: content.{key} is missing")
    return value


def _time(value: Any) -> datetime:
    """The platform's time, or now when it is missing or no time at all (a string, NaN, inf, 1e300, year 10000)."""
    try:
        stamp = float(value)
        if stamp > 1e12:  # IM events count milliseconds
            stamp /= 1000
        return datetime.fromtimestamp(stamp, UTC) if stamp > 0 else datetime.now(UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _nick(content: dict[str, Any], open_id: str | None) -> str | None:
    infos = content.get("user_infos")
    for info in infos if isinstance(infos, list) else ():
        if isinstance(info, dict) and info.get("open_id") == open_id:
            return str(info.get("nick_name") or "") or None
    return None


def _comment(payload: dict[str, Any]) -> Event:
    content = _content(payload)
    comment_id = _required(content, "comment_id", "item_comment_reply")
    item_id = _id(content.get("reply_to_item_id"))
    parent = _id(content.get("reply_to_comment_id"))
    return Event(
        platform=PLATFORM, event_id=comment_id, text=str(content.get("content") or ""),
        kind="reply" if parent else "comment", thread=Thread(id=item_id) if item_id else None, parent_id=parent,
        author_id=_id(content.get("comment_user_id")) or _id(payload.get("from_user_id")),
        created_at=_time(content.get("create_time")),
        raw={"event": "item_comment_reply", "content": content, "reply": {"item_id": item_id, "comment_id": comment_id}},
    )


def _dm(payload: dict[str, Any]) -> Event:
    content = _content(payload)
    message_id = _required(content, "server_message_id", "im_receive_msg")
    conversation = _id(content.get("conversation_short_id"))
    viewer = _id(payload.get("from_user_id"))
    return Event(
        platform=PLATFORM, event_id=message_id, text=str(content.get("text") or ""), kind="dm",
        thread=Thread(id=f"dm:{conversation}") if conversation else None, author_id=viewer,
        author_name=_nick(content, viewer), created_at=_time(content.get("create_time")),
        raw={"event": "im_receive_msg", "content": content, "message_type": content.get("message_type"),
             "item_id": _id(content.get("item_id")),
             "reply": {"conversation_id": conversation, "msg_id": message_id, "scene": "im_replay_msg"}},
    )


def _entered_dm(payload: dict[str, Any]) -> Event:
    """A viewer opened a DM, e.g. from a video: no text, but which video brought them (attribution)."""
    content = _content(payload)
    conversation = _id(content.get("conversation_short_id"))
    video = _id(content.get("objectId")) or _id(content.get("object_id"))
    viewer = _id(payload.get("from_user_id"))
    event_id = _id(content.get("server_message_id")) or f"enter:{conversation}:{content.get('create_time')}"
    return Event(
        platform=PLATFORM, event_id=event_id, text="", kind="click",
        thread=Thread(id=video) if video else None, author_id=viewer, author_name=_nick(content, viewer),
        created_at=_time(content.get("create_time")),
        raw={"event": "im_enter_direct_msg", "content": content,
             "attribution": {"video": video, "conversation_id": conversation, "scene_type": content.get("scene_type"),
                             "path": content.get("path"), "query": content.get("query")}},
    )


MAPPERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "item_comment_reply": _comment,
    "im_receive_msg": _dm,
    "im_enter_direct_msg": _entered_dm,
}


def to_event(payload: dict[str, Any]) -> Event | None:
    """The Event for a delivery; None for event types the bot does not use; MalformedEvent for broken content."""
    mapper = MAPPERS.get(str(payload.get("event")))
    return mapper(payload) if mapper else None
