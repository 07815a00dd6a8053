"""`coursebot run --platform bilibili|bilibili-live|douyin|telegram`: the adapters wired to one store, runner and outbox.

Bilibili is a polling Source whose cursors live in the store. Douyin is a webhook whose deliveries are
stored through `Runner.accept` before the 200 goes back, so nothing acknowledged is lost. Telegram runs
its own service (`bot.adapters.telegram.service.serve`) beside them with the same analyzer (one model).
Bilibili live rooms are a WebSocket Source per room (bot/adapters/bilibili_live); its danmaku sink shares the
comment adapter's risk-control pause (one account). Replies for every platform leave only through the outbox
worker and the platform's sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

from bot.adapters.alerts import Alert, creator_alert, log_alert
from bot.adapters.bilibili import BilibiliClient, BilibiliSink, BilibiliSource
from bot.adapters.bilibili.cursors import StoreCursors
from bot.adapters.bilibili.risk import AccountPause
from bot.adapters.douyin import DouyinClient, DouyinSink, ProactiveDmLimits
from bot.adapters.douyin.source import serve_webhook, webhook_from_settings
from bot.adapters.douyin.tokens import AccessTokens
from bot.config import Settings
from bot.events import Event, Quarantined, Sink, Source
from retrieval.errors import InputError

log = logging.getLogger("coursebot.run")

PLATFORMS = ("telegram", "bilibili", "bilibili-live", "douyin")


def check_settings(settings: Settings, platforms: Sequence[str]) -> None:
    """Refuse to start with what cannot work, in one line naming the key and where to put it."""
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise InputError(f"--platform {unknown[0]!r}: expected one of {', '.join(PLATFORMS)}")
    if "telegram" in platforms:
        from bot.adapters.telegram.connection import bot_token

        bot_token(settings.telegram)  # before the model loads: a missing token is a one-second error, not a 15-second one
    if "bilibili" in platforms:
        b = settings.bilibili
        for key in ("sessdata", "bili_jct"):
            if getattr(b, key) is None:
                raise InputError(f"bilibili.{key} is not set: put {key} = \"…\" in the bilibili section of secrets.toml, "
                                 f"or set COURSEBOT_BILIBILI__{key.upper()}")
        if not b.videos and not b.replies_to_me:
            raise InputError("bilibili: nothing to watch: set bilibili.videos or bilibili.replies_to_me = true")
    if "bilibili-live" in platforms:
        _check_live(settings)
    if "douyin" in platforms:
        d = settings.douyin
        if d.client_secret is None:
            raise InputError("douyin.client_secret is not set: webhooks cannot be verified without it "
                             "(secrets.toml or COURSEBOT_DOUYIN__CLIENT_SECRET)")
        if d.access_token is None and d.refresh_token is None:
            raise InputError("douyin.access_token is not set: replies cannot be sent (secrets.toml or "
                             "COURSEBOT_DOUYIN__ACCESS_TOKEN)")


def _check_live(settings: Settings) -> None:
    """Rooms are required; cookies too, unless `read_only`: reading works anonymously but Bilibili then masks
    viewer ids (uid 0), so per-viewer limits and "new viewers" cannot work, and nothing could be sent."""
    live = settings.bilibili_live
    if not live.rooms and live.open_platform is None:
        raise InputError("bilibili_live.rooms is empty: put rooms = [<room id>, …] in the bilibili_live section "
                         "(or configure bilibili_live.open_platform)")
    if live.read_only:
        return
    for key in ("sessdata", "bili_jct"):
        if getattr(settings.bilibili, key) is None:
            raise InputError(f"bilibili.{key} is not set: danmaku are sent with the creator's cookies (put {key} = \"…\" "
                             f"in the bilibili section of secrets.toml, or COURSEBOT_BILIBILI__{key.upper()}), "
                             "or set bilibili_live.read_only = true to only read")


class DurableAccept:
    """The Douyin webhook's hand-over: stored (idempotent) before acknowledging; attribution recorded too."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner

    async def quarantine(self, item: Quarantined) -> None:
        """A delivery that cannot become an event, kept as it came (the webhook acknowledges it after this)."""
        await self._runner.quarantine([item])

    async def __call__(self, event: Event) -> None:
        # StoreUnavailable propagates: the webhook answers 503, Douyin retries. An event the database refuses comes
        # back None, quarantined (kept): acknowledged like a stored one, so Douyin stops retrying it.
        accepted = await self._runner.accept(event)
        attribution = event.raw.get("attribution")
        if accepted is not None and isinstance(attribution, dict) and event.author_id:
            payload = {k: v for k, v in attribution.items() if v is not None}
            await asyncio.to_thread(self._runner.store.set_attribution, event.platform, event.author_id, payload)


async def _bilibili(settings: Settings, store: Any, stack: AsyncExitStack, alert: Alert) -> tuple[Sink, Source]:
    risk = AccountPause.from_settings(settings.bilibili, StoreCursors(store))  # one pause for reads and sends, kept
    client = await stack.enter_async_context(BilibiliClient.from_settings(settings.bilibili, risk=risk))
    sink = BilibiliSink.from_settings(settings.bilibili, client, alert=alert)
    source = BilibiliSource.from_settings(settings.bilibili, client, StoreCursors(store), alert=alert)
    return sink, source


