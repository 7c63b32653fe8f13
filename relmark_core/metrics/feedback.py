"""Feedback: NPS and CSAT over time and by segment, reviews, comments and themes, and what
promoters, passives and detractors do.

Definitions are in :mod:`relmark_core.metrics.definitions` (keys ``nps``, ``csat``,
``nps_group``, ``revenue_at_risk`` ...). Scores are Ibis expressions over ``src.feedback``
joined to customers and orders, so they run on every backend; only the few result rows are
finished in pandas (shares, margins of error, the ``all`` row).

Counting rules
    Every answer counts in the period it was given, and the ``all`` row counts every answer in
    the range, so a customer who answered twice counts twice. A customer's NPS group — for
    comparisons of promoters, passives and detractors and for the follow-up list — is that of
    their latest NPS answer up to the as-of date. Answers with a score outside the kind's scale
    (NPS 0-10, CSAT and reviews 1-5) are left out (imports refuse them).

Periods and date ranges are local to the store's time zone (:func:`local_period`,
:func:`~relmark_core.metrics.common.in_window`), so an answer given at 23:00 on 31 March in New
York counts in March.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeAlias
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
from ibis.expr.types import BooleanValue, StringValue, Table
from pydantic import BaseModel, ConfigDict, field_validator

from relmark_core import text_themes
from relmark_core.errors import InputRefused
from relmark_core.metrics.common import (
    DEFAULT_REVENUE_BASIS,
    RevenueBasis,
    counted_orders,
    in_window,
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
    "Kind",
    "KINDS",
    "ScoreKind",
    "NpsGroup",
    "NPS_GROUPS",
    "NPS_GROUP_LABELS",
    "SCORE_SCALES",
    "PROMOTER_MIN_SCORE",
    "PASSIVE_MIN_SCORE",
    "CSAT_SATISFIED_MIN_SCORE",
    "CONFIDENCE_Z",
    "Breakdown",
    "BREAKDOWNS",
    "UNKNOWN_GROUP",
    "NO_ORDERS_COHORT",
    "ALL_PERIOD",
    "VALUE_WINDOW_MONTHS",
    "DEFAULT_COMMENT_LIMIT",
    "MAX_THEME_COMMENTS",
    "NPS_COLUMNS",
    "CSAT_COLUMNS",
    "CustomerFilter",
    "answers",
    "answer_span",
    "nps_group_of",
    "customer_name",
    "nps_score",
    "nps_margin_of_error",
    "wilson_interval",
    "score_summary",
    "nps_over_time",
    "csat_over_time",
    "NpsChange",
    "nps_change",
    "breakdown_groups",
    "review_summary",
    "CommentFilter",
    "comments",
    "comment_themes",
    "theme_changes",
    "value_window",
    "local_period",
    "latest_answers",
    "customer_value",
    "behaviour_by_group",
    "revenue_at_risk",
    "ReviewBy",
    "NO_PRODUCT",
    "COMMENT_COLUMNS",
    "BEHAVIOUR_COLUMNS",
    "count_comments",
]

Kind = Literal["nps", "csat", "review"]
KINDS: tuple[Kind, ...] = ("nps", "csat", "review")
ScoreKind = Literal["nps", "csat"]
NpsGroup = Literal["promoter", "passive", "detractor"]
NPS_GROUPS: tuple[NpsGroup, ...] = ("promoter", "passive", "detractor")
NPS_GROUP_LABELS: dict[NpsGroup, str] = {
    "promoter": "promoters (9-10)",
    "passive": "passives (7-8)",
    "detractor": "detractors (0-6)",
}
SCORE_SCALES: dict[Kind, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "review": (1, 5)}
PROMOTER_MIN_SCORE = 9
PASSIVE_MIN_SCORE = 7
CSAT_SATISFIED_MIN_SCORE = 4
CONFIDENCE_Z = 1.96
"""z for a 95% interval (margins of error)."""

Breakdown = Literal["country", "channel", "cohort", "rfm"]
BREAKDOWNS: tuple[Breakdown, ...] = ("country", "channel", "cohort", "rfm")
UNKNOWN_GROUP = "(unknown)"
NO_ORDERS_COHORT = "(no orders)"
ALL_PERIOD = "all"
VALUE_WINDOW_MONTHS = 12
DEFAULT_COMMENT_LIMIT = 200
MAX_THEME_COMMENTS = 100_000
"""Themes read at most this many comments of each set (the newest)."""

NPS_COLUMNS = [
    "period",
    "period_start",
    "responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "margin_of_error",
]
CSAT_COLUMNS = [
    "period",
    "period_start",
    "responses",
    "satisfied",
    "csat",
    "csat_low",
    "csat_high",
    "average_score",
]
_FLOAT_COLUMNS = frozenset(
    {"nps", "margin_of_error", "csat", "csat_low", "csat_high", "average_score"}
)
_LABEL_COLUMNS = frozenset({"group", "period", "period_start"})
_GRAIN_UNIT = {"week": "W", "month": "M", "quarter": "Q"}
_ONE_DAY = timedelta(days=1)
_ONE_MINUTE = timedelta(minutes=1)

CustomerFilter: TypeAlias = Sequence[str] | Table
"""Customers to keep: a list of customer ids, or an Ibis table with a ``customer_id`` column
(e.g. a saved segment)."""


# --- building blocks --------------------------------------------------------------------------


def _for_customers(t: Table, customers: CustomerFilter | None) -> Table:
    if customers is None:
        return t
    if isinstance(customers, Table):
        return t.filter(t.customer_id.isin(customers.customer_id))
    return t.filter(t.customer_id.isin(list(customers)))


def _day_end(src: Source, as_of: date) -> datetime:
    """The UTC instant the as-of day ends (local midnight after it)."""
    return utc_bounds(DateRange(start=as_of, end=as_of + _ONE_DAY), src.timezone)[1]


def answers(
    src: Source,
    *,
    kind: Kind,
    rng: DateRange | None = None,
    customers: CustomerFilter | None = None,
) -> Table:
    """Answers of one kind with a score on its scale, optionally in a range / for customers."""
    f = src.feedback
    lo, hi = SCORE_SCALES[kind]
    f = f.filter(f.kind == kind, f.score.between(lo, hi))
    if rng is not None:
        f = in_window(src, f, rng, "answered_at")
    return _for_customers(f, customers)


def answer_span(src: Source, *, kind: Kind = "nps") -> tuple[date | None, date | None]:
    """First and last answer dates (UTC) of one kind; ``(None, None)`` without answers."""
    f = answers(src, kind=kind)
    df = src.execute(f.aggregate(first=f.answered_at.min(), last=f.answered_at.max()))
    first, last = df["first"].iloc[0], df["last"].iloc[0]
    if first is None or pd.isna(first):
        return None, None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def customer_name(t: Table) -> StringValue:
    """First and last name joined by a space (NULL when neither is known)."""
    return ibis.literal(" ").join([t.first_name, t.last_name]).strip().nullif("")


def nps_group_of(score: Any) -> StringValue:
    """An NPS score's group as an Ibis expression: promoter (9-10), passive (7-8), detractor."""
    return ibis.cases(
        (score >= PROMOTER_MIN_SCORE, "promoter"),
        (score >= PASSIVE_MIN_SCORE, "passive"),
        else_="detractor",
    )


