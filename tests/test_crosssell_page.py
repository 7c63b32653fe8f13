"""AppTest for the Cross-sell page, the suggestions on a customer's profile and the "likely to
buy" condition in the segment builder, on a hand-built candle shop.

    r01–r10   2024-01-01 Soy Candle @20 + Matches @3 (one order); 2024-02-01 Diffuser Refill @12
              (r01 also Large Soy Candle @35 in that February order)
    solo      2024-03-01 Soy Candle @20

Soy Candle, Matches and Large Soy Candle are "Candles", the refill "Diffusers".

Same order (base 21 orders: 10 in January, 10 in February, solo's): Soy Candle in 11, Matches in
10, both in 10 → lift 10 × 21 / (11 × 10) = 1.91 both ways; confidence Matches→Soy Candle 10/10,
Soy Candle→Matches 10/11. Refill+Large Soy Candle: 1 order (under the default minimum of 10).

Later (base 11 customers): Matches→Refill 10 of 10 buyers, lift 10 × 11 / (10 × 10) = 1.1;
Soy Candle→Refill 10 of 11 (91%), lift 10 × 11 / (11 × 10) = 1.0. solo's next-best product:
Diffuser Refill ("bought Soy Candle; 91% of such buyers later bought Diffuser Refill"); nobody
else has one. solo's upsell: their dearest candle is Soy Candle (20); Large Soy Candle (35) is
at least 10% dearer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from relmark_core import store
from relmark_core.segments import parse_definition, save_segment
from tests.apptest import open_page, problems
from tests.builders import add_customer, order, set_reporting

SOY = ("Soy Candle", "Candles", 1, 20)
MATCHES = ("Matches", "Candles", 1, 3)
REFILL = ("Diffuser Refill", "Diffusers", 1, 12)
LARGE = ("Large Soy Candle", "Candles", 1, 35)
SOLO_REASON = "bought Soy Candle; 91% of such buyers later bought Diffuser Refill"


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    set_reporting(conn, "USD")
    for i in range(1, 11):
        feb = [REFILL, LARGE] if i == 1 else [REFILL]
        add_customer(conn, f"r{i:02d}", first_name=f"Rae{i}", orders=[
            order("2024-01-01", 23, lines=[SOY, MATCHES]), order("2024-02-01", 12, lines=feb)])
    add_customer(conn, "solo", first_name="Sol", orders=[order("2024-03-01", 20, lines=[SOY])])
    store.set_meta(conn, "initialised", "1")  # not a first start: no demo shop is loaded


@pytest.fixture
def shop_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "shop.duckdb"
    with store.open_db(path) as conn:
        build_shop(conn)
    monkeypatch.setenv("RELMARK_DB", str(path))
    yield path


def pairs(df: object) -> list[tuple[str, str]]:
    return list(zip(df["antecedent"], df["consequent"], strict=True))  # type: ignore[index]


def test_affinity_tables_modes_and_url(shop_db: Path) -> None:
    at = open_page("pages/crosssell.py", {"as_of": "2024-06-30"})
    assert not problems(at)
    table, also, summary, strongest = (d.value for d in at.dataframe)
    assert pairs(table) == [("Matches", "Soy Candle"), ("Soy Candle", "Matches")]
    assert [round(x, 2) for x in table["lift"]] == [1.91, 1.91]
    assert list(table["confidence"].round(4)) == [1.0, 0.9091]
    # the picker starts on the most ordered product
    assert at.selectbox(key="xs_item").value == "Soy Candle"
    assert list(also["consequent"]) == ["Matches"]
    assert list(summary["product"]) == ["Diffuser Refill"]
    assert list(summary["reason"]) == [SOLO_REASON]
    assert list(strongest["customer_id"]) == ["solo"]

    at.radio(key="xs_mode").set_value("later").run()
    assert not problems(at)
    table = at.dataframe[0].value
    assert pairs(table) == [("Matches", "Diffuser Refill"), ("Soy Candle", "Diffuser Refill")]
    assert [round(x, 2) for x in table["lift"]] == [1.1, 1.0]
    assert at.query_params["mode"] == "later"

    at.selectbox(key="xs_item").set_value("Matches").run()
    assert list(at.dataframe[1].value["consequent"]) == ["Diffuser Refill"]
    assert at.query_params["item"] == "Matches"

    at.selectbox(key="xs_min").set_value(20).run()
    assert not problems(at)
    assert any("No pair of products has 20 or more customers" in str(i.value) for i in at.info)
    assert at.query_params["min"] == "20"


def test_link_opens_the_same_view(shop_db: Path) -> None:
    at = open_page("pages/crosssell.py", {"as_of": "2024-06-30", "mode": "later",
                                          "level": "category", "sort": "confidence",
                                          "min": "1", "item": "Diffusers"})
    assert not problems(at)
    assert at.radio(key="xs_mode").value == "later"
    assert at.radio(key="xs_level").value == "category"
    assert at.selectbox(key="xs_min").value == 1
    assert at.selectbox(key="xs_item").value == "Diffusers"
    # later, categories: Candles→Diffusers 10 of 11 customers; nothing follows Diffusers
    assert pairs(at.dataframe[0].value) == [("Candles", "Diffusers")]
    assert any("Nothing else has 1 or more customers" in str(i.value) for i in at.info)


def test_profile_shows_next_best_and_upsell(shop_db: Path) -> None:
    at = open_page("pages/customers.py", {"customer": "solo"})
    assert not problems(at)
    texts = [str(t.value) for t in at.text]
    assert f"1. Diffuser Refill — {SOLO_REASON}" in texts
    assert ("Large Soy Candle — buys Candles up to $20; Large Soy Candle is the next step up "
            "at $35") in texts


def test_segment_builder_edits_a_likely_condition(shop_db: Path) -> None:
    with store.open_db(shop_db) as conn:
        seg = save_segment(conn, "Refill next", parse_definition({"conditions": [
            {"kind": "likely", "product": "Diffuser Refill"}]}))
    at = open_page("pages/segments.py", {"segment": str(seg.segment_id), "as_of": "2024-06-30"})
    assert not problems(at)
    assert any(str(h.value) == "Customers who are likely to buy Diffuser Refill next (their top "
               "suggestion)" for h in at.subheader)
    product = next(s for s in at.selectbox if s.label == "Product")
    assert product.value == "Diffuser Refill"
    top = next(n for n in at.number_input if n.label == "Among their top N suggestions")
    top.set_value(2).run()
    assert not problems(at)
    assert any("one of their top 2 suggestions" in str(h.value) for h in at.subheader)
