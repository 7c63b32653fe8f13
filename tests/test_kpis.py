"""Overview metrics on a hand-built shop with literal expected values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from relmark_core import source
from relmark_core.metrics.kpis import kpis, kpis_for_ranges, revenue_over_time
from relmark_core.periods import DateRange
from tests.builders import add_customer, order, set_reporting

MARCH = DateRange(start=date(2024, 3, 1), end=date(2024, 4, 1))


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    # a: two counted March orders (100 with tax 8 and shipping 5, then 50)
    add_customer(conn, "a", orders=[order("2024-03-05", 100, tax=8, shipping=5), order("2024-03-20", 50)])
    # b: a cancelled order and a fully refunded one: no counted order at all
    add_customer(conn, "b", orders=[order("2024-03-10", 80, status="cancelled"),
                                    order("2024-03-11", 60, refunds=60, status="refunded")])
    # c: partially refunded in March (net 100), and one order in February (40)
    add_customer(conn, "c", orders=[order("2024-03-15", 120, refunds=20), order("2024-02-28", 40)])
    # d: a March order in EUR: counts as an order and a customer, not in USD revenue
    add_customer(conn, "d", orders=[order("2024-03-25", 90, currency="EUR")])
    # e: last minute of March counts; first instant of April does not
    add_customer(conn, "e", orders=[order("2024-03-31 23:59:59", 30), order("2024-04-01 00:00:00", 70)])
    # f: a failed payment only
    add_customer(conn, "f", orders=[order("2024-03-12", 55, status="failed")])


def test_march_kpis(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    k = kpis(source.from_duckdb(conn), rng=MARCH)
    assert k.as_record() == {
        "start": "2024-03-01",
        "end": "2024-04-01",
        "currency": "USD",
        "customers": 4,
        "orders": 5,
        "revenue": 280.0,
        "aov": 70.0,
        "repeat_purchase_rate": 0.25,
        "other_currencies": {"EUR": {"orders": 1, "revenue": 90.0}},
    }


def test_previous_period_in_the_same_call(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    cur, prev = kpis_for_ranges(source.from_duckdb(conn), ranges=[MARCH, MARCH.previous()])
    assert MARCH.previous() == DateRange(start=date(2024, 1, 30), end=date(2024, 3, 1))
    assert (prev.customers, prev.orders, prev.revenue, prev.aov, prev.repeat_purchase_rate) == (
        1, 1, Decimal("40.00"), Decimal("40.00"), 0.0)
    assert cur.orders == 5


def test_revenue_excluding_tax_and_shipping_is_marked_partial(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    k = kpis(source.from_duckdb(conn), rng=MARCH, basis="net_ex_tax_shipping")
    # 100 - 8 - 5 = 87, plus 50 + 100 + 30 with no parts known
    assert k.revenue == Decimal("267.00")
    assert k.partial_share == 0.75


def test_empty_range(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    k = kpis(source.from_duckdb(conn), rng=DateRange(start=date(2020, 1, 1), end=date(2020, 2, 1)))
    assert (k.customers, k.orders, k.revenue, k.aov, k.repeat_purchase_rate, k.other_currencies) == (
        0, 0, Decimal("0.00"), None, None, {})


def test_store_time_zone_moves_day_boundaries(conn: duckdb.DuckDBPyConnection) -> None:
    # 2024-03-01 03:00 UTC is 29 Feb 22:00 in New York
    add_customer(conn, "n", orders=[order("2024-03-01 03:00:00", 10), order("2024-04-01 02:00:00", 20)])
    set_reporting(conn, "USD", "America/New_York")
    k = kpis(source.from_duckdb(conn), rng=MARCH)
    assert (k.orders, k.revenue) == (1, Decimal("20.00"))


def test_reporting_currency_setting(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    set_reporting(conn, "EUR")
    k = kpis(source.from_duckdb(conn), rng=MARCH)
    assert (k.currency, k.revenue, k.aov) == ("EUR", Decimal("90.00"), Decimal("90.00"))
    assert k.as_record()["other_currencies"] == {"USD": {"orders": 4, "revenue": 280.0}}


def test_revenue_over_time_by_month(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    df = revenue_over_time(
        source.from_duckdb(conn), rng=DateRange(start=date(2024, 1, 15), end=date(2024, 4, 1)), grain="month"
    )
    assert df[["period", "orders", "customers"]].values.tolist() == [
        ["2024-01", 0, 0], ["2024-02", 1, 1], ["2024-03", 5, 4]]
    assert df["revenue"].tolist() == [Decimal("0.00"), Decimal("40.00"), Decimal("280.00")]
    # the range starts on 15 January: January is only partly covered
    assert df["complete"].tolist() == [False, True, True]


def test_week_labels_are_iso(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    df = revenue_over_time(
        source.from_duckdb(conn), rng=DateRange(start=date(2024, 2, 26), end=date(2024, 3, 11)), grain="week"
    )
    assert df["period"].tolist() == ["2024-W09", "2024-W10"]
    assert df["orders"].tolist() == [1, 1]


def test_overlapping_ranges_are_each_counted_in_full(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    mid = DateRange(start=date(2024, 2, 15), end=date(2024, 3, 16))
    cur, other = kpis_for_ranges(source.from_duckdb(conn), ranges=[MARCH, mid])
    assert cur.orders == 5
    # c on 28 Feb (40) and 15 Mar (net 100), a on 5 Mar (100)
    assert (other.customers, other.orders, other.revenue, other.repeat_purchase_rate) == (
        2, 3, Decimal("240.00"), 0.5)
