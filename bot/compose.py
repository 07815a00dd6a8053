"""Reply text: templates with variables, a sticky A/B variant per viewer, tracked links, no repeats.

Pure given its inputs: the variant comes from the viewer's stored assignment or, for a new viewer, from a
keyed hash of their pseudonym (so it is the same on every worker and every replay); the link id is a keyed
hash of the event; the text avoids the bot's recent messages in the thread (platforms flag repeats).
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from bot.analysis import Analysis
from bot.answers import _LEVELS as LEVEL_TEXT
from bot.answers import answer_text
from bot.catalog import Catalog, Course, read_text
from bot.config import LinkSettings
from bot.decision import Accepted, Decision, Facts, TrackedLinkSpec, Verdict
from bot.names import display_name
from bot.privacy import Pseudonymizer
from retrieval.errors import InputError

# Used when templates.yaml has no such key: the short public note that details went by DM, the public
# invitation to open a DM (Telegram bots can't write first), and the acknowledgement of a handoff.
BUILTIN_TEMPLATES = {
    "dm_notice": [
        ("notice-a", "@{viewer_name} 详细信息已经私信发你啦，注意查收～"),
        ("notice-b", "《{course_title}》的价格和链接已私信，请查收～"),
        ("notice-c", "已私信你详细信息，记得看一下私信哦～"),
    ],
    "dm_invite": [
        ("invite-a", "想看详细介绍可以私信我👉 {dm_link}"),
        ("invite-b", "点这里私信我，发你完整资料：{dm_link}"),
    ],
    "handoff_ack": [
        ("handoff-a", "这个问题已经转给老师本人，稍后回复你～"),
        ("handoff-b", "收到，已经帮你转给人工，请稍等～"),
    ],
}
_SUFFIXES = ("～", " 🙂", "！", " 👍", "。")
# Variables that may have no value for a given comment (a viewer without a usable name; a course the viewer named,
# which leaves nothing to say as the reason): a key whose every variant needs one leaves those comments unanswered.
_SOMETIMES_EMPTY = frozenset({"viewer_name", "reason"})
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    text: str
    fields: frozenset[str]

    def render(self, values: dict[str, str | None]) -> str | None:
        """The text with every variable filled, or None when a variable has no value."""
        if any(not values.get(name) for name in self.fields):
            return None
        return self.text.format_map({name: values[name] for name in self.fields}).strip()


class Templates:
    def __init__(self, by_key: dict[str, list[Variant]]) -> None:
        self.by_key = {key: list(variants) for key, variants in by_key.items()}
        for key, variants in BUILTIN_TEMPLATES.items():
            self.by_key.setdefault(key, [_variant(key, vid, text) for vid, text in variants])

    def variants(self, key: str) -> list[Variant]:
        return self.by_key.get(key, [])

    @classmethod
    def load(cls, path: Path) -> Templates:
        """templates.yaml: `templates: {key: [{id, text}, …]}`; every problem names file, key and variant."""
        try:
            data = yaml.safe_load(read_text(path))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
        table = data.get("templates") if isinstance(data, dict) else None
        if not isinstance(table, dict):
            raise InputError(f"{path}:1: expected a top-level 'templates:' mapping of key → list of {{id, text}}")
        by_key: dict[str, list[Variant]] = {}
        for key, items in table.items():
            if not isinstance(items, list) or not items:
                raise InputError(f"{path}: templates.{key}: expected a non-empty list of {{id, text}}")
            seen: set[str] = set()
            by_key[str(key)] = []
            for number, item in enumerate(items, 1):
                if not isinstance(item, dict) or not item.get("id") or not isinstance(item.get("text"), str):
                    raise InputError(f"{path}: templates.{key}[{number}]: needs 'id' and 'text'")
                if str(item["id"]) in seen:
                    raise InputError(f"{path}: templates.{key}[{number}]: duplicate id '{item['id']}'")
                seen.add(str(item["id"]))
                by_key[str(key)].append(_variant(f"{path}: templates.{key}", str(item["id"]), item["text"]))
            if key != "welcome" and all(variant.fields & _SOMETIMES_EMPTY for variant in by_key[str(key)]):  # welcome: 同学
                log.warning("%s: templates.%s: every variant uses {viewer_name} or {reason}; a comment with no value for them "
                            "(a viewer without a usable name, a course the viewer named) gets no '%s' reply (an answer goes to "
                            "you instead): add a variant without both", path, key, key)
        return cls(by_key)


_KNOWN_FIELDS = {"viewer_name", "course_title", "price", "link", "answer", "level", "dm_link", "reason"}


def _variant(where: str, variant_id: str, text: str) -> Variant:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise InputError(f"{where}: variant '{variant_id}': {exc}") from None
    unknown = fields - _KNOWN_FIELDS
    if unknown:
        raise InputError(f"{where}: variant '{variant_id}': unknown variable {{{min(unknown)}}}, "
                         f"expected one of {', '.join(sorted(_KNOWN_FIELDS))}")
    return Variant(variant_id, text, frozenset(fields))


class Composer:
    def __init__(self, templates: Templates, catalog: Catalog, pseudonymizer: Pseudonymizer, links: LinkSettings) -> None:
        self.templates = templates
        self.catalog = catalog
        self.pseudonymizer = pseudonymizer
        self.links = links

    def compose(self, verdict: Verdict, analysis: Analysis | None, accepted: Accepted, facts: Facts) -> Decision:
        match = analysis.match if analysis else None
        base = Decision(
            action=verdict.action, reason=verdict.reason, intent=analysis.understanding.intent if analysis else None,
            course_id=match.course_id if match else None, answer_id=match.answer_id if match else None,
            confidence=match.confidence if match else 0.0, dry_run=verdict.dry_run, send_after=verdict.send_after,
            decided_at=facts.now,
        )
        if analysis is None or not (verdict.replies or verdict.acknowledge) or not verdict.template:
            return base
        values, link = self._values(analysis, accepted)
        key = verdict.template
        variants = self.templates.variants(key)
        assigned, assignment = self._assigned(key, variants, accepted, facts)
        chosen = self._pick(_rotate(variants, assigned), values, facts.recent_thread_texts)
        if chosen is None:  # no variant can be filled (e.g. a template needs a course the match lacks)
            return replace(base, action="handoff" if verdict.replies else verdict.action,
                           reason=f"{verdict.reason}; no template '{key}' variant can be filled")
        variant, text = chosen
        dm_text = None
        if verdict.channel == "public_and_dm":
            notice = self._pick(self.templates.variants("dm_notice"), values, facts.recent_thread_texts)
            text, dm_text = (notice[1], text) if notice else (text, None)
        if verdict.invite_dm:
            invite = self._pick(self.templates.variants("dm_invite"), values, facts.recent_thread_texts)
            text = f"{text}\n{invite[1]}" if invite else text
        used = [t for t in (text, dm_text) if t]
        links = (link,) if link is not None and any(_link_url(self.links, link) in t for t in used) else ()
        return replace(base, text=text, dm_text=dm_text, template_id=key, variant_id=variant.id, links=links,
                       assignment=assignment)

    def _values(self, analysis: Analysis, accepted: Accepted) -> tuple[dict[str, str | None], TrackedLinkSpec | None]:
        match, event = analysis.match, accepted.event
        course: Course | None = self.catalog.courses.get(match.course_id or "")
        answer = answer_text(match, self.catalog) if match.answered else None
        link = None
        if course is not None:
            link = TrackedLinkSpec(self.pseudonymizer.token("link", event.platform, event.event_id, course.id), course.url, course.id)
            if answer:
                answer = answer.replace(course.url, _link_url(self.links, link))
        values = {
            "viewer_name": display_name(event.author_name),  # None: a variant that names nobody is chosen
            "course_title": course.title if course else None,
            "price": ("免费" if course.is_free else f"{course.price_text()}元") if course else None,
            "link": _link_url(self.links, link) if link else None,
            "answer": answer,
            "level": LEVEL_TEXT.get(course.level) if course else None,
            "dm_link": event.raw.get("dm_link") or None,  # Telegram deep link that opens a DM with the bot
            "reason": _short_reason(match),
        }
        return values, link

    def _assigned(self, key: str, variants: list[Variant], accepted: Accepted, facts: Facts) -> tuple[int, tuple[str, str] | None]:
        """Index of the viewer's sticky variant, and the assignment to store when it is new."""
        if not variants:
            return 0, None
        ids = [v.id for v in variants]
        stored = facts.variants.get(key)
        if stored in ids:
            return ids.index(stored), None
        who = accepted.pseudonym or f"event:{accepted.event.platform}:{accepted.event.event_id}"
        index = self.pseudonymizer.bucket("ab", key, who, buckets=len(variants))
        return index, ((key, ids[index]) if accepted.viewer_id else None)

    def _pick(self, variants: list[Variant], values: dict[str, str | None], recent: tuple[str, ...]) -> tuple[Variant, str] | None:
        rendered = [(v, text) for v in variants if (text := v.render(values))]
        if not rendered:
            return None
        for variant, text in rendered:  # the sticky variant first, unless the thread just saw that text
            if text not in recent:
                return variant, text
        last = recent[0] if recent else None
        for variant, text in rendered:
            if text != last:
                return variant, text
        variant, text = rendered[0]
        return variant, next(text + s for s in _SUFFIXES if text + s != last)


def _short_reason(match) -> str | None:
    """Why the recommended course (bot/recommend.py), for a reply: its first reason that says something to the viewer
    ("你问到的这门课" does not); None leaves the template variants that use {reason} out."""
    top = match.recommendations[0] if match.recommendations else None
    if top is None or top.course_id != match.course_id:
        return None
    return next((r for r in top.reasons if r != "你问到的这门课"), None)


def _rotate(variants: list[Variant], start: int) -> list[Variant]:
    return variants[start:] + variants[:start]


def _link_url(settings: LinkSettings, link: TrackedLinkSpec) -> str:
    if settings.base_url:
        return settings.base_url.rstrip("/") + "/" + link.id
    parts = urlsplit(link.url)
    query = f"{parts.query}&{settings.param}={link.id}" if parts.query else f"{settings.param}={link.id}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
