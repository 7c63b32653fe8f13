"""Access requests: one file with everything Relmark holds about a person.

The file is JSON: a short explanation, then one section per kind of record (their customer
record, identity keys, consent, suppression entries, orders with their lines, feedback and
follow-ups, loyalty ledger, offers and codes, automation entries, and the copies kept for
undoing imports). Sections come from every table that has a ``customer_id`` column, so records
added by later features are included without changes here.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from relmark_core import auth, store
from relmark_core.auth import Role
from relmark_core.errors import InputRefused
from relmark_core.privacy.erasure import find_person, normalise_email, normalise_phone

__all__ = ["SECTION_TITLES", "access_request", "access_file_name"]

# Plain titles for the tables a person's records live in; other tables use their own name.
SECTION_TITLES = {
    "customers": "Customer record",
    "customer_keys": "Identifiers from each system (email, shop customer ids)",
    "consent": "Marketing consent per channel",
    "orders": "Orders",
    "order_lines": "Order lines (products bought)",
    "feedback": "Survey answers and reviews",
    "feedback_followups": "Follow-ups on survey answers",
    "loyalty_ledger": "Loyalty points ledger",
    "offer_members": "Offers sent (or held out)",
    "offer_codes": "Discount codes issued",
    "suppression": "Do-not-contact list entries",
}
_FIRST = ("customers", "customer_keys", "consent", "suppression", "orders", "order_lines",
          "feedback", "feedback_followups", "loyalty_ledger", "offer_members", "offer_codes")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _records(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _tables_with_customer_id(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "SELECT c.table_name FROM duckdb_columns() c JOIN duckdb_tables() t "
        "ON t.database_name = c.database_name AND t.schema_name = c.schema_name "
        "AND t.table_name = c.table_name WHERE c.database_name = current_database() "
        "AND c.schema_name = 'main' AND c.column_name = 'customer_id' ORDER BY c.table_name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def access_request(
    conn: duckdb.DuckDBPyConnection,
    *,
    email: str | None = None,
    phone: str | None = None,
    actor: str = store.DEFAULT_ACTOR,
) -> bytes:
    """Everything Relmark holds about the person an email/phone leads to, as a JSON file.

    Raises
    ------
    InputRefused
        Nobody matches (the message says so; nothing is written).
    NotAllowed
        The actor's role may not export personal data (editors and admins may).
    """
    auth.require(conn, actor, Role.EDITOR, "export a person's data")
    person = find_person(conn, email=email, phone=phone)
    if not person.customer_ids:
        raise InputRefused(
            "Nobody in Relmark has that email address or phone number, so there is nothing to "
            "export. Check the spelling, or answer the person that Relmark holds no data on them."
        )
    ids = person.customer_ids
    marks = ", ".join("?" for _ in ids)
    sections: dict[str, list[dict[str, Any]]] = {}
    tables = _tables_with_customer_id(conn)
    undo = [t for t in tables if t.startswith("import_prev_")]
    for table in [t for t in _FIRST if t in tables] + [
        t for t in tables if t not in _FIRST and t not in undo
    ]:
        sections[table] = _records(
            conn, f'SELECT * FROM "{table}" WHERE customer_id IN ({marks})', list(ids)  # noqa: S608
        )
    sections["order_lines"] = _records(
        conn,
        f"SELECT l.* FROM order_lines l JOIN orders o USING (order_id) "  # noqa: S608
        f"WHERE o.customer_id IN ({marks}) ORDER BY l.order_id, l.line_no",
        list(ids),
    )
    sections["feedback_followups"] = _records(
        conn,
        f"SELECT f.* FROM feedback_followups f JOIN feedback USING (response_id) "  # noqa: S608
        f"WHERE feedback.customer_id IN ({marks})",
        list(ids),
    )
    emails = sorted({normalise_email(e) for e in person.emails})
    phones = sorted({normalise_phone(p) for p in person.phones})
    sections["suppression"] = [
        *_records(conn, "SELECT * FROM suppression WHERE kind = 'email' AND list_contains(?, value)",
                  [emails]),
        *_records(conn, "SELECT * FROM suppression WHERE kind = 'phone' AND list_contains(?, "
                  "regexp_replace(value, '[^0-9]', '', 'g'))", [phones]),
    ]
    for table in undo:
        sections[table] = _records(
            conn, f'SELECT * FROM "{table}" WHERE customer_id IN ({marks})', list(ids)  # noqa: S608
        )
    now = store.utc_now()
    doc = {
        "about": (
            "Everything Relmark holds about this person, exported for an access request on "
            f"{now:%Y-%m-%d %H:%M} UTC. Each section lists the records of one kind; "
            "'import_prev_*' sections are earlier versions kept so an import can be undone."
        ),
        "generated_at": now.isoformat(),
        "records": len(ids),
        "sections": [
            {"name": name, "title": SECTION_TITLES.get(name, name.replace("_", " ").capitalize()),
             "rows": rows}
            for name, rows in sections.items()
        ],
    }
    total = sum(len(r) for r in sections.values())
    with store.transaction(conn):
        store.audit(conn, actor, "access request exported",
                    f"{len(ids)} customer record(s), {total} row(s) in {len(sections)} sections")
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


def access_file_name(now: datetime | None = None) -> str:
    """A download name that holds no personal data."""
    when = now or store.utc_now()
    return f"relmark-access-request-{when:%Y%m%d-%H%M%S}.json"
