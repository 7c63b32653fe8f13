"""The loyalty replay: a program, or a timeline of program versions, run over the stored orders.

Set-based: one SQL query per input (counted orders; their order lines when a line multiplier
needs each order's line shares, summed per order in numpy by the order's position; each kind of
bonus event) hands numeric arrays sorted by (customer, time) to numpy, and every running quantity per
customer — qualifying totals, tiers, caps, balances, first-in-first-out expiry — is a segmented
cumulative sum or maximum, or a binary search, over those arrays. Python loops run only over
versions, rules, tiers and years, never over orders or customers.

Conventions (the sentences in :mod:`relmark_core.loyalty.model` say the same):

* Times are seconds of the store's local time (time zone from the settings); a day starts at
  local midnight. Points are earned at the order's time.
* Customers are told apart by a 64-bit hash of their id (two ids sharing a hash would be merged;
  at a million customers the chance is about 3 in 10^8).
* An order's points apply, in this order: points-per-spend rules, category/product multipliers,
  channel multipliers, promotions (each multiplies what came before; rounded down once per
  order), then the tier multiplier (rounded down), then caps. Each rule's share of the points is
  the increase of the rounded-down running total it caused, so the shares add up exactly.
* Tiers are decided on qualifying points (before the tier multiplier and caps) or net spend in
  cents. An order earns at the tier held just before it.
* Redemptions spend the points closest to expiry first (oldest first when all expire alike).
  Expired points: at each expiry day, whatever remains of the points due that day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from relmark_core.errors import InputRefused
from relmark_core.loyalty.model import (
    BonusEvent,
    LoyaltyProgram,
    Multiplier,
    PointsPerSpend,
    Promotion,
    Tier,
    factor_text,
)
from relmark_core.metrics.common import NOT_COUNTED_STATUSES
from relmark_core.periods import DateRange, utc_bounds

__all__ = [
    "SECONDS_PER_DAY",
    "ROLLING_WINDOW_DAYS",
    "DEFAULT_REDEMPTION_RATE",
    "REDEMPTION_LAG_DAYS",
    "Segment",
    "RuleInfo",
    "Replay",
    "ProgressCallback",
    "run_replay",
    "connection_of",
    "day_seconds",
    "seconds_to_date",
    "local_to_utc",
    "month_index",
]

SECONDS_PER_DAY = 86_400
ROLLING_WINDOW_DAYS = 365
DEFAULT_REDEMPTION_RATE = 0.30
REDEMPTION_LAG_DAYS = 30  # assumed redemptions happen this long after the points were earned
_SHIFT = 34  # composite key: customer index << _SHIFT | seconds since the replay's first day
_MAX_OFFSET = (1 << _SHIFT) - 1
NEVER = np.int64(1) << np.int64(60)  # "does not expire"
_EPS = 1e-9  # guards floor() against 12.3 * 100 = 1229.9999...
_EPOCH = date(1970, 1, 1)
_LUT_MAX_DAYS = 100_000
_DENSE_LOOKUP_FACTOR = 4  # row ids spread over at most 4× their count: look them up in a table

# numpy's dtype generics fight every ufunc result; the names document intent
IntArray = npt.NDArray[Any]
FloatArray = npt.NDArray[Any]
BoolArray = npt.NDArray[Any]
ProgressCallback = Callable[[float, str], None]

# tier move causes
MOVE_EVENT, MOVE_WINDOW, MOVE_NEW_YEAR, MOVE_NEW_VERSION = 0, 1, 2, 3


def day_seconds(d: date) -> int:
    """Local midnight of ``d`` as seconds since 1970-01-01 (store time)."""
    return (d - _EPOCH).days * SECONDS_PER_DAY


def seconds_to_date(t: int) -> date:
    return _EPOCH + timedelta(days=int(t) // SECONDS_PER_DAY)


def _per_day(t: IntArray, fn: Callable[[npt.NDArray[Any]], IntArray]) -> IntArray:
    """``fn`` (datetime64[D] days → int64) of each time's day, through a lookup table over the
    few hundred days the times span (a calendar conversion per element is ten times slower)."""
    d = np.asarray(t, dtype=np.int64) // SECONDS_PER_DAY
    if not len(d):
        return np.zeros(0, dtype=np.int64)
    d0 = int(d.min())
    span = int(d.max()) - d0 + 1
    if span > _LUT_MAX_DAYS:
        return fn(d.astype("datetime64[D]"))
    lut = fn(np.arange(d0, d0 + span, dtype=np.int64).astype("datetime64[D]"))
    d -= d0
    return lut[d]


def month_index(t: IntArray) -> IntArray:
    """Months since January 1970 of each time."""
    return _per_day(t, lambda d: d.astype("datetime64[M]").astype(np.int64))


def _year(t: IntArray) -> IntArray:
    return _per_day(t, lambda d: d.astype("datetime64[Y]").astype(np.int64) + 1970)


def _plus_months(d: npt.NDArray[Any], months: int) -> IntArray:
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + np.timedelta64(months, "M")
    last = ((m2 + np.timedelta64(1, "M")).astype("datetime64[D]") - m2.astype("datetime64[D]")).astype(
        np.int64
    ) - 1
    out = m2.astype("datetime64[D]") + np.minimum(dom, last).astype("timedelta64[D]")
    return out.astype(np.int64)


def _add_months(t: IntArray, months: int) -> IntArray:
    """Midnight of the same day of the month ``months`` later (31 Aug + 6 → 28/29 Feb)."""
    out = _per_day(t, lambda d: _plus_months(d, months))
    out *= SECONDS_PER_DAY
    return out


def _floor(x: FloatArray) -> IntArray:
    y = np.add(x, _EPS)
    np.floor(y, out=y)
    return y.astype(np.int64)


def _within(mask: BoolArray | None, new: Any, old: Any) -> Any:
    """``new`` where ``mask`` holds, else ``old``; a mask of None holds everywhere."""
    return new if mask is None else np.where(mask, new, old)


def _group_ids(first: BoolArray) -> IntArray:
    return np.cumsum(first, dtype=np.int64) - 1


def _firsts(*keys: npt.NDArray[Any]) -> BoolArray:
    """True where a row starts a new group of equal consecutive keys."""
    n = len(keys[0])
    first = np.zeros(n, dtype=bool)
    if n:
        first[0] = True
        for k in keys:
            first[1:] |= k[1:] != k[:-1]
    return first


def _seg_cumsum(values: npt.NDArray[Any], first: BoolArray,
                group: IntArray | None = None) -> npt.NDArray[Any]:
    """Running sum restarting where ``first`` is True (``group``: its group ids, if known)."""
    if not len(values):
        return values.copy()
    cs = np.cumsum(values)
    base = (cs - values)[first]
    cs -= base[_group_ids(first) if group is None else group]
    return cs


def _seg_cummax(values: FloatArray, first: BoolArray) -> FloatArray:
    if not len(values):
        return values.copy()
    s = pd.Series(values)
    return s.groupby(_group_ids(first)).cummax().to_numpy(dtype=np.float64)


def connection_of(conn_or_src: Any) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection behind a store connection or a :class:`~relmark_core.source.Source`."""
    if isinstance(conn_or_src, duckdb.DuckDBPyConnection):
        return conn_or_src
    con = getattr(getattr(conn_or_src, "backend", None), "con", None)
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con
    raise InputRefused(
        "The loyalty replay runs on Relmark's local store; this source is a warehouse. Import "
        "the orders into Relmark to simulate a program."
    )


