"""Consent per channel: the backfill from accepts_marketing, imports, undo, the overview."""

from __future__ import annotations

from datetime import datetime

import duckdb

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
