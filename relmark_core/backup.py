"""Backup and restore: one file with everything Relmark holds, and putting it back.

A backup is a zip file: ``manifest.json`` (the Relmark schema version that made it, when, and
per table its row count, columns and the SHA-256 of its file) and one Parquet file per table
under ``tables/``. It is generic over the database: every table is saved (data, definitions,
history, the audit log, settings, consent, suppression, erasure records), so tables added later
are included without changes here — except the accounts tables (:data:`NOT_BACKED_UP`): who may
sign in is not part of a shop's data, and their password hashes do not belong in a download.

Restoring validates the whole file first (zip, manifest, checksums, row counts, known tables,
schema version not newer) and refuses a damaged or foreign file with the database untouched.
The database as it is is saved next to it (``backups/relmark-<time>-before-restore.zip``). The
backup's tables are loaded into a staging database (a temporary file ATTACHed to the
connection) and upgraded there by :mod:`relmark_core.migrations` when the backup is older; then
ONE transaction replaces the store's tables with the staged ones. Safety rules across a restore:

- the suppression list and the erasure records (tables named ``suppression*``, ``erased*``,
  ``erasure*``) are merged with the backup's (union), never dropped, so a restore cannot bring
  back a suppressed address or make an erased person importable again;
- anyone erased here (or in the backup) whose records the backup still holds — a backup made
  before the erasure — is erased again in the staging copy (this install's salt is kept), so
  the restore does not bring them back;
- consent withdrawn here after the backup's consent was recorded stays withdrawn;
- the audit log keeps all its rows (the backup's are merged in) plus a "backup restored" entry;
- ids handed out by sequences are never reused (each continues after the larger value).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Final, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relmark_core import auth, migrations, store
from relmark_core.errors import InputRefused, RelmarkError
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "NOT_BACKED_UP",
    "MERGED_TABLES",
    "MERGED_PREFIXES",
    "TableEntry",
    "Manifest",
    "RestoreResult",
    "Progress",
    "backup_file_name",
    "write_backup",
    "create_backup",
    "read_backup",
    "describe_backup",
    "restore_backup",
    "is_merged",
]

FORMAT_NAME: Final = "relmark-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
TABLE_FOLDER = "tables"
MAX_MANIFEST_BYTES = 1 << 20
# Accounts: who may sign in stays as it is on this install (and no password hashes in a file).
NOT_BACKED_UP = frozenset({"users", "login_sessions", "login_throttle"})
MERGED_TABLES = frozenset({"audit_log"})  # kept and merged, never replaced
MERGED_PREFIXES = ("suppression", "erased", "erasure")  # never contact / never re-import
# meta keys that describe this database file rather than the shop: never taken from a backup
KEPT_META_KEYS = frozenset({"schema_version", "schema_hash", "data_version",
                            migrations.LAST_UPGRADE_KEY})
# The salt of the erased identities' hashes (relmark_core.privacy.erasure): this install's salt
# stays (its hashes are made with it); a backup's is taken only when there is none yet.
ERASURE_SALT_KEY = "erasure_salt"
RESTORE_ACTION = "backup restored"
BACKUP_ACTION = "backup made"
_STAGE = "relmark_restore_stage"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_HASH_CHUNK = 1 << 20
# What the confirmation names, in this order: (table, one, many). Customers and orders always.
DESCRIBED: tuple[tuple[str, str, str], ...] = (
    ("customers", "customer", "customers"),
    ("orders", "order", "orders"),
    ("feedback", "feedback answer", "feedback answers"),
    ("segments", "saved segment", "saved segments"),
    ("offers", "offer", "offers"),
    ("automations", "automation", "automations"),
    ("loyalty_versions", "loyalty program version", "loyalty program versions"),
    ("saved_views", "saved view", "saved views"),
    ("imports", "import", "imports"),
)
ALWAYS_DESCRIBED = ("customers", "orders")

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    return None


class TableEntry(BaseModel):
    """One table in a backup."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    rows: int = Field(ge=0)
    columns: tuple[str, ...]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(BaseModel):
    """``manifest.json``: what a backup holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["relmark-backup"]
    format_version: int = Field(ge=1)
    schema_version: int = Field(ge=1)
    created_at: datetime
    created_by: str
    tables: dict[str, TableEntry]
    sequences: dict[str, int] = Field(default_factory=dict)

    def rows(self, table: str) -> int:
        entry = self.tables.get(table)
        return entry.rows if entry else 0


class RestoreResult(BaseModel):
    """What a restore did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    manifest: Manifest
    copy_before: Path | None
    """The automatic backup of the database as it was just before (None in memory)."""
    erased_again: int
    """People erased here (or in the backup) whose records the backup held: erased again."""
    withdrawals_kept: int
    """Consent rows withdrawn here since the backup's consent was recorded: kept withdrawn."""
    sentence: str


