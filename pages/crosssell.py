"""Cross-sell: what customers buy together (in the same order, or later), "customers who bought X
also buy…", and the next-best product suggestions with their reasons.

Every choice (mode, level, sort, the minimum behind a pair, the product picked) lives in the URL,
so a link opens the same view. The sidebar's as-of date applies (orders up to its end); its
date range does not. The sidebar's segment narrows the affinity tables, not the suggestions
(those are per customer, from everyone's purchases).
"""

from __future__ import annotations

import streamlit as st

from relmark_core.errors import RelmarkError
from relmark_core.metrics.definitions import (
    AFFINITY_LATER,
    AFFINITY_MIN_COUNT,
    AFFINITY_SAME_ORDER,
    definition,
)
from relmark_core.personalisation.affinity import (
    DEFAULT_LEVEL,
    DEFAULT_MIN_COUNT,
    DEFAULT_MODE,
    DEFAULT_SORT,
    LEVEL_LABELS,
    LEVELS,
    MODE_LABELS,
    MODES,
    SORTS,
    affinity,
    items_by_orders,
)
from relmark_core.personalisation.recommend import next_best_products, next_best_summary
from relmark_ui import compute, current
from relmark_ui.tables import count_column, plain, share_column, truncate_columns
from relmark_ui.widgets import url_choice

MIN_COUNT_CHOICES = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000)
TABLE_ROWS = 500  # pairs shown in the affinity table (the top ones by the sort)
ALSO_ROWS = 15  # "also buy" rows for the picked product
ITEM_CHOICES = 500  # products offered in the picker (most ordered first)
SUMMARY_ROWS = 20
CUSTOMER_ROWS = 50
TABLE_HEIGHT = 420
SORT_LABELS = {"lift": "Lift", "confidence": "Confidence", "support": "Support"}
UNIT = {"same_order": "orders", "later": "customers"}

ctx = current()
f = ctx.filters
assert f is not None
as_of = f.as_of
segment = f.segment
st.title("Cross-sell")
st.caption(
    "What customers buy together — in the same order, or later on — and what to suggest to "
    f"each of them next. Counted orders up to **{as_of:%-d %b %Y}** (the sidebar's as-of date; "
    "its date range does not apply)."
    + (f" Affinity is narrowed to the segment ‘{plain(segment.name)}’." if segment else "")
)

c1, c2, c3, c4 = st.columns([1.4, 1.1, 1, 1.2], vertical_alignment="bottom")
mode = url_choice("Bought", list(MODES), key="xs_mode", param="mode", default=DEFAULT_MODE,
                  format_func=MODE_LABELS.__getitem__, where=c1, horizontal=True,
                  help=f"{AFFINITY_SAME_ORDER} {AFFINITY_LATER}")
level = url_choice("Pairs of", list(LEVELS), key="xs_level", param="level",
                   default=DEFAULT_LEVEL, format_func=LEVEL_LABELS.__getitem__, where=c2,
                   horizontal=True)
sort = url_choice("Sort by", list(SORTS), key="xs_sort", param="sort", default=DEFAULT_SORT,
                  format_func=SORT_LABELS.__getitem__, where=c3,
                  help="Highest first; ties by the other two numbers, then by name.")
min_count = url_choice(
    f"Fewest {UNIT[mode]} per pair", list(MIN_COUNT_CHOICES), key="xs_min", param="min",
    default=DEFAULT_MIN_COUNT, where=c4,
    help=f"{AFFINITY_MIN_COUNT} Default {DEFAULT_MIN_COUNT}. It also applies to the "
    "suggestions below (customers behind each 'later' pair).",
)

unit = UNIT[mode]
level_word = "product" if level == "product" else "category"
cols = {
    "antecedent": st.column_config.TextColumn("Bought", width="medium",
                                              help=f"A: the {level_word} bought."),
    "consequent": st.column_config.TextColumn(
        "Also bought" if mode == "same_order" else "Later bought", width="medium",
        help=f"B: the other {level_word}."),
    "both": count_column(definition(f"affinity_both_{mode}").label,
                         help=definition(f"affinity_both_{mode}").help),
    "antecedent_total": count_column(f"{unit.capitalize()} with A",
                                     help=f"Counted {unit} with A."),
    "support": share_column("Support", help=definition(f"affinity_support_{mode}").help),
    "confidence": share_column("Confidence",
                               help=definition(f"affinity_confidence_{mode}").help),
    "lift": st.column_config.NumberColumn("Lift", format="%.2f",
                                          help=definition(f"affinity_lift_{mode}").help),
}