@dataclass(frozen=True)
class Segment:
    """A program in force from ``start`` (included) to ``end`` (excluded), store-time days."""

    program: LoyaltyProgram
    start: date
    end: date
    version_id: int | None = None


@dataclass(frozen=True)
class RuleInfo:
    """A source of points (or of their reduction) for the "points by rule" table."""

    version: int
    kind: str  # earn | bonus | tier | cap
    label: str


class _Stream:
    """Events of every customer in (customer, time) order with running sums per customer."""

    def __init__(self, cust: IntArray, t: IntArray, lo: int) -> None:
        self.cust = cust
        self.t = t
        self.lo = lo
        self.first = _firsts(cust)
        n_groups = int(self.first.sum())
        # customers numbered 0, 1, 2… with no gap (the usual case) are their own group ids
        dense = n_groups > 0 and int(cust[0]) == 0 and int(cust[-1]) == n_groups - 1
        self.group = cust if dense else _group_ids(self.first)
        self.cums: dict[str, IntArray] = {}
        self._key: IntArray | None = None

    @property
    def key(self) -> IntArray:
        """(customer << _SHIFT | seconds since the start), sorted: for binary searches."""
        if self._key is None:
            self._key = (self.cust << _SHIFT) | np.clip(self.t - self.lo, 0, _MAX_OFFSET)
        return self._key

    def add(self, name: str, values: IntArray) -> IntArray:
        self.cums[name] = _seg_cumsum(np.asarray(values, dtype=np.int64), self.first, self.group)
        return self.cums[name]

    def total(self, name: str, cust: IntArray, when: IntArray, *, inclusive: bool) -> IntArray:
        """Running sum of ``name`` for each (customer, time): events at ``when`` included or not."""
        cum = self.cums[name]
        out = np.zeros(len(cust), dtype=np.int64)
        if not len(cum) or not len(cust):
            return out
        off = when - self.lo
        ok = off >= (0 if inclusive else 1)
        q = (cust << _SHIFT) | np.clip(off, 0, _MAX_OFFSET)
        pos = np.searchsorted(self.key, q, side="right" if inclusive else "left") - 1
        safe = np.clip(pos, 0, len(cum) - 1)
        hit = ok & (pos >= 0) & (self.cust[safe] == cust)
        out[hit] = cum[safe[hit]]
        return out


@dataclass
class _TierRule:
    """One version's tier rules as arrays."""

    period: str
    basis: str  # "points" | "spend" (cents)
    demotion: str
    thresholds: IntArray
    multipliers: FloatArray  # by level: [1.0, tier 1, ...]
    names: list[str]
    held: IntArray | None = None  # calendar year: level held from last year, [customer, year]
    year0: int = 0

    def level(self, q: IntArray) -> IntArray:
        """How many thresholds (lowest first) ``q`` reaches: one comparison per tier, cheaper
        than a binary search over a handful of thresholds."""
        out = np.zeros(np.shape(q), dtype=np.int64)
        for threshold in self.thresholds:
            out += q >= threshold
        return out


@dataclass
class Replay:
    """Everything a replay found, as arrays (see :func:`run_replay`).

    Customers are numbered 0..n_cust-1 (``cust_h`` their id hashes, ``cust_id`` their ids in
    ledger mode). ``o_*`` are the counted reporting-currency orders of the window, ``b_*`` the
    bonus events, ``l_*`` the lots (earnings with points > 0), ``r_*`` the redemptions, ``m_*``
    the tier moves.
    """

    segments: list[Segment]
    currency: str
    tz: str
    lo_sec: int
    hi_sec: int
    rules: list[RuleInfo]
    rule_points: FloatArray
    n_cust: int
    cust_h: npt.NDArray[np.uint64]
    cust_id: npt.NDArray[Any] | None
    first_t: IntArray
    net_revenue: float
    o_cust: IntArray
    o_t: IntArray
    o_v: IntArray
    o_net: FloatArray
    o_shipping: FloatArray  # zeros unless a version's paid membership waives shipping
    o_final: IntArray
    o_fin_float: FloatArray
    o_level: IntArray
    o_contrib: list[tuple[int, IntArray]]
    o_ids: dict[str, npt.NDArray[Any]]
    b_cust: IntArray
    b_t: IntArray
    b_v: IntArray
    b_points: IntArray
    b_rule: IntArray
    b_key: npt.NDArray[Any]
    b_utc: npt.NDArray[Any]
    l_cust: IntArray
    l_t: IntArray
    l_amt: IntArray
    l_x: IntArray
    l_v: IntArray
    l_src: IntArray
    l_expired: FloatArray
    r_cust: IntArray
    r_t: FloatArray
    r_amt: FloatArray
    r_cost: FloatArray
    r_src: IntArray
    r_label: npt.NDArray[Any]
    redemption_source: str
    redemption_rate: float
    m_cust: IntArray
    m_t: IntArray
    m_from: IntArray
    m_to: IntArray
    m_v: IntArray
    m_cause: IntArray
    m_q: IntArray
    end_level: IntArray
    end_q: IntArray
    end_held: IntArray
    best_q: int | None
    tier_rules: list[_TierRule | None] = field(default_factory=list)
    line_rules: list[list[tuple[int, Multiplier]]] = field(default_factory=list)

    @property
    def lo(self) -> date:
        return seconds_to_date(self.lo_sec)

    @property
    def hi(self) -> date:
        return seconds_to_date(self.hi_sec)

    def version_at(self, t: IntArray) -> IntArray:
        starts = np.asarray([day_seconds(s.start) for s in self.segments], dtype=np.int64)
        return np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)


# --- SQL inputs ---------------------------------------------------------------------------------


def _local(column: str, tz: str) -> str:
    """A column's UTC timestamp as store-time seconds (SQL text over fixed column names)."""
    if tz == "UTC":
        return f"(epoch_us({column}) // 1000000)"
    return f"(epoch_us(({column} AT TIME ZONE 'UTC') AT TIME ZONE $tz) // 1000000)"


_COUNTED = "NOT list_contains($not_counted, o.status) AND o.net > 0"


