"""Next-best product and upsell per customer, each with its reason in words.

Next-best product (:data:`~relmark_core.metrics.definitions.NEXT_BEST_RULE`): for each product
B the customer has not bought, the highest "later" confidence (see
:mod:`relmark_core.personalisation.affinity`) of any product A they did buy, among pairs behind
at least ``min_count`` customers; their suggestions are the Bs ranked by that confidence (ties:
higher lift, then name). The reason reads "bought Soy Candle; 38% of such buyers later bought
Diffuser Refill".

Upsell (:data:`~relmark_core.metrics.definitions.UPSELL_RULE`): a product's price is the median
unit price of its lines in counted orders in the reporting currency (to the cent) and its
category the one on most of its lines (ties: name). In each category a customer bought from,
the *step up* is the cheapest product priced at least :data:`UPSELL_MIN_STEP` (10%) above the
dearest product they bought there (ties: name). Each customer is offered the step up of the
category holding most of their counted orders among those that have one (ties: name). The
reason reads "buys Candles up to $20; Large Soy Candle is the next step up at $35".

Both are Ibis expressions over the :class:`~relmark_core.source.Source` (the segment condition
"likely to buy" compiles :func:`next_best_expr` into its filter); the ``*_products`` functions
return DataFrames with documented columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import ibis
import pandas as pd
from ibis.expr.types import Table

from relmark_core.errors import InputRefused
from relmark_core.metrics.common import counted_orders
from relmark_core.metrics.rfm import money_text
from relmark_core.personalisation.affinity import (
    DEFAULT_MIN_COUNT,
    affinity_expr,
    check_min_count,
    customer_items,
    cutoff_for,
    item_lines,
)
from relmark_core.source import Source

__all__ = [
    "DEFAULT_TOP",
    "MAX_TOP",
    "UPSELL_MIN_STEP",
    "NEXT_BEST_COLUMNS",
    "SUMMARY_COLUMNS",
    "UPSELL_COLUMNS",
    "percent_words",
    "next_best_reason",
    "upsell_reason",
    "next_best_expr",
    "next_best_products",
    "next_best_summary",
    "product_prices",
    "upsell_expr",
    "upsell_products",
    "recommended_product_tokens",
]

DEFAULT_TOP = 1
"""Suggestions per customer by default (the next-best product alone)."""
MAX_TOP = 5
UPSELL_MIN_STEP = Decimal("0.10")
"""A step up costs at least this much more (share of the dearest product bought there)."""

NEXT_BEST_COLUMNS = (
    "customer_id", "rank", "product", "because_of", "confidence", "lift", "buyers",
    "later_buyers", "reason",
)  # fmt: skip
"""``rank`` (1 = the next-best product), ``product`` (B, not bought yet), ``because_of`` (A,
bought), ``confidence`` (share of A's ``buyers`` who later bought B: ``later_buyers``),
``lift``, ``reason`` (in words)."""
SUMMARY_COLUMNS = ("product", "customers", "because_of", "confidence", "lift", "reason")
"""Per product suggested: ``customers`` for whom it is the next-best product, and the pair
(``because_of`` → ``product``) behind it for most of them."""
UPSELL_COLUMNS = ("customer_id", "category", "product", "price", "current_price", "reason")
"""``product`` (the step up) at ``price`` in ``category``, where the customer's dearest
product costs ``current_price`` (floats, reporting currency)."""


def percent_words(share: float) -> str:
    """``0.375`` → ``"38%"`` (whole percent, halves up); above 0 but under 0.5% → ``"under
    1%"``."""
    pct = Decimal(repr(share * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if pct == 0 and share > 0:
        return "under 1%"
    return f"{int(pct)}%"


def next_best_reason(because_of: str, confidence: float, product: str) -> str:
    """"bought Soy Candle; 38% of such buyers later bought Diffuser Refill"."""
    return f"bought {because_of}; {percent_words(confidence)} of such buyers later bought {product}"


def upsell_reason(category: str, current_price: float, product: str, price: float,
                  currency: str) -> str:
    """"buys Candles up to $20; Large Soy Candle is the next step up at $35"."""
    return (f"buys {category} up to {money_text(current_price, currency)}; {product} is the "
            f"next step up at {money_text(price, currency)}")


def _check_top(top: int) -> int:
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise InputRefused(f"Ask for 1 to {MAX_TOP} suggestions per customer (got {top!r}).")
    return top


def _ids_table(customer_ids: Sequence[str]) -> Table:
    ids = pd.DataFrame({"customer_id": pd.Series(list(customer_ids), dtype=object).astype(str)})
    return ibis.memtable(ids, schema={"customer_id": "string"})


def next_best_expr(
    src: Source,
    *,
    min_count: int = DEFAULT_MIN_COUNT,
    cutoff: datetime | None = None,
    top: int = DEFAULT_TOP,
    customers: Table | None = None,
) -> Table:
    """Each customer's top ``top`` suggestions as an Ibis table: ``customer_id``, ``rank``
    (1-based), ``product``, ``because_of``, ``confidence``, ``lift``, ``buyers``,
    ``later_buyers``. Only counted orders before ``cutoff`` count; ``customers`` (a table
    with ``customer_id``) narrows whose suggestions are computed (the pairs still come from
    every customer)."""
    check_min_count(min_count)
    _check_top(top)
    ci = customer_items(item_lines(src, level="product", cutoff=cutoff))
    own = ci if customers is None else ci.filter(ci.customer_id.isin(customers.customer_id))
    pairs = affinity_expr(src, level="product", mode="later", min_count=min_count, cutoff=cutoff)
    # Every pair gets one global place in the order suggestions are ranked by (confidence,
    # lift, then B and A by name), so a customer's best candidates are simply those with the
    # lowest places: plain aggregates instead of sorting each customer's candidates.
    order = [ibis.desc(pairs.confidence), ibis.desc(pairs.lift), pairs.consequent,
             pairs.antecedent]
    rules = pairs.mutate(place=ibis.row_number().over(ibis.window(order_by=order)))
    # A customer owning k products can lack at most k - 1 of A's consequents, so A's first
    # k - 1 + top consequents (in A's own order) hold every suggestion A can give them.
    ranked = rules.mutate(a_place=ibis.row_number().over(
        ibis.window(group_by=rules.antecedent, order_by=rules.place)))
    r = ranked.select(r_item="antecedent", r_product="consequent", r_place="place",
                      r_a_place="a_place")
    owned = ci.group_by("customer_id").aggregate(n_items=ci.count())
    owned = owned.rename(o_id="customer_id")
    mine = own.inner_join(owned, own.customer_id == owned.o_id)
    j = mine.inner_join(r, [mine.item == r.r_item,
                            r.r_a_place < mine.n_items + ibis.literal(top - 1)])
    cand = j.select(customer_id=j.customer_id, product=j.r_product, place=j.r_place,
                    owned=ibis.literal(0, type="int8"))
    # Drop what they own already: the owned products join the candidates as marked rows and
    # one aggregate per (customer, product) keeps the unmarked (cheaper than an anti-join).
    have = own.select(customer_id=own.customer_id, product=own.item,
                      place=ibis.null("int64"), owned=ibis.literal(1, type="int8"))
    both = ibis.union(cand, have)
    per = both.group_by(["customer_id", "product"]).aggregate(
        place=both.place.min(), owned=both.owned.max())
    per = per.filter(per.owned == 0, per.place.notnull()).drop("owned")
    if top == 1:
        best = per.group_by("customer_id").aggregate(place=per.place.min())
        best = best.mutate(rank=ibis.literal(1, type="int64"))
    else:
        w = ibis.window(group_by=per.customer_id, order_by=per.place)
        best = per.mutate(rank=(ibis.row_number().over(w) + 1).cast("int64"))
        best = best.filter(best.rank <= ibis.literal(top)).drop("product")
    out = best.inner_join(rules, best.place == rules.place)
    return out.select(
        customer_id=out.customer_id, rank=out.rank, product=out.consequent,
        because_of=out.antecedent, confidence=out.confidence, lift=out.lift,
        buyers=out.antecedent_total, later_buyers=out.both,
    )


def next_best_products(
    src: Source,
    *,
    customer_ids: Sequence[str] | None = None,
    as_of: date | None = None,
    min_count: int = DEFAULT_MIN_COUNT,
    top: int = DEFAULT_TOP,
    limit: int | None = None,
) -> pd.DataFrame:
    """Suggestions (:data:`NEXT_BEST_COLUMNS`) for ``customer_ids`` (None: every customer),
    from counted orders up to the end of ``as_of`` (None: all), by customer then rank; with
    ``limit``, the rows with the highest confidence first (then customer, rank)."""
    customers = None if customer_ids is None else _ids_table(customer_ids)
    t = next_best_expr(src, min_count=min_count, cutoff=cutoff_for(src, as_of), top=top,
                       customers=customers)
    if limit is not None:
        t = t.order_by([ibis.desc("confidence"), ibis.desc("lift"), "customer_id", "rank"])
        t = t.limit(limit)
    else:
        t = t.order_by(["customer_id", "rank"])
    df = src.execute(t)
    for col in ("customer_id", "product", "because_of"):
        df[col] = df[col].astype(object)
    for col in ("rank", "buyers", "later_buyers"):
        df[col] = df[col].astype("int64")
    df["reason"] = [
        next_best_reason(a, float(c), b)
        for a, c, b in zip(df["because_of"], df["confidence"], df["product"], strict=True)
    ]
    df["reason"] = df["reason"].astype(object)
    return df[list(NEXT_BEST_COLUMNS)].reset_index(drop=True)


def next_best_summary(
    src: Source,
    *,
    as_of: date | None = None,
    min_count: int = DEFAULT_MIN_COUNT,
    limit: int | None = None,
) -> pd.DataFrame:
    """Products by how many customers have them as their next-best product
    (:data:`SUMMARY_COLUMNS`), most customers first (ties: name), with the pair behind the
    suggestion for most of those customers (ties: higher confidence, then name)."""
    nb = next_best_expr(src, min_count=min_count, cutoff=cutoff_for(src, as_of), top=1)
    by_pair = nb.group_by(["product", "because_of"]).aggregate(
        n=nb.count(), confidence=nb.confidence.max(), lift=nb.lift.max())
    w = ibis.window(group_by=by_pair.product,
                    order_by=[ibis.desc(by_pair.n), ibis.desc(by_pair.confidence),
                              by_pair.because_of])
    by_pair = by_pair.mutate(
        customers=by_pair.n.sum().over(ibis.window(group_by=by_pair.product)),
        _r=ibis.row_number().over(w),
    )
    top_pair = by_pair.filter(by_pair._r == 0)
    t = top_pair.select("product", "customers", "because_of", "confidence", "lift")
    t = t.order_by([ibis.desc("customers"), "product"])
    if limit is not None:
        t = t.limit(limit)
    df = src.execute(t)
    for col in ("product", "because_of"):
        df[col] = df[col].astype(object)
    df["customers"] = df["customers"].astype("int64")
    df["reason"] = [
        next_best_reason(a, float(c), b)
        for a, c, b in zip(df["because_of"], df["confidence"], df["product"], strict=True)
    ]
    df["reason"] = df["reason"].astype(object)
    return df[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def product_prices(src: Source, *, cutoff: datetime | None = None) -> Table:
    """Per product sold in the reporting currency: ``product``, ``category`` (the one on most
    of its lines; ties: name) and ``price`` (median unit price, a decimal to the cent), from
    counted orders before ``cutoff``."""
    o = counted_orders(src)
    o = o.filter(o.currency == ibis.literal(src.reporting_currency))
    if cutoff is not None:
        o = o.filter(o.ordered_at < ibis.literal(cutoff))
    ln = src.order_lines
    ln = ln.filter(ln["product"].notnull(), ln.category.notnull(), ln.unit_price.notnull())
    j = o.inner_join(ln, o.order_id == ln.order_id)
    j = j.select(product=ln["product"], category=ln.category, unit_price=ln.unit_price)
    cats = j.group_by(["product", "category"]).aggregate(n=j.count())
    cats = cats.mutate(_r=ibis.row_number().over(
        ibis.window(group_by=cats["product"], order_by=[ibis.desc(cats.n), cats.category])))
    cats = cats.filter(cats._r == 0).select(c_product="product", category="category")
    prices = j.group_by("product").aggregate(price=j.unit_price.median().round(2))
    t = prices.inner_join(cats, prices["product"] == cats.c_product)
    return t.select("product", "category", "price")


def upsell_expr(
    src: Source,
    *,
    cutoff: datetime | None = None,
    customers: Table | None = None,
) -> Table:
    """Each customer's upsell as an Ibis table: ``customer_id``, ``category``, ``product``,
    ``price``, ``current_price`` (decimals); customers with no step up anywhere are absent."""
    prices = product_prices(src, cutoff=cutoff)
    lines = item_lines(src, level="product", cutoff=cutoff)
    lines = lines.filter(lines.customer_id.notnull())
    if customers is not None:
        lines = lines.filter(lines.customer_id.isin(customers.customer_id))
    p1 = prices.rename(p_product="product")
    j = lines.inner_join(p1, lines.item == p1.p_product)
    per_cat = j.group_by([j.customer_id, j.category]).aggregate(
        orders=j.order_id.nunique(), current_price=j.price.max())
    # Products get one global place by (price, name): a category's cheapest step up is then the
    # lowest place above the threshold, a plain aggregate.
    placed = prices.mutate(place=ibis.row_number().over(
        ibis.window(order_by=[prices.price, prices["product"]])))
    p2 = placed.rename(s_product="product", s_category="category", s_price="price",
                       s_place="place")
    steps = per_cat.inner_join(
        p2,
        [per_cat.category == p2.s_category,
         p2.s_price >= per_cat.current_price * ibis.literal(1 + UPSELL_MIN_STEP)],
    )
    steps = steps.group_by(["customer_id", "category", "orders", "current_price"]).aggregate(
        place=steps.s_place.min())
    w_cat = ibis.window(group_by=steps.customer_id,
                        order_by=[ibis.desc(steps.orders), steps.category])
    steps = steps.mutate(_c=ibis.row_number().over(w_cat))
    steps = steps.filter(steps._c == 0)
    out = steps.inner_join(p2, steps.place == p2.s_place)
    return out.select(customer_id=out.customer_id, category=out.category,
                      product=out.s_product, price=out.s_price,
                      current_price=out.current_price)


def upsell_products(
    src: Source,
    *,
    customer_ids: Sequence[str] | None = None,
    as_of: date | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Upsells (:data:`UPSELL_COLUMNS`) for ``customer_ids`` (None: everyone), by customer."""
    customers = None if customer_ids is None else _ids_table(customer_ids)
    t = upsell_expr(src, cutoff=cutoff_for(src, as_of), customers=customers)
    t = t.order_by("customer_id")
    if limit is not None:
        t = t.limit(limit)
    df = src.execute(t)
    for col in ("customer_id", "category", "product"):
        df[col] = df[col].astype(object)
    for col in ("price", "current_price"):
        df[col] = df[col].astype("float64")
    df["reason"] = [
        upsell_reason(c, cp, p, pr, src.reporting_currency)
        for c, cp, p, pr in zip(df["category"], df["current_price"], df["product"], df["price"],
                                strict=True)
    ]
    df["reason"] = df["reason"].astype(object)
    return df[list(UPSELL_COLUMNS)].reset_index(drop=True)


def recommended_product_tokens(
    src: Source,
    customer_ids: Sequence[str],
    *,
    as_of: date | None = None,
    min_count: int = DEFAULT_MIN_COUNT,
) -> pd.DataFrame:
    """``customer_id``, ``recommended_product`` (the next-best product, None without one) for
    each of ``customer_ids``: the value of the offer token ``{recommended_product}``."""
    ids = list(dict.fromkeys(str(c) for c in customer_ids))
    out = pd.DataFrame({"customer_id": pd.Series(ids, dtype=object)})
    if not ids:
        out["recommended_product"] = pd.Series([], dtype=object)
        return out
    nb = next_best_products(src, customer_ids=ids, as_of=as_of, min_count=min_count, top=1)
    got = dict(zip(nb["customer_id"], nb["product"], strict=True))
    out["recommended_product"] = pd.Series([got.get(c) for c in ids], dtype=object)
    return out
