"""The quarantine: input that could not be read or stored, kept as it came so the creator loses nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import select

from bot.events import Quarantined
from bot.storable import storable_copy
from bot.store.models import QuarantineRecord, utcnow
from bot.store.rows import clean_text, insert_ignore


class QuarantineStore:
    dialect: str

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        """Keep each item once (by origin and raw content): a file replayed again adds nothing new."""
        if not items:
            return
        now = utcnow()
        rows = [{"origin": clean_text(item.origin, 400), "reason": clean_text(item.reason, 2000), "raw": storable_copy(item.raw),
                 "digest": _digest(item.raw), "created_at": now} for item in items]
        with self.session() as session:  # type: ignore[attr-defined]
            insert_ignore(session, self.dialect, QuarantineRecord, rows, ["origin", "digest"])

    def quarantined(self, limit: int = 50) -> list[QuarantineRecord]:
        """The newest quarantined lines and deliveries first."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            query = select(QuarantineRecord).order_by(QuarantineRecord.created_at.desc(), QuarantineRecord.id.desc()).limit(limit)  # type: ignore[attr-defined,union-attr]
            return list(session.exec(query))

    def delete_quarantined(self, ids: Sequence[int]) -> int:
        """Delete handled items (they hold input as received, raw viewer ids included); returns how many."""
        if not ids:
            return 0
        with self.session() as session:  # type: ignore[attr-defined]
            table = QuarantineRecord.__table__  # type: ignore[attr-defined]
            return session.connection().execute(sa.delete(table).where(table.c.id.in_(list(ids)))).rowcount

    def quarantine_count(self) -> int:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return session.exec(select(sa.func.count()).select_from(QuarantineRecord)).one()


def _digest(raw: bytes | str) -> str:
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()
