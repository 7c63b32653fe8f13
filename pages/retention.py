"""Retention: do the customers the shop wins keep ordering, who is slipping away, and what are
customers worth?

Three sections (the ``tab`` in the URL): cohort retention (heatmap, the customers behind a cell,
curves, trend), churn (the marketer's N days, churn rate per period, the overdue list) and
lifetime value (historical by cohort; predicted with BG/NBD + Gamma-Gamma after "Fit model").
Grain, mode, view, the number of cohorts, the filters, the churn days and the horizon live in the
URL too, so a link opens the same view. The sidebar's as-of date applies; its date range does
not (cohorts run from each customer's first order).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from relmark_core.errors import RelmarkError
from relmark_core.metrics.churn import (
    MAX_CHURN_DAYS,
    ChurnRule,
    churn_rates,
    overdue_customers,
    suggest_churn_days,
)
from relmark_core.metrics.clv import (
    DEFAULT_HORIZON_DAYS,
    ClvPrediction,
    HoldoutValidation,
    historical_clv,
    holdout_validation,
    predict_clv,
)
from relmark_core.metrics.definitions import COHORT, definition
from relmark_core.metrics.retention import (
    AVERAGE_LABEL,
    DEFAULT_MODE,
    DEFAULT_VIEW,
    MODES,
    TREND_PERIODS,
    VIEWS,
    CohortFilter,
    Mode,
    RetentionQuery,
    RetentionResult,
    View,
    cohort_customers,
    cohort_filter_choices,
    cohort_retention,
    period_from_number,
    period_number,
    segment_customer_ids,
)
from relmark_core.periods import DEFAULT_GRAIN, GRAINS, Grain
from relmark_ui import compute, current
from relmark_ui.tables import (
    chart_text,
    count_column,
    date_column,
    money_column,
    plain,
)
from relmark_ui.widgets import (
    fmt_money,
    fmt_share,
    is_locked,
    sync_from_url,
    url_choice,
    url_number,
    write_url,
)

TABS = {"cohorts": "Cohort retention", "churn": "Churn", "value": "Lifetime value"}
DEFAULT_TAB = "cohorts"
MODE_LABELS: dict[Mode, str] = {
    "on": "Ordered in period k",
    "on_or_after": "Ordered in k or later",
    "revenue": "Revenue",
}
MODE_DEFINITIONS: dict[Mode, str] = {
    "on": "retention_on", "on_or_after": "retention_on_or_after", "revenue": "revenue_retention",
}
VIEW_LABELS: dict[View, str] = {"first_time": "First-time customers", "recurring": "Everyone who ordered"}
COHORT_COUNTS = ("12", "24", "36", "all")
DEFAULT_COHORTS = "24"
ANY = "(any)"
DISCOUNT_CHOICES = {"any": "Either", "yes": "Used a code", "no": "No code"}
HORIZONS = (90, 180, 365, 730)
TOP_CUSTOMERS = 50
CHURN_DAYS_KEY = "ret_churn_days"
CHURN_DAYS_PARAM = "churn_days"
FITTED_KEY = "ret_fitted"  # set by "Fit model"; the fit itself is cached per data version
LAST_CLICK_KEY = "ret_last_click"
CELL_COHORT_KEY = "ret_cell_cohort"
CELL_PERIOD_KEY = "ret_cell_period"
CELL_COHORT_PARAM, CELL_PERIOD_PARAM = "cell_cohort", "cell_period"  # the chosen cell, in the URL
FIT_PARAM = "fit"  # 1 once "Fit model" was pressed, so a link shows the predictions
ROW_PX = 26  # heatmap row height
HEATMAP_MIN_HEIGHT = 320
CHART_HEIGHT = 380
TABLE_HEIGHT = 420
PURPLE, LIGHT_PURPLE, ORANGE, GREY = "#7c3aed", "#c4b5fd", "#ea580c", "#9ca3af"
TEXT_GREY = "#4b5563"
HEAT_SCALE = [[0, "#f5f3ff"], [0.5, "#a78bfa"], [1, "#4c1d95"]]
INCOMPLETE_NOTE = (
    "Hatched cells are the period holding the as-of date: still running, so their share so far "
    "is shown in grey and left out of the colours, the curves and the trend."
)

ctx = current()
f = ctx.filters
assert f is not None
as_of = f.as_of
segment: Any = getattr(f, "segment", None)  # the sidebar's saved segment (SegmentFilter) or None
currency = ctx.src.reporting_currency
st.title("Retention")
st.caption(
    "Do the customers you win keep ordering? Cohorts run from each customer's first counted "
    f"order, as of **{as_of:%-d %b %Y}** (the sidebar's as-of date; its date range does not "
    "apply here)."
)

tab = url_choice(
    "Section", list(TABS), key="ret_tab", param="tab", default=DEFAULT_TAB,
    format_func=lambda k: TABS[k], horizontal=True,
)


# --- shared controls ----------------------------------------------------------------------------


def _not_narrowed(what: str) -> str:
    """The sentence saying that ``what`` (and the sidebar's segment, if one is chosen) do not
    narrow a section."""
    if segment is None:
        return f"{what} do not apply."
    return f"{what} and the sidebar's segment ‘{plain(segment.name)}’ do not apply."


def _cohorts_since(grain: Grain, count: str) -> date | None:
    """The first day of the oldest period shown (None: all)."""
    if count == "all":
        return None
    return period_from_number(period_number(as_of, grain) - int(count) + 1, grain)


def _grain_and_span(c1: Any, c2: Any) -> tuple[Grain, date | None]:
    grain: Grain = url_choice(
        "Group by", list(GRAINS), key="ret_grain", param="by", default=DEFAULT_GRAIN,
        format_func=str.capitalize, where=c1, help=COHORT,
    )
    count = url_choice(
        "Periods shown", list(COHORT_COUNTS), key="ret_cohorts", param="cohorts",
        default=DEFAULT_COHORTS, where=c2,
        format_func=lambda c: "All" if c == "all" else f"Last {c} {grain}s",
        help="How many of the most recent cohorts (and churn periods) to show.",
    )
    return grain, _cohorts_since(grain, count)


def _filters() -> CohortFilter:
    """The cohort filter from the URL-backed pickers and the sidebar's saved segment (if any)."""
    choices = compute(cohort_filter_choices)
    with st.expander("Filter customers", icon=":material/filter_list:"):
        c1, c2, c3 = st.columns(3)
        channel = url_choice(
            "Acquisition channel", [ANY, *choices.acquisition_channels], key="ret_channel",
            param="channel", default=ANY, where=c1,
            help="Only customers who came through this channel (as recorded on the customer).",
        )
        category = url_choice(
            "First order category", [ANY, *choices.first_order_categories], key="ret_category",
            param="category", default=ANY, where=c2,
            help="Only customers whose first counted order included a product of this category.",
        )
        discount = url_choice(
            "First order used a discount code", list(DISCOUNT_CHOICES), key="ret_discount",
            param="discount", default="any", format_func=lambda k: DISCOUNT_CHOICES[k], where=c3,
        )
    ids = None if segment is None else compute(segment_customer_ids, segment=segment)
    name = None if segment is None else segment.name
    return CohortFilter(
        acquisition_channels=() if channel == ANY else (channel,),
        first_order_categories=() if category == ANY else (category,),
        first_order_discount=None if discount == "any" else discount == "yes",
        customer_ids=ids,
        segment_name=name,
    )


# --- cohort retention ---------------------------------------------------------------------------


def _cell_hover(
    res: RetentionResult, row: Any, mode: Mode, view: View, grain: Grain
) -> str:
    size = int(row.size)
    who = (
        f"Cohort {row.cohort}: {size:,} first-time customers"
        if view == "first_time"
        else f"{size:,} customers who ordered in {row.cohort}"
    )
    head = f"<b>{who}</b><br>Period {row.period} ({row.period_label})"
    if row.incomplete:
        head += " · still running, so far"
    if mode == "revenue":
        share = row.share_revenue
        base = res.cohorts.set_index("cohort").at[row.cohort, "revenue"]
        body = (
            f"Revenue retention {fmt_share(share)}<br>"
            f"{chart_text(fmt_money(row.revenue, currency))} in period {row.period} vs "
            f"{chart_text(fmt_money(float(base), currency))} in period 0"
            if share is not None and not pd.isna(share)
            else "No revenue in period 0 to compare with"
        )
    elif mode == "on_or_after":
        body = (
            f"Retention {fmt_share(row.share_on_or_after)}<br>{int(row.active_on_or_after):,} of "
            f"{size:,} customers ordered in period {row.period} or later"
        )
    else:
        body = (
            f"Retention {fmt_share(row.share_on)}<br>{int(row.active):,} of {size:,} customers "
            f"ordered in period {row.period}"
        )
    return f"{head}<br>{body}<br><i>Click to list the customers</i>"


def _share(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def heatmap(res: RetentionResult, mode: Mode, view: View, grain: Grain) -> go.Figure:
    cohorts = list(res.cohorts["cohort"])
    pos = {c: i for i, c in enumerate(cohorts)}
    n = res.periods
    z: list[list[float | None]] = [[None] * n for _ in cohorts]
    text: list[list[str]] = [[""] * n for _ in cohorts]
    xs, ys, hover, custom, marks = [], [], [], [], []
    hatch_x: list[float | None] = []
    hatch_y: list[float | None] = []
    shares = res.curves(mode)["share"]  # the mode's share of every cell, in the cells' order
    for r, share in zip(res.cells.itertuples(index=False), shares, strict=True):
        i, k = pos[r.cohort], int(r.period)
        v = _share(share)
        label = "" if v is None else f"{v:.0%}"
        if r.incomplete:
            hatch_x += [k - 0.5, k + 0.5, k + 0.5, k - 0.5, k - 0.5, None]
            hatch_y += [i - 0.5, i - 0.5, i + 0.5, i + 0.5, i - 0.5, None]
            marks.append(label)
        else:
            z[i][k] = v
            text[i][k] = label
            marks.append("")
        xs.append(k)
        ys.append(i)
        hover.append(_cell_hover(res, r, mode, view, grain))
        custom.append([r.cohort, k])
    later = [
        v for row in z for k, v in enumerate(row) if v is not None and (k > 0 or view == "recurring")
    ]
    top = max(later, default=1.0) or 1.0
    zmax = min(top, 1.0) if mode != "revenue" else top
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        z=z, x=list(range(n)), y=list(range(len(cohorts))), text=text, texttemplate="%{text}",
        textfont={"size": 11}, hoverinfo="skip", colorscale=HEAT_SCALE, zmin=0, zmax=zmax,
        xgap=2, ygap=2,
        colorbar={"title": {"text": MODE_LABELS[mode]}, "thickness": 12, "tickformat": ".0%",
                  "len": min(1.0, max(0.5, 360 / (ROW_PX * max(len(cohorts), 1) + 110)))},
    ))
    if hatch_x:
        fig.add_trace(go.Scatter(
            x=hatch_x, y=hatch_y, mode="lines", fill="toself", fillcolor="rgba(0,0,0,0)",
            fillpattern={"shape": "/", "fgcolor": GREY, "size": 6, "solidity": 0.15},
            line={"color": GREY, "width": 1}, hoverinfo="skip", showlegend=False,
        ))
    # click targets: an (invisible) marker on every cell; the clicked one gets an outline
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers+text", text=marks, textfont={"color": TEXT_GREY, "size": 11},
        customdata=custom, hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        marker={"symbol": "square-open", "size": ROW_PX - 4, "opacity": 0,
                "color": "#111827", "line": {"width": 2}},
        selected={"marker": {"opacity": 1}, "textfont": {"color": TEXT_GREY}},
        unselected={"marker": {"opacity": 0}, "textfont": {"color": TEXT_GREY}},
        showlegend=False, name="cells",
    ))
    sizes = list(res.cohorts["size"])
    fig.update_layout(
        height=max(HEATMAP_MIN_HEIGHT, ROW_PX * len(cohorts) + 110),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": f"{grain.capitalize()}s since first order" if view == "first_time"
               else f"{grain.capitalize()}s later",
               "side": "top", "dtick": 1, "range": [-0.5, n - 0.5], "showgrid": False,
               "zeroline": False},
        yaxis={"tickvals": list(range(len(cohorts))),
               "ticktext": [f"{c} · {s:,}" for c, s in zip(cohorts, sizes, strict=True)],
               "range": [len(cohorts) - 0.5, -0.5], "showgrid": False, "zeroline": False,
               "title": "Cohort · customers"},
        plot_bgcolor="white", clickmode="event+select", dragmode=False, hovermode="closest",
    )
    return fig