def _orders(
    conn: duckdb.DuckDBPyConnection,
    *,
    lo_utc: datetime,
    hi_utc: datetime,
    currency: str,
    tz: str,
    line_factors: list[list[Multiplier]],
    channels: list[str],
    codes: list[str],
    customer_id: str | None,
    with_ids: bool,
    with_shipping: bool,
) -> dict[str, npt.NDArray[Any]]:
    """The counted orders of the window in (customer hash, time, order hash) order: ``h``,
    ``t`` (store-time seconds), ``net`` (float), ``shipping`` (when asked), ``ch``/``code``
    (positions in ``channels``/``codes``, -1 for none), ``lf0``… (each line multiplier's factor
    over the order's line value) and, with ids, the order and customer ids and UTC times.

    Only the columns the replay reads travel: every column fetched is also carried through
    DuckDB's sort of the 5M-row result."""
    where_params: dict[str, Any] = {
        "lo": lo_utc, "hi": hi_utc, "cur": currency, "not_counted": list(NOT_COUNTED_STATUSES),
    }
    where = (
        f"{_COUNTED} AND o.currency = $cur AND o.customer_id IS NOT NULL "
        "AND o.ordered_at >= $lo AND o.ordered_at < $hi"
    )
    if customer_id is not None:
        where += " AND o.customer_id = $cid"
        where_params["cid"] = customer_id
    params = dict(where_params)
    if tz != "UTC":
        params["tz"] = tz
    cols = [
        "hash(o.customer_id) AS h",
        f"{_local('o.ordered_at', tz)} AS t",
        "CAST(o.net AS DOUBLE) AS net",
    ]
    if with_shipping:
        cols.append("CAST(coalesce(o.shipping, 0) AS DOUBLE) AS shipping")
    if channels:
        params["channels"] = channels
        cols.append("coalesce(list_position($channels, o.sales_channel), 0) - 1 AS ch")
    if codes:
        params["codes"] = codes
        cols.append("coalesce(list_position($codes, upper(trim(o.discount_code))), 0) - 1 AS code")
    line_params: dict[str, Any] = {}
    vf_cols: list[str] = []
    for rules in line_factors:
        running: list[str] = []
        for rule in rules:
            n = len(vf_cols)
            column = "l.category" if rule.on == "category" else "l.product"  # allow-list
            line_params[f"m{n}"] = rule.value
            line_params[f"f{n}"] = float(rule.factor)
            running.append(f"(CASE WHEN {column} = $m{n} THEN $f{n} ELSE 1.0 END)")
            vf_cols.append(f"v * {' * '.join(running)} AS vf{n}")
    if with_ids:
        cols += ["o.order_id", "o.source_order_id", "o.customer_id", "o.ordered_at"]
    if vf_cols:
        cols.append("o.rowid AS r")
    sql = (
        f"SELECT {', '.join(cols)} FROM orders o WHERE {where} "  # noqa: S608 - fixed SQL; values are bound
        # ties (one customer, one second) by the order id's hash: the same order on every run
        "ORDER BY h, t, hash(o.order_id)"
    )
    out = {k: np.asarray(v) for k, v in conn.execute(sql, params).fetchnumpy().items()}
    if vf_cols:
        # each line's value and its value × the running line factors, with its order's row:
        # summed per order here (bincount over the order's position) rather than by a GROUP BY,
        # whose hash table over millions of orders costs more than the join itself
        lines = conn.execute(
            f"SELECT o.r, v, {', '.join(vf_cols)} FROM (SELECT l.order_id, l.category, l.product, "  # noqa: S608 - fixed SQL; values are bound
            "CAST(coalesce(l.unit_price, 0) * coalesce(l.quantity, 0) AS DOUBLE) AS v "
            f"FROM order_lines l) l JOIN (SELECT o.order_id, o.rowid AS r FROM orders o WHERE {where}) o "
            "USING (order_id)",
            {**where_params, **line_params},
        ).fetchnumpy()
        rows = out.pop("r")
        at = _positions(rows, np.asarray(lines["r"]))
        total = np.bincount(at, weights=np.asarray(lines["v"]), minlength=len(rows))
        for i in range(len(vf_cols)):
            factored = np.bincount(at, weights=np.asarray(lines[f"vf{i}"]), minlength=len(rows))
            # sum(v × factors) / sum(v); 1 for orders without lines or without line value
            out[f"lf{i}"] = np.divide(factored, total, out=np.ones(len(rows)), where=total != 0)
    return out


def _positions(rows: IntArray, wanted: IntArray) -> IntArray:
    """Where each of ``wanted`` sits in ``rows`` (distinct row ids; every wanted one is there)."""
    if not len(wanted):
        return np.zeros(0, dtype=np.int64)
    lo = int(rows.min())
    span = int(rows.max()) - lo + 1
    if span <= _DENSE_LOOKUP_FACTOR * len(rows):  # row ids close together: a lookup table
        table = np.zeros(span, dtype=np.int64)
        table[rows - lo] = np.arange(len(rows), dtype=np.int64)
        return table[wanted - lo]
    order = np.argsort(rows)
    return order[np.searchsorted(rows, wanted, sorter=order)].astype(np.int64)


def _net_revenue(
    conn: duckdb.DuckDBPyConnection, lo_utc: datetime, hi_utc: datetime, currency: str,
    customer_id: str | None,
) -> float:
    params: dict[str, Any] = {
        "lo": lo_utc, "hi": hi_utc, "cur": currency, "not_counted": list(NOT_COUNTED_STATUSES),
    }
    extra = ""
    if customer_id is not None:
        extra = " AND o.customer_id = $cid"
        params["cid"] = customer_id
    rows = conn.execute(
        f"SELECT CAST(coalesce(sum(o.net), 0) AS DOUBLE) FROM orders o WHERE {_COUNTED} "  # noqa: S608 - fixed SQL; values are bound
        f"AND o.currency = $cur AND o.ordered_at >= $lo AND o.ordered_at < $hi{extra}",
        params,
    ).fetchall()
    return float(rows[0][0])


