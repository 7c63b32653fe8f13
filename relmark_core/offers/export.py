"""Files for the channel's tool, importable as-is, from a launched offer's frozen treatment arm
(the holdout is never written).

- ``email``: Klaviyo/Mailchimp list — ``Email``, ``First Name``, ``Last Name`` (both tools map
  these headers without asking), then ``Code``, ``Message`` (the personalised text) and each
  token as a property (``Tier``, ``Points Balance``, ``Favourite Category``, ``Last Product``,
  and ``Recommended Product`` — the member's next-best product — when the message uses
  ``{recommended_product}``), ``Offer Ends``.
- ``sms``: ``Phone``, ``First Name``, ``Code``, ``Message``.
- ``ads``: a custom-audience file for Meta / Google Customer Match: one column ``email`` holding
  SHA-256 hex of the trimmed, lower-cased address.
- ``codes``: the codes alone, one a row under a ``Code`` header, for a shop platform's bulk
  discount-code tools (Shopify apps and WooCommerce coupon importers map a code column).
- ``in_store``: a staff list — ``Name``, ``Email``, ``Code``.

Text cells starting with = + - @ tab or CR get a leading ``'``
(:func:`relmark_core.imports.neutralise_formula`).

The email, SMS and ads files keep only people who may be contacted on that channel
(:func:`relmark_core.privacy.reach.filter_reachable`: the suppression list, then the channel's
consent); the export says how many were left out for each. Files naming people need the editor
role; the codes file (no personal data) is open to viewers.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any, Literal

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import auth
from relmark_core.errors import InputRefused
from relmark_core.imports.load import neutralise_formula
from relmark_core.offers.model import render_message
from relmark_core.offers.saved import frozen_members, get_offer, member_tokens
from relmark_core.personalisation.recommend import recommended_product_tokens
from relmark_core.privacy.reach import Channel, filter_reachable
from relmark_core.segments.export import export_file_name
from relmark_core.source import Source, from_duckdb
from relmark_core.store import DEFAULT_ACTOR

__all__ = ["ExportKind", "EXPORT_KINDS", "EXPORT_LABELS", "REACH_CHANNELS", "PERSONAL_KINDS",
           "OfferExport", "export_offer", "hash_email"]

ExportKind = Literal["email", "sms", "ads", "codes", "in_store"]
EXPORT_LABELS: dict[str, str] = {
    "email": "Email list (Klaviyo / Mailchimp)",
    "sms": "SMS list",
    "ads": "Ads custom audience (hashed emails)",
    "codes": "Discount codes (bulk import)",
    "in_store": "In-store list",
}
EXPORT_KINDS: tuple[str, ...] = tuple(EXPORT_LABELS)
REACH_CHANNELS: dict[str, Channel] = {"email": Channel.EMAIL, "sms": Channel.SMS,
                                      "ads": Channel.ADS}
"""Export kind -> the channel whose suppression and consent it honours."""
PERSONAL_KINDS = ("email", "sms", "ads", "in_store")
RECOMMENDED_TOKEN = "{recommended_product}"


class OfferExport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data: bytes
    file_name: str
    mime: str
    columns: tuple[str, ...]
    rows: int
    left_out: int
    """Treated members left out for lack of the channel's contact (email or phone)."""
    suppressed: int = 0
    """Left out because their email or phone is on the suppression list."""
    no_consent: int = 0
    """Left out for lack of consent on the channel."""

    def excluded_sentence(self) -> str:
        """"3 excluded: 1 suppressed, 2 without consent" (both 0 for codes and in-store)."""
        n = self.suppressed + self.no_consent
        return (f"{n:,} excluded: {self.suppressed:,} suppressed, "
                f"{self.no_consent:,} without consent")


