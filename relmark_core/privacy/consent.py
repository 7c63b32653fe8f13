"""Marketing consent per channel (email, SMS, ads / custom audiences), with its source and date.

One row per customer and channel in the ``consent`` table: ``granted`` TRUE (opted in) or FALSE
(withdrawn, unsubscribed, never subscribed); no row = unknown, which counts as *no consent*
when an audience is filtered (:mod:`relmark_core.privacy.reach`).

Imports write consent in their own transaction (:mod:`relmark_core.imports.load`), so undoing an
import restores the consent it replaced.
"""

from __future__ import annotations

from typing import Any

import duckdb
import ibis
import pandas as pd
from ibis.expr.types import Table

from relmark_core import store
from relmark_core.privacy import suppression
from relmark_core.privacy.reach import Channel

__all__ = [
    "EARLIER_IMPORT_SOURCE",
    "CHANNEL_LABELS",
    "STATUS_HELP",
    "WITHDRAWN_STATES",
    "OVERVIEW_COLUMNS",
    "SOURCE_COLUMNS",
    "effective_consent_sql",
    "consent_table",
    "backfill_from_accepts_marketing",
    "write_import_consent",
    "undo_import_consent",
    "consent_overview",
    "consent_by_source",
]

# The source recorded for email consent taken from customers.accepts_marketing, the single
# yes/no column Relmark kept before consent per channel existed.
EARLIER_IMPORT_SOURCE = "earlier import"
CHANNEL_LABELS: dict[str, str] = {
    Channel.EMAIL.value: "Email",
    Channel.SMS.value: "SMS",
    Channel.ADS.value: "Ads (custom audiences)",
}
STATUS_HELP: dict[str, str] = {
    "granted": "Customers who agreed to marketing on this channel, as the latest source Relmark "
    "holds says (an import, the demo, or an earlier import's yes/no column for email).",
    "withdrawn": "Customers who said no: they unsubscribed, withdrew consent or never "
    "subscribed. They are left out of this channel's exports.",
    "unknown": "Customers for whom no source says anything about this channel. Unknown counts "
    "as no consent: they are left out of this channel's exports.",
    "source": "Where the answer came from: the export it was imported from (e.g. Shopify "
    "customers export), 'demo', or 'earlier import' (the single yes/no marketing column "
    "Relmark kept before consent per channel).",
}
# The exports' words for someone who actively opted out (Klaviyo's consent columns): such a
# person's address also goes on the suppression list. NEVER_SUBSCRIBED is only "no consent".
WITHDRAWN_STATES = ("unsubscribed", "suppressed")
OVERVIEW_COLUMNS = ("channel", "label", "granted", "withdrawn", "unknown")
SOURCE_COLUMNS = ("channel", "label", "source", "granted", "withdrawn")


def effective_consent_sql() -> str:
    """SQL: every customer's consent on one channel (``customer_id``, ``granted``,
    ``source``); bind the channel three times (its three ``?``).

    The consent row when there is one. For email without a row, the customers table's
    ``accepts_marketing`` (the single yes/no column Relmark kept before consent per channel,
    which :func:`backfill_from_accepts_marketing` copies) counts, with the source
    ``EARLIER_IMPORT_SOURCE``. ``granted`` NULL = unknown.
    """
    ch = "?"
    return f"""
        SELECT c.customer_id,
               CASE WHEN k.customer_id IS NOT NULL THEN k.granted
                    WHEN {ch} = 'email' THEN c.accepts_marketing END AS granted,
               CASE WHEN k.customer_id IS NOT NULL THEN k.source
                    WHEN {ch} = 'email' AND c.accepts_marketing IS NOT NULL
                    THEN '{EARLIER_IMPORT_SOURCE}' END AS source
        FROM customers c
        LEFT JOIN consent k ON k.customer_id = c.customer_id AND k.channel = {ch}
    """  # noqa: S608 - constants only


def consent_table(src: Any, channel: str) -> Table:
    """The consent rows of one channel (``customer_id``, ``granted``) as an Ibis table next to
    ``src.customers`` (a :class:`relmark_core.source.Source`): the store's table itself when
    the store is the source, else (warehouse mode) the local store's rows as an in-memory
    table."""
    state = getattr(src, "state", None)
    if state is not None and getattr(src.backend, "con", None) is state:
        t = src.backend.table("consent")
        return t.filter(t.channel == ibis.literal(channel)).select("customer_id", "granted")
    df = pd.DataFrame({"customer_id": pd.Series([], dtype=object),
                       "granted": pd.Series([], dtype=bool)})
    if state is not None:
        df = state.execute(
            "SELECT customer_id, granted FROM consent WHERE channel = ?", [channel]
        ).df()
    return ibis.memtable(df, schema={"customer_id": "string", "granted": "boolean"})


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


