"""`coursebot run --platform telegram`: run the bot on Telegram until Ctrl-C / SIGTERM.

Registers `run` only when no other module did (a generic `run` can call
`bot.adapters.telegram.service.serve(settings)` for the Telegram platform).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="coursebot.toml (default: ./coursebot.toml, then ./config/coursebot.toml)")]
PLATFORMS = ("telegram",)


def register(app: typer.Typer) -> None:
    if any((command.name or getattr(command.callback, "__name__", "")) == "run" for command in app.registered_commands):
        return

    @app.command("run")
    def run(
        platform: Annotated[str, typer.Option("--platform", "-p", help="where to read comments and reply: telegram")] = "telegram",
        config: ConfigOption = None,
        state_dir: Annotated[Path | None, typer.Option("--state-dir", help="index and database directory, overrides the config")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
    ) -> None:
        """Run the bot: read viewer comments and DMs, reply when confident, hand the rest to you. Stop with Ctrl-C."""
        from bot.cli import _fail, _settings
        from retrieval.errors import InputError

        if platform not in PLATFORMS:
            _fail(InputError(f"--platform {platform!r}: expected one of {', '.join(PLATFORMS)}"))
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            settings = _settings(config, state_dir=state_dir)
            asyncio.run(_serve_until_signalled(settings))
        except InputError as exc:
            _fail(exc)


async def _serve_until_signalled(settings) -> None:
    from bot.adapters.telegram.service import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop=stop)
