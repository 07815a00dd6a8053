"""The creator's Telegram commands, done on the real store (kill switch, handoffs, takeovers, corrections) and the
daily summary. Store calls run in a worker thread: the Store is synchronous (docs/pipeline.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, tzinfo

from bot.actions import CreatorActions
from bot.adapters.telegram.intake import PLATFORM
from bot.learning.history import shorten, taught
from bot.local_days import local_time
from bot.store.admin import HandoffView, NotFound
from bot.store.corrections import Correction
from bot.store.store import Store

SummaryMaker = Callable[[date | None], Awaitable[str]]
SUMMARY_UNAVAILABLE = "每日汇总暂不可用（summary not available yet）"
_HANDOFFS_SHOWN = 20


class StoreConsole:
    def __init__(self, store: Store, *, summary: SummaryMaker | None = None, zone: tzinfo = UTC) -> None:
        self.store = store
        self.actions = CreatorActions(store)  # the same actions (and audit) as the console and the CLI
        self._summary = summary
        self.zone = zone  # the creator's ([policy] timezone): times in /history

    async def summary(self, day: date | None) -> str:
        if self._summary is None:
            return SUMMARY_UNAVAILABLE
        return await self._summary(day)

    async def pause(self, by: str) -> str:
        await asyncio.to_thread(self.actions.pause, by)
        return "已暂停：机器人不再自动回复（/resume 恢复）"

    async def resume(self, by: str) -> str:
        await asyncio.to_thread(self.actions.resume, by)
        return "已恢复：机器人继续自动回复"

    async def handoffs(self) -> str:
        views = await asyncio.to_thread(self.store.list_handoffs, "open", _HANDOFFS_SHOWN + 1)
        if not views:
            return "没有待处理的转人工消息 👍"
        lines = [f"待处理的转人工消息（{len(views[:_HANDOFFS_SHOWN])}{'+' if len(views) > _HANDOFFS_SHOWN else ''}）："]
        lines += [_handoff_line(view) for view in views[:_HANDOFFS_SHOWN]]
        lines.append("回复：/reply <编号> <内容>；重发被扣下的回复：/resend <编号>；接管帖子：/takeover <帖子>")
        return "\n".join(lines)

    async def takeover(self, thread_id: str, by: str) -> str:
        await asyncio.to_thread(self.actions.take_over, PLATFORM, thread_id, by)
        return f"已接管帖子 {thread_id}：机器人在这里保持沉默，/release {thread_id} 交还"

    async def release(self, thread_id: str, by: str) -> str:
        released = await asyncio.to_thread(self.actions.release, PLATFORM, thread_id, by)
        return f"已交还帖子 {thread_id}，机器人恢复回复" if released else f"帖子 {thread_id} 没有被接管"

    async def takeover_viewer(self, viewer: int | str, by: str) -> str:
        try:
            taken = await asyncio.to_thread(self.actions.take_over_viewer, viewer, by)
        except (NotFound, ValueError) as exc:
            return str(exc)
        return f"已接管观众 {taken.pseudonym}：机器人在所有帖子和私信里都不再回复此人，/release {taken.pseudonym} 交还"

    async def release_viewer(self, viewer: int | str, by: str) -> str:
        try:
            released = await asyncio.to_thread(self.actions.release_viewer, viewer, by)
        except (NotFound, ValueError) as exc:
            return str(exc)
        return "已交还该观众，机器人恢复回复" if released else "该观众没有被接管"

    async def reply(self, handoff_id: int, text: str, by: str) -> str:
        try:
            view = (await asyncio.to_thread(self.actions.reply, handoff_id, text, by)).handoff
        except NotFound:
            return f"找不到转人工 #{handoff_id}（/handoffs 列出待处理的）"
        where = "私信" if view.platform == PLATFORM and view.thread_id is None else "评论区"
        return f"已回复转人工 #{handoff_id}（{where}），消息已进入发送队列"

    async def resend(self, handoff_id: int, by: str) -> str:
        try:
            _, count = await asyncio.to_thread(self.actions.resend, handoff_id, by)
        except NotFound as exc:
            return f"转人工 #{handoff_id} 无法重发：{exc}"
        return f"已重发转人工 #{handoff_id} 里被扣下的 {count} 条回复，消息已进入发送队列"

    async def relabel(self, event_pk: int, intent: str | None, by: str, sentiment: str | None = None) -> str:
        try:
            done = await asyncio.to_thread(self.actions.relabel_both, event_pk, intent, sentiment, by)
        except (NotFound, ValueError) as exc:
            return str(exc)
        said = " ".join([*([intent] if intent else []), *([f"情绪 {sentiment}"] if sentiment else [])])
        return f"已将评论 #{event_pk} 标为 {said}，机器人立即学会{_undo_hint(*done)}"

    async def wrong(self, event_pk: int, by: str) -> str:
        try:
            correction = await asyncio.to_thread(self.actions.mark_wrong, event_pk, by)
        except NotFound as exc:
            return str(exc)
        return f"已记下：评论 #{event_pk} 的回复（{correction.payload['answer_key']}）是错的，相近的评论不再这样回答{_undo_hint(correction)}"

    async def right(self, event_pk: int, by: str) -> str:
        try:
            correction = await asyncio.to_thread(self.actions.confirm_reply, event_pk, by)
        except NotFound as exc:
            return str(exc)
        return f"已记下：评论 #{event_pk} 的回复是对的（用于校准回答阈值）{_undo_hint(correction)}"

    async def recent(self) -> str:
        rows = await asyncio.to_thread(self.store.recent_comments, _HANDOFFS_SHOWN)
        if not rows:
            return "还没有评论"
        lines = ["最近的评论（编号用于 /relabel、/wrong、/right）："]
        lines += [f"#{r.event_pk} {r.text[:40]} → {r.intent or '?'} · {r.action}{f' · {r.answer_key}' if r.answer_key else ''}" for r in rows]
        return "\n".join(lines)

    async def savefaq(self, handoff_id: int, by: str) -> str:
        """Your answer to a handoff becomes a new FAQ entry (another phrasing of an entry: `coursebot labels save-faq`)."""
        try:
            correction = await asyncio.to_thread(self.actions.save_answer_as_faq, handoff_id, by)
        except NotFound as exc:
            return str(exc)
        return f"已存为新的常见问题 {correction.payload['faq_id']}：{correction.payload['question']}，相同的问题机器人会这样回答"

    async def history(self, kind: str | None) -> str:
        """What was taught, newest first, with the correction ids /undo takes (the CLI's `labels history`)."""
        try:
            rows = await asyncio.to_thread(self.store.correction_history, _HANDOFFS_SHOWN, kind)
        except ValueError as exc:
            return str(exc)
        if not rows:
            return "还没有教过机器人" + (f"（{kind}）" if kind else "")
        lines = ["教过机器人的（编号用于 /undo）："]
        for row in rows:
            c = row.correction
            comment = f" · 评论 #{c.event_pk}" if c.event_pk else ""
            undone = f" · 已撤销（#{row.undone_by}）" if row.undone_by else ""
            lines.append(f"#{c.id} {local_time(c.at, self.zone)} {c.kind}{comment} {shorten(c.text, 30)} → {taught(c)}{undone}")
        return "\n".join(lines)

    async def undo(self, correction_id: int, by: str) -> str:
        try:
            done = await asyncio.to_thread(self.actions.undo, correction_id, by)
        except (NotFound, ValueError) as exc:
            return str(exc)
        return f"已撤销纠正 #{correction_id}（{done.payload['kind']}），机器人立即忘掉它"


def _undo_hint(*corrections: Correction) -> str:
    """The ids to take it back with, shown where the lesson was given (no need to look them up in /history)."""
    return f"（撤销：{'、'.join(f'/undo {c.id}' for c in corrections)}）"


def _handoff_line(view: HandoffView) -> str:
    text = shorten(view.text, 60)
    where = view.thread_title or view.thread_id or "私信"
    return f"#{view.id} [{view.platform}] {where} · {view.viewer_name or view.viewer or '?'}：{text}（{view.reason[:40]}）"


def default_summary_day(tz_now: datetime) -> date:
    """Without a date, /summary is about yesterday in the creator's time zone (the last complete day)."""
    return (tz_now - timedelta(days=1)).date()
