"""Overview in a real browser: change the range, see the numbers and the URL change, reload."""

from __future__ import annotations

import subprocess
import sys

from playwright.sync_api import Page

from tests.e2e.conftest import (
    ROOT,
    Server,
    metric_values,
    open_app,
    open_url,
    pick_option,
    wait_idle,
)


def test_date_range_changes_numbers_and_url_and_survives_reload(page: Page, server: Server) -> None:
    open_app(page, server)
    assert page.get_by_text("Demo data").first.is_visible()
    before = metric_values(page)
    assert len(before) == 5 and before[1] != "0"

    pick_option(page, "Date range", "Last 30 days")
    page.wait_for_function("() => window.location.search.includes('range=last_30_days')")
    after = metric_values(page)
    assert after != before

    url = page.url
    page.reload()
    page.wait_for_selector("[data-testid='stMain'] h1")
    wait_idle(page)
    assert "range=last_30_days" in page.url
    assert metric_values(page) == after

    # the same link opened in a fresh browser context shows the same view
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    p2 = other.new_page()
    open_url(p2, url)
    assert metric_values(p2) == after
    other.close()


def test_cli_write_while_app_is_open_shows_on_next_interaction(page: Page, server: Server) -> None:
    open_app(page, server)
    pick_option(page, "Date range", "All time")
    before = metric_values(page)
    # a scheduled job writes to the same database while the dashboard is open
    done = subprocess.run(
        [sys.executable, "-m", "relmark_core", "--db", str(server.db), "demo", "--customers",
         "150", "--seed", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    pick_option(page, "Date range", "Last 365 days")
    pick_option(page, "Date range", "All time")
    after = metric_values(page)
    assert after != before
