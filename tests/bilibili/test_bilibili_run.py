"""`coursebot run --platform bilibili` end to end: fake Bilibili → source → store → pipeline → outbox → sink."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from fake_bilibili import BILI_JCT, CREATOR, SESSDATA, FakeBilibili

from bot.adapters.serve import check_settings, serve
from bot.store import Store
from retrieval.errors import InputError

AID = 2  # BV1xx411c7mD, mapped to course py-101 in config/samples/threads.yaml


def _settings(settings_factory, fake: FakeBilibili, **extra: object):
    section = {"enabled": True, "api_base": fake.base_url, "vc_base": fake.base_url, "sessdata": SESSDATA,
               "bili_jct": BILI_JCT, "uid": CREATOR, "videos": ["BV1xx411c7mD"], "backfill": True, "dm_enabled": True,
               "poll_interval": 0.2, "request_delay_min": 0, "request_delay_max": 0, "send_delay_min": 0,
               "send_delay_max": 0, **extra}
    return settings_factory(bilibili=section, outbox={"poll_interval": 0.1})


async def _until(predicate, timeout: float = 120.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)


@pytest.mark.model
async def test_a_price_question_under_a_video_is_answered_once_publicly_and_by_dm(fake: FakeBilibili, analyzer,
                                                                                 settings_factory) -> None:
    fake.add_video(AID, "Python零基础第1课：安装和环境配置")
    question = fake.comment(AID, "这个课多少钱？", mid="9001", uname="小王")
    settings = _settings(settings_factory, fake)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, ["bilibili"], stop=stop, analyzer=analyzer))
    try:
        await _until(lambda: any(p.get("parent") == str(question) for p in fake.posted) and fake.dms)
    finally:
        stop.set()
        await task
    [reply] = [p for p in fake.posted if p.get("parent") == str(question)]
    assert (reply["oid"], reply["root"], reply["type"], reply["plat"]) == (str(AID), str(question), "1", "1")
    assert fake.dms[0]["msg[receiver_id]"] == "9001"
    store = Store.open(settings)
    try:
        with store.engine.connect() as db:
            sent = db.execute(sa.text("select count(*) from outbox where platform = 'bilibili' and state = 'sent'")).scalar()
        assert sent == 2 and store.get_cursor("bilibili", f"video:{AID}") is not None
    finally:
        store.close()
    # a restart reads on from the stored cursor: the bot's own reply is not an event and nothing is answered twice
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, ["bilibili"], stop=stop, analyzer=analyzer))
    store = Store.open(settings)
    polls = fake.calls.count("/x/v2/reply")
    try:
        later = fake.comment(AID, "讲得真好", mid="9003")
        # Stop once the new comment is stored and two rounds have polled since the restart, not merely after the
        # polls: a batch read but not yet stored when `stop` is set is read again at the next start, not lost.
        await _until(lambda: len(_stored_ids(store)) >= 2 and fake.calls.count("/x/v2/reply") >= polls + 2)
    finally:
        stop.set()
        await task
        store.close()
    assert [p["parent"] for p in fake.posted if p.get("parent") == str(question)] == [str(question)]
    store = Store.open(settings)
    try:
        assert _stored_ids(store) == [str(question), str(later)]
    finally:
        store.close()


def _stored_ids(store: Store) -> list[str]:
    with store.engine.connect() as db:
        return list(db.execute(sa.text("select event_id from events where platform = 'bilibili' order by id")).scalars())


def test_running_bilibili_without_cookies_is_a_one_line_error(settings_factory) -> None:
    settings = settings_factory(bilibili={"enabled": True, "videos": ["BV1xx411c7mD"]})
    with pytest.raises(InputError, match="bilibili.sessdata is not set: put sessdata = .* in the bilibili section of secrets.toml"):
        check_settings(settings, ["bilibili"])
