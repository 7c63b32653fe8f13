"""Customers: the searchable customer table and one customer's profile.

Reads are Ibis expressions over the shop tables (see :mod:`relmark_core.source`). Orders, first
and last order and net spend cover counted orders only (see
:mod:`relmark_core.metrics.definitions`); net spend is in the reporting currency, while orders in
other currencies still count as orders. Texts (names, comments) are returned as given: pages
truncate and show them as plain text, never as HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal, get_args

import ibis
import pandas as pd
from ibis.expr.types import BooleanValue, Table
from pydantic import BaseModel, ConfigDict

from relmark_core.errors import InputRefused
from relmark_core.metrics.common import NOT_COUNTED_STATUSES, counted_orders
from relmark_core.metrics.rfm import DEFAULT_GROUPS, RfmGroup, default_as_of, rfm_expr, rfm_table
from relmark_core.source import Source

__all__ = [
    "CUSTOMER_COLUMNS",
    "SortColumn",
    "SORT_COLUMNS",
    "DEFAULT_SORT",
    "DEFAULT_DESCENDING",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SEARCHED_FIELDS",
    "CustomerProfile",
    "customer_table",
    "count_customers",
    "search_sentence",
    "customer_profile",
]

CUSTOMER_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "location",
    "first_order",
    "last_order",
    "orders",
    "net_spend",
    "rfm_group",
    "tags",
    "nps",
)
SortColumn = Literal[
    "name", "email", "location", "first_order", "last_order", "orders", "net_spend",
    "rfm_group", "nps",
]
SORT_COLUMNS: tuple[SortColumn, ...] = get_args(SortColumn)
DEFAULT_SORT: SortColumn = "last_order"
DEFAULT_DESCENDING = True
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
SEARCHED_FIELDS = ("name", "email", "customer id", "city", "country")
NPS_KIND = "nps"
CONSENT_CHANNEL = "email marketing"
CONSENT_SOURCE = "customer record (accepts marketing)"

ORDER_COLUMNS = (
    "order_id", "ordered_at", "status", "counted", "currency", "total", "refunds", "net",
    "items", "sales_channel", "discount_code",
)
PRODUCT_COLUMNS = ("product", "category", "quantity", "orders", "spend")
CATEGORY_COLUMNS = ("category", "quantity", "orders", "spend")
FEEDBACK_COLUMNS = ("answered_at", "kind", "score", "comment", "product", "title", "source")
CONSENT_COLUMNS = ("channel", "status", "source")


class CustomerProfile(BaseModel):
    """Everything the profile page shows about one customer.

    Attributes
    ----------
    details
        The customer's fields (``customer_id``, ``name``, ``email``, ``phone``, ``location``,
        ``city``, ``region``, ``country``, ``birthday``, ``gender``, ``tags`` (list),
        ``acquisition_channel``, ``signup_at``, ``source_system``) and their order summary
        (``first_order``, ``last_order``, ``orders``, ``net_spend``, ``currency``).
    orders
        Every order, oldest first (the timeline), counted or not: ``order_id``, ``ordered_at``,
        ``status``, ``counted`` (bool), ``currency``, ``total``, ``refunds``, ``net`` (floats,
        in the order's currency), ``items`` (units), ``sales_channel``, ``discount_code``.
    products
        Products in counted orders: ``product``, ``category``, ``quantity``, ``orders``,
        ``spend`` (line price × quantity, reporting-currency orders only), highest spend first.
    categories
        The same by category: ``category``, ``quantity``, ``orders``, ``spend``.
    feedback
        Survey answers and reviews, newest first: ``answered_at``, ``kind``, ``score``,
        ``comment``, ``product``, ``title``, ``source``.
    consent
        ``channel``, ``status`` (given / not given / unknown), ``source``.
    rfm
        The customer's RFM row (``recency_days``, ``frequency``, ``monetary``, ``r``, ``f``,
        ``m``, ``group``, ``reason``, ``as_of``), or None without counted orders.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    customer_id: str
    details: dict[str, Any]
    orders: pd.DataFrame
    products: pd.DataFrame
    categories: pd.DataFrame
    feedback: pd.DataFrame
    consent: pd.DataFrame
    rfm: dict[str, Any] | None


def _name(c: Table) -> Any:
    return ibis.literal(" ").join([c.first_name, c.last_name]).strip().nullif("")


def _location(c: Table) -> Any:
    return ibis.literal(", ").join([c.city, c.region, c.country]).nullif("")


def _search_filter(c: Table, search: str) -> BooleanValue:
    needle = search.strip().lower()
    fields = [_name(c), c.email, c.customer_id, c.city, c.country]
    cond: BooleanValue = ibis.literal(False)
    for f in fields:
        cond = cond | f.lower().contains(needle).fill_null(False)
    return cond