def write_import_consent(
    conn: duckdb.DuckDBPyConnection, import_id: int, *, source: str, actor: str
) -> tuple[int, int]:
    """Write the consent an import carries (inside the import's transaction).

    Reads the import's staging table ``_imp_persons`` (one row per person of the file with
    ``resolved_id``, ``accepts_marketing`` = email consent, ``sms_consent``, ``email_state``,
    ``sms_state`` and, for orders, ``ordered_at``). Per customer and channel the file's latest
    answer is kept; it replaces the stored one when the customer has none, or when it differs
    and is not older (an order's consent is dated by the order, a customers file's by the
    import). Replaced rows go to ``import_prev_consent`` so that undoing the import puts them
    back. People whose state says they unsubscribed also go on the suppression list.

    Returns
    -------
    tuple[int, int]
        Consent rows written, and addresses added to the suppression list.
    """
    now = store.utc_now()
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _imp_consent AS
        WITH v AS (
            SELECT resolved_id AS customer_id, 'email' AS channel, accepts_marketing AS granted,
                   coalesce(ordered_at, $now) AS recorded_at, first_k
            FROM _imp_persons WHERE accepts_marketing IS NOT NULL
            UNION ALL
            SELECT resolved_id, 'sms', sms_consent, coalesce(ordered_at, $now), first_k
            FROM _imp_persons WHERE sms_consent IS NOT NULL
        ), latest AS (
            SELECT * FROM v
            QUALIFY row_number() OVER (PARTITION BY customer_id, channel
                                       ORDER BY recorded_at DESC, first_k DESC) = 1
        )
        SELECT l.customer_id, l.channel, l.granted, l.recorded_at,
               k.customer_id IS NOT NULL AS existing
        FROM latest l
        LEFT JOIN consent k ON k.customer_id = l.customer_id AND k.channel = l.channel
        WHERE k.customer_id IS NULL
           OR (k.granted <> l.granted AND l.recorded_at >= k.recorded_at)
        """,
        {"now": now},
    ).fetchall()
    conn.execute(
        """
        INSERT INTO import_prev_consent
            (changed_by, customer_id, channel, granted, source, recorded_at, import_id)
        SELECT ?, k.customer_id, k.channel, k.granted, k.source, k.recorded_at, k.import_id
        FROM consent k JOIN _imp_consent n USING (customer_id, channel)
        WHERE n.existing
        """,
        [import_id],
    ).fetchall()
    conn.execute(
        """
        UPDATE consent SET granted = n.granted, source = ?, recorded_at = n.recorded_at,
               import_id = ?
        FROM _imp_consent n
        WHERE consent.customer_id = n.customer_id AND consent.channel = n.channel AND n.existing
        """,
        [source, import_id],
    ).fetchall()
    conn.execute(
        """
        INSERT INTO consent (customer_id, channel, granted, source, recorded_at, import_id)
        SELECT customer_id, channel, granted, ?, recorded_at, ? FROM _imp_consent
        WHERE NOT existing
        """,
        [source, import_id],
    ).fetchall()
    written = int(store.scalar(conn, "SELECT count(*) FROM _imp_consent"))
    phone = suppression.PHONE_NORM_SQL.format(col="phone")
    rows = conn.execute(
        f"""
        SELECT DISTINCT 'email', email_norm FROM _imp_persons
        WHERE email_norm IS NOT NULL AND lower(trim(email_state)) IN $states
        UNION
        SELECT DISTINCT 'phone', {phone} FROM _imp_persons
        WHERE {phone} IS NOT NULL AND lower(trim(sms_state)) IN $states
        """,  # noqa: S608 - SQL constants only
        {"states": list(WITHDRAWN_STATES)},
    ).fetchall()
    entries = [(str(k), str(v)) for k, v in rows
               if suppression.normalise("email" if k == "email" else "phone", str(v))]
    unsubscribed = suppression.add_imported(
        conn, entries, source=f"{source} (import #{import_id})", actor=actor,
        import_id=import_id,
    )
    conn.execute("DROP TABLE IF EXISTS temp.main._imp_consent")
    return written, unsubscribed


def undo_import_consent(conn: duckdb.DuckDBPyConnection, import_id: int) -> None:
    """Put back the consent an import replaced (inside the undo's transaction). The
    unsubscribes it put on the suppression list stay there."""
    conn.execute("DELETE FROM consent WHERE import_id = ?", [import_id]).fetchall()
    conn.execute(
        """
        INSERT INTO consent (customer_id, channel, granted, source, recorded_at, import_id)
        SELECT customer_id, channel, granted, source, recorded_at, import_id
        FROM import_prev_consent WHERE changed_by = ?
        """,
        [import_id],
    ).fetchall()
    conn.execute("DELETE FROM import_prev_consent WHERE changed_by = ?", [import_id]).fetchall()


def consent_overview(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per channel (:data:`OVERVIEW_COLUMNS`): customers who gave consent, who withdrew or
    refused it, and whose answer is unknown (no record). Every customer counts once per
    channel."""
    rows = []
    for ch in Channel:
        got = conn.execute(
            f"""SELECT count(*) FILTER (WHERE granted),
                       count(*) FILTER (WHERE NOT granted),
                       count(*) FILTER (WHERE granted IS NULL)
                FROM ({effective_consent_sql()})""",  # noqa: S608 - SQL constant
            [ch.value, ch.value, ch.value],
        ).fetchall()[0]
        rows.append((ch.value, CHANNEL_LABELS[ch.value], int(got[0]), int(got[1]), int(got[2])))
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


def consent_by_source(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Known consent per channel and source (:data:`SOURCE_COLUMNS`), biggest first."""
    frames = []
    for ch in Channel:
        df = conn.execute(
            f"""SELECT source, count(*) FILTER (WHERE granted) AS granted,
                       count(*) FILTER (WHERE NOT granted) AS withdrawn
                FROM ({effective_consent_sql()}) WHERE granted IS NOT NULL
                GROUP BY source""",  # noqa: S608 - SQL constant
            [ch.value, ch.value, ch.value],
        ).df()
        df.insert(0, "label", CHANNEL_LABELS[ch.value])
        df.insert(0, "channel", ch.value)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["granted"] = out["granted"].astype("int64")
    out["withdrawn"] = out["withdrawn"].astype("int64")
    total = out["granted"] + out["withdrawn"]
    out = out.assign(_t=total).sort_values(["channel", "_t", "source"], ascending=[True, False, True])
    return out.drop(columns="_t").reset_index(drop=True)[list(SOURCE_COLUMNS)]
