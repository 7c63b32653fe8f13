"""Consent per channel: the backfill from accepts_marketing, imports, undo, the overview."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from relmark_core.imports import commit, undo_import
from relmark_core.privacy import consent
from tests.builders import add_customer


def _consent_rows(conn: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT customer_id, channel, granted, source FROM consent ORDER BY customer_id, channel"
    ).fetchall()


def test_backfill_from_accepts_marketing_fills_email_only_where_missing(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    add_customer(conn, "a", email="a@x.com", accepts_marketing=True, signup="2024-01-02")
    add_customer(conn, "b", email="b@x.com", accepts_marketing=False)
    add_customer(conn, "c", email="c@x.com", accepts_marketing=None)
    add_customer(conn, "d", email="d@x.com", accepts_marketing=True)
    conn.execute(
        "INSERT INTO consent VALUES ('d', 'email', FALSE, 'manual', TIMESTAMP '2024-05-01', NULL)"
    )

    assert consent.backfill_from_accepts_marketing(conn) == 2
    assert consent.backfill_from_accepts_marketing(conn) == 0  # idempotent

    assert _consent_rows(conn) == [
        ("a", "email", True, "earlier import"),
        ("b", "email", False, "earlier import"),
        ("d", "email", False, "manual"),
    ]
    when = conn.execute("SELECT recorded_at FROM consent WHERE customer_id = 'a'").fetchall()
    assert when == [(datetime(2024, 1, 2, 12, 0),)]


# --- imports ------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "privacy"


def _fx(name: str) -> Path:
    return FIXTURES / name


def _by_email(conn: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return conn.execute(
        """SELECT c.email_norm, k.channel, k.granted, k.source FROM consent k
           JOIN customers c USING (customer_id) ORDER BY 1, 2"""
    ).fetchall()


def _suppression(conn: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT kind, value, reason, source FROM suppression ORDER BY kind, value"
    ).fetchall()


def test_shopify_customers_export_gives_email_and_sms_consent(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    commit(conn, _fx("shopify_customers_consent.csv"))
    # Ida left both answers empty: unknown, no row.
    assert _by_email(conn) == [
        ("ann@shop.com", "email", True, "Shopify customers export"),
        ("ann@shop.com", "sms", True, "Shopify customers export"),
        ("gus@example.com", "email", False, "Shopify customers export"),
        ("gus@example.com", "sms", False, "Shopify customers export"),
    ]
    assert _suppression(conn) == []  # "no" is not an unsubscribe


def test_klaviyo_states_give_consent_and_unsubscribes_then_undo_restores(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    first = commit(conn, _fx("shopify_customers_consent.csv"))
    before = conn.execute("SELECT * FROM consent ORDER BY ALL").fetchall()
    second = commit(conn, _fx("klaviyo_profiles_consent.csv"))
    assert second.import_id == (first.import_id or 0) + 1
    assert _by_email(conn) == [
        ("ann@shop.com", "email", False, "Klaviyo profiles export"),  # was yes in Shopify
        ("ann@shop.com", "sms", True, "Shopify customers export"),  # same answer: kept
        ("gus@example.com", "email", False, "Shopify customers export"),
        ("gus@example.com", "sms", False, "Shopify customers export"),
        ("nia@example.com", "email", False, "Klaviyo profiles export"),
        ("nia@example.com", "sms", False, "Klaviyo profiles export"),
        ("zed@example.com", "email", True, "Klaviyo profiles export"),
    ]
    # UNSUBSCRIBED (not NEVER_SUBSCRIBED) puts the address on the suppression list.
    assert _suppression(conn) == [
        ("email", "ann@shop.com", "unsubscribed", "Klaviyo profiles export (import #2)"),
        ("phone", "+2348010000003", "unsubscribed", "Klaviyo profiles export (import #2)"),
    ]

    undo_import(conn, 2)
    assert conn.execute("SELECT * FROM consent ORDER BY ALL").fetchall() == before
    assert conn.execute("SELECT count(*) FROM import_prev_consent").fetchall() == [(0,)]
    # Unsubscribes stay: when in doubt, do not contact.
    assert len(_suppression(conn)) == 2

    undo_import(conn, 1)
    assert conn.execute("SELECT count(*) FROM consent").fetchall() == [(0,)]


def test_an_older_order_does_not_overwrite_newer_consent(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    commit(conn, _fx("shopify_customers_consent.csv"))
    # shopify_orders.csv: Ann's orders of March 2024 say "Accepts Marketing: yes"... and the
    # customers export (imported now) said yes too; Gus is not in it. Set Ann's email consent to
    # a withdrawal dated after those orders: the orders file must not turn it back on.
    conn.execute(
        "UPDATE consent SET granted = FALSE, source = 'manual', recorded_at = TIMESTAMP "
        "'2025-01-01' WHERE channel = 'email' AND customer_id = (SELECT customer_id FROM "
        "customers WHERE email_norm = 'ann@shop.com')"
    )
    commit(conn, Path(__file__).parent / "fixtures" / "imports" / "shopify_orders.csv")
    got = [r for r in _by_email(conn) if r[0] == "ann@shop.com" and r[1] == "email"]
    assert got == [("ann@shop.com", "email", False, "manual")]
