"""`coursebot serve` (the console + tracked links + conversions webhook on one port) and
`coursebot console add-user|users` (accounts; passwords never as an argument: a prompt, a file or stdin)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.commands.handoffs import ConfigOption, StateOption, open_store


def _password(password_file: Path | None) -> str:
    from bot.cli import _fail

    if password_file is None:
        if not sys.stdin.isatty():
            _fail(ValueError("no terminal to ask for the password: give --password-file FILE (or - for stdin)"))
        return typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        text = sys.stdin.read() if str(password_file) == "-" else password_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(ValueError(f"{password_file}: cannot read the password: {exc}"))
    lines = text.splitlines()
    return lines[0] if lines else ""


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Accounts of the creator's web console (`coursebot serve`).", no_args_is_help=True)

    @group.command("add-user")
    def add_user(
        name: Annotated[str, typer.Argument(help="login name (A-Z a-z 0-9 _ . - @)")],
        role: Annotated[str, typer.Option("--role", help="owner (everything) | assistant (inbox and conversations only)")] = "assistant",
        password_file: Annotated[Path | None, typer.Option("--password-file", help="read the password's first line from FILE "
                                                           "(- for stdin); without it you are asked (never pass it as an argument)")] = None,
        replace: Annotated[bool, typer.Option("--replace", help="set a new password / role for an existing account (signs it out)")] = False,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Create a console account (argon2-hashed password)."""
        from bot.cli import _fail, out

        store = open_store(config, state_dir)
        password = _password(password_file)
        try:
            account = store.add_console_user(name, role, password, replace=replace)
        except ValueError as exc:
            _fail(ValueError(f"console add-user: {exc}"))
        store.audit("cli", "console.add_user", f"user:{account.name}", {"role": account.role, "replace": replace})
        out.print(f"{'updated' if replace else 'added'} {account.role} {account.name!r}", markup=False)

    @group.command("users")
    def users(config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """List console accounts."""
        from bot.cli import out

        for account in open_store(config, state_dir).console_users():
            out.print(f"{account.name}\t{account.role}", markup=False)

    app.add_typer(group, name="console")

    @app.command()
    def serve(
        host: Annotated[str | None, typer.Option(help="listen address (default: [web] host, 127.0.0.1)")] = None,
        port: Annotated[int | None, typer.Option(help="listen port (default: [web] port)")] = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Serve the creator's console, the tracked-link redirect /l/<id>, /healthz and the conversions webhook
        on one port. Runs beside `coursebot run` on the same database, or alone on a stored one."""
        from aiohttp import web

        from bot.cli import _settings, out
        from bot.console.app import console_app

        store = open_store(config, state_dir)
        settings = _settings(config, state_dir=state_dir)
        where = (host or settings.web.host, port if port is not None else settings.web.port)
        if not store.console_users():
            out.print("no console account yet: `coursebot console add-user NAME --role owner`", markup=False)
        out.print(f"console on http://{where[0]}:{where[1]}/ (also /l/<id>, /healthz, {settings.web.conversions_path})", markup=False)
        try:
            web.run_app(console_app(store, settings), host=where[0], port=where[1], print=None)
        finally:
            store.close()
