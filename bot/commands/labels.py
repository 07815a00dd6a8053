"""`coursebot labels …`: the creator teaches the bot (relabel a comment, mark a reply wrong, save an answer as FAQ),
lists what was taught (`history`) and takes a lesson back (`undo`).

Each command calls one Store method (bot/store/corrections.py), the same one the Telegram admin commands call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.commands.handoffs import ConfigOption, StateOption, open_store
from bot.storable import MAX_ROW_ID

T = TypeVar("T")
ByOption = Annotated[str, typer.Option("--by", help="who taught it (kept with the correction)")]


def register(app: typer.Typer) -> None:
    labels = typer.Typer(help="Teach the bot: relabel comments, mark wrong replies, save answers as FAQ; history, undo.", no_args_is_help=True)

    @labels.command("recent")
    def recent(
        config: ConfigOption = None,
        state_dir: StateOption = None,
        limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 20,
    ) -> None:
        """The newest comments with their ids, what the bot understood and what it replied."""
        from rich.table import Table

        from bot.cli import out

        rows = open_store(config, state_dir).recent_comments(limit)
        if not rows:
            out.print("no comments yet")
            return
        table = Table("id", "platform", "comment", "intent", "action", "answer", "reply")
        for r in rows:
            table.add_row(str(r.event_pk), r.platform, r.text[:60], r.intent or "-", r.action or "-", r.answer_key or "-", (r.reply or "")[:40])
        out.print(table)

    @labels.command("relabel")
    def relabel(
        comment_id: Annotated[int, typer.Argument(help="the comment's id (coursebot labels recent)", min=1, max=MAX_ROW_ID)],
        intent: Annotated[str | None, typer.Argument(help="what it wants, e.g. complaint, ask_price, spam")] = None,
        sentiment: Annotated[str | None, typer.Option("--sentiment", help="how it feels: negative, neutral or positive")] = None,
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Say what a comment wants and/or how it feels; the bot's intent and sentiment heads learn it at once."""
        from bot.cli import out

        done = _teach(config, state_dir, lambda store: _actions(store).relabel_both(comment_id, intent, sentiment, by))
        said = [f"labelled {c.payload['intent']}" if c.kind == "relabel" else f"labelled {c.payload['sentiment']} sentiment" for c in done]
        out.print(f"comment #{comment_id} {' and '.join(said)} (correction {', '.join(f'#{c.id}' for c in done)})")

    @labels.command("wrong")
    def wrong(
        comment_id: Annotated[int, typer.Argument(help="the comment the bot replied to (coursebot labels recent)", min=1, max=MAX_ROW_ID)],
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Mark the bot's reply to a comment wrong: that answer is not given again to near-identical comments."""
        from bot.cli import out

        correction = _teach(config, state_dir, lambda store: _actions(store).mark_wrong(comment_id, by))
        out.print(f"reply to comment #{comment_id} marked wrong: {correction.payload['answer_key']} is vetoed for "
                  f"near-identical comments (correction #{correction.id})")

    @labels.command("right")
    def right(
        comment_id: Annotated[int, typer.Argument(help="the comment the bot replied to (coursebot labels recent)", min=1, max=MAX_ROW_ID)],
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Confirm the bot's reply to a comment was right: evidence for the answer thresholds (labels status)."""
        from bot.cli import out

        correction = _teach(config, state_dir, lambda store: _actions(store).confirm_reply(comment_id, by))
        scored = f" at cosine {correction.payload['dense']:.2f}" if "dense" in correction.payload else " (not an FAQ match: no score to learn from)"
        out.print(f"reply to comment #{comment_id} confirmed{scored} (correction #{correction.id})")

    @labels.command("status")
    def status(config: ConfigOption = None, state_dir: StateOption = None) -> None:
        """The answer thresholds in use, where they came from, and how much feedback there is."""
        from bot.cli import _settings, out
        from bot.learning.calibration import MIN_NEAR, MIN_REVIEWED, recalibrated
        from bot.learning.lessons import Lessons
        from retrieval.search import AbstainThreshold

        settings = _settings(config, state_dir=state_dir)
        m = settings.matching
        shipped = AbstainThreshold(m.min_dense, m.min_dense_with_terms, m.min_bm25, m.min_margin)
        lessons = Lessons.fold(open_store(config, state_dir).corrections(("wrong_reply", "right_reply", "undo")))
        threshold, r = recalibrated(shipped, lessons.feedback, m.target_precision)
        origin = {"shipped": "the config (shipped calibration)", "tightened": "raised by wrong replies",
                  "recalibrated": "recalibrated from feedback"}[r.source]
        out.print(f"min_dense             {threshold.min_dense:.3f}  (config {shipped.min_dense:.3f})")
        out.print(f"min_dense_with_terms  {threshold.min_dense_with_terms:.3f}  (config {shipped.min_dense_with_terms:.3f})")
        out.print(f"from                  {origin}; target precision {m.target_precision:.2f}")
        out.print(f"feedback              {r.reviewed} reviewed FAQ replies ({r.wrong} wrong), {r.near} near the config's cut; "
                  f"below the config's values only from {MIN_REVIEWED} reviewed, {MIN_NEAR} near the cut")

    @labels.command("history")
    def history(
        limit: Annotated[int, typer.Option(help="at most this many, newest first", min=1)] = 20,
        kind: Annotated[str | None, typer.Option("--kind", help="only this kind, e.g. relabel, wrong_reply, undo (docs/learning.md)")] = None,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """What you taught, newest first, with the correction ids `labels undo` takes and whether each was undone."""
        from rich.table import Table

        from bot.cli import _fail, out
        from bot.commands.faq import creator_zone
        from bot.learning.history import shorten, taught
        from bot.local_days import local_time

        where = creator_zone(config, state_dir)
        store = open_store(config, state_dir)
        try:
            rows = store.correction_history(limit, kind)
        except ValueError as exc:
            _fail(exc)
        finally:
            store.close()
        if not rows:
            out.print("nothing taught yet" + (f" of kind {kind}" if kind else ""))
            return
        table = Table("id", "kind", f"at ({where.key})", "by", "comment", "text", "taught", "undone")
        for row in rows:
            c = row.correction
            table.add_row(str(c.id), c.kind, local_time(c.at, where), c.by, f"#{c.event_pk}" if c.event_pk else "-", shorten(c.text, 30),
                          taught(c), f"by #{row.undone_by}" if row.undone_by else "-")
        out.print(table)

    @labels.command("undo")
    def undo(
        correction_id: Annotated[int, typer.Argument(help="the correction's id (coursebot labels history)", min=1, max=MAX_ROW_ID)],
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Take back a relabel, sentiment label, wrong or right verdict; the bot forgets it at once."""
        from bot.cli import out

        done = _teach(config, state_dir, lambda store: _actions(store).undo(correction_id, by))
        out.print(f"correction #{correction_id} ({done.payload['kind']}) undone (correction #{done.id})")

    @labels.command("save-faq")
    def save_faq(
        handoff_id: Annotated[int, typer.Argument(help="an answered handoff (coursebot handoffs --all)", min=1, max=MAX_ROW_ID)],
        new: Annotated[bool, typer.Option("--new", help="save as a new FAQ entry answered with your reply")] = False,
        phrasing_of: Annotated[str | None, typer.Option("--phrasing-of", help="save the comment as another phrasing of this FAQ entry")] = None,
        by: ByOption = "cli",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Save an answered handoff as FAQ; without --new or --phrasing-of, show the closest existing entry."""
        from bot.cli import _analyzer, _fail, _settings, _taught, out
        from bot.learning.suggest import closest_faq
        from bot.store import NotFound
        from retrieval.errors import InputError

        if new and phrasing_of:
            _fail(ValueError("give --new or --phrasing-of, not both"))
        store = open_store(config, state_dir)
        if new:
            try:
                correction = _actions(store).save_answer_as_faq(handoff_id, by)
            except NotFound as exc:
                _fail(exc)
            out.print(f"new FAQ entry {correction.payload['faq_id']}: {correction.payload['question']} → {correction.payload['answer']}")
            return
        if phrasing_of:
            try:
                known = faq_ids(_settings(config, state_dir=state_dir), store)
            except InputError as exc:
                _fail(exc)
            if phrasing_of not in known:
                _fail(NotFound(f"no FAQ entry {phrasing_of!r} (ids are in the FAQ file, or creator-<n> for entries you added)"))
            try:
                correction = _actions(store).save_answer_as_faq(handoff_id, by, faq_id=phrasing_of)
            except NotFound as exc:
                _fail(exc)
            out.print(f"\"{correction.payload['phrasing']}\" is now a phrasing of FAQ entry {phrasing_of}")
            return
        try:
            settings = _settings(config, state_dir=state_dir)
            analyzer = _taught(settings, _analyzer(settings))
        except InputError as exc:
            _fail(exc)
        handoff = next((h for h in store.list_handoffs(state=None, limit=1_000_000) if h.id == handoff_id), None)
        if handoff is None:
            _fail(NotFound(f"handoff #{handoff_id} not found (coursebot handoffs --all lists them)"))
        suggestion = closest_faq(analyzer, handoff.text)
        out.print(f"comment   {handoff.text}")
        out.print(f"answer    {handoff.reply_text or '- (answer it first: coursebot handoff resolve ID --reply ...)'}")
        if suggestion is not None:
            out.print(f"closest   FAQ {suggestion.faq_id} \"{suggestion.question}\" (cosine {suggestion.cosine:.2f} to \"{suggestion.matched}\")")
            out.print(f"save as   --phrasing-of {suggestion.faq_id}  (same answer), or --new  (your reply becomes a new entry)")
        else:
            out.print("save as   --new  (no FAQ entry yet)")

    @labels.command("export")
    def export(
        output: Annotated[Path, typer.Option("--output", "-o", help="the CSV sheet to write")],
        uncertain: Annotated[int, typer.Option("--uncertain", help="how many comments to put on the sheet")] = 50,
        pool: Annotated[int, typer.Option(help="look at the newest this many unlabelled comments")] = 2000,
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Write the comments whose label would help most (unsure intent × similar comments waiting) to fill in."""
        from bot.cli import _fail, _settings, out
        from bot.knowledge import load_encoder
        from bot.learning.export import candidates, write_sheet
        from retrieval.errors import InputError

        store = open_store(config, state_dir)
        rows = store.unlabelled_comments(pool)
        try:
            picked = candidates(rows, load_encoder(_settings(config, state_dir=state_dir)), uncertain) if rows else []
        except InputError as exc:
            _fail(exc)
        write_sheet(output, picked)
        out.print(f"wrote {len(picked)} comment(s) to {output} (from {len(rows)} unlabelled); fill in intent, sentiment, faq_id, answer "
                  f"or correct, then: coursebot labels import {output}")

    @labels.command("import")
    def import_(
        path: Annotated[Path, typer.Argument(help="CSV or JSONL: text plus intent and/or faq_id / answer, or correct=false/true; optional id")],
        by: ByOption = "import",
        config: ConfigOption = None,
        state_dir: StateOption = None,
    ) -> None:
        """Load a file of labels; bad rows are refused with file, line and field, the rest are stored."""
        from bot.cli import _fail, _settings, err, out
        from bot.learning.labels_io import import_labels
        from retrieval.errors import InputError

        store = open_store(config, state_dir)
        try:
            report = import_labels(store, path, by, lambda: faq_ids(_settings(config, state_dir=state_dir), store))
        except InputError as exc:
            _fail(exc)
        for line in report.refused:
            err.print(line, soft_wrap=True, markup=False)
        blank = f", {report.blank} left blank" if report.blank else ""
        out.print(f"loaded {report.loaded} correction(s) from {path}; refused {len(report.refused)} row(s){blank}")

    app.add_typer(labels, name="labels")


def _actions(store):
    from bot.actions import CreatorActions

    return CreatorActions(store)


def _teach(config: Path | None, state_dir: Path | None, lesson: Callable[[Any], T]) -> T:
    """Run one correction on the configured store; a comment or intent it refuses is a one-line error (exit 2)."""
    from bot.cli import _fail
    from bot.store import NotFound

    store = open_store(config, state_dir)
    try:
        return lesson(store)
    except (NotFound, ValueError) as exc:
        _fail(exc)  # exits
    finally:
        store.close()


def faq_ids(settings, store) -> set[str]:
    """The FAQ entries a phrasing can be added to: the effective FAQ, the files' entries with the creator's
    revisions (added ones in, retired ones out; no model needed)."""
    from bot.learning.knowledge_base import KnowledgeBase

    return set(KnowledgeBase.open(settings, store).current().faq)
