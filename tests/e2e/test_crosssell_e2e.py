"""Cross-sell in a real browser: switch to "Later on", pick a product, and a copied link opens
the same view."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, open_app, open_url, wait_idle

PRODUCT = "Earl Grey 100g"


def test_later_mode_and_picked_product_survive_a_reload(page: Page, server: Server) -> None:
    open_app(page, server, "crosssell")
    expect(page.get_by_role("heading", name="Affinity")).to_be_visible()
    page.get_by_text("Later on", exact=True).click()
    wait_idle(page)
    page.wait_for_function("() => window.location.search.includes('mode=later')")
    box = page.get_by_role("combobox", name="Pick a product", exact=True).first
    box.click()
    page.keyboard.type(PRODUCT)  # the list is long: type to narrow it
    page.get_by_role("option", name=PRODUCT, exact=True).click()
    wait_idle(page)
    page.wait_for_function("() => window.location.search.includes('item=Earl')")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text(re.compile(r"^Of its [\d,]+ buyers, the share who later bought"))
           ).to_be_visible()

    link = page.url
    fresh = page.context.new_page()
    open_url(fresh, link)
    expect(fresh.get_by_role("radio", name="Later on")).to_be_checked()
    expect(fresh.get_by_role("combobox", name="Pick a product")).to_have_value(PRODUCT)
    fresh.close()
