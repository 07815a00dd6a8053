"""Hypothesis over the whole input space, on SQLite and PostgreSQL: any Unicode (lone surrogates, NUL, control
characters), ids of 0–10,000 characters, numbers, NaN and infinity where text or a time is expected.

Through `replay` (JsonlSource → Runner), `import` (ExportSource → Runner), `route` (route_file with decisions), the
Douyin webhook (signed HTTP → DurableAccept → Runner.accept) and the Telegram intake (aiogram Message → Intake →
Runner.accept). Outcomes, not just "no crash": every valid line is stored exactly once under its mapped id, every
bad line is quarantined (or, for `route`, reported) with its line number, no exception escapes, nothing is 5xx.
Few examples per run and the shared model keep this fast; the database is shared by a test's examples, so each
example's ids carry its own prefix.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiogram.types import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.adapters.douyin import sign
from bot.adapters.douyin.source import serve_webhook, webhook_from_settings
from bot.adapters.importer import ExportSource
from bot.adapters.jsonl import JsonlSource
from bot.adapters.serve import DurableAccept
from bot.adapters.telegram.intake import Audience, Intake, Skipped
from bot.config import DouyinSettings
from bot.events import Quarantined
from bot.storable import PLATFORM_CHARS, storable_id
from bot.store import Store
from bot.store.models import EventRecord

FEW = settings(max_examples=12, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
_examples = itertools.count()

# -- the input space ---------------------------------------------------------------------------------------------
SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
CONTROL = st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\u202e", "\u200b", "\ufeff", "\t", "\n", "\r"])
CHAR = st.one_of(st.characters(exclude_categories=()), SURROGATE, CONTROL, st.sampled_from(list("多少钱课程链接发票吗？😀")))
TEXT = st.text(CHAR, max_size=60)
LONG = st.builds(lambda c, n: c * n, CHAR, st.integers(0, 10_000))  # 0–10,000 characters, cheaply
ID = st.one_of(TEXT, LONG)
NUMBER = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True))
VALUE = st.one_of(st.none(), TEXT, NUMBER, st.booleans(), st.lists(TEXT, max_size=2))


def _nonblank(text: str) -> bool:
    return bool(text.strip())


def _key(platform: str, event_id: str) -> tuple[str, str]:
    return storable_id(platform, PLATFORM_CHARS), storable_id(event_id)


def _stored(store: Store) -> list[tuple[str, str]]:
    with store.session(write=False) as session:
        return list(session.exec(select(EventRecord.platform, EventRecord.event_id)))


def _quarantined_lines(store: Store, path: Path) -> set[int]:
    prefix = f"{path}:line "
    return {int(row.origin[len(prefix):]) for row in store.quarantined(limit=10_000) if row.origin.startswith(prefix)}


# A replay line: valid (an object with a non-blank id and a string text) or bad in one of many ways.
VALID_LINE = st.fixed_dictionaries(
    {"id": ID.filter(_nonblank), "text": TEXT},
    optional={"platform": TEXT, "author": ID, "author_name": TEXT, "thread_id": ID, "thread_title": TEXT,
              "parent_id": ID, "thread_course_id": ID, "created_at": st.one_of(NUMBER, TEXT), "extra": VALUE})
BAD_LINE = st.one_of(
    st.fixed_dictionaries({"id": ID}),  # no text
    st.fixed_dictionaries({"id": ID.filter(_nonblank), "text": st.one_of(NUMBER, st.booleans(), st.lists(TEXT, max_size=1))}),
    st.fixed_dictionaries({"id": st.one_of(st.just(""), st.just("  \u3000"), st.booleans(), st.floats()), "text": TEXT}),
    st.fixed_dictionaries({"id": ID.filter(_nonblank), "text": TEXT, "kind": TEXT.filter(lambda k: k not in ("comment", "reply", "dm"))}),
    st.lists(VALUE, max_size=3), NUMBER,
)
NOT_JSON = st.one_of(st.binary(min_size=1, max_size=40).filter(
                         lambda b: b.decode("utf-8", "replace").strip() and b"\n" not in b and b"\r" not in b and not b.startswith(b"\xef\xbb\xbf")),
                     st.just(b'{"id": "x", "text": "\xff\xfe"}'), st.just(b"{oops"))


def _jsonl(lines: list[Any]) -> bytes:
    """json.dumps writes lone surrogates as \\ud800 escapes and NaN/inf as NaN/Infinity: all of it reaches the reader."""
    out = []
    for line in lines:
        out.append(line if isinstance(line, bytes) else json.dumps(line).encode())
    return b"".join(part.replace(b"\r", b"") + b"\n" for part in out)


def _prefixed(lines: list[Any], n: int) -> list[Any]:
    """Each example's valid ids get the example's prefix, so examples sharing a database never collide."""
    return [{**line, "id": f"e{n}:{line['id']}"} if _valid(line) else line for line in lines]


def _valid(line: Any) -> bool:
    return isinstance(line, dict) and isinstance(line.get("text"), str) and isinstance(line.get("id"), str) \
        and line["id"].strip() != "" and line.get("kind", "comment") in ("comment", "reply", "dm")


LINES = st.lists(st.one_of(VALID_LINE, VALID_LINE, BAD_LINE, NOT_JSON), min_size=1, max_size=8)


# -- replay ----------------------------------------------------------------------------------------------------------
def test_replay_stores_every_valid_line_once_and_quarantines_every_bad_one(store: Store, make_runner, tmp_path: Path) -> None:
    @FEW
    @given(lines=LINES)
    def check(lines: list[Any]) -> None:
        n = next(_examples)
        lines = _prefixed(lines, n)
        path = tmp_path / f"replay{n}.jsonl"
        path.write_bytes(_jsonl(lines))
        runner = make_runner(store)

        async def bad_line(bad) -> None:
            await runner.quarantine([Quarantined(f"{path}:line {bad.line}", bad.message, bad.raw)])

        before = set(_stored(store))
        asyncio.run(runner.run([JsonlSource(path, on_bad_line=bad_line)], until_exhausted=True))
        expected = {_key(str(line.get("platform") or "jsonl"), line["id"]) for line in lines if _valid(line)}
        new = [key for key in _stored(store) if key not in before]
        assert sorted(new) == sorted(expected)  # each valid line once, under its mapped id
        assert _quarantined_lines(store, path) == {i for i, line in enumerate(lines, 1) if not _valid(line)}

    check()


# -- import ----------------------------------------------------------------------------------------------------------
EXPORT_ROW = st.one_of(
    st.fixed_dictionaries({"评论ID": ID.filter(_nonblank), "评论内容": TEXT.filter(_nonblank)},
                          optional={"用户昵称": st.one_of(TEXT, NUMBER), "用户ID": st.one_of(ID, NUMBER), "作品ID": ID,
                                    "作品标题": TEXT, "评论时间": st.sampled_from(["2024-05-01 12:30", "1714545700", ""])}),
    st.fixed_dictionaries({"评论ID": ID.filter(_nonblank), "评论内容": TEXT.filter(_nonblank),
                           "评论时间": st.one_of(NUMBER.map(str), TEXT.filter(lambda t: t.strip() and not t.strip().isdigit()))}),
    st.fixed_dictionaries({"评论ID": ID, "评论内容": st.one_of(st.just(""), st.just(" \u3000"), st.none())}),
    st.fixed_dictionaries({"评论内容": TEXT}), st.lists(TEXT, max_size=2), NUMBER,
)


def _export_valid(row: Any) -> bool:
    if not isinstance(row, dict) or not str(row.get("评论ID") or "").strip() or not str(row.get("评论内容") or "").strip():
        return False
    when = str(row.get("评论时间") or "").strip()
    if not when:
        return True
    try:
        from bot.adapters.importer import parse_time

        parse_time(when)
        return True
    except (ValueError, OverflowError, OSError):
        return False


def test_import_stores_every_valid_row_once_and_quarantines_every_bad_one(store: Store, make_runner, tmp_path: Path) -> None:
    @FEW
    @given(rows=st.lists(EXPORT_ROW, min_size=1, max_size=8), platform=st.sampled_from(["kuaishou", "douyin", "bilibili"]))
    def check(rows: list[Any], platform: str) -> None:
        n = next(_examples)
        rows = [{**row, "评论ID": f"e{n}:{row['评论ID']}"} if isinstance(row, dict) and isinstance(row.get("评论ID"), str) else row
                for row in rows]
        path = tmp_path / f"export{n}.jsonl"
        # An export is text: lines come from str.splitlines, so line breaks inside values are JSON escapes.
        path.write_bytes(b"".join(json.dumps(row).encode() + b"\n" for row in rows))
        runner = make_runner(store)

        async def bad_row(bad) -> None:
            await runner.quarantine([Quarantined(f"{path}:line {bad.line}", bad.message, bad.raw)])

        before = set(_stored(store))
        asyncio.run(runner.run([ExportSource(path, platform, on_bad_row=bad_row)], until_exhausted=True))
        expected = {_key(platform, str(row["评论ID"]).strip()) for row in rows if _export_valid(row)}
        assert sorted(k for k in _stored(store) if k not in before) == sorted(expected)
        assert _quarantined_lines(store, path) == {i for i, row in enumerate(rows, 1) if not _export_valid(row)}

    check()


# -- route -----------------------------------------------------------------------------------------------------------
def test_route_decides_every_valid_line_and_reports_every_bad_one(analyzer, settings_factory) -> None:
    from bot.cli import route_file
    from bot.route_decisions import RouteDecisions

    decisions = RouteDecisions(settings_factory(), analyzer)

    @FEW
    @given(lines=LINES)
    def check(lines: list[Any]) -> None:
        out, reported = io.StringIO(), []
        routed, skipped = route_file(analyzer, io.BytesIO(_jsonl(lines)), out, decisions=decisions,
                                     report=lambda bad: reported.append(bad.line))
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [r["id"] for r in records] == [storable_id(line["id"]) for line in lines if _valid(line)]
        assert all(r["action"] in ("reply_public", "reply_dm", "handoff", "ignore") and r["reason"] for r in records)
        assert reported == [i for i, line in enumerate(lines, 1) if not _valid(line)]
        assert (routed, skipped) == (len(records), len(reported))

    try:
        check()
    finally:
        decisions.close()


# -- the Douyin webhook ------------------------------------------------------------------------------------------------
SECRET = "dy-secret-for-the-input-space"
DELIVERY = st.fixed_dictionaries({
    "comment_id": st.one_of(ID, NUMBER, st.none()), "content": st.one_of(TEXT, NUMBER, st.none()),
    "create_time": st.one_of(NUMBER, TEXT, st.none()), "comment_user_id": st.one_of(ID, NUMBER, st.none()),
    "reply_to_item_id": st.one_of(ID, st.none()), "reply_to_comment_id": st.one_of(ID, st.none()),
})
DM = st.fixed_dictionaries({"server_message_id": st.one_of(ID, NUMBER), "text": st.one_of(TEXT, NUMBER),
                            "conversation_short_id": ID, "create_time": st.one_of(NUMBER, TEXT),
                            "user_infos": st.one_of(st.lists(st.fixed_dictionaries({"open_id": st.just("v"), "nick_name": st.one_of(TEXT, NUMBER)}), max_size=1), NUMBER, TEXT)})


def _douyin_id(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return None if text in ("", "0", "None", "null") else text


def test_every_signed_douyin_delivery_is_stored_or_quarantined_and_acknowledged(store: Store, make_runner) -> None:
    @FEW
    @given(comments=st.lists(DELIVERY, max_size=4), dms=st.lists(DM, max_size=2), broken=st.lists(VALUE, max_size=2))
    def check(comments: list[dict], dms: list[dict], broken: list[Any]) -> None:
        n = next(_examples)
        bodies: dict[str, tuple[dict, str | None]] = {}
        for i, content in enumerate(comments):
            if _douyin_id(content["comment_id"]) is not None:
                content = {**content, "comment_id": f"e{n}:{str(content['comment_id']).strip()}"}
            bodies[f"e{n}-c{i}"] = ({"event": "item_comment_reply", "from_user_id": "v", "content": content},
                                    _douyin_id(content["comment_id"]))
        for i, content in enumerate(dms):
            content = {**content, "server_message_id": f"e{n}:dm:{content['server_message_id']}"}
            bodies[f"e{n}-d{i}"] = ({"event": "im_receive_msg", "from_user_id": "v", "content": json.dumps(content)},
                                    _douyin_id(content["server_message_id"]))
        for i, content in enumerate(broken):  # content that is no object (or a string that is no JSON object)
            bodies[f"e{n}-b{i}"] = ({"event": "im_receive_msg", "from_user_id": "v", "content": content if not isinstance(content, dict) else 1}, None)
        statuses = asyncio.run(_deliver(make_runner(store), bodies))
        assert statuses == dict.fromkeys(bodies, 200)
        stored = set(_stored(store))
        for _, event_id in bodies.values():
            if event_id is not None:
                assert _key("douyin", event_id) in stored
        kept = {row.origin for row in store.quarantined(limit=10_000)}
        assert {f"douyin Msg-Id {m}" for m, (_, event_id) in bodies.items() if event_id is None} <= kept

    check()


async def _deliver(runner, bodies: dict[str, tuple[dict, str | None]]) -> dict[str, int]:
    accept = DurableAccept(runner)
    webhook = webhook_from_settings(DouyinSettings(client_secret=SECRET), accept, quarantine=accept.quarantine)
    statuses = {}
    async with serve_webhook(webhook, "127.0.0.1", 0) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        for msg_id, (payload, _) in bodies.items():
            body = json.dumps(payload).encode()  # surrogates as \ud800, NaN/inf as NaN/Infinity, as any sender may
            response = await http.post(webhook.path, content=body, headers={"Msg-Id": msg_id, "X-Douyin-Signature": sign(SECRET, body)})
            statuses[msg_id] = response.status_code
    return statuses


# -- the Telegram intake -----------------------------------------------------------------------------------------------
BOT_ID, GROUP = 4242, -1001500000002
TG_ID = st.integers(1, 2**52)


def _message(chat: dict, sender: dict, text: str, message_id: int, **more: Any) -> Message:
    return Message.model_validate({"message_id": message_id, "date": int(datetime.now(UTC).timestamp()), "chat": chat,
                                   "from": sender, "text": text, **more})


def test_every_telegram_message_is_stored_once_under_its_ids(store: Store, make_runner) -> None:
    intake = Intake(Audience(bot_id=BOT_ID, group_id=GROUP), lambda raw: store.pseudonym("telegram", raw))
    group = {"id": GROUP, "type": "supergroup", "title": "讨论组"}

    @FEW
    @given(messages=st.lists(st.tuples(TG_ID, TEXT.filter(lambda t: not t.startswith("/")), TEXT, st.one_of(st.none(), TEXT),
                                       st.integers(1, 2**31 - 1), st.booleans()), min_size=1, max_size=5, unique_by=lambda m: (m[0], m[4], m[5])))
    def check(messages: list[tuple[int, str, str, str | None, int, bool]]) -> None:
        runner = make_runner(store)
        events, expected = [], set()
        for user_id, text, first, last, message_id, in_group in messages:
            sender = {"id": user_id, "is_bot": False, "first_name": first, **({"last_name": last} if last is not None else {})}
            if in_group:
                root = {"message_id": 1, "date": 0, "chat": group, "sender_chat": {"id": -100777, "type": "channel", "title": first},
                        "is_automatic_forward": True, "text": "第3课 列表"}
                event = intake.from_group(_message(group, sender, text, message_id, reply_to_message=root, message_thread_id=1))
                key = _key("telegram", f"{GROUP}:{message_id}")
            else:
                event = intake.from_private(_message({"id": user_id, "type": "private", "first_name": first}, sender, text, message_id))
                key = _key("telegram", f"{store.pseudonym('telegram', str(user_id))}:{message_id}")
            if isinstance(event, Skipped):
                assert text == ""  # a message without text is no viewer event; any text is one
                continue
            events.append(event)
            expected.add(key)

        async def accept_all() -> list:
            return [await runner.accept(event) for event in events]

        accepted = asyncio.run(accept_all())
        assert all(a is not None for a in accepted)
        assert expected <= set(_stored(store))
        again = asyncio.run(accept_all())  # Telegram redelivers: the same rows, never new ones
        assert [a.event_pk for a in again] == [a.event_pk for a in accepted]

    check()


def test_the_boundary_is_a_fixed_point_for_any_id() -> None:
    @settings(max_examples=200, deadline=None)
    @given(value=ID, limit=st.sampled_from([32, 64, 128, 200]))
    def check(value: str, limit: int) -> None:
        mapped = storable_id(value, limit)
        assert len(mapped) <= limit and storable_id(mapped, limit) == mapped
        mapped.encode("utf-8")  # storable: no lone surrogate left
        assert "\x00" not in mapped
        if len(value) <= limit and mapped == value:
            return
        assert mapped.rsplit("~", 1)[1] and len(mapped.rsplit("~", 1)[1]) == 16  # mapped, never cut

    check()

