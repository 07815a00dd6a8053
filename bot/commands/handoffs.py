"""`coursebot handoffs` (the human queue), `coursebot handoff resolve ID [--reply TEXT]`,
`coursebot handoff resend ID` (a reply held after a crash or a long pause), and viewer takeovers:
`coursebot handoff takeover-viewer ID|v_…`, `release-viewer v_…|ID`, `takeovers` (what is taken over)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.storable import MAX_ROW_ID

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="coursebot.toml (default: ./coursebot.toml, then ./config/coursebot.toml)")]
StateOption = Annotated[Path | None, typer.Option("--state-dir", help="where the database lives, overrides the config")]


def open_store(config: Path | None, state_dir: Path | None):
    """The configured Store, or a one-line error and exit 2 (bad config, database unreachable or not there:
    these commands never create one)."""
    from bot.cli import _fail, _settings
    from bot.store.engine import database_url, require_sqlite_file
    from retrieval.errors import InputError

    try:
        settings = _settings(config, state_dir=state_dir)
        require_sqlite_file(database_url(settings))  # before the Store's imports: a wrong path answers at once
    except InputError as exc:
        _fail(exc)
    from bot.store import Store, StoreUnavailable

    try:
        return Store.open_existing(settings)
    except (InputError, StoreUnavailable) as exc:
        _fail(exc)


HANDOFF_COLUMNS = ("id", "state", "platform", "thread", "viewer", "comment", "reason")


def _cells(h) -> tuple[str, ...]:
    return (str(h.id), h.state, h.platform, h.thread_title or h.thread_id or "-", h.viewer_name or h.viewer or "-", h.text, h.reason)


def print_handoffs(console, rows) -> None:
    """On a terminal one block per handoff, the comment and reason whole on lines of their own (a seven-column
    table left the comment ~5 characters at 80 columns); piped, tab-separated lines for grep/cut/a spreadsheet."""
    from rich.padding import Padding
    from rich.text import Text

    if not console.is_terminal:
        flat = lambda cell: " ".join(cell.split())  # a tab or newline inside a comment must not split its row
        for line in (HANDOFF_COLUMNS, *(_cells(h) for h in rows)):
            console.file.write("\t".join(flat(cell) for cell in line) + "\n")  # raw: rich would expand the tabs
        return
    for h in rows:
        id_, state, platform, thread, viewer, text, reason = _cells(h)
        console.print(Text.assemble((f"#{id_}", "bold"), f" {state} · {platform} · {thread} · {viewer}"))
        console.print(Padding(Text(text), (0, 0, 0, 4)))
        console.print(Padding(Text(reason, style="dim"), (0, 0, 0, 4)))


def register(app: typer.Typer) -> None:
    @app.command()
    def handoffs(
        config: ConfigOption = None,
        state_dir: StateOption = None,
        all_: Annotated[bool, typer.Option("--all", help="also show resolved handoffs")] = False,
        limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    ) -> None:
        """List comments handed to a human (the queue the bot did not answer). Piped: tab-separated, one per line."""
        from bot.cli import out

        store = open_store(config, state_dir)
        rows = store.list_handoffs(state=None if all_ else "open", limit=limit)
        if not rows:
            out.print("no open handoffs" if not all_ else "no handoffs")
            return
        print_handoffs(out, rows)

    handoff = typer.Typer(help="Work on one handoff.", no_args_is_help=True)

    @handoff.command("resolve")
    def resolve(
        handoff_id: Annotated[int, typer.Argument(help="the id shown by `coursebot handoffs`", min=1, max=MAX_ROW_ID)],
        reply: Annotated[str | None, typer.Option("--reply", help="your answer: sent to the viewer through the outbox")] = None,
        by: Annotated[str, typer.Option("--by", help="who resolved it (shown in the history)")] = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Mark a handoff resolved, optionally queueing your reply to the viewer."""
        from bot.actions import ActionRefused, CreatorActions
        from bot.cli import _fail, out
        from bot.store import NotFound

        actions = CreatorActions(open_store(config, state_dir))
        try:
            view = actions.reply(handoff_id, reply, by).handoff if reply and reply.strip() else actions.dismiss(handoff_id, by)
        except (NotFound, ActionRefused) as exc:
            _fail(exc)
        queued = " — reply queued (sent by the running bot's outbox)" if view.reply_text else ""
        out.print(f"handoff #{view.id} resolved by {view.resolved_by}{queued}")

    @handoff.command("resend")
    def resend(
        handoff_id: Annotated[int, typer.Argument(help="the id shown by `coursebot handoffs`", min=1, max=MAX_ROW_ID)],
        by: Annotated[str, typer.Option("--by", help="who resent it (shown in the history)")] = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Send a held reply after all ("may not have gone out" / "not sent: … late"): check the platform first."""
        from bot.actions import CreatorActions
        from bot.cli import _fail, out
        from bot.store import NotFound

        store = open_store(config, state_dir)
        try:
            view, count = CreatorActions(store).resend(handoff_id, by=by)
        except NotFound as exc:
            _fail(exc)
        replies = "reply" if count == 1 else f"{count} replies"
        out.print(f"handoff #{view.id} resolved by {view.resolved_by} — {replies} queued again (sent by the running bot's outbox)")

    def viewer_ref(ref: str) -> int | str:
        """A handoff id (the viewer who wrote it) or a pseudonym v_…, as typed."""
        ref = ref.strip()
        return int(ref) if ref.isascii() and ref.isdigit() and 0 < int(ref) <= MAX_ROW_ID else ref

    @handoff.command("takeover-viewer")
    def takeover_viewer(
        viewer: Annotated[str, typer.Argument(help="a handoff id (its viewer) or a viewer's pseudonym v_…")],
        by: Annotated[str, typer.Option("--by", help="who answers them now (shown in the history)")] = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Answer a viewer yourself: the bot stays silent with them on every thread of their platform (and in DMs)
        and hands their comments to you, until `coursebot handoff release-viewer`."""
        from bot.actions import ActionRefused, CreatorActions
        from bot.cli import _fail, out
        from bot.store import NotFound

        try:
            taken = CreatorActions(open_store(config, state_dir)).take_over_viewer(viewer_ref(viewer), by)
        except (NotFound, ActionRefused) as exc:
            _fail(exc)
        out.print(f"viewer {taken.pseudonym} ({taken.platform}) taken over by {taken.by}: the bot stays silent with them"
                  f" — `coursebot handoff release-viewer {taken.pseudonym}` gives them back")

    @handoff.command("release-viewer")
    def release_viewer(
        viewer: Annotated[str, typer.Argument(help="a viewer's pseudonym v_… or a handoff id (its viewer)")],
        by: Annotated[str, typer.Option("--by", help="who released them (shown in the history)")] = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Give a taken-over viewer back to the bot: it answers them again from their next comment."""
        from bot.actions import ActionRefused, CreatorActions
        from bot.cli import _fail, out
        from bot.store import NotFound

        try:
            released = CreatorActions(open_store(config, state_dir)).release_viewer(viewer_ref(viewer), by)
        except (NotFound, ActionRefused) as exc:
            _fail(exc)
        out.print(f"viewer {viewer.strip()} released: the bot answers them again" if released
                  else f"viewer {viewer.strip()} was not taken over")

    @handoff.command("takeovers")
    def takeovers(config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """List the threads and viewers a human has taken over (the bot is silent there)."""
        from bot.cli import out

        store = open_store(config, state_dir)
        threads, viewers = store.taken_over_threads(), store.taken_over_viewers()
        if not threads and not viewers:
            out.print("nothing taken over")
        lines = [("thread", t.platform, t.thread_id, t.human_owner or "-") for t in threads]
        lines += [("viewer", v.platform, v.pseudonym, v.by or "-") for v in viewers]
        for line in lines:  # tab-separated, written raw (rich would expand the tabs): for grep/cut
            out.file.write("\t".join(" ".join(cell.split()) for cell in line) + "\n")

    app.add_typer(handoff, name="handoff")
