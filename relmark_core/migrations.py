"""Schema versions: open a database made by an older Relmark by upgrading it.

``store.SCHEMA_VERSION`` counts the schema's versions. A database remembers the version that
made it (meta ``schema_version``). Opening one made by an older Relmark runs the steps below
in ONE transaction, after an automatic backup written next to the database
(``backups/relmark-<UTC time>-before-schema-<N>.zip``); if a step fails, the transaction rolls
back and the file stays as it was. A database made by a newer Relmark is refused untouched
(:func:`relmark_core.store.ensure_schema`).

Tables added *within* a version need no step: ``CREATE TABLE IF NOT EXISTS`` in
``store.SCHEMA`` creates them when the schema text's hash changes. A step is needed when a
version changes what existing rows mean or need (fill a new table from old columns, change a
column). Steps run on the connection's default database, so a restore can run them on the
older backup's tables in a staging database too (:mod:`relmark_core.backup`).

Adding version N+1: raise ``store.SCHEMA_VERSION``, append a :class:`Step` from N, and add the
tables version N had to :data:`TABLES_BY_VERSION` (a backup made by version N holds them).
A step that changes an existing table must be written so it also works when a later version's
``store.SCHEMA`` already created the new tables (``IF NOT EXISTS``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from relmark_core import store
from relmark_core.errors import RelmarkError

__all__ = [
    "Step",
    "STEPS",
    "TABLES_BY_VERSION",
    "BACKUP_FOLDER",
    "UPGRADE_ACTOR",
    "LAST_UPGRADE_KEY",
    "database_file",
    "automatic_backup_path",
    "steps_from",
    "apply_steps",
    "upgrade",
]

log = logging.getLogger("relmark.migrations")

BACKUP_FOLDER = "backups"  # automatic backups: a folder next to the database file
UPGRADE_ACTOR = "relmark upgrade"  # the audit log's actor for an upgrade
LAST_UPGRADE_KEY = "last_upgrade"  # meta: the sentence describing the last upgrade
_STAMP_FORMAT = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class Step:
    """Upgrade a database from ``from_version`` to ``from_version + 1`` (inside the caller's
    transaction: a step never commits)."""

    from_version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]

    @property
    def to_version(self) -> int:
        return self.from_version + 1


def _v1_to_v2(conn: duckdb.DuckDBPyConnection) -> None:
    # Imported here: the consent module imports the store, which imports this module lazily.
    from relmark_core.privacy.consent import backfill_from_accepts_marketing

    conn.execute(store.SCHEMA)  # the tables version 2 added (all IF NOT EXISTS)
    backfill_from_accepts_marketing(conn)


STEPS: tuple[Step, ...] = (
    Step(
        1,
        "consent per channel (email consent taken from accepts_marketing), the suppression "
        "list, accounts, saved views and automations",
        _v1_to_v2,
    ),
)

# The tables each earlier version's databases (and so its backups) hold. Never edit an entry.
TABLES_BY_VERSION: dict[int, frozenset[str]] = {
    1: frozenset({
        "audit_log", "customer_keys", "customers", "feedback", "feedback_followups",
        "import_added_keys", "import_mappings", "import_prev_customers", "import_prev_feedback",
        "import_prev_order_lines", "import_prev_orders", "imports", "loyalty_ledger",
        "loyalty_versions", "meta", "offer_codes", "offer_events", "offer_launches",
        "offer_members", "offers", "order_lines", "orders", "rejected_rows", "rfm_groups",
        "segments", "settings",
    }),
}


def database_file(conn: duckdb.DuckDBPyConnection) -> Path | None:
    """The file behind the connection's default database, or None for an in-memory one."""
    path = store.scalar(
        conn, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    )
    return Path(path) if path else None


def automatic_backup_path(db_file: Path, reason: str, *, at: datetime | None = None) -> Path:
    """``<db folder>/backups/relmark-<UTC time>-<reason>.zip`` (a new name each second)."""
    stamp = (at or store.utc_now()).strftime(_STAMP_FORMAT)
    folder = db_file.parent / BACKUP_FOLDER
    path = folder / f"relmark-{stamp}-{reason}.zip"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"relmark-{stamp}-{reason}-{n}.zip"
    return path


def steps_from(version: int) -> list[Step]:
    """The steps from ``version`` to the current one, in order."""
    steps = [s for s in STEPS if s.from_version >= version]
    if [s.from_version for s in steps] != list(range(version, store.SCHEMA_VERSION)):
        raise RelmarkError(
            f"This Relmark cannot upgrade a database of schema version {version} (it upgrades "
            f"versions {min(s.from_version for s in STEPS)} to {store.SCHEMA_VERSION - 1}). "
            "Open it with an intermediate Relmark release first; the file was not changed."
        )
    return steps


def apply_steps(conn: duckdb.DuckDBPyConnection, version: int) -> None:
    """Run the steps from ``version`` to the current one on the connection's default database,
    then create any tables added within the current version (call inside a transaction)."""
    for step in steps_from(version):
        step.apply(conn)
    conn.execute(store.SCHEMA)


def upgrade(conn: duckdb.DuckDBPyConnection, version: int) -> str:
    """Upgrade the database from ``version``: automatic backup, then one transaction.

    Returns
    -------
    str
        The sentence saying what happened and where the backup is (also kept in meta
        ``last_upgrade`` for the Data page, and in the audit log).

    Raises
    ------
    RelmarkError
        When a step fails: nothing was changed (the backup stays).
    """
    steps_from(version)  # refuse an unknown version before writing anything
    from relmark_core.backup import write_backup  # backup imports this module

    db_file = database_file(conn)
    copy: Path | None = None
    if db_file is not None:
        copy = automatic_backup_path(db_file, f"before-schema-{store.SCHEMA_VERSION}")
        try:
            write_backup(conn, copy, created_by=UPGRADE_ACTOR)
        except OSError as exc:
            raise RelmarkError(
                f"Relmark must upgrade the database {db_file} (schema version {version} to "
                f"{store.SCHEMA_VERSION}) but could not first save a copy to {copy} "
                f"({exc.strerror or type(exc).__name__}). Nothing was changed. Free some disk "
                "space or make that folder writable, then open Relmark again."
            ) from exc
    where = f" A copy from before the upgrade is at {copy}." if copy else ""
    sentence = (
        f"Relmark upgraded this database from schema version {version} to "
        f"{store.SCHEMA_VERSION} on {store.utc_now():%Y-%m-%d %H:%M} UTC.{where}"
    )
    try:
        with store.transaction(conn):
            apply_steps(conn, version)
            store.stamp_schema(conn)
            store.set_meta(conn, LAST_UPGRADE_KEY, sentence)
            store.audit(
                conn, UPGRADE_ACTOR, "schema upgraded",
                f"schema {version} -> {store.SCHEMA_VERSION}; backup {copy or 'none (in memory)'}",
            )
            store.bump_data_version(conn)
    except Exception as exc:
        log.exception("schema upgrade from %s failed", version)
        raise RelmarkError(
            f"Relmark could not upgrade the database{f' {db_file}' if db_file else ''} from "
            f"schema version {version} to {store.SCHEMA_VERSION} ({type(exc).__name__}). "
            f"Nothing was changed.{where} Keep using the Relmark release that made it, and "
            "report the problem with the log."
        ) from exc
    log.warning("%s", sentence)
    return sentence
