"""Fixtures for the console tests (tests/console/console_helpers.py has the world and the screenshots):
`console_world(url)`, `sqlite_world`, `any_world` (SQLite and PostgreSQL), `browser` (one headless Chromium per
session), `web_browser` (it, signed out and reset after each test)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import CHROMEDRIVER, CHROMIUM, HELPER, HELPER_PASSWORD, KEY, OWNER, OWNER_PASSWORD, ConsoleWorld
from db_fixtures import postgres_admin, postgres_url  # noqa: F401 - fixtures

from bot.adapters.recording import RecordingSink
from bot.config import Settings
from bot.console import auth
from bot.privacy import Pseudonymizer
from bot.store import Store


@pytest.fixture
def console_world(settings_factory: Callable[..., Settings], tmp_path: Path) -> Iterator[Callable[[str], ConsoleWorld]]:
    worlds: list[ConsoleWorld] = []

    def make(url: str) -> ConsoleWorld:
        # The login rate limit counts per server process (bot/console/auth.py); every world stands for a new
        # server, so it starts from zero — otherwise the suite's 21st sign-in within 10 minutes is refused.
        auth._attempts.clear()
        store = Store.from_url(url, Pseudonymizer(KEY), busy_timeout=5)
        store.add_console_user(OWNER, "owner", OWNER_PASSWORD)
        store.add_console_user(HELPER, "assistant", HELPER_PASSWORD)
        settings = settings_factory(outbox={"poll_interval": 0.1})
        world = ConsoleWorld(store, settings, RecordingSink())
        world.start()
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.stop()
        world.store.close()


@pytest.fixture
def sqlite_world(console_world, tmp_path: Path) -> ConsoleWorld:
    return console_world(f"sqlite:///{tmp_path / 'console.db'}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world(request: pytest.FixtureRequest, console_world, tmp_path: Path) -> ConsoleWorld:
    if request.param == "sqlite":
        return console_world(f"sqlite:///{tmp_path / 'console.db'}")
    return console_world(request.getfixturevalue("postgres_url"))


# -- the browser ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists() and not shutil.which(Path(path).name)]
    if missing:
        reason = f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing; ./dev test installs them as root)"
        if os.environ.get("CI") and os.geteuid() == 0:
            pytest.fail(f"{reason} (CI as root: the browser tests must run)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")  # type: ignore[assignment]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=zh-CN",
                     "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")),
                              options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def web_browser(browser) -> Iterator[Any]:
    """The shared browser, signed out, one tab, desktop width."""
    yield browser
    for handle in browser.window_handles[1:]:
        browser.switch_to.window(handle)
        browser.close()
    browser.switch_to.window(browser.window_handles[0])
    browser.delete_all_cookies()
    browser.set_window_size(1280, 900)


