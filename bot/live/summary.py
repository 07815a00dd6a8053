"""The post-live summary: what one live session asked, what the bot answered, what is left, who paid and gave.

Built from the store when the live ends (`live_end`) or on demand (`coursebot live summary ROOM`), stored in
`live_summaries` (replaced when built again) and shown in the day's summary (bot/summary).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from bot.live import room_of
from bot.store.models import (
    DecisionRecord,
    EventRecord,
    LiveQuestion,
    LiveQuestionGroup,
    LiveSummaryRecord,
    ThreadRecord,
    Viewer,
    utcnow,
)
from bot.store.rows import aware

TOP = 5


@dataclass(frozen=True, slots=True)
class LiveSummary:
    room_id: str
    thread_id: str
    title: str
    started_at: str  # ISO UTC
    ended_at: str
    danmaku: int
    questions: int  # danmaku that asked something (on the board)
    question_groups: int
    bot_danmaku: int  # danmaku the bot queued in the room (not dry run)
    questions_answered_by_bot: int  # questions the bot's danmaku answered (each asker counted)
    groups_answered_by_bot: int
    groups_marked_by_host: int
    unanswered_groups: list[dict[str, Any]]  # the biggest open groups: {questions, examples}
    open_groups: int
    peak_minutes: list[dict[str, Any]]  # {minute (ISO UTC), danmaku}
    super_chats: dict[str, Any]  # {count, total_cny, items: [{price, text}]}
    gifts: dict[str, Any]  # {count, coins, by_name}
    engagement: dict[str, int]  # by type (entry, follow, like …)
    viewers: int
    new_viewers: int  # first seen by coursebot during this live
    dry_run_answers: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _minute(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD\"T\"HH24:MI")
    return sa.func.strftime("%Y-%m-%dT%H:%M", column)


def build_live_summary(store: Any, platform: str, thread_id: str, ended_at: datetime | None = None) -> LiveSummary:
    """Sum up the live session `thread_id` from what the store holds."""
    ended_at = ended_at or utcnow()
    e = EventRecord
    in_thread = sa.and_(e.platform == platform, e.thread_id == thread_id)
    with store.session(write=False) as session:
        thread = session.exec(select(ThreadRecord).where(ThreadRecord.platform == platform, ThreadRecord.thread_id == thread_id)).first()
        kinds = dict(session.execute(sa.select(e.kind, sa.func.count()).where(in_thread).group_by(e.kind)).all())
        first = session.execute(sa.select(sa.func.min(e.created_at)).where(in_thread)).scalar()
        start = _start(thread_id) or (aware(first) if first else ended_at)
        peaks = session.execute(
            sa.select(_minute(e.created_at, store.dialect).label("m"), sa.func.count().label("n"))
            .where(in_thread, e.kind == "danmaku").group_by("m").order_by(sa.desc("n"), "m").limit(3)).all()
        paid = session.execute(sa.select(e.text, e.raw).where(in_thread, e.kind == "super_chat").order_by(e.created_at)).all()
        gifts = session.execute(sa.select(e.raw).where(in_thread, e.kind == "gift")).scalars().all()
        engagement = session.execute(sa.select(e.raw).where(in_thread, e.kind == "engagement")).scalars().all()
        viewers = session.execute(sa.select(sa.func.count(sa.distinct(e.viewer_id))).where(in_thread)).scalar() or 0
        new = session.execute(sa.select(sa.func.count(sa.distinct(e.viewer_id))).join(Viewer, Viewer.id == e.viewer_id)
                              .where(in_thread, Viewer.first_seen >= start)).scalar() or 0
        q = LiveQuestion
        questions = session.execute(sa.select(sa.func.count()).where(q.platform == platform, q.thread_id == thread_id,
                                                                     q.price.is_(None))).scalar() or 0  # type: ignore[union-attr]
        answered = session.execute(sa.select(sa.func.count()).where(q.platform == platform, q.thread_id == thread_id,
                                                                    q.answered_by_bot.is_(True))).scalar() or 0  # type: ignore[attr-defined]
        groups = list(session.exec(select(LiveQuestionGroup).where(LiveQuestionGroup.platform == platform,
                                                                   LiveQuestionGroup.thread_id == thread_id)))
        d = DecisionRecord
        replies = dict(session.execute(sa.select(d.dry_run, sa.func.count()).where(
            d.platform == platform, d.thread_id == thread_id, d.action == "reply_public").group_by(d.dry_run)).all())
    open_groups = sorted((g for g in groups if not g.bot_answer and not g.marked_answered_at and g.paid == 0),
                         key=lambda g: (-g.questions, g.id))
    prices = [float((raw or {}).get("price") or 0) for _, raw in paid]
    gift_names: Counter[str] = Counter()
    coins = 0
    for raw in gifts:
        raw = raw or {}
        gift_names[str(raw.get("gift_name") or "?")] += int(raw.get("num") or 1)
        coins += int(raw.get("total_coin") or 0)
    kinds_of_engagement = Counter(str((raw or {}).get("type") or "engagement") for raw in engagement)
    return LiveSummary(
        room_id=room_of(thread_id) or "", thread_id=thread_id, title=thread.title if thread else "",
        started_at=start.astimezone(UTC).isoformat(), ended_at=ended_at.astimezone(UTC).isoformat(),
        danmaku=kinds.get("danmaku", 0), questions=questions, question_groups=len(groups),
        bot_danmaku=replies.get(False, 0), dry_run_answers=replies.get(True, 0), questions_answered_by_bot=answered,
        groups_answered_by_bot=sum(1 for g in groups if g.bot_answer), groups_marked_by_host=sum(1 for g in groups if g.marked_answered_at),
        unanswered_groups=[{"questions": g.questions, "examples": list(g.examples)} for g in open_groups[:TOP]],
        open_groups=len(open_groups),
        peak_minutes=[{"minute": m, "danmaku": n} for m, n in peaks],
        super_chats={"count": len(paid), "total_cny": round(sum(prices), 2),
                     "items": [{"price": p, "text": text} for (text, _), p in zip(paid, prices)]},
        gifts={"count": kinds.get("gift", 0), "coins": coins, "by_name": dict(gift_names.most_common())},
        engagement=dict(kinds_of_engagement.most_common()), viewers=int(viewers), new_viewers=int(new),
    )


def _start(thread_id: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(thread_id.rsplit(":", 1)[1]), UTC)
    except (IndexError, ValueError, OverflowError, OSError):
        return None


def summarize_and_store(store: Any, platform: str, thread_id: str, ended_at: datetime | None = None) -> LiveSummary:
    summary = build_live_summary(store, platform, thread_id, ended_at)
    store.save_live_summary(platform, thread_id, datetime.fromisoformat(summary.ended_at), summary.as_dict())
    return summary


def live_summaries_between(engine: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The stored post-live summaries of lives that ended in [start, end), oldest first (for the day's summary)."""
    from sqlmodel import Session

    with Session(engine) as session:
        return [dict(row.data) for row in session.exec(select(LiveSummaryRecord).where(
            LiveSummaryRecord.ended_at >= start, LiveSummaryRecord.ended_at < end).order_by(LiveSummaryRecord.ended_at))]


