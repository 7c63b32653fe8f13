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
    "COHORT",
    "INCOMPLETE_PERIOD",
    "CHURN_RULE",
    "EVERY_ANSWER_COUNTS",
    "LATEST_ANSWER_GROUP",
    "AFFINITY_SAME_ORDER",
    "AFFINITY_LATER",
    "AFFINITY_MIN_COUNT",
    "NEXT_BEST_RULE",
    "UPSELL_RULE",
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
        key="nps_change",
        label="NPS change",
        unit="score",
        help="NPS of the period minus NPS of the same number of days just before. It counts as "
        "a real move only when it is larger than its 95% margin, √(margin² + previous "
        "margin²); smaller moves may be noise.",
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

# --- Retention, churn, lifetime value (relmark_core.metrics.retention / churn / clv) ----------
COHORT = (
    "A customer's cohort is the week (ISO, Monday first), month or quarter of their first "
    "counted order, in the store's time zone; period k is the k-th calendar period after it "
    "(period 0 is the cohort's own)."
)
INCOMPLETE_PERIOD = (
    "The period holding the as-of date is incomplete (marked, not a drop) unless the as-of "
    "date is its last day; periods after it have not happened and are left empty. Orders after "
    "the as-of date are ignored."
)
CHURN_RULE = (
    "A customer is churned once N days pass without a counted order from them (you choose N); "
    "their N-day silence completes on the N-th day after their last order day."
)
_ALL += [
    Definition(
        key="cohort_size",
        label="Cohort size",
        unit="count",
        help=f"Customers whose first counted order fell in the cohort's period. {COHORT}",
    ),
    Definition(
        key="retention_on",
        label="Retention (ordered in period k)",
        unit="share",
        help="Share of the cohort with at least one counted order in period k. "
        f"{COHORT} {INCOMPLETE_PERIOD}",
    ),
    Definition(
        key="retention_on_or_after",
        label="Retention (ordered in period k or later)",
        unit="share",
        help="Share of the cohort with a counted order in period k or any later period up to "
        f"the as-of date. {COHORT} {INCOMPLETE_PERIOD}",
    ),
    Definition(
        key="revenue_retention",
        label="Revenue retention",
        unit="share",
        help="The cohort's net revenue in period k divided by its net revenue in period 0, in "
        "the reporting currency (orders in other currencies count as activity, not revenue); "
        f"it can exceed 100%. {COHORT} {INCOMPLETE_PERIOD}",
    ),
    Definition(
        key="recurring_retention",
        label="Recurring retention",
        unit="share",
        help="Of the customers with a counted order in a period (first-time or not), the share "
        "with a counted order k periods later.",
    ),
    Definition(
        key="retention_average",
        label="Weighted average retention",
        unit="share",
        help="For each period k: the customers retained in period k summed over every cohort "
        "whose period k is complete, divided by the sum of those cohorts' sizes (revenue: "
        "revenue in period k over revenue in period 0). Bigger cohorts weigh more.",
    ),
    Definition(
        key="retention_trend",
        label="Retention trend",
        unit="share",
        help="Period-1 and period-3 retention of each cohort, oldest cohort first, so you see "
        "whether newer customers come back more often. Cohorts whose period is not complete "
        "yet are left out.",
    ),
    Definition(
        key="historical_clv",
        label="Value per customer to date",
        unit="money",
        help="The cohort's net revenue from its first period through period k, in the "
        f"reporting currency, divided by the cohort's size. Net revenue is {NET_REVENUE}. "
        f"{COHORT}",
    ),
    Definition(
        key="churn_days",
        label="Churned after (days)",
        unit="days",
        help=f"{CHURN_RULE} Relmark suggests the 90th percentile of the days between a "
        "customer's consecutive order days in your shop (several orders on one day count once).",
    ),
    Definition(
        key="active_at_start",
        label="Active at start",
        unit="count",
        help="Customers with a counted order on one of the N days before the period's first "
        f"day (i.e. not churned on its eve). {CHURN_RULE}",
    ),
    Definition(
        key="churned",
        label="Churned in period",
        unit="count",
        help="Customers active at the start of the period whose N-day silence completes on a "
        f"day inside the period and no later than the as-of date. {CHURN_RULE}",
    ),
    Definition(
        key="churn_rate",
        label="Churn rate",
        unit="share",
        help="Churned in the period divided by customers active at its start (the customers "
        "with a counted order on one of the N days before the period's first day). Customers "
        f"who first order inside the period are in neither number. {CHURN_RULE}",
    ),
    Definition(
        key="overdue",
        label="Overdue customers",
        unit="count",
        help="Customers with counted orders on at least two days whose days since their last "
        "order exceed twice their usual gap (the median of the days between their consecutive "
        "order days). Measured against their own rhythm, unlike the RFM group 'At risk'.",
    ),
    Definition(
        key="p_alive",
        label="Probability still active",
        unit="share",
        help="The BG/NBD model's probability that the customer has not quietly dropped out, "
        "given how many repeat orders they placed, when the last one was, and how long they "
        "have been a customer.",
    ),
    Definition(
        key="expected_orders",
        label="Expected repeat orders",
        unit="count",
        help="Repeat order days the BG/NBD model expects from the customer over the chosen "
        "horizon, fitted by maximum likelihood on every customer's history; the interval "
        "reflects the uncertainty of the fitted model, not the scatter of one customer's orders.",
    ),
    Definition(
        key="expected_order_value",
        label="Expected order value",
        unit="money",
        help="The Gamma-Gamma model's expected net revenue of the customer's future orders: "
        "their own average repeat order value, pulled toward the shop's average the fewer "
        "repeat orders they have (the shop's average for one-time buyers).",
    ),
    Definition(
        key="expected_value",
        label="Predicted value",
        unit="money",
        help="Expected repeat orders over the horizon times expected order value, in the "
        "reporting currency, not discounted. The interval (80% by default) comes from the "
        "uncertainty of both fitted models.",
    ),
    Definition(
        key="holdout_mae",
        label="Holdout error per customer",
        unit="count",
        help="The model is fitted on the data before the holdout period only; this is the "
        "average, over those customers, of |predicted − actual| repeat order days in the "
        "holdout period.",
    ),
    Definition(
        key="holdout_error_pct",
        label="Holdout total error",
        unit="share",
        help="(Total predicted − total actual repeat order days in the holdout period) ÷ total "
        "actual, in percent: how far off the model was for the shop as a whole.",
    ),
]

