"""Display names made fit for a public reply (bot/names.py). No model, no database."""

from __future__ import annotations

import pytest

from bot.names import MAX_NAME_CHARS, display_name

KEPT = [
    ("小明", "小明"),
    ("  小明  ", "小明"),
    ("Lucy Chen", "Lucy Chen"),
    ("Ｌｕｃｙ", "Lucy"),  # full width folds to ASCII
    ("学Python的小王2003", "学Python的小王2003"),  # a short number is part of a name
    ("vivian", "vivian"),  # starts with "v", is not "v: <id>"
    ("Mr.Wang", "Mr.Wang"),  # a dot between words is not a domain
    ("加油鸭🦆", "加油鸭🦆"),  # 加 without a contact word
    ("小\u202e明", "小明"),  # right-to-left override
    ("\u2066小明\u2069\u200f", "小明"),  # bidi isolates and marks
    ("小\u200b明\u200d\ufeff", "小明"),  # zero-width space, joiner, BOM
    ("小明\u0000\u0007", "小明"),  # control characters
    ("小明\U000e0041\U000e007f", "小明"),  # tag characters
    ("小明\ue000", "小明"),  # private use
    ("小\n明", "小 明"),
    ("<b>小明</b>", "小明"),
    ("<script>x</script>小明", "x 小明"),
    ("小明 @官方客服", "小明 官方客服"),  # no second mention smuggled into "@{viewer_name}"
    ("*小明*_", "小明"),
    ("#话题# 小明", "话题 小明"),
    ("Z\u0301\u0301\u0301\u0301\u0301oe", "\u0179\u0301\u0301oe"),  # stacked marks: NFKC makes the first one Ź
    ("名" * 40, "名" * MAX_NAME_CHARS),
]

DROPPED = [
    None,
    "",
    "   ",
    "加V领免费课 evil.example/x",
    "evil.example",
    "看主页 bit.ly/abc",
    "http://x.cn 小明",
    "https：//x.cn",
    "www。abc。com",
    "abc 点 com",
    "小明 vx:abc123",
    "小明VX abc_123",
    "wx abcdefg",
    "v:xm2024",
    "v13800",
    "QQ 12345678",
    "加微 小明",
    "加q领资料",
    "加群学习",
    "薇信同号",
    "扣扣群",
    "电话咨询",
    "138-0013-8000",
    "1 3 8 0 0 1 3 8 0 0 0",
    "一三八零零一三八零零零",
    "用户8392748392",  # a platform's default "name" is a number, not a name
    "\u202e\u200b",  # only controls
    "<br/>",
    "🌸🌸🌸",  # nothing to address the viewer by
    "...!!!",
]


@pytest.mark.parametrize(("raw", "expected"), KEPT)
def test_a_display_name_keeps_what_a_person_would_read_and_loses_controls_and_markup(raw: str, expected: str) -> None:
    assert display_name(raw) == expected


@pytest.mark.parametrize("raw", DROPPED)
def test_a_display_name_with_a_link_a_contact_or_nothing_readable_is_not_used_at_all(raw: str | None) -> None:
    assert display_name(raw) is None


def test_the_telegram_welcome_dm_greets_an_advertising_name_as_a_plain_classmate() -> None:
    from bot.adapters.telegram.welcome import welcome_text

    assert welcome_text(None, "加V领免费课 evil.example/x", None, None).startswith("你好同学")
    assert welcome_text(None, "小\u202e明", None, None).startswith("你好小明")
