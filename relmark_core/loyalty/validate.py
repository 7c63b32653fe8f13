"""Problems with a program, explained in words before anyone launches it.

:func:`validate` checks a :class:`~relmark_core.loyalty.model.LoyaltyProgram` on its own and,
given :class:`HistoryFacts` from the shop's data, against its history: multipliers that stack, a
promotion that ends before it starts, a tier nobody reached, a reward priced below what the
earn rate and point value make sense of, names that match nothing in the orders. Errors stop a
version from being saved; warnings are shown next to the draft.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Literal

import ibis
from pydantic import BaseModel, ConfigDict

from relmark_core.loyalty.model import (
    LoyaltyProgram,
    Multiplier,
    PointsPerSpend,
    Promotion,
    TierRules,
    date_span,
)
from relmark_core.metrics.rfm import money_text
from relmark_core.source import Source

__all__ = [
    "REWARD_VALUE_TOLERANCE",
    "MAX_CHOICES",
    "Problem",
    "HistoryFacts",
    "shop_facts",
    "validate",
    "errors_of",
]

REWARD_VALUE_TOLERANCE = 0.25  # a reward may cost up to 25% more than its points are worth
MAX_CHOICES = 500  # products/categories/channels listed as choices
_NAMES_SHOWN = 8


class Problem(BaseModel):
    """One thing wrong (``error``: cannot be saved) or worth a second look (``warning``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Literal["error", "warning"]
    code: str
    message: str


class HistoryFacts(BaseModel):
    """What the shop's data says, for the checks that need history.

    ``best_qualifying`` is the highest qualifying total (points or money, as the tiers count)
    any customer reached within one qualifying period in ``best_period`` (from a simulation).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    product_categories: dict[str, tuple[str, ...]] = {}
    channels: tuple[str, ...] = ()
    discount_codes: tuple[str, ...] = ()
    best_qualifying: float | None = None
    best_period: str | None = None


def shop_facts(src: Source) -> HistoryFacts:
    """Categories, products (with their categories), sales channels and discount codes in the
    data, most frequent first (at most :data:`MAX_CHOICES` of each)."""
    lines = src.order_lines
    pc = src.execute(
        lines.filter(lines.product.notnull())
        .group_by(["product", "category"])
        .aggregate(n=lambda t: t.count())
        .order_by([ibis.desc("n"), "product"])
    )
    by_product: dict[str, list[str]] = {}
    for r in pc.itertuples():
        cats = by_product.setdefault(str(r.product), [])
        if r.category is not None and str(r.category) not in cats:
            cats.append(str(r.category))
    cat = src.execute(
        lines.filter(lines.category.notnull()).group_by("category").aggregate(n=lambda t: t.count())
        .order_by([ibis.desc("n"), "category"]).limit(MAX_CHOICES)
    )
    o = src.orders
    ch = src.execute(
        o.filter(o.sales_channel.notnull()).group_by("sales_channel").aggregate(n=lambda t: t.count())
        .order_by([ibis.desc("n"), "sales_channel"]).limit(MAX_CHOICES)
    )
    codes = src.execute(
        o.filter(o.discount_code.notnull()).group_by("discount_code").aggregate(n=lambda t: t.count())
        .order_by([ibis.desc("n"), "discount_code"]).limit(MAX_CHOICES)
    )
    return HistoryFacts(
        categories=tuple(str(c) for c in cat["category"]),
        products=tuple(list(by_product)[:MAX_CHOICES]),
        product_categories={k: tuple(v) for k, v in by_product.items()},
        channels=tuple(str(c) for c in ch["sales_channel"]),
        discount_codes=tuple(str(c).strip().upper() for c in codes["discount_code"]),
    )


def _names(values: Sequence[str]) -> str:
    shown = list(values[:_NAMES_SHOWN])
    return ", ".join(shown) + (", …" if len(values) > _NAMES_SHOWN else "")


def _scope(a: Multiplier | Promotion, b: Multiplier | Promotion, facts: HistoryFacts | None) -> str | None:
    """What spend both apply to, in words, or None when they never meet."""
    if isinstance(a, Promotion) and isinstance(b, Promotion):
        lo, hi = max(a.start, b.start), min(a.end, b.end)
        if lo > hi:
            return None
        return f"every order from {date_span(lo, hi)}"
    if isinstance(a, Promotion) or isinstance(b, Promotion):
        promo = a if isinstance(a, Promotion) else b
        other = b if promo is a else a
        assert isinstance(promo, Promotion) and isinstance(other, Multiplier)
        what = (
            f"orders through “{other.value}”" if other.on == "channel"
            else f"{other.value} bought"
        )
        return f"{what} during {promo.name} ({date_span(promo.start, promo.end)})"
    assert isinstance(a, Multiplier) and isinstance(b, Multiplier)
    if a.on == b.on:
        return (f"orders through “{a.value}”" if a.on == "channel" else f"{a.value}") \
            if a.value == b.value else None
    if "channel" in (a.on, b.on):
        line = a if a.on != "channel" else b
        chan = b if line is a else a
        return f"{line.value} ordered through “{chan.value}”"
    cat = a if a.on == "category" else b
    prod = b if cat is a else a
    cats = (facts.product_categories.get(prod.value, ()) if facts else ())
    if cat.value in cats:
        return f"{prod.value} (a product in {cat.value})"
    return None


def _factor(r: Multiplier | Promotion) -> float:
    return float(r.factor)


def _label(r: Multiplier | Promotion, points: str, currency: str) -> str:
    return r.label(points, currency)


def _threshold(rules: TierRules, value: float, points: str, currency: str) -> str:
    if rules.basis == "spend":
        return f"{money_text(value, currency)} of net spend"
    return f"{value:,.0f} qualifying {points}"


def validate(
    program: LoyaltyProgram, *, currency: str, facts: HistoryFacts | None = None
) -> list[Problem]:
    """Every problem found, errors first, in the order of the program's parts."""
    p = program.points
    out: list[Problem] = []

    def add(severity: Literal["error", "warning"], code: str, message: str) -> None:
        out.append(Problem(severity=severity, code=code, message=message))

    # promotions that end before they start
    for r in program.rules_of(Promotion):
        if r.end < r.start:
            add("error", "promotion_backwards",
                f"The promotion “{r.name}” ends on {r.end.day} {r.end:%b %Y}, before it starts on "
                f"{r.start.day} {r.start:%b %Y}, so it would never apply. Swap the two dates.")

    # tiers: names and thresholds
    tiers = program.tier_list()
    names = [t.name.lower() for t in tiers]
    dupes = sorted({t.name for t in tiers if names.count(t.name.lower()) > 1})
    if dupes:
        add("error", "tier_names", f"Two tiers are called {_names(dupes)}: give each tier its own name.")
    thresholds = [t.threshold for t in tiers]
    same = sorted({str(x) for x in thresholds if thresholds.count(x) > 1})
    if same:
        add("error", "tier_thresholds",
            f"Two tiers start at the same threshold ({', '.join(same)}): customers would only ever "
            "see the later one. Give each tier a different threshold.")
    if program.tiers is not None and not tiers:
        add("warning", "tiers_empty", "Tier rules are set but there are no tiers: add at least one.")

    # stacking multipliers
    mults: list[Multiplier | Promotion] = [
        r for r in program.earn_rules if isinstance(r, Multiplier | Promotion)
    ]
    valid_promos = [r for r in mults if not (isinstance(r, Promotion) and r.end < r.start)]
    for a, b in combinations(valid_promos, 2):
        scope = _scope(a, b, facts)
        if scope is None:
            continue
        fa, fb = _factor(a), _factor(b)
        add("warning", "stacking",
            f"“{_label(a, p, currency)}” and “{_label(b, p, currency)}” stack: on {scope}, "
            f"{p} are multiplied by {fa * fb:g} ({fa:g} × {fb:g}), not {max(fa, fb):g}. If that "
            "is not what you meant, make them not overlap or lower one of the factors.")

    # names that match nothing in the data
    if facts is not None:
        known = {"category": facts.categories, "product": facts.products, "channel": facts.channels}
        word = {"category": "category", "product": "product", "channel": "sales channel"}
        for r in program.rules_of(Multiplier):
            values = known[r.on]
            if values and r.value not in values:
                add("warning", "unknown_value",
                    f"No order in your data has the {word[r.on]} “{r.value}”, so “"
                    f"{r.label(p, currency)}” would never apply. Check the spelling; your data "
                    f"has: {_names(values)}.")

    # tiers nobody reached
    if program.tiers is not None and facts is not None and facts.best_qualifying is not None:
        best = facts.best_qualifying
        for t in tiers:
            if float(t.threshold) > best and t.threshold > 0:
                period = {
                    "calendar_year": "within a calendar year",
                    "rolling_12_months": "within 365 days",
                    "lifetime": "in total",
                }[program.tiers.period]
                add("warning", "tier_unreachable",
                    f"Nobody in your history would have reached {t.name}: it needs "
                    f"{_threshold(program.tiers, float(t.threshold), p, currency)} {period}, and "
                    f"the most any customer collected {period} in {facts.best_period or 'the replayed period'} "
                    f"was {_threshold(program.tiers, best, p, currency)}. Lower the threshold "
                    f"towards what your best customers reach, or expect an empty {t.name} tier.")

    # rewards priced below what their points are worth
    value = float(program.currency.value)
    rate = sum(r.rate for r in program.rules_of(PointsPerSpend))
    for rw in program.rewards:
        worth = rw.points * value
        cost = float(rw.cost)
        if cost <= worth * (1 + REWARD_VALUE_TOLERANCE):
            continue
        fair = math.ceil(cost / value)
        one = p[:-1] if p.endswith("s") and len(p) > 1 else p
        msg = (
            f"“{rw.name}” costs {rw.points:,} {p} but costs you {money_text(cost, currency)}: at "
            f"{money_text(value, currency)} a {one}, those {p} are worth "
            f"{money_text(worth, currency)}, so every {one} spent on it costs you "
            f"{cost / worth:g}× the value the program gives a {one}, and the liability figures "
            "understate it."
        )
        if rate > 0:
            spend = rw.points / rate
            back = cost / spend
            msg += (
                f" A customer earns it with {money_text(spend, currency)} of spend at the base "
                f"rate: {back:.0%} back" + (", more than they spent." if back >= 1 else ".")
            )
        msg += f" Price it at about {fair:,} {p}, or lower its cost."
        add("warning", "reward_too_cheap", msg)

    # a program that earns nothing on purchases
    if not program.rules_of(PointsPerSpend):
        add("warning", "no_spend_rule",
            f"No rule gives {p} for spending: customers earn only bonuses, and multipliers have "
            "nothing to multiply. Add a “points per spend” rule.")
    if program.membership is not None:
        m = program.membership
        if not m.free_shipping and m.earn_multiplier == 1 and not m.perks:
            add("warning", "membership_empty",
                f"The paid membership “{m.name}” has no benefits: nobody would be better off "
                "joining. Add free shipping, a multiplier or a perk.")
    out.sort(key=lambda x: 0 if x.severity == "error" else 1)
    return out


def errors_of(problems: Sequence[Problem]) -> list[Problem]:
    return [x for x in problems if x.severity == "error"]
