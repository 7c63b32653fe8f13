"""RFM groups: the shop split by recency and frequency (R×F grid), the named groups in a table,
and the groups themselves, which the marketer edits, saves or resets to the shipped defaults.

The as-of date, the M-score filter and the grid shading live in the URL (``rfm_as_of``, ``m``,
``shade``).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.metrics.definitions import COUNTED_ORDER, NET_REVENUE, RFM_AS_OF, definition
from relmark_core.metrics.rfm import (
    DEFAULT_GROUPS,
    GROUP_FIELDS,
    NO_GROUP,
    SCORE_LEVELS,
    SCORES,
    RfmGroup,
    default_as_of,
    groups_from_records,
    groups_to_frame,
    load_groups_for,
    reset_groups,
    rfm_check_groups,
    rfm_grid,
    rfm_group_summary,
    save_groups,
    unmatched_warning,
    unused_scores_warning,
)
from relmark_ui import compute, current, roles
from relmark_ui.tables import (
    chart_text,
    compact_money,
    count_column,
    grid_cell_groups,
    money_column,
    plain,
    share_column,
)
from relmark_ui.widgets import fmt_money, url_choice, url_date, url_range

SHADES = {"customers": "Customers", "revenue": "Revenue"}
DEFAULT_SHADE = "customers"
GRID_HEIGHT = 400
ROW_HEIGHT = 35  # st.dataframe's row height, to size tables to their rows
ORDER_COLUMN = "order"
EDITOR_GEN = "rfm_editor_gen"  # bumped after a save or reset, so the editor starts afresh
FLASH = "rfm_flash"
SCORE_FIELDS = GROUP_FIELDS[3:]

ctx = current()
currency = ctx.src.reporting_currency
st.title("RFM groups")
st.caption(
    "Every customer with a counted order gets a 1–5 score for **R**ecency, **F**requency and "
    "**M**onetary value, and the first group whose score ranges fit them. Edit the groups at "
    "the bottom of the page. The sidebar's period does not apply here: scores use every order "
    "before the *Scores as of* date."
)

groups: tuple[RfmGroup, ...] = compute(load_groups_for)
default_day = compute(default_as_of)


def _share(x: Any) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:.1%}"


def heatmap(grid: pd.DataFrame, shade: str, labels: dict[tuple[int, int], list[str]]) -> go.Figure:
    total_c = int(grid["customers"].sum()) or 1
    total_r = float(grid["revenue"].sum()) or 1.0
    cells = {(int(r), int(f)): (int(n), float(rev))
             for r, f, n, rev in grid[["r", "f", "customers", "revenue"]].itertuples(index=False)}
    z, text, hover = [], [], []
    for r in SCORES:
        z_row, t_row, h_row = [], [], []
        for f in SCORES:
            n, rev = cells[(r, f)]
            names = " / ".join(chart_text(x) for x in labels[(r, f)]) or "no group"
            z_row.append(n if shade == "customers" else rev)
            t_row.append(f"<b>{names}</b><br>{n:,} · {compact_money(rev, currency)}" if n
                         else f"{names}<br>–")
            h_row.append(
                f"<b>R{r} F{f}</b> → {names}<br>{n:,} customers ({n / total_c:.1%})<br>"
                f"Revenue {chart_text(fmt_money(rev, currency))} ({rev / total_r:.1%})"
            )
        z.append(z_row)
        text.append(t_row)
        hover.append(h_row)
    fig = go.Figure(
        go.Heatmap(
            z=z, x=list(SCORES), y=list(SCORES), text=text, customdata=hover,
            texttemplate="%{text}", textfont={"size": 12},
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=[[0, "#f5f3ff"], [1, "#6d28d9"]], xgap=3, ygap=3,
            colorbar={"title": {"text": SHADES[shade] + (f" ({currency})" if shade == "revenue"
                                                          else "")}, "thickness": 12},
        )
    )
    fig.update_layout(
        height=GRID_HEIGHT, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "F score: orders (5 = most)", "dtick": 1, "side": "bottom"},
        yaxis={"title": "R score: recency (5 = most recent)", "dtick": 1},
    )
    return fig


def _edited_groups(edited: pd.DataFrame) -> tuple[RfmGroup, ...]:
    """The editor's rows as groups, in the order of the Order column (blank: last).

    Rows are checked in the order shown, so an error names the row the marketer sees.
    """
    records = [{str(k): v for k, v in rec.items()} for rec in edited.to_dict("records")]
    checked = groups_from_records(records)
    def position(i: int) -> tuple[bool, float, int]:
        v = records[i].get(ORDER_COLUMN)
        blank = v is None or (isinstance(v, float) and math.isnan(v))
        return blank, 0.0 if blank else float(v or 0), i
    return tuple(checked[i] for i in sorted(range(len(checked)), key=position))


def _start_editor_afresh(message: str) -> None:
    st.session_state[EDITOR_GEN] = st.session_state.get(EDITOR_GEN, 0) + 1
    st.session_state[FLASH] = message
    st.rerun()


if default_day is None:
    st.info("No counted orders yet, so there is nothing to score. Import your orders on the "
            "Data page.")
else:
    c1, c2, c3 = st.columns([1, 1.4, 1], vertical_alignment="bottom")
    as_of = url_date(
        "Scores as of", key="rfm_as_of", param="rfm_as_of", default=default_day, where=c1,
        help=f"{RFM_AS_OF} This date is separate from the sidebar's period.",
    )
    m_lo, m_hi = url_range(
        "M score (filters the grid)", key="rfm_m", param="m", lo=1, hi=SCORE_LEVELS, where=c2,
        help=definition("m_score").help,
    )
    shade = url_choice(
        "Shade cells by", list(SHADES), key="rfm_shade", param="shade", default=DEFAULT_SHADE,
        format_func=lambda k: SHADES[k], where=c3, horizontal=True,
    )

    full_grid = compute(rfm_grid, as_of=as_of)
    grid = full_grid if (m_lo, m_hi) == (1, SCORE_LEVELS) else compute(
        rfm_grid, as_of=as_of, m_min=m_lo, m_max=m_hi
    )
    summary = compute(rfm_group_summary, as_of=as_of, groups=groups)
    scored = int(full_grid["customers"].sum())

    m_words = "" if (m_lo, m_hi) == (1, SCORE_LEVELS) else (
        f", M score {m_lo}" if m_lo == m_hi else f", M score {m_lo}–{m_hi}"
    )
    st.subheader(
        "Recency × frequency",
        help=f"{definition('r_score').help}\n\n{definition('f_score').help}",
    )
    st.caption(
        f"{int(grid['customers'].sum()):,} of {scored:,} customers with counted orders before "
        f"{as_of:%-d %b %Y}{m_words}. Each cell: its group, customers · revenue ({currency}); "
        "hover for shares."
    )
    labels = grid_cell_groups(groups, m_min=m_lo, m_max=m_hi)
    st.plotly_chart(heatmap(grid, shade, labels), key="rfm_grid", width="stretch")
    if unused := unused_scores_warning(full_grid):
        st.info(plain(unused), icon=":material/info:")

    st.subheader("Groups", help=definition("rfm_group").help)
    st.caption(f"All {scored:,} scored customers (the M filter applies to the grid only).")
    for msg in rfm_check_groups(groups):
        st.warning(plain(msg), icon=":material/rule:")
    if unmatched := unmatched_warning(summary):
        st.warning(plain(unmatched), icon=":material/person_off:")
    st.dataframe(
        summary, key="rfm_summary", hide_index=True, placeholder="—",
        height=(len(summary) + 1) * ROW_HEIGHT + 3,
        column_order=["group", "customers", "share", "revenue", "revenue_share", "aov",
                      "median_days_since_last_order", "action", "rule"],
        column_config={
            "group": st.column_config.TextColumn(
                "Group", width=125, help=definition("rfm_group").help),
            "customers": count_column(
                "Customers", width=80, help="Customers with counted orders before the as-of "
                f"date whose scores put them in this group. A counted order is {COUNTED_ORDER}."),
            "share": share_column(
                "Share", width=58, help="The group's customers divided by all customers with "
                "counted orders before the as-of date."),
            "revenue": money_column(
                "Revenue", currency, width=95, help="Net revenue of the group's counted orders "
                f"before the as-of date, in {currency}: {NET_REVENUE}."),
            "revenue_share": share_column(
                "Rev. share", width=75, help="The group's revenue divided by the revenue of all "
                "scored customers."),
            "aov": money_column("AOV", currency, width=68, help=definition("aov").help),
            "median_days_since_last_order": st.column_config.NumberColumn(
                "Median days", format="%.0f", width=80,
                help="Median days since the last order: half the group ordered more recently. "
                + definition("recency_days").help),
            "action": st.column_config.TextColumn("Suggested action", width=400),
            "rule": st.column_config.TextColumn(
                "Scores", width=150, help="The R, F and M score ranges that define the group."),
        },
    )
    if summary["group"].eq(NO_GROUP).any():
        st.caption(f"“{NO_GROUP}” counts customers whose scores fit none of the groups.")
    with st.expander("What each group means and what to do"):
        for g in groups:
            st.markdown(
                f"**{plain(g.name)}** · {plain(g.rule())}  \n{plain(g.description)}  \n"
                f"*Suggested:* {plain(g.action)}"
            )

# --- editing the groups ---------------------------------------------------------------------
st.subheader("Edit groups")
st.caption(
    "A customer belongs to the first group, by Order, whose R, F and M ranges all hold their "
    "scores (1–5, both ends included). Change a cell, add a row at the bottom or tick rows to "
    "delete them, then save. Renumber Order to move a group up or down."
)
frame = groups_to_frame(groups)
frame.insert(0, ORDER_COLUMN, range(1, len(frame) + 1))
score_help = "Whole scores from 1 to 5; both ends are included."
score_cols = {
    f: st.column_config.NumberColumn(
        f"{f[0].upper()} {'from' if f.endswith('min') else 'to'}", min_value=1,
        max_value=SCORE_LEVELS, step=1, format="%d", width=78,
        default=1 if f.endswith("min") else SCORE_LEVELS, help=score_help,
    )
    for f in SCORE_FIELDS
}
edited = st.data_editor(
    frame,
    key=f"rfm_editor_{st.session_state.get(EDITOR_GEN, 0)}",
    num_rows="dynamic",
    hide_index=True,
    height=(len(frame) + 2) * ROW_HEIGHT + 3,
    column_order=[ORDER_COLUMN, "name", *SCORE_FIELDS, "description", "action"],
    column_config={
        ORDER_COLUMN: st.column_config.NumberColumn(
            "Order", step=1, format="%d", width=72,
            help="The first matching group wins. Renumber to reorder; new rows go last."),
        "name": st.column_config.TextColumn("Name", required=True, width=150),
        "description": st.column_config.TextColumn("Description", width=220),
        "action": st.column_config.TextColumn("Suggested action", width=400),
        **score_cols,
    },
)
try:
    pending: tuple[RfmGroup, ...] | None = _edited_groups(edited)
    problem = None
except RelmarkError as exc:
    pending, problem = None, str(exc)
changed = pending != groups

if problem:
    st.error(problem, icon=":material/edit_off:")
elif changed and pending is not None:
    notes = rfm_check_groups(pending)
    st.caption("Unsaved changes." + (" If you save them:" if notes else ""))
    for note in notes:
        st.warning(plain(note), icon=":material/rule:")

can_edit = roles.may(Role.EDITOR)
if not can_edit:
    roles.read_only_note("change the groups")
b1, b2, _ = st.columns([1, 1.3, 3])
if b1.button("Save groups", key="rfm_save", type="primary", disabled=not changed or not can_edit,
             icon=":material/save:"):
    if pending is not None:
        try:
            save_groups(ctx.conn, pending, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
        else:
            _start_editor_afresh(f"Saved {len(pending)} groups. The grid and table use them now.")
is_default = groups == DEFAULT_GROUPS and not changed
with b2.popover("Reset to defaults", icon=":material/restart_alt:",
                disabled=is_default or not can_edit,
                key="rfm_reset"):
    st.write(
        f"This replaces your groups with the {len(DEFAULT_GROUPS)} shipped groups (Champions, "
        "Loyal, … Lost). Your edits are lost."
    )
    if st.button("Yes, reset to defaults", key="rfm_reset_yes", type="primary"):
        reset_groups(ctx.conn, actor=ctx.actor)
        _start_editor_afresh("The default groups are back.")
if flash := st.session_state.pop(FLASH, None):
    st.success(flash, icon=":material/check_circle:")
