"""`coursebot pause` / `coursebot resume`: the kill switch, shared by every running worker through the database."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.commands.handoffs import ConfigOption, StateOption, open_store


def register(app: typer.Typer) -> None:
    @app.command()
    def pause(config: ConfigOption = None, state_dir: StateOption = None,
              by: Annotated[str, typer.Option("--by", help="who paused (kept with the switch)")] = "cli") -> None:
        """Stop all replies now (comments are still read, recorded and handed off)."""
        from bot.cli import out

        open_store(config, state_dir).set_paused(True, by=by)
        out.print("paused: the bot sends no replies until `coursebot resume`")

    @app.command()
    def resume(config: ConfigOption = None, state_dir: StateOption = None,
               by: Annotated[str, typer.Option("--by", help="who resumed")] = "cli") -> None:
        """Let the bot reply again."""
        from bot.cli import out

        open_store(config, state_dir).set_paused(False, by=by)
        out.print("resumed: the bot replies again")
