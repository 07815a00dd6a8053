"""The `coursebot` command."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from retrieval.errors import InputError

# Piped help is not wrapped at all (a pipe has no width; click would assume 80 and break words).
_HELP_WIDTH = {} if sys.stdout.isatty() else {"terminal_width": 100_000, "max_content_width": 100_000}

app = typer.Typer(
    help="coursebot: answers viewer comments under online-course videos from the creator's catalog and FAQ.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts name config sections ("[summary] timezone"): markup would eat them
    context_settings=_HELP_WIDTH,
)


def _console(*, stderr: bool = False) -> Console:
    """Plain text by default: messages carry `[section]` names, file paths and viewers' comments, which rich
    markup would eat. Piped (not a terminal), nothing is wrapped: a pipe has no width, rich would assume 80."""
    console = Console(stderr=stderr, highlight=False, markup=False)
    if not console.is_terminal:
        console.soft_wrap = True
        console.width = 100_000  # tables too: natural width, no column squeezed to a few characters
    return console


out = _console()
err = _console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="coursebot.toml (default: ./coursebot.toml, then ./config/coursebot.toml, or $COURSEBOT_CONFIG)")]
CatalogOption = Annotated[Path | None, typer.Option("--catalog", help="courses file (.yaml/.json/.csv), overrides the config")]
FaqOption = Annotated[Path | None, typer.Option("--faq", help="FAQ file (.yaml/.json/.csv), overrides the config")]
StateOption = Annotated[Path | None, typer.Option("--state-dir", help="where the index (and database) live, overrides the config")]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"coursebot {version('coursebot')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            print("coursebot (not installed)")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", help="print the version and exit", callback=_version, is_eager=True)] = False) -> None:
    """coursebot: answers viewer comments under online-course videos from the creator's catalog and FAQ."""


# Every command checks its arguments and files with these BEFORE importing the model, jieba or the store
# (10-15 s): a typo must cost a second, not a model load.
def require_file(path: Path, what: str = "file") -> None:
    """A one-line InputError unless `path` is an existing file."""
    if not path.exists():
        raise InputError(f"{path}: {what} not found")
    if not path.is_file():
        raise InputError(f"{path}: is a directory, expected a {what}")


def require_writable(path: Path) -> None:
    """An output file's directory must exist ('-' is stdout)."""
    if str(path) != "-" and not path.parent.is_dir():
        raise InputError(f"{path}: directory {path.parent} not found")


def require_catalog_files(settings) -> None:
    """The catalog, FAQ, intent, sentiment and template files (and the optional ones configured) exist."""
    cat = settings.catalog
    for path in (cat.courses, cat.faq, cat.intents, cat.sentiment, cat.templates, cat.user_dictionary, cat.threads):
        if path is not None:
            require_file(Path(path))


def _settings(config: Path | None, catalog: Path | None = None, faq: Path | None = None, state_dir: Path | None = None):
    from bot.config import load_settings

    settings = load_settings(config)
    if catalog is not None:
        settings.catalog.courses = catalog.resolve()
    if faq is not None:
        settings.catalog.faq = faq.resolve()
    if state_dir is not None:
        settings.state_dir = state_dir.resolve()
    return settings


def _analyzer(settings, *, rebuild: bool = False, progress: bool = False):
    require_catalog_files(settings)
    from bot.analysis import Analyzer
    from bot.knowledge import Knowledge

    return Analyzer(Knowledge.open(settings, rebuild=rebuild, progress=progress))


def _taught(settings, analyzer):
    """The analyzer with everything the creator taught in the config's store (bot/learning)."""
    from bot.learning.teacher import learn_from_store
    from bot.store import StoreUnavailable

    try:
        learn_from_store(settings, analyzer)
    except StoreUnavailable as exc:
        err.print(f"warning: what the creator taught is not applied: {exc}", soft_wrap=True)
    return analyzer


