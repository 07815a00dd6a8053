"""When the bot speaks: a stack of layers around one decision, in the aiogram middleware shape.

Each layer is `async def __call__(self, handler, analysis, data) -> Verdict`: it may answer itself
(short-circuit: spam, takeover, complaint…) or call `handler` and adjust what comes back (rate limits,
quiet hours, kill switch, dry run turn a reply into silence, a deferral or a record). `data["facts"]` holds
the store's facts; layers never do I/O, so a decision is a pure function of (analysis, facts, config).

Order, outermost first (see docs/pipeline.md): dry run · already decided · self/creator · live room (bot/live) · human takeover ·
spam · complaint/negative → human · kill switch · platform switch · rate limits · quiet hours · confidence · choose reply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.analysis import Analysis, wants_answer
from bot.catalog import Catalog
from bot.config import PolicySettings, RateLimits, Settings
from bot.decision import Channel, Facts, Verdict
from retrieval.intents import QUESTION_INTENTS, looks_like_question
from retrieval.text import normalize

Handler = Callable[[Analysis, dict[str, Any]], Awaitable[Verdict]]

# Which reply template answers which kind of match (bot.analysis.Match.answer_kind).
TEMPLATE_FOR_ANSWER = {
    "faq": "faq", "course_price": "ask_price", "course_link": "ask_link",
    "course_content": "ask_course_content", "recommendation": "ask_recommendation",
}


def _facts(data: dict[str, Any]) -> Facts:
    return data["facts"]


def asks_something(analysis: Analysis) -> bool:
    u = analysis.understanding
    return u.intent in QUESTION_INTENTS or (bool(u.text) and looks_like_question(normalize(u.text)))


def unanswered_reason(analysis: Analysis) -> str:
    """Why a question-shaped comment without an answer goes to the creator, as it really is."""
    u = analysis.understanding
    if wants_answer(u):
        return f"question the catalog can't answer: {analysis.match.reason}"
    # "老师讲得也太好了吧？": a question mark, but read as praise, so no answer was looked up at all.
    return f"phrased as a question but read as {u.intent} ({u.intent_confidence:.2f}): for you to read"


class DryRun:
    """Decide everything, send nothing: replies are recorded with dry_run and never reach the outbox."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        verdict = await handler(analysis, data)
        switch = _facts(data).dry_run  # the creator's run-time switch wins over the config
        return replace(verdict, dry_run=True) if (self.enabled if switch is None else switch) else verdict


class AlreadyDecided:
    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        if _facts(data).duplicate:
            return Verdict("ignore", "already decided (duplicate delivery)")
        return await handler(analysis, data)


class SelfAndCreator:
    """Never answer the bot's own messages or the creator's."""

    def __init__(self, bot_ids: dict[str, list[str]], creator_ids: dict[str, list[str]]) -> None:
        self.bot = {(p, str(i)) for p, ids in bot_ids.items() for i in ids}
        self.creator = {(p, str(i)) for p, ids in creator_ids.items() for i in ids}

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        event = analysis.event
        key = (event.platform, str(event.author_id))
        if key in self.bot:
            return Verdict("ignore", "written by the bot itself")
        if key in self.creator:
            return Verdict("ignore", "written by the creator")
        return await handler(analysis, data)


VIEWER_TAKEN_OVER = "人工接管：该观众"


class HumanTakeover:
    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        # A taken-over viewer's comments go to the inbox (never acknowledged: the bot says nothing to them) even in a
        # taken-over thread: the creator asked to see everything this viewer writes. Nothing to read (a Telegram
        # /start, a sticker) is not worth an inbox row.
        if _facts(data).viewer_taken_over:
            return Verdict("handoff" if analysis.event.text.strip() else "ignore", VIEWER_TAKEN_OVER)
        if _facts(data).taken_over:
            return Verdict("ignore", "a human has taken over this thread")
        return await handler(analysis, data)


class Spam:
    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        if analysis.understanding.is_spam:
            return Verdict("ignore", f"spam ({analysis.understanding.intent_confidence:.2f})")
        return await handler(analysis, data)


class NeedsHuman:
    """Complaints and clearly negative comments go to the creator, never to a template."""

    def __init__(self, intents: Sequence[str], min_intent_confidence: float, negative_confidence: float, acknowledge: bool) -> None:
        self.intents = set(intents)
        self.min_intent_confidence = min_intent_confidence
        self.negative_confidence = negative_confidence
        self.acknowledge = acknowledge

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        u = analysis.understanding
        if u.intent in self.intents and u.intent_confidence >= self.min_intent_confidence:
            return Verdict("handoff", f"{u.intent} ({u.intent_confidence:.2f}) goes to a human", template="handoff_ack",
                           acknowledge=self.acknowledge)
        if u.sentiment == "negative" and u.sentiment_confidence >= self.negative_confidence:
            return Verdict("handoff", f"negative sentiment ({u.sentiment_confidence:.2f}) goes to a human", template="handoff_ack",
                           acknowledge=self.acknowledge)
        return await handler(analysis, data)