def _bonus_rows(
    conn: duckdb.DuckDBPyConnection,
    rule: BonusEvent,
    *,
    lo_utc: datetime,
    hi_utc: datetime,
    tz: str,
    customer_id: str | None,
) -> dict[str, Any]:
    """(h, t, detail, customer_id, utc) of the rule's events in the window (not birthdays)."""
    params: dict[str, Any] = {"lo": lo_utc, "hi": hi_utc}
    if tz != "UTC":
        params["tz"] = tz
    who = ""
    if customer_id is not None:
        params["cid"] = customer_id
        who = " AND customer_id = $cid"
    if rule.event == "signup":
        sql = (
            f"SELECT hash(customer_id) AS h, {_local('signup_at', tz)} AS t, '' AS detail, "  # noqa: S608 - fixed SQL; values are bound
            "customer_id, signup_at AS utc FROM customers "
            f"WHERE signup_at >= $lo AND signup_at < $hi{who}"
        )
    elif rule.event in ("first_order", "referral"):
        params["not_counted"] = list(NOT_COUNTED_STATUSES)
        referral = (
            " AND customer_id IN (SELECT customer_id FROM customers "
            "WHERE lower(trim(acquisition_channel)) = 'referral')"
            if rule.event == "referral"
            else ""
        )
        sql = (
            f"SELECT hash(customer_id) AS h, {_local('first', tz)} AS t, '' AS detail, "  # noqa: S608 - fixed SQL; values are bound
            "customer_id, first AS utc FROM (SELECT o.customer_id, min(o.ordered_at) AS first "
            f"FROM orders o WHERE {_COUNTED} AND o.customer_id IS NOT NULL"
            f"{who.replace('customer_id', 'o.customer_id')} GROUP BY o.customer_id) "
            f"WHERE first >= $lo AND first < $hi{referral}"
        )
    else:
        params["kinds"] = ["nps", "csat"] if rule.event == "feedback" else ["review"]
        sql = (
            f"SELECT hash(customer_id) AS h, {_local('answered_at', tz)} AS t, "  # noqa: S608 - fixed SQL; values are bound
            "response_id AS detail, customer_id, answered_at AS utc FROM feedback "
            "WHERE customer_id IS NOT NULL AND list_contains($kinds, kind) "
            f"AND answered_at >= $lo AND answered_at < $hi{who}"
        )
    return dict(conn.execute(sql + " ORDER BY h, t, detail", params).fetchnumpy())


