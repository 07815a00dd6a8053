"""`coursebot live board ROOM` (the host's question board), `coursebot live answered ROOM GROUP` and
`coursebot live summary ROOM` (the post-live summary). The data comes from bot/live; these only show it."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated

import typer

from bot.commands.handoffs import ConfigOption, StateOption, open_store
from bot.storable import MAX_ROW_ID

RoomArgument = Annotated[str, typer.Argument(help="the Bilibili live room id (the number in live.bilibili.com/<id>)")]
SessionOption = Annotated[str | None, typer.Option("--session", help="a live session (thread id live:<room>:<start>); default: the latest")]
_ROOM = re.compile(r"^[0-9]{1,20}$")

STATUS = {"open": "待回答", "bot": "机器人已答", "marked": "已标记"}


def _room(room: str) -> str:
    if not _ROOM.match(room):
        from bot.cli import _fail
        from retrieval.errors import InputError

        _fail(InputError(f"room: expected the numeric live room id, got {room!r}"))
    return room


def board_table(board):
    """The board as a rich Table (newest activity first)."""
    from rich.table import Table

    table = Table(title=f"{board.title or board.room_id} · 最近 {board.minutes:g} 分钟的提问 · {len(board.groups)} 类",
                  title_justify="left")
    for name, options in (("#", {"justify": "right"}), ("人次", {"justify": "right"}), ("状态", {}), ("例子", {"ratio": 3}),
                          ("机器人的回答", {"ratio": 2}), ("最近", {})):
        table.add_column(name, **options)
    for g in board.groups:
        status = STATUS[g.status] + (f" · 醒目留言×{g.paid}" if g.paid else "")
        style = "bold red" if g.paid and g.status == "open" else "dim" if g.status != "open" else None
        table.add_row(str(g.id), str(g.questions), status, " / ".join(g.examples), g.bot_answer or "",
                      g.last_at.strftime("%H:%M:%S"), style=style)
    return table


def register(app: typer.Typer) -> None:
    live = typer.Typer(help="Live rooms (bilibili-live): the host's question board and the post-live summary.",
                       no_args_is_help=True)

    @live.command("board")
    def board(
        room: RoomArgument,
        once: Annotated[bool, typer.Option("--once", help="print the board once and exit (default: refresh until Ctrl-C)")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="the board once, as one JSON object")] = False,
        minutes: Annotated[float | None, typer.Option("--minutes", min=0.1, help="questions of the last N minutes (default: [live] board_minutes)")] = None,
        interval: Annotated[float, typer.Option("--interval", min=0.2, help="seconds between refreshes")] = 1.0,
        session: SessionOption = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """The questions of the last N minutes grouped by meaning, newest activity first, with what the bot answered."""
        from bot.cli import _settings, out
        from bot.live.board import live_board

        room = _room(room)
        store = open_store(config, state_dir)
        window = minutes or _settings(config, state_dir=state_dir).live.board_minutes

        def current():
            found = live_board(store, room, minutes=window, thread_id=session)
            if found is None:
                from bot.cli import _fail
                from retrieval.errors import InputError

                _fail(InputError(f"room {room}: no live session stored" + (f" with id {session}" if session else "")))
            return found

        if once or as_json or not out.is_terminal:
            shown = current()
            if as_json:
                out.file.write(json.dumps(shown.as_json(), ensure_ascii=False) + "\n")
            else:
                out.print(board_table(shown))
            return
        from rich.live import Live

        with Live(board_table(current()), console=out, refresh_per_second=4, screen=False) as view:
            try:
                while True:
                    time.sleep(interval)
                    view.update(board_table(current()))
            except KeyboardInterrupt:
                pass

    @live.command("answered")
    def answered(
        room: RoomArgument,
        group: Annotated[int, typer.Argument(help="the group number (# on the board)", min=1, max=MAX_ROW_ID)],
        by: Annotated[str, typer.Option("--by", help="who answered it (kept with the mark)")] = "host",
        session: SessionOption = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Mark a board group answered (the host said it on stream): it stays on the board, marked."""
        from bot.actions import CreatorActions
        from bot.cli import _fail, out
        from bot.store.admin import NotFound
        from retrieval.errors import InputError

        room = _room(room)
        try:  # the same audited action as the console's "已回答" button
            thread_id = CreatorActions(open_store(config, state_dir)).mark_live_answered(room, group, by, session)
        except NotFound as exc:
            _fail(InputError(str(exc)))
        out.print(f"group #{group} marked answered by {by} ({thread_id})")

    @live.command("summary")
    def summary(
        room: RoomArgument,
        session: SessionOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON")] = False,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Sum up a live session now (also done when the live ends) and store it for the day's summary."""
        from bot.cli import _fail, out
        from bot.live.summary import render_live_summary, summarize_and_store
        from retrieval.errors import InputError

        room = _room(room)
        store = open_store(config, state_dir)
        threads = [t for t in store.live_threads(room) if session in (None, t.thread_id)]
        if not threads:
            _fail(InputError(f"room {room}: no live session stored" + (f" with id {session}" if session else "")))
        thread = threads[0]
        result = summarize_and_store(store, thread.platform, thread.thread_id, store.live_ended_at(thread.platform, thread.thread_id))
        if as_json:
            out.file.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
        else:
            for line in render_live_summary(result.as_dict()):
                out.print(line)

    app.add_typer(live, name="live")
