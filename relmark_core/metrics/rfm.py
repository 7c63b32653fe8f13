"""RFM: every customer's recency, frequency and monetary value, 1–5 scores, and named groups.

Values are taken at an as-of date (default: the day after the shop's last counted order) from
counted orders placed before it; orders on or after the as-of date are ignored.

- ``recency_days``: days from the UTC date of the customer's last counted order to the as-of date.
- ``frequency``: counted orders, in every currency.
- ``monetary``: net revenue of those orders in the reporting currency (orders in other
  currencies count toward frequency and recency, not here).

Scores (1–5) are ``1 + floor(5 × (rank − 1) ÷ n)`` where ``rank`` is SQL ``RANK()`` (ties share
the lowest rank) over the ``n`` customers with counted orders, ascending by frequency (F) and
monetary (M) and descending by recency_days (R, so the most recent get 5). Identical customers
therefore always get identical scores, one-time buyers all get F = 1, and every SQL engine
agrees: the scores are Ibis expressions (``RANK() − 1`` counted per distinct value, see
:func:`_score_lookup`), never an arbitrary tie-break.

Groups are data (:class:`RfmGroup`): score ranges, a name, a description and a suggested action.
The first group (in order) whose ranges hold a customer's scores is that customer's group.
The marketer edits them; :func:`save_groups` / :func:`reset_groups` keep them in the store.

Default groups
--------------
:data:`DEFAULT_GROUPS` follows the classic R×F grid used by most RFM tools (the ten-cell map of
Champions, Loyal, Potential loyalists, New, Promising, Needs attention, About to sleep, At risk,
Can't lose, Hibernating), with the Hibernating corner split by recency into Hibernating (R2) and
Lost (R1). The groups tile all 25 R×F cells without overlap and leave M free, so the R×F grid
shows exactly where each group sits and M stays available as a filter or for your own rules.

We compared Klaviyo and Shopify. Klaviyo scores 1–3 and uses six fixed groups (Champions, Loyal,
Recent, Needs attention, At risk, Inactive); too coarse to edit usefully. Shopify's admin uses
eleven groups (Champions, Loyal, Active, Promising, New, Needs attention, At risk, Previously
loyal, Almost lost, Dormant, Prospects) but publishes no score ranges. Our names are the grid's;
roughly, Shopify's Previously loyal is our Can't lose, Almost lost our About to sleep, Dormant our
Hibernating and Lost, Active our Potential loyalists. Prospects (no orders) have no RFM here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import ibis
import pandas as pd
from ibis.expr.types import IntegerValue, Table
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.metrics.common import counted_orders
from relmark_core.source import Source
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "SCORE_LEVELS",
    "SCORES",
    "NO_GROUP",
    "RFM_COLUMNS",
    "GRID_COLUMNS",
    "SUMMARY_COLUMNS",
    "GROUP_FIELDS",
    "RfmGroup",
    "DEFAULT_GROUPS",
    "default_as_of",
    "rfm_expr",
    "rfm_group_expr",
    "rfm_table",
    "rfm_grid",
    "rfm_group_summary",
    "rfm_check_groups",
    "unmatched_warning",
    "unused_scores_warning",
    "groups_from_records",
    "groups_to_frame",
    "load_groups",
    "load_groups_for",
    "save_groups",
    "reset_groups",
    "money_text",
]

SCORE_LEVELS = 5
SCORES = tuple(range(1, SCORE_LEVELS + 1))
NO_GROUP = "No group"
"""Label for customers whose scores match no group (their ``group`` is empty in tables)."""

RFM_COLUMNS = (
    "customer_id",
    "email",
    "recency_days",
    "frequency",
    "monetary",
    "r",
    "f",
    "m",
    "group",
    "reason",
)
GRID_COLUMNS = ("r", "f", "customers", "revenue")
SUMMARY_COLUMNS = (
    "group",
    "customers",
    "share",
    "revenue",
    "revenue_share",
    "aov",
    "median_days_since_last_order",
    "action",
    "description",
    "rule",
)
GROUP_FIELDS = (
    "name",
    "description",
    "action",
    "r_min",
    "r_max",
    "f_min",
    "f_max",
    "m_min",
    "m_max",
)

CURRENCY_SYMBOLS: Mapping[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
MONEY_TYPE = "decimal(18, 2)"  # the store's money type (store.MONEY)
_EXAMPLES = 6  # score cells named in a warning before "…"
_THOUSAND = 1000
_MONEY_GROUPS = 6  # digit groups written in reasons: amounts up to 999,999,999,999,999

Score = int


class RfmGroup(BaseModel):
    """A named group: customers whose R, F and M scores all fall in the given ranges.

    Ranges are inclusive. A range whose lower bound is above its upper bound is empty (the group
    can never match); :func:`rfm_check_groups` says so rather than the model refusing it, so a
    half-edited table can still be shown.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    action: str = ""
    r_min: Score = Field(default=1, ge=1, le=SCORE_LEVELS)
    r_max: Score = Field(default=SCORE_LEVELS, ge=1, le=SCORE_LEVELS)
    f_min: Score = Field(default=1, ge=1, le=SCORE_LEVELS)
    f_max: Score = Field(default=SCORE_LEVELS, ge=1, le=SCORE_LEVELS)
    m_min: Score = Field(default=1, ge=1, le=SCORE_LEVELS)
    m_max: Score = Field(default=SCORE_LEVELS, ge=1, le=SCORE_LEVELS)

    def ranges(self) -> dict[str, tuple[int, int]]:
        """``{"R": (lo, hi), "F": ..., "M": ...}``."""
        return {
            "R": (self.r_min, self.r_max),
            "F": (self.f_min, self.f_max),
            "M": (self.m_min, self.m_max),
        }

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether scores ``(r, f, m)`` fall in this group's ranges."""
        return (
            self.r_min <= r <= self.r_max
            and self.f_min <= f <= self.f_max
            and self.m_min <= m <= self.m_max
        )

    def rule(self) -> str:
        """The ranges in words: ``"R 4–5, F 2–3, any M"``."""
        parts = []
        for letter, (lo, hi) in self.ranges().items():
            if lo == 1 and hi == SCORE_LEVELS:
                parts.append(f"any {letter}")
            elif lo == hi:
                parts.append(f"{letter} {lo}")
            else:
                parts.append(f"{letter} {lo}–{hi}")
        return ", ".join(parts)