def _birthdays(
    conn: duckdb.DuckDBPyConnection, customer_id: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    who = ""
    if customer_id is not None:
        params["cid"] = customer_id
        who = " AND customer_id = $cid"
    sql = (
        "SELECT hash(customer_id) AS h, CAST(month(birthday) AS BIGINT) AS month, customer_id "  # noqa: S608 - fixed SQL; values are bound
        f"FROM customers WHERE birthday IS NOT NULL{who}"
    )
    return dict(conn.execute(sql, params).fetchnumpy())


def local_to_utc(t: IntArray, tz: str) -> npt.NDArray[Any]:
    """Store-time seconds as naive UTC datetimes (for ledger timestamps)."""
    local = pd.to_datetime(t, unit="s")
    if tz == "UTC":
        return np.asarray(local.to_pydatetime(), dtype=object)
    utc = (
        pd.DatetimeIndex(local)
        .tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        .tz_convert("UTC")
        .tz_localize(None)
    )
    utc = utc.where(np.asarray(pd.notna(utc)), pd.DatetimeIndex(local))
    return np.asarray(utc.to_pydatetime(), dtype=object)


# --- the replay ---------------------------------------------------------------------------------


def run_replay(
    conn: duckdb.DuckDBPyConnection,
    segments: Sequence[Segment],
    *,
    currency: str,
    tz: str,
    with_ids: bool = False,
    customer_id: str | None = None,
    redemption_rate: float | None = DEFAULT_REDEMPTION_RATE,
    lag_days: int = REDEMPTION_LAG_DAYS,
    progress: ProgressCallback | None = None,
) -> Replay:
    """Replay ``segments`` (consecutive, earliest first) over the store's data.

    Parameters
    ----------
    with_ids
        Also fetch order, response and customer ids and UTC times (the ledger needs them).
    customer_id
        Replay one customer only (same numbers as in a full replay: customers are independent).
    redemption_rate
        Share of earned points assumed redeemed when no reward code shows up in the orders;
        None for none (the ledger records only redemptions seen in the data).
    """
    segs = list(segments)
    if not segs:
        raise InputRefused("There is no program to replay: save and activate a version first.")

    def step(f: float, msg: str) -> None:
        if progress is not None:
            progress(f, msg)

    lo_d, hi_d = segs[0].start, segs[-1].end
    lo_sec, hi_sec = day_seconds(lo_d), day_seconds(hi_d)
    lo_utc, hi_utc = utc_bounds(DateRange(start=lo_d, end=hi_d), tz)
    starts = np.asarray([day_seconds(s.start) for s in segs], dtype=np.int64)
    nv = len(segs)

    def version_of(t: IntArray) -> IntArray:
        if nv == 1:
            return np.zeros(len(t), dtype=np.int64)
        return np.clip(np.searchsorted(starts, t, side="right") - 1, 0, nv - 1)

    rules: list[RuleInfo] = []
    rule_points: list[float] = []

    def rule_id(v: int, kind: str, label: str) -> int:
        rules.append(RuleInfo(v, kind, label))
        rule_points.append(0.0)
        return len(rules) - 1

    # line multipliers per version, channels and reward codes across versions
    line_rules: list[list[tuple[int, Multiplier]]] = []
    channels: list[str] = []
    codes: list[str] = []
    for s in segs:
        lr = [(i, r) for i, r in enumerate(s.program.earn_rules)
              if isinstance(r, Multiplier) and r.line_level]
        line_rules.append(lr)
        for r in s.program.rules_of(Multiplier):
            if r.on == "channel" and r.value not in channels:
                channels.append(r.value)
        for rw in s.program.rewards:
            if rw.discount_code and rw.discount_code not in codes:
                codes.append(rw.discount_code)

    with_shipping = any(s.program.membership is not None and s.program.membership.free_shipping
                        for s in segs)
    spend_basis = any(s.program.tiers is not None and s.program.tiers.basis == "spend" for s in segs)

    step(0.05, "Reading the orders")
    od = _orders(
        conn, lo_utc=lo_utc, hi_utc=hi_utc, currency=currency, tz=tz,
        line_factors=[[r for _, r in lr] for lr in line_rules], channels=channels, codes=codes,
        customer_id=customer_id, with_ids=with_ids, with_shipping=with_shipping,
    )
    o_h = np.asarray(od["h"], dtype=np.uint64)
    o_t = np.asarray(od["t"], dtype=np.int64)
    o_net = np.asarray(od["net"], dtype=np.float64)
    n_o = len(o_h)
    o_ship = (np.asarray(od["shipping"], dtype=np.float64) if with_shipping else np.zeros(n_o))
    o_ch = od["ch"].astype(np.int64) if channels else np.full(n_o, -1, dtype=np.int64)
    o_code = od["code"].astype(np.int64) if codes else np.full(n_o, -1, dtype=np.int64)
    o_ids = {k: od[k] for k in ("order_id", "source_order_id", "customer_id", "ordered_at")
             if with_ids}
    # net is DECIMAL(18,2): net × 100 lands within a rounding error of a whole number of cents
    o_cents = np.rint(o_net * 100).astype(np.int64) if spend_basis else np.zeros(0, dtype=np.int64)
    o_v = version_of(o_t)
    net_revenue = _net_revenue(conn, lo_utc, hi_utc, currency, customer_id)

    # --- points before tiers, per version (each rule's share = rise of the rounded total) ------
    step(0.3, "Applying the earn rules")
    o_pre_f = np.zeros(n_o)
    o_pre = np.zeros(n_o, dtype=np.int64)
    contrib: list[tuple[int, IntArray]] = []
    col = 0
    for v, s in enumerate(segs):
        p = s.program
        mask: BoolArray | None = o_v == v if nv > 1 else None  # None: every order
        B = np.zeros(n_o)
        prev = np.zeros(n_o, dtype=np.int64)

        def account(rid: int, new_b: FloatArray, mask: BoolArray | None = mask) -> None:
            nonlocal B, prev
            B = _within(mask, new_b, B)
            fl = _floor(B)
            pts = _within(mask, fl - prev, 0)
            prev = _within(mask, fl, prev)
            rule_points[rid] += float(pts.sum())
            if with_ids:
                contrib.append((rid, pts))

        for r in p.rules_of(PointsPerSpend):
            account(rule_id(v, "earn", r.label(p.points, currency)), B + o_net * r.rate)
        base = B.copy()
        for _, r in line_rules[v]:
            lf = np.asarray(od[f"lf{col}"], dtype=np.float64)
            col += 1
            account(rule_id(v, "earn", r.label(p.points, currency)), base * lf)
        for r in p.rules_of(Multiplier):
            if r.on == "channel":
                hit = o_ch == channels.index(r.value)
                account(rule_id(v, "earn", r.label(p.points, currency)), np.where(hit, B * r.factor, B))
        for r in p.rules_of(Promotion):
            a, b = day_seconds(r.start), day_seconds(r.end) + SECONDS_PER_DAY
            hit = (o_t >= a) & (o_t < b)
            account(rule_id(v, "earn", r.label(p.points, currency)), np.where(hit, B * r.factor, B))
        o_pre_f = _within(mask, B, o_pre_f)
        o_pre = _within(mask, prev, o_pre)

    # --- bonus events (birthdays need member-since dates, so they come after the rest) --------
    step(0.45, "Adding bonus events")
    b_parts: list[dict[str, Any]] = []
    for v, s in enumerate(segs):
        p = s.program
        seg_lo, seg_hi = utc_bounds(DateRange(start=s.start, end=s.end), tz)
        for r in p.rules_of(BonusEvent):
            if r.event == "birthday_month":
                continue
            rows = _bonus_rows(conn, r, lo_utc=seg_lo, hi_utc=seg_hi, tz=tz, customer_id=customer_id)
            b_parts.append({
                "h": rows["h"].astype(np.uint64), "t": rows["t"].astype(np.int64),
                "v": v, "points": r.points, "rule": rule_id(v, "bonus", r.label(p.points, currency)),
                "key": np.asarray([f"bonus:{r.event}:{d}" if d else f"bonus:{r.event}"
                                   for d in rows["detail"]], dtype=object) if with_ids else None,
                "id": rows["customer_id"] if with_ids else None,
                "utc": rows["utc"] if with_ids else None,
            })

    first_o = _firsts(o_h)
    uh = o_h[first_o]
    o_cust = _group_ids(first_o)
    ids = od["customer_id"][first_o] if with_ids else None
    extra_h = [bp["h"] for bp in b_parts]
    extra_ids = [bp["id"] for bp in b_parts]
    birthday_rules = [
        (v, r) for v, s in enumerate(segs) for r in s.program.rules_of(BonusEvent)
        if r.event == "birthday_month"
    ]
    if extra_h:
        allh = np.concatenate(extra_h)
        pos = np.clip(np.searchsorted(uh, allh), 0, max(len(uh) - 1, 0))
        missing = ~(uh[pos] == allh) if len(uh) else np.ones(len(allh), dtype=bool)
        if missing.any():
            new_h, idx = np.unique(allh[missing], return_index=True)
            if with_ids:
                allid = np.concatenate(extra_ids)[missing][idx]
                merged = np.concatenate([uh, new_h])
                order = np.argsort(merged, kind="stable")
                ids = np.concatenate([np.asarray(ids, dtype=object), allid])[order]
                uh = merged[order]
            else:
                uh = np.sort(np.concatenate([uh, new_h]))
            o_cust = np.searchsorted(uh, o_h).astype(np.int64)
    n_cust = len(uh)

    def cust_of(h: npt.NDArray[np.uint64]) -> IntArray:
        return np.searchsorted(uh, h).astype(np.int64)

    first_t = np.full(n_cust, NEVER, dtype=np.int64)
    if n_o:
        first_t[o_cust[first_o]] = o_t[first_o]
    for bp in b_parts:
        bp["cust"] = cust_of(bp["h"])
        np.minimum.at(first_t, bp["cust"], bp["t"])

    for v, r in birthday_rules:
        s = segs[v]
        bd = _birthdays(conn, customer_id)
        bh = bd["h"].astype(np.uint64)
        if not len(bh) or not n_cust:
            continue
        pos = np.clip(np.searchsorted(uh, bh), 0, n_cust - 1)
        known = uh[pos] == bh
        bc, bm = pos[known], bd["month"].astype(np.int64)[known]
        label = r.label(segs[v].program.points, currency)
        rid = rule_id(v, "bonus", label)
        for year in range(s.start.year, s.end.year + 1):
            days = (np.datetime64(f"{year}-01", "M") + (bm - 1).astype("timedelta64[M]")).astype(
                "datetime64[D]"
            )
            t = days.astype(np.int64) * SECONDS_PER_DAY
            ok = (t >= day_seconds(s.start)) & (t < day_seconds(s.end)) & (first_t[bc] < t)
            if not ok.any():
                continue
            b_parts.append({
                "h": uh[bc[ok]], "t": t[ok], "cust": bc[ok], "v": v, "points": r.points,
                "rule": rid,
                "key": np.full(int(ok.sum()), f"bonus:birthday_month:{year}", dtype=object)
                if with_ids else None,
                "id": None,
                "utc": local_to_utc(t[ok], tz) if with_ids else None,
            })

    if b_parts:
        b_cust = np.concatenate([bp["cust"] for bp in b_parts])
        b_t = np.concatenate([bp["t"] for bp in b_parts])
        b_v = np.concatenate([np.full(len(bp["t"]), bp["v"], dtype=np.int64) for bp in b_parts])
        b_points = np.concatenate(
            [np.full(len(bp["t"]), bp["points"], dtype=np.int64) for bp in b_parts]
        )
        b_rule = np.concatenate([np.full(len(bp["t"]), bp["rule"], dtype=np.int64) for bp in b_parts])
        b_key = np.concatenate([bp["key"] for bp in b_parts]) if with_ids else np.empty(0, object)
        b_utc = np.concatenate([np.asarray(bp["utc"], dtype=object) for bp in b_parts]) if with_ids else np.empty(0, object)
        for bp in b_parts:
            rule_points[bp["rule"]] += float(bp["points"] * len(bp["t"]))
    else:
        b_cust = b_t = b_v = b_points = b_rule = np.empty(0, dtype=np.int64)
        b_key = b_utc = np.empty(0, dtype=object)
    n_b = len(b_t)

    # --- the event stream: orders and bonuses per customer in time order -----------------------
    step(0.55, "Working out tiers")
    if n_b:
        key = np.concatenate([
            (o_cust << _SHIFT) | np.clip(o_t - lo_sec, 0, _MAX_OFFSET),
            (b_cust << _SHIFT) | np.clip(b_t - lo_sec, 0, _MAX_OFFSET),
        ])
        perm = np.argsort(key, kind="stable")
    else:
        perm = np.arange(n_o)
    # without bonus events the stream is the orders themselves (perm is the identity); the
    # bookkeeping below skips its gathers then
    s_is_order = perm < n_o
    s_src = np.where(s_is_order, perm, perm - n_o) if n_b else perm
    if n_b:
        s_cust = np.concatenate([o_cust, b_cust])[perm].astype(np.int64)
        s_t = np.concatenate([o_t, b_t])[perm].astype(np.int64)
        q_points = np.concatenate([o_pre, b_points])[perm].astype(np.int64)
        q_cents = np.concatenate([o_cents, np.zeros(n_b, dtype=np.int64)])[perm] if spend_basis else o_cents
    else:
        s_cust, s_t, q_points, q_cents = o_cust, o_t, o_pre, o_cents
    stream = _Stream(s_cust, s_t, lo_sec)
    if any(seg.program.tiers is not None and seg.program.tiers.basis == "points" for seg in segs):
        stream.add("points", q_points)
    if any(seg.program.tiers is not None and seg.program.tiers.basis == "spend" for seg in segs):
        stream.add("spend", q_cents)
    s_v = version_of(s_t)

    # --- tiers ---------------------------------------------------------------------------------
    W = ROLLING_WINDOW_DAYS * SECONDS_PER_DAY
    tier_rules: list[_TierRule | None] = []
    y0 = lo_d.year
    n_years = (hi_d - timedelta(days=1)).year - y0 + 1
    jan1 = [day_seconds(date(y0 + k, 1, 1)) for k in range(n_years + 1)]
    all_c = np.arange(n_cust, dtype=np.int64)
    n_s = len(s_t)

    def year_index(t: IntArray) -> IntArray:
        """The window's year (0 .. n_years - 1) of each time: how many of its 1 Januaries after
        the first have passed (a comparison per year; times outside clip to the ends)."""
        out = np.zeros(np.shape(t), dtype=np.int64)
        for J in jan1[1:n_years]:
            out += t >= J
        return out

    s_yk = year_index(s_t)
    # each customer's running total at every 1 January of the window (k = 0 .. n_years; the
    # last column is the total): the tier arithmetic reads these instead of searching
    at_jan1: dict[str, IntArray] = {}
    for basis in {s.program.tiers.basis for s in segs if s.program.tiers is not None}:
        vals = q_points if basis == "points" else q_cents
        per_year = np.bincount(s_cust * n_years + s_yk, weights=vals, minlength=n_cust * n_years)
        cum = np.zeros((n_cust, n_years + 1), dtype=np.int64)
        cum[:, 1:] = np.cumsum(np.rint(per_year).astype(np.int64).reshape(n_cust, n_years), axis=1)
        at_jan1[basis] = cum
    for s in segs:
        tr = s.program.tiers
        tiers: tuple[Tier, ...] = s.program.tier_list()
        if tr is None or not tiers:
            tier_rules.append(None)
            continue
        scale = 1 if tr.basis == "points" else 100
        new_rule = _TierRule(
            period=tr.period, basis=tr.basis, demotion=tr.demotion,
            thresholds=np.asarray([int(round(float(t.threshold) * scale)) for t in tiers], dtype=np.int64),
            multipliers=np.asarray([1.0, *(t.earn_multiplier for t in tiers)]),
            names=s.program.tier_names(), year0=y0,
        )
        if tr.period == "calendar_year":
            held = np.zeros((n_cust, n_years), dtype=np.int64)
            cum = at_jan1[tr.basis]
            for k in range(1, n_years):
                q = new_rule.level(cum[:, k] - cum[:, k - 1])
                held[:, k] = q if tr.demotion == "to_qualified" else np.maximum(q, held[:, k - 1] - 1)
            new_rule.held = held
        tier_rules.append(new_rule)

    def running_before(basis: str, cust: IntArray, when: int) -> IntArray:
        """S(< when) per customer; a 1 January or the end reads the table, others search."""
        if when in jan1:
            return at_jan1[basis][cust, jan1.index(when)]
        if when >= hi_sec:
            return at_jan1[basis][cust, n_years]
        return stream.total(basis, cust, np.full(len(cust), when, dtype=np.int64), inclusive=False)

    def evaluate(v: int, cust: IntArray, T: IntArray, S: IntArray, mode: str,
                 yk: IntArray | None = None) -> tuple[IntArray, IntArray]:
        """(level, qualifying) under version v's rules; S = running total at T.

        Modes: "event" (at an event, S given by its position), "before" (just before T) and
        "at" (at T, before any event at T)."""
        rule = tier_rules[v]
        if rule is None:
            return np.zeros(len(cust), dtype=np.int64), np.zeros(len(cust), dtype=np.int64)
        lower, held = period_start(rule, cust, T, mode, yk)
        q = S - lower
        return level_of(rule, q, held), q

    def period_start(rule: _TierRule, cust: IntArray, T: IntArray, mode: str,
                     yk: IntArray | None) -> tuple[IntArray | int, IntArray | None]:
        """(running total where the qualifying period starts, level held from last year or
        None) for each (customer, time); modes as in :func:`evaluate`."""
        if rule.period == "lifetime":
            return 0, None
        if rule.period == "rolling_12_months":
            return stream.total(rule.basis, cust, T - W, inclusive=mode != "before"), None
        if yk is None:
            yk = year_index(T - 1 if mode == "before" else T)
        assert rule.held is not None
        return at_jan1[rule.basis][cust, yk], rule.held[cust, yk]

    def level_of(rule: _TierRule, q: IntArray, held: IntArray | None) -> IntArray:
        level = rule.level(q)
        return level if held is None else np.maximum(level, held)

    lvl_before = np.zeros(n_s, dtype=np.int64)
    lvl_after = np.zeros(n_s, dtype=np.int64)
    q_after = np.zeros(n_s, dtype=np.int64)
    for v in range(nv):
        rule = tier_rules[v]
        if rule is None:
            continue
        m: Any = s_v == v if nv > 1 else slice(None)
        cum = stream.cums[rule.basis]
        own = q_points if rule.basis == "points" else q_cents
        # the level just before each event and just after it share the period's start
        lower, kept = period_start(rule, s_cust[m], s_t[m], "event", s_yk[m])
        qa = cum[m] - lower
        lvl_before[m] = level_of(rule, qa - own[m], kept)
        lvl_after[m], q_after[m] = level_of(rule, qa, kept), qa

    # --- tier multiplier, caps ------------------------------------------------------------------
    step(0.65, "Applying tier multipliers and caps")
    if n_b:
        o_level = np.zeros(n_o, dtype=np.int64)
        o_level[s_src[s_is_order]] = lvl_before[s_is_order]
    else:  # the stream is the orders
        o_level = lvl_before
    o_fin_f, o_fin = o_pre_f, o_pre  # every step below makes new arrays; nothing is changed in place
    for v, s in enumerate(segs):
        rule = tier_rules[v]
        mask = o_v == v if nv > 1 else None  # None: every order
        if rule is not None:
            mult = rule.multipliers[o_level]
            f = _within(mask, o_pre_f * mult, o_fin_f)
            fl = _within(mask, _floor(f), o_fin)
            extra = fl - o_fin
            for lvl in range(1, len(rule.names)):
                if rule.multipliers[lvl] == 1:
                    continue
                rid = rule_id(v, "tier", f"{rule.names[lvl]} {factor_text(float(rule.multipliers[lvl]))} (tier)")
                at = o_level == lvl
                pts = np.where(at if mask is None else mask & at, extra, 0)
                rule_points[rid] += float(pts.sum())
                if with_ids:
                    contrib.append((rid, pts))
            o_fin_f, o_fin = f, fl
        for cap in s.program.caps:
            rid = rule_id(v, "cap", cap.label(s.program.points, currency))
            if cap.per == "order":
                capped = np.minimum(o_fin, cap.points)
            else:
                period = (
                    o_t // SECONDS_PER_DAY if cap.per == "day"
                    else month_index(o_t) if cap.per == "month"
                    else _year(o_t) if cap.per == "year"
                    else np.zeros(n_o, dtype=np.int64)
                )
                vals = _within(mask, o_fin, 0)
                first = _firsts(o_cust, o_v, period)
                run = _seg_cumsum(vals, first)
                capped = np.minimum(run, cap.points) - np.minimum(run - vals, cap.points)
            capped = _within(mask, capped, o_fin)
            cut = capped - o_fin
            rule_points[rid] += float(cut.sum())
            if with_ids:
                contrib.append((rid, cut))
            o_fin = capped

    # --- lots and their expiry ------------------------------------------------------------------
    step(0.75, "Expiring and redeeming points")
    s_amt = (np.concatenate([o_fin, b_points])[perm] if n_b else o_fin).astype(np.int64)
    s_x = np.full(n_s, NEVER, dtype=np.int64)
    for v, s in enumerate(segs):
        exp = s.program.expiry
        if exp is None:
            continue
        m = s_v == v if nv > 1 else slice(None)
        if exp.rule == "after_earning":
            s_x[m] = _add_months(s_t[m], exp.months)
        else:
            g = _add_months(s_t, exp.months)
            last = np.ones(n_s, dtype=bool)
            if n_s:
                last[:-1] = s_cust[1:] != s_cust[:-1]
            nxt = np.empty(n_s, dtype=np.int64)
            if n_s:
                nxt[:-1] = s_t[1:]
                nxt[-1] = NEVER
            valid = last | (nxt >= g)
            idx = np.where(valid, np.arange(n_s), n_s)
            nearest = np.minimum.accumulate(idx[::-1])[::-1]  # next valid at or after (same customer)
            s_x[m] = g[np.minimum(nearest, n_s - 1)][m]
    lot = s_amt > 0
    l_cust, l_t, l_amt, l_x, l_v = s_cust[lot], s_t[lot], s_amt[lot], s_x[lot], s_v[lot]
    l_src = np.where(s_is_order, s_src, -s_src - 1)[lot] if n_b else np.flatnonzero(lot)

    # redemptions: reward codes seen on orders, else the assumed rate
    red_o = np.empty(0, dtype=np.int64)
    code_points = code_cost = np.empty(0)
    code_label = np.empty(0, dtype=object)
    if codes and n_o:
        code_points = np.zeros(n_o)
        code_cost = np.zeros(n_o)
        code_label = np.full(n_o, "", dtype=object)
        for v, s in enumerate(segs):
            for rw in s.program.rewards:
                if rw.discount_code:
                    hit = (o_code == codes.index(rw.discount_code)) & (o_v == v)
                    code_points[hit] = rw.points
                    code_cost[hit] = float(rw.cost)
                    code_label[hit] = f"“{rw.name}” with the code {rw.discount_code}"
        red_o = np.flatnonzero(code_points > 0)
    r_cust: IntArray
    r_t: FloatArray
    r_amt: FloatArray
    r_cost: FloatArray
    r_src: IntArray
    r_label: npt.NDArray[Any]
    if len(red_o):
        source = "codes"
        r_cust, r_t = o_cust[red_o], o_t[red_o].astype(np.float64)
        r_amt, r_cost, r_src = code_points[red_o], code_cost[red_o], red_o.astype(np.int64)
        r_label = code_label[red_o]
    elif redemption_rate:
        source = "assumed"
        rho = l_t + lag_days * SECONDS_PER_DAY
        np.minimum(rho, l_x - 1, out=rho)
        r_cust, r_t = l_cust, rho.astype(np.float64)
        r_amt = l_amt * float(redemption_rate)
        value = [float(s.program.currency.value) for s in segs]
        r_cost = r_amt * (value[0] if nv == 1 else np.asarray(value)[l_v]) if len(l_v) else np.zeros(0)
        r_src = np.full(len(l_cust), -1, dtype=np.int64)
        r_label = np.empty(0, dtype=object)
        # lots come by (customer, time); their redemption times are usually in order too
        if len(rho) > 1 and not np.all((rho[1:] >= rho[:-1]) | (r_cust[1:] != r_cust[:-1])):
            rk = (r_cust << _SHIFT) | np.clip(rho - lo_sec, 0, _MAX_OFFSET)
            order = np.argsort(rk, kind="stable")
            r_cust, r_t, r_amt, r_cost = r_cust[order], r_t[order], r_amt[order], r_cost[order]
    else:
        source = "none"
        r_cust = np.empty(0, dtype=np.int64)
        r_t = r_amt = r_cost = np.empty(0)
        r_src = np.empty(0, dtype=np.int64)
        r_label = np.empty(0, dtype=object)

    # first in, first out: E(≤j) = max(0, running max of C(j) − R(before x_j)), lots by expiry
    n_l = len(l_t)
    l_expired = np.zeros(n_l)
    if n_l and (l_x < hi_sec).any():
        xk = (l_cust << _SHIFT) | np.clip(l_x - lo_sec, 0, _MAX_OFFSET)
        order = np.arange(n_l)
        if not np.all(xk[1:] >= xk[:-1]):
            order = np.argsort(xk, kind="stable")
        c, x, amt = l_cust[order], l_x[order], l_amt[order].astype(np.float64)
        first = _firsts(c)
        C = _seg_cumsum(amt, first)
        red_before = np.zeros(n_l)
        if len(r_cust):
            rk = (r_cust << _SHIFT) | np.clip(r_t.astype(np.int64) - lo_sec, 0, _MAX_OFFSET)
            rc = _seg_cumsum(r_amt, _firsts(r_cust))
            qk = (c << _SHIFT) | np.clip(x - lo_sec, 0, _MAX_OFFSET)
            pos = np.searchsorted(rk, qk, side="left") - 1
            safe = np.clip(pos, 0, len(rk) - 1)
            hit = (pos >= 0) & (r_cust[safe] == c)
            red_before[hit] = rc[safe[hit]]
        D = np.where(x < hi_sec, C - red_before, -np.inf)
        E = np.maximum(_seg_cummax(D, first), 0.0)
        prevE = np.concatenate([[0.0], E[:-1]])
        prevE[first] = 0.0
        l_expired[order] = E - prevE

    # --- tier moves ----------------------------------------------------------------------------
    step(0.85, "Counting tier moves")
    moves: list[tuple[IntArray, ...]] = []
    if any(r is not None for r in tier_rules):
        prev_lvl = lvl_before.copy()
        prev_lvl[stream.first] = 0  # joining: from "not a member"
        ch = np.flatnonzero(lvl_after != prev_lvl)  # positions: one scan of the mask, not seven
        moves.append((s_cust[ch], s_t[ch], prev_lvl[ch], lvl_after[ch], s_v[ch],
                      np.full(len(ch), MOVE_EVENT), q_after[ch]))
        # rolling windows: a contribution leaves the window 365 days after it was made
        rolling = np.asarray([r is not None and r.period == "rolling_12_months" for r in tier_rules])
        last_at_t = np.ones(n_s if rolling.any() else 0, dtype=bool)
        if len(last_at_t):
            last_at_t[:-1] = (s_cust[1:] != s_cust[:-1]) | (s_t[1:] != s_t[:-1])
        T = s_t[: len(last_at_t)] + W
        v_T = version_of(T)
        cand = last_at_t & (T < hi_sec) & rolling[v_T]
        for v in np.unique(v_T[cand]):
            m = cand & (v_T == v)
            rule = tier_rules[int(v)]
            assert rule is not None
            c, tt = s_cust[m], T[m]
            S = stream.total(rule.basis, c, tt, inclusive=False)
            lb, _ = evaluate(int(v), c, tt, S, "before")
            la, qa = evaluate(int(v), c, tt, S, "at")
            d = lb != la
            moves.append((c[d], tt[d], lb[d], la[d], np.full(int(d.sum()), v),
                          np.full(int(d.sum()), MOVE_WINDOW), qa[d]))
        # new years (calendar tiers) and new versions
        bounds: list[tuple[int, int]] = []
        for k in range(1, n_years):
            J = jan1[k]
            vb, va = int(version_of(np.asarray([J - 1]))[0]), int(version_of(np.asarray([J]))[0])
            if any(tier_rules[x] is not None and tier_rules[x].period == "calendar_year"  # type: ignore[union-attr]
                   for x in (vb, va)):
                bounds.append((J, MOVE_NEW_YEAR))
        for v in range(1, nv):
            if int(starts[v]) not in [b for b, _ in bounds]:
                bounds.append((int(starts[v]), MOVE_NEW_VERSION))
        for J, cause in bounds:
            c = all_c[first_t < J]
            if not len(c):
                continue
            tt = np.full(len(c), J, dtype=np.int64)
            vb, va = int(version_of(np.asarray([J - 1]))[0]), int(version_of(np.asarray([J]))[0])
            rb, ra = tier_rules[vb], tier_rules[va]
            Sb = running_before(rb.basis, c, J) if rb else np.zeros(len(c), np.int64)
            Sa = running_before(ra.basis, c, J) if ra else np.zeros(len(c), np.int64)
            lb, _ = evaluate(vb, c, tt, Sb, "before")
            la, qa = evaluate(va, c, tt, Sa, "at")
            d = lb != la
            moves.append((c[d], tt[d], lb[d], la[d], np.full(int(d.sum()), va),
                          np.full(int(d.sum()), cause), qa[d]))
    if moves:
        m_cust, m_t, m_from, m_to, m_v, m_cause, m_q = (
            np.concatenate([m[i] for m in moves]).astype(np.int64, copy=False) for i in range(7)
        )
    else:
        m_cust = m_t = m_from = m_to = m_v = m_cause = m_q = np.empty(0, dtype=np.int64)

    # --- where everyone stands at the end ------------------------------------------------------
    v_end = nv - 1
    end_level = np.zeros(n_cust, dtype=np.int64)
    end_q = np.zeros(n_cust, dtype=np.int64)
    end_held = np.zeros(n_cust, dtype=np.int64)
    best_q: int | None = None
    rule_end = tier_rules[v_end]
    basis_end = rule_end.basis if rule_end else "points"
    if n_cust:
        T = np.full(n_cust, hi_sec, dtype=np.int64)
        S = running_before(basis_end, all_c, hi_sec) if rule_end else np.zeros(n_cust, np.int64)
        end_level, end_q = evaluate(v_end, all_c, T, S, "before")
        if rule_end is not None and rule_end.held is not None:
            end_held = rule_end.held[:, n_years - 1]
        not_member = first_t >= hi_sec
        end_level[not_member] = 0
        if rule_end is not None and n_s:
            last_v = q_after if nv == 1 else q_after[s_v == v_end]
            best_q = int(last_v.max()) if len(last_v) else 0

    step(1.0, "Done")
    return Replay(
        segments=segs, currency=currency, tz=tz, lo_sec=lo_sec, hi_sec=hi_sec,
        rules=rules, rule_points=np.asarray(rule_points, dtype=np.float64),
        n_cust=n_cust, cust_h=uh, cust_id=ids, first_t=first_t, net_revenue=net_revenue,
        o_cust=o_cust, o_t=o_t, o_v=o_v, o_net=o_net, o_shipping=o_ship, o_final=o_fin,
        o_fin_float=o_fin_f, o_level=o_level, o_contrib=contrib, o_ids=o_ids,
        b_cust=b_cust, b_t=b_t, b_v=b_v, b_points=b_points, b_rule=b_rule, b_key=b_key,
        b_utc=b_utc,
        l_cust=l_cust, l_t=l_t, l_amt=l_amt, l_x=l_x, l_v=l_v, l_src=l_src, l_expired=l_expired,
        r_cust=r_cust, r_t=r_t, r_amt=r_amt, r_cost=r_cost, r_src=r_src, r_label=r_label,
        redemption_source=source,
        redemption_rate=float(redemption_rate or 0.0) if source != "codes" else (
            float(r_amt.sum() / l_amt.sum()) if l_amt.sum() else 0.0
        ),
        m_cust=m_cust, m_t=m_t, m_from=m_from, m_to=m_to, m_v=m_v, m_cause=m_cause, m_q=m_q,
        end_level=end_level, end_q=end_q, end_held=end_held, best_q=best_q,
        tier_rules=tier_rules, line_rules=line_rules,
    )
