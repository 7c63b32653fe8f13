"""The suppression list: email addresses and phone numbers never to contact.

An entry stops every channel for the customer holding that address or number (it is checked
before consent, see :mod:`relmark_core.privacy.reach`). Entries come from a person's request
(added by hand), an uploaded file, or an import that says someone unsubscribed. The list is
Relmark's own state, not the shop's data: "start empty" and the demo shop keep it
(``suppression`` is not in :data:`relmark_core.store.DATA_TABLES`), and undoing an import keeps
the unsubscribes it brought (when in doubt, do not contact).

Values are stored normalised so that a match never depends on how they were typed: an email
trimmed and lower-cased, a phone number as ``+`` and its digits. The audit log records who
changed the list and how many entries, never the addresses themselves.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import duckdb
import pandas as pd

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "Kind",
    "KINDS",
    "Reason",
    "REASONS",
    "REASON_LABELS",
    "REASON_HELP",
    "LIST_HELP",
    "MANUAL_SOURCE",
    "UPLOAD_SOURCE",
    "MIN_PHONE_DIGITS",
    "MAX_UPLOAD_ROWS",
    "EMAIL_HEADERS",
    "PHONE_HEADERS",
    "REASON_HEADERS",
    "LIST_COLUMNS",
    "UploadResult",
    "normalise_email",
    "normalise_phone",
    "normalise",
    "PHONE_NORM_SQL",
    "add_entry",
    "add_imported",
    "upload_csv",
    "remove_entry",
    "list_entries",
    "entries_csv",
    "count_entries",
    "suppressed_customers",
]

Kind = Literal["email", "phone"]
KINDS: tuple[Kind, ...] = ("email", "phone")
Reason = Literal["unsubscribed", "complaint", "manual", "uploaded"]
REASONS: tuple[Reason, ...] = ("unsubscribed", "complaint", "manual", "uploaded")
REASON_LABELS: dict[str, str] = {
    "unsubscribed": "Unsubscribed",
    "complaint": "Complaint (marked as spam, asked to stop)",
    "manual": "Added by hand",
    "uploaded": "Uploaded list",
}
REASON_HELP: dict[str, str] = {
    "unsubscribed": "Addresses whose owner unsubscribed: added by hand, from an uploaded file, "
    "or automatically when an import (e.g. Klaviyo's UNSUBSCRIBED state) says so.",
    "complaint": "Addresses whose owner complained (marked a message as spam, asked to stop).",
    "manual": "Addresses added by hand on this page without a more specific reason.",
    "uploaded": "Addresses from an uploaded file without a reason column.",
}
LIST_HELP = (
    "Email addresses and phone numbers never to contact. A customer with an address on this "
    "list is left out of every export, offer and automation, on every channel, before consent "
    "is even looked at. Starting empty or loading the demo shop keeps the list."
)
MANUAL_SOURCE = "added by hand"
UPLOAD_SOURCE = "uploaded file"
MIN_PHONE_DIGITS = 6
MAX_UPLOAD_ROWS = 200_000
EMAIL_HEADERS = ("email", "email address", "e-mail", "emails")
PHONE_HEADERS = ("phone", "phone number", "mobile", "sms", "phone_number")
REASON_HEADERS = ("reason",)
LIST_COLUMNS = ("kind", "value", "reason", "source", "added_by", "added_at")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NON_DIGITS = re.compile(r"[^0-9]")

# The same normalisation as :func:`normalise_phone`, in SQL (for customers.phone).
PHONE_NORM_SQL = "nullif('+' || regexp_replace(coalesce({col}, ''), '[^0-9]', '', 'g'), '+')"


@dataclass(frozen=True)
class UploadResult:
    """What an upload did: entries new to the list, and ones it already held."""

    added: int
    already: int


def normalise_email(value: str) -> str | None:
    """The address trimmed and lower-cased, or None if it is not an email address."""
    text = value.strip().lower()
    return text if _EMAIL_RE.match(text) else None


def normalise_phone(value: str) -> str | None:
    """``+`` and the number's digits (spaces, dashes, brackets and a leading ``'`` dropped),
    or None with fewer than :data:`MIN_PHONE_DIGITS` digits."""
    digits = _NON_DIGITS.sub("", value)
    return "+" + digits if len(digits) >= MIN_PHONE_DIGITS else None


def normalise(kind: Kind, value: str) -> str | None:
    return normalise_email(value) if kind == "email" else normalise_phone(value)


def _guess_kind(value: str) -> Kind:
    return "email" if "@" in value else "phone"


def _check_reason(reason: str) -> Reason:
    for r in REASONS:
        if r == reason:
            return r
    raise InputRefused(f"'{reason}' is not a suppression reason. Use one of: {', '.join(REASONS)}.")


def add_entry(
    conn: duckdb.DuckDBPyConnection,
    value: str,
    *,
    reason: str = "manual",
    kind: Kind | None = None,
    source: str = MANUAL_SOURCE,
    actor: str = DEFAULT_ACTOR,
) -> bool:
    """Put one email address or phone number on the list (kind guessed from an ``@``).

    Returns
    -------
    bool
        True if it was added, False if the list already held it (the first entry stays).

    Raises
    ------
    InputRefused
        The value is not an email address or a phone number, or the reason is unknown.
    NotAllowed
        The actor's role is below editor.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "change the suppression list")
    why = _check_reason(reason)
    k = kind or _guess_kind(value)
    norm = normalise(k, value)
    if norm is None:
        what = "an email address (name@domain)" if k == "email" else (
            f"a phone number (at least {MIN_PHONE_DIGITS} digits)")
        raise InputRefused(f"That is not {what}. Check it and add it again.")
    with store.transaction(conn):
        added = _insert(conn, [(k, norm)], why, source, actor, None)
        store.audit(conn, actor, "suppression added",
                    f"1 {k} ({why})" if added else f"1 {k} already on the list")
        store.bump_data_version(conn)
    return added == 1


