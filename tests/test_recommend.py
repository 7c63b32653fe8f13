"""Next-best product and upsell on a hand-built candle shop, with their reasons in words.

    customer  day         lines (product @ unit price; category)
    b1        2024-01-01  Soy Candle @18
              2024-02-01  Diffuser Refill @12
    b2        2024-01-02  Soy Candle @20
              2024-02-02  Diffuser Refill @12
    b3        2024-01-03  Soy Candle @20
              2024-02-03  Wick Trimmer @8
    b4        2024-01-04  Soy Candle @22, Diffuser Refill @12      (one order)
    b5        2024-01-05  Soy Candle @25
    b6        2024-01-06  Large Soy Candle @35, Luxury Candle @60, Soy Candle Duo @21

Categories: the candles are "Candles", the refill "Diffusers", the trimmer "Tools".

"Later" pairs: Soy Candle has 5 buyers (b1–b5). Diffuser Refill later: b1, b2 (b4 bought it in
the same order: no) → 2/5 = 40%. Wick Trimmer later: b3 → 1/5 = 20%. Nothing follows anything
else (b6 bought everything in one order). Base 6 customers; Refill has 3 buyers, Trimmer 1:
lift Soy→Refill = 2 × 6 / (5 × 3) = 0.8, Soy→Trimmer = 1 × 6 / (5 × 1) = 1.2.

Next best (min 1 customer): b1, b2, b4 already have the refill → Wick Trimmer (20%); b3 has the
trimmer → Diffuser Refill (40%); b5 → Diffuser Refill (40%), then Wick Trimmer (20%); b6 none.
With at least 2 customers per pair only Soy→Refill is left: b3 and b5.

Upsell: prices are medians of the lines: Soy Candle 18, 20, 20, 22, 25 → 20; Soy Candle Duo 21,
Large Soy Candle 35, Luxury Candle 60, Diffuser Refill 12, Wick Trimmer 8. A step up costs at
least 10% more: 20 × 1.1 = 22, so Duo (21) is no step, Large Soy Candle (35) is. b1–b5's
dearest candle is Soy Candle (20; its median, not what they paid) → Large Soy Candle at 35;
Diffusers and Tools have one product each, no step. b6's dearest is 60: no step up.
"""

from __future__ import annotations

import duckdb
import pytest

from relmark_core import source
from relmark_core.errors import InputRefused
from relmark_core.metrics.definitions import definition
from relmark_core.personalisation.recommend import (
    NEXT_BEST_COLUMNS,
    UPSELL_COLUMNS,
    UPSELL_MIN_STEP,
    next_best_products,
    next_best_reason,
    next_best_summary,
    percent_words,
    recommended_product_tokens,
    upsell_products,
)
from tests.builders import add_customer, order

REFILL = ("Diffuser Refill", "Diffusers", 1, 12)
TRIMMER = ("Wick Trimmer", "Tools", 1, 8)


def soy(price: float) -> tuple[str, str, int, float]:
    return ("Soy Candle", "Candles", 1, price)


def candle_shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    add_customer(conn, "b1", orders=[order("2024-01-01", 18, lines=[soy(18)]),
                                     order("2024-02-01", 12, lines=[REFILL])])
    add_customer(conn, "b2", orders=[order("2024-01-02", 20, lines=[soy(20)]),
                                     order("2024-02-02", 12, lines=[REFILL])])
    add_customer(conn, "b3", orders=[order("2024-01-03", 20, lines=[soy(20)]),
                                     order("2024-02-03", 8, lines=[TRIMMER])])
    add_customer(conn, "b4", orders=[order("2024-01-04", 34, lines=[soy(22), REFILL])])
    add_customer(conn, "b5", orders=[order("2024-01-05", 25, lines=[soy(25)])])
    add_customer(conn, "b6", orders=[order("2024-01-06", 116, lines=[
        ("Large Soy Candle", "Candles", 1, 35), ("Luxury Candle", "Candles", 1, 60),
        ("Soy Candle Duo", "Candles", 1, 21)])])
    return source.from_duckdb(conn)


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    return candle_shop(conn)


def test_next_best_product_with_its_reason(shop: source.Source) -> None:
    df = next_best_products(shop, min_count=1)
    assert tuple(df.columns) == NEXT_BEST_COLUMNS
    got = [(r.customer_id, r.rank, r.product, r.because_of, round(r.confidence, 6),
            round(r.lift, 6), r.buyers, r.later_buyers) for r in df.itertuples()]
    assert got == [
        ("b1", 1, "Wick Trimmer", "Soy Candle", 0.2, 1.2, 5, 1),
        ("b2", 1, "Wick Trimmer", "Soy Candle", 0.2, 1.2, 5, 1),
        ("b3", 1, "Diffuser Refill", "Soy Candle", 0.4, 0.8, 5, 2),
        ("b4", 1, "Wick Trimmer", "Soy Candle", 0.2, 1.2, 5, 1),
        ("b5", 1, "Diffuser Refill", "Soy Candle", 0.4, 0.8, 5, 2),
    ]
    b5 = df[df["customer_id"] == "b5"].iloc[0]
    assert b5["reason"] == "bought Soy Candle; 40% of such buyers later bought Diffuser Refill"


