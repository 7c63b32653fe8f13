"""Segments in a real browser: build a segment with three conditions, save it, open its link in
a new browser context, rename it (the link still works), download the export and read it."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from playwright.sync_api import Page

from tests.e2e.conftest import Server, metric_values, open_app, open_url, wait_idle

SENTENCE = "[data-testid='stMain'] h3"


def choose(pg: Page, label: str, option: str) -> None:
    """Pick ``option`` in the select box ``label`` by typing it (long lists scroll)."""
    box = pg.get_by_role("combobox", name=label, exact=True).first
    box.click()
    box.fill(option)
    pg.get_by_role("option", name=option, exact=True).click()
    wait_idle(pg)


def add_condition(pg: Page, kind_label: str) -> None:
    choose(pg, "Add a condition", kind_label)
    pg.get_by_role("button", name="Add", exact=True).click()
    wait_idle(pg)


def open_link(pg: Page, url: str) -> None:
    """Open a link and wait until the segment's numbers are drawn (a first visit reruns once
    while the app starts its session)."""
    open_url(pg, url)
    pg.wait_for_function(
        "() => document.querySelectorAll(\"[data-testid='stMetricValue']\").length >= 3"
    )
    wait_idle(pg)


def sidebar_segment(pg: Page) -> str:
    """The saved segment shown in the sidebar's picker."""
    box = pg.locator("[data-testid='stSidebar']").get_by_role("combobox", name="Saved segment")
    return box.input_value()


def wait_sidebar_segment(pg: Page, name: str) -> None:
    """Wait until the sidebar's picker shows ``name`` (a save or rename reruns twice: the
    click, then the rerun that shows the result)."""
    pg.wait_for_function(
        """(name) => [...document.querySelectorAll("[data-testid='stSidebar'] input")]
            .some((i) => i.value === name)""",
        arg=name,
    )
    wait_idle(pg)


def test_build_save_share_rename_and_export(page: Page, server: Server, tmp_path: Path) -> None:
    open_app(page, server, "segments")
    assert page.locator(SENTENCE).first.inner_text() == "All customers"
    everyone = metric_values(page)

    add_condition(page, "Location")
    add_condition(page, "Bought a category or product")
    add_condition(page, "Email marketing consent")
    sentence = page.locator(SENTENCE).first.inner_text()
    assert sentence.startswith("Customers in ") and " who bought " in sentence
    assert sentence.endswith("and accept email marketing")
    numbers = metric_values(page)
    assert numbers != everyone and numbers[0] != "0"

    page.get_by_label("Name", exact=True).fill("Coffee fans")
    page.get_by_label("Name", exact=True).press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Save as new").click()
    page.wait_for_function("() => /[?&]segment=\\d+/.test(window.location.search)")
    wait_idle(page)
    link = page.url

    # the copied link, in a browser that never saw the segment
    fresh = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[union-attr]
    p2 = fresh.new_page()
    open_link(p2, link)
    assert p2.locator(SENTENCE).first.inner_text() == sentence
    assert metric_values(p2) == numbers
    assert sidebar_segment(p2) == "Coffee fans"
    fresh.close()

    page.get_by_label("New name", exact=True).fill("Loyal coffee fans")
    page.get_by_label("New name", exact=True).press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Rename", exact=True).click()
    wait_idle(page)
    wait_sidebar_segment(page, "Loyal coffee fans")

    # the old link still opens the (renamed) segment
    again = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[union-attr]
    p3 = again.new_page()
    open_link(p3, link)
    assert sidebar_segment(p3) == "Loyal coffee fans"
    assert p3.locator(SENTENCE).first.inner_text() == sentence
    assert metric_values(p3) == numbers
    again.close()

    # export: download the CSV and read it back
    page.get_by_text("Export", exact=True).click()
    wait_idle(page)
    in_file = int(metric_values(page)[0].replace(",", ""))
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"^Download loyal-coffee-fans-")).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.name.startswith("loyal-coffee-fans-") and target.suffix == ".csv"
    frame = pd.read_csv(target)
    assert list(frame.columns) == ["Email", "First Name", "Last Name", "RFM Group",
                                   "Last Order Date"]
    assert len(frame) == in_file > 0
    assert frame["Email"].str.contains("@").all()
