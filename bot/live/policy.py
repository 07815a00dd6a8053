"""What the bot says in a live room: a policy layer (who gets answered, when) and the danmaku composer (what).

Live speed changes the rules. Only FAQ-level answers with high confidence go into the room; everything else
(low confidence, handoffs, other kinds of answer) stays on the host's question board, not on the handoff queue,
which a room at 500 danmaku/s would flood. A question answered in the room is not answered again for
`[live] group_window`: the one danmaku is addressed to everyone who asked ("问价格的同学：…"). The bot speaks
at most once per `[live] min_interval` per room; an answer that could only go out more than `max_delay` from
now stays on the board (the room has moved on). Super chats are paid: always the host's, never auto-answered.
Like every layer, this decides from the facts alone (bot/decision.py LiveRoomFacts); the queue enforces the
interval again when it stores the message, for workers deciding at the same time (bot/live/store.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.analysis import Analysis
from bot.catalog import Catalog
from bot.compose import _link_url
from bot.config import LinkSettings, LiveSettings
from bot.decision import Accepted, Decision, Facts, TrackedLinkSpec, Verdict
from bot.live import is_live
from bot.live.fit import fit_danmaku
from bot.policy import Handler
from bot.privacy import Pseudonymizer

BOARD = "on the host's board"
COVERED = "answered for everyone who asked this"
_TOPIC = {"course_price": "价格", "course_link": "链接"}


def live_key(analysis: Analysis, catalog: Catalog | None) -> str:
    """What makes two live questions the same question, answered once for all: what they ask about (the FAQ
    entry's live_topic, or price/link) for one course, so "多少钱" (the course's price FAQ) and "价格多少" (the
    catalog's price) are one question; an FAQ entry without a topic is its own. At most 64 characters (stored
    as the decision's variant)."""
    match = analysis.match
    entry = catalog.faq.get(match.answer_id) if catalog is not None and match.answer_id else None
    topic = entry.live_topic if entry is not None else _TOPIC.get(match.answer_kind or "")
    course = (entry.course_id if entry is not None else None) or match.course_id or "-"
    key = f"{topic}:{course}" if topic else f"faq:{match.answer_id}"
    return key[:64]


class LiveRoom:
    """The live layer: sits outside the general stack for bilibili-live events and narrows what it lets through."""

    def __init__(self, settings: LiveSettings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog

    async def __call__(self, handler: Handler, analysis: Analysis, data: dict[str, Any]) -> Verdict:
        event = analysis.event
        if not is_live(event.platform):
            return await handler(analysis, data)
        if event.kind == "super_chat":
            price = event.raw.get("price")
            return Verdict("handoff", f"super chat{f' ¥{price}' if price is not None else ''}: a paid question, for the host")
        verdict = await handler(analysis, data)
        if verdict.action == "handoff":
            return Verdict("ignore", f"{BOARD}: {verdict.reason}")
        if not verdict.replies:
            return verdict
        refusal = self.refusal(analysis, data["facts"], verdict)
        if refusal is not None:  # template "live": the decision still records which answer it was (bot/live/store.py)
            return Verdict("ignore", f"{BOARD}: {refusal}", template="live")
        facts: Facts = data["facts"]
        slot = self.slot(facts)
        reason = f"live {verdict.reason}"
        if slot > facts.now:
            reason += f"; next danmaku slot in {(slot - facts.now).total_seconds():.0f}s"
        return replace(verdict, action="reply_public", channel="public", template="live", reason=reason,
                       send_after=slot if slot > facts.now else None, min_gap=self.settings.min_interval, invite_dm=False)

    def refusal(self, analysis: Analysis, facts: Facts, verdict: Verdict) -> str | None:
        """Why this reply must not go into the room, or None."""
        s, match = self.settings, analysis.match
        if verdict.send_after is not None:  # deferred (quiet hours): a late answer in a live room answers nobody
            return f"deferred ({verdict.reason}), too late for the room"
        if match.answer_kind not in s.answer_kinds:
            return f"{match.answer_kind} answers are not given in live rooms"
        if match.confidence < s.min_confidence:
            return f"live confidence {match.confidence:.2f} below {s.min_confidence:.2f}"
        live = facts.live
        key = live_key(analysis, self.catalog)
        if live is not None and (answered := live.answered.get(key)) is not None:
            ago = (facts.now - answered).total_seconds()
            if ago < s.group_window:
                return f"{COVERED} {max(ago, 0):.0f}s ago ({key})"
        wait = (self.slot(facts) - facts.now).total_seconds()
        if wait > s.max_delay:
            return f"room busy: the next bot danmaku slot is {wait:.0f}s away (max_delay {s.max_delay:g}s)"
        return None

    def slot(self, facts: Facts):
        last = facts.live.last_sent_at if facts.live is not None else None
        if last is None:
            return facts.now
        return max(facts.now, last + timedelta(seconds=self.settings.min_interval))


class LiveComposer:
    """The danmaku for a live answer: the FAQ entry's `live_answer` (else its answer, else the catalog fact),
    addressed to everyone who asked when it fits, in at most `danmaku_parts` danmaku of `danmaku_max_chars`,
    split only between clauses. What cannot fit whole is not sent: it stays on the board."""

    def __init__(self, settings: LiveSettings, catalog: Catalog, pseudonymizer: Pseudonymizer, links: LinkSettings) -> None:
        self.settings = settings
        self.catalog = catalog
        self.pseudonymizer = pseudonymizer
        self.links = links

    def compose(self, verdict: Verdict, analysis: Analysis, accepted: Accepted, facts: Facts) -> Decision:
        match, event = analysis.match, accepted.event
        base = Decision(action=verdict.action, reason=verdict.reason, intent=analysis.understanding.intent,
                        course_id=match.course_id, answer_id=match.answer_id, confidence=match.confidence,
                        dry_run=verdict.dry_run, send_after=verdict.send_after, decided_at=facts.now, min_gap=verdict.min_gap,
                        template_id="live", variant_id=live_key(analysis, self.catalog) if match.answered else None)
        if not verdict.replies:
            return base
        course = self.catalog.courses.get(match.course_id or "")
        link = None
        if course is not None:
            link = TrackedLinkSpec(self.pseudonymizer.token("link", event.platform, event.event_id, course.id), course.url, course.id)
        topic, texts = self.candidates(analysis)
        limit, parts = self.settings.danmaku_max_chars, self.settings.danmaku_parts
        for _source, text in texts:
            if link is not None:
                text = text.replace(link.url, _link_url(self.links, link))
            for candidate in ([f"问{topic}的同学：{text}"] if topic else []) + [text]:
                fitted = fit_danmaku(candidate, limit, parts)
                if fitted:
                    said = "\n".join(fitted)  # one outbox message per line (bot/live/store.py)
                    links = (link,) if link is not None and _link_url(self.links, link) in said else ()
                    return replace(base, text=said, links=links)
        longest = max((len(t) for _, t in texts), default=0)
        return replace(base, action="ignore", send_after=None, min_gap=0.0,
                       reason=f"{BOARD}: the answer does not fit {parts} danmaku of {limit} characters ({longest}): "
                              f"give the FAQ entry a short live_answer")

    def candidates(self, analysis: Analysis) -> tuple[str, list[tuple[str, str]]]:
        """(topic for "问…的同学", (where from, text) to try in order)."""
        match = analysis.match
        if match.answer_kind == "faq" and match.answer_id:
            entry = self.catalog.faq[match.answer_id]
            texts = [(source, t) for source, t in (("live_answer", entry.live_answer), ("faq_answer", entry.answer)) if t]
            return entry.live_topic or "", texts
        course = self.catalog.courses.get(match.course_id or "")
        if course is None:
            return "", []
        if match.answer_kind == "course_price":
            price = "免费" if course.is_free else f"{course.price_text()}元"
            own = match.course_source == "thread"  # the course the live is about: the title goes without saying
            texts = [f"现价{price}", f"《{course.title}》{price}"] if own else [f"《{course.title}》{price}"]
            return _TOPIC["course_price"], [("course_price", t) for t in texts]
        if match.answer_kind == "course_link":
            return _TOPIC["course_link"], [("course_link", f"《{course.title}》：{course.url}"), ("course_link", course.url)]
        return "", []

