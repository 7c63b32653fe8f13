"""The demo shop generator: determinism, the shop's shape, consistent money, reset and clear."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from relmark_core import demo, store
from relmark_core.errors import InputRefused

END = date(2025, 6, 30)  # exclusive: the last orders are on 2025-06-29
START = date(2022, 12, 30)  # 30 months earlier
CUSTOMERS = 2000
SEED = 11
KEYS = {
    "customers": "customer_id",
    "customer_keys": "key_type, key_value",
    "orders": "order_id",
    "order_lines": "order_id, line_no",
    "feedback": "response_id",
}


def value(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = conn.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0]


def contents(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every demo table's rows, in key order."""
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
        for table, key in KEYS.items()
    }


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[duckdb.DuckDBPyConnection, demo.DemoSummary]]:
    """One demo shop of 2,000 customers, shared by the read-only shape tests."""
    with store.open_db(":memory:") as conn:
        summary = demo.load_demo(conn, customers=CUSTOMERS, seed=SEED, end=END, actor="tester")
        yield conn, summary


@pytest.fixture
def db(shop: tuple[duckdb.DuckDBPyConnection, demo.DemoSummary]) -> duckdb.DuckDBPyConnection:
    return shop[0]


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_and_end_give_the_same_shop_and_another_seed_does_not() -> None:
    with store.open_db(":memory:") as a, store.open_db(":memory:") as b:
        demo.load_demo(a, customers=300, seed=5, end=END)
        demo.load_demo(b, customers=300, seed=5, end=END)
        first = contents(a)
        assert first == contents(b)
        assert len(first["orders"]) > 300
        demo.load_demo(b, customers=300, seed=6, end=END)
        second = contents(b)
        for table in KEYS:
            assert first[table] != second[table], table


def test_chunks_continue_the_numbering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four chunks of 250: ids stay unique and in sequence, progress is reported per chunk."""
    monkeypatch.setattr(demo, "CHUNK_CUSTOMERS", 250)
    calls: list[tuple[float, str]] = []
    with store.open_db(":memory:") as conn:
        summary = demo.load_demo(
            conn, customers=1000, seed=3, end=END, progress=lambda f, m: calls.append((f, m))
        )
        assert value(conn, "SELECT count(*) FROM customers") == 1000
        assert value(conn, "SELECT max(customer_id) FROM customers") == "demo-0001000"
        numbers = [int(r[0]) for r in conn.execute("SELECT source_order_id FROM orders").fetchall()]
        assert sorted(numbers) == list(range(100_001, 100_001 + summary.orders))
        nps = conn.execute(
            "SELECT CAST(split_part(response_id, '-', 2) AS INTEGER) FROM feedback "
            "WHERE kind = 'nps'"
        ).fetchall()
        assert sorted(r[0] for r in nps) == list(range(1, len(nps) + 1))
        assert value(conn, "SELECT count(*) FROM customers WHERE signup_at IS NULL") == 0
    assert [round(f, 4) for f, _ in calls] == [0.2475, 0.495, 0.7425, 0.99, 1.0]
    assert calls[0][1].startswith("Made 250 of 1,000 demo customers")


def test_the_same_with_one_chunk_or_four_except_the_random_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunking changes which random numbers a customer gets, not the shop's size or period."""
    with store.open_db(":memory:") as conn:
        one = demo.load_demo(conn, customers=400, seed=3, end=END)
    monkeypatch.setattr(demo, "CHUNK_CUSTOMERS", 100)
    with store.open_db(":memory:") as conn:
        four = demo.load_demo(conn, customers=400, seed=3, end=END)
    assert (one.customers, one.start, one.end) == (four.customers, four.start, four.end)
    assert abs(one.orders - four.orders) < 0.25 * one.orders


# --- the summary and the markers --------------------------------------------------------------


def test_summary_matches_the_tables(shop: tuple[duckdb.DuckDBPyConnection, Any]) -> None:
    conn, summary = shop
    assert summary.customers == 2000
    assert summary.start == START
    assert summary.end == END
    assert summary.orders == value(conn, "SELECT count(*) FROM orders")
    assert summary.order_lines == value(conn, "SELECT count(*) FROM order_lines")
    assert summary.feedback == value(conn, "SELECT count(*) FROM feedback")
    assert value(conn, "SELECT count(*) FROM customers") == 2000
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        summary.orders = 1