def _g(name: str, rf: tuple[int, int, int, int], description: str, action: str) -> RfmGroup:
    r_min, r_max, f_min, f_max = rf
    return RfmGroup(
        name=name,
        description=description,
        action=action,
        r_min=r_min,
        r_max=r_max,
        f_min=f_min,
        f_max=f_max,
    )


DEFAULT_GROUPS: tuple[RfmGroup, ...] = (
    _g("Champions", (5, 5, 4, 5), "Ordered very recently and order often.",
       "Reward them: early access, referral and review requests; no discount needed."),
    _g("Loyal", (3, 4, 4, 5), "Order often; last order fairly recent.",
       "Keep them close: loyalty perks, upsell and cross-sell, ask for reviews."),
    _g("Potential loyalists", (4, 5, 2, 3), "Recent customers with a few orders.",
       "Invite them to the loyalty programme; recommend products related to what they bought."),
    _g("New", (5, 5, 1, 1), "First and only order, very recently.",
       "Welcome series and a nudge toward a second order."),
    _g("Promising", (4, 4, 1, 1), "One order, fairly recently.",
       "Build familiarity: best-sellers, how-to content, a small second-order offer."),
    _g("Needs attention", (3, 3, 3, 3), "Middling recency and frequency.",
       "A limited-time offer based on what they bought before."),
    _g("About to sleep", (3, 3, 1, 2), "One or two orders, and it has been a while.",
       "Remind them with popular products and a modest reactivation offer."),
    _g("At risk", (1, 2, 3, 4), "Ordered several times, but long ago.",
       "Personal win-back message; ask what would bring them back."),
    _g("Can't lose", (1, 2, 5, 5), "Among the most frequent buyers, gone for a long time.",
       "Win them back personally: a strong offer and a real person to talk to."),
    _g("Hibernating", (2, 2, 1, 2), "One or two orders, long ago.",
       "Occasional campaigns with relevant products; keep costs low."),
    _g("Lost", (1, 1, 1, 2), "One or two orders, longest ago.",
       "One low-cost reactivation attempt, then leave them out of regular campaigns."),
)