# --- small helpers ----------------------------------------------------------------------------


def _q(name: str) -> str:
    """A quoted identifier (names come from the database's catalog or a checked manifest)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    """A file path as an SQL string literal, for COPY/ATTACH, which take no bound parameters.
    Only paths Relmark made itself (temporary files) go through here."""
    return "'" + str(path).replace("'", "''") + "'"


def is_merged(table: str) -> bool:
    """True for tables a restore merges instead of replacing (suppression, erasure, audit)."""
    return table in MERGED_TABLES or table.startswith(MERGED_PREFIXES)


def _tables(conn: duckdb.DuckDBPyConnection, database: str | None = None) -> list[str]:
    """The base tables of the connection's default database (or ``database``)."""
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = "
        "coalesce(?, current_database()) AND schema_name = 'main' AND NOT temporary "
        "ORDER BY table_name",
        [database],
    ).fetchall()
    return [str(r[0]) for r in rows]


def _columns(conn: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = "
        "coalesce(?, current_database()) AND schema_name = 'main' AND table_name = ? "
        "ORDER BY column_index",
        [database, table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def _sequences(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT sequence_name, coalesce(last_value, 0) FROM duckdb_sequences() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    return {str(name): int(value) for name, value in rows}


def _count(conn: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> int:
    where = f"{_q(database)}.main." if database else ""
    return int(store.scalar(conn, f"SELECT count(*) FROM {where}{_q(table)}") or 0)  # noqa: S608


def _sha256(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    value = store.get_meta(conn, "schema_version")
    return int(value) if value and value.isdigit() else store.SCHEMA_VERSION


def backup_file_name(at: datetime | None = None) -> str:
    """``relmark-backup-<UTC time>.zip``: the name a download or the CLI suggests."""
    return f"relmark-backup-{(at or store.utc_now()):%Y%m%d-%H%M%S}.zip"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


# --- writing ----------------------------------------------------------------------------------


def write_backup(
    conn: duckdb.DuckDBPyConnection,
    out: str | Path,
    *,
    created_by: str = DEFAULT_ACTOR,
    progress: Progress | None = None,
) -> Manifest:
    """Write every table of the database to the backup file ``out`` (no role check, no audit:
    the automatic backups before an upgrade or a restore use this; people use
    :func:`create_backup`).

    One read-only transaction gives a consistent snapshot. The file appears complete or not at
    all (written under a temporary name, then renamed).
    """
    progress = progress or _no_progress
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tables = [t for t in _tables(conn) if t not in NOT_BACKED_UP]
    entries: dict[str, TableEntry] = {}
    part = out.with_name(out.name + ".part")
    with tempfile.TemporaryDirectory(prefix="relmark-backup-") as tmp:
        with store.transaction(conn):
            version = _schema_version(conn)
            sequences = _sequences(conn)
            for i, table in enumerate(tables):
                progress(0.9 * i / len(tables), f"Saving {table.replace('_', ' ')}…")
                f = Path(tmp) / f"{table}.parquet"
                rows = conn.execute(
                    f"COPY (SELECT * FROM {_q(table)}) TO {_literal(f)} (FORMAT parquet)"  # noqa: S608
                ).fetchall()
                with f.open("rb") as fh:
                    digest = _sha256(fh)
                entries[table] = TableEntry(
                    file=f"{TABLE_FOLDER}/{table}.parquet", rows=int(rows[0][0]),
                    columns=tuple(_columns(conn, table)), sha256=digest,
                )
        manifest = Manifest(
            format=FORMAT_NAME, format_version=FORMAT_VERSION, schema_version=version,
            created_at=store.utc_now(), created_by=created_by, tables=entries,
            sequences=sequences,
        )
        progress(0.9, "Writing the backup file…")
        try:
            with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(MANIFEST_NAME, manifest.model_dump_json(indent=1),
                            compress_type=zipfile.ZIP_DEFLATED)
                for table, entry in entries.items():
                    zf.write(Path(tmp) / f"{table}.parquet", entry.file)
            os.replace(part, out)
        finally:
            part.unlink(missing_ok=True)
    progress(1.0, "Backup ready.")
    return manifest


def create_backup(
    conn: duckdb.DuckDBPyConnection,
    out: str | Path,
    *,
    actor: str = DEFAULT_ACTOR,
    progress: Progress | None = None,
) -> Manifest:
    """Back up everything to ``out`` (admins only), and record it in the audit log."""
    auth.require(conn, actor, auth.Role.ADMIN, "make a backup")
    manifest = write_backup(conn, out, created_by=actor, progress=progress)
    with store.transaction(conn):
        store.audit(
            conn, actor, BACKUP_ACTION,
            f"{len(manifest.tables)} tables; {_plural(manifest.rows('customers'), 'customer', 'customers')}, "
            f"{_plural(manifest.rows('orders'), 'order', 'orders')}",
        )
    return manifest


# --- reading and validating -------------------------------------------------------------------

BackupSource = str | Path | bytes


def _label(file: BackupSource, file_name: str | None) -> str:
    if file_name:
        return file_name
    return "The uploaded file" if isinstance(file, bytes) else Path(file).name


@contextlib.contextmanager
def _open_zip(file: BackupSource, label: str) -> Iterator[zipfile.ZipFile]:
    handle: str | Path | IO[bytes] = io.BytesIO(file) if isinstance(file, bytes) else file
    try:
        zf = zipfile.ZipFile(handle)
    except FileNotFoundError as exc:
        raise InputRefused(f"There is no file {file!s}. Check the path.") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputRefused(
            f"{label} is not a Relmark backup: it is not a complete zip file (damaged, cut "
            "short, or another kind of file). Choose a file made by Relmark's backup (Data "
            "page, or `python -m relmark_core backup`). Nothing was changed."
        ) from exc
    with zf:
        yield zf


def _damaged(label: str, what: str) -> InputRefused:
    return InputRefused(
        f"{label} cannot be restored: {what}. The file is damaged or was not made by Relmark's "
        "backup; use another backup file. Nothing was changed."
    )


def _manifest(zf: zipfile.ZipFile, label: str) -> Manifest:
    try:
        info = zf.getinfo(MANIFEST_NAME)
    except KeyError:
        raise InputRefused(
            f"{label} is not a Relmark backup: it has no {MANIFEST_NAME}. Choose a file made "
            "by Relmark's backup. Nothing was changed."
        ) from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise _damaged(label, f"its {MANIFEST_NAME} is too large")
    try:
        raw = json.loads(zf.read(info))
        manifest = Manifest.model_validate(raw)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _damaged(label, f"its {MANIFEST_NAME} does not read back ({exc})") from exc
    except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
        raise InputRefused(
            f"{label} is not a Relmark backup: its {MANIFEST_NAME} is not the manifest of a "
            "Relmark backup. Nothing was changed."
        ) from None
    return manifest


def _known_tables(conn: duckdb.DuckDBPyConnection, version: int) -> frozenset[str]:
    if version == store.SCHEMA_VERSION:
        return frozenset(_tables(conn))
    return migrations.TABLES_BY_VERSION.get(version, frozenset())


def _check(conn: duckdb.DuckDBPyConnection, zf: zipfile.ZipFile, manifest: Manifest,
           label: str) -> None:
    """Refuse what a restore could not take: newer versions, unknown tables, bad checksums."""
    made = f"made on {manifest.created_at:%Y-%m-%d %H:%M} UTC"
    if manifest.format_version > FORMAT_VERSION:
        raise InputRefused(
            f"{label} ({made}) was made by a newer Relmark (backup format "
            f"{manifest.format_version}). Upgrade Relmark to restore it. Nothing was changed."
        )
    if manifest.schema_version > store.SCHEMA_VERSION:
        raise InputRefused(
            f"{label} ({made}) was made by a newer Relmark (schema version "
            f"{manifest.schema_version}; this Relmark knows version {store.SCHEMA_VERSION}). "
            "Upgrade Relmark to restore it. Nothing was changed."
        )
    if manifest.schema_version < store.SCHEMA_VERSION:
        migrations.steps_from(manifest.schema_version)  # refuses versions too old to upgrade
    known = _known_tables(conn, manifest.schema_version)
    for table, entry in manifest.tables.items():
        if not _NAME.match(table) or table not in known or table in NOT_BACKED_UP:
            raise _damaged(label, f"it holds a table this Relmark does not know ({table[:40]!r})")
        if entry.file != f"{TABLE_FOLDER}/{table}.parquet":
            raise _damaged(label, f"the manifest names an unexpected file for {table}")
        if not entry.columns or not all(_NAME.match(c) for c in entry.columns):
            raise _damaged(label, f"the manifest lists unexpected columns for {table}")
    for needed in ("meta", *ALWAYS_DESCRIBED):
        if needed not in manifest.tables:
            raise _damaged(label, f"it has no {needed} table")
    names = set(zf.namelist())
    for table, entry in manifest.tables.items():
        if entry.file not in names:
            raise _damaged(label, f"the file for {table} is missing")
        try:
            with zf.open(entry.file) as fh:
                digest = _sha256(fh)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise _damaged(label, f"the file for {table} does not read back ({exc})") from exc
        if digest != entry.sha256:
            raise _damaged(label, f"the checksum of {table} does not match")


def read_backup(conn: duckdb.DuckDBPyConnection, file: BackupSource, *,
                file_name: str | None = None) -> Manifest:
    """Validate a backup fully (zip, manifest, checksums, tables, version) and return its
    manifest; raise :class:`InputRefused` with a plain sentence otherwise."""
    label = _label(file, file_name)
    with _open_zip(file, label) as zf:
        manifest = _manifest(zf, label)
        _check(conn, zf, manifest, label)
    return manifest


def _described(counts: dict[str, int], tables: set[str]) -> str:
    parts = [
        _plural(counts.get(t, 0), one, many) for t, one, many in DESCRIBED
        if t in ALWAYS_DESCRIBED or (t in tables and counts.get(t, 0))
    ]
    return ", ".join(parts)


def describe_backup(conn: duckdb.DuckDBPyConnection, file: BackupSource, *,
                    file_name: str | None = None) -> str:
    """The confirmation sentence: what the restore replaces, with what, made when.

    Validates the file first (see :func:`read_backup`).
    """
    manifest = read_backup(conn, file, file_name=file_name)
    tables = set(_tables(conn))
    now = {t: _count(conn, t) for t, _, _ in DESCRIBED if t in tables}
    then = {t: e.rows for t, e in manifest.tables.items()}
    return (
        f"This replaces {_described(now, tables)} with the backup's "
        f"{_described(then, set(manifest.tables))}, made on "
        f"{manifest.created_at:%Y-%m-%d %H:%M} UTC (Relmark schema version "
        f"{manifest.schema_version}). Settings, definitions and history are replaced too. The "
        "suppression list, the erasure records and the audit log are kept and merged with the "
        "backup's, consent withdrawn since the backup stays withdrawn, and accounts stay as "
        "they are."
    )


# --- restoring --------------------------------------------------------------------------------


def _extract(zf: zipfile.ZipFile, manifest: Manifest, folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for table, entry in manifest.tables.items():
        target = folder / f"{table}.parquet"  # our own name: no path from the zip is used
        with zf.open(entry.file) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        with target.open("rb") as fh:
            if _sha256(fh) != entry.sha256:
                raise RelmarkError(f"{table} changed while it was read; try again.")
        files[table] = target
    return files


def _check_files(conn: duckdb.DuckDBPyConnection, manifest: Manifest, files: dict[str, Path],
                 label: str) -> None:
    """Each extracted file holds the rows and columns the manifest says (before any change)."""
    for table, path in files.items():
        entry = manifest.tables[table]
        try:
            rows = store.scalar(conn, "SELECT count(*) FROM read_parquet(?)", [str(path)])
            cols = tuple(str(r[0]) for r in conn.execute(
                "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall())
        except duckdb.Error as exc:
            raise _damaged(label, f"{table} does not read back ({type(exc).__name__})") from exc
        if rows != entry.rows or cols != entry.columns:
            raise _damaged(label, f"{table} does not hold what the manifest says")


def _typed_columns(conn: duckdb.DuckDBPyConnection, sql: str, params: list[str]) -> set[tuple[str, str]]:
    return {(str(r[0]), str(r[1])) for r in conn.execute(sql, params).fetchall()}


def _stage(conn: duckdb.DuckDBPyConnection, manifest: Manifest, files: dict[str, Path],
           label: str, progress: Progress) -> None:
    """Load the backup's tables into the staging database (the default one while this runs),
    then upgrade them to the current schema.

    A table whose columns (names and types) the current schema still has goes into the current
    shape, keys included; any other keeps the backup's own shape for the migration steps."""
    conn.execute(store.SCHEMA)
    for i, (table, path) in enumerate(files.items()):
        progress(0.1 + 0.3 * i / len(files), f"Reading {table.replace('_', ' ')}…")
        had = _typed_columns(conn, "SELECT column_name, data_type FROM duckdb_columns() WHERE "
                             "database_name = current_database() AND schema_name = 'main' "
                             "AND table_name = ?", [table])
        got = _typed_columns(conn, "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)])
        if had and got <= had:
            conn.execute(f"INSERT INTO {_q(table)} BY NAME SELECT * FROM read_parquet(?)",  # noqa: S608
                         [str(path)])
        else:
            conn.execute(f"DROP TABLE IF EXISTS {_q(table)}")
            conn.execute(f"CREATE TABLE {_q(table)} AS SELECT * FROM read_parquet(?)",  # noqa: S608
                         [str(path)])
        if _count(conn, table) != manifest.tables[table].rows:
            raise _damaged(label, f"{table} does not hold what the manifest says")
    progress(0.4, "Upgrading the backup's tables…")
    migrations.apply_steps(conn, manifest.schema_version)


def _keep_withdrawals(conn: duckdb.DuckDBPyConnection, main: str) -> int:
    """Consent withdrawn here after the backup's consent was recorded stays withdrawn: the
    staged consent takes this install's newer withdrawals (staging database as the default).
    Returns how many consent rows that changed."""
    live = f"{_q(main)}.main.consent"
    before = int(store.scalar(conn, "SELECT count(*) FROM consent WHERE NOT granted") or 0)
    conn.execute(
        f"""
        UPDATE consent AS s SET granted = FALSE, source = m.source, recorded_at = m.recorded_at,
               import_id = NULL
        FROM {live} AS m
        WHERE m.customer_id = s.customer_id AND m.channel = s.channel
          AND NOT m.granted AND s.granted AND m.recorded_at > s.recorded_at
        """  # noqa: S608
    )
    conn.execute(
        f"""
        INSERT INTO consent (customer_id, channel, granted, source, recorded_at, import_id)
        SELECT m.customer_id, m.channel, FALSE, m.source, m.recorded_at, NULL FROM {live} AS m
        WHERE NOT m.granted AND m.customer_id IN (SELECT customer_id FROM customers)
          AND NOT EXISTS (SELECT 1 FROM consent s
                          WHERE s.customer_id = m.customer_id AND s.channel = m.channel)
        """  # noqa: S608
    )
    after = int(store.scalar(conn, "SELECT count(*) FROM consent WHERE NOT granted") or 0)
    return after - before


def _erase_again(conn: duckdb.DuckDBPyConnection, main: str, actor: str) -> int:
    """Erase, in the staging copy, everyone erased here or in the backup whose records the backup
    still holds (a backup made before an erasure), so the restore cannot bring them back.

    Runs with the staging database as the default one; uses this install's salt. Returns how
    many people were erased again."""
    from relmark_core.privacy import erasure

    main_salt = store.scalar(
        conn, f"SELECT value FROM {_q(main)}.main.meta WHERE key = ?",  # noqa: S608
        [ERASURE_SALT_KEY])
    if main_salt is not None:
        store.set_meta(conn, ERASURE_SALT_KEY, str(main_salt))
    salt = store.get_meta(conn, ERASURE_SALT_KEY)
    if salt is None:
        return 0  # nobody was ever erased, here or in the backup
    erased = (f"SELECT identity_hash FROM erased_identities UNION "  # noqa: S608
              f"SELECT identity_hash FROM {_q(main)}.main.erased_identities")
    rows = conn.execute(
        f"""
        SELECT DISTINCT c.email_norm, c.phone FROM customers c
        WHERE sha256(? || 'email:' || c.email_norm) IN ({erased})
           OR sha256(? || 'phone:' || regexp_replace(c.phone, '[^0-9]', '', 'g')) IN ({erased})
           OR c.customer_id IN (SELECT k.customer_id FROM customer_keys k
                                WHERE sha256(? || k.key_type || ':' || k.key_value) IN ({erased}))
        """,  # noqa: S608
        [salt, salt, salt],
    ).fetchall()
    people = 0
    for email, phone in rows:
        if not email and not phone:
            continue
        try:
            erasure.erase_person(conn, email=email or None, phone=None if email else phone,
                                 actor=actor)
        except InputRefused:
            continue  # already erased with an earlier match (same person, two identifiers)
        people += 1
    return people


def _copy_tables(conn: duckdb.DuckDBPyConnection, main: str, label: str) -> None:
    """Replace (or merge) every table of ``main`` from the staging database (in the caller's
    transaction)."""
    staged = set(_tables(conn, _STAGE))
    for table in _tables(conn, main):
        if table in NOT_BACKED_UP or table == "meta" or table not in staged:
            continue
        live_cols = _columns(conn, table, main)
        stage_cols = _columns(conn, table, _STAGE)
        extra = [c for c in stage_cols if c not in live_cols]
        if extra:
            raise _damaged(label, f"its {table} table has columns this Relmark does not know")
        cols = ", ".join(_q(c) for c in stage_cols)
        dst = f"{_q(main)}.main.{_q(table)}"
        src = f"{_q(_STAGE)}.main.{_q(table)}"
        if is_merged(table):
            unique = store.scalar(
                conn,
                "SELECT count(*) FROM duckdb_constraints() WHERE database_name = ? AND "
                "table_name = ? AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
                [main, table],
            )
            verb = "INSERT OR IGNORE" if unique else "INSERT"
            conn.execute(
                f"{verb} INTO {dst} ({cols}) SELECT {cols} FROM {src} "  # noqa: S608
                f"EXCEPT SELECT {cols} FROM {dst}"
            )
        else:
            conn.execute(f"DELETE FROM {dst}")  # noqa: S608
            conn.execute(f"INSERT INTO {dst} ({cols}) SELECT {cols} FROM {src}")  # noqa: S608


def _copy_meta(conn: duckdb.DuckDBPyConnection, main: str) -> None:
    rows = conn.execute(f"SELECT key, value FROM {_q(_STAGE)}.main.meta").fetchall()  # noqa: S608
    salt_here = store.scalar(
        conn, f"SELECT count(*) FROM {_q(main)}.main.meta WHERE key = ?",  # noqa: S608
        [ERASURE_SALT_KEY])
    for key, value in rows:
        if key not in KEPT_META_KEYS and not (key == ERASURE_SALT_KEY and salt_here):
            conn.execute(
                f"INSERT OR REPLACE INTO {_q(main)}.main.meta VALUES (?, ?)",  # noqa: S608
                [key, value],
            )


def _advance_sequences(conn: duckdb.DuckDBPyConnection, manifest: Manifest) -> None:
    """Ids are never reused: each sequence continues after the larger of its value here and in
    the backup."""
    for name, current in _sequences(conn).items():
        wanted = manifest.sequences.get(name, 0)
        if wanted > current:
            conn.execute(
                f"SELECT max(nextval('{name}')) FROM range(?)",  # noqa: S608 - catalog name
                [wanted - current],
            ).fetchall()


def restore_backup(
    conn: duckdb.DuckDBPyConnection,
    file: BackupSource,
    *,
    actor: str = DEFAULT_ACTOR,
    file_name: str | None = None,
    keep_copy: bool = True,
    progress: Progress | None = None,
) -> RestoreResult:
    """Replace the store's data, definitions and history with a backup's (admins only).

    The file is validated fully before anything changes. With ``keep_copy`` (default) the
    database as it was is first saved next to it (``backups/relmark-<time>-before-restore.zip``).
    Suppression, erasure records and the audit log are merged, not replaced; accounts stay.
    One transaction: on any failure nothing changes.
    """
    progress = progress or _no_progress
    auth.require(conn, actor, auth.Role.ADMIN, "restore a backup")
    label = _label(file, file_name)
    main = str(store.scalar(conn, "SELECT current_database()"))
    with tempfile.TemporaryDirectory(prefix="relmark-restore-") as tmp:
        folder = Path(tmp)
        progress(0.0, "Checking the backup…")
        with _open_zip(file, label) as zf:
            manifest = _manifest(zf, label)
            _check(conn, zf, manifest, label)
            files = _extract(zf, manifest, folder)
        _check_files(conn, manifest, files, label)
        copy: Path | None = None
        db_file = migrations.database_file(conn)
        if keep_copy and db_file is not None:
            progress(0.05, "Saving a copy of the database as it is now…")
            copy = migrations.automatic_backup_path(db_file, "before-restore")
            write_backup(conn, copy, created_by=actor)
        conn.execute(f"ATTACH {_literal(folder / 'stage.duckdb')} AS {_q(_STAGE)}")
        try:
            conn.execute(f"USE {_q(_STAGE)}")
            try:
                _stage(conn, manifest, files, label, progress)
                withdrawals = _keep_withdrawals(conn, main)
                erased_again = _erase_again(conn, main, actor)
            except duckdb.Error as exc:
                raise InputRefused(
                    f"{label} could not be restored: its data does not fit this Relmark's "
                    f"tables ({type(exc).__name__}). Nothing was changed."
                ) from exc
            finally:
                conn.execute(f"USE {_q(main)}")
            progress(0.6, "Replacing the data…")
            try:
                with store.transaction(conn):
                    _copy_tables(conn, main, label)
                    _copy_meta(conn, main)
                    _advance_sequences(conn, manifest)
                    store.audit(
                        conn, actor, RESTORE_ACTION,
                        f"backup made {manifest.created_at:%Y-%m-%d %H:%M} UTC (schema "
                        f"{manifest.schema_version}); "
                        f"{_plural(manifest.rows('customers'), 'customer', 'customers')}, "
                        f"{_plural(manifest.rows('orders'), 'order', 'orders')}; "
                        f"{erased_again} erased person(s) erased again; {withdrawals} consent "
                        f"withdrawal(s) kept; copy before: "
                        f"{copy or 'none'}",
                    )
                    store.bump_data_version(conn)
            except RelmarkError:
                raise
            except duckdb.Error as exc:
                raise InputRefused(
                    f"{label} could not be restored: its data does not fit this Relmark's "
                    f"tables ({type(exc).__name__}). Nothing was changed."
                ) from exc
        finally:
            conn.execute(f"DETACH {_q(_STAGE)}")
    progress(1.0, "Restored.")
    where = f" The database as it was before is saved at {copy}." if copy else ""
    kept = (
        f" {_plural(withdrawals, 'consent withdrawal', 'consent withdrawals')} made since the "
        "backup stayed withdrawn." if withdrawals else ""
    )
    again = (
        f" {_plural(erased_again, 'person', 'people')} erased since the backup "
        f"{'was' if erased_again == 1 else 'were'} erased again." if erased_again else ""
    )
    sentence = (
        f"Restored the backup made on {manifest.created_at:%Y-%m-%d %H:%M} UTC: "
        f"{_described({t: e.rows for t, e in manifest.tables.items()}, set(manifest.tables))}."
        f"{again}{kept}{where}"
    )
    return RestoreResult(manifest=manifest, copy_before=copy, erased_again=erased_again,
                         withdrawals_kept=withdrawals, sentence=sentence)
