"""The exports Relmark recognises by their header, and the fields each kind of file can fill.

A format is data: the header names that identify it, which of its columns fills which Relmark
field, how its order statuses read. Recognition never asks: a file whose header holds a
format's identifying columns *is* that format. Anything else is ``generic`` and goes through the
column-mapping step (:mod:`relmark_core.imports.mapping`).

Column names below were checked against real exports: Shopify's orders export (one row per line
item, the order's own columns only on its first row) and customers export (old and new
layouts), WooCommerce's order export columns (``order_id``, ``order_date``, ``order_total``,
``billing_email``...), Stripe's payments export (``id``, ``Created date (UTC)``/``Created
(UTC)``, ``Amount``, ``Amount Refunded``...), Square's transactions export (``Date``, ``Time``,
``Time Zone``, ``Gross Sales``... ``Transaction ID``), Klaviyo's profile export (``Email``,
``First Name``, ``Phone Number``, ``State / Region``, ``Email Marketing Consent``, ``SMS
Marketing Consent``: SUBSCRIBED / UNSUBSCRIBED / NEVER_SUBSCRIBED...), Typeform's
responses download (``#``, one column per question, ``Start Date (UTC)``, ``Submit Date (UTC)``,
``Network ID``) and Delighted's responses download (``Response ID``, ``Score``, ``Comment``...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Kind",
    "KINDS",
    "FieldType",
    "FieldSpec",
    "FIELDS",
    "FormatSpec",
    "FORMATS",
    "GENERIC",
    "FORMAT_NAMES",
    "normalise_header",
    "recognise",
    "find_format",
    "missing_signature",
    "required_fields",
    "field_spec",
    "GENERIC_STATUSES",
    "RAILS_TIME_ZONES",
    "COUNTRY_CODES",
    "CURRENCY_SYMBOLS",
]

Kind = Literal["orders", "customers", "feedback"]
KINDS: tuple[Kind, ...] = ("orders", "customers", "feedback")
FieldType = Literal[
    "id", "text", "email", "money", "timestamp", "date", "int", "bool", "tags", "country",
    "status", "currency", "score", "survey_kind",
]
Level = Literal["order", "line", "person", "row"]


@dataclass(frozen=True)
class FieldSpec:
    """A Relmark field a file can fill: its key (used in mappings), label and type."""

    key: str
    label: str
    type: FieldType
    level: Level
    required: bool = False


def _f(key: str, label: str, type_: FieldType, level: Level, required: bool = False) -> FieldSpec:
    return FieldSpec(key=key, label=label, type=type_, level=level, required=required)


_PERSON = (
    _f("customer_id", "Customer id", "id", "person"),
    _f("email", "Email", "email", "person"),
    _f("first_name", "First name", "text", "person"),
    _f("last_name", "Last name", "text", "person"),
    _f("name", "Full name", "text", "person"),
    _f("phone", "Phone", "text", "person"),
    _f("city", "City", "text", "person"),
    _f("region", "Region / state", "text", "person"),
    _f("country", "Country", "country", "person"),
    _f("accepts_marketing", "Accepts marketing", "bool", "person"),
    _f("sms_consent", "Accepts SMS marketing", "bool", "person"),
)

FIELDS: dict[Kind, tuple[FieldSpec, ...]] = {
    "orders": (
        _f("order_id", "Order number", "id", "order", True),
        _f("ordered_at", "Order date", "timestamp", "order", True),
        _f("total", "Order total (paid, incl. shipping and tax)", "money", "order", True),
        _f("currency", "Currency", "currency", "order"),
        _f("status", "Status", "status", "order"),
        _f("refunds", "Refunded amount", "money", "order"),
        _f("subtotal", "Subtotal", "money", "order"),
        _f("discounts", "Discounts", "money", "order"),
        _f("shipping", "Shipping", "money", "order"),
        _f("tax", "Tax", "money", "order"),
        _f("sales_channel", "Sales channel", "text", "order"),
        _f("discount_code", "Discount code", "text", "order"),
        *_PERSON,
        _f("product", "Product", "text", "line"),
        _f("sku", "SKU", "text", "line"),
        _f("category", "Product category", "text", "line"),
        _f("quantity", "Quantity", "int", "line"),
        _f("unit_price", "Unit price", "money", "line"),
    ),
    "customers": (
        *_PERSON,
        _f("birthday", "Birthday", "date", "person"),
        _f("gender", "Gender", "text", "person"),
        _f("tags", "Tags / interests", "tags", "person"),
        _f("acquisition_channel", "Acquisition channel", "text", "person"),
        _f("signup_at", "Signed up", "timestamp", "person"),
    ),
    "feedback": (
        _f("score", "Score (NPS 0-10 or CSAT 1-5)", "score", "row", True),
        _f("answered_at", "Answered", "timestamp", "row", True),
        _f("response_id", "Response id", "id", "row"),
        _f("kind", "Survey kind (NPS / CSAT)", "survey_kind", "row"),
        _f("comment", "Comment", "text", "row"),
        _f("product", "Product", "text", "row"),
        _f("title", "Title", "text", "row"),
        *_PERSON,
    ),
}


def field_spec(kind: Kind, key: str) -> FieldSpec | None:
    for f in FIELDS[kind]:
        if f.key == key:
            return f
    return None


def required_fields(kind: Kind) -> tuple[str, ...]:
    """Fields a file of this kind must fill (customers: an email or a customer id)."""
    return tuple(f.key for f in FIELDS[kind] if f.required)


# Order statuses Relmark stores: paid | pending | cancelled | voided | failed | uncaptured |
# refunded (see relmark_core.metrics.common.NOT_COUNTED_STATUSES for which ones count).
_SHOPIFY_STATUSES = {
    "paid": "paid",
    "partially_refunded": "paid",
    "refunded": "refunded",
    "pending": "pending",
    "authorized": "pending",
    "partially_paid": "pending",
    "unpaid": "pending",
    "voided": "voided",
    "expired": "voided",
}
_WOO_STATUSES = {
    "completed": "paid",
    "processing": "paid",
    "on_hold": "pending",
    "pending": "pending",
    "pending_payment": "pending",
    "checkout_draft": "pending",
    "draft": "pending",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "failed": "failed",
}
_STRIPE_STATUSES = {
    "paid": "paid",
    "succeeded": "paid",
    "partially_refunded": "paid",
    "disputed": "paid",
    "refunded": "refunded",
    "failed": "failed",
    "blocked": "failed",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "uncaptured": "uncaptured",
    "pending": "pending",
}
_SQUARE_STATUSES = {
    "complete": "paid",
    "completed": "paid",
    "pending": "pending",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "failed": "failed",
}
GENERIC_STATUSES: dict[str, str] = {
    **_SHOPIFY_STATUSES,
    **_WOO_STATUSES,
    **_STRIPE_STATUSES,
    **_SQUARE_STATUSES,
    "fulfilled": "paid",
    "shipped": "paid",
    "delivered": "paid",
    "closed": "paid",
    "ok": "paid",
    "open": "pending",
    "void": "voided",
    "canceled_by_customer": "cancelled",
    # A few common words in French, German and Spanish exports.
    "payé": "paid",
    "payée": "paid",
    "bezahlt": "paid",
    "pagado": "paid",
    "annulé": "cancelled",
    "annulée": "cancelled",
    "storniert": "cancelled",
    "cancelado": "cancelled",
    "remboursé": "refunded",
    "erstattet": "refunded",
    "reembolsado": "refunded",
}


@dataclass(frozen=True)
class FormatSpec:
    """A recognised export.

    ``signature`` names (normalised) must all be in the header, and one name of each
    ``any_of`` group; ``columns`` gives, per Relmark field, the header names that fill it (the
    first present wins). Fields starting with ``_`` are the format's own helpers (Shopify's
    cancellation date, Square's separate date/time/zone columns...).
    """

    name: str
    label: str
    kind: Kind
    source_system: str
    signature: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    any_of: tuple[tuple[str, ...], ...] = ()
    statuses: dict[str, str] = field(default_factory=dict)
    multi_row: bool = False
    utc: bool = False
    default_status: str = "paid"

    def specificity(self) -> int:
        return len(self.signature) + len(self.any_of)


FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec(
        name="shopify_orders",
        label="Shopify orders export",
        kind="orders",
        source_system="shopify",
        signature=("name", "financial status", "created at", "total", "lineitem quantity",
                   "lineitem name"),
        columns={
            "order_id": ("name",),
            "ordered_at": ("created at",),
            "total": ("total",),
            "currency": ("currency",),
            "status": ("financial status",),
            "_cancelled_at": ("cancelled at",),
            "refunds": ("refunded amount",),
            "subtotal": ("subtotal",),
            "discounts": ("discount amount",),
            "shipping": ("shipping",),
            "tax": ("taxes",),
            "sales_channel": ("source",),
            "discount_code": ("discount code",),
            "email": ("email",),
            "name": ("billing name", "shipping name"),
            "phone": ("phone", "billing phone", "shipping phone"),
            "city": ("billing city", "shipping city"),
            "region": ("billing province", "shipping province"),
            "country": ("billing country", "shipping country"),
            "accepts_marketing": ("accepts marketing", "accepts email marketing"),
            "product": ("lineitem name",),
            "sku": ("lineitem sku",),
            "quantity": ("lineitem quantity",),
            "unit_price": ("lineitem price",),
        },
        statuses=_SHOPIFY_STATUSES,
        multi_row=True,
    ),
    FormatSpec(
        name="shopify_customers",
        label="Shopify customers export",
        kind="customers",
        source_system="shopify",
        signature=("first name", "last name", "email", "total spent", "total orders"),
        columns={
            "customer_id": ("customer id",),
            "email": ("email",),
            "first_name": ("first name",),
            "last_name": ("last name",),
            "phone": ("phone", "default address phone"),
            "city": ("default address city", "city"),
            "region": ("default address province code", "province code", "province"),
            "country": ("default address country code", "country code", "country"),
            "accepts_marketing": ("accepts email marketing", "accepts marketing"),
            "sms_consent": ("accepts sms marketing",),
            "tags": ("tags",),
        },
    ),
    FormatSpec(
        name="woocommerce_orders",
        label="WooCommerce orders export",
        kind="orders",
        source_system="woocommerce",
        signature=("order_date", "order_total", "status"),
        any_of=(("order_id", "order_number"), ("billing_email", "customer_email")),
        columns={
            "order_id": ("order_id", "order_number"),
            "ordered_at": ("order_date", "date"),
            "total": ("order_total",),
            "currency": ("order_currency", "currency"),
            "status": ("status", "order_status"),
            "refunds": ("refunded_total", "order_refund", "total_refunded", "refund_total"),
            "subtotal": ("order_subtotal",),
            "discounts": ("discount_total", "cart_discount"),
            "shipping": ("shipping_total", "order_shipping"),
            "tax": ("tax_total", "order_tax"),
            "_shipping_tax": ("shipping_tax_total", "order_shipping_tax"),
            "discount_code": ("coupon_code", "coupons"),
            "sales_channel": ("created_via",),
            "customer_id": ("customer_id", "customer_user"),
            "email": ("billing_email", "customer_email"),
            "first_name": ("billing_first_name",),
            "last_name": ("billing_last_name",),
            "phone": ("billing_phone",),
            "city": ("billing_city",),
            "region": ("billing_state",),
            "country": ("billing_country",),
            "product": ("item_name", "line_item_name"),
            "sku": ("item_sku", "line_item_sku"),
            "quantity": ("item_quantity", "line_item_quantity"),
            "unit_price": ("item_price",),
            "_line_total": ("item_subtotal", "item_total", "line_item_total"),
            "_line_items": ("line_items",),
        },
        statuses=_WOO_STATUSES,
        multi_row=True,
    ),
    FormatSpec(
        name="stripe_payments",
        label="Stripe payments export",
        kind="orders",
        source_system="stripe",
        signature=("id", "amount", "amount refunded", "currency", "status"),
        any_of=(("created date (utc)", "created (utc)", "created"),),
        columns={
            "order_id": ("id",),
            "ordered_at": ("created date (utc)", "created (utc)", "created"),
            "total": ("amount",),
            "refunds": ("amount refunded",),
            "currency": ("currency",),
            "status": ("status",),
            "_captured": ("captured",),
            "customer_id": ("customer id",),
            "email": ("customer email", "email (metadata)", "email"),
            "name": ("card name", "shipping name"),
            "city": ("card address city",),
            "region": ("card address state",),
            "country": ("card address country",),
        },
        statuses=_STRIPE_STATUSES,
        utc=True,
    ),
    FormatSpec(
        name="square_transactions",
        label="Square transactions export",
        kind="orders",
        source_system="square",
        signature=("date", "time", "time zone", "gross sales", "total collected",
                   "transaction id"),
        columns={
            "order_id": ("transaction id",),
            "_date": ("date",),
            "_time": ("time",),
            "_time_zone": ("time zone",),
            "total": ("total collected",),
            "subtotal": ("gross sales",),
            "discounts": ("discounts",),
            "tax": ("tax",),
            "_event_type": ("event type",),
            "status": ("transaction status",),
            "sales_channel": ("channel", "source"),
            "customer_id": ("customer id",),
            "name": ("customer name",),
        },
        statuses=_SQUARE_STATUSES,
    ),
    FormatSpec(
        name="klaviyo_profiles",
        label="Klaviyo profiles export",
        kind="customers",
        source_system="klaviyo",
        signature=("email", "first name", "last name"),
        any_of=(("klaviyo id", "email marketing consent", "profile created on", "state / region"),),
        columns={
            "customer_id": ("klaviyo id",),
            "email": ("email",),
            "first_name": ("first name",),
            "last_name": ("last name",),
            "phone": ("phone number", "phone"),
            "city": ("city",),
            "region": ("state / region",),
            "country": ("country",),
            "accepts_marketing": ("email marketing consent", "accepts marketing"),
            "sms_consent": ("sms marketing consent", "sms consent"),
            "_email_state": ("email marketing consent",),
            "_sms_state": ("sms marketing consent", "sms consent"),
            "signup_at": ("profile created on", "date added", "created"),
            "acquisition_channel": ("initial source", "source"),
            "birthday": ("birthday",),
            "gender": ("gender",),
        },
    ),
    FormatSpec(
        name="typeform",
        label="Typeform responses download",
        kind="feedback",
        source_system="typeform",
        signature=("#", "submit date (utc)"),
        any_of=(("network id", "start date (utc)"),),
        columns={
            "response_id": ("#",),
            "answered_at": ("submit date (utc)",),
        },
        utc=True,
    ),
    FormatSpec(
        name="delighted",
        label="Delighted responses export",
        kind="feedback",
        source_system="delighted",
        signature=("response id", "score", "comment"),
        any_of=(("response timestamp", "created at", "created", "timestamp", "date"),),
        columns={
            "response_id": ("response id",),
            "answered_at": ("response timestamp", "created at", "created", "timestamp", "date"),
            "score": ("score",),
            "comment": ("comment",),
            "kind": ("survey type",),
            "email": ("email", "person email"),
            "name": ("name", "person name"),
        },
    ),
)

GENERIC = FormatSpec(
    name="generic",
    label="CSV / spreadsheet (columns mapped)",
    kind="orders",
    source_system="import",
    signature=(),
    columns={},
    statuses=GENERIC_STATUSES,
    multi_row=True,
)

FORMAT_NAMES: tuple[str, ...] = tuple(f.name for f in FORMATS) + (GENERIC.name,)


def normalise_header(name: str) -> str:
    """Lower-case, trimmed, inner whitespace collapsed: how headers are compared."""
    return re.sub(r"\s+", " ", name.replace("\ufeff", "").strip().lower())


def _matches(spec: FormatSpec, names: set[str]) -> bool:
    return all(s in names for s in spec.signature) and all(
        any(a in names for a in group) for group in spec.any_of
    )


def recognise(header: list[str]) -> FormatSpec | None:
    """The most specific known format whose identifying columns the header holds, or None."""
    names = {normalise_header(h) for h in header}
    found = [spec for spec in FORMATS if _matches(spec, names)]
    if not found:
        return None
    return max(found, key=lambda s: s.specificity())


def find_format(name: str) -> FormatSpec | None:
    if name == GENERIC.name:
        return GENERIC
    for spec in FORMATS:
        if spec.name == name:
            return spec
    return None


def missing_signature(spec: FormatSpec, header: list[str]) -> list[str]:
    """The identifying columns of ``spec`` the header lacks (for a forced ``--format``)."""
    names = {normalise_header(h) for h in header}
    missing = [s for s in spec.signature if s not in names]
    missing += [" or ".join(g) for g in spec.any_of if not any(a in names for a in g)]
    return missing


# Square writes Rails' time zone names ("Eastern Time (US & Canada)"); DuckDB needs IANA names.
RAILS_TIME_ZONES: dict[str, str] = {
    "Eastern Time (US & Canada)": "America/New_York",
    "Central Time (US & Canada)": "America/Chicago",
    "Mountain Time (US & Canada)": "America/Denver",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Alaska": "America/Juneau",
    "Hawaii": "Pacific/Honolulu",
    "Arizona": "America/Phoenix",
    "Atlantic Time (Canada)": "America/Halifax",
    "Newfoundland": "America/St_Johns",
    "Saskatchewan": "America/Regina",
    "Indiana (East)": "America/Indiana/Indianapolis",
    "Puerto Rico": "America/Puerto_Rico",
    "Mexico City": "America/Mexico_City",
    "Bogota": "America/Bogota",
    "Lima": "America/Lima",
    "Santiago": "America/Santiago",
    "Buenos Aires": "America/Argentina/Buenos_Aires",
    "Brasilia": "America/Sao_Paulo",
    "UTC": "UTC",
    "London": "Europe/London",
    "Edinburgh": "Europe/London",
    "Dublin": "Europe/Dublin",
    "Lisbon": "Europe/Lisbon",
    "Madrid": "Europe/Madrid",
    "Paris": "Europe/Paris",
    "Brussels": "Europe/Brussels",
    "Amsterdam": "Europe/Amsterdam",
    "Berlin": "Europe/Berlin",
    "Bern": "Europe/Zurich",
    "Zurich": "Europe/Zurich",
    "Rome": "Europe/Rome",
    "Vienna": "Europe/Vienna",
    "Stockholm": "Europe/Stockholm",
    "Copenhagen": "Europe/Copenhagen",
    "Oslo": "Europe/Oslo",
    "Helsinki": "Europe/Helsinki",
    "Warsaw": "Europe/Warsaw",
    "Prague": "Europe/Prague",
    "Athens": "Europe/Athens",
    "Istanbul": "Europe/Istanbul",
    "Moscow": "Europe/Moscow",
    "Dubai": "Asia/Dubai",
    "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata",
    "Singapore": "Asia/Singapore",
    "Hong Kong": "Asia/Hong_Kong",
    "Beijing": "Asia/Shanghai",
    "Tokyo": "Asia/Tokyo",
    "Osaka": "Asia/Tokyo",
    "Seoul": "Asia/Seoul",
    "Perth": "Australia/Perth",
    "Adelaide": "Australia/Adelaide",
    "Brisbane": "Australia/Brisbane",
    "Sydney": "Australia/Sydney",
    "Melbourne": "Australia/Melbourne",
    "Auckland": "Pacific/Auckland",
    "Wellington": "Pacific/Auckland",
    # Abbreviations some exports write instead.
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "GMT": "UTC",
    "BST": "Europe/London",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
}

# Country names some exports write in full (Klaviyo, Stripe card countries are codes already).
COUNTRY_CODES: dict[str, str] = {
    "united states": "US", "united states of america": "US", "usa": "US", "u.s.a.": "US",
    "canada": "CA", "mexico": "MX", "brazil": "BR", "argentina": "AR", "chile": "CL",
    "colombia": "CO", "peru": "PE", "united kingdom": "GB", "great britain": "GB", "uk": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB", "ireland": "IE",
    "france": "FR", "germany": "DE", "deutschland": "DE", "spain": "ES", "españa": "ES",
    "portugal": "PT", "italy": "IT", "italia": "IT", "netherlands": "NL", "the netherlands": "NL",
    "belgium": "BE", "belgique": "BE", "luxembourg": "LU", "switzerland": "CH", "schweiz": "CH",
    "suisse": "CH", "austria": "AT", "österreich": "AT", "denmark": "DK", "sweden": "SE",
    "norway": "NO", "finland": "FI", "iceland": "IS", "poland": "PL", "czech republic": "CZ",
    "czechia": "CZ", "slovakia": "SK", "hungary": "HU", "romania": "RO", "bulgaria": "BG",
    "greece": "GR", "turkey": "TR", "türkiye": "TR", "russia": "RU", "ukraine": "UA",
    "estonia": "EE", "latvia": "LV", "lithuania": "LT", "slovenia": "SI", "croatia": "HR",
    "serbia": "RS", "israel": "IL", "united arab emirates": "AE", "saudi arabia": "SA",
    "india": "IN", "china": "CN", "japan": "JP", "south korea": "KR", "korea": "KR",
    "singapore": "SG", "hong kong": "HK", "taiwan": "TW", "thailand": "TH", "vietnam": "VN",
    "malaysia": "MY", "indonesia": "ID", "philippines": "PH", "australia": "AU",
    "new zealand": "NZ", "south africa": "ZA", "nigeria": "NG", "kenya": "KE", "egypt": "EG",
    "morocco": "MA",
}

CURRENCY_SYMBOLS: dict[str, str] = {"$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR"}
