"""A segment definition as an Ibis filter over the customers table, and the reads built on it.

Each condition becomes a boolean Ibis expression over ``src.customers``: profile fields are
compared directly; behaviour is a membership test against a per-customer subquery
(``customer_id IN (...)``, or ``NOT IN`` when customers without orders must match, e.g.
"at most 1 order"). Every value is an Ibis literal, so the query runs on any backend and no
user text is ever part of the query's structure.

Membership is taken at an as-of day (see :mod:`relmark_core.segments.model`): counted orders and
answers up to the end of that day in the store's time zone; RFM groups as of the end of that
day (RFM's dates are UTC dates, see :mod:`relmark_core.metrics.rfm`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import pandas as pd
from ibis.expr.types import BooleanValue, Table
from pydantic import BaseModel, ConfigDict

from relmark_core.metrics import feedback, rfm
from relmark_core.metrics.common import counted_orders
from relmark_core.money import cents
from relmark_core.periods import DateRange, utc_bounds
from relmark_core.personalisation.recommend import next_best_expr
from relmark_core.segments.model import (
    AgeCondition,
    AovCondition,
    BoughtCondition,
    ConditionGroup,
    ConsentCondition,
    CsatCondition,
    DiscountCodeCondition,
    GenderCondition,
    LikelyCondition,
    LocationCondition,
    NpsCondition,
    OrderCountCondition,
    OrderDateCondition,
    RfmCondition,
    SalesChannelCondition,
    SegmentDefinition,
    SpendCondition,
    TagCondition,
    TierCondition,
)
from relmark_core.source import Source

__all__ = [
    "SAMPLE_SIZE",
    "MAX_SIZE_POINTS",
    "SAMPLE_COLUMNS",
    "SIZE_COLUMNS",
    "MEMBERSHIP_OVER_TIME",
    "SegmentSummary",
    "SegmentFilter",
    "day_end",
    "segment_filter",
    "members",
    "member_ids",
    "customer_stats",
    "segment_summary",
    "segment_sample",
    "size_over_time",
    "MAX_OPTIONS",
    "OPTION_FIELDS",
    "value_options",
    "loyalty_tiers",
]

SAMPLE_SIZE = 20
MAX_OPTIONS = 500
"""Values offered per field in the builder's pickers (the most frequent; others can be typed)."""
OPTION_FIELDS = (
    "gender", "country", "region", "city", "tags", "category", "product", "discount_code",
    "sales_channel", "rfm", "tier",
)  # fmt: skip
MAX_SIZE_POINTS = 60
SAMPLE_COLUMNS = (
    "customer_id", "name", "email", "location", "orders", "net_spend", "last_order",
    "accepts_marketing",
)  # fmt: skip
SIZE_COLUMNS = ("period", "as_of", "customers", "complete")
MEMBERSHIP_OVER_TIME = (
    "Membership at each month end: orders, spend, products, codes, channels, answers and RFM "
    "group as they stood on that day; profile fields (location, tags, gender, consent) as they "
    "are now, since Relmark keeps no history of them; age on that day. A customer counts from "
    "their sign-up or first order, whichever came first."
)

_ONE_DAY = timedelta(days=1)


def day_end(src: Source, as_of: date) -> datetime:
    """The UTC instant the as-of day ends (the local midnight after it)."""
    return utc_bounds(DateRange(start=as_of, end=as_of + _ONE_DAY), src.timezone)[1]


def _window_start(src: Source, as_of: date, days: int) -> datetime:
    """The UTC instant the N days ending on ``as_of`` (included) begin."""
    first = as_of - timedelta(days=days - 1)
    return utc_bounds(DateRange(start=first, end=first + _ONE_DAY), src.timezone)[0]


def _years_before(d: date, years: int) -> date:
    """``d`` moved back ``years`` years; 29 February becomes 28 February in other years."""
    try:
        return d.replace(year=d.year - years)
    except ValueError:
        return d.replace(year=d.year - years, day=28)


