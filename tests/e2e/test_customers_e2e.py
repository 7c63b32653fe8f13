"""Customers and RFM groups in a real browser: search a customer and open the profile by clicking
the row; rename an RFM group, save, see the grid and the group list change; reset to defaults.

Tables are drawn on a canvas: cells are clicked by position, and read from the grid's
accessibility cells (``glide-cell-<column>-<row>``); the heatmap's labels are SVG text.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, open_app, wait_idle

ROW_PX = 35  # st.dataframe's header and row height


def cell_point(page: Page, index: int, *, row: int, x: float) -> tuple[float, float]:
    """Page coordinates of a point ``x`` px into table ``index``'s data row ``row`` (0 = first)."""
    table = page.locator("[data-testid='stDataFrame']").nth(index)
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    assert box is not None
    return box["x"] + x, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2


def test_search_a_customer_and_open_the_profile(page: Page, server: Server,
                                                demo_db_template: Path) -> None:
    with duckdb.connect(str(demo_db_template), read_only=True) as db:
        cid, first, last, email = db.execute(
            "SELECT c.customer_id, first_name, last_name, email FROM customers c "
            "WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id) "
            "ORDER BY c.customer_id LIMIT 1"
        ).fetchall()[0]
    open_app(page, server, "customers")
    caption = page.get_by_text("All customers ·")
    expect(caption).to_contain_text("600 customers")

    search = page.get_by_role("textbox", name="Search customers")
    search.fill(email)
    search.press("Enter")
    wait_idle(page)
    page.wait_for_function("() => window.location.search.includes('q=')")
    expect(page.get_by_text("Customers whose name")).to_contain_text("1 customer ·")

    page.mouse.click(*cell_point(page, 0, row=0, x=200))  # a cell of the only row
    wait_idle(page)
    page.wait_for_function(f"() => window.location.search.includes('customer={cid}')")
    main = page.locator("[data-testid='stMain']")
    expect(main.locator("h3").first).to_have_text(f"{first} {last}")
    expect(main.get_by_text(" → ").first).to_be_visible()  # "R5 F4 M4 → Loyal: last order …"
    assert "days ago" in main.inner_text() or "day ago" in main.inner_text()

    # the link itself opens the same profile in a fresh browser
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    p2 = other.new_page()
    p2.goto(page.url)
    expect(p2.locator("[data-testid='stMain'] h3").first).to_have_text(f"{first} {last}",
                                                                       timeout=60_000)
    other.close()

    # back to the list: the search is still there
    page.get_by_role("button", name="All customers").click()
    wait_idle(page)
    expect(page.get_by_role("textbox", name="Search customers")).to_have_value(email)
    assert "customer=" not in page.url


def test_rename_a_group_save_and_reset(page: Page, server: Server) -> None:
    open_app(page, server, "rfm")
    chart = page.locator("[data-testid='stPlotlyChart']")
    groups = page.locator("[data-testid='stDataFrame']").nth(0)  # the group table
    expect(chart).to_contain_text("Champions")
    expect(groups.get_by_test_id("glide-cell-0-0")).to_have_text("Champions")

    # the Name cell of the first group in the editor: after the row marker and the Order column
    page.mouse.dblclick(*cell_point(page, 1, row=0, x=32 + 72 + 60))
    cell_editor = page.locator("textarea.gdg-input")  # the grid's overlay editor
    expect(cell_editor).to_have_value("Champions")
    cell_editor.fill("Top fans")
    cell_editor.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("Unsaved changes")).to_be_visible()

    page.get_by_role("button", name="Save groups").click()
    wait_idle(page)
    expect(page.get_by_text("Saved 11 groups")).to_be_visible()
    expect(chart).to_contain_text("Top fans")
    expect(chart).not_to_contain_text("Champions")
    expect(groups.get_by_test_id("glide-cell-0-0")).to_have_text("Top fans")

    page.get_by_role("button", name="Reset to defaults").click()
    page.get_by_role("button", name="Yes, reset to defaults").click()
    wait_idle(page)
    expect(page.get_by_text("The default groups are back.")).to_be_visible()
    expect(chart).to_contain_text("Champions")
    expect(chart).not_to_contain_text("Top fans")
    expect(groups.get_by_test_id("glide-cell-0-0")).to_have_text("Champions")
