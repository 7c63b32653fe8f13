"""Churn: who stopped ordering, how fast customers are lost, and who is late for their next order.

The user says what "churned" means: **no counted order in N days** (:class:`ChurnRule`).
Relmark suggests N from the shop's own rhythm (:func:`suggest_churn_days`: the 90th percentile of
the days between a customer's consecutive order days) and says how it got there.

Days are calendar days in the store's time zone; several counted orders on one day are one
order day. A customer's silence **completes** on day L + N, where L is an order day followed by
no order day within the next N days: from that day on, the customer is churned (until they
order again).

**Churn rate of a period** [s, e) = churned in the period / active at its start, where

* active at the start = customers with a counted order on one of the N days before s
  (days s-N ... s-1), i.e. not churned on the eve of the period;
* churned in the period = those of them whose N-day silence completes on a day in [s, e) and no
  later than the as-of date.

Customers who first order inside a period are not in that period's denominator, so neither is
their churn in the same period. The period holding the as-of date is flagged ``incomplete``.

The **overdue** list is about individual rhythm, not about the shop-wide N: customers with at
least :data:`OVERDUE_MIN_ORDER_DAYS` order days whose days since their last order exceed
:data:`OVERDUE_FACTOR` times their own median gap. (Not the RFM group "At risk", which ranks
customers against each other.)
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import ibis
import pandas as pd
from ibis.expr.types import Table
from pydantic import BaseModel, ConfigDict, Field

from relmark_core.metrics.retention import (
    counted_customer_orders,
    local_day,
    period_from_number,
    period_number,
    period_number_expr,
)
from relmark_core.periods import DEFAULT_GRAIN, Grain, period_label
from relmark_core.source import Source

__all__ = [
    "DEFAULT_CHURN_DAYS",
    "SUGGESTION_PERCENTILE",
    "MIN_GAPS_FOR_SUGGESTION",
    "OVERDUE_FACTOR",
    "OVERDUE_MIN_ORDER_DAYS",
    "MAX_CHURN_DAYS",
    "ChurnRule",
    "ChurnSuggestion",
    "suggest_churn_days",
    "churn_rates",
    "overdue_customers",
]

DEFAULT_CHURN_DAYS = 90
"""Used when the shop has too few repeat orders to suggest a number."""
SUGGESTION_PERCENTILE = 0.90
MIN_GAPS_FOR_SUGGESTION = 30
"""Fewer gaps between consecutive orders than this and the suggestion falls back to the default."""
OVERDUE_FACTOR = 2.0
OVERDUE_MIN_ORDER_DAYS = 2
MAX_CHURN_DAYS = 3650


class ChurnRule(BaseModel):
    """What "churned" means: no counted order in ``days`` days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(default=DEFAULT_CHURN_DAYS, ge=1, le=MAX_CHURN_DAYS)

    def sentence(self) -> str:
        return (
            f"A customer counts as churned once {self.days} days pass without a counted order "
            "from them, and as active again when they next order."
        )


