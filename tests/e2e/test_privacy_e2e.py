"""Privacy requests in a real browser: find a customer on the Privacy page, download their
access-request file, erase them, and check the store no longer knows them."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from relmark_core import store
from tests.e2e.conftest import Server, open_app, wait_idle


def _someone(db: Path) -> tuple[str, int]:
    """A demo customer with orders: (email, their orders)."""
    with store.open_db(db) as conn:
        rows = conn.execute(
            "SELECT c.email, count(*) FROM customers c JOIN orders o "
            "USING (customer_id) WHERE c.email IS NOT NULL GROUP BY ALL "
            "ORDER BY count(*) DESC, c.email LIMIT 1").fetchall()
    email, n = rows[0]
    return str(email), int(n)


def _totals(db: Path) -> tuple[object, ...]:
    with store.open_db(db) as conn:
        return tuple(conn.execute("SELECT count(*), sum(net) FROM orders").fetchall()[0])


def test_access_file_then_erase_from_the_page(page: Page, server: Server, tmp_path: Path) -> None:
    email, orders = _someone(server.db)
    before = _totals(server.db)
    open_app(page, server, "privacy")
    page.get_by_label("Person's email address or phone number").fill(email.upper())
    page.get_by_role("button", name="Find").click()
    wait_idle(page)
    expect(page.get_by_text(f"1 customer record with {orders} orders")).to_be_visible()

    page.get_by_role("button", name="Prepare the access-request file").click()
    wait_idle(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the access-request file (JSON)").click()
    file = tmp_path / info.value.suggested_filename
    info.value.save_as(file)
    assert email.lower() not in file.name.lower()
    doc = json.loads(file.read_text(encoding="utf-8"))
    sections = {s["name"]: s["rows"] for s in doc["sections"]}
    assert [c["email"] for c in sections["customers"]] == [email]
    assert len(sections["orders"]) == orders

    erase = page.get_by_role("button", name="Erase this person")
    expect(erase).to_be_disabled()
    page.get_by_text("I understand erasing cannot be undone").click()
    wait_idle(page)
    erase.click()
    wait_idle(page)
    expect(page.get_by_text("Erased 1 customer record")).to_be_visible()

    page.get_by_label("Person's email address or phone number").fill(email)
    page.get_by_role("button", name="Find").click()
    wait_idle(page)
    expect(page.get_by_text("Relmark holds no data on this person")).to_be_visible()
    assert _totals(server.db) == before
    with store.open_db(server.db) as conn:
        assert conn.execute("SELECT count(*) FROM customers WHERE email ILIKE ?",
                            [email]).fetchall()[0][0] == 0
        assert conn.execute("SELECT count(*) FROM customers WHERE customer_id LIKE 'erased-%'"
                            ).fetchall()[0][0] == 1
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'person erased'"
                            ).fetchall()[0][0] == 1
