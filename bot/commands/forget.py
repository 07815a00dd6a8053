"""`coursebot forget --viewer ID`: delete one viewer's data (privacy requests)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.commands.handoffs import ConfigOption, StateOption, open_store


def register(app: typer.Typer) -> None:
    @app.command()
    def forget(
        viewer: Annotated[str, typer.Option("--viewer", help="pseudonym (v_…) or platform:author_id, e.g. bilibili:12345")],
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Delete a viewer's data: profile, links, clicks, orders, queue items; their comments' text is blanked."""
        from bot.cli import _fail, out
        from bot.store import NotFound

        store = open_store(config, state_dir)
        try:
            counts = store.forget_viewer(viewer)
        except NotFound as exc:
            _fail(exc)
        touched = ", ".join(f"{table} {n}" for table, n in counts.items() if n)
        # The raw id the creator typed is not echoed: terminals get logged too.
        out.print(f"forgot {counts.get('viewers', 0)} viewer record(s): {touched or 'nothing else stored'}")