async def _live_api(settings: Settings, store: Any, stack: AsyncExitStack) -> Any:
    from bot.adapters.bilibili_live import LiveApi

    risk = AccountPause.from_settings(settings.bilibili, StoreCursors(store))  # the same account pause as comments
    anonymous = {"sessdata": None, "bili_jct": None} if settings.bilibili_live.read_only else {}
    api = LiveApi.from_settings(settings.bilibili_live, settings.bilibili, risk=risk, **anonymous)
    return await stack.enter_async_context(api)


async def _live_source(settings: Settings, api: Any, runner: Any, stack: AsyncExitStack) -> Source:
    """The web route per configured room, or the official open platform for the host's room when configured."""
    from bot.adapters.bilibili_live import LiveSource

    async def quarantine(item: Quarantined) -> None:
        await runner.quarantine([item])

    live = settings.bilibili_live
    if live.open_platform is None:
        return LiveSource.from_settings(live, api, quarantine=quarantine)
    from bot.adapters.bilibili_live.open_platform import OpenLiveApi, OpenLiveSource

    open_api = await stack.enter_async_context(OpenLiveApi.from_settings(live.open_platform))
    return OpenLiveSource(open_api, api, app_heartbeat=live.open_platform.app_heartbeat, quarantine=quarantine,
                          heartbeat=live.heartbeat, backoff_min=live.reconnect_backoff_min,
                          backoff_max=live.reconnect_backoff_max, auth_timeout=live.auth_timeout)


async def _douyin_sink(settings: Settings, store: Any, stack: AsyncExitStack, alert: Alert) -> Sink:
    d = settings.douyin
    secret = lambda value: value.get_secret_value() if value is not None else None
    tokens = AccessTokens(secret(d.access_token), secret(d.refresh_token), client_key=d.client_key,
                          path=settings.state_dir / "douyin-token.json")
    client = await stack.enter_async_context(DouyinClient(api_base=d.api_base, tokens=tokens, open_id=d.open_id,
                                                          timeout=d.timeout))
    limits = ProactiveDmLimits(store, per_day=d.proactive_dm_per_day, per_viewer=d.proactive_dm_messages)
    return DouyinSink.from_settings(d, client, limits=limits, alert=alert)


async def serve_adapters(settings: Settings, platforms: Sequence[str], *, analyzer: Any = None,
                         stop: asyncio.Event | None = None, alert: Alert = log_alert,
                         ready: Callable[[dict[str, str]], None] | None = None) -> None:
    """Run Bilibili and/or Douyin until `stop` is set. `ready` gets {"douyin": webhook base URL} once listening."""
    from bot.runner import Runner
    from bot.store.store import Store

    stop = stop or asyncio.Event()
    store = await asyncio.to_thread(Store.open, settings)
    try:
        async with AsyncExitStack() as stack:
            sinks: dict[str, Sink] = {}
            sources: list[Source] = []
            if "bilibili" in platforms:
                sinks["bilibili"], source = await _bilibili(settings, store, stack, alert)
                sources.append(source)
            if "douyin" in platforms:
                sinks["douyin"] = await _douyin_sink(settings, store, stack, alert)
            live_api = await _live_api(settings, store, stack) if "bilibili-live" in platforms else None
            if live_api is not None and not settings.bilibili_live.read_only:
                from bot.adapters.bilibili_live import LiveSink

                sinks["bilibili-live"] = LiveSink.from_settings(settings.bilibili_live, live_api, alert=alert,
                                                                  max_chars=settings.live.danmaku_max_chars)
            runner = await asyncio.to_thread(Runner.open, settings, sinks, analyzer=analyzer, store=store)
            if live_api is not None:  # after the runner: what cannot become an event goes to its quarantine
                sources.append(await _live_source(settings, live_api, runner, stack))
            urls: dict[str, str] = {}
            if "douyin" in platforms:
                accept = DurableAccept(runner)
                webhook = webhook_from_settings(settings.douyin, accept, quarantine=accept.quarantine)
                urls["douyin"] = await stack.enter_async_context(
                    serve_webhook(webhook, settings.douyin.webhook_host, settings.douyin.webhook_port))
            if ready is not None:
                ready(urls)
            await runner.run(sources, stop=stop)
    finally:
        store.close()


async def serve(settings: Settings, platforms: Sequence[str], *, stop: asyncio.Event | None = None,
                analyzer: Any = None, alert: Alert | None = None) -> None:
    """Every requested platform in this process, sharing one analyzer; returns when `stop` is set."""
    check_settings(settings, platforms)
    stop = stop or asyncio.Event()
    ours = [p for p in platforms if p != "telegram"]
    if "telegram" in platforms and ours and analyzer is None:
        from bot.analysis import Analyzer
        from bot.knowledge import Knowledge

        analyzer = Analyzer(await asyncio.to_thread(Knowledge.open, settings))  # one model for both services
    jobs = []
    if "telegram" in platforms:
        from bot.adapters.telegram.service import serve as serve_telegram

        jobs.append(serve_telegram(settings, analyzer=analyzer, stop=stop))
    if ours:
        jobs.append(serve_adapters(settings, ours, analyzer=analyzer, stop=stop, alert=alert or creator_alert(settings)))
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a service that died raises here
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
