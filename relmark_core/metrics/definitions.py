"""Every number Relmark shows, defined once: its label and the plain sentence shown on hover.

Pages and reports take labels and help text from here; metric functions implement exactly these
sentences. Add a metric's definition here when you add the metric.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Definition", "DEFINITIONS", "definition", "COUNTED_ORDER", "NET_REVENUE"]

Unit = Literal["count", "money", "share", "days", "score", "points"]


class Definition(BaseModel):
    """A metric's name as the page shows it, its unit and its one-line definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str
    unit: Unit
    help: str


NET_REVENUE = (
    "what the customer paid (order total, shipping and tax included, after discounts) minus "
    "refunds"
)
COUNTED_ORDER = (
    "an order that was not cancelled, voided or a failed/uncaptured payment, and whose net "
    "revenue is above zero (fully refunded orders do not count)"
)

_ALL = [
    Definition(
        key="customers",
        label="Customers with orders",
        unit="count",
        help=f"People with at least one counted order in the period. A counted order is {COUNTED_ORDER}.",
    ),
    Definition(
        key="orders",
        label="Orders",
        unit="count",
        help=f"Counted orders placed in the period, in every currency. A counted order is {COUNTED_ORDER}.",
    ),
    Definition(
        key="revenue",
        label="Net revenue",
        unit="money",
        help=f"Net revenue of counted orders in the period, in the reporting currency: {NET_REVENUE}. "
        "Orders in other currencies are listed separately, never added in.",
    ),
    Definition(
        key="revenue_ex_tax_shipping",
        label="Net revenue excl. tax & shipping",
        unit="money",
        help="Net revenue minus the tax and shipping charged, in the reporting currency. Partial "
        "where a source (e.g. a payment processor) does not give tax and shipping: those orders "
        "count in full.",
    ),
    Definition(
        key="aov",
        label="Average order value",
        unit="money",
        help="Net revenue in the reporting currency divided by the counted orders in that currency.",
    ),
    Definition(
        key="repeat_purchase_rate",
        label="Repeat purchase rate",
        unit="share",
        help="Customers with two or more counted orders in the period, divided by customers with "
        "at least one.",
    ),
]

DEFINITIONS: dict[str, Definition] = {d.key: d for d in _ALL}


def definition(key: str) -> Definition:
    """The definition of a metric by key (raises KeyError for an unknown key)."""
    return DEFINITIONS[key]
