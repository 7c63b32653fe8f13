"""Cohort retention: do the customers a shop wins keep ordering?

A customer's **cohort** is the calendar period (ISO week, month or quarter, in the store's time
zone) of their first counted order. **Period k** of a cohort is the k-th calendar period after the
cohort's own (period 0). Three matrices come from one query:

* ``on``: share of the cohort with at least one counted order in period k;
* ``on_or_after``: share with a counted order in period k or any later one (up to the as-of date);
* ``revenue``: the cohort's net revenue in period k divided by its revenue in period 0
  (reporting currency only; other currencies count as activity but add no revenue).

The ``recurring`` view re-bases every period instead: its "cohort" for a period is everyone who
ordered in it (first-time or not), and period k asks how many of them ordered k periods later.

Orders after the as-of date are ignored; periods that have not started by then are None (not 0);
the period holding the as-of date is flagged ``incomplete`` unless the as-of date is its last day.

Reads are Ibis expressions, so they run on the embedded DuckDB and on a warehouse alike. Every
result is a plain DataFrame ready to draw; definitions live in
:mod:`relmark_core.metrics.definitions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
from ibis.expr.types import DateValue, IntegerValue, Table, TimestampValue
from pydantic import BaseModel, ConfigDict, Field

from relmark_core.errors import InputRefused
from relmark_core.metrics.common import (
    DEFAULT_REVENUE_BASIS,
    CustomerSet,
    RevenueBasis,
    counted_orders,
    revenue_value,
)
from relmark_core.periods import DEFAULT_GRAIN, DateRange, Grain, period_label, utc_bounds
from relmark_core.source import Source

__all__ = [
    "View",
    "VIEWS",
    "DEFAULT_VIEW",
    "Mode",
    "MODES",
    "DEFAULT_MODE",
    "TREND_PERIODS",
    "AVERAGE_LABEL",
    "CohortFilter",
    "CohortFilterChoices",
    "cohort_filter_choices",
    "segment_customer_ids",
    "RetentionQuery",
    "RetentionResult",
    "cohort_retention",
    "cohort_customers",
    "period_number",
    "period_number_expr",
    "period_from_number",
    "parse_period_label",
    "local_time",
    "local_day",
    "counted_customer_orders",
    "as_of_end",
]

View = Literal["first_time", "recurring"]
VIEWS: tuple[View, ...] = ("first_time", "recurring")
DEFAULT_VIEW: View = "first_time"
Mode = Literal["on", "on_or_after", "revenue"]
MODES: tuple[Mode, ...] = ("on", "on_or_after", "revenue")
DEFAULT_MODE: Mode = "on"
TREND_PERIODS: tuple[int, ...] = (1, 3)
AVERAGE_LABEL = "Weighted average"

_SHARE_COLUMN: dict[Mode, str] = {
    "on": "share_on",
    "on_or_after": "share_on_or_after",
    "revenue": "share_revenue",
}
_NUMERATOR: dict[Mode, str] = {
    "on": "active",
    "on_or_after": "active_on_or_after",
    "revenue": "revenue",
}
_EPOCH = date(1970, 1, 1)
_UTC = "UTC"


# --- periods as numbers -------------------------------------------------------------------------


def period_number(d: date, grain: Grain) -> int:
    """A calendar period as one integer, so that period k of cohort c is ``c + k``.

    Months count from year 0 (year*12 + month-1), quarters likewise, ISO weeks (Monday first)
    from the week of 1970-01-01.
    """
    if grain == "month":
        return d.year * 12 + d.month - 1
    if grain == "quarter":
        return d.year * 4 + (d.month - 1) // 3
    return ((d - _EPOCH).days + 3) // 7


def period_from_number(n: int, grain: Grain) -> date:
    """The first day of the period numbered ``n`` (inverse of :func:`period_number`)."""
    if grain == "month":
        return date(n // 12, n % 12 + 1, 1)
    if grain == "quarter":
        return date(n // 4, 3 * (n % 4) + 1, 1)
    return _EPOCH + timedelta(days=7 * n - 3)


def period_number_expr(value: TimestampValue | DateValue, grain: Grain) -> IntegerValue:
    """:func:`period_number` as an Ibis expression over a date or timestamp column."""
    if grain == "month":
        return value.year() * 12 + value.month() - 1
    if grain == "quarter":
        return value.year() * 4 + value.quarter() - 1
    day = value.date() if isinstance(value, TimestampValue) else value
    return (day.epoch_days() + 3) // 7


def parse_period_label(label: str, grain: Grain) -> date:
    """The first day of a period from its label: ``2024-03``, ``2024-Q1`` or ``2024-W09``."""
    text = label.strip()
    try:
        if grain == "month":
            y, m = text.split("-")
            return date(int(y), int(m), 1)
        if grain == "quarter":
            y, q = text.split("-Q")
            return date(int(y), 3 * (int(q) - 1) + 1, 1)
        y, w = text.split("-W")
        return date.fromisocalendar(int(y), int(w), 1)
    except ValueError as exc:
        example = {"month": "2024-03", "quarter": "2024-Q1", "week": "2024-W09"}[grain]
        raise InputRefused(
            f"'{label}' is not a {grain} label. Write it like {example}."
        ) from exc


# --- local time ---------------------------------------------------------------------------------


def _offset_changes(tz: str, lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (seconds) over [lo, hi] as (from UTC instant, offset) steps."""
    zone = ZoneInfo(tz)

    def offset(t: datetime) -> int:
        off = t.replace(tzinfo=ZoneInfo(_UTC)).astimezone(zone).utcoffset()
        return int(off.total_seconds()) if off is not None else 0

    steps = [(lo, offset(lo))]
    t = lo
    while t < hi:
        nxt = min(t + timedelta(days=1), hi)
        if offset(nxt) != steps[-1][1]:
            # find the hour the offset changed (zones change on the hour or half hour)
            h = t
            while offset(h) == steps[-1][1]:
                h += timedelta(minutes=15)
            steps.append((h, offset(h)))
        t = nxt
    return steps


