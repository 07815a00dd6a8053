"""Catalog and FAQ loaders (bot/catalog.py): YAML, JSON and CSV in; one-line errors naming file, line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.catalog import Catalog, load_catalog, load_courses, load_faq
from retrieval.errors import InputError

COURSE_A = "  - id: a\n    title: 课程A\n    price: 1\n    url: https://ke.example.com/a\n"


@pytest.fixture
def error_of(one_line_error) -> Callable[[Callable[[Path], object], Path], str]:
    """`error_of(load, path)`: the one-line InputError message `load(path)` raises, naming the file."""
    return lambda load, path: one_line_error(load, path, names=path)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_courses(data_dir: Path) -> dict:
    return load_courses(data_dir / "courses.yaml")


# -- good files --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_json_and_csv_catalogs_load_to_the_same_courses_as_yaml(data_dir: Path, fmt: str) -> None:
    expected = load_catalog(data_dir / "courses.yaml", data_dir / "faq.yaml")
    loaded = load_catalog(data_dir / f"courses.{fmt}", data_dir / f"faq.{fmt}")
    assert loaded.courses == expected.courses
    assert loaded.faq == expected.faq


def test_csv_list_cells_are_split_on_bars_and_trimmed(data_dir: Path) -> None:
    courses = load_courses(data_dir / "courses.csv")
    assert courses["py-101"].tags == ["Python", "编程", "零基础"]
    assert courses["jianying-101"].tags == ["剪映", "剪辑", "短视频"]  # "剪映 | 剪辑 | 短视频" in the cell
    assert courses["licai-101"].aliases == []  # empty cell


def test_csv_list_cells_also_split_on_semicolons(tmp_path: Path) -> None:
    path = write(tmp_path, "courses.csv", "id,title,price,url,tags\na,课程A,1,https://ke.example.com/a,理财; 基金；定投\n")
    assert load_courses(path)["a"].tags == ["理财", "基金", "定投"]


def test_csv_saved_by_excel_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "courses.csv"
    path.write_bytes("id,title,price,url\na,课程A,1,https://ke.example.com/a\n".encode("utf-8-sig"))
    assert list(load_courses(path)) == ["a"]


def test_numbers_and_blank_course_ids_are_typed(data_dir: Path) -> None:
    catalog = load_catalog(data_dir / "courses.csv", data_dir / "faq.csv")
    assert catalog.courses["licai-101"].price == 99.5
    assert catalog.courses["jianying-101"].is_free
    assert catalog.courses["jianying-101"].price_text() == "免费"
    assert catalog.faq["faq-invoice"].course_id is None  # empty CSV cell: about no course in particular
    assert catalog.faq["faq-py-zero"].course_id == "py-101"


def test_extra_course_fields_are_kept(repo_config_dir: Path) -> None:
    courses = load_courses(repo_config_dir / "catalog.yaml")
    assert courses["py-101"].model_extra == {"lessons": 86, "duration_hours": 40}


def test_documents_are_found_by_title_aliases_and_alternatives(data_dir: Path) -> None:
    catalog = load_catalog(data_dir / "courses.yaml", data_dir / "faq.yaml")
    documents = {d.id: d for d in catalog.documents()}
    assert set(documents) == {
        "course:py-101", "course:jianying-101", "course:licai-101",
        "faq:faq-invoice", "faq:faq-py-zero", "faq:faq-jianying-free",
    }
    course = documents["course:py-101"]
    assert course.kind == "course" and course.course_id == "py-101"
    assert {"Python零基础入门", "python入门", "小白python"} <= set(course.phrasings)
    faq = documents["faq:faq-invoice"]
    assert faq.kind == "faq" and faq.course_id is None
    assert faq.phrasings == ("可以开发票吗？", "能开票吗", "公司报销要发票")
    assert [item_id for item_id, _ in faq.items()] == ["faq:faq-invoice#0", "faq:faq-invoice#1", "faq:faq-invoice#2"]
    assert {"剪映课", "小白python", "理财"} <= set(catalog.course_terms())


def test_bundled_demo_catalog_loads(repo_config_dir: Path) -> None:
    catalog = load_catalog(repo_config_dir / "catalog.yaml", repo_config_dir / "faq.yaml")
    assert isinstance(catalog, Catalog)
    assert len(catalog.courses) >= 25 and len(catalog.faq) >= 50
    assert {"py-101", "jianying-101"} <= set(catalog.courses)
    assert "faq-invoice" in catalog.faq


# -- bad files: one line naming file, line and field -------------------------------------------------------------


def test_missing_field_names_line_course_and_field(tmp_path: Path, error_of) -> None:
    path = write(tmp_path, "courses.yaml", "courses:\n" + COURSE_A + "  - id: b\n    title: 课程B\n    url: https://ke.example.com/b\n")
    message = error_of(load_courses, path)
    assert f"{path}:6:" in message
    assert "course 'b'" in message and "missing" in message and "'price'" in message


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("courses.yaml", "courses:\n" + COURSE_A + "  - id: b\n    title: 课程B\n    price: 九十九\n    url: https://ke.example.com/b\n", 6),
        ("courses.csv", "id,title,price,url\na,课程A,1,https://ke.example.com/a\nb,课程B,九十九,https://ke.example.com/b\n", 3),
        ("courses.json", (
            '{"courses": [\n {"id": "a", "title": "课程A", "price": 1, "url": "https://ke.example.com/a"},\n'
            ' {"id": "b", "title": "课程B", "price": "九十九", "url": "https://ke.example.com/b"}\n]}\n'
        ), 3),
    ],
)
def test_price_in_words_names_line_field_and_value(tmp_path: Path, name: str, text: str, line: int, error_of) -> None:
    path = write(tmp_path, name, text)
    message = error_of(load_courses, path)
    assert f"{path}:{line}:" in message
    assert "course 'b'" in message and "'price'" in message and "'九十九'" in message


def test_empty_price_cell_in_csv_is_an_error_not_free(tmp_path: Path, error_of) -> None:
    path = write(tmp_path, "courses.csv", "id,title,price,url\na,课程A,,https://ke.example.com/a\n")
    message = error_of(load_courses, path)
    assert f"{path}:2:" in message and "'price'" in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("level", "expert", "'beginner', 'intermediate' or 'advanced'"),
        ("url", "ke.example.com/a", "^https?://\\S+$"),
        ("price", "-5", "greater than or equal to 0"),
        ("tags", "5", "valid list"),
    ],
)
def test_invalid_field_value_says_what_was_expected(tmp_path: Path, field: str, value: str, expected: str, error_of) -> None:
    fields = {"id": "a", "title": "课程A", "price": "1", "url": "https://ke.example.com/a"} | {field: value}
    path = write(tmp_path, "courses.yaml", "courses:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in fields.items()) + "\n")
    message = error_of(load_courses, path)
    assert f"{path}:2:" in message and f"'{field}'" in message and expected in message


@pytest.mark.parametrize(
    ("name", "text", "first", "second"),
    [
        ("courses.yaml", "courses:\n" + COURSE_A + "\n" + COURSE_A, 2, 7),
        ("courses.csv", "id,title,price,url\na,课程A,1,https://ke.example.com/a\na,课程B,2,https://ke.example.com/b\n", 2, 3),
        ("courses.json", (
            '[\n {"id": "a", "title": "课程A", "price": 1, "url": "https://ke.example.com/a"},\n'
            ' {"id": "a", "title": "课程B", "price": 2, "url": "https://ke.example.com/b"}\n]\n'
        ), 2, 3),
    ],
)
def test_duplicate_id_names_both_lines(tmp_path: Path, name: str, text: str, first: int, second: int, error_of) -> None:
    path = write(tmp_path, name, text)
    message = error_of(load_courses, path)
    assert f"{path}:{second}:" in message
    assert f"line {first}" in message and "'a'" in message and "duplicate" in message


def test_duplicate_faq_id_is_rejected(tmp_path: Path, error_of) -> None:
    entry = "  - id: faq-x\n    question: 能退款吗？\n    answer: 能。\n"
    path = write(tmp_path, "faq.yaml", "faq:\n" + entry + entry)
    message = error_of(load_faq, path)
    assert f"{path}:5:" in message and "line 2" in message and "faq-x" in message


@pytest.mark.parametrize("name", ["courses.yaml", "courses.csv", "courses.json"])
def test_file_not_in_utf8_names_file_and_line(tmp_path: Path, name: str, error_of) -> None:
    good = {"courses.yaml": "courses:\n" + COURSE_A, "courses.json": '[{"id": "a",\n "title": "课程A", "price": 1, "url": "https://ke.example.com/a"}]',
            "courses.csv": "id,title,price,url\na,课程A,1,https://ke.example.com/a\n"}[name]
    path = tmp_path / name
    path.write_bytes(good.encode("gbk"))  # what Excel / Notepad on a Chinese Windows saves by default
    message = error_of(load_courses, path)
    assert "not UTF-8" in message and "save it as UTF-8" in message
    line = next(n for n, text in enumerate(good.splitlines(), 1) if not text.isascii())
    assert f"{path}:{line}:" in message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("courses.yaml", "courses: []\n"),
        ("courses.yaml", "courses:\n"),
        ("courses.yaml", ""),
        ("courses.json", '{"courses": []}'),
        ("courses.csv", "id,title,price,url\n"),
        ("courses.csv", ""),
    ],
)
def test_empty_catalog_is_an_error(tmp_path: Path, name: str, text: str, error_of) -> None:
    path = write(tmp_path, name, text)
    message = error_of(load_courses, path)
    assert "courses" in message or "course" in message


def test_empty_faq_is_an_error(tmp_path: Path, error_of) -> None:
    message = error_of(load_faq, write(tmp_path, "faq.yaml", "faq: []\n"))
    assert "no faq entry entries" in message or "empty" in message


@pytest.mark.parametrize("suffix", [".txt", ".xlsx", ""])
def test_unknown_file_extension_lists_the_accepted_formats(tmp_path: Path, suffix: str, error_of) -> None:
    path = write(tmp_path, f"courses{suffix}", "courses:\n" + COURSE_A)
    message = error_of(load_courses, path)
    assert ".yaml" in message and ".json" in message and ".csv" in message


def test_invalid_yaml_names_the_line(tmp_path: Path, error_of) -> None:
    path = write(tmp_path, "courses.yaml", "courses:\n" + COURSE_A + "  - id: b\n    title: [课程B\n    price: 1\n")
    message = error_of(load_courses, path)
    assert "invalid YAML" in message
    assert f"{path}:8:" in message


def test_invalid_json_names_the_line(tmp_path: Path, error_of) -> None:
    path = write(tmp_path, "courses.json", '{"courses": [\n {"id": "a",\n  "title": "课程A",]}\n')
    message = error_of(load_courses, path)
    assert "invalid JSON" in message and f"{path}:3:" in message


def test_yaml_without_courses_key_says_what_is_expected(tmp_path: Path, error_of) -> None:
    message = error_of(load_courses, write(tmp_path, "courses.yaml", "course:\n" + COURSE_A))
    assert "'courses:'" in message


def test_entry_that_is_not_a_mapping_names_its_line(tmp_path: Path, error_of) -> None:
    message = error_of(load_courses, write(tmp_path, "courses.yaml", "courses:\n" + COURSE_A + "  - 只有一个标题\n"))
    assert ":6:" in message and "mapping" in message


def test_csv_row_with_too_many_cells_names_the_row(tmp_path: Path, error_of) -> None:
    path = write(tmp_path, "courses.csv", "id,title,price,url\na,课程A,1,https://ke.example.com/a\nb,课程B,2,https://ke.example.com/b,多余\n")
    message = error_of(load_courses, path)
    assert f"{path}:3:" in message and "4 columns" in message


def test_faq_pointing_at_unknown_course_names_entry_line_and_course(tmp_path: Path, small_courses: dict, error_of) -> None:
    path = write(
        tmp_path, "faq.yaml",
        "faq:\n  - id: faq-ok\n    question: 能退款吗？\n    answer: 能。\n"
        "  - id: faq-ghost\n    question: 这门课难吗？\n    answer: 不难。\n    course_id: py-999\n",
    )
    message = error_of(lambda p: load_faq(p, small_courses), path)
    assert f"{path}:5:" in message
    assert "faq-ghost" in message and "course_id" in message and "py-999" in message


def test_faq_csv_pointing_at_unknown_course_names_the_row(tmp_path: Path, data_dir: Path) -> None:
    path = write(tmp_path, "faq.csv", "id,question,answer,course_id\nfaq-ok,能退款吗？,能。,\nfaq-ghost,难吗？,不难。,py-999\n")
    with pytest.raises(InputError, match=r"faq\.csv:3: .*faq-ghost.*py-999"):
        load_catalog(data_dir / "courses.yaml", path)


def test_faq_missing_answer_names_the_field(tmp_path: Path, error_of) -> None:
    message = error_of(load_faq, write(tmp_path, "faq.yaml", "faq:\n  - id: faq-x\n    question: 能退款吗？\n"))
    assert ":2:" in message and "faq-x" in message and "'answer'" in message


def test_missing_catalog_file_is_one_line(tmp_path: Path, error_of) -> None:
    message = error_of(load_courses, tmp_path / "nope.yaml")
    assert "not found" in message


def test_directory_instead_of_file_is_one_line(tmp_path: Path, error_of) -> None:
    folder = tmp_path / "catalog.yaml"
    folder.mkdir()
    assert "directory" in error_of(load_courses, folder)
