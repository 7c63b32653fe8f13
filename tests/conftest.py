"""Shared fixtures: an in-memory store with the schema, and a Source over it."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from relmark_core import source, store


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty in-memory Relmark store (schema created)."""
    with store.open_db(":memory:") as c:
        yield c


@pytest.fixture
def src(conn: duckdb.DuckDBPyConnection) -> source.Source:
    """A Source over ``conn``. Build the data first or re-create it after settings change."""
    return source.from_duckdb(conn)
