"""Saved views: unique names, rename, delete, audit rows, roles, and the sentence."""

from __future__ import annotations

import duckdb
import pytest

from relmark_core import auth
from relmark_core.errors import InputRefused, NotAllowed
from relmark_core.sharing.views import (
    delete_view,
    describe_params,
    get_view,
    list_views,
    rename_view,
    save_view,
)


def _audit(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in conn.execute(
        "SELECT actor, action, detail FROM audit_log ORDER BY logged_at, action").fetchall()]


def test_save_keeps_the_page_and_its_settings(conn: duckdb.DuckDBPyConnection) -> None:
    v = save_view(conn, "  Weekly   revenue ", "overview",
                  {"range": "last_30_days", "grain": "week", "lock": "v1.x.y", "saved": "3"},
                  actor="ann")
    assert (v.view_id, v.name, v.page) == (1, "Weekly revenue", "overview")
    # a lock or a view link is not a setting of the page
    assert v.params == {"grain": "week", "range": "last_30_days"}
    assert get_view(conn, 1) == v
    assert _audit(conn) == [("ann", "view saved", "1 “Weekly revenue” (overview)")]


def test_names_are_required_and_unique_ignoring_case(conn: duckdb.DuckDBPyConnection) -> None:
    save_view(conn, "Churn", "retention", {"tab": "churn"})
    with pytest.raises(InputRefused, match="no name"):
        save_view(conn, "   ", "retention", {})
    with pytest.raises(InputRefused, match="“Churn” already exists"):
        save_view(conn, " churn ", "overview", {})
    with pytest.raises(InputRefused, match="keep it to 80"):
        save_view(conn, "x" * 81, "overview", {})
    with pytest.raises(InputRefused, match="not a page"):
        save_view(conn, "Other", "../settings", {})
    assert [v.name for v in list_views(conn)] == ["Churn"]
    assert len(_audit(conn)) == 1  # refusals write nothing


def test_rename_keeps_the_id_and_refuses_a_taken_name(conn: duckdb.DuckDBPyConnection) -> None:
    a = save_view(conn, "Alpha", "overview", {})
    save_view(conn, "Beta", "rfm", {"shade": "revenue"})
    with pytest.raises(InputRefused, match="“Beta” already exists"):
        rename_view(conn, a.view_id, "BETA")
    renamed = rename_view(conn, a.view_id, "alpha (weekly)", actor="bob")
    assert (renamed.view_id, renamed.name, renamed.updated_by) == (1, "alpha (weekly)", "bob")
    assert rename_view(conn, a.view_id, "ALPHA (weekly)").name == "ALPHA (weekly)"  # own name
    assert [v.name for v in list_views(conn)] == ["ALPHA (weekly)", "Beta"]
    assert ("bob", "view renamed", "1 “Alpha” → “alpha (weekly)”") in _audit(conn)


def test_delete_removes_it_and_never_reuses_the_id(conn: duckdb.DuckDBPyConnection) -> None:
    v = save_view(conn, "Gone soon", "feedback", {"tab": "comments"})
    delete_view(conn, v.view_id, actor="cy")
    assert list_views(conn) == []
    with pytest.raises(InputRefused, match="no saved view with id 1"):
        get_view(conn, 1)
    with pytest.raises(InputRefused, match="no saved view with id 1"):
        delete_view(conn, 1)
    assert save_view(conn, "Gone soon", "feedback", {}).view_id == 2
    assert ("cy", "view deleted", "1 “Gone soon” (feedback)") in _audit(conn)


def test_writes_bump_the_data_version(conn: duckdb.DuckDBPyConnection) -> None:
    v0 = int(conn.execute("SELECT value FROM meta WHERE key='data_version'").fetchall()[0][0])
    v = save_view(conn, "A", "overview", {})
    rename_view(conn, v.view_id, "B")
    delete_view(conn, v.view_id)
    v1 = int(conn.execute("SELECT value FROM meta WHERE key='data_version'").fetchall()[0][0])
    assert v1 == v0 + 3


def test_viewers_may_not_save_rename_or_delete(
    conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = save_view(conn, "Kept", "overview", {})
    monkeypatch.setattr(auth, "role_of", lambda _c, actor: auth.Role.VIEWER)
    with pytest.raises(NotAllowed, match="may not save views"):
        save_view(conn, "New", "overview", {}, actor="vera")
    with pytest.raises(NotAllowed, match="may not rename views"):
        rename_view(conn, v.view_id, "Other", actor="vera")
    with pytest.raises(NotAllowed, match="may not delete views"):
        delete_view(conn, v.view_id, actor="vera")
    assert [x.name for x in list_views(conn)] == ["Kept"]


NAMES = {4: "VIP"}


@pytest.mark.parametrize(("params", "sentence"), [
    ({}, "Last 90 days up to the day it is opened, compared with the previous period, "
         "all customers."),
    ({"range": "last_30_days", "as_of": "2026-03-05", "compare": "0", "segment": "4"},
     "Last 30 days up to 5 Mar 2026, without comparison, segment “VIP”."),
    ({"range": "custom", "start": "2026-01-01", "end": "2026-02-01", "as_of": "2026-02-10"},
     "1 Jan 2026 to 31 Jan 2026, compared with the previous period, all customers. "
     "As of 10 Feb 2026."),
    ({"range": "custom", "start": "2026-01-01", "end": "2026-01-02"},
     "1 Jan 2026, compared with the previous period, all customers."),
    ({"segment": "9", "tab": "churn", "by": "week"},
     "Last 90 days up to the day it is opened, compared with the previous period, segment "
     "id 9, which no longer exists (all customers). Page settings: by week, tab churn."),
])
def test_the_sentence_says_what_a_view_shows(params: dict[str, str], sentence: str) -> None:
    assert describe_params(params, segment_names=NAMES) == sentence
