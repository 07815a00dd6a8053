"""`coursebot run --platform …` (Telegram, Bilibili, Bilibili live rooms, Douyin) and `coursebot import` (platform exports)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="coursebot.toml (default: ./coursebot.toml, then ./config/coursebot.toml)")]
StateOption = Annotated[Path | None, typer.Option("--state-dir", help="index and database directory, overrides the config")]


# bot.adapters.serve.PLATFORMS (a test keeps them equal): importing that module loads every adapter, seconds
# a mistyped --platform should not cost.
RUN_PLATFORMS = ("telegram", "bilibili", "bilibili-live", "douyin")


def _enabled(settings) -> list[str]:
    return [p for p in RUN_PLATFORMS if getattr(settings, p.replace("-", "_")).enabled]  # bilibili-live: [bilibili_live]


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        platform: Annotated[list[str] | None, typer.Option("--platform", "-p", help="telegram, bilibili, bilibili-live or douyin; repeat for several (default: those with enabled = true)")] = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
    ) -> None:
        """Run the bot: read viewer comments and DMs, reply when confident, hand the rest to you. Stop with Ctrl-C."""
        from bot.cli import _fail, _settings, require_catalog_files
        from retrieval.errors import InputError

        try:
            settings = _settings(config, state_dir=state_dir)
            platforms = list(dict.fromkeys(platform or _enabled(settings)))
            if not platforms:
                raise InputError("no platform to run: pass --platform telegram|bilibili|bilibili-live|douyin, or set enabled = true "
                                 "in its config section")
            unknown = [p for p in platforms if p not in RUN_PLATFORMS]
            if unknown:
                raise InputError(f"--platform {unknown[0]!r}: expected one of {', '.join(RUN_PLATFORMS)}")
            require_catalog_files(settings)
        except InputError as exc:
            _fail(exc)
        from bot.adapters.serve import check_settings
        from bot.store import StoreUnavailable

        try:
            check_settings(settings, platforms)
            # After the checks: a refusal to start is one line, not the import-time chatter of faiss & co.
            logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                                format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            asyncio.run(_until_signalled(settings, platforms))
        except (InputError, StoreUnavailable) as exc:
            _fail(exc)

    @app.command("import")
    def import_(
        platform: Annotated[str, typer.Option("--platform", "-p", help="kuaishou, douyin or bilibili: whose export it is")],
        input: Annotated[Path, typer.Option("--input", "-i", help="the export: .csv (with a header row) or .jsonl")],
        output: Annotated[Path | None, typer.Option("--output", "-o", help="write the comments as JSONL for `coursebot route`/`replay` instead ('-': stdout)")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="only print the comments as JSONL; store nothing")] = False,
        send: Annotated[bool, typer.Option("--send", help="queue the bot's replies for `coursebot run` to send (Bilibili/Douyin); default: record decisions only")] = False,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Import comments exported from Kuaishou, Douyin or Bilibili: decide each one and record it (handoffs included).

        Columns are found by their usual export headers (评论ID, 评论内容, 用户昵称, 作品ID …) or named in
        the config section imports.<platform>. Malformed rows are reported with their line number and skipped.
        """
        from bot.cli import _fail, _settings, err, require_catalog_files, require_file, require_writable
        from retrieval.errors import InputError

        try:  # files before the importer, the store and the model load
            require_file(input, "export file")
            if output is not None:
                require_writable(output)
            settings = _settings(config, state_dir=state_dir)
            if not (dry_run or output is not None):
                require_catalog_files(settings)
        except InputError as exc:
            _fail(exc)
        from bot.adapters.importer import PLATFORMS
        from bot.store import StoreUnavailable

        try:
            if platform not in PLATFORMS:
                raise InputError(f"--platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
            if send and platform == "kuaishou":
                raise InputError("--send: Kuaishou has no reply API; its comments can only be recorded")
            configured = settings.imports.get(platform)
            report = lambda bad: err.print(f"{input}:{bad}", soft_wrap=True)
            if dry_run or output is not None:
                summary = _write_jsonl(input, platform, configured, output, report)
            else:
                settings.policy.dry_run = settings.policy.dry_run or not send
                summary = asyncio.run(_through_pipeline(settings, input, platform, configured, report))
        except (InputError, StoreUnavailable) as exc:
            _fail(exc)
        err.print(summary, soft_wrap=True)


def _write_jsonl(path: Path, platform: str, configured, output: Path | None, report) -> str:
    from bot.adapters.importer import event_record, read_export
    from bot.comments_io import BadLine

    sink = sys.stdout if output is None or str(output) == "-" else output.open("w", encoding="utf-8")
    read = skipped = 0
    try:
        for item in read_export(path, platform, configured):
            if isinstance(item, BadLine):
                skipped += 1
                report(item)
                continue
            read += 1
            sink.write(json.dumps(event_record(item), ensure_ascii=False) + "\n")
    finally:
        if sink is not sys.stdout:
            sink.close()
    return f"read {read} comments, skipped {skipped} malformed row(s)"


async def _through_pipeline(settings, path: Path, platform: str, configured, report) -> str:
    from bot.adapters.importer import ExportSource
    from bot.events import Quarantined
    from bot.runner import Runner, event_clock

    runner = await asyncio.to_thread(Runner.open, settings, None, clock=event_clock)  # decide as of each comment's time

    async def bad_row(bad) -> None:
        report(bad)
        await runner.quarantine([Quarantined(f"{path}:line {bad.line}", bad.message, bad.raw)])

    source = ExportSource(path, platform, configured, on_bad_row=bad_row)
    actions: Counter[str] = Counter()
    try:
        await runner.run([source], until_exhausted=True, on_outcomes=lambda outcomes: actions.update(o.decision.action for o in outcomes))
    finally:
        await runner.analyzer.aclose()
        runner.store.close()
    decided = ", ".join(f"{action} {n}" for action, n in actions.most_common()) or "nothing new"
    mode = "dry run: nothing queued to send" if settings.policy.dry_run else "replies queued for `coursebot run`"
    return (f"imported {source.read} comments ({source.skipped} malformed rows quarantined: `coursebot quarantine`): "
            f"decided {decided} ({mode})")


async def _until_signalled(settings, platforms: list[str]) -> None:
    from bot.adapters.serve import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, platforms, stop=stop)
