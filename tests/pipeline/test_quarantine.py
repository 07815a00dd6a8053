"""The quarantine: a line or delivery that cannot be read or stored is kept as it came, named, and the rest goes on."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlmodel import select

from bot.adapters.douyin import sign
from bot.adapters.douyin.source import serve_webhook, webhook_from_settings
from bot.adapters.jsonl import JsonlSource
from bot.adapters.serve import DurableAccept
from bot.config import DouyinSettings
from bot.events import Quarantined
from bot.store import Store
from bot.store.models import EventRecord

SECRET = "dy-secret-for-quarantine-tests"
REFUSE = {  # a database that refuses one row: stands in for any constraint or value we did not foresee
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.text LIKE '%poison%' "
               "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF strpos(NEW.text, 'poison') > 0 THEN "
                   "RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()"],
}


def _refuse_poison(store: Store) -> None:
    with store.engine.begin() as connection:
        for statement in REFUSE[store.dialect]:
            connection.exec_driver_sql(statement)


def _event_ids(store: Store) -> list[str]:
    with store.session(write=False) as session:
        return sorted(session.exec(select(EventRecord.event_id)))


BAD_FILE = b"".join([
    b'{"id": "ok1", "text": "\xe8\xbf\x99\xe9\x97\xa8\xe8\xaf\xbe\xe5\xa4\x9a\xe5\xb0\x91\xe9\x92\xb1"}\n',
    b'{"id": "bad-utf8", "text": "\xff\xfe"}\n',
    b'{"id": "no-text"}\n',
    b'{"id": "num", "text": NaN}\n',
    b'{"id": "ok2", "text": "poison \xe5\x8f\xaf\xe4\xbb\xa5\xe5\xbc\x80\xe5\x8f\x91\xe7\xa5\xa8\xe5\x90\x97"}\n',
    b'not json \x00\n',
    b'{"id": "ok3", "text": "\\ud800 \xe9\x93\xbe\xe6\x8e\xa5"}\n',
])


async def _replay(store: Store, make_runner, path: Path) -> list[str]:
    runner = make_runner(store)
    reported: list[str] = []

    async def bad_line(bad) -> None:
        reported.append(f"{bad.line}: {bad.message}")
        await runner.quarantine([Quarantined(f"{path}:line {bad.line}", bad.message, bad.raw)])

    await runner.run([JsonlSource(path, on_bad_line=bad_line)], until_exhausted=True)
    return reported


async def test_bad_lines_and_refused_events_are_quarantined_with_their_line_and_the_rest_is_stored(
        store: Store, make_runner, tmp_path: Path) -> None:
    _refuse_poison(store)
    path = tmp_path / "comments.jsonl"
    path.write_bytes(BAD_FILE)
    reported = await _replay(store, make_runner, path)
    assert reported == ["2: not UTF-8 (invalid byte at column 29)", "3: missing field 'text'",
                        "4: field 'text' must be a string, got float", "6: invalid JSON at column 1: Expecting value"]
    assert _event_ids(store) == ["ok1", "ok3"]
    kept = {row.origin: row for row in store.quarantined()}
    assert sorted(kept) == [f"{path}:line {n}" for n in (2, 3, 4, 5, 6)]
    assert kept[f"{path}:line 2"].raw == '{"id": "bad-utf8", "text": "\\xff\\xfe"}\n'  # the bytes as sent, readable
    assert kept[f"{path}:line 6"].raw == "not json \\x00\n"
    assert kept[f"{path}:line 5"].reason.startswith("not stored: ") and "refused by a test trigger" in kept[f"{path}:line 5"].reason
    assert json.loads(kept[f"{path}:line 5"].raw)["id"] == "ok2"
    # A restart over the same file stops nowhere and keeps nothing twice.
    await _replay(store, make_runner, path)
    assert _event_ids(store) == ["ok1", "ok3"] and store.quarantine_count() == 5


async def test_a_douyin_delivery_that_cannot_become_an_event_is_quarantined_and_acknowledged(
        store: Store, make_runner) -> None:
    _refuse_poison(store)
    runner = make_runner(store)
    accept = DurableAccept(runner)
    webhook = webhook_from_settings(DouyinSettings(client_secret=SECRET), accept, quarantine=accept.quarantine)

    def comment(comment_id: str, text: str, **more) -> bytes:
        content = {"comment_id": comment_id, "comment_user_id": "v1", "content": text, "create_time": 1700000000,
                   "reply_to_item_id": "item-1", **more}
        return json.dumps({"event": "item_comment_reply", "from_user_id": "v1", "content": content}).encode()

    bodies = {"m-ok": comment("c1", "多少钱"), "m-poison": comment("c2", "poison 多少钱"),
              "m-broken": json.dumps({"event": "im_receive_msg", "from_user_id": "v", "content": "{broken"}).encode(),
              "m-noid": comment("", "多少钱"), "m-surrogate": comment("c3", "\ud800 多少钱", nick_name="\x00")}
    async with serve_webhook(webhook, "127.0.0.1", 0) as base, httpx.AsyncClient(base_url=base) as http:
        statuses = {}
        for msg_id, body in bodies.items():
            response = await http.post(webhook.path, content=body, headers={"Msg-Id": msg_id, "X-Douyin-Signature": sign(SECRET, body)})
            statuses[msg_id] = response.status_code
    assert statuses == dict.fromkeys(bodies, 200)
    assert _event_ids(store) == ["c1", "c3"]
    kept = {row.origin: row for row in store.quarantined()}
    assert sorted(kept) == ["douyin Msg-Id m-broken", "douyin Msg-Id m-noid", "douyin Msg-Id m-poison"]
    assert kept["douyin Msg-Id m-broken"].raw == bodies["m-broken"].decode()
    assert kept["douyin Msg-Id m-noid"].reason == "item_comment_reply: content.comment_id is missing"


def test_coursebot_quarantine_lists_what_replay_kept(cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    path = tmp_path / "comments.jsonl"
    path.write_bytes(BAD_FILE)
    env = {"COURSEBOT_STORE__URL": f"sqlite:///{tmp_path / 'q.db'}"}
    replay = cli("replay", "--input", str(path), "--dry-run", env=env)
    assert replay.returncode == 0, replay.stderr
    assert f"{path}:line 3: missing field 'text'; quarantined" in replay.stderr
    assert "replayed 3 comments (4 malformed lines quarantined" in replay.stderr
    listed = cli("quarantine", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(r["origin"] for r in rows) == [f"{path}:line {n}" for n in (2, 3, 4, 6)]
    table = cli("quarantine", env=env)
    assert "line 6" in table.stdout and "invalid JSON" in table.stdout
    deleted = cli("quarantine", "--delete", str(rows[0]["id"]), "--delete", "999999", env=env)
    assert "deleted 1 of 2 quarantined item(s)" in deleted.stdout
    assert len(cli("quarantine", "--json", env=env).stdout.splitlines()) == 3


def test_the_quarantine_table_is_created_by_its_migration(store: Store) -> None:
    assert "quarantine" in sa.inspect(store.engine).get_table_names()
