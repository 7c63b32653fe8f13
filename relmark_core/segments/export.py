"""Segment members as a file an email tool imports as-is (Klaviyo, Mailchimp).

Columns: ``Email``, ``First Name``, ``Last Name`` (the headers both tools map on import without
asking), then the chosen properties (:data:`EXPORT_PROPERTIES`, e.g. ``RFM Group``,
``Last Order Date``). Members on the suppression list are never written; by default only
customers who accept email marketing are (:func:`relmark_core.privacy.reach.filter_reachable`);
the result says how many were left out for each reason, and how many have no usable email
address. The file holds personal data: exporting it needs the editor role.
Text cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a
leading ``'`` (:func:`relmark_core.imports.neutralise_formula`, shared with the import
reports).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import auth
from relmark_core.errors import InputRefused
from relmark_core.imports.load import neutralise_formula
from relmark_core.metrics import feedback, rfm
from relmark_core.personalisation.recommend import next_best_expr
from relmark_core.privacy.reach import Channel, filter_reachable, filter_suppressed
from relmark_core.segments.compile import customer_stats, day_end, loyalty_tiers, members
from relmark_core.segments.model import NPS_GROUP_WORDS, SegmentDefinition
from relmark_core.source import Source
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "ExportFormat",
    "EXPORT_FORMATS",
    "BASE_COLUMNS",
    "EXPORT_PROPERTIES",
    "DEFAULT_PROPERTIES",
    "SegmentExport",
    "export_members",
    "export_file_name",
    "parse_properties",
]

ExportFormat = Literal["csv", "xlsx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx")
BASE_COLUMNS = ("Email", "First Name", "Last Name")
EXPORT_PROPERTIES: dict[str, str] = {
    "rfm_group": "RFM Group",
    "last_order_date": "Last Order Date",
    "first_order_date": "First Order Date",
    "orders": "Orders",
    "total_spent": "Total Spent",
    "nps_group": "NPS Group",
    "city": "City",
    "region": "Region",
    "country": "Country",
    "tags": "Tags",
    "loyalty_tier": "Loyalty Tier",
    "recommended_product": "Recommended Product",
}
"""Property key -> column header. Dates are YYYY-MM-DD in the store's time zone; Total Spent
is net revenue of counted orders in the reporting currency; Tags are comma-separated;
Recommended Product is the customer's next-best product at the as-of day
(:mod:`relmark_core.personalisation.recommend`, pairs behind the default minimum of customers),
empty without one."""
DEFAULT_PROPERTIES: tuple[str, ...] = ("rfm_group", "last_order_date")
XLSX_SHEET = "Segment"
_ONE_DAY = timedelta(days=1)
_SLUG = re.compile(r"[^a-z0-9]+")
MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class SegmentExport(BaseModel):
    """An export ready to download or write.

    Attributes
    ----------
    data
        The file's bytes (UTF-8 CSV, or an xlsx workbook).
    rows
        Customers written.
    excluded_no_consent
        Members left out because they do not accept email marketing (0 when those were
        included on purpose).
    excluded_no_email
        Members left out because they have no usable email address.
    excluded_suppressed
        Members left out because their email or phone is on the suppression list (checked
        before consent).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: bytes
    file_name: str
    mime: str
    format: ExportFormat
    columns: tuple[str, ...]
    rows: int
    excluded_no_consent: int
    excluded_no_email: int
    excluded_suppressed: int = 0

    def summary(self) -> str:
        """"Wrote 120 customers; left out 45 without email-marketing consent and 2 without an
        email address."""
        who = "1 customer" if self.rows == 1 else f"{self.rows:,} customers"
        out = []
        if self.excluded_suppressed:
            out.append(f"{self.excluded_suppressed:,} on the suppression list")
        if self.excluded_no_consent:
            out.append(f"{self.excluded_no_consent:,} without email-marketing consent")
        if self.excluded_no_email:
            out.append(f"{self.excluded_no_email:,} without an email address")
        said = ", ".join(out[:-1]) + " and " + out[-1] if len(out) > 1 else "".join(out)
        tail = f"; left out {said}" if out else ""
        return f"{who} in the file{tail}."