def test_marks_demo_data_and_records_who(db: duckdb.DuckDBPyConnection) -> None:
    assert store.get_meta(db, "demo") == "1"
    assert store.get_meta(db, "initialised") == "1"
    assert store.get_setting(db, "reporting_currency", "?") == "USD"
    assert store.data_version(db) == 1
    rows = db.execute("SELECT actor, action FROM audit_log").fetchall()
    assert rows == [("tester", "demo data loaded")]


def test_demo_period_counts_calendar_months() -> None:
    assert demo.demo_period(date(2025, 6, 30)) == (date(2022, 12, 30), date(2025, 6, 30))
    assert demo.demo_period(date(2024, 8, 31)) == (date(2022, 2, 28), date(2024, 8, 31))
    assert demo.demo_period(date(2025, 1, 15), 12) == (date(2024, 1, 15), date(2025, 1, 15))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "at least 1 customer"),
        ({"customers": 10, "seed": -1}, "seed must be 0 or a positive"),
    ],
)
def test_refuses_impossible_requests(kwargs: dict[str, int], message: str) -> None:
    with store.open_db(":memory:") as conn:
        with pytest.raises(InputRefused, match=message):
            demo.load_demo(conn, end=END, **kwargs)
        assert value(conn, "SELECT count(*) FROM audit_log") == 0


def test_default_end_is_today_utc() -> None:
    before = datetime.now(UTC).date()
    with store.open_db(":memory:") as conn:
        summary = demo.load_demo(conn, customers=50)
        last = value(conn, "SELECT max(ordered_at) FROM orders")
    after = datetime.now(UTC).date()
    assert summary.end in (before, after)
    assert last < datetime.combine(summary.end, datetime.min.time())


def test_a_tiny_shop_works() -> None:
    with store.open_db(":memory:") as conn:
        summary = demo.load_demo(conn, customers=1, seed=0, end=END)
        assert summary.customers == 1
        assert value(conn, "SELECT count(*) FROM customer_keys") == 2


# --- shape ------------------------------------------------------------------------------------


def test_orders_stay_inside_the_period(db: duckdb.DuckDBPyConnection) -> None:
    first, last = db.execute("SELECT min(ordered_at), max(ordered_at) FROM orders").fetchone()
    assert first >= datetime(2022, 12, 30)
    assert last < datetime(2025, 6, 30)
    last_90 = value(db, "SELECT count(*) FROM orders WHERE ordered_at >= ?", [datetime(2025, 4, 1)])
    assert last_90 > 500
    answered = value(db, "SELECT max(answered_at) FROM feedback")
    assert answered < datetime(2025, 6, 30)


def test_most_buyers_buy_once_and_a_few_are_very_loyal(db: duckdb.DuckDBPyConnection) -> None:
    counts = dict(
        db.execute(
            "SELECT c.customer_id, count(o.order_id) FROM customers c "
            "LEFT JOIN orders o USING (customer_id) GROUP BY 1"
        ).fetchall()
    )
    buyers = [n for n in counts.values() if n > 0]
    never = sum(1 for n in counts.values() if n == 0) / len(counts)
    one_time = sum(1 for n in buyers if n == 1) / len(buyers)
    assert 0.07 <= never <= 0.13
    assert 0.55 <= one_time <= 0.70
    assert sum(1 for n in buyers if n >= 20) >= 5
    assert sum(1 for n in buyers if 2 <= n <= 4) > sum(1 for n in buyers if n >= 5)


def test_orders_and_customers_grow_with_a_holiday_peak(db: duckdb.DuckDBPyConnection) -> None:
    def per_day(start: date, end: date) -> float:
        n = value(
            db,
            "SELECT count(*) FROM orders WHERE ordered_at >= ? AND ordered_at < ?",
            [start, end],
        )
        return float(n) / (end - start).days

    year = per_day(date(2024, 7, 1), date(2025, 7, 1))
    holidays = per_day(date(2024, 11, 1), date(2025, 1, 1))
    assert holidays >= 1.3 * year
    assert per_day(date(2024, 1, 1), date(2024, 7, 1)) > 1.3 * per_day(
        date(2023, 1, 1), date(2023, 7, 1)
    )

    def signups(start: date, end: date) -> int:
        return int(
            value(
                db,
                "SELECT count(*) FROM customers WHERE signup_at >= ? AND signup_at < ?",
                [start, end],
            )
        )

    assert signups(date(2024, 7, 1), date(2025, 7, 1)) > 1.3 * signups(
        date(2023, 1, 1), date(2024, 1, 1)
    )


