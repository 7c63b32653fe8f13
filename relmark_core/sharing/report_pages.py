"""One report builder per page: the page's numbers, tables and charts as a :class:`Report`.

Each builder calls the same core functions the page calls, with the sidebar's filters and the
page's own choices (its URL parameters, read here with the page's defaults), so a report of a
saved view or a shared link shows that view. No metric logic lives here.

Pages not listed in :data:`REPORT_PAGES` (added after the reports) get no report yet;
:func:`build_report` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import pandas as pd

from relmark_core import store
from relmark_core.customers import (
    DEFAULT_DESCENDING,
    DEFAULT_SORT,
    SORT_COLUMNS,
    count_customers,
    customer_table,
    search_sentence,
)
from relmark_core.errors import InputRefused, RelmarkError
from relmark_core.feedback_followup import followup_counts
from relmark_core.imports import import_history
from relmark_core.loyalty import active_version, list_versions, members_table, posted_through
from relmark_core.metrics import feedback as fb
from relmark_core.metrics.churn import (
    MAX_CHURN_DAYS,
    churn_rates,
    overdue_customers,
    suggest_churn_days,
)
from relmark_core.metrics.clv import historical_clv
from relmark_core.metrics.common import RevenueBasis
from relmark_core.metrics.definitions import definition
from relmark_core.metrics.kpis import kpis_for_ranges, revenue_over_time
from relmark_core.metrics.retention import (
    DEFAULT_MODE,
    DEFAULT_VIEW,
    MODES,
    TREND_PERIODS,
    VIEWS,
    CohortFilter,
    RetentionQuery,
    cohort_retention,
    period_from_number,
    period_number,
    segment_customer_ids,
)
from relmark_core.metrics.rfm import (
    SCORE_LEVELS,
    SCORES,
    default_as_of,
    load_groups_for,
    rfm_grid,
    rfm_group_summary,
)
from relmark_core.offers import offer_results, offers_table
from relmark_core.periods import DEFAULT_GRAIN, GRAINS, Grain, parse_date
from relmark_core.segments import list_segments, segment_summary
from relmark_core.settings import load_settings
from relmark_core.sharing.report import (
    DASH,
    MAX_TABLE_ROWS,
    Headline,
    Report,
    ReportChart,
    ReportInputs,
    Section,
    Series,
    fmt_count,
    fmt_date,
    fmt_share,
    headline,
    last_import_sentence,
    money_value,
    number_headline,
    one_line,
    table_from_frame,
)

__all__ = ["PageReport", "REPORT_PAGES", "build_report", "report_page_names"]

T = TypeVar("T")
Built = tuple[str, list[Section]]
"""A builder's result: the page's choices in words, and its sections."""

KPI_KEYS = ("customers", "orders", "revenue", "aov", "repeat_purchase_rate")
WEEKLY_UP_TO_DAYS = 120  # the Overview groups by week up to this many days (as the page does)
DEFAULT_COHORTS = "24"
COHORT_COUNTS = ("12", "24", "36", "all")
MAX_MATRIX_PERIODS = 13
"""Retention matrix columns a report shows (periods 0–12); the page has them all."""
MAX_CHART_COHORTS = 12
"""Cohort lines in a lifetime-value chart (the newest); the table lists every cohort."""
MAX_CHART_GROUPS = 15
ANY = "(any)"
DISCOUNT_WORDS = {"yes": True, "no": False}
FEEDBACK_SECTIONS = ("scores", "reviews", "comments", "behaviour", "followup")
SCORE_KINDS: tuple[fb.ScoreKind, ...] = ("nps", "csat")
NPS_LABEL = {"nps": "NPS", "csat": "CSAT"}


def _pick(choices: Mapping[str, str], param: str, allowed: Sequence[T], default: T) -> T:
    """The page's choice ``param`` if it is one of ``allowed`` (as text), else ``default``."""
    raw = choices.get(param)
    for option in allowed:
        if str(option) == raw:
            return option
    return default


