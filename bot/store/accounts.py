"""The console's accounts and sessions, and the audit log every creator action writes (bot/actions.py).

Passwords are argon2 hashes (argon2-cffi); a session is a random token whose SHA-256 is the row's key, so
several `coursebot serve` workers sharing PostgreSQL see the same sessions and a copy of the table signs no
one in. Lockout: `MAX_FAILED_LOGINS` wrong passwords in a row lock the account for `LOCKOUT`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from bot.store.models import AuditEntry, ConsoleSession, ConsoleUser, utcnow
from bot.store.rows import clean_json, clean_text

ROLES = ("owner", "assistant")
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD = 8
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-@")


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    account: Account
    csrf_token: str


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str | None  # the cookie value on success
    error: str | None  # shown to the person logging in: never says whether the name exists
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    by: str
    action: str
    target: str
    detail: dict[str, Any]


def _hasher():
    from argon2 import PasswordHasher  # import here: most commands never touch accounts

    return PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_account(name: str, role: str, password: str) -> None:
    """ValueError with one line naming the field that is wrong."""
    if not name or len(name) > 64 or not set(name) <= _NAME_OK:
        raise ValueError("field 'name': 1-64 characters of A-Z a-z 0-9 _ . - @")
    if role not in ROLES:
        raise ValueError(f"field 'role': expected one of {', '.join(ROLES)}, got {role!r}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"field 'password': at least {MIN_PASSWORD} characters")


class AccountStore:
    dialect: str

    # -- audit ------------------------------------------------------------------------------------------------
    def audit(self, by: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> int:
        with self.session() as session:  # type: ignore[attr-defined]
            row = AuditEntry(by=clean_text(by, 200), action=clean_text(action, 64), target=clean_text(target, 300),
                             detail=clean_json(detail or {}))
            session.add(row)
            session.flush()
            return row.id  # type: ignore[return-value]

    def audit_log(self, limit: int = 100) -> list[AuditView]:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            rows = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))  # type: ignore[union-attr]
            return [AuditView(r.id, r.at, r.by, r.action, r.target, dict(r.detail)) for r in rows]  # type: ignore[arg-type]

    # -- accounts ---------------------------------------------------------------------------------------------
    def add_console_user(self, name: str, role: str, password: str, *, replace: bool = False) -> Account:
        """Create an account (or, with `replace`, set its role and password and lift a lockout)."""
        check_account(name, role, password)
        digest = _hasher().hash(password)
        with self.session() as session:  # type: ignore[attr-defined]
            row = session.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()
            if row is not None and not replace:
                raise ValueError(f"field 'name': account {name!r} exists (--replace sets a new password)")
            row = row or ConsoleUser(name=name, role=role, password_hash=digest)
            row.role, row.password_hash, row.failed_logins, row.locked_until = role, digest, 0, None
            session.add(row)
            session.flush()
            if replace:  # a new password signs every browser out
                session.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == row.id))
            return Account(row.id, row.name, row.role)  # type: ignore[arg-type]

    def console_users(self) -> list[Account]:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return [Account(r.id, r.name, r.role) for r in session.exec(select(ConsoleUser).order_by(ConsoleUser.name))]  # type: ignore[arg-type]

    def log_in(self, name: str, password: str, now: datetime | None = None) -> LoginResult:
        """Check a password; on success a new session token. Wrong passwords count towards the lockout; an unknown
        name costs the same hashing time, so timing does not tell which names exist."""
        from argon2.exceptions import InvalidHashError, VerificationError

        now = now or utcnow()
        hasher = _hasher()
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            user = session.exec(select(ConsoleUser).where(ConsoleUser.name == name[:64])).first()
        if user is None:
            try:
                hasher.verify(_dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                pass
            return LoginResult(None, "用户名或密码错误")
        if user.locked_until is not None and user.locked_until > now:
            return LoginResult(None, "尝试次数过多，账号已暂时锁定，请稍后再试", user.locked_until)
        try:
            hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            with self.session() as session:  # type: ignore[attr-defined]
                row = session.get(ConsoleUser, user.id)
                row.failed_logins += 1
                locked = row.failed_logins >= MAX_FAILED_LOGINS
                if locked:
                    row.failed_logins, row.locked_until = 0, now + LOCKOUT
                session.add(row)
            if locked:
                return LoginResult(None, "尝试次数过多，账号已暂时锁定，请稍后再试", now + LOCKOUT)
            return LoginResult(None, "用户名或密码错误")
        token = secrets.token_urlsafe(32)
        with self.session() as session:  # type: ignore[attr-defined]
            row = session.get(ConsoleUser, user.id)
            row.failed_logins, row.locked_until = 0, None
            if hasher.check_needs_rehash(row.password_hash):
                row.password_hash = hasher.hash(password)
            session.add(row)
            session.add(ConsoleSession(token_hash=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                                       created_at=now, expires_at=now + SESSION_LIFETIME))
            session.execute(sa.delete(ConsoleSession).where(ConsoleSession.expires_at < now))  # housekeeping
        return LoginResult(token, None)

    def signed_in(self, token: str, now: datetime | None = None) -> SignedIn | None:
        now = now or utcnow()
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            found = session.exec(select(ConsoleSession, ConsoleUser).join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
                                 .where(ConsoleSession.token_hash == _digest(token), ConsoleSession.expires_at > now)).first()
        if found is None:
            return None
        row, user = found
        return SignedIn(Account(user.id, user.name, user.role), row.csrf_token)  # type: ignore[arg-type]

    def log_out(self, token: str) -> None:
        with self.session() as session:  # type: ignore[attr-defined]
            session.execute(sa.delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))


_dummy: list[str] = []


def _dummy_hash() -> str:
    """A hash to verify against for unknown names (computed once, on first use)."""
    if not _dummy:
        _dummy.append(_hasher().hash(secrets.token_urlsafe(16)))
    return _dummy[0]
