"""Reports in a real browser: set a date range on Overview, export a PDF through the sidebar's
buttons, and read the downloaded file with pdfinfo and pdftotext."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page

from relmark_core.reports import today_utc
from tests.e2e.conftest import Server, open_app, pick_option, wait_idle


def _set_date(page: Page, label: str, day: date) -> None:
    """Type a day into a Streamlit 1.67 date field (react-aria: one spin button per part)."""
    field = page.get_by_role("group", name=label, exact=True)
    for part, text in (("year", f"{day:%Y}"), ("month", f"{day:%m}"), ("day", f"{day:%d}")):
        box = field.get_by_role("spinbutton", name=f"{part}, {label}", exact=True)
        box.focus()
        page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # a calendar may have opened
    wait_idle(page)


def test_export_pdf_of_a_custom_range(page: Page, server: Server, tmp_path: Path) -> None:
    first = today_utc() - timedelta(days=60)
    last = today_utc() - timedelta(days=31)
    open_app(page, server, "overview")
    pick_option(page, "Date range", "Custom dates")
    _set_date(page, "From", first)
    _set_date(page, "To (included)", last)
    period = f"{first:%d %b %Y} – {last:%d %b %Y}"
    sidebar = page.locator("[data-testid='stSidebar']")
    assert period in sidebar.inner_text()  # the sidebar shows the range the report must state

    sidebar.get_by_role("button", name="Make PDF").click()
    wait_idle(page)
    with page.expect_download() as info:
        sidebar.get_by_role("button", name=re.compile(r"^Download PDF")).click()
    download = info.value
    assert download.suggested_filename == f"relmark-overview-{today_utc():%Y-%m-%d}.pdf"
    path = tmp_path / "report.pdf"
    download.save_as(path)

    pdfinfo = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                             text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", pdfinfo, re.M).group(1))  # type: ignore[union-attr]
    assert pages >= 1
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True,
                                   capture_output=True, text=True).stdout.split())
    assert f"Period {period}, compared with the previous 30 days" in text
    assert "Demo data: an invented shop" in text
    assert "Net revenue" in text
