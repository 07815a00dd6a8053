"""The console in a real browser (headless Chromium via selenium) against a real server, database and outbox
worker. Every page is screenshotted at 1280 and 390 px (tests/.screenshots) and checked not to overflow."""

from __future__ import annotations

import time

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
    wait_text,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from bot.events import Event
from bot.runner import Runner

INVOICE = "可以开发票吗"  # the bot answers it from the FAQ when it may
pytestmark = pytest.mark.browser










def test_login_refuses_a_wrong_password_and_locks_the_account_after_five(web_browser, sqlite_world: ConsoleWorld) -> None:
    browser = web_browser
    browser.get(sqlite_world.base + "/inbox")
    assert "/login" in browser.current_url  # signed out: the console sends you to log in
    shoot(browser, "login")
    log_in(browser, sqlite_world, OWNER, "wrong-password")
    wait_text(browser, "用户名或密码错误")
    for _ in range(4):
        log_in(browser, sqlite_world, OWNER, "wrong-password")
    wait_text(browser, "账号已暂时锁定")
    shoot(browser, "login-locked")
    log_in(browser, sqlite_world, OWNER, OWNER_PASSWORD)  # the right password, but locked
    wait_text(browser, "账号已暂时锁定")
    assert "/login" in browser.current_url
    log_in(browser, sqlite_world, HELPER, HELPER_PASSWORD)  # another account is not affected
    wait_text(browser, "待处理")
    assert "/inbox" in browser.current_url


def test_inbox_shows_a_newly_stored_handoff_within_two_seconds(web_browser, any_world: ConsoleWorld) -> None:
    browser = web_browser
    any_world.handoff("零基础多久能找到工作？", name="小红")
    log_in(browser, any_world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "零基础多久能找到工作？")
    handoff_id = any_world.handoff("这门课和B站免费的有什么区别", name="阿强")
    WebDriverWait(browser, 2.0, poll_frequency=0.05).until(EC.presence_of_element_located((By.ID, f"handoff-{handoff_id}")))
    time.sleep(0.1)  # let the list finish replacing itself before reading it
    item = browser.find_element(By.ID, f"handoff-{handoff_id}").text
    assert "这门课和B站免费的有什么区别" in item and "阿强" in item and THREAD.title in item
    assert browser.find_element(By.ID, "open-count").text == "2"
    shoot(browser, "inbox")


def test_a_reply_reaches_the_viewer_exactly_once_despite_a_double_click_and_two_tabs(web_browser, any_world: ConsoleWorld) -> None:
    browser = web_browser
    first, second = any_world.handoff("能开发票吗？公司报销要用"), any_world.handoff("学完有证书吗")
    log_in(browser, any_world, HELPER, HELPER_PASSWORD)
    wait_text(browser, "待处理")
    browser.get(f"{any_world.base}/inbox/{first}")
    shoot(browser, "handoff")
    browser.find_element(By.ID, "reply-text").send_keys("可以开，下单后私信我抬头和税号")
    ActionChains(browser).double_click(browser.find_element(By.ID, "send-reply")).perform()
    wait_text(browser, "已回复")
    # Two tabs on the second handoff, both loaded while it was open, both answered.
    browser.get(f"{any_world.base}/inbox/{second}")
    browser.switch_to.new_window("tab")
    browser.get(f"{any_world.base}/inbox/{second}")
    tabs = browser.window_handles
    for handle, text in zip(tabs, ("有结课证书", "有的，学完发电子证书")):
        browser.switch_to.window(handle)
        browser.find_element(By.ID, "reply-text").send_keys(text)
    for handle in tabs:
        browser.switch_to.window(handle)
        browser.find_element(By.ID, "send-reply").click()
        WebDriverWait(browser, 5).until(lambda b: "msg=" in b.current_url)
    assert "已经处理过了" in text_of(browser)  # the second tab is told, nothing more is queued
    records = any_world.wait_sent(2)
    time.sleep(0.5)  # several outbox polls: a second copy would have gone by now
    texts = [r["text"] for r in any_world.sent()]
    assert texts == ["可以开，下单后私信我抬头和税号", "有结课证书"], texts
    assert all(r["kind"] == "reply_public" and r["thread_id"] == THREAD.id for r in records)
    assert [e.action for e in any_world.store.audit_log() if e.action.startswith("handoff.")] == ["handoff.reply", "handoff.reply"]
    shoot(browser, "handoff-answered")


