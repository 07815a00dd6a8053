"""Encoders (retrieval/encoder.py): the real model, the embedding cache and the async batcher."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from retrieval.encoder import (
    AsyncBatchEncoder,
    CachedEncoder,
    Encoder,
    SentenceTransformerEncoder,
    length_batches,
)
from retrieval.errors import InputError

TEXTS = ["可以开发票吗", "这课多少钱", "零基础能学python吗", "剪映课免费吗", "哈哈哈", "链接发一下", "up主讲得真好", "怎么退款"]


class GatedEncoder:
    """Delegates to a real encoder, but only after `gate` is opened, and notes which thread encoded.

    Opening the gate from the event loop while an encode is waiting proves the loop kept running.
    """

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.started = threading.Event()
        self.threads: list[int] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.threads.append(threading.get_ident())
        self.started.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the event loop never opened the gate: it was blocked")
        return self.inner.encode(texts)


class FailingEncoder:
    """A hashing encoder that fails on the text "boom", like a model hitting a bad input."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name, self.dimension = inner.name, inner.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if "boom" in texts:
            raise RuntimeError("model failed on this batch")
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def model(encoder: CachedEncoder) -> Encoder:
    """The session's real model without its cache, so every call really runs the model."""
    return encoder.inner


# -- the real model ----------------------------------------------------------------------------------------------


def test_model_gives_one_unit_vector_per_text(model: Encoder) -> None:
    vectors = model.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), model.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert model.encode([]).shape == (0, model.dimension)


def test_model_name_identifies_model_and_files(model: Encoder) -> None:
    assert model.name.startswith("m3e-small@") and len(model.name.split("@")[1]) == 16


def test_paraphrases_are_closer_than_unrelated_comments(model: Encoder) -> None:
    invoice, paraphrase, unrelated = model.encode(["可以开发票吗", "能开票吗", "哈哈哈哈笑死我了"])
    assert invoice @ paraphrase > invoice @ unrelated + 0.1


