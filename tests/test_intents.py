"""The intent heads' fast prediction path agrees with scikit-learn's own predict_proba."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB

from retrieval.intents import PrototypeClassifier, pattern_intent
from retrieval.text import normalize


def test_blended_probabilities_equal_scikit_learns_predict_proba() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 16))
    labels = [("ask_price", "praise", "chitchat")[i % 3] for i in range(60)]
    texts = [f"这课{i % 7}多少钱{i % 5}" if i % 3 == 0 else f"讲得好{i % 4}哈哈{i % 6}" for i in range(60)]

    classifier = PrototypeClassifier.train(vectors, texts, labels, char_weight=0.35)

    dense = LogisticRegression(C=4.0, max_iter=500, tol=1e-3, class_weight="balanced").fit(vectors, labels)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    chars = MultinomialNB(alpha=0.1).fit(vectorizer.fit_transform(texts), labels)
    expected = 0.65 * dense.predict_proba(vectors) + 0.35 * chars.predict_proba(vectorizer.transform(texts))

    assert classifier.labels == tuple(dense.classes_)
    np.testing.assert_allclose(classifier.probabilities(vectors, texts), expected, atol=1e-9)
    assert np.allclose(classifier.probabilities(vectors, texts).sum(axis=1), 1.0)


@pytest.mark.parametrize("text", ["有没有讲修图的", "有没有专门讲吉他的课", "免费的课有吗", "有免费的吗", "有没有便宜点的",
                                  "求推荐个入门的", "蹲一个高阶的课", "学完这个接下来学什么", "有什么课推荐吗", "有没有Java的课",
                                  # another course than the video's: easier, harder, cheaper, similar
                                  "太难了 有简单点的吗", "有没有基础点的英语课", "有进阶点的吗", "有无更便宜的😭",
                                  "这个有点贵 有便宜点能学调色的吗", "还有类似的吗", "做起来了 想做抖音 有相关的吗",
                                  "有没有从头讲的", "账号怎么做 有课吗"])
def test_asking_whether_a_course_exists_is_a_recommendation_request(text: str) -> None:
    assert pattern_intent(normalize(text)) == "ask_recommendation"


@pytest.mark.parametrize(("text", "intent"), [
    ("有没有讲透视表", None),  # without 的: what this course covers (the model decides: ask_course_content)
    ("是免费的吗", "ask_price"), ("免费吗", "ask_price"), ("有没有优惠", "ask_price"),
    ("蹲一个链接", None), ("求课件", "ask_link"), ("强烈推荐", None), ("已经推荐给室友了", None), ("讲的太好了吧", None),
    ("有没有讲到的地方没听懂", None), ("这课有配套的练习吗", None),
    ("今天有课吗", None), ("有基础的同学可以直接学吗", None), ("有类似的问题吗", None), ("有免费的试听吗", None),
    ("这课有优惠吗", "ask_price"),
])
def test_the_recommendation_rule_leaves_other_comments_alone(text: str, intent: str | None) -> None:
    assert pattern_intent(normalize(text)) == intent


@pytest.mark.parametrize(("text", "intent"), [
    ("67￥xjFH2YgvsT7￥ https://m.tb.cn/h.fQ2p7AL 链接来啦～希望大家年年有好运", "spam"),  # 淘口令 and a shop link
    ("復制这段€AbCdEf12345€打开淘宝", "spam"),  # a 淘口令 alone, full-width and traditional characters
    ("同款在这 https://item.jd.com/100012.html", "spam"),
    ("拼多多帮我砍一刀 mobile.yangkeduo.com/goods", "spam"),  # a shop link without a scheme
    ("这家是正版吗 https://item.taobao.com/item.htm?id=1", None),  # a question about the link is not an ad
    ("这本书￥39.8 很便宜", None),  # a price, not a code
    ("笔记在 https://github.com/x/notes 上", None),
    ("看这个 notjd.com/a", None),  # the shop's name inside another domain
])
def test_shop_links_and_shop_codes_are_spam_unless_the_comment_asks_something(text: str, intent: str | None) -> None:
    assert pattern_intent(normalize(text)) == intent