# --- Loyalty (relmark_core.loyalty) ------------------------------------------------------------
LOYALTY_REPLAY = (
    "Replayed as if the program had launched on the period's first day: everyone starts with no "
    "points and no tier. Points are earned on the net of counted orders in the reporting currency."
)
LOYALTY_REDEMPTION = (
    "Redemptions are the orders that used a reward's discount code when any show up; otherwise an "
    "assumed share of every batch of points is redeemed 30 days after it was earned."
)
_ALL += [
    Definition(
        key="loyalty_members",
        label="Members",
        unit="count",
        help="Customers who earned or could have earned points in the period: at least one counted "
        f"order or bonus event. {LOYALTY_REPLAY}",
    ),
    Definition(
        key="loyalty_points_issued",
        label="Points issued",
        unit="points",
        help="Points earned in the period from orders (after tier multipliers and caps) and "
        f"bonuses. {LOYALTY_REPLAY}",
    ),
    Definition(
        key="loyalty_points_redeemed",
        label="Points redeemed",
        unit="points",
        help=f"Points spent on rewards in the period. {LOYALTY_REDEMPTION}",
    ),
    Definition(
        key="loyalty_points_expired",
        label="Points expired",
        unit="points",
        help="Points that reached their expiry day in the period without being redeemed "
        "(redemptions spend the points closest to expiry first).",
    ),
    Definition(
        key="loyalty_points_outstanding",
        label="Points outstanding",
        unit="points",
        help="Points issued minus redeemed minus expired, at the end of the period: what members "
        "still hold.",
    ),
    Definition(
        key="loyalty_liability",
        label="Liability",
        unit="money",
        help="Outstanding points × the money value of a point × the redemption rate (the share of "
        "points expected to be redeemed; the rest is never claimed). What the shop owes members at "
        "the end of the period.",
    ),
    Definition(
        key="loyalty_program_cost",
        label="Program cost",
        unit="money",
        help="What redemptions in the period cost (a reward's business cost when redeemed by code, "
        "otherwise points × point value) plus the liability at its end.",
    ),
    Definition(
        key="loyalty_cost_share",
        label="Cost % of net revenue",
        unit="share",
        help="Program cost divided by the net revenue of every counted order in the period, in "
        f"the reporting currency. Net revenue is {NET_REVENUE}.",
    ),
    Definition(
        key="loyalty_balance",
        label="Balance",
        unit="points",
        help="The member's points in the ledger: everything earned minus redeemed minus expired, "
        "including corrections after refunds.",
    ),
    Definition(
        key="loyalty_tier_progress",
        label="Progress to the next tier",
        unit="share",
        help="Qualifying points (or spend) in the current qualifying period divided by the next "
        "tier's threshold. Qualifying points are those from earn rules and bonuses before tier "
        "multipliers and caps.",
    ),
    Definition(
        key="loyalty_better_off",
        label="Better off with the paid membership",
        unit="count",
        help="Customers for whom free shipping on their orders plus the extra points (at the "
        "point's value) would have exceeded the fees, joining at their first order in the period "
        "and paying every started month or year to its end.",
    ),
]