def test_long_and_short_texts_in_one_call_get_the_vectors_they_get_alone(model: Encoder) -> None:
    long_texts = [f"第{i}课：" + "从零开始系统学习Python数据分析，包括pandas、numpy和可视化实战项目。" * 3 for i in range(12)]
    texts = [*TEXTS, *long_texts]
    together = model.encode(texts)
    alone = np.concatenate([model.encode([text]) for text in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_length_batches_fill_short_texts_up_to_the_batch_size_and_split_long_ones() -> None:
    lengths = [10] * 40 + [120] * 10 + [600]
    batches = length_batches(lengths, 32, 32 * 32)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [len(b) for b in batches] == [1, 8, 8, 32, 2]  # 600 alone; 120 × 8 ≤ 1024 (the last two 120s take six 10s along)
    assert all(lengths[b[0]] == max(lengths[i] for i in b) for b in batches)
    assert length_batches([], 32, 1024) == []


def test_model_path_that_is_not_a_directory_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(InputError, match="not a directory"):
        SentenceTransformerEncoder(tmp_path / "no-such-model")


# -- cache -------------------------------------------------------------------------------------------------------


def test_cache_returns_identical_vectors_and_counts_hits(model: Encoder) -> None:
    cached = CachedEncoder(model)
    first = cached.encode(TEXTS)
    assert (cached.hits, cached.misses) == (0, len(TEXTS))
    second = cached.encode(TEXTS)
    assert np.array_equal(first, second)
    assert (cached.hits, cached.misses) == (len(TEXTS), len(TEXTS))
    assert np.allclose(first, model.encode(TEXTS), atol=1e-5)
    assert (cached.name, cached.dimension) == (model.name, model.dimension)


def test_cache_encodes_a_text_repeated_in_one_call_once(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    cached = CachedEncoder(hashing)
    vectors = cached.encode(["多少钱", "多少钱", "链接", "多少钱"])
    assert hashing.calls == [2]  # two distinct texts, one model call
    assert np.array_equal(vectors[0], vectors[1]) and np.array_equal(vectors[0], vectors[3])
    cached.encode(["链接", "多少钱"])
    assert hashing.calls == [2] and cached.hits == 2


def test_cache_forgets_the_least_recently_used_text(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    cached = CachedEncoder(hashing, maxsize=2)
    cached.encode(["a"])
    cached.encode(["b"])
    cached.encode(["a"])  # a is now more recent than b
    cached.encode(["c"])  # evicts b
    hashing.calls.clear()
    cached.encode(["a", "c"])
    assert hashing.calls == []
    cached.encode(["b"])
    assert hashing.calls == [1]


# -- async batching ----------------------------------------------------------------------------------------------


async def test_concurrent_calls_are_batched_and_give_the_same_vectors(model: Encoder) -> None:
    batcher = AsyncBatchEncoder(model, max_batch=64, max_wait=0.02)
    texts = [f"{text}{n}" for n in range(3) for text in TEXTS][:20]
    try:
        results = await asyncio.gather(*(batcher.encode([text]) for text in texts))
    finally:
        await batcher.aclose()
    assert 1 <= batcher.batches < len(texts)
    direct = model.encode(texts)
    for row, result in zip(direct, results):
        assert result.shape == (1, model.dimension)
        assert np.allclose(result[0], row, atol=1e-4)


async def test_batches_never_exceed_max_batch_and_keep_every_text(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    batcher = AsyncBatchEncoder(hashing, max_batch=16, max_wait=0.02)
    texts = [f"评论{n}" for n in range(100)]
    try:
        results = await asyncio.gather(*(batcher.encode([text]) for text in texts))
    finally:
        await batcher.aclose()
    assert sum(hashing.calls) == 100 and max(hashing.calls) <= 16 and len(hashing.calls) < 100
    assert np.array_equal(np.concatenate(results), hashing.encode(texts))


async def test_event_loop_keeps_running_while_the_model_encodes(model: Encoder) -> None:
    gated = GatedEncoder(model)
    batcher = AsyncBatchEncoder(gated)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not gated.started.is_set():  # wait until the model call has begun …
            await asyncio.sleep(0.001)
        for _ in range(3):  # … then show the loop still runs while it is in progress
            ticks += 1
            await asyncio.sleep(0)
        gated.gate.set()

    try:
        vectors, _ = await asyncio.gather(batcher.encode(TEXTS), ticker())
    finally:
        await batcher.aclose()
    assert ticks == 3
    assert gated.threads and threading.get_ident() not in gated.threads  # the model ran off the loop thread
    assert np.allclose(vectors, model.encode(TEXTS), atol=1e-4)


async def test_a_failing_batch_fails_its_callers_and_the_batcher_keeps_serving(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    batcher = AsyncBatchEncoder(FailingEncoder(hashing), max_wait=0.02)
    try:
        results = await asyncio.gather(batcher.encode(["boom"]), batcher.encode(["好课"]), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)  # same batch: both callers learn it failed
        after = await batcher.encode(["好课"])
    finally:
        await batcher.aclose()
    assert np.array_equal(after, hashing.encode(["好课"]))


async def test_closed_batcher_starts_again_on_the_next_call(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    batcher = AsyncBatchEncoder(hashing)
    await batcher.encode(["一"])
    await batcher.aclose()
    try:
        assert (await batcher.encode(["二"])).shape == (1, hashing.dimension)
    finally:
        await batcher.aclose()


def test_encoders_over_one_model_directory_share_its_weights_and_encode_one_at_a_time(encoder: CachedEncoder, tmp_path) -> None:
    loaded = encoder.inner
    assert isinstance(loaded, SentenceTransformerEncoder)
    (tmp_path / loaded.path.name).symlink_to(loaded.path)  # the same directory by another path
    again = SentenceTransformerEncoder(tmp_path / loaded.path.name, batch_size=2)
    assert again._model is loaded._model and again._lock is loaded._lock  # one copy of the weights per process
    assert (again.name, again.dimension, again.batch_size) == (loaded.name, loaded.dimension, 2)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda e=e: results.append(e.encode(TEXTS))) for e in (loaded, again, loaded, again)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(np.allclose(r, results[0], atol=1e-5) for r in results)
