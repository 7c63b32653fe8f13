"""Loading semantics: identity across files, refunds in the KPIs, re-imports, overlapping exports,
undo, demo data, history, rejected rows and remembered mappings."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from relmark_core import source, store
from relmark_core.errors import InputRefused
from relmark_core.imports import (
    ImportRefused,
    commit,
    import_history,
    neutralise_formula,
    preview,
    rejected_rows_csv,
    undo_import,
)
from relmark_core.metrics.kpis import kpis
from relmark_core.periods import DateRange
from tests.builders import add_customer, order
from tests.test_import_support import dump, fx, rows

DATA = ("customers", "customer_keys", "orders", "order_lines", "feedback")


def data(conn: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    d = dump(conn)
    return {t: d[t] for t in DATA}


def test_partially_refunded_order_counts_with_its_reduced_net(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    commit(conn, fx("shopify_orders.csv"))
    k = kpis(source.from_duckdb(conn), rng=DateRange(start=date(2024, 3, 1), end=date(2024, 4, 1)))
    # 59.00 + (80.00 - 30.00 refunded) + 35.00; Ann ordered twice, Bob once.
    assert (k.customers, k.orders, k.revenue, k.aov, k.repeat_purchase_rate) == (
        2, 3, D("144.00"), D("48.00"), 0.5)


@pytest.mark.parametrize("first", ["shopify_orders.csv", "typeform_nps.csv"])
def test_same_person_by_email_in_shopify_and_typeform_is_one_customer(
    conn: duckdb.DuckDBPyConnection, first: str
) -> None:
    second = "typeform_nps.csv" if first == "shopify_orders.csv" else "shopify_orders.csv"
    commit(conn, fx(first))
    commit(conn, fx(second))
    assert rows(conn, "SELECT email_norm FROM customers ORDER BY 1") == [
        ("ann@shop.com",), ("bob@example.com",), ("zoe@example.com",)]
    ann = rows(conn, "SELECT customer_id FROM customers WHERE email_norm = 'ann@shop.com'")[0][0]
    assert rows(conn, "SELECT DISTINCT customer_id FROM orders WHERE order_id IN "
                "('shopify:#1001', 'shopify:#1003')") == [(ann,)]
    assert rows(conn, "SELECT customer_id FROM feedback WHERE response_id = 'typeform:k2j9x0a1'"
                ) == [(ann,)]


def test_new_customers_get_a_stable_id_from_their_first_key(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    import hashlib

    commit(conn, fx("shopify_orders.csv"))
    expected = "c-" + hashlib.md5(b"email:ann@shop.com").hexdigest()[:16]
    assert rows(conn, "SELECT customer_id FROM customers WHERE email_norm = 'ann@shop.com'") == [
        (expected,)]


def test_reimporting_the_same_file_changes_nothing_and_says_so(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    first = commit(conn, fx("shopify_orders.csv"))
    before = dump(conn)
    again = commit(conn, fx("shopify_orders.csv"))
    assert again.already_imported
    assert again.import_id == first.import_id
    assert "already imported" in again.message and "nothing changed" in again.message
    assert dump(conn) == before


def test_overlapping_newer_export_updates_rather_than_duplicates(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    commit(conn, fx("shopify_orders.csv"))
    newer = commit(conn, fx("shopify_orders_newer.csv"))
    assert (newer.rows_loaded, newer.new_records, newer.updated_records,
            newer.unchanged_records) == (4, 1, 1, 2)
    assert rows(conn, "SELECT order_id, refunds, net, import_id FROM orders ORDER BY 1") == [
        ("shopify:#1001", D("0.00"), D("59.00"), 1),
        ("shopify:#1002", D("30.00"), D("50.00"), 1),
        ("shopify:#1003", D("10.00"), D("25.00"), 2),
        ("shopify:#1004", D("0.00"), D("15.00"), 2),
    ]
    assert rows(conn, "SELECT count(*) FROM order_lines") == [(8,)]
    assert rows(conn, "SELECT count(*) FROM customers") == [(3,)]


def test_undo_restores_what_the_import_changed(conn: duckdb.DuckDBPyConnection) -> None:
    commit(conn, fx("shopify_orders.csv"))
    after_first = data(conn)
    newer = commit(conn, fx("shopify_orders_newer.csv"))
    assert data(conn) != after_first
    assert newer.import_id is not None
    undo_import(conn, newer.import_id)
    assert data(conn) == after_first
    assert rows(conn, "SELECT import_id, status, undone_by FROM imports ORDER BY 1") == [
        (1, "loaded", None), (2, "undone", "local")]
    # The undo tables hold nothing more for it.
    assert rows(conn, "SELECT count(*) FROM import_prev_orders") == [(0,)]


def test_undo_waits_for_later_imports_that_build_on_it(conn: duckdb.DuckDBPyConnection) -> None:
    empty = data(conn)
    first = commit(conn, fx("shopify_orders.csv"))
    newer = commit(conn, fx("shopify_orders_newer.csv"))
    assert first.import_id is not None and newer.import_id is not None
    with pytest.raises(InputRefused, match=r"Import #2 \(shopify_orders_newer.csv\) .* Undo #2 "
                                           r"first, then #1"):
        undo_import(conn, first.import_id)
    undo_import(conn, newer.import_id)
    undo_import(conn, first.import_id)
    assert data(conn) == empty
    with pytest.raises(InputRefused, match="already undone"):
        undo_import(conn, first.import_id)


def test_undo_keeps_a_customer_another_import_now_uses(conn: duckdb.DuckDBPyConnection) -> None:
    orders = commit(conn, fx("shopify_orders.csv"))
    commit(conn, fx("typeform_nps.csv"))  # Ann's answer points at the customer orders created
    assert orders.import_id is not None
    with pytest.raises(InputRefused, match=r"Import #2 \(typeform_nps.csv\)"):
        undo_import(conn, orders.import_id)


def _demo_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "demo-1", email="ann@shop.com", source_system="demo",
                 orders=[order("2024-01-05", 20)])
    add_customer(conn, "demo-2", email="zed@demo.example", source_system="demo",
                 orders=[order("2024-01-06", 30)])
    store.set_meta(conn, "demo", "1")


def test_first_real_import_removes_the_demo_data(conn: duckdb.DuckDBPyConnection) -> None:
    _demo_shop(conn)
    pv = preview(conn, fx("shopify_orders.csv"))
    assert pv.demo_present
    assert (pv.new_records, pv.new_customers) == (3, 2)  # counted as if the demo were gone
    result = commit(conn, pv)
    assert result.demo_removed and "demo data was removed" in result.message
    assert rows(conn, "SELECT email_norm, source_system FROM customers ORDER BY 1") == [
        ("ann@shop.com", "shopify"), ("bob@example.com", "shopify")]
    assert rows(conn, "SELECT count(*) FROM orders") == [(3,)]
    assert not store.is_demo(conn)


def test_keep_demo_leaves_the_demo_data(conn: duckdb.DuckDBPyConnection) -> None:
    _demo_shop(conn)
    result = commit(conn, fx("shopify_orders.csv"), keep_demo=True)
    assert not result.demo_removed
    assert rows(conn, "SELECT count(*) FROM orders") == [(5,)]
    # Ann's email matched the demo customer, whose details were only filled where empty.
    assert rows(conn, "SELECT customer_id, source_system, first_name FROM customers "
                "WHERE email_norm = 'ann@shop.com'") == [("demo-1", "demo", "Ann")]
    assert store.is_demo(conn)


def test_history_lists_every_import(conn: duckdb.DuckDBPyConnection) -> None:
    commit(conn, fx("shopify_orders.csv"))
    second = commit(conn, fx("stripe_payments.csv"), actor="mia")
    assert second.import_id is not None
    undo_import(conn, second.import_id, actor="mia")
    h = import_history(conn)
    assert list(h.columns) == ["import_id", "created_at", "file_name", "format", "kind",
                               "rows_read", "rows_loaded", "rows_rejected", "status", "message",
                               "created_by", "undone_at", "undone_by"]
    assert [tuple(r) for r in h[["import_id", "file_name", "format", "rows_read", "rows_loaded",
                                 "status", "created_by", "undone_by"]].itertuples(index=False)] == [
        (2, "stripe_payments.csv", "stripe_payments", 5, 5, "undone", "mia", "mia"),
        (1, "shopify_orders.csv", "shopify_orders", 7, 3, "loaded", "local", None),
    ]
    assert rows(conn, "SELECT actor, action FROM audit_log ORDER BY logged_at") == [
        ("local", "import"), ("mia", "import"), ("mia", "import undone")]


def _shopify_with(tmp_path: Path, edits: dict[tuple[int, str], str]) -> Path:
    """The 3-orders fixture with some cells changed ((row index, column) -> value)."""
    with fx("shopify_orders.csv").open(newline="") as fh:
        table = list(csv.reader(fh))
    header = table[0]
    for (i, col), value in edits.items():
        table[i][header.index(col)] = value
    path = tmp_path / "orders.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)
    return path


def test_rejected_rows_are_kept_with_their_reason_and_download_as_csv(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Row 4 is #1002's first row: an unreadable total rejects the order and its gift-wrap row;
    # row 6's product name is a spreadsheet formula.
    path = _shopify_with(tmp_path, {(3, "Total"): "eighty", (6, "Lineitem name"): "=HYPERLINK(1)"})
    pv = preview(conn, path)
    assert [tuple(r) for r in pv.problems.itertuples(index=False)] == [
        (4, "Total", '"eighty" is not a number', "eighty"),
        (5, "Name", "a line of order #1002 whose order row is missing or was rejected", "#1002"),
    ]
    result = commit(conn, pv)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (7, 2, 2)
    out = list(csv.reader(io.StringIO(rejected_rows_csv(conn, 1).decode("utf-8"))))
    assert out[0][:3] == ["row", "column", "reason"]
    assert [r[:3] for r in out[1:]] == [
        ["4", "Total", '"eighty" is not a number'],
        ["5", "Name", "a line of order #1002 whose order row is missing or was rejected"],
    ]
    total_at = out[0].index("Total")
    assert out[1][total_at] == "eighty"
    assert rows(conn, "SELECT product FROM order_lines WHERE order_id = 'shopify:#1003' "
                "AND line_no = 2") == [("=HYPERLINK(1)",)]


def test_rejected_rows_csv_neutralises_formulas(conn: duckdb.DuckDBPyConnection,
                                                tmp_path: Path) -> None:
    path = _shopify_with(tmp_path, {(1, "Total"): "=1+2", (1, "Lineitem name"): "@SUM(A1)"})
    commit(conn, path)
    out = list(csv.reader(io.StringIO(rejected_rows_csv(conn, 1).decode("utf-8"))))
    assert out[1][2] == '"=1+2" is not a number'  # starts with a quote: harmless as it is
    assert out[1][out[0].index("Total")] == "'=1+2"
    assert out[1][out[0].index("Lineitem name")] == "'@SUM(A1)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+49 30", "'+49 30"), ("-5", "'-5"), ("@cmd", "'@cmd"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), (None, ""), (12.5, "12.5")],
)
def test_neutralise_formula(value: object, expected: str) -> None:
    assert neutralise_formula(value) == expected


def test_generic_mapping_is_remembered_for_the_same_header(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    header = "Kennung,Wann,Summe EUR,Kontakt\n"
    first = tmp_path / "a.csv"
    first.write_text(header + "K1,2024-02-01,10.00,ute@example.de\n")
    second = tmp_path / "b.csv"
    second.write_text(header + "K2,2024-02-02,20.00,ute@example.de\n")
    pv = preview(conn, first)
    assert [q.key for q in pv.questions] == ["mapping"]
    with pytest.raises(ImportRefused, match="Kennung"):
        commit(conn, first)
    mapping = {"order_id": "Kennung", "ordered_at": "Wann", "total": "Summe EUR",
               "email": "Kontakt"}
    commit(conn, first, mapping=mapping)
    pv2 = preview(conn, second)  # no mapping given: the remembered one is used
    assert pv2.ready and pv2.mapping is not None and pv2.mapping.fields == mapping
    commit(conn, pv2)
    assert rows(conn, "SELECT order_id, total FROM orders ORDER BY 1") == [
        ("import:K1", D("10.00")), ("import:K2", D("20.00"))]
    assert rows(conn, "SELECT count(*) FROM customers") == [(1,)]


def test_feedback_without_response_ids_is_deduplicated_by_content(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "nps.csv"
    path.write_text("Email,Date,NPS,Comment\na@x.com,2024-01-02,9,great\nb@x.com,2024-01-03,4,\n")
    commit(conn, path)
    path.write_text("Email,Date,NPS,Comment\na@x.com,2024-01-02,9,great\nb@x.com,2024-01-03,4,"
                    "\nc@x.com,2024-01-04,10,wow\n")
    result = commit(conn, path)
    assert (result.new_records, result.unchanged_records) == (1, 2)
    assert rows(conn, "SELECT kind, score, answered_at FROM feedback ORDER BY answered_at") == [
        ("nps", 9, datetime(2024, 1, 2)), ("nps", 4, datetime(2024, 1, 3)),
        ("nps", 10, datetime(2024, 1, 4))]


def test_commit_from_a_preview_refuses_a_changed_file(conn: duckdb.DuckDBPyConnection,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(fx("shopify_orders.csv").read_bytes())
    pv = preview(conn, path)
    path.write_bytes(fx("shopify_orders_newer.csv").read_bytes())
    with pytest.raises(ImportRefused, match="changed since it was previewed"):
        commit(conn, pv)


def test_upload_bytes_and_progress(conn: duckdb.DuckDBPyConnection) -> None:
    seen: list[tuple[float, str]] = []
    result = commit(conn, fx("shopify_orders.csv").read_bytes(), file_name="upload.csv",
                    progress=lambda f, m: seen.append((f, m)))
    assert result.file_name == "upload.csv" and result.rows_loaded == 3
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_row_problems_each_with_their_reason(conn: duckdb.DuckDBPyConnection,
                                             tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "Order ID,Order Date,Total,Currency,Status,Discounts,Country\n"
        "1,2024-01-02,10.00,USD,paid,-,n/a\n"  # placeholders read as empty
        "2,2024-01-03,n/a,USD,paid,,\n"  # a placeholder where a value is needed
        "3,2024-01-04,12.00,dollars,paid,,\n"
        "4,2024-01-05,13.00,EUR,lost in the post,,\n"
        "5,31 Feb 2024,14.00,EUR,paid,,\n"
    )
    pv = preview(conn, path)
    assert [tuple(r) for r in pv.problems.itertuples(index=False)] == [
        (3, "Total", "Total is empty", None),
        (4, "Currency", '"dollars" is not a 3-letter currency code (like USD or EUR)', "dollars"),
        (5, "Status", 'the status "lost in the post" is not one Relmark knows',
         "lost in the post"),
        (6, "Order Date", '"31 Feb 2024" is not a date Relmark can read', "31 Feb 2024"),
    ]
    commit(conn, pv)
    assert rows(conn, "SELECT order_id, total, discounts, status FROM orders") == [
        ("import:1", D("10.00"), None, "paid")]


def test_customers_and_feedback_row_problems(conn: duckdb.DuckDBPyConnection,
                                             tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("Email,First name\nnot-an-email,Ann\nbo@example.com,Bo\n")
    pv = preview(conn, people)
    assert [tuple(r)[:3] for r in pv.problems.itertuples(index=False)] == [
        (2, "Email", "the row has neither a usable email nor a customer id")]
    answers = tmp_path / "nps.csv"
    answers.write_text("Email,Date,NPS\na@x.com,2024-01-02,11\nb@x.com,2024-01-03,7\n")
    pv = preview(conn, answers)
    assert [tuple(r)[:3] for r in pv.problems.itertuples(index=False)] == [
        (2, "NPS", "the score 11 is outside the survey's range")]
