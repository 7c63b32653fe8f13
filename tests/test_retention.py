"""Cohort retention on a hand-built shop spanning January to April 2024, with literal triangles.

The shop, as of 15 April 2024 (April is the incomplete current month):

    a  email      Jan 5 (100, code WELCOME, Coffee)   Feb 10 (50)    Apr 2 (30)
    b  "Email "   Jan 20 (80, Tea)                    Mar 3 (40, refunded in full: not counted)
    c  instagram  Jan 25 (60, Tea + coffee)           Mar 15 (20)
    d  email      Feb 1 (40, code SPRING, Coffee)     Feb 20 (10)    Mar 10 (25)
    e  -          Feb 14 (70 - 20 refunded = 50)      Apr 10 (30 EUR: activity, no revenue)
    f  -          Mar 31 23:59:59 (20)                Apr 1 00:00:00 (15)
    g  -          Jan 8 (90, cancelled): no counted order, in no cohort
    h  -          Apr 5 (45)
    i  -          Mar 2 (10, failed, code X)          Mar 20 (35)    Apr 20 (25: after the as-of)
    guest order without a customer on Jan 3: ignored

Months in which each customer has a counted order: a {Jan, Feb, Apr}, b {Jan}, c {Jan, Mar},
d {Feb, Mar}, e {Feb, Apr}, f {Mar, Apr}, h {Apr}, i {Mar}.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from relmark_core import source, store
from relmark_core.cli import main
from relmark_core.errors import InputRefused
from relmark_core.metrics.retention import (
    CohortFilter,
    RetentionQuery,
    cohort_customers,
    cohort_retention,
    parse_period_label,
    period_from_number,
    period_number,
)
from tests.builders import add_customer, add_order, order, set_reporting

AS_OF = date(2024, 4, 15)
THIRD = 1 / 3


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "a", channel="email", orders=[
        order("2024-01-05", 100, discount_code="WELCOME", lines=[("House blend", "Coffee", 2, 50)]),
        order("2024-02-10", 50), order("2024-04-02", 30)])
    add_customer(conn, "b", channel="Email ", orders=[
        order("2024-01-20", 80, lines=[("Sencha", "Tea", 1, 80)]),
        order("2024-03-03", 40, refunds=40, status="refunded")])
    add_customer(conn, "c", channel="instagram", orders=[
        order("2024-01-25", 60, lines=[("Sencha", "Tea", 1, 30), ("Espresso", "coffee", 1, 30)]),
        order("2024-03-15", 20)])
    add_customer(conn, "d", channel="email", orders=[
        order("2024-02-01", 40, discount_code="SPRING", lines=[("Espresso", "Coffee", 1, 40)]),
        order("2024-02-20", 10), order("2024-03-10", 25)])
    add_customer(conn, "e", orders=[order("2024-02-14", 70, refunds=20),
                                    order("2024-04-10", 30, currency="EUR")])
    add_customer(conn, "f", orders=[order("2024-03-31 23:59:59", 20),
                                    order("2024-04-01 00:00:00", 15)])
    add_customer(conn, "g", orders=[order("2024-01-08", 90, status="cancelled")])
    add_customer(conn, "h", orders=[order("2024-04-05", 45)])
    add_customer(conn, "i", orders=[order("2024-03-02", 10, status="failed", discount_code="X"),
                                    order("2024-03-20", 35), order("2024-04-20", 25)])
    add_order(conn, None, order("2024-01-03", 99))


def _retention(conn: duckdb.DuckDBPyConnection, **kw: object):  # type: ignore[no-untyped-def]
    return cohort_retention(source.from_duckdb(conn), query=RetentionQuery(as_of=AS_OF, **kw))


def _rows(df: pd.DataFrame) -> list[list[object]]:
    return [[None if pd.isna(v) else v for v in row] for row in df.itertuples(index=False)]


def test_on_triangle(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    m = _retention(conn).matrix("on")
    assert list(m.columns) == ["cohort", "size", "p0", "p1", "p2", "p3"]
    assert _rows(m) == [
        ["2024-01", 3, 1.0, pytest.approx(THIRD), pytest.approx(THIRD), pytest.approx(THIRD)],
        ["2024-02", 2, 1.0, 0.5, 0.5, None],
        ["2024-03", 2, 1.0, 0.5, None, None],
        ["2024-04", 1, 1.0, None, None, None],
    ]


def test_on_or_after_triangle(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    m = _retention(conn).matrix("on_or_after")
    # Jan: a last ordered in period 3, c in period 2, b only in period 0 (its March order
    # was refunded in full, so it does not count)
    assert _rows(m) == [
        ["2024-01", 3, 1.0, pytest.approx(2 / 3), pytest.approx(2 / 3), pytest.approx(THIRD)],
        ["2024-02", 2, 1.0, 1.0, 0.5, None],
        ["2024-03", 2, 1.0, 0.5, None, None],
        ["2024-04", 1, 1.0, None, None, None],
    ]


def test_revenue_retention_triangle(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    m = _retention(conn).matrix("revenue")
    # Jan: 240 in period 0 (100 + 80 + 60), then 50, 20, 30. Feb: 100 (40 + 10 + 50), then 25,
    # then only e's EUR order (no USD revenue). Mar: 55 (20 + 35), then 15.
    assert _rows(m) == [
        ["2024-01", 3, 1.0, pytest.approx(50 / 240), pytest.approx(20 / 240),
         pytest.approx(30 / 240)],
        ["2024-02", 2, 1.0, 0.25, 0.0, None],
        ["2024-03", 2, 1.0, pytest.approx(15 / 55), None, None],
        ["2024-04", 1, 1.0, None, None, None],
    ]


def test_cells_and_cohorts_in_long_form(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    r = _retention(conn)
    assert (r.current_period, r.current_incomplete, r.periods) == ("2024-04", True, 4)
    assert _rows(r.cohorts) == [
        ["2024-01", date(2024, 1, 1), 3, 240.0, 4],
        ["2024-02", date(2024, 2, 1), 2, 100.0, 3],
        ["2024-03", date(2024, 3, 1), 2, 55.0, 2],
        ["2024-04", date(2024, 4, 1), 1, 45.0, 1],
    ]
    jan = r.cells[r.cells["cohort"] == "2024-01"]
    assert list(jan["period_label"]) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert list(jan["active"]) == [3, 1, 1, 1]
    assert list(jan["active_on_or_after"]) == [3, 2, 2, 1]
    assert list(jan["revenue"]) == [240.0, 50.0, 20.0, 30.0]
    assert list(jan["incomplete"]) == [False, False, False, True]
    assert _rows(r.incomplete_cells()) == [["2024-01", 3], ["2024-02", 2], ["2024-03", 1],
                                           ["2024-04", 0]]


def test_as_of_on_the_last_day_leaves_nothing_incomplete(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    r = cohort_retention(source.from_duckdb(conn), query=RetentionQuery(as_of=date(2024, 3, 31)))
    assert r.current_incomplete is False
    assert not r.cells["incomplete"].any()
    # f's 23:59:59 order on the 31st counts; its April order is after the as-of date
    assert _rows(r.matrix("on")) == [
        ["2024-01", 3, 1.0, pytest.approx(THIRD), pytest.approx(THIRD)],
        ["2024-02", 2, 1.0, 0.5, None],
        ["2024-03", 2, 1.0, None, None],
    ]


def test_average_curve_uses_complete_periods_only(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    r = _retention(conn)
    assert _rows(r.average_curve("on")) == [
        [0, 1.0, 3, 7],  # Jan, Feb, Mar (April's period 0 is incomplete)
        [1, 0.4, 2, 5],  # (1 + 1) / (3 + 2)
        [2, pytest.approx(THIRD), 1, 3],
    ]
    rev = r.average_curve("revenue")
    assert list(rev["share"]) == [1.0, pytest.approx(75 / 340), pytest.approx(20 / 240)]
    curves = r.curves("on_or_after")
    assert list(curves.columns) == ["cohort", "period", "share", "size", "incomplete"]
    assert len(curves) == 10


def test_trend_of_period_1_and_3(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    t = _retention(conn).trend("on")
    assert _rows(t) == [
        ["2024-01", date(2024, 1, 1), 3, pytest.approx(THIRD), None],  # its period 3 = April
        ["2024-02", date(2024, 2, 1), 2, 0.5, None],
        ["2024-03", date(2024, 3, 1), 2, None, None],  # period 1 = April, incomplete
        ["2024-04", date(2024, 4, 1), 1, None, None],
    ]


def test_recurring_view(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    r = _retention(conn, view="recurring")
    # everyone who ordered in a month is that month's "cohort": Feb = a, d, e; Mar = c, d, f, i
    assert _rows(r.matrix("on")) == [
        ["2024-01", 3, 1.0, pytest.approx(THIRD), pytest.approx(THIRD), pytest.approx(THIRD)],
        ["2024-02", 3, 1.0, pytest.approx(THIRD), pytest.approx(2 / 3), None],
        ["2024-03", 4, 1.0, 0.25, None, None],
        ["2024-04", 4, 1.0, None, None, None],
    ]
    assert _rows(r.matrix("on_or_after"))[1] == [
        "2024-02", 3, 1.0, 1.0, pytest.approx(2 / 3), None]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # channel, case and spaces ignored: a, b ("Email ") and d
        (CohortFilter(acquisition_channels=("email",)),
         [["2024-01", 2, 1.0, 0.5, 0.0, 0.5], ["2024-02", 1, 1.0, 1.0, 0.0, None]]),
        # first order had a coffee line: a, c ("coffee"), d
        (CohortFilter(first_order_categories=("Coffee",)),
         [["2024-01", 2, 1.0, 0.5, 0.5, 0.5], ["2024-02", 1, 1.0, 1.0, 0.0, None]]),
        # first *counted* order used a code: a and d (i's coded order failed)
        (CohortFilter(first_order_discount=True),
         [["2024-01", 1, 1.0, 1.0, 0.0, 1.0], ["2024-02", 1, 1.0, 1.0, 0.0, None]]),
        (CohortFilter(first_order_discount=False),
         [["2024-01", 2, 1.0, 0.0, 0.5, 0.0], ["2024-02", 1, 1.0, 0.0, 1.0, None],
          ["2024-03", 2, 1.0, 0.5, None, None], ["2024-04", 1, 1.0, None, None, None]]),
        # a saved segment's members (unknown ids are simply absent); one cohort, three periods
        (CohortFilter(customer_ids=("d", "e", "nobody"), segment_name="VIP"),
         [["2024-02", 2, 1.0, 0.5, 0.5]]),
        (CohortFilter(acquisition_channels=("email",), first_order_discount=True),
         [["2024-01", 1, 1.0, 1.0, 0.0, 1.0], ["2024-02", 1, 1.0, 1.0, 0.0, None]]),
    ],
)
def test_filters(conn: duckdb.DuckDBPyConnection, filters: CohortFilter,
                 expected: list[list[object]]) -> None:
    build_shop(conn)
    m = _retention(conn, filters=filters).matrix("on")
    assert _rows(m) == expected


def test_filter_sentences() -> None:
    assert CohortFilter().sentence() == "All customers"
    assert CohortFilter(acquisition_channels=("email", "instagram"),
                        first_order_discount=True).sentence() == (
        "Customers acquired via email or instagram, whose first order used a discount code")
    assert CohortFilter(customer_ids=("a", "b"), segment_name="VIP",
                        first_order_categories=("Coffee", "Tea", "Cups")).sentence() == (
        "Customers in 'VIP' (2 customers), whose first order included Coffee, Tea or Cups")
    q = RetentionQuery(as_of=AS_OF, view="recurring",
                       filters=CohortFilter(first_order_discount=False))
    assert q.sentence() == ("Customers whose first order used no discount code, grouped by "
                            "every month in which they ordered, as of 15 Apr 2024.")


def test_cohorts_since_drops_earlier_customers(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    m = _retention(conn, cohorts_since=date(2024, 2, 1)).matrix("on")
    assert [r[:2] for r in _rows(m)] == [["2024-02", 2], ["2024-03", 2], ["2024-04", 1]]


def test_customers_in_a_cell(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    src = source.from_duckdb(conn)
    q = RetentionQuery(as_of=AS_OF)
    on = cohort_customers(src, query=q, cohort="2024-01", period=1)
    assert list(on.columns) == ["customer_id", "email", "first_name", "last_name", "orders",
                                "revenue", "last_order_period"]
    assert _rows(on[["customer_id", "orders", "revenue", "last_order_period"]]) == [
        ["a", 1, 50.0, "2024-04"]]
    after = cohort_customers(src, query=q, cohort=date(2024, 1, 1), period=1, mode="on_or_after")
    assert _rows(after[["customer_id", "orders", "revenue", "last_order_period"]]) == [
        ["a", 1, 50.0, "2024-04"], ["c", 0, 0.0, "2024-03"]]
    rec = cohort_customers(src, query=q.model_copy(update={"view": "recurring"}),
                           cohort="2024-02", period=2)
    assert _rows(rec[["customer_id", "orders", "revenue"]]) == [["a", 1, 30.0], ["e", 1, 0.0]]
    with pytest.raises(InputRefused, match="2024-03"):
        cohort_customers(src, query=q, cohort="March", period=0)


def test_quarter_grain(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    r = _retention(conn, grain="quarter")
    assert _rows(r.matrix("on")) == [["2024-Q1", 7, 1.0, pytest.approx(3 / 7)],
                                     ["2024-Q2", 1, 1.0, None]]
    # Q1 revenue 490 (a 150, b 80, c 80, d 75, e 50, f 20, i 35); Q2: a 30 + f 15
    assert r.matrix("revenue")["p1"][0] == pytest.approx(45 / 490)


def test_iso_weeks(conn: duckdb.DuckDBPyConnection) -> None:
    # Mon 1 Jan and Sun 7 Jan 2024 are ISO week 1; Mon 8 Jan is week 2.
    # Mon 30 Dec 2024 belongs to ISO week 1 of 2025.
    add_customer(conn, "w", orders=[order("2024-01-01", 10), order("2024-01-07", 10),
                                    order("2024-01-08", 10)])
    add_customer(conn, "y", orders=[order("2024-12-30", 10)])
    r = cohort_retention(source.from_duckdb(conn),
                         query=RetentionQuery(as_of=date(2025, 1, 1), grain="week"))
    assert list(r.cohorts["cohort"]) == ["2024-W01", "2025-W01"]
    m = r.matrix("on")
    assert list(m.iloc[0, 2:5]) == [1.0, 1.0, 0.0]
    assert m.shape == (2, 2 + 53)  # weeks 2024-W01 ... 2025-W01
    assert r.cells["incomplete"].sum() == 2  # the as-of Wednesday's week


def test_period_numbers_round_trip() -> None:
    for grain, d, label in [("week", date(2024, 12, 30), "2025-W01"),
                            ("month", date(2024, 3, 1), "2024-03"),
                            ("quarter", date(2023, 10, 1), "2023-Q4")]:
        assert period_from_number(period_number(d, grain), grain) == d  # type: ignore[arg-type]
        assert parse_period_label(label, grain) == d  # type: ignore[arg-type]
    assert period_number(date(2024, 3, 1), "month") - period_number(date(2023, 12, 31),
                                                                     "month") == 3


def test_store_time_zone_moves_cohorts(conn: duckdb.DuckDBPyConnection) -> None:
    # 1 Mar 03:00 UTC is 29 Feb 22:00 in New York (EST); 1 Apr 02:00 UTC is 31 Mar 22:00 (EDT,
    # after the 10 March change), so both orders move back a month
    add_customer(conn, "n", orders=[order("2024-03-01 03:00:00", 10),
                                    order("2024-04-01 02:00:00", 20)])
    utc = cohort_retention(source.from_duckdb(conn), query=RetentionQuery(as_of=AS_OF))
    assert _rows(utc.matrix("on")) == [["2024-03", 1, 1.0, 1.0]]
    set_reporting(conn, "USD", "America/New_York")
    local = cohort_retention(source.from_duckdb(conn), query=RetentionQuery(as_of=AS_OF))
    assert _rows(local.matrix("on")) == [["2024-02", 1, 1.0, 1.0, 0.0]]


def test_empty_shop(conn: duckdb.DuckDBPyConnection) -> None:
    r = _retention(conn)
    assert r.periods == 0
    assert list(r.matrix("on").columns) == ["cohort", "size"]
    assert r.average_curve().empty and r.trend().empty


def _file_shop(path: Path) -> None:
    with store.open_db(path) as c:
        build_shop(c)


def test_cli_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.duckdb"
    _file_shop(db)
    assert main(["--db", str(db), "report", "retention", "--as-of", "2024-04-15"]) == 0
    assert capsys.readouterr().out == (
        "cohort,size,p0,p1,p2,p3\n"
        "2024-01,3,1.0,0.3333333333333333,0.3333333333333333,0.3333333333333333\n"
        "2024-02,2,1.0,0.5,0.5,\n"
        "2024-03,2,1.0,0.5,,\n"
        "2024-04,1,1.0,,,\n"
    )


def test_cli_json_on_or_after_by_quarter(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.duckdb"
    _file_shop(db)
    assert main(["--db", str(db), "report", "retention", "--mode", "on_or_after", "--grain",
                 "month", "--format", "json", "--as-of", "2024-04-15"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[1] == {"cohort": "2024-02", "size": 2, "p0": 1.0, "p1": 1.0, "p2": 0.5, "p3": None}
    assert main(["--db", str(db), "report", "retention", "--grain", "quarter", "--as-of",
                 "2024-04-15"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows == [{"cohort": "2024-Q1", "size": "7", "p0": "1.0", "p1": str(3 / 7)},
                    {"cohort": "2024-Q2", "size": "1", "p0": "1.0", "p1": ""}]


def test_cli_refuses_a_bad_as_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.duckdb"
    _file_shop(db)
    assert main(["--db", str(db), "report", "retention", "--as-of", "15/04/2024"]) == 3
    assert "YYYY-MM-DD" in capsys.readouterr().err
