"""`coursebot run --platform telegram`: the Telegram bot wired to the store, the pipeline and the outbox.

Every viewer event is stored through `Runner.accept` before its handler returns, so Telegram confirms an
update (next getUpdates offset / webhook answer) only once it is durable; while the database is down the
handler keeps retrying and the update stays unconfirmed. Replies go out only through the outbox worker.
A `/start` additionally records the deep-link attribution and queues a welcome DM (once per message).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.adapters import cancel_and_wait
from bot.adapters.telegram.connection import TelegramBot
from bot.adapters.telegram.console import StoreConsole
from bot.adapters.telegram.contacts import StoreDmContacts
from bot.adapters.telegram.intake import PLATFORM
from bot.adapters.telegram.links import parse_comment_payload
from bot.adapters.telegram.summary import TelegramSummaryDelivery, summary_maker
from bot.adapters.telegram.welcome import welcome_text
from bot.config import Settings
from bot.events import Event, Thread
from bot.local_days import zone
from bot.runner import Runner
from bot.store.queue import NewMessage
from bot.store.store import Store, StoreUnavailable

log = logging.getLogger("coursebot.telegram")


class Reception:
    """Takes each Telegram event into the pipeline (the TelegramBot's `accept`)."""

    def __init__(self, runner: Runner, store: Store, telegram: TelegramBot, *, dry_run: bool = False, retry: float = 5.0) -> None:
        self.runner = runner
        self.store = store
        self.telegram = telegram
        self.dry_run = dry_run
        self.retry = retry

    async def __call__(self, event: Event) -> None:
        accepted = await self._accept(event)
        if accepted is None:  # the database refused it: quarantined by the runner, nothing more to do
            return
        if event.raw.get("start") and event.author_id:
            await self._started(event, accepted.viewer_id)

    async def _accept(self, event: Event) -> Any:
        while True:
            try:
                return await self.runner.accept(event)
            except StoreUnavailable as exc:
                # Returning would let Telegram forget the update; waiting keeps it unconfirmed until stored.
                log.error("%s; telegram update %s kept unconfirmed, retrying in %.0fs", exc, event.event_id, self.retry)
                await asyncio.sleep(self.retry)

    async def _started(self, event: Event, viewer_id: int | None) -> None:
        payload = event.raw.get("start_payload")
        came_from = parse_comment_payload(payload) if payload else None
        if payload:
            attribution = {"telegram_start": payload, "started_at": event.created_at.isoformat()}
            if came_from:
                attribution.update(thread_id=came_from[0], comment_id=came_from[1])
            await asyncio.to_thread(self.store.set_attribution, PLATFORM, event.author_id, attribution)
        if self.dry_run or await asyncio.to_thread(self.store.is_paused):
            return
        viewer = await asyncio.to_thread(self.store.viewer, PLATFORM, event.author_id)
        if viewer is not None and viewer.taken_over_at is not None:  # a human answers them: not even a welcome
            return
        thread_id = came_from[0] if came_from else None
        pseudonym = self.store.pseudonym(PLATFORM, event.author_id)
        text = welcome_text(self.runner.pipeline.composer.templates, event.author_name, self._course_of(thread_id),
                            self._title_of(thread_id), pick=self.store.pseudonymizer.bucket("ab", "welcome", pseudonym, buckets=1 << 16))
        await asyncio.to_thread(self.store.enqueue, NewMessage(
            idempotency_key=f"telegram:welcome:{event.event_id}", platform=PLATFORM, kind="reply_dm", text=text,
            recipient_id=event.author_id, viewer_id=viewer_id, extra={"welcome": True}))

    def _title_of(self, thread_id: str | None) -> str | None:
        intake = self.telegram.intake
        return intake.thread_title(thread_id) if thread_id and intake else None

    def _course_of(self, thread_id: str | None) -> Any:
        if thread_id is None:
            return None
        analyzer = self.runner.analyzer
        course_id = analyzer.thread_course(Thread(id=thread_id, title=self._title_of(thread_id) or ""))
        return analyzer.knowledge.catalog.courses.get(course_id or "")


async def serve(settings: Settings, *, analyzer: Any = None, stop: asyncio.Event | None = None) -> None:
    """Run the Telegram bot until `stop` is set (or the task is cancelled)."""
    stop = stop or asyncio.Event()
    store = await asyncio.to_thread(Store.open, settings)
    try:
        console = StoreConsole(store, summary=summary_maker(settings, store.engine), zone=zone(settings.policy.timezone))
        async with TelegramBot(settings.telegram, console=console, contacts=StoreDmContacts(store, PLATFORM),
                               pseudonymise=lambda raw: store.pseudonym(PLATFORM, raw)) as telegram:
            runner = await asyncio.to_thread(Runner.open, settings, {PLATFORM: telegram.sink}, analyzer=analyzer, store=store)
            telegram.accept = Reception(runner, store, telegram, dry_run=settings.policy.dry_run)
            jobs = [runner.run(sources=[], stop=stop), telegram.receive(), stop.wait()]
            if scheduler := _summary_scheduler(settings, store, telegram):
                jobs.append(scheduler.run(stop))
            await _until_first_done(jobs)
    finally:
        stop.set()
        store.close()


def _summary_scheduler(settings: Settings, store: Store, telegram: TelegramBot) -> Any:
    if not settings.summary.enabled or "telegram" not in settings.summary.deliveries:
        return None
    try:
        from bot.summary import SummaryOptions
        from bot.summary.delivery import Recipient, deliveries_from_settings
        from bot.summary.schedule import SummaryScheduler
    except ImportError:
        return None
    deliveries = deliveries_from_settings(settings, [TelegramSummaryDelivery(telegram.bot, settings.telegram.admin_ids)])
    return SummaryScheduler(store.engine, Recipient.all_from_settings(settings), deliveries,
                            options=SummaryOptions.from_settings(settings), catch_up_days=settings.summary.catch_up_days,
                            chart=settings.summary.chart, chart_font=settings.summary.chart_font)


async def _until_first_done(jobs: list[Any]) -> None:
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a receiver or runner that died raises here
    finally:
        await cancel_and_wait(tasks)
