"""Live-room commands (the JSON in op-5 packets) as Events: pure, no I/O.

A live session is the thread: `live:<room_id>:<start unix seconds>`, titled with the room title. Between
sessions (the room is not live: rehearsal chatter, viewers waiting) events go to `live:<room_id>:0`.

Danmaku have no guaranteed platform id. Newer payloads carry one (`id_str` inside `info[0][15].extra`); when
it is there the event id is `dm:<id_str>`. Otherwise it is derived: room, sender (uid, else the uid's CRC32
that anonymous connections still see), the danmaku's own send time in ms (`info[0][4]`), the sender's `rnd`
(`info[0][5]`) and a hash of the text. That key is the same when the same danmaku is delivered twice (a
server re-send, the same payload seen on two connections), so such repeats are dropped; two different
danmaku with the same text from the same viewer in the same millisecond and with the same `rnd` would be
taken as one (in practice the client rejects a repeat that fast). See docs/bilibili-live.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.events import Event, Thread

PLATFORM = "bilibili-live"
ENTRY, FOLLOW, SHARE = 1, 2, 3
_ACTIONS = {1: "entry", 2: "follow", 3: "share", 4: "special_follow", 5: "mutual_follow"}


class MalformedCommand(ValueError):
    """A known command whose fields do not have the documented shape."""


@dataclass(slots=True)
class RoomState:
    """What the source knows about one room: its real id, title and the current session's start."""

    room_id: int
    title: str = ""
    live_since: int = 0  # unix seconds of the current session's start; 0 = not live

    @property
    def thread(self) -> Thread:
        return Thread(id=f"live:{self.room_id}:{self.live_since}", title=self.title)


def command_name(command: dict[str, Any]) -> str:
    """`DANMU_MSG:4:0:2:2:2:0` (older servers append options) → `DANMU_MSG`."""
    return str(command.get("cmd") or "").split(":", 1)[0]


def to_event(state: RoomState, command: dict[str, Any], *, received: datetime) -> Event | None:
    """The Event for a known command (None for a duplicate LIVE); KeyError-free: bad shapes raise MalformedCommand.

    Unknown commands are not handled here: the caller checks `command_name(...) in HANDLED` first.
    """
    handler = _HANDLERS[command_name(command)]
    try:
        return handler(state, command, received)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedCommand(f"{command_name(command)}: {type(exc).__name__}: {exc}") from None


def _ms(moment: int) -> datetime:
    return datetime.fromtimestamp(moment / 1000, UTC)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def platform_id(mode_info: Any) -> str | None:
    if not isinstance(mode_info, dict):
        return None
    extra = mode_info.get("extra")
    if isinstance(extra, str) and extra:
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError:
            return None
    value = extra.get("id_str") if isinstance(extra, dict) else None
    return str(value) if value else None


def danmaku_key(room_id: int, info: list[Any]) -> str:
    head = info[0]
    if len(head) > 15 and (own_id := platform_id(head[15])):
        return f"dm:{own_id}"
    uid = int(info[2][0] or 0)
    sender = str(uid) if uid else f"crc{head[7] if len(head) > 7 else ''}"
    rnd = head[5] if len(head) > 5 else ""
    return f"dm:{room_id}:{sender}:{int(head[4])}:{rnd}:{_digest(str(info[1]))}"


def _danmaku(state: RoomState, command: dict[str, Any], received: datetime) -> Event:
    info = command["info"]
    head, user = info[0], info[2]
    if not isinstance(info[1], str):
        raise ValueError("info[1] (the text) is not a string")
    uid = int(user[0] or 0)
    crc = str(head[7]) if len(head) > 7 and head[7] else ""
    sent_ms = int(head[4])
    return Event(
        platform=PLATFORM, event_id=danmaku_key(state.room_id, info), text=info[1], kind="danmaku",
        thread=state.thread, author_id=str(uid) if uid else (f"crc:{crc}" if crc else None),
        author_name=str(user[1] or "") or None, created_at=_ms(sent_ms) if sent_ms > 0 else received,
        raw={"room_id": state.room_id, "uid": uid, "uid_crc32": crc, "sent_ms": sent_ms, "received": received.isoformat()},
    )


def _super_chat(state: RoomState, command: dict[str, Any], received: datetime) -> Event:
    data = command["data"]
    uid, sc_id = int(data["uid"]), int(data["id"])
    start = int(data.get("start_time") or 0)
    return Event(
        platform=PLATFORM, event_id=f"sc:{sc_id}", text=str(data["message"]), kind="super_chat", thread=state.thread,
        author_id=str(uid) if uid else None, author_name=str((data.get("user_info") or {}).get("uname") or "") or None,
        created_at=datetime.fromtimestamp(start, UTC) if start > 0 else received,
        raw={"room_id": state.room_id, "uid": uid, "price": float(data["price"]), "super_chat_id": sc_id,
             "received": received.isoformat()},
    )


