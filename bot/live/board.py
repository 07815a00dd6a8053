"""The host's question board: the questions of the last N minutes grouped by meaning, newest activity first.

`board_questions` picks the questions out of a decided batch (danmaku that ask something, every super chat);
the store groups them as they come (bot/live/store.py: greedy, incremental: a question joins the group whose
answer the bot gave it, else the closest group by cosine at `[live] board_similarity`, else starts one).
`live_board` is the data API the terminal view and, later, the console page read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.decision import Outcome
from bot.live import QUESTION_KINDS, is_live, room_of
from bot.live.policy import COVERED
from bot.live.store import BoardQuestion
from bot.policy import asks_something
from bot.store.models import utcnow
from bot.store.rows import aware

Status = Literal["open", "bot", "marked"]


@dataclass(frozen=True, slots=True)
class BoardGroup:
    id: int
    questions: int  # in the board's window
    total: int  # since the group began
    examples: tuple[str, ...]  # newest first
    first_at: datetime
    last_at: datetime
    paid: int  # super chats among them
    bot_answer: str | None
    bot_answered_at: datetime | None
    marked_answered_at: datetime | None

    @property
    def status(self) -> Status:
        return "marked" if self.marked_answered_at else "bot" if self.bot_answer else "open"


@dataclass(frozen=True, slots=True)
class LiveBoard:
    room_id: str
    thread_id: str
    title: str
    now: datetime
    minutes: float
    groups: tuple[BoardGroup, ...]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for group, source in zip(data["groups"], self.groups):
            group["status"] = source.status
        return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def board_questions(outcomes: Sequence[Outcome]) -> list[BoardQuestion]:
    """The live questions of a decided batch: danmaku that ask something (not spam), and every super chat."""
    out = []
    for outcome in outcomes:
        event, analysis, decision = outcome.accepted.event, outcome.analysis, outcome.decision
        if not is_live(event.platform) or event.kind not in QUESTION_KINDS or event.thread is None:
            continue
        if analysis is None or analysis.vector is None:
            continue
        paid = event.kind == "super_chat"
        if not paid and (analysis.understanding.is_spam or not asks_something(analysis)):
            continue
        key = decision.variant_id if decision.template_id == "live" else None  # the live answer it has, if any
        bot_answer = None
        if decision.replies and decision.text:
            bot_answer = ("(dry run) " if decision.dry_run else "") + decision.text.replace("\n", " ")
        price = (float(event.raw.get("price") or 0)) if paid else None
        out.append(BoardQuestion(
            event_pk=outcome.accepted.event_pk, platform=event.platform, thread_id=event.thread.id, text=event.text,
            vector=analysis.vector, asked_at=event.created_at, price=price,
            answer_key=key if not paid else None, bot_answer=bot_answer, covered=COVERED in decision.reason))
    return out


def live_board(store: Any, room_id: str, *, minutes: float = 10.0, now: datetime | None = None,
               thread_id: str | None = None) -> LiveBoard | None:
    """The board of the room's latest live session (or `thread_id`): None when the room never went live here."""
    now = now or utcnow()
    threads = store.live_threads(room_id)
    thread = next((t for t in threads if thread_id in (None, t.thread_id)), None)
    if thread is None:
        return None
    rows = store.live_groups((thread.platform, thread.thread_id), now - timedelta(minutes=minutes))
    groups = tuple(BoardGroup(
        id=g.id, questions=recent, total=g.questions, examples=tuple(g.examples), first_at=aware(g.first_at),
        last_at=aware(g.last_at), paid=g.paid, bot_answer=g.bot_answer,
        bot_answered_at=aware(g.bot_answered_at) if g.bot_answered_at else None,
        marked_answered_at=aware(g.marked_answered_at) if g.marked_answered_at else None) for g, recent in rows if recent)
    return LiveBoard(room_of(thread.thread_id) or room_id, thread.thread_id, thread.title, now, minutes, groups)
