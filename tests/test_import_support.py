"""Helpers shared by the import tests (no tests here): fixture paths, table reads, DB dumps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

FIXTURES = Path(__file__).parent / "fixtures" / "imports"


def fx(name: str) -> Path:
    """A fixture export under tests/fixtures/imports/."""
    path = FIXTURES / name
    assert path.exists(), path
    return path


def rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple]:
    return conn.execute(sql, params or []).fetchall()


def dump(conn: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of the store, rows as sorted reprs: equal dumps = an unchanged database."""
    tables = [r[0] for r in rows(
        conn, "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name")]
    # Table names come from the catalogue, not from input.
    return {t: sorted(repr(r) for r in rows(conn, f"SELECT * FROM {t}")) for t in tables}


def customer_emails(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """customer_id -> normalised email."""
    return dict(rows(conn, "SELECT customer_id, email_norm FROM customers"))
