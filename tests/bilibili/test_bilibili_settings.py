"""Platform settings: base URLs and secrets come from the config, env or a secrets file; secrets never echo."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import load_settings
from retrieval.errors import InputError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_base_urls_are_config_keys(tmp_path: Path) -> None:
    config = _write(tmp_path / "coursebot.toml", '[bilibili]\napi_base = "http://127.0.0.1:9"\nvc_base = "http://127.0.0.1:10"\n'
                    '[douyin]\napi_base = "http://127.0.0.1:11"\n')
    settings = load_settings(config)
    assert (settings.bilibili.api_base, settings.bilibili.vc_base, settings.douyin.api_base) == (
        "http://127.0.0.1:9", "http://127.0.0.1:10", "http://127.0.0.1:11")


def test_secrets_come_from_env_and_secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _write(tmp_path / "coursebot.toml", '[bilibili]\nuid = "42"\n')
    _write(tmp_path / "secrets.toml", '[bilibili]\nbili_jct = "jct-from-file"\n[douyin]\nclient_secret = "dy-secret"\n')
    monkeypatch.setenv("COURSEBOT_BILIBILI__SESSDATA", "sess-from-env")
    settings = load_settings(config)
    assert settings.bilibili.uid == "42"
    assert settings.bilibili.sessdata.get_secret_value() == "sess-from-env"
    assert settings.bilibili.bili_jct.get_secret_value() == "jct-from-file"
    assert settings.douyin.client_secret.get_secret_value() == "dy-secret"


def test_explicit_secrets_file_that_is_missing_is_a_one_line_error(tmp_path: Path) -> None:
    config = _write(tmp_path / "coursebot.toml", 'secrets_file = "nowhere.toml"\n')
    with pytest.raises(InputError, match="nowhere.toml: secrets file not found"):
        load_settings(config)


def test_secrets_are_masked_in_repr_logs_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    config = _write(tmp_path / "coursebot.toml", "")
    monkeypatch.setenv("COURSEBOT_BILIBILI__SESSDATA", "SESSDATA-VALUE-123")
    monkeypatch.setenv("COURSEBOT_DOUYIN__CLIENT_SECRET", "CLIENT-SECRET-456")
    settings = load_settings(config)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("coursebot.test").info("settings %s %r", settings, settings.bilibili)
    assert "SESSDATA-VALUE-123" not in caplog.text and "CLIENT-SECRET-456" not in caplog.text
    assert "SESSDATA-VALUE-123" not in repr(settings)
    bad = _write(tmp_path / "bad.toml", "[bilibili]\nbili_jct = 12345678\n")
    with pytest.raises(InputError) as info:
        load_settings(bad)
    assert "12345678" not in str(info.value) and "bili_jct" in str(info.value)
