"""Customers: find anyone (search, sort, pages), click a row for their profile.

The search text, the sort and the open profile live in the URL (``q``, ``sort``, ``desc``,
``customer``), so a link opens the same list or the same customer.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from relmark_core.customers import (
    DEFAULT_DESCENDING,
    DEFAULT_SORT,
    SORT_COLUMNS,
    CustomerProfile,
    count_customers,
    customer_profile,
    customer_table,
    search_sentence,
)
from relmark_core.errors import RelmarkError
from relmark_core.loyalty import member_status
from relmark_core.metrics.definitions import COUNTED_ORDER, RFM_AS_OF, definition
from relmark_core.metrics.rfm import load_groups_for
from relmark_core.personalisation.recommend import next_best_products, upsell_products
from relmark_ui import compute, current
from relmark_ui.tables import (
    chart_text,
    count_column,
    date_column,
    money_column,
    plain,
    truncate,
    truncate_columns,
)
from relmark_ui.widgets import (
    fmt_money,
    metric_card,
    url_choice,
    url_pagination,
    url_tabs,
    url_text,
    url_toggle,
)

PAGE_SIZE = 50
SUGGESTIONS_SHOWN = 3  # next-best products on the profile
TABLE_HEIGHT = 600
ROW_HEIGHT = 35  # st.dataframe's row height, to fit short tables to their rows
COMMENTS_SHOWN = 20
TIMELINE_PAD_DAYS = 15  # room either side of the first and last order (one order is a dot, not a day)
KIND_LABELS = {"nps": "NPS", "csat": "CSAT", "review": "Review"}
PROFILE_PARAM = "customer"
PROFILE_TABS = {"orders": "Orders", "products": "Products and categories",
                "feedback": "Feedback", "details": "Details"}  # URL id -> tab label
SORT_LABELS = {
    "name": "Name", "email": "Email", "rfm_group": "RFM group", "orders": "Orders",
    "net_spend": "Net spend", "last_order": "Last order", "first_order": "First order",
    "nps": "Latest NPS", "location": "Location",
}
# who, their group, their value and recency first; location and tags last (scroll right)
TABLE_COLUMNS = [*SORT_LABELS, "tags"]
LATEST_NPS_HELP = (
    "The customer's latest NPS answer (0–10): 9–10 promoter, 7–8 passive, 0–6 detractor."
)
ORDER_DATE_HELP = f"UTC date of the customer's {{which}} counted order. A counted order is {COUNTED_ORDER}."

ctx = current()
currency = ctx.src.reporting_currency
groups = compute(load_groups_for)
st.title("Customers")


def _close_profile() -> None:
    if PROFILE_PARAM in st.query_params:
        del st.query_params[PROFILE_PARAM]


def _when(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return pd.Timestamp(value).strftime("%-d %b %Y")


def customer_list() -> None:
    c1, c2, c3 = st.columns([3, 1.4, 1.2], vertical_alignment="bottom")
    search = url_text(
        "Search customers", key="cu_search", param="q", where=c1,
        placeholder="Part of a name, email, customer id, city or country",
        help="Not case-sensitive; finds the text anywhere in the name, email, customer id, city "
        "or country.",
    )
    sort = url_choice(
        "Sort by", [c for c in SORT_LABELS if c in SORT_COLUMNS], key="cu_sort", param="sort", default=DEFAULT_SORT,
        format_func=lambda c: SORT_LABELS[c], where=c2,
        help="Sorts all matching customers, not only this page; empty values go last.",
    )
    descending = url_toggle(
        "Largest / newest first", key="cu_desc", param="desc", default=DEFAULT_DESCENDING,
        where=c3,
    )
    query = search.strip() or None
    view = (query, sort, descending)
    if st.session_state.get("cu_view") != view:  # a new search or sort starts on page 1
        if "cu_view" in st.session_state:  # (the first visit takes the page from the URL)
            st.session_state["cu_page"] = 1
        st.session_state["cu_view"] = view

    total = compute(count_customers, search=query)
    if total == 0:
        if query:
            st.info(
                f"No customer matches “{plain(query)}”. Try part of a name or an email, or "
                "clear the search."
            )
        else:
            st.info("There are no customers yet. Import your customer or order exports on the "
                    "Data page.")
        return

    caption = st.empty()
    table_slot = st.container()
    pages = math.ceil(total / PAGE_SIZE)
    page_no = url_pagination(pages, key="cu_page", param="p")
    first = (page_no - 1) * PAGE_SIZE
    df = compute(
        customer_table, search=query, sort=sort, descending=descending, limit=PAGE_SIZE,
        offset=first, groups=groups,
    )
    order_words = {True: "largest / newest first", False: "smallest / oldest first"}[descending]
    caption.caption(
        f"{plain(search_sentence(query))} · **{total:,}** "
        f"{'customer' if total == 1 else 'customers'} · showing {first + 1:,}–"
        f"{first + len(df):,}, sorted by {SORT_LABELS[sort].lower()}, {order_words}. "
        "Click a row to open the customer's profile."
    )
    shown = truncate_columns(df, ["name", "email", "location", "tags"])
    with table_slot:
        event = st.dataframe(
            shown,
            key="cu_table",
            on_select="rerun",
            selection_mode=["single-row", "single-cell"],  # a click on any cell opens it too
            hide_index=True,
            height=min(TABLE_HEIGHT, (len(shown) + 1) * ROW_HEIGHT + 3),
            placeholder="—",
            column_order=TABLE_COLUMNS,
            column_config={
                "name": st.column_config.TextColumn("Name", width=145),
                "email": st.column_config.TextColumn("Email", width=215),
                "rfm_group": st.column_config.TextColumn(
                    "RFM group", width=125, help=definition("rfm_group").help),
                "orders": count_column("Orders", width=60, help=definition("frequency").help),
                "net_spend": money_column(
                    "Net spend", currency, width=90, help=definition("monetary").help),
                "last_order": date_column(
                    "Last order", width=92, help=ORDER_DATE_HELP.format(which="last")),
                "first_order": date_column(
                    "First order", width=92, help=ORDER_DATE_HELP.format(which="first")),
                "nps": st.column_config.NumberColumn(
                    "NPS", format="%d", width=52, help=LATEST_NPS_HELP),
                "location": st.column_config.TextColumn("Location", width=150),
                "tags": st.column_config.TextColumn("Tags", width=150),
            },
        )
    picked = [*event.selection.rows, *(cell[0] for cell in event.selection.cells)]
    if picked and 0 <= picked[0] < len(df):
        st.query_params[PROFILE_PARAM] = str(df["customer_id"].iloc[picked[0]])
        st.rerun()


def _timeline(p: CustomerProfile) -> None:
    orders = p.orders
    if orders.empty:
        st.caption("No orders yet.")
        return
    df = orders.assign(
        kind=orders["counted"].map({True: "Counted", False: "Not counted"}),
        order=orders["order_id"].map(chart_text),
        code=orders["discount_code"].map(lambda v: chart_text(v) if isinstance(v, str) else "—"),
        channel=orders["sales_channel"].map(lambda v: chart_text(v) if isinstance(v, str) else "—"),
    )
    fig = px.scatter(
        df, x="ordered_at", y="net", color="kind",
        color_discrete_map={"Counted": "#7c3aed", "Not counted": "#c4b5fd"},
        hover_data={"order": True, "status": True, "currency": True, "total": ":,.2f",
                    "refunds": ":,.2f", "items": True, "channel": True, "code": True,
                    "kind": False},
        labels={"ordered_at": "Ordered (UTC)", "net": "Net (order currency)", "kind": "",
                "order": "Order", "status": "Status", "currency": "Currency", "total": "Total",
                "refunds": "Refunds", "items": "Items", "channel": "Channel",
                "code": "Discount code"},
    )
    first, last = orders["ordered_at"].min(), orders["ordered_at"].max()
    pad = max((last - first) * 0.05, pd.Timedelta(days=TIMELINE_PAD_DAYS))
    fig.update_traces(marker={"size": 11, "line": {"width": 1, "color": "white"}})
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      legend={"orientation": "h", "y": 1.12, "x": 0},
                      xaxis={"range": [first - pad, last + pad]}, yaxis={"rangemode": "tozero"})
    st.plotly_chart(fig, key="cu_timeline", width="stretch")


def _rfm_box(p: CustomerProfile) -> None:
    rfm = p.rfm
    st.markdown("**RFM group**", help=definition("rfm_group").help)
    if rfm is None:
        st.caption("No counted orders yet, so no RFM scores or group.")
        return
    s1, s2, s3 = st.columns(3)
    s1.metric("R", rfm["r"], help=definition("r_score").help)
    s2.metric("F", rfm["f"], help=definition("f_score").help)
    s3.metric("M", rfm["m"], help=definition("m_score").help)
    st.info(plain(rfm["reason"]), icon=":material/psychology_alt:")
    st.caption(f"As of {_when(rfm['as_of'])}. {RFM_AS_OF}")


def _loyalty_box(p: CustomerProfile) -> None:
    """Points balance and tier in the active loyalty program (nothing without one)."""
    status = member_status(ctx.conn, p.customer_id)
    if status is None:
        return
    st.markdown(f"**Loyalty · {plain(status.program_name)}**")
    a, b = st.columns(2)
    a.metric(f"Balance ({status.points_name})", f"{status.balance:,}",
             help=definition("loyalty_balance").help
             + f" Worth {fmt_money(status.balance_value, status.currency)}.")
    b.metric("Tier", status.tier, help=status.tier_note)
    if status.next_tier is not None and status.progress is not None:
        st.progress(min(max(status.progress, 0.0), 1.0),
                    text=f"{status.progress:.0%} of the way to {plain(status.next_tier)}")
    posted = _when(status.posted_through) if status.posted_through else "not yet"
    st.caption(f"Earned {status.earned:,}, redeemed {status.redeemed:,}, expired "
               f"{status.expired:,} · ledger posted through {posted}.")


def _details_table(p: CustomerProfile) -> pd.DataFrame:
    d = p.details
    rows = [
        ("Customer id", d.get("customer_id")),
        ("Email", d.get("email")),
        ("Phone", d.get("phone")),
        ("Location", d.get("location")),
        ("Birthday", d.get("birthday")),
        ("Gender", d.get("gender")),
        ("Tags", ", ".join(d.get("tags") or []) or None),
        ("Acquired through", d.get("acquisition_channel")),
        ("Signed up", _when(d.get("signup_at")) if d.get("signup_at") else None),
        ("Source system", d.get("source_system")),
    ]
    return pd.DataFrame(
        [(k, "—" if v is None or v == "" else truncate(v, 200)) for k, v in rows],
        columns=["Field", "Value"],
    )


def _feedback(p: CustomerProfile) -> None:
    fb = p.feedback
    if fb.empty:
        st.caption("No survey answers or reviews from this customer.")
        return
    st.dataframe(
        truncate_columns(fb, ["comment", "title", "product"]),
        key="cu_feedback", hide_index=True, placeholder="—",
        column_config={
            "answered_at": date_column("Answered"),
            "kind": st.column_config.TextColumn("Kind"),
            "score": st.column_config.NumberColumn("Score", format="%d"),
            "comment": st.column_config.TextColumn("Comment", width="large"),
            "product": st.column_config.TextColumn("Product"),
            "title": st.column_config.TextColumn("Title"),
            "source": st.column_config.TextColumn("Source"),
        },
    )
    with_text = fb[fb["comment"].notna() & (fb["comment"].astype(str).str.strip() != "")]
    if with_text.empty:
        return
    st.markdown("**Comments in full**")
    for rec in with_text.head(COMMENTS_SHOWN).to_dict("records"):
        score = "" if pd.isna(rec["score"]) else f" {int(rec['score'])}"
        kind = KIND_LABELS.get(str(rec["kind"]), str(rec["kind"]))
        st.caption(f"{_when(rec['answered_at'])} · {plain(kind)}{score}")
        st.text(str(rec["comment"]))
    if len(with_text) > COMMENTS_SHOWN:
        st.caption(f"The {COMMENTS_SHOWN} newest of {len(with_text)} comments.")


def _suggestions_box(customer_id: str) -> None:
    """The customer's next-best products and upsell, each with its reason (plain text)."""
    st.markdown("**Next best product**", help=definition("next_best_product").help)
    nb = compute(next_best_products, customer_ids=(customer_id,), top=SUGGESTIONS_SHOWN)
    if nb.empty:
        st.caption("No suggestion yet: no product they have not bought is bought later by "
                   "enough buyers of what they bought.")
    for rec in nb.to_dict("records"):
        st.text(f"{rec['rank']}. {rec['product']} — {rec['reason']}")
    st.markdown("**Upsell**", help=definition("upsell_product").help)
    up = compute(upsell_products, customer_ids=(customer_id,))
    if up.empty:
        st.caption("No step up: they already buy the dearest products of their categories.")
    for rec in up.to_dict("records"):
        st.text(f"{rec['product']} — {rec['reason']}")