def _with_name(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``name`` column: first and last name joined (blank parts left out)."""
    names = [
        " ".join(str(p) for p in (a, b) if p is not None and not pd.isna(p) and str(p).strip())
        for a, b in zip(df["first_name"], df["last_name"], strict=True)
    ]
    return df.assign(name=names)


def _clicked(event: Any) -> tuple[str, int] | None:
    try:
        points = event.selection.points
    except AttributeError:
        return None
    for p in points or []:
        data = p.get("customdata")
        if isinstance(data, list | tuple) and len(data) == 2:
            return str(data[0]), int(data[1])
    return None


def _cell_customers(res: RetentionResult, q: RetentionQuery, mode: Mode, event: Any) -> None:
    st.subheader("Customers in a cell")
    cohorts = list(res.cohorts["cohort"])
    periods = list(range(res.periods))
    sync_from_url(CELL_COHORT_KEY, CELL_COHORT_PARAM, str)
    sync_from_url(CELL_PERIOD_KEY, CELL_PERIOD_PARAM, int)
    locked = is_locked(CELL_COHORT_PARAM)
    click = _clicked(event)
    if click is not None and click != st.session_state.get(LAST_CLICK_KEY) and not locked:
        st.session_state[LAST_CLICK_KEY] = click
        st.session_state[CELL_COHORT_KEY], st.session_state[CELL_PERIOD_KEY] = click
    if st.session_state.get(CELL_COHORT_KEY) not in cohorts:
        st.session_state[CELL_COHORT_KEY] = None
    if st.session_state.get(CELL_PERIOD_KEY) not in periods:
        st.session_state[CELL_PERIOD_KEY] = None
    c1, c2, _ = st.columns([1, 1, 2])
    cohort = c1.selectbox("Cohort", cohorts, key=CELL_COHORT_KEY, placeholder="Pick a cohort",
                          help=definition("cohort_size").help, disabled=locked)
    period = c2.selectbox("Period", periods, key=CELL_PERIOD_KEY, placeholder="Pick a period",
                          help=COHORT, disabled=locked)
    write_url(CELL_COHORT_PARAM, None if cohort is None else str(cohort))
    write_url(CELL_PERIOD_PARAM, None if period is None else str(period))
    if cohort is None or period is None:
        st.caption("Click a cell of the heatmap, or pick a cohort and a period, to list its "
                   "customers.")
        return
    cell = res.cells[(res.cells["cohort"] == cohort) & (res.cells["period"] == period)]
    if cell.empty:
        st.info(f"Period {period} of cohort {cohort} has not happened yet.")
        return
    label = str(cell["period_label"].iloc[0])
    try:
        people = compute(cohort_customers, query=q, cohort=cohort, period=int(period), mode=mode)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    when = f"in period {period} ({label})" if mode != "on_or_after" else (
        f"in period {period} ({label}) or later")
    st.caption(f"**{len(people):,}** customers of cohort {cohort} ordered {when}. Orders and "
               f"revenue are those of period {period}.")
    st.dataframe(
        _with_name(people), key="ret_cell_table", hide_index=True, height=min(TABLE_HEIGHT, 38 + 35 * max(len(people), 1)),
        column_order=["customer_id", "name", "email", "orders", "revenue", "last_order_period"],
        column_config={
            "customer_id": st.column_config.TextColumn("Customer"),
            "name": st.column_config.TextColumn("Name"),
            "email": st.column_config.TextColumn("Email"),
            "orders": count_column("Orders in period", help=f"Counted orders in period {period}."),
            "revenue": money_column("Revenue in period", currency,
                                    help=f"Net revenue of those orders, in {currency}."),
            "last_order_period": st.column_config.TextColumn(
                "Last order", help="The period of the customer's latest counted order."),
        },
    )


def curves_chart(res: RetentionResult, mode: Mode) -> go.Figure:
    curves = res.curves(mode)
    curves = curves[~curves["incomplete"]]
    fig = go.Figure()
    cohorts = list(res.cohorts["cohort"])
    for i, c in enumerate(cohorts):
        g = curves[curves["cohort"] == c]
        if g.empty:
            continue
        shade = 0.25 + 0.55 * (i / max(len(cohorts) - 1, 1))
        fig.add_trace(go.Scatter(
            x=g["period"], y=g["share"].astype(float), mode="lines", name=c, showlegend=False,
            line={"width": 1, "color": f"rgba(124,58,237,{shade:.2f})"},
            customdata=g[["size"]].to_numpy(),
            hovertemplate=f"Cohort {chart_text(c)} (%{{customdata[0]:,}} customers)<br>"
            "Period %{x}: %{y:.1%}<extra></extra>",
        ))
    avg = res.average_curve(mode)
    fig.add_trace(go.Scatter(
        x=avg["period"], y=avg["share"].astype(float), mode="lines+markers", name=AVERAGE_LABEL,
        line={"width": 4, "color": ORANGE},
        customdata=avg[["cohorts", "customers"]].to_numpy(),
        hovertemplate=f"<b>{AVERAGE_LABEL}</b><br>Period %{{x}}: %{{y:.1%}}<br>"
        "over %{customdata[0]} cohorts, %{customdata[1]:,} customers<extra></extra>",
    ))
    fig.update_layout(
        height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "Period", "dtick": 1 if res.periods <= 30 else None,
               "range": [-0.2, max(res.periods - 1, 1) + 0.2]},
        yaxis={"title": definition(MODE_DEFINITIONS[mode]).label, "tickformat": ".0%",
               "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig


def trend_chart(res: RetentionResult, mode: Mode) -> go.Figure:
    trend = res.trend(mode)
    fig = go.Figure()
    for k, color in zip(TREND_PERIODS, (PURPLE, ORANGE), strict=True):
        y = [None if v is None else float(v) for v in trend[f"p{k}"]]
        fig.add_trace(go.Scatter(
            x=trend["cohort"], y=y, mode="lines+markers", name=f"Period {k}",
            line={"color": color, "width": 2}, customdata=trend[["size"]].to_numpy(),
            hovertemplate=f"Cohort %{{x}} (%{{customdata[0]:,}} customers)<br>Period {k}: "
            "%{y:.1%}<extra></extra>",
        ))
    fig.update_layout(
        height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "Cohort", "type": "category"},
        yaxis={"title": definition(MODE_DEFINITIONS[mode]).label, "tickformat": ".0%",
               "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig


def cohort_section() -> None:
    c1, c2, c3, c4 = st.columns([0.9, 1.1, 1.3, 2.6], vertical_alignment="bottom")
    grain, since = _grain_and_span(c1, c2)
    mode: Mode = url_choice(
        "Retention", list(MODES), key="ret_mode", param="mode", default=DEFAULT_MODE,
        format_func=lambda m: MODE_LABELS[m], horizontal=True, where=c4,
        help="\n\n".join(f"**{MODE_LABELS[m]}**: {definition(MODE_DEFINITIONS[m]).help}"
                         for m in MODES),
    )
    view: View = url_choice(
        "Cohorts of", list(VIEWS), key="ret_view", param="view", default=DEFAULT_VIEW,
        format_func=lambda v: VIEW_LABELS[v], where=c3,
        help=f"**First-time customers**: {definition('cohort_size').help}\n\n"
        f"**Everyone who ordered** (recurring): {definition('recurring_retention').help}",
    )
    filters = _filters()
    q = RetentionQuery(as_of=as_of, grain=grain, view=view, filters=filters, cohorts_since=since)
    res: RetentionResult = compute(cohort_retention, query=q)
    st.caption(plain(q.sentence()))
    if res.cohorts.empty:
        st.info("No customers match: there are no counted orders for these cohorts. Widen the "
                "filters, show more periods, or import orders on the Data page.")
        return
    avg = res.average_curve(mode).set_index("period")["share"]
    m1, m2, m3 = st.columns(3)
    m1.metric("Customers in these cohorts", f"{int(res.cohorts['size'].sum()):,}",
              help=definition("cohort_size").help)
    for col, k in zip((m2, m3), TREND_PERIODS, strict=True):
        v = avg.get(k)
        col.metric(f"Period-{k} retention (weighted average)",
                   fmt_share(None if v is None or pd.isna(v) else float(v)),
                   help=f"{definition(MODE_DEFINITIONS[mode]).help} "
                   f"{definition('retention_average').help}")

    st.subheader("Cohort retention", help=f"{definition(MODE_DEFINITIONS[mode]).help}")
    current_note = (
        f" {INCOMPLETE_NOTE} (current {grain}: {res.current_period})"
        if res.current_incomplete else ""
    )
    st.caption("Rows are cohorts with their size; columns count the periods since. Blank cells "
               f"have not happened yet.{current_note}")
    event = st.plotly_chart(
        heatmap(res, mode, view, grain), key="ret_heatmap", width="stretch", on_select="rerun",
        selection_mode="points", config={"displayModeBar": False},
    )
    _cell_customers(res, q, mode, event)

    left, right = st.columns(2)
    with left:
        st.subheader("Retention curves", help=definition("retention_average").help)
        st.caption("One thin line per cohort (darker = newer) and the size-weighted average.")
        st.plotly_chart(curves_chart(res, mode), key="ret_curves", width="stretch")
    with right:
        st.subheader("Retention trend", help=definition("retention_trend").help)
        st.caption(f"Period-{TREND_PERIODS[0]} and period-{TREND_PERIODS[1]} retention of each "
                   "cohort: rising lines mean newer customers come back more.")
        st.plotly_chart(trend_chart(res, mode), key="ret_trend", width="stretch")


# --- churn --------------------------------------------------------------------------------------


def _churn_days_input(suggested: int, where: Any) -> int:
    """The churn N, prefilled with the suggestion and kept in the URL while it differs."""
    return url_number(
        definition("churn_days").label, key=CHURN_DAYS_KEY, param=CHURN_DAYS_PARAM,
        default=suggested, min_value=1, max_value=MAX_CHURN_DAYS,
        help=definition("churn_days").help, where=where,
    )


def churn_chart(rates: pd.DataFrame, days: int, grain: Grain) -> go.Figure:
    df = rates.assign(rate=[None if v is None or pd.isna(v) else float(v)
                            for v in rates["churn_rate"]])
    hover = [
        f"<b>{r.period}</b>{' · still running, so far' if r.incomplete else ''}<br>"
        f"Churn rate {fmt_share(r.rate)}<br>{int(r.churned):,} churned of "
        f"{int(r.active_at_start):,} customers active at the start<br>"
        f"(active = a counted order in the {days} days before {r.period_start:%-d %b %Y})"
        for r in df.itertuples(index=False)
    ]
    fig = go.Figure(go.Bar(
        x=df["period"], y=df["rate"], hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        marker={
            "color": [LIGHT_PURPLE if i else PURPLE for i in df["incomplete"]],
            "pattern": {"shape": ["/" if i else "" for i in df["incomplete"]],
                        "fgcolor": GREY},
        },
    ))
    fig.update_layout(
        height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": grain.capitalize(), "type": "category"},
        yaxis={"title": "Churn rate", "tickformat": ".0%", "rangemode": "tozero"},
    )
    return fig


def churn_section() -> None:
    suggestion = compute(suggest_churn_days, as_of=as_of)
    c1, c2, c3, _ = st.columns([1.1, 0.9, 1.1, 2.8], vertical_alignment="bottom")
    days = _churn_days_input(suggestion.days, c1)
    grain, since = _grain_and_span(c2, c3)
    st.caption(suggestion.sentence)
    st.caption(ChurnRule(days=days).sentence() + " Churn covers every customer: "
               + _not_narrowed("the cohort filters"))
    rates = compute(churn_rates, churn_days=days, as_of=as_of, grain=grain, since=since)
    overdue = compute(overdue_customers, as_of=as_of, churn_days=days)
    done = rates[~rates["incomplete"]] if len(rates) else rates
    m1, m2, m3, m4 = st.columns(4)
    last = done.iloc[-1] if len(done) else None
    when = f", {last['period']}" if last is not None else ""
    m1.metric(f"Churn rate{when}",
              fmt_share(None if last is None or last["churn_rate"] is None
                        else float(last["churn_rate"])),
              help=f"The last full {grain}. {definition('churn_rate').help}")
    m2.metric("Active at its start", "—" if last is None else f"{int(last['active_at_start']):,}",
              help=definition("active_at_start").help)
    m3.metric("Churned in it", "—" if last is None else f"{int(last['churned']):,}",
              help=definition("churned").help)
    m4.metric("Overdue now", f"{len(overdue):,}", help=definition("overdue").help)

    st.subheader(f"Churn rate per {grain}", help=definition("churn_rate").help)
    if rates.empty:
        st.info("No counted orders yet, so nobody can churn.")
    else:
        if bool(rates["incomplete"].any()):
            st.caption(f"The hatched bar is the current {grain}, still running: its churn so far.")
        st.plotly_chart(churn_chart(rates, days, grain), key="ret_churn_chart", width="stretch")

    st.subheader("Overdue customers", help=definition("overdue").help)
    st.caption(
        "Late for their next order by their own rhythm and not churned yet (silent for fewer "
        f"than {days} days): a good list for a nudge. Not the RFM group 'At risk', which ranks "
        "customers against each other."
    )
    if overdue.empty:
        st.info("Nobody is overdue right now.")
        return
    st.dataframe(
        _with_name(overdue), key="ret_overdue", hide_index=True, height=TABLE_HEIGHT,
        column_order=["customer_id", "name", "email", "orders", "last_order", "usual_gap_days",
                      "days_since_last", "overdue_ratio", "expected_by"],
        column_config={
            "customer_id": st.column_config.TextColumn("Customer"),
            "name": st.column_config.TextColumn("Name"),
            "email": st.column_config.TextColumn("Email"),
            "orders": count_column("Orders", help="Counted orders to the as-of date."),
            "last_order": date_column("Last order", help="Day of the latest counted order."),
            "usual_gap_days": st.column_config.NumberColumn(
                "Usual gap (days)", format="%.0f",
                help="The median of the days between the customer's consecutive order days."),
            "days_since_last": st.column_config.NumberColumn(
                "Silent (days)", format="%d",
                help="Days from the last counted order to the as-of date."),
            "overdue_ratio": st.column_config.NumberColumn(
                "× usual gap", format="%.1f×",
                help="Days since the last order divided by the usual gap."),
            "expected_by": date_column(
                "Expected by", help="Last order day plus the usual gap."),
        },
    )


# --- lifetime value -----------------------------------------------------------------------------


def historical_chart(hist: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    cohorts = list(dict.fromkeys(hist["cohort"]))
    for i, c in enumerate(cohorts):
        g = hist[hist["cohort"] == c]
        shade = 0.25 + 0.6 * (i / max(len(cohorts) - 1, 1))
        color = f"rgba(124,58,237,{shade:.2f})"
        custom = g[["size", "cumulative_revenue"]].to_numpy()
        hover = (f"Cohort {chart_text(c)} (%{{customdata[0]:,}} customers)<br>Period %{{x}}: "
                 f"%{{y:,.2f}} {currency} per customer<br>%{{customdata[1]:,.2f}} {currency} "
                 "in total to date")
        full = g[~g["incomplete"]]
        fig.add_trace(go.Scatter(
            x=full["period"], y=full["value_per_customer"], mode="lines", name=c,
            line={"color": color, "width": 1.5}, customdata=custom[~g["incomplete"].to_numpy()],
            hovertemplate=hover + "<extra></extra>", showlegend=False,
        ))
        part = g[g["incomplete"]]
        if len(part):
            tail = pd.concat([full.tail(1), part])
            fig.add_trace(go.Scatter(
                x=tail["period"], y=tail["value_per_customer"], mode="lines+markers",
                line={"color": color, "width": 1.5, "dash": "dot"},
                marker={"symbol": "circle-open", "size": 7}, showlegend=False,
                customdata=g[["size", "cumulative_revenue"]].to_numpy()[-len(tail):],
                hovertemplate=hover + " (period still running)<extra></extra>",
            ))
    fig.update_layout(
        height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "Periods since first order"},
        yaxis={"title": f"Net revenue per customer to date ({currency})", "rangemode": "tozero"},
    )
    return fig


def tracking_chart(val: HoldoutValidation) -> go.Figure:
    t = val.tracking
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=t["day"], y=t["actual"], name="Actual", mode="lines", line={"color": PURPLE, "width": 3},
        hovertemplate="%{x|%-d %b %Y}: %{y:,} actual repeat order days<extra></extra>",
    ))
    fig.add_trace(go.Scatter(
        x=t["day"], y=t["predicted"], name="Predicted", mode="lines",
        line={"color": ORANGE, "width": 3, "dash": "dash"},
        hovertemplate="%{x|%-d %b %Y}: %{y:,.0f} predicted repeat order days<extra></extra>",
    ))
    fig.update_layout(
        height=CHART_HEIGHT - 40, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": "Repeat order days, cumulative", "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig


def frequency_chart(val: HoldoutValidation) -> go.Figure:
    b = val.by_frequency
    fig = go.Figure()
    for name, color in (("actual", PURPLE), ("predicted", ORANGE)):
        fig.add_trace(go.Bar(
            x=b["x_cal"], y=b[name].astype(float), name=name.capitalize(), marker_color=color,
            customdata=b[["customers"]].to_numpy(),
            hovertemplate=f"%{{customdata[0]:,}} customers with %{{x}} repeat order days before "
            f"the holdout<br>{name.capitalize()}: %{{y:.2f}} repeat order days each in it"
            "<extra></extra>",
        ))
    fig.update_layout(
        height=CHART_HEIGHT - 40, margin={"l": 10, "r": 10, "t": 10, "b": 10}, barmode="group",
        xaxis={"title": "Repeat order days before the holdout", "type": "category"},
        yaxis={"title": "Per customer in the holdout"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig


def _ranges(df: pd.DataFrame, col: str, fmt: Any) -> list[str]:
    """"low–high" of a prediction's interval columns ("—" where the fit gave none)."""
    return [
        "—" if pd.isna(lo) or pd.isna(hi) else f"{fmt(float(lo))}–{fmt(float(hi))}"
        for lo, hi in zip(df[f"{col}_low"], df[f"{col}_high"], strict=True)
    ]


def _horizon_label(days: int) -> str:
    return {365: "1 year", 730: "2 years"}.get(days, f"{days} days")


def _predictions(pred: ClvPrediction) -> None:
    if pred.warning:
        st.warning(pred.warning, icon=":material/warning:")
    c = pred.customers
    horizon = _horizon_label(pred.horizon_days)
    st.caption(f"Over the next **{horizon}** from {pred.as_of:%-d %b %Y}, for every customer "
               "with a counted order so far (not discounted):")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Customers modelled", f"{len(c):,}",
              help="Every customer with a counted order up to the as-of date.")
    alive = c["p_alive"].mean() if len(c) else None
    m2.metric("Average probability still active",
              fmt_share(None if alive is None or pd.isna(alive) else float(alive)),
              help=definition("p_alive").help)
    orders = float(c["expected_orders"].sum(skipna=True)) if len(c) else 0.0
    m3.metric("Expected repeat orders", f"{orders:,.0f}",
              help=definition("expected_orders").help + " Summed over every customer.")
    value = float(c["expected_value"].sum(skipna=True)) if len(c) else 0.0
    m4.metric("Predicted value", fmt_money(value, currency),
              help=definition("expected_value").help + " Summed over every customer.")

    st.subheader(f"Top {TOP_CUSTOMERS} customers by predicted value",
                 help=definition("expected_value").help)
    level = f"{pred.level:.0%}"
    range_help = f"The {level} interval: " + pred.interval_method
    top = c.head(TOP_CUSTOMERS)
    table = pd.DataFrame({
        "customer_id": top["customer_id"],
        "orders_to_date": top["x"] + 1,
        "revenue_to_date": top["revenue_to_date"],
        "p_alive": top["p_alive"] * 100,
        "p_alive_range": [r if r == "—" else r + "%" for r in
                          _ranges(top, "p_alive", lambda v: f"{v * 100:.1f}")],
        "expected_orders": top["expected_orders"],
        "expected_orders_range": _ranges(top, "expected_orders", lambda v: f"{v:.1f}"),
        "expected_order_value": top["expected_order_value"],
        "expected_value": top["expected_value"],
        "expected_value_range": _ranges(top, "expected_value", lambda v: f"{v:,.0f}"),
    })
    st.dataframe(
        table, key="ret_top_customers", hide_index=True, height=TABLE_HEIGHT,
        column_config={
            "customer_id": st.column_config.TextColumn("Customer"),
            "orders_to_date": count_column(
                "Order days", help="Days with a counted order up to the as-of date."),
            "revenue_to_date": money_column("Revenue so far", currency,
                                            help=definition("historical_clv").help),
            "p_alive": st.column_config.NumberColumn(
                "P(active)", format="%.1f%%", help=definition("p_alive").help),
            "p_alive_range": st.column_config.TextColumn(f"{level} range", help=range_help),
            "expected_orders": st.column_config.NumberColumn(
                "Expected orders", format="%.1f", help=definition("expected_orders").help),
            "expected_orders_range": st.column_config.TextColumn(f"{level} range",
                                                                 help=range_help),
            "expected_order_value": money_column(
                "Order value", currency, help=definition("expected_order_value").help),
            "expected_value": money_column("Predicted value", currency,
                                           help=definition("expected_value").help),
            "expected_value_range": st.column_config.TextColumn(
                f"{level} range", help=f"In {currency}. {range_help}"),
        },
    )
    st.caption(pred.interval_method)


