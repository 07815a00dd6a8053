"""Understand a comment and match it to the catalog, in the context of the thread it was written under.

Event → Understanding (normalised text, terms, intent, sentiment, topics) → Match (ranked hits, the
course it is about, the answer or none). Pure given the Knowledge: the same events give the same output.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from bot.events import Event, Thread
from bot.knowledge import Knowledge
from bot.recommend import Recommendation, Recommender, StoredSignals
from retrieval.encoder import AsyncBatchEncoder
from retrieval.intents import QUESTION_INTENTS, IntentPrediction, SentimentPrediction, looks_like_question
from retrieval.recommend import ItemSimilarity, RecommendationQuery, done_with
from retrieval.search import AbstainThreshold, Candidates, Hit
from retrieval.text import NormalizedText, normalize
from retrieval.vetoes import answer_key

AnswerKind = Literal["faq", "course_price", "course_link", "course_content", "recommendation"]
CourseSource = Literal["text", "thread", "topic", "history"]
# Course-level questions the catalog itself answers when no FAQ entry does.
# Cosine at which a comment is the FAQ question itself, give or take punctuation and a word; paraphrases
# of m3e-small stay below it on the bundled samples.
_VERBATIM = 0.95
# FAQ hits looked at for a rival with another answer: phrasings of one entry are already one hit, so a
# rival that is not among the first ten is far behind.
_RIVAL_DEPTH = 10
# Question types an FAQ entry can be recognised by with a pattern alone ("…多少钱？", "…在哪里购买？").
_TYPED_FAQ_INTENTS = frozenset({"ask_price", "ask_link"})
_SUFFIX = re.compile(r"(课程|课|教程|全程班|班)$")
_COURSE_ANSWERS: dict[str, AnswerKind] = {
    "ask_price": "course_price",
    "ask_link": "course_link",
    "ask_course_content": "course_content",
}


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str  # normalised, emoji removed
    terms: tuple[str, ...]
    intent: str
    intent_confidence: float
    intent_source: str
    sentiment: str
    sentiment_confidence: float
    topics: tuple[str, ...]
    truncated: bool = False

    @property
    def is_spam(self) -> bool:
        return self.intent == "spam"


@dataclass(frozen=True, slots=True)
class Match:
    hits: tuple[Hit, ...]
    course_id: str | None  # the course the comment is about
    course_source: CourseSource | None
    answer_kind: AnswerKind | None  # None: no confident answer (abstain)
    answer_id: str | None  # the FAQ entry that answers it, when answer_kind == "faq"
    confidence: float
    reason: str
    # A recommendation request: the courses ranked with their reasons (the first is `course_id`), and the request as
    # the recommender saw it, kept to rank it again with the viewer's history (bot/recommend.py).
    recommendations: tuple[Recommendation, ...] = ()
    request: RecommendationQuery | None = field(default=None, compare=False, repr=False)

    @property
    def answered(self) -> bool:
        return self.answer_kind is not None


@dataclass(frozen=True, slots=True)
class Analysis:
    event: Event
    understanding: Understanding
    match: Match
    # the comment's embedding: viewer profiles (bot/recommend.py) and live question boards (bot/live/board.py)
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


def wants_answer(understanding: Understanding) -> bool:
    """Whether the comment wants something answered (an answer is looked up): a question intent, or a
    question-shaped complaint/opinion ("课跟宣传的不一样 怎么退款"). Praise with a question mark does not."""
    if understanding.intent in QUESTION_INTENTS:
        return True
    return understanding.intent in {"other", "complaint"} and looks_like_question(normalize(understanding.text))


class Analyzer:
    def __init__(self, knowledge: Knowledge, *, thread_cache_size: int = 4096) -> None:
        self.knowledge = knowledge
        matching = knowledge.settings.matching
        self.threshold = AbstainThreshold(matching.min_dense, matching.min_dense_with_terms, matching.min_bm25, matching.min_margin)
        self._answers = _answer_identities(knowledge)
        self.top_k = matching.top_k
        self._names = _course_names(knowledge)
        self._faq_types = _faq_question_types(knowledge)
        self._faq_intents = _typed_course_faq(knowledge, self._faq_types)
        self._threads: OrderedDict[str, _ThreadContext] = OrderedDict()  # thread text → what it says, oldest first
        self.recommender = Recommender(knowledge.catalog, knowledge.searcher, knowledge.segmenter, knowledge.settings.recommend)
        # Teaching swaps the searcher, the heads and the vetoes and edits the FAISS index in place (bot/learning/
        # teacher.py), in another thread than a batch's analysis may be running in: a batch's lookups and matching
        # hold this lock, and so does the Teacher while it swaps, so a batch sees one version of the knowledge.
        self.knowledge_lock = threading.RLock()
        self._thread_cache_size = thread_cache_size
        self._async_encoder: AsyncBatchEncoder | None = None

    # -- entry points ---------------------------------------------------------------------------------------
    def analyze(self, events: Sequence[Event]) -> list[Analysis]:
        """Batch analysis: one encoder call for all comments and unseen thread titles."""
        texts = [normalize(e.text) for e in events]
        titles = self._titles_to_infer(events)
        vectors = self.knowledge.encoder.encode([t.plain for t in texts] + titles)
        return self._finish(events, texts, vectors[: len(texts)], titles, vectors[len(texts) :])

    async def analyze_async(self, event: Event) -> Analysis:
        """For the bot's event loop: the model runs in a worker thread, batched with concurrent calls."""
        if self._async_encoder is None:
            self._async_encoder = AsyncBatchEncoder(self.knowledge.encoder)
        text = normalize(event.text)
        titles = self._titles_to_infer([event])
        vectors = await self._async_encoder.encode([text.plain, *titles])
        return self._finish([event], [text], vectors[:1], titles, vectors[1:])[0]

    async def aclose(self) -> None:
        if self._async_encoder is not None:
            await self._async_encoder.aclose()

    # -- stages ---------------------------------------------------------------------------------------------
    def _finish(
        self, events: Sequence[Event], texts: list[NormalizedText], vectors: np.ndarray, titles: list[str], title_vectors: np.ndarray
    ) -> list[Analysis]:
        with self.knowledge_lock:
            for title, vector in zip(titles, title_vectors):
                self._remember_title(title, vector)
            predictions = self.knowledge.detector.detect(texts, vectors)
            understandings = [self._understand(text, intent, sentiment) for text, (intent, sentiment) in zip(texts, predictions)]
            candidates = self.knowledge.searcher.candidates(vectors, [u.terms for u in understandings])
            vetoed = self.knowledge.vetoes.vetoed(vectors)
            return [
                Analysis(event, understanding, _unless_vetoed(self._match(event, understanding, found), vetoes), vector)
                for event, understanding, found, vetoes, vector in zip(events, understandings, candidates, vetoed, vectors)
            ]

    def knowledge_changed(self) -> None:
        """The creator changed the FAQ or a course (bot/learning; the Teacher holds `knowledge_lock`): re-derive all
        this analyzer keeps about them — the FAQ's question types and answers, the course names, the recommender
        (its searcher's documents, prices, levels and course vectors: the old one indexed the new searcher's
        documents by the old positions and failed once the creator had added an entry) and each known thread's
        course (from the thread's stored vector: no model call)."""
        knowledge = self.knowledge
        self._faq_types = _faq_question_types(knowledge)
        self._faq_intents = _typed_course_faq(knowledge, self._faq_types)
        self._answers = _answer_identities(knowledge)  # a taught entry that repeats an answer is no rival
        self._names = _course_names(knowledge)
        self.recommender = Recommender(knowledge.catalog, knowledge.searcher, knowledge.segmenter, knowledge.settings.recommend)
        for title, known in list(self._threads.items()):
            self._remember_title(title, known.vector)

    def _understand(self, text: NormalizedText, intent: IntentPrediction, sentiment: SentimentPrediction) -> Understanding:
        segmenter = self.knowledge.segmenter
        terms = tuple(segmenter.terms(text.plain)) if not text.is_empty else ()
        sentiment_label, sentiment_conf = sentiment.label, sentiment.confidence
        # Praise and complaints carry their sentiment in the label; trust it over the generic head.
        if intent.intent == "praise" and sentiment_label == "negative" and intent.confidence > sentiment_conf:
            sentiment_label, sentiment_conf = "positive", intent.confidence
        if intent.intent == "complaint" and sentiment_label == "positive" and intent.confidence > sentiment_conf:
            sentiment_label, sentiment_conf = "negative", intent.confidence
        return Understanding(
            text=text.plain,
            terms=terms,
            intent=intent.intent,
            intent_confidence=round(intent.confidence, 4),
            intent_source=intent.source,
            sentiment=sentiment_label,
            sentiment_confidence=round(sentiment_conf, 4),
            topics=tuple(segmenter.keywords(text.plain, tokens=terms)),
            truncated=text.truncated,
        )

    def _match(self, event: Event, understanding: Understanding, found: Candidates) -> Match:
        searcher = self.knowledge.searcher
        if not understanding.text:
            return Match((), None, None, None, None, 0.0, "nothing to match (empty or emoji only)")
        hits = tuple(searcher.rank(found, k=self.top_k))
        named, thread_course = self.context_courses(event, understanding, found)
        course_id, source = (named, "text") if named else (thread_course, "thread" if thread_course else None)
        intent = understanding.intent

        def result(kind: AnswerKind | None, answer_id: str | None, confidence: float, reason: str, course=None, src=None) -> Match:
            # The comment is about the course it names, the course its answer is about, or (for
            # course-level questions) the thread's course; a general question under a video is not.
            if course is None:
                faq_course = self.knowledge.catalog.faq[answer_id].course_id if answer_id else None
                if named:
                    course, src = named, "text"
                elif faq_course:
                    course, src = faq_course, source
                elif intent in _COURSE_ANSWERS or intent == "ask_recommendation":
                    course, src = course_id, source
            return Match(hits, course, src if course else None, kind, answer_id, round(confidence, 4), reason)

        if not self._asks(understanding):
            return result(None, None, 0.0, f"not a question ({intent})")

        best, unsure = self._faq_answer(understanding, found, course_id)
        if best is not None:
            return result("faq", _entry(best), best.dense, f"faq match dense {best.dense:.2f} bm25 {best.bm25:.1f}")

        # Two FAQ answers too close to choose still leave the catalog's own answers about the course in view.
        if intent == "ask_recommendation":
            return self._recommend(result, event, understanding, found, named, thread_course)
        if course_id and intent in _COURSE_ANSWERS:
            # "多少钱" under a course's video: the creator's own FAQ entry on that course's price (or link)
            # if there is one, else the catalog's facts.
            own = self._course_faq(course_id, intent, found) if intent in _TYPED_FAQ_INTENTS else None
            if own is not None:
                return result("faq", own.id.split(":", 1)[1], understanding.intent_confidence, f"{intent} FAQ of course {course_id} ({source})")
            return result(_COURSE_ANSWERS[intent], None, understanding.intent_confidence, f"{intent} about course {course_id} ({source})")
        return result(None, None, unsure[0], unsure[1])

    def _faq_answer(self, understanding: Understanding, found: Candidates, course_id: str | None) -> tuple[Hit | None, tuple[float, str]]:
        """The FAQ entry that answers, or None and (confidence, reason) for the hand-off."""
        # FAQ entries about this course or about no course in particular: another course's FAQ never
        # answers, and without a course in view only general entries can.
        faq = self.knowledge.searcher.rank(found, k=_RIVAL_DEPTH, kinds={"faq"}, course_ids={course_id, None})
        best = faq[0] if faq else None
        if best is not None and not self._faq_fits(understanding, best):
            best = None
        recommendation = understanding.intent == "ask_recommendation"
        if not self.threshold.accepts(best) or (recommendation and best.dense < self.threshold.min_dense + 0.1):
            best_dense = best.dense if best else 0.0
            return None, (best_dense, f"no answer above threshold (best faq dense {best_dense:.2f})")
        assert best is not None
        rival = self.threshold.close_rival(faq, self._answers)
        if rival is None:
            return best, (best.dense, "")
        certain = self._course_decides(understanding, best, rival, course_id)
        if certain is None:
            return None, (best.dense, f"two answers too close: {_entry(best)} ({best.dense:.2f}) vs {_entry(rival)} ({rival.dense:.2f})")
        return certain, (certain.dense, "")

    def context_courses(self, event: Event, understanding: Understanding, found: Candidates) -> tuple[str | None, str | None]:
        """(course the comment names, course of its thread): the scope its FAQ answers come from."""
        thread_course = self.thread_course(event.thread)
        named = self._named_course(understanding.text, found, by_faq=thread_course is None)
        return named, thread_course

    def _asks(self, understanding: Understanding) -> bool:
        return wants_answer(understanding)

    def _faq_fits(self, understanding: Understanding, hit: Hit) -> bool:
        """A price or link question its pattern recognised (多少钱, 链接在哪) takes an FAQ answer only from an
        entry asking the same: "爬虫课的链接有吗" sits close to "爬虫有法律风险吗" in embedding space, but that
        entry says nothing about where to buy. Without one, the catalog's price or link answers."""
        if understanding.intent_source != "pattern" or understanding.intent not in _TYPED_FAQ_INTENTS:
            return True
        question_type = self._faq_types.get(hit.id)
        return question_type is not None and question_type.intent == understanding.intent

    def _course_decides(self, understanding: Understanding, best: Hit, rival: Hit, course_id: str | None) -> Hit | None:
        """Of two close entries with different answers, the one about the course in view (named in the comment
        or the thread's), when the other is not about it and it could answer on its own."""
        if course_id is None or (best.course_id == course_id) == (rival.course_id == course_id):
            return None
        own = best if best.course_id == course_id else rival
        return own if self.threshold.accepts(own) and self._faq_fits(understanding, own) else None

    def _recommend(self, result, event: Event, understanding: Understanding, found: Candidates, named: str | None,
                   thread_course: str | None) -> Match:
        """Whether to recommend is decided as before (a course named, a course fitting the topic, or a thread about a
        course); which course, by the recommender's ranking of the comment, the thread, level and budget words."""
        courses = self.knowledge.searcher.rank(found, k=1, kinds={"course"})
        topic = bool(courses) and self.threshold.accepts(courses[0])
        # Only a title or alias the comment spells out asks for that very course (even one bought or just shown);
        # a course the rankings agree on is a strong topic. One named as finished ("学完pandas了", "除了ppt") is
        # where the viewer comes from, and a request naming the video's own course under it ("剪映里那点调色太简单了
        # 想学专业点的") uses it as context: they are watching it (docs/recommendations.md, "The video's context").
        text = understanding.text
        mentioned = [(course_id, done_with(text, *m.span())) for pattern, _, course_id in self._names
                     for m in pattern.finditer(text)]
        done = {course_id for course_id, finished in mentioned if finished}
        by_name = next((c for c, _ in mentioned if c not in done and c != thread_course), None)
        if named in done or (named == thread_course and by_name is None):
            named = None
        request = self.recommender.query(text, found, self._thread_cosines_of(event.thread), by_name, thread_course,
                                         specific=bool(named) or topic, done=done)
        ranked = self.recommender.rank(request)
        top = ranked[0].course_id if ranked else None

        def recommended(confidence: float, reason: str, source: CourseSource) -> Match:
            return replace(result("recommendation", None, confidence, reason, course=top, src=source),
                           recommendations=ranked, request=request)

        if named:
            return recommended(1.0, "recommend the course named in the comment", "text")
        if top and topic:
            return recommended(courses[0].dense, f"recommend best course for the request ({courses[0].dense:.2f})", "topic")
        if top and thread_course:
            return recommended(0.5, "recommend from the thread (no topic named)", "thread")
        if top and request.budget is not None:  # "有免费的课吗": the price decides
            return recommended(0.5, f"recommend by budget ({request.budget})", "topic")
        return replace(result(None, None, courses[0].dense if courses else 0.0, "no course fits the request"),
                       recommendations=ranked, request=request)

    def personalise(self, analysis: Analysis, signals: StoredSignals, now, similarity: ItemSimilarity | None = None) -> Analysis:
        """The recommendation ranked again with the viewer's history (clicks, purchases, profile, what similar viewers
        took); courses bought or just shown in this thread drop out unless named. A request no course fitted is
        answered when the history points somewhere."""
        match = analysis.match
        if match.request is None:
            return analysis
        history = self.recommender.history(signals, now)
        if history is None or history.empty:
            return analysis
        ranked = self.recommender.rank(match.request, history, similarity)
        if not ranked:
            return replace(analysis, match=replace(match, answer_kind=None, course_id=None, course_source=None, recommendations=(),
                                                   reason="every fitting course was bought or just shown to the viewer"))
        top = ranked[0].course_id
        if match.answered:
            changed = replace(match, course_id=top, recommendations=ranked,
                              reason=match.reason + ("" if top == match.course_id else f"; {top} from the viewer's history"))
        elif history.profile is not None or history.interactions:
            changed = replace(match, answer_kind="recommendation", course_id=top, course_source="history", confidence=0.5,
                              recommendations=ranked, reason="recommend from the viewer's history (no topic named)")
        else:
            changed = replace(match, recommendations=ranked)
        return replace(analysis, match=_unless_vetoed(changed, self.knowledge.vetoes.vetoed(analysis.vector[None, :])[0])
                       if analysis.vector is not None else changed)

    def _course_faq(self, course_id: str, intent: str, found: Candidates) -> Hit | None:
        """The course's own FAQ entry answering this type of question, if the creator wrote one. Short
        comments ("價格？") sit far from any phrasing in embedding space, so the question type decides and
        the dense score only has to clear the lower bar."""
        entries = self._faq_intents.get((course_id, intent), ())
        hits = self.knowledge.searcher.rank(found, k=len(entries) or 1, kinds={"faq"}, course_ids={course_id}, mode="dense")
        typed = [h for h in hits if h.id in entries]
        return typed[0] if typed and typed[0].dense >= self.threshold.min_dense_with_terms else None

    # -- courses ----------------------------------------------------------------------------------------------
    def _named_course(self, text: str, found: Candidates, *, by_faq: bool) -> str | None:
        """A course the comment itself names: by title/alias, a course that dense and BM25 agree on, or
        (`by_faq`, when no thread says otherwise) one course's own FAQ entry that the rankings agree on, such
        as a near-verbatim copy of its question ("Python零基础入门课多少钱"). Under the 剪映 video
        "需要数学基础吗" stays about 剪映."""
        for pattern, _, course_id in self._names:  # longest first
            if pattern.search(text):
                return course_id
        searcher = self.knowledge.searcher
        courses = searcher.rank(found, k=1, kinds={"course"})
        if courses and self.threshold.agrees(courses[0]):
            return courses[0].course_id
        if not by_faq:
            return None
        # One course's own FAQ entry, when the dense ranking of the FAQ and the ranking of the courses point at
        # the same course, and the comment copies one of the entry's phrasings or the hybrid ranking agrees
        # with a strong match ("打算试试国考 一般是秋天报还是年底报啊" in a general Q&A thread: the civil-service
        # course's exam-dates entry). "完全零基础能学吗" and "大概要学多久" stay about no course: several courses
        # have such an entry, and the rankings part ways.
        closest = searcher.rank(found, k=1, kinds={"faq"}, mode="dense")
        if not (closest and courses and closest[0].course_id and closest[0].course_id == courses[0].course_id):
            return None
        if closest[0].dense >= _VERBATIM:
            return closest[0].course_id
        best = searcher.rank(found, k=1, kinds={"faq"})
        if best and best[0].id == closest[0].id and self.threshold.agrees(best[0]):
            return best[0].course_id
        return None

    def thread_course(self, thread: Thread | None) -> str | None:
        """The course a thread is about: the event's own mapping, the creator's config, or its title."""
        if thread is None:
            return None
        configured, title = self._thread_source(thread)
        if not title:
            return configured
        known = self._threads.get(title)
        return known.course_id if known else None

    def _thread_source(self, thread: Thread) -> tuple[str | None, str]:
        """(course set by the event or the config, text to infer the course from — "" when that setting decides)."""
        if thread.course_id and thread.course_id in self.knowledge.catalog.courses:
            return thread.course_id, ""
        mapping = self.knowledge.threads.get(thread.id)
        if mapping is not None and (mapping.course_id or not (thread.title or mapping.title)):
            return mapping.course_id, ""
        return None, _thread_text(thread, mapping.title if mapping else "")

    def _titles_to_infer(self, events: Sequence[Event]) -> list[str]:
        """Thread texts not seen yet: a course is inferred from them, and recommendations weigh courses by them."""
        titles: list[str] = []
        for event in events:
            title = self._context_text(event.thread) if event.thread else ""
            if title and title not in self._threads and title not in titles:
                titles.append(title)
        return titles

    def _context_text(self, thread: Thread) -> str:
        """The thread's title (or the configured one) and description, however its course is known."""
        mapping = self.knowledge.threads.get(thread.id)
        return _thread_text(thread, mapping.title if mapping else "")

    def _thread_cosines_of(self, thread: Thread | None) -> np.ndarray | None:
        known = self._threads.get(self._context_text(thread)) if thread is not None else None
        return known.cosines if known else None

    def _remember_title(self, title: str, vector: np.ndarray) -> None:
        text = normalize(title).plain
        named = next((course_id for pattern, _, course_id in self._names if pattern.search(text)), None)
        if named:
            course_id: str | None = named
        else:
            hits = self.knowledge.searcher.search(vector, self.knowledge.segmenter.terms(text), k=1, kinds={"course"})
            course_id = hits[0].course_id if hits and self.threshold.accepts(hits[0]) else None
        self._threads[title] = _ThreadContext(vector, course_id, self.recommender.cosines_to(vector))
        while len(self._threads) > self._thread_cache_size:
            self._threads.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _ThreadContext:
    """What a thread's text says, kept per text: its vector (to infer the rest again when the knowledge changes),
    the course inferred from it and its cosine to each course (the recommender's thread signal)."""

    vector: np.ndarray
    course_id: str | None
    cosines: np.ndarray