class _Compiler:
    """Compiles one definition at one as-of day (sharing the per-customer subqueries)."""

    def __init__(self, src: Source, as_of: date) -> None:
        self.src = src
        self.as_of = as_of
        self.cutoff = day_end(src, as_of)
        self.c = src.customers
        self._stats: Table | None = None

    # shared subqueries --------------------------------------------------------------------

    def counted(self, within_days: int | None = None) -> Table:
        o = counted_orders(self.src)
        o = o.filter(o.customer_id.notnull(), o.ordered_at < ibis.literal(self.cutoff))
        if within_days is not None:
            lo = _window_start(self.src, self.as_of, within_days)
            o = o.filter(o.ordered_at >= ibis.literal(lo))
        return o

    def stats(self) -> Table:
        if self._stats is None:
            self._stats = customer_stats(self.src, cutoff=self.cutoff)
        return self._stats

    def has(self, t: Table) -> BooleanValue:
        return self.c.customer_id.isin(t.customer_id)

    def lacks(self, t: Table) -> BooleanValue:
        return ~self.c.customer_id.isin(t.customer_id)

    def _in_range(self, col: Any, lo: Any, hi: Any) -> BooleanValue:
        conds = []
        if lo is not None:
            conds.append(col >= ibis.literal(lo))
        if hi is not None:
            conds.append(col <= ibis.literal(hi))
        return ibis.and_(*conds)

    def _stat_range(self, column: str, lo: Any, hi: Any, zero: Any) -> BooleanValue:
        """Customers whose per-customer value lies in [lo, hi]; customers without counted
        orders have ``zero``, so when the range holds it they match unless they are outside."""
        s = self.stats()
        inside = self._in_range(s[column], lo, hi)
        if (lo is None or lo <= zero) and (hi is None or hi >= zero):
            return self.lacks(s.filter(~inside))
        return self.has(s.filter(inside))

    # conditions ---------------------------------------------------------------------------

    def age(self, k: AgeCondition) -> BooleanValue:
        b = self.c.birthday
        conds = []
        if k.min_age is not None:  # age >= a  <=>  born on or before as_of - a years
            conds.append(b <= ibis.literal(_years_before(self.as_of, k.min_age)))
        if k.max_age is not None:  # age <= a  <=>  born after as_of - (a + 1) years
            conds.append(b > ibis.literal(_years_before(self.as_of, k.max_age + 1)))
        return ibis.and_(*conds).fill_null(False)

    def gender(self, k: GenderCondition) -> BooleanValue:
        return self.c.gender.isin(list(k.genders)).fill_null(False)

    def location(self, k: LocationCondition) -> BooleanValue:
        col = self.c[k.field]
        if k.field == "country":
            col = col.upper()
        inside = col.isin(list(k.values)).fill_null(False)
        return ~inside if k.exclude else inside

    def tags(self, k: TagCondition) -> BooleanValue:
        has = [self.c.tags.contains(t).fill_null(False) for t in k.tags]
        if k.match == "all":
            return ibis.and_(*has)
        anyof = ibis.or_(*has)
        return ~anyof if k.match == "none" else anyof

    def orders(self, k: OrderCountCondition) -> BooleanValue:
        return self._stat_range("orders", k.min_orders, k.max_orders, 0)

    def spend(self, k: SpendCondition) -> BooleanValue:
        return self._stat_range("spend", k.min_spend, k.max_spend, Decimal(0))

    def aov(self, k: AovCondition) -> BooleanValue:
        s = self.stats()
        s = s.filter(s.home_orders > 0)
        aov = s.spend / s.home_orders
        return self.has(s.filter(self._in_range(aov, k.min_aov, k.max_aov)))

    def order_date(self, k: OrderDateCondition) -> BooleanValue:
        s = self.stats()
        col = s.first_order_at if k.which == "first" else s.last_order_at
        if k.within_days is not None:
            cond = col >= ibis.literal(_window_start(self.src, self.as_of, k.within_days))
        elif k.over_days is not None:
            cond = col < ibis.literal(_window_start(self.src, self.as_of, k.over_days))
        else:
            conds = []
            if k.start is not None:
                conds.append(col >= ibis.literal(_local_midnight(self.src, k.start)))
            if k.end is not None:
                conds.append(col < ibis.literal(_local_midnight(self.src, k.end + _ONE_DAY)))
            cond = ibis.and_(*conds)
        return self.has(s.filter(cond))

    def bought(self, k: BoughtCondition) -> BooleanValue:
        o = self.counted(k.within_days)
        lines = self.src.order_lines
        lines = lines.filter(lines[k.what].isin(list(k.values)))
        j = o.inner_join(lines, o.order_id == lines.order_id)
        buyers = j.select(customer_id=o.customer_id)
        return self.has(buyers) if k.bought else self.lacks(buyers)

    def discount_code(self, k: DiscountCodeCondition) -> BooleanValue:
        o = self.counted(k.within_days)
        code = o.discount_code.strip()
        used = code.upper().isin(list(k.codes)) if k.codes else code.length() > 0
        users = o.filter(used)
        return self.has(users) if k.used else self.lacks(users)

    def sales_channel(self, k: SalesChannelCondition) -> BooleanValue:
        o = self.counted(k.within_days)
        return self.has(o.filter(o.sales_channel.isin(list(k.channels))))

    def latest(self, kind: feedback.ScoreKind) -> Table:
        """Each customer's latest answer of ``kind`` by the end of the as-of day (ties: the
        larger response id), with only the columns a condition needs (``customer_id``,
        ``score``): the comment text is not carried through the window."""
        f = feedback.answers(self.src, kind=kind)
        f = f.filter(f.customer_id.notnull(), f.answered_at < ibis.literal(self.cutoff))
        f = f.select("customer_id", "response_id", "answered_at", "score")
        w = ibis.window(
            group_by=f.customer_id, order_by=[f.answered_at.desc(), f.response_id.desc()]
        )
        ranked = f.mutate(_n=ibis.row_number().over(w))
        latest = ranked.filter(ranked._n == 0)
        return latest.select("customer_id", "score")

    def nps(self, k: NpsCondition) -> BooleanValue:
        latest = self.latest("nps")
        return self.has(latest.filter(feedback.nps_group_of(latest.score).isin(list(k.groups))))

    def csat(self, k: CsatCondition) -> BooleanValue:
        latest = self.latest("csat")
        return self.has(latest.filter(self._in_range(latest.score, k.min_score, k.max_score)))

    def consent(self, k: ConsentCondition) -> BooleanValue:
        from relmark_core.privacy.consent import consent_table

        rows = consent_table(self.src, k.channel)
        accepts = self.has(rows.filter(rows.granted))
        if k.channel == "email":  # no row: the customers table's earlier yes/no answer
            accepts = accepts | (self.lacks(rows) & self.c.accepts_marketing.fill_null(False))
        return accepts if k.consented else ~accepts

    def rfm(self, k: RfmCondition) -> BooleanValue:
        t = rfm.rfm_group_expr(
            self.src, as_of=self.as_of + _ONE_DAY, groups=rfm.load_groups_for(self.src)
        )
        return self.has(t.filter(t.group.isin(list(k.groups))))

    def tier(self, k: TierCondition) -> BooleanValue:
        t = loyalty_tiers(self.src, as_of=self.as_of)
        return self.has(t.filter(t.tier.isin(list(k.tiers))))

    def likely(self, k: LikelyCondition) -> BooleanValue:
        nb = next_best_expr(self.src, min_count=k.min_customers, cutoff=self.cutoff, top=k.top)
        return self.has(nb.filter(nb["product"] == ibis.literal(k.product)))

    # combining ----------------------------------------------------------------------------

    def condition(self, k: Any) -> BooleanValue:
        if isinstance(k, ConditionGroup):
            return self.combine([self.condition(x) for x in k.conditions], k.match)
        fn: Callable[[Any], BooleanValue] = getattr(self, k.kind)
        return fn(k)

    @staticmethod
    def combine(exprs: list[BooleanValue], match: str) -> BooleanValue:
        if not exprs:
            return ibis.literal(True)
        if len(exprs) == 1:
            return exprs[0]
        return ibis.and_(*exprs) if match == "all" else ibis.or_(*exprs)

    def definition(self, d: SegmentDefinition) -> BooleanValue:
        return self.combine([self.condition(k) for k in d.conditions], d.match)