def test_order_outcomes(db: duckdb.DuckDBPyConnection) -> None:
    total = value(db, "SELECT count(*) FROM orders")

    def share(where: str) -> float:
        return float(value(db, f"SELECT count(*) FROM orders WHERE {where}")) / total

    assert 0.01 <= share("status = 'refunded'") <= 0.035
    assert share("status = 'refunded' AND refunds <> total") == 0
    assert 0.035 <= share("status = 'paid' AND refunds > 0") <= 0.07
    assert share("status = 'paid' AND refunds >= total") == 0
    assert 0.01 <= share("status = 'cancelled'") <= 0.035
    assert 0.003 <= share("status = 'failed'") <= 0.02
    assert share("status NOT IN ('paid', 'refunded', 'cancelled', 'failed')") == 0
    assert share("refunds < 0 OR refunds > total") == 0


def test_money_adds_up(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        value(
            db, "SELECT count(*) FROM orders WHERE total <> subtotal - discounts + shipping + tax"
        )
        == 0
    )
    assert value(db, "SELECT count(*) FROM orders WHERE net <> total - refunds") == 0
    assert value(db, "SELECT typeof(any_value(net)) FROM orders") == "DECIMAL(18,2)"
    mismatched = value(
        db,
        "SELECT count(*) FROM orders o JOIN ("
        "  SELECT order_id, sum(quantity * unit_price) AS s, count(*) AS n, max(line_no) AS top"
        "  FROM order_lines GROUP BY 1) l USING (order_id) "
        "WHERE o.subtotal <> l.s OR l.n < 1 OR l.n > 4 OR l.top <> l.n",
    )
    assert mismatched == 0
    without_lines = value(
        db, "SELECT count(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_lines)"
    )
    assert without_lines == 0
    assert value(db, "SELECT min(subtotal) FROM orders") > 0
    assert (
        value(db, "SELECT count(*) FROM orders WHERE discounts > 0 AND discount_code IS NULL") == 0
    )


def test_discount_codes(db: duckdb.DuckDBPyConnection) -> None:
    total = value(db, "SELECT count(*) FROM orders")
    coded = value(db, "SELECT count(*) FROM orders WHERE discount_code IS NOT NULL")
    assert 0.15 <= coded / total <= 0.25
    codes = {r[0] for r in db.execute("SELECT DISTINCT discount_code FROM orders").fetchall()}
    assert {"WELCOME10", "SPRING15", "BFCM25", "VIP20"} <= codes
    # Black Friday 2024 was on November 29: BFCM25 runs Friday to Cyber Monday only.
    days = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT CAST(ordered_at AS DATE) FROM orders WHERE discount_code = 'BFCM25'"
        ).fetchall()
    }
    assert {date(2024, 11, 29), date(2024, 12, 2)} <= days
    assert days <= {
        date(y, m, d)
        for y, m, d in [
            (2023, 11, 24), (2023, 11, 25), (2023, 11, 26), (2023, 11, 27),
            (2024, 11, 29), (2024, 11, 30), (2024, 12, 1), (2024, 12, 2),
        ]
    }  # fmt: skip
    ten_percent = value(
        db,
        "SELECT count(*) FROM orders WHERE discount_code = 'WELCOME10' "
        "AND discounts <> round(subtotal * 0.10, 2)",
    )
    assert ten_percent == 0


def test_catalogue(db: duckdb.DuckDBPyConnection) -> None:
    products, skus, categories = db.execute(
        "SELECT count(DISTINCT product), count(DISTINCT sku), count(DISTINCT category) "
        "FROM order_lines"
    ).fetchone()
    assert 25 <= products <= 40
    assert skus == products
    assert 5 <= categories <= 7
    per_sku = value(
        db, "SELECT max(n) FROM (SELECT sku, count(DISTINCT product) n FROM order_lines GROUP BY 1)"
    )
    assert per_sku == 1
    assert value(db, "SELECT min(quantity) FROM order_lines") == 1
    # No product twice in one order.
    dup = value(
        db,
        "SELECT count(*) FROM (SELECT order_id, sku FROM order_lines GROUP BY 1, 2 HAVING count(*) > 1)",
    )
    assert dup == 0


