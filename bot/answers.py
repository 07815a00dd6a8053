"""The factual content of an answer, from the catalog: what a reply template wraps as `{answer}`."""

from __future__ import annotations

from bot.analysis import Match
from bot.catalog import Catalog

_LEVELS = {"beginner": "零基础可学", "intermediate": "需要一定基础", "advanced": "进阶内容"}


def answer_text(match: Match, catalog: Catalog) -> str | None:
    """Plain answer text for a confident match, or None when the bot should stay silent."""
    if match.answer_kind == "faq" and match.answer_id:
        return catalog.faq[match.answer_id].answer
    course = catalog.courses.get(match.course_id or "")
    if course is None:
        return None
    if match.answer_kind == "course_price":
        price = "免费" if course.is_free else f"{course.price_text()}元"
        return f"《{course.title}》{price}，详情：{course.url}"
    if match.answer_kind == "course_link":
        return f"《{course.title}》在这里：{course.url}"
    if match.answer_kind == "course_content":
        return f"《{course.title}》{_LEVELS[course.level]}。{course.description}"
    if match.answer_kind == "recommendation":
        return f"推荐《{course.title}》（{_LEVELS[course.level]}）：{course.url}"
    return None