def add_imported(
    conn: duckdb.DuckDBPyConnection,
    entries: Sequence[tuple[str, str]],
    *,
    source: str,
    actor: str,
    import_id: int,
) -> int:
    """Unsubscribes an import found (normalised ``(kind, value)`` pairs), added inside the
    import's transaction with the reason ``unsubscribed``; how many were new."""
    added = _insert(conn, entries, "unsubscribed", source, actor, import_id)
    if added:
        store.audit(conn, actor, "suppression added", f"{added} unsubscribed (import #{import_id})")
    return added


def _insert(
    conn: duckdb.DuckDBPyConnection,
    entries: Sequence[tuple[str, str]],
    reason: str,
    source: str,
    actor: str,
    import_id: int | None,
) -> int:
    """Insert entries not yet on the list (inside the caller's transaction); how many."""
    if not entries:
        return 0
    df = pd.DataFrame(list(dict.fromkeys(entries)), columns=["kind", "value"])
    before = int(store.scalar(conn, "SELECT count(*) FROM suppression"))
    conn.register("_supp_new", df)
    try:
        conn.execute(
            """
            INSERT INTO suppression (kind, value, reason, source, added_by, added_at, import_id)
            SELECT n.kind, n.value, ?, ?, ?, ?, ? FROM _supp_new n
            WHERE NOT EXISTS (SELECT 1 FROM suppression s
                              WHERE s.kind = n.kind AND s.value = n.value)
            """,
            [reason, source, actor, store.utc_now(), import_id],
        ).fetchall()
    finally:
        conn.unregister("_supp_new")
    return int(store.scalar(conn, "SELECT count(*) FROM suppression")) - before


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    norm = [h.strip().lower() for h in header]
    for n in names:
        if n in norm:
            return norm.index(n)
    return None


