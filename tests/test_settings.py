from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from relmark_core import source, store
from relmark_core.errors import InputRefused
from relmark_core.settings import ShopSettings, load_settings, save_settings
from tests.apptest import open_page, problems


def test_save_and_validate(conn: duckdb.DuckDBPyConnection) -> None:
    assert save_settings(conn, ShopSettings(reporting_currency="eur", store_timezone="Europe/Paris")) == ShopSettings(
        reporting_currency="EUR", store_timezone="Europe/Paris")
    assert source.from_duckdb(conn).timezone == "Europe/Paris"
    with pytest.raises(InputRefused, match="not a currency code"):
        save_settings(conn, ShopSettings(reporting_currency="Euros"))
    with pytest.raises(InputRefused, match="Time zone 'Mars/Base' is unknown"):
        save_settings(conn, ShopSettings(store_timezone="Mars/Base"))
    assert load_settings(conn).reporting_currency == "EUR"
    actions = conn.execute("SELECT action, detail FROM audit_log ORDER BY logged_at").fetchall()
    assert actions == [("setting changed", "reporting_currency = EUR"),
                       ("setting changed", "store_timezone = Europe/Paris")]


def test_settings_page_saves(app_db: Path) -> None:
    at = open_page("pages/settings.py")
    at.selectbox(key="set_currency").set_value("EUR")
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert problems(at) == []
    with store.open_db(app_db) as c:
        assert load_settings(c).reporting_currency == "EUR"
