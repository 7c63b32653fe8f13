"""Privacy page (AppTest) on a small hand-built shop: consent per channel with sources, the
suppression list (add, search, remove, download) and the read-only view of a viewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from relmark_core import auth, store
from relmark_core.privacy import suppression
from tests.apptest import open_page, problems
from tests.builders import add_customer

PAGE = "pages/privacy.py"


@pytest.fixture
def shop_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Four customers: ann (email yes from Shopify, sms yes), ben (email no from Klaviyo),
    cy (no row, accepts_marketing yes: an earlier import's answer), dee (nothing known);
    one address on the suppression list."""
    path = tmp_path / "shop.duckdb"
    with store.open_db(path) as c:
        add_customer(c, "ann", email="ann@shop.com", accepts_marketing=None)
        add_customer(c, "ben", email="ben@shop.com", accepts_marketing=None)
        add_customer(c, "cy", email="cy@shop.com", accepts_marketing=True)
        add_customer(c, "dee", email="dee@shop.com", accepts_marketing=None)
        c.execute("""INSERT INTO consent VALUES
            ('ann', 'email', TRUE, 'Shopify customers export', TIMESTAMP '2024-01-01', NULL),
            ('ann', 'sms', TRUE, 'Shopify customers export', TIMESTAMP '2024-01-01', NULL),
            ('ben', 'email', FALSE, 'Klaviyo profiles export', TIMESTAMP '2024-01-01', NULL)""")
        suppression.add_entry(c, "Old@Example.com", reason="complaint")
        store.set_meta(c, "initialised", "1")  # no demo shop on first start
    monkeypatch.setenv("RELMARK_DB", str(path))
    yield path


def _metrics(at: AppTest) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def test_consent_overview_and_suppression_counts(shop_db: Path) -> None:
    at = open_page(PAGE)
    assert problems(at) == []
    assert _metrics(at) == [
        # email: ann + cy (earlier import) gave it, ben refused, dee unknown
        ("Gave consent", "2"), ("Withdrawn or refused", "1"), ("Unknown", "1"),
        ("Gave consent", "1"), ("Withdrawn or refused", "0"), ("Unknown", "3"),  # SMS
        ("Gave consent", "0"), ("Withdrawn or refused", "0"), ("Unknown", "4"),  # ads
        ("On the list", "1"), ("Unsubscribed", "0"), ("Complaint", "1"),
        ("Added by hand", "0"), ("Uploaded list", "0"),
    ]
    assert all(m.help for m in at.metric)  # every number has its definition on hover
    sources = at.dataframe[0].value
    assert sources.values.tolist() == [
        ["Email", "Klaviyo profiles export", 0, 1],
        ["Email", "Shopify customers export", 1, 0],
        ["Email", "earlier import", 1, 0],
        ["SMS", "Shopify customers export", 1, 0],
    ]
    table = at.dataframe[1].value
    assert table[["kind", "value", "reason"]].values.tolist() == [
        ["email", "old@example.com", "complaint"]]
    assert at.get("download_button")  # editors may download the list


def test_add_search_and_remove(shop_db: Path) -> None:
    at = open_page(PAGE)
    at.text_input(key="pv_add_value").set_value(" Ben@Shop.com ")
    at.selectbox(key="pv_add_reason").set_value("unsubscribed")
    at.button(key="pv_add").click().run()
    assert problems(at) == []
    assert at.success[0].value == "Added to the suppression list."
    assert dict(_metrics(at)[9:11]) == {"On the list": "2", "Unsubscribed": "1"}
    at.text_input(key="pv_supp_search").set_value("shop").run()
    assert at.dataframe[1].value["value"].tolist() == ["ben@shop.com"]
    at.selectbox(key="pv_remove_pick").set_value("email: ben@shop.com")
    at.button(key="pv_remove").click().run()
    assert problems(at) == []
    assert at.success[0].value == "Removed from the suppression list."
    with store.open_db(shop_db) as c:
        assert c.execute("SELECT value FROM suppression").fetchall() == [("old@example.com",)]
        log = c.execute("SELECT action, detail FROM audit_log WHERE action LIKE 'suppression%' "
                        "ORDER BY logged_at").fetchall()
    assert log == [("suppression added", "1 email (complaint)"),
                   ("suppression added", "1 email (unsubscribed)"),
                   ("suppression removed", "1 email")]


def test_a_bad_address_is_refused_beside_the_form(shop_db: Path) -> None:
    at = open_page(PAGE)
    at.text_input(key="pv_add_value").set_value("12")
    at.button(key="pv_add").click().run()
    assert [e.value for e in at.error] == [
        "That is not a phone number (at least 6 digits). Check it and add it again."]


def test_a_viewer_sees_the_list_but_cannot_change_or_download_it(
    shop_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "role_of", lambda _c, _a: auth.Role.VIEWER)
    at = open_page(PAGE)
    assert problems(at) == []
    assert len(at.dataframe[1].value) == 1
    assert not at.get("download_button")
    keys = {w.key for w in at.text_input}
    assert "pv_add_value" not in keys
    assert any("can see and export" in c.value for c in at.caption)


def test_a_viewer_cannot_export_segment_members(
    shop_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "role_of", lambda _c, _a: auth.Role.VIEWER)
    at = open_page("pages/segments.py", {"view": "export"})
    assert problems(at) == []
    assert [i.value for i in at.info] == [
        "Your account (local) may not export personal data: that needs the editor role. Ask an "
        "admin of this Relmark to change your role."]
    assert not at.get("download_button")


def test_an_editor_sees_the_excluded_counts_on_the_segment_export(shop_db: Path) -> None:
    at = open_page("pages/segments.py", {"view": "export"})
    assert problems(at) == []
    # ann and cy may get email; ben refused, dee unknown; nobody on the list has an account
    assert [m.value for m in at.metric] == ["2", "0", "2", "0"]
    assert any(c.value == "2 excluded: 0 suppressed, 2 without consent." for c in at.caption)
