"""The database schema: one SQLModel table per thing the bot remembers.

Conventions every reader (pipeline, adapters, metrics) can rely on:
- every timestamp column is a timezone-aware UTC `datetime` in Python (`UTCDateTime`), stored as
  `timestamptz` on PostgreSQL and as a UTC ISO string on SQLite (so SQL comparisons work on both);
- viewers are referred to by `viewer_id` (our row id) and `pseudonym` (keyed HMAC of the platform id);
  the raw platform author id lives only in `viewers.author_id` and `outbox.recipient_id`, where a reply
  or DM needs it;
- `platform` + the platform's own id is unique wherever the platform gives an id (events, threads,
  conversions), which is what makes redelivered webhooks and replays idempotent.
Changing a table means a new alembic revision in `bot/store/migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python on every backend; naive values are refused (they are always a bug)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: coursebot stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store UTC without offset so strings sort and compare as times.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _time(*, index: bool = False, optional: bool = False) -> Any:
    if optional:
        return Field(default=None, sa_type=UTCDateTime, index=index, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, index=index, nullable=False)


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: type(default)(default), sa_type=sa.JSON, nullable=False)


# --- who and where -------------------------------------------------------------------------------------
class Viewer(SQLModel, table=True):
    __tablename__ = "viewers"
    __table_args__ = (sa.UniqueConstraint("platform", "pseudonym", name="uq_viewers_platform_pseudonym"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    pseudonym: str = Field(max_length=64, index=True)  # HMAC(secret key, platform:author_id): safe for logs/metrics
    author_id: str | None = Field(default=None, max_length=128)  # raw platform id: only to reply / DM
    display_name: str | None = Field(default=None, max_length=200)
    first_seen: datetime = _time()
    last_seen: datetime = _time()
    interests: list[str] = _json([])  # recent topic keywords, newest first
    dm_reachable: bool | None = None  # None unknown; True the viewer opened a DM; False the platform refused
    attribution: dict[str, Any] = _json({})  # e.g. deep-link payload / video that brought the viewer to a DM
    # A human answers this viewer on every thread of the platform (comments, replies, DMs): the bot stays silent
    # and hands their comments to the inbox until released. Set iff taken over; gone with the row on `forget`.
    taken_over_at: datetime | None = _time(optional=True)
    taken_over_by: str | None = Field(default=None, max_length=200)


class ThreadRecord(SQLModel, table=True):
    __tablename__ = "threads"
    __table_args__ = (sa.UniqueConstraint("platform", "thread_id", name="uq_threads_platform_thread"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    thread_id: str = Field(max_length=200)  # the platform's video / post / chat id
    title: str = ""
    description: str = ""
    course_id: str | None = Field(default=None, max_length=64)
    taken_over: bool = False  # a human answers here; the bot stays silent until released
    human_owner: str | None = Field(default=None, max_length=200)
    taken_over_at: datetime | None = _time(optional=True)
    first_seen: datetime = _time()


# --- what happened and what the bot made of it -------------------------------------------------------------
class EventRecord(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("platform", "event_id", name="uq_events_platform_event"),
        sa.Index("ix_events_platform_created", "platform", "created_at"),
        sa.Index("ix_events_platform_thread", "platform", "thread_id"),
        sa.Index("ix_events_status", "status", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    event_id: str = Field(max_length=200)  # the platform's own id: the idempotency key
    kind: str = Field(max_length=16)  # comment | reply | dm | click | conversion
    thread_id: str | None = Field(default=None, max_length=200)
    parent_id: str | None = Field(default=None, max_length=200)
    viewer_id: int | None = Field(default=None, foreign_key="viewers.id", index=True)
    text: str = ""
    created_at: datetime = _time(index=True)  # when the viewer wrote it (platform time)
    received_at: datetime = _time()  # when coursebot accepted it
    status: str = Field(default="received", max_length=16)  # received → decided (crash recovery reads 'received')
    raw: dict[str, Any] = _json({})  # platform payload for audit, author ids replaced by the pseudonym


class UnderstandingRecord(SQLModel, table=True):
    __tablename__ = "understandings"

    id: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(foreign_key="events.id", unique=True)
    intent: str = Field(max_length=32, index=True)
    intent_confidence: float = 0.0
    intent_source: str = Field(default="", max_length=32)
    sentiment: str = Field(default="neutral", max_length=16)
    sentiment_confidence: float = 0.0
    topics: list[str] = _json([])
    is_spam: bool = False
    course_id: str | None = Field(default=None, max_length=64)  # the course the comment is about
    course_source: str | None = Field(default=None, max_length=16)
    answer_kind: str | None = Field(default=None, max_length=32)
    answer_id: str | None = Field(default=None, max_length=64)
    match_confidence: float = 0.0
    match_reason: str = ""
    hits: list[dict[str, Any]] = _json([])
    recommendations: list[dict[str, Any]] = _json([])  # [{course_id, score, reasons}] for a recommendation request


class DecisionRecord(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (
        sa.Index("ix_decisions_thread_time", "platform", "thread_id", "decided_at"),
        sa.Index("ix_decisions_viewer_time", "viewer_id", "decided_at"),
        # Rate limits count replies per thread, viewer and platform for every batch: partial indexes over counted
        # replies only, so a count reads its own index entries (the day's platform count used to walk every
        # decision of the day). The predicate is written the way each database states `counts_as_reply = true`.
        *(sa.Index(f"ix_decisions_replies_{name}", *columns, postgresql_where=sa.text("counts_as_reply"),
                   sqlite_where=sa.text("counts_as_reply = 1"))
          for name, columns in (("thread", ("platform", "thread_id", "decided_at")), ("viewer", ("viewer_id", "decided_at")),
                                ("platform", ("platform", "decided_at")))),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(foreign_key="events.id", unique=True)  # one decision per event: never twice
    platform: str = Field(max_length=32)
    thread_id: str | None = Field(default=None, max_length=200)
    viewer_id: int | None = Field(default=None, foreign_key="viewers.id")
    action: str = Field(max_length=16, index=True)  # reply_public | reply_dm | handoff | ignore
    reason: str = ""
    text: str | None = None  # the composed reply (public reply, or the DM when action is reply_dm)
    dm_text: str | None = None  # the DM sent alongside a public reply (public_and_dm channel)
    template_id: str | None = Field(default=None, max_length=64)  # template key, e.g. ask_price / faq
    variant_id: str | None = Field(default=None, max_length=64)  # e.g. price-b
    course_id: str | None = Field(default=None, max_length=64)
    answer_id: str | None = Field(default=None, max_length=64)
    intent: str | None = Field(default=None, max_length=32)
    confidence: float = 0.0
    dry_run: bool = False  # recorded, never sent
    counts_as_reply: bool = False  # used by rate limits: a reply that was (or will be) sent
    send_after: datetime | None = _time(optional=True)  # quiet hours: the outbox waits until then
    decided_at: datetime = _time(index=True)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=300, unique=True)  # e.g. decision:<id>:public
    decision_id: int | None = Field(default=None, foreign_key="decisions.id", index=True)
    handoff_id: int | None = Field(default=None, foreign_key="handoffs.id")  # a human's reply via the bot
    platform: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=16)  # reply_public | reply_dm
    text: str
    thread_id: str | None = Field(default=None, max_length=200)
    reply_to: str | None = Field(default=None, max_length=200)  # platform id of the comment answered
    recipient_id: str | None = Field(default=None, max_length=128)  # raw platform user id (DMs)
    viewer_id: int | None = Field(default=None, foreign_key="viewers.id")
    extra: dict[str, Any] = _json({})
    state: str = Field(default="pending", max_length=16)  # pending → sending → sent | failed → … | dead | held
    attempts: int = 0
    next_attempt_at: datetime = _time()
    lease_until: datetime | None = _time(optional=True)  # a 'sending' row past its lease was interrupted
    # When this attempt's request began (NULL: claimed, not yet tried). Written just before the request to sinks
    # that cannot confirm a send, so a crash leaves only that one message in doubt, not its whole claim.
    attempt_started_at: datetime | None = _time(optional=True)
    last_error: str | None = None
    platform_message_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = _time()
    sent_at: datetime | None = _time(optional=True, index=True)


class Handoff(SQLModel, table=True):
    __tablename__ = "handoffs"
    __table_args__ = (sa.Index("ix_handoffs_state_time", "state", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(foreign_key="events.id", unique=True)
    decision_id: int | None = Field(default=None, foreign_key="decisions.id")
    platform: str = Field(max_length=32)
    thread_id: str | None = Field(default=None, max_length=200)
    viewer_id: int | None = Field(default=None, foreign_key="viewers.id")
    reason: str = ""
    state: str = Field(default="open", max_length=16)  # open | resolved
    created_at: datetime = _time()
    resolved_at: datetime | None = _time(optional=True)
    resolved_by: str | None = Field(default=None, max_length=200)
    reply_text: str | None = None  # what the human answered (sent through the outbox when given)


# --- links, clicks, conversions, experiments --------------------------------------------------------------
class TrackedLink(SQLModel, table=True):
    __tablename__ = "links"

    id: str = Field(primary_key=True, max_length=32)  # short token in the reply's URL
    url: str  # where the link leads (the course page)
    course_id: str | None = Field(default=None, max_length=64, index=True)
    decision_id: int | None = Field(default=None, foreign_key="decisions.id", index=True)
    platform: str = Field(max_length=32)
    viewer_id: int | None = Field(default=None, foreign_key="viewers.id")
    template_id: str | None = Field(default=None, max_length=64)
    variant_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = _time()


class LinkClick(SQLModel, table=True):
    __tablename__ = "link_clicks"

    id: int | None = Field(default=None, primary_key=True)
    link_id: str = Field(foreign_key="links.id", index=True, max_length=32)
    clicked_at: datetime = _time(index=True)
    viewer_id: int | None = Field(default=None, foreign_key="viewers.id")
    user_agent: str | None = Field(default=None, max_length=400)
    referrer: str | None = Field(default=None, max_length=400)
    # Who clicked, for unique clicks: the link's viewer (pseudonym), else `c_` + a keyed hash of the client's
    # address and user agent; None on clicks recorded before it was kept (each then counts on its own).
    visitor: str | None = Field(default=None, max_length=64)
    automated: bool = False  # a link-preview fetcher or crawler by its user agent: a raw click, never a unique one


class Conversion(SQLModel, table=True):
    __tablename__ = "conversions"
    __table_args__ = (sa.UniqueConstraint("platform", "external_id", name="uq_conversions_platform_external"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    external_id: str = Field(max_length=200)  # order id from the shop: dedupes repeated notifications
    viewer_id: int | None = Field(default=None, foreign_key="viewers.id")
    link_id: str | None = Field(default=None, foreign_key="links.id", max_length=32)
    course_id: str | None = Field(default=None, max_length=64, index=True)
    amount: float = 0.0
    currency: str = Field(default="CNY", max_length=8)
    occurred_at: datetime = _time(index=True)


class AbAssignment(SQLModel, table=True):
    __tablename__ = "ab_assignments"
    __table_args__ = (sa.UniqueConstraint("viewer_id", "experiment", name="uq_ab_viewer_experiment"),)

    id: int | None = Field(default=None, primary_key=True)
    viewer_id: int = Field(foreign_key="viewers.id")
    experiment: str = Field(max_length=64)  # the template key, e.g. ask_price
    variant: str = Field(max_length=64)  # the template variant id, e.g. price-b
    assigned_at: datetime = _time()


# --- runtime state shared by adapters and workers --------------------------------------------------------
class RuntimeSwitch(SQLModel, table=True):
    """Small key/value switches changed at run time (e.g. `paused`), readable by every worker."""

    __tablename__ = "runtime_switches"

    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(default=None, sa_type=sa.JSON)
    updated_at: datetime = _time()
    updated_by: str | None = Field(default=None, max_length=200)


class PlatformCursor(SQLModel, table=True):
    """Where a polling source stopped (e.g. Telegram update offset, Bilibili last rpid per video)."""

    __tablename__ = "platform_cursors"

    platform: str = Field(primary_key=True, max_length=32)
    name: str = Field(primary_key=True, max_length=200)
    value: str = ""
    updated_at: datetime = _time()


class ScheduledJob(SQLModel, table=True):
    """A recurring job (e.g. the daily summary): claimed atomically so only one worker runs it."""

    __tablename__ = "scheduled_jobs"

    name: str = Field(primary_key=True, max_length=100)
    next_run_at: datetime = _time()
    last_run_at: datetime | None = _time(optional=True)
    last_status: str | None = None
    running_until: datetime | None = _time(optional=True)  # claim lease
    payload: dict[str, Any] = _json({})


class ProactiveDm(SQLModel, table=True):
    """One proactive DM (not an answer to the viewer's own message) sent, or being sent, to a viewer: what platform
    limits such as Douyin's "1 a day, 3 until they write back" are counted from, by every worker, across restarts."""

    __tablename__ = "proactive_dms"
    __table_args__ = (sa.Index("ix_proactive_dms_viewer_time", "platform", "pseudonym", "sent_at"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    pseudonym: str = Field(max_length=64)  # the viewer (Viewer.pseudonym), never the raw id
    sent_at: datetime = _time()


class QuarantineRecord(SQLModel, table=True):
    """A line or delivery that could not be read or stored, kept as it came (`coursebot quarantine`)."""

    __tablename__ = "quarantine"
    __table_args__ = (sa.UniqueConstraint("origin", "digest", name="uq_quarantine_origin_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(max_length=400)  # file:line, or the delivery (douyin Msg-Id …)
    reason: str = ""  # one line naming the field
    raw: str = ""  # as received; bytes that are not UTF-8 and unstorable characters as \xNN escapes
    digest: str = Field(max_length=64)  # SHA-256 of the raw input: the same line met again is kept once
    created_at: datetime = _time(index=True)


# --- what the creator taught -----------------------------------------------------------------------------
class CreatorCorrection(SQLModel, table=True):
    """One thing the creator taught: answered a comment, relabelled it, marked a sent reply wrong, or added an FAQ
    phrasing or entry. Append-only; the highest id is the knowledge version every worker compares (bot/learning)."""

    __tablename__ = "creator_corrections"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)  # bot/store/corrections.py KINDS (answer, relabel, …, faq_edit, course_edit)
    event_pk: int | None = Field(default=None, foreign_key="events.id", index=True)  # the stored comment, if any
    text: str = ""  # the comment as the creator saw it (blanked when its viewer is forgotten)
    by: str = Field(max_length=200)
    at: datetime = _time()
    payload: dict[str, Any] = _json({})  # per kind: {answer}, {intent}, {answer_key}, {faq_id, phrasing}, {faq_id, question, answer}



# --- live rooms (bot/live) -----------------------------------------------------------------------------------
class LiveQuestionGroup(SQLModel, table=True):
    """One group of live questions that mean the same (the host's board): grown incrementally as danmaku arrive."""

    __tablename__ = "live_question_groups"
    __table_args__ = (sa.Index("ix_live_groups_thread_last", "platform", "thread_id", "last_at"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    thread_id: str = Field(max_length=200)  # the live session: live:<room>:<start>
    centroid: list[float] = _json([])  # unit-length mean of its questions' embeddings
    examples: list[str] = _json([])  # a few distinct texts, newest first
    questions: int = 0
    paid: int = 0  # super chats among them
    answer_key: str | None = Field(default=None, max_length=200)  # the bot's answer that covers them, when it has one
    bot_answer: str | None = None  # what the bot said in the room for them (last)
    bot_answered_at: datetime | None = _time(optional=True)
    marked_answered_at: datetime | None = _time(optional=True)  # the host (or an assistant) marked it answered
    marked_by: str | None = Field(default=None, max_length=200)
    first_at: datetime = _time()
    last_at: datetime = _time()


class LiveQuestion(SQLModel, table=True):
    """A danmaku or super chat on the board: which group it joined."""

    __tablename__ = "live_questions"
    __table_args__ = (sa.Index("ix_live_questions_thread_time", "platform", "thread_id", "asked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(foreign_key="events.id", unique=True)
    group_id: int = Field(foreign_key="live_question_groups.id", index=True)
    platform: str = Field(max_length=32)
    thread_id: str = Field(max_length=200)
    text: str = ""
    price: float | None = None  # super chats: what the viewer paid (CNY)
    answered_by_bot: bool = False  # the bot's danmaku for this question was queued (or it was covered by one)
    asked_at: datetime = _time()


class LiveSummaryRecord(SQLModel, table=True):
    """The post-live summary of one live session (bot/live/summary.py), stored for the day's summary."""

    __tablename__ = "live_summaries"
    __table_args__ = (sa.UniqueConstraint("platform", "thread_id", name="uq_live_summaries_thread"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    thread_id: str = Field(max_length=200)
    ended_at: datetime = _time(index=True)
    created_at: datetime = _time()
    data: dict[str, Any] = _json({})


# --- the creator's console (bot/console, bot/actions.py) ---------------------------------------------------
class AuditEntry(SQLModel, table=True):
    """One creator action (reply, resolve, takeover, switch, correction), from any door: console, CLI, Telegram."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    by: str = Field(max_length=200)  # console:<user>, cli, telegram:<id>
    action: str = Field(max_length=64, index=True)  # e.g. handoff.reply, switch.pause
    target: str = Field(default="", max_length=300)  # e.g. handoff:12, thread:bilibili:BV1…
    detail: dict[str, Any] = _json({})


class ConsoleUser(SQLModel, table=True):
    """A console account: argon2 hash only; consecutive failed logins lock it for a while."""

    __tablename__ = "console_users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)  # owner | assistant
    password_hash: str = Field(max_length=400)
    failed_logins: int = 0
    locked_until: datetime | None = _time(optional=True)
    created_at: datetime = _time()


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the row its SHA-256 (a leaked table signs no one in)."""

    __tablename__ = "console_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="console_users.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _time()
    expires_at: datetime = _time(index=True)


TABLES = [
    Viewer, ThreadRecord, EventRecord, UnderstandingRecord, DecisionRecord, Handoff, OutboxMessage,
    TrackedLink, LinkClick, Conversion, AbAssignment, RuntimeSwitch, PlatformCursor, ScheduledJob, ProactiveDm,
    QuarantineRecord, CreatorCorrection, LiveQuestionGroup, LiveQuestion, LiveSummaryRecord, AuditEntry, ConsoleUser,
    ConsoleSession,
]


# --- what the recommender remembers about a viewer (docs/recommendations.md) -----------------------------------
class ViewerProfile(SQLModel, table=True):
    """A viewer's interests from their comments: the sum of their comments' embeddings and topic weights, each decayed
    by its age (half-life [recommend] history_half_life_days) as of `updated_at`. Keyed by our row id, never a platform
    id; deleted by `coursebot forget`; neither kept nor read when [recommend] personalise is off."""

    __tablename__ = "viewer_profiles"

    viewer_id: int = Field(primary_key=True, foreign_key="viewers.id", sa_column_kwargs={"autoincrement": False})
    vector: bytes = Field(sa_type=sa.LargeBinary, nullable=False)  # float32, the encoder's dimension
    weight: float = 0.0  # decayed number of comments behind it
    topics: dict[str, float] = _json({})  # topic keyword → decayed weight (the strongest few kept)
    updated_at: datetime = _time()


# A viewer's clicks and purchases are read on every recommendation request (bot/store/profiles.py).
sa.Index("ix_link_clicks_viewer_id", LinkClick.viewer_id)  # type: ignore[arg-type]
sa.Index("ix_conversions_viewer_id", Conversion.viewer_id)  # type: ignore[arg-type]

TABLES.append(ViewerProfile)