def _time_span(src: Source) -> tuple[datetime, datetime] | None:
    o = src.orders
    df = src.execute(o.aggregate(lo=o.ordered_at.min(), hi=o.ordered_at.max()))
    lo, hi = df["lo"].iloc[0], df["hi"].iloc[0]
    if lo is None or pd.isna(lo):
        return None
    return pd.Timestamp(lo).to_pydatetime(), pd.Timestamp(hi).to_pydatetime()


def local_time(src: Source, ts: TimestampValue) -> TimestampValue:
    """A naive-UTC timestamp column as wall-clock time in the store's time zone.

    The offset is piecewise constant between daylight-saving changes, so it is a short CASE over
    the changes within the data's time span: portable to any backend.
    """
    if src.timezone == _UTC:
        return ts
    span = _time_span(src)
    if span is None:
        return ts
    lo, hi = span
    steps = _offset_changes(src.timezone, lo - timedelta(days=1), hi + timedelta(days=1))
    if len(steps) == 1:
        off: IntegerValue = ibis.literal(steps[0][1])
    else:
        branches = [
            (ts < ibis.literal(steps[i + 1][0]), ibis.literal(steps[i][1]))
            for i in range(len(steps) - 1)
        ]
        off = ibis.cases(*branches, else_=ibis.literal(steps[-1][1]))
    return ts + off.as_interval("s")


def local_day(src: Source, ts: TimestampValue) -> DateValue:
    """The calendar day (store time zone) of a naive-UTC timestamp column."""
    return local_time(src, ts).date()


def as_of_end(src: Source, as_of: date) -> datetime:
    """The first instant (naive UTC) after the as-of day in the store's time zone."""
    return utc_bounds(DateRange(start=as_of, end=as_of + timedelta(days=1)), src.timezone)[1]


