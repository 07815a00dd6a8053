"""The first DM a viewer gets after pressing Start: the creator's `welcome` template, plus the course of
the post they came from (the deep link's payload names it) when it is known."""

from __future__ import annotations

from typing import Any

from bot.catalog import Course
from bot.names import display_name

FALLBACK = "你好{viewer_name}👋 我是课程助手，想了解课程的价格、链接或内容，直接发消息问我就好。"


def welcome_text(templates: Any, viewer_name: str | None, course: Course | None, post_title: str | None, *, pick: int = 0) -> str:
    """`templates`: bot.compose.Templates (its `welcome` variants, the `pick`-th first); None: a built-in text."""
    values = {"viewer_name": display_name(viewer_name) or "同学"}
    variants = templates.variants("welcome") if templates is not None else []
    rotated = variants[pick % len(variants):] + variants[: pick % len(variants)] if variants else []
    text = next((t for v in rotated if (t := v.render(values))), None) or FALLBACK.format_map(values)
    if course is not None:
        price = "免费" if course.is_free else f"{course.price_text()}元"
        return f"{text}\n看到你在关注《{course.title}》（{price}），课程页在这里👉 {course.url}"
    if post_title:
        return f"{text}\n你是从「{post_title}」这条帖子来的，想了解相关的课直接问我～"
    return text
