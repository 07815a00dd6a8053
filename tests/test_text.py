"""Normalisation and segmentation of viewer comments (retrieval/text.py). No model needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import InputError
from retrieval.text import (
    MAX_COMMENT_CHARS,
    STOPWORDS,
    Segmenter,
    normalize,
    read_user_dictionary,
)


@pytest.fixture(scope="module")
def segmenter(repo_config_dir: Path) -> Segmenter:
    """jieba with the bundled course dictionary (config/userdict.txt)."""
    return Segmenter.from_dictionary(repo_config_dir / "userdict.txt")


@pytest.fixture(scope="module")
def plain_segmenter() -> Segmenter:
    """jieba with its default dictionary only (each Segmenter costs ~1-2 s to initialise)."""
    return Segmenter()


# -- normalize -------------------------------------------------------------------------------------------------


def test_full_width_letters_fold_to_lower_case_ascii() -> None:
    assert normalize("ＰＹＴＨＯＮ").text == "python"
    assert normalize("ＰＹＴＨＯＮ課多少錢？").text == "python课多少钱?"


def test_traditional_characters_become_simplified() -> None:
    assert normalize("這個課多少錢").text == "这个课多少钱"


def test_comment_in_traditional_full_width_equals_its_simplified_form() -> None:
    assert normalize("Ｐｙｔｈｏｎ課程連結在哪").plain == normalize("python课程连结在哪").plain


def test_urls_are_removed_and_kept_aside() -> None:
    result = normalize("看这个 https://t.cn/A6xYz 还有 www.example.com/x 以及 pan.baidu.com/s/1ab 不错")
    assert result.urls == ("https://t.cn/A6xYz", "www.example.com/x", "pan.baidu.com/s/1ab")
    assert "http" not in result.text and "example" not in result.text and "baidu" not in result.text
    assert result.plain == "看这个 还有 以及 不错"


@pytest.mark.parametrize(
    ("raw", "plain", "url"),
    [
        ("访问baidu.com看看", "访问 看看", "baidu.com"),
        ("链接https://t.cn/abc不错", "链接 不错", "https://t.cn/abc"),
        ("资料在pan.baidu.com/s/1ab谢谢", "资料在 谢谢", "pan.baidu.com/s/1ab"),
    ],
)
def test_chinese_text_touching_a_url_is_kept(raw: str, plain: str, url: str) -> None:
    result = normalize(raw)
    assert result.plain == plain
    assert result.urls == (url,)


def test_version_numbers_are_not_mistaken_for_urls() -> None:
    assert normalize("python3.11和v1.5版本").urls == ()


def test_mentions_are_removed_and_counted() -> None:
    result = normalize("@小明 @课代表 快来看")
    assert result.mentions == 2
    assert result.plain == "快来看"


def test_bare_mention_is_an_empty_comment() -> None:
    assert normalize("@小明").is_empty


@pytest.mark.parametrize("raw", ["😂😂😂", "👍🏻👍🏻", "👨‍👩‍👧❤️", "🔥 🔥 🔥", "", "   \n\t "])
def test_emoji_or_blank_only_comment_is_empty(raw: str) -> None:
    assert normalize(raw).is_empty


def test_emoji_are_counted_and_kept_in_text_but_not_in_plain() -> None:
    result = normalize("好课👍👍")
    assert result.emoji == 2
    assert result.text == "好课👍👍"
    assert result.plain == "好课"
    assert not result.is_empty


@pytest.mark.parametrize("raw", ["[doge]", "[doge][笑哭]", "[打call] 😂"])
def test_sticker_codes_alone_are_an_empty_comment(raw: str) -> None:
    assert normalize(raw).is_empty


def test_sticker_codes_are_dropped_from_plain_text() -> None:
    result = normalize("[doge]这课真好[笑哭]")
    assert result.plain == "这课真好"
    assert "[doge]" in result.text  # kept where tone matters (sentiment, logs)


def test_long_runs_of_one_character_collapse_to_three() -> None:
    assert normalize("哈哈哈哈哈哈哈哈哈哈").plain == "哈哈哈"
    assert normalize("太好了了了了了了了").plain == "太好了了了"
    assert normalize("2333333333").plain == "2333"
    assert normalize("好好学习").plain == "好好学习"  # a pair is language, not a run


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("求个练接", "求个链接"),  # phone typos
        ("多少米啊", "多少钱啊"),
        ("Python课有DISCOUNT吗", "python课有优惠吗"),  # English mixed in, whole words, any case
        ("有coupon吗 想入", "有优惠券吗 想入"),
        ("link呢?", "链接呢?"),
        ("how much?", "多少钱?"),
        ("free吗", "免费吗"),
    ],
)
def test_phone_typos_and_english_shopping_words_become_the_catalog_s_chinese(raw: str, plain: str) -> None:
    assert normalize(raw).plain == plain


@pytest.mark.parametrize("raw", ["linkedin上有吗", "freelancer接单", "pricing表", "my_link", "discount2"])
def test_english_shopping_words_inside_longer_words_stay(raw: str) -> None:
    assert normalize(raw).plain == raw


def test_control_and_zero_width_characters_are_removed() -> None:
    assert normalize("多\x00少\u200b钱\x07\ufeff").plain == "多少钱"
    assert normalize("a\u202eb").plain == "ab"  # right-to-left override: a spoofing trick


def test_whitespace_is_collapsed() -> None:
    assert normalize("  多少\n\n  钱 \t ").plain == "多少 钱"


def test_ten_megabyte_comment_is_truncated_and_flagged() -> None:
    huge = "这个课真的很好，" * 1_300_000  # ~10 M characters
    assert len(huge) > 10_000_000
    result = normalize(huge)
    assert result.truncated
    assert 0 < len(result.text) <= MAX_COMMENT_CHARS
    assert result.text.startswith("这个课真的很好")


def test_short_comment_is_not_flagged_truncated() -> None:
    assert not normalize("多少钱").truncated


# -- segmentation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["基金定投", "零基础", "机器学习", "考研英语", "剪映课"])
def test_user_dictionary_keeps_course_terms_whole(segmenter: Segmenter, plain_segmenter: Segmenter, term: str) -> None:
    sentence = f"请问{term}怎么开始"
    assert term not in plain_segmenter.cut(sentence), "precondition: plain jieba splits this term"
    assert term in segmenter.cut(sentence)


def test_words_added_at_runtime_stay_whole_in_that_segmenter_only(plain_segmenter: Segmenter) -> None:
    segmenter = Segmenter()
    assert "课酱学堂" not in segmenter.cut("课酱学堂的课")
    segmenter.add_word("课酱学堂")
    assert "课酱学堂" in segmenter.cut("课酱学堂的课")
    assert "课酱学堂" not in plain_segmenter.cut("课酱学堂的课")


def test_two_segmenters_do_not_share_a_dictionary(segmenter: Segmenter, plain_segmenter: Segmenter) -> None:
    assert "基金定投" in segmenter.cut("基金定投怎么开始")
    assert "基金定投" not in plain_segmenter.cut("基金定投怎么开始")


def test_stopwords_drop_particles_but_keep_question_words(segmenter: Segmenter) -> None:
    terms = segmenter.terms("这个课的价格是多少了")
    assert "的" not in terms and "了" not in terms and "这个" not in terms
    assert "多少" in terms and "价格" in terms
    assert "怎么" in segmenter.terms("基金定投怎么开始")
    assert "吗" in segmenter.terms("零基础能学会吗")
    assert any("哪" in t for t in segmenter.terms("链接在哪里"))
    assert {"多少", "怎么", "吗", "哪", "什么"}.isdisjoint(STOPWORDS)


def test_cut_drops_punctuation(segmenter: Segmenter) -> None:
    tokens = segmenter.cut("多少钱？！……「」")
    assert "".join(tokens) == "多少钱"


def test_keywords_are_the_topic_words_of_a_comment(segmenter: Segmenter) -> None:
    keywords = segmenter.keywords("我想学Python数据分析，有推荐的课程吗")
    assert "Python" in keywords and "数据分析" in keywords
    assert not set(keywords) & {"的", "吗", "我", "有"}
    assert len(segmenter.keywords("Python 数据分析 机器学习 深度学习 爬虫 剪辑 摄影 理财", k=3)) == 3


def test_keywords_keep_new_words_but_not_fragments_or_quantities(segmenter: Segmenter) -> None:
    # 走票 and 红米 are in no dictionary (jieba's HMM finds them); 学完 / 能学 are a verb with a function
    # character glued on, 8g a quantity: none of those is a topic.
    assert "走票" in segmenter.keywords("买课能走票吗 单位报销")
    assert "红米" in segmenter.keywords("我用红米拍出这种效果")
    assert not {"学完", "能学", "8g"} & set(segmenter.keywords("学完能学pr吗 8g内存的笔记本"))
    assert segmenter.keywords("pr 8g内存的笔记本") == segmenter.keywords("", tokens=segmenter.terms("pr 8g内存的笔记本"))


def test_a_user_dictionary_word_without_a_tag_is_a_topic_even_with_a_function_character() -> None:
    # 会 marks a word jieba's HMM made up as a fragment, never a word the creator put in the dictionary.
    segmenter = Segmenter([("会计实操", 2000, None), ("割韭菜", 2000, "l")])
    keywords = segmenter.keywords("会计实操课是不是割韭菜")
    assert "会计实操" in keywords and "割韭菜" not in keywords  # l (idiom) is not a topic tag


# -- user dictionary file --------------------------------------------------------------------------------------


def test_user_dictionary_with_bad_frequency_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text("# course words\n零基础 3000 n\n基金定投 很多 n\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_user_dictionary(path)
    message = str(caught.value)
    assert f"{path}:3" in message and "基金定投" in message and "很多" in message
    assert "\n" not in message


def test_user_dictionary_not_utf8_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_bytes("基金定投 100 n\n".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8") as caught:
        read_user_dictionary(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_user_dictionary_entries_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text("ＰＹＴＨＯＮ課 100 n\n\n# comment\n基金定投\n", encoding="utf-8")
    assert read_user_dictionary(path) == [("python课", 100, "n"), ("基金定投", None, None)]


def test_jieba_tables_hold_one_string_per_word_with_their_contents_unchanged(plain_segmenter: Segmenter) -> None:
    import jieba
    import jieba.analyse
    import jieba.posseg
    from jieba.analyse.tfidf import DEFAULT_IDF, IDFLoader

    fresh = jieba.Tokenizer()
    fresh.initialize()
    idf = IDFLoader(DEFAULT_IDF).idf_freq
    word_tags = jieba.posseg.POSTokenizer(fresh).word_tag_tab
    shared_idf, shared_tags = jieba.analyse.default_tfidf.idf_freq, jieba.posseg.dt.word_tag_tab
    assert plain_segmenter._jieba.FREQ == fresh.FREQ
    assert shared_idf == idf and list(shared_idf) == list(idf)
    assert shared_tags == word_tags
    # One object per word: the segmenter's prefix table and the IDF table use the POS table's strings.
    words = {word: word for word in shared_tags}
    prefix_keys = {word: word for word in plain_segmenter._jieba.FREQ}
    idf_keys = {word: word for word in shared_idf}
    assert all(prefix_keys[word] is word for word in words)
    assert all(idf_keys[word] is word for word in words.keys() & idf_keys.keys())
