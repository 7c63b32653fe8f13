"""AppTest: the Audit log page (admins: list, filters in the URL, CSV; others: a sentence) and
what a viewer sees instead of write controls on the Data page."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from relmark_core import accounts, store
from relmark_core.auth import Role
from tests.apptest import open_page, problems

PAGE = "pages/audit.py"
PW = "correct horse battery"


def _sign_in(at: AppTest, name: str) -> AppTest:
    at.text_input(key="sign_in_user").input(name)
    at.text_input(key="sign_in_password").input(PW)
    [button] = [b for b in at.button if b.label == "Sign in"]
    return button.click().run()


def _team(db: Path) -> None:
    with store.open_db(db) as conn:
        accounts.create_first_admin(conn, "ada", PW)
        accounts.add_user(conn, "vera", role=Role.VIEWER, password=PW, actor="ada")


def _add_entries(db: Path) -> None:
    """Two entries made now, after the demo load the test database holds."""
    with store.open_db(db) as conn:
        when = store.utc_now()
        conn.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?)", [
            (when, "ada", "setting changed", "store_timezone = Europe/Paris"),
            (when, "ed", "segment saved", "segment 1 “VIP”: Customers with 3 or more orders"),
        ])


def test_an_admin_lists_filters_and_downloads(app_db: Path) -> None:
    _add_entries(app_db)
    at = open_page(PAGE)
    assert problems(at) == []
    assert [t.value for t in at.title] == ["Audit log"]
    [table] = at.dataframe
    assert sorted(table.value["action"]) == ["demo data loaded", "segment saved",
                                             "setting changed"]
    assert [c.value for c in at.caption if c.value.startswith("Changes from")][0].endswith(
        ": 3 entries.")
    assert at.get("download_button")  # the CSV (its bytes are tested in tests/test_audit.py)
    at.selectbox(key="audit_who").select("ed").run()
    assert problems(at) == []
    [table] = at.dataframe
    assert table.value[["actor", "action", "detail"]].values.tolist() == [
        ["ed", "segment saved", "segment 1 “VIP”: Customers with 3 or more orders"]]
    assert at.query_params["who"] == "ed"


def test_the_filters_come_from_the_link(app_db: Path) -> None:
    _add_entries(app_db)
    at = open_page(PAGE, {"action": "setting changed"})
    assert problems(at) == []
    [table] = at.dataframe
    assert table.value["detail"].tolist() == ["store_timezone = Europe/Paris"]


def test_a_viewer_gets_a_sentence_and_no_log(app_db: Path) -> None:
    _team(app_db)
    at = _sign_in(open_page(PAGE), "vera")
    assert problems(at) == []
    assert not at.dataframe
    assert [m.value for m in at.markdown if "audit log is for admins" in m.value] == [
        "The audit log is for admins. Your role (viewer) cannot open it; ask an admin of this "
        "Relmark if you need to know who changed something."
    ]


def test_a_viewer_sees_no_import_on_the_data_page(app_db: Path) -> None:
    _team(app_db)
    at = _sign_in(open_page("pages/data.py"), "vera")
    assert problems(at) == []
    captions = [c.value for c in at.caption]
    assert ("Your role (viewer) can see and export; ask an admin for editor rights to import."
            in captions)
    assert ("Your role (viewer) can see and export; ask an admin for admin rights to reset or "
            "empty the store." in captions)
    assert not [b for b in at.button if b.key in {"data_reset_demo", "data_start_empty"}]
