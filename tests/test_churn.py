"""Churn: the churn-rate table, the suggested N and the overdue list, on a hand-built shop.

Counted order days (as of 15 April 2024; N = 30 days, so a silence completes on day L + 30):

    p  Jan 10, Feb 5, Feb 20                    one spell, silence completes Mar 21
    q  Jan 25 | Mar 10                          gap 45 > 30: spells end Feb 24 and Apr 9
    s  Feb 15 | Apr 1                           spells end Mar 16 and May 1
    u  Mar 20                                   ends Apr 19 (after the as-of date)
    v  Jan 31                                   ends Mar 1
    w  Jan 5 (Jan 28 refunded in full)          ends Feb 4
    x  Feb 25, Mar 18, Apr 10                   ends May 10
    y  Jan 1, Jan 8, Jan 15                     ends Feb 14
    z  Mar 1, Mar 6, Mar 11 (two orders), Apr 1 (Apr 20 is after the as-of date): ends May 1

Active at the start of a month = a counted order in the 30 days before its first day:
    Feb: p, q, v, w, y (5)     churned in Feb: q (24th), w (4th), y (14th)        -> 3/5
    Mar: p, s, v, x (4)        churned in Mar: p (21st), s (16th), v (1st)        -> 3/4
    Apr: q, u, x, z (4)        churned by the 15th: q (9th); u's ends on the 19th -> 1/4
s's second spell starts on 1 April, so s is not active at April's start.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest
from pydantic import ValidationError

from relmark_core import source
from relmark_core.metrics.churn import (
    ChurnRule,
    churn_rates,
    overdue_customers,
    suggest_churn_days,
)
from tests.builders import add_customer, order

AS_OF = date(2024, 4, 15)


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "p", orders=[order("2024-01-10", 10), order("2024-02-05", 10),
                                    order("2024-02-20", 10)])
    add_customer(conn, "q", orders=[order("2024-01-25", 10), order("2024-03-10", 10)])
    add_customer(conn, "s", orders=[order("2024-02-15", 10), order("2024-04-01", 10)])
    add_customer(conn, "u", orders=[order("2024-03-20", 10)])
    add_customer(conn, "v", orders=[order("2024-01-31", 10)])
    add_customer(conn, "w", orders=[order("2024-01-05", 10),
                                    order("2024-01-28", 10, refunds=10, status="refunded")])
    add_customer(conn, "x", orders=[order("2024-02-25", 10), order("2024-03-18", 10),
                                    order("2024-04-10", 10)])
    add_customer(conn, "y", orders=[order("2024-01-01", 10), order("2024-01-08", 10),
                                    order("2024-01-15", 10)])
    add_customer(conn, "z", orders=[order("2024-03-01", 10), order("2024-03-06", 10),
                                    order("2024-03-11", 10), order("2024-03-11 18:00:00", 5),
                                    order("2024-04-01", 10), order("2024-04-20", 10)])


def _rows(df: pd.DataFrame) -> list[list[object]]:
    return [list(r) for r in df.itertuples(index=False)]


def test_churn_rate_table(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    df = churn_rates(source.from_duckdb(conn), churn_days=30, as_of=AS_OF)
    assert list(df.columns) == ["period", "period_start", "active_at_start", "churned",
                                "churn_rate", "incomplete"]
    assert _rows(df) == [
        ["2024-02", date(2024, 2, 1), 5, 3, 0.6, False],
        ["2024-03", date(2024, 3, 1), 4, 3, 0.75, False],
        ["2024-04", date(2024, 4, 1), 4, 1, 0.25, True],
    ]


def test_churn_rate_at_the_end_of_april(conn: duckdb.DuckDBPyConnection) -> None:
    # by 30 April u's silence has completed too (19th); z's 20 April order now counts
    build_shop(conn)
    df = churn_rates(source.from_duckdb(conn), churn_days=30, as_of=date(2024, 4, 30))
    assert _rows(df)[-1] == ["2024-04", date(2024, 4, 1), 4, 2, 0.5, False]


def test_churn_rate_by_quarter(conn: duckdb.DuckDBPyConnection) -> None:
    # active on 1 April: q, u, x, z (p, s, v, w, y had completed their silence in Q1)
    build_shop(conn)
    df = churn_rates(source.from_duckdb(conn), churn_days=30, as_of=AS_OF, grain="quarter")
    assert _rows(df) == [["2024-Q2", date(2024, 4, 1), 4, 1, 0.25, True]]


def test_longer_churn_window(conn: duckdb.DuckDBPyConnection) -> None:
    # N = 60: gaps of 45 (q) and 46 (s) no longer break a spell. Silences complete on:
    # p Apr 20, q May 9, s May 31, u May 19, v Mar 31, w Mar 5, x Jun 9, y Mar 15, z May 31
    build_shop(conn)
    df = churn_rates(source.from_duckdb(conn), churn_days=60, as_of=AS_OF, since=date(2024, 3, 1))
    # Mar: p, q, s, v, w, x, y -> 7; churned in March: v, w, y -> 3
    # Apr: p, q, s, u, x, z -> 6; nobody's silence completes by the 15th (p's on the 20th)
    assert _rows(df) == [
        ["2024-03", date(2024, 3, 1), 7, 3, pytest.approx(3 / 7), False],
        ["2024-04", date(2024, 4, 1), 6, 0, 0.0, True],
    ]


def test_nobody_active_gives_no_rate(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "solo", orders=[order("2024-01-10", 10)])
    df = churn_rates(source.from_duckdb(conn), churn_days=7, as_of=date(2024, 3, 15))
    assert _rows(df) == [
        ["2024-02", date(2024, 2, 1), 0, 0, None, False],
        ["2024-03", date(2024, 3, 1), 0, 0, None, True],
    ]


def test_empty_shop(conn: duckdb.DuckDBPyConnection) -> None:
    src = source.from_duckdb(conn)
    assert churn_rates(src, churn_days=30, as_of=AS_OF).empty
    assert overdue_customers(src, as_of=AS_OF).empty
    assert suggest_churn_days(src, as_of=AS_OF).days == 90


def test_suggested_days_from_the_gaps(conn: duckdb.DuckDBPyConnection) -> None:
    # gaps between consecutive order days: p 26, 15; q 45; s 46; x 22, 23; y 7, 7; z 5, 5, 21
    # sorted: 5 5 7 7 15 21 22 23 26 45 46 -> 90th percentile (interpolated) = 45, median 21
    build_shop(conn)
    src = source.from_duckdb(conn)
    s = suggest_churn_days(src, as_of=AS_OF, min_gaps=5)
    assert (s.days, s.gaps, s.from_data) == (45, 11, True)
    assert s.sentence == (
        "Suggested: 45 days. In this shop 90% of repeat orders came within 45 days of the "
        "customer's previous order (measured over 11 gaps between consecutive order days), so a "
        "customer silent for longer is unlikely to come back on their own."
    )
    assert suggest_churn_days(src, as_of=AS_OF, min_gaps=5, percentile=0.5).days == 21


def test_too_few_gaps_fall_back_to_the_default(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    s = suggest_churn_days(source.from_duckdb(conn), as_of=AS_OF)
    assert (s.days, s.from_data) == (90, False)
    assert s.sentence == ("Only 11 repeat orders so far (at least 30 are needed to suggest a "
                          "number), so the suggestion is the usual 90 days.")


def test_overdue_list(conn: duckdb.DuckDBPyConnection) -> None:
    # y: usual gap 7, silent 91 days; z: usual 5 (gaps 5, 5, 21), silent 14; p: usual 20.5,
    # silent 55. q (36 < 2 x 45), s, x are within their rhythm; u, v, w have one order day.
    build_shop(conn)
    df = overdue_customers(source.from_duckdb(conn), as_of=AS_OF)
    assert list(df.columns) == ["customer_id", "email", "first_name", "last_name", "orders",
                                "last_order", "usual_gap_days", "days_since_last",
                                "overdue_ratio", "expected_by"]
    cols = ["customer_id", "orders", "last_order", "usual_gap_days", "days_since_last",
            "overdue_ratio", "expected_by"]
    assert _rows(df[cols]) == [
        ["y", 3, date(2024, 1, 15), 7.0, 91, 13.0, date(2024, 1, 22)],
        ["z", 5, date(2024, 4, 1), 5.0, 14, 2.8, date(2024, 4, 6)],
        ["p", 3, date(2024, 2, 20), 20.5, 55, 2.68, date(2024, 3, 12)],
    ]


def test_overdue_without_the_already_churned(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    df = overdue_customers(source.from_duckdb(conn), as_of=AS_OF, churn_days=30)
    assert list(df["customer_id"]) == ["z"]
    # factor 1: silent longer than the usual gap. q (36 vs 45), s (14 vs 46), x (5 vs 22.5)
    # are still within it
    looser = overdue_customers(source.from_duckdb(conn), as_of=AS_OF, factor=1.0)
    assert list(looser["customer_id"]) == ["y", "z", "p"]


def test_churn_rule() -> None:
    assert ChurnRule(days=45).sentence() == (
        "A customer counts as churned once 45 days pass without a counted order from them, "
        "and as active again when they next order."
    )
    with pytest.raises(ValidationError):
        ChurnRule(days=0)