# --- computing --------------------------------------------------------------------------------


def default_as_of(src: Source) -> date | None:
    """The day after the shop's last counted order (UTC date); None when there is none."""
    o = counted_orders(src)
    last = src.execute(o.ordered_at.max())
    if last is None or pd.isna(last):
        return None
    return pd.Timestamp(last).date() + timedelta(days=1)


def _as_of(src: Source, as_of: date | None) -> date | None:
    return default_as_of(src) if as_of is None else as_of


def _score(rank0: IntegerValue, n: IntegerValue) -> IntegerValue:
    """``1 + floor(5 × (RANK() − 1) ÷ n)`` from a 0-based rank (``RANK() − 1``)."""
    return 1 + (SCORE_LEVELS * rank0) // n


def _score_lookup(per: Table, column: str, score: str, *, descending: bool) -> Table:
    """Each distinct value of ``column`` with its score: ``column``, ``score``.

    ``RANK() − 1`` of a value is the number of customers ranked before it (smaller values, or
    larger ones when ``descending``), so ties share the lowest rank exactly as SQL ``RANK()``
    does. Counting per distinct value and joining back gives the same numbers as
    ``ibis.rank()`` (which compiles to ``RANK() − 1``) over every customer, without sorting
    every customer once per score: measured 3× faster on DuckDB at 1.4M customers.
    """
    values = per.group_by(column).aggregate(customers=per.count())
    key = ibis.desc(values[column]) if descending else values[column]
    # values are distinct, so a running total has no ties to break
    before = values.customers.cumsum(order_by=key) - values.customers
    everyone = values.customers.sum().over(ibis.window())
    return values.select(column, **{score: _score(before, everyone)})


def _group_case(t: Table, groups: Sequence[RfmGroup]) -> Any:
    if not groups:
        return ibis.null("string")
    branches = [
        (
            t.r.between(g.r_min, g.r_max)
            & t.f.between(g.f_min, g.f_max)
            & t.m.between(g.m_min, g.m_max),
            ibis.literal(g.name),
        )
        for g in groups
    ]
    return ibis.cases(*branches, else_=ibis.null("string"))


def _orders_before(src: Source, as_of: date) -> Table:
    """Counted orders of known customers before ``as_of`` (exclusive): what RFM scores."""
    cutoff = datetime(as_of.year, as_of.month, as_of.day)
    o = counted_orders(src)
    return o.filter(o.customer_id.notnull(), o.ordered_at < ibis.literal(cutoff))


def _monetary(src: Source, o: Table) -> Any:
    """M: net spend in the reporting currency (other currencies add nothing)."""
    # a sum of DECIMAL(18,2) is DECIMAL(38,2); no customer spends 10^16, and 64-bit
    # decimals group and compare much faster than 128-bit ones
    return ibis.ifelse(o.currency == src.reporting_currency, o.net, 0).sum().cast(MONEY_TYPE)


def _with_recency(per: Table, as_of: date) -> Table:
    """``recency_days``: days from the last counted order's date to ``as_of``."""
    return per.mutate(recency_days=ibis.literal(as_of).delta(per.last_order_at.date(), unit="day"))


_SCORE_COLUMNS = (("recency_days", "r", True), ("frequency", "f", False), ("monetary", "m", False))


def _with_scores(per: Table, used: Sequence[str]) -> Table:
    """``per`` with the ``r``, ``f``, ``m`` scores of ``used`` joined on; the others are 1 (any
    value in 1-5 satisfies a rule that spans 1-5, the only rules that leave a score unused)."""
    scored = per
    for column, score, descending in _SCORE_COLUMNS:
        if score in used:
            scored = scored.inner_join(
                _score_lookup(per, column, score, descending=descending), column
            )
        else:
            scored = scored.mutate(**{score: ibis.literal(SCORES[0])})
    return scored


