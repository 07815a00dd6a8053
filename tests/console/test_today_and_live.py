"""The console's Today page and the live question board in a real browser, against a real server and database:
Today's numbers are `coursebot summary --format json`'s for the same day (read from the DOM), and danmaku stored
through the runner (real model) reach the host's board within 2 s, where a group is marked answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from console_helpers import (
    HELPER,
    HELPER_PASSWORD,
    OWNER,
    OWNER_PASSWORD,
    THREAD,
    ConsoleWorld,
    assert_no_alert,
    log_in,
    shoot,
    text_of,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from typer.testing import CliRunner

from bot.console.today import lookup
from bot.events import Event, Thread
from bot.runner import Runner, event_clock
from bot.summary.build import summary_zone

pytestmark = pytest.mark.browser
ROOM = 5151
LIVE = {"min_interval": 10.0, "group_window": 120.0, "max_delay": 60.0, "min_confidence": 0.86}
XSS = "<script>alert(1)</script>有回放吗"








def summary_json(world: ConsoleWorld, settings_path, day: str) -> dict:
    """`coursebot summary --format json` on the world's database, through the real entry point (in process)."""
    from bot.cli import app

    url = world.store.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["summary", "--config", str(settings_path), "--date", day, "--format", "json",
                                      "--group-questions-by", "keywords"], env={"COURSEBOT_STORE__URL": url})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_today_page_numbers_equal_the_summary_json_of_the_same_day(web_browser, any_world: ConsoleWorld, analyzer,
                                                                    repo_config_dir) -> None:
    browser, world = web_browser, any_world
    now, zone = datetime.now(UTC), summary_zone(world.settings)
    # The handoff below is written at the real time: the comments go on the same local day, even just after midnight.
    midnight = datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone).astimezone(UTC)
    at = max(now - timedelta(minutes=5), midnight)
    day = at.astimezone(zone).date().isoformat()
    runner = Runner.open(world.settings, analyzer=analyzer, store=world.store)
    texts = ["可以开发票吗", "这门课多少钱", "老师讲得真好！", "<script>alert(1)</script>退款怎么申请", "零基础能学会吗", "在吗"]
    world.run(runner.process([Event(platform="bilibili", event_id=f"today-{n}", text=t, thread=THREAD, author_id=f"v{n % 4}",
                                    author_name=f"观众{n % 4}", created_at=at + timedelta(seconds=n)) for n, t in enumerate(texts)]))
    handoff = world.handoff("能不能出一期讲虚拟环境的")
    log_in(browser, world, HELPER, HELPER_PASSWORD)  # an assistant may read Today
    browser.get(f"{world.base}/inbox/{handoff}")
    browser.find_element(By.ID, "reply-text").send_keys("好的，下周安排")
    browser.find_element(By.ID, "send-reply").click()
    WebDriverWait(browser, 5).until(lambda b: "msg=" in b.current_url)
    assert world.wait_sent(1)  # everything the page will count is stored before both read it
    browser.get(f"{world.base}/today?day={day}")
    figures = browser.execute_script(
        "return Array.from(document.querySelectorAll('data[data-key]')).map(e => [e.dataset.key, e.value, e.textContent])")
    expected = summary_json(world, repo_config_dir / "coursebot.toml", day)
    assert expected["volume"]["total"] >= 7 and expected["day"] == day
    assert len(figures) > 30, figures
    for key, value, shown in figures:
        want = lookup(expected, key)
        assert value == ("" if want is None else str(want)), (key, value, want, shown)
    assert_no_alert(browser)
    assert browser.execute_script("return getComputedStyle(document.querySelector('.today')).display") != "inline"  # today.css loaded
    served = json.loads(browser.execute_script(f"return fetch('/today.json?day={day}').then(r => r.text())"))
    assert {**served, "generated_at": None} == {**expected, "generated_at": None}
    shoot(browser, f"today-{'sqlite' if world.store.engine.dialect.name == 'sqlite' else 'postgres'}")
    browser.get(f"{world.base}/today?day=2024-13-01")
    assert "2024-13-01" in text_of(browser)  # the CLI's one-line --date error, not a crash


