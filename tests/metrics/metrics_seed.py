"""Write hand-made rows into a real coursebot database through the store's SQLModel tables."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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


SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2024, 6, 1)


def local(day: date, hour: int, minute: int = 0, second: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz).astimezone(UTC)


def seed_shanghai_day(engine: Engine) -> Seeder:
    """The Shanghai day 2024-06-01 runs from 2024-05-31T16:00Z to 2024-06-01T16:00Z. Seeded (local times):

      e1 00:10 A comment ask_price  +  reply_public, sent after 30 s, link L1 (ask_price/price-a) clicked twice
      e2 08:00 B comment question   0  handoff, resolved by a human after 600 s           "可以开发票吗" [发票]
      e3 09:00 C comment question   0  handoff, still open                               "能开发票吗？" [发票]
      e7 10:00 F comment spam       0  ignore
      e4 12:00 A dm      ask_link   0  reply_dm, sent after 90 s, link L2 (ask_link/link-a) never clicked
      e5 15:00 D comment praise     +  ignore
      e6 23:59:59 E comment complaint − reply_public, dead ("403: forbidden"), link L3 never shown
  outside: 2024-06-02 00:00:00 A (next day), 2024-05-31 23:59:59 B negative (previous day)
  conversions: 13:00 199 via L1 (viewer A), 14:00 99 without a link
    """
    seed = Seeder(engine)
    s = timedelta(seconds=1)
    seed.viewer("A", local(DAY, 0, 10))
    seed.viewer("B", local(date(2024, 5, 20), 12))
    for name, hour in (("C", 9), ("D", 15), ("E", 23), ("F", 10)):
        seed.viewer(name, local(DAY, hour))
    _, d1 = seed.event(local(DAY, 0, 10), "A", text="这课多少钱", intent="ask_price", sentiment="positive", topics=("价格",),
                        action="reply_public", template="ask_price", variant="price-a")
    seed.outbox(d1, "sent", local(DAY, 0, 10), local(DAY, 0, 10) + 30 * s)
    seed.link("L1", d1, local(DAY, 0, 10), template="ask_price", variant="price-a", viewer="A")
    seed.click("L1", local(DAY, 0, 20), viewer="A")
    seed.click("L1", local(date(2024, 6, 2), 1), viewer="A")
    e2, _ = seed.event(local(DAY, 8), "B", text="可以开发票吗", intent="question_other", topics=("发票",), action="handoff")
    seed.handoff(e2, local(DAY, 8), local(DAY, 8) + 600 * s)
    e3, _ = seed.event(local(DAY, 9), "C", text="能开发票吗？", intent="question_other", topics=("发票",), action="handoff")
    seed.handoff(e3, local(DAY, 9))
    seed.event(local(DAY, 10), "F", text="加vx领资料", intent="spam", action="ignore")
    _, d4 = seed.event(local(DAY, 12), "A", kind="dm", text="链接发我", intent="ask_link", topics=("链接",), action="reply_dm",
                        template="ask_link", variant="link-a")
    seed.outbox(d4, "sent", local(DAY, 12), local(DAY, 12) + 90 * s, kind="reply_dm")
    seed.link("L2", d4, local(DAY, 12), template="ask_link", variant="link-a", viewer="A")
    seed.event(local(DAY, 15), "D", text="讲得太好了", intent="praise", sentiment="positive", action="ignore")
    _, d6 = seed.event(local(DAY, 23, 59, 59), "E", text="退款怎么还没到", intent="complaint", sentiment="negative", topics=("退款",),
                        action="reply_public", template="complaint", variant="c-a")
    seed.outbox(d6, "dead", local(DAY, 23, 59, 59), error="403: forbidden")
    seed.link("L3", d6, local(DAY, 23, 59, 59), template="complaint", variant="c-a", viewer="E")
    seed.event(local(date(2024, 6, 2), 0), "A", text="明天见", intent="chitchat", action="ignore")
    seed.event(local(date(2024, 5, 31), 23, 59, 59), "B", text="太差了", intent="complaint", sentiment="negative", action="handoff")
    seed.conversion("o1", local(DAY, 13), 199.0, link_id="L1", viewer="A")
    seed.conversion("o2", local(DAY, 14), 99.0)
    return seed
