"""The FAISS vector index (retrieval/index.py) and how Knowledge keeps it in line with the catalog.

Most tests use the tiny deterministic HashingEncoder from conftest (a second, real Encoder); the
round-trip and Knowledge tests use the real m3e-small model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.catalog import load_catalog
from bot.knowledge import Knowledge, open_vector_index
from retrieval.errors import IndexMismatchError, InputError
from retrieval.index import (
    MANIFEST,
    VECTORS,
    SyncReport,
    VectorIndex,
    faiss_id,
    items_hash,
    text_hash,
)
from retrieval.text import normalize

ITEMS = [
    ("faq:invoice#0", "可以开发票吗"),
    ("faq:invoice#1", "公司报销要发票"),
    ("faq:refund#0", "买了课不满意可以退款吗"),
    ("faq:refund#1", "七天无理由吗"),
    ("course:py-101#0", "Python零基础入门"),
    ("course:jianying-101#0", "剪映零基础剪辑课"),
    ("course:licai-101#0", "小白理财入门"),
]
QUERIES = ["能开发票吗", "怎么退款", "python入门课", "剪映", "理财"]


def top_ids(index: VectorIndex, encoder, texts: list[str], k: int = 3) -> list[list[str]]:
    return [[item_id for item_id, _ in row] for row in index.search(encoder.encode(texts), k)]


def error_message(exc_info: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


# -- build, save, load -------------------------------------------------------------------------------------------


def test_saved_and_loaded_index_gives_identical_results(encoder, tmp_path: Path) -> None:
    built = VectorIndex.build(encoder, ITEMS)
    built.save(tmp_path / "index")
    loaded = VectorIndex.load(tmp_path / "index", encoder=encoder)
    queries = encoder.encode(QUERIES)
    assert loaded.search(queries, 5) == built.search(queries, 5)
    assert len(loaded) == len(built) == len(ITEMS)
    assert top_ids(loaded, encoder, ["能开发票吗"], 1) == [["faq:invoice#0"]]


def test_manifest_records_model_dimension_count_and_catalog_hash(encoder, tmp_path: Path) -> None:
    VectorIndex.build(encoder, ITEMS).save(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["model"] == encoder.name and manifest["model"].startswith("m3e-small@")
    assert manifest["dimension"] == encoder.dimension == 512
    assert manifest["count"] == len(ITEMS)
    assert manifest["items"] == {item_id: text_hash(text) for item_id, text in ITEMS}
    assert manifest["catalog_hash"] == items_hash(manifest["items"])
    assert manifest["kind"] == "flat"
    assert manifest["built_at"] > 0
    assert not list(tmp_path.glob("*.tmp")), "temporary files left behind"


def test_catalog_hash_changes_when_any_item_changes() -> None:
    hashes = {item_id: text_hash(text) for item_id, text in ITEMS}
    edited = hashes | {"faq:refund#1": text_hash("七天无理由退款吗")}
    assert items_hash(hashes) == items_hash(dict(reversed(list(hashes.items()))))  # order does not matter
    assert items_hash(edited) != items_hash(hashes)
    assert items_hash({k: v for k, v in hashes.items() if k != "faq:refund#1"}) != items_hash(hashes)


def test_item_ids_map_to_the_same_faiss_ids_in_every_process() -> None:
    # Saved indexes store these numbers; a change (e.g. to Python's salted hash()) would orphan every index.
    assert faiss_id("faq:faq-invoice#0") == 7432735780343478276
    assert faiss_id("course:py-101#0") == 3103110754158099050


def test_duplicate_item_ids_are_refused(make_hashing_encoder) -> None:
    with pytest.raises(InputError, match="duplicate item id 'faq:invoice#0'"):
        VectorIndex.build(make_hashing_encoder(), [*ITEMS, ("faq:invoice#0", "again")])


# -- refusing an index that belongs to something else ------------------------------------------------------------


def test_index_from_another_model_is_refused(encoder, make_hashing_encoder, tmp_path: Path) -> None:
    VectorIndex.build(make_hashing_encoder(512, name="other-model"), ITEMS).save(tmp_path)
    with pytest.raises(IndexMismatchError) as caught:
        VectorIndex.load(tmp_path, encoder=encoder)
    message = error_message(caught)
    assert "other-model-512" in message and encoder.name in message and "coursebot index --rebuild" in message


def test_index_with_another_dimension_is_refused(make_hashing_encoder, tmp_path: Path) -> None:
    VectorIndex.build(make_hashing_encoder(64), ITEMS).save(tmp_path)
    same_name_other_dimension = make_hashing_encoder(32)
    same_name_other_dimension._name = "hashing-64"  # only the dimension differs
    with pytest.raises(IndexMismatchError) as caught:
        VectorIndex.load(tmp_path, encoder=same_name_other_dimension)
    assert "dim 64" in error_message(caught) and "dim 32" in error_message(caught)


def test_index_for_another_catalog_version_is_refused(make_hashing_encoder, tmp_path: Path) -> None:
    hashing = make_hashing_encoder()
    VectorIndex.build(hashing, ITEMS).save(tmp_path)
    current = {item_id: text_hash(text) for item_id, text in ITEMS[:-1]}
    with pytest.raises(IndexMismatchError, match="another version of the catalog"):
        VectorIndex.load(tmp_path, encoder=hashing, catalog_hash=items_hash(current))
    unchanged = items_hash({item_id: text_hash(text) for item_id, text in ITEMS})
    assert len(VectorIndex.load(tmp_path, encoder=hashing, catalog_hash=unchanged)) == len(ITEMS)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / MANIFEST).write_text("{not json", encoding="utf-8"), "unreadable manifest"),
        (lambda d: (d / MANIFEST).write_text('{"model": "x"}', encoding="utf-8"), "unreadable manifest"),
        (lambda d: (d / MANIFEST).write_bytes(b"\xff\xfe\x00garbage"), "unreadable manifest"),
        (lambda d: (d / MANIFEST).unlink(), "no index here"),
        (lambda d: (d / VECTORS).unlink(), "no index here"),
    ],
)
def test_damaged_index_gives_a_clear_error(make_hashing_encoder, tmp_path: Path, damage, expected: str) -> None:
    VectorIndex.build(make_hashing_encoder(), ITEMS).save(tmp_path)
    damage(tmp_path)
    with pytest.raises(IndexMismatchError) as caught:
        VectorIndex.load(tmp_path)
    message = error_message(caught)
    assert expected in message and str(tmp_path) in message


def test_manifest_that_disagrees_with_the_vectors_is_refused(make_hashing_encoder, tmp_path: Path) -> None:
    VectorIndex.build(make_hashing_encoder(), ITEMS).save(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    manifest["items"]["faq:extra#0"] = "0" * 16  # one more item than vectors
    (tmp_path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="disagree with the manifest"):
        VectorIndex.load(tmp_path)


def test_index_of_another_format_version_is_refused(make_hashing_encoder, tmp_path: Path) -> None:
    VectorIndex.build(make_hashing_encoder(), ITEMS).save(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    (tmp_path / MANIFEST).write_text(json.dumps(manifest | {"format": 99}), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format 99"):
        VectorIndex.load(tmp_path)


# -- changing an index in place ----------------------------------------------------------------------------------


def test_one_item_is_added_and_removed_without_a_rebuild(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    index = VectorIndex.build(hashing, ITEMS)
    index.add(["faq:gift#0"], hashing.encode(["可以买课送给朋友吗"]), [text_hash("可以买课送给朋友吗")])
    assert len(index) == len(ITEMS) + 1
    assert top_ids(index, hashing, ["可以买课送给朋友吗"], 1) == [["faq:gift#0"]]
    assert index.remove(["faq:gift#0"]) == 1
    assert len(index) == len(ITEMS)
    assert "faq:gift#0" not in index.manifest.items
    assert all("faq:gift#0" not in row for row in top_ids(index, hashing, ["可以买课送给朋友吗"], len(ITEMS)))
    assert index.remove(["faq:gift#0", "never-there"]) == 0


def test_adding_an_existing_id_replaces_its_vector(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    index = VectorIndex.build(hashing, ITEMS)
    index.add(["faq:refund#1"], hashing.encode(["支持花呗分期吗"]))
    assert len(index) == len(ITEMS)
    assert top_ids(index, hashing, ["支持花呗分期吗"], 1) == [["faq:refund#1"]]
    best_for_old_text = index.search(hashing.encode(["七天无理由吗"]), 1)[0][0]
    assert best_for_old_text[1] < 0.99  # the old vector is gone


def test_vectors_of_the_wrong_shape_are_refused(make_hashing_encoder) -> None:
    index = VectorIndex.build(make_hashing_encoder(), ITEMS)
    with pytest.raises(InputError, match="do not fit"):
        index.add(["a", "b"], np.zeros((1, 64), dtype=np.float32))


def test_sync_re_encodes_only_what_changed(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    index = VectorIndex.build(hashing, ITEMS)
    hashing.calls.clear()
    edited = [(i, "七天内可以无理由退款吗" if i == "faq:refund#1" else t) for i, t in ITEMS if i != "course:licai-101#0"]
    edited.append(("faq:gift#0", "可以买课送给朋友吗"))
    report = index.sync(hashing, edited)
    assert report == SyncReport(added=2, removed=1, unchanged=len(ITEMS) - 2)
    assert hashing.calls == [2]  # one call, the edited item and the new one
    assert set(index.manifest.items) == {i for i, _ in edited}
    assert len(index) == len(edited)
    assert top_ids(index, hashing, ["七天内可以无理由退款吗"], 1) == [["faq:refund#1"]]
    hashing.calls.clear()
    assert index.sync(hashing, edited) == SyncReport(added=0, removed=0, unchanged=len(edited))
    assert hashing.calls == []  # nothing re-encoded the second time


def test_sync_with_another_model_is_refused(make_hashing_encoder) -> None:
    index = VectorIndex.build(make_hashing_encoder(), ITEMS)
    with pytest.raises(IndexMismatchError):
        index.sync(make_hashing_encoder(64, name="other"), ITEMS)


def test_ivf_index_finds_removes_and_survives_a_round_trip(make_hashing_encoder, tmp_path: Path) -> None:
    hashing = make_hashing_encoder(64)
    items = [(f"faq:q{n}#0", f"第{n}个问题：课程{n % 7}的第{n}节怎么{'看' if n % 2 else '买'}") for n in range(400)]
    index = VectorIndex.build(hashing, items, kind="ivf")
    assert index.manifest.kind == "ivf" and len(index) == 400
    assert top_ids(index, hashing, [items[123][1]], 1) == [["faq:q123#0"]]
    assert index.remove(["faq:q123#0"]) == 1
    assert len(index) == 399
    assert "faq:q123#0" not in top_ids(index, hashing, [items[123][1]], 10)[0]
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, encoder=hashing)
    assert loaded.manifest.kind == "ivf" and len(loaded) == 399
    assert top_ids(loaded, hashing, [items[7][1]], 1) == [["faq:q7#0"]]
    assert loaded.remove(["faq:q7#0"]) == 1 and len(loaded) == 398


def test_unknown_index_kind_is_refused() -> None:
    with pytest.raises(InputError, match="'flat' or 'ivf'"):
        VectorIndex("m", 8, kind="hnsw")


def test_empty_index_searches_to_nothing(make_hashing_encoder) -> None:
    hashing = make_hashing_encoder()
    index = VectorIndex.build(hashing, [])
    assert len(index) == 0
    assert index.search(hashing.encode(["多少钱"]), 3) == [[]]


# -- Knowledge keeps the index in line with the catalog ----------------------------------------------------------


@pytest.fixture
def small_config(config_dir: Path, data_dir: Path) -> Path:
    """The bundled config with the three-course test catalog (tests/data) and no thread mappings."""
    shutil.copy(data_dir / "courses.yaml", config_dir / "catalog.yaml")
    shutil.copy(data_dir / "faq.yaml", config_dir / "faq.yaml")
    (config_dir / "samples" / "threads.yaml").write_text("threads: []\n", encoding="utf-8")
    return config_dir


def indexed_items(knowledge: Knowledge) -> set[str]:
    return set(knowledge.searcher.vectors.manifest.items)


def best_faq(knowledge: Knowledge, text: str):
    plain = normalize(text).plain
    return knowledge.searcher.search(
        knowledge.encoder.encode([plain])[0], knowledge.segmenter.terms(plain), k=1, kinds={"faq"}
    )[0]


def test_knowledge_reopened_after_a_catalog_edit_re_encodes_only_the_edits_and_never_serves_stale_phrasings(
    encoder, settings_factory, small_config: Path
) -> None:
    # Knowledge.open trains the intent heads every time (several seconds): two opens only.
    settings = settings_factory(small_config)
    first = Knowledge.open(settings, encoder)
    catalog = load_catalog(settings.catalog.courses, settings.catalog.faq)
    expected = {item_id for doc in catalog.documents() for item_id, _ in doc.items()}
    assert indexed_items(first) == expected  # every phrasing of every course and FAQ entry
    assert first.sync == SyncReport(added=len(expected), removed=0, unchanged=0)

    faq = small_config / "faq.yaml"
    text = faq.read_text(encoding="utf-8")
    text = text.replace("剪映课真的免费吗？", "剪映课有没有配套素材？").replace("真的免费，没有隐藏收费。", "有，课件区可以下载。")
    text = text.replace("公司报销要发票", "可以开增值税专票吗")
    text = text.replace("alternatives: [完全没学过编程能跟上吗]", "alternatives: []")
    faq.write_text(text, encoding="utf-8")
    knowledge = Knowledge.open(settings, encoder)

    # two phrasings rewritten (re-encoded), one removed, nothing else touched
    assert knowledge.sync == SyncReport(added=2, removed=1, unchanged=len(expected) - 3)
    assert "faq:faq-py-zero#1" not in indexed_items(knowledge)
    hit = best_faq(knowledge, "可以开增值税专票吗")
    assert hit.id == "faq:faq-invoice" and hit.dense > 0.99 and hit.matched == "可以开增值税专票吗"
    assert best_faq(knowledge, "剪映课有没有配套素材？").id == "faq:faq-jianying-free"
    for old in ("剪映课真的免费吗？", "完全没学过编程能跟上吗", "公司报销要发票"):
        stale = best_faq(knowledge, old)
        assert stale.matched != old and stale.dense < 0.99, old
    assert knowledge.catalog.faq["faq-jianying-free"].answer == "有，课件区可以下载。"
    # the synced index was saved: a restart serves the same
    reloaded = VectorIndex.load(settings.index_dir, encoder=encoder)
    assert reloaded.manifest.catalog_hash == knowledge.searcher.vectors.manifest.catalog_hash


def test_reopening_an_unchanged_catalog_re_encodes_nothing(make_hashing_encoder, data_dir: Path, tmp_path: Path) -> None:
    hashing = make_hashing_encoder()
    documents = load_catalog(data_dir / "courses.yaml", data_dir / "faq.yaml").documents()
    index, _ = open_vector_index(tmp_path, hashing, documents)
    hashing.calls.clear()
    again, report = open_vector_index(tmp_path, hashing, documents)
    assert report == SyncReport(added=0, removed=0, unchanged=len(index))
    assert hashing.calls == []
    assert again.manifest.catalog_hash == index.manifest.catalog_hash


@pytest.fixture
def small_documents(data_dir: Path):
    return load_catalog(data_dir / "courses.yaml", data_dir / "faq.yaml").documents()


def test_index_made_by_another_model_is_rebuilt_on_open(encoder, make_hashing_encoder, small_documents, tmp_path: Path) -> None:
    open_vector_index(tmp_path, make_hashing_encoder(128), small_documents)
    index, report = open_vector_index(tmp_path, encoder, small_documents)
    assert index.manifest.model == encoder.name and index.manifest.dimension == encoder.dimension
    assert report is not None and report.added == index.manifest.count == len(index)
    assert VectorIndex.load(tmp_path, encoder=encoder).manifest.count == len(index)


def test_damaged_index_is_rebuilt_on_open(make_hashing_encoder, small_documents, tmp_path: Path) -> None:
    hashing = make_hashing_encoder()
    built, _ = open_vector_index(tmp_path, hashing, small_documents)
    (tmp_path / MANIFEST).write_text("garbage", encoding="utf-8")
    index, report = open_vector_index(tmp_path, hashing, small_documents)
    assert report is not None and report.added == len(index) == len(built)
    assert VectorIndex.load(tmp_path, encoder=hashing).manifest.catalog_hash == built.manifest.catalog_hash


def test_rebuild_flag_re_encodes_everything(make_hashing_encoder, small_documents, tmp_path: Path) -> None:
    hashing = make_hashing_encoder()
    open_vector_index(tmp_path, hashing, small_documents)
    assert open_vector_index(tmp_path, hashing, small_documents)[1].added == 0
    index, report = open_vector_index(tmp_path, hashing, small_documents, rebuild=True)
    assert report.added == len(index) > 0