def nps_score(promoters: int, detractors: int, responses: int) -> float | None:
    """% promoters - % detractors (-100..100); None without responses."""
    if responses <= 0:
        return None
    return 100.0 * (promoters - detractors) / responses


def nps_margin_of_error(
    promoters: int, detractors: int, responses: int, *, z: float = CONFIDENCE_Z
) -> float | None:
    """Half-width of the 95% interval of the NPS, in NPS points.

    Each answer scores +1 (promoter), 0 (passive) or -1 (detractor); NPS is 100 x their mean.
    With p and d the shares of promoters and detractors, the variance of one answer is
    ``p + d - (p - d)**2``, so the margin is ``z * sqrt((p + d - (p - d)**2) / n) * 100``
    (normal approximation). None without responses.
    """
    if responses <= 0:
        return None
    p = promoters / responses
    d = detractors / responses
    return z * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / responses) * 100.0


def wilson_interval(
    successes: int, n: int, *, z: float = CONFIDENCE_Z
) -> tuple[float, float] | None:
    """The Wilson score interval of a share ``successes / n`` (0-1); None when ``n`` is 0."""
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def value_window(as_of: date) -> DateRange:
    """The 12 months up to and including ``as_of``: from the day after the same date a year
    earlier (e.g. 2023-07-01 .. 2024-06-30; 29 Feb counts back to 28 Feb)."""
    months = as_of.year * 12 + as_of.month - 1 - VALUE_WINDOW_MONTHS
    y, m0 = divmod(months, 12)
    next_month = date(y + (m0 + 1) // 12, (m0 + 1) % 12 + 1, 1)
    days_in_month = (next_month - _ONE_DAY).day
    back = date(y, m0 + 1, min(as_of.day, days_in_month))
    return DateRange(start=back + _ONE_DAY, end=as_of + _ONE_DAY)


# --- breakdowns -------------------------------------------------------------------------------


def _rfm_groups(src: Source, as_of: date | None) -> Table:
    try:
        from relmark_core.metrics import rfm  # the RFM issue's module
    except ImportError as exc:  # pragma: no cover - only before the RFM module lands
        raise InputRefused(
            "The RFM breakdown needs the RFM analysis, which this Relmark does not have yet. "
            "Choose another breakdown: country, channel or cohort."
        ) from exc
    # RFM's as-of date is exclusive (orders before it); ours is the last day included.
    day = rfm.default_as_of(src) if as_of is None else as_of + _ONE_DAY
    if day is None:  # no counted orders at all: nobody has an RFM group
        c = src.customers
        return c.select(customer_id=c.customer_id, group=ibis.null("string"))
    t = rfm.rfm_group_expr(src, as_of=day, groups=rfm.load_groups_for(src))
    return t.select(customer_id=t.customer_id, group=t["group"].fill_null(rfm.NO_GROUP))


def breakdown_groups(src: Source, by: Breakdown, *, as_of: date | None = None) -> Table:
    """Customer id -> group label (``customer_id``, ``group``) for a breakdown.

    country: the customer's country; channel: their acquisition channel; cohort: the month of
    their first counted order (``2024-03``), ``(no orders)`` without one; rfm: their RFM group
    at the end of ``as_of`` (orders up to and including that day; default: all orders), the
    shop's saved RFM groups, ``No group`` where none matches. Customers without counted orders
    have no group (their answers go to ``(unknown)``).
    """
    c = src.customers
    if by == "country":
        return c.select(customer_id=c.customer_id, group=c.country.cast("string"))
    if by == "channel":
        return c.select(customer_id=c.customer_id, group=c.acquisition_channel.cast("string"))
    if by == "cohort":
        o = counted_orders(src)
        o = o.filter(o.customer_id.notnull())
        first = o.group_by("customer_id").aggregate(first=o.ordered_at.min())
        j = c.left_join(first, c.customer_id == first.customer_id)
        return j.select(
            customer_id=c.customer_id,
            group=ibis.ifelse(
                j["first"].isnull(), ibis.literal(NO_ORDERS_COHORT), j["first"].strftime("%Y-%m")
            ),
        )
    if by == "rfm":
        return _rfm_groups(src, as_of)
    raise InputRefused(f"Unknown breakdown '{by}'. Choose one of: {', '.join(BREAKDOWNS)}.")


def _with_group(f: Table, groups: Table) -> Table:
    g = groups.select(gid=groups.customer_id, group=groups["group"].cast("string"))
    j = f.left_join(g, f.customer_id == g.gid)
    return j.select(
        score=j.score,
        answered_at=j.answered_at,
        group=j["group"].fill_null(UNKNOWN_GROUP),
    )


# --- scores -----------------------------------------------------------------------------------


def _period_list(first: date, end_exclusive: date, grain: Grain) -> list[date]:
    out = []
    d = period_start(first, grain)
    while d < end_exclusive:
        out.append(d)
        d = next_period_start(d, grain)
    return out


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _utc_offsets(tz: str, first: datetime, end: datetime) -> tuple[int, list[tuple[datetime, int]]]:
    """The zone's UTC offset (seconds) at ``first`` and each change before ``end``: (instant in
    naive UTC, new offset), found day by day and then to the minute."""
    zone = ZoneInfo(tz)

    def offset(t: datetime) -> int:
        delta = t.replace(tzinfo=UTC).astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    current = offset(first)
    initial = current
    changes: list[tuple[datetime, int]] = []
    day = first
    while day < end:
        nxt = day + _ONE_DAY
        new = offset(nxt)
        if new != current:
            lo, hi = day, nxt  # offset(lo) == current, offset(hi) == new
            while hi - lo > _ONE_MINUTE:
                mid = lo + (hi - lo) // 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    mid = lo + _ONE_MINUTE
                if offset(mid) == current:
                    lo = mid
                else:
                    hi = mid
            changes.append((hi, new))
            current = new
        day = nxt
    return initial, changes


def local_period(
    src: Source,
    ts: Any,
    grain: Grain,
    *,
    rng: DateRange | None = None,
    kind: Kind = "nps",
) -> Any:
    """The first day of the local week/month/quarter (store time zone) holding a UTC timestamp.

    In a UTC store this is a plain truncation. Elsewhere the timestamp is first moved to local
    time by the zone's UTC offset, with daylight-saving changes taken from the time zone
    database over ``rng`` (or over the answers' span when there is no range: one extra query).
    """
    unit = _GRAIN_UNIT[grain]
    if src.timezone == "UTC":
        return ts.truncate(unit).date()
    if rng is None:
        first, last = answer_span(src, kind=kind)
        if first is None or last is None:
            return ts.truncate(unit).date()
        rng = DateRange(start=first, end=last + _ONE_DAY)
    # UTC midnights a day beyond the range on each side hold every local instant in it
    lo = datetime(rng.start.year, rng.start.month, rng.start.day) - _ONE_DAY
    hi = datetime(rng.end.year, rng.end.month, rng.end.day) + _ONE_DAY
    initial, changes = _utc_offsets(src.timezone, lo, hi)
    seconds: Any = ibis.literal(initial)
    if changes:
        branches = []
        previous = initial
        for instant, new in changes:
            branches.append((ts < ibis.literal(instant), ibis.literal(previous)))
            previous = new
        seconds = ibis.cases(*branches, else_=ibis.literal(previous))
    return (ts + seconds.as_interval("s")).truncate(unit).date()


def _finish_row(kind: ScoreKind, r: dict[str, Any]) -> dict[str, Any]:
    n = int(r["responses"])
    if kind == "nps":
        p, d = int(r["promoters"]), int(r["detractors"])
        return {
            "responses": n,
            "promoters": p,
            "passives": n - p - d,
            "detractors": d,
            "nps": _nan(nps_score(p, d, n)),
            "margin_of_error": _nan(nps_margin_of_error(p, d, n)),
        }
    s = int(r["satisfied"])
    interval = wilson_interval(s, n)
    return {
        "responses": n,
        "satisfied": s,
        "csat": s / n if n else math.nan,
        "csat_low": interval[0] if interval else math.nan,
        "csat_high": interval[1] if interval else math.nan,
        "average_score": float(r["score_sum"]) / n if n else math.nan,
    }


def score_summary(
    src: Source,
    *,
    kind: ScoreKind = "nps",
    grain: Grain | None = DEFAULT_GRAIN,
    by: Breakdown | None = None,
    groups: Table | None = None,
    rng: DateRange | None = None,
    customers: CustomerFilter | None = None,
    as_of: date | None = None,
) -> pd.DataFrame:
    """NPS or CSAT per period (and per group), with counts and a 95% margin of error.

    Parameters
    ----------
    kind
        ``nps`` (0-10) or ``csat`` (1-5).
    grain
        week, month or quarter; ``None`` for one ``all`` row (per group).
    by
        A breakdown (country, channel, cohort, rfm): adds a ``group`` column.
    groups
        Instead of ``by``: your own customer -> group table (columns ``customer_id``,
        ``group``), e.g. tiers.
    rng
        Answers given in this range (default: all answers); with a grain every period of the
        range gets a row, zeros where nobody answered. Without a range, the periods run from
        the first answer to the last.
    customers
        Only answers of these customers (ids, or a table with ``customer_id``).
    as_of
        The date the RFM breakdown is taken at.

    Returns
    -------
    DataFrame
        ``[group,]`` then :data:`NPS_COLUMNS` or :data:`CSAT_COLUMNS`. One row per period,
        then a row with ``period`` = ``all`` and ``period_start`` empty that counts every
        answer; with a breakdown, that block for each group (most answers first). Answers of
        customers not in the breakdown go to ``(unknown)``. ``nps`` is -100..100; ``csat``,
        ``csat_low`` and ``csat_high`` are shares 0-1 (Wilson interval).
    """
    if by is not None and groups is not None:
        raise InputRefused("Choose a breakdown or your own groups, not both.")
    f = answers(src, kind=kind, rng=rng, customers=customers)
    grouped = by is not None or groups is not None
    keys: dict[str, Any] = {}
    if grouped:
        gt = groups if groups is not None else breakdown_groups(src, by, as_of=as_of)  # type: ignore[arg-type]
        f = _with_group(f, gt)
        keys["group"] = f["group"]
    if grain is not None:
        keys["p"] = local_period(src, f.answered_at, grain, rng=rng, kind=kind)
    if kind == "nps":
        metrics = {
            "responses": f.count(),
            "promoters": (f.score >= PROMOTER_MIN_SCORE).sum(),
            "detractors": (f.score < PASSIVE_MIN_SCORE).sum(),
        }
    else:
        metrics = {
            "responses": f.count(),
            "satisfied": (f.score >= CSAT_SATISFIED_MIN_SCORE).sum(),
            "score_sum": f.score.cast("int64").sum(),
        }
    expr = f.group_by(**keys).aggregate(**metrics) if keys else f.aggregate(**metrics)
    # A handful of rows: plain records are quicker to finish than a DataFrame.
    raw = src.backend.to_pyarrow(expr).to_pylist()
    count_cols = list(metrics)
    for r in raw:
        for c in count_cols:
            r[c] = int(r[c] or 0)
        if grain is not None and isinstance(r["p"], datetime):
            r["p"] = r["p"].date()
    periods: list[date] = []
    if grain is not None:
        if rng is not None:
            periods = _period_list(rng.start, rng.end, grain)
        elif raw:
            found_days = [r["p"] for r in raw]
            periods = _period_list(min(found_days), max(found_days) + _ONE_DAY, grain)
    by_group: dict[Any, list[dict[str, Any]]] = {}
    for r in raw:
        by_group.setdefault(r.get("group"), []).append(r)
    if not by_group and not grouped:
        by_group[None] = []
    totals = {g: sum(r["responses"] for r in part) for g, part in by_group.items()}
    group_names = sorted(by_group, key=lambda g: (-totals[g], str(g)))
    labels = {d: period_label(d, grain) for d in periods} if grain is not None else {}
    zero = dict.fromkeys(count_cols, 0)
    rows: list[dict[str, Any]] = []
    for g in group_names:
        part = by_group[g]
        head: dict[str, Any] = {"group": g} if grouped else {}
        found = {r["p"]: r for r in part} if grain is not None else {}
        for d in periods:
            rows.append(
                head
                | {"period": labels[d], "period_start": d}
                | _finish_row(kind, found.get(d, zero))
            )
        total = {c: sum(r[c] for r in part) for c in count_cols}
        rows.append(head | {"period": ALL_PERIOD, "period_start": None} | _finish_row(kind, total))
    columns = (["group"] if grouped else []) + (NPS_COLUMNS if kind == "nps" else CSAT_COLUMNS)
    # column by column: ints stay int64 and floats (NaN where undefined) float64
    df = pd.DataFrame({c: [r[c] for r in rows] for c in columns}, columns=columns)
    if not rows:
        df = df.astype({c: ("float64" if c in _FLOAT_COLUMNS else "int64") for c in columns if c not in _LABEL_COLUMNS})
    return df


def nps_over_time(
    src: Source,
    *,
    grain: Grain = DEFAULT_GRAIN,
    rng: DateRange | None = None,
    customers: CustomerFilter | None = None,
) -> pd.DataFrame:
    """NPS per period plus the ``all`` row; see :func:`score_summary` (columns
    :data:`NPS_COLUMNS`)."""
    return score_summary(src, kind="nps", grain=grain, rng=rng, customers=customers)


def csat_over_time(
    src: Source,
    *,
    grain: Grain = DEFAULT_GRAIN,
    rng: DateRange | None = None,
    customers: CustomerFilter | None = None,
) -> pd.DataFrame:
    """CSAT per period plus the ``all`` row; see :func:`score_summary` (columns
    :data:`CSAT_COLUMNS`)."""
    return score_summary(src, kind="csat", grain=grain, rng=rng, customers=customers)


class NpsChange(BaseModel):
    """NPS of a range and of the range before it, and whether the move is more than noise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    responses: int
    nps: float | None
    margin_of_error: float | None
    previous_responses: int
    previous_nps: float | None
    previous_margin_of_error: float | None
    change: float | None
    """nps - previous_nps, in NPS points (None when either side has no answers)."""
    margin_of_change: float | None
    """95% margin of the change: sqrt(margin² + previous margin²) (independent samples)."""

    @property
    def is_real(self) -> bool:
        """True when the change is larger than its margin of error."""
        return (
            self.change is not None
            and self.margin_of_change is not None
            and abs(self.change) > self.margin_of_change
        )


def nps_change(
    src: Source,
    *,
    rng: DateRange,
    customers: CustomerFilter | None = None,
) -> NpsChange:
    """NPS of ``rng`` against ``rng.previous()`` (the same number of days just before)."""

    def one(r: DateRange) -> tuple[int, float | None, float | None]:
        row = score_summary(src, kind="nps", grain=None, rng=r, customers=customers).iloc[-1]
        n = int(row["responses"])
        return (
            n,
            None if n == 0 else float(row["nps"]),
            None if n == 0 else float(row["margin_of_error"]),
        )

    n, nps, moe = one(rng)
    pn, pnps, pmoe = one(rng.previous())
    both = nps is not None and pnps is not None and moe is not None and pmoe is not None
    return NpsChange(
        responses=n,
        nps=nps,
        margin_of_error=moe,
        previous_responses=pn,
        previous_nps=pnps,
        previous_margin_of_error=pmoe,
        change=nps - pnps if both else None,  # type: ignore[operator]
        margin_of_change=math.sqrt(moe**2 + pmoe**2) if both else None,  # type: ignore[operator]
    )


# --- reviews ----------------------------------------------------------------------------------

ReviewBy = Literal["product", "category"]
NO_PRODUCT = "(no product)"


def _product_categories(src: Source) -> Table:
    """Each product's category: the one on most of its order lines (ties: alphabetical)."""
    ol = src.order_lines
    ol = ol.filter(ol.product.notnull(), ol.category.notnull())
    n = ol.group_by(["product", "category"]).aggregate(lines=ol.count())
    w = ibis.window(group_by=n.product, order_by=[n["lines"].desc(), n["category"]])
    ranked = n.mutate(rank=ibis.row_number().over(w))
    return ranked.filter(ranked["rank"] == 0).select("product", "category")


def review_summary(
    src: Source,
    *,
    by: ReviewBy = "product",
    rng: DateRange | None = None,
    customers: CustomerFilter | None = None,
) -> pd.DataFrame:
    """Reviews (1-5 stars) by product or by category.

    A product's category is the category on most of its order lines; reviews of products never
    sold get ``(unknown)``. Columns: ``product`` or ``category``, ``reviews``,
    ``average_rating``, ``reviewers`` (distinct customers matched), sorted by reviews (most
    first).
    """
    if by not in ("product", "category"):
        raise InputRefused(f"Reviews can be grouped by product or category, not '{by}'.")
    f = answers(src, kind="review", rng=rng, customers=customers)
    f = f.mutate(product=f["product"].fill_null(NO_PRODUCT))
    if by == "category":
        cats = _product_categories(src).rename(cat_product="product")
        j = f.left_join(cats, f["product"] == cats.cat_product)
        f = j.select(
            score=j.score,
            customer_id=j.customer_id,
            category=j.category.fill_null(UNKNOWN_GROUP),
        )
    df = src.execute(
        f.group_by(by).aggregate(
            reviews=f.count(),
            average_rating=f.score.cast("float64").mean(),
            reviewers=f.customer_id.nunique(),
        )
    )
    df = df.sort_values(["reviews", by], ascending=[False, True], kind="stable")
    df["reviews"] = df["reviews"].astype("int64")
    df["reviewers"] = df["reviewers"].astype("int64")
    return df.reset_index(drop=True)[[by, "reviews", "average_rating", "reviewers"]]


# --- comments ---------------------------------------------------------------------------------


class CommentFilter(BaseModel):
    """Which comments to list: kind, NPS group, words to search for, and dates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind | None = "nps"
    group: NpsGroup | None = None
    search: str | None = None
    rng: DateRange | None = None

    @field_validator("search")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        v = v.strip() if v is not None else None
        return v or None

    @field_validator("group")
    @classmethod
    def _group_needs_nps(cls, v: NpsGroup | None, info: Any) -> NpsGroup | None:
        if v is not None and info.data.get("kind") != "nps":
            raise ValueError("Promoter/passive/detractor applies to NPS answers only.")
        return v

    def sentence(self) -> str:
        """E.g. 'NPS comments from detractors (0-6) containing "late", 01 Mar 2024 – 31 Mar
        2024'."""
        kinds = {"nps": "NPS comments", "csat": "CSAT comments", "review": "Reviews"}
        text = kinds[self.kind] if self.kind else "All comments and reviews"
        if self.group:
            text += f" from {NPS_GROUP_LABELS[self.group]}"
        if self.search:
            text += f' containing "{self.search}"'
        if self.rng:
            text += f", {self.rng.sentence()}"
        return text


COMMENT_COLUMNS = [
    "response_id",
    "answered_at",
    "kind",
    "score",
    "nps_group",
    "customer_id",
    "email",
    "name",
    "product",
    "title",
    "comment",
    "sentiment",
]


def _comment_rows(
    src: Source, flt: CommentFilter, customers: CustomerFilter | None
) -> Table:
    f = src.feedback
    f = f.filter((f.comment.notnull() & (f.comment.strip() != "")) | f.title.notnull())
    if flt.kind is not None:
        lo, hi = SCORE_SCALES[flt.kind]
        f = f.filter(f.kind == flt.kind, f.score >= lo, f.score <= hi)
    if flt.rng is not None:
        f = in_window(src, f, flt.rng, "answered_at")
    f = _for_customers(f, customers)
    f = f.mutate(
        nps_group=ibis.ifelse(f.kind == "nps", nps_group_of(f.score), ibis.null("string"))
    )
    if flt.group is not None:
        f = f.filter(f.nps_group == flt.group)
    if flt.search:
        needle = flt.search.lower()
        cond: BooleanValue = f.comment.lower().contains(needle).fill_null(False) | f[
            "title"
        ].lower().contains(needle).fill_null(False)
        f = f.filter(cond)
    return f


def comments(
    src: Source,
    flt: CommentFilter | None = None,
    *,
    customers: CustomerFilter | None = None,
    limit: int = DEFAULT_COMMENT_LIMIT,
    offset: int = 0,
    with_sentiment: bool = True,
) -> pd.DataFrame:
    """Comments (and reviews) matching the filter, newest first.

    Search is case-insensitive and looks for the text anywhere in the comment or review title.
    Columns :data:`COMMENT_COLUMNS`; ``nps_group`` is the answer's own group (NPS only),
    ``name`` the customer's first and last name, ``sentiment`` VADER's -1..+1 score (None when
    it recognises no word, e.g. other languages, or when ``with_sentiment`` is False). Comment
    text is returned as given: show it as text, never as HTML.
    """
    flt = flt or CommentFilter()
    f = _comment_rows(src, flt, customers)
    f = f.order_by([f.answered_at.desc(), f.response_id.desc()]).limit(limit, offset=offset)
    c = src.customers
    j = f.left_join(c, f.customer_id == c.customer_id)
    expr = j.select(
        response_id=j.response_id,
        answered_at=j.answered_at,
        kind=j.kind,
        score=j.score,
        nps_group=j.nps_group,
        customer_id=f.customer_id,
        email=j.email,
        name=customer_name(j),
        product=j["product"],
        title=j["title"],
        comment=j.comment,
    ).order_by([ibis.desc("answered_at"), ibis.desc("response_id")])
    df = src.execute(expr)
    df["sentiment"] = (
        text_themes.sentiments(
            " ".join(str(x) for x in (t, c_) if isinstance(x, str))
            for t, c_ in zip(df["title"], df["comment"], strict=True)
        )
        if with_sentiment
        else [None] * len(df)
    )
    return df[COMMENT_COLUMNS].reset_index(drop=True)


def count_comments(
    src: Source, flt: CommentFilter | None = None, *, customers: CustomerFilter | None = None
) -> int:
    """How many comments match the filter (for "showing 200 of N")."""
    f = _comment_rows(src, flt or CommentFilter(), customers)
    return int(src.execute(f.count()))


def _group_texts(
    src: Source,
    *,
    group: NpsGroup,
    rng: DateRange | None,
    customers: CustomerFilter | None,
) -> list[str]:
    f = _comment_rows(src, CommentFilter(kind="nps", group=group, rng=rng), customers)
    f = f.order_by(f.answered_at.desc()).limit(MAX_THEME_COMMENTS).select("comment")
    return [str(v) for v in src.execute(f)["comment"] if isinstance(v, str)]


def comment_themes(
    src: Source,
    *,
    rng: DateRange | None = None,
    customers: CustomerFilter | None = None,
    min_comments: int = text_themes.DEFAULT_MIN_COMMENTS,
) -> pd.DataFrame:
    """Terms that set detractors' comments apart from promoters' (NPS answers in the range).

    Columns: ``term``, ``detractor_comments``, ``promoter_comments`` (comments containing it),
    ``detractor_share``, ``promoter_share`` (0-1), ``log_odds``, ``z``; most typical of
    detractors first, most typical of promoters last. Method: :mod:`relmark_core.text_themes`.
    """
    det = _group_texts(src, group="detractor", rng=rng, customers=customers)
    pro = _group_texts(src, group="promoter", rng=rng, customers=customers)
    df = text_themes.distinguishing_terms(det, pro, min_comments=min_comments)
    return df.rename(
        columns={
            "count_a": "detractor_comments",
            "count_b": "promoter_comments",
            "share_a": "detractor_share",
            "share_b": "promoter_share",
        }
    )


def theme_changes(
    src: Source,
    *,
    rng: DateRange,
    group: NpsGroup = "detractor",
    customers: CustomerFilter | None = None,
    min_comments: int = text_themes.DEFAULT_MIN_COMMENTS,
) -> pd.DataFrame:
    """What one group talks about more (top) or less (bottom) than in the previous period.

    Compares the group's comments in ``rng`` with those in ``rng.previous()`` (the same number
    of days just before). Columns: ``term``, ``now_comments``, ``before_comments``,
    ``now_share``, ``before_share``, ``log_odds``, ``z``.
    """
    now = _group_texts(src, group=group, rng=rng, customers=customers)
    before = _group_texts(src, group=group, rng=rng.previous(), customers=customers)
    df = text_themes.distinguishing_terms(now, before, min_comments=min_comments)
    return df.rename(
        columns={
            "count_a": "now_comments",
            "count_b": "before_comments",
            "share_a": "now_share",
            "share_b": "before_share",
        }
    )


# --- joined to behaviour ----------------------------------------------------------------------


def latest_answers(
    src: Source, *, as_of: date, customers: CustomerFilter | None = None
) -> Table:
    """Each customer's latest NPS answer given on or before ``as_of`` (ties: the larger
    response id): ``customer_id``, ``response_id``, ``answered_at``, ``score``, ``comment``,
    ``nps_group``."""
    f = answers(src, kind="nps", customers=customers)
    f = f.filter(f.customer_id.notnull(), f.answered_at < ibis.literal(_day_end(src, as_of)))
    w = ibis.window(group_by=f.customer_id, order_by=[f.answered_at.desc(), f.response_id.desc()])
    ranked = f.mutate(rank=ibis.row_number().over(w))
    latest = ranked.filter(ranked["rank"] == 0)
    return latest.select(
        customer_id=latest.customer_id,
        response_id=latest.response_id,
        answered_at=latest.answered_at,
        score=latest.score,
        comment=latest.comment,
        nps_group=nps_group_of(latest.score),
    )


def customer_value(
    src: Source,
    *,
    as_of: date,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
    customers: CustomerFilter | None = None,
) -> Table:
    """Per customer with a counted order on or before ``as_of``: ``customer_id``, ``orders``
    (counted, every currency), ``lifetime_revenue`` (all their counted orders so far, reporting
    currency) and ``revenue_12m`` (those in :func:`value_window`); optionally only for some
    customers."""
    o = _for_customers(counted_orders(src), customers)
    lo12 = utc_bounds(value_window(as_of), src.timezone)[0]
    o = o.filter(o.customer_id.notnull(), o.ordered_at < ibis.literal(_day_end(src, as_of)))
    home = o.currency == src.reporting_currency
    rev = revenue_value(o, basis)
    zero = ibis.literal(0).cast(rev.type())
    return o.group_by("customer_id").aggregate(
        orders=o.count(),
        lifetime_revenue=ibis.ifelse(home, rev, zero).sum(),
        revenue_12m=ibis.ifelse(home & (o.ordered_at >= ibis.literal(lo12)), rev, zero).sum(),
    )


BEHAVIOUR_COLUMNS = [
    "nps_group",
    "customers",
    "customers_with_orders",
    "repeat_purchase_rate",
    "orders",
    "orders_per_customer",
    "lifetime_revenue",
    "historical_clv",
    "revenue_12m",
]


def behaviour_by_group(
    src: Source,
    *,
    as_of: date,
    customers: CustomerFilter | None = None,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
) -> pd.DataFrame:
    """What promoters, passives and detractors (by latest answer up to ``as_of``) do.

    One row per group (promoter, passive, detractor), columns :data:`BEHAVIOUR_COLUMNS`:
    ``customers`` in the group; ``customers_with_orders`` (a counted order on or before
    ``as_of``); ``repeat_purchase_rate`` = customers with 2+ counted orders / customers with
    1+ (None without buyers); ``orders`` counted so far (every currency) and per customer;
    ``lifetime_revenue`` = their counted orders' revenue so far and ``historical_clv`` = that
    per customer of the group; ``revenue_12m`` = revenue of the 12 months to ``as_of``
    (reporting currency, Decimal).
    """
    la = latest_answers(src, as_of=as_of, customers=customers)
    v = customer_value(src, as_of=as_of, basis=basis)
    j = la.left_join(v, la.customer_id == v.customer_id)
    zero = ibis.literal(0).cast(v.lifetime_revenue.type())
    t = j.select(
        nps_group=j.nps_group,
        orders=j.orders.fill_null(0),
        lifetime_revenue=j.lifetime_revenue.fill_null(zero),
        revenue_12m=j.revenue_12m.fill_null(zero),
    )
    df = src.execute(
        t.group_by("nps_group").aggregate(
            customers=t.count(),
            buyers=(t.orders >= 1).cast("int32").sum(),
            repeaters=(t.orders >= 2).cast("int32").sum(),
            orders=t.orders.sum(),
            lifetime_revenue=t.lifetime_revenue.sum(),
            revenue_12m=t.revenue_12m.sum(),
        )
    )
    found = {r["nps_group"]: r for r in df.to_dict("records")}
    rows = []
    for g in NPS_GROUPS:
        r = found.get(g, {})
        n = int(r.get("customers", 0) or 0)
        buyers = int(r.get("buyers", 0) or 0)
        orders = int(r.get("orders", 0) or 0)
        lifetime = cents(r.get("lifetime_revenue"))
        rows.append(
            {
                "nps_group": g,
                "customers": n,
                "customers_with_orders": buyers,
                "repeat_purchase_rate": int(r.get("repeaters", 0) or 0) / buyers
                if buyers
                else None,
                "orders": orders,
                "orders_per_customer": orders / n if n else None,
                "lifetime_revenue": lifetime,
                "historical_clv": cents(lifetime / n) if n else None,
                "revenue_12m": cents(r.get("revenue_12m")),
            }
        )
    return pd.DataFrame(rows, columns=BEHAVIOUR_COLUMNS)


def revenue_at_risk(
    src: Source,
    *,
    as_of: date,
    customers: CustomerFilter | None = None,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
) -> Decimal:
    """Net revenue of the 12 months to ``as_of`` (:func:`value_window`, reporting currency)
    from customers whose latest NPS answer up to ``as_of`` is a detractor (0-6); the same
    number as ``revenue_12m`` of the detractor row of :func:`behaviour_by_group`."""
    la = latest_answers(src, as_of=as_of, customers=customers)
    detractors = la.filter(la.score < PASSIVE_MIN_SCORE)
    lo, hi = utc_bounds(value_window(as_of), src.timezone)
    o = counted_orders(src)
    o = o.filter(
        o.currency == src.reporting_currency,
        o.ordered_at >= ibis.literal(lo),
        o.ordered_at < ibis.literal(hi),
        o.customer_id.isin(detractors.customer_id),
    )
    return cents(src.execute(revenue_value(o, basis).sum()))
