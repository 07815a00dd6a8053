"""The summary as the creator reads it: text, Markdown, JSON and the PNG chart (Chinese, no tofu)."""

from __future__ import annotations

import io
import json
import warnings
from datetime import date
from pathlib import Path

import matplotlib
import pytest
from metrics_seed import DAY, SHANGHAI, seed_shanghai_day
from PIL import Image
from sqlalchemy.engine import Engine

from bot.summary.build import daily_summary
from bot.summary.chart import render_chart
from bot.summary.fonts import covers, find_cjk_font
from bot.summary.model import DailySummary
from bot.summary.render import render
from retrieval.errors import InputError


@pytest.fixture
def summary(sqlite_db: Engine) -> DailySummary:
    seed_shanghai_day(sqlite_db)
    return daily_summary(sqlite_db, DAY, SHANGHAI)


@pytest.fixture
def empty_summary(sqlite_db: Engine) -> DailySummary:
    return daily_summary(sqlite_db, date(2024, 6, 10), SHANGHAI)


def test_text_summary_states_the_numbers_in_chinese(summary: DailySummary) -> None:
    text = render(summary, "text")
    assert text.startswith("coursebot 每日总结 · 2024-06-01（Asia/Shanghai）")
    assert "评论 6 · 私信 1 · 观众 6（新 5 / 回访 1）" in text
    assert "已回复 3（60%" in text and "p50 1分30秒 · p90 8分18秒" in text
    assert "1. 2 人问到「发票」" in text
    assert "CTR 50%" in text and "归因 ¥199.00" in text
    assert "p-A" in text and "A/B" not in text


def test_markdown_summary_has_sections_and_list_items(summary: DailySummary) -> None:
    markdown = render(summary, "markdown")
    assert markdown.startswith("# coursebot 每日总结")
    assert "\n## 机器人表现\n" in markdown and "\n- 需回复 5" in markdown
    assert "\n1. 2 人问到「发票」" in markdown


def test_json_summary_round_trips_with_rates(summary: DailySummary) -> None:
    data = json.loads(render(summary, "json"))
    assert data["day"] == "2024-06-01" and data["timezone"] == "Asia/Shanghai"
    assert data["performance"]["reply_rate"] == pytest.approx(0.6)
    assert data["business"]["ctr"] == pytest.approx(0.5)
    assert data["keywords"][0] == {"keyword": "发票", "count": 2}
    assert data["questions"][0]["keyword"] == "发票"
    assert data["is_empty"] is False


def test_empty_day_says_so_in_every_format(empty_summary: DailySummary) -> None:
    assert "这一天没有新的评论、私信、点击或成交" in render(empty_summary, "text")
    assert "这一天没有新的评论" in render(empty_summary, "markdown")
    data = json.loads(render(empty_summary, "json"))
    assert data["is_empty"] is True and data["performance"]["reply_rate"] is None


def _assert_valid_chart(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 10_000 < len(png) < 2_000_000
    image = Image.open(io.BytesIO(png))
    image.verify()
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and (600 <= image.width <= 2000) and (400 <= image.height <= 2000)
    return image


def test_chart_is_a_png_drawn_entirely_in_a_cjk_font(summary: DailySummary, tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart = render_chart(summary)
    assert not [w for w in caught if "missing from font" in str(w.message)], "some glyphs were drawn as boxes"
    _assert_valid_chart(chart.save(tmp_path / "summary.png").read_bytes())
    chinese = "".join(ch for text in chart.texts for ch in text if "\u4e00" <= ch <= "\u9fff")
    assert "每日总结" in chinese and "意图分布" in chinese and "情绪趋势" in chinese
    assert covers(chart.font.path, chinese)
    assert {Path(str(path)) for path in chart.texts.values()} == {chart.font.path}


def test_chart_of_an_empty_day_still_renders(empty_summary: DailySummary) -> None:
    chart = render_chart(empty_summary)
    _assert_valid_chart(chart.png)
    assert "没有数据" in chart.texts


def test_a_configured_font_without_chinese_glyphs_is_refused() -> None:
    latin_only = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    with pytest.raises(InputError, match="no Chinese glyphs"):
        find_cjk_font(latin_only)