def _local_midnight(src: Source, d: date) -> datetime:
    return utc_bounds(DateRange(start=d, end=d + _ONE_DAY), src.timezone)[0]


def loyalty_tiers(src: Source, *, as_of: date) -> Table:
    """Members' loyalty tiers at ``as_of`` (``customer_id``, ``tier``) as an Ibis table; empty
    without an active program. The replay runs in Python on the local store
    (:func:`relmark_core.loyalty.customer_tiers`); its result travels as an in-memory table."""
    from relmark_core import loyalty

    df = loyalty.customer_tiers(src, as_of=as_of)[["customer_id", "tier"]].astype(object)
    return ibis.memtable(df, schema={"customer_id": "string", "tier": "string"})


def customer_stats(src: Source, *, cutoff: datetime) -> Table:
    """Per customer with a counted order before ``cutoff`` (a UTC instant): ``customer_id``,
    ``orders`` (every currency), ``spend`` (net, reporting currency), ``home_orders``
    (reporting-currency orders, for AOV), ``first_order_at``, ``last_order_at``."""
    o = counted_orders(src)
    o = o.filter(o.customer_id.notnull(), o.ordered_at < ibis.literal(cutoff))
    home = o.currency == src.reporting_currency
    return o.group_by("customer_id").aggregate(
        orders=o.count(),
        spend=ibis.ifelse(home, o.net, 0).sum(),
        home_orders=home.cast("int32").sum(),
        first_order_at=o.ordered_at.min(),
        last_order_at=o.ordered_at.max(),
    )