def test_channels_and_currencies(db: duckdb.DuckDBPyConnection) -> None:
    channels = {r[0] for r in db.execute("SELECT DISTINCT sales_channel FROM orders").fetchall()}
    assert channels == {"online_store", "pos", "marketplace"}
    shares = dict(
        db.execute(
            "SELECT currency, count(*) / sum(count(*)) OVER () FROM orders GROUP BY 1"
        ).fetchall()
    )
    assert set(shares) == {"USD", "CAD", "EUR"}
    assert 0.94 <= shares["USD"] <= 0.99
    wrong_country = value(
        db,
        "SELECT count(*) FROM orders JOIN customers USING (customer_id) "
        "WHERE (currency = 'CAD' AND country <> 'CA') OR (currency = 'EUR' AND country <> 'DE')",
    )
    assert wrong_country == 0
    pos_shipping = value(db, "SELECT max(shipping) FROM orders WHERE sales_channel = 'pos'")
    assert pos_shipping == 0


def test_customers_look_real(db: duckdb.DuckDBPyConnection) -> None:
    assert value(db, "SELECT count(DISTINCT email_norm) FROM customers") == 2000
    assert value(db, "SELECT count(*) FROM customers WHERE email_norm <> lower(email)") == 0
    upper = value(db, "SELECT count(*) FROM customers WHERE email <> email_norm")
    assert 0 < upper < 200
    emails = [r[0] for r in db.execute("SELECT email_norm FROM customers").fetchall()]
    assert all(re.fullmatch(r"[a-z][a-z._]*[0-9]+@example\.(com|org|net)", e) for e in emails)
    ids = [r[0] for r in db.execute("SELECT customer_id FROM customers ORDER BY 1").fetchall()]
    assert ids[0] == "demo-0000001" and ids[-1] == "demo-0002000"
    assert value(db, "SELECT count(*) FROM customers WHERE source_system <> 'demo'") == 0
    countries = dict(
        db.execute(
            "SELECT country, count(*) / sum(count(*)) OVER () FROM customers GROUP BY 1"
        ).fetchall()
    )
    assert set(countries) == {"US", "CA", "GB", "DE"}
    assert countries["US"] > 0.8
    marketing = value(db, "SELECT avg(CAST(accepts_marketing AS DOUBLE)) FROM customers")
    assert 0.5 <= marketing <= 0.7
    genders = {r[0] for r in db.execute("SELECT DISTINCT gender FROM customers").fetchall()}
    assert genders == {"female", "male", "non-binary", None}
    lengths = {r[0] for r in db.execute("SELECT DISTINCT len(tags) FROM customers").fetchall()}
    assert lengths == {1, 2, 3}
    repeated_tag = value(
        db, "SELECT count(*) FROM customers WHERE len(list_distinct(tags)) <> len(tags)"
    )
    assert repeated_tag == 0
    ages = db.execute(
        "SELECT min(date_diff('year', birthday, DATE '2025-06-30')), "
        "max(date_diff('year', birthday, DATE '2025-06-30')), count(birthday) FROM customers"
    ).fetchone()
    assert ages[0] >= 18 and ages[1] <= 86 and 1400 <= ages[2] <= 1800
    phones = [
        r[0] for r in db.execute("SELECT phone FROM customers WHERE phone IS NOT NULL").fetchall()
    ]
    assert all(
        re.fullmatch(r"\+(1 \d{3}-555-01\d\d|44 \d+ \d+ 0\d{3}|49 \d+ \d+ \d{4})", p)
        for p in phones
    )
    late_signup = value(
        db,
        "SELECT count(*) FROM customers c JOIN (SELECT customer_id, min(ordered_at) AS f "
        "FROM orders GROUP BY 1) o USING (customer_id) WHERE c.signup_at > o.f",
    )
    assert late_signup == 0
    assert value(db, "SELECT count(DISTINCT acquisition_channel) FROM customers") >= 5


