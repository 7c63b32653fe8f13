"""The customer table (search, sort, pages) and one customer's profile, on a hand-built shop."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from relmark_core import source
from relmark_core.customers import (
    CUSTOMER_COLUMNS,
    count_customers,
    customer_profile,
    customer_table,
    search_sentence,
)
from relmark_core.errors import InputRefused
from tests.builders import add_customer, add_feedback, order

LONG_COMMENT = "<script>alert('x')</script> " + "Lovely tea. " * 40


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(
        conn, "ann", email="Ann.Lee@Shop.com", first_name="Ann", last_name="Lee", city="Oslo",
        country="NO", tags=["tea", "gifts"], accepts_marketing=True,
        orders=[
            order("2024-03-01 09:00:00", 64, lines=[("Sencha 100g", "tea", 2, 12), ("Mug", "gear", 1, 40)]),
            order("2024-05-10 10:00:00", 36, lines=[("Sencha 100g", "tea", 3, 12)]),
            order("2024-05-20 11:00:00", 50, status="cancelled", lines=[("Mug", "gear", 1, 50)]),
            order("2024-06-01 12:00:00", 30, currency="EUR", lines=[("Matcha", "tea", 1, 30)]),
        ],
    )
    add_feedback(conn, "ann", "2024-03-10", 9, comment="Great")
    add_feedback(conn, "ann", "2024-05-15", 6, comment=LONG_COMMENT)
    add_feedback(conn, "ann", "2024-05-16", 4, kind="csat")
    add_customer(conn, "bob", first_name="Bob", last_name="Marley", city="Kingston", country="JM",
                 accepts_marketing=False,
                 orders=[order("2024-06-20", 200), order("2024-06-21", 50, refunds=50, status="refunded")])
    add_feedback(conn, "bob", "2024-06-25", 10)
    add_customer(conn, "cy", email="cy@oslo.example", first_name="Cy", accepts_marketing=None)
    add_customer(conn, "dee_100%", email="dee@x.com", last_name="Dee", country="SE",
                 orders=[order("2023-12-01", 20)])


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    build_shop(conn)
    return source.from_duckdb(conn)


def test_table_columns_and_values(shop: source.Source) -> None:
    df = customer_table(shop, sort="net_spend")
    assert list(df.columns) == list(CUSTOMER_COLUMNS)
    assert list(df.customer_id) == ["bob", "ann", "dee_100%", "cy"]
    ann = df.set_index("customer_id").loc["ann"]
    assert (ann["name"], ann.email, ann.location, ann.tags) == (
        "Ann Lee", "Ann.Lee@Shop.com", "Oslo, NO", "tea, gifts")
    # three counted orders (the EUR one counts as an order, not as USD spend)
    assert (ann.orders, ann.net_spend, ann.nps) == (3, 100.0, 6)
    assert ann.first_order == pd.Timestamp("2024-03-01 09:00:00")
    assert ann.last_order == pd.Timestamp("2024-06-01 12:00:00")
    bob = df.set_index("customer_id").loc["bob"]
    assert (bob.orders, bob.net_spend, bob.nps) == (1, 200.0, 10)
    cy = df.set_index("customer_id").loc["cy"]
    assert (cy.orders, cy.net_spend) == (0, 0.0)
    assert pd.isna(cy.rfm_group) and pd.isna(cy.nps) and pd.isna(cy.first_order)
    assert pd.isna(cy.location) and pd.isna(cy.tags)


def test_rfm_group_in_the_table(shop: source.Source) -> None:
    # as of 2024-06-21, the day after the last counted order (bob's on 06-20; his refunded
    # 06-21 order does not count): recency ann 20, bob 1, dee 203; F ann 3, bob 1, dee 1;
    # M ann 100, bob 200, dee 20. n = 3, so ranks 1, 2, 3 give scores 1, 2, 4.
    # ann R2 F4 M2 → At risk; bob R4 F1 M4 → Promising; dee R1 F1 M1 → Lost; cy has no orders.
    df = customer_table(shop, sort="name", descending=False).set_index("customer_id")
    assert df.rfm_group.drop("cy").to_dict() == {
        "ann": "At risk", "bob": "Promising", "dee_100%": "Lost"}
    assert pd.isna(df.rfm_group["cy"])


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("ann", ["ann"]),
        ("SHOP.COM", ["ann"]),
        ("oslo", ["ann", "cy"]),   # ann's city, cy's email
        ("marley", ["bob"]),
        ("bob m", ["bob"]),        # across first and last name
        ("se", ["dee_100%"]),     # country SE (products are not searched)
        ("%", ["dee_100%"]),      # a literal percent sign, not a wildcard
        ("_", ["dee_100%"]),
        ("nobody", []),
        ("  ", ["ann", "bob", "cy", "dee_100%"]),
    ],
)
def test_search(shop: source.Source, search: str, expected: list[str]) -> None:
    df = customer_table(shop, search=search, sort="email", descending=False)
    assert sorted(df.customer_id) == sorted(expected)
    assert count_customers(shop, search=search) == len(expected)


def test_sort_and_pages(shop: source.Source) -> None:
    # empty values sort last in both directions
    asc = customer_table(shop, sort="last_order", descending=False)
    assert list(asc.customer_id) == ["dee_100%", "ann", "bob", "cy"]
    desc = customer_table(shop, sort="last_order")
    assert list(desc.customer_id) == ["bob", "ann", "dee_100%", "cy"]
    page2 = customer_table(shop, sort="last_order", limit=2, offset=2)
    assert list(page2.customer_id) == ["dee_100%", "cy"]
    by_nps = customer_table(shop, sort="nps")
    assert list(by_nps.customer_id) == ["bob", "ann", "cy", "dee_100%"]


def test_refuses_unknown_sort_and_bad_pages(shop: source.Source) -> None:
    with pytest.raises(InputRefused, match="cannot be sorted by 'phone'"):
        customer_table(shop, sort="phone")  # type: ignore[arg-type]
    with pytest.raises(InputRefused, match="Show between 1 and 10,000 customers"):
        customer_table(shop, limit=0)


def test_search_sentence() -> None:
    assert search_sentence(None) == "All customers"
    assert search_sentence(" ann ") == (
        "Customers whose name, email, customer id, city or country contains “ann”"
    )


def test_profile(shop: source.Source) -> None:
    p = customer_profile(shop, "ann")
    d = p.details
    assert (d["name"], d["email"], d["location"], d["tags"], d["orders"], d["net_spend"]) == (
        "Ann Lee", "Ann.Lee@Shop.com", "Oslo, NO", ["tea", "gifts"], 3, 100.0)
    assert d["first_order"] == datetime(2024, 3, 1, 9) and d["last_order"] == datetime(2024, 6, 1, 12)
    # the timeline holds every order, oldest first, counted or not
    assert [(r.status, r.counted, r.currency, r.net, r.items) for r in p.orders.itertuples()] == [
        ("paid", True, "USD", 64.0, 3),
        ("paid", True, "USD", 36.0, 3),
        ("cancelled", False, "USD", 50.0, 1),
        ("paid", True, "EUR", 30.0, 1),
    ]
    # products of counted orders; spend in USD only (the EUR matcha counts in quantity)
    assert [tuple(r) for r in p.products.itertuples(index=False)] == [
        ("Sencha 100g", "tea", 5, 2, 60.0),
        ("Mug", "gear", 1, 1, 40.0),
        ("Matcha", "tea", 1, 1, 0.0),
    ]
    assert [tuple(r) for r in p.categories.itertuples(index=False)] == [
        ("tea", 6, 3, 60.0),
        ("gear", 1, 1, 40.0),
    ]
    # feedback newest first, comments exactly as given (pages show them as text)
    assert [(r.kind, r.score) for r in p.feedback.itertuples()] == [
        ("csat", 4), ("nps", 6), ("nps", 9)]
    assert p.feedback.comment.iloc[1] == LONG_COMMENT
    assert p.consent.to_dict("records") == [
        {"channel": "email marketing", "status": "given",
         "source": "customer record (accepts marketing)"}
    ]
    assert p.rfm == {
        "recency_days": 20, "frequency": 3, "monetary": 100.0, "r": 2, "f": 4, "m": 2,
        "group": "At risk",
        "reason": "R2 F4 M2 → At risk: last order 20 days ago, 3 orders, $100",
        "as_of": date(2024, 6, 21),
    }


def test_profile_without_orders_and_unknown_ids(shop: source.Source) -> None:
    cy = customer_profile(shop, "cy")
    assert cy.rfm is None and cy.orders.empty and cy.products.empty and cy.feedback.empty
    assert (cy.details["orders"], cy.details["first_order"], cy.details["tags"]) == (0, None, [])
    assert cy.consent.status.item() == "unknown"
    assert customer_profile(shop, "bob").consent.status.item() == "not given"
    with pytest.raises(InputRefused, match="No customer has the id 'zed'"):
        customer_profile(shop, "zed")
