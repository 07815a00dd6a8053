"""`DailySummary` as plain text (Telegram DM, terminal), Markdown (files) and JSON (tools).

Written in the creator's language. Empty rates are shown as "—", never as 0 %: a day without
questions has no reply rate, not a bad one. Viewers are shown by a short pseudonym only.
"""

from __future__ import annotations

import json
from typing import Literal

from bot.summary.model import DailySummary

Format = Literal["text", "markdown", "json"]

INTENT_LABELS = {
    "ask_price": "问价格", "ask_link": "要链接", "ask_course_content": "问内容", "ask_recommendation": "求推荐",
    "question_other": "其他问题", "praise": "夸奖", "complaint": "投诉", "spam": "垃圾广告", "chitchat": "闲聊", "other": "其他",
}
SENTIMENT_LABELS = {"positive": "正面", "neutral": "中性", "negative": "负面"}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def num(value: float | None, digits: int = 2, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}秒"
    if seconds < 3600:
        return f"{seconds // 60}分{seconds % 60:02d}秒"
    return f"{seconds // 3600}小时{seconds % 3600 // 60:02d}分"


def short_viewer(pseudonym: str) -> str:
    return pseudonym[:8]


def intent_label(intent: str) -> str:
    return INTENT_LABELS.get(intent, intent)


def title(summary: DailySummary) -> str:
    scope = f" · {'/'.join(summary.platforms)}" if summary.platforms else ""
    return f"coursebot 每日总结 · {summary.day.isoformat()}（{summary.timezone}{scope}）"


def _lines(summary: DailySummary) -> list[tuple[str, list[str]]]:
    """(section heading, lines) pairs shared by the text and Markdown renderers."""
    v, p, m, b, e = summary.volume, summary.performance, summary.mood, summary.business, summary.engagement
    sections: list[tuple[str, list[str]]] = [
        ("互动", [f"评论 {v.comments} · 私信 {v.dms} · 观众 {v.unique_viewers}（新 {v.new_viewers} / 回访 {v.returning_viewers}）"]),
        ("机器人表现", [
            f"需回复 {p.reply_worthy} · 已回复 {p.replied}（{pct(p.reply_rate)}；机器人 {p.replied_by_bot}，人工 {p.replied_by_human}）",
            f"首次响应 p50 {duration(p.first_response_p50_s)} · p90 {duration(p.first_response_p90_s)}"
            + (f"（另有 {p.late} 条是写下很久后才收到的（导入/补录/积压），不计入）" if p.late else ""),
            f"自动解决 {pct(p.containment)} · 未作答 {pct(p.abstain_rate)} · 转人工 {p.handed_off}（{pct(p.handoff_rate)}，仍待处理 {p.handoffs_open}）",
            f"发送成功 {p.sent} · 重试中 {p.failed} · 失败放弃 {p.dead} · 排队 {p.pending}"
            + (f"（原因：{'、'.join(f'{k}×{n}' for k, n in p.failure_reasons.items())}）" if p.failure_reasons else ""),
        ]),
        ("观众情绪与意图", [
            "情绪：" + (" · ".join(f"{SENTIMENT_LABELS.get(k, k)} {n}" for k, n in m.sentiments.items()) or "—")
            + f"；净情绪 {num(m.net_sentiment, signed=True)}（较前一天 {num(m.trend, signed=True)}）",
            "意图：" + (" · ".join(f"{intent_label(k)} {n}" for k, n in m.intents.items()) or "—"),
            "热词：" + ("、".join(f"{k} {n}" for k, n in summary.keywords) or "—"),
        ]),
    ]
    questions = [
        f"{i}. {c.viewers} 人问到「{c.keyword or c.representative}」，例如：“{c.representative}”"
        + (f"（还有：{' / '.join(f'“{x}”' for x in c.examples)}）" if c.examples else "")
        for i, c in enumerate(summary.questions, 1)
    ]
    sections.append(("机器人没有回答的问题", questions or ["无"]))
    fans = [f"{short_viewer(f.viewer)}：互动 {f.interactions}（评论 {f.comments} · 私信 {f.dms} · 点击 {f.clicks} · 成交 {f.conversions}），指数 {f.score:.2f}"
            for f in summary.engaged_viewers]
    sections.append(("最活跃的观众", fans or ["无"]))
    business = [
        f"回复中的链接 {b.links_sent} · 被点击 {b.links_clicked}（CTR {pct(b.ctr)}）· 当天点击 {b.unique_clicks_today} 人次（原始 {b.clicks_today} 次）",
        f"评论→私信 {b.commenters_who_dmed}/{b.commenters}（{pct(b.comment_to_dm)}）",
        f"成交 {b.conversions}（机器人回复带来 {b.conversions_attributed}）· 金额 ¥{b.revenue:.2f}（归因 ¥{b.revenue_attributed:.2f}）",
    ]
    business += [f"模板 {s.template_id}/{s.variant}：链接 {s.links_sent} · 被点击 {s.links_clicked} · CTR {pct(s.ctr)}"
                 f" · 点击 {s.unique_clicks} 人次（原始 {s.clicks} 次）" for s in b.variants]
    for test in b.ab_tests:
        t = test.test
        verdict = "显著" if t.significant() else "不显著"
        business.append(f"A/B {test.template_id}：{test.variant} {pct(t.rate_b)} vs {test.control} {pct(t.rate_a)}，"
                        f"z={num(t.z)}，p={num(t.p_value, 3)}（{verdict}，双侧两比例 z 检验）")
    sections.append(("转化", business))
    index = (f"F = {num(e.frequency)} 次/小时（{e.interactions} 次互动 / {num(e.hours, 0)} 小时）· "
             f"D = {num(e.depth)} · 综合 λ1·F+λ2·D = {num(e.score)}")
    sections.append(("互动指数", [index]))
    if summary.live:
        from bot.live.summary import render_live_summary

        sections.append(("直播", [line for live in summary.live for line in render_live_summary(live)]))
    return sections


def render_text(summary: DailySummary) -> str:
    if summary.is_empty:
        return f"{title(summary)}\n这一天没有新的评论、私信、点击或成交。\n"
    out = [title(summary)]
    for heading, lines in _lines(summary):
        out.append(f"\n【{heading}】")
        out.extend(lines)
    return "\n".join(out) + "\n"


def render_markdown(summary: DailySummary) -> str:
    if summary.is_empty:
        return f"# {title(summary)}\n\n这一天没有新的评论、私信、点击或成交。\n"
    out = [f"# {title(summary)}"]
    for heading, lines in _lines(summary):
        out.append(f"\n## {heading}\n")
        out.extend(line if line[:1].isdigit() else f"- {line}" for line in lines)
    return "\n".join(out) + "\n"


def render_json(summary: DailySummary) -> str:
    return json.dumps(summary.to_dict(), ensure_ascii=False, indent=2) + "\n"


def render(summary: DailySummary, fmt: Format = "text") -> str:
    return {"text": render_text, "markdown": render_markdown, "json": render_json}[fmt](summary)