def _silence(verdict: Verdict, reason: str) -> Verdict:
    """A reply (or a handoff acknowledgement) that must not be sent: keep a handoff, drop its message."""
    if verdict.replies:
        return Verdict("ignore", reason)
    if verdict.acknowledge:
        return replace(verdict, acknowledge=False, reason=f"{verdict.reason}; not acknowledged: {reason}")
    return verdict


class KillSwitch:
    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        verdict = await handler(analysis, data)
        return _silence(verdict, "paused (kill switch)") if _facts(data).paused else verdict


class PlatformSwitch:
    """The creator switched a platform's replies off (console, CLI): decided and handed off as usual, nothing sent."""

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        verdict = await handler(analysis, data)
        return _silence(verdict, f"{analysis.event.platform} switched off") if _facts(data).platform_off else verdict


class RateLimit:
    """Per thread per hour, per viewer per day, per platform per day (rolling windows)."""

    def __init__(self, default: RateLimits, per_platform: dict[str, RateLimits]) -> None:
        self.default = default
        self.per_platform = per_platform

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        verdict = await handler(analysis, data)
        if not (verdict.replies or verdict.acknowledge):
            return verdict
        limits = self.per_platform.get(analysis.event.platform, self.default)
        facts = _facts(data)
        for used, limit, what in (
            (facts.replies_in_thread_last_hour, limits.per_thread_per_hour, "in this thread in the last hour"),
            (facts.replies_to_viewer_last_day, limits.per_viewer_per_day, "to this viewer in the last 24 h"),
            (facts.replies_on_platform_last_day, limits.per_platform_per_day, f"on {analysis.event.platform} in the last 24 h"),
        ):
            if used >= limit:
                return _silence(verdict, f"rate limit: {used} replies {what} (limit {limit})")
        return verdict


class QuietHours:
    """Nothing is sent between start and end in the creator's time zone: defer to the end, or skip."""

    def __init__(self, start: str | None, end: str | None, zone: str, mode: str) -> None:
        self.start = time.fromisoformat(start) if start else None
        self.end = time.fromisoformat(end) if end else None
        self.zone = ZoneInfo(zone)
        self.mode = mode

    def quiet_until(self, now: datetime, override: Mapping[str, str] | None = None) -> datetime | None:
        """The end of the quiet period `now` falls in, or None outside quiet hours. `override`: the run-time switch
        ({} none; start/end "HH:MM")."""
        start, end = self.start, self.end
        if override is not None:
            start = time.fromisoformat(override["start"]) if override.get("start") else None
            end = time.fromisoformat(override["end"]) if override.get("end") else None
        if start is None or end is None or start == end:
            return None
        return _quiet_end(now, start, end, self.zone)

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        verdict = await handler(analysis, data)
        if not (verdict.replies or verdict.acknowledge):
            return verdict
        override = _facts(data).quiet_hours
        until = self.quiet_until(_facts(data).now, override)
        if until is None:
            return verdict
        mode = (override or {}).get("mode") or self.mode
        if mode == "skip":
            return _silence(verdict, "quiet hours")
        local = until.astimezone(self.zone).strftime("%H:%M")
        return replace(verdict, send_after=until, reason=f"{verdict.reason}; quiet hours: sent at {local}")


