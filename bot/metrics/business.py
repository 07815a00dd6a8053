"""What the bot earned: tracked-link clicks and CTR per reply template and variant, comment→DM conversion,
enrolments attributed to bot replies, and A/B comparisons between template variants.

- unique clicks: one per visitor, link and creator-local day, people only — a reload, a second tab or a
  link-preview fetcher (bot/web/visitors.py) adds a raw click, never a unique one. Both are shown.
- CTR of a template variant: tracked links it sent that day that got at least one unique click (any time
  since) ÷ links it sent that day.
- comment→DM: viewers who commented publicly that day and then wrote the bot a DM the same day ÷ commenters.
- attributed conversion: a conversion whose tracked link id came from a bot reply.
- A/B: for each template, every variant against the variant with the most links sent (the control), on
  CTR, with a two-sided two-proportion z-test (pooled variance; significant when p < 0.05).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bot.metrics.rows import Activity
from bot.metrics.stats import ProportionTest, ratio, two_proportion_z_test


@dataclass(frozen=True, slots=True)
class VariantStats:
    template_id: str
    variant: str
    links_sent: int
    links_clicked: int  # links with at least one unique click
    clicks: int  # all clicks on these links, repeat clicks and preview fetchers included
    unique_clicks: int = 0  # one per visitor, link and day, people only

    @property
    def ctr(self) -> float | None:
        return ratio(self.links_clicked, self.links_sent)


@dataclass(frozen=True, slots=True)
class VariantComparison:
    template_id: str
    control: str
    variant: str
    test: ProportionTest


@dataclass(frozen=True, slots=True)
class Business:
    links_sent: int = 0
    links_clicked: int = 0
    clicks_today: int = 0  # raw
    unique_clicks_today: int = 0
    variants: list[VariantStats] = field(default_factory=list)
    ab_tests: list[VariantComparison] = field(default_factory=list)
    commenters: int = 0
    commenters_who_dmed: int = 0
    conversions: int = 0
    conversions_attributed: int = 0
    revenue: float = 0.0
    revenue_attributed: float = 0.0

    @property
    def ctr(self) -> float | None:
        return ratio(self.links_clicked, self.links_sent)

    @property
    def comment_to_dm(self) -> float | None:
        return ratio(self.commenters_who_dmed, self.commenters)


def variant_stats(activity: Activity) -> list[VariantStats]:
    clicks_per_link: dict[str, int] = defaultdict(int)
    unique_per_link: dict[str, set[tuple]] = defaultdict(set)
    for click in activity.link_clicks:
        clicks_per_link[click.link_id] += 1
        if (key := click.unique_key) is not None:
            unique_per_link[click.link_id].add(key)
    grouped: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for link in activity.links:
        stats = grouped[(link.template_id or "-", link.variant or "-")]
        unique = len(unique_per_link[link.id])
        stats[0] += 1
        stats[1] += unique > 0
        stats[2] += clicks_per_link[link.id]
        stats[3] += unique
    return [VariantStats(t, v, *counts) for (t, v), counts in sorted(grouped.items())]


def ab_tests(variants: list[VariantStats]) -> list[VariantComparison]:
    by_template: dict[str, list[VariantStats]] = defaultdict(list)
    for stats in variants:
        by_template[stats.template_id].append(stats)
    comparisons = []
    for template_id, arms in sorted(by_template.items()):
        if len(arms) < 2:
            continue
        control = min(arms, key=lambda a: (-a.links_sent, a.variant))
        for arm in arms:
            if arm is not control:
                test = two_proportion_z_test(control.links_clicked, control.links_sent, arm.links_clicked, arm.links_sent)
                comparisons.append(VariantComparison(template_id, control.variant, arm.variant, test))
    return comparisons


def _comment_to_dm(activity: Activity) -> tuple[int, int]:
    commenters = [v for v in activity.viewers if v.first_comment is not None]
    dmed = sum(1 for v in commenters if v.last_dm is not None and v.last_dm >= v.first_comment)  # type: ignore[operator]
    return len(commenters), dmed


def business(activity: Activity) -> Business:
    variants = variant_stats(activity)
    commenters, dmed = _comment_to_dm(activity)
    attributed = [c for c in activity.conversions if c.link_id and c.link_id in activity.bot_links]
    return Business(
        links_sent=sum(v.links_sent for v in variants), links_clicked=sum(v.links_clicked for v in variants),
        clicks_today=activity.clicks, unique_clicks_today=activity.unique_clicks, variants=variants, ab_tests=ab_tests(variants),
        commenters=commenters, commenters_who_dmed=dmed,
        conversions=len(activity.conversions), conversions_attributed=len(attributed),
        revenue=round(sum(c.amount for c in activity.conversions), 2), revenue_attributed=round(sum(c.amount for c in attributed), 2),
    )
