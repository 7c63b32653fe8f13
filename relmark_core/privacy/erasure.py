"""Erasure requests: remove a person everywhere, keep their orders as anonymous rows.

What erasing does, in one transaction:

1. Finds the person's customer records by email (trimmed, lower-case) or phone (digits only).
2. Records salted SHA-256 hashes of every identifier Relmark held for them (emails, phones and
   each source system's customer id) in ``erased_identities``, so an import of an old export
   skips their rows (:func:`skip_erased_rows`) instead of bringing them back.
3. Gives each record a fresh random id (``erased-…``) in every table that has a
   ``customer_id`` column — Relmark's own ids are derived from the email, so the old id is an
   identifier too — and deletes the identity keys.
4. Clears the personal fields of the customer row (and of the copies kept for undoing
   imports), the person's feedback comments and titles, and follow-up notes on them.
5. Replaces any remaining mention of their email addresses, phone numbers or full name in
   every text column of every table with ``[erased]`` (rejected import rows, exports history…).

Orders, order lines and scores stay, so shop totals do not change. The audit log records who
erased how many records and when — never the erased data.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from relmark_core import auth, store
from relmark_core.auth import Role
from relmark_core.errors import InputRefused

__all__ = [
    "ERASED_ID_PREFIX",
    "ERASED_TEXT",
    "PERSONAL_CUSTOMER_FIELDS",
    "Person",
    "ErasureResult",
    "normalise_email",
    "normalise_phone",
    "find_person",
    "erase_person",
    "identity_hash",
    "skip_erased_rows",
]

ERASED_ID_PREFIX = "erased-"
ERASED_TEXT = "[erased]"
# Fields of a customer row that describe the person; country and acquisition channel stay
# (coarse, not identifying alone) so country and channel totals do not change.
PERSONAL_CUSTOMER_FIELDS = (
    "email", "email_norm", "first_name", "last_name", "phone", "birthday", "gender", "city",
    "region", "tags",
)
_SALT_KEY = "erasure_salt"
_MIN_PHONE_DIGITS = 6
_ID_CHARS = 12  # hex characters of the random part of an erased record's id


def normalise_email(value: str) -> str:
    return value.strip().lower()


def normalise_phone(value: str) -> str:
    """Digits only (a leading + and spaces, dashes and brackets dropped)."""
    return re.sub(r"\D", "", value)


@dataclass(frozen=True)
class Person:
    """The customer records an email or phone leads to, and what Relmark holds on them."""

    customer_ids: list[str]
    emails: list[str] = field(default_factory=list)  # as stored, every spelling
    phones: list[str] = field(default_factory=list)
    full_names: list[str] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)  # customer_keys (type, value)
    orders: int = 0
    feedback: int = 0

    def sentence(self) -> str:
        n = len(self.customer_ids)
        rec = "1 customer record" if n == 1 else f"{n:,} customer records"
        return (
            f"{rec} with {self.orders:,} {'order' if self.orders == 1 else 'orders'} and "
            f"{self.feedback:,} feedback {'answer' if self.feedback == 1 else 'answers'}"
        )


@dataclass(frozen=True)
class ErasureResult:
    records: int
    orders_kept: int
    comments_removed: int
    identifiers_blocked: int
    mentions_removed: int

    def sentence(self) -> str:
        return (
            f"Erased {self.records:,} customer {'record' if self.records == 1 else 'records'}: "
            f"personal details and {self.comments_removed:,} feedback "
            f"{'comment' if self.comments_removed == 1 else 'comments'} removed, "
            f"{self.orders_kept:,} {'order stays' if self.orders_kept == 1 else 'orders stay'} "
            "as anonymous rows (shop totals unchanged). Later imports skip this person."
        )


def _rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()


def find_person(
    conn: duckdb.DuckDBPyConnection, *, email: str | None = None, phone: str | None = None
) -> Person:
    """The person an email and/or phone number leads to (no records: an empty Person).

    Raises
    ------
    InputRefused
        Neither an email nor a phone with enough digits was given.
    """
    email_n = normalise_email(email) if email and email.strip() else None
    phone_n = normalise_phone(phone) if phone else None
    if email_n is None and not phone_n:
        raise InputRefused("Give the person's email address or phone number to look them up.")
    if phone_n is not None and phone_n and len(phone_n) < _MIN_PHONE_DIGITS:
        raise InputRefused(
            f"The phone number has only {len(phone_n)} digits; give the full number "
            "(with country code if the shop stores it)."
        )
    ids: set[str] = set()
    if email_n:
        ids |= {r[0] for r in _rows(conn, "SELECT customer_id FROM customers WHERE email_norm = ?",
                                    [email_n])}
        ids |= {r[0] for r in _rows(conn, "SELECT customer_id FROM customer_keys "
                                    "WHERE key_type = 'email' AND key_value = ?", [email_n])}
    if phone_n:
        ids |= {r[0] for r in _rows(
            conn, "SELECT customer_id FROM customers WHERE phone IS NOT NULL AND "
            "regexp_replace(phone, '[^0-9]', '', 'g') = ?", [phone_n])}
    return _describe(conn, sorted(ids))


def _describe(conn: duckdb.DuckDBPyConnection, ids: list[str]) -> Person:
    if not ids:
        return Person(customer_ids=[])
    marks = ", ".join("?" for _ in ids)
    rows = _rows(
        conn,
        f"SELECT email, email_norm, phone, first_name, last_name FROM customers "  # noqa: S608
        f"WHERE customer_id IN ({marks}) UNION ALL "
        f"SELECT email, email_norm, phone, first_name, last_name FROM import_prev_customers "
        f"WHERE customer_id IN ({marks})",
        [*ids, *ids],
    )
    emails = sorted({v for r in rows for v in (r[0], r[1]) if v})
    phones = sorted({r[2] for r in rows if r[2]})
    names = sorted({f"{r[3]} {r[4]}" for r in rows if r[3] and r[4]})
    keys = [
        (str(k), str(v))
        for k, v in _rows(conn, f"SELECT key_type, key_value FROM customer_keys "  # noqa: S608
                          f"WHERE customer_id IN ({marks})", list(ids))
    ]
    orders = int(store.scalar(conn, f"SELECT count(*) FROM orders "  # noqa: S608
                              f"WHERE customer_id IN ({marks})", list(ids)) or 0)
    feedback = int(store.scalar(conn, f"SELECT count(*) FROM feedback "  # noqa: S608
                                f"WHERE customer_id IN ({marks})", list(ids)) or 0)
    return Person(customer_ids=ids, emails=emails, phones=phones, full_names=names, keys=keys,
                  orders=orders, feedback=feedback)


def _salt(conn: duckdb.DuckDBPyConnection) -> str:
    salt = store.get_meta(conn, _SALT_KEY)
    if salt is None:
        salt = secrets.token_hex(16)
        store.set_meta(conn, _SALT_KEY, salt)
    return salt


def identity_hash(salt: str, key: str) -> str:
    """The salted hash kept for an erased identifier ``key`` ('email:…', 'phone:…',
    '<source system>:<their customer id>'). DuckDB's ``sha256`` gives the same value."""
    import hashlib

    return hashlib.sha256((salt + key).encode()).hexdigest()