def counted_customer_orders(src: Source, *, as_of: date) -> Table:
    """Counted orders of known customers placed on or before the as-of day."""
    o = counted_orders(src)
    return o.filter(o.customer_id.notnull(), o.ordered_at < ibis.literal(as_of_end(src, as_of)))


# --- the query ----------------------------------------------------------------------------------


class CohortFilter(BaseModel):
    """Which customers enter the cohorts (all of them when every field is empty).

    ``customer_ids`` holds a saved segment's members; ``segment_name`` only names it in the
    sentence. Categories and channels match case-insensitively.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    acquisition_channels: tuple[str, ...] = ()
    first_order_categories: tuple[str, ...] = ()
    first_order_discount: bool | None = None
    customer_ids: tuple[str, ...] | None = None
    segment_name: str | None = None

    @property
    def is_empty(self) -> bool:
        return (
            not self.acquisition_channels
            and not self.first_order_categories
            and self.first_order_discount is None
            and self.customer_ids is None
        )

    def sentence(self) -> str:
        """The filter in words, e.g. "Customers acquired via email whose first order used a
        discount code"."""
        if self.is_empty:
            return "All customers"
        parts = []
        if self.customer_ids is not None:
            name = f"'{self.segment_name}'" if self.segment_name else "the chosen segment"
            parts.append(f"in {name} ({len(self.customer_ids)} customers)")
        if self.acquisition_channels:
            parts.append("acquired via " + _or_list(self.acquisition_channels))
        if self.first_order_categories:
            parts.append("whose first order included " + _or_list(self.first_order_categories))
        if self.first_order_discount is True:
            parts.append("whose first order used a discount code")
        elif self.first_order_discount is False:
            parts.append("whose first order used no discount code")
        return "Customers " + ", ".join(parts)


