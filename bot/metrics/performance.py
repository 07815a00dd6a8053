"""How well the bot did its job on one day: reply rate, response time, abstentions, handoffs, failed sends.

Definitions (stated in docs/summary.md, so creators can check them):
- reply-worthy: a viewer event that needs an answer (`ViewerEvent.reply_worthy`, the same rule in SQL);
- replied: a reply-worthy event answered by a sent bot message or by a human through a handoff;
- first-response time: from when the viewer wrote it (the platform's time) to the first sent bot message or
  human resolution, in seconds — only for events coursebot received within `late_after` of being written;
  the others (an import, a backfill, a backlog after downtime) are counted as `late` instead, because their
  wait says when they were fed in, not how fast the bot answered;
- abstain rate: reply-worthy events the bot did not answer itself (handed off or ignored) ÷ reply-worthy;
- handoff rate: reply-worthy events handed to a human ÷ reply-worthy; "open" = not resolved yet;
- containment: reply-worthy events answered by the bot with no human handoff ÷ reply-worthy;
- failed sends: the day's outbox messages that ended failed (still retrying) or dead (given up).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.metrics.rows import BOT_REPLY_ACTIONS, Activity
from bot.metrics.stats import percentile, ratio


@dataclass(frozen=True, slots=True)
class BotPerformance:
    reply_worthy: int = 0
    replied: int = 0
    replied_by_bot: int = 0
    replied_by_human: int = 0
    abstained: int = 0
    handed_off: int = 0
    handoffs_open: int = 0
    contained: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    pending: int = 0
    first_response_p50_s: float | None = None
    first_response_p90_s: float | None = None
    late: int = 0  # replied events received more than `late_after` after they were written: not in the percentiles
    failure_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reply_rate(self) -> float | None:
        return ratio(self.replied, self.reply_worthy)

    @property
    def abstain_rate(self) -> float | None:
        return ratio(self.abstained, self.reply_worthy)

    @property
    def handoff_rate(self) -> float | None:
        return ratio(self.handed_off, self.reply_worthy)

    @property
    def containment(self) -> float | None:
        return ratio(self.contained, self.reply_worthy)


DEFAULT_LATE_AFTER_S = 3600.0


def bot_performance(activity: Activity, *, late_after_s: float = DEFAULT_LATE_AFTER_S) -> BotPerformance:
    worthy = replied = by_bot = by_human = abstained = handed = still_open = contained = late = 0
    response_seconds: list[float] = []
    for event in activity.worthy:
        worthy += 1
        if event.handed_off:
            handed += 1
            still_open += event.resolved_at is None
        if event.action not in BOT_REPLY_ACTIONS:
            abstained += 1
        bot_at = event.first_bot_reply
        if bot_at is not None and not event.handed_off:
            contained += 1
        human_at = event.resolved_at if event.handed_off else None
        answered_at = min((t for t in (bot_at, human_at) if t is not None), default=None)
        if answered_at is None:
            continue
        replied += 1
        by_bot += answered_at == bot_at
        by_human += answered_at != bot_at
        if event.received_at is not None and event.received_at - event.created_at > late_after_s:
            late += 1
            continue
        response_seconds.append(max(0.0, answered_at - event.created_at))

    states: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for (state, error), count in activity.outbox.items():
        states[state] += count
        if state in {"failed", "dead"}:
            reasons[(error or "unknown").split(":", 1)[0][:60]] += count
    return BotPerformance(
        reply_worthy=worthy, replied=replied, replied_by_bot=by_bot, replied_by_human=by_human, abstained=abstained,
        handed_off=handed, handoffs_open=still_open, contained=contained,
        sent=states["sent"], failed=states["failed"], dead=states["dead"], pending=states["pending"] + states["sending"],
        first_response_p50_s=percentile(response_seconds, 50), first_response_p90_s=percentile(response_seconds, 90), late=late,
        failure_reasons=dict(reasons.most_common(5)),
    )