def segment_filter(src: Source, definition: SegmentDefinition, *, as_of: date) -> BooleanValue:
    """The definition as a boolean Ibis expression over ``src.customers`` at ``as_of``."""
    return _Compiler(src, as_of).definition(definition)


def members(src: Source, definition: SegmentDefinition, *, as_of: date) -> Table:
    """The segment's customers (rows of ``src.customers``) at ``as_of``."""
    return src.customers.filter(segment_filter(src, definition, as_of=as_of))


def member_ids(src: Source, definition: SegmentDefinition, *, as_of: date) -> Table:
    """The segment's customers as a one-column table (``customer_id``), for joins and
    :func:`relmark_core.metrics.common.for_segment`."""
    return members(src, definition, as_of=as_of).select("customer_id")


class SegmentFilter(BaseModel):
    """A saved segment applied as a filter (the sidebar's choice): which customers, at which
    as-of day. Pass it as ``segment=`` to metrics; see
    :func:`relmark_core.metrics.common.for_segment`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segment_id: int
    name: str
    definition: SegmentDefinition
    as_of: date

    def members(self, src: Source) -> Table:
        return member_ids(src, self.definition, as_of=self.as_of)

    def sentence(self, currency: str = "USD") -> str:
        return self.definition.sentence(currency)


class SegmentSummary(BaseModel):
    """The live numbers of a segment at an as-of day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    currency: str
    customers: int
    all_customers: int
    share: float | None
    revenue: Decimal
    orders: int
    sentence: str


def segment_summary(src: Source, *, definition: SegmentDefinition, as_of: date) -> SegmentSummary:
    """How many customers the segment holds, their share of all customers, and their counted
    orders and net revenue (reporting currency) up to ``as_of``."""
    comp = _Compiler(src, as_of)
    m = src.customers.filter(comp.definition(definition)).select("customer_id")
    s = comp.stats()
    j = m.left_join(s, m.customer_id == s.customer_id)
    got = src.execute(
        j.aggregate(
            customers=j.count(),
            revenue=j.spend.sum(),
            orders=j.orders.sum(),
        )
    )
    total = int(src.execute(src.customers.count()))
    customers = int(got["customers"].iloc[0])
    revenue = got["revenue"].iloc[0]
    orders = got["orders"].iloc[0]
    return SegmentSummary(
        as_of=as_of,
        currency=src.reporting_currency,
        customers=customers,
        all_customers=total,
        share=customers / total if total else None,
        revenue=cents(None if revenue is None or pd.isna(revenue) else revenue),
        orders=0 if orders is None or pd.isna(orders) else int(orders),
        sentence=definition.sentence(src.reporting_currency),
    )


def segment_sample(
    src: Source, *, definition: SegmentDefinition, as_of: date, limit: int = SAMPLE_SIZE
) -> pd.DataFrame:
    """Up to ``limit`` members, biggest spenders first (then by id): :data:`SAMPLE_COLUMNS`
    (``net_spend`` float in the reporting currency, ``last_order`` UTC timestamp)."""
    comp = _Compiler(src, as_of)
    c = src.customers
    m = c.filter(comp.definition(definition))
    s = comp.stats()
    j = m.left_join(s, m.customer_id == s.customer_id)
    out = j.select(
        customer_id=m.customer_id,
        name=feedback.customer_name(m),
        email=m.email,
        location=ibis.literal(", ").join([m.city, m.region, m.country]).nullif(""),
        orders=j.orders.fill_null(0),
        net_spend=j.spend.fill_null(0).cast("float64"),
        last_order=j.last_order_at,
        accepts_marketing=m.accepts_marketing.fill_null(False),
    )
    out = out.order_by([ibis.desc("net_spend"), "customer_id"]).limit(limit)
    df = src.execute(out)
    df["orders"] = df["orders"].astype("int64")
    df["net_spend"] = df["net_spend"].round(2)
    return df[list(SAMPLE_COLUMNS)]