class ChurnSuggestion(BaseModel):
    """A suggested N for the churn rule and the sentence that says where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int
    gaps: int
    from_data: bool
    sentence: str


def _order_days(src: Source, as_of: date) -> Table:
    """Distinct (customer, local order day) with the previous order day and the gap in days."""
    o = counted_customer_orders(src, as_of=as_of)
    d = o.select(customer_id=o.customer_id, day=local_day(src, o.ordered_at)).distinct()
    w = ibis.window(group_by=d.customer_id, order_by=d.day)
    d = d.mutate(prev=d.day.lag().over(w))
    return d.mutate(gap=d.day.delta(d.prev, unit="day"))


def suggest_churn_days(
    src: Source,
    *,
    as_of: date,
    percentile: float = SUGGESTION_PERCENTILE,
    min_gaps: int = MIN_GAPS_FOR_SUGGESTION,
) -> ChurnSuggestion:
    """N = the given percentile (default 90th) of the days between consecutive order days of
    the same customer, rounded up; :data:`DEFAULT_CHURN_DAYS` when there are too few gaps."""
    d = _order_days(src, as_of)
    gaps = d.filter(d.gap.notnull())
    df = src.execute(gaps.aggregate(n=gaps.count(), q=gaps.gap.quantile(percentile)))
    n = int(df["n"].iloc[0])
    share = f"{percentile:.0%}"
    if n < min_gaps or pd.isna(df["q"].iloc[0]):
        return ChurnSuggestion(
            days=DEFAULT_CHURN_DAYS,
            gaps=n,
            from_data=False,
            sentence=(
                f"Only {n} repeat order{'s' if n != 1 else ''} so far (at least {min_gaps} are "
                f"needed to suggest a number), so the suggestion is the usual "
                f"{DEFAULT_CHURN_DAYS} days."
            ),
        )
    days = min(max(1, math.ceil(float(df["q"].iloc[0]) - 1e-9)), MAX_CHURN_DAYS)
    return ChurnSuggestion(
        days=days,
        gaps=n,
        from_data=True,
        sentence=(
            f"Suggested: {days} days. In this shop {share} of repeat orders came within {days} "
            f"days of the customer's previous order (measured over {n:,} gaps between "
            "consecutive order days), so a customer silent for longer is unlikely to come back "
            "on their own."
        ),
    )


def _spells(src: Source, *, churn_days: int, as_of: date, grain: Grain) -> Table:
    """Active spells: runs of order days with gaps of at most N days. Per spell: the period of
    its first day ``ps``, the period in which its silence completes ``pe`` and whether that
    happened by the as-of date ``done``."""
    d = _order_days(src, as_of)
    new = (d.prev.isnull() | (d.gap > churn_days)).cast("int32")
    d = d.mutate(new=new)
    d = d.mutate(spell=d.new.cumsum(group_by=d.customer_id, order_by=d.day))
    s = d.group_by(["customer_id", "spell"]).aggregate(start=d.day.min(), last=d.day.max())
    end = s["last"] + ibis.interval(days=churn_days)
    s = s.select(
        ps=period_number_expr(s.start, grain),
        pe=period_number_expr(end, grain),
        done=(end <= ibis.literal(as_of)).cast("int32"),
    )
    return s.group_by(["ps", "pe", "done"]).aggregate(spells=s.count())


def churn_rates(
    src: Source,
    *,
    churn_days: int = DEFAULT_CHURN_DAYS,
    as_of: date,
    grain: Grain = DEFAULT_GRAIN,
    since: date | None = None,
) -> pd.DataFrame:
    """Churn rate per period (see the module doc for the exact definition).

    Columns: ``period`` (label), ``period_start`` (date), ``active_at_start``, ``churned``,
    ``churn_rate`` (None when nobody was active at the start), ``incomplete``. Periods run from
    the one after the first order (or ``since``) to the one holding the as-of date.
    """
    rule = ChurnRule(days=churn_days)
    agg = src.execute(_spells(src, churn_days=rule.days, as_of=as_of, grain=grain))
    cols = ["period", "period_start", "active_at_start", "churned", "churn_rate", "incomplete"]
    cur = period_number(as_of, grain)
    if not len(agg):
        return pd.DataFrame(columns=cols)
    agg = agg.astype({"ps": "int64", "pe": "int64", "done": "int64", "spells": "int64"})
    first = int(agg["ps"].min()) + 1
    if since is not None:
        first = max(first, period_number(since, grain))
    covers = agg[agg["pe"] > agg["ps"]]  # spells that cover at least one period start
    last_day = period_from_number(cur + 1, grain) - timedelta(days=1)
    rows = []
    for p in range(first, cur + 1):
        on = covers[(covers["ps"] < p) & (covers["pe"] >= p)]
        active = int(on["spells"].sum())
        churned = int(on[(on["pe"] == p) & (on["done"] == 1)]["spells"].sum())
        start = period_from_number(p, grain)
        rows.append(
            {
                "period": period_label(start, grain),
                "period_start": start,
                "active_at_start": active,
                "churned": churned,
                "churn_rate": churned / active if active else None,
                "incomplete": bool(p == cur and as_of < last_day),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    out["churn_rate"] = pd.Series([r["churn_rate"] for r in rows], dtype=object)
    return out


def overdue_customers(
    src: Source,
    *,
    as_of: date,
    factor: float = OVERDUE_FACTOR,
    min_order_days: int = OVERDUE_MIN_ORDER_DAYS,
    churn_days: int | None = None,
) -> pd.DataFrame:
    """Customers late for their next order by their own rhythm, most overdue first.

    Overdue = at least ``min_order_days`` order days, and days since the last order day >
    ``factor`` x the median gap between their consecutive order days. With ``churn_days``,
    customers already churned (silent for at least that many days) are left out.

    Columns: ``customer_id``, ``email``, ``first_name``, ``last_name``, ``orders`` (counted),
    ``last_order`` (date), ``usual_gap_days`` (median), ``days_since_last``, ``overdue_ratio``
    (days since last / usual gap), ``expected_by`` (last order + usual gap).
    """
    d = _order_days(src, as_of)
    per = d.group_by("customer_id").aggregate(
        order_days=d.count(), last=d.day.max(), usual=d.gap.median()
    )
    per = per.filter(per.order_days >= min_order_days)
    since = ibis.literal(as_of).delta(per["last"], unit="day")
    per = per.mutate(since=since)
    per = per.filter(per.usual > 0, per.since > per.usual * factor)
    if churn_days is not None:
        per = per.filter(per.since < ChurnRule(days=churn_days).days)
    o = counted_customer_orders(src, as_of=as_of)
    n_orders = o.group_by("customer_id").aggregate(orders=o.count())
    people = src.customers.select("customer_id", "email", "first_name", "last_name")
    j = per.join(n_orders, "customer_id").left_join(people, "customer_id")
    df = src.execute(
        j.select(
            "customer_id", "email", "first_name", "last_name", "orders", "last", "usual", "since"
        )
    )
    out = pd.DataFrame(
        {
            "customer_id": df["customer_id"],
            "email": df["email"],
            "first_name": df["first_name"],
            "last_name": df["last_name"],
            "orders": df["orders"].astype("int64"),
            "last_order": [pd.Timestamp(v).date() for v in df["last"]],
            "usual_gap_days": df["usual"].astype("float64"),
            "days_since_last": df["since"].astype("int64"),
        }
    )
    out["overdue_ratio"] = (out["days_since_last"] / out["usual_gap_days"]).round(2)
    out["expected_by"] = [
        last + timedelta(days=math.ceil(gap))
        for last, gap in zip(out["last_order"], out["usual_gap_days"], strict=True)
    ]
    return out.sort_values(["overdue_ratio", "customer_id"], ascending=[False, True]).reset_index(
        drop=True
    )
