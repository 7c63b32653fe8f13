"""What real files contain: encodings, delimiters, decimal commas, quoted newlines, blank lines,
totals rows, xlsx, time zones and day/month order — and a property test of CSV parsing."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import duckdb
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relmark_core import store
from relmark_core.imports import commit, load, parsing, preview
from tests.test_import_support import fx, rows


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_utf8_with_bom_is_recognised(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + fx("shopify_orders.csv").read_bytes())
    pv = preview(conn, path)
    assert (pv.format, pv.encoding, pv.rows_to_load) == ("shopify_orders", "utf-8-sig", 3)


def test_utf16_tab_separated_as_excel_saves_unicode_text(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = _write(tmp_path, "people.txt", "Email\tFirst name\tCity\nzoe@example.com\tZoë\tKöln\n",
                  "utf-16")
    pv = preview(conn, path)
    assert (pv.kind, pv.encoding, pv.delimiter) == ("customers", "utf-16", "tab")
    commit(conn, pv)
    assert rows(conn, "SELECT email, first_name, city FROM customers") == [
        ("zoe@example.com", "Zoë", "Köln")]


def test_windows_1252_is_decoded(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = _write(tmp_path, "cp.csv", "Email,Name,City\nrene@example.fr,René Müller,Besançon\n",
                  "cp1252")
    pv = preview(conn, path)
    assert pv.encoding == "cp1252"
    assert "Read as Windows-1252 text (the file is not UTF-8)." in pv.notes
    commit(conn, pv)
    assert rows(conn, "SELECT first_name, last_name, city FROM customers") == [
        ("René", "Müller", "Besançon")]


def test_a_non_utf8_byte_late_in_a_large_file_is_caught(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    body = "".join(f"c{i}@example.com,Name {i}\n" for i in range(60_000))  # > 1 MB of ASCII
    path = tmp_path / "late.csv"
    path.write_bytes(("Email,Name\n" + body + "last@example.com,Ang\xe9lique\n").encode("cp1252"))
    result = commit(conn, path)
    assert result.rows_loaded == 60_001
    assert rows(conn, "SELECT first_name FROM customers WHERE email = 'last@example.com'") == [
        ("Angélique",)]


def test_semicolons_decimal_commas_and_currency_symbols(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = _write(tmp_path, "de.csv",
                  "Bestellnummer;Datum;Betrag;Rabatt\n"
                  "B1;2024-01-31;1.234,56 €;-10,00 €\n"
                  "B2;2024-02-01;99,90 €;\n")
    pv = preview(conn, path)
    assert pv.delimiter == "semicolon"
    commit(conn, pv)
    assert rows(conn, "SELECT order_id, total, discounts, currency FROM orders ORDER BY 1") == [
        ("import:B1", D("1234.56"), D("-10.00"), "EUR"), ("import:B2", D("99.90"), None, "EUR")]


def test_dollar_amounts_with_thousands_and_brackets(conn: duckdb.DuckDBPyConnection,
                                                    tmp_path: Path) -> None:
    path = _write(tmp_path, "us.csv", 'Order ID,Order Date,Total,Refunds\n'
                                      'A1,2024-01-31,"$1,240.50",($40.00)\n'
                                      'A2,2024-02-01,$12.00,$0.00\n')
    with pytest.raises(load.ImportRefused, match="the refunded amount is negative"):
        commit(conn, path)
    path = _write(tmp_path, "us.csv", 'Order ID,Order Date,Total,Refunds\n'
                                      'A1,2024-01-31,"$1,240.50",$40.00\n'
                                      'A2,2024-02-01,$12.00,$0.00\n')
    commit(conn, path)
    assert rows(conn, "SELECT order_id, total, refunds, net FROM orders ORDER BY 1") == [
        ("import:A1", D("1240.50"), D("40.00"), D("1200.50")),
        ("import:A2", D("12.00"), D("0.00"), D("12.00"))]


def test_quoted_newlines_blank_lines_and_totals_rows_keep_row_numbers(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = _write(tmp_path, "orders.csv",
                  'Order,Date,Total,Note\n'
                  '1,2024-01-01,10.00,"two\nlines"\n'
                  '\n'
                  '2,2024-01-02,abc,x\n'
                  '3,2024-01-03,5.00,y\n'
                  'Total,,15.00,\n')
    pv = preview(conn, path)
    # Spreadsheet rows: header 1, order 1 on row 2 (one cell on two lines), an empty row 3.
    assert [tuple(r) for r in pv.problems.itertuples(index=False)] == [
        (4, "Total", '"abc" is not a number', "abc")]
    assert (pv.rows_read, pv.rows_to_load, pv.rows_rejected) == (3, 2, 1)
    assert "Skipped 1 empty or totals row." in pv.notes


def test_a_row_with_more_values_than_columns_is_refused(conn: duckdb.DuckDBPyConnection,
                                                        tmp_path: Path) -> None:
    path = _write(tmp_path, "o.csv", "Order,Date,Total\n1,2024-01-01,10.00\n2,2024-01-02,1,5\n")
    pv = preview(conn, path)
    assert [tuple(r)[:3] for r in pv.problems.itertuples(index=False)] == [
        (3, None, "the row has more values than the header has columns (a value holding the "
                  "delimiter without quotes?)")]


def test_sep_hint_line(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "sep=;\nEmail;Name\nkai@example.com;Kai Li\n")
    commit(conn, path)
    assert rows(conn, "SELECT email, first_name, last_name FROM customers") == [
        ("kai@example.com", "Kai", "Li")]


def test_xlsx_workbook(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Orders"
    ws.append(["Order Number", "Order Date", "Total", "Email", "Quantity"])
    ws.append(["X1", datetime(2024, 5, 1, 9, 30), 12.5, "ivy@example.com", 2])
    ws.append(["X2", date(2024, 5, 2), 7, "IVY@example.com", 1.0])
    path = tmp_path / "orders.xlsx"
    wb.save(path)
    pv = preview(conn, path)
    assert (pv.format, pv.kind, pv.encoding) == ("generic", "orders", "xlsx")
    assert "Read the sheet 'Orders' of the workbook." in pv.notes
    commit(conn, pv)
    assert rows(conn, "SELECT o.order_id, o.ordered_at, o.total, c.email_norm FROM orders o "
                "JOIN customers c USING (customer_id) ORDER BY 1") == [
        ("import:X1", datetime(2024, 5, 1, 9, 30), D("12.50"), "ivy@example.com"),
        ("import:X2", datetime(2024, 5, 2), D("7.00"), "ivy@example.com")]


def test_offsets_are_honoured_and_naive_times_read_in_the_store_time_zone(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    store.set_setting(conn, "store_timezone", "Europe/Paris")
    path = _write(tmp_path, "o.csv", "Order ID,Created,Total\n"
                                     "1,2024-03-01 10:00:00 -0500,1\n"
                                     "2,2024-07-01 10:00,1\n"
                                     "3,2024-01-15T10:00:00Z,1\n")
    commit(conn, path)
    assert rows(conn, "SELECT order_id, ordered_at FROM orders ORDER BY 1") == [
        ("import:1", datetime(2024, 3, 1, 15, 0)),  # offset given: 10:00 at -05:00
        ("import:2", datetime(2024, 7, 1, 8, 0)),  # no offset: Paris summer time
        ("import:3", datetime(2024, 1, 15, 10, 0)),
    ]
    commit(conn, fx("stripe_payments.csv"))  # Stripe's "(UTC)" columns stay UTC
    assert rows(conn, "SELECT ordered_at FROM orders WHERE order_id = 'stripe:py_3Pa1'") == [
        (datetime(2024, 6, 1, 10, 0),)]


def test_day_month_order_is_asked_only_when_ambiguous(conn: duckdb.DuckDBPyConnection,
                                                      tmp_path: Path) -> None:
    ambiguous = fx("generic_ambiguous_dates.csv")
    assert [q.key for q in preview(conn, ambiguous).questions] == ["date_order"]
    pv = preview(conn, ambiguous, date_order="mdy")
    assert pv.ready and pv.date_order == "mdy"
    commit(conn, pv)
    assert rows(conn, "SELECT ordered_at FROM orders ORDER BY 1") == [
        (datetime(2024, 3, 4),), (datetime(2024, 5, 6),)]
    decisive = _write(tmp_path, "d.csv", "Order No,Order Date,Amount\n1,03/04/2024,1\n"
                                         "2,13/04/2024,1\n")
    pv2 = preview(conn, decisive)
    assert pv2.ready and pv2.date_order == "dmy"
    same = _write(tmp_path, "s.csv", "Order No,Order Date,Amount\n1,03/03/2024,1\n")
    assert preview(conn, same).ready  # 03/03 reads the same either way


def test_large_files_check_every_value_not_just_the_first_rows(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conventions come from the first rows; what later rows show still counts."""
    monkeypatch.setattr(load, "SAMPLE_ROWS", 3)
    later_day = _write(tmp_path, "a.csv", "Order No,Order Date,Amount\n" + "".join(
        f"{i},0{i}/02/2024,1\n" for i in range(1, 6)) + "9,25/02/2024,1\n")
    pv = preview(conn, later_day)
    assert pv.ready and pv.date_order == "dmy" and pv.rows_rejected == 0
    later_format = _write(tmp_path, "b.csv", "Order No,Order Date,Amount\n" + "".join(
        f"{i},2024-02-0{i},1.50\n" for i in range(1, 6)) + "9,25/02/2024,\"2,50\"\n")
    pv = preview(conn, later_format)
    assert (pv.rows_to_load, pv.rows_rejected) == (6, 0)
    commit(conn, pv)
    assert rows(conn, "SELECT ordered_at, total FROM orders WHERE order_id = 'import:9'") == [
        (datetime(2024, 2, 25), D("2.50"))]


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1, max_size=20,
).filter(lambda s: s.strip() == s and s.strip() != "" and s.lower() not in parsing.PLACEHOLDERS)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(names, min_size=1, max_size=5), delimiter=st.sampled_from([",", ";", "\t"]))
def test_any_names_survive_a_csv_round_trip(conn: duckdb.DuckDBPyConnection,
                                            first: list[str], delimiter: str) -> None:
    """Names with commas, quotes, semicolons and any letters come back exactly as written."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(["Email", "First name"])
    for i, name in enumerate(first):
        w.writerow([f"p{i}@example.com", name])
    pv = preview(conn, buf.getvalue().encode("utf-8"), file_name="people.csv", kind="customers")
    got = dict(zip(pv.sample["email"], pv.sample["first_name"], strict=True))
    assert got == {f"p{i}@example.com": name for i, name in enumerate(first)}
