"""Closing the loop: the detractor follow-up list, its contacted / resolved marks, and export.

The list holds every customer whose latest NPS answer (up to the as-of date) is a detractor
(0-6), newest answer first, with what they are worth. A marketer marks an answer ``contacted``
or ``resolved`` with a note; the mark is kept in the store's ``feedback_followups`` table (one
row per answer, the latest mark wins) and every mark is in the audit log. When the customer
answers again, the new answer is what the list shows: a detractor who answers again as a
detractor is open again; one who now promotes leaves the list.

Answers not matched to a customer are not listed (there is nobody to contact); they are in the
comments list. The marks live in the local store, the answers in the analytics source, so the
list works whichever backend holds the answers.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any, Literal

import duckdb
import ibis
import pandas as pd
from ibis.expr.types import Table

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.metrics.feedback import (
    CustomerFilter,
    customer_name,
    customer_value,
    latest_answers,
)
from relmark_core.money import cents
from relmark_core.source import Source
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "FollowupStatus",
    "FOLLOWUP_STATUSES",
    "OPEN",
    "ListStatus",
    "MAX_NOTE_CHARS",
    "FORMULA_PREFIXES",
    "FOLLOWUP_COLUMNS",
    "mark_followup",
    "followup_marks",
    "followup_list",
    "followup_counts",
    "neutralise_cell",
    "followups_csv",
]

FollowupStatus = Literal["contacted", "resolved"]
FOLLOWUP_STATUSES: tuple[FollowupStatus, ...] = ("contacted", "resolved")
OPEN = "open"
"""Status of a detractor answer nobody has marked yet."""
ListStatus = Literal["open", "contacted", "resolved"]
MAX_NOTE_CHARS = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet may run a cell starting with one of these as a formula."""

FOLLOWUP_COLUMNS = [
    "response_id",
    "answered_at",
    "score",
    "comment",
    "customer_id",
    "email",
    "name",
    "orders",
    "lifetime_revenue",
    "revenue_12m",
    "status",
    "note",
    "updated_by",
    "updated_at",
]


def mark_followup(
    conn: duckdb.DuckDBPyConnection,
    response_id: str,
    status: str,
    *,
    note: str = "",
    actor: str = DEFAULT_ACTOR,
) -> None:
    """Mark an answer contacted or resolved, with a note (replaces the answer's earlier mark).

    Raises
    ------
    InputRefused
        Unknown status, a note over :data:`MAX_NOTE_CHARS` characters, or an answer id the
        store does not hold.
    NotAllowed
        The actor's role is below editor.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "mark feedback follow-ups")
    if status not in FOLLOWUP_STATUSES:
        raise InputRefused(
            f"'{status}' is not a follow-up status. Choose one of: {', '.join(FOLLOWUP_STATUSES)}."
        )
    note = (note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InputRefused(
            f"The note is {len(note)} characters long; keep it under {MAX_NOTE_CHARS} "
            "(put longer write-ups in your CRM and link them here)."
        )
    with store.transaction(conn):
        found = store.scalar(
            conn, "SELECT count(*) FROM feedback WHERE response_id = ?", [response_id]
        )
        if not found:
            raise InputRefused(
                f"There is no answer with id '{response_id}' in the store (was its import "
                "undone?). Reload the follow-up list and try again."
            )
        conn.execute(
            "INSERT OR REPLACE INTO feedback_followups "
            "(response_id, status, note, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)",
            [response_id, status, note or None, actor, store.utc_now()],
        )
        # The note is free text about a customer: it stays in feedback_followups, not the log.
        store.audit(
            conn, actor, f"feedback follow-up {status}",
            f"answer {response_id}" + (" (with a note)" if note else ""),
        )
        store.bump_data_version(conn)


_MARKS_TABLE_EXISTS = (
    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'feedback_followups'"
)
_MARK_COLUMNS = ["response_id", "status", "note", "updated_by", "updated_at"]
_MARK_SCHEMA = ibis.schema(
    {
        "response_id": "string",
        "status": "string",
        "note": "string",
        "updated_by": "string",
        "updated_at": "timestamp",
    }
)


def followup_marks(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every mark: ``response_id``, ``status``, ``note``, ``updated_by``, ``updated_at``."""
    if not store.scalar(conn, _MARKS_TABLE_EXISTS):  # a store made before follow-ups existed
        return pd.DataFrame([], columns=_MARK_COLUMNS)
    rows = conn.execute(
        "SELECT response_id, status, note, updated_by, updated_at FROM feedback_followups"
    ).fetchall()
    return pd.DataFrame(rows, columns=_MARK_COLUMNS)


