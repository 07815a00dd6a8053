"""`coursebot faq …`: read and edit the FAQ and the catalog's course facts, live for the next comment.

Reading calls the KnowledgeBase (bot/learning/knowledge_base.py); every write calls one CreatorActions method
(bot/actions.py), the same the console's Knowledge page calls, so each stored revision is audited the same
way whoever made it. This module only parses and prints. Refused fields print one line each, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bot.commands.handoffs import ConfigOption, StateOption

ByOption = Annotated[str, typer.Option("--by", help="who made the change (kept with the revision)")]
IdArgument = Annotated[str, typer.Argument(help="the FAQ entry's id (coursebot faq list)")]
LiveAnswerOption = Annotated[str | None, typer.Option("--live-answer", help="the short form said in a live room ('' for none; must fit [live] danmaku_max_chars)")]
LiveTopicOption = Annotated[str | None, typer.Option("--live-topic", help="what it is about, for 问<topic>的同学 in a live room ('' for none)")]


def register(app: typer.Typer) -> None:
    faq = typer.Typer(help="The FAQ and course facts: list, search, add, edit, retire, history, export, import.", no_args_is_help=True)
    phrasing = typer.Typer(help="Add or remove another way viewers ask an FAQ entry's question.", no_args_is_help=True)

    @faq.command("list")
    def list_(
        search: Annotated[str | None, typer.Option("--search", "-s", help="only entries whose id, question, phrasings, answer or course contain this")] = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """The FAQ as the bot answers from it: the file's entries with your edits, and the entries you added."""
        from rich.table import Table

        from bot.cli import out

        views = _base(config, state_dir).faq(search)
        table = Table("id", "course", "question", "answer", "phrasings", "source")
        for v in views:
            table.add_row(v.id, v.course_id or "-", v.question[:40], v.answer[:40], str(len(v.phrasings)), _source(v.origin, v.file))
        out.print(table if views else "no FAQ entries" + (f" matching {search!r}" if search else ""))

    @faq.command("courses")
    def courses(
        search: Annotated[str | None, typer.Option("--search", "-s", help="only courses whose id, title, description or link contain this")] = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """The catalog's courses with the facts you edited (price, link, description)."""
        from rich.table import Table

        from bot.cli import out

        views = _base(config, state_dir).courses(search)
        table = Table("id", "title", "price", "url", "source")
        for c in views:
            table.add_row(c.id, c.title[:40], f"{c.price:g}", c.url, _source(c.origin))
        out.print(table if views else "no courses" + (f" matching {search!r}" if search else ""))

    @faq.command("show")
    def show(faq_id: IdArgument, config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """One FAQ entry in full: question, phrasings, answer, course, where it comes from."""
        from bot.cli import _fail, out
        from bot.store import NotFound

        v = _base(config, state_dir).entry(faq_id)
        if v is None:
            _fail(NotFound(f"no FAQ entry '{faq_id}' (coursebot faq list shows them)"))
        out.print(f"id         {v.id}")
        out.print(f"question   {v.question}")
        for text in v.alternatives:
            out.print(f"phrasing   {text}")
        out.print(f"answer     {v.answer}")
        out.print(f"course     {v.course_id or '- (every course)'}")
        if v.live_answer or v.live_topic:
            out.print(f"live       {v.live_answer or '-'} (topic: {v.live_topic or '-'})")
        out.print(f"source     {_source(v.origin, v.file)}")

    @faq.command("add")
    def add(
        question: Annotated[str, typer.Option("--question", help="the question as a viewer would ask it")],
        answer: Annotated[str, typer.Option("--answer", help="the reply the bot sends")],
        course: Annotated[str | None, typer.Option("--course", help="the course it is about (default: every course)")] = None,
        faq_id: Annotated[str | None, typer.Option("--id", help="the entry's id (default: creator-<revision>)")] = None,
        phrasings: Annotated[list[str] | None, typer.Option("--phrasing", help="another way to ask it (repeatable)")] = None,
        live_answer: LiveAnswerOption = None,
        live_topic: LiveTopicOption = None,
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Add an FAQ entry; it answers from the next comment on."""
        result = _actions(config, state_dir).add_faq(by, question=question, answer=answer, course_id=course, faq_id=faq_id,
                                                      alternatives=phrasings or [], live_answer=live_answer, live_topic=live_topic)
        _report(result, lambda r: f"added FAQ entry {r.target} (revision #{r.id})")

    @faq.command("edit")
    def edit(
        faq_id: IdArgument,
        question: Annotated[str | None, typer.Option("--question", help="the new question")] = None,
        answer: Annotated[str | None, typer.Option("--answer", help="the new answer")] = None,
        course: Annotated[str | None, typer.Option("--course", help="the course it is about ('' for every course)")] = None,
        live_answer: LiveAnswerOption = None,
        live_topic: LiveTopicOption = None,
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Change an entry's question, answer, course or live fields (phrasings: coursebot faq phrasing add|remove)."""
        from bot.cli import _fail

        fields: dict[str, Any] = {k: v for k, v in (("question", question), ("answer", answer), ("course_id", course),
                                                    ("live_answer", live_answer), ("live_topic", live_topic)) if v is not None}
        if not fields:
            _fail(ValueError("nothing to change: give --question, --answer, --course, --live-answer and/or --live-topic"))
        result = _actions(config, state_dir).edit_faq(faq_id, by, **fields)
        _report(result, lambda r: f"{faq_id}: {_changes(r.before, r.after)} (revision #{r.id})")

    @phrasing.command("add")
    def phrasing_add(faq_id: IdArgument, text: Annotated[str, typer.Argument(help="the phrasing")], by: ByOption = "cli",
                     config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """Another way viewers ask this entry's question."""
        result = _actions(config, state_dir).add_phrasing(faq_id, text, by)
        _report(result, lambda r: f'"{r.after["phrasing"]}" is now a phrasing of FAQ entry {faq_id} (revision #{r.id})')

    @phrasing.command("remove")
    def phrasing_remove(faq_id: IdArgument, text: Annotated[str, typer.Argument(help="the phrasing, as coursebot faq show prints it")],
                        by: ByOption = "cli", config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """Stop matching comments by this phrasing."""
        result = _actions(config, state_dir).remove_phrasing(faq_id, text, by)
        _report(result, lambda r: f'"{r.before["phrasing"]}" is no longer a phrasing of FAQ entry {faq_id} (revision #{r.id})')

    @faq.command("retire")
    def retire(faq_id: IdArgument, by: ByOption = "cli", config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """The entry stops answering (its content stays in the history)."""
        result = _actions(config, state_dir).retire_faq(faq_id, by)
        _report(result, lambda r: f"FAQ entry {faq_id} retired (revision #{r.id})")

    @faq.command("course-edit")
    def course_edit(
        course_id: Annotated[str, typer.Argument(help="the course's id (coursebot faq courses)")],
        price: Annotated[str | None, typer.Option("--price", help="the new price (0: free)")] = None,
        url: Annotated[str | None, typer.Option("--url", help="the new link (http:// or https://)")] = None,
        description: Annotated[str | None, typer.Option("--description", help="the new description")] = None,
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Change a course's price, link or description (titles, aliases and tags stay in the catalog file)."""
        from bot.cli import _fail

        fields: dict[str, Any] = {k: v for k, v in (("price", price), ("url", url), ("description", description)) if v is not None}
        if not fields:
            _fail(ValueError("nothing to change: give --price, --url and/or --description"))
        result = _actions(config, state_dir).edit_course(course_id, by, **fields)
        _report(result, lambda r: f"{course_id}: {_changes(r.before, r.after)} (revision #{r.id})")

    @faq.command("history")
    def history(
        target: Annotated[str, typer.Argument(help="an FAQ entry's id, or a course's")],
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Every change to an FAQ entry (or a course), newest first: when, who, what before and after."""
        from rich.table import Table

        from bot.cli import out
        from bot.learning.history import fields_text
        from bot.local_days import local_time

        revisions = _base(config, state_dir).history(target)
        if not revisions:
            out.print(f"no changes to {target} (as in the files)")
            return
        where = creator_zone(config, state_dir)
        table = Table("revision", f"at ({where.key})", "by", "change", "before", "after")
        for r in revisions:
            table.add_row(str(r.id), local_time(r.at, where), r.by, r.kind, fields_text(r.before), fields_text(r.after))
        out.print(table)

    @faq.command("export")
    def export(
        output: Annotated[Path, typer.Option("--output", "-o", help="the FAQ file to write (YAML, as config/faq.yaml)")],
        courses_output: Annotated[Path | None, typer.Option("--courses-output", help="also write the courses with your edits here")] = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Write the FAQ as the bot answers from it, in the format the FAQ file loader reads."""
        from bot.cli import _fail, out, require_writable
        from retrieval.errors import InputError

        try:
            for path in (output, courses_output):
                if path is not None:
                    require_writable(path)
        except InputError as exc:
            _fail(exc)
        base = _base(config, state_dir)
        out.print(f"wrote {base.export_faq(output)} FAQ entries to {output}")
        if courses_output is not None:
            out.print(f"wrote {base.export_courses(courses_output)} courses to {courses_output}")

    @faq.command("import")
    def import_(
        path: Annotated[Path, typer.Argument(help="an FAQ file (.yaml/.json/.csv, as config/faq.yaml)")],
        prune: Annotated[bool, typer.Option("--prune", help="retire the entries the file does not have")] = False,
        by: ByOption = "import",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Load an FAQ file as revisions: new entries added, changed ones edited; bad rows refused by line."""
        from bot.cli import _fail, err, out, require_file
        from retrieval.errors import InputError

        try:
            require_file(path)
            report = _actions(config, state_dir).import_faq(path, by, prune=prune)
        except InputError as exc:
            _fail(exc)
        for line in report.refused:
            err.print(line, soft_wrap=True, markup=False)
        retired = f", {report.retired} retired" if prune else ""
        out.print(f"{path}: {report.added} added, {report.edited} edited, {report.unchanged} unchanged{retired}; "
                  f"refused {len(report.refused)} row(s)")

    faq.add_typer(phrasing, name="phrasing")
    app.add_typer(faq, name="faq")


def _base(config: Path | None, state_dir: Path | None, *, write: bool = False):
    """The KnowledgeBase of the configured files and database. Reading needs no database (no edits yet: the
    files); an edit opens it, creating and migrating it like `coursebot run` would."""
    from bot.cli import _fail, _settings
    from bot.learning.knowledge_base import KnowledgeBase
    from bot.store import Store, StoreUnavailable
    from bot.store.engine import database_url, require_sqlite_file
    from retrieval.errors import InputError

    try:
        settings = _settings(config, state_dir=state_dir)
        store = None
        if write:
            store = Store.open(settings)
        else:
            try:
                require_sqlite_file(database_url(settings))
            except InputError:
                store = None  # no database yet: nothing was edited
            else:
                store = Store.open_existing(settings)
        return KnowledgeBase.open(settings, store)
    except (InputError, StoreUnavailable) as exc:
        _fail(exc)


def _actions(config: Path | None, state_dir: Path | None):
    """The creator actions on the configured database (created if needed) with its KnowledgeBase: writes are audited."""
    from bot.actions import CreatorActions

    base = _base(config, state_dir, write=True)
    return CreatorActions(base.store, base)


def _report(result, saved) -> None:
    from bot.cli import err, out

    if result.ok:
        out.print(saved(result.revision))
        return
    for message in result.errors.values():
        err.print(f"error: {message}", soft_wrap=True, markup=False)
    raise typer.Exit(2)


def _source(origin, file: str | None = "file") -> str:
    """Where an entry comes from: "faq.yaml", "faq.yaml, edited by 老师 (#12)" or "added by 老师 (#15)"."""
    if origin.source == "file":
        return file or "file"
    who = f"{origin.by} (#{origin.revision})" if origin.revision else "the creator"
    return f"{file}, edited by {who}" if file else f"added by {who}"


def _changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    return "; ".join(f"{name} {before.get(name)!r} → {after.get(name)!r}" for name in after)


def creator_zone(config: Path | None, state_dir: Path | None):
    """The creator's time zone ([policy] timezone, as the console shows times), or a one-line error (exit 2)."""
    from bot.cli import _fail, _settings
    from bot.local_days import zone
    from retrieval.errors import InputError

    try:
        return zone(_settings(config, state_dir=state_dir).policy.timezone)
    except InputError as exc:
        _fail(exc)