def customer_detail(customer_id: str) -> None:
    st.button("All customers", icon=":material/arrow_back:", key="cu_back",
              on_click=_close_profile)
    try:
        p = compute(customer_profile, customer_id=customer_id, groups=groups)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    d = p.details
    st.subheader(plain(d.get("name") or d.get("email") or customer_id))
    facts = [d.get("email"), d.get("location"), f"customer id {customer_id}"]
    st.text(" · ".join(str(x) for x in facts if x))  # plain text: an email is not made a link

    m = st.columns([1, 1.3, 1.5, 1.5, 0.9])  # dates need the room at the metric font size
    metric_card("frequency", d["orders"], where=m[0])
    metric_card("monetary", d["net_spend"], currency=d["currency"], where=m[1])
    m[2].metric("First order", _when(d["first_order"]), help=ORDER_DATE_HELP.format(which="first"))
    m[3].metric("Last order", _when(d["last_order"]), help=ORDER_DATE_HELP.format(which="last"))
    latest = p.feedback[p.feedback["kind"] == "nps"]
    m[4].metric("Latest NPS", "—" if latest.empty else int(latest["score"].iloc[0]),
                help=LATEST_NPS_HELP)

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Order timeline**")
        _timeline(p)
    with right:
        _rfm_box(p)
        _loyalty_box(p)
        _suggestions_box(customer_id)
        consent = p.consent.iloc[0]
        st.markdown("**Consent**")
        st.caption(
            f"{plain(str(consent['channel']).capitalize())}: **{plain(consent['status'])}** "
            f"(from the {plain(consent['source'])})."
        )

    _, (t_orders, t_products, t_feedback, t_details) = url_tabs(
        PROFILE_TABS, key="cu_profile_tab", param="profile_tab"
    )
    with t_orders:
        st.dataframe(
            p.orders, key="cu_orders", hide_index=True, placeholder="—",
            column_config={
                "order_id": st.column_config.TextColumn("Order"),
                "ordered_at": st.column_config.DatetimeColumn("Ordered (UTC)", format="D MMM YYYY, HH:mm"),
                "status": st.column_config.TextColumn("Status"),
                "counted": st.column_config.CheckboxColumn("Counted", help=f"A counted order is {COUNTED_ORDER}."),
                "currency": st.column_config.TextColumn("Currency"),
                "total": st.column_config.NumberColumn("Total", format="%,.2f"),
                "refunds": st.column_config.NumberColumn("Refunds", format="%,.2f"),
                "net": st.column_config.NumberColumn("Net", format="%,.2f"),
                "items": count_column("Items"),
                "sales_channel": st.column_config.TextColumn("Channel"),
                "discount_code": st.column_config.TextColumn("Discount code"),
            },
        )
    with t_products:
        spend_help = (f"Line price × quantity in counted orders, {currency} orders only "
                      "(orders in other currencies add to quantity, not spend).")
        a, b = st.columns([3, 2])
        with a:
            st.dataframe(
                truncate_columns(p.products, ["product", "category"]), key="cu_products",
                hide_index=True, placeholder="—",
                column_config={
                    "product": st.column_config.TextColumn("Product", width="medium"),
                    "category": st.column_config.TextColumn("Category"),
                    "quantity": count_column("Quantity"),
                    "orders": count_column("Orders"),
                    "spend": money_column("Spend", currency, help=spend_help),
                },
            )
        with b:
            st.dataframe(
                truncate_columns(p.categories, ["category"]), key="cu_categories",
                hide_index=True, placeholder="—",
                column_config={
                    "category": st.column_config.TextColumn("Category"),
                    "quantity": count_column("Quantity"),
                    "orders": count_column("Orders"),
                    "spend": money_column("Spend", currency, help=spend_help),
                },
            )
    with t_feedback:
        _feedback(p)
    with t_details:
        st.dataframe(_details_table(p), key="cu_details", hide_index=True)
        st.dataframe(p.consent, key="cu_consent", hide_index=True,
                     column_config={"channel": "Channel", "status": "Consent", "source": "Source"})


selected = st.query_params.get(PROFILE_PARAM)
if selected:
    customer_detail(selected)
else:
    customer_list()
