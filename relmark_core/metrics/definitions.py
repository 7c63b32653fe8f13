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
    "EVERY_ANSWER_COUNTS",
    "LATEST_ANSWER_GROUP",
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

# --- Feedback (relmark_core.metrics.feedback) -------------------------------------------------
EVERY_ANSWER_COUNTS = (
    "Every answer counts in the period it was given, and the 'all' row counts every answer, so "
    "a customer who answered twice counts twice."
)
LATEST_ANSWER_GROUP = (
    "A customer's NPS group is that of their latest NPS answer up to the as-of date: promoter "
    "(9–10), passive (7–8) or detractor (0–6)."
)
_ALL += [
    Definition(
        key="nps",
        label="NPS",
        unit="score",
        help="Net Promoter Score, −100 to 100: % promoters (answers 9–10) minus % detractors "
        f"(0–6) among the NPS answers (0–10) in the period. {EVERY_ANSWER_COUNTS}",
    ),
    Definition(
        key="nps_margin_of_error",
        label="NPS margin of error",
        unit="score",
        help="± NPS points of the 95% interval: 1.96 × √((p + d − (p − d)²) ÷ n) × 100, with p "
        "and d the shares of promoters and detractors and n the answers (normal approximation "
        "to the mean of +1/0/−1 scores). Moves smaller than this may be noise.",
    ),
    Definition(
        key="csat",
        label="CSAT",
        unit="share",
        help="Share of CSAT answers (1–5) that are 4 or 5, with its 95% Wilson score interval. "
        f"{EVERY_ANSWER_COUNTS}",
    ),
    Definition(
        key="feedback_responses",
        label="Answers",
        unit="count",
        help=f"Survey answers of the kind shown, in the period. {EVERY_ANSWER_COUNTS}",
    ),
    Definition(
        key="nps_group",
        label="NPS group",
        unit="count",
        help=f"{LATEST_ANSWER_GROUP} Comparisons of promoters, passives and detractors and "
        "the follow-up list use this group; score trends count every answer.",
    ),
    Definition(
        key="review_rating",
        label="Average rating",
        unit="score",
        help="Mean star rating (1–5) of the product reviews; a product's category is the one on "
        "most of its order lines.",
    ),
    Definition(
        key="comment_sentiment",
        label="Sentiment",
        unit="score",
        help="VADER's compound score of the comment, −1 (negative) to +1 (positive). English "
        "and emoji only: comments where it recognises no sentiment word (e.g. other languages) "
        "have none.",
    ),
    Definition(
        key="comment_themes",
        label="Themes",
        unit="score",
        help="Words and two-word phrases used more by one group's comments than the other's, "
        "ranked by the z-score of the log-odds ratio with an informative Dirichlet prior "
        "(Monroe et al. 2008); each counts once per comment.",
    ),
    Definition(
        key="feedback_historical_clv",
        label="Historical value per customer",
        unit="money",
        help=f"{LATEST_ANSWER_GROUP} Net revenue of the group's counted orders up to the as-of "
        "date, in the reporting currency, divided by the customers in the group.",
    ),
    Definition(
        key="revenue_at_risk",
        label="Revenue at risk",
        unit="money",
        help="Net revenue of the 12 months up to the as-of date, in the reporting currency, "
        "from customers whose latest NPS answer is a detractor (0–6).",
    ),
]

DEFINITIONS: dict[str, Definition] = {d.key: d for d in _ALL}


def definition(key: str) -> Definition:
    """The definition of a metric by key (raises KeyError for an unknown key)."""
    return DEFINITIONS[key]
