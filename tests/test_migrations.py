"""Schema versions: the committed schema-1 database opens upgraded (after an automatic backup,
in one transaction); a newer database is refused untouched; a failing step changes nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from relmark_core import migrations, store
from relmark_core.errors import InputRefused, RelmarkError

V1_DB = Path(__file__).parent / "fixtures" / "schema" / "relmark-schema-v1.duckdb"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def v1_db(tmp_path: Path) -> Path:
    """A private copy of the committed database made by schema version 1."""
    path = tmp_path / "relmark.duckdb"
    shutil.copy(V1_DB, path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the file without Relmark (no schema check, no upgrade)."""
    c = duckdb.connect(str(path), read_only=True)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def test_the_fixture_is_schema_1() -> None:
    assert _raw(V1_DB, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert store.SCHEMA_VERSION == 2


def test_schema_1_database_opens_upgraded_after_a_backup(v1_db: Path) -> None:
    with store.open_db(v1_db) as conn:
        assert store.get_meta(conn, "schema_version") == "2"
        assert store.shop_counts(conn) == {
            "customers": 60, "orders": 110, "order_lines": 177, "feedback": 19}
        assert conn.execute("SELECT name FROM segments").fetchall() == [("Repeat buyers",)]
        # Email consent taken from accepts_marketing: 37 of the 60 said yes, 23 no.
        assert conn.execute(
            "SELECT channel, granted, source, count(*) FROM consent GROUP BY ALL ORDER BY 2"
        ).fetchall() == [("email", False, "earlier import", 23), ("email", True, "earlier import", 37)]
        # The tables version 2 added exist (empty).
        for table in ("suppression", "erased_identities", "users", "saved_views", "automations"):
            assert store.scalar(conn, f"SELECT count(*) FROM {table}") == 0  # noqa: S608
        notice = store.get_meta(conn, migrations.LAST_UPGRADE_KEY)
        actions = conn.execute("SELECT actor, action FROM audit_log ORDER BY logged_at").fetchall()
    backups = sorted((v1_db.parent / "backups").iterdir())
    assert len(backups) == 1
    copy = backups[0]
    assert copy.name.startswith("relmark-") and copy.name.endswith("-before-schema-2.zip")
    assert notice is not None and str(copy) in notice and "from schema version 1 to 2" in notice
    assert actions == [("local", "demo data loaded"), ("local", "segment saved"),
                       ("relmark upgrade", "schema upgraded")]
    # The automatic backup holds the database as version 1 left it.
    with zipfile.ZipFile(copy) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["schema_version"] == 1
    assert manifest["tables"]["customers"]["rows"] == 60
    assert manifest["tables"]["orders"]["rows"] == 110
    assert "consent" not in manifest["tables"]
    # Opening again: no second upgrade, no second backup.
    with store.open_db(v1_db) as conn:
        assert store.get_meta(conn, "schema_version") == "2"
    assert len(list((v1_db.parent / "backups").iterdir())) == 1


def test_newer_database_is_refused_untouched(v1_db: Path) -> None:
    c = duckdb.connect(str(v1_db))
    c.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    c.close()
    before = _sha(v1_db)
    with pytest.raises(InputRefused, match=r"made by a newer Relmark \(schema version 3; this "
                       r"Relmark knows version 2\).*the file was not changed"):
        with store.open_db(v1_db):
            pass
    assert _sha(v1_db) == before
    assert not (v1_db.parent / "backups").exists()


def _failing_step(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(store.SCHEMA)  # creates the new tables, then fails half-way
    conn.execute("DELETE FROM orders")
    raise RuntimeError("step failed")


def test_a_failing_step_rolls_back_and_leaves_the_file_as_it_was(
    v1_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "STEPS", (migrations.Step(1, "fails", _failing_step),))
    before = _sha(v1_db)
    with pytest.raises(RelmarkError, match=r"could not upgrade .* from schema version 1 to 2 "
                       r"\(RuntimeError\)\. Nothing was changed\. A copy from before"):
        with store.open_db(v1_db):
            pass
    assert _sha(v1_db) == before
    assert _raw(v1_db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert _raw(v1_db, "SELECT count(*) FROM orders") == [(110,)]
    assert _raw(v1_db, "SELECT count(*) FROM information_schema.tables "
                       "WHERE table_name = 'consent'") == [(0,)]
    # The automatic backup was written before the attempt and stays.
    assert len(list((v1_db.parent / "backups").glob("*-before-schema-2.zip"))) == 1


def test_a_version_without_steps_is_refused() -> None:
    with pytest.raises(RelmarkError, match="cannot upgrade a database of schema version 0"):
        migrations.steps_from(0)
    assert [s.from_version for s in migrations.steps_from(1)] == [1]
    assert migrations.steps_from(2) == []


def test_new_in_memory_database_is_current(conn: duckdb.DuckDBPyConnection) -> None:
    assert store.get_meta(conn, "schema_version") == "2"
    assert migrations.database_file(conn) is None


def test_cli_says_where_the_automatic_backup_is(v1_db: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "relmark_core", "--db", str(v1_db), "segment", "list"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    copy = next((v1_db.parent / "backups").iterdir())
    assert "upgraded this database from schema version 1 to 2" in out.stderr
    assert str(copy) in out.stderr
    assert "Repeat buyers" in out.stdout


def test_no_room_for_the_automatic_backup_means_no_upgrade(v1_db: Path) -> None:
    (v1_db.parent / "backups").write_text("a file where the folder should be")
    before = _sha(v1_db)
    with pytest.raises(RelmarkError, match=r"could not first save a copy to .*Nothing was changed"):
        with store.open_db(v1_db):
            pass
    assert _sha(v1_db) == before


def test_tables_added_within_a_version_are_created_without_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "relmark.duckdb"
    with store.open_db(path) as conn:
        conn.execute("DROP TABLE saved_views")  # as if made before the table was added
        store.set_meta(conn, "schema_hash", "older-schema-text")
        store.set_meta(conn, "demo", "kept")
    with store.open_db(path) as conn:
        assert store.scalar(conn, "SELECT count(*) FROM saved_views") == 0
        assert store.get_meta(conn, "schema_version") == "2"
        assert store.get_meta(conn, "demo") == "kept"
        assert store.get_meta(conn, migrations.LAST_UPGRADE_KEY) is None
    assert not (tmp_path / "backups").exists()


def test_the_data_page_says_where_the_automatic_backup_is(
    v1_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.apptest import open_page, problems

    monkeypatch.setenv("RELMARK_DB", str(v1_db))
    at = open_page("pages/data.py")
    assert not problems(at)
    copy = next((v1_db.parent / "backups").iterdir())
    notes = [i.value.replace("\\", "") for i in at.info]  # markdown escapes dropped
    assert any(str(copy) in n and "from schema version 1 to 2" in n for n in notes)
