"""Segment flow: how customers moved between RFM groups from one day to another.

Each customer's RFM group is taken at the end of the ``start`` day and at the end of the
``end`` day (see :func:`relmark_core.metrics.rfm.rfm_expr`; ranks are among the customers with
counted orders by then, the shop's saved groups). Customers who had no counted order by
``start`` come from :data:`NO_ORDERS_YET`; customers whose scores match no group are in
:data:`~relmark_core.metrics.rfm.NO_GROUP`. Customers without counted orders by ``end`` are
left out (they have no group on either day).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import ibis
import pandas as pd
from ibis.expr.types import Table

from relmark_core.errors import InputRefused
from relmark_core.metrics import feedback, rfm
from relmark_core.metrics.common import CustomerSet, for_segment
from relmark_core.metrics.rfm import NO_GROUP, RfmGroup
from relmark_core.periods import period_start
from relmark_core.source import Source

__all__ = [
    "NO_ORDERS_YET",
    "FLOW_COLUMNS",
    "FLOW_MEMBER_COLUMNS",
    "FLOW_MEMBER_LIMIT",
    "default_flow_dates",
    "group_order",
    "rfm_flow",
    "flow_members",
    "flow_sentence",
]

NO_ORDERS_YET = "No orders yet"
FLOW_COLUMNS = ("from_group", "to_group", "customers")
FLOW_MEMBER_COLUMNS = (
    "customer_id", "name", "email", "from_group", "to_group", "orders", "net_spend",
    "last_order",
)  # fmt: skip
FLOW_MEMBER_LIMIT = 1_000
_ONE_DAY = timedelta(days=1)


def default_flow_dates(as_of: date) -> tuple[date, date]:
    """(the last day of the previous quarter, ``as_of``): "since last quarter"."""
    return period_start(as_of, "quarter") - _ONE_DAY, as_of


def group_order(groups: Sequence[RfmGroup]) -> list[str]:
    """Labels in the order the page lists them: no orders yet, the groups, no group."""
    names = list(dict.fromkeys(g.name for g in groups))
    return [NO_ORDERS_YET, *names, NO_GROUP]


def _check(start: date, end: date) -> None:
    if end <= start:
        raise InputRefused(
            f"The 'to' date ({end}) must be after the 'from' date ({start}): the flow shows "
            "how customers moved from the first date to the second."
        )


def _moves(
    src: Source, start: date, end: date, groups: Sequence[RfmGroup],
    segment: CustomerSet | None,
) -> Table:
    before = rfm.rfm_group_expr(src, as_of=start + _ONE_DAY, groups=groups)
    after = rfm.rfm_expr(src, as_of=end + _ONE_DAY, groups=groups)
    a = before.select(a_id=before.customer_id, from_group=before.group.fill_null(NO_GROUP))
    b = for_segment(src, after, segment)
    j = b.left_join(a, b.customer_id == a.a_id)
    return j.select(
        customer_id=j.customer_id,
        from_group=j.from_group.fill_null(NO_ORDERS_YET),
        to_group=j.group.fill_null(NO_GROUP),
        orders=j.frequency,
        net_spend=j.monetary,
        last_order=j.last_order_at,
    )


def rfm_flow(
    src: Source,
    *,
    start: date,
    end: date,
    groups: Sequence[RfmGroup] | None = None,
    segment: CustomerSet | None = None,
) -> pd.DataFrame:
    """Customers per (group at ``start``, group at ``end``) pair, staying put included.

    Columns :data:`FLOW_COLUMNS`; rows in :func:`group_order` order of ``from_group`` then
    ``to_group``; only pairs with customers. ``segment`` keeps only its members (membership as
    the segment defines it).
    """
    _check(start, end)
    gs = rfm.load_groups_for(src) if groups is None else groups
    m = _moves(src, start, end, gs, segment)
    got = src.execute(
        m.group_by(["from_group", "to_group"]).aggregate(customers=m.count())
    )
    order = {name: i for i, name in enumerate(group_order(gs))}
    got["customers"] = got["customers"].astype("int64")
    got = got.assign(
        _f=got["from_group"].map(order).fillna(len(order)),
        _t=got["to_group"].map(order).fillna(len(order)),
    ).sort_values(["_f", "_t", "from_group", "to_group"])
    return got[list(FLOW_COLUMNS)].reset_index(drop=True)


def flow_members(
    src: Source,
    *,
    start: date,
    end: date,
    from_group: str,
    to_group: str,
    groups: Sequence[RfmGroup] | None = None,
    segment: CustomerSet | None = None,
    limit: int = FLOW_MEMBER_LIMIT,
) -> pd.DataFrame:
    """The customers who moved from ``from_group`` to ``to_group`` (e.g. "Loyal" → "At
    risk"), biggest spenders first: :data:`FLOW_MEMBER_COLUMNS` (``orders``, ``net_spend``
    and ``last_order`` as of ``end``)."""
    _check(start, end)
    gs = rfm.load_groups_for(src) if groups is None else groups
    m = _moves(src, start, end, gs, segment)
    m = m.filter(m.from_group == ibis.literal(from_group), m.to_group == ibis.literal(to_group))
    c = src.customers
    j = m.left_join(c, m.customer_id == c.customer_id)
    out = j.select(
        customer_id=m.customer_id,
        name=feedback.customer_name(j),
        email=j.email,
        from_group=m.from_group,
        to_group=m.to_group,
        orders=m.orders,
        net_spend=m.net_spend.cast("float64"),
        last_order=m.last_order,
    ).order_by([ibis.desc("net_spend"), "customer_id"]).limit(limit)
    df = src.execute(out)
    df["orders"] = df["orders"].astype("int64")
    df["net_spend"] = df["net_spend"].round(2)
    return df[list(FLOW_MEMBER_COLUMNS)]


def flow_sentence(from_group: str, to_group: str, customers: int, start: date, end: date) -> str:
    """"12 customers moved from Loyal to At risk between 30 Sep 2024 and 23 Nov 2024"."""
    who = "1 customer" if customers == 1 else f"{customers:,} customers"
    when = f"between {start.day} {start:%b %Y} and {end.day} {end:%b %Y}"
    if from_group == to_group:
        return f"{who} stayed in {from_group} {when}."
    if from_group == NO_ORDERS_YET:
        return f"{who} placed a first order and landed in {to_group} {when}."
    return f"{who} moved from {from_group} to {to_group} {when}."
