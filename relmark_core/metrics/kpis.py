"""Headline numbers: customers with orders, orders, net revenue, AOV, repeat purchase rate.

Definitions are in :mod:`relmark_core.metrics.definitions`. One call reads several ranges in two
queries, so a page that compares with the previous period pays Ibis' compile cost once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ibis
import pandas as pd
from ibis.expr.types import Table
from pydantic import BaseModel, ConfigDict

from relmark_core.metrics.common import (
    DEFAULT_REVENUE_BASIS,
    CustomerSet,
    RevenueBasis,
    counted_orders,
    for_segment,
    in_window,
    lacks_parts,
    revenue_value,
)
from relmark_core.money import cents
from relmark_core.periods import (
    DEFAULT_GRAIN,
    DateRange,
    Grain,
    next_period_start,
    period_label,
    period_start,
    utc_bounds,
)
from relmark_core.source import Source

__all__ = [
    "CurrencyTotals",
    "Kpis",
    "kpis",
    "kpis_for_ranges",
    "revenue_over_time",
    "data_span",
]

_GRAIN_UNIT = {"week": "W", "month": "M", "quarter": "Q"}


class CurrencyTotals(BaseModel):
    """Counted orders and their net revenue in one currency that is not the reporting one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    orders: int
    revenue: Decimal


class Kpis(BaseModel):
    """The headline numbers of one date range."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    end: str
    currency: str
    customers: int
    orders: int
    revenue: Decimal
    aov: Decimal | None
    repeat_purchase_rate: float | None
    other_currencies: dict[str, CurrencyTotals]
    revenue_basis: RevenueBasis = DEFAULT_REVENUE_BASIS
    partial_share: float = 0.0
    """Share of reporting-currency orders lacking tax or shipping (basis ex. tax & shipping)."""

    def as_record(self) -> dict[str, Any]:
        """The CLI's JSON object: money as numbers rounded to cents, shares unrounded."""
        return {
            "start": self.start,
            "end": self.end,
            "currency": self.currency,
            "customers": self.customers,
            "orders": self.orders,
            "revenue": _money(self.revenue),
            "aov": None if self.aov is None else _money(self.aov),
            "repeat_purchase_rate": self.repeat_purchase_rate,
            "other_currencies": {
                cur: {"orders": t.orders, "revenue": _money(t.revenue)}
                for cur, t in sorted(self.other_currencies.items())
            },
        }


def _money(value: Decimal) -> float:
    return float(cents(value))


_dec = cents


def kpis(
    src: Source,
    *,
    rng: DateRange,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
    segment: CustomerSet | None = None,
) -> Kpis:
    """Headline numbers for one range; see :func:`kpis_for_ranges`."""
    return kpis_for_ranges(src, ranges=[rng], basis=basis, segment=segment)[0]


def kpis_for_ranges(
    src: Source,
    *,
    ranges: list[DateRange],
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
    segment: CustomerSet | None = None,
) -> list[Kpis]:
    """Headline numbers for each range (e.g. the chosen period and the one before it).

    customers = customers with >= 1 counted order in the range (any currency); orders = counted
    orders (any currency); revenue and aov cover the reporting currency only; other currencies'
    orders and revenue are reported apart; repeat_purchase_rate = customers with >= 2 counted
    orders / customers with >= 1 (None when there are none). ``segment``: only its members'
    orders (guest orders left out).
    """
    counted = for_segment(src, counted_orders(src), segment)
    u = _orders_by_window(src, counted, ranges, basis)
    by_currency = src.execute(
        u.group_by(["w", "currency"]).aggregate(
            orders=u.count(), revenue=u.revenue.sum(), partial=u.partial.sum()
        )
    )
    per_customer = u.filter(u.customer_id.notnull()).group_by(["w", "customer_id"]).aggregate(
        n=lambda x: x.count()
    )
    by_customer = src.execute(
        per_customer.group_by("w").aggregate(
            customers=per_customer.count(),
            repeaters=(per_customer.n >= 2).cast("int32").sum(),
        )
    )
    out = []
    for i, rng in enumerate(ranges):
        cur_rows = by_currency[by_currency["w"] == i]
        cust_rows = by_customer[by_customer["w"] == i]
        customers = int(cust_rows["customers"].iloc[0]) if len(cust_rows) else 0
        repeaters = int(cust_rows["repeaters"].iloc[0]) if len(cust_rows) else 0
        orders = int(cur_rows["orders"].sum()) if len(cur_rows) else 0
        home = cur_rows[cur_rows["currency"] == src.reporting_currency]
        home_orders = int(home["orders"].iloc[0]) if len(home) else 0
        revenue = _dec(home["revenue"].iloc[0]) if len(home) else Decimal("0.00")
        partial = int(home["partial"].iloc[0]) if len(home) else 0
        others = {
            str(r.currency): CurrencyTotals(orders=int(r.orders), revenue=_dec(r.revenue))
            for r in cur_rows.sort_values("currency").itertuples()
            if r.currency != src.reporting_currency
        }
        out.append(
            Kpis(
                start=rng.start.isoformat(),
                end=rng.end.isoformat(),
                currency=src.reporting_currency,
                customers=customers,
                orders=orders,
                revenue=revenue,
                aov=cents(revenue / home_orders) if home_orders else None,
                repeat_purchase_rate=repeaters / customers if customers else None,
                other_currencies=others,
                revenue_basis=basis,
                partial_share=(partial / home_orders if home_orders and basis != "net" else 0.0),
            )
        )
    return out


