"""Crash safety: SIGKILL the real `coursebot replay` mid-run, restart it, and count what reached the sink."""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from crash_harness import REPO_CONFIG, crash_env, kill_when

COPIES = 4  # 800 comments: long enough to be killed in the middle


def _input(tmp_path: Path) -> tuple[Path, set[tuple[str, str]]]:
    lines = (REPO_CONFIG / "samples" / "comments.jsonl").read_text(encoding="utf-8").splitlines()
    path, ids = tmp_path / "comments.jsonl", set()
    with path.open("w", encoding="utf-8") as out:
        for copy in range(COPIES):
            for line in lines:
                record = json.loads(line)
                record["id"] = f"{record['id']}-{copy}"
                ids.add((record.get("platform") or "jsonl", record["id"]))
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path, ids


def _lines(path: Path) -> list[dict]:
    """The records written; a line a kill cut short (possible when a write crosses a page) is not a record."""
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []:
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(line))
    return records


def _written_at_least(path: Path, lines: int) -> bool:
    """Complete lines so far, read while the replay writes: a read can see half of a write (a cut UTF-8 character)."""
    return (path.read_bytes().count(b"\n") if path.exists() else 0) >= lines


def test_killing_replay_mid_run_loses_no_event_and_sends_no_reply_twice(tmp_path: Path, coursebot_script: Path, shared_state_dir: Path) -> None:
    comments, ids = _input(tmp_path)
    sent, database = tmp_path / "sent.jsonl", tmp_path / "bot.db"
    env = crash_env(shared_state_dir)  # the session's index: no rebuild
    command = [str(coursebot_script), "replay", "--input", str(comments), "--output", str(sent), "--db", f"sqlite:///{database}",
               "--batch-size", "16"]
    kills = 0
    for threshold in (30, 200):  # kill twice, at different points of the run
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        kills += kill_when(process, functools.partial(_written_at_least, sent, threshold))
        process.wait(timeout=30)
        process.stderr.close()  # type: ignore[union-attr]
    assert kills >= 1, "the replay finished before it could be killed: make the input longer"
    killed_at = len(_lines(sent))
    final = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert final.returncode == 0, final.stderr

    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        decided = set(connection.execute(sa.text(
            "SELECT e.platform, e.event_id FROM events e JOIN decisions d ON d.event_pk = e.id")).all())
        states = Counter(dict(connection.execute(sa.text("SELECT state, count(*) FROM outbox GROUP BY state")).all()))
        sent_ids = {row[0] for row in connection.execute(sa.text("SELECT id FROM outbox WHERE state = 'sent'"))}
    engine.dispose()
    assert {(p, i) for p, i in decided} == ids  # no accepted event lost, none invented
    records = _lines(sent)
    assert len(records) > killed_at  # the restart really continued the work
    assert not [k for k, n in Counter(r["outbox_id"] for r in records).items() if n > 1]  # no message twice
    assert not [k for k, n in Counter((r["platform"], r["event_id"], r["kind"]) for r in records).items() if n > 1]  # no comment answered twice
    assert set(states) == {"sent"}, states  # every reply went out in the end
    assert {r["outbox_id"] for r in records} == sent_ids