# --- segments (relmark_core.segments) ---------------------------------------------------------
SEGMENT_AS_OF = (
    "Membership is taken at the as-of date: counted orders and answers up to the end of that "
    "day; 'in the last N days' means the N days ending on it."
)
_ALL += [
    Definition(
        key="segment_customers",
        label="Customers in the segment",
        unit="count",
        help=f"Customers who meet the segment's conditions, with or without orders. {SEGMENT_AS_OF}",
    ),
    Definition(
        key="segment_share",
        label="Share of all customers",
        unit="share",
        help="Customers in the segment divided by every customer in the store.",
    ),
    Definition(
        key="segment_revenue",
        label="Their net revenue",
        unit="money",
        help=f"Net revenue of the segment's counted orders up to the as-of date, in the reporting "
        f"currency: {NET_REVENUE}. A counted order is {COUNTED_ORDER}.",
    ),
    Definition(
        key="segment_size",
        label="Segment size",
        unit="count",
        help="Customers in the segment at each month end: behaviour (orders, spend, answers, RFM "
        "group) as it stood that day; profile fields (location, tags, consent) as they are now. "
        "A customer counts from their sign-up or first order.",
    ),
    Definition(
        key="segment_flow",
        label="Moves between RFM groups",
        unit="count",
        help="Customers by their RFM group at the end of the 'from' day and at the end of the "
        "'to' day (the shop's saved groups; ranks among the customers with counted orders by "
        "then). 'No orders yet': no counted order by the 'from' day.",
    ),
]

# --- offers (relmark_core.offers) ---------------------------------------------------------------
OFFER_CONVERSION = (
    "Members with any counted order in the offer's window (both days included, store time "
    "zone), code or not — the same rule for the treated and the held-out."
)
_ALL += [
    Definition(key="offer_treated", label="Get the offer", unit="count",
               help="Segment members at launch, minus the exclusions (no marketing consent, an "
               "offer in the last N days, another running offer), minus the holdout."),
    Definition(key="offer_holdout", label="Held out", unit="count",
               help="Eligible members kept out at random: ranked by SHA-256 of '<seed>:<customer "
               "id>', the first holdout-% of them (halves round up). The seed is stored, so the "
               "same audience always gives the same holdout."),
    Definition(key="offer_expected_cost", label="Expected cost", unit="money",
               help="Members who get the offer × assumed redemption rate × the cost of one "
               "redemption (the percent of the average order, the amount, the points at their "
               "value, or the unit cost you set)."),
    Definition(key="offer_power", label="Smallest detectable uplift", unit="share",
               help="The smallest rise in conversion this audience and holdout can tell from "
               "chance (α 0.05 two-sided, 80% power): (1.96 + 0.84) × √(p(1−p)(1/treated + "
               "1/held out)), p = the audience's conversion over a window of the same length "
               "before today."),
    Definition(key="offer_redemptions", label="Redemptions", unit="count",
               help="Counted orders in the window whose discount code is one of the offer's "
               f"codes (case and spaces ignored). A counted order is {COUNTED_ORDER}."),
    Definition(key="offer_conversion", label="Conversion", unit="share",
               help=f"{OFFER_CONVERSION} Divided by the arm's members."),
    Definition(key="offer_uplift", label="Uplift in conversion", unit="share",
               help="Treatment conversion minus holdout conversion, with a 95% Newcombe (hybrid "
               "Wilson score) interval for the difference of two proportions."),
    Definition(key="offer_revenue_per_member", label="Revenue per member", unit="money",
               help=f"Net revenue of the arm's counted orders in the window ({NET_REVENUE}), "
               "reporting currency, divided by the arm's members (buyers or not)."),
    Definition(key="offer_incremental_revenue", label="Incremental revenue", unit="money",
               help="(Revenue per treated member − revenue per held-out member) × treated "
               "members; the per-member interval is a seeded 95% percentile bootstrap "
               "(2,000 resamples of each arm)."),
    Definition(key="offer_cost", label="Cost", unit="money",
               help="Discounts recorded on redeeming orders; where an order records none, the "
               "planned cost of one redemption."),
    Definition(key="offer_return", label="Return", unit="money",
               help="Incremental revenue minus cost."),
]

