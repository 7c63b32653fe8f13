"""Building blocks every metric composes: counted orders, windows, revenue bases."""

from __future__ import annotations

from typing import Literal, Protocol

import ibis
from ibis.expr.types import NumericValue, Table

from relmark_core.periods import DateRange, utc_bounds
from relmark_core.source import Source

__all__ = [
    "NOT_COUNTED_STATUSES",
    "RevenueBasis",
    "REVENUE_BASES",
    "DEFAULT_REVENUE_BASIS",
    "counted_orders",
    "in_window",
    "revenue_value",
    "lacks_parts",
    "CustomerSet",
    "for_segment",
]

NOT_COUNTED_STATUSES = ("cancelled", "voided", "failed", "uncaptured")
RevenueBasis = Literal["net", "net_ex_tax_shipping"]
REVENUE_BASES: tuple[RevenueBasis, ...] = ("net", "net_ex_tax_shipping")
DEFAULT_REVENUE_BASIS: RevenueBasis = "net"


class CustomerSet(Protocol):
    """A set of customers a metric can be restricted to, e.g. a saved segment
    (:class:`relmark_core.segments.SegmentFilter`)."""

    def members(self, src: Source) -> Table:
        """The customers as an Ibis table with a ``customer_id`` column."""
        ...


def for_segment(
    src: Source, table: Table, segment: CustomerSet | None, column: str = "customer_id"
) -> Table:
    """Rows of a customer-keyed ``table`` whose ``column`` is a member of ``segment`` (all rows
    when ``segment`` is None). Guest rows (no customer) are never members."""
    if segment is None:
        return table
    return table.filter(table[column].isin(segment.members(src).customer_id))


def counted_orders(src: Source) -> Table:
    """Orders that count: not cancelled/voided/failed/uncaptured, and net above zero."""
    o = src.orders
    return o.filter(~o.status.isin(NOT_COUNTED_STATUSES), o.net > 0)


def in_window(src: Source, t: Table, rng: DateRange, column: str = "ordered_at") -> Table:
    """Rows of ``t`` whose ``column`` falls in the range (local days in the store's time zone)."""
    lo, hi = utc_bounds(rng, src.timezone)
    col = t[column]
    return t.filter(col >= ibis.literal(lo), col < ibis.literal(hi))


def revenue_value(t: Table, basis: RevenueBasis = DEFAULT_REVENUE_BASIS) -> NumericValue:
    """An order's revenue on the chosen basis (net, or net without tax and shipping)."""
    if basis == "net":
        return t.net
    return t.net - t.tax.fill_null(0) - t.shipping.fill_null(0)


def lacks_parts(t: Table) -> ibis.expr.types.BooleanValue:
    """True where the source gave no tax or no shipping (revenue ex. those is then partial)."""
    return t.tax.isnull() | t.shipping.isnull()
