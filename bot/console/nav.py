"""The console's navigation: one list, each entry with the least role that sees it. A page added later (Knowledge,
Today) adds its entry here and its module to `PAGES` in app.py."""

from __future__ import annotations

from dataclasses import dataclass

ROLE_RANK = {"assistant": 1, "owner": 2}


@dataclass(frozen=True, slots=True)
class NavEntry:
    path: str
    label: str  # zh-CN
    role: str  # the least role that may open it (owner ⊃ assistant)


NAV: list[NavEntry] = [
    NavEntry("/inbox", "待处理", "assistant"),
    NavEntry("/conversations", "对话", "assistant"),
    NavEntry("/today", "今日", "assistant"),
    NavEntry("/live", "直播", "assistant"),
    NavEntry("/switches", "开关", "owner"),
    NavEntry("/knowledge", "知识库", "owner"),
    NavEntry("/audit", "操作记录", "owner"),
]


def allowed(role: str, least: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[least]


def entries_for(role: str) -> list[NavEntry]:
    return [entry for entry in NAV if allowed(role, entry.role)]