def render_live_summary(s: dict[str, Any]) -> list[str]:
    """Lines (Chinese, like the daily summary) for one stored post-live summary."""
    sc, gifts = s["super_chats"], s["gifts"]
    lines = [
        f"直播「{s['title'] or s['room_id']}」（房间 {s['room_id']}，{s['started_at'][11:16]}–{s['ended_at'][11:16]} UTC）",
        f"  弹幕 {s['danmaku']} · 提问 {s['questions']}（{s['question_groups']} 类）· 观众 {s['viewers']}（新 {s['new_viewers']}）",
        f"  机器人发弹幕 {s['bot_danmaku']} 条，覆盖提问 {s['questions_answered_by_bot']} 条（{s['groups_answered_by_bot']} 类）"
        f" · 主播标记已答 {s['groups_marked_by_host']} 类 · 未回答 {s['open_groups']} 类"
        + (f" · 试运行（未发送）{s['dry_run_answers']}" if s.get("dry_run_answers") else ""),
    ]
    if s["peak_minutes"]:
        lines.append("  高峰：" + "、".join(f"{p['minute'][11:]} {p['danmaku']} 条/分" for p in s["peak_minutes"]))
    for group in s["unanswered_groups"]:
        lines.append(f"  未回答：{group['questions']} 人问“{group['examples'][0] if group['examples'] else ''}”")
    if sc["count"]:
        lines.append(f"  醒目留言 {sc['count']} 条 ¥{sc['total_cny']:g}：" + " / ".join(f"¥{i['price']:g}“{i['text']}”" for i in sc["items"][:TOP]))
    if gifts["count"] or s["engagement"]:
        lines.append(f"  礼物 {gifts['count']} 次（{gifts['coins']} 金瓜子）" + "".join(
            f" · {k} {n}" for k, n in s["engagement"].items()))
    return lines
