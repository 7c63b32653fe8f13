"""A corpus of bad files: each is refused with one sentence naming the file (and the row and
column where there is one) and saying what to do — and the database stays exactly as it was."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from relmark_core.imports import ImportRefused, commit, preview
from tests.test_import_support import dump, fx

SHOPIFY_HEADER = fx("shopify_orders.csv").read_text().splitlines()[0]


def _shopify(edits: dict[tuple[int, str], str]) -> bytes:
    with fx("shopify_orders.csv").open(newline="") as fh:
        table = list(csv.reader(fh))
    for (i, col), value in edits.items():
        table[i][table[0].index(col)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(table)
    return buf.getvalue().encode()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("orders.csv", "a,b\n1,2\n")
    return buf.getvalue()


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40

# name -> (content, words the message must hold, in order)
CORPUS: dict[str, tuple[Callable[[], bytes], list[str]]] = {
    "empty.csv": (lambda: b"", ["empty.csv: the file is empty", "Export the data again"]),
    "blank.csv": (lambda: b"  \n\r\n \n", ["blank.csv: the file is empty"]),
    "header_only.csv": (lambda: (SHOPIFY_HEADER + "\n").encode(),
                        ["header_only.csv: the file has a header row but no data rows",
                         "Export the data again"]),
    "binary.csv": (lambda: bytes(range(256)) * 8,
                   ["binary.csv: this is not a text file", "Export the data"]),
    "photo.csv": (lambda: PNG, ["photo.csv: this is a PNG image, not a CSV or Excel export"]),
    "archive.csv": (_zip, ["archive.csv: this is a ZIP archive, not a spreadsheet",
                           "Unzip it"]),
    "old.xls": (lambda: bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 100,
                ["old.xls: this is an old Excel (.xls) or Word file"]),
    "garbage.csv": (lambda: b"lorem ipsum dolor\nsit amet consectetur\nadipiscing elit sed\n",
                    ["garbage.csv: Relmark could not tell which columns hold",
                     "'lorem ipsum dolor'", "--mapping"]),
    "huge_total.csv": (lambda: _shopify({(1, "Total"): "1000000000000.00"}),
                       ["huge_total.csv: row 2, column 'Total': a total of "
                        "1,000,000,000,000.00 is not believable", "units, not cents",
                        "Nothing was imported"]),
    "negative_total.csv": (lambda: _shopify({(5, "Total"): "-35.00"}),
                           ["row 6, column 'Total': the order total is negative (-35.00)"]),
    "negative_quantity.csv": (lambda: _shopify({(2, "Lineitem quantity"): "-2"}),
                              ["negative_quantity.csv: row 3, column 'Lineitem quantity': the "
                               "quantity is negative (-2)"]),
    "future.csv": (lambda: _shopify({(3, "Created at"): "2091-03-05 12:00:00 +0100"}),
                   ["future.csv: row 4, column 'Created at': the order date 2091-03-05 "
                    "11:00:00 is in the future", "day/month"]),
    "too_old.csv": (lambda: _shopify({(1, "Created at"): "1900-01-01 00:00:00 +0000"}),
                    ["too_old.csv: row 2, column 'Created at': the order date 1900-01-01 "
                     "00:00:00 is before 1970"]),
    "refund_over_total.csv": (lambda: _shopify({(3, "Refunded Amount"): "95.00"}),
                              ["row 4, column 'Refunded Amount': the refunded amount (95.00) "
                               "is more than the order total"]),
    "all_bad.csv": (lambda: _shopify({(1, "Total"): "x", (3, "Total"): "y", (5, "Total"): "z"}),
                    ["all_bad.csv: none of its 7 rows could be loaded. The first problem: row "
                     "2, column 'Total': \"x\" is not a number."]),
    "ambiguous.csv": (lambda: fx("generic_ambiguous_dates.csv").read_bytes(),
                      ["ambiguous.csv: The dates in column 'Order Date' (like 03/04/2024) "
                       "could be day/month/year or month/day/year", "--date-order dmy"]),
    "broken_quotes.csv": (lambda: b'Email,Name\n"a@x.com,Ann\nb@x.com,"Bob\n',
                          ["broken_quotes.csv: the file could not be read as a table: line 2 "
                           'opens a quote (") that never closes', "save it again as CSV"]),
    "ragged.csv": (lambda: b"Email,Name\na@x.com,Ann\nb@x.com,Bob,x,y\n",
                   ["ragged.csv: the file could not be read as a table: line 3 has 4 values "
                    "but the header has 2 columns"]),
}


@pytest.fixture
def loaded(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A store that already holds an import, so 'unchanged' means something."""
    commit(conn, fx("stripe_payments.csv"))
    return conn


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_file_is_refused_and_the_database_is_unchanged(
    loaded: duckdb.DuckDBPyConnection, tmp_path: Path, name: str
) -> None:
    make, words = CORPUS[name]
    path = tmp_path / name
    path.write_bytes(make())
    before = dump(loaded)
    with pytest.raises(ImportRefused) as err:
        commit(loaded, path)
    message = str(err.value)
    pos = 0
    for w in words:
        found = message.find(w, pos)
        assert found >= 0, f"{w!r} not in {message!r}"
        pos = found + len(w)
    assert "\n" not in message and "Traceback" not in message
    assert dump(loaded) == before


def test_questions_come_back_from_preview_not_as_errors(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    pv = preview(conn, fx("generic_ambiguous_dates.csv"))
    assert [(q.key, q.options, q.example) for q in pv.questions] == [
        ("date_order", ("dmy", "mdy"), "03/04/2024")]
    assert not pv.ready


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"format": "stripe_payments"},
         "shopify_orders.csv: this is not a Stripe payments export: it lacks the column(s) "
         "'amount', 'amount refunded', 'status'"),
        ({"kind": "customers"},
         "shopify_orders.csv: this is a Shopify orders export, which holds orders, not customers"),
        ({"mapping": {"total": "No such column"}},
         "shopify_orders.csv: the mapping names column(s) the file does not have: "
         "'No such column'"),
    ],
)
def test_wrong_answers_are_refused(conn: duckdb.DuckDBPyConnection, kwargs: dict,
                                   words: str) -> None:
    before = dump(conn)
    with pytest.raises(ImportRefused) as err:
        commit(conn, fx("shopify_orders.csv"), **kwargs)
    assert str(err.value).startswith(words)
    assert dump(conn) == before
