"""Chinese comment text: normalisation and jieba segmentation.

Pure functions plus one `Segmenter` object that owns its own jieba dictionary, so two catalogs with
different user dictionaries can live in one process (jieba's module-level tokenizer is global state).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import ChainMap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import jieba
import jieba.analyse
import jieba.posseg
from opencc import OpenCC

from retrieval.errors import InputError

V = TypeVar("V")

# Comments longer than this are cut before any work: a 10 MB paste must not cost 10 MB of jieba.
MAX_COMMENT_CHARS = 2000

# URL characters are ASCII: Chinese text written right before or after a link ("访问baidu.com看看") is kept.
_URL = re.compile(
    r"(?:https?://|www\.)[!-~]+|(?<![a-z0-9.@-])(?:[a-z0-9-]+\.)+(?:com|cn|net|org|top|xyz|cc)(?![a-z0-9-])(?:/[!-~]*)?", re.IGNORECASE
)
_MENTION = re.compile(r"@[^\s@，,。:：]{1,30}")
_REPEAT = re.compile(r"(.)\1{3,}")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
# Comment typos and slang that hide a word from both models: 练接 (链接) and 多少米 (多少钱) are how
# viewers type on phones. Small on purpose: every entry is a word no course would use literally.
_SLANG = {"练接": "链接", "链结": "链接", "连结": "链接", "多少米": "多少钱", "v信": "微信", "薇信": "微信", "威信": "微信"}
_SLANG_RE = re.compile("|".join(map(re.escape, sorted(_SLANG, key=len, reverse=True))))
# English shopping words viewers mix into Chinese ("有discount吗", "link呢"): the catalog and FAQ are written
# in Chinese, so BM25 shares no term with them and the sentence model barely links the two languages.
# Whole words only: "linkedin", "freelancer" and "my_link" stay as they are.
_LOANWORDS = {
    "discount": "优惠", "discounts": "优惠", "coupon": "优惠券", "coupons": "优惠券", "refund": "退款", "invoice": "发票",
    "price": "价格", "how much": "多少钱", "link": "链接", "links": "链接", "free": "免费", "certificate": "证书",
}
_LOANWORDS_RE = re.compile(r"(?<![a-z0-9_])(?:" + "|".join(map(re.escape, sorted(_LOANWORDS, key=len, reverse=True))) + r")(?![a-z0-9_])")
# Parts of speech that name a topic (jieba's tags): nouns, names, verbs, English words and unknown words.
_TOPIC_POS = frozenset({"n", "nr", "nz", "ns", "vn", "v", "eng", "x"})
_QUANTITY = re.compile(r"[0-9][0-9.]*[a-z%]{0,3}")  # 8g, 120g, 4k, 99%
# Characters that mark an out-of-dictionary word as a fragment of a phrase rather than a new term.
_FRAGMENT_CHARS = frozenset("能个在有用得要完上下我你他她的了是会就都也还只那这哪啥么吗呢吧过到着给让把被可想太多少没不人先再又好很")
_EMOTE = re.compile(r"\[[^\[\]]{1,8}\]")  # Bilibili / Douyin sticker codes such as [doge] [笑哭]

# Function words that carry no topic. Question words (多少/怎么/吗/哪/什么/能/吗) are deliberately NOT here:
# they are what separates "Python课多少钱" from "Python课很好".
STOPWORDS = frozenset(
    """的 了 着 过 和 与 及 或 而 呢 啊 呀 吧 哦 噢 哇 嘛 啦 哈 嗯 诶 欸 么 滴 的话 这个 那个 这 那 就 都 也 还 又 再
    是 在 有 个 一 一个 我 你 他 她 它 我们 你们 他们 up up主 老师 请问 一下 为 被 把 给 让 从 对 很 太 非常 真的 就是
    还是 但是 所以 因为 如果 然后 已经 可以 可能 应该 自己 之 其 以 于 上 下 中 里 吗吗 ~ ! ? 。 ， , . … ： : ； ; 、 “ ” ‘ ’
    " ' ( ) （ ） 【 】 [ ] 《 》 < > - — _ / \\ | + = * & % $ # @ ^""".split()
)