def search_sentence(search: str | None) -> str:
    """The search in words, for the page: "Customers whose name, email, ... contains “ann”"."""
    if search is None or not search.strip():
        return "All customers"
    fields = ", ".join(SEARCHED_FIELDS[:-1]) + " or " + SEARCHED_FIELDS[-1]
    return f"Customers whose {fields} contains “{search.strip()}”"


def _customers(src: Source, search: str | None) -> Table:
    c = src.customers
    if search is not None and search.strip():
        c = c.filter(_search_filter(c, search))
    return c


def count_customers(src: Source, *, search: str | None = None) -> int:
    """How many customers the search matches (all customers when ``search`` is empty)."""
    return int(src.execute(_customers(src, search).count()))


def _latest_nps(src: Source) -> Table:
    fb = src.feedback
    fb = fb.filter(fb.kind == NPS_KIND, fb.customer_id.notnull())
    w = ibis.window(
        group_by=fb.customer_id, order_by=[ibis.desc(fb.answered_at), ibis.desc(fb.response_id)]
    )
    fb = fb.mutate(_n=ibis.row_number().over(w))
    return fb.filter(fb._n == 0).select("customer_id", nps=fb.score)


def customer_table(
    src: Source,
    *,
    search: str | None = None,
    sort: SortColumn = DEFAULT_SORT,
    descending: bool = DEFAULT_DESCENDING,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    as_of: date | None = None,
    groups: Sequence[RfmGroup] = DEFAULT_GROUPS,
) -> pd.DataFrame:
    """One page of the customer table.

    Parameters
    ----------
    search
        Case-insensitive text found in the name, email, customer id, city or country.
    sort, descending
        One of :data:`SORT_COLUMNS`; empty values sort last either way, then ``customer_id``.
    limit, offset
        The page: at most ``limit`` (≤ :data:`MAX_LIMIT`) rows after skipping ``offset``.
    as_of, groups
        Orders, spend and RFM group as of this date (default: the day after the last counted
        order, so every order counts).

    Returns
    -------
    DataFrame
        ``customer_id``, ``name``, ``email``, ``location`` ("city, region, country"),
        ``first_order``, ``last_order`` (UTC timestamps of counted orders), ``orders``,
        ``net_spend`` (float, reporting currency), ``rfm_group`` (None without orders or
        without a matching group), ``tags`` ("a, b"), ``nps`` (latest NPS score or None).
    """
    if sort not in SORT_COLUMNS:
        raise InputRefused(
            f"The customer table cannot be sorted by '{sort}'. Choose one of: "
            f"{', '.join(SORT_COLUMNS)}."
        )
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InputRefused(
            f"Show between 1 and {MAX_LIMIT:,} customers at a time (asked for {limit}, "
            f"starting at {offset})."
        )
    c = _customers(src, search)
    c = c.select("customer_id", name=_name(c), email=c.email, location=_location(c), tags=c.tags)
    j = c.left_join(_latest_nps(src), "customer_id")
    day = default_as_of(src) if as_of is None else as_of
    if day is not None:
        r = rfm_expr(src, as_of=day, groups=groups)
        j = j.left_join(
            r.select(
                "customer_id",
                first_order=r.first_order_at,
                last_order=r.last_order_at,
                orders=r.frequency,
                net_spend=r.monetary,
                rfm_group=r.group,
            ),
            "customer_id",
        )
    else:
        j = j.mutate(
            first_order=ibis.null("timestamp"),
            last_order=ibis.null("timestamp"),
            orders=ibis.null("int64"),
            net_spend=ibis.null("decimal(18, 2)"),
            rfm_group=ibis.null("string"),
        )
    j = j.select(
        *CUSTOMER_COLUMNS[:6],
        orders=j.orders.fill_null(0),
        net_spend=j.net_spend.fill_null(0).cast("float64"),
        rfm_group=j.rfm_group,
        tags=j.tags,
        nps=j.nps,
    )
    key = ibis.desc(j[sort]) if descending else ibis.asc(j[sort])
    j = j.order_by([key, j.customer_id]).limit(limit, offset=offset)
    df = src.execute(j)
    df["orders"] = df["orders"].astype("int64")
    df["net_spend"] = df["net_spend"].astype("float64").round(2)
    df["nps"] = df["nps"].astype("Int64")
    # tags are joined here, on the page's rows only (DuckDB's list join is slow on every row)
    df["tags"] = [
        ", ".join(str(t) for t in tags) if tags is not None and len(tags) else None
        for tags in df["tags"]
    ]
    return df[list(CUSTOMER_COLUMNS)]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "tolist") and not isinstance(value, str):
        return value.tolist()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _consent(accepts: Any) -> pd.DataFrame:
    status = "unknown" if accepts is None else ("given" if accepts else "not given")
    return pd.DataFrame(
        [{"channel": CONSENT_CHANNEL, "status": status, "source": CONSENT_SOURCE}],
        columns=list(CONSENT_COLUMNS),
    )