def test_more_suggestions_and_the_minimum(shop: source.Source) -> None:
    two = next_best_products(shop, customer_ids=["b5", "b6"], min_count=1, top=2)
    assert list(two["reason"]) == [
        "bought Soy Candle; 40% of such buyers later bought Diffuser Refill",
        "bought Soy Candle; 20% of such buyers later bought Wick Trimmer",
    ]
    assert list(two["rank"]) == [1, 2]
    strict = next_best_products(shop, min_count=2)
    assert list(zip(strict["customer_id"], strict["product"], strict=True)) == [
        ("b3", "Diffuser Refill"), ("b5", "Diffuser Refill")]
    with pytest.raises(InputRefused, match="1 to 5 suggestions"):
        next_best_products(shop, top=6)


def test_summary_counts_customers_per_suggestion(shop: source.Source) -> None:
    df = next_best_summary(shop, min_count=1)
    assert [(r.product, r.customers, r.because_of, r.reason) for r in df.itertuples()] == [
        ("Wick Trimmer", 3, "Soy Candle",
         "bought Soy Candle; 20% of such buyers later bought Wick Trimmer"),
        ("Diffuser Refill", 2, "Soy Candle",
         "bought Soy Candle; 40% of such buyers later bought Diffuser Refill"),
    ]


def test_upsell_is_the_next_step_up_in_price(shop: source.Source) -> None:
    df = upsell_products(shop)
    assert tuple(df.columns) == UPSELL_COLUMNS
    assert [(r.customer_id, r.category, r.product, r.price, r.current_price)
            for r in df.itertuples()] == [
        (c, "Candles", "Large Soy Candle", 35.0, 20.0) for c in ("b1", "b2", "b3", "b4", "b5")
    ]
    assert df["reason"].iloc[0] == (
        "buys Candles up to $20; Large Soy Candle is the next step up at $35")
    assert upsell_products(shop, customer_ids=["b6"]).empty
    assert f"{UPSELL_MIN_STEP:.0%}" == "10%"
    assert "at least 10% above" in definition("upsell_product").help


def test_recommended_product_token_values(shop: source.Source) -> None:
    tok = recommended_product_tokens(shop, ["b5", "b6", "b1"], min_count=1)
    assert list(tok.itertuples(index=False, name=None)) == [
        ("b5", "Diffuser Refill"), ("b6", None), ("b1", "Wick Trimmer")]


def test_percent_words() -> None:
    assert percent_words(0.375) == "38%"
    assert percent_words(2 / 3) == "67%"
    assert percent_words(0.004) == "under 1%"
    assert percent_words(1.0) == "100%"
    assert next_best_reason("A", 0.125, "B") == "bought A; 13% of such buyers later bought B"


# --- usable everywhere: the segment condition, the segment export, the offer token ----------


def test_likely_to_buy_condition_sentence_and_members(shop: source.Source) -> None:
    from datetime import date

    from relmark_core.segments import parse_definition
    from relmark_core.segments.compile import members

    d = parse_definition({"conditions": [
        {"kind": "likely", "product": "Diffuser Refill", "min_customers": 1}]})
    assert d.sentence() == ("Customers who are likely to buy Diffuser Refill next (their top "
                            "suggestion, from pairs behind at least 1 customer)")
    got = shop.execute(members(shop, d, as_of=date(2024, 6, 30)).customer_id)
    assert sorted(got) == ["b3", "b5"]
    # one of their top 2: b5 has Wick Trimmer second; b1, b2, b4 first
    trimmer = parse_definition({"conditions": [
        {"kind": "likely", "product": "Wick Trimmer", "top": 2, "min_customers": 1}]})
    assert trimmer.sentence() == ("Customers who are likely to buy Wick Trimmer next (one of "
                                  "their top 2 suggestions, from pairs behind at least 1 "
                                  "customer)")
    got = shop.execute(members(shop, trimmer, as_of=date(2024, 6, 30)).customer_id)
    assert sorted(got) == ["b1", "b2", "b4", "b5"]
    # as of 1 Feb only b1 has bought the refill later: Soy→Refill 1/5, Soy→Trimmer 0
    early = shop.execute(members(shop, d, as_of=date(2024, 2, 1)).customer_id)
    assert sorted(early) == ["b2", "b3", "b5"]
    plain = parse_definition({"conditions": [{"kind": "likely", "product": "Diffuser Refill"}]})
    assert plain.sentence() == (
        "Customers who are likely to buy Diffuser Refill next (their top suggestion)")
    from relmark_core.segments.model import condition_problem

    assert condition_problem({"kind": "likely", "product": "  "}) == (
        "In this condition (Likely to buy a product next), product: is empty; type a value or "
        "remove it.")


