"""Understanding and matching comments in their thread's context (bot/analysis.py), real model, bundled catalog.

Thresholds and prototypes are being calibrated, so these cases are deliberately clear-cut: a user would call
any other outcome a bug. Thread ids are the demo threads in config/samples/threads.yaml.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.analysis import Analysis, Analyzer
from bot.answers import answer_text
from bot.events import Event, Thread
from retrieval.text import MAX_COMMENT_CHARS

PYTHON_VIDEO = Thread(id="BV1xx411c7mD")  # mapped to py-101 in samples/threads.yaml
JIANYING_VIDEO = Thread(id="7301856234917706024")  # mapped to jianying-101
VLOG = Thread(id="BV1Qa4y1C7nR", title="【Vlog】一个课程UP主的备课日常+粉丝问答")  # about no course


def analyze(analyzer: Analyzer, text: str, thread: Thread | None = None) -> Analysis:
    return analyzer.analyze([Event(platform="test", event_id="c1", text=text, thread=thread)])[0]


def answer(analyzer: Analyzer, analysis: Analysis) -> str | None:
    return answer_text(analysis.match, analyzer.knowledge.catalog)


# -- answers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["可以开发票吗", "可以開發票嗎", "可以开发票吗？？？", "请问可以开发票吗"])
def test_invoice_question_is_answered_from_the_faq(analyzer: Analyzer, text: str) -> None:
    analysis = analyze(analyzer, text)
    assert analysis.match.answer_kind == "faq" and analysis.match.answer_id == "faq-invoice"
    assert answer(analyzer, analysis) == analyzer.knowledge.catalog.faq["faq-invoice"].answer


def test_beginner_question_under_the_python_video_is_answered_about_the_python_course(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "零基础能学Python吗", PYTHON_VIDEO)
    match = analysis.match
    assert match.answered and match.course_id == "py-101"
    if match.answer_kind == "faq":
        assert analyzer.knowledge.catalog.faq[match.answer_id].course_id == "py-101"
    else:
        assert match.answer_kind == "course_content"


@pytest.mark.parametrize(("thread", "course"), [(PYTHON_VIDEO, "py-101"), (JIANYING_VIDEO, "jianying-101")])
def test_price_question_under_a_course_video_gets_that_courses_price(analyzer: Analyzer, thread: Thread, course: str) -> None:
    analysis = analyze(analyzer, "这课多少钱", thread)
    assert analysis.understanding.intent == "ask_price"
    assert analysis.match.course_id == course and analysis.match.course_source == "thread"
    assert analysis.match.answer_kind in {"faq", "course_price"}
    price = analyzer.knowledge.catalog.courses[course].price_text()  # "199" / "免费"
    assert price in (answer(analyzer, analysis) or "")


def test_thread_course_given_by_the_platform_event_is_used(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "这课多少钱", Thread(id="new-video", course_id="excel-pro"))
    assert analysis.match.course_id == "excel-pro"
    assert "99" in (answer(analyzer, analysis) or "")


def test_thread_course_is_inferred_from_a_title_naming_the_course(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "这课多少钱", Thread(id="unmapped-video", title="Excel课第3讲：VLOOKUP一看就会"))
    assert analysis.match.course_id == "excel-pro" and analysis.match.course_source == "thread"
    assert analysis.match.answered


def test_course_named_in_the_comment_wins_over_the_threads_course(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "剪映课多少钱", PYTHON_VIDEO)
    assert analysis.match.course_id == "jianying-101" and analysis.match.course_source == "text"
    assert analysis.match.answered
    text = answer(analyzer, analysis) or ""
    assert "免费" in text and "199" not in text


def test_another_courses_faq_never_answers(analyzer: Analyzer) -> None:
    # The best FAQ match for this text is py-101's "需要数学基础吗"; under the 剪映 video it must not be used.
    analysis = analyze(analyzer, "需要数学基础吗", JIANYING_VIDEO)
    if analysis.match.answer_id is not None:
        assert analyzer.knowledge.catalog.faq[analysis.match.answer_id].course_id in {None, "jianying-101"}
    assert analysis.match.course_id in {None, "jianying-101"}


def test_price_question_about_no_course_in_particular_is_not_answered_with_a_guess(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "这课多少钱", VLOG)
    assert analysis.understanding.intent == "ask_price"
    assert analysis.match.course_id is None
    assert answer(analyzer, analysis) is None or analyzer.knowledge.catalog.faq[analysis.match.answer_id].course_id is None


def test_a_question_only_one_courses_faq_answers_is_about_that_course_in_a_general_thread(analyzer: Analyzer) -> None:
    # No course named and none in view, but 国考 and its exam dates are the civil-service course's own entry.
    analysis = analyze(analyzer, "今年国考大概什么时候笔试", VLOG)
    assert (analysis.match.course_id, analysis.match.course_source) == ("gwy-exam", "text")
    assert (analysis.match.answer_kind, analysis.match.answer_id) == ("faq", "faq-gwy-date")


@pytest.mark.parametrize("text", ["你的课都多少钱啊", "这课多少钱", "课程链接在哪", "零基础可以学吗", "要学多长时间"])
def test_a_question_several_courses_entries_answer_stays_about_no_course(analyzer: Analyzer, text: str) -> None:
    # py-101 has its own price, link, beginner and duration entries; other courses have such entries too,
    # and "多少钱" or "零基础" in a general thread does not say which course is meant.
    analysis = analyze(analyzer, text, VLOG)
    assert analysis.match.course_id is None
    assert analysis.match.answer_id is None or analyzer.knowledge.catalog.faq[analysis.match.answer_id].course_id is None


@pytest.mark.parametrize(
    ("text", "kind", "course", "not_answer"),
    [
        # Near "爬虫有法律风险吗" in embedding space (cosine ≈ 0.85), but that entry does not say where to buy.
        ("爬虫课的链接有吗", "course_link", "py-spider", "faq-spider-legal"),
        # Near "数据分析课要什么基础" (≈ 0.86): the course's price, not its prerequisites.
        ("数据分析那套课多少钱", "course_price", "py-data", "faq-pydata-prereq"),
    ],
)
def test_a_price_or_link_question_is_not_answered_by_an_faq_entry_about_something_else(
    analyzer: Analyzer, text: str, kind: str, course: str, not_answer: str
) -> None:
    analysis = analyze(analyzer, text)
    assert analysis.understanding.intent_source == "pattern"
    assert analysis.match.hits and not_answer in {h.id.split(":", 1)[1] for h in analysis.match.hits}  # the entry is near
    assert (analysis.match.answer_kind, analysis.match.course_id) == (kind, course)


def test_a_price_question_still_takes_an_faq_entry_that_asks_about_price(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "有没有优惠券", PYTHON_VIDEO)
    assert analysis.understanding.intent == "ask_price"
    assert (analysis.match.answer_kind, analysis.match.answer_id) == ("faq", "faq-coupon")


# -- staying silent ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["哈哈哈哈", "前排", "😂😂😂", "打卡", "[doge]", "2333333", "第一", "来了来了"])
def test_chitchat_gets_no_answer(analyzer: Analyzer, text: str) -> None:
    analysis = analyze(analyzer, text, PYTHON_VIDEO)
    assert not analysis.match.answered, analysis.match.reason
    assert answer(analyzer, analysis) is None
    assert analysis.understanding.intent not in {"ask_price", "ask_link", "ask_course_content", "ask_recommendation"}


@pytest.mark.parametrize("text", ["😂😂😂", "[doge][笑哭]", "@小明", "   "])
def test_comment_with_nothing_but_emoji_stickers_or_mentions_is_chitchat(analyzer: Analyzer, text: str) -> None:
    analysis = analyze(analyzer, text)
    assert analysis.understanding.intent == "chitchat" and analysis.understanding.intent_source == "empty"
    assert analysis.match.hits == () and not analysis.match.answered


@pytest.mark.parametrize("text", ["加微信领资料", "兼职日结，私信我", "+v领取资料 vx: abc12345"])
def test_spam_is_recognised_and_never_answered(analyzer: Analyzer, text: str) -> None:
    analysis = analyze(analyzer, text, PYTHON_VIDEO)
    assert analysis.understanding.intent == "spam" and analysis.understanding.is_spam
    assert not analysis.match.answered and answer(analyzer, analysis) is None


# -- understanding -----------------------------------------------------------------------------------------------


def test_praise_is_positive_and_complaint_negative(analyzer: Analyzer) -> None:
    praise = analyze(analyzer, "老师讲得太好了！").understanding
    complaint = analyze(analyzer, "这课就是割韭菜，垃圾").understanding
    assert praise.intent == "praise" and praise.sentiment == "positive"
    assert complaint.sentiment == "negative"


def test_understanding_has_normalised_text_terms_and_topics(analyzer: Analyzer) -> None:
    understanding = analyze(analyzer, "ＰＹＴＨＯＮ數據分析課程有推薦嗎😂").understanding
    assert understanding.text == "python数据分析课程有推荐吗"
    assert "python数据分析" in understanding.terms  # a course alias: the user dictionary keeps it whole
    assert "吗" in understanding.terms and "有" not in understanding.terms
    assert "python数据分析" in understanding.topics
    assert 0 < understanding.intent_confidence <= 1 and 0 < understanding.sentiment_confidence <= 1


def test_ten_megabyte_comment_is_analysed_truncated(analyzer: Analyzer) -> None:
    analysis = analyze(analyzer, "这个课真的很好，" * 1_300_000)
    assert analysis.understanding.truncated
    assert len(analysis.understanding.text) <= MAX_COMMENT_CHARS


def test_same_comments_give_the_same_decisions(analyzer: Analyzer) -> None:
    events = [Event("test", str(i), text, thread=thread) for i, (text, thread) in enumerate(
        [("可以开发票吗", None), ("这课多少钱", PYTHON_VIDEO), ("哈哈哈哈", None), ("剪映课多少钱", PYTHON_VIDEO)])]
    first, second = analyzer.analyze(events), analyzer.analyze(list(reversed(events)))[::-1]

    def decisions(analyses: list[Analysis]) -> list[tuple]:
        # Scores may differ in the last float bits with the batch's padding; decisions must not.
        return [(a.understanding.intent, a.understanding.terms, a.match.answer_kind, a.match.answer_id, a.match.course_id,
                 [h.id for h in a.match.hits]) for a in analyses]

    assert decisions(first) == decisions(second)


async def test_async_analysis_of_concurrent_comments_matches_batch_analysis(knowledge) -> None:
    analyzer = Analyzer(knowledge)  # its own async encoder, bound to this test's event loop
    events = [Event("test", str(i), text, thread=PYTHON_VIDEO) for i, text in enumerate(
        ["可以开发票吗", "这课多少钱", "哈哈哈哈", "剪映课多少钱", "加微信领资料"])]
    try:
        concurrent = await asyncio.gather(*(analyzer.analyze_async(e) for e in events))
    finally:
        await analyzer.aclose()
    batch = analyzer.analyze(events)
    assert [a.match.answer_id for a in concurrent] == [a.match.answer_id for a in batch]
    assert [a.match.course_id for a in concurrent] == [a.match.course_id for a in batch]
    assert [a.understanding.intent for a in concurrent] == [a.understanding.intent for a in batch]
    assert [a.event.event_id for a in concurrent] == ["0", "1", "2", "3", "4"]
