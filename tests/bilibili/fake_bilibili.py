"""A small Bilibili web API on 127.0.0.1 for tests: comment lists, the reply feed, reply/add and DMs.

It checks cookies and csrf like the real one, keeps what was posted, and can be told to answer the next
calls to a path with given envelope codes (`fail(path, -412, ...)`) or HTTP statuses (`fail_http`).
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SESSDATA = "sess-0123456789abcdef"
BILI_JCT = "jct-fedcba9876543210"
CREATOR = "42"


@dataclass
class Video:
    aid: int
    title: str
    desc: str = ""
    comments: list[dict[str, Any]] = field(default_factory=list)


class FakeBilibili:
    def __init__(self) -> None:
        self.videos: dict[int, Video] = {}
        self.feed: list[dict[str, Any]] = []
        self.posted: list[dict[str, str]] = []
        self.dms: list[dict[str, str]] = []
        self.calls: list[str] = []
        self._codes: dict[str, list[int]] = defaultdict(list)
        self._statuses: dict[str, list[int]] = defaultdict(list)
        self._rpids = itertools.count(1_000_000)
        self._feed_ids = itertools.count(500)
        self._clock = itertools.count(1_700_000_000)
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    # -- arranging -----------------------------------------------------------------------------------------
    def add_video(self, aid: int, title: str, desc: str = "") -> Video:
        self.videos[aid] = Video(aid, title, desc)
        return self.videos[aid]

    def comment(self, aid: int, text: str, *, mid: str = "9001", uname: str = "观众", root: int = 0,
                parent: int = 0) -> int:
        rpid = next(self._rpids)
        self.videos[aid].comments.append({
            "rpid": rpid, "rpid_str": str(rpid), "oid": aid, "type": 1, "mid": int(mid), "root": root,
            "parent": parent or root, "ctime": next(self._clock), "like": 0,
            "content": {"message": text}, "member": {"mid": mid, "uname": uname},
        })
        return rpid

    def reply_to_creator(self, aid: int, text: str, *, root: int, parent: int, mid: str = "9002",
                         uname: str = "学员") -> tuple[int, int]:
        """A viewer answers the creator's comment: it appears under the video and in the creator's feed."""
        rpid = self.comment(aid, text, mid=mid, uname=uname, root=root, parent=parent)
        item_id = next(self._feed_ids)
        self.feed.append({
            "id": item_id, "reply_time": next(self._clock), "user": {"mid": int(mid), "nickname": uname},
            "item": {"subject_id": aid, "business_id": 1, "root_id": root, "source_id": rpid, "target_id": parent,
                     "source_content": text, "title": self.videos[aid].title, "type": "reply"},
        })
        return rpid, item_id

    def fail(self, path: str, *codes: int) -> None:
        self._codes[path].extend(codes)

    def fail_http(self, path: str, *statuses: int) -> None:
        self._statuses[path].extend(statuses)

    # -- serving -------------------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/x/v2/reply", self._comments)
        app.router.add_get("/x/v2/reply/reply", self._thread)
        app.router.add_get("/x/web-interface/view", self._view)
        app.router.add_get("/x/msgfeed/reply", self._feed)
        app.router.add_post("/x/v2/reply/add", self._add)
        app.router.add_post("/web_im/v1/web_im/send_msg", self._send_msg)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @staticmethod
    def _ok(data: Any) -> web.Response:
        return web.json_response({"code": 0, "message": "0", "ttl": 1, "data": data})

    def _scripted(self, request: web.Request) -> web.Response | None:
        path = request.path
        self.calls.append(path)
        if self._statuses[path]:
            return web.Response(status=self._statuses[path].pop(0), text="<html>blocked</html>")
        if self._codes[path]:
            return web.json_response({"code": self._codes[path].pop(0), "message": "scripted", "ttl": 1})
        if request.cookies.get("SESSDATA") != SESSDATA:
            return web.json_response({"code": -101, "message": "账号未登录", "ttl": 1})
        return None

    async def _comments(self, request: web.Request) -> web.Response:
        if (early := self._scripted(request)) is not None:
            return early
        q = request.query
        video = self.videos.get(int(q["oid"]))
        if video is None or q.get("sort") != "0":
            return web.json_response({"code": -404, "message": "啥都木有", "ttl": 1})
        page, size = int(q.get("pn", 1)), int(q.get("ps", 20))
        top = sorted((c for c in video.comments if c["root"] == 0), key=lambda c: -c["rpid"])
        chunk = []
        for comment in top[(page - 1) * size: page * size]:
            children = [c for c in video.comments if c["root"] == comment["rpid"]][:3]
            chunk.append({**comment, "replies": children, "rcount": len(children)})
        return self._ok({"page": {"num": page, "size": size, "count": len(top), "acount": len(video.comments)},
                         "replies": chunk})

    async def _thread(self, request: web.Request) -> web.Response:
        if (early := self._scripted(request)) is not None:
            return early
        q = request.query
        video = self.videos.get(int(q["oid"]))
        if video is None:
            return web.json_response({"code": -404, "message": "啥都木有", "ttl": 1})
        page, size = int(q.get("pn", 1)), int(q.get("ps", 20))
        inside = sorted((c for c in video.comments if c["root"] == int(q["root"])), key=lambda c: c["rpid"])
        return self._ok({"page": {"num": page, "size": size, "count": len(inside)},
                         "replies": inside[(page - 1) * size: page * size]})

    async def _view(self, request: web.Request) -> web.Response:
        if (early := self._scripted(request)) is not None:
            return early
        video = self.videos.get(int(request.query["aid"]))
        if video is None:
            return web.json_response({"code": -404, "message": "啥都木有", "ttl": 1})
        return self._ok({"aid": video.aid, "title": video.title, "desc": video.desc, "owner": {"mid": int(CREATOR)}})

    async def _feed(self, request: web.Request) -> web.Response:
        if (early := self._scripted(request)) is not None:
            return early
        items = sorted(self.feed, key=lambda i: (i["reply_time"], i["id"]), reverse=True)
        if "id" in request.query and "reply_time" in request.query:
            before = (int(request.query["reply_time"]), int(request.query["id"]))
            items = [i for i in items if (i["reply_time"], i["id"]) < before]
        page = items[:20]
        last = page[-1] if page else None
        cursor = {"is_end": len(items) <= 20, "id": last["id"] if last else 0, "time": last["reply_time"] if last else 0}
        return self._ok({"cursor": cursor, "items": page, "last_view_at": 0})

    async def _add(self, request: web.Request) -> web.Response:
        if (early := self._scripted(request)) is not None:
            return early
        form = dict(await request.post())
        if form.get("csrf") != request.cookies.get("bili_jct") or not form.get("csrf"):
            return web.json_response({"code": -111, "message": "csrf 校验失败", "ttl": 1})
        if int(form["oid"]) not in self.videos:
            return web.json_response({"code": -404, "message": "啥都木有", "ttl": 1})
        self.posted.append({k: str(v) for k, v in form.items()})
        rpid = self.comment(int(form["oid"]), str(form["message"]), mid=CREATOR, uname="UP主",
                            root=int(form.get("root") or 0), parent=int(form.get("parent") or 0))
        return self._ok({"rpid": rpid, "rpid_str": str(rpid), "success_toast": "发送成功"})

    async def _send_msg(self, request: web.Request) -> web.Response:
        if (early := self._scripted(request)) is not None:
            return early
        form = {k: str(v) for k, v in (await request.post()).items()}
        if form.get("csrf") != request.cookies.get("bili_jct"):
            return web.json_response({"code": -111, "message": "csrf 校验失败", "ttl": 1})
        self.dms.append({**form, "text": json.loads(form["msg[content]"])["content"]})
        return self._ok({"msg_key": 7_000_000 + len(self.dms), "msg_content": form["msg[content]"], "at": int(time.time())})
