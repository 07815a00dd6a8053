"""The console under test: a real server on 127.0.0.1 (random port) in a thread of its own, over a real SQLite or
PostgreSQL database, with the real outbox worker sending to a recording sink; one shared headless Chromium.

- `console_world(url)` → ConsoleWorld: `.base` (http://127.0.0.1:PORT), `.store`, `.sink` (RecordingSink),
  `.handoff(text, name=…, thread=…)` stores a comment and hands it off (no model), `.runner()` a Runner on the
  real model for the pipeline's own decisions (takeover, pause), accounts `owner` / `helper` (assistant).
- `browser`: one Chromium per session (Debian `chromium` + `chromium-driver`); skipped with the reason when they
  are missing, a failure under CI as root (where ./dev test installs them).
- `shoot(browser, name)`: screenshots at 1280 and 390 px into $COURSEBOT_SCREENSHOTS or tests/.screenshots.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from db_fixtures import postgres_admin, postgres_url  # noqa: F401 - fixtures

from bot.adapters.recording import RecordingSink
from bot.config import Settings
from bot.console.app import console_app
from bot.events import Event, Thread
from bot.outbox import ANY_PLATFORM, OutboxWorker
from bot.privacy import Pseudonymizer
from bot.store import Store

KEY = b"console-tests-key-0123456789abcdef"
OWNER, OWNER_PASSWORD = "owner", "owner-pass-1"
HELPER, HELPER_PASSWORD = "helper", "helper-pass-1"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("COURSEBOT_SCREENSHOTS") or Path(__file__).resolve().parent.parent / ".screenshots")
THREAD = Thread("BV1xx411c7mD", "Python零基础第1课：安装和环境配置")
_ids = itertools.count(1)


@dataclass
class ConsoleWorld:
    store: Store
    settings: Settings
    sink: RecordingSink
    base: str = ""
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _stop: asyncio.Event | None = None
    _runner: web.AppRunner | None = None
    _worker: Any = None

    def start(self) -> None:
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.run(self._start())

    async def _start(self) -> None:
        self._runner = web.AppRunner(console_app(self.store, self.settings))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        self._stop = asyncio.Event()
        worker = OutboxWorker(self.store, {ANY_PLATFORM: self.sink}, self.settings.outbox)
        self._worker = asyncio.create_task(worker.run(self._stop))

    def run(self, coroutine, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        async def _stop() -> None:
            self._stop.set()  # type: ignore[union-attr]
            await self._worker
            await self._runner.cleanup()  # type: ignore[union-attr]

        self.run(_stop())
        self.loop.call_soon_threadsafe(self.loop.stop)

    def handoff(self, text: str, *, name: str | None = "小明", thread: Thread | None = THREAD, platform: str = "bilibili",
                reason: str = "confidence 0.30 below 0.45") -> int:
        """A viewer comment stored and handed to the creator, as the runner would (without the model)."""
        n = next(_ids)
        [accepted] = self.store.record_events([Event(platform=platform, event_id=f"console-{n}", text=text, thread=thread,
                                                     author_id=f"viewer-{n}", author_name=name)])
        return self.store.open_handoff(accepted.event_pk, reason)

    def sent(self) -> list[dict[str, Any]]:
        return list(self.sink.records)

    def wait_sent(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.sink.records) < count:
            time.sleep(0.1)
        return self.sent()


@pytest.fixture
def console_world(settings_factory: Callable[..., Settings], tmp_path: Path) -> Iterator[Callable[[str], ConsoleWorld]]:
    worlds: list[ConsoleWorld] = []

    def make(url: str) -> ConsoleWorld:
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


def shoot(browser: Any, name: str) -> list[Path]:
    """The current page at desktop and phone width (full height), for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        height = browser.execute_script("return Math.max(document.body.scrollHeight, 600)")
        browser.set_window_size(width, min(int(height) + 40, 4000))
        path = SCREENSHOTS / f"{name}-{width}.png"
        browser.save_screenshot(str(path))
        paths.append(path)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} at {width} px: the page is {overflow} px wider than the screen"
    browser.set_window_size(1280, 900)
    return paths