def _identity_keys(person: Person) -> set[str]:
    keys = {f"email:{normalise_email(e)}" for e in person.emails}
    keys |= {f"phone:{normalise_phone(p)}" for p in person.phones if normalise_phone(p)}
    keys |= {f"{t}:{v}" for t, v in person.keys}
    return keys


def _tables_with(conn: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    return [
        r[0]
        for r in _rows(
            conn,
            "SELECT table_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND column_name = ? AND NOT internal ORDER BY table_name",
            [column],
        )
        if _is_table(conn, r[0])
    ]


def _is_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(store.scalar(
        conn, "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?", [name]))


def _text_columns(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [
        (str(t), str(c))
        for t, c in _rows(
            conn,
            "SELECT c.table_name, c.column_name FROM duckdb_columns() c JOIN duckdb_tables() t "
            "ON t.database_name = c.database_name AND t.schema_name = c.schema_name "
            "AND t.table_name = c.table_name WHERE c.database_name = current_database() "
            "AND c.schema_name = 'main' AND c.data_type = 'VARCHAR' "
            "ORDER BY c.table_name, c.column_index",
            [],
        )
    ]


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"unexpected identifier {name!r}")
    return f'"{name}"'


def _mention_pattern(needles: Iterable[str]) -> str | None:
    """One case-insensitive RE2 pattern matching any needle not inside a longer word."""
    parts = sorted({re.escape(n) for n in needles if n and len(n.strip()) >= 3}, key=len,
                   reverse=True)
    if not parts:
        return None
    return r"(^|[^A-Za-z0-9_.+-])(" + "|".join(parts) + r")($|[^A-Za-z0-9_-])"


def _scrub_mentions(conn: duckdb.DuckDBPyConnection, pattern: str) -> int:
    """Replace every mention matching ``pattern`` in every text column with ERASED_TEXT."""
    hit = 0
    for table, column in _text_columns(conn):
        t, c = _ident(table), _ident(column)
        n = int(store.scalar(
            conn, f"SELECT count(*) FROM {t} WHERE regexp_matches({c}, ?, 'i')",  # noqa: S608
            [pattern]) or 0)
        if n:
            conn.execute(
                f"UPDATE {t} SET {c} = regexp_replace({c}, ?, '\\1' || ? || '\\3', 'gi') "  # noqa: S608
                f"WHERE regexp_matches({c}, ?, 'i')",
                [pattern, ERASED_TEXT, pattern],
            )
            hit += n
    return hit


def erase_person(
    conn: duckdb.DuckDBPyConnection,
    *,
    email: str | None = None,
    phone: str | None = None,
    actor: str = store.DEFAULT_ACTOR,
) -> ErasureResult:
    """Erase the person an email/phone leads to (see the module docstring), all or nothing.

    Raises
    ------
    InputRefused
        Nobody matches, or no email/phone was given; nothing changed.
    NotAllowed
        The actor is not an admin.
    """
    auth.require(conn, actor, Role.ADMIN, "erase a person's data")
    person = find_person(conn, email=email, phone=phone)
    if not person.customer_ids:
        raise InputRefused(
            "Nobody in Relmark has that email address or phone number. Check the spelling; "
            "nothing was changed."
        )
    ids = person.customer_ids
    marks = ", ".join("?" for _ in ids)
    with store.transaction(conn):
        salt = _salt(conn)
        hashes = sorted({identity_hash(salt, k) for k in _identity_keys(person)})
        now = store.utc_now()
        conn.executemany(
            "INSERT OR IGNORE INTO erased_identities VALUES (?, ?)", [[h, now] for h in hashes]
        )
        responses = [r[0] for r in _rows(
            conn, f"SELECT response_id FROM feedback WHERE customer_id IN ({marks})",  # noqa: S608
            list(ids))]
        comments = int(store.scalar(
            conn, f"SELECT count(*) FROM feedback WHERE customer_id IN ({marks}) "  # noqa: S608
            "AND (comment IS NOT NULL OR title IS NOT NULL)", list(ids)) or 0)
        for table in ("feedback", "import_prev_feedback"):
            conn.execute(f"UPDATE {table} SET comment = NULL, title = NULL "  # noqa: S608
                         f"WHERE customer_id IN ({marks})", list(ids))
        if responses:
            rmarks = ", ".join("?" for _ in responses)
            conn.execute(f"UPDATE feedback_followups SET note = NULL "  # noqa: S608
                         f"WHERE response_id IN ({rmarks})", responses)
        cleared = ", ".join(f"{f} = NULL" for f in PERSONAL_CUSTOMER_FIELDS)
        for table in ("customers", "import_prev_customers"):
            conn.execute(f"UPDATE {table} SET {cleared} "  # noqa: S608
                         f"WHERE customer_id IN ({marks})", list(ids))
        conn.execute(f"DELETE FROM customer_keys WHERE customer_id IN ({marks})", list(ids))  # noqa: S608
        for key_type, key_value in person.keys:
            conn.execute("DELETE FROM import_added_keys WHERE key_type = ? AND key_value = ?",
                         [key_type, key_value])
        for old in ids:
            new = ERASED_ID_PREFIX + secrets.token_hex(_ID_CHARS // 2)
            for table in _tables_with(conn, "customer_id"):
                conn.execute(f"UPDATE {_ident(table)} SET customer_id = ? "  # noqa: S608
                             "WHERE customer_id = ?", [new, old])
        # Their entries on the suppression list go too: erased people are skipped by imports.
        for e in person.emails:
            conn.execute("DELETE FROM suppression WHERE kind = 'email' AND value = ?",
                         [normalise_email(e)])
        for p in person.phones:
            conn.execute("DELETE FROM suppression WHERE kind = 'phone' AND "
                         "regexp_replace(value, '[^0-9]', '', 'g') = ?", [normalise_phone(p)])
        needles = [*person.emails, *person.phones, *person.full_names, *ids]
        pattern = _mention_pattern(needles)
        mentions = _scrub_mentions(conn, pattern) if pattern else 0
        batch_files = _batch_files(conn)
        store.audit(conn, actor, "person erased",
                    f"{len(ids)} customer record(s); {person.orders} order(s) kept anonymous; "
                    f"{comments} comment(s) removed; {len(hashes)} identifier(s) blocked")
        store.bump_data_version(conn)
    # Export files already written (automation batches) lose the person's lines too; files
    # cannot join the transaction, so this runs once the database change is committed.
    lines = sum(_scrub_file(path, pattern) for path in batch_files) if pattern else 0
    return ErasureResult(records=len(ids), orders_kept=person.orders, comments_removed=comments,
                         identifiers_blocked=len(hashes), mentions_removed=mentions + lines)


def _batch_files(conn: duckdb.DuckDBPyConnection) -> list[Path]:
    if not _is_table(conn, "automation_runs"):
        return []
    rows = _rows(conn, "SELECT DISTINCT batch_file FROM automation_runs "
                 "WHERE batch_file IS NOT NULL", [])
    return [Path(r[0]) for r in rows]


def _scrub_file(path: Path, pattern: str) -> int:
    """Drop the lines of an export file that mention the person; returns how many went."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return 0
    rx = re.compile(pattern, re.IGNORECASE)
    kept = [line for line in text.splitlines(keepends=True) if not rx.search(line)]
    gone = len(text.splitlines()) - len(kept)
    if gone:
        tmp = path.with_name(path.name + ".erasing")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)
    return gone


def skip_erased_rows(conn: duckdb.DuckDBPyConnection, system: str) -> int:
    """Drop the rows of an import's ``_imp_rows`` that belong to an erased person.

    A row belongs to them when its email, phone or source customer id hashes to a recorded
    identity; for orders exports, every row of such an order goes (Shopify puts the email on
    the first line only). Returns how many rows were skipped."""
    if not int(store.scalar(conn, "SELECT count(*) FROM erased_identities") or 0):
        return 0
    salt = _salt(conn)
    columns = {r[0] for r in _rows(conn, "SELECT column_name FROM duckdb_columns() WHERE "
                                   "table_name = '_imp_rows' AND schema_name = 'main' AND "
                                   "database_name = 'temp'", [])}
    keys = []
    if "f_email_norm" in columns:
        keys.append("'email:' || f_email_norm")
    if "f_phone" in columns:
        keys.append("'phone:' || regexp_replace(f_phone, '[^0-9]', '', 'g')")
    if "f_customer_id" in columns:
        keys.append("? || ':' || f_customer_id")
    if not keys:
        return 0
    params: list[object] = []
    conds = []
    for k in keys:
        conds.append(f"sha256(? || ({k})) IN (SELECT identity_hash FROM erased_identities)")  # noqa: S608
        params.append(salt)
        if k.startswith("?"):
            params.append(system)
    match = " OR ".join(conds)
    rows = f"SELECT k FROM _imp_rows WHERE {match}"  # noqa: S608
    if "f_order_id" in columns:
        rows = (f"SELECT k FROM _imp_rows WHERE f_order_id IN (SELECT f_order_id FROM _imp_rows "  # noqa: S608
                f"WHERE ({match}) AND f_order_id IS NOT NULL) OR ({match})")
        params = params + params
    before = int(store.scalar(conn, "SELECT count(*) FROM _imp_rows") or 0)
    conn.execute(f"DELETE FROM _imp_rows WHERE k IN ({rows})", params)  # noqa: S608
    after = int(store.scalar(conn, "SELECT count(*) FROM _imp_rows") or 0)
    return before - after
