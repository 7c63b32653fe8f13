"""A run's batch file: the treated entries in the offer channel's export columns.

The columns are those of :func:`relmark_core.offers.export.export_offer` for the channel
(``email``: Email, First Name, Last Name, Code, Message, Tier, Points Balance, Favourite
Category, Last Product, Offer Ends; ``sms``: Phone, First Name, Code, Message; ``ads``: hashed
``email``; ``in_store``: Name, Email, Code), so a batch imports into the same tool as a
hand-made offer's list. People without the channel's contact are left out of the file. Text
cells a spreadsheet would run as a formula get a leading ``'``.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from relmark_core.automations.model import Automation
from relmark_core.imports.load import neutralise_formula
from relmark_core.offers.export import hash_email
from relmark_core.offers.model import render_message
from relmark_core.offers.saved import member_tokens, uses_recommendation
from relmark_core.source import Source

__all__ = ["batch_frame", "batch_csv"]


def _cells(values: object) -> list[str]:
    return [neutralise_formula(None if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                               else v) for v in pd.Series(values, dtype=object)]


def batch_frame(conn: duckdb.DuckDBPyConnection, a: Automation, treated: pd.DataFrame, *,
                starts_on: date, src: Source | None = None) -> pd.DataFrame:
    """The batch's rows for ``treated`` (``customer_id``, ``code``), by customer id."""
    offer = a.offer.as_offer(a.name, starts_on)
    ids = treated[["customer_id", "code"]].astype({"customer_id": str})
    conn.register("_auto_batch", ids)
    try:
        m = conn.execute(
            "SELECT b.customer_id, b.code, c.email, c.first_name, c.last_name, c.phone "
            "FROM _auto_batch b LEFT JOIN customers c USING (customer_id) "
            "ORDER BY b.customer_id").df()
    finally:
        conn.unregister("_auto_batch")
    channel = offer.channel
    if channel == "sms":
        phone = m["phone"].astype("string").str.strip()
        m = m[(phone.notna() & (phone != "")).to_numpy()].assign(phone=phone)
    else:
        email = m["email"].astype("string").str.strip()
        m = m[email.str.contains("@", regex=False).fillna(False).to_numpy()].assign(email=email)
    m = m.reset_index(drop=True)
    if channel == "ads":
        return pd.DataFrame({"email": sorted({hash_email(str(e)) for e in m["email"]})})
    if channel == "in_store":
        names = (m["first_name"].fillna("") + " " + m["last_name"].fillna("")).str.strip()
        return pd.DataFrame({"Name": _cells(names), "Email": _cells(m["email"]),
                             "Code": _cells(m["code"])})
    rec = uses_recommendation(offer)
    tok = member_tokens(conn, m["customer_id"].astype(str).tolist(), src=src, recommended=rec)
    m = m.merge(tok.drop(columns=["first_name"]), on="customer_id", how="left")
    msgs = [render_message(offer.message, {str(k): v for k, v in r.items()}, offer.fallbacks)
            for r in m.to_dict("records")]
    if channel == "sms":
        return pd.DataFrame({"Phone": _cells(m["phone"]), "First Name": _cells(m["first_name"]),
                             "Code": _cells(m["code"]), "Message": _cells(msgs)})
    out = pd.DataFrame({
        "Email": _cells(m["email"]), "First Name": _cells(m["first_name"]),
        "Last Name": _cells(m["last_name"]), "Code": _cells(m["code"]), "Message": _cells(msgs),
        "Tier": _cells(m["tier"]), "Points Balance": _cells(m["points_balance"]),
        "Favourite Category": _cells(m["favourite_category"]),
        "Last Product": _cells(m["last_product"]),
        "Offer Ends": [offer.ends_on.isoformat()] * len(m),
    })
    if rec:  # the same column the offer's email export adds when the message uses the token
        out.insert(len(out.columns) - 1, "Recommended Product", _cells(m["recommended_product"]))
    return out


def batch_csv(conn: duckdb.DuckDBPyConnection, a: Automation, treated: pd.DataFrame, *,
              starts_on: date, src: Source | None = None) -> bytes:
    """:func:`batch_frame` as UTF-8 CSV bytes."""
    df = batch_frame(conn, a, treated, starts_on=starts_on, src=src)
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")
