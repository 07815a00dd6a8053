"""Viewer display names made fit to appear in the bot's public replies, or None when nothing fit is left.

A display name is whatever the viewer chose, and the bot would repeat it in the creator's voice. So:
- invisible controls go (bidi overrides such as U+202E, which reverse the rest of the reply; zero-width and
  other format characters; control characters; stacked combining marks);
- markup goes (HTML tags, `<>&`, and characters that start a mention, a format or a hashtag);
- a name that carries a link, a domain or a contact (加V/微信/QQ/vx with an id, a phone number, a long run of
  digits) is advertising: none of it is repeated, not even the rest of it ("加V领免费课").
The result is at most `MAX_NAME_CHARS` characters and holds at least one letter or digit.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 30
_MAX_MARKS = 2  # combining marks kept per base character ("Zalgo" names stack dozens)

# Characters that make markup, mentions or hashtags on some platform; a name never needs them.
_MARKUP_CHARS = str.maketrans("", "", "<>&\"'`\\{}[]|*#@")
_TAG = re.compile(r"<[^<>]{0,200}>")
_SPACES = re.compile(r"\s+")

_TLDS = ("com|cn|net|org|top|xyz|cc|me|io|co|info|vip|shop|site|club|online|link|app|tv|ly|gg|ru|de|uk|jp|hk|tw|us|"
         "biz|pro|fun|icu|live|store|work|ink|ltd|asia|example|test|to|la|so|im")
_URL = re.compile(
    r"(?:https?|ftp)\s*[:：]\s*//|www\s*[.。．]"  # a scheme or www. anywhere
    r"|[a-z0-9-]+(?:\s*[.。．]\s*[a-z0-9-]+)*\s*[.。．]\s*[a-z]{2,24}\s*/"  # host/path
    rf"|[a-z0-9-]+(?:\s*[.。．]\s*[a-z0-9-]+)*\s*[.。．]\s*(?:{_TLDS})(?![a-z])"  # host.tld
    rf"|(?:点|dot)\s*(?:{_TLDS})(?![a-z])",  # 点com: a domain spelled out to slip past filters
    re.IGNORECASE,
)
_CONTACT = re.compile(
    r"加\s*(?:v|微|薇|威|q|群|我|好友|wx|vx)"
    r"|[微薇威徽]\s*[信心芯]|v\s*信|wechat|weixin|扣扣|企鹅|q\s*群|群\s*号|电\s*话|手\s*机\s*号|whatsapp|telegram|电报"
    r"|(?<![a-z])(?:vx|wx|qq|tg|tel)(?![a-z])\s*[:：]?\s*[a-z0-9_-]{4,}"  # an id after the app's short name
    r"|(?<![a-z])v\s*(?:[:：]\s*[a-z0-9_-]{4,}|\d{4,})",  # v:abcd / v1234, not "vivian"
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"(?:\d[\s-]?){6,}")  # QQ numbers (5–11 digits), phone numbers, also spaced out
_CHINESE_DIGIT_RUN = re.compile(r"[〇零一二三四五六七八九壹贰叁肆伍陆柒捌玖幺]{6,}")  # a phone number in words


def display_name(raw: str | None) -> str | None:
    """`raw` made safe to put after "@" in a public reply, or None when the reply should not name the viewer."""
    if not raw:
        return None
    text = _visible(unicodedata.normalize("NFKC", raw))
    if _advertises(text):
        return None
    text = _TAG.sub(" ", text).translate(_MARKUP_CHARS)
    text = _SPACES.sub(" ", text).strip(" .,;:!?-_~。，、；：！？…·")
    text = text[:MAX_NAME_CHARS].strip()
    if not any(unicodedata.category(c)[0] in "LN" for c in text):
        return None
    return text


def _visible(text: str) -> str:
    """Without control and format characters (bidi, zero-width, tags), private-use and unassigned code points,
    line breaks as spaces, and at most `_MAX_MARKS` combining marks per character."""
    kept: list[str] = []
    marks = 0
    for char in text:
        category = unicodedata.category(char)
        if category in ("Zl", "Zp") or char in "\t\n\r\v\f":
            kept.append(" ")
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        elif category in ("Mn", "Me"):
            marks += 1
            if marks <= _MAX_MARKS:
                kept.append(char)
        else:
            marks = 0
            kept.append(char)
    return "".join(kept)


def _advertises(text: str) -> bool:
    """A link, a domain, a contact handle or a phone-like number anywhere in the name."""
    return any(p.search(text) for p in (_URL, _CONTACT, _DIGIT_RUN, _CHINESE_DIGIT_RUN))
