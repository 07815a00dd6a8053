"""Write hand-made rows into a real coursebot database through the store's SQLModel tables."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.store import models as m


class Seeder:
    """`seed.comment(...)`, `seed.reply(...)` … each commits at once and returns the new row's id."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.viewers: dict[str, int] = {}
        self._ids = itertools.count(1)

    def _add(self, row: Any) -> Any:
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
            return row

    def viewer(self, name: str, first_seen: datetime, platform: str = "bilibili") -> int:
        if name not in self.viewers:
            row = self._add(m.Viewer(platform=platform, pseudonym=f"p-{name}", author_id=name, first_seen=first_seen, last_seen=first_seen))
            self.viewers[name] = row.id
        return self.viewers[name]

    def event(self, at: datetime, viewer: str | None, *, kind: str = "comment", text: str = "", intent: str | None = None,
              sentiment: str = "neutral", topics: tuple[str, ...] = (), action: str | None = None, platform: str = "bilibili",
              thread: str = "BV1", template: str | None = None, variant: str | None = None) -> tuple[int, int | None]:
        """An event with its understanding and decision; returns (event pk, decision id)."""
        viewer_id = self.viewers[viewer] if viewer else None
        event = self._add(m.EventRecord(platform=platform, event_id=f"e{next(self._ids)}", kind=kind, thread_id=thread,
                                        viewer_id=viewer_id, text=text, created_at=at, received_at=at))
        if intent is not None:
            self._add(m.UnderstandingRecord(event_pk=event.id, intent=intent, sentiment=sentiment, topics=list(topics),
                                            is_spam=intent == "spam"))
        decision_id = None
        if action is not None:
            decision = self._add(m.DecisionRecord(event_pk=event.id, platform=platform, thread_id=thread, viewer_id=viewer_id,
                                                  action=action, reason="seeded", template_id=template, variant_id=variant,
                                                  intent=intent, decided_at=at))
            decision_id = decision.id
        return event.id, decision_id

    def outbox(self, decision_id: int, state: str, created_at: datetime, sent_at: datetime | None = None, *,
               kind: str = "reply_public", error: str | None = None, platform: str = "bilibili") -> int:
        row = self._add(m.OutboxMessage(idempotency_key=f"decision:{decision_id}:{next(self._ids)}", decision_id=decision_id,
                                        platform=platform, kind=kind, text="reply", state=state, created_at=created_at,
                                        next_attempt_at=created_at, sent_at=sent_at, last_error=error))
        return row.id

    def handoff(self, event_pk: int, created_at: datetime, resolved_at: datetime | None = None, platform: str = "bilibili") -> int:
        row = self._add(m.Handoff(event_pk=event_pk, platform=platform, state="resolved" if resolved_at else "open",
                                  created_at=created_at, resolved_at=resolved_at))
        return row.id

    def link(self, link_id: str, decision_id: int | None, created_at: datetime, *, template: str | None = None,
             variant: str | None = None, viewer: str | None = None, platform: str = "bilibili") -> str:
        self._add(m.TrackedLink(id=link_id, url=f"https://example.com/course?{link_id}", decision_id=decision_id, platform=platform,
                                viewer_id=self.viewers.get(viewer) if viewer else None, template_id=template, variant_id=variant,
                                created_at=created_at))
        return link_id

    def click(self, link_id: str, at: datetime, viewer: str | None = None) -> None:
        self._add(m.LinkClick(link_id=link_id, clicked_at=at, viewer_id=self.viewers.get(viewer) if viewer else None))

    def conversion(self, external_id: str, at: datetime, amount: float, *, link_id: str | None = None, viewer: str | None = None,
                   platform: str = "shop") -> None:
        self._add(m.Conversion(platform=platform, external_id=external_id, link_id=link_id, amount=amount, occurred_at=at,
                               viewer_id=self.viewers.get(viewer) if viewer else None))
