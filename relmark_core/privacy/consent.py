"""Marketing consent per channel (email, SMS, ads / custom audiences), with its source and date.

One row per customer and channel in the ``consent`` table: ``granted`` TRUE (opted in) or FALSE
(withdrawn, unsubscribed, never subscribed); no row = unknown, which counts as *no consent*
when an audience is filtered (:mod:`relmark_core.privacy.reach`).

Imports write consent in their own transaction (:mod:`relmark_core.imports.load`), so undoing an
import restores the consent it replaced.
"""

from __future__ import annotations

import duckdb

from relmark_core import store
from relmark_core.privacy.reach import Channel

__all__ = [
    "EARLIER_IMPORT_SOURCE",
    "backfill_from_accepts_marketing",
]

# The source recorded for email consent taken from customers.accepts_marketing, the single
# yes/no column Relmark kept before consent per channel existed.
EARLIER_IMPORT_SOURCE = "earlier import"


def backfill_from_accepts_marketing(conn: duckdb.DuckDBPyConnection) -> int:
    """Give email consent to customers who have none, from ``customers.accepts_marketing``.

    Customers whose ``accepts_marketing`` is unknown (NULL) stay without a row. The consent is
    dated by the customer's sign-up (when known) or now, and its source is
    ``EARLIER_IMPORT_SOURCE``. One INSERT statement: run it inside the caller's transaction
    (the schema migration does); it neither audits nor bumps the data version itself.

    Returns
    -------
    int
        How many consent rows were added.
    """
    before = _count(conn)
    conn.execute(
        """
        INSERT INTO consent (customer_id, channel, granted, source, recorded_at, import_id)
        SELECT c.customer_id, ?, c.accepts_marketing, ?,
               coalesce(c.signup_at, ?), NULL
        FROM customers c
        WHERE c.accepts_marketing IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM consent k WHERE k.customer_id = c.customer_id AND k.channel = ?
          )
        """,
        [Channel.EMAIL.value, EARLIER_IMPORT_SOURCE, store.utc_now(), Channel.EMAIL.value],
    ).fetchall()
    return _count(conn) - before


def _count(conn: duckdb.DuckDBPyConnection) -> int:
    rows = conn.execute("SELECT count(*) FROM consent").fetchall()
    return int(rows[0][0])
