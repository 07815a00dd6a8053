"""A FAISS inner-product index over catalog/FAQ vectors with stable string ids and an explicit manifest.

Vectors are L2-normalised, so inner product is cosine similarity. Small catalogs use an exact flat index;
large ones (synthetic benchmarks, shared deployments) an IVF index, which still supports removing items.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from retrieval.encoder import Encoder
from retrieval.errors import IndexMismatchError, InputError

FORMAT_VERSION = 1
IVF_FROM_ITEMS = 20_000  # below this an exact scan is fast enough and needs no training
SMALL_QUERY_BATCH = 8  # up to this many query rows, FAISS searches on the calling thread only
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def items_hash(hashes: dict[str, str]) -> str:
    """One hash for a whole catalog: changes when any item is added, removed or edited."""
    digest = hashlib.sha256()
    for item_id in sorted(hashes):
        digest.update(f"{item_id}\0{hashes[item_id]}\n".encode())
    return digest.hexdigest()[:16]


def faiss_id(item_id: str) -> int:
    """Stable 63-bit id for a string id, the same in every process (unlike Python's hash())."""
    return int.from_bytes(hashlib.blake2b(item_id.encode("utf-8"), digest_size=8).digest(), "big") & (2**63 - 1)


@dataclass
class IndexManifest:
    model: str
    dimension: int
    kind: str
    items: dict[str, str] = field(default_factory=dict)  # item id -> hash of the text it was encoded from
    built_at: float = 0.0
    format: int = FORMAT_VERSION

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def catalog_hash(self) -> str:
        return items_hash(self.items)


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: int
    removed: int
    unchanged: int


class VectorIndex:
    def __init__(self, model: str, dimension: int, *, kind: str = "flat", nlist: int = 0) -> None:
        self.manifest = IndexManifest(model=model, dimension=dimension, kind=kind)
        self._ids: dict[int, str] = {}
        if kind == "flat":
            self._faiss: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        elif kind == "ivf":
            self._quantizer = faiss.IndexFlatIP(dimension)
            ivf = faiss.IndexIVFFlat(self._quantizer, dimension, max(nlist, 1), faiss.METRIC_INNER_PRODUCT)
            ivf.nprobe = 16
            self._faiss = ivf
        else:
            raise InputError(f"index kind must be 'flat' or 'ivf', got '{kind}'")

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        encoder: Encoder,
        items: Sequence[tuple[str, str]],
        *,
        batch_size: int = 256,
        progress: bool = False,
        kind: str = "auto",
    ) -> VectorIndex:
        """Encode `(id, text)` items and index them."""
        ids = [item_id for item_id, _ in items]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"duplicate item id '{duplicate}' in index input")
        vectors = encode_batched(encoder, [text for _, text in items], batch_size=batch_size, progress=progress)
        if kind == "auto":
            kind = "ivf" if len(items) >= IVF_FROM_ITEMS else "flat"
        index = cls(encoder.name, encoder.dimension, kind=kind, nlist=int(4 * np.sqrt(max(len(items), 1))))
        if kind == "ivf":
            index._faiss.train(vectors)
        index.add(ids, vectors, [text_hash(text) for _, text in items])
        index.manifest.built_at = time.time()
        return index

    def add(self, ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str] | None = None) -> None:
        """Add items; an id already present is replaced."""
        if vectors.shape != (len(ids), self.manifest.dimension):
            raise InputError(f"vectors of shape {vectors.shape} do not fit {len(ids)} items of dimension {self.manifest.dimension}")
        present = [item_id for item_id in ids if item_id in self.manifest.items]
        if present:
            self.remove(present)
        numeric = np.array([faiss_id(item_id) for item_id in ids], dtype=np.int64)
        for number, item_id in zip(numeric.tolist(), ids):
            if number in self._ids and self._ids[number] != item_id:
                raise InputError(f"item ids '{item_id}' and '{self._ids[number]}' collide; rename one")
            self._ids[number] = item_id
        self._faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), numeric)
        for item_id, digest in zip(ids, hashes or [""] * len(ids)):
            self.manifest.items[item_id] = digest

    def remove(self, ids: Iterable[str]) -> int:
        numeric = [faiss_id(item_id) for item_id in ids if item_id in self.manifest.items]
        if not numeric:
            return 0
        removed = int(self._faiss.remove_ids(np.array(numeric, dtype=np.int64)))
        for number in numeric:
            self.manifest.items.pop(self._ids.pop(number), None)
        return removed

    def sync(self, encoder: Encoder, items: Sequence[tuple[str, str]]) -> SyncReport:
        """Bring the index in line with `items`, re-encoding only what was added or edited."""
        self.check_model(encoder)
        wanted = {item_id: (text, text_hash(text)) for item_id, text in items}
        stale = [i for i, h in self.manifest.items.items() if i not in wanted or wanted[i][1] != h]
        fresh = [i for i, (_, h) in wanted.items() if self.manifest.items.get(i) != h]
        self.remove(stale)
        if fresh:
            vectors = encoder.encode([wanted[i][0] for i in fresh])
            self.add(fresh, vectors, [wanted[i][1] for i in fresh])
        return SyncReport(added=len(fresh), removed=len(set(stale) - set(fresh)), unchanged=len(wanted) - len(fresh))

    # -- queries ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._faiss.ntotal

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Top-k `(item id, cosine)` per query row."""
        scores, numbers = self.search_numbers(queries, k)
        return [
            [(self._ids[n], s) for s, n in zip(row_scores.tolist(), row_numbers.tolist()) if n != -1]
            for row_scores, row_numbers in zip(scores, numbers)
        ]

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of items (KeyError for an id not in the index), e.g. to score a few items directly."""
        missing = [item_id for item_id in ids if item_id not in self.manifest.items]
        if missing:
            raise KeyError(missing[0])
        if not ids:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        if self.manifest.kind == "ivf":  # an IVF index reconstructs by id only with a direct map
            self._faiss.set_direct_map_type(faiss.DirectMap.Hashtable)
        return np.stack([self._faiss.reconstruct(faiss_id(item_id)) for item_id in ids]).astype(np.float32)

    def search_numbers(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k cosines and FAISS numbers (`faiss_id` of the item id; -1 pads a short row) per query row."""
        k = min(k, len(self))
        if k == 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), dtype=np.float32), np.zeros((len(queries), 0), dtype=np.int64)
        with _one_openmp_thread(len(queries) <= SMALL_QUERY_BATCH):
            return self._faiss.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    # -- persistence --------------------------------------------------------------------------------------
    def check_model(self, encoder: Encoder) -> None:
        if encoder.name != self.manifest.model or encoder.dimension != self.manifest.dimension:
            raise IndexMismatchError(
                f"index was built with model {self.manifest.model} (dim {self.manifest.dimension}), "
                f"current model is {encoder.name} (dim {encoder.dimension}); run `coursebot index --rebuild`"
            )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # Write to temporary names and rename, so a crash mid-save never leaves a half index behind.
        tmp_vectors = directory / (VECTORS + ".tmp")
        tmp_manifest = directory / (MANIFEST + ".tmp")
        faiss.write_index(self._faiss, str(tmp_vectors))
        manifest = asdict(self.manifest) | {"count": self.manifest.count, "catalog_hash": self.manifest.catalog_hash}
        tmp_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp_vectors.replace(directory / VECTORS)
        tmp_manifest.replace(directory / MANIFEST)

    @classmethod
    def load(cls, directory: Path, *, encoder: Encoder | None = None, catalog_hash: str | None = None) -> VectorIndex:
        """Load a saved index; refuse one built for another model, dimension or catalog."""
        manifest_path = directory / MANIFEST
        if not manifest_path.exists() or not (directory / VECTORS).exists():
            raise IndexMismatchError(f"{directory}: no index here; run `coursebot index`")
        try:
            raw = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest = IndexManifest(
                model=raw["model"], dimension=int(raw["dimension"]), kind=raw["kind"], items=dict(raw["items"]),
                built_at=float(raw.get("built_at", 0)), format=int(raw.get("format", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexMismatchError(f"{manifest_path}: unreadable manifest ({exc}); run `coursebot index --rebuild`") from None
        if manifest.format != FORMAT_VERSION:
            raise IndexMismatchError(f"{manifest_path}: index format {manifest.format}, expected {FORMAT_VERSION}; run `coursebot index --rebuild`")
        index = cls.__new__(cls)
        index.manifest = manifest
        index._faiss = faiss.read_index(str(directory / VECTORS))
        index._ids = {faiss_id(item_id): item_id for item_id in manifest.items}
        if index._faiss.ntotal != manifest.count or index._faiss.d != manifest.dimension:
            raise IndexMismatchError(f"{directory}: vectors ({index._faiss.ntotal}×{index._faiss.d}) disagree with the manifest; run `coursebot index --rebuild`")
        if encoder is not None:
            index.check_model(encoder)
        if catalog_hash is not None and catalog_hash != manifest.catalog_hash:
            raise IndexMismatchError(f"{directory}: index is for another version of the catalog; run `coursebot index`")
        return index


@contextmanager
def _one_openmp_thread(enabled: bool) -> Iterator[None]:
    """Run FAISS on one OpenMP thread inside the block.

    For one comment's query the extra threads have almost nothing to do but spin at barriers; on a busy
    machine (the model's own threads, other processes) that turned a 1 ms flat search over 10k items into
    10-35 ms (benchmarks/speed.py). The setting belongs to the calling thread (OpenMP ICV), so restoring it
    leaves index builds and other threads untouched.
    """
    if not enabled:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def encode_batched(encoder: Encoder, texts: Sequence[str], *, batch_size: int = 256, progress: bool = False) -> np.ndarray:
    from tqdm import tqdm

    chunks = []
    with tqdm(total=len(texts), desc="encoding", unit="item", disable=not progress) as bar:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            chunks.append(encoder.encode(chunk))
            bar.update(len(chunk))
    if not chunks:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    return np.concatenate(chunks)
