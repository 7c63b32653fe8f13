"""What a draft program would have done on the shop's own history.

:func:`simulate` replays a program over a chosen period as if it had launched on the period's
first day (every customer starts with no points and no tier) and sums up: points issued by rule,
redeemed, expired and outstanding, the liability in money, the cost as a share of net revenue,
tiers over time, and what a paid membership would have cost or earned. :func:`compare` puts two
results side by side (the active program and the draft). Same inputs, same numbers: nothing is
random.

Redemptions: when a reward in the catalogue names a discount code and orders in the period used
it, those orders are the redemptions (each spends the reward's points and costs its business
cost). Otherwise an assumed share of every batch of earned points is redeemed
``REDEMPTION_LAG_DAYS`` after it was earned (or the day before it would expire, if sooner).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core.errors import InputRefused
from relmark_core.loyalty.model import LoyaltyProgram, PaidMembership
from relmark_core.loyalty.replay import (
    DEFAULT_REDEMPTION_RATE,
    MOVE_EVENT,
    REDEMPTION_LAG_DAYS,
    SECONDS_PER_DAY,
    ProgressCallback,
    Replay,
    Segment,
    connection_of,
    month_index,
    run_replay,
)
from relmark_core.metrics.rfm import money_text
from relmark_core.money import cents
from relmark_core.periods import DateRange
from relmark_core.source import Source

__all__ = [
    "DEFAULT_REDEMPTION_RATE",
    "REDEMPTION_LAG_DAYS",
    "DAYS_PER_MONTH",
    "MembershipOutcome",
    "SimulationResult",
    "simulate",
    "compare",
    "COMPARE_COLUMNS",
]

DAYS_PER_MONTH = 365.25 / 12
COMPARE_COLUMNS = ("metric", "unit", "current", "draft", "change")
_ARBITRARY = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class MembershipOutcome(BaseModel):
    """The paid membership replayed: who would have been better off joining, and the shop's sum.

    A customer is taken to join at their first order in the period and pay every started month
    (or year) until its end. They are better off when free shipping on their orders plus the
    extra points (valued at the point's value) exceed those fees. The shop, if exactly those
    customers joined, collects their fees, waives their shipping and pays the extra points that
    get redeemed (extra points × point value × redemption share).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    customers: int
    better_off: int
    fees: Decimal
    shipping_waived: Decimal
    extra_points: int
    extra_points_cost: Decimal
    net_for_shop: Decimal

    def sentence(self, currency: str) -> str:
        verb = "earned" if self.net_for_shop >= 0 else "cost"
        return (
            f"{self.better_off:,} of {self.customers:,} customers with orders would have been "
            f"better off joining “{self.name}”. Had they joined, the shop would have collected "
            f"{money_text(float(self.fees), currency)} in fees, waived "
            f"{money_text(float(self.shipping_waived), currency)} of shipping and paid "
            f"{money_text(float(self.extra_points_cost), currency)} for extra points: it would have "
            f"{verb} {money_text(abs(float(self.net_for_shop)), currency)}."
        )


class SimulationResult(BaseModel):
    """A program replayed over ``[start, end)``.

    Points are whole numbers except redeemed/outstanding under an assumed rate (rounded here).
    ``by_rule``: ``rule``, ``kind`` (earn, bonus, tier, cap), ``points`` (caps negative).
    ``over_time``: ``month`` (2024-03), ``issued``, ``redeemed``, ``expired``, ``outstanding``
    (at the month's end), ``liability`` (float money). ``tier_over_time``: ``month``, ``tier``,
    ``members`` at the month's end. ``tier_moves``: ``month``, ``joined``, ``up``, ``down``.
    ``tier_reached``: ``tier``, ``members`` who reached at least that tier. ``tier_end``: ``tier``,
    ``members`` at the end.
    """

    model_config = _ARBITRARY

    program_name: str
    start: date
    end: date
    currency: str
    points_name: str
    point_value: Decimal
    members: int
    issued: int
    redeemed: int
    expired: int
    outstanding: int
    redemption_source: str
    redemption_rate: float
    redemption_note: str
    redeemed_cost: Decimal
    liability: Decimal
    program_cost: Decimal
    net_revenue: Decimal
    cost_share: float | None
    by_rule: pd.DataFrame
    over_time: pd.DataFrame
    tier_over_time: pd.DataFrame
    tier_moves: pd.DataFrame
    tier_reached: pd.DataFrame
    tier_end: pd.DataFrame
    membership: MembershipOutcome | None
    best_qualifying: float | None
    negative_balances: int

    @property
    def period(self) -> DateRange:
        return DateRange(start=self.start, end=self.end)


def _months(rep: Replay) -> tuple[int, int]:
    def month(t: int) -> int:
        d = np.datetime64(t // SECONDS_PER_DAY, "D")
        return int(d.astype("datetime64[M]").astype(np.int64))

    return month(rep.lo_sec), month(rep.hi_sec - 1)


def _by_month(t: Any, weights: Any, m0: int, n: int, hi_sec: int) -> Any:
    t = np.asarray(t, dtype=np.int64)
    keep = t < hi_sec
    if not keep.any():
        return np.zeros(n)
    m = month_index(t[keep]) - m0
    return np.bincount(m, weights=np.asarray(weights, dtype=np.float64)[keep], minlength=n)[:n]


def _label(m: int) -> str:
    return str(np.datetime64(m, "M"))


def _membership(rep: Replay, plan: PaidMembership, value: float, rate: float) -> MembershipOutcome:
    n = rep.n_cust
    has = np.zeros(n, dtype=bool)
    first = np.full(n, rep.hi_sec, dtype=np.int64)
    if len(rep.o_cust):
        has[rep.o_cust] = True
        np.minimum.at(first, rep.o_cust, rep.o_t)
    ship = np.bincount(rep.o_cust, weights=rep.o_shipping, minlength=n) if plan.free_shipping else np.zeros(n)
    fin = rep.o_fin_float
    extra_o = np.floor(fin * plan.earn_multiplier + 1e-9) - np.floor(fin + 1e-9)
    extra = np.bincount(rep.o_cust, weights=extra_o, minlength=n)
    months_left = (rep.hi_sec - first) / SECONDS_PER_DAY / DAYS_PER_MONTH
    periods = np.ceil(months_left - 1e-9) if plan.billing == "monthly" else np.ceil(months_left / 12 - 1e-9)
    fees = np.maximum(periods, 1) * float(plan.fee)
    benefit = ship + extra * value
    better = has & (benefit > fees)
    fee_sum = float(fees[better].sum())
    ship_sum = float(ship[better].sum())
    extra_pts = int(round(float(extra[better].sum())))
    extra_cost = extra_pts * value * rate
    return MembershipOutcome(
        name=plan.name,
        customers=int(has.sum()),
        better_off=int(better.sum()),
        fees=cents(fee_sum),
        shipping_waived=cents(ship_sum),
        extra_points=extra_pts,
        extra_points_cost=cents(extra_cost),
        net_for_shop=cents(fee_sum - ship_sum - extra_cost),
    )


def summarise(rep: Replay, program: LoyaltyProgram) -> SimulationResult:
    """The result tables of a one-program replay (see :class:`SimulationResult`)."""
    currency = rep.currency
    value = float(program.currency.value)
    m0, m1 = _months(rep)
    nm = m1 - m0 + 1
    hi = rep.hi_sec

    issued_m = _by_month(rep.l_t, rep.l_amt, m0, nm, hi)
    redeemed_m = _by_month(rep.r_t, rep.r_amt, m0, nm, hi)
    expired_m = _by_month(rep.l_x, rep.l_expired, m0, nm, hi)
    outstanding_m = np.cumsum(issued_m - redeemed_m - expired_m)
    issued = int(rep.l_amt.sum())
    in_period = rep.r_t < hi
    redeemed_f = float(rep.r_amt[in_period].sum())
    expired_f = float(rep.l_expired.sum())
    outstanding_f = issued - redeemed_f - expired_f
    if rep.redemption_source == "codes":
        rate = redeemed_f / issued if issued else 0.0
        redeemed_cost = float(rep.r_cost[in_period].sum())
        n = int(in_period.sum())
        note = (
            f"Measured from {n:,} order{'' if n == 1 else 's'} that used reward codes: "
            f"{rate:.0%} of the {program.points} issued were redeemed."
        )
    else:
        rate = rep.redemption_rate
        redeemed_cost = redeemed_f * value
        note = (
            f"Assumed: {rate:.0%} of every batch of {program.points} is redeemed "
            f"{REDEMPTION_LAG_DAYS} days after it was earned (no reward codes in these orders)."
        )
    liability = cents(max(outstanding_f, 0.0) * value * rate)
    cost = cents(redeemed_cost) + liability  # the parts as shown add up to the total

    by_rule = pd.DataFrame(
        [{"rule": r.label, "kind": r.kind, "points": int(round(p))}
         for r, p in zip(rep.rules, rep.rule_points, strict=True)],
        columns=["rule", "kind", "points"],
    )
    months = [_label(m0 + k) for k in range(nm)]
    over_time = pd.DataFrame({
        "month": months,
        "issued": np.round(issued_m).astype(np.int64),
        "redeemed": np.round(redeemed_m).astype(np.int64),
        "expired": np.round(expired_m).astype(np.int64),
        "outstanding": np.round(outstanding_m).astype(np.int64),
        "liability": np.round(np.maximum(outstanding_m, 0) * value * rate, 2),
    })

    names = program.tier_names()
    L = len(names)
    member = rep.first_t < hi

    def month_of(t: Any) -> Any:
        return np.clip(month_index(np.asarray(t, dtype=np.int64)) - m0, 0, nm - 1)

    cells: list[Any] = [month_of(rep.first_t[member]) * L]  # joining: into level 0
    signs: list[Any] = [np.ones(int(member.sum()))]
    joined: Any = np.bincount(month_of(rep.first_t[member]), minlength=nm)[:nm]
    up: Any = np.zeros(nm, dtype=np.int64)
    down: Any = np.zeros(nm, dtype=np.int64)
    mv = rep.m_t < hi
    if mv.any():
        mm = month_of(rep.m_t[mv])
        fr, to = rep.m_from[mv], rep.m_to[mv]
        cells += [mm * L + fr, mm * L + to]
        signs += [-np.ones(len(mm)), np.ones(len(mm))]
        is_join = (rep.m_cause[mv] == MOVE_EVENT) & (rep.m_t[mv] == rep.first_t[rep.m_cust[mv]])
        up = np.bincount(mm[(to > fr) & ~is_join], minlength=nm)[:nm]
        down = np.bincount(mm[to < fr], minlength=nm)[:nm]
    flows = np.bincount(
        np.concatenate(cells).astype(np.int64), weights=np.concatenate(signs), minlength=nm * L
    )[: nm * L].reshape(nm, L)
    counts = np.cumsum(flows, axis=0)
    tier_over_time = pd.DataFrame(
        [{"month": months[k], "tier": names[lv], "members": int(round(counts[k, lv]))}
         for k in range(nm) for lv in range(L)],
        columns=["month", "tier", "members"],
    )
    tier_moves = pd.DataFrame({
        "month": months, "joined": np.asarray(joined, dtype=np.int64),
        "up": np.asarray(up, dtype=np.int64), "down": np.asarray(down, dtype=np.int64),
    })
    maxlev = np.zeros(rep.n_cust, dtype=np.int64)
    if len(rep.m_cust):
        np.maximum.at(maxlev, rep.m_cust[mv], rep.m_to[mv])
    tier_reached = pd.DataFrame(
        [{"tier": names[k], "members": int((maxlev[member] >= k).sum())} for k in range(1, L)],
        columns=["tier", "members"],
    )
    tier_end = pd.DataFrame(
        [{"tier": names[k], "members": int((rep.end_level[member] == k).sum())} for k in range(L)],
        columns=["tier", "members"],
    )

    balance: Any = np.zeros(rep.n_cust)
    if rep.n_cust:
        balance = (
            np.bincount(rep.l_cust, weights=rep.l_amt.astype(np.float64) - rep.l_expired, minlength=rep.n_cust)
            - np.bincount(rep.r_cust[in_period], weights=rep.r_amt[in_period], minlength=rep.n_cust)
        )
    best: float | None = None
    if rep.best_q is not None and program.tiers is not None:
        best = rep.best_q / (100 if program.tiers.basis == "spend" else 1)
    net_revenue = rep.net_revenue
    return SimulationResult(
        program_name=program.name,
        start=rep.lo,
        end=rep.hi,
        currency=currency,
        points_name=program.points,
        point_value=program.currency.value,
        members=int(member.sum()),
        issued=issued,
        redeemed=int(round(redeemed_f)),
        expired=int(round(expired_f)),
        outstanding=int(round(outstanding_f)),
        redemption_source=rep.redemption_source,
        redemption_rate=rate,
        redemption_note=note,
        redeemed_cost=cents(redeemed_cost),
        liability=liability,
        program_cost=cost,
        net_revenue=cents(net_revenue),
        cost_share=float(cost) / net_revenue if net_revenue > 0 else None,
        by_rule=by_rule,
        over_time=over_time,
        tier_over_time=tier_over_time,
        tier_moves=tier_moves,
        tier_reached=tier_reached,
        tier_end=tier_end,
        membership=(
            _membership(rep, program.membership, value, rate) if program.membership else None
        ),
        best_qualifying=best,
        negative_balances=int((balance < -1e-6).sum()),
    )


def simulate(
    src: Source,
    *,
    program: LoyaltyProgram,
    rng: DateRange,
    redemption_rate: float = DEFAULT_REDEMPTION_RATE,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Replay ``program`` over ``rng`` as if it launched on ``rng.start``.

    Parameters
    ----------
    redemption_rate
        Share (0–1) of earned points assumed redeemed when no reward code shows up in the orders.
    progress
        Called with (share done, what is happening) while the replay runs.
    """
    if not 0 <= redemption_rate <= 1:
        raise InputRefused(
            f"The redemption rate must be between 0% and 100% (got {redemption_rate:.0%})."
        )
    rep = run_replay(
        connection_of(src),
        [Segment(program=program, start=rng.start, end=rng.end)],
        currency=src.reporting_currency,
        tz=src.timezone,
        redemption_rate=redemption_rate,
        progress=progress,
    )
    return summarise(rep, program)


def compare(current: SimulationResult, draft: SimulationResult) -> pd.DataFrame:
    """The active program and the draft side by side: ``metric``, ``unit`` (count, points,
    money, share), ``current``, ``draft``, ``change`` (draft − current; None for shares of
    nothing)."""

    def top(r: SimulationResult) -> tuple[str, int]:
        if r.tier_reached.empty:
            return "", 0
        row = r.tier_reached.iloc[-1]
        return str(row["tier"]), int(row["members"])

    rows: list[tuple[str, str, Any, Any]] = [
        ("Members", "count", current.members, draft.members),
        ("Points issued", "points", current.issued, draft.issued),
        ("Points redeemed", "points", current.redeemed, draft.redeemed),
        ("Points expired", "points", current.expired, draft.expired),
        ("Points outstanding", "points", current.outstanding, draft.outstanding),
        ("Liability", "money", current.liability, draft.liability),
        ("Program cost", "money", current.program_cost, draft.program_cost),
        ("Cost as % of net revenue", "share", current.cost_share, draft.cost_share),
    ]
    ct, dt = top(current), top(draft)
    if ct[0] or dt[0]:
        rows.append((
            f"Reached the top tier ({ct[0] or '—'} / {dt[0] or '—'})", "count", ct[1], dt[1]
        ))
    if current.membership or draft.membership:
        rows.append((
            "Better off with the paid membership", "count",
            current.membership.better_off if current.membership else None,
            draft.membership.better_off if draft.membership else None,
        ))
    out = []
    for metric, unit, a, b in rows:
        change = None if a is None or b is None else b - a
        out.append({"metric": metric, "unit": unit, "current": a, "draft": b, "change": change})
    return pd.DataFrame(out, columns=list(COMPARE_COLUMNS))
