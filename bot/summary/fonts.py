"""Find a font that has Chinese glyphs, so charts show 发票 instead of tofu boxes.

Looked for in this order: the configured `[summary] chart_font` file; fonts matplotlib already knows by a
CJK family name; well-known files from Debian's `fonts-noto-cjk` / `fonts-wqy-microhei` / `fonts-wqy-zenhei`
/ `fonts-arphic-*`; the Noto Sans CJK file shipped by the PyPI package `cvttf-notosanscjk-regular` (OFL
font). A font is accepted only if its character map really covers the probe characters.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from retrieval.errors import InputError

# Characters every summary chart uses; a font missing any of them would draw boxes.
PROBE = "每日总结评论私信问价格发票链接情绪正面负面小时"
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Noto Sans CJK JP", "Noto Sans CJK TC", "Droid Sans Fallback", "AR PL UKai CN",
    "AR PL UMing CN", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
)
SYSTEM_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
PYPI_FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"


@dataclass(frozen=True, slots=True)
class CjkFont:
    family: str  # the name to give matplotlib (`font.family`)
    path: Path


def covers(path: Path, text: str = PROBE) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        charmap = FT2Font(str(path)).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False
    return all(ord(char) in charmap for char in text if not char.isspace())


def _register(path: Path) -> CjkFont:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font_manager.fontManager.addfont(str(path))
    return CjkFont(FT2Font(str(path)).family_name, path)


def _pypi_font() -> Path | None:
    spec = importlib.util.find_spec(PYPI_FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(iter(sorted(Path(spec.submodule_search_locations[0]).glob("*.[ot]t[fc]"))), None)


def _known_font() -> Path | None:
    from matplotlib import font_manager

    # A family has a file per weight (NotoSansCJK-Regular.ttc, -Bold.ttc) and matplotlib draws `font.family` in
    # the regular one: that is the file to check and report, whatever order the font cache lists them in.
    by_family: dict[str, Path] = {}
    for entry in sorted(font_manager.fontManager.ttflist, key=_regular_first):
        by_family.setdefault(entry.name, Path(entry.fname))
    for family in CJK_FAMILIES:
        if family in by_family and covers(by_family[family]):
            return by_family[family]
    return None


def _regular_first(entry) -> tuple[bool, int]:
    from matplotlib import font_manager

    weight = entry.weight if isinstance(entry.weight, int) else font_manager.weight_dict.get(entry.weight, 400)
    return entry.style != "normal", abs(weight - 400)


@lru_cache(maxsize=8)
def find_cjk_font(explicit: Path | None = None) -> CjkFont:
    """The CJK font to draw with, registered with matplotlib; a one-line error says how to install one."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"[summary] chart_font {explicit}: file not found")
        if not covers(explicit):
            raise InputError(f"[summary] chart_font {explicit}: font has no Chinese glyphs; use e.g. Noto Sans CJK or WenQuanYi Micro Hei")
        return _register(explicit)
    candidates = [_known_font(), *(Path(p) for p in SYSTEM_FILES), _pypi_font()]
    for path in candidates:
        if path is not None and path.is_file() and covers(path):
            return _register(path)
    raise InputError(
        "no Chinese font found for the summary chart: install one (Debian: apt-get install fonts-noto-cjk or "
        "fonts-wqy-microhei; pip: cvttf-notosanscjk-regular) or set [summary] chart_font to a .ttf/.otf/.ttc file"
    )
