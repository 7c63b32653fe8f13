"""The audit log: who changed what and when, listed with filters and exported as CSV.

Every write function records its change with :func:`relmark_core.store.audit` inside the
change's transaction (an import, an undo, a saved segment, a program version, an offer launched
or cancelled, a user or role changed, a settings change, a data reset...). This module only
*reads* the log: nothing in Relmark edits or deletes an audit row, and "start empty" and the
demo reload clear the shop's data but keep the log (and are logged themselves).

Reading the log is for admins: the functions here check the role first, like the writes do.
Times are naive UTC, as the store keeps them; the date filters are UTC days, both inclusive.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.feedback_followup import neutralise_cell
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "AUDIT_COLUMNS",
    "PAGE_ROWS",
    "AuditQuery",
    "list_entries",
    "count_entries",
    "actors",
    "actions",
    "span",
    "entries_csv",
    "export_csv",
    "export_file_name",
]

AUDIT_COLUMNS = ("logged_at", "actor", "action", "detail")
PAGE_ROWS = 500  # how many of the newest matching entries a page shows (the CSV has them all)
_READ_WHAT = "read the audit log"
_DAY_FORMAT = "%d %b %Y"


class AuditQuery(BaseModel):
    """Which entries to list: a UTC day range (both ends inclusive), who, which action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date | None = None
    end: date | None = None
    who: str | None = None
    action: str | None = None

    def check(self) -> None:
        """Refuse a range whose first day comes after its last."""
        if self.start is not None and self.end is not None and self.start > self.end:
            raise InputRefused(
                f"The first day ({self.start:{_DAY_FORMAT}}) is after the last day "
                f"({self.end:{_DAY_FORMAT}}). Pick a first day on or before the last day."
            )

    def where(self) -> tuple[str, dict[str, Any]]:
        """The SQL condition and its bound values (no value is ever put into the text)."""
        parts: list[str] = []
        params: dict[str, Any] = {}
        if self.start is not None:
            parts.append("logged_at >= $start")
            params["start"] = datetime.combine(self.start, time.min)
        if self.end is not None:
            parts.append("logged_at < $end")
            params["end"] = datetime.combine(self.end + timedelta(days=1), time.min)
        if self.who:
            parts.append("actor = $who")
            params["who"] = self.who
        if self.action:
            parts.append("action = $action")
            params["action"] = self.action
        return (" AND ".join(parts) or "TRUE"), params

    def sentence(self) -> str:
        """The filter in words, e.g. 'Changes from 01 Nov 2026 to 23 Nov 2026 by anna:
        import'."""
        text = "Changes"
        if self.start is not None and self.end is not None:
            text += f" from {self.start:{_DAY_FORMAT}} to {self.end:{_DAY_FORMAT}}"
        elif self.start is not None:
            text += f" since {self.start:{_DAY_FORMAT}}"
        elif self.end is not None:
            text += f" up to {self.end:{_DAY_FORMAT}}"
        if self.who:
            text += f" by {self.who}"
        if self.action:
            text += f": {self.action}"
        return text if text != "Changes" else "Every change"


def _entries(
    conn: duckdb.DuckDBPyConnection, query: AuditQuery, limit: int | None
) -> pd.DataFrame:
    query.check()
    where, params = query.where()
    sql = (
        "SELECT logged_at, actor, action, coalesce(detail, '') AS detail FROM audit_log "  # noqa: S608 - fixed clauses; values are bound
        f"WHERE {where} ORDER BY logged_at DESC, rowid DESC"
    )
    if limit is not None:
        sql += " LIMIT $limit"
        params["limit"] = int(limit)
    df = conn.execute(sql, params).df()
    return df[list(AUDIT_COLUMNS)].reset_index(drop=True)


def list_entries(
    conn: duckdb.DuckDBPyConnection,
    query: AuditQuery | None = None,
    *,
    limit: int | None = PAGE_ROWS,
    actor: str = DEFAULT_ACTOR,
) -> pd.DataFrame:
    """The matching entries, newest first (columns :data:`AUDIT_COLUMNS`); admins only.

    Parameters
    ----------
    query
        The filters (default: every entry).
    limit
        At most this many rows (the newest); None for all.
    actor
        Who is reading (the role check).

    Raises
    ------
    NotAllowed
        ``actor`` is not an admin.
    InputRefused
        The day range is reversed.
    """
    auth.require(conn, actor, auth.Role.ADMIN, _READ_WHAT)
    return _entries(conn, query or AuditQuery(), limit)


def count_entries(
    conn: duckdb.DuckDBPyConnection, query: AuditQuery | None = None, *,
    actor: str = DEFAULT_ACTOR,
) -> int:
    """How many entries match; admins only."""
    auth.require(conn, actor, auth.Role.ADMIN, _READ_WHAT)
    q = query or AuditQuery()
    q.check()
    where, params = q.where()
    return int(store.scalar(conn, f"SELECT count(*) FROM audit_log WHERE {where}",  # noqa: S608
                            params) or 0)  # type: ignore[arg-type]


def _distinct(conn: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    # ``column`` comes from the two fixed names below, never from a user.
    rows = conn.execute(f"SELECT DISTINCT {column} FROM audit_log ORDER BY 1").fetchall()  # noqa: S608
    return [str(r[0]) for r in rows]


def actors(conn: duckdb.DuckDBPyConnection, *, actor: str = DEFAULT_ACTOR) -> list[str]:
    """Everyone who appears in the log, A-Z (for the filter); admins only."""
    auth.require(conn, actor, auth.Role.ADMIN, _READ_WHAT)
    return _distinct(conn, "actor")


def actions(conn: duckdb.DuckDBPyConnection, *, actor: str = DEFAULT_ACTOR) -> list[str]:
    """Every kind of change in the log, A-Z (for the filter); admins only."""
    auth.require(conn, actor, auth.Role.ADMIN, _READ_WHAT)
    return _distinct(conn, "action")


def span(
    conn: duckdb.DuckDBPyConnection, *, actor: str = DEFAULT_ACTOR
) -> tuple[date, date] | None:
    """The first and last UTC day with an entry (None while the log is empty); admins only."""
    auth.require(conn, actor, auth.Role.ADMIN, _READ_WHAT)
    rows = conn.execute(
        "SELECT CAST(min(logged_at) AS DATE), CAST(max(logged_at) AS DATE) FROM audit_log"
    ).fetchall()
    first, last = rows[0]
    return None if first is None else (first, last)


def entries_csv(df: pd.DataFrame) -> bytes:
    """Entries as UTF-8 CSV: a header row, times as ``YYYY-MM-DD HH:MM:SS`` UTC, every text
    cell formula-neutralised (a detail starting with ``=`` is not run by a spreadsheet)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["logged_at_utc", "actor", "action", "detail"])
    times = pd.to_datetime(df["logged_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    for when, *texts in zip(times, df["actor"], df["action"], df["detail"], strict=True):
        writer.writerow([when, *(neutralise_cell(str(v)) for v in texts)])
    return buf.getvalue().encode("utf-8")


def export_csv(
    conn: duckdb.DuckDBPyConnection, query: AuditQuery | None = None, *,
    actor: str = DEFAULT_ACTOR,
) -> bytes:
    """Every matching entry (no row limit) as CSV, see :func:`entries_csv`; admins only."""
    return entries_csv(list_entries(conn, query, limit=None, actor=actor))


def export_file_name(today: date) -> str:
    """E.g. ``relmark-audit-log-2026-11-23.csv``."""
    return f"relmark-audit-log-{today.isoformat()}.csv"
