"""Event analysis → Decision: the policy says what to do, the composer writes it.

Pure given its inputs (the analysis, the accepted event, the facts from the store): the same inputs give
the same decision on any worker and on every replay. Storing and sending happen elsewhere
(bot/runner.py, bot/outbox.py).
"""

from __future__ import annotations

from bot.analysis import Analysis
from bot.catalog import Catalog
from bot.compose import Composer, Templates
from bot.config import Settings
from bot.decision import Accepted, Decision, Facts
from bot.live.policy import LiveComposer
from bot.policy import Policy, build_policy
from bot.privacy import Pseudonymizer

# Events the model reads; gifts, entries, follows and live start/end are stored and counted, never analysed.
COMMENT_KINDS = frozenset({"comment", "reply", "dm", "danmaku", "super_chat"})


class Pipeline:
    def __init__(self, policy: Policy, composer: Composer, live: LiveComposer | None = None) -> None:
        self.policy = policy
        self.composer = composer
        self.live = live

    @classmethod
    def from_settings(cls, settings: Settings, catalog: Catalog, pseudonymizer: Pseudonymizer) -> Pipeline:
        templates = Templates.load(settings.catalog.templates)
        return cls(build_policy(settings, catalog), Composer(templates, catalog, pseudonymizer, settings.links),
                   LiveComposer(settings.live, catalog, pseudonymizer, settings.links))

    async def decide(self, analysis: Analysis | None, accepted: Accepted, facts: Facts) -> Decision:
        if analysis is None:
            return Decision("ignore", f"not a comment ({accepted.event.kind})", decided_at=facts.now)
        verdict = await self.policy(analysis, facts)
        if verdict.template == "live" and self.live is not None:  # a danmaku: its own length rules (bot/live/policy.py)
            return self.live.compose(verdict, analysis, accepted, facts)
        return self.composer.compose(verdict, analysis, accepted, facts)
