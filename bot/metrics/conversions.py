"""Conversions (enrolments / orders) coming in from the creator's shop: by webhook or CSV import.

Both paths validate into `ConversionIn` and go through `record_conversions`, which is idempotent on
(platform, order id): a shop that notifies twice, or a CSV imported twice, counts each order once.
An order that names one of the bot's tracked links is attributed to that link (and its viewer).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.store.models import Conversion, TrackedLink
from retrieval.errors import InputError

CONVERSIONS = Conversion.__table__
LINKS = TrackedLink.__table__


class ConversionIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    order_id: str = Field(min_length=1, max_length=200)
    platform: str = Field("shop", min_length=1, max_length=32)  # the shop / payment system the order id belongs to
    amount: float = Field(0.0, ge=0)
    currency: str = Field("CNY", min_length=1, max_length=8)
    link_id: str | None = Field(None, max_length=32)
    course_id: str | None = Field(None, max_length=64)
    occurred_at: datetime | None = None  # without an offset: the creator's time zone

    @field_validator("link_id", "course_id", "occurred_at", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


@dataclass(frozen=True, slots=True)
class ImportResult:
    recorded: int = 0
    duplicates: int = 0
    unknown_links: int = 0  # orders naming a link id coursebot never issued: recorded without attribution


def _when(item: ConversionIn, tz: ZoneInfo, now: datetime) -> datetime:
    if item.occurred_at is None:
        return now
    when = item.occurred_at if item.occurred_at.tzinfo else item.occurred_at.replace(tzinfo=tz)
    return when.astimezone(UTC)


def record_conversions(engine: Engine, items: Iterable[ConversionIn], *, tz: ZoneInfo, now: datetime | None = None) -> ImportResult:
    """Store the orders not seen before, in one transaction."""
    now = now or datetime.now(UTC)
    recorded = duplicates = unknown = 0
    with engine.begin() as conn:
        for item in items:
            exists = conn.execute(sa.select(CONVERSIONS.c.id).where(CONVERSIONS.c.platform == item.platform,
                                                                    CONVERSIONS.c.external_id == item.order_id)).first()
            if exists:
                duplicates += 1
                continue
            link = conn.execute(sa.select(LINKS.c.id, LINKS.c.viewer_id, LINKS.c.course_id).where(LINKS.c.id == item.link_id)).first() \
                if item.link_id else None
            unknown += bool(item.link_id) and link is None
            values = {"platform": item.platform, "external_id": item.order_id, "amount": item.amount, "currency": item.currency,
                      "link_id": link.id if link else None, "viewer_id": link.viewer_id if link else None,
                      "course_id": item.course_id or (link.course_id if link else None), "occurred_at": _when(item, tz, now)}
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(CONVERSIONS).values(**values))
                recorded += 1
            except IntegrityError:  # the same order arrived concurrently
                duplicates += 1
    return ImportResult(recorded, duplicates, unknown)


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "row"
    return f"{field}: {first['msg'].lower()}"


def parse_conversion(data: object, where: str) -> ConversionIn:
    try:
        return ConversionIn.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{where}: {_validation_message(exc)}") from None


def read_conversions_csv(path: Path) -> list[ConversionIn]:
    """Rows of a CSV with a header: order_id, amount, and optionally platform, currency, link_id, course_id,
    occurred_at. Errors name the file, line and column."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (invalid byte at offset {exc.start}); save the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "order_id" not in reader.fieldnames:
        raise InputError(f"{path}:1: header must include order_id (and usually amount, link_id, occurred_at)")
    return [parse_conversion(row, f"{path}:{reader.line_num}") for row in reader]