def _score(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def _series_values(values: Any) -> tuple[float | None, ...]:
    return tuple(money_value(v) for v in values)


# --- Overview ---------------------------------------------------------------------------------


def overview(inp: ReportInputs) -> Built:
    f = inp.filters
    ex_parts = inp.choices.get("basis") == "1"
    basis: RevenueBasis = "net_ex_tax_shipping" if ex_parts else "net"
    default_grain: Grain = "week" if f.rng.days <= WEEKLY_UP_TO_DAYS else "month"
    grain: Grain = _pick(inp.choices, "grain", GRAINS, default_grain)
    ranges = [f.rng, f.rng.previous()] if f.compare else [f.rng]
    results = kpis_for_ranges(inp.src, ranges=ranges, basis=basis, segment=f.segment)
    cur = results[0]
    prev = results[1] if f.compare else None
    heads = [
        headline(
            "revenue_ex_tax_shipping" if key == "revenue" and ex_parts else key,
            getattr(cur, key),
            previous=getattr(prev, key) if prev is not None else None,
            compare=prev is not None,
            currency=cur.currency,
        )
        for key in KPI_KEYS
    ]
    notes = []
    if ex_parts and cur.partial_share > 0:
        notes.append(
            f"Partial: {cur.partial_share:.0%} of orders came from a source without tax or "
            "shipping (e.g. a payment processor); those count in full."
        )
    if cur.other_currencies:
        parts = ", ".join(
            f"{t.orders:,} orders / {t.revenue:,.2f} {c}"
            for c, t in sorted(cur.other_currencies.items())
        )
        notes.append(f"Also in other currencies (not added to revenue): {parts}.")
    if cur.orders == 0:
        notes.append("No counted orders in this period.")
    series = revenue_over_time(inp.src, rng=f.rng, grain=grain, basis=basis, segment=f.segment)
    label = definition("revenue_ex_tax_shipping" if ex_parts else "revenue").label
    chart = ReportChart(
        title=f"{label} by {grain}",
        kind="bar",
        x=tuple(str(p) for p in series["period"]),
        series=(Series(name=f"{label} ({cur.currency})", values=_series_values(series["revenue"])),),
        x_label=grain.capitalize(),
        y_label=f"{label} ({cur.currency})",
        value_format="money",
        note=None if bool(series["complete"].all()) else
        "The first or last bar covers only part of its period.",
    )
    table = table_from_frame(
        f"Revenue by {grain}",
        series.assign(complete=series["complete"].map({True: "whole", False: "part"})),
        [("period", grain.capitalize(), "text"), ("orders", "Orders", "count"),
         ("customers", "Customers", "count"), ("revenue", label, "money"),
         ("complete", "Period in range", "text")],
        currency=cur.currency,
    )
    choices = (
        f"Grouped by {grain}; revenue "
        + ("without tax and shipping" if ex_parts else "with tax and shipping (net of refunds)")
    )
    return choices, [
        Section(title="Headline numbers", notes=tuple(notes), headlines=tuple(heads)),
        Section(title="Revenue over time", charts=(chart,), tables=(table,)),
    ]


# --- Customers --------------------------------------------------------------------------------


def customers(inp: ReportInputs) -> Built:
    search = (inp.choices.get("q") or "").strip() or None
    sort = _pick(inp.choices, "sort", SORT_COLUMNS, DEFAULT_SORT)
    raw_desc = inp.choices.get("desc")
    descending = DEFAULT_DESCENDING if raw_desc not in ("0", "1") else raw_desc == "1"
    groups = load_groups_for(inp.src)
    total = count_customers(inp.src, search=search)
    df = customer_table(
        inp.src, search=search, sort=sort, descending=descending, limit=MAX_TABLE_ROWS,
        groups=groups,
    )
    order = "largest / newest first" if descending else "smallest / oldest first"
    table = table_from_frame(
        "Customers",
        df,
        [("name", "Name", "text"), ("rfm_group", "RFM group", "text"),
         ("orders", "Orders", "count"), ("net_spend", "Net spend", "money"),
         ("first_order", "First order", "date"), ("last_order", "Last order", "date"),
         ("nps", "Latest NPS", "count"), ("location", "Location", "text")],
        currency=inp.currency,
        total_rows=total,
        note="Email addresses are left out of reports.",
    )
    heads = (
        number_headline("Customers", fmt_count(total), search_sentence(search) + "."),
    )
    choices = f"{search_sentence(search)}; sorted by {sort.replace('_', ' ')}, {order}"
    return choices, [Section(title="Customers", headlines=heads, tables=(table,))]


# --- RFM groups -------------------------------------------------------------------------------


def rfm(inp: ReportInputs) -> Built:
    default_day = default_as_of(inp.src)
    if default_day is None:
        return "", [Section(title="RFM groups", notes=("No counted orders yet, so nothing to score.",))]
    as_of = default_day
    raw = inp.choices.get("rfm_as_of")
    if raw:
        try:
            as_of = parse_date(raw, field="RFM as-of date")
        except InputRefused:
            as_of = default_day
    m_lo, m_hi = 1, SCORE_LEVELS
    raw_m = inp.choices.get("m", "")
    parts = raw_m.split("-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        a, b = int(parts[0]), int(parts[1])
        if 1 <= a <= b <= SCORE_LEVELS:
            m_lo, m_hi = a, b
    shade = _pick(inp.choices, "shade", ("customers", "revenue"), "customers")
    groups = load_groups_for(inp.src)
    full = rfm_grid(inp.src, as_of=as_of)
    grid = full if (m_lo, m_hi) == (1, SCORE_LEVELS) else rfm_grid(
        inp.src, as_of=as_of, m_min=m_lo, m_max=m_hi
    )
    summary = rfm_group_summary(inp.src, as_of=as_of, groups=groups)
    scored = int(full["customers"].sum())
    cells = {(int(str(r.r)), int(str(r.f))): r for r in grid.itertuples(index=False)}
    rows = tuple(
        Series(
            name=f"R{r}",
            values=tuple(
                money_value(getattr(cells[(r, f_)], shade)) if (r, f_) in cells else None
                for f_ in SCORES
            ),
        )
        for r in reversed(SCORES)
    )
    chart = ReportChart(
        title="Recency × frequency",
        kind="heatmap",
        x=tuple(f"F{f_}" for f_ in SCORES),
        series=rows,
        x_label="F score: orders (5 = most)",
        y_label="R score: recency (5 = most recent)",
        value_format="money" if shade == "revenue" else "number",
        note=f"Cells: {'revenue (' + inp.currency + ')' if shade == 'revenue' else 'customers'}.",
    )
    table = table_from_frame(
        "Groups",
        summary,
        [("group", "Group", "text"), ("customers", "Customers", "count"),
         ("share", "Share", "share"), ("revenue", "Revenue", "money"),
         ("revenue_share", "Revenue share", "share"), ("aov", "AOV", "money"),
         ("median_days_since_last_order", "Median days since last order", "number"),
         ("rule", "Scores", "text"), ("action", "Suggested action", "text")],
        currency=inp.currency,
    )
    heads = (
        number_headline(
            "Scored customers", fmt_count(scored),
            "Customers with at least one counted order before the scores' as-of date.",
        ),
    )
    m_words = "" if (m_lo, m_hi) == (1, SCORE_LEVELS) else f"; grid for M score {m_lo}–{m_hi}"
    choices = f"Scores as of {as_of:%-d %b %Y}{m_words}; cells shaded by {shade}"
    return choices, [
        Section(
            title="RFM groups",
            notes=("The sidebar's period does not apply here: scores use every order before "
                   "the scores' as-of date.",),
            headlines=heads, charts=(chart,), tables=(table,),
        )
    ]


# --- Feedback ---------------------------------------------------------------------------------


def _csat_headlines(now: pd.Series, before: pd.Series, compare: bool) -> list[Headline]:
    csat = None if pd.isna(now["csat"]) else float(now["csat"])
    prev = None if pd.isna(before["csat"]) else float(before["csat"])
    return [
        Headline(
            label=definition("csat").label,
            value=fmt_share(csat),
            definition=definition("csat").help,
            previous=fmt_share(prev) if compare else None,
            change=(f"{(csat - prev) * 100:+.1f} pts"
                    if compare and csat is not None and prev is not None else None),
        ),
        number_headline("CSAT answers", fmt_count(now["responses"]),
                        definition("feedback_responses").help),
    ]


def _feedback_scores(inp: ReportInputs, scope: dict[str, Any], kind: fb.ScoreKind, grain: Grain,
                     by: str) -> Section:
    f = inp.filters
    ch = fb.nps_change(inp.src, rng=f.rng, **scope)
    csat_now = fb.score_summary(inp.src, kind="csat", grain=None, rng=f.rng, **scope).iloc[-1]
    csat_before = fb.score_summary(
        inp.src, kind="csat", grain=None, rng=f.rng.previous(), **scope
    ).iloc[-1]
    heads = [
        Headline(
            label=definition("nps").label, value=_score(ch.nps), definition=definition("nps").help,
            previous=_score(ch.previous_nps) if f.compare else None,
            change=f"{ch.change:+.1f} pts" if f.compare and ch.change is not None else None,
        ),
        number_headline(
            "NPS margin of error",
            DASH if ch.margin_of_error is None else f"±{ch.margin_of_error:.1f}",
            definition("nps_margin_of_error").help,
        ),
        number_headline("NPS answers", fmt_count(ch.responses), definition("feedback_responses").help),
        *_csat_headlines(csat_now, csat_before, f.compare),
    ]
    notes = []
    if f.compare and ch.change is not None and ch.margin_of_change is not None:
        verdict = "a real move" if ch.is_real else "not distinguishable from noise"
        notes.append(
            f"NPS {ch.change:+.1f} points against the previous {f.rng.days} days: {verdict} "
            f"(the change's 95% margin is ±{ch.margin_of_change:.1f} points)."
        )
    trend = fb.score_summary(inp.src, kind=kind, grain=grain, rng=f.rng, **scope)
    periods = trend[trend["period"] != fb.ALL_PERIOD]
    value_col = "nps" if kind == "nps" else "csat"
    label = NPS_LABEL[kind]
    trend_chart = ReportChart(
        title=f"{label} by {grain}",
        kind="line",
        x=tuple(str(p) for p in periods["period"]),
        series=(Series(name=label, values=_series_values(periods[value_col])),),
        x_label=grain.capitalize(),
        y_label=label,
        value_format="number" if kind == "nps" else "share",
    )
    if kind == "nps":
        cols = [("period", "Period", "text"), ("responses", "Answers", "count"),
                ("promoters", "Promoters (9–10)", "count"), ("passives", "Passives (7–8)", "count"),
                ("detractors", "Detractors (0–6)", "count"), ("nps", "NPS", "number"),
                ("margin_of_error", "± margin", "number")]
    else:
        cols = [("period", "Period", "text"), ("responses", "Answers", "count"),
                ("satisfied", "Satisfied (4–5)", "count"), ("csat", "CSAT", "share"),
                ("csat_low", "95% range from", "share"), ("csat_high", "95% range to", "share")]
    trend_table = table_from_frame(f"{label} by {grain}", trend, cols, currency=inp.currency)  # type: ignore[arg-type]
    try:
        br = fb.score_summary(inp.src, kind=kind, grain=None, by=by, rng=f.rng,  # type: ignore[arg-type]
                              as_of=f.as_of, **scope)
    except RelmarkError as exc:
        notes.append(str(exc))
        br = pd.DataFrame(columns=["group", *cols[1:]])
    top = br.head(MAX_CHART_GROUPS)
    by_chart = ReportChart(
        title=f"{label} by {fb_breakdown_label(by)}",
        kind="bar",
        x=tuple(one_line(g, 40) for g in top["group"]),
        series=(Series(name=label, values=_series_values(top[value_col])),),
        x_label=fb_breakdown_label(by),
        y_label=label,
        value_format="number" if kind == "nps" else "share",
        note=None if len(br) <= MAX_CHART_GROUPS else
        f"The {MAX_CHART_GROUPS} groups with most answers; the table has all {len(br):,}.",
    )
    by_table = table_from_frame(
        f"{label} by {fb_breakdown_label(by)}", br,
        [("group", fb_breakdown_label(by), "text"), *cols[1:]], currency=inp.currency,  # type: ignore[list-item]
    )
    charts = tuple(c for c in (trend_chart, by_chart) if not c.empty)
    return Section(title="Scores", notes=tuple(notes), headlines=tuple(heads), charts=charts,
                   tables=(trend_table, by_table))


BREAKDOWN_LABELS = {"rfm": "RFM group", "cohort": "Cohort", "country": "Country",
                    "channel": "Channel"}


def fb_breakdown_label(by: str) -> str:
    return BREAKDOWN_LABELS.get(by, by)


def _feedback_extra(inp: ReportInputs, scope: dict[str, Any], section: str) -> Section | None:
    f = inp.filters
    if section == "reviews":
        cat = fb.review_summary(inp.src, by="category", rng=f.rng, **scope)
        prod = fb.review_summary(inp.src, by="product", rng=f.rng, **scope)
        cols = [("reviews", "Reviews", "count"), ("average_rating", "Average rating", "number"),
                ("reviewers", "Reviewers", "count")]
        return Section(title="Reviews", tables=(
            table_from_frame("By category", cat, [("category", "Category", "text"), *cols],  # type: ignore[list-item]
                             currency=inp.currency),
            table_from_frame("By product", prod, [("product", "Product", "text"), *cols],  # type: ignore[list-item]
                             currency=inp.currency),
        ))
    if section == "comments":
        det = fb.count_comments(inp.src, fb.CommentFilter(group="detractor", rng=f.rng), **scope)
        pro = fb.count_comments(inp.src, fb.CommentFilter(group="promoter", rng=f.rng), **scope)
        themes = fb.comment_themes(inp.src, rng=f.rng, **scope)
        return Section(
            title="Comment themes",
            notes=(f"From {det:,} detractor and {pro:,} promoter comments in this period; "
                   "comments themselves are left out of reports.",),
            tables=(table_from_frame(
                "Words and phrases that set detractors (z > 0) and promoters (z < 0) apart",
                themes,
                [("term", "Term", "text"), ("detractor_comments", "Detractor comments", "count"),
                 ("promoter_comments", "Promoter comments", "count"), ("z", "z", "number")],
                currency=inp.currency,
            ),),
        )
    if section == "behaviour":
        df = fb.behaviour_by_group(inp.src, as_of=f.as_of, **scope)
        at_risk = fb.revenue_at_risk(inp.src, as_of=f.as_of, **scope)
        groups = [str(g).capitalize() + "s" for g in df["nps_group"]]
        return Section(
            title="What promoters and detractors do",
            notes=(f"By each customer's latest NPS answer up to {f.as_of:%-d %b %Y}, whatever "
                   "the date range.",),
            headlines=(headline("revenue_at_risk", at_risk, currency=inp.currency),),
            charts=(ReportChart(
                title="Repeat purchase rate", kind="bar", x=tuple(groups),
                series=(Series(name="Repeat purchase rate",
                               values=_series_values(df["repeat_purchase_rate"])),),
                y_label="Repeat purchase rate", value_format="share",
            ),),
            tables=(table_from_frame(
                "By NPS group", df.assign(nps_group=groups),
                [("nps_group", "Group", "text"), ("customers", "Customers", "count"),
                 ("customers_with_orders", "With orders", "count"),
                 ("repeat_purchase_rate", "Repeat purchase rate", "share"),
                 ("orders", "Orders", "count"), ("lifetime_revenue", "Lifetime revenue", "money"),
                 ("historical_clv", "Per customer", "money"),
                 ("revenue_12m", "Last 12 months", "money")],
                currency=inp.currency,
            ),),
        )
    if section == "followup":
        members = scope.get("customers")
        counts = followup_counts(inp.src, inp.conn, as_of=f.as_of, customers=members)
        words = {"open": "Open", "contacted": "Contacted", "resolved": "Resolved"}
        return Section(
            title="Detractor follow-up",
            notes=("Names and comments of the detractors are left out of reports; the page "
                   "lists them.",),
            headlines=tuple(
                number_headline(words.get(k, k), fmt_count(v),
                                f"Detractors on the follow-up list marked {k}.")
                for k, v in counts.items()
            ),
        )
    return None


def feedback(inp: ReportInputs) -> Built:
    f = inp.filters
    members = f.segment.members(inp.src) if f.segment is not None else None
    scope: dict[str, Any] = {} if members is None else {"customers": members}
    section = _pick(inp.choices, "tab", FEEDBACK_SECTIONS, "scores")
    kind = _pick(inp.choices, "score", SCORE_KINDS, "nps")
    grain: Grain = _pick(inp.choices, "grain", GRAINS, DEFAULT_GRAIN)
    by = _pick(inp.choices, "by", tuple(BREAKDOWN_LABELS), "rfm")
    sections = [_feedback_scores(inp, scope, kind, grain, by)]
    extra = _feedback_extra(inp, scope, section)
    if extra is not None:
        sections.append(extra)
    choices = (f"Section {section}; {NPS_LABEL[kind]} by {grain} and by "
               f"{fb_breakdown_label(by).lower()}")
    return choices, sections


# --- Retention --------------------------------------------------------------------------------


def _cohort_filter(inp: ReportInputs) -> CohortFilter:
    channel = inp.choices.get("channel")
    category = inp.choices.get("category")
    discount = DISCOUNT_WORDS.get(inp.choices.get("discount", ""))
    seg = inp.filters.segment
    return CohortFilter(
        acquisition_channels=(channel,) if channel and channel != ANY else (),
        first_order_categories=(category,) if category and category != ANY else (),
        first_order_discount=discount,
        customer_ids=None if seg is None else segment_customer_ids(inp.src, segment=seg),
        segment_name=None if seg is None else seg.name,
    )


def _since(as_of: date, grain: Grain, count: str) -> date | None:
    if count == "all":
        return None
    return period_from_number(period_number(as_of, grain) - int(count) + 1, grain)


MODE_DEFINITIONS = {"on": "retention_on", "on_or_after": "retention_on_or_after",
                    "revenue": "revenue_retention"}


def _cohorts(inp: ReportInputs, grain: Grain, since: date | None, flt: CohortFilter) -> Section:
    as_of = inp.filters.as_of
    mode = _pick(inp.choices, "mode", MODES, DEFAULT_MODE)
    view = _pick(inp.choices, "view", VIEWS, DEFAULT_VIEW)
    q = RetentionQuery(as_of=as_of, grain=grain, view=view, filters=flt, cohorts_since=since)
    res = cohort_retention(inp.src, query=q)
    if res.cohorts.empty:
        return Section(title="Cohort retention", notes=(q.sentence(), "No customers match."))
    avg = res.average_curve(mode).set_index("period")["share"]
    d = definition(MODE_DEFINITIONS[mode])
    heads = [number_headline("Customers in these cohorts", fmt_count(res.cohorts["size"].sum()),
                             definition("cohort_size").help)]
    for k in TREND_PERIODS:
        v = avg.get(k)
        heads.append(number_headline(
            f"Period-{k} retention (weighted average)",
            fmt_share(None if v is None or pd.isna(v) else float(v)),
            f"{d.help} {definition('retention_average').help}",
        ))
    matrix = res.matrix(mode)
    periods = min(res.periods, MAX_MATRIX_PERIODS)
    names = [f"p{k}" for k in range(periods)]
    later = [v for r in matrix.to_dict("records") for k, n in enumerate(names)
             if (v := money_value(r[n])) is not None and (k > 0 or view == "recurring")]
    heat = ReportChart(
        title="Cohort retention",
        kind="heatmap",
        x=tuple(str(k) for k in range(periods)),
        series=tuple(
            Series(name=f"{r['cohort']} · {int(r['size']):,}",
                   values=tuple(money_value(r[n]) for n in names))
            for r in matrix.tail(MAX_TABLE_ROWS).to_dict("records")
        ),
        x_label=f"{grain.capitalize()}s since first order",
        y_label="Cohort · customers",
        value_format="share",
        color_max=(min(max(later), 1.0) if mode != "revenue" else max(later)) if later else None,
        note=(f"Periods 0–{periods - 1} of {res.periods}." if res.periods > periods else None),
    )
    curve = res.average_curve(mode)
    curve_chart = ReportChart(
        title="Average retention curve", kind="line",
        x=tuple(str(int(p)) for p in curve["period"]),
        series=(Series(name="Weighted average", values=_series_values(curve["share"])),),
        x_label="Period", y_label=d.label, value_format="share",
    )
    table = table_from_frame(
        f"Retention matrix ({d.label.lower()})",
        matrix,
        [("cohort", "Cohort", "text"), ("size", "Customers", "count"),
         *((n, n.replace("p", "P"), "share") for n in names)],
        currency=inp.currency,
        note=None if res.periods <= periods else
        f"Periods 0–{periods - 1} of {res.periods}; the page shows them all.",
    )
    notes = [q.sentence().rstrip(".") + "."]
    if res.current_incomplete:
        notes.append(f"The current {grain} ({res.current_period}) is still running: its "
                     "cells show the share so far.")
    return Section(title="Cohort retention", notes=tuple(notes), headlines=tuple(heads),
                   charts=(heat, curve_chart), tables=(table,))


def _churn(inp: ReportInputs, grain: Grain, since: date | None) -> Section:
    as_of = inp.filters.as_of
    suggestion = suggest_churn_days(inp.src, as_of=as_of)
    raw = inp.choices.get("churn_days", "")
    days = int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_CHURN_DAYS else suggestion.days
    rates = churn_rates(inp.src, churn_days=days, as_of=as_of, grain=grain, since=since)
    overdue = overdue_customers(inp.src, as_of=as_of, churn_days=days)
    done = rates[~rates["incomplete"].astype(bool)] if len(rates) else rates
    last = done.iloc[-1] if len(done) else None
    heads = [
        number_headline(
            "Churn rate" + (f", {last['period']}" if last is not None else ""),
            fmt_share(None if last is None else last["churn_rate"]),
            f"The last full {grain}. {definition('churn_rate').help}",
        ),
        number_headline("Active at its start",
                        DASH if last is None else fmt_count(last["active_at_start"]),
                        definition("active_at_start").help),
        number_headline("Churned in it", DASH if last is None else fmt_count(last["churned"]),
                        definition("churned").help),
        number_headline("Overdue now", fmt_count(len(overdue)), definition("overdue").help),
    ]
    chart = ReportChart(
        title=f"Churn rate per {grain}", kind="bar",
        x=tuple(str(p) for p in rates["period"]),
        series=(Series(name="Churn rate", values=_series_values(rates["churn_rate"])),),
        x_label=grain.capitalize(), y_label="Churn rate", value_format="share",
        note=f"The last bar is the current {grain}, still running."
        if len(rates) and bool(rates["incomplete"].iloc[-1]) else None,
    )
    table = table_from_frame(
        f"Churn per {grain}", rates.iloc[::-1],
        [("period", grain.capitalize(), "text"), ("active_at_start", "Active at start", "count"),
         ("churned", "Churned", "count"), ("churn_rate", "Churn rate", "share")],
        currency=inp.currency,
        note="Newest first.",
    )
    return Section(
        title="Churn",
        notes=(f"Churned = no counted order in {days} days. {suggestion.sentence}",
               "The overdue customers are listed on the page; reports leave names out."),
        headlines=tuple(heads),
        charts=(chart,) if not chart.empty else (),
        tables=(table,),
    )


def _value(inp: ReportInputs, grain: Grain, since: date | None, flt: CohortFilter) -> Section:
    hist = historical_clv(inp.src, as_of=inp.filters.as_of, grain=grain, filters=flt,
                          cohorts_since=since)
    notes = [f"{flt.sentence()}. Cumulative net revenue per customer since each cohort's first "
             f"{grain}, in {inp.currency}.",
             "Predicted lifetime value (the page's “Fit model”) is left out of reports: fitting "
             "takes seconds to minutes on a large shop."]
    if hist.empty:
        return Section(title="Lifetime value", notes=(*notes, "No customers match these filters."))
    cohorts = list(dict.fromkeys(hist["cohort"]))
    shown = cohorts[-MAX_CHART_COHORTS:]
    periods = sorted({int(p) for p in hist["period"]})
    lines = []
    for c in shown:
        g = hist[hist["cohort"] == c].set_index("period")["value_per_customer"]
        lines.append(Series(name=str(c), values=tuple(
            money_value(g.get(p)) if p in g.index else None for p in periods)))
    chart = ReportChart(
        title="Value per customer by cohort", kind="line", x=tuple(str(p) for p in periods),
        series=tuple(lines), x_label="Periods since first order",
        y_label=f"Net revenue per customer to date ({inp.currency})", value_format="money",
        note=None if len(cohorts) <= MAX_CHART_COHORTS else
        f"The {MAX_CHART_COHORTS} newest of {len(cohorts)} cohorts; the table has them all.",
    )
    latest = hist.groupby("cohort", sort=False).tail(1)
    table = table_from_frame(
        "Value per customer to date", latest.iloc[::-1],
        [("cohort", "Cohort", "text"), ("size", "Customers", "count"),
         ("period", "Periods", "count"), ("cumulative_revenue", "Revenue to date", "money"),
         ("value_per_customer", "Per customer", "money")],
        currency=inp.currency, note="Newest cohort first.",
    )
    return Section(title="Lifetime value", notes=tuple(notes), charts=(chart,), tables=(table,))


def retention(inp: ReportInputs) -> Built:
    tab = _pick(inp.choices, "tab", ("cohorts", "churn", "value"), "cohorts")
    grain: Grain = _pick(inp.choices, "by", GRAINS, DEFAULT_GRAIN)
    count = _pick(inp.choices, "cohorts", COHORT_COUNTS, DEFAULT_COHORTS)
    since = _since(inp.filters.as_of, grain, count)
    span = "all periods" if count == "all" else f"the last {count} {grain}s"
    if tab == "churn":
        section = _churn(inp, grain, since)
    else:
        flt = _cohort_filter(inp)
        section = _cohorts(inp, grain, since, flt) if tab == "cohorts" else _value(
            inp, grain, since, flt)
    note = ("The sidebar's date range does not apply here: cohorts run from each customer's "
            "first counted order, as of the as-of date.")
    section = section.model_copy(update={"notes": (note, *section.notes)})
    return f"Section {tab}; grouped by {grain}; {span}", [section]


# --- Loyalty ----------------------------------------------------------------------------------


def loyalty(inp: ReportInputs) -> Built:
    active = active_version(inp.conn)
    versions = list_versions(inp.conn)
    versions_table = table_from_frame(
        "Versions", versions,
        [("version_id", "Version", "count"), ("name", "Name", "text"), ("status", "Status", "text"),
         ("starts_on", "Starts on", "date"), ("saved_by", "Saved by", "text"),
         ("saved_at", "Saved", "when"), ("changes", "Changes", "text")],
        currency=inp.currency,
    )
    if active is None:
        return "", [Section(title="Loyalty program", notes=("No loyalty program is active.",),
                            tables=(versions_table,))]
    program = active.program
    sentences = pd.DataFrame(program.sentences(inp.currency), columns=["part", "sentence"])
    through = posted_through(inp.conn)
    members = members_table(inp.conn, limit=MAX_TABLE_ROWS)
    heads = (
        number_headline("Active version", f"{active.version_id} · {one_line(active.name, 60)}",
                        f"In force from {active.starts_on:%-d %b %Y}."),
        number_headline("Ledger posted through", fmt_date(through),
                        "Points are posted to the member ledger up to this day."),
    )
    members_tab = table_from_frame(
        "Members with the highest balance", members,
        [("name", "Name", "text"), ("tier", "Tier", "text"), ("balance", "Balance", "count"),
         ("balance_value", "Worth", "money"), ("earned", "Earned", "count"),
         ("redeemed", "Redeemed", "count"), ("expired", "Expired", "count"),
         ("last_activity", "Last activity", "date")],
        currency=inp.currency,
        note="Email addresses are left out of reports.",
    )
    return "", [
        Section(
            title="Loyalty program", headlines=heads,
            tables=(table_from_frame("The program in words", sentences,
                                     [("part", "Part", "text"), ("sentence", "Rule", "text")],
                                     currency=inp.currency),),
        ),
        Section(title="Members", tables=(members_tab,)),
        Section(title="Versions", tables=(versions_table,)),
    ]


# --- Segments ---------------------------------------------------------------------------------


def segments(inp: ReportInputs) -> Built:
    as_of = inp.filters.as_of
    rows = []
    for s in list_segments(inp.conn):
        summary = segment_summary(inp.src, definition=s.definition, as_of=as_of)
        rows.append({"name": s.name, "sentence": summary.sentence, "customers": summary.customers,
                     "share": summary.share, "orders": summary.orders,
                     "revenue": summary.revenue})
    df = pd.DataFrame(rows, columns=["name", "sentence", "customers", "share", "orders", "revenue"])
    if df.empty:
        return "", [Section(title="Saved segments", notes=("No saved segments yet.",))]
    top = df.sort_values("customers", ascending=False, kind="stable").head(MAX_CHART_GROUPS)
    chart = ReportChart(
        title="Customers per segment", kind="bar",
        x=tuple(one_line(n, 40) for n in top["name"]),
        series=(Series(name="Customers", values=_series_values(top["customers"])),),
        y_label="Customers", value_format="number",
    )
    table = table_from_frame(
        "Saved segments", df,
        [("name", "Segment", "text"), ("sentence", "Who", "text"),
         ("customers", "Customers", "count"), ("share", "Share of all customers", "share"),
         ("orders", "Orders", "count"), ("revenue", "Net revenue", "money")],
        currency=inp.currency,
    )
    return "", [Section(
        title="Saved segments",
        notes=(f"Members as of {as_of:%-d %b %Y}; orders and revenue are their counted orders "
               "up to that day.",),
        charts=(chart,), tables=(table,),
    )]


# --- Offers -----------------------------------------------------------------------------------


def offers(inp: ReportInputs) -> Built:
    table = offers_table(inp.conn, today=store.utc_now().date(), currency=inp.currency)
    if table.empty:
        return "", [Section(title="Offers", notes=("No offers yet.",))]
    listing = table_from_frame(
        "Offers", table,
        [("offer_id", "Id", "count"), ("name", "Name", "text"), ("status", "Status", "text"),
         ("offer", "Offer", "text"), ("treated", "Get the offer", "count"),
         ("holdout", "Held out", "count"), ("launched_at", "Launched", "when")],
        currency=inp.currency,
    )
    results = []
    for oid, launched in zip(table["offer_id"], table["launched_at"], strict=True):
        if launched is None or pd.isna(launched):
            continue
        try:
            r = offer_results(inp.conn, inp.src, int(oid))
        except RelmarkError:
            continue
        results.append({"offer_id": int(oid), "redemptions": r.redemptions,
                        "treated_conversion": r.treated_conversion,
                        "holdout_conversion": r.holdout_conversion,
                        "uplift": r.conversion_verdict(), "cost": r.cost,
                        "net_return": r.net_return})
    res_df = pd.DataFrame(results, columns=["offer_id", "redemptions", "treated_conversion",
                                            "holdout_conversion", "uplift", "cost", "net_return"])
    res_table = table_from_frame(
        "Results of launched offers", res_df,
        [("offer_id", "Id", "count"), ("redemptions", "Redemptions", "count"),
         ("treated_conversion", "Conversion with the offer", "share"),
         ("holdout_conversion", "Conversion held out", "share"),
         ("uplift", "Uplift", "text"), ("cost", "Cost", "money"),
         ("net_return", "Net return", "money")],
        currency=inp.currency,
    )
    return "", [Section(title="Offers", tables=(listing, res_table))]


# --- Data and Settings ------------------------------------------------------------------------


def data(inp: ReportInputs) -> Built:
    counts = store.shop_counts(inp.conn)
    heads = tuple(
        number_headline(name.replace("_", " ").capitalize(), fmt_count(n),
                        f"Rows in the {name.replace('_', ' ')} table of Relmark's store.")
        for name, n in counts.items()
    )
    history = import_history(inp.conn)
    table = table_from_frame(
        "Imports, newest first", history,
        [("import_id", "Import", "count"), ("created_at", "When", "when"),
         ("file_name", "File", "text"), ("kind", "Kind", "text"),
         ("rows_loaded", "Rows loaded", "count"), ("rows_rejected", "Rows refused", "count"),
         ("status", "Status", "text"), ("created_by", "By", "text")],
        currency=inp.currency,
    )
    return "", [Section(title="What is stored", headlines=heads, tables=(table,))]


def settings(inp: ReportInputs) -> Built:
    s = load_settings(inp.conn)
    rows = pd.DataFrame(
        [("Reporting currency", s.reporting_currency), ("Store time zone", s.store_timezone),
         ("Analytics source", inp.source_label or "Relmark's own store")],
        columns=["setting", "value"],
    )
    return "", [Section(title="Settings", tables=(table_from_frame(
        "Settings", rows, [("setting", "Setting", "text"), ("value", "Value", "text")],
        currency=inp.currency),))]


# --- the registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageReport:
    """A page that can be exported: its title and its builder."""

    name: str
    title: str
    build: Callable[[ReportInputs], Built]


REPORT_PAGES: dict[str, PageReport] = {
    p.name: p
    for p in (
        PageReport("overview", "Overview", overview),
        PageReport("customers", "Customers", customers),
        PageReport("rfm", "RFM groups", rfm),
        PageReport("feedback", "Feedback", feedback),
        PageReport("retention", "Retention", retention),
        PageReport("loyalty", "Loyalty", loyalty),
        PageReport("segments", "Segments", segments),
        PageReport("offers", "Offers", offers),
        PageReport("data", "Data", data),
        PageReport("settings", "Settings", settings),
    )
}
"""Page (its file name without .py, as in the app's URL) -> its report."""


def report_page_names() -> list[str]:
    return list(REPORT_PAGES)


def build_report(page: str, inp: ReportInputs, *, now: datetime | None = None) -> Report:
    """The report of ``page`` (a key of :data:`REPORT_PAGES`) with ``inp``'s filters and
    choices; ``now`` (naive UTC) stamps it (default: the current time)."""
    spec = REPORT_PAGES.get(page)
    if spec is None:
        raise InputRefused(
            f"The page '{page}' has no report yet. Pages with reports: "
            f"{', '.join(REPORT_PAGES)}."
        )
    choices, sections = spec.build(inp)
    return Report(
        title=f"Relmark · {spec.title}",
        page=page,
        filters=inp.filters.sentence(),
        choices=choices,
        last_import=last_import_sentence(inp.conn, inp.source_label),
        generated_at=now or store.utc_now(),
        currency=inp.currency,
        sections=tuple(sections),
    )

