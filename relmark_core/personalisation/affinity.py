"""Product and category affinity: for each product (or category) A, what else the same customers
buy — in the same order, or later — with support, confidence and lift.

Two modes (see :mod:`relmark_core.metrics.definitions`, ``affinity_*``):

``same_order``
    Counted orders are baskets. A pair (A, B) counts the counted orders holding both A and B
    (each order once, however many lines or units). The base is every counted order with at
    least one line naming a product (or category, at that level).
``later``
    Customers. A customer counts for (A, B) when they have a counted order holding B placed
    strictly after their first counted order holding A (B in that same order does not count).
    The base is every customer with a counted order with at least one such line. Guest orders
    (no customer) do not take part.

For a pair (A, B), with ``both`` the orders (or customers) behind it::

    support    = both / base
    confidence = both / (orders or customers with A)
    lift       = confidence / ((orders or customers with B) / base)

Pairs backed by fewer than ``min_count`` orders (customers) are left out: with few, a high
confidence may be chance. A is never paired with itself.

The reads are Ibis expressions over the :class:`~relmark_core.source.Source`, so they run on
the embedded DuckDB and on a warehouse alike; :func:`affinity` returns a DataFrame with
:data:`AFFINITY_COLUMNS`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal, get_args

import ibis
import pandas as pd
from ibis.expr.types import Table

from relmark_core.errors import InputRefused
from relmark_core.metrics.common import CustomerSet, counted_orders, for_segment
from relmark_core.periods import DateRange, utc_bounds
from relmark_core.source import Source

__all__ = [
    "Level",
    "LEVELS",
    "LEVEL_LABELS",
    "Mode",
    "MODES",
    "MODE_LABELS",
    "SortBy",
    "SORTS",
    "DEFAULT_LEVEL",
    "DEFAULT_MODE",
    "DEFAULT_MIN_COUNT",
    "DEFAULT_SORT",
    "MAX_MIN_COUNT",
    "AFFINITY_COLUMNS",
    "cutoff_for",
    "item_lines",
    "customer_items",
    "affinity_expr",
    "affinity",
    "check_min_count",
    "ITEM_COLUMNS",
    "items_by_orders",
]

Level = Literal["product", "category"]
LEVELS: tuple[Level, ...] = get_args(Level)
LEVEL_LABELS: dict[str, str] = {"product": "Products", "category": "Categories"}
Mode = Literal["same_order", "later"]
MODES: tuple[Mode, ...] = get_args(Mode)
MODE_LABELS: dict[str, str] = {"same_order": "In the same order", "later": "Later on"}
SortBy = Literal["lift", "confidence", "support"]
SORTS: tuple[SortBy, ...] = get_args(SortBy)

DEFAULT_LEVEL: Level = "product"
DEFAULT_MODE: Mode = "same_order"
DEFAULT_SORT: SortBy = "lift"
DEFAULT_MIN_COUNT = 10
"""Fewest orders (same order) or customers (later) behind a pair for it to be shown."""
MAX_MIN_COUNT = 1_000_000

AFFINITY_COLUMNS = (
    "antecedent", "consequent", "both", "antecedent_total", "consequent_total", "base",
    "support", "confidence", "lift",
)  # fmt: skip
"""``antecedent`` (A: the product or category bought), ``consequent`` (B: what else),
``both`` (orders holding both, or customers who bought B after A), ``antecedent_total`` and
``consequent_total`` (orders holding, or customers who bought, A and B), ``base`` (every order,
or customer, at that level), ``support``, ``confidence`` (shares 0–1) and ``lift`` (floats)."""


def check_min_count(min_count: int) -> int:
    """``min_count`` if it is a whole number from 1 to :data:`MAX_MIN_COUNT`, else a refusal."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or not (
        1 <= min_count <= MAX_MIN_COUNT
    ):
        raise InputRefused(
            f"The minimum number of orders or customers behind a pair must be a whole number "
            f"from 1 to {MAX_MIN_COUNT:,} (got {min_count!r}); the default is {DEFAULT_MIN_COUNT}."
        )
    return min_count


def _check_level(level: str) -> Level:
    if level not in LEVELS:
        raise InputRefused(f"Affinity is by product or category, not '{level}'.")
    return level


def cutoff_for(src: Source, as_of: date | None) -> datetime | None:
    """The UTC instant the as-of day ends in the store's time zone (None: no cutoff)."""
    if as_of is None:
        return None
    return utc_bounds(DateRange(start=as_of, end=as_of + timedelta(days=1)), src.timezone)[1]


def item_lines(
    src: Source,
    *,
    level: Level = DEFAULT_LEVEL,
    cutoff: datetime | None = None,
    segment: CustomerSet | None = None,
) -> Table:
    """Lines of counted orders placed before ``cutoff`` that name a ``level`` (product or
    category): ``order_id``, ``customer_id`` (None for guests), ``ordered_at``, ``item``."""
    level = _check_level(level)
    o = counted_orders(src)
    if cutoff is not None:
        o = o.filter(o.ordered_at < ibis.literal(cutoff))
    o = for_segment(src, o, segment)
    ln = src.order_lines
    ln = ln.filter(ln[level].notnull())
    j = o.inner_join(ln, o.order_id == ln.order_id)
    return j.select(
        order_id=o.order_id, customer_id=o.customer_id, ordered_at=o.ordered_at, item=ln[level]
    )


def customer_items(lines: Table) -> Table:
    """Per customer and item: ``customer_id``, ``item``, ``first_at`` and ``last_at`` (their
    first and last counted order holding it). Guest lines are dropped."""
    t = lines.filter(lines.customer_id.notnull())
    return t.group_by(["customer_id", "item"]).aggregate(
        first_at=t.ordered_at.min(), last_at=t.ordered_at.max()
    )


