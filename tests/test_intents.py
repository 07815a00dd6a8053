"""The intent heads' fast prediction path agrees with scikit-learn's own predict_proba."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB

from retrieval.intents import PrototypeClassifier


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
