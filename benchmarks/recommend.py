"""Recommendation quality: a simulated audience replayed through the real pipeline, and a blind real-style set.

    python benchmarks/recommend.py                       # both parts, the defaults (a few minutes on 2 cores)
    python benchmarks/recommend.py --viewers 100 --days 14 --only replay
    python benchmarks/recommend.py --only requests [--requests benchmarks/data/recommend_requests.jsonl]

1. **Replay** (`_audience.py` writes the script; read its docstring for what is hidden and what is noise). Day by
   day, in a fresh SQLite store per configuration: the day's recommendation requests go through `Runner.process`
   (accept → analyse → decide → store, as the live bot), then the day's link requests; the viewer follows the link
   the bot answered with through `bot.web.links.follow_link` (what `GET /l/<id>` runs), and orders arrive through
   `bot.metrics.conversions.record_conversions` (what the conversions webhook runs) with that link's id. Each
   request is scored on the ranked recommendations of its analysis against the viewer's next click and next
   purchase: hit@3 and MRR (reciprocal rank within the first 10; 0 when absent). Configurations are the
   `[recommend]` ablation keys: comment only, + thread context, + history, + collaborative.
2. **Real-style requests** (`benchmarks/data/recommend_requests.jsonl`, written by someone who saw only the catalog
   and a label guide): each line through `Analyzer.analyze` with its thread (title, and the thread's course when
   labelled) and without any thread; hit@1 / hit@3 against the labelled relevant courses. Bad lines are reported
   with line and field and left out.

Without the recommender branch (no `[recommend]` section in the settings) the ranked list is the one course the
analyzer picks, "comment only" drops the thread from the events, and the history/collaborative rows repeat
"+ thread context" (marked "no engine").
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _audience import REQUEST_BANK, Script, Step, catalog_infos, generate
from _common import REPO, Row, print_table

REQUESTS = REPO / "benchmarks" / "data" / "recommend_requests.jsonl"
LIMITS = {"per_thread_per_hour": 10**9, "per_viewer_per_day": 10**9, "per_platform_per_day": 10**9}
MRR_DEPTH = 10
# (row name, [recommend] keys). Each row adds one signal to the one above.
ABLATIONS: tuple[tuple[str, dict[str, bool]], ...] = (
    ("comment only", {"use_thread_context": False, "use_history": False, "use_collaborative": False}),
    ("+ thread context", {"use_thread_context": True, "use_history": False, "use_collaborative": False}),
    ("+ history", {"use_thread_context": True, "use_history": True, "use_collaborative": False}),
    ("+ collaborative", {"use_thread_context": True, "use_history": True, "use_collaborative": True}),
)


# -- what the analysis recommends --------------------------------------------------------------------------------
def recommended(analysis: Any) -> list[str]:
    """Course ids the analysis recommends, best first: the engine's ranked list (`recommendations`, on the analysis
    or its match), else the one course the analyzer picked for a recommendation."""
    if analysis is None:
        return []
    for holder in (analysis, getattr(analysis, "match", None)):
        ranked = getattr(holder, "recommendations", None)
        if ranked is not None:
            return list(dict.fromkeys(_course_of(r) for r in ranked if _course_of(r)))
    match = analysis.match
    return [match.course_id] if match.answer_kind == "recommendation" and match.course_id else []


def _course_of(item: Any) -> str | None:
    return item.get("course_id") if isinstance(item, dict) else getattr(item, "course_id", None)


@dataclass
class Score:
    """hit@k and MRR over requests with a known answer."""

    n: int = 0
    hit1: int = 0
    hit3: int = 0
    rr: float = 0.0

    def add(self, ranked: Sequence[str], relevant: set[str]) -> None:
        self.n += 1
        rank = next((i for i, c in enumerate(ranked[:MRR_DEPTH]) if c in relevant), None)
        if rank is not None:
            self.hit1 += rank == 0
            self.hit3 += rank < 3
            self.rr += 1 / (rank + 1)

    def at(self, k: int) -> float:
        return (self.hit1 if k == 1 else self.hit3) / self.n if self.n else float("nan")

    @property
    def mrr(self) -> float:
        return self.rr / self.n if self.n else float("nan")


# -- settings ----------------------------------------------------------------------------------------------------
def has_engine() -> bool:
    from bot.config import Settings

    return "recommend" in Settings.model_fields


def settings_for(state_dir: Path, keys: dict[str, bool] | None, weights: dict[str, float] | None = None):  # type: ignore[no-untyped-def]
    """The bundled config with generous rate limits, no quiet hours, a big embedding cache, the ablation keys and
    any `--set` [recommend] weights."""
    from bot.config import load_settings

    overrides: dict[str, Any] = {"state_dir": str(state_dir), "model": {"cache_size": 200_000}}
    if (keys is not None or weights) and has_engine():
        overrides["recommend"] = {**(weights or {}), **(keys or {})}
    settings = load_settings(REPO / "config" / "coursebot.toml", **overrides)
    settings.policy.rate_limits = settings.policy.rate_limits.model_copy(update=LIMITS)
    settings.policy.platform_rate_limits = {}
    settings.policy.quiet_hours = settings.policy.quiet_hours.model_copy(update={"start": None, "end": None})
    return settings


# -- 1. replay ---------------------------------------------------------------------------------------------------
@dataclass
class ReplayResult:
    click: Score
    purchase: Score
    links: int = 0  # link requests answered with a link to the asked course
    link_requests: int = 0
    clicks: int = 0
    orders: int = 0
    attributed_orders: int = 0
    seconds: float = 0.0
    lost: Counter[str] = field(default_factory=Counter)  # why link requests got no link to the asked course
    by_kind: dict[str, Score] = field(default_factory=dict)  # next click, by how the request was phrased


def as_event(step: Step, with_thread: bool):  # type: ignore[no-untyped-def]
    from bot.events import Event, Thread

    thread = Thread(step.thread_id, step.thread_title) if with_thread else None
    return Event("bilibili", step.id, step.text, thread=thread, author_id=step.viewer, author_name=step.viewer, created_at=step.at)


async def replay(script: Script, settings, encoder, workdir: Path, *, strip_thread: bool) -> ReplayResult:  # type: ignore[no-untyped-def]
    from bot.analysis import Analyzer
    from bot.knowledge import Knowledge
    from bot.metrics.conversions import ConversionIn, record_conversions
    from bot.privacy import Pseudonymizer
    from bot.runner import Runner, event_clock
    from bot.store import Store
    from bot.web.links import follow_link

    started = time.perf_counter()
    knowledge = Knowledge.open(settings, encoder)
    # A fixed key: the same pseudonyms, link ids and A/B variants in every run (nothing here is a real viewer).
    store = Store.from_url(f"sqlite:///{workdir / f'replay-{secrets.token_hex(4)}.db'}", Pseudonymizer(b"benchmarks/recommend.py replay key"))
    runner = Runner.open(settings, None, analyzer=Analyzer(knowledge), store=store, clock=event_clock)
    prices = {c.id: c.price for c in knowledge.catalog.courses.values()}
    result = ReplayResult(Score(), Score())
    clicked: dict[tuple[str, str], str] = {}  # (viewer, course) → the link id the viewer followed last
    try:
        for day in sorted({s.day for s in script.steps}):
            today = [s for s in script.steps if s.day == day]
            requests = [s for s in today if s.kind == "request"]
            outcomes = await runner.process([as_event(s, not strip_thread) for s in requests])
            analyses = {o.accepted.event.event_id: o.analysis for o in outcomes}
            for step in requests:
                ranked = recommended(analyses.get(step.id))
                if step.id in script.next_click:
                    result.click.add(ranked, {script.next_click[step.id]})
                    result.by_kind.setdefault(step.request_kind or "", Score()).add(ranked, {script.next_click[step.id]})
                if step.id in script.next_purchase:
                    result.purchase.add(ranked, {script.next_purchase[step.id]})
            links = [s for s in today if s.kind == "link"]
            outcomes = await runner.process([as_event(s, not strip_thread) for s in links])
            decided = {o.accepted.event.event_id: o.decision for o in outcomes}
            result.link_requests += len(links)
            for step in links:
                decision = decided.get(step.id)
                link = next((ln for ln in (decision.links if decision else ()) if ln.course_id == step.course), None)
                if link is None:
                    result.lost[_why(decision, step)] += 1
                    continue  # the bot answered with no link to that course: the viewer went to the shop some other way
                result.links += 1
                await asyncio.to_thread(follow_link, store.engine, link.id, user_agent="Mozilla/5.0 (iPhone) BiliApp",
                                        referrer=None, now=step.at + timedelta(minutes=1), pseudonymizer=store.pseudonymizer)
                result.clicks += 1
                clicked[step.viewer, step.course or ""] = link.id
            orders = [ConversionIn(order_id=f"order-{s.id}", amount=prices.get(s.course or "", 0.0), course_id=s.course,
                                   link_id=clicked.get((s.viewer, s.course or "")), occurred_at=s.at)
                      for s in today if s.kind == "purchase"]
            if orders:
                done = await asyncio.to_thread(record_conversions, store.engine, orders, tz=UTC)
                result.orders += done.recorded
                result.attributed_orders += sum(o.link_id is not None for o in orders)
    finally:
        await runner.analyzer.aclose()
        store.close()
    result.seconds = time.perf_counter() - started
    return result


def reference_scores(script: Script) -> dict[str, tuple[Score, Score]]:
    """Two yardsticks from the script alone (no pipeline): the most clicked courses so far across all viewers
    (what a popularity list would do), and the viewer's hidden path from their hidden frontier on (what
    knowing the persona would do: near the ceiling of what history can learn)."""
    from _audience import PERSONAS

    paths = {p.name: p.path for p in PERSONAS}
    persona = {v.id: v for v in script.viewers}
    bought = {v.id: set(paths[v.persona][: v.entry]) for v in script.viewers}
    clicks: Counter[str] = Counter()
    scores = {"popularity": (Score(), Score()), "hidden path": (Score(), Score())}
    for step in script.steps:
        if step.kind == "link" and step.course:
            clicks[step.course] += 1
        elif step.kind == "purchase" and step.course:
            bought[step.viewer].add(step.course)
        elif step.kind == "request":
            path = [c for c in paths[persona[step.viewer].persona] if c not in bought[step.viewer]]
            for name, ranked in (("popularity", [c for c, _ in clicks.most_common(MRR_DEPTH)]), ("hidden path", path)):
                if step.id in script.next_click:
                    scores[name][0].add(ranked, {script.next_click[step.id]})
                if step.id in script.next_purchase:
                    scores[name][1].add(ranked, {script.next_purchase[step.id]})
    return scores


def _why(decision, step: Step) -> str:  # type: ignore[no-untyped-def]
    if decision is None:
        return "not decided"
    if decision.links:
        return f"link to another course ({decision.action})"
    if decision.answer_id:
        return f"{decision.action}, FAQ entry {decision.answer_id}"
    return f"{decision.action}: {decision.reason.split(';', 1)[0][:50]}"


def kind_rows(results: dict[str, ReplayResult], size: str) -> list[Row]:
    """Next-click hit@3 by how the request was phrased, one column per configuration: where each signal helps."""
    kinds = sorted({k for r in results.values() for k in r.by_kind}, key=lambda k: -results[ABLATIONS[0][0]].by_kind.get(k, Score()).n)
    rows = []
    for kind in kinds:
        cells = [f"{results[name].by_kind.get(kind, Score()).at(3):.2f}" for name, _ in ABLATIONS]
        example = REQUEST_BANK[kind][0]  # type: ignore[index]
        rows.append(Row(f"{kind} ({example})", f"n={results[ABLATIONS[0][0]].by_kind.get(kind, Score()).n}", " → ".join(cells)))
    return rows


async def replay_rows(args: argparse.Namespace, encoder, workdir: Path) -> tuple[list[Row], list[Row]]:  # type: ignore[no-untyped-def]
    script = generate(catalog_infos(REPO / "config" / "catalog.yaml"), viewers=args.viewers, days=args.days, seed=args.seed)
    size = f"{args.viewers} viewers, {args.days} d"
    engine = has_engine()
    print(f"replay: {len(script.viewers)} viewers, {args.days} days, {len(script.requests)} requests "
          f"({len(script.next_click)} with a next click, {len(script.next_purchase)} with a next purchase), "
          f"{sum(s.kind == 'link' for s in script.steps)} clicks, {sum(s.kind == 'purchase' for s in script.steps)} purchases; "
          f"recommender branch: {'yes' if engine else 'no (main: one course per request)'}", flush=True)
    rows, results = [], {}
    for name, keys in ABLATIONS:
        if not engine and name in {"+ history", "+ collaborative"}:
            results[name] = results["+ thread context"]
            label = f"{name} (no engine)"
        else:
            settings = settings_for(workdir / "state", keys, args.set)
            results[name] = await replay(script, settings, encoder, workdir, strip_thread=not engine and name == "comment only")
            label = name
            r = results[name]
            print(f"  {name}: {r.seconds:.0f} s; {r.links}/{r.link_requests} link requests answered with the asked course's "
                  f"link, {r.clicks} clicks stored, {r.attributed_orders}/{r.orders} orders attributed to a viewer", flush=True)
            if r.lost and name == ABLATIONS[0][0]:
                print("    link requests without the link: " + "; ".join(f"{n}× {why}" for why, n in r.lost.most_common(4)), flush=True)
        r = results[name]
        rows.append(Row(f"{label}: next click", size, f"hit@3 {r.click.at(3):.3f}  MRR {r.click.mrr:.3f}", "", f"n={r.click.n}"))
        rows.append(Row(f"{label}: next purchase", size, f"hit@3 {r.purchase.at(3):.3f}  MRR {r.purchase.mrr:.3f}", "",
                        f"n={r.purchase.n}"))
    for name, (click, purchase) in reference_scores(script).items():
        for what, score in (("next click", click), ("next purchase", purchase)):
            rows.append(Row(f"reference, {name} (no bot): {what}", size, f"hit@3 {score.at(3):.3f}  MRR {score.mrr:.3f}", "",
                            f"n={score.n}"))
    base, full = results["+ thread context"], results["+ collaborative"]
    for what, b, f in (("next click", base.click, full.click), ("next purchase", base.purchase, full.purchase)):
        for metric, bv, fv in (("hit@3", b.at(3), f.at(3)), ("MRR", b.mrr, f.mrr)):
            gain = (fv - bv) / bv if bv else float("inf")
            rows.append(Row(f"history + collaborative vs content only ({what} {metric})", size, f"{bv:.3f} → {fv:.3f} ({gain:+.0%})",
                            "≥ +20 % relative", "PASS" if gain >= 0.2 else "FAIL"))
    return rows, kind_rows(results, size)


# -- 2. real-style requests --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LabelledRequest:
    line: int
    text: str
    thread_title: str
    thread_course: str | None
    relevant: frozenset[str]


def read_requests(path: Path, course_ids: set[str]) -> tuple[list[LabelledRequest], list[str]]:
    """The labelled requests, and one error line (file:line: field: problem) for each line left out."""
    items, errors = [], []
    for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            item, problem = _request(n, json.loads(raw.decode("utf-8")), course_ids)
        except UnicodeDecodeError:
            item, problem = None, "not UTF-8"
        except json.JSONDecodeError as exc:
            item, problem = None, f"not JSON ({exc.msg})"
        if item is None:
            errors.append(f"{path.name}:{n}: {problem}")
        else:
            items.append(item)
    return items, errors


def _request(n: int, data: object, course_ids: set[str]) -> tuple[LabelledRequest | None, str]:
    if not isinstance(data, dict):
        return None, "expected a JSON object"
    text, title, course, relevant = data.get("text"), data.get("thread_title", ""), data.get("thread_course"), data.get("relevant")
    if not isinstance(text, str) or not text.strip():
        return None, "field 'text': a non-empty string is required"
    if title is not None and not isinstance(title, str):
        return None, f"field 'thread_title': expected a string, got {title!r}"
    if course is not None and course not in course_ids:
        return None, f"field 'thread_course': unknown course id {course!r}"
    if not isinstance(relevant, list) or not relevant or not all(isinstance(c, str) for c in relevant):
        return None, "field 'relevant': a non-empty list of course ids is required"
    unknown = [c for c in relevant if c not in course_ids]
    if unknown:
        return None, f"field 'relevant': unknown course id {unknown[0]!r}"
    return LabelledRequest(n, text.strip(), (title or "").strip(), course, frozenset(relevant)), ""


def request_rows(path: Path, encoder, workdir: Path, weights: dict[str, float] | None = None) -> list[Row]:  # type: ignore[no-untyped-def]
    from bot.analysis import Analyzer
    from bot.events import Event, Thread
    from bot.knowledge import Knowledge
    from retrieval.text import normalize

    settings = settings_for(workdir / "state", None, weights)
    knowledge = Knowledge.open(settings, encoder)
    analyzer = Analyzer(knowledge)
    items, errors = read_requests(path, set(analyzer.knowledge.catalog.courses))
    for error in errors:
        print(error, file=sys.stderr)
    if not items:
        return [Row("real-style requests", "0", "no usable line", "≥ 60 labelled", "FAIL")]
    # The ranking alone, intent errors aside: every text taken as a request, as if the creator had labelled each
    # one ask_recommendation (the creator's own path: a label beats the model). What the first measurement
    # scored (requests known to be requests); the rows above include the intent detector's misses.
    labelled = copy.copy(knowledge.detector)  # the same heads and vetoes, every text labelled a request
    labelled.known = {normalize(i.text).plain: "ask_recommendation" for i in items}
    forced = Analyzer(replace(knowledge, detector=labelled))

    def events(mode: str) -> list:  # type: ignore[type-arg]
        out = []
        for item in items:
            thread = None
            if mode != "none" and (item.thread_title or item.thread_course):
                thread = Thread(f"rs-{item.line}", item.thread_title, course_id=item.thread_course if mode == "mapped" else None)
            out.append(Event("bilibili", f"rs-{mode}-{item.line}", item.text, thread=thread, author_id=f"rs-{item.line}"))
        return out

    scores: dict[str, Score] = {}
    own: dict[str, int] = {}  # requests with the video's own course in the top 3 (in this set it is never wanted)
    recognised: dict[str, Score] = {}  # the same, over the requests the intent detector calls ask_recommendation
    alone: dict[str, Score] = {}  # every request ranked (intent errors aside)
    # Split by whether the comment alone names a topic (some course fits it, as the recommender judges without a
    # thread): the thread has most to say for the requests that do not ("还有类似的吗", "下一步学啥").
    says_topic: dict[int, bool] = {}
    by_topic: dict[tuple[str, bool], Score] = {}
    for mode in ("none", "title", "mapped"):
        score, own[mode], recognised[mode], alone[mode] = Score(), 0, Score(), Score()
        for item, analysis, taken in zip(items, analyzer.analyze(events(mode)), forced.analyze(events(mode))):
            ranked = recommended(analysis)
            score.add(ranked, set(item.relevant))
            alone[mode].add(recommended(taken), set(item.relevant))
            if mode == "none":
                says_topic[item.line] = taken.match.request is None or taken.match.request.specific
            by_topic.setdefault((mode, says_topic[item.line]), Score()).add(recommended(taken), set(item.relevant))
            if analysis.understanding.intent == "ask_recommendation":
                recognised[mode].add(ranked, set(item.relevant))
            own[mode] += item.thread_course is not None and item.thread_course in ranked[:3]
        scores[mode] = score
    size = f"{len(items)} requests" + (f" ({len(errors)} bad lines left out)" if errors else "")
    names = {"none": "comment only (no thread)", "title": "with thread title", "mapped": "with thread title + course mapping"}
    with_course = sum(i.thread_course is not None for i in items)
    rows = [Row(names[m], size, f"hit@1 {s.at(1):.3f}  hit@3 {s.at(3):.3f}  MRR {s.mrr:.3f}", "",
                f"video's own course in top 3: {own[m]}/{with_course}") for m, s in scores.items()]
    for mode, s in recognised.items():
        rows.append(Row(f"{names[mode]}, recognised as ask_recommendation", f"{s.n} of {len(items)}",
                        f"hit@1 {s.at(1):.3f}  hit@3 {s.at(3):.3f}  MRR {s.mrr:.3f}", "", "the ranking alone, intent errors aside"))
    for mode, s in alone.items():
        rows.append(Row(f"{names[mode]}, every request ranked", size, f"hit@1 {s.at(1):.3f}  hit@3 {s.at(3):.3f}  MRR {s.mrr:.3f}",
                        "", "each text labelled ask_recommendation"))
    for topic, what in ((True, "naming a topic"), (False, "naming no topic")):
        cells = [by_topic.get((mode, topic), Score()) for mode in ("none", "title", "mapped")]
        rows.append(Row(f"every request ranked, comments {what}: comment only → title → title + course", f"{cells[0].n} requests",
                        " → ".join(f"{c.at(1):.3f} / {c.at(3):.3f}" for c in cells), "", "hit@1 / hit@3"))
    for mode in ("title", "mapped"):
        for what, table in (("", scores), (", every request ranked", alone)):
            gain = table[mode].at(3) - table["none"].at(3)
            rows.append(Row(f"{names[mode]} − comment only (hit@3{what})", size, f"{gain:+.3f}", "≥ +0.10",
                            "PASS" if gain >= 0.10 else "FAIL"))
    rows.append(Row("labelled requests", size, str(len(items)), "≥ 60", "PASS" if len(items) >= 60 else "FAIL"))
    return rows


# -- main ----------------------------------------------------------------------------------------------------------
async def main(args: argparse.Namespace) -> None:
    from bot.knowledge import load_encoder

    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="coursebot-recommend-"))
    encoder = load_encoder(settings_for(workdir / "state", None))
    if "requests" in args.only:
        print_table("Real-style recommendation requests (benchmarks/recommend.py)", request_rows(args.requests, encoder, workdir, args.set))
    if "replay" in args.only:
        rows, by_kind = await replay_rows(args, encoder, workdir)
        print_table("Simulated audience replay (benchmarks/recommend.py)", rows)
        print_table("Replay, next-click hit@3 by request phrasing: " + " → ".join(name for name, _ in ABLATIONS), by_kind)
    print(f"total {time.perf_counter() - started:.0f} s")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--requests", type=Path, default=REQUESTS, help="labelled real-style requests (JSONL)")
    parser.add_argument("--only", action="append", choices=("replay", "requests"), help="one part (repeatable); default both")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a [recommend] weight for every configuration, e.g. thread_course_penalty=1.0 (repeatable)")
    args = parser.parse_args(argv)
    args.only = args.only or ["requests", "replay"]
    try:
        args.set = {key.strip(): float(value) for key, value in (item.split("=", 1) for item in args.set)}
    except ValueError:
        parser.error("--set takes KEY=VALUE with a number, e.g. --set thread_course_penalty=1.0")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
