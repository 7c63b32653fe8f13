"""Backup and restore in a real browser: download a backup from the Data page, change the data
from outside (as a CLI job would), upload the backup, read what it will replace, restore, and see
the numbers back."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, expect

from relmark_core import demo, store
from tests.conftest import TEST_DEMO_CUSTOMERS
from tests.e2e.conftest import Server, metric_values, open_app, wait_idle

OTHER_CUSTOMERS = 40  # the data that replaces the demo shop before the restore


def _customers(page: Page) -> int:
    """The Data page's first number: customers in the store."""
    page.wait_for_selector("[data-testid='stMetricValue']")
    return int(metric_values(page)[0].replace(",", ""))


def test_download_a_backup_and_restore_it(page: Page, server: Server, tmp_path: Path) -> None:
    open_app(page, server, "data")
    assert _customers(page) == TEST_DEMO_CUSTOMERS
    page.get_by_role("button", name="Prepare a backup").click()
    wait_idle(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download relmark-backup-").click()
    file = tmp_path / info.value.suggested_filename
    info.value.save_as(file)
    assert file.name.startswith("relmark-backup-") and file.suffix == ".zip"
    with zipfile.ZipFile(file) as zf:
        assert "manifest.json" in zf.namelist() and "tables/customers.parquet" in zf.namelist()

    # Meanwhile the store changes (another program writes between two clicks).
    with store.open_db(server.db) as conn:
        demo.load_demo(conn, customers=OTHER_CUSTOMERS, seed=5, end=date(2026, 6, 1))
    open_app(page, server, "data")
    assert _customers(page) == OTHER_CUSTOMERS

    uploader = page.locator("[data-testid='stFileUploader']").filter(
        has_text="Backup file to restore")
    uploader.locator("input[type=file]").set_input_files(str(file))
    wait_idle(page)
    confirm = page.get_by_text("This replaces 40 customers")
    expect(confirm).to_be_visible()
    assert f"with the backup's {TEST_DEMO_CUSTOMERS:,} customers" in confirm.inner_text()
    page.get_by_role("button", name="Restore this backup").click()
    wait_idle(page)
    expect(page.get_by_text("Restored the backup made on")).to_be_visible()
    assert _customers(page) == TEST_DEMO_CUSTOMERS
    with store.open_db(server.db) as conn:
        assert store.shop_counts(conn)["customers"] == TEST_DEMO_CUSTOMERS
        assert store.scalar(conn, "SELECT action FROM audit_log ORDER BY logged_at DESC "
                            "LIMIT 1") == "backup restored"
    assert len(list((server.db.parent / "backups").glob("*-before-restore.zip"))) == 1
