"""The summary's PNG chart: volume by hour, intent mix, sentiment trend — Chinese labels in a CJK font.

Drawn on a bare `Figure` with the Agg canvas (no pyplot, no GUI, no global figure registry); the font
settings are applied under a lock because matplotlib's rcParams are process-wide.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

from matplotlib.ticker import MaxNLocator

from bot.summary.fonts import CjkFont, find_cjk_font
from bot.summary.model import DailySummary
from bot.summary.render import SENTIMENT_LABELS, intent_label

_RC_LOCK = threading.Lock()
SENTIMENT_COLOURS = {"positive": "#4caf50", "neutral": "#9e9e9e", "negative": "#e53935"}


@dataclass(frozen=True, slots=True)
class Chart:
    png: bytes
    font: CjkFont
    texts: dict[str, str]  # every label drawn → the font file matplotlib used for it

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.png)
        return path


def _volume(ax, summary: DailySummary) -> None:
    hours = list(range(24))
    ax.bar(hours, summary.volume.by_hour, color="#1e88e5")
    ax.set_title(f"每小时评论与私信（共 {summary.volume.total}）")
    ax.set_xlabel("小时（本地时间）")
    ax.set_ylabel("条数")
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlim(-0.6, 23.6)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _intents(ax, summary: DailySummary) -> None:
    items = list(summary.mood.intents.items())[:8][::-1]
    if not items:
        ax.text(0.5, 0.5, "没有数据", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        ax.barh([intent_label(k) for k, _ in items], [n for _, n in items], color="#8e24aa")
        ax.set_xlabel("条数")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("意图分布")


def _sentiment(ax, summary: DailySummary) -> None:
    mood = summary.mood
    points = [(h, v) for h, v in enumerate(mood.net_by_hour) if v is not None]
    if points:
        ax.plot([h for h, _ in points], [v for _, v in points], marker="o", color="#fb8c00", label="净情绪")
    ax.axhline(0, color="#bdbdbd", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlim(-0.5, 23.5)
    ax.set_xticks(range(0, 24, 3))
    counts = " · ".join(f"{SENTIMENT_LABELS[k]} {mood.sentiments.get(k, 0)}" for k in SENTIMENT_COLOURS)
    ax.set_title(f"情绪趋势（{counts}）")
    ax.set_xlabel("小时（本地时间）")
    ax.set_ylabel("正面 − 负面")


def _texts(figure) -> dict[str, str]:
    from matplotlib import font_manager
    from matplotlib.text import Text

    found = {}
    for text in figure.findobj(Text):
        content = text.get_text()
        if content.strip() and text.get_visible():
            found[content] = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
    return found


def render_chart(summary: DailySummary, *, font_path: Path | None = None) -> Chart:
    """Draw the chart for `summary`; raises InputError (one line) when no Chinese font is installed."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = find_cjk_font(font_path)
    with _RC_LOCK, matplotlib.rc_context({"font.family": [font.family], "axes.unicode_minus": False}):
        figure = Figure(figsize=(10, 9), dpi=100)  # fixed margins: one draw pass (constrained layout draws several)
        FigureCanvasAgg(figure)
        grid = figure.add_gridspec(2, 2, left=0.1, right=0.97, top=0.9, bottom=0.07, hspace=0.35, wspace=0.28)
        _volume(figure.add_subplot(grid[0, :]), summary)
        _intents(figure.add_subplot(grid[1, 0]), summary)
        _sentiment(figure.add_subplot(grid[1, 1]), summary)
        figure.suptitle(f"coursebot 每日总结 · {summary.day.isoformat()}（{summary.timezone}）", fontsize=14)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        texts = _texts(figure)
    return Chart(buffer.getvalue(), font, texts)
