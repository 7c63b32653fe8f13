"""Erasure requests: the person is gone from every text column, shop totals stay, and an old
export imported again does not bring them back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pytest

from relmark_core import auth, cli, store
from relmark_core.errors import InputRefused, NotAllowed
from relmark_core.imports import load
from relmark_core.privacy import access, erasure

FIXTURES = Path(__file__).parent / "fixtures" / "imports"

# What the fixtures hold about Ann (shopify_customers.csv, shopify_orders.csv,
# delighted_responses.csv): her email in two spellings, name, phone, Shopify id, comment.
ANN_TRACES = ("ann@shop.com", "Ann Lee", "5551230001", "Perfect")


def _load(conn: duckdb.DuckDBPyConnection, name: str, data: bytes | None = None,
          file_name: str | None = None) -> load.ImportResult:
    if data is None:
        return load.commit(conn, FIXTURES / name)
    buf = io.BytesIO(data)
    buf.name = file_name or name  # type: ignore[attr-defined]
    return load.commit(conn, buf, file_name=file_name or name)


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    for name in ("shopify_customers.csv", "shopify_orders.csv", "delighted_responses.csv"):
        _load(conn, name)
    return conn


def _totals(conn: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    return conn.execute(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), "
        "(SELECT sum(net) FROM orders), (SELECT count(*) FROM order_lines), "
        "(SELECT count(*) FROM feedback), (SELECT sum(score) FROM feedback)"
    ).fetchall()[0]


def _mentions(conn: duckdb.DuckDBPyConnection, needles: tuple[str, ...]) -> list[str]:
    """Every (table.column, needle) where a text column (lists included) holds a needle."""
    cols = conn.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND (data_type = 'VARCHAR' OR data_type = 'VARCHAR[]') AND database_name = "
        "current_database() AND table_name IN (SELECT table_name FROM duckdb_tables())"
    ).fetchall()
    found = []
    for table, column in cols:
        for needle in needles:
            n = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) ILIKE ?',
                [f"%{needle}%"],
            ).fetchall()[0][0]
            if n:
                found.append(f"{table}.{column}: {needle}")
    return found


def test_find_person_by_email_and_by_phone(shop: duckdb.DuckDBPyConnection) -> None:
    by_email = erasure.find_person(shop, email="  ANN@shop.com ")
    by_phone = erasure.find_person(shop, phone="+1 (555) 123-0001")
    assert by_email.customer_ids == by_phone.customer_ids
    assert len(by_email.customer_ids) == 1
    # Ann: #1001 and #1003 in the orders export, one Delighted answer.
    assert (by_email.orders, by_email.feedback) == (2, 1)
    assert by_email.sentence() == "1 customer record with 2 orders and 1 feedback answer"
    assert erasure.find_person(shop, email="nobody@shop.com").customer_ids == []


def test_find_person_needs_an_email_or_a_full_phone(shop: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputRefused, match="email address or phone number"):
        erasure.find_person(shop, email=" ")
    with pytest.raises(InputRefused, match="only 4 digits"):
        erasure.find_person(shop, phone="1234")


def test_erasure_removes_every_trace_and_keeps_shop_totals(shop: duckdb.DuckDBPyConnection) -> None:
    before = _totals(shop)
    assert _mentions(shop, ANN_TRACES)  # the scan finds her before
    old_ids = erasure.find_person(shop, email="ann@shop.com").customer_ids
    result = erasure.erase_person(shop, email="ann@shop.com")
    assert (result.records, result.orders_kept, result.comments_removed) == (1, 2, 1)
    # identifiers: email, phone, Shopify customer id 7001
    assert result.identifiers_blocked == 3
    assert _mentions(shop, (*ANN_TRACES, *old_ids)) == []
    assert _totals(shop) == before
    # her orders stay, under an anonymous id
    ids = shop.execute("SELECT DISTINCT customer_id FROM orders WHERE source_order_id IN "
                       "('#1001', '#1003')").fetchall()
    assert len(ids) == 1 and ids[0][0].startswith(erasure.ERASED_ID_PREFIX)
    assert shop.execute("SELECT score, comment FROM feedback WHERE customer_id = ?",
                        [ids[0][0]]).fetchall() == [(5, None)]
    # other people untouched
    assert erasure.find_person(shop, email="bob@example.com").orders == 1
    logged = shop.execute("SELECT actor, action, detail FROM audit_log WHERE action = "
                          "'person erased'").fetchall()
    assert logged == [("local", "person erased", "1 customer record(s); 2 order(s) kept "
                       "anonymous; 1 comment(s) removed; 3 identifier(s) blocked")]


def test_an_old_export_imported_again_does_not_bring_them_back(
    shop: duckdb.DuckDBPyConnection,
) -> None:
    erasure.erase_person(shop, email="ann@shop.com")
    before = _totals(shop)
    # the same files: already imported, nothing changes
    for name in ("shopify_customers.csv", "shopify_orders.csv", "delighted_responses.csv"):
        assert _load(shop, name).already_imported
    # the same exports, a byte different (a new export of the same data): her rows are skipped
    for name in ("shopify_customers.csv", "shopify_orders.csv", "delighted_responses.csv"):
        data = (FIXTURES / name).read_bytes() + b"\n"
        res = _load(shop, name, data, file_name=f"again-{name}")
        assert not res.already_imported
        assert "of people who asked to be erased" in res.message or any(
            "asked to be erased" in n for n in getattr(res, "notes", [])
        ), res.message
    assert _mentions(shop, ANN_TRACES) == []
    assert erasure.find_person(shop, email="ann@shop.com").customer_ids == []
    assert _totals(shop) == before


def test_undoing_an_import_after_erasure_does_not_restore_them(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    first = _load(conn, "shopify_customers.csv")
    changed = (FIXTURES / "shopify_customers.csv").read_bytes().replace(b"Springfield", b"Shelby")
    second = _load(conn, "shopify_customers.csv", changed, file_name="customers-2.csv")
    assert second.updated_records == 1  # Ann's city changed: her old row is kept for undo
    erasure.erase_person(conn, email="ann@shop.com")
    load.undo_import(conn, second.import_id)
    assert _mentions(conn, ANN_TRACES) == []
    assert first.import_id != second.import_id


def test_an_old_export_with_only_them_is_refused_plainly(conn: duckdb.DuckDBPyConnection) -> None:
    _load(conn, "shopify_customers.csv")
    erasure.erase_person(conn, email="ann@shop.com")
    erasure.erase_person(conn, email="gus@example.com")
    with pytest.raises(InputRefused, match="belong to people who asked to be erased"):
        _load(conn, "shopify_customers.csv",
              (FIXTURES / "shopify_customers.csv").read_bytes() + b"\n", file_name="again.csv")


def test_nobody_matching_changes_nothing(shop: duckdb.DuckDBPyConnection) -> None:
    version = store.data_version(shop)
    with pytest.raises(InputRefused, match="Nobody in Relmark has that email"):
        erasure.erase_person(shop, email="nobody@shop.com")
    assert store.data_version(shop) == version


def test_only_an_admin_may_erase(shop: duckdb.DuckDBPyConnection,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "role_of", lambda conn, actor: auth.Role.EDITOR)
    with pytest.raises(NotAllowed, match="admin"):
        erasure.erase_person(shop, email="ann@shop.com", actor="eve")
    assert erasure.find_person(shop, email="ann@shop.com").orders == 2


def test_mentions_in_other_tables_are_replaced(shop: duckdb.DuckDBPyConnection) -> None:
    store.audit(shop, "local", "note", "wrote to Ann@Shop.com about order #1001")
    shop.execute("INSERT INTO rejected_rows VALUES (1, 9, 'Email', 'bad date', "
                 "'#1009,ann@shop.com,x')")
    now = store.utc_now()
    shop.execute("INSERT INTO suppression VALUES ('email', 'ann@shop.com', 'manual', 'by hand', "
                 "'local', ?, NULL), ('phone', '+15551230001', 'manual', 'by hand', 'local', ?, "
                 "NULL), ('email', 'bob@example.com', 'manual', 'by hand', 'local', ?, NULL)",
                 [now, now, now])
    erasure.erase_person(shop, email="ann@shop.com")
    assert shop.execute("SELECT detail FROM audit_log WHERE action = 'note'").fetchall() == [
        ("wrote to [erased] about order #1001",)
    ]
    assert shop.execute("SELECT raw FROM rejected_rows WHERE line_number = 9").fetchall() == [
        ("#1009,[erased],x",)
    ]
    assert shop.execute("SELECT kind, value FROM suppression").fetchall() == [
        ("email", "bob@example.com")
    ]


def _sections(data: bytes) -> dict[str, list[dict[str, object]]]:
    doc = json.loads(data)
    return {s["name"]: s["rows"] for s in doc["sections"]}


def test_access_request_holds_everything_about_them(shop: duckdb.DuckDBPyConnection) -> None:
    now = store.utc_now()
    shop.execute("INSERT INTO suppression VALUES ('phone', '+15551230001', 'manual', 'by hand', "
                 "'local', ?, NULL)", [now])
    data = access.access_request(shop, email="Ann@Shop.com")
    sections = _sections(data)
    assert [c["email"] for c in sections["customers"]] == ["ann@shop.com"]
    assert sorted((k["key_type"], k["key_value"]) for k in sections["customer_keys"]) == [
        ("email", "ann@shop.com"), ("shopify", "7001")]
    assert sorted(o["source_order_id"] for o in sections["orders"]) == ["#1001", "#1003"]
    # #1001: Mug, Green tea; #1003: three lines
    assert len(sections["order_lines"]) == 5
    assert [(f["score"], f["comment"]) for f in sections["feedback"]] == [(5, "Perfect")]
    assert [s["value"] for s in sections["suppression"]] == ["+15551230001"]
    assert "bob@example.com" not in data.decode()
    logged = shop.execute("SELECT detail FROM audit_log WHERE action = 'access request exported'"
                          ).fetchall()
    assert len(logged) == 1 and "ann" not in logged[0][0].lower()


def test_access_request_for_nobody_says_so(shop: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputRefused, match="nothing to export"):
        access.access_request(shop, email="nobody@shop.com")


def test_a_viewer_may_not_export_a_person(shop: duckdb.DuckDBPyConnection,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "role_of", lambda conn, actor: auth.Role.VIEWER)
    with pytest.raises(NotAllowed, match="editor"):
        access.access_request(shop, email="ann@shop.com", actor="val")


def test_cli_erase_and_access(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "shop.duckdb"
    with store.open_db(db) as c:
        for name in ("shopify_customers.csv", "shopify_orders.csv", "delighted_responses.csv"):
            _load(c, name)
    out = tmp_path / "ann.json"
    assert cli.main(["--db", str(db), "access", "--email", "ann@shop.com", "--out", str(out)]) == 0
    assert [c["first_name"] for c in _sections(out.read_bytes())["customers"]] == ["Ann"]
    capsys.readouterr()
    # not at a terminal and no --yes: refused, nothing changed
    assert cli.main(["--db", str(db), "erase", "--email", "ann@shop.com"]) == 3
    assert "add --yes" in capsys.readouterr().err
    with store.open_db(db) as c:
        assert erasure.find_person(c, email="ann@shop.com").orders == 2
    assert cli.main(["--db", str(db), "erase", "--email", "ann@shop.com", "--yes"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("This erases 1 customer record with 2 orders and 1 feedback answer")
    assert "ann" not in printed.lower()
    with store.open_db(db) as c:
        assert _mentions(c, ANN_TRACES) == []
        assert c.execute("SELECT actor FROM audit_log WHERE action = 'person erased'"
                         ).fetchall() == [("cli",)]
    assert cli.main(["--db", str(db), "erase", "--email", "ann@shop.com", "--yes"]) == 3
    assert "Nobody in Relmark" in capsys.readouterr().err


def test_batch_files_already_written_lose_their_lines(
    shop: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    batch = tmp_path / "winback-batch.csv"
    batch.write_text("Email,First Name,Code\nANN@shop.com,Ann,WB-1\nbob@example.com,Bob,WB-2\n",
                     encoding="utf-8")
    shop.execute(
        "INSERT INTO automation_runs VALUES (1, 1, 'run', 'cli', DATE '2024-05-01', 2, 2, 0, 0, "
        "0, 0, 0, 2, ?, 'cli', TIMESTAMP '2024-05-01 08:00:00')", [str(batch)])
    result = erasure.erase_person(shop, email="ann@shop.com")
    assert batch.read_text(encoding="utf-8") == "Email,First Name,Code\nbob@example.com,Bob,WB-2\n"
    assert result.mentions_removed >= 1
