"""Video ids: BV ids ↔ aids (the public, well-known conversion; no API call) and config references."""

from __future__ import annotations

import re

_ALPHABET = "FcwAPNKTMug3GV5Lj7EJnHpWsx4tb8haYeviqBz6rkCy12mUSDQX9RdoZf"
_XOR = 23442827791579
_MASK = (1 << 51) - 1
_MAX_AID = 1 << 51
_BASE = 58
_BV = re.compile(r"^BV1[1-9A-HJ-NP-Za-km-z]{9}$")


def _swap(chars: list[str]) -> None:
    chars[3], chars[9] = chars[9], chars[3]
    chars[4], chars[7] = chars[7], chars[4]


def aid_to_bvid(aid: int) -> str:
    if not 0 < aid < _MAX_AID:
        raise ValueError(f"aid out of range: {aid}")
    chars = list("BV1000000000")
    value, index = (_MAX_AID | aid) ^ _XOR, len(chars) - 1
    while value > 0:
        chars[index] = _ALPHABET[value % _BASE]
        value //= _BASE
        index -= 1
    _swap(chars)
    return "".join(chars)


def bvid_to_aid(bvid: str) -> int:
    if not _BV.match(bvid):
        raise ValueError(f"not a BV id: {bvid!r}")
    chars = list(bvid)
    _swap(chars)
    value = 0
    for char in chars[3:]:
        value = value * _BASE + _ALPHABET.index(char)
    return (value & _MASK) ^ _XOR


def parse_video(ref: str | int) -> int:
    """A configured video — "BV1xx411c7mD", "av170001", "170001" or a video URL — as its aid."""
    text = str(ref).strip()
    found = re.search(r"BV1[0-9A-Za-z]{9}", text)
    if found:
        return bvid_to_aid(found.group(0))
    found = re.fullmatch(r"(?:av|AV)?(\d+)", text) or re.search(r"/av(\d+)", text)
    if found and int(found.group(1)) > 0:
        return int(found.group(1))
    raise ValueError(f"not a Bilibili video (expected a BV id or av number): {ref!r}")
