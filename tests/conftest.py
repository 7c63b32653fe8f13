"""Shared fixtures: an in-memory store with the schema, and a Source over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from relmark_core import demo, source, store


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty in-memory Relmark store (schema created)."""
    with store.open_db(":memory:") as c:
        yield c


@pytest.fixture
def src(conn: duckdb.DuckDBPyConnection) -> source.Source:
    """A Source over ``conn``. Build the data first or re-create it after settings change."""
    return source.from_duckdb(conn)


# --- app-level fixtures: a small demo database built once, copied per test ----------------------

TEST_DEMO_CUSTOMERS = 600
TEST_DEMO_SEED = 7


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo store (ending today, so relative ranges have data), built once per run."""
    path = tmp_path_factory.mktemp("template") / "demo.duckdb"
    with store.open_db(path) as c:
        demo.load_demo(c, customers=TEST_DEMO_CUSTOMERS, seed=TEST_DEMO_SEED)
    return path


@pytest.fixture
def app_db(demo_db_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo store, made the default database (RELMARK_DB) for this test."""
    path = tmp_path / "relmark.duckdb"
    shutil.copy(demo_db_template, path)
    monkeypatch.setenv("RELMARK_DB", str(path))
    return path
