"""`coursebot quarantine`: the input lines and deliveries that could not be read or stored, kept as they came."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.commands.handoffs import ConfigOption, StateOption, open_store
from bot.storable import MAX_ROW_ID


def register(app: typer.Typer) -> None:
    @app.command()
    def quarantine(
        config: ConfigOption = None,
        state_dir: StateOption = None,
        limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line, the raw input whole")] = False,
        delete: Annotated[list[int] | None, typer.Option("--delete", help="delete this item once handled (repeat for several)", min=1, max=MAX_ROW_ID)] = None,
    ) -> None:
        """List comment lines and webhook deliveries that could not be read or stored (file:line or Msg-Id, why, as received)."""
        from rich.table import Table
        from rich.text import Text

        from bot.cli import out

        store = open_store(config, state_dir)
        try:
            if delete:
                out.print(f"deleted {store.delete_quarantined(delete)} of {len(delete)} quarantined item(s)")
                return
            rows = store.quarantined(limit=limit)
        finally:
            store.close()
        if as_json:
            for row in rows:
                print(json.dumps({"id": row.id, "at": row.created_at.isoformat(), "origin": row.origin, "reason": row.reason,
                                  "raw": row.raw}, ensure_ascii=False))
            return
        if not rows:
            out.print("nothing quarantined")
            return
        table = Table("id", "at", "where", "why", "as received", show_lines=False)
        for row in rows:
            # Text, not markup: raw input is full of [brackets]
            table.add_row(str(row.id), f"{row.created_at:%Y-%m-%d %H:%M}", Text(row.origin), Text(row.reason), Text(row.raw[:80]))
        out.print(table)