def test_keys_and_references(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute(
        "SELECT key_type, count(*) FROM customer_keys GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("demo", 2000), ("email", 2000)]
    wrong = value(
        db,
        "SELECT count(*) FROM customer_keys k JOIN customers c USING (customer_id) "
        "WHERE (k.key_type = 'email' AND k.key_value <> c.email_norm) "
        "OR (k.key_type = 'demo' AND k.key_value <> c.customer_id)",
    )
    assert wrong == 0
    orphans = value(
        db,
        "SELECT (SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT customer_id FROM customers))"
        " + (SELECT count(*) FROM feedback WHERE customer_id NOT IN (SELECT customer_id FROM customers))"
        " + (SELECT count(*) FROM order_lines WHERE order_id NOT IN (SELECT order_id FROM orders))",
    )
    assert orphans == 0
    bad_ids = value(
        db,
        "SELECT count(*) FROM orders WHERE order_id <> 'demo:' || source_order_id "
        "OR source_system <> 'demo' OR NOT regexp_full_match(source_order_id, '1[0-9]{5,}')",
    )
    assert bad_ids == 0


def test_feedback_shares(db: duckdb.DuckDBPyConnection) -> None:
    buyers = value(db, "SELECT count(DISTINCT customer_id) FROM orders")

    def answered(kind: str) -> float:
        n = value(db, "SELECT count(DISTINCT customer_id) FROM feedback WHERE kind = ?", [kind])
        return float(n) / buyers

    assert 0.20 <= answered("nps") <= 0.30
    assert 0.07 <= answered("csat") <= 0.13
    assert 0.03 <= answered("review") <= 0.07
    twice = value(
        db,
        "SELECT count(*) FROM (SELECT customer_id FROM feedback WHERE kind = 'nps' "
        "GROUP BY 1 HAVING count(*) = 2)",
    )
    assert twice > 20
    ranges = dict(
        (kind, (lo, hi))
        for kind, lo, hi in db.execute(
            "SELECT kind, min(score), max(score) FROM feedback GROUP BY 1"
        ).fetchall()
    )
    assert ranges["csat"] == (1, 5)
    assert ranges["review"] == (1, 5)
    assert ranges["nps"][0] in (0, 1, 2, 3)
    assert ranges["nps"][1] == 10
    reviews_complete = value(
        db,
        "SELECT count(*) FROM feedback WHERE kind = 'review' "
        "AND (product IS NULL OR title IS NULL OR comment IS NULL)",
    )
    assert reviews_complete == 0
    others_bare = value(
        db,
        "SELECT count(*) FROM feedback WHERE kind <> 'review' AND (product IS NOT NULL OR title IS NOT NULL)",
    )
    assert others_bare == 0
    ids = [r[0] for r in db.execute("SELECT response_id FROM feedback").fetchall()]
    assert all(re.fullmatch(r"demo:(nps|csat|review)-[1-9][0-9]*", i) for i in ids)
    assert value(db, "SELECT count(DISTINCT source) FROM feedback") == 1
    # Every answer comes after one of the customer's orders.
    early = value(
        db,
        "SELECT count(*) FROM feedback f JOIN (SELECT customer_id, min(ordered_at) AS f0 "
        "FROM orders GROUP BY 1) o USING (customer_id) WHERE f.answered_at <= o.f0",
    )
    assert early == 0


def test_scores_follow_the_experience(db: duckdb.DuckDBPyConnection) -> None:
    def nps_avg(where: str) -> float:
        return float(
            value(
                db,
                "SELECT avg(score) FROM feedback f JOIN (SELECT customer_id, count(*) AS n, "
                "bool_or(status = 'refunded') AS refunded FROM orders GROUP BY 1) c "
                f"USING (customer_id) WHERE kind = 'nps' AND {where}",
            )
        )

    loyal, refunded = nps_avg("n >= 5 AND NOT refunded"), nps_avg("refunded")
    assert loyal >= 8.5
    assert refunded <= 7.0
    promoters = value(
        db,
        "SELECT avg(CAST(score >= 9 AS DOUBLE)) FROM feedback WHERE kind = 'nps'",
    )
    assert 0.3 <= promoters <= 0.6


def test_comments_match_the_score(db: duckdb.DuckDBPyConnection) -> None:
    low = {t for t in demo.COMMENTS["low"]} | set(demo.FOREIGN_COMMENTS["low"])
    high = {t for t in demo.COMMENTS["high"]} | set(demo.FOREIGN_COMMENTS["high"])
    rows = db.execute(
        "SELECT kind, score, comment FROM feedback WHERE comment IS NOT NULL"
    ).fetchall()
    assert len(rows) > 300
    for kind, score, comment in rows:
        if (kind == "nps" and score <= 6) or (kind != "nps" and score <= 2):
            assert comment in low
        if (kind == "nps" and score >= 9) or (kind != "nps" and score >= 4):
            assert comment in high
    assert any(not c.isascii() for _, _, c in rows)  # a few answers in other languages
    assert value(db, "SELECT count(*) FROM feedback WHERE kind = 'nps' AND comment IS NULL") > 0


# --- replace and clear ------------------------------------------------------------------------


def _add_import_row(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        "INSERT INTO imports VALUES (1, 'orders.csv', 'abc', 'shopify', 'orders', 1, 1, 0, "
        "'loaded', NULL, 'local', ?, NULL, NULL)",
        [datetime(2025, 1, 1)],
    )
    conn.execute("INSERT INTO rejected_rows VALUES (1, 2, 'email', 'bad email', 'x')")
    conn.execute("INSERT INTO import_added_keys VALUES (1, 'email', 'ann@shop.com')")


def test_reload_replaces_everything() -> None:
    with store.open_db(":memory:") as conn:
        demo.load_demo(conn, customers=200, seed=1, end=END)
        _add_import_row(conn)
        conn.execute(
            "INSERT INTO customers (customer_id, source_system) VALUES ('shopify-1', 'shopify')"
        )
        summary = demo.load_demo(conn, customers=150, seed=1, end=END)
        assert value(conn, "SELECT count(*) FROM customers") == 150
        assert value(conn, "SELECT count(*) FROM orders") == summary.orders
        assert value(conn, "SELECT count(*) FROM imports") == 0
        assert value(conn, "SELECT count(*) FROM rejected_rows") == 0
        assert value(conn, "SELECT count(*) FROM import_added_keys") == 0
        assert store.data_version(conn) == 2
        assert value(conn, "SELECT count(*) FROM audit_log") == 2


def test_a_failed_load_keeps_the_old_data(monkeypatch: pytest.MonkeyPatch) -> None:
    with store.open_db(":memory:") as conn:
        demo.load_demo(conn, customers=300, seed=1, end=END)
        before = contents(conn)
        monkeypatch.setattr(demo, "CHUNK_CUSTOMERS", 100)
        real_insert = demo._insert_chunk
        calls = []

        def failing_insert(c: duckdb.DuckDBPyConnection, tables: dict[str, Any]) -> None:
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("disk full")
            real_insert(c, tables)

        monkeypatch.setattr(demo, "_insert_chunk", failing_insert)
        with pytest.raises(RuntimeError, match="disk full"):
            demo.load_demo(conn, customers=500, seed=2, end=END)
        assert contents(conn) == before
        assert store.data_version(conn) == 1
        assert value(conn, "SELECT count(*) FROM audit_log") == 1


def test_clear_shop_data_keeps_the_audit_log() -> None:
    with store.open_db(":memory:") as conn:
        demo.load_demo(conn, customers=100, seed=1, end=END)
        _add_import_row(conn)
        demo.clear_shop_data(conn, actor="ann")
        for table in (*store.DATA_TABLES, *demo.IMPORT_HISTORY_TABLES):
            assert value(conn, f"SELECT count(*) FROM {table}") == 0, table
        assert store.get_meta(conn, "demo") == "0"
        assert store.get_meta(conn, "initialised") == "1"
        assert store.data_version(conn) == 2
        rows = conn.execute("SELECT actor, action FROM audit_log ORDER BY logged_at").fetchall()
        assert rows == [("local", "demo data loaded"), ("ann", "shop data cleared")]
        assert store.get_setting(conn, "reporting_currency", "?") == "USD"


def test_clear_on_a_new_store_marks_it_initialised() -> None:
    with store.open_db(":memory:") as conn:
        demo.clear_shop_data(conn)
        assert store.get_meta(conn, "initialised") == "1"
        assert store.get_meta(conn, "demo") == "0"
        assert not store.is_demo(conn)


def test_dates_of_the_period_do_not_drift() -> None:
    """A period spanning a leap day: every day of it can hold orders."""
    with store.open_db(":memory:") as conn:
        demo.load_demo(conn, customers=800, seed=9, end=date(2024, 3, 1))
        first, last = conn.execute("SELECT min(ordered_at), max(ordered_at) FROM orders").fetchone()
    assert first >= datetime(2021, 9, 1)
    assert last < datetime(2024, 3, 1)
    assert last >= datetime(2024, 3, 1) - timedelta(days=3)