def upload_csv(
    conn: duckdb.DuckDBPyConnection,
    data: bytes,
    *,
    file_name: str = "suppression.csv",
    reason: str = "uploaded",
    actor: str = DEFAULT_ACTOR,
) -> UploadResult:
    """Add every address of a CSV file: all of it, or nothing if one row is wrong.

    The file has a header row with an ``Email`` column, a ``Phone`` column, or both (other
    names: :data:`EMAIL_HEADERS`, :data:`PHONE_HEADERS`); an optional ``Reason`` column holds
    one of :data:`REASONS` per row (else ``reason``). A row may leave one of the two empty.

    Raises
    ------
    InputRefused
        Naming the file, row (as a spreadsheet numbers it: the header is row 1) and column of
        the first wrong value; nothing was added.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "change the suppression list")
    default_reason = _check_reason(reason)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputRefused(
            f"{file_name}: the file is not UTF-8 text. Save it as CSV (UTF-8) and upload it "
            "again; nothing was added."
        ) from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error:
        rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputRefused(
            f"{file_name}: the first row is empty; it should be the header (Email, Phone). "
            "Nothing was added."
        )
    header = rows[0]
    e_col = _column(header, EMAIL_HEADERS)
    p_col = _column(header, PHONE_HEADERS)
    r_col = _column(header, REASON_HEADERS)
    if e_col is None and p_col is None:
        raise InputRefused(
            f"{file_name}: the header row has no 'Email' or 'Phone' column (it has: "
            f"{', '.join(repr(h) for h in header[:8])}). Name the column Email or Phone and "
            "upload it again; nothing was added."
        )
    if len(rows) - 1 > MAX_UPLOAD_ROWS:
        raise InputRefused(
            f"{file_name}: {len(rows) - 1:,} rows is more than the {MAX_UPLOAD_ROWS:,} an upload "
            "takes. Split the file and upload the parts; nothing was added."
        )
    by_reason: dict[str, list[tuple[str, str]]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank row
        found = False
        why: str = default_reason
        if r_col is not None and r_col < len(row) and row[r_col].strip():
            given = row[r_col].strip().lower()
            if given not in REASONS:
                raise InputRefused(
                    f"{file_name}: row {n}, column '{header[r_col]}': '{row[r_col].strip()}' is "
                    f"not a reason Relmark knows (use {', '.join(REASONS)}). Fix the row and "
                    "upload the file again; nothing was added."
                )
            why = given
        for col, k in ((e_col, "email"), (p_col, "phone")):
            if col is None or col >= len(row) or not row[col].strip():
                continue
            norm = normalise("email" if k == "email" else "phone", row[col])
            if norm is None:
                what = "an email address" if k == "email" else "a phone number"
                raise InputRefused(
                    f"{file_name}: row {n}, column '{header[col]}': the value is not {what}. "
                    "Fix the row and upload the file again; nothing was added."
                )
            by_reason.setdefault(why, []).append((k, norm))
            found = True
        if not found:
            raise InputRefused(
                f"{file_name}: row {n} has no email address or phone number. Fill it in or "
                "delete the row, then upload the file again; nothing was added."
            )
    total = sum(len(dict.fromkeys(v)) for v in by_reason.values())
    with store.transaction(conn):
        added = sum(
            _insert(conn, entries, why, f"{UPLOAD_SOURCE} {file_name}"[:200], actor, None)
            for why, entries in by_reason.items()
        )
        store.audit(conn, actor, "suppression uploaded",
                    f"{added} added, {total - added} already on the list")
        store.bump_data_version(conn)
    return UploadResult(added=added, already=total - added)


def remove_entry(
    conn: duckdb.DuckDBPyConnection,
    value: str,
    *,
    kind: Kind | None = None,
    actor: str = DEFAULT_ACTOR,
) -> None:
    """Take an address off the list (the person may be contacted again if they consent).

    Raises
    ------
    InputRefused
        The list does not hold it.
    NotAllowed
        The actor's role is below editor.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "change the suppression list")
    k = kind or _guess_kind(value)
    norm = normalise(k, value)
    held = norm is not None and store.scalar(
        conn, "SELECT count(*) FROM suppression WHERE kind = ? AND value = ?", [k, norm]
    )
    if not held:
        raise InputRefused(f"The suppression list does not hold that {k}. Search the list for it.")
    with store.transaction(conn):
        conn.execute("DELETE FROM suppression WHERE kind = ? AND value = ?", [k, norm])
        store.audit(conn, actor, "suppression removed", f"1 {k}")
        store.bump_data_version(conn)


def list_entries(conn: duckdb.DuckDBPyConnection, *, search: str = "") -> pd.DataFrame:
    """Entries newest first (:data:`LIST_COLUMNS`), optionally those containing ``search``."""
    needle = search.strip().lower()
    return conn.execute(
        """
        SELECT kind, value, reason, source, added_by, added_at FROM suppression
        WHERE ? = '' OR contains(value, ?)
        ORDER BY added_at DESC, kind, value
        """,
        [needle, needle],
    ).df()


def entries_csv(conn: duckdb.DuckDBPyConnection, *, actor: str = DEFAULT_ACTOR) -> bytes:
    """The whole list as CSV (``kind,value,reason,source,added_by,added_at``); editors only,
    as it holds personal data."""
    auth.require(conn, actor, auth.Role.EDITOR, "export personal data")
    df = list_entries(conn)
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def count_entries(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many entries per reason (every reason present, zeros included)."""
    rows = conn.execute("SELECT reason, count(*) FROM suppression GROUP BY reason").fetchall()
    counts: dict[str, int] = {r: 0 for r in REASONS}
    counts.update({str(r): int(n) for r, n in rows})
    return counts


def suppressed_customers(table: str) -> str:
    """SQL selecting the ``customer_id`` of rows of ``table`` (a temp table with a
    ``customer_id`` column; a fixed name from the caller, never user text) whose email or
    phone is on the list."""
    phone = PHONE_NORM_SQL.format(col="c.phone")
    return f"""
        SELECT t.customer_id FROM {table} t JOIN customers c USING (customer_id)
        JOIN suppression s ON s.kind = 'email' AND s.value = c.email_norm
        UNION
        SELECT t.customer_id FROM {table} t JOIN customers c USING (customer_id)
        JOIN suppression s ON s.kind = 'phone' AND s.value = {phone}
    """  # noqa: S608 - a fixed table name and SQL constants only
