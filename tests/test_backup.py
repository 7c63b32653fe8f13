"""Backup and restore: round trip with identical reports, a schema-1 backup restored into
schema 2, damaged or foreign files refused with the database untouched, the suppression list,
erasure records and audit log merged (never dropped), accounts kept, roles, the CLI, the page."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from relmark_core import accounts, backup, cli, demo, reports, source, store
from relmark_core.auth import Role
from relmark_core.errors import EXIT_OK, EXIT_REFUSED, InputRefused, NotAllowed
from relmark_core.privacy import erasure
from relmark_core.segments import saved
from tests.apptest import open_page, problems

V1_DB = Path(__file__).parent / "fixtures" / "schema" / "relmark-schema-v1.duckdb"
END = date(2026, 6, 1)
REPEAT = {"conditions": [{"kind": "orders", "min_orders": 2}]}
REPORT_ARGS = (
    ["report", "kpis"],
    ["report", "rfm", "--as-of", "2026-06-01"],
    ["report", "nps"],
    ["report", "retention", "--as-of", "2026-06-01"],
)


def _shop(path: Path, customers: int = 60, seed: int = 3) -> Path:
    """A file store with a small demo shop (60 customers, 110 orders) and a saved segment."""
    with store.open_db(path) as conn:
        demo.load_demo(conn, customers=customers, seed=seed, end=END)
        saved.save_segment(conn, "Repeat buyers", REPEAT)
    return path


@pytest.fixture(scope="module")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shop(tmp_path_factory.mktemp("template") / "relmark.duckdb")


@pytest.fixture
def shop(shop_template: Path, tmp_path: Path) -> Path:
    """A private copy of the 60-customer shop with its saved segment."""
    path = tmp_path / "shop" / "relmark.duckdb"
    path.parent.mkdir()
    shutil.copy(shop_template, path)
    return path


def _reports(conn: duckdb.DuckDBPyConnection) -> list[str]:
    src = source.from_duckdb(conn)
    out = []
    for argv in REPORT_ARGS:
        args = cli.build_parser().parse_args(argv)
        out.append(reports.render(reports.REPORTS[args.report].run(src, args), "json"))
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
          ) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params or []).fetchall()


# --- round trips --------------------------------------------------------------------------------


def test_round_trip_gives_identical_reports(shop: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(shop) as conn:
        before = _reports(conn)
        manifest = backup.create_backup(conn, file)
        assert manifest.schema_version == 2
        assert (manifest.rows("customers"), manifest.rows("orders"), manifest.rows("segments")) \
            == (60, 110, 1)
        assert "users" not in manifest.tables and "consent" in manifest.tables
        # Then the shop changes: other data, the segment deleted.
        demo.load_demo(conn, customers=40, seed=5, end=END)
        saved.delete_segment(conn, saved.list_segments(conn)[0].segment_id)
        assert _reports(conn) != before
        version = store.data_version(conn)
        result = backup.restore_backup(conn, file)
        assert _reports(conn) == before
        assert store.shop_counts(conn) == {
            "customers": 60, "orders": 110, "order_lines": 177, "feedback": 19}
        assert [s.name for s in saved.list_segments(conn)] == ["Repeat buyers"]
        assert store.data_version(conn) > version
    assert result.copy_before is not None and result.copy_before.exists()
    assert result.copy_before.parent == shop.parent / "backups"
    assert result.copy_before.name.endswith("-before-restore.zip")
    assert result.sentence.startswith(
        f"Restored the backup made on {manifest.created_at:%Y-%m-%d %H:%M} UTC: 60 customers, "
        "110 orders, 19 feedback answers, 1 saved segment.")


def test_describe_names_what_is_replaced_and_with_what(shop: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(shop) as conn:
        manifest = backup.create_backup(conn, file)
    other = _shop(tmp_path / "other" / "relmark.duckdb", customers=40, seed=5)
    with store.open_db(other) as conn:
        saved.save_segment(conn, "Two", {"conditions": [{"kind": "orders", "min_orders": 3}]})
        sentence = backup.describe_backup(conn, file)
    assert sentence == (
        "This replaces 40 customers, 97 orders, 24 feedback answers, 2 saved segments with the "
        "backup's 60 customers, 110 orders, 19 feedback answers, 1 saved segment, made on "
        f"{manifest.created_at:%Y-%m-%d %H:%M} UTC (Relmark schema version 2). Settings, "
        "definitions and history are replaced too. The suppression list, the erasure records "
        "and the audit log are kept and merged with the backup's, consent withdrawn since the "
        "backup stays withdrawn, and accounts stay as they are."
    )


def test_backup_from_schema_1_restores_into_schema_2(tmp_path: Path) -> None:
    old = tmp_path / "old" / "relmark.duckdb"
    old.parent.mkdir()
    shutil.copy(V1_DB, old)
    with store.open_db(old):
        pass  # the upgrade writes the schema-1 backup next to it
    v1_backup = next((old.parent / "backups").iterdir())
    target = tmp_path / "new" / "relmark.duckdb"  # an empty store: nothing of its own to keep
    with store.open_db(target) as conn:
        assert backup.read_backup(conn, v1_backup).schema_version == 1
        backup.restore_backup(conn, v1_backup)
        assert store.get_meta(conn, "schema_version") == "2"
        assert store.shop_counts(conn) == {
            "customers": 60, "orders": 110, "order_lines": 177, "feedback": 19}
        assert _rows(conn, "SELECT name FROM segments") == [("Repeat buyers",)]
        # The v1 -> v2 step ran on the backup's tables: email consent from accepts_marketing.
        assert _rows(conn, "SELECT granted, count(*) FROM consent GROUP BY ALL ORDER BY 1") == [
            (False, 23), (True, 37)]


# --- damaged and foreign files ------------------------------------------------------------------


def _rezip(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _edit_manifest(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, bytes]], None]:
    def change(members: dict[str, bytes]) -> None:
        m = json.loads(members["manifest.json"])
        edit(m)
        members["manifest.json"] = json.dumps(m).encode()
    return change


def _truncated(good: Path, bad: Path) -> None:
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])


def _flipped(good: Path, bad: Path) -> None:
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("tables/orders.parquet")
    # Stored (not compressed): the member's bytes follow its 30-byte local header, name, extra.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x01
    bad.write_bytes(bytes(data))


def _set_rows(m: dict[str, Any]) -> None:
    m["tables"]["orders"]["rows"] = 111


def _rename_table(m: dict[str, Any]) -> None:
    m["tables"]["orders; drop table customers"] = m["tables"].pop("orders")


DAMAGE: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "truncated": (_truncated, "is not a Relmark backup: it is not a complete zip file"),
    "flipped byte": (_flipped, "cannot be restored: the (checksum of|file for) orders"),
    "not a zip": (lambda g, b: b.write_text("order_id,total\n1,9.99\n"),
                  "is not a Relmark backup: it is not a complete zip file"),
    "no manifest": (lambda g, b: _rezip(g, b, lambda m: m.pop("manifest.json")),
                    "is not a Relmark backup: it has no manifest.json"),
    "wrong manifest": (lambda g, b: _rezip(g, b, lambda m: m.update({"manifest.json": b'{"a": 1}'})),
                       "is not a Relmark backup: its manifest.json is not the manifest"),
    "newer schema": (lambda g, b: _rezip(g, b, _edit_manifest(lambda m: m.update(schema_version=3))),
                     r"was made by a newer Relmark \(schema version 3; this Relmark knows version 2\)"),
    "unknown table": (lambda g, b: _rezip(g, b, _edit_manifest(_rename_table)),
                      "holds a table this Relmark does not know"),
    "changed parquet": (lambda g, b: _rezip(g, b, lambda m: m.update(
                            {"tables/orders.parquet": m["tables/customers.parquet"]})),
                        "the checksum of orders does not match"),
    "wrong row count": (lambda g, b: _rezip(g, b, _edit_manifest(_set_rows)),
                        "orders does not hold what the manifest says"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_or_foreign_file_is_refused_and_nothing_changes(
    shop: Path, tmp_path: Path, damage: str
) -> None:
    good = tmp_path / "good.zip"
    with store.open_db(shop) as conn:
        backup.create_backup(conn, good)
        demo.load_demo(conn, customers=40, seed=5, end=END)  # differs from the backup
    bad = tmp_path / f"{damage.replace(' ', '-')}.zip"
    make, message = DAMAGE[damage]
    make(good, bad)
    copies = sorted((shop.parent / "backups").glob("*")) if (shop.parent / "backups").exists() \
        else []
    before = _sha(shop)
    with store.open_db(shop) as conn:
        with pytest.raises(InputRefused, match=message) as refused:
            backup.restore_backup(conn, bad)
        assert "Nothing was changed" in str(refused.value)
        assert store.shop_counts(conn)["customers"] == 40
    assert _sha(shop) == before
    still = sorted((shop.parent / "backups").glob("*")) if (shop.parent / "backups").exists() \
        else []
    assert still == copies  # refused before the copy of the database as it was


# --- what a restore keeps ----------------------------------------------------------------------


def test_suppression_and_erasure_records_are_merged_never_dropped(
    shop: Path, tmp_path: Path
) -> None:
    file = tmp_path / "backup.zip"
    now = store.utc_now()
    with store.open_db(shop) as conn:
        conn.execute("INSERT INTO suppression VALUES ('email', 'old@example.com', 'manual', "
                     "'test', 'local', ?, NULL)", [now])
        conn.execute("INSERT INTO erased_identities VALUES ('hash-in-backup', ?)", [now])
        backup.create_backup(conn, file)
        conn.execute("DELETE FROM suppression")
        conn.execute("INSERT INTO suppression VALUES ('phone', '+4915112345678', 'unsubscribed', "
                     "'test', 'local', ?, NULL)", [now])
        conn.execute("INSERT INTO erased_identities VALUES ('hash-after-backup', ?)", [now])
        backup.restore_backup(conn, file)
        assert _rows(conn, "SELECT kind, value FROM suppression ORDER BY kind") == [
            ("email", "old@example.com"), ("phone", "+4915112345678")]
        assert _rows(conn, "SELECT identity_hash FROM erased_identities ORDER BY 1") == [
            ("hash-after-backup",), ("hash-in-backup",)]


def test_a_person_erased_after_the_backup_stays_erased(shop: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(shop) as conn:
        email = str(store.scalar(conn, "SELECT min(email_norm) FROM customers"))
        orders = int(store.scalar(conn, "SELECT count(*) FROM orders o JOIN customers c "
                                  "USING (customer_id) WHERE c.email_norm = ?", [email]))
        assert orders >= 1
        backup.create_backup(conn, file)
        erasure.erase_person(conn, email=email)
        before = _reports(conn)[0]  # kpis: totals with the erased person's orders anonymous
        result = backup.restore_backup(conn, file)
        assert result.erased_again == 1
        assert "1 person erased since the backup was erased again." in result.sentence
        assert erasure.find_person(conn, email=email).customer_ids == []
        hits = 0
        for table, column in _rows(conn, "SELECT table_name, column_name FROM duckdb_columns() "
                                   "WHERE database_name = current_database() AND data_type = "
                                   "'VARCHAR' AND table_name NOT LIKE 'duckdb_%'"):
            hits += int(store.scalar(conn, f'SELECT count(*) FROM "{table}" '  # noqa: S608
                                     f'WHERE lower("{column}") LIKE ?', [f"%{email}%"]))
        assert hits == 0
        assert store.shop_counts(conn)["orders"] == 110
        assert _reports(conn)[0] == before


def test_consent_withdrawn_since_the_backup_stays_withdrawn(shop: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.zip"
    later = store.utc_now()
    with store.open_db(shop) as conn:
        ids = [r[0] for r in _rows(conn, "SELECT customer_id FROM customers ORDER BY 1 LIMIT 3")]
        a, b, c = ids
        conn.execute("DELETE FROM consent WHERE customer_id IN (?, ?, ?)", ids)
        conn.execute("INSERT INTO consent VALUES (?, 'email', TRUE, 'test', '2026-01-01', NULL), "
                     "(?, 'sms', TRUE, 'test', '2026-01-01', NULL)", [a, b])
        backup.create_backup(conn, file)
        conn.execute("UPDATE consent SET granted = FALSE, source = 'unsubscribed', "
                     "recorded_at = ? WHERE customer_id = ?", [later, a])
        conn.execute("INSERT INTO consent VALUES (?, 'ads', FALSE, 'unsubscribed', ?, NULL)",
                     [c, later])
        result = backup.restore_backup(conn, file)
        got = _rows(conn, "SELECT customer_id, channel, granted, source FROM consent WHERE "
                    "customer_id IN (?, ?, ?) ORDER BY 1, 2", ids)
    assert got == [(a, "email", False, "unsubscribed"), (b, "sms", True, "test"),
                   (c, "ads", False, "unsubscribed")]
    assert result.withdrawals_kept == 2
    assert "2 consent withdrawals made since the backup stayed withdrawn." in result.sentence


def test_audit_log_keeps_its_rows_plus_a_restore_entry(shop: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(shop) as conn:
        backup.create_backup(conn, file)
        saved.save_segment(conn, "After the backup", REPEAT)
        before = _rows(conn, "SELECT * FROM audit_log ORDER BY logged_at")
        backup.restore_backup(conn, file)
        after = _rows(conn, "SELECT * FROM audit_log ORDER BY logged_at")
    assert [r[2] for r in before] == ["demo data loaded", "segment saved", "backup made",
                                      "segment saved"]
    assert after[:-1] == before
    assert after[-1][1:3] == ("local", "backup restored")


def test_ids_are_not_reused_after_restoring_an_older_backup(shop: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(shop) as conn:
        backup.create_backup(conn, file)  # holds segment 1
        assert saved.save_segment(conn, "Two", REPEAT).segment_id == 2
        assert saved.save_segment(conn, "Three", REPEAT).segment_id == 3
        backup.restore_backup(conn, file)
        assert [s.segment_id for s in saved.list_segments(conn)] == [1]
        assert saved.save_segment(conn, "Four", REPEAT).segment_id == 4


def test_accounts_stay_and_only_admins_may_back_up_or_restore(
    shop: Path, tmp_path: Path
) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(shop) as conn:
        backup.create_backup(conn, file)  # no accounts yet
        accounts.add_user(conn, "ann", role=Role.ADMIN, password="correct horse battery 9")
        accounts.add_user(conn, "vic", role=Role.EDITOR, email="vic@example.com")
        with pytest.raises(NotAllowed, match="may not restore a backup"):
            backup.restore_backup(conn, file, actor="vic")
        with pytest.raises(NotAllowed, match="may not make a backup"):
            backup.create_backup(conn, tmp_path / "vic.zip", actor="vic")
        assert not (tmp_path / "vic.zip").exists()
        backup.restore_backup(conn, file, actor="ann")
        assert _rows(conn, "SELECT user_name, role FROM users ORDER BY 1") == [
            ("ann", "admin"), ("vic", "editor")]
        assert _rows(conn, "SELECT actor, action FROM audit_log ORDER BY logged_at DESC "
                     "LIMIT 1") == [("ann", "backup restored")]


# --- CLI -----------------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_backup_and_restore(shop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "nightly.zip"
    db = ["--db", str(shop)]
    assert cli.main([*db, "backup", "--out", str(file)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"Backup written to {file} (") and "60 customers, 110 orders." in out
    with store.open_db(shop) as conn:
        demo.load_demo(conn, customers=40, seed=5, end=END)

    def customers() -> int:
        with store.open_db(shop) as conn:
            return store.shop_counts(conn)["customers"]

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, nobody answers
    assert cli.main([*db, "restore", str(file)]) == EXIT_REFUSED
    captured = capsys.readouterr()
    assert captured.out.startswith("This replaces 40 customers, 97 orders")
    assert "add --yes" in captured.err and customers() == 40

    monkeypatch.setattr("sys.stdin", _Terminal("no\n"))
    assert cli.main([*db, "restore", str(file)]) == EXIT_REFUSED
    assert "Not restored" in capsys.readouterr().err and customers() == 40

    monkeypatch.setattr("sys.stdin", _Terminal("yes\n"))
    assert cli.main([*db, "restore", str(file)]) == EXIT_OK
    assert "Restored the backup made on" in capsys.readouterr().out and customers() == 60

    with store.open_db(shop) as conn:
        demo.load_demo(conn, customers=40, seed=5, end=END)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main([*db, "restore", str(file), "--yes"]) == EXIT_OK
    assert customers() == 60

    bad = tmp_path / "bad.zip"
    bad.write_bytes(file.read_bytes()[:1000])
    assert cli.main([*db, "restore", str(bad), "--yes"]) == EXIT_REFUSED
    assert "bad.zip is not a Relmark backup" in capsys.readouterr().err
    assert cli.main([*db, "restore", str(tmp_path / "missing.zip"), "--yes"]) == EXIT_REFUSED
    assert "There is no file" in capsys.readouterr().err


# --- Data page -----------------------------------------------------------------------------------

PAGE = "pages/data.py"


def _uploader(at: Any) -> Any:
    return next(u for u in at.get("file_uploader") if u.label.startswith("Backup file to restore"))


def test_data_page_prepares_a_backup_and_restores_one(app_db: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(app_db) as conn:
        backup.create_backup(conn, file)
        counts = store.shop_counts(conn)
        demo.load_demo(conn, customers=40, seed=5, end=END)
    at = open_page(PAGE)
    assert not problems(at)
    at.button(key="bk_prepare").click().run()
    assert not problems(at)
    downloads = at.get("download_button")
    assert any(d.proto.label.startswith("Download relmark-backup-") for d in downloads)

    _uploader(at).set_value([("shop-backup.zip", file.read_bytes(), "application/zip")])
    at.run()
    assert not problems(at)
    warning = next(w.value for w in at.warning if "This replaces" in w.value)
    assert warning.startswith("This replaces 40 customers, 97 orders")
    assert f"with the backup's {counts['customers']:,} customers" in warning
    at.button(key="bk_restore").click().run()
    assert not problems(at)
    assert any("Restored the backup made on" in s.value for s in at.success)
    with store.open_db(app_db) as conn:
        assert store.shop_counts(conn) == counts


def test_data_page_refuses_a_damaged_backup(app_db: Path) -> None:
    at = open_page(PAGE)
    _uploader(at).set_value([("holiday.zip", b"PK\x03\x04 not really", "application/zip")])
    at.run()
    shown = [e.value.replace("\\", "") for e in at.error]  # markdown escapes dropped
    assert [m for m in shown if "holiday.zip" in m] == [
        "holiday.zip is not a Relmark backup: it is not a complete zip file (damaged, cut short, "
        "or another kind of file). Choose a file made by Relmark's backup (Data page, or "
        "`python -m relmark_core backup`). Nothing was changed."]
    assert all(b.key != "bk_restore" for b in at.button)


def test_a_restore_failing_half_way_changes_nothing(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "backup.zip"
    with store.open_db(shop) as conn:
        backup.create_backup(conn, file)
        demo.load_demo(conn, customers=40, seed=5, end=END)
        audit_rows = store.scalar(conn, "SELECT count(*) FROM audit_log")

        def fail(c: duckdb.DuckDBPyConnection) -> int:
            raise duckdb.IOException("disk full")  # after every table was replaced

        monkeypatch.setattr(store, "bump_data_version", fail)
        with pytest.raises(InputRefused, match=r"could not be restored.*Nothing was changed"):
            backup.restore_backup(conn, file)
        assert store.shop_counts(conn) == {
            "customers": 40, "orders": 97, "order_lines": 144, "feedback": 24}
        assert store.scalar(conn, "SELECT count(*) FROM audit_log") == audit_rows
        assert [s.name for s in saved.list_segments(conn)] == ["Repeat buyers"]
