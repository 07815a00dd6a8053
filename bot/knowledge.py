"""Everything the bot knows, assembled from config: catalog, FAQ, vector + BM25 indexes, intent heads.

`Knowledge.open` loads a saved index when it still matches the model and catalog, and otherwise syncs
it (re-encoding only changed items), so a stale index can never give silent wrong answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError

from bot.catalog import Catalog, load_catalog, read_text
from bot.config import Settings, ThreadMapping
from retrieval.encoder import CachedEncoder, Encoder, SentenceTransformerEncoder
from retrieval.errors import IndexMismatchError, InputError
from retrieval.index import SyncReport, VectorIndex
from retrieval.intents import INTENTS, SENTIMENTS, IntentDetector, PrototypeClassifier
from retrieval.search import Document, HybridSearcher, LexicalIndex
from retrieval.text import Segmenter, normalize, read_user_dictionary
from retrieval.vetoes import Vetoes

log = logging.getLogger(__name__)
PROTOTYPE_CACHE = "prototypes.npz"


def load_encoder(settings: Settings) -> Encoder:
    encoder = SentenceTransformerEncoder(settings.model.path, batch_size=settings.model.batch_size)
    if settings.model.cache_size:
        return CachedEncoder(encoder, maxsize=settings.model.cache_size)
    return encoder


def load_labelled_phrases(path: Path, key: str, labels: Sequence[str]) -> dict[str, list[str]]:
    """`{key: {label: [phrases]}}` from YAML; unknown or missing labels are errors."""
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    table = data.get(key) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise InputError(f"{path}:1: expected a top-level '{key}:' mapping of label → phrases")
    unknown = set(table) - set(labels)
    if unknown:
        raise InputError(f"{path}: unknown {key} label '{sorted(unknown)[0]}', expected one of {', '.join(labels)}")
    phrases: dict[str, list[str]] = {}
    for label in labels:
        items = table.get(label) or []
        if not isinstance(items, list) or not all(isinstance(p, (str, int, float)) for p in items):
            raise InputError(f"{path}: {key}.{label} must be a list of phrases")
        phrases[label] = [str(p) for p in items if str(p).strip()]
        if len(phrases[label]) < 2:
            raise InputError(f"{path}: {key}.{label} needs at least 2 phrases, has {len(phrases[label])}")
    return phrases


def load_thread_mappings(path: Path | None) -> list[ThreadMapping]:
    if path is None:
        return []
    data = yaml.safe_load(read_text(path)) if path.suffix in {".yaml", ".yml"} else None
    rows = data.get("threads") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InputError(f"{path}:1: expected a 'threads:' list of {{id, title, course_id}}")
    mappings = []
    for number, row in enumerate(rows, 1):
        try:
            mappings.append(ThreadMapping.model_validate(row))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or "entry"
            raise InputError(f"{path}: thread #{number}: field '{field}': {error['msg'].lower()}") from None
    return mappings


class PrototypeVectors:
    """Embeddings of the labelled prototype phrases, cached beside the index (keyed by model + text)."""

    def __init__(self, path: Path, encoder: Encoder) -> None:
        self.path = path
        self.encoder = encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        cached: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    if str(data["model"]) == self.encoder.name:
                        cached = dict(zip(data["texts"].tolist(), data["vectors"]))
            except (OSError, KeyError, ValueError):
                log.warning("prototype cache %s unreadable; re-encoding", self.path)
        missing = [t for t in dict.fromkeys(texts) if t not in cached]
        if missing:
            cached.update(zip(missing, self.encoder.encode(missing)))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keep = list(dict.fromkeys(texts))
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, model=np.array(self.encoder.name), texts=np.array(keep), vectors=np.stack([cached[t] for t in keep]))
            tmp.replace(self.path)
        if not texts:
            return np.zeros((0, self.encoder.dimension), dtype=np.float32)
        return np.stack([cached[t] for t in texts]).astype(np.float32)


@dataclass
class Knowledge:
    settings: Settings
    catalog: Catalog
    encoder: Encoder
    segmenter: Segmenter
    searcher: HybridSearcher
    detector: IntentDetector
    threads: dict[str, ThreadMapping]
    sync: SyncReport | None = None
    vetoes: Vetoes = field(default_factory=Vetoes.none)  # answers the creator marked wrong (bot/learning)

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None, *, rebuild: bool = False, progress: bool = False) -> Knowledge:
        cat = settings.catalog
        catalog = load_catalog(cat.courses, cat.faq)
        intents = load_labelled_phrases(cat.intents, "intents", INTENTS)
        sentiment = load_labelled_phrases(cat.sentiment, "sentiment", SENTIMENTS)
        user_words = read_user_dictionary(cat.user_dictionary) if cat.user_dictionary else []
        user_words += [(normalize(w).text, None, None) for w in catalog.course_terms()]
        segmenter = Segmenter(user_words)
        encoder = encoder or load_encoder(settings)

        documents = catalog.documents()
        vectors, report = open_vector_index(settings.index_dir, encoder, documents, rebuild=rebuild, progress=progress)
        lexical = LexicalIndex.build([d.id for d in documents], [document_terms(segmenter, d) for d in documents])
        searcher = HybridSearcher(documents, vectors, lexical, fusion=settings.matching.fusion,
                                  strong_bm25=settings.matching.min_bm25)

        prototypes = PrototypeVectors(settings.index_dir / PROTOTYPE_CACHE, encoder)
        intent_texts, intent_labels = IntentDetector.training_set(intents)
        sentiment_texts, sentiment_labels = IntentDetector.training_set(sentiment)
        plain = [normalize(t).plain for t in intent_texts + sentiment_texts]
        all_vectors = prototypes.encode(plain)
        split = len(intent_texts)
        detector = IntentDetector(
            PrototypeClassifier.train(all_vectors[:split], plain[:split], intent_labels),
            PrototypeClassifier.train(all_vectors[split:], plain[split:], sentiment_labels),
        )
        threads = {t.id: t for t in [*load_thread_mappings(cat.threads), *settings.threads]}
        for thread in threads.values():
            if thread.course_id is not None and thread.course_id not in catalog.courses:
                raise InputError(f"thread '{thread.id}': course_id '{thread.course_id}' is not in {cat.courses}")
        return cls(settings, catalog, encoder, segmenter, searcher, detector, threads, report)


def document_terms(segmenter: Segmenter, document: Document) -> list[str]:
    return [term for text in document.phrasings for term in segmenter.terms(normalize(text).plain)]


def open_vector_index(
    directory: Path, encoder: Encoder, documents: Sequence[Document], *, rebuild: bool = False, progress: bool = False
) -> tuple[VectorIndex, SyncReport | None]:
    """The saved index if it matches; otherwise brought up to date (model change → full rebuild)."""
    items = [(item_id, normalize(text).plain) for doc in documents for item_id, text in doc.items()]
    if not rebuild:
        try:
            index = VectorIndex.load(directory, encoder=encoder)
        except IndexMismatchError as exc:
            log.info("rebuilding index: %s", exc)
        else:
            report = index.sync(encoder, items)
            if report.added or report.removed:
                index.save(directory)
            return index, report
    index = VectorIndex.build(encoder, items, progress=progress)
    index.save(directory)
    return index, SyncReport(added=len(items), removed=0, unchanged=0)