def rfm_expr(
    src: Source, *, as_of: date, groups: Sequence[RfmGroup] = DEFAULT_GROUPS
) -> Table:
    """The RFM values, scores and group of every customer as an Ibis expression.

    Columns: ``customer_id``, ``first_order_at``, ``last_order_at`` (timestamps, UTC),
    ``recency_days``,
    ``frequency``, ``monetary`` (decimal), ``home_orders`` (counted orders in the reporting
    currency, for AOV), ``r``, ``f``, ``m``, ``group`` (NULL when no group matches).
    Compose it (filter, join, aggregate) to build other reads on RFM.
    """
    o = _orders_before(src, as_of)
    home = o.currency == src.reporting_currency
    per = o.group_by("customer_id").aggregate(
        first_order_at=o.ordered_at.min(),
        last_order_at=o.ordered_at.max(),
        frequency=o.count(),
        monetary=_monetary(src, o),
        home_orders=home.cast("int32").sum(),
    )
    per = _with_recency(per, as_of)
    scored = _with_scores(per, ("r", "f", "m"))
    scored = scored.mutate(group=_group_case(scored, groups))
    return scored.select(
        "customer_id",
        "first_order_at",
        "last_order_at",
        "recency_days",
        "frequency",
        "monetary",
        "home_orders",
        "r",
        "f",
        "m",
        "group",
    )


def _scores_used(groups: Sequence[RfmGroup]) -> tuple[str, ...]:
    """The scores some group's rule narrows (a rule spanning 1-5 holds for every customer)."""
    every = (SCORES[0], SCORES[-1])
    return tuple(
        s for s in ("r", "f", "m") if any(g.ranges()[s.upper()] != every for g in groups)
    )


def rfm_group_expr(
    src: Source, *, as_of: date, groups: Sequence[RfmGroup] = DEFAULT_GROUPS
) -> Table:
    """Each customer's RFM group only (``customer_id``, ``group``; NULL when none matches).

    The same groups as :func:`rfm_expr`, computing only the scores the groups' rules look at:
    the default groups never narrow M, and every customer's scores are 1-5, so a rule spanning
    1-5 holds without computing it (measured ~25% faster for NPS by RFM group at 10M orders).
    """
    used = _scores_used(groups)
    o = _orders_before(src, as_of)
    aggs: dict[str, Any] = {}
    if "r" in used:
        aggs["last_order_at"] = o.ordered_at.max()
    if "f" in used:
        aggs["frequency"] = o.count()
    if "m" in used:
        aggs["monetary"] = _monetary(src, o)
    per = o.group_by("customer_id").aggregate(**aggs) if aggs else o.select("customer_id").distinct()
    if "r" in used:
        per = _with_recency(per, as_of)
    scored = _with_scores(per, used)
    return scored.select("customer_id", group=_group_case(scored, groups))


def money_text(amount: float, currency: str) -> str:
    """``$1,234.50``; whole amounts without cents (``$640``); unknown symbols as ``640 CHF``."""
    cents = round(amount * 100)
    whole, frac = divmod(abs(cents), 100)
    body = f"{whole:,}" + (f".{frac:02d}" if frac else "")
    sign = "-" if cents < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}"


