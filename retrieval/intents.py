"""What a comment wants (intent) and how it feels (sentiment).

A small logistic-regression head is trained on the embeddings of labelled prototype phrases (the
creator's `config/intents.yaml`), so adding phrasings needs no code. A few high-precision patterns
catch what embeddings blur: "多少钱" is a price question whatever else the comment says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB

from retrieval.text import NormalizedText

INTENTS = (
    "ask_price",
    "ask_link",
    "ask_course_content",
    "ask_recommendation",
    "question_other",
    "praise",
    "complaint",
    "spam",
    "chitchat",
    "other",
)
QUESTION_INTENTS = frozenset({"ask_price", "ask_link", "ask_course_content", "ask_recommendation", "question_other"})
SENTIMENTS = ("positive", "neutral", "negative")

# Ordered: the first pattern that matches decides. Kept short and precise; the model does the rest.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "spam",
        re.compile(
            r"(加|\+|➕|私|滴滴|联系)\s*(v|vx|wx|微信|薇信|威信|扣扣|qq|v信|卫星)|qq群|扣群|[vV]x[:：]?\s*\w{5,}|"
            r"兼职|日结|日赚|刷单|贷款|网贷|代写|代考|代刷|招代理|看我主页|点我头像|主页有福利|互关|互粉|回关|"
            r"私信我领|免费领取|进群领"
        ),
    ),
    (
        # "收了多少钱" accuses the creator of a paid promotion: a complaint, not a price question.
        "complaint",
        re.compile(r"(收了|给了|给你|拿了|恰了|赚了).{0,6}多少钱|恰烂钱|恰饭视频|收钱了吧|广告费"),
    ),
    (
        # "有免费的吗" asks for a free course, "免费的吗" whether this one is: before the price pattern.
        "ask_recommendation",
        re.compile(r"有(没有|木有|没|无)?更?(免费|便宜|实惠|不要钱|白嫖)[^，,。！!？?]{0,12}(的|课)(课|课程|教程|系列)?(吗|嘛|不|没|呢|推荐|[?？]|[\W_]*$)|"
                   r"(免费|便宜|不要钱)(一?点)?的(课|课程|教程)?有(吗|嘛|没|没有|不)"),
    ),
    (
        "ask_price",
        re.compile(
            r"多少钱|多少米|几块钱|几多钱|什么价|(价格|价钱|售价|学费|费用)(是?多少|呢|怎么样|[?？]|贵吗)|^(价格|价钱)$|"
            r"贵不贵|贵吗|收费吗|收费不|要钱吗|要钱不|付费吗|免费吗|免费的吗|是免费|白嫖吗|有优惠|有没有优惠|优惠券吗|"
            r"打折吗|有折扣|能便宜|便宜点吗"
        ),
    ),
    (
        "ask_link",
        re.compile(
            r"(链接|连接|练接|地址|网址|入口)(在哪|呢|有吗|发|求|是啥|多少)|求(个)?(链接|连接|练接|课件|资料|源码|网盘|地址)|"
            r"(在哪|哪里|去哪|怎么)(买|购买|报名|下单|领|下载)|(课件|资料|源码|网盘|ppt|讲义)(在哪|哪里|能发|可以发|有吗|求)|"
            r"^(链接|连接|求链接)[?？!！。]*$"
        ),
    ),
    (
        # Asking whether a course on a topic exists: "有没有讲调色的", "进阶的课有吗", "蹲一个入门的", "求推荐".
        # "有没有讲透视表" without 的 asks what *this* course covers (ask_course_content), so 的 is required.
        "ask_recommendation",
        re.compile(
            r"求推荐|求(一个|个)?(课|课程|教程|学习路线)推荐|有(没有|木有)?(什么|啥|哪些|好的)?(课|课程|教程)?推荐(吗|嘛|的|不|没|呢|[?？]|$)|"
            r"推荐(一下|一个|个|几个|点|些)?(什么|啥|哪个|哪门|哪些)(课|课程|教程)?|"
            r"有(没有|木有)?(讲|教|关于|针对|专门讲|适合|从头讲|从零讲)[^，,。！!？?]{1,15}的(课|课程|教程|系列|视频)?(吗|嘛|呀|啊|呢|不|[?？!！]|$)|"
            # Another course than this one: "有简单点的吗", "有基础点的英语课吗", "还有类似的吗".
            r"有(没有|木有|没|无)?[更再]?(简单|基础|入门|进阶|高阶|难|容易|浅显|类似|相关|差不多|同类)(一?点|一些)?的"
            r"([^，,。！!？?]{0,6}(课|课程|教程|系列))?(吗|嘛|呀|啊|呢|不|没|推荐|[?？!！]|[\W_]*$)|"
            r"有(没有|木有)?(从头|从零|从基础)(开始)?(讲|教|学)的|"
            # "…账号咋起 有课吗": a clause of its own after saying what they want ("今天有课吗" asks about a class).
            r"(^|[\s，,。！!？?~～])(有没有|有)(相关的|这方面的|对应的)?(课|课程)(吗|嘛|不|没|呢|[?？]|[\W_]*$)|"
            r"有(没有|木有)?[^，,。！!？?]{1,12}的(课|课程|教程|系列)(吗|嘛|呀|啊|呢|不|没|推荐|[?？!！]|$)|"
            r"的(课|课程|教程|系列)?有(吗|嘛|没|没有|不)[?？!！]*$|"
            r"蹲(一个|个|一波|一手)?(?!.*(链接|连接|资料|课件|网盘|地址|回放|下一集|更新))[^，,。]{0,10}(课|课程|教程|进阶|入门|系列|推荐)|"
            r"(学完|看完|学好|入门).{0,10}(下一步|接下来|然后|之后|再)(该|应该)?(学|看)(什么|啥|哪个)"
        ),
    ),
)

# Shop links and 淘口令 (a code between two currency signs that opens a listing in the shop's app): the label
# guide counts a comment carrying one as spam whatever its words say ("链接来啦~希望大家年年有好运"), unless it
# asks something about the link ("这家是正版吗 + link"): a viewer's question must not be ignored as an ad.
_SHOP_HOSTS = re.compile(r"(^|\.)(tb\.cn|taobao\.com|tmall\.com|jd\.com|3\.cn|yangkeduo\.com|pinduoduo\.com|weidian\.com)$")
_SHOP_CODE = re.compile(r"([¥€$])[0-9a-z]{8,14}\1")

_QUESTION_MARK = re.compile(
    r"[?？]|吗|呢$|怎么|咋|如何|为什么|为啥|什么|啥|哪|谁|多久|多少|几[号点月天年个节章次]|能不能|可不可以|有没有|是不是|要不要|"
    r"还是.{1,12}[啊呀呢吗]|找谁"
)


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    intent: str
    confidence: float
    source: str  # "pattern" | "model" | "empty" | "creator"


@dataclass(frozen=True, slots=True)
class SentimentPrediction:
    label: str
    confidence: float


def pattern_intent(text: NormalizedText) -> str | None:
    if _SHOP_CODE.search(text.text) or (any(_SHOP_HOSTS.search(_host(url)) for url in text.urls) and not looks_like_question(text)):
        return "spam"
    for intent, pattern in PATTERNS:
        if pattern.search(text.text):
            return intent
    return None


def _host(url: str) -> str:
    """The host of a link as comments write them, with or without a scheme: "https://m.tb.cn/h.x" → "m.tb.cn"."""
    return url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()


def looks_like_question(text: NormalizedText) -> bool:
    return bool(_QUESTION_MARK.search(text.plain))


class PrototypeClassifier:
    """Logistic regression over sentence embeddings of labelled phrases, blended with naive Bayes over
    character n-grams: embeddings generalise across paraphrases, n-grams keep the slang and short danmaku
    ("蚌埠住了", "8888") that a sentence model barely sees. The blend weight was chosen on the dev set
    (benchmarks/quality.py); both heads train in about a second, so every start trains them afresh."""

    def __init__(self, dense: LogisticRegression, chars: MultinomialNB, vectorizer: TfidfVectorizer, char_weight: float) -> None:
        if list(dense.classes_) != list(chars.classes_):
            raise ValueError("both heads must be trained on the same labels")
        # Prediction is two matrix products; calling sklearn's predict_proba per comment cost more in input
        # validation than in arithmetic (about half of a cached `ask`, benchmarks/speed.py).
        self._dense_weights = np.ascontiguousarray(dense.coef_.T)
        self._dense_bias = dense.intercept_
        self._char_weights = np.ascontiguousarray(chars.feature_log_prob_.T)
        self._char_prior = chars.class_log_prior_
        self._vectorizer = vectorizer
        self.char_weight = char_weight
        self.labels: tuple[str, ...] = tuple(str(label) for label in dense.classes_)

    @classmethod
    def train(
        cls, vectors: np.ndarray, texts: Sequence[str], labels: Sequence[str], *, c: float = 4.0, char_weight: float = 0.35,
        weights: Sequence[float] | None = None,
    ) -> PrototypeClassifier:
        """`weights`: one per example (default 1), e.g. the creator's own labels weighing more than prototypes."""
        if len(set(labels)) < 2:
            raise ValueError("need prototypes for at least two labels")
        sample_weight = None if weights is None else np.asarray(weights, dtype=np.float64)
        dense = LogisticRegression(C=c, max_iter=500, tol=1e-3, class_weight="balanced").fit(vectors, list(labels), sample_weight=sample_weight)
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        chars = MultinomialNB(alpha=0.1).fit(vectorizer.fit_transform(texts), list(labels), sample_weight=sample_weight)
        return cls(dense, chars, vectorizer, char_weight)

    def probabilities(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Blended class probabilities, one row per text (columns in `labels` order)."""
        if len(vectors) == 0:
            return np.zeros((0, len(self.labels)))
        dense = _softmax(vectors @ self._dense_weights + self._dense_bias)  # multinomial logistic regression
        counts = self._vectorizer.transform(texts)
        chars = _softmax(np.asarray(counts @ self._char_weights) + self._char_prior)  # multinomial naive Bayes
        return (1 - self.char_weight) * dense + self.char_weight * chars


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class IntentDetector:
    def __init__(self, intents: PrototypeClassifier, sentiment: PrototypeClassifier, known: Mapping[str, str] | None = None,
                 known_sentiment: Mapping[str, str] | None = None, negative_examples: np.ndarray | None = None,
                 near_identical: float = 0.93) -> None:
        self.intents = intents
        self.sentiment = sentiment
        self.known = dict(known or {})  # normalised text → intent the creator gave that very comment
        self.known_sentiment = dict(known_sentiment or {})  # normalised text → sentiment the creator gave it
        # Vectors of the comments the creator called negative: a comment this close to one of them is negative
        # too, sure as its cosine. One way only: a false "negative" costs a handoff, a false "fine" hides an
        # angry viewer from the creator (the same side the reply vetoes err on, retrieval/vetoes.py).
        self.negative_examples = negative_examples if negative_examples is not None and len(negative_examples) else None
        self.near_identical = near_identical

    @staticmethod
    def training_set(prototypes: Mapping[str, Sequence[str]]) -> tuple[list[str], list[str]]:
        texts, labels = [], []
        for label, phrases in prototypes.items():
            for phrase in phrases:
                texts.append(phrase)
                labels.append(label)
        return texts, labels

    def detect(self, texts: Sequence[NormalizedText], vectors: np.ndarray) -> list[tuple[IntentPrediction, SentimentPrediction]]:
        plain = [t.plain for t in texts]
        intent_probs = self.intents.probabilities(vectors, plain)
        sentiment_probs = self.sentiment.probabilities(vectors, plain)
        near = (np.asarray(vectors @ self.negative_examples.T).max(axis=1) if self.negative_examples is not None and len(vectors)
                else np.zeros(len(texts)))
        return [
            (self._intent(text, p), self._sentiment(text, s, float(n)))
            for text, p, s, n in zip(texts, intent_probs, sentiment_probs, near)
        ]

    def _intent(self, text: NormalizedText, probs: np.ndarray) -> IntentPrediction:
        if text.is_empty:
            # Emoji, stickers, bare mentions or nothing at all: a reaction, never a request.
            return IntentPrediction("chitchat", 0.99, "empty")
        if (taught := self.known.get(text.plain)) is not None:
            # The creator labelled this very comment: their word beats patterns and the model.
            return IntentPrediction(taught, 1.0, "creator")
        by_label = dict(zip(self.intents.labels, probs))
        matched = pattern_intent(text)
        if matched is not None:
            return IntentPrediction(matched, max(0.95, float(by_label.get(matched, 0.0))), "pattern")
        best = int(np.argmax(probs))
        return IntentPrediction(self.intents.labels[best], float(probs[best]), "model")

    def _sentiment(self, text: NormalizedText, probs: np.ndarray, near_negative: float = 0.0) -> SentimentPrediction:
        if text.is_empty:
            return SentimentPrediction("neutral", 0.5)
        if (taught := self.known_sentiment.get(text.plain)) is not None:
            return SentimentPrediction(taught, 1.0)
        best = int(np.argmax(probs))
        predicted = SentimentPrediction(self.sentiment.labels[best], float(probs[best]))
        if near_negative >= self.near_identical and (predicted.label != "negative" or predicted.confidence < near_negative):
            return SentimentPrediction("negative", near_negative)
        return predicted
