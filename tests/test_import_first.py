"""The first import into an empty store: its file's hash is computed in a thread while the rows
are read (nothing to compare it with yet), and is stored all the same; the same file again is
recognised by it; a file that is refused leaves no thread or temp folder behind."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import duckdb
import pytest

from relmark_core.imports import ImportRefused, commit, preview

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
