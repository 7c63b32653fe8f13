"""Affinity on a hand-built shop: literal support, confidence and lift in both modes.

The shop (prices do not matter here; Candle and Matches are in "Candles", Refill in
"Diffusers", Tea in "Tea"):

    order  customer  day         status     lines
    o1     c1        2024-01-01  paid       Candle ×2, Matches
    o2     c1        2024-02-01  paid       Refill
    o3     c2        2024-01-05  paid       Candle
    o4     c2        2024-03-01  paid       Refill, Matches
    o5     c3        2024-01-10  paid       Tea
    o6     c4        2024-01-15  paid       Candle, Refill
    o7     c4        2024-02-01  cancelled  Matches          (not counted)
    o8     guest     2024-01-20  paid       Candle, Matches

Same order, products. Base = counted orders with a product: o1 o2 o3 o4 o5 o6 o8 = 7.
Orders holding: Candle 4 (o1 o3 o6 o8), Matches 3 (o1 o4 o8), Refill 3 (o2 o4 o6), Tea 1.
Pairs: Candle+Matches 2 (o1 o8), Candle+Refill 1 (o6), Matches+Refill 1 (o4).

    A        B        both  support  confidence  lift = both × 7 / (A × B)
    Matches  Candle   2     2/7      2/3         14/12 = 1.166667
    Candle   Matches  2     2/7      2/4         14/12
    Matches  Refill   1     1/7      1/3         7/9 = 0.777778
    Refill   Matches  1     1/7      1/3         7/9          (tie on every number: A by name)
    Refill   Candle   1     1/7      1/3         7/12 = 0.583333
    Candle   Refill   1     1/7      1/4         7/12

Later, products. Base = customers with a counted product line: c1 c2 c3 c4 = 4 (guests never).
First/last counted order per item — c1: Candle 01-01, Matches 01-01, Refill 02-01; c2: Candle
01-05, Refill 03-01, Matches 03-01; c3: Tea 01-10; c4: Candle 01-15, Refill 01-15 (o7 is
cancelled, so c4 never bought Matches). Buyers: Candle 3, Matches 2, Refill 3, Tea 1.
(A, B) counts a customer whose last B order is strictly after their first A order:
Candle→Refill c1 c2 (c4 bought both in one order: no) = 2; Candle→Matches c2 = 1 (c1: same
order); Matches→Refill c1 = 1 (c2: same order); nothing ever follows Refill or Tea.

    A        B        both  support  confidence  lift = both × 4 / (A × B)
    Candle   Refill   2     2/4      2/3         8/9 = 0.888889
    Matches  Refill   1     1/4      1/2         4/6 = 0.666667
    Candle   Matches  1     1/4      1/3         4/6          (lift tie: higher confidence first)

Same order, categories. Sets: o1 {Candles} (two lines, one order), o2 {Diffusers}, o3
{Candles}, o4 {Candles, Diffusers}, o5 {Tea}, o6 {Candles, Diffusers}, o8 {Candles}: base 7,
Candles 5, Diffusers 3, both 2 (o4 o6); lift = 2 × 7 / 15 = 0.933333 both ways; confidence
Diffusers→Candles 2/3, Candles→Diffusers 2/5.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from relmark_core import source
from relmark_core.errors import InputRefused
from relmark_core.personalisation.affinity import AFFINITY_COLUMNS, DEFAULT_MIN_COUNT, affinity
from tests.builders import add_customer, add_order, order

CANDLE = ("Candle", "Candles", 2, 20.0)
MATCHES = ("Matches", "Candles", 1, 3.0)
REFILL = ("Refill", "Diffusers", 1, 12.0)
TEA = ("Tea", "Tea", 1, 8.0)


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    add_customer(conn, "c1", orders=[order("2024-01-01", 43, lines=[CANDLE, MATCHES]),
                                     order("2024-02-01", 12, lines=[REFILL])])
    add_customer(conn, "c2", orders=[order("2024-01-05", 40, lines=[CANDLE]),
                                     order("2024-03-01", 15, lines=[REFILL, MATCHES])])
    add_customer(conn, "c3", orders=[order("2024-01-10", 8, lines=[TEA])])
    add_customer(conn, "c4", orders=[order("2024-01-15", 52, lines=[CANDLE, REFILL]),
                                     order("2024-02-01", 3, status="cancelled",
                                           lines=[MATCHES])])
    add_order(conn, None, order("2024-01-20", 43, lines=[CANDLE, MATCHES]))
    return source.from_duckdb(conn)


def rows(df: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        (r.antecedent, r.consequent, r.both, r.antecedent_total, r.consequent_total, r.base,
         round(r.support, 6), round(r.confidence, 6), round(r.lift, 6))
        for r in df.itertuples()
    ]


def test_same_order_products(shop: source.Source) -> None:
    df = affinity(shop, level="product", mode="same_order", min_count=1)
    assert tuple(df.columns) == AFFINITY_COLUMNS
    assert rows(df) == [
        ("Matches", "Candle", 2, 3, 4, 7, 0.285714, 0.666667, 1.166667),
        ("Candle", "Matches", 2, 4, 3, 7, 0.285714, 0.5, 1.166667),
        ("Matches", "Refill", 1, 3, 3, 7, 0.142857, 0.333333, 0.777778),
        ("Refill", "Matches", 1, 3, 3, 7, 0.142857, 0.333333, 0.777778),
        ("Refill", "Candle", 1, 3, 4, 7, 0.142857, 0.333333, 0.583333),
        ("Candle", "Refill", 1, 4, 3, 7, 0.142857, 0.25, 0.583333),
    ]


def test_later_products(shop: source.Source) -> None:
    df = affinity(shop, level="product", mode="later", min_count=1)
    assert rows(df) == [
        ("Candle", "Refill", 2, 3, 3, 4, 0.5, 0.666667, 0.888889),
        ("Matches", "Refill", 1, 2, 3, 4, 0.25, 0.5, 0.666667),
        ("Candle", "Matches", 1, 3, 2, 4, 0.25, 0.333333, 0.666667),
    ]


def test_same_order_categories(shop: source.Source) -> None:
    df = affinity(shop, level="category", mode="same_order", min_count=1)
    assert rows(df) == [
        ("Diffusers", "Candles", 2, 3, 5, 7, 0.285714, 0.666667, 0.933333),
        ("Candles", "Diffusers", 2, 5, 3, 7, 0.285714, 0.4, 0.933333),
    ]


def test_min_count_hides_thin_pairs(shop: source.Source) -> None:
    same = affinity(shop, mode="same_order", min_count=2)
    assert [(r.antecedent, r.consequent) for r in same.itertuples()] == [
        ("Matches", "Candle"), ("Candle", "Matches")]
    later = affinity(shop, mode="later", min_count=2)
    assert [(r.antecedent, r.consequent) for r in later.itertuples()] == [("Candle", "Refill")]
    assert affinity(shop, mode="later", min_count=3).empty
    assert DEFAULT_MIN_COUNT == 10  # the default the page shows
    assert affinity(shop).empty  # nothing here has 10 orders behind it


def test_sort_by_confidence_and_one_antecedent(shop: source.Source) -> None:
    df = affinity(shop, mode="same_order", min_count=1, sort="confidence", antecedent="Candle")
    # Candle→Matches 2/4, Candle→Refill 1/4
    assert [(r.consequent, round(r.confidence, 6)) for r in df.itertuples()] == [
        ("Matches", 0.5), ("Refill", 0.25)]
    later = affinity(shop, mode="later", min_count=1, antecedent="Matches")
    assert rows(later) == [("Matches", "Refill", 1, 2, 3, 4, 0.25, 0.5, 0.666667)]


def test_as_of_leaves_later_orders_out(shop: source.Source) -> None:
    from datetime import date

    # up to 31 Jan: c1 has not bought Refill yet, c2 not Refill/Matches: no later pair at all
    assert affinity(shop, mode="later", min_count=1, as_of=date(2024, 1, 31)).empty
    # c1's 1 Feb Refill is in by 1 Feb: Candle→Refill 1 (c1), Matches→Refill 1 (c1)
    df = affinity(shop, mode="later", min_count=1, as_of=date(2024, 2, 1))
    assert [(r.antecedent, r.consequent, r.both) for r in df.itertuples()] == [
        ("Matches", "Refill", 1), ("Candle", "Refill", 1)]


def test_bad_choices_are_refused(shop: source.Source) -> None:
    with pytest.raises(InputRefused, match="whole number from 1"):
        affinity(shop, min_count=0)
    with pytest.raises(InputRefused, match="product or category"):
        affinity(shop, level="sku")  # type: ignore[arg-type]
    with pytest.raises(InputRefused, match="Sort affinity"):
        affinity(shop, sort="both")  # type: ignore[arg-type]


def test_items_by_orders(shop: source.Source) -> None:
    from relmark_core.personalisation.affinity import items_by_orders

    df = items_by_orders(shop, level="product")
    assert list(df.itertuples(index=False, name=None)) == [
        ("Candle", 4), ("Matches", 3), ("Refill", 3), ("Tea", 1)]
    cats = items_by_orders(shop, level="category", limit=2)
    assert list(cats.itertuples(index=False, name=None)) == [("Candles", 5), ("Diffusers", 3)]
