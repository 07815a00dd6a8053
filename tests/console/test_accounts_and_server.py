"""Console accounts (argon2, lockout, sessions), the one server of `coursebot serve` (console + links + webhook), and
that the CLI and Telegram doors go through the same audited actions. Plain HTTP over loopback, no browser."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from console_helpers import KEY, OWNER, OWNER_PASSWORD, ConsoleWorld

from bot.adapters.telegram.console import StoreConsole
from bot.privacy import Pseudonymizer
from bot.store import Store
from bot.store.accounts import LOCKOUT, MAX_FAILED_LOGINS
from bot.store.models import ConsoleUser, utcnow


@pytest.fixture
def store(tmp_path: Path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'accounts.db'}", Pseudonymizer(KEY))
    yield store
    store.close()


def test_passwords_are_stored_as_argon2_hashes_and_checked(store: Store) -> None:
    store.add_console_user("mia", "owner", "correct horse")
    with store.session(write=False) as session:
        row = session.query(ConsoleUser).one()
    assert row.password_hash.startswith("$argon2id$") and "correct horse" not in row.password_hash
    assert store.log_in("mia", "correct horse").token
    assert store.log_in("mia", "Correct horse").token is None
    assert store.log_in("nobody", "correct horse").error == store.log_in("mia", "wrong one!").error  # no name oracle
    with pytest.raises(ValueError, match="field 'role'"):
        store.add_console_user("ann", "admin", "long enough")
    with pytest.raises(ValueError, match="field 'password'"):
        store.add_console_user("ann", "owner", "short")


def test_lockout_lifts_after_its_time_and_a_new_password_signs_every_browser_out(store: Store) -> None:
    store.add_console_user("mia", "assistant", "correct horse")
    token = store.log_in("mia", "correct horse").token
    now = utcnow()
    for _ in range(MAX_FAILED_LOGINS):
        result = store.log_in("mia", "guess", now=now)
    assert result.locked_until == now + LOCKOUT
    assert store.log_in("mia", "correct horse", now=now + LOCKOUT - timedelta(seconds=1)).token is None
    assert store.log_in("mia", "correct horse", now=now + LOCKOUT + timedelta(seconds=1)).token
    assert store.signed_in(token).account.role == "assistant"  # type: ignore[arg-type,union-attr]
    store.add_console_user("mia", "owner", "battery staple", replace=True)
    assert store.signed_in(token) is None  # type: ignore[arg-type]
    assert store.signed_in("not-a-token") is None


async def test_telegram_commands_go_through_the_audited_actions(store: Store) -> None:
    console = StoreConsole(store)
    await console.pause("telegram:7")
    await console.resume("telegram:7")
    await console.takeover("-100:5", "telegram:7")
    assert [(e.by, e.action, e.target) for e in reversed(store.audit_log())] == [
        ("telegram:7", "switch.pause", ""), ("telegram:7", "switch.resume", ""), ("telegram:7", "thread.take_over", "thread:telegram:-100:5")]


def test_console_add_user_reads_the_password_from_stdin_and_is_audited_as_cli(cli, tmp_path: Path) -> None:
    Store.from_url(f"sqlite:///{tmp_path / 'coursebot.db'}", Pseudonymizer(KEY)).close()
    added = cli("console", "add-user", "mia", "--role", "owner", "--password-file", "-", input="s3cret-password\n",
                env={"COURSEBOT_STATE_DIR": str(tmp_path)})
    assert added.returncode == 0, added.stderr
    assert "s3cret-password" not in added.stdout + added.stderr
    store = Store.from_url(f"sqlite:///{tmp_path / 'coursebot.db'}", Pseudonymizer(KEY))
    try:
        assert store.log_in("mia", "s3cret-password").token
        assert [(e.by, e.action) for e in store.audit_log()] == [("cli", "console.add_user")]
    finally:
        store.close()


def test_one_server_serves_the_console_the_links_and_the_webhook(sqlite_world: ConsoleWorld) -> None:
    async def visit() -> dict[str, int]:
        async with aiohttp.ClientSession() as http:
            statuses = {}
            for path in ("/healthz", "/l/unknown", "/inbox"):
                async with http.get(sqlite_world.base + path, allow_redirects=False) as response:
                    statuses[path] = response.status
                    if path == "/inbox":
                        assert response.headers["Location"].startswith("/login")
            # The shop's webhook is authenticated by its secret, not a session: not blocked by the CSRF check.
            async with http.post(sqlite_world.base + "/conversions", json={}) as response:
                statuses["/conversions"] = response.status
            async with http.post(sqlite_world.base + "/login", data={"name": OWNER, "password": OWNER_PASSWORD},
                                 headers={"Origin": "https://evil.example"}, allow_redirects=False) as response:
                statuses["cross-site login"] = response.status
            async with http.get(sqlite_world.base + "/login") as response:
                assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            return statuses

    assert sqlite_world.run(visit()) == {"/healthz": 200, "/l/unknown": 404, "/inbox": 302, "/conversions": 503,
                                         "cross-site login": 403}