def _month_ends(rng: DateRange) -> list[tuple[date, bool]]:
    """Month ends inside the range, and the range's last day when it is not one (partial)."""
    last = rng.end - _ONE_DAY
    out: list[tuple[date, bool]] = []
    d = rng.start.replace(day=1)
    while True:
        nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = nxt - _ONE_DAY
        if end > last:
            break
        if end >= rng.start:
            out.append((end, True))
        d = nxt
    if not out or out[-1][0] != last:
        out.append((last, False))
    return out[-MAX_SIZE_POINTS:]


def size_over_time(
    src: Source, *, definition: SegmentDefinition, rng: DateRange
) -> pd.DataFrame:
    """Segment size at each month end in ``rng`` (see :data:`MEMBERSHIP_OVER_TIME`), plus the
    range's last day when it is not a month end (``complete`` False), at most
    :data:`MAX_SIZE_POINTS` points (the latest).

    Columns: ``period`` (``2024-03``), ``as_of`` (date), ``customers``, ``complete``.
    """
    points = _month_ends(rng)
    parts = []
    for i, (day, _) in enumerate(points):
        comp = _Compiler(src, day)
        c = src.customers
        o = src.orders
        seen = o.filter(o.customer_id.notnull(), o.ordered_at < ibis.literal(comp.cutoff))
        known = (c.signup_at < ibis.literal(comp.cutoff)).fill_null(False) | c.customer_id.isin(
            seen.customer_id
        )
        m = c.filter(known, comp.definition(definition))
        parts.append(m.aggregate(i=ibis.literal(i), customers=m.count()))
    u = ibis.union(*parts) if len(parts) > 1 else parts[0]
    got = src.execute(u)
    counts = {int(r.i): int(r.customers) for r in got.itertuples()}
    rows = [
        {
            "period": f"{day.year}-{day.month:02d}",
            "as_of": day,
            "customers": counts.get(i, 0),
            "complete": complete,
        }
        for i, (day, complete) in enumerate(points)
    ]
    return pd.DataFrame(rows, columns=list(SIZE_COLUMNS))


def value_options(src: Source, *, limit: int = MAX_OPTIONS) -> dict[str, list[str]]:
    """The values the builder offers for each of :data:`OPTION_FIELDS`, most frequent first
    (at most ``limit`` each): genders, countries (upper-case), regions, cities, tags,
    categories and products bought, discount codes (upper-case), sales channels, and the
    shop's RFM group names in their order."""
    c = src.customers
    o = src.orders
    lines = src.order_lines
    tags = c.select(v=c.tags.unnest())
    parts = {
        "gender": c.select(v=c.gender),
        "country": c.select(v=c.country.upper()),
        "region": c.select(v=c.region),
        "city": c.select(v=c.city),
        "tags": tags.select(v=tags.v.lower()),
        "category": lines.select(v=lines.category),
        "product": lines.select(v=lines.product),
        "discount_code": o.select(v=o.discount_code.strip().upper()),
        "sales_channel": o.select(v=o.sales_channel),
    }
    counted = []
    for name, t in parts.items():
        t = t.filter(t.v.notnull(), t.v.strip() != "")
        counted.append(t.group_by("v").aggregate(n=t.count()).mutate(field=ibis.literal(name)))
    got = src.execute(ibis.union(*counted))
    got = got.sort_values(["field", "n", "v"], ascending=[True, False, True])
    out: dict[str, list[str]] = {name: [] for name in OPTION_FIELDS}
    for name, grp in got.groupby("field", sort=False):
        out[str(name)] = [str(v) for v in grp["v"].head(limit)]
    out["rfm"] = list(dict.fromkeys(g.name for g in rfm.load_groups_for(src)))
    out["tier"] = _tier_names(src)
    return out


def _tier_names(src: Source) -> list[str]:
    """The active loyalty program's tiers, lowest first (none without a program)."""
    from relmark_core import loyalty

    conn = src.state if src.state is not None else getattr(src.backend, "con", None)
    if conn is None:
        return []
    active = loyalty.active_version(conn)
    return [] if active is None else [t.name for t in active.program.tier_list()]