def _or_list(items: tuple[str, ...]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


class CohortFilterChoices(BaseModel):
    """The values a page offers for a :class:`CohortFilter`: acquisition channels and product
    categories as the data spells them (trimmed, one spelling per case-insensitive value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acquisition_channels: tuple[str, ...] = ()
    first_order_categories: tuple[str, ...] = ()


def _distinct_texts(src: Source, column: Any) -> tuple[str, ...]:
    """Distinct non-blank values of a text column, trimmed, deduplicated ignoring case (the
    first spelling in sort order wins), sorted case-insensitively."""
    t = column.strip().name("v").as_table().distinct()
    t = t.filter(t.v.notnull(), t.v != "")
    seen: dict[str, str] = {}
    for v in sorted(str(x) for x in src.execute(t)["v"]):
        seen.setdefault(v.lower(), v)
    return tuple(sorted(seen.values(), key=str.lower))


def cohort_filter_choices(src: Source) -> CohortFilterChoices:
    """The acquisition channels of the shop's customers and the categories of its order
    lines, for the filter pickers (matching is case-insensitive, as in :class:`CohortFilter`)."""
    return CohortFilterChoices(
        acquisition_channels=_distinct_texts(src, src.customers.acquisition_channel),
        first_order_categories=_distinct_texts(src, src.order_lines.category),
    )


def segment_customer_ids(src: Source, *, segment: CustomerSet) -> tuple[str, ...]:
    """The ids of a saved segment's members, sorted, for :attr:`CohortFilter.customer_ids`."""
    ids = src.execute(segment.members(src).select("customer_id").distinct())["customer_id"]
    return tuple(sorted(str(x) for x in ids if x is not None and not pd.isna(x)))


class RetentionQuery(BaseModel):
    """What a retention matrix is computed over.

    ``as_of``: orders after this day are ignored and later periods have not happened yet.
    ``cohorts_since``: leave out cohorts (first-time view: customers) that started earlier.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    grain: Grain = DEFAULT_GRAIN
    view: View = DEFAULT_VIEW
    filters: CohortFilter = Field(default_factory=CohortFilter)
    cohorts_since: date | None = None
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS

    def sentence(self) -> str:
        base = (
            "by the " + self.grain + " of their first counted order"
            if self.view == "first_time"
            else "by every " + self.grain + " in which they ordered"
        )
        since = f", cohorts from {self.cohorts_since:%d %b %Y}" if self.cohorts_since else ""
        return f"{self.filters.sentence()}, grouped {base}{since}, as of {self.as_of:%d %b %Y}."


# --- building blocks ----------------------------------------------------------------------------


def _customer_periods(
    src: Source, q: RetentionQuery, *, with_orders: bool = False
) -> tuple[Table, Table]:
    """(per customer and period: home revenue, and the number of counted orders if asked; per
    customer: first and last period ``c`` and ``last``), filtered to the query's customers."""
    o = counted_customer_orders(src, as_of=q.as_of)
    home = ibis.ifelse(
        o.currency == src.reporting_currency, revenue_value(o, q.basis), ibis.literal(0)
    ).cast("float64")
    t = o.select(
        customer_id=o.customer_id,
        pn=period_number_expr(local_time(src, o.ordered_at), q.grain),
        rev=home,
    )
    counts = {"orders": t.count()} if with_orders else {}
    cp = t.group_by(["customer_id", "pn"]).aggregate(rev=t.rev.sum(), **counts)
    cust = cp.group_by("customer_id").aggregate(c=cp.pn.min(), last=cp.pn.max())
    cust = _apply_filters(src, cust, q)
    if q.cohorts_since is not None and q.view == "first_time":
        cust = cust.filter(cust.c >= period_number(q.cohorts_since, q.grain))
    cp = cp.join(cust, "customer_id")
    return cp, cust


def _first_orders(src: Source, q: RetentionQuery) -> Table:
    o = counted_customer_orders(src, as_of=q.as_of)
    w = ibis.window(group_by=o.customer_id, order_by=[o.ordered_at, o.order_id])
    o = o.mutate(rn=ibis.row_number().over(w))
    return o.filter(o.rn == 0).select("customer_id", "order_id", "discount_code")


def _apply_filters(src: Source, cust: Table, q: RetentionQuery) -> Table:
    f = q.filters
    if f.customer_ids is not None:
        ids = ibis.memtable(
            pd.DataFrame({"customer_id": pd.Series(list(f.customer_ids), dtype="string")})
        )
        cust = cust.semi_join(ids, "customer_id")
    if f.acquisition_channels:
        c = src.customers
        wanted = [s.strip().lower() for s in f.acquisition_channels]
        c = c.filter(c.acquisition_channel.strip().lower().isin(wanted)).select("customer_id")
        cust = cust.semi_join(c, "customer_id")
    if f.first_order_categories or f.first_order_discount is not None:
        first = _first_orders(src, q)
        if f.first_order_discount is not None:
            used = first.discount_code.notnull() & (first.discount_code.strip() != "")
            first = first.filter(used if f.first_order_discount else ~used)
        if f.first_order_categories:
            lines = src.order_lines
            wanted = [s.strip().lower() for s in f.first_order_categories]
            lines = lines.filter(lines.category.strip().lower().isin(wanted)).select("order_id")
            first = first.semi_join(lines, "order_id")
        cust = cust.semi_join(first.select("customer_id"), "customer_id")
    return cust


def _cells_query(src: Source, q: RetentionQuery) -> Table:
    cp, cust = _customer_periods(src, q)
    if q.view == "first_time":
        j = cp.mutate(k=cp.pn - cp.c, is_last=(cp.pn == cp.last).cast("int32"))
        return j.group_by([j.c, j.k]).aggregate(
            active=j.count(), last_here=j.is_last.sum(), revenue=j.rev.sum()
        )
    start = cp.select(sid=cp.customer_id, s=cp.pn, slast=cp.last)
    if q.cohorts_since is not None:
        start = start.filter(start.s >= period_number(q.cohorts_since, q.grain))
    later = cp.select(lid=cp.customer_id, lpn=cp.pn, lrev=cp.rev)
    j = start.join(later, [start.sid == later.lid, later.lpn >= start.s])
    j = j.mutate(k=j.lpn - j.s, is_last=(j.lpn == j.slast).cast("int32"))
    return j.group_by(c=j.s, k=j.k).aggregate(
        active=j.count(), last_here=j.is_last.sum(), revenue=j.lrev.sum()
    )


# --- the result ---------------------------------------------------------------------------------


_CELL_COLUMNS = [
    "cohort",
    "cohort_start",
    "period",
    "period_label",
    "size",
    "active",
    "active_on_or_after",
    "revenue",
    "share_on",
    "share_on_or_after",
    "share_revenue",
    "incomplete",
]
_COHORT_COLUMNS = ["cohort", "cohort_start", "size", "revenue", "periods"]
_CELL_TYPES: dict[str, Any] = {
    "cohort": object, "cohort_start": object, "period": "int64", "period_label": object,
    "size": "int64", "active": "int64", "active_on_or_after": "int64", "revenue": "float64",
    "share_on": "float64", "share_on_or_after": "float64", "share_revenue": object,
    "incomplete": "bool",
}
_COHORT_TYPES: dict[str, Any] = {
    "cohort": object, "cohort_start": object, "size": "int64", "revenue": "float64",
    "periods": "int64",
}


@dataclass(frozen=True)
class RetentionResult:
    """A retention matrix in long form, with the views a page draws.

    ``cells``: one row per cohort and period that has started by the as-of date: ``cohort``
    (label), ``cohort_start`` (date), ``period`` (k), ``period_label`` (the calendar period
    c + k), ``size``, ``active`` (customers with a counted order in period k),
    ``active_on_or_after``, ``revenue`` (reporting currency, in period k), ``share_on``,
    ``share_on_or_after``, ``share_revenue`` (None where period-0 revenue is 0), ``incomplete``
    (True for the period holding the as-of date unless that is its last day).

    ``cohorts``: ``cohort``, ``cohort_start``, ``size``, ``revenue`` (period 0), ``periods``
    (how many periods have started, the incomplete one included).
    """

    query: RetentionQuery
    cells: pd.DataFrame
    cohorts: pd.DataFrame
    current_period: str
    current_incomplete: bool

    @property
    def periods(self) -> int:
        """Number of period columns (p0 ... p(n-1)) of the widest cohort."""
        return int(self.cohorts["periods"].max()) if len(self.cohorts) else 0

    def matrix(self, mode: Mode = DEFAULT_MODE) -> pd.DataFrame:
        """Wide matrix: ``cohort``, ``size``, ``p0`` ... ``pN``; None where not yet happened."""
        col = _SHARE_COLUMN[mode]
        names = [f"p{k}" for k in range(self.periods)]
        rows = []
        for cohort, size in zip(self.cohorts["cohort"], self.cohorts["size"], strict=True):
            row: dict[str, object] = {"cohort": cohort, "size": int(size)}
            row.update(dict.fromkeys(names))
            rows.append(row)
        out = pd.DataFrame(rows, columns=["cohort", "size", *names]).astype(
            {n: object for n in names}
        )
        if not len(out):
            return out
        pos = {c: i for i, c in enumerate(self.cohorts["cohort"])}
        for r in self.cells.itertuples(index=False):
            v = getattr(r, col)
            out.at[pos[r.cohort], f"p{r.period}"] = None if v is None or pd.isna(v) else float(v)
        return out

    def incomplete_cells(self) -> pd.DataFrame:
        """``cohort`` and ``period`` of the cells in the incomplete current period."""
        c = self.cells[self.cells["incomplete"]]
        return c[["cohort", "period"]].reset_index(drop=True)

    def curves(self, mode: Mode = DEFAULT_MODE) -> pd.DataFrame:
        """Each cohort's curve: ``cohort``, ``period``, ``share``, ``size``, ``incomplete``."""
        c = self.cells
        out = pd.DataFrame(
            {
                "cohort": c["cohort"],
                "period": c["period"],
                "share": c[_SHARE_COLUMN[mode]],
                "size": c["size"],
                "incomplete": c["incomplete"],
            }
        )
        return out.reset_index(drop=True)

    def average_curve(self, mode: Mode = DEFAULT_MODE) -> pd.DataFrame:
        """The size-weighted average curve over cohorts whose period k is complete.

        Columns: ``period``, ``share`` (sum of numerators / sum of denominators), ``cohorts``,
        ``customers`` (sum of the cohorts' sizes).
        """
        c = self.cells[~self.cells["incomplete"]]
        rows = []
        for k, g in c.groupby("period", sort=True):
            if mode == "revenue":
                base = self.cohorts.set_index("cohort").loc[g["cohort"], "revenue"].to_numpy()
                num, den = float(g["revenue"][base > 0].sum()), float(base[base > 0].sum())
            else:
                num, den = float(g[_NUMERATOR[mode]].sum()), float(g["size"].sum())
            rows.append(
                {
                    "period": int(cast(int, k)),
                    "share": num / den if den else None,
                    "cohorts": len(g),
                    "customers": int(g["size"].sum()),
                }
            )
        return pd.DataFrame(rows, columns=["period", "share", "cohorts", "customers"])

    def trend(
        self, mode: Mode = DEFAULT_MODE, periods: tuple[int, ...] = TREND_PERIODS
    ) -> pd.DataFrame:
        """Period-1 and period-3 retention (by default) per cohort, oldest cohort first.

        Columns: ``cohort``, ``cohort_start``, ``size``, ``p1``, ``p3``; None where that period is
        not complete yet, so recent cohorts do not look like drops.
        """
        col = _SHARE_COLUMN[mode]
        done = self.cells[~self.cells["incomplete"]]
        out = self.cohorts[["cohort", "cohort_start", "size"]].copy()
        for k in periods:
            vals = done[done["period"] == k].set_index("cohort")[col]
            out[f"p{k}"] = pd.Series(
                [
                    None if c not in vals.index or pd.isna(vals[c]) else float(vals[c])
                    for c in out["cohort"]
                ],
                dtype=object,
                index=out.index,
            )
        return out.reset_index(drop=True)


def cohort_retention(src: Source, *, query: RetentionQuery) -> RetentionResult:
    """Cohort retention (both modes and revenue retention) in one query; see the module doc."""
    q = query
    raw = src.execute(_cells_query(src, q))
    cur = period_number(q.as_of, q.grain)
    cur_start = period_from_number(cur, q.grain)
    last_day = period_from_number(cur + 1, q.grain) - timedelta(days=1)
    current_incomplete = q.as_of < last_day
    cells, cohorts = _assemble(raw, q.grain, cur, current_incomplete)
    return RetentionResult(
        query=q,
        cells=cells,
        cohorts=cohorts,
        current_period=period_label(cur_start, q.grain),
        current_incomplete=current_incomplete,
    )


def _assemble(
    raw: pd.DataFrame, grain: Grain, cur: int, current_incomplete: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = raw.astype({"c": "int64", "k": "int64", "active": "int64", "last_here": "int64"})
    raw["revenue"] = raw["revenue"].astype("float64").fillna(0.0)
    base = raw[raw["k"] == 0].set_index("c").sort_index()
    cell_rows: list[dict[str, object]] = []
    cohort_rows: list[dict[str, object]] = []
    by_c = {int(cast(int, c)): g.set_index("k") for c, g in raw.groupby("c")}
    for c, b in base.iterrows():
        c = int(cast(int, c))
        size = int(b["active"])
        rev0 = float(b["revenue"])
        g = by_c[c]
        n = cur - c + 1
        active = [int(g["active"].get(k, 0)) for k in range(n)]
        last_here = [int(g["last_here"].get(k, 0)) for k in range(n)]
        revenue = [round(float(g["revenue"].get(k, 0.0)), 2) for k in range(n)]
        on_or_after = [sum(last_here[k:]) for k in range(n)]
        start = period_from_number(c, grain)
        label = period_label(start, grain)
        cohort_rows.append(
            {"cohort": label, "cohort_start": start, "size": size, "revenue": round(rev0, 2),
             "periods": n}
        )
        for k in range(n):
            cell_rows.append(
                {
                    "cohort": label,
                    "cohort_start": start,
                    "period": k,
                    "period_label": period_label(period_from_number(c + k, grain), grain),
                    "size": size,
                    "active": active[k],
                    "active_on_or_after": on_or_after[k],
                    "revenue": revenue[k],
                    "share_on": active[k] / size,
                    "share_on_or_after": on_or_after[k] / size,
                    "share_revenue": revenue[k] / rev0 if rev0 > 0 else None,
                    "incomplete": bool(current_incomplete and c + k == cur),
                }
            )
    cells = pd.DataFrame(cell_rows, columns=_CELL_COLUMNS).astype(_CELL_TYPES)
    cohorts = pd.DataFrame(cohort_rows, columns=_COHORT_COLUMNS).astype(_COHORT_TYPES)
    return cells, cohorts


def cohort_customers(
    src: Source,
    *,
    query: RetentionQuery,
    cohort: date | str,
    period: int,
    mode: Mode = DEFAULT_MODE,
) -> pd.DataFrame:
    """The customers behind one cell of the matrix.

    ``mode="on"`` and ``"revenue"``: the cohort's customers with a counted order in period k;
    ``"on_or_after"``: those with one in period k or later. Columns: ``customer_id``, ``email``,
    ``first_name``, ``last_name``, ``orders`` and ``revenue`` (in period k; reporting
    currency), ``last_order_period`` (label), sorted by revenue, then id.
    """
    q = query
    if period < 0:
        raise InputRefused(f"Period {period} does not exist: periods count from 0.")
    start = cohort if isinstance(cohort, date) else parse_period_label(cohort, q.grain)
    c = period_number(start, q.grain)
    target = c + period
    cp, cust = _customer_periods(src, q, with_orders=True)
    if q.view == "first_time":
        members = cust.filter(cust.c == c)
    else:
        members = cp.filter(cp.pn == c).select("customer_id", "last")
    if mode == "on_or_after":
        members = members.filter(members["last"] >= target)
    else:
        members = members.semi_join(cp.filter(cp.pn == target).select("customer_id"), "customer_id")
    in_k = cp.filter(cp.pn == target).select("customer_id", k_orders=cp.orders, k_rev=cp.rev)
    m = members.select("customer_id", "last").left_join(in_k, "customer_id")
    m = m.select(
        customer_id=m.customer_id,
        last=m["last"],
        orders=m.k_orders.fill_null(0),
        revenue=m.k_rev.fill_null(0.0),
    )
    people = src.customers.select("customer_id", "email", "first_name", "last_name")
    j = m.left_join(people, "customer_id")
    df = src.execute(
        j.select("customer_id", "email", "first_name", "last_name", "orders", "revenue", "last")
    )
    df = df.sort_values(["revenue", "customer_id"], ascending=[False, True]).reset_index(drop=True)
    df["orders"] = df["orders"].astype("int64")
    df["revenue"] = df["revenue"].astype("float64").round(2)
    df["last_order_period"] = [
        period_label(period_from_number(int(n), q.grain), q.grain) for n in df["last"]
    ]
    return df[
        ["customer_id", "email", "first_name", "last_name", "orders", "revenue",
         "last_order_period"]
    ]
