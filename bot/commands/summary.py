"""`coursebot summary`, `coursebot summaries run`, `coursebot conversions import`, `coursebot serve-links`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="coursebot.toml (default: ./coursebot.toml, then ./config/coursebot.toml)")]
StateOption = Annotated[Path | None, typer.Option("--state-dir", help="where the database lives, overrides the config (e.g. the demo's: var/demo)")]
Grouping = Literal["meaning", "keywords"]


def _open(config: Path | None, state_dir: Path | None = None):
    """Settings and a migrated engine for the configured database, which must exist (never created here)."""
    from bot.cli import _settings
    from bot.store.engine import database_url, existing_engine
    from bot.store.migrate import upgrade

    settings = _settings(config, state_dir=state_dir)
    engine = existing_engine(database_url(settings), busy_timeout=settings.store.busy_timeout)
    if settings.store.auto_migrate:
        upgrade(engine)
    return settings, engine


def _encoder(settings, grouping: Grouping):
    if grouping == "keywords":
        return None
    from bot.knowledge import load_encoder

    return load_encoder(settings)


def _timezone(settings, tz: str | None):
    from bot.summary.build import summary_zone

    return summary_zone(settings, tz)


def _database_error(exc: Exception) -> RuntimeError:
    return RuntimeError(f"cannot read the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def _summary_command(app: typer.Typer) -> None:
    @app.command()
    def summary(
        date: Annotated[str | None, typer.Option("--date", help="local day YYYY-MM-DD (default: yesterday)")] = None,
        fmt: Annotated[str, typer.Option("--format", help="text | markdown | json")] = "text",
        chart: Annotated[Path | None, typer.Option("--chart", help="also write the PNG chart here")] = None,
        tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: [summary] timezone, else [policy] timezone)")] = None,
        platform: Annotated[list[str] | None, typer.Option("--platform", help="only this platform (repeatable)")] = None,
        group_by: Annotated[str, typer.Option("--group-questions-by", help="meaning (embedding model) | keywords (no model)")] = "meaning",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """The creator's summary of one local day: volume, bot performance, audience, conversions."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.cli import _fail
        from retrieval.errors import InputError

        try:
            # Arguments and the database first: a typo or a wrong path answers before the summary code loads.
            if fmt not in ("text", "markdown", "json"):
                raise InputError(f"--format {fmt!r}: expected text, markdown or json")
            if group_by not in ("meaning", "keywords"):
                raise InputError(f"--group-questions-by {group_by!r}: expected meaning or keywords")
            from bot.local_days import parse_day, zone

            given_day = parse_day(date) if date else None
            if tz is not None:
                zone(tz)
            settings, engine = _open(config, state_dir)
            from bot.summary.build import SummaryOptions, daily_summary
            from bot.summary.chart import render_chart
            from bot.summary.render import render

            zone = _timezone(settings, tz)
            day = given_day or (datetime.now(UTC).astimezone(zone).date() - timedelta(days=1))
            result = daily_summary(engine, day, zone, options=SummaryOptions.from_settings(settings),
                                   encoder=_encoder(settings, group_by), platforms=tuple(platform or ()))  # type: ignore[arg-type]
            if chart is not None:
                render_chart(result, font_path=settings.summary.chart_font).save(chart)
        except InputError as exc:
            _fail(exc)
        except (SQLAlchemyError, OSError) as exc:
            _fail(_database_error(exc))
        typer.echo(render(result, fmt), nl=False)  # type: ignore[arg-type]  # exact text: no console wrapping or markup


def _scheduler_command(app: typer.Typer) -> None:
    group = typer.Typer(help="The scheduled daily summary.", no_args_is_help=True)

    @group.command("run")
    def run(
        once: Annotated[bool, typer.Option("--once", help="send what is due now (missed ones too), then exit — for cron")] = False,
        group_by: Annotated[str, typer.Option("--group-questions-by", help="meaning | keywords")] = "meaning",
        config: ConfigOption = None,
    ) -> None:
        """Send each recipient their summary at [summary] send_at local time (file delivery; Telegram runs in the bot)."""
        from bot.cli import _fail, out
        from bot.summary.build import SummaryOptions
        from bot.summary.delivery import Recipient, deliveries_from_settings
        from bot.summary.schedule import SummaryScheduler
        from retrieval.errors import InputError

        try:
            settings, engine = _open(config)
            scheduler = SummaryScheduler(
                engine, Recipient.all_from_settings(settings), deliveries_from_settings(settings),
                options=SummaryOptions.from_settings(settings), encoder=_encoder(settings, group_by),  # type: ignore[arg-type]
                catch_up_days=settings.summary.catch_up_days, chart=settings.summary.chart, chart_font=settings.summary.chart_font,
            )
        except InputError as exc:
            _fail(exc)

        async def main() -> None:
            await scheduler.start()
            if once:
                for sent in await scheduler.run_due():
                    out.print(f"summary {sent.day} → {sent.recipient}: sent via {', '.join(sent.delivered) or 'nothing'}"
                              + (f"; failed: {', '.join(sent.failed)}" if sent.failed else ""), markup=False)
                return
            await scheduler.run()

        asyncio.run(main())

    app.add_typer(group, name="summaries")


def _conversions_command(app: typer.Typer) -> None:
    group = typer.Typer(help="Orders from the creator's shop, matched to tracked links.", no_args_is_help=True)

    @group.command("import")
    def import_(
        input: Annotated[Path, typer.Option("--input", "-i", help="CSV with order_id, amount, link_id, occurred_at, …")],
        config: ConfigOption = None,
    ) -> None:
        """Import conversions from a CSV (idempotent: an order already imported is skipped)."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.cli import _fail, out, require_file
        from retrieval.errors import InputError

        try:
            require_file(input)  # before the metrics code loads
            from bot.metrics.conversions import read_conversions_csv, record_conversions

            orders = read_conversions_csv(input)
            settings, engine = _open(config)
            result = record_conversions(engine, orders, tz=_timezone(settings, None))
        except InputError as exc:
            _fail(exc)
        except (SQLAlchemyError, OSError) as exc:
            _fail(_database_error(exc))
        out.print(f"{input}: {result.recorded} recorded, {result.duplicates} already known, "
                  f"{result.unknown_links} with a link id coursebot never issued", markup=False)

    app.add_typer(group, name="conversions")


def _serve_links_command(app: typer.Typer) -> None:
    @app.command("serve-links")
    def serve_links(
        host: Annotated[str | None, typer.Option(help="listen address (default: [web] host)")] = None,
        port: Annotated[int | None, typer.Option(help="listen port (default: [web] port)")] = None,
        config: ConfigOption = None,
    ) -> None:
        """Serve the tracked-link redirect /l/<id> and the conversions webhook."""
        from aiohttp import web

        from bot.cli import _fail, out
        from bot.web.links import links_app_from_settings
        from retrieval.errors import InputError

        try:
            settings, engine = _open(config)
            application = links_app_from_settings(engine, settings)
        except InputError as exc:
            _fail(exc)
        where = (host or settings.web.host, port if port is not None else settings.web.port)
        out.print(f"serving /l/<id> and {settings.web.conversions_path} on http://{where[0]}:{where[1]}", markup=False)
        web.run_app(application, host=where[0], port=where[1], print=None)


def register(app: typer.Typer) -> None:
    _summary_command(app)
    _scheduler_command(app)
    _conversions_command(app)
    _serve_links_command(app)
