"""Apply the creator's lessons to a live analyzer, in place and at once.

FAQ phrasings and entries go into the FAISS index incrementally (only texts never encoded before reach the
model; their vectors are cached in `<index dir>/taught.npz`, so a restart does not re-encode them either)
and BM25 is rebuilt for the lexical part only (bm25s indexes thousands of documents in milliseconds; see
docs/learning.md). The creator's edits of the FAQ and catalog (docs/knowledge.md) are folded over the files
the same way: a changed or removed phrasing and a retired entry leave FAISS by id. The intent head is
retrained on the prototypes plus the creator's labels, the sentiment head likewise, and wrong replies become vetoes. Workers compare the
store's knowledge version before each batch and reload when it changed, so with PostgreSQL every worker sees
what the creator taught.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from bot.analysis import Analyzer
from bot.catalog import Catalog, Course, FaqEntry
from bot.knowledge import PROTOTYPE_CACHE, PrototypeVectors, document_terms, load_labelled_phrases
from bot.learning.calibration import recalibrated
from bot.learning.lessons import LESSON_KINDS, Lessons
from bot.learning.revisions import effective
from retrieval.intents import INTENTS, SENTIMENTS, IntentDetector, PrototypeClassifier
from retrieval.search import Document, HybridSearcher, LexicalIndex, Recalibration
from retrieval.text import normalize
from retrieval.vetoes import NEAR_IDENTICAL, Vetoes

log = logging.getLogger(__name__)
TAUGHT_CACHE = "taught.npz"
# How much one creator label weighs against one prototype phrase when the intent (and the sentiment) head is trained. The
# creator labels real comments from their own audience, which the prototypes only approximate; chosen on
# the dev set's learning curve (docs/learning.md).
CREATOR_LABEL_WEIGHT = 3.0


class Teacher:
    """Keeps an analyzer's knowledge in line with the lessons in the store (one Teacher per analyzer)."""

    def __init__(self, analyzer: Analyzer) -> None:
        knowledge = analyzer.knowledge
        self.analyzer = analyzer
        self.version = -1  # the store's knowledge version last applied; -1: never looked
        self.lessons = Lessons.none()
        # The files' knowledge as loaded; the creator's revisions are always folded over this, never over themselves.
        self._base_faq = dict(knowledge.catalog.faq)
        self._base_courses = dict(knowledge.catalog.courses)
        self._base_texts = {normalize(text).plain for d in knowledge.catalog.documents() for _, text in d.items()}
        self._base_detector = knowledge.detector
        self._base_prototypes: tuple[tuple[np.ndarray, list[str], list[str]], tuple[np.ndarray, list[str], list[str]]] | None = None
        self._base_threshold = analyzer.threshold  # the shipped calibration (the config's values)
        self.calibration: Recalibration | None = None  # how the thresholds were last chosen from feedback
        self._terms: dict[Document, list[str]] = {}
        self._normalized: dict[str, str] = {}
        self._cache = PrototypeVectors(knowledge.settings.index_dir / TAUGHT_CACHE, knowledge.encoder)
        self._lock = threading.Lock()

    def refresh(self, store) -> bool:
        """Reload when the store's knowledge version moved since the last look (one cheap query when it did not)."""
        with self._lock:
            version = store.knowledge_version()
            if version == self.version:
                return False
            self._apply(Lessons.fold(store.corrections(LESSON_KINDS)))
            self.version = version
            return True

    def apply(self, lessons: Lessons) -> None:
        with self._lock:
            self._apply(lessons)

    # -- the parts ----------------------------------------------------------------------------------------------
    def _apply(self, lessons: Lessons) -> None:
        knowledge = self.analyzer.knowledge
        changes = lessons.changes()
        known = effective(self._base_courses, self._base_faq, changes)
        documents = Catalog(known.courses, known.faq).documents()
        # The slow parts first, while batches go on with the knowledge they have: encoding taught texts (the model)
        # and retraining a head (seconds with hundreds of labels).
        vectors = self._vectors(lessons, documents)
        knowledge_moved = changes != self.lessons.changes()
        detector = (self._detector(lessons, vectors)
                    if lessons.labels != self.lessons.labels or lessons.sentiments != self.lessons.sentiments else None)
        vetoes = (Vetoes.of(np.stack([vectors[t] for t, _ in lessons.wrong]) if lessons.wrong else
                            np.zeros((0, knowledge.encoder.dimension), dtype=np.float32), [k for _, k in lessons.wrong])
                  if lessons.wrong != self.lessons.wrong else None)
        with self.analyzer.knowledge_lock:  # then the swap, which no batch sees half done
            if knowledge_moved:
                self._teach_knowledge(known.courses, known.faq, documents, vectors)
            if detector is not None:
                knowledge.detector = detector
            if vetoes is not None:
                knowledge.vetoes = vetoes
            if lessons.feedback != self.lessons.feedback or self.calibration is None:
                self._recalibrate(lessons.feedback)
            if knowledge_moved:
                # an edited question changes its question type, an edited answer which entries are rivals
                self.analyzer.knowledge_changed()
        self.lessons = lessons
        log.info("creator's lessons applied: %d knowledge revisions (%d FAQ entries), %d intent labels, %d sentiment labels, %d vetoes",
                 len(changes), len(known.faq), len(lessons.labels), len(lessons.sentiments), len(lessons.wrong))

    def _recalibrate(self, feedback: Sequence[tuple[float, float, bool]]) -> None:
        target = self.analyzer.knowledge.settings.matching.target_precision
        threshold, self.calibration = recalibrated(self._base_threshold, feedback, target)
        if threshold != self.analyzer.threshold:
            log.info("answer thresholds %s from %d reviewed replies (%d wrong): min_dense %.3f, min_dense_with_terms %.3f",
                     self.calibration.source, self.calibration.reviewed, self.calibration.wrong, threshold.min_dense, threshold.min_dense_with_terms)
        self.analyzer.threshold = threshold

    def _vectors(self, lessons: Lessons, documents: Sequence[Document]) -> dict[str, np.ndarray]:
        """Every taught text's vector, by normalised text (one cache file, so one call with all of them): the
        phrasings of the effective knowledge the files do not have, the labelled and the vetoed comments."""
        texts = [self._plain(text) for d in documents for _, text in d.items()]
        texts = [t for t in texts if t not in self._base_texts]
        texts += [*lessons.labels, *lessons.sentiments, *(t for t, _ in lessons.wrong)]
        texts = list(dict.fromkeys(t for t in texts if t))
        return dict(zip(texts, self._cache.encode(texts))) if texts else {}

    def _teach_knowledge(self, courses: dict[str, Course], faq: dict[str, FaqEntry], documents: list[Document],
                         vectors: dict[str, np.ndarray]) -> None:
        """The files' knowledge with the creator's revisions, live: an edited or removed phrasing leaves FAISS
        (`VectorIndex.sync` removes its ids), a retired entry leaves every index and the catalog."""
        knowledge = self.analyzer.knowledge
        # The catalog's dicts are shared with the composer (answers, prices, links): changed in place, never replaced.
        for live, wanted in ((knowledge.catalog.faq, faq), (knowledge.catalog.courses, courses)):
            for gone in [key for key in live if key not in wanted]:
                del live[gone]
            live.update(wanted)  # type: ignore[attr-defined]
        old = knowledge.searcher
        items = [(item_id, self._plain(text)) for d in documents for item_id, text in d.items()]
        report = old.vectors.sync(_Known(knowledge.encoder, vectors), items)
        lexical = LexicalIndex.build([d.id for d in documents], [self._document_terms(d) for d in documents])
        knowledge.searcher = HybridSearcher(documents, old.vectors, lexical, fusion=old.fusion, rrf_k=old.rrf_k, depth=old.depth,
                                            strong_bm25=old.strong_bm25)
        log.info("knowledge revised: %d vectors added, %d removed, BM25 rebuilt over %d documents", report.added, report.removed, len(documents))

    def _plain(self, text: str) -> str:
        """normalize(text).plain, remembered: every refresh rebuilds the whole document list (catalog-sized)."""
        if text not in self._normalized:
            self._normalized[text] = normalize(text).plain
        return self._normalized[text]

    def _document_terms(self, document: Document) -> list[str]:
        if document not in self._terms:
            self._terms[document] = document_terms(self.analyzer.knowledge.segmenter, document)
        return self._terms[document]

    def _detector(self, lessons: Lessons, vectors: dict[str, np.ndarray]) -> IntentDetector:
        """The heads with the creator's labels: each retrained only when its own labels changed (the intent head
        costs seconds with hundreds of labels), both the same way (prototypes + labels at CREATOR_LABEL_WEIGHT)."""
        current, base = self.analyzer.knowledge.detector, self._base_detector
        labels = {text: intent for text, intent in lessons.labels.items() if text in vectors}  # emoji-only texts teach nothing
        sentiments = {text: s for text, s in lessons.sentiments.items() if text in vectors}
        intents = current.intents if lessons.labels == self.lessons.labels else self._head(labels, vectors, self._prototypes()[0], base.intents)
        sentiment = (current.sentiment if lessons.sentiments == self.lessons.sentiments
                     else self._head(sentiments, vectors, self._prototypes()[1], base.sentiment))
        negative = [vectors[t] for t, s in sentiments.items() if s == "negative"]
        return IntentDetector(intents, sentiment, known=labels, known_sentiment=sentiments,
                              negative_examples=np.stack(negative) if negative else None, near_identical=NEAR_IDENTICAL)

    @staticmethod
    def _head(labels: dict[str, str], vectors: dict[str, np.ndarray], prototypes: tuple[np.ndarray, list[str], list[str]],
              base: PrototypeClassifier) -> PrototypeClassifier:
        if not labels:
            return base
        base_vectors, base_texts, base_labels = prototypes
        texts = list(labels)
        return PrototypeClassifier.train(
            np.concatenate([base_vectors, np.stack([vectors[t] for t in texts])]), base_texts + texts, base_labels + list(labels.values()),
            weights=[1.0] * len(base_texts) + [CREATOR_LABEL_WEIGHT] * len(texts),
        )

    def _prototypes(self) -> tuple[tuple[np.ndarray, list[str], list[str]], tuple[np.ndarray, list[str], list[str]]]:
        """The intent and the sentiment prototypes as Knowledge.open trained on them (their vectors from its cache)."""
        if self._base_prototypes is None:
            knowledge = self.analyzer.knowledge
            catalog = knowledge.settings.catalog
            intent_texts, intent_labels = IntentDetector.training_set(load_labelled_phrases(catalog.intents, "intents", INTENTS))
            sentiment_texts, sentiment_labels = IntentDetector.training_set(load_labelled_phrases(catalog.sentiment, "sentiment", SENTIMENTS))
            plain = [normalize(t).plain for t in intent_texts + sentiment_texts]
            # The same texts in the same order as Knowledge.open, so its cache file keeps every entry.
            cached = PrototypeVectors(knowledge.settings.index_dir / PROTOTYPE_CACHE, knowledge.encoder).encode(plain)
            split = len(intent_texts)
            self._base_prototypes = ((cached[:split], plain[:split], intent_labels), (cached[split:], plain[split:], sentiment_labels))
        return self._base_prototypes


