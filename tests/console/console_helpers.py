"""Helpers for tests/console (imported by name, like pipeline_helpers). The console under test: a real server on 127.0.0.1 (random port) in a thread of its own, over a real SQLite or
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bot.adapters.recording import RecordingSink
from bot.config import Settings
from bot.console.app import console_app
from bot.events import Event, Thread
from bot.outbox import ANY_PLATFORM, OutboxWorker
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


# -- driving the browser ----------------------------------------------------------------------------------------
def log_in(browser, world: ConsoleWorld, name: str, password: str) -> None:
    browser.get(world.base + "/login")
    browser.find_element(By.NAME, "name").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(password)
    button = browser.find_element(By.CSS_SELECTOR, "#login button")
    button.click()
    # The answer has replaced the form (argon2 takes its time under load): the next attempt is not sent before it.
    wait_replaced(browser, button, timeout=20.0)


def wait_replaced(browser, element, timeout: float = 10.0) -> None:
    """Wait until `element`'s page has been replaced by the next one. Chromium reports a node of a page that is
    gone either as stale or as "Node with given id does not belong to the document": both mean replaced
    (selenium's `staleness_of` knows only the first)."""

    def gone(_browser) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    WebDriverWait(browser, timeout, poll_frequency=0.05).until(gone)


def text_of(browser, css: str = "body") -> str:
    try:
        return browser.find_element(By.CSS_SELECTOR, css).text
    except WebDriverException:  # the page or the polled list was replaced while being read (stale node)
        return ""


def wait_text(browser, words: str, timeout: float = 15.0) -> None:
    WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda b: words in text_of(b))


def assert_no_alert(browser) -> None:
    try:
        alert = browser.switch_to.alert
    except NoAlertPresentException:
        return
    text = alert.text
    alert.dismiss()
    raise AssertionError(f"a script ran: alert({text!r})")
