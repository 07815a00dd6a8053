"""The console's Knowledge page (/knowledge) and the inbox's learning buttons in a real browser, against a real
server and database: an edit refused next to its field, a valid edit answering the next comment (real model,
the worker's Teacher on the same store), phrasings, retire, course facts, roles, escaping, screenshots."""

from __future__ import annotations

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
    wait_replaced,
    wait_text,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bot.analysis import Analyzer
from bot.answers import answer_text
from bot.catalog import faq_errors
from bot.events import Event
from bot.learning.knowledge_base import KnowledgeBase
from bot.learning.teacher import teacher_for
from bot.runner import Runner

pytestmark = pytest.mark.browser
NOT_IN_FAQ = "课程里的代码能商用吗"  # no entry answers it (tests/pipeline/test_knowledge_live.py)
ANSWER = "可以商用，注明出处即可"


def ask(worker: Analyzer, text: str):
    match = worker.analyze([Event("bilibili", "k1", text)])[0].match
    return match, answer_text(match, worker.knowledge.catalog)


def submit(browser, button_id: str) -> None:
    """Click a form's button and wait for the page it returns (the old page gone)."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, button_id).click()
    wait_replaced(browser, page)


def fill(browser, field_id: str, value: str) -> None:
    element = browser.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(value)


def test_an_faq_edit_is_refused_next_to_its_field_then_a_valid_one_answers_the_next_comment(web_browser, any_world: ConsoleWorld,
                                                                                            fresh_analyzer) -> None:
    browser, world = web_browser, any_world
    worker = fresh_analyzer()
    teacher_for(worker).refresh(world.store)
    assert not ask(worker, NOT_IN_FAQ)[0].answered

    log_in(browser, world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "待处理")
    browser.find_element(By.LINK_TEXT, "知识库").click()
    fill(browser, "knowledge-search", "下载")
    browser.find_element(By.CSS_SELECTOR, "form.search button").click()
    WebDriverWait(browser, 5).until(lambda b: "q=" in b.current_url)
    assert "课程视频可以下载离线看吗" in browser.find_element(By.ID, "faq-list").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#faq-list li")) < len(KnowledgeBase.open(world.settings, None).faq())
    browser.find_element(By.CSS_SELECTOR, "#faq-faq-download a").click()
    wait_text(browser, "修改记录")

    fill(browser, "f-answer", "")  # the loader refuses an empty answer
    submit(browser, "save-faq")
    error = browser.find_element(By.ID, "error-answer").text
    loader = faq_errors({"id": "faq-download", "question": "q", "answer": ""}, {})["answer"]
    assert error == loader and error.startswith("field 'answer'")  # the file loader's words, next to the field
    assert browser.find_element(By.ID, "f-answer").get_attribute("aria-invalid") == "true"
    assert KnowledgeBase.open(world.settings, world.store).history("faq-download") == []  # nothing stored
    shoot(browser, "knowledge-entry-error")

    fill(browser, "f-question", NOT_IN_FAQ)
    fill(browser, "f-answer", ANSWER)
    submit(browser, "save-faq")
    wait_text(browser, "已保存")
    history = browser.find_element(By.ID, "history").text
    assert "console:owner" in history and ANSWER in history and "课程视频可以下载离线看吗" in history  # before → after

    assert teacher_for(worker).refresh(world.store)  # what every worker does before its next batch
    match, answer = ask(worker, NOT_IN_FAQ)
    assert match.answered and match.answer_id == "faq-download" and answer == ANSWER
    [audit] = [e for e in world.store.audit_log() if e.action.startswith("knowledge.")]
    assert (audit.by, audit.action, audit.target) == ("console:owner", "knowledge.faq_edit", "faq:faq-download")
    assert audit.detail["fields"] == ["answer", "question"]


def test_phrasings_live_answer_retire_and_course_facts_from_the_knowledge_pages(web_browser, sqlite_world: ConsoleWorld) -> None:
    browser, world = web_browser, sqlite_world
    log_in(browser, world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "待处理")
    browser.get(world.base + "/knowledge")
    wait_text(browser, "课程")
    shoot(browser, "knowledge")

    # An FAQ entry added, with a bad id first (refused next to the id), then without one.
    submit(browser, "new-faq")
    fill(browser, "f-faq_id", "Bad Id!")
    fill(browser, "f-question", "直播回放在哪看")
    fill(browser, "f-answer", "直播结束后回放在课程群里")
    fill(browser, "f-alternatives", "有回放吗\n回放去哪找")
    submit(browser, "add-faq")
    assert browser.find_element(By.ID, "error-faq_id").text.startswith("field 'id'")
    assert browser.find_element(By.ID, "f-question").get_attribute("value") == "直播回放在哪看"  # what was typed stays
    shoot(browser, "knowledge-new-error")
    fill(browser, "f-faq_id", "")
    submit(browser, "add-faq")
    wait_text(browser, "已添加")
    faq_id = browser.find_element(By.ID, "entry-id").text
    assert faq_id.startswith("creator-") and "有回放吗" in browser.find_element(By.ID, "phrasings").text

    # A live answer longer than the room's danmaku is refused with the [live] limit; a short one is kept.
    limit = world.settings.live.danmaku_max_chars
    fill(browser, "f-live_answer", "回" * (limit * world.settings.live.danmaku_parts + 1))
    submit(browser, "save-faq")
    assert "danmaku_max_chars" in browser.find_element(By.ID, "error-live_answer").text
    fill(browser, "f-live_answer", "回放在课程群")
    submit(browser, "save-faq")
    wait_text(browser, "已保存")
    assert KnowledgeBase.open(world.settings, world.store).entry(faq_id).live_answer == "回放在课程群"

    # Phrasings: one already there is refused next to the box; a new one added; one removed.
    fill(browser, "f-phrasing", "有回放吗")
    submit(browser, "add-phrasing")
    assert "already a phrasing" in browser.find_element(By.ID, "error-phrasing").text
    fill(browser, "f-phrasing", "能看回放吗")
    submit(browser, "add-phrasing")
    wait_text(browser, "问法已添加")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='删除问法 回放去哪找']").click()
    wait_text(browser, "问法已删除")
    phrasings = KnowledgeBase.open(world.settings, world.store).entry(faq_id).alternatives
    assert phrasings == ("有回放吗", "能看回放吗")
    shoot(browser, "knowledge-entry")

    # Retire asks first; cancelling keeps it, confirming retires it.
    submit(browser, "retire")
    wait_text(browser, "停用这条常见问题？")
    shoot(browser, "knowledge-retire")
    browser.find_element(By.LINK_TEXT, "取消").click()
    wait_text(browser, "修改记录")
    assert KnowledgeBase.open(world.settings, world.store).entry(faq_id) is not None
    submit(browser, "retire")
    submit(browser, "confirm-retire")
    wait_text(browser, "已停用")
    assert KnowledgeBase.open(world.settings, world.store).entry(faq_id) is None
    assert f"faq-{faq_id}" not in browser.page_source

    # A course's price: a negative one refused next to the field, then a new price kept with its history.
    course = KnowledgeBase.open(world.settings, world.store).courses()[0]
    browser.find_element(By.CSS_SELECTOR, f"#course-{course.id} a").click()
    WebDriverWait(browser, 5).until(lambda b: b.find_elements(By.ID, "f-price"))
    fill(browser, "f-price", "-1")
    submit(browser, "save-course")
    assert browser.find_element(By.ID, "error-price").text.startswith("field 'price'")
    fill(browser, "f-price", "99")
    submit(browser, "save-course")
    wait_text(browser, "已保存")
    assert browser.find_element(By.ID, "course-price").text == "99 元"
    assert "console:owner" in browser.find_element(By.ID, "history").text
    shoot(browser, "knowledge-course")

    actions = [e.action for e in reversed(world.store.audit_log()) if e.action.startswith("knowledge.")]
    assert actions == ["knowledge.faq_entry", "knowledge.faq_edit", "knowledge.faq_phrasing", "knowledge.faq_unphrase",
                       "knowledge.faq_retire", "knowledge.course_edit"]


def test_an_assistant_cannot_reach_the_knowledge_pages(web_browser, sqlite_world: ConsoleWorld) -> None:
    browser = web_browser
    log_in(browser, sqlite_world, HELPER, HELPER_PASSWORD)
    wait_text(browser, "待处理")
    assert "知识库" not in browser.find_element(By.CSS_SELECTOR, "header nav").text
    for path in ("/knowledge", "/knowledge/faq/faq-download", "/knowledge/faq/new"):
        browser.get(sqlite_world.base + path)
        wait_text(browser, "没有权限")
    token = browser.find_element(By.NAME, "csrf_token").get_attribute("value")
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/knowledge/faq/faq-download', {method: 'POST', headers: {'X-CSRF-Token': arguments[0],"
        " 'Content-Type': 'application/x-www-form-urlencoded'}, body: 'answer=hacked', redirect: 'manual'})"
        ".then(r => done(r.status));", token)
    assert status == 403
    assert KnowledgeBase.open(sqlite_world.settings, sqlite_world.store).history("faq-download") == []


def test_markup_in_an_faq_answer_is_shown_as_text_and_never_runs(web_browser, sqlite_world: ConsoleWorld) -> None:
    browser, world = web_browser, sqlite_world
    script, image = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    kb = KnowledgeBase.open(world.settings, world.store)
    result = kb.add_faq("import", question=f"怎么{image}", answer=f"答案{script}", faq_id="xss", alternatives=[f"问{script}"])
    assert result.ok
    log_in(browser, world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "待处理")
    browser.get(world.base + "/knowledge?q=xss")
    wait_text(browser, f"怎么{image}")
    assert_no_alert(browser)
    browser.get(world.base + "/knowledge/faq/xss")
    wait_text(browser, f"答案{script}")
    assert_no_alert(browser)
    assert f"问{script}" in browser.find_element(By.ID, "phrasings").text
    assert not browser.find_elements(By.CSS_SELECTOR, "main img, main script")
    shoot(browser, "knowledge-xss")


def test_the_inbox_teaches_wrong_right_and_saves_a_comment_as_a_phrasing_of_the_closest_entry(
        web_browser, sqlite_world: ConsoleWorld, analyzer) -> None:
    browser, world = web_browser, sqlite_world
    runner = Runner.open(world.settings, analyzer=analyzer, store=world.store)
    [outcome] = world.run(runner.process([Event(platform="bilibili", event_id="invoice-1", text="请问可以开发票吗", thread=THREAD,
                                                author_id="viewer-i", author_name="小王")]))
    assert outcome.decision.action == "reply_public" and outcome.analysis.match.answer_id == "faq-invoice"
    handoff_id = world.store.open_handoff(outcome.accepted.event_pk, "the creator wants to see it")
    log_in(browser, world, OWNER, OWNER_PASSWORD)
    wait_text(browser, "待处理")
    browser.get(f"{world.base}/inbox/{handoff_id}")
    wait_text(browser, "存为常见问题")
    assert browser.find_element(By.ID, "suggested-faq").get_attribute("href").endswith("/knowledge/faq/faq-invoice")
    dense = next(h.dense for h in outcome.analysis.match.hits if h.id == "faq:faq-invoice")
    assert browser.find_element(By.ID, "suggested-score").text == f"{dense:.2f}"
    shoot(browser, "handoff-learning")

    browser.find_element(By.ID, "teach").click()
    submit(browser, "mark-right")
    wait_text(browser, "回复是对的")
    browser.find_element(By.ID, "teach").click()
    submit(browser, "mark-wrong")
    wait_text(browser, "回复是错的")
    submit(browser, "save-as-phrasing")
    wait_text(browser, "另一种问法")
    assert "请问可以开发票吗" in KnowledgeBase.open(world.settings, world.store).entry("faq-invoice").alternatives
    actions = [(e.action, e.target) for e in reversed(world.store.audit_log()) if e.action.startswith("learn.")]
    event = f"comment:{outcome.accepted.event_pk}"
    assert actions == [("learn.right", event), ("learn.wrong", event), ("learn.save_faq", f"handoff:{handoff_id}")]
    assert "faq-invoice" in text_of(browser)
