"""Bilibili payloads as typed values, and their Events.

A reply (`x/v2/reply` item) has `rpid`, `oid` (the video's aid for type 1), `type`, `mid` (author), `root`
(top-level comment, 0 if it is one), `parent`, `ctime`, `content.message`, `member.uname`. A reply
notification (`x/msgfeed/reply` item) has `id`, `reply_time`, `user{mid,nickname}` and `item{subject_id,
business_id, root_id, source_id (the new reply's rpid), target_id (the comment it answers), source_content}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.adapters.bilibili.bvid import aid_to_bvid
from bot.events import Event, Thread

PLATFORM = "bilibili"
VIDEO = 1  # comment area type of a video
_KEPT = ("rpid", "oid", "type", "mid", "root", "parent", "ctime", "like", "rcount")  # audit copy, not the avatar zoo


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True, slots=True)
class VideoInfo:
    aid: int
    bvid: str
    title: str = ""
    description: str = ""
    owner_mid: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> VideoInfo:
        owner = data.get("owner") or {}
        return cls(aid=_int(data.get("aid")), bvid=str(data.get("bvid") or aid_to_bvid(_int(data.get("aid")))),
                   title=str(data.get("title") or ""), description=str(data.get("desc") or ""),
                   owner_mid=str(owner["mid"]) if owner.get("mid") else None)

    @property
    def thread(self) -> Thread:
        return Thread(id=self.bvid, title=self.title, description=self.description)


@dataclass(frozen=True, slots=True)
class Reply:
    rpid: int
    oid: int
    type: int
    mid: str
    root: int
    parent: int
    ctime: int
    text: str
    uname: str = ""
    children: tuple[Reply, ...] = ()  # the preview of sub-replies the list endpoint embeds
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Reply:
        member = obj.get("member") or {}
        content = obj.get("content") or {}
        return cls(
            rpid=_int(obj.get("rpid")), oid=_int(obj.get("oid")), type=_int(obj.get("type")) or VIDEO,
            mid=str(obj.get("mid") or member.get("mid") or ""), root=_int(obj.get("root")), parent=_int(obj.get("parent")),
            ctime=_int(obj.get("ctime")), text=str(content.get("message") or ""), uname=str(member.get("uname") or ""),
            children=tuple(cls.from_api(child) for child in obj.get("replies") or () if isinstance(child, dict)),
            raw={k: obj[k] for k in _KEPT if k in obj},
        )

    def event(self, thread: Thread | None = None) -> Event:
        return _event(rpid=self.rpid, oid=self.oid, type=self.type, root=self.root, parent=self.parent, mid=self.mid,
                      uname=self.uname, text=self.text, ctime=self.ctime, thread=thread, raw=self.raw)


@dataclass(frozen=True, slots=True)
class CommentPage:
    replies: tuple[Reply, ...]
    count: int  # top-level comments in the whole comment area


@dataclass(frozen=True, slots=True)
class FeedItem:
    id: int
    reply_time: int
    rpid: int
    oid: int
    type: int
    root: int
    parent: int
    mid: str
    uname: str
    text: str
    title: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> FeedItem:
        item, user = obj.get("item") or {}, obj.get("user") or {}
        return cls(
            id=_int(obj.get("id")), reply_time=_int(obj.get("reply_time")), rpid=_int(item.get("source_id")),
            oid=_int(item.get("subject_id")), type=_int(item.get("business_id")) or VIDEO, root=_int(item.get("root_id")),
            parent=_int(item.get("target_id")), mid=str(user.get("mid") or ""), uname=str(user.get("nickname") or ""),
            text=str(item.get("source_content") or ""), title=str(item.get("title") or ""),
            raw={"feed_id": obj.get("id"), "reply_time": obj.get("reply_time"), "item": {
                k: item[k] for k in ("subject_id", "business_id", "root_id", "source_id", "target_id", "uri") if k in item}},
        )

    @property
    def position(self) -> tuple[int, int]:
        return self.reply_time, self.id

    def event(self) -> Event:
        thread = Thread(id=aid_to_bvid(self.oid), title=self.title) if self.type == VIDEO and self.oid else (
            Thread(id=f"{self.type}:{self.oid}", title=self.title))
        return _event(rpid=self.rpid, oid=self.oid, type=self.type, root=self.root, parent=self.parent, mid=self.mid,
                      uname=self.uname, text=self.text, ctime=self.reply_time, thread=thread, raw=self.raw)


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: tuple[FeedItem, ...]
    is_end: bool
    next_id: int | None
    next_time: int | None


def reply_target(*, oid: int, type: int, root: int, rpid: int) -> dict[str, int]:
    """What `x/v2/reply/add` needs to answer comment `rpid`: the bot's reply goes under its top-level comment."""
    return {"oid": oid, "type": type, "root": root or rpid, "parent": rpid}


def _event(*, rpid: int, oid: int, type: int, root: int, parent: int, mid: str, uname: str, text: str, ctime: int,
           thread: Thread | None, raw: dict[str, Any]) -> Event:
    return Event(
        platform=PLATFORM,
        event_id=str(rpid),
        text=text,
        kind="reply" if root else "comment",
        thread=thread,
        parent_id=str(parent) if parent else None,
        author_id=mid or None,
        author_name=uname or None,
        created_at=datetime.fromtimestamp(ctime, UTC) if ctime > 0 else datetime.now(UTC),
        raw={**raw, "reply": reply_target(oid=oid, type=type, root=root, rpid=rpid)},
    )
