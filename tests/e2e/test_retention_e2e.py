"""Retention in a real browser: switch grain and mode, click a heatmap cell, see its customers."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page

from tests.e2e.conftest import Server, open_app, pick_option, wait_idle

HEATMAP = "[data-testid='stPlotlyChart']"


def _heatmap(page: Page) -> Locator:
    return page.locator(HEATMAP).first.locator(".js-plotly-plot")


def _cell(page: Page, period: int, row: int) -> dict[str, Any]:
    """Screen position and hover text of a heatmap cell (from plotly's own axes)."""
    return _heatmap(page).evaluate(  # type: ignore[no-any-return]
        """(gd, [k, i]) => {
            const L = gd._fullLayout, box = gd.getBoundingClientRect();
            const cells = gd.data.find(t => t.name === 'cells');
            const n = cells.customdata.findIndex(c => c[0] === L.yaxis.ticktext[i].split(' · ')[0]
                                                        && c[1] === k);
            return {x: box.left + L._size.l + L.xaxis.l2p(k),
                    y: box.top + L._size.t + L.yaxis.l2p(i),
                    cohort: cells.customdata[n][0], hover: cells.hovertext[n],
                    rows: L.yaxis.ticktext};
        }""",
        [period, row],
    )


def test_switch_grain_and_mode_then_click_a_cell(page: Page, server: Server) -> None:
    open_app(page, server, "retention")
    months = _cell(page, 1, 0)["rows"]
    assert all(re.fullmatch(r"\d{4}-\d{2} · [\d,]+", r) for r in months)

    pick_option(page, "Group by", "Quarter")
    page.wait_for_function("() => window.location.search.includes('by=quarter')")
    page.get_by_text("Ordered in k or later", exact=True).click()
    wait_idle(page)
    page.wait_for_function("() => window.location.search.includes('mode=on_or_after')")
    cell = _cell(page, 1, 0)
    assert all(re.fullmatch(r"\d{4}-Q\d · [\d,]+", r) for r in cell["rows"])
    assert "or later" in cell["hover"]

    _heatmap(page).scroll_into_view_if_needed()
    cell = _cell(page, 1, 0)  # where it is on the screen now
    page.mouse.click(cell["x"], cell["y"])
    wait_idle(page)
    # the picker follows the click, and the list says how many customers the cell holds: the
    # same number the cell's hover gives ("N of M customers ordered in period 1 or later")
    expected = re.search(r"([\d,]+) of [\d,]+ customers ordered in period 1", cell["hover"])
    assert expected is not None
    caption = page.get_by_text(re.compile(r"customers of cohort .* ordered in period 1"))
    caption.wait_for()
    assert caption.inner_text().startswith(f"{expected.group(1)} customers of cohort "
                                           f"{cell['cohort']} ordered in period 1")
    assert page.get_by_role("combobox", name="Cohort", exact=True).input_value() == cell["cohort"]
    table = page.locator("[data-testid='stDataFrame']").first
    table.wait_for()
    assert table.is_visible()
