"""Who qualifies for a trigger on a day: ``customer_id`` and the ``occasion`` they qualify for.

The occasion tells two qualifications of one person apart: the RFM group or tier they moved
into, the birthday's year, the detractor answer, the day points expire. A run adds the
(customer, occasion) pairs that were not in the automation's qualified set at its last run, so
"newly qualify" means: qualifies now and did not at the last run (or qualifies for a new
occasion, like next year's birthday).

Days are UTC days; "on ``as_of``" counts everything up to the end of that day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import ibis
import pandas as pd

from relmark_core import feedback_followup, loyalty
from relmark_core.automations.model import (
    BirthdayTrigger,
    DetractorTrigger,
    PointsExpiringTrigger,
    RfmGroupTrigger,
    SecondOrderTrigger,
    TierTrigger,
    Trigger,
    WelcomeTrigger,
)
from relmark_core.loyalty.ledger import _replay, ledger_entries
from relmark_core.metrics.common import counted_orders
from relmark_core.metrics.rfm import load_groups_for, rfm_group_expr
from relmark_core.source import Source

__all__ = ["QUALIFIED_COLUMNS", "qualifying", "first_orders", "expiring_points"]

QUALIFIED_COLUMNS = ("customer_id", "occasion")
_ONE_DAY = timedelta(days=1)


def _start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _frame(ids: object, occasion: object) -> pd.DataFrame:
    id_list = list(pd.Series(ids, dtype=object))
    occ = [occasion] * len(id_list) if isinstance(occasion, str) else list(
        pd.Series(occasion, dtype=object))
    df = pd.DataFrame({"customer_id": pd.Series(id_list, dtype=object),
                       "occasion": pd.Series(occ, dtype=object)})
    df = df.dropna(subset=["customer_id"]).astype({"customer_id": str, "occasion": str})
    return df.drop_duplicates().sort_values(list(QUALIFIED_COLUMNS)).reset_index(drop=True)


def first_orders(src: Source, *, as_of: date) -> pd.DataFrame:
    """Per customer with counted orders up to the end of ``as_of``: ``customer_id``,
    ``first_order_at``, ``orders``."""
    o = counted_orders(src)
    o = o.filter(o.customer_id.notnull(), o.ordered_at < ibis.literal(_start(as_of + _ONE_DAY)))
    per = o.group_by("customer_id").aggregate(first_order_at=o.ordered_at.min(), orders=o.count())
    df = src.execute(per)
    return df.astype({"customer_id": str})


def expiring_points(conn: duckdb.DuckDBPyConnection, *, start: date, end: date) -> pd.DataFrame:
    """Points the active loyalty program expires on the days after ``start`` up to ``end``
    (both UTC days, ``start`` excluded) if nothing else happens: ``customer_id``, ``day``,
    ``points``. Empty without an active program or expiry rule."""
    cols = ["customer_id", "day", "points"]
    if loyalty.active_version(conn) is None:
        return pd.DataFrame(columns=cols)
    rep = _replay(conn, end)
    if rep is None or not rep.n_cust:
        return pd.DataFrame(columns=cols)
    e = ledger_entries(rep)
    e = e[e["kind"] == "expired"]
    if e.empty:
        return pd.DataFrame(columns=cols)
    day = pd.to_datetime(e["happened_at"]).dt.date
    keep = (day > start) & (day <= end)
    return pd.DataFrame({"customer_id": e.loc[keep, "customer_id"].astype(str),
                         "day": day[keep], "points": -e.loc[keep, "points"].astype("int64")}
                        ).reset_index(drop=True)


def qualifying(conn: duckdb.DuckDBPyConnection, src: Source, trigger: Trigger, *,
               as_of: date) -> pd.DataFrame:
    """Everyone who qualifies for ``trigger`` on ``as_of``: :data:`QUALIFIED_COLUMNS`, one row
    per (customer, occasion), sorted."""
    if isinstance(trigger, WelcomeTrigger):
        f = first_orders(src, as_of=as_of)
        since = _start(as_of - timedelta(days=trigger.within_days - 1))
        f = f[pd.to_datetime(f["first_order_at"]) >= since]
        return _frame(f["customer_id"], "first order")
    if isinstance(trigger, SecondOrderTrigger):
        f = first_orders(src, as_of=as_of)
        by = _start(as_of - timedelta(days=trigger.after_days - 1))
        f = f[(f["orders"] == 1) & (pd.to_datetime(f["first_order_at"]) < by)]
        return _frame(f["customer_id"], [
            f"one order on {pd.Timestamp(t).date().isoformat()}" for t in f["first_order_at"]])
    if isinstance(trigger, BirthdayTrigger):
        c = src.customers
        c = c.filter(c.birthday.notnull(), c.birthday.month() == as_of.month)
        ids = src.execute(c.select("customer_id"))["customer_id"]
        return _frame(ids, f"birthday {as_of.year}")
    if isinstance(trigger, TierTrigger):
        t = loyalty.customer_tiers(conn, as_of=as_of)
        t = t[t["tier"] == trigger.tier]
        return _frame(t["customer_id"], trigger.tier)
    if isinstance(trigger, RfmGroupTrigger):
        r = rfm_group_expr(src, as_of=as_of + _ONE_DAY, groups=load_groups_for(src))
        ids = src.execute(r.filter(r.group == trigger.group).select("customer_id"))["customer_id"]
        return _frame(ids, trigger.group)
    if isinstance(trigger, DetractorTrigger):
        d = feedback_followup.followup_list(src, conn, as_of=as_of, status="open")
        since = _start(as_of - timedelta(days=trigger.within_days - 1))
        d = d[pd.to_datetime(d["answered_at"]) >= since]
        return _frame(d["customer_id"], d["response_id"].astype(str))
    if isinstance(trigger, PointsExpiringTrigger):
        x = expiring_points(conn, start=as_of - _ONE_DAY,
                            end=as_of + timedelta(days=trigger.within_days))
        return _frame(x["customer_id"], [f"points expiring {d.isoformat()}" for d in x["day"]])
    raise AssertionError(f"unknown trigger {trigger!r}")
