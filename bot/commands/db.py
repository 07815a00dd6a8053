"""`coursebot db upgrade|current|compact`: schema migrations and upkeep for the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="coursebot.toml (default: ./coursebot.toml, then ./config/coursebot.toml)")]
UrlOption = Annotated[str | None, typer.Option("--url", help="database URL, overrides [store] url (e.g. postgresql+psycopg://…)")]


def _engine(config: Path | None, url: str | None, *, must_exist: bool = False):
    from bot.config import load_settings
    from bot.store.engine import database_url, make_engine, require_sqlite_file

    settings = load_settings(config)
    target = url or database_url(settings)
    if must_exist:  # reading must not leave an empty SQLite file (and its directory) behind
        require_sqlite_file(target)
    return target, make_engine(target, busy_timeout=settings.store.busy_timeout)


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema: create or migrate the tables.", no_args_is_help=True)

    @db.command("upgrade")
    def upgrade(config: ConfigOption = None, url: UrlOption = None,
                revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
        """Create the tables or migrate them to the newest schema (safe to run again)."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.cli import _fail, out
        from bot.store.migrate import current_revision
        from bot.store.migrate import upgrade as run_upgrade
        from retrieval.errors import InputError

        try:
            target, engine = _engine(config, url)
            before = current_revision(engine)
            after = run_upgrade(engine, revision)
        except InputError as exc:
            _fail(exc)
        except (SQLAlchemyError, OSError) as exc:  # one line, never a traceback, never the password
            _fail(RuntimeError(f"database upgrade failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"))
        out.print(f"database {_safe(target)}: {before or 'empty'} → {after}", soft_wrap=True)

    @db.command("current")
    def current(config: ConfigOption = None, url: UrlOption = None) -> None:
        """Show the schema revision of the database and the newest one available."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.cli import _fail, out
        from bot.store.migrate import current_revision, head_revision
        from retrieval.errors import InputError

        try:
            target, engine = _engine(config, url, must_exist=True)
            now = current_revision(engine)
        except InputError as exc:
            _fail(exc)
        except (SQLAlchemyError, OSError) as exc:
            _fail(RuntimeError(f"cannot read database: {type(exc).__name__}: {str(exc).splitlines()[0]}"))
        out.print(f"database {_safe(target)}: {now or 'empty'} (newest {head_revision()})", soft_wrap=True)

    @db.command("compact")
    def compact(config: ConfigOption = None, url: UrlOption = None) -> None:
        """Rewrite the tables so deleted data (e.g. after `forget`) leaves the database files: VACUUM FULL on
        PostgreSQL, VACUUM on SQLite. Tables are locked while rewritten: best run while the bot is stopped."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.cli import _fail, out
        from bot.store.compact import compact as run_compact
        from retrieval.errors import InputError

        try:
            target, engine = _engine(config, url)
            result = run_compact(engine)
        except InputError as exc:
            _fail(exc)
        except (SQLAlchemyError, OSError) as exc:
            _fail(RuntimeError(f"compacting failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"))
        out.print(f"database {_safe(target)} compacted: {_mib(result.bytes_before)} → {_mib(result.bytes_after)}", soft_wrap=True)

    app.add_typer(db, name="db")


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"
