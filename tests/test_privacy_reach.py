"""filter_reachable: the suppression list first (email or phone), then consent per channel."""

from __future__ import annotations

import duckdb

from relmark_core.privacy import suppression
from relmark_core.privacy.reach import Channel, Reach, filter_reachable, filter_suppressed
from tests.builders import add_customer


def _consent(conn: duckdb.DuckDBPyConnection, customer_id: str, channel: str, granted: bool) -> None:
    conn.execute(
        "INSERT INTO consent VALUES (?, ?, ?, 'test', TIMESTAMP '2024-01-01', NULL)",
        [customer_id, channel, granted],
    )


def _shop(conn: duckdb.DuckDBPyConnection) -> None:
    # a: email yes, sms yes; b: email yes but suppressed by email; c: sms yes but its phone is
    # suppressed (written differently); d: email withdrawn; e: nothing known (accepts NULL);
    # f: no consent row, accepts_marketing yes (an earlier import's answer counts for email).
    for cid, accepts in (("a", None), ("b", None), ("c", None), ("d", True), ("e", None),
                         ("f", True)):
        add_customer(conn, cid, email=f"{cid.upper()}@Shop.com", accepts_marketing=accepts)
    conn.execute("UPDATE customers SET phone = '+1 555 000 000' || customer_id "
                 "WHERE customer_id IN ('a', 'c')")
    conn.execute("UPDATE customers SET phone = '''+15550000003' WHERE customer_id = 'c'")
    _consent(conn, "a", "email", True)
    _consent(conn, "a", "sms", True)
    _consent(conn, "b", "email", True)
    _consent(conn, "c", "sms", True)
    _consent(conn, "c", "email", True)
    _consent(conn, "d", "email", False)  # the row wins over accepts_marketing
    suppression.add_entry(conn, "b@shop.com")
    suppression.add_entry(conn, "+1 (555) 000-0003 ", kind="phone")


IDS = ["a", "b", "c", "d", "e", "f", "zz"]


def test_email_reach(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    # c is suppressed by its phone on every channel, even with email consent; zz is unknown.
    assert filter_reachable(conn, IDS, Channel.EMAIL) == Reach(
        kept=["a", "f"], suppressed=2, no_consent=3)


def test_sms_reach_counts_suppression_before_consent(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    # b has no SMS consent but is counted as suppressed (checked first), not as without consent.
    assert filter_reachable(conn, IDS, Channel.SMS) == Reach(
        kept=["a"], suppressed=2, no_consent=4)


def test_ads_reach_needs_ads_consent(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    _consent(conn, "e", "ads", True)
    reach = filter_reachable(conn, ["e", "a", "e"], Channel.ADS)
    assert reach == Reach(kept=["e", "e"], suppressed=0, no_consent=1)
    assert reach.sentence() == "1 excluded: 0 suppressed, 1 without consent"


def test_suppression_alone_and_empty_input(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    assert filter_suppressed(conn, IDS) == Reach(
        kept=["a", "d", "e", "f", "zz"], suppressed=2, no_consent=0)
    assert filter_reachable(conn, [], Channel.EMAIL) == Reach(kept=[], suppressed=0, no_consent=0)
