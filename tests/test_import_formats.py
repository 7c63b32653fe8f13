"""Each recognised export, from a small hand-written file with the tool's real column names, to
the rows Relmark stores (literal expected tables)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import duckdb
import pytest

from relmark_core.imports import commit, preview
from tests.test_import_support import fx, rows

ORDER_COLS = (
    "o.order_id, o.source_order_id, o.source_system, c.email_norm, o.ordered_at, o.currency, "
    "o.subtotal, o.discounts, o.shipping, o.tax, o.total, o.refunds, o.net, o.status, "
    "o.sales_channel, o.discount_code"
)


def orders(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return rows(conn, f"SELECT {ORDER_COLS} FROM orders o LEFT JOIN customers c "
                "USING (customer_id) ORDER BY o.order_id")


def lines(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return rows(conn, "SELECT order_id, line_no, product, sku, category, quantity, unit_price "
                "FROM order_lines ORDER BY order_id, line_no")


def customers(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return rows(conn, "SELECT email, email_norm, first_name, last_name, phone, city, region, "
                "country, accepts_marketing, tags, signup_at, acquisition_channel, source_system "
                "FROM customers ORDER BY email_norm")


def test_shopify_orders_three_orders_on_seven_rows(conn: duckdb.DuckDBPyConnection) -> None:
    pv = preview(conn, fx("shopify_orders.csv"))
    assert (pv.format, pv.kind, pv.rows_read, pv.rows_to_load, pv.rows_rejected) == (
        "shopify_orders", "orders", 7, 3, 0)
    assert list(pv.sample["order_id"]) == ["shopify:#1001", "shopify:#1002", "shopify:#1003"]
    assert list(pv.sample["lines"]) == [2, 2, 3]
    result = commit(conn, pv)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (7, 3, 0)
    assert orders(conn) == [
        ("shopify:#1001", "#1001", "shopify", "ann@shop.com", datetime(2024, 3, 1, 15, 0), "USD",
         D("50.00"), D("0.00"), D("5.00"), D("4.00"), D("59.00"), D("0.00"), D("59.00"), "paid",
         "web", "SPRING10"),
        ("shopify:#1002", "#1002", "shopify", "bob@example.com", datetime(2024, 3, 5, 11, 0),
         "USD", D("80.00"), D("0.00"), D("0.00"), D("0.00"), D("80.00"), D("30.00"), D("50.00"),
         "paid", "web", None),
        ("shopify:#1003", "#1003", "shopify", "ann@shop.com", datetime(2024, 3, 7, 13, 0), "USD",
         D("30.00"), D("0.00"), D("5.00"), D("0.00"), D("35.00"), D("0.00"), D("35.00"), "paid",
         "pos", None),
    ]
    assert lines(conn) == [
        ("shopify:#1001", 1, "Mug", "MUG-1", None, 2, D("15.00")),
        ("shopify:#1001", 2, "Green tea", "TEA-1", None, 1, D("20.00")),
        ("shopify:#1002", 1, "Teapot", "POT-1", None, 1, D("75.00")),
        ("shopify:#1002", 2, "Gift wrap", "GIFT", None, 1, D("5.00")),
        ("shopify:#1003", 1, "Cup", "CUP-1", None, 1, D("10.00")),
        ("shopify:#1003", 2, "Saucer", "SAU-1", None, 1, D("10.00")),
        ("shopify:#1003", 3, "Spoon", "SPO-1", None, 1, D("10.00")),
    ]
    # " Ann@Shop.com" and "ann@shop.com" are one customer; her latest row gives the details.
    assert customers(conn) == [
        ("ann@shop.com", "ann@shop.com", "Ann", "Lee", None, "Springfield", "IL", "US", True,
         None, None, None, "shopify"),
        ("bob@example.com", "bob@example.com", "Bob", "Stone", None, "Paris", None, "FR", False,
         None, None, None, "shopify"),
    ]
    assert rows(conn, "SELECT key_type, key_value FROM customer_keys ORDER BY 2") == [
        ("email", "ann@shop.com"), ("email", "bob@example.com")]


def test_shopify_statuses_cancelled_refunded_pending_and_other_currency(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    commit(conn, fx("shopify_orders_statuses.csv"))
    got = [(r[0], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[15])
           for r in orders(conn)]
    assert got == [
        ("shopify:#2001", datetime(2024, 4, 1, 9, 0), "USD", D("20.00"), D("0.00"), D("0.00"),
         D("0.00"), D("20.00"), D("0.00"), D("20.00"), "cancelled", None),
        ("shopify:#2002", datetime(2024, 4, 2, 9, 0), "USD", D("40.00"), D("0.00"), D("0.00"),
         D("0.00"), D("40.00"), D("40.00"), D("0.00"), "refunded", None),
        ("shopify:#2003", datetime(2024, 4, 3, 9, 0), "USD", D("15.00"), D("0.00"), D("0.00"),
         D("0.00"), D("15.00"), D("0.00"), D("15.00"), "pending", None),
        ("shopify:#2004", datetime(2024, 4, 4, 13, 0), "CAD", D("100.00"), D("10.00"),
         D("10.00"), D("13.00"), D("113.00"), D("0.00"), D("113.00"), "paid", "WELCOME"),
    ]


def test_shopify_customers_export(conn: duckdb.DuckDBPyConnection) -> None:
    result = commit(conn, fx("shopify_customers.csv"))
    assert (result.format, result.kind, result.rows_loaded) == ("shopify_customers", "customers", 2)
    assert customers(conn) == [
        ("ann@shop.com", "ann@shop.com", "Ann", "Lee", "+15551230001", "Springfield", "IL", "US",
         True, ["vip", "newsletter"], None, None, "shopify"),
        ("GUS@Example.com", "gus@example.com", "Gus", "Hale", None, "Leeds", None, "GB", False,
         None, None, None, "shopify"),
    ]
    # Shopify's customer ids (written '7001 so spreadsheets keep them as text) identify them too.
    assert rows(conn, "SELECT key_type, key_value FROM customer_keys ORDER BY 1, 2") == [
        ("email", "ann@shop.com"), ("email", "gus@example.com"),
        ("shopify", "7001"), ("shopify", "7002")]


def test_woocommerce_orders_one_row_per_item(conn: duckdb.DuckDBPyConnection) -> None:
    result = commit(conn, fx("woocommerce_orders.csv"))
    assert (result.format, result.rows_read, result.rows_loaded) == ("woocommerce_orders", 4, 3)
    assert orders(conn) == [
        ("woocommerce:4101", "4101", "woocommerce", "hana@example.jp", datetime(2024, 5, 2, 14, 30),
         "GBP", None, D("0.00"), D("4.00"), D("4.80"), D("48.80"), D("0.00"), D("48.80"), "paid",
         None, None),
        ("woocommerce:4102", "4102", "woocommerce", "ivo@example.cz", datetime(2024, 5, 3, 9, 15),
         "GBP", None, D("5.00"), D("0.00"), D("0.00"), D("25.00"), D("10.00"), D("15.00"), "paid",
         None, None),
        ("woocommerce:4103", "4103", "woocommerce", "hana@example.jp", datetime(2024, 5, 4, 18, 0),
         "GBP", None, D("0.00"), D("0.00"), D("0.00"), D("12.00"), D("0.00"), D("12.00"),
         "cancelled", None, None),
    ]
    assert lines(conn) == [
        ("woocommerce:4101", 1, "Sencha", "SEN-1", None, 2, D("10.00")),
        ("woocommerce:4101", 2, "Whisk", "WHI-1", None, 1, D("20.00")),
        ("woocommerce:4102", 1, "Matcha", "MAT-1", None, 1, D("30.00")),
        ("woocommerce:4103", 1, "Kettle", "KET-1", None, 1, D("12.00")),
    ]
    # customer_id 0 is WooCommerce's guest: Ivo is known by his email only.
    assert rows(conn, "SELECT key_type, key_value FROM customer_keys ORDER BY 1, 2") == [
        ("email", "hana@example.jp"), ("email", "ivo@example.cz"), ("woocommerce", "12")]


def test_stripe_payments_statuses(conn: duckdb.DuckDBPyConnection) -> None:
    commit(conn, fx("stripe_payments.csv"))
    got = [(r[0], r[3], r[4], r[5], r[10], r[11], r[12], r[13]) for r in orders(conn)]
    assert got == [
        ("stripe:py_3Pa1", "ann@shop.com", datetime(2024, 6, 1, 10, 0), "USD", D("25.00"),
         D("0.00"), D("25.00"), "paid"),
        ("stripe:py_3Pa2", "kim@example.com", datetime(2024, 6, 2, 11, 30), "USD", D("40.00"),
         D("10.00"), D("30.00"), "paid"),
        ("stripe:py_3Pa3", "kim@example.com", datetime(2024, 6, 3, 12, 0), "EUR", D("18.00"),
         D("0.00"), D("18.00"), "failed"),
        ("stripe:py_3Pa4", "lou@example.com", datetime(2024, 6, 4, 13, 0), "USD", D("30.00"),
         D("0.00"), D("30.00"), "uncaptured"),
        ("stripe:py_3Pa5", "ann@shop.com", datetime(2024, 6, 5, 14, 0), "USD", D("12.00"),
         D("12.00"), D("0.00"), "refunded"),
    ]
    assert rows(conn, "SELECT key_type, key_value FROM customer_keys WHERE key_type = 'stripe' "
                "ORDER BY 2") == [("stripe", "cus_A1"), ("stripe", "cus_B2"), ("stripe", "cus_C3")]


def test_square_transactions_refund_rows_and_time_zones(conn: duckdb.DuckDBPyConnection) -> None:
    result = commit(conn, fx("square_transactions.csv"))
    assert (result.format, result.rows_read, result.rows_loaded) == ("square_transactions", 3, 2)
    # 2:30 PM Eastern on 5 Oct 2024 (EDT, UTC-4) and 9:05 AM Pacific on 15 Oct (PDT, UTC-7);
    # the refund row of TX-2 becomes its refunded amount. Square names no currency: $ -> USD.
    assert [(r[0], r[4], r[5], r[6], r[7], r[9], r[10], r[11], r[12], r[13]) for r in orders(conn)] == [
        ("square:TX-1", datetime(2024, 10, 5, 18, 30), "USD", D("60.00"), D("0.00"), D("0.00"),
         D("70.00"), D("0.00"), D("70.00"), "paid"),
        ("square:TX-2", datetime(2024, 10, 15, 16, 5), "USD", D("1240.00"), D("40.00"),
         D("96.00"), D("1296.00"), D("108.00"), D("1188.00"), "paid"),
    ]
    assert rows(conn, "SELECT first_name, last_name FROM customers") == [("Mia", "Chen")]


def test_klaviyo_profiles(conn: duckdb.DuckDBPyConnection) -> None:
    commit(conn, fx("klaviyo_profiles.csv"))
    assert customers(conn) == [
        ("ann@shop.com", "ann@shop.com", "Ann", "Lee", "+15551230001", "Springfield", "IL", "US",
         True, None, datetime(2023, 11, 20, 8, 15), "Shopify", "klaviyo"),
        ("nia@example.com", "nia@example.com", "Nia", "Obi", None, "Lagos", None, "NG", False,
         None, datetime(2024, 1, 5, 19, 45), "Popup form", "klaviyo"),
    ]


def test_typeform_finds_score_comment_and_email(conn: duckdb.DuckDBPyConnection) -> None:
    pv = preview(conn, fx("typeform_nps.csv"))
    assert pv.mapping is not None
    assert pv.mapping.fields == {
        "response_id": "#",
        "answered_at": "Submit Date (UTC)",
        "score": "How likely are you to recommend Acme Tea to a friend?",
        "email": "What's your email address?",
        "comment": "What's the main reason for your score?",
    }
    commit(conn, pv)
    assert rows(conn, "SELECT f.response_id, c.email_norm, f.answered_at, f.kind, f.score, "
                "f.comment, f.source FROM feedback f LEFT JOIN customers c USING (customer_id) "
                "ORDER BY 1") == [
        ("typeform:k2j9x0a1", "ann@shop.com", datetime(2024, 3, 10, 9, 2, 11), "nps", 9,
         "Lovely sencha", "typeform"),
        ("typeform:k2j9x0a2", "zoe@example.com", datetime(2024, 3, 11, 10, 5), "nps", 3,
         "Arrived late.\nBox was damaged.", "typeform"),
        ("typeform:k2j9x0a3", None, datetime(2024, 3, 12, 11, 1, 30), "nps", 10, None,
         "typeform"),
    ]


def test_typeform_asks_which_score_when_two_columns_could_be(
    conn: duckdb.DuckDBPyConnection, tmp_path
) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(
        "#,Rate the taste,Rate the packaging,Submit Date (UTC),Network ID\n"
        "t1,4,5,2024-03-10 09:02:11,n1\n"
        "t2,2,3,2024-03-11 10:05:00,n2\n"
    )
    pv = preview(conn, path)
    assert [(q.key, q.options) for q in pv.questions] == [
        ("score_column", ("Rate the taste", "Rate the packaging"))]
    answered = preview(conn, path, mapping={"score": "Rate the packaging"})
    assert answered.ready
    commit(conn, answered)
    assert rows(conn, "SELECT response_id, kind, score FROM feedback ORDER BY 1") == [
        ("typeform:t1", "csat", 5), ("typeform:t2", "csat", 3)]


def test_delighted_responses(conn: duckdb.DuckDBPyConnection) -> None:
    commit(conn, fx("delighted_responses.csv"))
    assert rows(conn, "SELECT f.response_id, c.email_norm, f.answered_at, f.kind, f.score, "
                "f.comment FROM feedback f JOIN customers c USING (customer_id) ORDER BY 1") == [
        ("delighted:100001", "bob@example.com", datetime(2024, 3, 20, 12, 0), "nps", 7,
         "Good tea but pricey"),
        ("delighted:100002", "ann@shop.com", datetime(2024, 3, 21, 13, 30), "csat", 5, "Perfect"),
    ]


def test_generic_french_semicolon_file_maps_by_header(conn: duckdb.DuckDBPyConnection) -> None:
    """Windows-1252, semicolons, decimal commas, day-first dates, a blank line and a totals row."""
    pv = preview(conn, fx("generic_orders_fr.csv"))
    assert (pv.format, pv.kind, pv.encoding, pv.delimiter) == (
        "generic", "orders", "cp1252", "semicolon")
    assert pv.mapping is not None and pv.mapping.fields == {
        "order_id": "Ref", "ordered_at": "Date de commande", "total": "Montant",
        "currency": "Devise", "email": "E-mail", "product": "Produit", "quantity": "Quantité",
    }
    assert (pv.rows_read, pv.rows_to_load, pv.rows_rejected, pv.date_order) == (2, 2, 0, "dmy")
    commit(conn, pv)
    assert [(r[0], r[3], r[4], r[5], r[10], r[12]) for r in orders(conn)] == [
        ("import:A-17", "claire@exemple.fr", datetime(2024, 2, 3), "EUR", D("1234.50"),
         D("1234.50")),
        ("import:A-18", "luc@exemple.fr", datetime(2024, 2, 25), "EUR", D("19.90"), D("19.90")),
    ]
    assert lines(conn) == [("import:A-17", 1, "Théière", None, None, 1, None),
                           ("import:A-18", 1, "Thé vert", None, None, 2, None)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shopify_orders.csv", "shopify_orders"),
        ("shopify_customers.csv", "shopify_customers"),
        ("woocommerce_orders.csv", "woocommerce_orders"),
        ("stripe_payments.csv", "stripe_payments"),
        ("square_transactions.csv", "square_transactions"),
        ("klaviyo_profiles.csv", "klaviyo_profiles"),
        ("typeform_nps.csv", "typeform"),
        ("delighted_responses.csv", "delighted"),
        ("generic_orders_fr.csv", "generic"),
    ],
)
def test_recognised_by_header_alone(conn: duckdb.DuckDBPyConnection, name: str,
                                     expected: str) -> None:
    assert preview(conn, fx(name)).format == expected


def test_shopify_rows_repeating_the_order_date_are_still_line_items(
    conn: duckdb.DuckDBPyConnection, tmp_path
) -> None:
    """Some exports repeat Created at (and the email) on every line-item row: the order's own
    fields are still read from the row that has its total."""
    import csv

    with fx("shopify_orders.csv").open(newline="") as fh:
        table = list(csv.reader(fh))
    at = table[0].index("Created at")
    for row in table[1:]:
        if not row[at]:
            row[at] = "2024-03-01 10:00:00 -0500"
    path = tmp_path / "repeating.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)
    result = commit(conn, path)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (7, 3, 0)
    assert [(r[0], r[4]) for r in orders(conn)] == [
        ("shopify:#1001", datetime(2024, 3, 1, 15, 0)),
        ("shopify:#1002", datetime(2024, 3, 5, 11, 0)),
        ("shopify:#1003", datetime(2024, 3, 7, 13, 0)),
    ]
    assert len(lines(conn)) == 7
