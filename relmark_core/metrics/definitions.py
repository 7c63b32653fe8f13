"""Every number Relmark shows, defined once: its label and the plain sentence shown on hover.

Pages and reports take labels and help text from here; metric functions implement exactly these
sentences. Add a metric's definition here when you add the metric.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Definition",
    "DEFINITIONS",
    "definition",
    "COUNTED_ORDER",
    "NET_REVENUE",
    "RFM_AS_OF",
    "RFM_SCORE",
]

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

# --- RFM (relmark_core.metrics.rfm) -----------------------------------------------------------
RFM_AS_OF = (
    "RFM values are taken at an as-of date (by default the day after the shop's last counted "
    "order) from counted orders placed before that date; later orders are ignored."
)
RFM_SCORE = (
    "Score = 1 + floor(5 × (rank − 1) ÷ n), where rank is the customer's place among the n "
    "customers with counted orders, ties sharing the lowest place (SQL RANK()), so identical "
    "customers always get the same score."
)
_ALL += [
    Definition(
        key="recency_days",
        label="Days since last order",
        unit="days",
        help="Days from the date (UTC) of the customer's last counted order to the as-of date. "
        f"{RFM_AS_OF}",
    ),
    Definition(
        key="frequency",
        label="Orders",
        unit="count",
        help="The customer's counted orders before the as-of date, in every currency. "
        f"A counted order is {COUNTED_ORDER}.",
    ),
    Definition(
        key="monetary",
        label="Net spend",
        unit="money",
        help="Net revenue of the customer's counted orders before the as-of date, in the "
        f"reporting currency: {NET_REVENUE}. Orders in other currencies count toward orders "
        "and days since last order, but are not added to the spend.",
    ),
    Definition(
        key="r_score",
        label="R score",
        unit="score",
        help="Recency score, 1–5 (5 = ordered most recently). Customers are ranked by days "
        f"since their last order, most days first. {RFM_SCORE}",
    ),
    Definition(
        key="f_score",
        label="F score",
        unit="score",
        help="Frequency score, 1–5 (5 = most orders). Customers are ranked by their number of "
        f"orders, fewest first, so all one-time buyers share F = 1. {RFM_SCORE}",
    ),
    Definition(
        key="m_score",
        label="M score",
        unit="score",
        help="Monetary score, 1–5 (5 = highest spend). Customers are ranked by net spend, "
        f"lowest first. {RFM_SCORE}",
    ),
    Definition(
        key="rfm_group",
        label="RFM group",
        unit="score",
        help="The first group, in the order listed, whose R, F and M ranges hold the "
        "customer's scores. Customers whose scores fit no group have none.",
    ),
]

DEFINITIONS: dict[str, Definition] = {d.key: d for d in _ALL}


def definition(key: str) -> Definition:
    """The definition of a metric by key (raises KeyError for an unknown key)."""
    return DEFINITIONS[key]