def _money_expr(amount: Any, currency: str) -> Any:
    """:func:`money_text` as an Ibis string expression (non-negative amounts), so the text is
    built where the data is, on any backend. Thousands are grouped by integer arithmetic, not a
    regular expression: a back-reference in the replacement is ``\\1`` in DuckDB and PostgreSQL
    but ``$1`` in Spark's Java regex, so no one pattern works everywhere."""
    whole = amount.floor().cast("int64")

    def pad3(v: Any) -> Any:
        return (v + _THOUSAND).cast("string").substr(1, 3)

    branches = []
    for k in range(_MONEY_GROUPS - 1, 0, -1):  # the largest amounts first
        text = (whole // _THOUSAND**k).cast("string")
        for j in range(k - 1, -1, -1):
            text = text + "," + pad3((whole // _THOUSAND**j) % _THOUSAND)
        branches.append((whole >= _THOUSAND**k, text))
    grouped = ibis.cases(*branches, else_=whole.cast("string"))
    cents = (amount * 100).cast("int64") % 100
    body = grouped + ibis.ifelse(cents == 0, "", "." + (cents + 100).cast("string").substr(1, 2))
    symbol = CURRENCY_SYMBOLS.get(currency)
    return symbol + body if symbol else body + f" {currency}"


def _reason_expr(t: Table, currency: str) -> Any:
    """``"R5 F4 M4 → Loyal: last order 12 days ago, 7 orders, $640"``."""
    return (
        "R" + t.r.cast("string")
        + " F" + t.f.cast("string")
        + " M" + t.m.cast("string")
        + " → " + t.group.fill_null(NO_GROUP.lower())
        + ": last order " + t.recency_days.cast("string")
        + ibis.ifelse(t.recency_days == 1, " day ago, ", " days ago, ")
        + t.frequency.cast("string")
        + ibis.ifelse(t.frequency == 1, " order, ", " orders, ")
        + _money_expr(t.monetary, currency)
    )


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def rfm_table(
    src: Source,
    *,
    as_of: date | None = None,
    groups: Sequence[RfmGroup] = DEFAULT_GROUPS,
    with_reason: bool = True,
    customer_id: str | None = None,
) -> pd.DataFrame:
    """One row per customer with at least one counted order before ``as_of``.

    Parameters
    ----------
    as_of
        Values are taken at this date (default: the day after the last counted order).
    groups
        Named groups in order; the first that matches wins.
    with_reason
        Add the ``reason`` sentence (the CLI report leaves it out).
    customer_id
        Only this customer (scores are still ranked over all customers).

    Returns
    -------
    DataFrame
        ``customer_id``, ``email``, ``recency_days``, ``frequency``, ``monetary`` (float,
        reporting currency, exact to the cent), ``r``, ``f``, ``m``, ``group`` (None when no
        group matches) and ``reason`` ("R5 F4 M4 → Loyal: last order 12 days ago, 7 orders,
        $640"), ordered by ``customer_id``.
    """
    columns = RFM_COLUMNS if with_reason else RFM_COLUMNS[:-1]
    day = _as_of(src, as_of)
    if day is None:
        return _empty(columns)
    t = rfm_expr(src, as_of=day, groups=groups)
    if customer_id is not None:
        t = t.filter(t.customer_id == customer_id)
    c = src.customers.select("customer_id", "email")
    j = t.left_join(c, "customer_id")
    cols: dict[str, Any] = {
        "customer_id": j.customer_id,
        "email": j.email,
        "recency_days": j.recency_days,
        "frequency": j.frequency,
        "monetary": j.monetary.cast("float64"),
        "r": j.r,
        "f": j.f,
        "m": j.m,
        "group": j.group,
    }
    if with_reason:
        cols["reason"] = _reason_expr(j, src.reporting_currency)
    # Arrow straight to pandas: at 1.4M customers 0.5 s faster and 130 MB smaller at peak than
    # Ibis' own pandas conversion (src.execute), with the same column types here
    df = src.backend.to_pyarrow(j.select(**cols).order_by("customer_id")).to_pandas()
    for col in ("recency_days", "frequency", "r", "f", "m"):
        df[col] = df[col].astype("int64")
    return df


def _in_range(t: Table, col: str, lo: int | None, hi: int | None) -> Any:
    return t[col].between(1 if lo is None else lo, SCORE_LEVELS if hi is None else hi)


def rfm_grid(
    src: Source,
    *,
    as_of: date | None = None,
    m_min: int | None = None,
    m_max: int | None = None,
) -> pd.DataFrame:
    """Customers and reporting-currency revenue in each R×F cell (all 25, zeros included).

    Columns: ``r``, ``f``, ``customers``, ``revenue`` (float). ``m_min``/``m_max`` keep only
    customers whose M score lies in that range (default: all).
    """
    cells = pd.DataFrame(
        [(r, f) for r in SCORES for f in SCORES], columns=["r", "f"]
    ).astype("int64")
    day = _as_of(src, as_of)
    if day is None:
        return cells.assign(customers=0, revenue=0.0)
    t = rfm_expr(src, as_of=day, groups=())
    t = t.filter(_in_range(t, "m", m_min, m_max))
    got = src.execute(
        t.group_by(["r", "f"]).aggregate(
            customers=t.count(), revenue=t.monetary.sum().cast("float64")
        )
    )
    got = got.astype({"r": "int64", "f": "int64"})
    out = cells.merge(got, on=["r", "f"], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64").round(2)
    return out[list(GRID_COLUMNS)]


def rfm_group_summary(
    src: Source,
    *,
    as_of: date | None = None,
    groups: Sequence[RfmGroup] = DEFAULT_GROUPS,
) -> pd.DataFrame:
    """One row per group, in order, then a "No group" row when some customers match none.

    Columns: ``group``, ``customers``, ``share`` (of customers with counted orders), ``revenue``
    (reporting currency), ``revenue_share``, ``aov`` (revenue ÷ the group's reporting-currency
    orders; None without any), ``median_days_since_last_order`` (None for an empty group),
    ``action``, ``description``, ``rule`` (the ranges in words).
    """
    day = _as_of(src, as_of)
    rows: list[dict[str, Any]] = []
    if day is None:
        got = pd.DataFrame(columns=["group", "customers", "revenue", "orders", "median_days"])
    else:
        t = rfm_expr(src, as_of=day, groups=groups)
        got = src.execute(
            t.group_by("group").aggregate(
                customers=t.count(),
                revenue=t.monetary.sum().cast("float64"),
                orders=t.home_orders.sum(),
                median_days=t.recency_days.median(),
            )
        )
    total_customers = int(got["customers"].sum()) if len(got) else 0
    total_revenue = float(got["revenue"].sum()) if len(got) else 0.0
    found: dict[str | None, dict[str, Any]] = {}
    for rec in got.to_dict("records"):
        key = None if pd.isna(rec["group"]) else str(rec["group"])
        found[key] = {str(k): v for k, v in rec.items()}

    def row(name: str, key: str | None, g: RfmGroup | None) -> dict[str, Any]:
        r = found.get(key, {})
        customers = int(r.get("customers", 0))
        revenue = round(float(r.get("revenue", 0.0)), 2)
        orders = int(r.get("orders", 0))
        median = r.get("median_days")
        return {
            "group": name,
            "customers": customers,
            "share": customers / total_customers if total_customers else None,
            "revenue": revenue,
            "revenue_share": revenue / total_revenue if total_revenue else None,
            "aov": round(revenue / orders, 2) if orders else None,
            "median_days_since_last_order": (
                None if median is None or pd.isna(median) else float(median)
            ),
            "action": g.action if g else "Add or widen a group so these customers get one.",
            "description": g.description if g else "Customers whose scores match no group.",
            "rule": g.rule() if g else "",
        }

    seen: set[str] = set()
    for g in groups:
        if g.name in seen:
            continue
        seen.add(g.name)
        rows.append(row(g.name, g.name, g))
    if None in found:
        rows.append(row(NO_GROUP, None, None))
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


# --- checking groups --------------------------------------------------------------------------


def _cells() -> Iterable[tuple[int, int, int]]:
    return ((r, f, m) for r in SCORES for f in SCORES for m in SCORES)


def _names(names: Sequence[str]) -> str:
    quoted = [f"“{n}”" for n in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def rfm_check_groups(groups: Sequence[RfmGroup]) -> list[str]:
    """Plain-English warnings about a set of groups (empty list: nothing to fix).

    Warns about groups that can never match (an empty range, or every score they cover taken
    by earlier groups), repeated names, and score combinations no group covers.
    """
    warnings: list[str] = []
    if not groups:
        return ["There are no groups, so no customer gets one. Add a group or reset to defaults."]
    taken: dict[tuple[int, int, int], str] = {}
    seen: set[str] = set()
    for i, g in enumerate(groups, start=1):
        if g.name in seen:
            warnings.append(
                f"Group {i} repeats the name “{g.name}”. Give each group its own name."
            )
        seen.add(g.name)
        empty = [
            f"its {letter} range {lo}–{hi} is empty (the lower score is above the upper)"
            for letter, (lo, hi) in g.ranges().items()
            if lo > hi
        ]
        mine = [c for c in _cells() if g.matches(*c)]
        if empty:
            warnings.append(f"“{g.name}” can never match: {'; '.join(empty)}.")
        elif all(c in taken for c in mine):
            earlier = sorted({taken[c] for c in mine}, key=[x.name for x in groups].index)
            warnings.append(
                f"“{g.name}” can never match: every score it covers ({g.rule()}) is already "
                f"taken by {'an earlier group' if len(earlier) == 1 else 'earlier groups'}, "
                f"{_names(earlier)}. Move it up or narrow the groups above it."
            )
        for c in mine:
            taken.setdefault(c, g.name)
    free = [c for c in _cells() if c not in taken]
    if free:
        free_set = set(free)
        whole_rf = sorted(
            {(r, f) for r, f, _ in free if all((r, f, m) in free_set for m in SCORES)}
        )
        if len(whole_rf) * SCORE_LEVELS == len(free):
            cells = [f"R{r} F{f}" for r, f in whole_rf]
            noun = "R×F cell" if len(cells) == 1 else "R×F cells"
        else:
            cells = [f"R{r} F{f} M{m}" for r, f, m in free]
            noun = "score combination" if len(cells) == 1 else "score combinations"
        shown = ", ".join(cells[:_EXAMPLES]) + (" …" if len(cells) > _EXAMPLES else "")
        verb = "matches" if len(cells) == 1 else "match"
        warnings.append(
            f"{len(cells)} {noun} ({shown}) {verb} no group, so customers with those scores "
            "get none. Widen a group, or add a last group with any R, F and M to catch the rest."
        )
    return warnings


def unmatched_warning(summary: pd.DataFrame) -> str | None:
    """A sentence about customers matching no group, from :func:`rfm_group_summary`'s table
    (None when every customer has a group)."""
    rest = summary[summary["group"] == NO_GROUP]
    if rest.empty or int(rest["customers"].iloc[0]) == 0:
        return None
    n = int(rest["customers"].iloc[0])
    share = float(rest["share"].iloc[0] or 0.0)
    who = "1 customer matches" if n == 1 else f"{n:,} customers match"
    return (
        f"{who} no group ({share:.1%} of customers with orders). Widen a group, or add a last "
        "group with any R, F and M to catch them."
    )


def unused_scores_warning(grid: pd.DataFrame) -> str | None:
    """A sentence naming R and F scores no customer has, from :func:`rfm_grid`'s table (None
    when every score is used or there are no customers)."""
    if int(grid["customers"].sum()) == 0:
        return None
    unused: list[str] = []
    for letter in ("R", "F"):
        per_score = grid.groupby(letter.lower())["customers"].sum()
        unused += [f"{letter} {s}" for s in SCORES if int(per_score.get(s, 0)) == 0]
    if not unused:
        return None
    listed = unused[0] if len(unused) == 1 else ", ".join(unused[:-1]) + " or " + unused[-1]
    return (
        f"No customer has {listed}. Customers tied on a value share a score (the lowest of "
        "their places), so when many are tied, most often one-time buyers, the scores their "
        "places span are skipped. Groups that rely only on those scores stay empty: widen them "
        "to neighbouring scores."
    )


# --- editing and storing ----------------------------------------------------------------------


def groups_from_records(records: Sequence[Mapping[str, Any]]) -> tuple[RfmGroup, ...]:
    """Groups from table rows (e.g. an edited data editor), refusing bad rows in words.

    Each record has :data:`GROUP_FIELDS`; missing score bounds mean the full range 1–5.
    """
    out: list[RfmGroup] = []
    for i, rec in enumerate(records, start=1):
        values = {k: rec.get(k) for k in GROUP_FIELDS}
        label = str(values.get("name") or "").strip()
        if not label:
            raise InputRefused(f"Group row {i}: the name is empty. Give the group a name.")
        clean: dict[str, Any] = {"name": label}
        for key in ("description", "action"):
            v = values.get(key)
            clean[key] = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
        for key in GROUP_FIELDS[3:]:
            v = values.get(key)
            if v is None or (isinstance(v, float) and pd.isna(v)):
                continue
            try:
                number = float(v)
            except (TypeError, ValueError):
                number = float("nan")
            if not number.is_integer() or not 1 <= number <= SCORE_LEVELS:
                raise InputRefused(
                    f"Group row {i} (“{label}”), column {key}: '{v}' is not a score. Scores are "
                    f"whole numbers from 1 to {SCORE_LEVELS}."
                )
            clean[key] = int(number)
        try:
            out.append(RfmGroup(**clean))
        except ValidationError as exc:  # pragma: no cover - every field is checked above
            raise InputRefused(f"Group row {i} (“{label}”): {exc.errors()[0]['msg']}.") from exc
    names = [g.name for g in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputRefused(
            f"Two groups are called {_names(dupes)}. Give each group its own name."
        )
    return tuple(out)


def groups_to_frame(groups: Sequence[RfmGroup]) -> pd.DataFrame:
    """Groups as an editable table with the columns :data:`GROUP_FIELDS`, in order."""
    return pd.DataFrame(
        [g.model_dump() for g in groups], columns=list(GROUP_FIELDS)
    )


_GROUPS_TABLE_EXISTS = (
    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'rfm_groups'"
)


def load_groups(conn: duckdb.DuckDBPyConnection) -> tuple[RfmGroup, ...]:
    """The groups saved in the store, or :data:`DEFAULT_GROUPS` when none were saved."""
    if not store.scalar(conn, _GROUPS_TABLE_EXISTS):
        return DEFAULT_GROUPS
    rows = conn.execute(
        f"SELECT {', '.join(GROUP_FIELDS)} FROM rfm_groups ORDER BY position"  # noqa: S608
    ).fetchall()
    if not rows:
        return DEFAULT_GROUPS
    return tuple(RfmGroup(**dict(zip(GROUP_FIELDS, row, strict=True))) for row in rows)


def load_groups_for(src: Source) -> tuple[RfmGroup, ...]:
    """The saved groups in the source's local store (:attr:`Source.state`, which warehouse mode
    keeps too); the defaults when there is none."""
    conn = src.state if src.state is not None else getattr(src.backend, "con", None)
    if isinstance(conn, duckdb.DuckDBPyConnection):
        return load_groups(conn)
    return DEFAULT_GROUPS


def save_groups(
    conn: duckdb.DuckDBPyConnection,
    groups: Sequence[RfmGroup],
    *,
    actor: str = DEFAULT_ACTOR,
) -> None:
    """Replace the saved groups (order matters: the first matching group wins)."""
    auth.require(conn, actor, auth.Role.EDITOR, "edit the RFM groups")
    if not groups:
        raise InputRefused(
            "Keep at least one group. To go back to the shipped groups, use Reset to defaults."
        )
    groups_from_records([g.model_dump() for g in groups])  # refuses repeated names
    now = store.utc_now()
    with store.transaction(conn):
        conn.execute("DELETE FROM rfm_groups")
        for pos, g in enumerate(groups, start=1):
            conn.execute(
                "INSERT INTO rfm_groups (position, name, description, action, r_min, r_max, "
                "f_min, f_max, m_min, m_max, updated_by, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [pos, *(getattr(g, k) for k in GROUP_FIELDS), actor, now],
            )
        store.audit(
            conn,
            actor,
            "rfm groups saved",
            "; ".join(f"{g.name}: {g.rule()}" for g in groups),
        )
        store.bump_data_version(conn)


def reset_groups(conn: duckdb.DuckDBPyConnection, *, actor: str = DEFAULT_ACTOR) -> None:
    """Forget the saved groups, so :data:`DEFAULT_GROUPS` apply again."""
    auth.require(conn, actor, auth.Role.EDITOR, "reset the RFM groups")
    with store.transaction(conn):
        conn.execute("DELETE FROM rfm_groups")
        store.audit(conn, actor, "rfm groups reset", "back to the default groups")
        store.bump_data_version(conn)