# --- cross-sell and upsell (relmark_core.personalisation) -------------------------------------
AFFINITY_SAME_ORDER = (
    "Same order: counted orders are baskets; a pair (A, B) counts the orders holding both, each "
    "order once however many units. Base: every counted order with a product (or category)."
)
AFFINITY_LATER = (
    "Later: a customer counts for (A, B) when they placed a counted order holding B strictly "
    "after their first counted order holding A (B in that same order does not count). Base: "
    "every customer with a counted order; guest orders do not take part."
)
AFFINITY_MIN_COUNT = (
    "Pairs behind fewer orders (same order) or customers (later) than the minimum are hidden: "
    "with few, a high confidence may be chance."
)
NEXT_BEST_RULE = (
    "For each product B the customer has not bought: the highest 'later' confidence of any "
    "product A they bought (A's buyers who later bought B ÷ A's buyers), among pairs behind at "
    "least the minimum number of customers; the B with the highest confidence wins (ties: "
    "higher lift, then name)."
)
UPSELL_RULE = (
    "A product's price is the median unit price of its lines in counted orders in the reporting "
    "currency, and its category the one on most of its lines. In each category the customer "
    "bought from, the step up is the cheapest product priced at least 10% above the dearest "
    "one they bought there (ties: name); they are offered the step up in the category of most "
    "of their orders that has one (ties: name)."
)
_ALL += [
    Definition(key="affinity_support_same_order", label="Support", unit="share",
               help="Orders holding both A and B ÷ all counted orders with a product (or "
               f"category): how common the pair is. {AFFINITY_SAME_ORDER}"),
    Definition(key="affinity_confidence_same_order", label="Confidence", unit="share",
               help="Orders holding both A and B ÷ orders holding A: of the baskets with A, the "
               f"share that also hold B. {AFFINITY_SAME_ORDER}"),
    Definition(key="affinity_lift_same_order", label="Lift", unit="score",
               help="Confidence ÷ the share of all orders holding B. Above 1: B is more common "
               "in baskets with A than in baskets overall; 1: no link; below 1: less common. "
               f"{AFFINITY_SAME_ORDER}"),
    Definition(key="affinity_support_later", label="Support", unit="share",
               help="Customers who bought B after first buying A ÷ all customers with a counted "
               f"order: how common the path is. {AFFINITY_LATER}"),
    Definition(key="affinity_confidence_later", label="Confidence", unit="share",
               help="Customers who bought B after first buying A ÷ customers who bought A: of "
               f"A's buyers, the share who later bought B. {AFFINITY_LATER}"),
    Definition(key="affinity_lift_later", label="Lift", unit="score",
               help="Confidence ÷ the share of all customers who ever bought B. Above 1: A's "
               "buyers go on to buy B more often than customers overall; 1: no link. "
               f"{AFFINITY_LATER}"),
    Definition(key="affinity_both_same_order", label="Orders with both", unit="count",
               help=f"Counted orders holding both A and B. {AFFINITY_SAME_ORDER}"),
    Definition(key="affinity_both_later", label="Customers A then B", unit="count",
               help=f"Customers who bought B after first buying A. {AFFINITY_LATER}"),
    Definition(key="affinity_min_count", label="Fewest orders or customers per pair",
               unit="count", help=AFFINITY_MIN_COUNT),
    Definition(key="next_best_product", label="Next best product", unit="score",
               help=f"What buyers like this customer bought next and they have not. "
               f"{NEXT_BEST_RULE} {AFFINITY_LATER}"),
    Definition(key="upsell_product", label="Upsell", unit="money",
               help=f"The next step up in price in a category the customer buys. {UPSELL_RULE}"),
]

DEFINITIONS: dict[str, Definition] = {d.key: d for d in _ALL}


def definition(key: str) -> Definition:
    """The definition of a metric by key (raises KeyError for an unknown key)."""
    return DEFINITIONS[key]
