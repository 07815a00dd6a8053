"""Creator actions: the one place the console, the CLI and the Telegram admin commands change what the bot does.

Each action takes `by` (console:<name>, cli, telegram:<id>), does its work through the Store and writes one
audit-log row. A new module rather than more of `bot/store/admin.py`: the store is data access (one method, one
transaction, no policy about who or why); this module is the creator's vocabulary — validation of what a
person typed, the audit, and which store calls make up one action. Synchronous like the Store: async callers
use `asyncio.to_thread`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.store.admin import DRY_RUN, PLATFORMS_OFF, QUIET_HOURS, HandoffView, NotFound, Switches, TakenOverViewer
from bot.store.corrections import Correction
from bot.store.store import Store

if TYPE_CHECKING:
    from bot.learning.knowledge_base import EditResult, ImportReport, KnowledgeBase

PLATFORMS = ("telegram", "bilibili", "douyin")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class ActionRefused(ValueError):
    """What the creator asked cannot be done as asked (one line, shown as is)."""


@dataclass(frozen=True, slots=True)
class ReplyResult:
    handoff: HandoffView
    queued: bool  # False: the handoff was already answered (a double click, another tab): nothing new is sent


class CreatorActions:
    def __init__(self, store: Store, knowledge: KnowledgeBase | None = None) -> None:
        self.store = store
        self._knowledge = knowledge  # the FAQ/catalog edits need the files' knowledge: given by who has settings

    @property
    def knowledge(self) -> KnowledgeBase:
        if self._knowledge is None:
            raise ActionRefused("knowledge edits need the catalog files: CreatorActions(store, KnowledgeBase.open(settings, store))")
        return self._knowledge

    def _audit(self, by: str, action: str, target: str = "", **detail: Any) -> None:
        self.store.audit(by, action, target, detail)

    # -- switches ---------------------------------------------------------------------------------------------
    def pause(self, by: str) -> None:
        self.store.set_paused(True, by)
        self._audit(by, "switch.pause")

    def resume(self, by: str) -> None:
        self.store.set_paused(False, by)
        self._audit(by, "switch.resume")

    def set_dry_run(self, on: bool, by: str) -> None:
        self.store.set_switch(DRY_RUN, bool(on), by)
        self._audit(by, "switch.dry_run", value=bool(on))

    def set_platform(self, platform: str, on: bool, by: str) -> Switches:
        """Switch a platform's replies on or off (its comments are still read, decided and handed off)."""
        if platform not in PLATFORMS:
            raise ActionRefused(f"unknown platform {platform!r}, expected one of {', '.join(PLATFORMS)}")
        off = set(self.store.switches().platforms_off)
        off = off - {platform} if on else off | {platform}
        self.store.set_switch(PLATFORMS_OFF, sorted(off), by)
        self._audit(by, "switch.platform", platform, on=bool(on))
        return self.store.switches()

    def set_quiet_hours(self, start: str | None, end: str | None, mode: str, by: str) -> None:
        """Quiet hours from now on ("HH:MM"); both empty switches them off (whatever the config says)."""
        start, end = (start or "").strip(), (end or "").strip()
        if bool(start) != bool(end):
            raise ActionRefused("quiet hours: give both start and end (HH:MM), or neither to switch them off")
        for field, value in (("start", start), ("end", end)):
            if value and not _HHMM.fullmatch(value):
                raise ActionRefused(f"quiet hours: field '{field}': expected HH:MM (00:00-23:59), got {value!r}")
        if mode not in ("defer", "skip"):
            raise ActionRefused(f"quiet hours: field 'mode': expected defer or skip, got {mode!r}")
        value = {"start": start, "end": end, "mode": mode} if start else {}
        self.store.set_switch(QUIET_HOURS, value, by)
        self._audit(by, "switch.quiet_hours", "", **value)

    def use_config(self, key: str, by: str) -> None:
        """Drop a run-time override (dry run, quiet hours): the config's setting stands again."""
        if key not in (DRY_RUN, QUIET_HOURS, PLATFORMS_OFF):
            raise ActionRefused(f"unknown switch {key!r}")
        self.store.clear_switch(key)
        self._audit(by, "switch.use_config", key)

    # -- the human queue --------------------------------------------------------------------------------------
    def reply(self, handoff_id: int, text: str, by: str) -> ReplyResult:
        """Answer a handoff: the reply is queued once per handoff (outbox idempotency key `handoff:<id>`), so a
        double click or a second tab queues nothing more, and the running bot's outbox sends it."""
        text = (text or "").strip()
        if not text:
            raise ActionRefused("reply: field 'text': empty")
        before = self._handoff(handoff_id)
        view = self.store.resolve_handoff(handoff_id, by=by, reply_text=text)
        queued = before.state == "open"
        if queued:
            self._audit(by, "handoff.reply", f"handoff:{handoff_id}", chars=len(text))
        return ReplyResult(view, queued)

    def dismiss(self, handoff_id: int, by: str) -> HandoffView:
        """Close a handoff without answering (resolved, nothing sent)."""
        before = self._handoff(handoff_id)
        view = self.store.resolve_handoff(handoff_id, by=by)
        if before.state == "open":
            self._audit(by, "handoff.dismiss", f"handoff:{handoff_id}")
        return view

    def resend(self, handoff_id: int, by: str) -> tuple[HandoffView, int]:
        view, count = self.store.resend_held(handoff_id, by=by)
        self._audit(by, "handoff.resend", f"handoff:{handoff_id}", messages=count)
        return view, count

    def take_over(self, platform: str, thread_id: str, by: str) -> None:
        self.store.take_over(platform, thread_id, by)
        self._audit(by, "thread.take_over", f"thread:{platform}:{thread_id}")

    def release(self, platform: str, thread_id: str, by: str) -> bool:
        released = self.store.release(platform, thread_id)
        if released:
            self._audit(by, "thread.release", f"thread:{platform}:{thread_id}")
        return released

    def take_over_viewer(self, viewer: int | str, by: str) -> TakenOverViewer:
        """Take over a viewer — the one who wrote handoff #`viewer` (an int), or the pseudonym `v_…` (a str): the bot
        stays silent with them on every thread of their platform and hands their comments to the inbox."""
        pseudonym = self._pseudonym(viewer)
        taken = self.store.take_over_viewer(pseudonym, by)
        self._audit(by, "viewer.take_over", f"viewer:{pseudonym}", platform=taken.platform)
        return taken

    def release_viewer(self, viewer: int | str, by: str) -> bool:
        pseudonym = self._pseudonym(viewer)
        released = self.store.release_viewer(pseudonym)
        if released:
            self._audit(by, "viewer.release", f"viewer:{pseudonym}")
        return released

    def _pseudonym(self, viewer: int | str) -> str:
        if isinstance(viewer, int):
            view = self._handoff(viewer)
            if view.viewer is None:  # forgotten, or a comment without an author
                raise ActionRefused(f"handoff #{viewer} has no known viewer to take over")
            return view.viewer
        return viewer.strip()

    # -- learning (bot/store/corrections.py) -----------------------------------------------------------------
    def relabel(self, event_pk: int, intent: str, by: str) -> Correction:
        correction = self.store.relabel(event_pk, intent, by)
        self._audit(by, "learn.relabel", f"comment:{event_pk}", intent=intent)
        return correction

    def relabel_both(self, event_pk: int, intent: str | None, sentiment: str | None, by: str) -> list[Correction]:
        """Intent and/or sentiment in one go (CLI `labels relabel`, Telegram `/relabel`): both are checked before
        either is stored, so a typo in one stores neither."""
        from retrieval.intents import INTENTS, SENTIMENTS

        if intent is None and sentiment is None:
            raise ActionRefused("relabel: give an intent, a sentiment, or both")
        for value, known, field in ((intent, INTENTS, "intent"), (sentiment, SENTIMENTS, "sentiment")):
            if value is not None and value not in known:
                raise ActionRefused(f"relabel: field '{field}': unknown {field} {value!r}, expected one of {', '.join(known)}")
        done = [self.relabel(event_pk, intent, by)] if intent is not None else []
        return done + ([self.relabel_sentiment(event_pk, sentiment, by)] if sentiment is not None else [])

    def relabel_sentiment(self, event_pk: int, sentiment: str, by: str) -> Correction:
        correction = self.store.relabel_sentiment(event_pk, sentiment, by)
        self._audit(by, "learn.relabel_sentiment", f"comment:{event_pk}", sentiment=sentiment)
        return correction

    def mark_wrong(self, event_pk: int, by: str) -> Correction:
        correction = self.store.mark_wrong(event_pk, by)
        self._audit(by, "learn.wrong", f"comment:{event_pk}", answer_key=correction.payload.get("answer_key"))
        return correction

    def confirm_reply(self, event_pk: int, by: str) -> Correction:
        correction = self.store.confirm_reply(event_pk, by)
        self._audit(by, "learn.right", f"comment:{event_pk}")
        return correction

    def undo(self, correction_id: int, by: str) -> Correction:
        """Take back a relabel, sentiment label, wrong or right verdict (`labels undo`, Telegram `/undo`): stored as an
        `undo` correction, so every worker picks it up like any lesson. Refusals: Store.undo_correction."""
        undo = self.store.undo_correction(correction_id, by)
        self._audit(by, "learn.undo", f"correction:{correction_id}", kind=undo.payload["kind"], undo=undo.id,
                    **({"comment": undo.event_pk} if undo.event_pk is not None else {}))
        return undo

    def save_answer_as_faq(self, handoff_id: int, by: str, faq_id: str | None = None) -> Correction:
        """The handoff's comment as another phrasing of `faq_id`, or (None) comment + the creator's answer as a new entry."""
        if faq_id and self._knowledge is not None and faq_id not in self._knowledge.current().faq:
            raise ActionRefused(f"save as FAQ: field 'faq_id': no faq entry '{faq_id}' (retired, or never there)")
        correction = self.store.save_answer_as_faq(handoff_id, by, faq_id)
        self._audit(by, "learn.save_faq", f"handoff:{handoff_id}", faq_id=correction.payload.get("faq_id"))
        return correction

    # -- knowledge (bot/learning/knowledge_base.py): each stored revision is one audit row ---------------------
    # A refused edit (EditResult.errors, field → the file loader's message) stores nothing and audits nothing.
    def add_faq(self, by: str, **fields: Any) -> EditResult:
        return self._audited(by, self.knowledge.add_faq(by, **fields))

    def edit_faq(self, faq_id: str, by: str, **fields: Any) -> EditResult:
        return self._audited(by, self.knowledge.edit_faq(faq_id, by, **fields))

    def add_phrasing(self, faq_id: str, phrasing: Any, by: str) -> EditResult:
        return self._audited(by, self.knowledge.add_phrasing(faq_id, phrasing, by))

    def remove_phrasing(self, faq_id: str, phrasing: Any, by: str) -> EditResult:
        return self._audited(by, self.knowledge.remove_phrasing(faq_id, phrasing, by))

    def retire_faq(self, faq_id: str, by: str) -> EditResult:
        return self._audited(by, self.knowledge.retire_faq(faq_id, by))

    def edit_course(self, course_id: str, by: str, **fields: Any) -> EditResult:
        return self._audited(by, self.knowledge.edit_course(course_id, by, **fields))

    def import_faq(self, path: Path, by: str, *, prune: bool = False) -> ImportReport:
        """One audit row for the whole file (its revisions carry `by` and are in the history of each entry)."""
        report = self.knowledge.import_faq(path, by, prune=prune)
        self._audit(by, "knowledge.import", f"file:{path.name}", added=report.added, edited=report.edited, retired=report.retired,
                    unchanged=report.unchanged, refused=len(report.refused))
        return report

    def _audited(self, by: str, result: EditResult) -> EditResult:
        r = result.revision
        if r is not None:  # which fields changed, not their text (answers can be long; the revision keeps them)
            target = f"{'course' if r.kind == 'course_edit' else 'faq'}:{r.target}"
            self._audit(by, f"knowledge.{r.kind}", target, revision=r.id, fields=sorted({*r.before, *r.after}))
        return result

    # -- live rooms -------------------------------------------------------------------------------------------
    def mark_live_answered(self, room_id: str, group_id: int, by: str, session: str | None = None) -> str:
        """The host (or an assistant) marks a question-board group answered in the room's latest live session (or
        `session`, a thread id live:<room>:<start>). Returns the session's thread id; NotFound names what is missing."""
        threads = [t for t in self.store.live_threads(room_id) if session in (None, t.thread_id)]
        if not threads:
            raise NotFound(f"room {room_id}: no live session stored" + (f" with id {session}" if session else ""))
        thread = threads[0]
        if not self.store.mark_live_group((thread.platform, thread.thread_id), group_id, by):
            raise NotFound(f"group {group_id}: not on the board of {thread.thread_id}")
        self._audit(by, "live.answered", f"live_group:{thread.thread_id}:{group_id}")
        return thread.thread_id

    def _handoff(self, handoff_id: int) -> HandoffView:
        view = self.store.handoff(handoff_id)
        if view is None:
            raise NotFound(f"handoff #{handoff_id} not found (coursebot handoffs lists the open ones)")
        return view