def live_event(n: int, text: str, thread: Thread, start: datetime, *, at: float, kind: str = "danmaku", **raw) -> Event:
    author = None if kind in ("live_start", "live_end") else str(2000 + n)
    return Event("bilibili-live", f"{kind}-{n}", text, kind=kind, thread=thread, author_id=author,  # type: ignore[arg-type]
                 created_at=start + timedelta(seconds=at), raw={"room_id": ROOM, "uid": 2000 + n, **raw})


def test_live_board_shows_new_danmaku_within_two_seconds_and_a_group_is_marked_answered(
        web_browser, any_world: ConsoleWorld, analyzer, settings_factory) -> None:
    browser, world = web_browser, any_world
    start = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    thread = Thread(f"live:{ROOM}:{int(start.timestamp())}", "Python零基础入门到实战 直播答疑")
    runner = Runner.open(settings_factory(live=LIVE), analyzer=analyzer, store=world.store, clock=event_clock)

    def process(events: list[Event]) -> None:  # on the server's loop, as `coursebot run` would beside it
        world.run(runner.process(events))

    process([live_event(0, "", thread, start, at=0, kind="live_start")]
            + [live_event(n, t, thread, start, at=n) for n, t in enumerate(["多少钱", "这课多少钱啊", "价格多少", "主播用的什么编辑器"], 1)])
    log_in(browser, world, OWNER, OWNER_PASSWORD)
    browser.get(world.base + "/live")
    WebDriverWait(browser, 5).until(lambda b: f"/live/{ROOM}" in b.current_url)  # the one room: straight to its board
    assert "主播用的什么编辑器" in text_of(browser, "#live-board")
    price = browser.find_element(By.CSS_SELECTOR, "[data-status=bot]")  # the bot answered the price for all of them
    assert "机器人已答" in price.text and "机器人：" in price.text
    # New danmaku (one with markup in it) and a super chat, stored through the runner while the page is open.
    process([live_event(10, XSS, thread, start, at=60), live_event(11, "直播有回放吗", thread, start, at=61),
             live_event(12, "老师这套课适合零基础吗", thread, start, at=62, kind="super_chat", price=30, super_chat_id=9)])
    WebDriverWait(browser, 2.0, poll_frequency=0.05).until(lambda b: XSS in text_of(b, "#live-board"))
    WebDriverWait(browser, 2.0, poll_frequency=0.05).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".group.paid"))
    assert_no_alert(browser)
    assert "醒目留言 ×1" in text_of(browser, ".group.paid")
    replay = next(g for g in browser.find_elements(By.CSS_SELECTOR, ".group") if XSS in g.text)
    group_id = replay.get_attribute("id").removeprefix("group-")
    assert replay.get_attribute("data-status") == "open" and "直播有回放吗" in text_of(browser, "#live-board")
    assert browser.find_elements(By.CSS_SELECTOR, "#live-board script") == []  # the markup is text, not an element
    shoot(browser, "live")
    browser.find_element(By.ID, f"mark-{group_id}").click()
    WebDriverWait(browser, 5).until(lambda b: "msg=" in b.current_url)
    marked = browser.find_element(By.ID, f"group-{group_id}")
    assert marked.get_attribute("data-status") == "marked" and "主播已回答" in marked.text
    [entry] = [e for e in world.store.audit_log() if e.action == "live.answered"]
    assert (entry.by, entry.target) == ("console:owner", f"live_group:{thread.id}:{group_id}")
    data = json.loads(browser.execute_script(f"return fetch('/live/{ROOM}.json').then(r => r.text())"))
    assert {g["id"]: g["status"] for g in data["groups"]}[int(group_id)] == "marked"
    shoot(browser, "live-marked")