def _unless_vetoed(match: Match, vetoed: dict[str, float]) -> Match:
    """No answer the creator marked wrong for a near-identical comment: the comment goes to a human instead."""
    key = answer_key(match.answer_kind, match.answer_id, match.course_id)
    if key is None or key not in vetoed:
        return match
    return replace(match, answer_kind=None, answer_id=None,
                   reason=f"creator marked {key} wrong for a near-identical comment (cosine {vetoed[key]:.2f})")


def _entry(hit: Hit) -> str:
    """The FAQ entry id of an FAQ hit ("faq:faq-refund" → "faq-refund")."""
    return hit.id.split(":", 1)[1]


def _answer_identities(knowledge: Knowledge) -> dict[str, str]:
    """FAQ document id → its answer, normalised: entries giving the same answer are never rivals."""
    return {f"faq:{entry.id}": normalize(entry.answer).plain for entry in knowledge.catalog.faq.values()}


def _thread_text(thread: Thread, configured_title: str) -> str:
    return " ".join(p for p in (thread.title or configured_title, thread.description[:200]) if p).strip()


def _course_names(knowledge: Knowledge) -> list[tuple[re.Pattern[str], int, str]]:
    """(pattern, length, course id) for every title and alias, longest first. "ppt课" also answers to
    "ppt" (viewers write "ppt那门多少钱"); Latin names only match as whole words, so "ps" is not "https"."""
    names: dict[str, str] = {}
    for course in knowledge.catalog.courses.values():
        for name in (course.title, *course.aliases):
            folded = normalize(name).plain
            for variant in (folded, _SUFFIX.sub("", folded)):
                if len(variant) >= 2:
                    names.setdefault(variant, course.id)
    patterns = [
        (re.compile(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])" if name.isascii() else re.escape(name)), len(name), course_id)
        for name, course_id in names.items()
    ]
    return sorted(patterns, key=lambda item: -item[1])


def _faq_question_types(knowledge: Knowledge) -> dict[str, IntentPrediction]:
    """FAQ document id → the intent of the entry's own question."""
    entries = list(knowledge.catalog.faq.values())
    texts = [normalize(f.question) for f in entries]
    predictions = knowledge.detector.detect(texts, knowledge.encoder.encode([t.plain for t in texts]))
    return {f"faq:{entry.id}": intent for entry, (intent, _) in zip(entries, predictions)}


def _typed_course_faq(knowledge: Knowledge, types: dict[str, IntentPrediction]) -> dict[tuple[str, str], list[str]]:
    """(course id, question type) → FAQ document ids of course-specific price/link entries."""
    table: dict[tuple[str, str], list[str]] = {}
    for entry in knowledge.catalog.faq.values():
        intent = types[f"faq:{entry.id}"]
        if entry.course_id and intent.source == "pattern" and intent.intent in _TYPED_FAQ_INTENTS:
            table.setdefault((entry.course_id, intent.intent), []).append(f"faq:{entry.id}")
    return table