def _validation(val: HoldoutValidation) -> None:
    st.subheader("Does the model work on your data?", help=definition("holdout_error_pct").help)
    st.caption(
        f"The model was fitted again on the orders up to {val.calibration_end:%-d %b %Y} only; "
        f"the charts compare what it predicted for the {val.holdout_days} days after with what "
        "customers actually did."
    )
    if val.warning:
        st.warning(val.warning, icon=":material/warning:")
    if val.tracking.empty:
        return
    m1, m2, m3 = st.columns(3)
    err = val.error_pct
    m1.metric("Holdout total error", "—" if err is None else f"{err:+.1f}%",
              help=definition("holdout_error_pct").help)
    m2.metric("Holdout error per customer", "—" if val.mae is None else f"{val.mae:.2f}",
              help=definition("holdout_mae").help)
    m3.metric("Predicted vs actual repeat order days",
              f"{val.total_predicted:,.0f} vs {val.total_actual:,}",
              help="Totals over the holdout period, for the customers who had ordered before it.")
    left, right = st.columns(2)
    left.plotly_chart(tracking_chart(val), key="ret_tracking", width="stretch")
    right.plotly_chart(frequency_chart(val), key="ret_frequency", width="stretch")


def value_section() -> None:
    c1, c2, _ = st.columns([0.9, 1.1, 3.9], vertical_alignment="bottom")
    grain, since = _grain_and_span(c1, c2)
    filters = _filters()
    st.subheader("Value per customer by cohort", help=definition("historical_clv").help)
    hist = compute(historical_clv, as_of=as_of, grain=grain, filters=filters,
                   cohorts_since=since)
    if hist.empty:
        st.info("No customers match these filters yet.")
    else:
        st.caption(f"{plain(filters.sentence())}. Cumulative net revenue per customer since "
                   f"each cohort's first {grain}, in {currency}; dotted ends are the {grain} "
                   "still running.")
        st.plotly_chart(historical_chart(hist), key="ret_history", width="stretch")

    st.subheader("Predicted value", help=definition("expected_value").help)
    st.caption(
        "Relmark fits two models to every customer's order history: BG/NBD (how often they "
        "order and the chance they have quietly stopped) and Gamma-Gamma (how much they spend "
        "per order). The models learn from every customer: " + _not_narrowed("the filters above")
    )
    p1, p2, _ = st.columns([0.9, 0.8, 4.2], vertical_alignment="bottom")
    horizon = url_choice(
        "Horizon", list(HORIZONS), key="ret_horizon", param="horizon",
        default=DEFAULT_HORIZON_DAYS, format_func=_horizon_label, where=p1,
        help="How far ahead to predict orders and value.",
    )
    sync_from_url(FITTED_KEY, FIT_PARAM, lambda raw: raw == "1")
    if p2.button("Fit model", key="ret_fit", type="primary", icon=":material/model_training:"):
        st.session_state[FITTED_KEY] = True
    write_url(FIT_PARAM, "1" if st.session_state.get(FITTED_KEY) else None)
    if not st.session_state.get(FITTED_KEY):
        st.caption("Press **Fit model** to predict each customer's orders and value (it takes a "
                   "few seconds on a large shop).")
        return
    bar = st.progress(0.05, text="Fitting the models to every customer's history…")
    try:
        pred = compute(predict_clv, as_of=as_of, horizon_days=int(horizon))
        bar.progress(0.6, text="Checking the model on a holdout period…")
        val = compute(holdout_validation, as_of=as_of)
    except RelmarkError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.empty()
    _predictions(pred)
    _validation(val)


if tab == "churn":
    churn_section()
elif tab == "value":
    value_section()
else:
    cohort_section()
