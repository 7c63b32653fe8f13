"""Feedback page in a real browser: filter comments to detractors, mark a detractor contacted,
reload and still see the mark (and in the CSV); a comment holding HTML shows as text and runs
nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Dialog, Page

from relmark_core import store
from tests.e2e.conftest import Server, metric_values, open_app, pick_option, wait_idle

XSS = "<img src=x onerror=alert(1)>"
NOTE = "Called; replacement beans sent"
FOLLOW_UP_METRICS = ["Open", "Contacted", "Resolved"]


def comment_count(page: Page) -> int:
    """The number in the comment list's caption ("… · 123 comments · showing …")."""
    text = page.locator("[data-testid='stCaptionContainer']").filter(
        has_text=re.compile(r"\d comments? ·")).first.inner_text()
    found = re.search(r"([\d,]+) comments? ·", text)
    assert found, text
    return int(found.group(1).replace(",", ""))


def choose(page: Page, group: str, label: str) -> None:
    """Click the option ``label`` of the radio buttons ``group``."""
    page.get_by_role("radiogroup", name=group).locator("label").filter(
        has_text=re.compile(f"^{re.escape(label)}$")).click()
    wait_idle(page)


def follow_up_counts(page: Page) -> dict[str, int]:
    return dict(zip(FOLLOW_UP_METRICS, [int(v.replace(",", "")) for v in metric_values(page)],
                    strict=True))


def test_detractors_marked_contacted_survive_a_reload(page: Page, server: Server) -> None:
    open_app(page, server, "feedback?tab=comments&range=last_365_days")
    everyone = comment_count(page)
    pick_option(page, "NPS group", "Detractors (0-6)")
    page.wait_for_function("() => window.location.search.includes('group=detractor')")
    detractors = comment_count(page)
    assert 0 < detractors < everyone

    choose(page, "Section", "Follow-up")
    before = follow_up_counts(page)
    assert before["Open"] > 0 and before["Contacted"] == 0
    choose(page, "Mark as", "Contacted")
    note = page.get_by_role("textbox", name="Note")
    note.fill(NOTE)
    note.press("Control+Enter")
    wait_idle(page)
    page.get_by_role("button", name="Save follow-up").click()
    wait_idle(page)
    assert page.get_by_text("Marked contacted.").is_visible()
    assert follow_up_counts(page) == {"Open": before["Open"] - 1, "Contacted": 1, "Resolved": 0}

    page.reload()
    page.wait_for_selector("[data-testid='stMain'] h1")
    wait_idle(page)
    assert "tab=followup" in page.url
    assert follow_up_counts(page) == {"Open": before["Open"] - 1, "Contacted": 1, "Resolved": 0}
    # the newest detractor is picked first: the one just marked
    assert page.get_by_text("Status: Contacted").is_visible()
    assert page.get_by_text(f"Note: {NOTE}").is_visible()

    page.get_by_role("button", name="Export the list as CSV").click()
    wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download the CSV")).click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == before["Open"]
    marked = [r for r in rows if r["status"] == "contacted"]
    assert [r["note"] for r in marked] == [NOTE]


def test_a_comment_with_html_shows_as_text_and_runs_nothing(
    page: Page, server: Server, fresh_db: Path
) -> None:
    with store.open_db(fresh_db) as conn, store.transaction(conn):
        customer = store.scalar(conn, "SELECT min(customer_id) FROM customers")
        conn.execute(
            "INSERT INTO feedback (response_id, customer_id, answered_at, kind, score, comment, "
            "source) VALUES (?, ?, ?, 'nps', 2, ?, 'e2e')",
            ["e2e:xss", customer, store.utc_now() - timedelta(days=1), XSS],
        )
        store.bump_data_version(conn)
    dialogs: list[str] = []

    def record(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", record)
    open_app(page, server, "feedback?tab=comments")
    search = page.get_by_role("textbox", name="Search comments")
    search.fill("onerror")
    search.press("Enter")
    wait_idle(page)
    assert comment_count(page) == 1
    page.get_by_text("Read the 1 newest in full").click()
    wait_idle(page)
    page.wait_for_timeout(500)  # give a handler that did get in the time to fire
    assert dialogs == []
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("[onerror]").count() == 0
    shown = page.locator("[data-testid='stText']").filter(has_text="onerror")
    assert shown.count() == 1
    assert shown.inner_text() == XSS
