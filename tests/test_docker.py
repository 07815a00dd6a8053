"""The image and the production compose file, checked without a Docker engine: hadolint for the Dockerfile,
the .dockerignore rules applied to the paths that must (not) reach an image, the compose file's structure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings

REPO = Path(__file__).resolve().parent.parent
DEFAULTS = Settings()
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|SESSDATA|BILI_JCT|_KEY$", re.IGNORECASE)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _pattern(glob: str) -> str:
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out, i = out + {"*": "[^/]*", "?": "[^/]"}.get(glob[i], re.escape(glob[i])), i + 1
    return out


def docker_ignores(path: str) -> bool:
    """Docker's rule: patterns are relative to the context root, a matched directory takes its contents, the
    last matching pattern wins (a leading ! re-includes)."""
    ignored = False
    parts = path.split("/")
    for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _pattern(line.lstrip("!").strip("/"))
        if any(re.fullmatch(regex, "/".join(parts[:end])) for end in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


# -- Dockerfile --------------------------------------------------------------------------------------------------


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.fail(f"{hadolint} not found: install the test extras (pip install -e '.[test]')")
    result = subprocess.run([str(hadolint), str(REPO / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_unprivileged_exposes_its_servers_and_checks_its_health() -> None:
    steps = instructions()
    kinds = [kind for kind, _ in steps]
    users = [args for kind, args in steps if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert kinds.index("USER") < kinds.index("ENTRYPOINT")
    exposed = {port for kind, args in steps if kind == "EXPOSE" for port in args.split()}
    assert {str(DEFAULTS.web.port), str(DEFAULTS.douyin.webhook_port)} <= exposed
    env = " ".join(args for kind, args in steps if kind == "ENV")
    # Listening on 127.0.0.1 inside a container answers nobody: the exposed servers bind every interface.
    assert "COURSEBOT_WEB__HOST=0.0.0.0" in env and "COURSEBOT_DOUYIN__WEBHOOK_HOST=0.0.0.0" in env
    assert "PIP_NO_CACHE_DIR=1" in env
    [health] = [args for kind, args in steps if kind == "HEALTHCHECK"]
    assert health.split()[0].startswith("--") and "CMD" in health and "HEALTHCHECK_URL" in health


def test_the_image_installs_exactly_as_the_readme_says() -> None:
    runs = [args for kind, args in instructions() if kind == "RUN"]
    assert any(run.startswith("./dev install") for run in runs)  # a guard: the image must not drift from the README
    assert "./dev install" in (REPO / "README.md").read_text(encoding="utf-8")


def test_nothing_private_or_local_reaches_the_build_context() -> None:
    private = ["secrets.toml", "config/secrets.toml", "coursebot.db", "var/coursebot.db", "config/coursebot.db-wal",
               "var/secret.key", "secret.key", "var/index/manifest.json", "var/demo/coursebot.db", ".env", ".env.production",
               "config/.env", "notes.sqlite", ".venv/bin/python", ".git/config"]
    assert [p for p in private if not docker_ignores(p)] == []
    needed = ["pyproject.toml", "README.md", "dev", "bot/cli.py", "retrieval/text.py", "config/coursebot.toml",
              "config/catalog.yaml", "config/samples/comments.jsonl", "config/samples/threads.yaml"]
    assert [p for p in needed if docker_ignores(p)] == []


# -- docker-compose.yml ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_runs_postgres_the_bot_and_the_link_server_after_the_migration(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "bot", "links"}
    assert services["db"]["image"].startswith("postgres:")
    ready = {"db": {"condition": "service_healthy"}, "migrate": {"condition": "service_completed_successfully"}}
    assert services["bot"]["depends_on"] == ready and services["links"]["depends_on"] == ready
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert all("healthcheck" in services[name] for name in ("db", "bot", "links"))
    assert f"127.0.0.1:{DEFAULTS.web.port}/healthz" in " ".join(services["links"]["healthcheck"]["test"])
    for name in ("migrate", "bot", "links"):
        assert services[name]["build"] == "." and services[name]["environment"]["COURSEBOT_STORE__URL"].startswith("postgresql+psycopg://")
    assert any(port.startswith(f"{DEFAULTS.web.port}:") for port in services["links"]["ports"])
    assert any(port.startswith(f"{DEFAULTS.douyin.webhook_port}:") for port in services["bot"]["ports"])


def test_compose_commands_are_real_coursebot_commands(compose: dict) -> None:
    for name in ("migrate", "bot", "links"):
        command = compose["services"][name]["command"]
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (name, command, result.output)


def test_compose_keeps_data_in_named_volumes(compose: dict) -> None:
    assert set(compose["volumes"]) == {"pgdata", "state"}
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source, target, *mode = mount.rsplit(":", 2 if mount.endswith((":ro", ":rw")) else 1)
            assert source in compose["volumes"] or (target == "/app/config" and mode == ["ro"]), (name, mount)
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    assert "state:/data" in compose["services"]["bot"]["volumes"]


def test_compose_takes_every_secret_from_the_environment(compose: dict) -> None:
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if SECRET_WORDS.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", str(value)), f"{name}: {key} holds a literal value"
        url = service.get("environment", {}).get("COURSEBOT_STORE__URL", "")
        assert not url or "${POSTGRES_PASSWORD" in url, f"{name}: database password written into the URL"
        assert service.get("env_file", ".env") == ".env"
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignored and docker_ignores(".env")
