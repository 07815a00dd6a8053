"""WBI request signing for Bilibili web endpoints (`w_rid`, `wts`), as publicly described by bilibili-API-collect.

The two keys are the file names of `wbi_img.img_url` / `sub_url` in `x/web-interface/nav` (they change about
daily). Their concatenation, permuted by a fixed 64-entry table and cut to 32 characters, is the mixin key.
A request is signed by adding `wts` (unix seconds), sorting the parameters by name, dropping the characters
`!'()*` from the values, percent-encoding like JavaScript's encodeURIComponent (space → %20) and taking
`w_rid` = md5(query + mixin key). Pure functions: the HTTP client fetches and caches the keys.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

MIXIN_KEY_TABLE = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14, 39,
    12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6, 63,
    57, 62, 11, 36, 20, 34, 44, 52,
)
_DROPPED = re.compile(r"[!'()*]")


def mixin_key(img_key: str, sub_key: str) -> str:
    raw = img_key + sub_key
    if len(raw) < 64:
        raise ValueError(f"WBI keys must be 32 characters each, got {len(img_key)} and {len(sub_key)}")
    return "".join(raw[i] for i in MIXIN_KEY_TABLE)[:32]


def key_from_url(url: str) -> str:
    """`https://i0.hdslb.com/bfs/wbi/7cd0….png` → `7cd0…` (the URL is a disguised token, never fetched)."""
    return url.rsplit("/", 1)[-1].split(".", 1)[0]


def keys_from_nav(data: Mapping[str, Any]) -> tuple[str, str]:
    """img/sub keys from the `data` of `x/web-interface/nav` (answered with code -101 when anonymous: still fine)."""
    images = data.get("wbi_img") or {}
    img, sub = key_from_url(str(images.get("img_url") or "")), key_from_url(str(images.get("sub_url") or ""))
    if len(img) != 32 or len(sub) != 32:
        raise ValueError("nav: wbi_img.img_url / sub_url do not carry 32-character keys")
    return img, sub


def signed_params(params: Mapping[str, Any], key: str, *, wts: int) -> dict[str, str]:
    """`params` plus `wts` and `w_rid`, values as sent (filtered), in signing order."""
    values = {name: _DROPPED.sub("", str(value)) for name, value in {**params, "wts": wts}.items()}
    ordered = dict(sorted(values.items()))
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in ordered.items())
    return {**ordered, "w_rid": hashlib.md5((query + key).encode()).hexdigest()}
