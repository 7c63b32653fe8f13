"""What goes out to whom next, and the balance of automated and hand-made messages.

:func:`upcoming_sends` projects the next days: automations whose trigger is a matter of time
(second-order nudge: first order + N days; birthday month: the 1st of the month; points about
to expire: the expiry day − the notice days) and hand-made offers starting in the window (their
frozen treated members once launched). Triggers that wait for new data (welcome, RFM group,
tier, detractor) cannot be projected; :func:`unscheduled` names them. Projections count people
before consent, the frequency cap and the cooldown, which the run applies.

:func:`message_balance` counts per customer what they received: automation batch entries
(treated) against hand-made offers (treated members of launched offers).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from relmark_core.automations.model import (
    BirthdayTrigger,
    PointsExpiringTrigger,
    SecondOrderTrigger,
)
from relmark_core.automations.run import list_automations
from relmark_core.automations.triggers import expiring_points, first_orders
from relmark_core.source import Source

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_BALANCE_DAYS",
    "UPCOMING_COLUMNS",
    "DAY_COLUMNS",
    "BALANCE_COLUMNS",
    "upcoming_sends",
    "upcoming_by_day",
    "unscheduled",
    "message_balance",
]

DEFAULT_HORIZON_DAYS = 30
DEFAULT_BALANCE_DAYS = 90
UPCOMING_COLUMNS = ("day", "kind", "name", "customer_id")
DAY_COLUMNS = ("day", "kind", "name", "people")
BALANCE_COLUMNS = ("customer_id", "email", "name", "automated", "hand_made", "total",
                   "automated_share")
AUTOMATED = "automated"
HAND_MADE = "hand-made"


def _rows(day: object, name: str, kind: str, ids: object) -> pd.DataFrame:
    """Rows for one send: ``day`` is one date or one per id."""
    ids_l = [str(x) for x in pd.Series(ids, dtype=object)]
    days = [day] * len(ids_l) if isinstance(day, date) else list(pd.Series(day, dtype=object))
    return pd.DataFrame({"day": pd.Series(days, dtype=object), "kind": kind, "name": name,
                         "customer_id": pd.Series(ids_l, dtype=object)})


def upcoming_sends(conn: duckdb.DuckDBPyConnection, src: Source, *, start: date,
                   days: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """Who is due on each of the days ``start`` .. ``start + days − 1``: :data:`UPCOMING_COLUMNS`
    (``kind`` automated or hand-made), by day, kind, name and customer."""
    end = start + timedelta(days=days)
    parts: list[pd.DataFrame] = []
    firsts: pd.DataFrame | None = None
    for saved in list_automations(conn):
        a = saved.automation
        if a.status != "active":
            continue
        t = a.trigger
        if isinstance(t, SecondOrderTrigger):
            if firsts is None:
                firsts = first_orders(src, as_of=end)
            one = firsts[firsts["orders"] == 1]
            due = [pd.Timestamp(x).date() + timedelta(days=t.after_days)
                   for x in one["first_order_at"]]
            keep = [start <= d < end for d in due]
            parts.append(_rows([d for d, k in zip(due, keep, strict=True) if k], a.name,
                               AUTOMATED, one.loc[keep, "customer_id"]))
        elif isinstance(t, BirthdayTrigger):
            c = src.customers
            b = src.execute(c.filter(c.birthday.notnull()).select("customer_id", "birthday"))
            month = pd.to_datetime(b["birthday"]).dt.month
            d = date(start.year, start.month, 1)
            while d < end:
                if d >= start:
                    parts.append(_rows(d, a.name, AUTOMATED,
                                       b.loc[(month == d.month).to_numpy(), "customer_id"]))
                d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        elif isinstance(t, PointsExpiringTrigger):
            x = expiring_points(conn, start=start - timedelta(days=1),
                                end=end + timedelta(days=t.within_days))
            due = [d - timedelta(days=t.within_days) for d in x["day"]]
            keep = [start <= d < end for d in due]
            parts.append(_rows([d for d, k in zip(due, keep, strict=True) if k], a.name,
                               AUTOMATED, x.loc[keep, "customer_id"]))
    offers = conn.execute(
        "SELECT o.offer_id, o.name, CAST(json_extract_string(o.definition, '$.starts_on') AS "
        "DATE) AS starts_on, o.status FROM offers o WHERE o.status IN ('draft', 'running')"
    ).fetchall()
    for oid, name, starts_on, status in offers:
        if not start <= starts_on < end:
            continue
        ids = [] if status == "draft" else [r[0] for r in conn.execute(
            "SELECT customer_id FROM offer_members WHERE offer_id = ? AND arm = 'treatment'",
            [oid]).fetchall()]
        parts.append(_rows(starts_on, str(name) + (" (draft)" if status == "draft" else ""),
                           HAND_MADE, ids))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in UPCOMING_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(list(UPCOMING_COLUMNS)).reset_index(drop=True)[list(UPCOMING_COLUMNS)]


def upcoming_by_day(conn: duckdb.DuckDBPyConnection, src: Source, *, start: date,
                    days: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """:func:`upcoming_sends` counted: :data:`DAY_COLUMNS` (people per day, kind and name)."""
    u = upcoming_sends(conn, src, start=start, days=days)
    if u.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in DAY_COLUMNS})
    g = u.groupby(["day", "kind", "name"], sort=True).size().reset_index(name="people")
    return g[list(DAY_COLUMNS)]


def unscheduled(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Active automations whose sends depend on new data (no date to project)."""
    timed = (SecondOrderTrigger, BirthdayTrigger, PointsExpiringTrigger)
    return [s.automation.name for s in list_automations(conn)
            if s.automation.status == "active" and not isinstance(s.automation.trigger, timed)]


def message_balance(conn: duckdb.DuckDBPyConnection, *, since: datetime,
                    customer_id: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Messages per customer since ``since``: :data:`BALANCE_COLUMNS` — ``automated`` (treated
    batch entries), ``hand_made`` (treated members of offers launched since), their total and
    the automated share; most messages first (ties by customer id)."""
    df = conn.execute(
        """
        WITH m AS (
            SELECT customer_id, 1 AS automated, 0 AS hand_made FROM automation_entries
            WHERE arm = 'treatment' AND added_at >= $since
            UNION ALL
            SELECT m.customer_id, 0, 1 FROM offer_members m JOIN offers o USING (offer_id)
            WHERE m.arm = 'treatment' AND o.launched_at >= $since
        ), per AS (
            SELECT customer_id, CAST(sum(automated) AS BIGINT) AS automated,
                   CAST(sum(hand_made) AS BIGINT) AS hand_made
            FROM m WHERE CAST($cid AS VARCHAR) IS NULL OR customer_id = $cid
            GROUP BY customer_id
        )
        SELECT p.customer_id, c.email, trim(concat_ws(' ', c.first_name, c.last_name)) AS name,
               p.automated, p.hand_made, p.automated + p.hand_made AS total,
               p.automated / (p.automated + p.hand_made) AS automated_share
        FROM per p LEFT JOIN customers c USING (customer_id)
        ORDER BY total DESC, p.customer_id
        LIMIT CAST($limit AS BIGINT)
        """, {"since": since, "cid": customer_id, "limit": limit}).df()
    return df[list(BALANCE_COLUMNS)]
