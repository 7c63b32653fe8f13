"""Roles in Chromium: a viewer signs in and finds no import on the Data page and no Launch on
the Offers page (a plain caption instead), and a direct core call with their name is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from relmark_core import accounts, store
from relmark_core.auth import Role
from relmark_core.errors import NotAllowed
from relmark_core.offers import launch_offer, save_offer
from relmark_core.reports import today_utc
from relmark_core.segments import save_segment
from tests.e2e.conftest import Server, open_app, wait_idle

PW = "correct horse battery"
NOTE = "Your role (viewer) can see and export; ask an admin for editor rights to {}."


def _team_with_a_draft_offer(server: Server) -> int:
    """Admin 'ada', viewer 'vera', and a draft offer to a saved segment (made by the admin)."""
    with store.open_db(server.db) as conn:
        accounts.create_first_admin(conn, "ada", PW)
        accounts.add_user(conn, "vera", role=Role.VIEWER, password=PW, actor="ada")
        save_segment(conn, "Everyone", {"conditions": []}, actor="ada")
        offer = save_offer(conn, {"name": "Winter thanks", "segment_id": 1,
                                  "starts_on": today_utc(), "ends_on": today_utc()},
                           actor="ada")
        return offer.offer_id


def _sign_in(page: Page, name: str) -> None:
    page.get_by_label("User name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(PW)
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_idle(page)


def test_a_viewer_gets_no_import_and_no_launch(page: Page, server: Server) -> None:
    offer_id = _team_with_a_draft_offer(server)
    open_app(page, server, "data")
    _sign_in(page, "vera")
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar).to_contain_text("Signed in as vera (viewer)")

    # Data: the uploader is disabled, the demo reset and start-empty cannot be opened
    expect(page.get_by_text(NOTE.format("import"), exact=True)).to_be_visible()
    uploader = page.get_by_role("region", name=re.compile(r"^Exports to import"))
    expect(uploader.locator("input[type='file']")).to_be_disabled()
    expect(uploader.get_by_role("button", name="Upload", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Reset to demo data")).to_be_disabled()
    expect(page.get_by_role("button", name="Start empty")).to_be_disabled()

    # Offers: the draft is shown without a Launch button
    open_app(page, server, f"offers?view=offers&offer={offer_id}")
    expect(sidebar).to_contain_text("Signed in as vera (viewer)")
    expect(page.get_by_text(NOTE.format("launch offers"), exact=True)).to_be_visible()
    assert page.get_by_role("button", name="Launch", exact=True).count() == 0
    assert page.get_by_role("button", name="Save offer").count() == 0

    # the core refuses the viewer's write whatever the page shows
    with store.open_db(server.db) as conn:
        with pytest.raises(NotAllowed, match=r"^Your account \(vera\) may not launch offers"):
            launch_offer(conn, offer_id, as_of=today_utc(), actor="vera")
        assert store.scalar(conn, "SELECT count(*) FROM offer_launches") == 0

    # tables keep their search, but their own CSV download is gone for a viewer
    open_app(page, server, "customers")
    table = page.locator("[data-testid='stDataFrame']").first
    table.hover()
    expect(page.locator("button[aria-label='Search']").first).to_be_visible()
    expect(page.locator("button[aria-label='Download as CSV']")).to_have_count(1)
    expect(page.locator("button[aria-label='Download as CSV']")).to_be_hidden()