def followup_list(
    src: Source,
    conn: duckdb.DuckDBPyConnection,
    *,
    as_of: date,
    status: ListStatus | None = None,
    customers: CustomerFilter | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> pd.DataFrame:
    """Customers whose latest NPS answer up to ``as_of`` is a detractor, newest answer first.

    Parameters
    ----------
    src
        Where the answers and orders are read.
    conn
        The local store, which keeps the marks.
    status
        Only ``open`` (never marked), ``contacted`` or ``resolved`` answers.
    customers
        Only these customers (ids or a table with ``customer_id``).
    limit, offset
        At most ``limit`` rows, after skipping ``offset`` (for pages of a long list).

    Returns
    -------
    DataFrame
        :data:`FOLLOWUP_COLUMNS`: the answer (id, time, score, comment), the customer (id,
        email, name), their value (counted ``orders``, ``lifetime_revenue`` and
        ``revenue_12m`` in the reporting currency, as of ``as_of``) and the mark (``status``:
        open / contacted / resolved, ``note``, who and when).
    """
    top = _marked_detractors(src, conn, as_of=as_of, customers=customers)
    if status is not None:
        top = top.filter(top.status == status)
    top = top.order_by([top.answered_at.desc(), top.response_id.desc()])
    if limit is not None:
        top = top.limit(limit, offset=offset)
    # value and contact details only for the rows shown
    v = customer_value(src, as_of=as_of, customers=top.select("customer_id"))
    c = src.customers
    j = top.left_join(v, top.customer_id == v.customer_id).left_join(
        c, top.customer_id == c.customer_id
    )
    zero = ibis.literal(0).cast(v.lifetime_revenue.type())
    expr = j.select(
        response_id=j.response_id,
        answered_at=j.answered_at,
        score=j.score,
        comment=j.comment,
        customer_id=top.customer_id,
        email=j.email,
        name=customer_name(j),
        orders=j.orders.fill_null(0),
        lifetime_revenue=j.lifetime_revenue.fill_null(zero),
        revenue_12m=j.revenue_12m.fill_null(zero),
        status=j.status,
        note=j.note,
        updated_by=j.updated_by,
        updated_at=j.updated_at,
    ).order_by([ibis.desc("answered_at"), ibis.desc("response_id")])
    df = src.execute(expr)
    for col in ("lifetime_revenue", "revenue_12m"):
        df[col] = [cents(x) for x in df[col]]
    return df[FOLLOWUP_COLUMNS].reset_index(drop=True)


def followup_counts(
    src: Source,
    conn: duckdb.DuckDBPyConnection,
    *,
    as_of: date,
    customers: CustomerFilter | None = None,
) -> dict[str, int]:
    """How many listed detractors are open, contacted and resolved (every status present)."""
    t = _marked_detractors(src, conn, as_of=as_of, customers=customers)
    df = src.execute(t.group_by("status").aggregate(n=t.count()))
    found = {str(r.status): int(r.n) for r in df.itertuples()}
    return {s: found.get(s, 0) for s in (OPEN, *FOLLOWUP_STATUSES)}


def _marked_detractors(
    src: Source,
    conn: duckdb.DuckDBPyConnection,
    *,
    as_of: date,
    customers: CustomerFilter | None,
) -> Table:
    """Latest-answer detractors joined to their marks (``status`` open where unmarked).

    The marks come from the local store and go to the source as a small in-memory table, so
    status filters and limits run where the answers are."""
    la = latest_answers(src, as_of=as_of, customers=customers)
    det = la.filter(la.nps_group == "detractor")
    m = ibis.memtable(followup_marks(conn), schema=_MARK_SCHEMA)
    m = m.rename(mark_response_id="response_id")
    j = det.left_join(m, det.response_id == m.mark_response_id)
    return j.select(
        response_id=det.response_id,
        answered_at=det.answered_at,
        score=det.score,
        comment=det.comment,
        customer_id=det.customer_id,
        status=j.status.fill_null(OPEN),
        note=j.note,
        updated_by=j.updated_by,
        updated_at=j.updated_at,
    )


def neutralise_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading ``'``; other values are
    returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def followups_csv(
    df: pd.DataFrame, *, conn: duckdb.DuckDBPyConnection, actor: str = DEFAULT_ACTOR
) -> str:
    """The follow-up list as CSV text, every text cell formula-neutralised
    (:func:`neutralise_cell`), empty cells for missing values.

    Raises
    ------
    NotAllowed
        The list names people (emails, comments): exporting it needs the editor role.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "export personal data")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([neutralise_cell(str(c)) for c in df.columns])
    for row in df.itertuples(index=False):
        writer.writerow(
            ["" if _missing(v) else neutralise_cell(v) if isinstance(v, str) else str(v) for v in row]
        )
    return buf.getvalue()


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
