"""`coursebot pause` / `coursebot resume`: the kill switch, shared by every running worker through the database."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.commands.handoffs import ConfigOption, StateOption, open_store

By = Annotated[str, typer.Option("--by", help="who changed it (kept in the audit log)")]


def register(app: typer.Typer) -> None:
    register_switches(app)

    @app.command()
    def pause(config: ConfigOption = None, state_dir: StateOption = None,
              by: Annotated[str, typer.Option("--by", help="who paused (kept with the switch)")] = "cli") -> None:
        """Stop all replies now (comments are still read, recorded and handed off)."""
        from bot.actions import CreatorActions
        from bot.cli import out

        CreatorActions(open_store(config, state_dir)).pause(by)
        out.print("paused: the bot sends no replies until `coursebot resume`")

    @app.command()
    def resume(config: ConfigOption = None, state_dir: StateOption = None,
               by: Annotated[str, typer.Option("--by", help="who resumed")] = "cli") -> None:
        """Let the bot reply again."""
        from bot.actions import CreatorActions
        from bot.cli import out

        CreatorActions(open_store(config, state_dir)).resume(by)
        out.print("resumed: the bot replies again")


def register_switches(app: typer.Typer) -> None:
    """`coursebot switches …`: dry run, per-platform replies and quiet hours at run time (the console's switches page)."""
    group = typer.Typer(help="Run-time switches shared by every worker (the console's 开关 page changes the same).",
                        invoke_without_command=True)

    def actions(config, state_dir):
        from bot.actions import CreatorActions

        return CreatorActions(open_store(config, state_dir))

    def refused(call) -> None:
        from bot.actions import ActionRefused
        from bot.cli import _fail

        try:
            call()
        except ActionRefused as exc:
            _fail(exc)

    @group.callback()
    def show(ctx: typer.Context, config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """Without a subcommand: what is switched now."""
        from bot.cli import out

        if ctx.invoked_subcommand is not None:
            return
        s = open_store(config, state_dir).switches()
        quiet = "config" if s.quiet_hours is None else (f"{s.quiet_hours['start']}-{s.quiet_hours['end']} {s.quiet_hours['mode']}"
                                                        if s.quiet_hours else "off")
        out.print(f"paused: {s.paused}\ndry run: {'config' if s.dry_run is None else s.dry_run}\n"
                  f"platforms off: {', '.join(s.platforms_off) or '-'}\nquiet hours: {quiet}", markup=False)

    @group.command("dry-run")
    def dry_run(value: Annotated[str, typer.Argument(help="on | off | config (back to [policy] dry_run)")],
                config: ConfigOption = None, state_dir: StateOption = None, by: By = "cli") -> None:
        """Decide and record everything, send nothing (on), or send again (off)."""
        from bot.cli import _fail, out

        if value not in ("on", "off", "config"):
            _fail(ValueError(f"dry-run: expected on, off or config, got {value!r}"))
        a = actions(config, state_dir)
        a.use_config("dry_run", by) if value == "config" else a.set_dry_run(value == "on", by)
        out.print(f"dry run: {value}")

    @group.command("platform")
    def platform(name: Annotated[str, typer.Argument(help="telegram | bilibili | douyin")],
                 value: Annotated[str, typer.Argument(help="on | off")],
                 config: ConfigOption = None, state_dir: StateOption = None, by: By = "cli") -> None:
        """Switch the bot's replies on one platform on or off (comments are still read and handed off)."""
        from bot.cli import _fail, out

        if value not in ("on", "off"):
            _fail(ValueError(f"platform: expected on or off, got {value!r}"))
        refused(lambda: actions(config, state_dir).set_platform(name, value == "on", by))
        out.print(f"{name}: replies {value}")

    @group.command("quiet-hours")
    def quiet_hours(start: Annotated[str, typer.Argument(help="HH:MM, or off / config")],
                    end: Annotated[str | None, typer.Argument(help="HH:MM")] = None,
                    mode: Annotated[str, typer.Option("--mode", help="defer (send when they end) | skip")] = "defer",
                    config: ConfigOption = None, state_dir: StateOption = None, by: By = "cli") -> None:
        """Quiet hours in the creator's time zone from now on: `quiet-hours 23:00 08:00`, `quiet-hours off`."""
        from bot.cli import out

        a = actions(config, state_dir)
        if start == "config":
            a.use_config("quiet_hours", by)
        else:
            refused(lambda: a.set_quiet_hours(None if start == "off" else start, end, mode, by))
        out.print(f"quiet hours: {start if start in ('off', 'config') else f'{start}-{end} {mode}'}", markup=False)

    app.add_typer(group, name="switches")