def hash_email(email: str) -> str:
    """SHA-256 hex of the address trimmed and lower-cased (Meta / Google normalisation)."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return neutralise_formula(v)


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def export_offer(conn: duckdb.DuckDBPyConnection, offer_id: int, kind: ExportKind, *,
                 src: Source | None = None, actor: str = DEFAULT_ACTOR) -> OfferExport:
    """The launched offer's treated members as the ``kind`` file (see the module text).

    Raises
    ------
    NotAllowed
        A file naming people (email, SMS, ads, in-store) asked for by a role below editor.
    """
    if kind not in EXPORT_KINDS:
        raise InputRefused(f"Unknown export '{kind}'. Choose one of: {', '.join(EXPORT_KINDS)}.")
    if kind in PERSONAL_KINDS:
        auth.require(conn, actor, auth.Role.EDITOR, "export personal data")
    saved = get_offer(conn, offer_id)
    if saved.status == "draft":
        raise InputRefused("Launch the offer first: exports hold the frozen audience and codes.")
    offer = saved.offer
    m = frozen_members(conn, offer_id)
    m = m[m["arm"] == "treatment"].reset_index(drop=True)
    total = len(m)
    suppressed = no_consent = 0
    if kind == "codes":
        codes = sorted(set(m["code"].dropna().astype(str)))
        out = pd.DataFrame({"Code": [_cell(c) for c in codes]})
        left = 0
    else:
        if kind == "sms":
            phone = m["phone"].astype("string").str.strip()
            m = m[phone.notna() & (phone != "")].assign(phone=phone)
        else:
            email = m["email"].astype("string").str.strip()
            m = m[email.str.contains("@", regex=False).fillna(False)].assign(email=email)
        left = total - len(m)
        if kind in REACH_CHANNELS:
            reach = filter_reachable(conn, m["customer_id"].astype(str).tolist(),
                                     REACH_CHANNELS[kind])
            m = m[m["customer_id"].astype(str).isin(set(reach.kept))].reset_index(drop=True)
            suppressed, no_consent = reach.suppressed, reach.no_consent
        if kind == "ads":
            out = pd.DataFrame({"email": sorted({hash_email(e) for e in m["email"]})})
        elif kind == "in_store":
            names = (m["first_name"].fillna("") + " " + m["last_name"].fillna("")).str.strip()
            out = pd.DataFrame({"Name": [_cell(n) for n in names],
                                "Email": [_cell(e) for e in m["email"]],
                                "Code": [_cell(c) for c in m["code"]]})
        else:
            ids = m["customer_id"].astype(str).tolist()
            tok = member_tokens(conn, ids, src=src)
            m = m.merge(tok.drop(columns=["first_name"]), on="customer_id", how="left")
            uses_rec = RECOMMENDED_TOKEN in offer.message
            if uses_rec:  # the next-best product, computed only when the message asks for it
                rec = recommended_product_tokens(src or from_duckdb(conn), ids)
                m = m.merge(rec, on="customer_id", how="left")
            msgs = [render_message(offer.message, {str(k): v for k, v in r.items()}, offer.fallbacks)
                    for r in m.to_dict("records")]
            if kind == "sms":
                out = pd.DataFrame({"Phone": [_cell(p) for p in m["phone"]],
                                    "First Name": [_cell(x) for x in m["first_name"]],
                                    "Code": [_cell(c) for c in m["code"]],
                                    "Message": [_cell(x) for x in msgs]})
            else:
                out = pd.DataFrame({
                    "Email": [_cell(e) for e in m["email"]],
                    "First Name": [_cell(x) for x in m["first_name"]],
                    "Last Name": [_cell(x) for x in m["last_name"]],
                    "Code": [_cell(c) for c in m["code"]],
                    "Message": [_cell(x) for x in msgs],
                    "Tier": [_cell(x) for x in m["tier"]],
                    "Points Balance": [_cell(x) for x in m["points_balance"]],
                    "Favourite Category": [_cell(x) for x in m["favourite_category"]],
                    "Last Product": [_cell(x) for x in m["last_product"]],
                    "Offer Ends": offer.ends_on.isoformat(),
                })
                if uses_rec:
                    out.insert(len(out.columns) - 1, "Recommended Product",
                               [_cell(x) for x in m["recommended_product"]])
    buf = io.BytesIO(_csv(out))
    return OfferExport(
        data=buf.getvalue(),
        file_name=export_file_name(f"{offer.name}-{kind}", offer.starts_on, "csv"),
        mime="text/csv", columns=tuple(out.columns), rows=len(out), left_out=left,
        suppressed=suppressed, no_consent=no_consent)
