"""The suppression list: normalised values, add / upload (all or nothing) / remove, audit
without addresses, and surviving a data reset."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from relmark_core import demo
from relmark_core.errors import InputRefused, NotAllowed
from relmark_core.privacy import suppression


def _entries(conn: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT kind, value, reason, source, added_by FROM suppression ORDER BY kind, value"
    ).fetchall()


def _audit(conn: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT actor, action, detail FROM audit_log ORDER BY logged_at").fetchall()


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("email", "  Ann.Lee@Shop.COM ", "ann.lee@shop.com"),
        ("email", "not an email", None),
        ("phone", "'+1 (555) 123-0001", "+15551230001"),
        ("phone", "0044 7700 900002", "+00447700900002"),
        ("phone", "12-34", None),
    ],
)
def test_normalise(kind: suppression.Kind, raw: str, expected: str | None) -> None:
    assert suppression.normalise(kind, raw) == expected


def test_add_stores_the_normalised_value_once_and_audits_without_it(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    assert suppression.add_entry(conn, " ANN@Shop.com", reason="complaint", actor="eve") is True
    assert suppression.add_entry(conn, "ann@shop.com ", actor="eve") is False
    assert suppression.add_entry(conn, "+44 7700 900002", actor="eve") is True
    assert _entries(conn) == [
        ("email", "ann@shop.com", "complaint", "added by hand", "eve"),
        ("phone", "+447700900002", "manual", "added by hand", "eve"),
    ]
    assert _audit(conn) == [
        ("eve", "suppression added", "1 email (complaint)"),
        ("eve", "suppression added", "1 email already on the list"),
        ("eve", "suppression added", "1 phone (manual)"),
    ]
    with pytest.raises(InputRefused, match="not a phone number"):
        suppression.add_entry(conn, "12")
    with pytest.raises(InputRefused, match="not a suppression reason"):
        suppression.add_entry(conn, "bob@shop.com", reason="bored")


def test_upload_adds_all_rows_with_their_reasons(conn: duckdb.DuckDBPyConnection) -> None:
    suppression.add_entry(conn, "ann@shop.com")
    data = (
        b"Email,Phone,Reason\n"
        b"ANN@shop.com,,\n"
        b"bob@shop.com,+1 555 000 1111,complaint\n"
        b",07700 900003,unsubscribed\n"
    )
    got = suppression.upload_csv(conn, data, file_name="stop.csv", actor="eve")
    assert got == suppression.UploadResult(added=3, already=1)
    assert _entries(conn) == [
        ("email", "ann@shop.com", "manual", "added by hand", "local"),
        ("email", "bob@shop.com", "complaint", "uploaded file stop.csv", "eve"),
        ("phone", "+07700900003", "unsubscribed", "uploaded file stop.csv", "eve"),
        ("phone", "+15550001111", "complaint", "uploaded file stop.csv", "eve"),
    ]
    assert _audit(conn)[-1] == ("eve", "suppression uploaded", "3 added, 1 already on the list")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("Email\nann@shop.com\nnot-an-address\n",
         "stop.csv: row 3, column 'Email': the value is not an email address"),
        ("Email,Phone\nann@shop.com,\n,\nbob@shop.com,1234\n",
         "stop.csv: row 4, column 'Phone': the value is not a phone number"),
        ("Name,City\nAnn,Oslo\n", "stop.csv: the header row has no 'Email' or 'Phone' column"),
        ("Email,Reason\nann@shop.com,bored\n",
         "stop.csv: row 2, column 'Reason': 'bored' is not a reason Relmark knows"),
        ("Email,Phone,Name\nann@shop.com,,\n,,\n,,Bob\n", "stop.csv: row 4 has no email address"),
    ],
)
def test_a_wrong_row_refuses_the_whole_upload(
    conn: duckdb.DuckDBPyConnection, data: str, message: str
) -> None:
    with pytest.raises(InputRefused) as err:
        suppression.upload_csv(conn, data.encode(), file_name="stop.csv")
    assert str(err.value).startswith(message)
    assert "nothing was added" in str(err.value)
    assert "ann@shop.com" not in str(err.value)
    assert _entries(conn) == []


def test_remove_is_audited_without_the_address(conn: duckdb.DuckDBPyConnection) -> None:
    suppression.add_entry(conn, "ann@shop.com")
    suppression.remove_entry(conn, " Ann@Shop.com", actor="eve")
    assert _entries(conn) == []
    assert _audit(conn)[-1] == ("eve", "suppression removed", "1 email")
    assert all("ann" not in str(row) for row in _audit(conn))
    with pytest.raises(InputRefused, match="does not hold that email"):
        suppression.remove_entry(conn, "ann@shop.com")


def test_search_count_and_download(conn: duckdb.DuckDBPyConnection) -> None:
    suppression.add_entry(conn, "ann@shop.com")
    suppression.add_entry(conn, "bob@other.org", reason="complaint")
    assert suppression.list_entries(conn, search="SHOP")["value"].tolist() == ["ann@shop.com"]
    assert suppression.count_entries(conn) == {
        "unsubscribed": 0, "complaint": 1, "manual": 1, "uploaded": 0}
    lines = suppression.entries_csv(conn).decode().splitlines()
    assert lines[0] == "kind,value,reason,source,added_by,added_at"
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["ann@shop.com", "bob@other.org"]


def test_viewers_may_not_change_or_download_the_list(
    conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relmark_core import auth

    monkeypatch.setattr(auth, "role_of", lambda _conn, _actor: auth.Role.VIEWER)
    with pytest.raises(NotAllowed, match="change the suppression list"):
        suppression.add_entry(conn, "ann@shop.com", actor="vic")
    with pytest.raises(NotAllowed, match="export personal data"):
        suppression.entries_csv(conn, actor="vic")


def test_a_data_reset_and_the_demo_keep_the_list(conn: duckdb.DuckDBPyConnection) -> None:
    suppression.add_entry(conn, "ann@shop.com")
    demo.load_demo(conn, customers=20, seed=1, end=date(2025, 1, 1))
    demo.clear_shop_data(conn)
    assert [r[1] for r in _entries(conn)] == ["ann@shop.com"]
    assert conn.execute("SELECT count(*) FROM consent").fetchall() == [(0,)]
