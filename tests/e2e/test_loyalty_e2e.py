"""Loyalty in a real browser: build a two-tier program with a promotion, simulate it, see the
liability, save it as the active version, and look up a customer's balance."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from relmark_core import store
from tests.e2e.conftest import Server, metric_values, open_app, pick_option, wait_idle


def _section(page: Page, name: str) -> None:
    page.get_by_role("radio", name=name, exact=True).check(force=True)
    wait_idle(page)


def _metric(page: Page, label: str) -> str:
    card = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return card.locator("[data-testid='stMetricValue']").inner_text()


def test_build_simulate_save_and_see_a_balance(page: Page, server: Server) -> None:
    open_app(page, server, "loyalty")
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Earn 1 point for every $1").first.wait_for()

    pick_option(page, "Add a rule", "Promotion (dates)")
    page.get_by_label("Promotion name").fill("Double week")
    page.get_by_role("button", name="Add rule").click()
    wait_idle(page)
    main.get_by_text("Double week: every order placed from").first.wait_for()

    page.get_by_label("Tier name", exact=True).fill("Green")
    page.get_by_role("button", name="Add tier").click()
    wait_idle(page)
    # The form clears itself after a submit: wait for Green to be listed and the form to be
    # empty again, or the clearing can land on Gold's values on a busy machine.
    main.get_by_text("Green: from 0").first.wait_for()
    expect(page.get_by_label("Tier name", exact=True)).to_have_value("")
    page.get_by_label("Tier name", exact=True).fill("Gold")
    page.get_by_label("From (qualifying points)").fill("300")
    page.get_by_label("Earn multiplier", exact=True).fill("1.5")
    expect(page.get_by_label("Tier name", exact=True)).to_have_value("Gold")
    expect(page.get_by_label("From (qualifying points)")).to_have_value(re.compile(r"^300(\.0+)?$"))
    page.get_by_role("button", name="Add tier").click()
    wait_idle(page)
    main.get_by_text("Gold: from 300 qualifying points in a calendar year; earns ×1.5").first.wait_for()

    _section(page, "Simulate")
    page.get_by_role("button", name="Simulate", exact=True).click()
    wait_idle(page)
    assert len(metric_values(page)) >= 8
    liability = _metric(page, "Liability")
    assert liability.startswith("$") and liability != "$0.00"
    page.get_by_text("Liability over time").first.wait_for()
    page.get_by_text("Members by tier").first.wait_for()

    _section(page, "Program")
    page.get_by_role("button", name="Save version").click()
    wait_idle(page)
    page.get_by_text("Saved version 1 (active)").first.wait_for()

    # the server may still be finishing its rerun: open_db waits for the file like the CLI does
    with store.open_db(server.db) as c:
        email, balance = c.execute(
            "SELECT c.email, sum(l.points) AS b FROM loyalty_ledger l JOIN customers c "
            "USING (customer_id) GROUP BY ALL ORDER BY b DESC, c.email LIMIT 1").fetchall()[0]
    assert balance > 0

    _section(page, "Members")
    box = page.get_by_label("Customer id or email")
    box.fill(email.upper())
    box.press("Enter")
    wait_idle(page)
    assert _metric(page, "Balance (points)") == f"{balance:,}"
    assert "member=" in page.url
