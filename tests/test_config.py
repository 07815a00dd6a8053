"""Settings (bot/config.py): TOML file + COURSEBOT_* environment, one-line errors naming file, line and key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import find_config, load_settings
from retrieval.errors import InputError

SMALL_CONFIG = """\
state_dir = "state"

[catalog]
courses = "catalog.yaml"
faq = "faq.yaml"

[matching]
min_dense = 0.8
top_k = 7
"""


def write_config(directory: Path, text: str = SMALL_CONFIG) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "coursebot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def error_of(one_line_error) -> Callable[[Path], str]:
    """`error_of(path)`: the one-line InputError message `load_settings(path)` raises, naming the file."""
    return lambda path: one_line_error(load_settings, path, names=path)


def line_of(path: Path, fragment: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if fragment in line)


# -- values ------------------------------------------------------------------------------------------------------


def test_bundled_config_is_valid(repo_config_dir: Path) -> None:
    settings = load_settings(repo_config_dir / "coursebot.toml")
    assert settings.catalog.courses == (repo_config_dir / "catalog.yaml").resolve()
    assert settings.catalog.courses.exists() and settings.catalog.faq.exists()
    assert 0 < settings.matching.min_dense <= 1


def test_settings_factory_gives_each_test_its_own_state_dir(settings_factory, config_dir: Path) -> None:
    first, second = settings_factory(config_dir), settings_factory(config_dir)
    assert first.state_dir != second.state_dir
    assert first.catalog.courses == (config_dir / "catalog.yaml").resolve()


def test_environment_overrides_one_nested_key_and_keeps_the_rest_of_the_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path)
    monkeypatch.setenv("COURSEBOT_MATCHING__MIN_DENSE", "0.55")
    settings = load_settings(path)
    assert settings.matching.min_dense == 0.55
    assert settings.matching.top_k == 7  # from the file, same section


def test_environment_overrides_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSEBOT_STATE_DIR", str(tmp_path / "elsewhere"))
    assert load_settings(write_config(tmp_path / "conf")).state_dir == tmp_path / "elsewhere"


def test_relative_paths_resolve_against_the_config_files_directory(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    settings = load_settings(config_dir / "coursebot.toml")
    assert settings.catalog.courses == (config_dir / "catalog.yaml").resolve()
    assert settings.catalog.user_dictionary == (config_dir / "userdict.txt").resolve()
    assert settings.catalog.threads == (config_dir / "samples" / "threads.yaml").resolve()
    assert settings.state_dir == (config_dir / "../var").resolve()  # state_dir = "../var" in the example


def test_relative_paths_from_the_environment_resolve_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`COURSEBOT_STATE_DIR=var/demo coursebot …` means ./var/demo, where it was typed, not <config dir>/var/demo."""
    shell = tmp_path / "project"
    shell.mkdir()
    monkeypatch.chdir(shell)
    monkeypatch.setenv("COURSEBOT_STATE_DIR", "var/demo")
    monkeypatch.setenv("COURSEBOT_CATALOG__FAQ", "mine/faq.yaml")
    monkeypatch.setenv("COURSEBOT_SECRETS_FILE", "private/secrets.toml")
    (shell / "private").mkdir()
    (shell / "private" / "secrets.toml").write_text('[web]\nconversion_secret = "s3cret-value"\n', encoding="utf-8")
    settings = load_settings(write_config(tmp_path / "conf"))
    assert settings.state_dir == shell / "var" / "demo"
    assert settings.catalog.faq == shell / "mine" / "faq.yaml"
    assert settings.catalog.courses == tmp_path / "conf" / "catalog.yaml"  # from the file: beside the file
    assert settings.web.conversion_secret is not None


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    catalog = tmp_path / "shared" / "courses.csv"
    path = write_config(tmp_path / "conf", SMALL_CONFIG.replace('"catalog.yaml"', f'"{catalog.as_posix()}"'))
    assert load_settings(path).catalog.courses == catalog