def parse_properties(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Property keys from a comma-separated list (or a list); refuses unknown keys in words."""
    if text is None:
        return DEFAULT_PROPERTIES
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    keys = tuple(dict.fromkeys(p for p in items if p))
    unknown = [k for k in keys if k not in EXPORT_PROPERTIES]
    if unknown:
        raise InputRefused(
            f"Unknown export propert{'y' if len(unknown) == 1 else 'ies'}: "
            f"{', '.join(unknown)}. Choose from: {', '.join(EXPORT_PROPERTIES)}."
        )
    return keys


def export_file_name(name: str, as_of: date, fmt: ExportFormat) -> str:
    """"loyal-germany-2024-06-30.csv" (letters and digits of the name, lower-case)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG.sub("-", ascii_name.lower()).strip("-")[:60] or "segment"
    return f"{slug}-{as_of.isoformat()}.{fmt}"


def _local_dates(values: pd.Series, tz: str) -> pd.Series:
    ts = pd.to_datetime(values)
    local = ts.dt.tz_localize("UTC").dt.tz_convert(tz)
    return local.dt.strftime("%Y-%m-%d").where(ts.notna(), None)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return neutralise_formula(value)


def export_members(
    src: Source,
    *,
    definition: SegmentDefinition,
    as_of: date,
    name: str = "segment",
    fmt: ExportFormat = "csv",
    properties: Sequence[str] = DEFAULT_PROPERTIES,
    include_unconsented: bool = False,
    actor: str = DEFAULT_ACTOR,
) -> SegmentExport:
    """The segment's members at ``as_of`` as an email-tool import file, sorted by email.

    Parameters
    ----------
    properties
        Keys of :data:`EXPORT_PROPERTIES` to add after Email, First Name and Last Name.
    include_unconsented
        Also write members who do not accept email marketing (default: leave them out; only
        do this for messages that need no marketing consent). The suppression list applies
        either way.
    actor
        Who exports: personal data needs the editor role.

    Raises
    ------
    NotAllowed
        The actor's role is below editor.
    """
    conn = src.state if src.state is not None else getattr(src.backend, "con", None)
    if conn is not None:
        auth.require(conn, actor, auth.Role.EDITOR, "export personal data")
    if fmt not in EXPORT_FORMATS:
        raise InputRefused(f"Unknown export format '{fmt}'. Choose csv or xlsx.")
    props = parse_properties(list(properties))
    t = members(src, definition, as_of=as_of)
    if {"last_order_date", "first_order_date", "orders", "total_spent"} & set(props):
        s = customer_stats(src, cutoff=day_end(src, as_of)).rename(s_id="customer_id")
        t = t.left_join(s, t.customer_id == s.s_id)
    if "rfm_group" in props:
        r = rfm.rfm_group_expr(src, as_of=as_of + _ONE_DAY, groups=rfm.load_groups_for(src))
        r = r.select(r_id=r.customer_id, rfm_group=r.group)
        t = t.left_join(r, t.customer_id == r.r_id)
    if "nps_group" in props:
        n = feedback.latest_answers(src, as_of=as_of)
        n = n.select(n_id=n.customer_id, nps_group=n.nps_group)
        t = t.left_join(n, t.customer_id == n.n_id)
    if "loyalty_tier" in props:
        lt = loyalty_tiers(src, as_of=as_of)
        lt = lt.select(l_id=lt.customer_id, loyalty_tier=lt.tier)
        t = t.left_join(lt, t.customer_id == lt.l_id)
    if "recommended_product" in props:
        nb = next_best_expr(src, cutoff=day_end(src, as_of), top=1)
        nb = nb.select(nb_id=nb.customer_id, recommended_product=nb["product"])
        t = t.left_join(nb, t.customer_id == nb.nb_id)
    cols: dict[str, Any] = {
        "customer_id": t.customer_id,
        "email": t.email,
        "first_name": t.first_name,
        "last_name": t.last_name,
        "city": t.city,
        "region": t.region,
        "country": t.country,
        "tags": t.tags,
    }
    if "s_id" in t.columns:
        cols |= {
            "orders": t.orders.fill_null(0),
            "total_spent": t.spend.fill_null(0).cast("float64"),
            "first_order_at": t.first_order_at,
            "last_order_at": t.last_order_at,
        }
    for extra in ("rfm_group", "nps_group", "loyalty_tier", "recommended_product"):
        if extra in t.columns:
            cols[extra] = t[extra]
    df = src.execute(t.select(**cols).order_by("customer_id"))
    email = df["email"].astype("string").str.strip()
    usable = email.notna() & email.str.contains("@", regex=False).fillna(False)
    no_email = int((~usable).sum())
    ids = df.loc[usable.to_numpy(), "customer_id"].astype(str).tolist()
    if conn is None:  # no local store to hold a suppression list or consent
        kept, n_suppressed, no_consent = set(ids), 0, 0
    else:
        reach = (filter_suppressed(conn, ids) if include_unconsented
                 else filter_reachable(conn, ids, Channel.EMAIL))
        kept, n_suppressed, no_consent = set(reach.kept), reach.suppressed, reach.no_consent
    keep = usable & df["customer_id"].astype(str).isin(kept)
    df = df[keep.to_numpy()].assign(email=email[keep].to_numpy())
    df = df.assign(_k=df["email"].str.casefold()).sort_values(["_k", "customer_id"])
    df = df.drop_duplicates("_k")

    out = pd.DataFrame(
        {
            "Email": [_text(v) for v in df["email"]],
            "First Name": [_text(v) for v in df["first_name"]],
            "Last Name": [_text(v) for v in df["last_name"]],
        }
    )
    for key in props:
        header = EXPORT_PROPERTIES[key]
        if key in ("last_order_date", "first_order_date"):
            col = "last_order_at" if key == "last_order_date" else "first_order_at"
            out[header] = _local_dates(df[col], src.timezone).to_numpy()
        elif key == "orders":
            out[header] = df["orders"].astype("int64").to_numpy()
        elif key == "total_spent":
            out[header] = df["total_spent"].astype("float64").round(2).to_numpy()
        elif key == "tags":
            out[header] = [
                _text(", ".join(str(x) for x in v)) if v is not None and len(v) else None
                for v in df["tags"]
            ]
        elif key == "nps_group":
            out[header] = [
                NPS_GROUP_WORDS[v][:-1].capitalize() if isinstance(v, str) else None
                for v in df["nps_group"]
            ]
        else:
            out[header] = [_text(v) for v in df[key]]
    data = _write(out, fmt)
    return SegmentExport(
        data=data,
        file_name=export_file_name(name, as_of, fmt),
        mime=MIME[fmt],
        format=fmt,
        columns=tuple(out.columns),
        rows=len(out),
        excluded_no_consent=no_consent,
        excluded_no_email=no_email,
        excluded_suppressed=n_suppressed,
    )


def _write(df: pd.DataFrame, fmt: ExportFormat) -> bytes:
    if fmt == "csv":
        text = df.to_csv(index=False, lineterminator="\n", float_format="%.2f")
        return text.encode("utf-8")
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        df.to_excel(xw, index=False, sheet_name=XLSX_SHEET)
    return buf.getvalue()