def _orders_by_window(
    src: Source, counted: Table, ranges: list[DateRange], basis: RevenueBasis
) -> Table:
    """Counted orders labelled ``w`` = the index of the range they fall in.

    Ranges that do not overlap (the usual "this period and the one before") are labelled in one
    scan of the orders; overlapping ones need a union, one scan each.
    """

    def cols(t: Table, w: Any) -> Table:
        return t.select(
            w=w,
            customer_id=t.customer_id,
            currency=t.currency,
            revenue=revenue_value(t, basis),
            partial=lacks_parts(t).cast("int32"),
        )

    bounds = [utc_bounds(r, src.timezone) for r in ranges]
    ordered = sorted(bounds)
    disjoint = all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:], strict=False))
    if not disjoint:
        parts = [cols(in_window(src, counted, r), ibis.literal(i)) for i, r in enumerate(ranges)]
        return ibis.union(*parts)
    at = counted.ordered_at
    t = counted.filter(
        at >= ibis.literal(ordered[0][0]), at < ibis.literal(ordered[-1][1])
    )
    at = t.ordered_at
    label = ibis.cases(
        *[((at >= ibis.literal(lo)) & (at < ibis.literal(hi)), i) for i, (lo, hi) in enumerate(bounds)]
    )
    labelled = cols(t, label)
    return labelled.filter(labelled.w.notnull())


def revenue_over_time(
    src: Source,
    *,
    rng: DateRange,
    grain: Grain = DEFAULT_GRAIN,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
    segment: CustomerSet | None = None,
) -> pd.DataFrame:
    """Counted orders and reporting-currency revenue per period (UTC calendar periods).

    Columns: ``period`` (label: 2024-W09, 2024-03, 2024-Q1), ``period_start`` (date),
    ``orders`` (all currencies), ``revenue`` (reporting currency), ``customers``, ``complete``
    (False where the range covers only part of the period, e.g. the current month, so a page can
    mark it instead of showing a drop). Every period of the range appears, with zeros where
    nothing was ordered. ``segment``: only its members' orders.
    """
    t = in_window(src, for_segment(src, counted_orders(src), segment), rng)
    t = t.mutate(
        p=t.ordered_at.truncate(_GRAIN_UNIT[grain]).date(),
        home_rev=ibis.ifelse(
            t.currency == src.reporting_currency, revenue_value(t, basis), ibis.literal(0)
        ),
    )
    df = src.execute(
        t.group_by("p").aggregate(
            orders=t.count(), revenue=t.home_rev.sum(), customers=t.customer_id.nunique()
        )
    )
    found = {pd.Timestamp(r.p).date(): r for r in df.itertuples()}
    rows = []
    d = period_start(rng.start, grain)
    while d < rng.end:
        r = found.get(d)
        rows.append(
            {
                "period": period_label(d, grain),
                "period_start": d,
                "orders": int(r.orders) if r is not None else 0,
                "revenue": _dec(r.revenue) if r is not None else Decimal("0.00"),
                "customers": int(r.customers) if r is not None else 0,
                "complete": d >= rng.start and next_period_start(d, grain) <= rng.end,
            }
        )
        d = next_period_start(d, grain)
    return pd.DataFrame(
        rows, columns=["period", "period_start", "orders", "revenue", "customers", "complete"]
    )


def data_span(src: Source) -> tuple[Any, Any]:
    """First and last order dates in the store (``(None, None)`` when there are no orders)."""
    o = src.orders
    df = src.execute(o.aggregate(first=o.ordered_at.min(), last=o.ordered_at.max()))
    first, last = df["first"].iloc[0], df["last"].iloc[0]
    if first is None or pd.isna(first):
        return None, None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()