def _fail(exc: Exception) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", str(exc)), soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def index(
    config: ConfigOption = None,
    catalog: CatalogOption = None,
    faq: FaqOption = None,
    state_dir: StateOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="re-encode everything instead of syncing changes")] = False,
) -> None:
    """Build or update the search index from the catalog and FAQ."""
    try:
        settings = _settings(config, catalog, faq, state_dir)
        started = time.perf_counter()
        knowledge = _analyzer(settings, rebuild=rebuild, progress=sys.stderr.isatty()).knowledge
    except InputError as exc:
        _fail(exc)
    report = knowledge.sync
    manifest = knowledge.searcher.vectors.manifest
    out.print(
        f"index {settings.index_dir}: {len(knowledge.catalog.courses)} courses, {len(knowledge.catalog.faq)} FAQ entries, "
        f"{manifest.count} vectors (model {manifest.model}, dim {manifest.dimension}); "
        f"{report.added if report else 0} encoded, {report.removed if report else 0} removed, "
        f"{report.unchanged if report else 0} unchanged in {time.perf_counter() - started:.1f}s"
    )


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="a viewer comment, e.g. 零基础能学Python吗")],
    thread_title: Annotated[str | None, typer.Option("--thread-title", help="title of the video/post it was written under")] = None,
    thread_id: Annotated[str | None, typer.Option("--thread", help="thread id (mapped to a course in the config)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the route record as JSON")] = False,
    viewer: Annotated[str | None, typer.Option("--viewer", help="platform:author_id of a viewer in the config's database: "
                                               "recommendations use their history ([recommend] personalise)")] = None,
    config: ConfigOption = None,
    catalog: CatalogOption = None,
    faq: FaqOption = None,
    state_dir: StateOption = None,
) -> None:
    """Show how one comment is understood and answered."""
    try:
        settings = _settings(config, catalog, faq, state_dir)
        analyzer = _taught(settings, _analyzer(settings))
    except InputError as exc:
        _fail(exc)
    from bot.answers import answer_text
    from bot.comments_io import decision_record
    from bot.events import Event, Thread

    thread = Thread(id=thread_id or f"title:{thread_title}", title=thread_title or "") if (thread_id or thread_title) else None
    platform, author = viewer.split(":", 1) if viewer and ":" in viewer else ("cli", None)
    analysis = analyzer.analyze([Event(platform=platform, event_id="ask", text=text, thread=thread, author_id=author)])[0]
    if viewer:
        try:
            analysis = _with_history(settings, analyzer, analysis, viewer)
        except InputError as exc:
            _fail(exc)
    if as_json:
        out.print_json(json.dumps(decision_record(analysis), ensure_ascii=False))
        return
    u, m = analysis.understanding, analysis.match
    out.print(f"intent     {u.intent} ({u.intent_confidence:.2f}, {u.intent_source})")
    out.print(f"sentiment  {u.sentiment} ({u.sentiment_confidence:.2f})")
    out.print(f"topics     {', '.join(u.topics) or '-'}")
    out.print(f"course     {m.course_id or '-'}" + (f" (from {m.course_source})" if m.course_source else ""))
    table = Table("hit", "kind", "dense", "bm25", "fused", "title")
    for hit in m.hits:
        doc = analyzer.knowledge.searcher.documents[hit.id]
        table.add_row(hit.id.split(":", 1)[1], hit.kind, f"{hit.dense:.3f}", f"{hit.bm25:.2f}", f"{hit.fused:.4f}", doc.title)
    out.print(table)
    label = "recommend" if m.answer_kind == "recommendation" else "candidates"  # ranked, but not what the bot replies
    for rank, r in enumerate(m.recommendations, 1):
        title = analyzer.knowledge.catalog.courses[r.course_id].title
        out.print(f"{label if rank == 1 else '':<10} {rank}. {r.course_id} {title} ({r.score:+.2f}): {'；'.join(r.reasons) or '-'}")
    answer = answer_text(m, analyzer.knowledge.catalog)
    out.print(f"answer     {answer}" if answer else f"answer     no match — {m.reason}")


def _with_history(settings, analyzer, analysis, viewer: str):
    """The analysis with the viewer's history from the config's database (their clicks, purchases, profile)."""
    from bot.recommend import CollaborativeTable
    from bot.store import Store, StoreUnavailable
    from bot.store.models import utcnow

    if ":" not in viewer:
        raise InputError(f"--viewer: expected platform:author_id, e.g. bilibili:12345, got {viewer!r}")
    if analysis.match.request is None or not settings.recommend.personalise:
        return analysis
    platform, author_id = viewer.split(":", 1)
    try:
        store = Store.open_existing(settings)
    except (StoreUnavailable, InputError) as exc:
        err.print(f"warning: the viewer's history is not used: {exc}", soft_wrap=True)
        return analysis
    try:
        viewer_id = store.viewer_id_for(platform, author_id)
        if viewer_id is None:
            err.print("warning: no such viewer in the database; recommendations use the comment alone", soft_wrap=True)
            return analysis
        now = utcnow()
        collaborative = CollaborativeTable(analyzer.recommender)
        if collaborative.due(now):
            collaborative.refresh(store.interaction_pairs(), now)
        thread = analysis.event.thread
        signals = store.viewer_signals(viewer_id, platform, thread.id if thread else None, now,
                                       shown_within_days=settings.recommend.shown_within_days)
        return analyzer.personalise(analysis, signals, now, collaborative.similarity)
    finally:
        store.close()