def test_config_is_found_through_COURSEBOT_CONFIG(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSEBOT_CONFIG", str(path))
    assert find_config() == path
    assert load_settings().matching.top_k == 7


def test_config_is_found_in_config_folder_of_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    assert find_config() == Path("config/coursebot.toml")
    assert load_settings().matching.top_k == 7


# -- errors ------------------------------------------------------------------------------------------------------


def test_out_of_range_value_names_file_line_and_key(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, SMALL_CONFIG.replace("min_dense = 0.8", "min_dense = 2.5"))
    message = error_of(path)
    assert f"{path}:{line_of(path, 'min_dense')}: matching.min_dense:" in message
    assert "2.5" in message and "less than or equal to 1" in message


def test_a_precision_target_no_better_than_a_coin_is_refused_and_the_default_is_097(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, SMALL_CONFIG.replace("min_dense = 0.8", "min_dense = 0.8\ntarget_precision = 0.4"))
    assert f"{path}:{line_of(path, 'target_precision')}: matching.target_precision:" in error_of(path)
    assert load_settings(write_config(tmp_path, SMALL_CONFIG)).matching.target_precision == 0.97


def test_wrong_type_names_file_line_and_key(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, SMALL_CONFIG.replace("top_k = 7", 'top_k = "seven"'))
    message = error_of(path)
    assert f"{path}:{line_of(path, 'top_k')}: matching.top_k:" in message and "'seven'" in message


def test_unknown_fusion_names_file_line_key_and_the_choices(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, SMALL_CONFIG + 'fusion = "bm25"\n')
    message = error_of(path)
    assert f"{path}:{line_of(path, 'fusion')}: matching.fusion:" in message
    assert "'convex'" in message and "'rrf'" in message


def test_unknown_key_is_rejected_with_its_line(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, SMALL_CONFIG + "min_dence = 0.5\n")  # typo of min_dense
    message = error_of(path)
    assert f"{path}:{line_of(path, 'min_dence')}: matching.min_dence:" in message
    assert "not permitted" in message


def test_unknown_section_is_rejected(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, SMALL_CONFIG + "\n[matchin]\ntop_k = 3\n")
    message = error_of(path)
    assert f"{path}:{line_of(path, '[matchin]')}: matchin:" in message and "not permitted" in message


def test_error_in_a_key_that_several_sections_share_points_at_its_own_section(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, '[model]\nbatch_size = 32\n\n[matching]\ntop_k = 3\n\n[summary]\ntop_keywords = 10\n'
                                  '\n[bilibili]\nenabled = true\n\n[douyin]\nenabled = "maybe"\n')
    message = error_of(path)
    assert f"{path}:14: douyin.enabled:" in message  # not line 11, bilibili's `enabled`


def test_invalid_environment_value_is_blamed_on_the_variable_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path)
    monkeypatch.setenv("COURSEBOT_MATCHING__MIN_DENSE", "abc")
    with pytest.raises(InputError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "COURSEBOT_MATCHING__MIN_DENSE" in message and "'abc'" in message
    assert f"{path}:" not in message  # the file says 0.8; pointing there would send the user to the wrong place


def test_config_not_in_utf8_names_file_and_line(tmp_path: Path, error_of) -> None:
    path = tmp_path / "coursebot.toml"
    path.write_bytes('state_dir = "state"\n# 匹配阈值\n[matching]\nmin_dense = 0.8\n'.encode("gbk"))
    message = error_of(path)
    assert "not UTF-8" in message
    assert f"{path}:2:" in message


def test_invalid_toml_names_the_line(tmp_path: Path, error_of) -> None:
    path = write_config(tmp_path, SMALL_CONFIG.replace("top_k = 7", "top_k = "))
    message = error_of(path)
    assert "invalid TOML" in message and f"line {line_of(path, 'top_k')}" in message


def test_missing_config_file_is_one_line(tmp_path: Path, error_of) -> None:
    assert "not found" in error_of(tmp_path / "nope.toml")