def test_taking_over_a_thread_keeps_the_bot_silent_there(web_browser, sqlite_world: ConsoleWorld, analyzer) -> None:
    browser = web_browser
    handoff_id = sqlite_world.handoff("老师能不能讲讲虚拟环境")
    log_in(browser, sqlite_world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "待处理")
    browser.get(f"{sqlite_world.base}/inbox/{handoff_id}")
    browser.find_element(By.ID, "takeover").click()
    wait_text(browser, "已接管")
    runner = Runner.open(sqlite_world.settings, analyzer=analyzer, store=sqlite_world.store)
    [outcome] = sqlite_world.run(runner.process([Event(platform="bilibili", event_id="after-takeover", text=INVOICE, thread=THREAD,
                                                       author_id="viewer-x", author_name="小李")]))
    assert (outcome.decision.action, outcome.decision.reason) == ("ignore", "a human has taken over this thread")
    browser.find_element(By.CSS_SELECTOR, "a.thread").click()  # the thread's conversation page
    wait_text(browser, "由 console:owner 接管中")
    assert "a human has taken over this thread" in text_of(browser)
    shoot(browser, "conversation")
    time.sleep(0.3)
    assert sqlite_world.sent() == []


def test_taking_over_a_viewer_keeps_the_bot_silent_with_them_on_every_thread(web_browser, any_world: ConsoleWorld, analyzer) -> None:
    from sqlmodel import select

    from bot.events import Thread
    from bot.store.models import Viewer

    browser, world = web_browser, any_world
    handoff_id = world.handoff("老师能不能讲讲虚拟环境", name="小红")
    pseudonym = world.store.handoff(handoff_id).viewer  # type: ignore[union-attr]
    with world.store.session(write=False) as session:
        author = session.exec(select(Viewer.author_id).where(Viewer.pseudonym == pseudonym)).one()
    log_in(browser, world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "待处理", timeout=15)
    browser.get(f"{world.base}/inbox/{handoff_id}")
    browser.find_element(By.ID, "takeover-viewer").click()
    wait_text(browser, "已接管该观众", timeout=15)
    assert browser.find_elements(By.ID, "release-viewer")  # the page now offers to give them back
    shoot(browser, "handoff-viewer-taken-over")
    runner = Runner.open(world.settings, analyzer=analyzer, store=world.store)
    elsewhere = Thread("BV1Gt4y1m7Qe", "Python第2课")
    [outcome] = world.run(runner.process([Event(platform="bilibili", event_id="viewer-taken", text=INVOICE, thread=elsewhere,
                                                author_id=author, author_name="小红")]))
    assert (outcome.decision.action, outcome.decision.reason) == ("handoff", "人工接管：该观众")
    browser.get(world.base + "/inbox")
    wait_text(browser, "人工接管：该观众", timeout=15)  # their comment waits in the inbox for the creator
    browser.get(world.base + "/conversations")
    assert pseudonym in browser.find_element(By.ID, "taken-over").text
    shoot(browser, "conversations-taken-over")
    browser.find_element(By.ID, f"release-{pseudonym}").click()
    wait_text(browser, "已交还该观众", timeout=15)
    assert browser.find_elements(By.ID, "taken-over") == []
    [answered] = world.run(runner.process([Event(platform="bilibili", event_id="viewer-released", text=INVOICE, thread=elsewhere,
                                                 author_id=author, author_name="小红")]))
    assert answered.decision.action == "reply_public"
    assert [r["reply_to"] for r in world.wait_sent(1)] == ["viewer-released"]  # nothing went to them while taken over
    assert [e.action for e in world.store.audit_log() if e.action.startswith("viewer.")] == ["viewer.release", "viewer.take_over"]


