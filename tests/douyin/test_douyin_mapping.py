"""Douyin payloads → Events, including the IM events whose content is a JSON string."""

from __future__ import annotations

import json

import pytest

from bot.adapters.douyin import to_event
from bot.adapters.douyin.mapping import MalformedEvent

DM = {
    "event": "im_receive_msg", "client_key": "awtestclientkey", "from_user_id": "viewer-open-id", "to_user_id": "creator",
    "content": json.dumps({
        "server_message_id": "7311111111111111111", "conversation_short_id": "7322222222222222222",
        "conversation_type": 1, "scene_type": 1, "message_type": "text", "text": "老师，Python 课还招生吗？",
        "source": "", "item_id": "@video-1", "create_time": 1700000000123,
        "user_infos": [{"open_id": "viewer-open-id", "nick_name": "小明", "avatar": "https://p3.example/a.jpg"}],
    }, ensure_ascii=False),
}
ENTER = {
    "event": "im_enter_direct_msg", "from_user_id": "viewer-open-id", "to_user_id": "creator",
    "content": json.dumps({
        "server_message_id": "7333333333333333333", "conversation_short_id": "7322222222222222222",
        "conversation_type": 1, "objectId": "@video-42", "scene_type": 5, "create_time": 1700000100,
        "path": "pages/index", "query": "from=video", "data-im-extra": "", "ad_info": json.dumps({"ad_id": "0"}),
        "user_infos": [{"open_id": "viewer-open-id", "nick_name": "小明"}],
    }),
}


def test_a_received_dm_is_a_dm_event_with_its_conversation_for_the_reply() -> None:
    event = to_event(DM)
    assert (event.kind, event.event_id, event.text, event.author_id, event.author_name) == (
        "dm", "7311111111111111111", "老师，Python 课还招生吗？", "viewer-open-id", "小明")
    assert event.thread.id == "dm:7322222222222222222" and event.created_at.timestamp() == pytest.approx(1700000000.123)
    assert event.raw["reply"] == {"conversation_id": "7322222222222222222", "msg_id": "7311111111111111111",
                                  "scene": "im_replay_msg"}
    assert event.raw["item_id"] == "@video-1"


def test_opening_a_dm_from_a_video_is_attributed_to_that_video() -> None:
    event = to_event(ENTER)
    assert (event.kind, event.text, event.author_id) == ("click", "", "viewer-open-id")
    assert event.thread.id == "@video-42" and event.raw["attribution"]["video"] == "@video-42"


def test_a_reply_to_a_comment_has_its_parent() -> None:
    payload = {"event": "item_comment_reply", "from_user_id": "v2", "content": {
        "comment_id": "c2", "comment_user_id": "v2", "content": "同问", "create_time": 1700000000,
        "reply_to_comment_id": "c1", "reply_to_item_id": "@video-1"}}
    event = to_event(payload)
    assert (event.kind, event.parent_id, event.raw["reply"]) == ("reply", "c1", {"item_id": "@video-1", "comment_id": "c2"})


def test_events_the_bot_does_not_use_map_to_nothing() -> None:
    assert to_event({"event": "new_follow_action", "content": {}}) is None
    assert to_event({"content": {}}) is None


@pytest.mark.parametrize("payload", [
    {"event": "im_receive_msg", "content": "{not json"},
    {"event": "im_receive_msg", "content": json.dumps({"text": "no id"})},
    {"event": "item_comment_reply", "content": ["a", "list"]},
])
def test_broken_content_is_a_malformed_event_naming_the_problem(payload: dict) -> None:
    with pytest.raises(MalformedEvent, match=str(payload["event"])):
        to_event(payload)
