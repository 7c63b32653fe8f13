"""The first import into an empty store: its file's hash is computed in a thread while the rows
are read (nothing to compare it with yet), and is stored all the same; the same file again is
recognised by it; a file that is refused leaves no thread or temp folder behind. Rows are
numbered by the staging table's row ids when DuckDB keeps the file's order (else by
row_number()), and problem rows keep their spreadsheet row numbers either way."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import duckdb
import pytest

from relmark_core.imports import ImportRefused, commit, preview, rows

SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Currency,Subtotal,Shipping,Taxes,Total,Created at,"
    "Lineitem quantity,Lineitem name,Lineitem price\n"
    "#1001,ann@example.com,paid,2024-03-01 10:00:00 -0500,USD,20.00,5.00,0.00,25.00,"
    "2024-03-01 10:00:00 -0500,2,Mug,10.00\n"
    "#1001,,,,,,,,,,1,Tea,0.00\n"
    "#1002,bob@example.com,paid,2024-03-02 11:00:00 -0500,USD,8.00,0.00,0.00,8.00,"
    "2024-03-02 11:00:00 -0500,1,Tea,8.00\n"
)


def _hash_threads() -> int:
    return sum(t.name.startswith("relmark-import-hash") for t in threading.enumerate())


def test_first_import_stores_the_files_sha256_and_knows_it_again(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    f = tmp_path / "orders_export.csv"
    f.write_text(SHOPIFY, encoding="utf-8")
    first = commit(conn, f)
    assert (first.rows_read, first.rows_loaded, first.already_imported) == (3, 2, False)
    assert conn.execute("SELECT content_hash FROM imports").fetchall() == [
        (hashlib.sha256(SHOPIFY.encode("utf-8")).hexdigest(),)
    ]
    again = commit(conn, f)
    assert again.already_imported and again.import_id == first.import_id
    assert conn.execute("SELECT count(*) FROM orders").fetchall() == [(2,)]
    assert _hash_threads() == 0


def test_preview_of_an_upload_carries_its_hash(conn: duckdb.DuckDBPyConnection) -> None:
    pv = preview(conn, SHOPIFY.encode("utf-8"), file_name="orders_export.csv")
    assert pv.content_hash == hashlib.sha256(SHOPIFY.encode("utf-8")).hexdigest()
    assert pv.rows_to_load == 2


def test_refused_file_leaves_no_hash_thread(conn: duckdb.DuckDBPyConnection,
                                            tmp_path: Path) -> None:
    f = tmp_path / "picture.csv"
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(ImportRefused, match="PNG image"):
        commit(conn, f)
    assert _hash_threads() == 0
    assert conn.execute("SELECT count(*) FROM imports").fetchall() == [(0,)]


BAD_ROW = (
    "Name,Email,Financial Status,Currency,Subtotal,Total,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price\n"
    "#1,ann@example.com,paid,USD,10.00,10.00,2024-03-01 10:00:00 -0500,1,Mug,10.00\n"
    "#2,bob@example.com,paid,USD,5.00,five,2024-03-02 10:00:00 -0500,1,Tea,5.00\n"
    "#3,cy@example.com,paid,USD,7.00,7.00,2024-03-03 10:00:00 -0500,1,Tea,7.00\n"
)


def test_rows_are_numbered_by_the_tables_row_ids_when_the_plan_keeps_the_order(
    conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = rows.keeps_file_order

    def spy(*args: object, **kwargs: object) -> bool:
        seen.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr(rows, "keeps_file_order", spy)
    pv = preview(conn, BAD_ROW.encode("utf-8"), file_name="orders_export.csv")
    assert seen == [True]
    assert pv.problems[["row", "column", "value"]].values.tolist() == [[3, "Total", "five"]]


def test_without_insertion_order_the_rows_are_numbered_as_read(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    conn.execute("SET preserve_insertion_order = false")
    pv = preview(conn, BAD_ROW.encode("utf-8"), file_name="orders_export.csv")
    assert pv.problems[["row", "column", "value"]].values.tolist() == [[3, "Total", "five"]]
    assert pv.sample["order_id"].tolist() == ["shopify:#1", "shopify:#3"]


def test_an_in_list_makes_a_join_so_the_order_is_not_trusted(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    conn.execute("CREATE TEMP TABLE t AS SELECT 'a' AS x")
    assert rows.keeps_file_order(conn, "SELECT lower(x) FROM t", {})
    assert not rows.keeps_file_order(
        conn, "SELECT x IN ('a', 'b', 'c', 'd', 'e', 'f', 'g') FROM t", {})