def _gift(state: RoomState, command: dict[str, Any], received: datetime) -> Event:
    data = command["data"]
    combo = command_name(command) == "COMBO_SEND"
    uid = int(data["uid"])
    name = str(data.get("gift_name") if combo else data["giftName"])
    num = int(data.get("total_num") or data.get("combo_num") or 0) if combo else int(data["num"])
    total = int(data.get("combo_total_coin") or 0) if combo else int(data.get("total_coin") or 0)
    stamp = int(data.get("timestamp") or 0)
    if combo:
        event_id = f"combo:{data.get('batch_combo_id') or data.get('combo_id')}:{num}"
    else:
        event_id = f"gift:{data['tid']}" if data.get("tid") else f"gift:{state.room_id}:{uid}:{stamp}:{data.get('rnd', '')}"
    return Event(
        platform=PLATFORM, event_id=event_id, text=f"{name} x{num}", kind="gift", thread=state.thread,
        author_id=str(uid) if uid else None, author_name=str(data.get("uname") or "") or None,
        created_at=datetime.fromtimestamp(stamp, UTC) if stamp > 0 else received,
        raw={"room_id": state.room_id, "uid": uid, "gift_name": name, "num": num,
             "coin_type": str(data.get("coin_type") or "silver"), "total_coin": total, "combo": combo},
    )


def _interact(state: RoomState, command: dict[str, Any], received: datetime) -> Event:
    data = command["data"]
    uid, kind = int(data["uid"]), int(data["msg_type"])
    stamp = int(data.get("trigger_time") or 0) or int(data.get("timestamp") or 0)
    action = _ACTIONS.get(kind, f"interact_{kind}")
    return Event(
        platform=PLATFORM, event_id=f"iw:{state.room_id}:{uid}:{kind}:{stamp}", text=action, kind="engagement",
        thread=state.thread, author_id=str(uid) if uid else None, author_name=str(data.get("uname") or "") or None,
        created_at=received, raw={"room_id": state.room_id, "uid": uid, "action": action},
    )


def _like(state: RoomState, command: dict[str, Any], received: datetime) -> Event:
    data = command["data"]
    uid = int(data["uid"])
    # no time of its own: a like re-delivered after a reconnect is counted again (engagement only, never answered)
    return Event(
        platform=PLATFORM, event_id=f"like:{state.room_id}:{uid}:{int(received.timestamp() * 1000)}", text="like",
        kind="engagement", thread=state.thread, author_id=str(uid) if uid else None,
        author_name=str(data.get("uname") or "") or None, created_at=received,
        raw={"room_id": state.room_id, "uid": uid, "action": "like"},
    )


def _live(state: RoomState, command: dict[str, Any], received: datetime) -> Event | None:
    start = int(command.get("live_time") or 0)
    if state.live_since and (not start or start == state.live_since):
        return None  # Bilibili announces one start more than once
    state.live_since = start or int(received.timestamp())
    return Event(platform=PLATFORM, event_id=f"live_start:{state.room_id}:{state.live_since}", text="", kind="live_start",
                 thread=state.thread, created_at=datetime.fromtimestamp(state.live_since, UTC),
                 raw={"room_id": state.room_id, "live_time": state.live_since})


def _preparing(state: RoomState, command: dict[str, Any], received: datetime) -> Event | None:
    if not state.live_since:
        return None  # not live as far as we know: nothing ends
    event = Event(platform=PLATFORM, event_id=f"live_end:{state.room_id}:{state.live_since}", text="", kind="live_end",
                  thread=state.thread, created_at=received,
                  raw={"room_id": state.room_id, "live_time": state.live_since, "ended": int(received.timestamp())})
    state.live_since = 0
    return event


def _room_change(state: RoomState, command: dict[str, Any], received: datetime) -> None:
    """The host renamed the room: later events carry the new title (no event of its own)."""
    title = command["data"].get("title")
    if isinstance(title, str) and title:
        state.title = title
    return None


_HANDLERS = {
    "DANMU_MSG": _danmaku, "SUPER_CHAT_MESSAGE": _super_chat, "SEND_GIFT": _gift, "COMBO_SEND": _gift,
    "INTERACT_WORD": _interact, "LIKE_INFO_V3_CLICK": _like, "LIVE": _live, "PREPARING": _preparing,
    "ROOM_CHANGE": _room_change,
}
HANDLED = frozenset(_HANDLERS)