def _quiet_end(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    local = now.astimezone(zone)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(now.tzinfo)


class Confidence:
    """A reply must be confident; an unconfident answer to a question goes to a human instead."""

    def __init__(self, minimum: float, handoff_unanswered: bool, acknowledge: bool) -> None:
        self.minimum = minimum
        self.handoff_unanswered = handoff_unanswered
        self.acknowledge = acknowledge

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        verdict = await handler(analysis, data)
        confidence = analysis.match.confidence
        if not verdict.replies or confidence >= self.minimum:
            return verdict
        reason = f"confidence {confidence:.2f} below {self.minimum:.2f}"
        if self.handoff_unanswered and asks_something(analysis):
            return Verdict("handoff", reason, template="handoff_ack", acknowledge=self.acknowledge)
        return Verdict("ignore", reason)


class ChooseReply:
    """The innermost handler: answer what the catalog answers, on the configured channel.

    A DM is chosen only when it will really go out, so a public "details sent by DM" note is never a lie: not on
    a platform whose DMs are disabled, not to a viewer known to be unreachable, and not when the platform's
    proactive-DM limits (`proactive_limits`: per day, until the viewer writes back) would hold it. Then the
    public reply carries the answer itself (price and link).
    """

    def __init__(self, settings: PolicySettings, *, dm_disabled: frozenset[str] = frozenset(),
                 proactive_limits: Mapping[str, tuple[int, int]] | None = None) -> None:
        self.settings = settings
        self.dm_disabled = dm_disabled
        self.proactive_limits = dict(proactive_limits or {})

    async def __call__(self, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        match = analysis.match
        if not match.answered:
            if not analysis.understanding.text:
                return Verdict("ignore", "nothing to answer (empty or emoji only)")
            if self.settings.handoff_unanswered_questions and asks_something(analysis):
                return Verdict("handoff", unanswered_reason(analysis), template="handoff_ack",
                               acknowledge=self.settings.acknowledge_handoffs)
            return Verdict("ignore", match.reason)
        template = TEMPLATE_FOR_ANSWER[match.answer_kind or "faq"]
        facts = _facts(data)
        channel = self.channel(analysis, facts)
        action = "reply_dm" if channel == "dm" else "reply_public"
        reason = f"{match.answer_kind}: {match.reason}"
        if channel == "public" and self.wanted(analysis) != "public" and (held := self.dm_held(analysis, facts)):
            reason = f"{reason}; answered in public, no DM: {held}"
        # A DM was wanted but the viewer never started the bot: answer in public and invite them by deep link.
        invite = (channel == "public" and self.wanted(analysis) != "public" and bool(analysis.event.raw.get("dm_link")))
        return Verdict(action, reason, channel=channel, template=template, invite_dm=invite)

    def wanted(self, analysis: Analysis) -> Channel:
        return self.settings.channels.get(analysis.understanding.intent, self.settings.default_channel)

    def channel(self, analysis: Analysis, facts: Facts) -> Channel:
        s, event = self.settings, analysis.event
        if event.kind == "dm":
            return "dm"
        wanted = self.wanted(analysis)
        if wanted == "public":
            return "public"
        can_dm = (event.platform in s.dm_platforms and event.author_id is not None and facts.dm_reachable is not False
                  and (event.platform not in s.dm_opt_in_platforms or facts.dm_reachable is True)
                  and self.dm_held(analysis, facts) is None)
        return wanted if can_dm else "public"

    def dm_held(self, analysis: Analysis, facts: Facts) -> str | None:
        """Why a DM the bot would start (not an answer to the viewer's DM) would not go out now; None if it would."""
        platform = analysis.event.platform
        if platform in self.dm_disabled:
            return f"{platform}.dm_enabled is false"
        if platform in self.proactive_limits and analysis.event.kind != "dm":
            per_day, per_viewer = self.proactive_limits[platform]
            if facts.proactive_dms_unanswered >= per_viewer:
                return f"{facts.proactive_dms_unanswered} DMs to this viewer unanswered (limit {per_viewer})"
            if facts.proactive_dms_today >= per_day:
                return f"{facts.proactive_dms_today} proactive DM(s) to this viewer today (limit {per_day})"
        return None


class Policy:
    """The layers around ChooseReply; `await policy(analysis, facts)` → Verdict."""

    def __init__(self, layers: Sequence[Any], inner: Handler) -> None:
        self.layers = list(layers)
        self.inner = inner

    async def __call__(self, analysis: Analysis, facts: Facts) -> Verdict:
        handler = self.inner
        for layer in reversed(self.layers):
            handler = _bind(layer, handler)
        return await handler(analysis, {"facts": facts})


def _bind(layer: Any, handler: Handler) -> Handler:
    async def call(analysis: Analysis, data: dict[str, Any]) -> Verdict:
        return await layer(handler, analysis, data)

    return call


def build_policy(config: Settings, catalog: Catalog | None = None) -> Policy:
    from bot.live.policy import LiveRoom  # it builds on this module's Handler

    settings, quiet = config.policy, config.policy.quiet_hours
    return Policy(
        [
            DryRun(settings.dry_run),
            AlreadyDecided(),
            SelfAndCreator(settings.bot_ids, settings.creator_ids),
            LiveRoom(config.live, catalog),
            HumanTakeover(),
            Spam(),
            NeedsHuman(settings.handoff_intents, config.matching.min_intent_confidence, settings.negative_handoff_confidence,
                       settings.acknowledge_handoffs),
            KillSwitch(),
            PlatformSwitch(),
            RateLimit(settings.rate_limits, settings.platform_rate_limits),
            QuietHours(quiet.start, quiet.end, settings.timezone, quiet.mode),
            Confidence(settings.min_confidence, settings.handoff_unanswered_questions, settings.acknowledge_handoffs),
        ],
        ChooseReply(settings, dm_disabled=frozenset(p for p in ("bilibili", "douyin") if not getattr(config, p).dm_enabled),
                    proactive_limits={"douyin": (config.douyin.proactive_dm_per_day, config.douyin.proactive_dm_messages)}),
    )
