"""Overview: headline numbers for the chosen period against the previous one, and revenue over time."""

import plotly.express as px
import streamlit as st

from relmark_core.metrics.definitions import definition
from relmark_core.metrics.kpis import kpis_for_ranges, revenue_over_time
from relmark_core.periods import GRAINS
from relmark_ui import compute, current
from relmark_ui.widgets import fmt_money, metric_card, url_choice, url_toggle

ctx = current()
f = ctx.filters
assert f is not None
st.title("Overview")
st.caption(
    f"{f.rng.sentence()} · reporting currency {ctx.src.reporting_currency}"
    + (f" · segment “{f.segment.name}”" if f.segment else "")
)

ex_parts = url_toggle(
    "Revenue without tax and shipping",
    key="ov_basis",
    param="basis",
    help=definition("revenue_ex_tax_shipping").help,
)
basis = "net_ex_tax_shipping" if ex_parts else "net"
ranges = [f.rng, f.rng.previous()] if f.compare else [f.rng]
results = compute(kpis_for_ranges, ranges=ranges, basis=basis, segment=f.segment)
cur = results[0]
prev = results[1] if f.compare else None

cols = st.columns(5)
for col, key in zip(cols, ["customers", "orders", "revenue", "aov", "repeat_purchase_rate"], strict=True):
    metric_card(
        "revenue_ex_tax_shipping" if key == "revenue" and ex_parts else key,
        getattr(cur, key),
        previous=getattr(prev, key) if prev else None,
        currency=cur.currency,
        where=col,
    )
if ex_parts and cur.partial_share > 0:
    st.warning(
        f"Partial: {cur.partial_share:.0%} of orders came from a source without tax or shipping "
        "(e.g. a payment processor); those count in full.",
        icon=":material/info:",
    )
if cur.other_currencies:
    parts = ", ".join(
        f"{t.orders:,} orders / {fmt_money(t.revenue, c)}" for c, t in sorted(cur.other_currencies.items())
    )
    st.caption(f"Also in other currencies (not added to revenue): {parts}.")
if cur.orders == 0:
    st.info(
        "No counted orders in this period. Pick a longer date range, or set the *As of* date to "
        "the end of your export in the sidebar."
    )

st.subheader("Revenue over time")
grain = url_choice(
    "Group by", list(GRAINS), key="ov_grain", param="grain",
    default="week" if f.rng.days <= 120 else "month", format_func=str.capitalize, horizontal=True,
)
series = compute(revenue_over_time, rng=f.rng, grain=grain, basis=basis, segment=f.segment)
df = series.assign(
    revenue=series["revenue"].astype(float),
    coverage=series["complete"].map({True: "Whole period", False: "Partly in range"}),
)
fig = px.bar(
    df, x="period", y="revenue", color="coverage",
    category_orders={"period": df["period"].tolist()},  # time order, not by colour group
    color_discrete_map={"Whole period": "#7c3aed", "Partly in range": "#c4b5fd"},
    hover_data={"orders": True, "customers": True, "coverage": True},
    labels={"period": grain.capitalize(), "revenue": f"Net revenue ({cur.currency})",
            "orders": "Orders", "customers": "Customers", "coverage": ""},
)
fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=360)
st.plotly_chart(fig, key="ov_chart", width="stretch")