def route_file(analyzer, source, sink, *, batch_size: int = 256, report=None, decisions=None) -> tuple[int, int]:
    """Analyse a JSONL stream in batches; returns (routed, skipped). `decisions` (bot.route_decisions) adds
    what the bot would do: `action`, `reason`, `reply` (the match's own reason moves to `match_reason`)."""
    from bot.comments_io import BadLine, decision_record, read_comments

    routed = skipped = 0
    batch = []

    def flush() -> None:
        nonlocal routed
        analyses = analyzer.analyze(batch)
        extra = decisions.fields(analyses) if decisions is not None else [None] * len(analyses)
        for analysis, more in zip(analyses, extra):
            record = decision_record(analysis)
            if more:
                record["match_reason"] = record.pop("reason")
                record.update(more)
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        routed += len(batch)
        batch.clear()

    for _, item in read_comments(source):
        if isinstance(item, BadLine):
            skipped += 1
            if report is not None:
                report(item)
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return routed, skipped


@app.command()
def route(
    input: Annotated[Path, typer.Option("--input", "-i", help="comments, one JSON object per line: {id, text, ...}")],
    output: Annotated[Path, typer.Option("--output", "-o", help="decisions, one JSON object per line ('-' for stdout)")] = Path("-"),
    config: ConfigOption = None,
    catalog: CatalogOption = None,
    faq: FaqOption = None,
    state_dir: StateOption = None,
    batch_size: Annotated[int, typer.Option(help="comments encoded per model call")] = 256,
) -> None:
    """Decide, for every comment in a JSONL file, its intent and the answer or no match."""
    try:
        require_file(input)
        require_writable(output)
        settings = _settings(config, catalog, faq, state_dir)
        require_catalog_files(settings)
        from bot.comments_io import open_input
        from bot.route_decisions import RouteDecisions

        analyzer = _taught(settings, _analyzer(settings))
        source = open_input(input)
        decisions = RouteDecisions(settings, analyzer)
    except InputError as exc:
        _fail(exc)
    sink = sys.stdout if str(output) == "-" else output.open("w", encoding="utf-8")
    try:
        with source:
            routed, skipped = route_file(analyzer, source, sink, batch_size=batch_size, decisions=decisions,
                                         report=lambda bad: err.print(f"{input}:{bad.line}: {bad.message}", soft_wrap=True))
    finally:
        decisions.close()
        if sink is not sys.stdout:
            sink.close()
    err.print(f"routed {routed} comments, skipped {skipped} malformed line(s)")


@app.command()
def demo(config: ConfigOption = None, state_dir: StateOption = None) -> None:
    """Replay the bundled sample comments through the whole bot (fresh SQLite database) and show what it does."""
    import asyncio

    try:
        settings = _settings(config, state_dir=state_dir)
        samples = (settings.config_path.parent if settings.config_path else Path("config")) / "samples" / "comments.jsonl"
        require_file(samples, "sample comments file")
        require_catalog_files(settings)
        from bot.demo import follow_up_commands, print_demo, run_demo

        analyzer = _analyzer(settings, progress=sys.stderr.isatty())
        result = asyncio.run(run_demo(settings, analyzer, samples))
    except InputError as exc:
        _fail(exc)
    print_demo(out, result, follow_up_commands(result, settings, config))


def _register_feature_commands() -> None:
    from bot.commands import register_all

    register_all(app)
    for group in app.registered_groups:  # `db`, `handoff`, `summaries`…: the same plain help as the top level
        if group.typer_instance is not None:
            group.typer_instance.rich_markup_mode = None


_register_feature_commands()

if __name__ == "__main__":  # `python -m bot.cli`: run the module as imported by name, which the commands import
    from bot.cli import app as _app

    _app()