def is_emoji(char: str) -> bool:
    """Pictographs, dingbats and their modifiers (skin tones, ZWJ, variation selectors)."""
    if char in "\u200d\ufe0f\ufe0e":
        return True
    cp = ord(char)
    return (
        unicodedata.category(char) == "So"
        or 0x1F000 <= cp <= 0x1FAFF
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0x2600 <= cp <= 0x27BF
    )


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A comment after normalisation, with what was removed from it kept as flags."""

    text: str  # simplified, half-width, lower-case; URLs/mentions removed, emoji kept
    plain: str  # `text` without emoji and sticker codes: what goes to the models
    urls: tuple[str, ...]
    mentions: int
    emoji: int
    truncated: bool

    @property
    def is_empty(self) -> bool:
        return not self.plain.strip()


def normalize(raw: str, *, max_chars: int = MAX_COMMENT_CHARS) -> NormalizedText:
    """Fold width, case and script so that ＰＹＴＨＯＮ課 and python课 are the same text."""
    truncated = len(raw) > max_chars
    text = raw[:max_chars]
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    urls = tuple(_URL.findall(text))
    text = _URL.sub(" ", text)
    mentions = len(_MENTION.findall(text))
    text = _MENTION.sub(" ", text)
    text = _t2s().convert(text).lower()
    text = _SLANG_RE.sub(lambda m: _SLANG[m.group()], text)
    text = _LOANWORDS_RE.sub(lambda m: _LOANWORDS[m.group()], text)
    text = _REPEAT.sub(r"\1\1\1", text)
    text = _SPACE.sub(" ", text).strip()
    emoji_count = sum(1 for c in text if is_emoji(c))
    plain = "".join(c for c in _EMOTE.sub(" ", text) if not is_emoji(c))
    plain = _SPACE.sub(" ", plain).strip()
    return NormalizedText(text, plain, urls, mentions, emoji_count, truncated)


def read_user_dictionary(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Parse a jieba user dictionary (`word [freq] [tag]` per line) with line-precise errors."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start}); save the dictionary as UTF-8") from None
    entries = []
    for lineno, line in enumerate(content.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        word, freq, tag = parts[0], None, None
        if len(parts) > 1:
            if not parts[1].isdigit():
                raise InputError(f"{path}:{lineno}: frequency of '{word}' must be a whole number, got '{parts[1]}'")
            freq = int(parts[1])
        if len(parts) > 2:
            tag = parts[2]
        entries.append((normalize(word).text or word, freq, tag))
    return entries


class Segmenter:
    """jieba segmentation with the creator's course vocabulary, isolated from jieba's global tokenizer."""

    def __init__(self, user_words: list[tuple[str, int | None, str | None]] | None = None) -> None:
        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        words = _shared_words()
        self._jieba.FREQ = _rekeyed(self._jieba.FREQ, words)
        del words
        # Keywords read jieba's part-of-speech table (~40 MiB) and IDF table (~35 MiB), loaded once at import,
        # with this creator's word tags layered on top so the module-level tables stay untouched
        # (`_shared_words` swaps them once per process for equal, more compact copies).
        self._tags: ChainMap[str, str] = ChainMap({}, jieba.posseg.dt.word_tag_tab)
        self._idf = jieba.analyse.default_tfidf
        for word, freq, tag in user_words or []:
            self.add_word(word, freq, tag)

    @classmethod
    def from_dictionary(cls, path: Path | None) -> Segmenter:
        return cls(read_user_dictionary(path) if path else None)

    def add_word(self, word: str, freq: int | None = None, tag: str | None = None) -> None:
        """A term jieba keeps whole. Without a tag it is a topic word ("x", as jieba's part-of-speech tagger
        calls a dictionary word it has no tag for), unless jieba's own dictionary tags it."""
        self._jieba.add_word(word, freq, tag)
        if tag or word not in self._tags:
            self._tags[word] = tag or "x"

    def cut(self, text: str) -> list[str]:
        """All tokens, punctuation dropped."""
        return [t for t in (w.strip() for w in self._jieba.lcut(text)) if t and not _is_punct(t)]

    def terms(self, text: str) -> list[str]:
        """Tokens for lexical search: `cut` minus stopwords, question words kept."""
        return [t for t in self.cut(text) if t not in STOPWORDS]

    def keywords(self, text: str, k: int = 5, *, tokens: Sequence[str] | None = None) -> list[str]:
        """Topic keywords by TF-IDF (jieba's IDF table), nouns/verbs/English terms only; `tokens`: the text
        already cut (`terms` will do: stopwords never count).

        A word's part of speech is its dictionary tag: jieba's own `extract_tags` re-cuts the text with its
        part-of-speech HMM, about 0.8 ms per comment, more than all the rest of a comment's analysis but the
        model and search (benchmarks/pipeline.py).
        """
        counts: dict[str, int] = {}
        for word in self.cut(text) if tokens is None else tokens:
            if len(word) > 1 and word not in STOPWORDS and word.lower() not in self._idf.stop_words and self._tag(word) in _TOPIC_POS:
                counts[word] = counts.get(word, 0) + 1
        idf, median = self._idf.idf_freq, self._idf.median_idf
        # Stable sort: equal weights keep their order in the text, as jieba's extract_tags does.
        return sorted(counts, key=lambda w: counts[w] * idf.get(w, median), reverse=True)[:k]

    def _tag(self, word: str) -> str:
        """The dictionary's part of speech. A Chinese word only jieba's HMM found is a new word ("走票",
        "红米") unless it has a function character glued on ("求个", "课在", "学完"): fragments get no tag."""
        tag = self._tags.get(word)
        if tag is not None:
            return tag
        if word.isascii():
            return "m" if _QUANTITY.fullmatch(word) else "eng"
        return "" if _FRAGMENT_CHARS.intersection(word) else "x"