def test_pause_from_the_console_means_nothing_is_sent(web_browser, sqlite_world: ConsoleWorld, analyzer) -> None:
    browser = web_browser
    log_in(browser, sqlite_world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "待处理")
    browser.get(sqlite_world.base + "/switches")
    browser.find_element(By.ID, "pause").click()
    wait_text(browser, "已暂停")
    assert browser.find_element(By.ID, "paused-state").text == "已暂停"
    shoot(browser, "switches")
    runner = Runner.open(sqlite_world.settings, analyzer=analyzer, store=sqlite_world.store)
    [outcome] = sqlite_world.run(runner.process([Event(platform="bilibili", event_id="while-paused", text=INVOICE, thread=THREAD,
                                                       author_id="viewer-y")]))
    assert (outcome.decision.action, outcome.decision.reason) == ("ignore", "paused (kill switch)")
    time.sleep(0.3)
    assert sqlite_world.sent() == []
    browser.get(sqlite_world.base + "/audit")
    assert "switch.pause" in text_of(browser) and "console:owner" in text_of(browser)
    shoot(browser, "audit")


def test_viewer_supplied_markup_is_shown_as_text_and_never_runs(web_browser, sqlite_world: ConsoleWorld) -> None:
    browser = web_browser
    script, image = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    handoff_id = sqlite_world.handoff(script, name=image)
    log_in(browser, sqlite_world, OWNER, OWNER_PASSWORD)
    wait_text(browser, script)
    assert_no_alert(browser)
    assert image in browser.find_element(By.ID, f"handoff-{handoff_id}").text
    browser.get(f"{sqlite_world.base}/inbox/{handoff_id}")
    assert browser.find_element(By.ID, "comment-text").text == script
    assert browser.find_element(By.ID, "viewer-name").text == image
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
    time.sleep(0.2)
    assert_no_alert(browser)
    browser.get(sqlite_world.base + "/conversations")
    shoot(browser, "conversations")


def test_an_assistant_cannot_reach_the_switches(web_browser, sqlite_world: ConsoleWorld) -> None:
    browser = web_browser
    log_in(browser, sqlite_world, HELPER, HELPER_PASSWORD)
    wait_text(browser, "待处理")
    nav = browser.find_element(By.CSS_SELECTOR, "header nav").text
    assert "开关" not in nav and "待处理" in nav
    browser.get(sqlite_world.base + "/switches")
    wait_text(browser, "没有权限")
    shoot(browser, "forbidden")
    token = browser.find_element(By.NAME, "csrf_token").get_attribute("value")  # the logout form's: a valid token
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/switches', {method: 'POST', headers: {'X-CSRF-Token': arguments[0],"
        " 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'what=pause', redirect: 'manual'})"
        ".then(r => done(r.status));", token)
    assert status == 403
    assert not sqlite_world.store.switches().paused


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_post_without_the_sessions_csrf_token_is_rejected(sqlite_world: ConsoleWorld, token: str | None) -> None:
    import aiohttp

    async def attempt() -> tuple[int, int]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: cookies for 127.0.0.1
            login = await http.post(sqlite_world.base + "/login", data={"name": OWNER, "password": OWNER_PASSWORD}, allow_redirects=False)
            assert login.status == 302 and "HttpOnly" in login.headers["Set-Cookie"] and "SameSite=Lax" in login.headers["Set-Cookie"]
            form = {"what": "pause", **({"csrf_token": token} if token else {})}
            refused = await http.post(sqlite_world.base + "/switches", data=form, allow_redirects=False)
            page = await (await http.get(sqlite_world.base + "/switches")).text()
            real = page.split('name="csrf_token" value="')[1].split('"')[0]
            accepted = await http.post(sqlite_world.base + "/switches", data={"what": "pause", "csrf_token": real}, allow_redirects=False)
            return refused.status, accepted.status

    refused, accepted = sqlite_world.run(attempt())
    assert (refused, accepted) == (403, 302)
    assert [e.action for e in sqlite_world.store.audit_log()].count("switch.pause") == 1
