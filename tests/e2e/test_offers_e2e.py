"""Offers in Chromium: create an offer for a saved segment, preview a member's message, save,
double-click Launch (one launch), import later Shopify orders that redeem two codes through the
CLI, and see the redemptions and the verdict."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page

from relmark_core import store
from relmark_core.offers import parse_offer, preview_choices
from relmark_core.segments import save_segment
from tests.e2e.conftest import ROOT, Server, metric_values, open_app, pick_option, wait_idle

SHOPIFY_HEADER = (ROOT / "tests" / "fixtures" / "imports" / "shopify_orders.csv").read_text(
    encoding="utf-8").splitlines()[0].split(",")


def _shopify_csv(rows: list[tuple[str, str, str, float]]) -> str:
    """A Shopify orders export: (order name, email, discount code, total) per order, placed a
    minute ago (inside the offer's window, which starts today)."""
    when = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S +0000")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SHOPIFY_HEADER, lineterminator="\n")
    w.writeheader()
    for i, (name, email, code, total) in enumerate(rows):
        w.writerow({"Name": name, "Email": email, "Financial Status": "paid", "Paid at": when,
                    "Currency": "USD", "Subtotal": f"{total:.2f}", "Shipping": "0.00",
                    "Taxes": "0.00", "Total": f"{total:.2f}", "Discount Code": code,
                    "Discount Amount": "5.00", "Created at": when, "Lineitem quantity": "1",
                    "Lineitem name": "Gift box", "Lineitem price": f"{total:.2f}",
                    "Refunded Amount": "0.00", "Id": str(990_000 + i)})
    return buf.getvalue()


def test_create_preview_launch_once_import_results(page: Page, server: Server,
                                                    tmp_path: Path) -> None:
    with store.open_db(server.db) as c:
        save_segment(c, "Consenting", {"conditions": [{"kind": "consent", "consented": True}]})
    open_app(page, server, "offers")
    name = page.get_by_role("textbox", name="Offer name", exact=True)
    name.fill("Winter thanks")
    name.press("Enter")
    wait_idle(page)
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill("Hi {first_name}, a thank-you for you")
    box.press("Control+Enter")
    wait_idle(page)
    assert page.get_by_text("10% off for Consenting by email", exact=False).is_visible()
    # preview for the second member in the picker: the message carries their first name
    with store.open_db(server.db) as c:
        offer = parse_offer({"name": "x", "segment_id": 1, "starts_on": date.today(),
                             "ends_on": date.today()})
        choices = list(preview_choices(c, offer, as_of=date.today()).values())
    label = choices[1]
    cb = page.get_by_role("combobox", name="Preview for", exact=True).first
    cb.click()
    if page.get_by_role("option").count() == 0:  # a click near the page's end only focuses it
        cb.press("ArrowDown")
    page.get_by_role("option", name=label, exact=True).click()
    wait_idle(page)
    first_name = label.split(" ")[0]
    preview = page.locator("[data-testid='stText']").first.inner_text()
    assert preview == f"Hi {first_name}, a thank-you for you"

    page.get_by_role("button", name="Save offer").click()
    wait_idle(page)
    page.get_by_role("button", name="Launch", exact=True).dblclick()
    wait_idle(page)
    assert page.get_by_text("Launched: ", exact=False).is_visible()
    assert page.get_by_role("button", name="Launch", exact=True).count() == 0
    with store.open_db(server.db) as c:
        assert store.scalar(c, "SELECT count(*) FROM offer_launches") == 1
        assert store.scalar(
            c, "SELECT count(*) FROM offer_events WHERE event = 'launched'") == 1
        treated = c.execute(
            "SELECT c.email, m.code FROM offer_members m JOIN customers c USING (customer_id) "
            "WHERE m.arm = 'treatment' ORDER BY m.customer_id LIMIT 2").fetchall()

    # two treated members redeem their codes (typed in lower case at the till)
    path = tmp_path / "orders_later.csv"
    path.write_text(_shopify_csv([("#9001", treated[0][0], treated[0][1].lower(), 80.0),
                                  ("#9002", treated[1][0], treated[1][1], 120.0)]))
    done = subprocess.run(
        [sys.executable, "-m", "relmark_core", "--db", str(server.db), "import", str(path),
         "--keep-demo"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout

    pick_option(page, "File", "Discount codes (bulk import)")  # the next interaction
    values = metric_values(page)
    assert values[0] == "2"  # redemptions
    assert page.get_by_text("Conversion", exact=False).first.is_visible()
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "not distinguishable from no effect yet" in body or "points higher" in body