def customer_profile(
    src: Source,
    customer_id: str,
    *,
    as_of: date | None = None,
    groups: Sequence[RfmGroup] = DEFAULT_GROUPS,
) -> CustomerProfile:
    """Everything about one customer (see :class:`CustomerProfile`).

    Raises
    ------
    InputRefused
        When no customer has this id.
    """
    c = src.customers
    c = c.filter(c.customer_id == customer_id)
    cust = src.execute(
        c.select(
            "customer_id", name=_name(c), email=c.email, phone=c.phone, location=_location(c),
            city=c.city, region=c.region, country=c.country, birthday=c.birthday,
            gender=c.gender, tags=c.tags, acquisition_channel=c.acquisition_channel,
            signup_at=c.signup_at, source_system=c.source_system,
            accepts_marketing=c.accepts_marketing,
        )
    )
    if cust.empty:
        raise InputRefused(
            f"No customer has the id '{customer_id}'. Search the customer table and pick one "
            "from the results."
        )
    details = {k: _plain(v) for k, v in cust.iloc[0].to_dict().items()}
    accepts = details.pop("accepts_marketing")
    if details["tags"] is None:
        details["tags"] = []

    o = src.orders
    o = o.filter(o.customer_id == customer_id)
    lines = src.order_lines
    lines = lines.inner_join(o.select("order_id"), "order_id")  # this customer's lines only
    items = lines.group_by("order_id").aggregate(items=lines.quantity.sum())
    counted = ~o.status.isin(NOT_COUNTED_STATUSES) & (o.net > 0)
    oj = o.left_join(items, "order_id")
    orders = src.execute(
        oj.select(
            "order_id", "ordered_at", "status",
            counted=counted, currency=oj.currency,
            total=oj.total.cast("float64"), refunds=oj.refunds.cast("float64"),
            net=oj.net.cast("float64"), items=oj["items"].fill_null(0),
            sales_channel=oj.sales_channel, discount_code=oj.discount_code,
        ).order_by(["ordered_at", "order_id"])
    )
    orders = orders[list(ORDER_COLUMNS)]
    orders["items"] = orders["items"].astype("int64")
    orders["counted"] = orders["counted"].astype(bool)

    counted_o = orders[orders["counted"]]
    home = counted_o[counted_o["currency"] == src.reporting_currency]
    details.update(
        first_order=_plain(counted_o["ordered_at"].min()) if len(counted_o) else None,
        last_order=_plain(counted_o["ordered_at"].max()) if len(counted_o) else None,
        orders=len(counted_o),
        net_spend=round(float(home["net"].sum()), 2),
        currency=src.reporting_currency,
    )

    products, categories = _bought(src, customer_id)

    fb = src.feedback
    fb = fb.filter(fb.customer_id == customer_id)
    feedback = src.execute(
        fb.select(*FEEDBACK_COLUMNS).order_by([ibis.desc("answered_at"), ibis.desc("kind")])
    )

    day = default_as_of(src) if as_of is None else as_of
    rfm: dict[str, Any] | None = None
    if day is not None:
        row = rfm_table(src, as_of=day, groups=groups, customer_id=customer_id)
        if len(row):
            rec = {k: _plain(v) for k, v in row.iloc[0].to_dict().items()}
            rfm = {k: rec[k] for k in (
                "recency_days", "frequency", "monetary", "r", "f", "m", "group", "reason"
            )}
            rfm["as_of"] = day

    return CustomerProfile(
        customer_id=customer_id,
        details=details,
        orders=orders.reset_index(drop=True),
        products=products,
        categories=categories,
        feedback=feedback[list(FEEDBACK_COLUMNS)],
        consent=_consent(accepts),
        rfm=rfm,
    )


def _bought(src: Source, customer_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    o = counted_orders(src)
    o = o.filter(o.customer_id == customer_id).select("order_id", "currency")
    lines = src.order_lines
    j = lines.inner_join(o, "order_id")
    home = j.currency == src.reporting_currency
    j = j.mutate(
        spend=ibis.ifelse(home, j.unit_price * j.quantity, 0).fill_null(0),
        quantity=j.quantity.fill_null(0),
    )

    def per(keys: list[str], columns: Sequence[str]) -> pd.DataFrame:
        df = src.execute(
            j.group_by(keys).aggregate(
                quantity=j.quantity.sum(),
                orders=j.order_id.nunique(),
                spend=j.spend.sum().cast("float64"),
            ).order_by([ibis.desc("spend"), ibis.desc("quantity"), *keys])
        )
        df["quantity"] = df["quantity"].astype("int64")
        df["orders"] = df["orders"].astype("int64")
        df["spend"] = df["spend"].astype("float64").round(2)
        return df[list(columns)].reset_index(drop=True)

    return per(["product", "category"], PRODUCT_COLUMNS), per(["category"], CATEGORY_COLUMNS)