def refill_shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    """Ten customers r01–r10 bought Soy Candle on 1 Jan and Diffuser Refill on 1 Feb; "solo"
    bought Soy Candle on 1 Mar only. Soy Candle: 11 buyers, 10 later bought the refill (the
    default minimum of 10 customers is met): 10/11 = 90.9% → "91%". solo's next-best product
    is Diffuser Refill; r01–r10 have bought everything, so they have none."""
    for i in range(1, 11):
        add_customer(conn, f"r{i:02d}", first_name=f"Rae{i}", orders=[
            order("2024-01-01", 20, lines=[soy(20)]), order("2024-02-01", 12, lines=[REFILL])])
    add_customer(conn, "solo", first_name="Sol", orders=[order("2024-03-01", 20, lines=[soy(20)])])
    return source.from_duckdb(conn)


def test_segment_export_has_the_recommended_product(conn: duckdb.DuckDBPyConnection) -> None:
    from datetime import date

    import pandas as pd

    from relmark_core.segments import export_members, parse_definition

    src = refill_shop(conn)
    exp = export_members(src, definition=parse_definition({}), as_of=date(2024, 6, 30),
                         properties=["recommended_product"])
    df = pd.read_csv(pd.io.common.BytesIO(exp.data), dtype=str, keep_default_na=False)
    assert list(df.columns) == ["Email", "First Name", "Last Name", "Recommended Product"]
    rec = dict(zip(df["Email"], df["Recommended Product"], strict=True))
    assert rec["solo@example.com"] == "Diffuser Refill"
    assert rec["r01@example.com"] == ""
    assert len(rec) == 11


def test_offer_token_is_filled_or_falls_back(conn: duckdb.DuckDBPyConnection) -> None:
    from datetime import date

    import pandas as pd

    from relmark_core.offers.export import export_offer
    from relmark_core.offers.model import DEFAULT_FALLBACKS, TOKENS, parse_offer, render_message
    from relmark_core.offers.saved import launch_offer, save_offer
    from relmark_core.segments import parse_definition, save_segment

    refill_shop(conn)
    assert "recommended_product" in TOKENS
    assert DEFAULT_FALLBACKS["recommended_product"] == "something new"
    seg = save_segment(conn, "Everyone", parse_definition({}))
    offer = parse_offer({
        "name": "Refill nudge", "segment_id": seg.segment_id, "starts_on": "2024-07-01",
        "ends_on": "2024-07-14", "holdout_pct": 0, "code_mode": "none",
        "message": "Hi {first_name}, time for {recommended_product}?",
    })
    saved = save_offer(conn, offer, seed="s1")
    launch_offer(conn, saved.offer_id, as_of=date(2024, 6, 30))
    email = export_offer(conn, saved.offer_id, "email")
    df = pd.read_csv(pd.io.common.BytesIO(email.data), dtype=str, keep_default_na=False)
    assert "Recommended Product" in email.columns
    assert email.columns[-2:] == ("Recommended Product", "Offer Ends")
    by_name = {r["First Name"]: r for r in df.to_dict("records")}
    assert by_name["Sol"]["Message"] == "Hi Sol, time for Diffuser Refill?"
    assert by_name["Sol"]["Recommended Product"] == "Diffuser Refill"
    assert by_name["Rae1"]["Message"] == "Hi Rae1, time for something new?"
    assert by_name["Rae1"]["Recommended Product"] == ""
    # a fallback the marketer chose
    assert render_message("Try {recommended_product}", {"recommended_product": None},
                          {"recommended_product": "our refills"}) == "Try our refills"


def test_refill_reason_with_the_default_minimum(conn: duckdb.DuckDBPyConnection) -> None:
    src = refill_shop(conn)
    df = next_best_products(src)
    assert list(df["customer_id"]) == ["solo"]
    assert df["reason"].iloc[0] == (
        "bought Soy Candle; 91% of such buyers later bought Diffuser Refill")


def test_offer_preview_fills_the_recommended_product(conn: duckdb.DuckDBPyConnection) -> None:
    from relmark_core.offers.model import parse_offer
    from relmark_core.offers.saved import member_tokens, preview_message, uses_recommendation

    refill_shop(conn)
    customers = dict(conn.execute("SELECT first_name, customer_id FROM customers").fetchall())
    offer = parse_offer({
        "name": "Refill nudge", "segment_id": 1, "starts_on": "2024-07-01",
        "ends_on": "2024-07-14", "holdout_pct": 0, "code_mode": "none",
        "message": "Hi {first_name}, time for {recommended_product}?",
    })
    assert uses_recommendation(offer)
    assert preview_message(conn, offer, customers["Sol"]) == "Hi Sol, time for Diffuser Refill?"
    assert preview_message(conn, offer, customers["Rae1"]) == "Hi Rae1, time for something new?"
    # without the token the next-best product is not computed at all
    assert "recommended_product" not in member_tokens(conn, [customers["Sol"]]).columns