st.subheader("Affinity")
try:
    table = compute(affinity, level=level, mode=mode, min_count=min_count, as_of=as_of,
                    segment=segment, sort=sort, limit=TABLE_ROWS)
except RelmarkError as exc:
    st.error(str(exc))
    st.stop()
if table.empty:
    st.info(f"No pair of {LEVEL_LABELS[level].lower()} has {min_count:,} or more {unit} behind "
            f"it. Lower the minimum, or pick an earlier-starting data set.")
else:
    st.caption(
        f"{len(table):,} pairs with at least {min_count:,} {unit} behind them"
        + (f" (the top {TABLE_ROWS:,} by {sort})" if len(table) == TABLE_ROWS else "")
        + ". Lift above 1: more often together than by chance."
    )
    st.dataframe(truncate_columns(table, ["antecedent", "consequent"]), key="xs_table",
                 hide_index=True, height=TABLE_HEIGHT, column_config=cols,
                 column_order=list(cols))

st.subheader("Customers who bought … also buy" + (" later" if mode == "later" else ""))
items = compute(items_by_orders, level=level, as_of=as_of, segment=segment, limit=ITEM_CHOICES)
if items.empty:
    st.info("No counted orders with products yet. Import orders with their lines on the Data "
            "page.")
else:
    choices = [str(x) for x in items["item"]]
    if st.session_state.get("xs_item") not in (None, *choices):
        del st.session_state["xs_item"]  # the level changed: its old pick is not a choice now
    item = url_choice(f"Pick a {level_word}", choices, key="xs_item", param="item",
                      default=choices[0],
                      help=f"{LEVEL_LABELS[level]} by counted orders, most ordered first.")
    also = compute(affinity, level=level, mode=mode, min_count=min_count, as_of=as_of,
                   segment=segment, antecedent=item, sort="confidence", limit=ALSO_ROWS)
    if also.empty:
        st.info(f"Nothing else has {min_count:,} or more {unit} with this {level_word}. "
                "Lower the minimum to see thinner pairs.")
    else:
        base = int(also["antecedent_total"].iloc[0])
        st.caption(
            (f"Of the {base:,} counted orders holding it, the share that also hold each "
             if mode == "same_order" else
             f"Of its {base:,} buyers, the share who later bought each ")
            + f"{level_word} (at least {min_count:,} {unit})."
        )
        st.dataframe(truncate_columns(also, ["consequent"]), key="xs_also", hide_index=True,
                     column_config=cols,
                     column_order=["consequent", "confidence", "both", "lift", "support"])

st.subheader("Next-best suggestions")
st.caption(
    "For each customer, the product they have not bought that most buyers of one of their "
    f"products bought later (pairs behind at least {min_count:,} customers). Shown on each "
    "customer's profile, usable as the segment condition “Likely to buy a product next”, the "
    "offer token {recommended_product} and the segment export's Recommended Product column."
)
summary = compute(next_best_summary, as_of=as_of, min_count=min_count, limit=SUMMARY_ROWS)
st.markdown("**Most suggested products**", help=definition("next_best_product").help)
if summary.empty:
    st.info("No suggestions yet: no 'later' pair has enough customers behind it. Lower the "
            "minimum above.")
else:
    st.dataframe(
        truncate_columns(summary, ["product", "reason"], limit=90), key="xs_summary",
        hide_index=True,
        column_order=["product", "customers", "reason"],
        column_config={
            "product": st.column_config.TextColumn("Suggest", width="medium"),
            "customers": count_column(
                "Customers", help="Customers whose next-best product this is."),
            "reason": st.column_config.TextColumn(
                "Why (for most of them)", width="large",
                help=definition("affinity_confidence_later").help),
        },
    )
strongest = compute(next_best_products, as_of=as_of, min_count=min_count,
                    limit=CUSTOMER_ROWS)
st.markdown("**Customers with the strongest suggestion**",
            help="Customers' next-best products, highest confidence first. "
            + definition("next_best_product").help)
if not strongest.empty:
    st.dataframe(
        truncate_columns(strongest, ["product", "reason"], limit=90), key="xs_customers",
        hide_index=True,
        column_order=["customer_id", "product", "reason"],
        column_config={
            "customer_id": st.column_config.TextColumn("Customer"),
            "product": st.column_config.TextColumn("Suggest"),
            "reason": st.column_config.TextColumn("Why", width="large"),
        },
    )
    st.caption("Open a customer on the Customers page to see their upsell too.")