class _Known:
    """The encoder, except for texts whose vectors are already at hand (the index sync encodes only the rest)."""

    def __init__(self, encoder, known: dict[str, np.ndarray]) -> None:
        self.encoder = encoder
        self.known = known
        self.name = encoder.name
        self.dimension = encoder.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        found = dict(zip(missing, self.encoder.encode(missing))) if missing else {}
        return np.stack([self.known[t] if t in self.known else found[t] for t in texts]).astype(np.float32)


_TEACHERS: weakref.WeakKeyDictionary[Analyzer, Teacher] = weakref.WeakKeyDictionary()
_TEACHERS_LOCK = threading.Lock()


def teacher_for(analyzer: Analyzer) -> Teacher:
    """The one Teacher of this analyzer (the Telegram and webhook runners of one process share an analyzer)."""
    with _TEACHERS_LOCK:
        if analyzer not in _TEACHERS:
            _TEACHERS[analyzer] = Teacher(analyzer)
        return _TEACHERS[analyzer]


def learn_from_store(settings, analyzer: Analyzer) -> int:
    """For `ask` and `route`: apply everything taught in the config's store; the knowledge version applied
    (0 when the store has no database yet, which is then not created)."""
    from bot.store import Store
    from bot.store.engine import database_url

    url = sa.engine.make_url(database_url(settings))
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return 0
    store = Store.open(settings)
    try:
        teacher = teacher_for(analyzer)
        teacher.refresh(store)
        return teacher.version
    finally:
        store.close()
