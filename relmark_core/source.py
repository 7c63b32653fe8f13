"""The analytics source: Ibis tables over the embedded DuckDB (default) or a warehouse.

Metric functions take a :class:`Source` first and read ``src.orders``, ``src.customers``,
``src.order_lines`` and ``src.feedback`` as Ibis tables, so one definition runs on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import ibis
from ibis.backends import BaseBackend
from ibis.expr.types import Table

from relmark_core import store

__all__ = [
    "Source",
    "DEFAULT_REPORTING_CURRENCY",
    "DEFAULT_TIMEZONE",
    "SHOP_TABLES",
    "from_duckdb",
]

DEFAULT_REPORTING_CURRENCY = "USD"
DEFAULT_TIMEZONE = "UTC"
SHOP_TABLES = ("customers", "orders", "order_lines", "feedback")


@dataclass(frozen=True)
class Source:
    """Where metric reads go.

    Attributes
    ----------
    backend
        An Ibis backend (DuckDB locally; Postgres, Spark... in warehouse mode).
    reporting_currency
        Money in this currency is summed; other currencies are shown apart, never summed in.
    timezone
        The store's time zone (IANA name); date boundaries are local midnights in it.
    tables
        Relmark table name -> the backend's table name (warehouse mode maps names).
    state
        The local store holding Relmark's own state (saved groups, marks, settings); the same
        connection as the backend's locally, the local store in warehouse mode
        (:mod:`relmark_core.warehouse`).
    """

    backend: BaseBackend
    reporting_currency: str = DEFAULT_REPORTING_CURRENCY
    timezone: str = DEFAULT_TIMEZONE
    tables: dict[str, str] = field(default_factory=lambda: {t: t for t in SHOP_TABLES})
    state: duckdb.DuckDBPyConnection | None = None

    def table(self, name: str) -> Table:
        return self.backend.table(self.tables.get(name, name))

    @property
    def orders(self) -> Table:
        return self.table("orders")

    @property
    def customers(self) -> Table:
        return self.table("customers")

    @property
    def order_lines(self) -> Table:
        return self.table("order_lines")

    @property
    def feedback(self) -> Table:
        return self.table("feedback")

    def execute(self, expr: Any) -> Any:
        """Run an Ibis expression on this source's backend."""
        return self.backend.execute(expr)


def from_duckdb(conn: duckdb.DuckDBPyConnection) -> Source:
    """A source over the local store, with the store's reporting currency and time zone."""
    return Source(
        backend=ibis.duckdb.from_connection(conn),
        reporting_currency=store.get_setting(
            conn, "reporting_currency", DEFAULT_REPORTING_CURRENCY
        ),
        timezone=store.get_setting(conn, "store_timezone", DEFAULT_TIMEZONE),
        state=conn,
    )
