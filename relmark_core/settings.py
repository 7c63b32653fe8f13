"""Shop settings a user can change: reporting currency and store time zone."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

import duckdb
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.source import DEFAULT_REPORTING_CURRENCY, DEFAULT_TIMEZONE

__all__ = ["ShopSettings", "load_settings", "save_settings", "currencies_in_data", "TIMEZONES"]

TIMEZONES = sorted(available_timezones())
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reporting_currency: str = DEFAULT_REPORTING_CURRENCY
    store_timezone: str = DEFAULT_TIMEZONE


def load_settings(conn: duckdb.DuckDBPyConnection) -> ShopSettings:
    return ShopSettings(
        reporting_currency=store.get_setting(
            conn, "reporting_currency", DEFAULT_REPORTING_CURRENCY
        ),
        store_timezone=store.get_setting(conn, "store_timezone", DEFAULT_TIMEZONE),
    )


def save_settings(
    conn: duckdb.DuckDBPyConnection, new: ShopSettings, *, actor: str = store.DEFAULT_ACTOR
) -> ShopSettings:
    """Validate and store the settings (each change is audited). Admins only."""
    auth.require(conn, actor, auth.Role.ADMIN, "change settings")
    cur = new.reporting_currency.strip().upper()
    if not _CURRENCY.match(cur):
        raise InputRefused(
            f"Reporting currency '{new.reporting_currency}' is not a currency code. Use the "
            "three-letter ISO code, e.g. USD, EUR or GBP."
        )
    if new.store_timezone not in TIMEZONES:
        raise InputRefused(
            f"Time zone '{new.store_timezone}' is unknown. Pick one from the list, e.g. "
            "Europe/Paris or America/New_York."
        )
    old = load_settings(conn)
    if cur != old.reporting_currency:
        store.set_setting(conn, "reporting_currency", cur, actor=actor)
    if new.store_timezone != old.store_timezone:
        store.set_setting(conn, "store_timezone", new.store_timezone, actor=actor)
    return load_settings(conn)


def currencies_in_data(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Currencies of stored orders, most orders first."""
    rows = conn.execute(
        "SELECT currency FROM orders GROUP BY currency ORDER BY count(*) DESC, currency"
    ).fetchall()
    return [str(r[0]) for r in rows]