def affinity_expr(
    src: Source,
    *,
    level: Level = DEFAULT_LEVEL,
    mode: Mode = DEFAULT_MODE,
    min_count: int = DEFAULT_MIN_COUNT,
    cutoff: datetime | None = None,
    segment: CustomerSet | None = None,
    antecedent: str | None = None,
) -> Table:
    """The affinity table as an Ibis expression (:data:`AFFINITY_COLUMNS`, unsorted); see the
    module text for the definitions. ``antecedent`` keeps only the pairs starting from it."""
    check_min_count(min_count)
    if mode not in MODES:
        raise InputRefused(f"Affinity mode must be one of {', '.join(MODES)}, not '{mode}'.")
    lines = item_lines(src, level=level, cutoff=cutoff, segment=segment)
    if mode == "same_order":
        units = lines.select("order_id", "item").distinct()
        key = "order_id"
        a = units
        b = units.rename(b_key="order_id", b_item="item")
        on = [a.order_id == b.b_key, a.item != b.b_item]
    else:
        units = customer_items(lines)
        key = "customer_id"
        a = units
        b = units.rename(b_key="customer_id", b_item="item", b_last="last_at").drop("first_at")
        on = [a.customer_id == b.b_key, a.item != b.b_item, b.b_last > a.first_at]
    if antecedent is not None:
        a = a.filter(a.item == ibis.literal(antecedent))
        on[0] = a[key] == b.b_key
        on[1] = a.item != b.b_item
        if mode == "later":
            on[2] = b.b_last > a.first_at
    j = a.inner_join(b, on)
    pairs = j.group_by(antecedent=j.item, consequent=j.b_item).aggregate(both=j.count())
    pairs = pairs.filter(pairs.both >= ibis.literal(min_count))
    totals = units.group_by("item").aggregate(total=units.count())
    at = totals.rename(a_item="item", antecedent_total="total")
    ct = totals.rename(c_item="item", consequent_total="total")
    base = units.aggregate(base=units[key].nunique())
    t = pairs.inner_join(at, pairs.antecedent == at.a_item)
    t = t.inner_join(ct, t.consequent == ct.c_item)
    t = t.cross_join(base)
    both = t.both.cast("float64")
    return t.select(
        antecedent=t.antecedent,
        consequent=t.consequent,
        both=t.both.cast("int64"),
        antecedent_total=t.antecedent_total.cast("int64"),
        consequent_total=t.consequent_total.cast("int64"),
        base=t.base.cast("int64"),
        support=both / t.base.cast("float64"),
        confidence=both / t.antecedent_total.cast("float64"),
        lift=both * t.base.cast("float64")
        / (t.antecedent_total.cast("float64") * t.consequent_total.cast("float64")),
    )


def affinity(
    src: Source,
    *,
    level: Level = DEFAULT_LEVEL,
    mode: Mode = DEFAULT_MODE,
    min_count: int = DEFAULT_MIN_COUNT,
    as_of: date | None = None,
    segment: CustomerSet | None = None,
    antecedent: str | None = None,
    sort: SortBy = DEFAULT_SORT,
    limit: int | None = None,
) -> pd.DataFrame:
    """Pairs (A, B) with their support, confidence and lift (:data:`AFFINITY_COLUMNS`).

    Parameters
    ----------
    level
        ``product`` or ``category``.
    mode
        ``same_order`` (baskets) or ``later`` (what A's buyers bought after).
    min_count
        Fewest orders (same order) or customers (later) behind a pair.
    as_of
        Only counted orders up to the end of this day (store time zone); None: all.
    segment
        Only these customers' orders (guest orders then drop out).
    antecedent
        Only the pairs starting from this product or category ("who bought X also buy").
    sort
        ``lift``, ``confidence`` or ``support``, highest first; ties by the other two, then
        by ``both``, then A and B alphabetically.
    limit
        At most this many rows (the top ones by ``sort``).
    """
    if sort not in SORTS:
        raise InputRefused(f"Sort affinity by one of {', '.join(SORTS)}, not '{sort}'.")
    t = affinity_expr(src, level=level, mode=mode, min_count=min_count,
                      cutoff=cutoff_for(src, as_of), segment=segment, antecedent=antecedent)
    others = [s for s in SORTS if s != sort]
    t = t.order_by([ibis.desc(sort), *(ibis.desc(s) for s in others), ibis.desc("both"),
                    "antecedent", "consequent"])
    if limit is not None:
        t = t.limit(limit)
    df = src.execute(t)
    for col in ("antecedent", "consequent"):
        df[col] = df[col].astype(object)
    for col in ("both", "antecedent_total", "consequent_total", "base"):
        df[col] = df[col].astype("int64")
    for col in ("support", "confidence", "lift"):
        df[col] = df[col].astype("float64")
    return df[list(AFFINITY_COLUMNS)].reset_index(drop=True)


ITEM_COLUMNS = ("item", "orders")


def items_by_orders(
    src: Source,
    *,
    level: Level = DEFAULT_LEVEL,
    as_of: date | None = None,
    segment: CustomerSet | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Products (or categories) by the counted orders holding them, most first (ties: name):
    ``item``, ``orders`` — the choices for "customers who bought X also buy"."""
    lines = item_lines(src, level=level, cutoff=cutoff_for(src, as_of), segment=segment)
    t = lines.group_by("item").aggregate(orders=lines.order_id.nunique())
    t = t.order_by([ibis.desc("orders"), "item"])
    if limit is not None:
        t = t.limit(limit)
    df = src.execute(t)
    df["item"] = df["item"].astype(object)
    df["orders"] = df["orders"].astype("int64")
    return df[list(ITEM_COLUMNS)].reset_index(drop=True)
