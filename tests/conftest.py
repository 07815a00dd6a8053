"""Shared fixtures for the whole test suite. Everything here is real: the m3e-small model, FAISS, files.

Expensive things are session-scoped and built once:

- `encoder`        the real m3e-small model (SentenceTransformerEncoder in a CachedEncoder). Loading it takes
                   ~7 s and ~600 MB, so never construct another one in a test: take this fixture.
- `knowledge`      Knowledge over the bundled `config/` (index built once in a session tmp dir). Read-only:
- `analyzer`       an Analyzer over `knowledge`.                                  do not mutate either.
- `cli`            runs a `coursebot` command in this process (the CLI's typer app, the session's loaded model:
                   encoders over one model directory share its weights), with the shared state dir, so the index
                   is built at most once per session. Same result shape as `cli_process`.
- `cli_process`    runs the installed `coursebot` console script in a subprocess, as a user does: for what only a
                   process shows (the entry point, piped output, imports, exit status). Each call that opens the
                   catalog imports torch and loads the model again (~8 s of CPU): keep these few.

Cheap, function-scoped helpers for tests that need their own files or state:

- `repo_config_dir`   Path of the repository's `config/` (do not write to it).
- `config_dir`        a fresh copy of `config/` in a tmp dir; edit freely.
- `settings_factory`  `settings_factory(config_dir=None, **overrides)` → Settings from
                      `<config_dir>/coursebot.toml` with `state_dir` in a fresh tmp dir.
- `make_hashing_encoder`  a tiny deterministic Encoder (character n-gram hashing) for index tests that need a
                      second, different model without loading one.
- `one_line_error`    `one_line_error(call, *args, names=path)` → the message of the InputError `call(*args)`
                      raises, checked to be one line (and to name `names`, e.g. the file, when given).

`COURSEBOT_*` variables from the developer's shell are removed for the session, so a local
`COURSEBOT_STATE_DIR` or `COURSEBOT_CONFIG` can never leak into (or be overwritten by) the tests.

`./dev test` runs the suite in worker processes (pytest-xdist, `--dist loadgroup`): every session fixture above
exists once per worker (one model each), tmp dirs are per worker, PostgreSQL tests each get a database or schema
of their own, servers listen on ephemeral ports. The tests that drive Chromium are marked as one group
(`xdist_group("browser")`), meant to keep them on one worker with one browser; but pytest-xdist 3.8 names the group
in `item._nodeid`, which pytest 9 no longer reads, so they spread over the workers and each worker that runs one
starts its own Chromium (under a second).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.analysis import Analyzer
from bot.config import Settings, load_settings
from bot.knowledge import Knowledge
from retrieval.encoder import CachedEncoder, Encoder, SentenceTransformerEncoder
from retrieval.errors import InputError

REPO = Path(__file__).resolve().parent.parent
REPO_CONFIG = REPO / "config"
DATA = Path(__file__).resolve().parent / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session", autouse=True)
def _clean_coursebot_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("COURSEBOT_")]:
            patch.delenv(name)
        yield


# -- paths and settings ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def repo_config_dir() -> Path:
    """The repository's bundled `config/` directory. Read it, never write to it."""
    return REPO_CONFIG


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """`tests/data/`: small hand-written input files (catalogs in several formats, bad inputs)."""
    return DATA


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A fresh, writable copy of `config/` (coursebot.toml, catalog, FAQ, intents, samples…)."""
    target = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, target)
    return target


@pytest.fixture
def settings_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    """`settings_factory(config_dir=None, **overrides)` → validated Settings.

    Reads `<config_dir>/coursebot.toml` (the repo's config when None); `overrides` replace top-level keys
    exactly as `load_settings(path, **overrides)` does (a section given as a dict replaces that section).
    `state_dir` is a fresh tmp dir unless overridden, so every call gets its own index.
    """

    def make(config_dir: Path | None = None, **overrides: Any) -> Settings:
        overrides.setdefault("state_dir", str(tmp_path_factory.mktemp("state")))
        return load_settings((config_dir or REPO_CONFIG) / "coursebot.toml", **overrides)

    return make


def _one_line_error(call: Callable[..., object], *args: Any, names: object = None) -> str:
    with pytest.raises(InputError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message, f"error spans several lines: {message!r}"
    if names is not None:
        assert str(names) in message, f"error does not name {names}: {message!r}"
    return message


@pytest.fixture(scope="session")
def one_line_error() -> Callable[..., str]:
    """`one_line_error(call, *args, names=path)`: user-facing errors are one line naming the file (style.md)."""
    return _one_line_error


# -- the real model and what is built from it ------------------------------------------------------------------


@pytest.fixture(scope="session")
def encoder() -> CachedEncoder:
    """The real m3e-small model, loaded once per session, behind an embedding cache."""
    return CachedEncoder(SentenceTransformerEncoder())


@pytest.fixture(scope="session")
def shared_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """State dir (index + prototype cache) for the bundled config, shared by `knowledge` and `cli`."""
    return tmp_path_factory.mktemp("shared-state")


@pytest.fixture(scope="session")
def knowledge(encoder: CachedEncoder, shared_state_dir: Path) -> Knowledge:
    """Knowledge over the bundled config, built once. Read-only: tests that change files use their own."""
    settings = load_settings(REPO_CONFIG / "coursebot.toml", state_dir=str(shared_state_dir))
    return Knowledge.open(settings, encoder)


@pytest.fixture(scope="session")
def analyzer(knowledge: Knowledge) -> Analyzer:
    """Analyzer over the bundled config (thresholds from config/coursebot.toml)."""
    return Analyzer(knowledge)


@pytest.fixture
def fresh_analyzer(knowledge: Knowledge, encoder: CachedEncoder, settings_factory: Callable[..., Settings]) -> Callable[[], Analyzer]:
    """`fresh_analyzer()`: a new analyzer of the bundled config in its own state dir, as one worker process has; it
    may be taught (the session's `analyzer` is read-only). The saved index is copied, not re-encoded."""

    def make() -> Analyzer:
        settings = settings_factory()
        shutil.copytree(knowledge.settings.index_dir, settings.index_dir, dirs_exist_ok=True)
        return Analyzer(Knowledge.open(settings, encoder))

    return make


# -- the console entry point -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def coursebot_script() -> Path:
    """The installed `coursebot` console script of the interpreter running the tests."""
    script = Path(sys.executable).parent / "coursebot"
    if not script.exists():
        pytest.fail(f"{script} not found: install the package (pip install -e .) in this interpreter's environment")
    return script


def _cli_environment(shared_state_dir: Path) -> dict[str, str]:
    """What both `cli` fixtures set: the repo's config and the session's state dir, whole lines."""
    return {
        "COURSEBOT_CONFIG": str(REPO_CONFIG / "coursebot.toml"),
        "COURSEBOT_STATE_DIR": str(shared_state_dir),
        "COLUMNS": "200",  # rich wraps at the terminal width; keep lines whole for assertions
        "PYTHONIOENCODING": "utf-8",
    }


@pytest.fixture(scope="session")
def cli(shared_state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`cli("ask", "可以开发票吗", "--json", input=None, env=None, cwd=None)` → CompletedProcess (text mode).

    Runs the command in this process through the CLI's own typer app (`bot.cli.app`, what the console script
    calls) with the repo's config (COURSEBOT_CONFIG) and the shared session state dir (COURSEBOT_STATE_DIR),
    from an empty working directory; `env` adds/overrides variables for the call only. A command that opens the
    catalog shares the model's weights with the session's `encoder` (whichever loads it first; commands that
    need no model load none). An exception the command does not handle is returncode 1 with its traceback on
    stderr, as the script would print it.
    """
    from typer.testing import CliRunner

    from bot.cli import app

    workdir = tmp_path_factory.mktemp("cli-cwd")

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
        environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith("COURSEBOT_")}
        environment |= _cli_environment(shared_state_dir) | (env or {})
        before = os.getcwd()
        os.chdir(cwd or workdir)
        try:
            result = CliRunner().invoke(app, list(args), input=input, env=environment, catch_exceptions=True)
        finally:
            os.chdir(before)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        return subprocess.CompletedProcess(["coursebot", *args], result.exit_code, result.stdout, stderr)

    return run


@pytest.fixture(scope="session")
def cli_process(coursebot_script: Path, shared_state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`cli_process("ask", "可以开发票吗", "--json", input=None, env=None, cwd=None)` → CompletedProcess (text mode).

    Runs the real `coursebot` script with the repo's config (COURSEBOT_CONFIG) and the shared session state
    dir (COURSEBOT_STATE_DIR), from an empty working directory. `env` adds/overrides variables. Every call
    that opens the catalog loads the model (~8 s of CPU): use `cli` unless the test is about the process.
    """
    workdir = tmp_path_factory.mktemp("cli-process-cwd")

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, input: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("COURSEBOT_")}
        environment |= _cli_environment(shared_state_dir) | (env or {})
        return subprocess.run(
            [str(coursebot_script), *args], check=False, capture_output=True, text=True, encoding="utf-8",
            env=environment, cwd=cwd or workdir, input=input, timeout=timeout,
        )

    return run


# -- a second, tiny Encoder ------------------------------------------------------------------------------------


class HashingEncoder:
    """A real (if crude) Encoder: character uni/bi-grams hashed into `dimension` buckets, L2-normalised.

    Deterministic and instant, so index tests can build several indexes and simulate "another model"
    (different `name` or `dimension`) without loading a second transformer.
    """

    def __init__(self, dimension: int = 64, name: str = "hashing") -> None:
        self._dimension = dimension
        self._name = f"{name}-{dimension}"
        self.calls: list[int] = []  # number of texts per encode() call, to see what was re-encoded

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
            for gram in grams or [""]:
                bucket = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "big")
                out[row, bucket % self._dimension] += 1.0
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out


@pytest.fixture
def make_hashing_encoder() -> Callable[..., Encoder]:
    """`make_hashing_encoder(dimension=64, name="hashing")` → a fresh HashingEncoder."""
    return HashingEncoder