# jieba holds its ~350k dictionary words three times over, as separate string objects: in every Tokenizer's
# prefix table, in the part-of-speech table and in the IDF table (~25 MiB per copy). Segmenter keys its own
# prefix table, and once per process the IDF table, with the POS table's strings (same contents, one object
# per word; tags and IDF values likewise): about 65 MiB less per process for ~0.5 s more start-up.
_shared_tables_compacted = False


def _shared_words() -> dict[str, str]:
    """Each word of jieba's POS table mapped to its own string object (compacting the shared tables once)."""
    global _shared_tables_compacted
    word_tags = jieba.posseg.dt.word_tag_tab
    words = {word: word for word in word_tags}
    if not _shared_tables_compacted:
        tags: dict[str, str] = {}
        for word, tag in word_tags.items():
            word_tags[word] = tags.setdefault(tag, tag)  # 55 distinct tags, was one object per line
        tfidf = jieba.analyse.default_tfidf
        values = {value: value * 1.0 for value in set(tfidf.idf_freq.values())}  # ~3k distinct, fresh objects
        tfidf.idf_freq = tfidf.idf_loader.idf_freq = _rekeyed(tfidf.idf_freq, words, values)
        _shared_tables_compacted = True
    return words


def _rekeyed(table: dict[str, V], words: dict[str, str], values: dict[V, V] | None = None) -> dict[str, V]:
    """`table` (same order, equal values) keyed by the objects in `words`, or by fresh copies of keys not there;
    values replaced through `values` if given.

    Fresh copies rather than the old objects: a few survivors scattered through the old table's memory
    would keep most of it from being reused."""
    return {words.get(key) or key.encode().decode(): value if values is None else values[value] for key, value in table.items()}


def _is_punct(token: str) -> bool:
    return all(unicodedata.category(c)[0] in "PSZ" or c.isspace() for c in token)
