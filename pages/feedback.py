"""Feedback: NPS and CSAT with their margins, reviews, comments and themes, what promoters and
detractors do, and the detractor follow-up list.

The section, score, grain, breakdown, comment filters and follow-up status filter live in the
URL (``tab``, ``score``, ``grain``, ``by``, ``kind``, ``group``, ``q``, ``status``), so a link
opens the same view. Comment text is shown only in table cells and ``st.text`` (never markdown
or HTML).
"""

from __future__ import annotations

import math
from typing import Any, cast

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from relmark_core import store, text_themes
from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.feedback_followup import (
    FOLLOWUP_STATUSES,
    MAX_NOTE_CHARS,
    OPEN,
    ListStatus,
    followup_counts,
    followup_list,
    followups_csv,
    mark_followup,
)
from relmark_core.metrics.definitions import LATEST_ANSWER_GROUP, definition
from relmark_core.metrics.feedback import (
    BREAKDOWNS,
    NPS_GROUP_LABELS,
    NPS_GROUPS,
    CommentFilter,
    Kind,
    NpsChange,
    NpsGroup,
    behaviour_by_group,
    comment_themes,
    comments,
    count_comments,
    nps_change,
    revenue_at_risk,
    review_summary,
    score_summary,
    theme_changes,
)
from relmark_core.periods import DEFAULT_GRAIN, GRAINS, Grain
from relmark_ui import compute, current, roles
from relmark_ui.context import Filters
from relmark_ui.tables import (
    chart_text,
    count_column,
    date_column,
    money_column,
    plain,
    share_column,
    truncate,
)
from relmark_ui.widgets import fmt_money, metric_card, url_choice, url_pagination, url_text

SECTIONS = {
    "scores": "Scores",
    "reviews": "Reviews",
    "comments": "Comments",
    "behaviour": "Behaviour",
    "followup": "Follow-up",
}
DEFAULT_SECTION = "scores"
SCORE_LABELS = {"nps": "NPS", "csat": "CSAT"}
DEFAULT_SCORE = "nps"
BREAKDOWN_LABELS = {"rfm": "RFM group", "cohort": "Cohort", "country": "Country", "channel": "Channel"}
DEFAULT_BREAKDOWN = "rfm"
ANSWER_KINDS = {"nps": "NPS answers", "csat": "CSAT answers", "review": "Reviews", "all": "All"}
DEFAULT_ANSWER_KIND = "nps"
ALL = "all"
GROUP_CHOICES: dict[str, str] = {ALL: "Everyone", **{g: NPS_GROUP_LABELS[g].capitalize() for g in NPS_GROUPS}}
STATUS_CHOICES = {ALL: "Every detractor", OPEN: "Open", "contacted": "Contacted",
                  "resolved": "Resolved"}
STATUS_LABELS = {OPEN: "Open", "contacted": "Contacted", "resolved": "Resolved"}
COMMENT_PAGE_SIZE = 200
COMMENTS_IN_FULL = 10
FOLLOWUP_PAGE_SIZE = 50
TABLE_HEIGHT = 420
THEME_TERMS = 12
THEME_TABLE_HEIGHT = 38 + 35 * THEME_TERMS
TERM_WIDTH, SHARE_WIDTH, Z_WIDTH = 150, 110, 55  # pixels: a half-width table shows all four
MAX_CHART_GROUPS = 15
ANSWER_AXIS_HEADROOM = 2.2
FEW_ANSWERS = 30
"""Groups with fewer answers are drawn pale: their margins are rough (normal approximation)."""
CHART_HEIGHT = 340
PURPLE, LILAC, GREY = "#7c3aed", "#c4b5fd", "#d4d4d8"
GROUP_COLOURS = {"promoter": "#16a34a", "passive": "#a1a1aa", "detractor": "#dc2626"}
FLASH = "fb_flash"
PICK = "fb_fu_pick"
CLICKED = "fb_fu_clicked"
EXPORT = "fb_fu_export_csv"
TABLE_GENERATION = "fb_fu_generation"
STATUS_KEY, NOTE_KEY = "fb_fu_status", "fb_fu_note"
SENTIMENT_NOTE = (
    f"Sentiment by {text_themes.SENTIMENT_LIBRARY}: English and emoji only; comments in other "
    "languages have no score. Themes read any language written with spaces between words "
    "(common English words are left out); Chinese, Japanese or Thai comments give whole "
    "phrases as terms."
)

ctx = current()
assert ctx.filters is not None
f: Filters = ctx.filters
currency = ctx.src.reporting_currency
# the sidebar's saved segment narrows every number to its members
members = f.segment.members(ctx.src) if f.segment is not None else None
scope: dict[str, Any] = {} if members is None else {"customers": members}
st.title("Feedback")
st.caption(f"{f.rng.sentence()} · reporting currency {currency}"
           + (f" · segment “{plain(f.segment.name)}”" if f.segment is not None else ""))

section = url_choice(
    "Section", list(SECTIONS), key="fb_tab", param="tab", default=DEFAULT_SECTION,
    format_func=SECTIONS.__getitem__, horizontal=True,
)


def _num(value: Any) -> float | None:
    """A float, or None for missing values (NaN from the core's empty periods)."""
    if value is None:
        return None
    x = float(value)
    return None if math.isnan(x) else x


def _pts(value: float) -> str:
    return f"{value:+.1f}".replace("-", "−")


def _score_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".replace("-", "−")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _layout(fig: go.Figure, height: int = CHART_HEIGHT) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "y": 1.12, "x": 0}, bargap=0.35)
    return fig


# --- Scores -----------------------------------------------------------------------------------


def _nps_verdict(ch: NpsChange) -> str:
    """The change against the previous period in plain words (markdown, numbers only)."""
    if ch.responses == 0:
        return "No NPS answers in this period."
    if ch.change is None or ch.margin_of_change is None or ch.previous_nps is None:
        return "No NPS answers in the previous period to compare with."
    words = "**a real move**: larger" if ch.is_real else "**not distinguishable from noise**: smaller"
    return (
        f"**NPS {_pts(ch.change)} points** against the previous {f.rng.days} days "
        f"({_score_text(ch.previous_nps)} on {ch.previous_responses:,} answers) — {words} than "
        f"the change's 95% margin of ±{ch.margin_of_change:.1f} points."
    )


def _csat_verdict(now: pd.Series, before: pd.Series) -> tuple[str, bool | None]:
    """CSAT's change in words, and whether the two periods' 95% ranges are apart."""
    n, pn = int(now["responses"]), int(before["responses"])
    if n == 0:
        return "No CSAT answers in this period.", None
    if pn == 0:
        return "No CSAT answers in the previous period to compare with.", None
    lo, hi = float(now["csat_low"]), float(now["csat_high"])
    plo, phi = float(before["csat_low"]), float(before["csat_high"])
    apart = lo > phi or hi < plo
    change = (float(now["csat"]) - float(before["csat"])) * 100
    ranges = f"{_pct(lo)}–{_pct(hi)} now, {_pct(plo)}–{_pct(phi)} before"
    words = (
        "**a real move**: the two periods' 95% ranges do not overlap"
        if apart
        else "**not distinguishable from noise**: the two periods' 95% ranges overlap"
    )
    return (
        f"**CSAT {_pts(change)} points** against the previous {f.rng.days} days "
        f"({_pct(float(before['csat']))} on {pn:,} answers) — {words} ({ranges}).",
        apart,
    )


def _headlines() -> None:
    ch = compute(nps_change, rng=f.rng, **scope)
    csat_now = compute(score_summary, kind="csat", grain=None, rng=f.rng, **scope).iloc[-1]
    csat_before = compute(score_summary, kind="csat", grain=None, rng=f.rng.previous(), **scope).iloc[-1]
    csat_text, csat_apart = _csat_verdict(csat_now, csat_before)
    nps_def, csat_def = definition("nps"), definition("csat")

    c = st.columns(5)
    nps_help = nps_def.help
    if ch.previous_nps is not None:
        nps_help += (f"  \nPrevious period: {_score_text(ch.previous_nps)} "
                     f"(±{ch.previous_margin_of_error or 0:.1f}) on {ch.previous_responses:,} answers.")
    c[0].metric(
        nps_def.label, _score_text(ch.nps),
        delta=f"{_pts(ch.change)} pts" if f.compare and ch.change is not None else None,
        delta_color="normal" if ch.is_real else "off", help=nps_help, border=True, height="stretch",
    )
    c[1].metric(
        "NPS margin of error",
        "—" if ch.margin_of_error is None else f"±{ch.margin_of_error:.1f}",
        help=definition("nps_margin_of_error").help, border=True, height="stretch",
    )
    c[2].metric("NPS answers", f"{ch.responses:,}", help=definition("feedback_responses").help,
                border=True, height="stretch")
    csat = _num(csat_now["csat"])
    csat_help = csat_def.help
    if csat is not None:
        csat_help += (f"  \nThis period: {_pct(csat)}, 95% range {_pct(float(csat_now['csat_low']))}"
                      f"–{_pct(float(csat_now['csat_high']))}.")
    before = _num(csat_before["csat"])
    c[3].metric(
        csat_def.label, _pct(csat),
        delta=f"{_pts((csat - before) * 100)} pts"
        if f.compare and csat is not None and before is not None else None,
        delta_color="normal" if csat_apart else "off", help=csat_help, border=True, height="stretch",
    )
    c[4].metric("CSAT answers", f"{int(csat_now['responses']):,}",
                help=definition("feedback_responses").help, border=True, height="stretch")
    if f.compare:
        st.markdown(f"- {_nps_verdict(ch)}\n- {csat_text}")
    elif csat is not None:
        st.caption(f"CSAT 95% range this period: {_pct(float(csat_now['csat_low']))}–"
                   f"{_pct(float(csat_now['csat_high']))}.")


def _score_columns(kind: str) -> dict[str, Any]:
    common = {
        "period": st.column_config.TextColumn("Period"),
        "group": st.column_config.TextColumn("Group"),
        "responses": count_column("Answers", help=definition("feedback_responses").help),
    }
    if kind == "nps":
        return common | {
            "promoters": count_column("Promoters (9–10)"),
            "passives": count_column("Passives (7–8)"),
            "detractors": count_column("Detractors (0–6)"),
            "nps": st.column_config.NumberColumn("NPS", format="%.1f", help=definition("nps").help),
            "margin_of_error": st.column_config.NumberColumn(
                "± margin", format="%.1f", help=definition("nps_margin_of_error").help),
        }
    return common | {
        "satisfied": count_column("Satisfied (4–5)"),
        "csat": share_column("CSAT", help=definition("csat").help),
        "csat_low": share_column("95% range from"),
        "csat_high": share_column("95% range to"),
        "average_score": st.column_config.NumberColumn("Average score", format="%.2f"),
    }


def _plot_frame(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Value and error bar sizes for a chart, on the 0–100 / −100–100 scale."""
    if kind == "nps":
        return df.assign(value=df["nps"], up=df["margin_of_error"], down=df["margin_of_error"])
    return df.assign(value=df["csat"] * 100, up=(df["csat_high"] - df["csat"]) * 100,
                     down=(df["csat"] - df["csat_low"]) * 100)


def _trend(kind: str, grain: Grain) -> None:
    df = compute(score_summary, kind=kind, grain=grain, rng=f.rng, **scope)
    periods = _plot_frame(df[df["period"] != "all"], kind)
    if int(periods["responses"].sum()) == 0:
        st.info(f"No {SCORE_LABELS[kind]} answers in this period. Pick a longer date range in "
                "the sidebar.")
        return
    label = SCORE_LABELS[kind] + ("" if kind == "nps" else " (%)")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=periods["period"], y=periods["responses"], name="Answers",
                         marker_color=GREY, opacity=0.6,
                         hovertemplate="%{x}: %{y:,} answers<extra></extra>"),
                  secondary_y=True)
    fig.add_trace(go.Scatter(
        x=periods["period"], y=periods["value"], name=f"{label} ± 95% margin",
        mode="lines+markers", line={"color": PURPLE, "width": 2}, marker={"size": 9},
        error_y={"type": "data", "symmetric": False, "array": periods["up"],
                 "arrayminus": periods["down"], "color": LILAC, "thickness": 2, "width": 6},
        connectgaps=False,
        hovertemplate="%{x}: %{y:.1f}<extra></extra>",
    ), secondary_y=False)
    fig.update_yaxes(title_text=label, secondary_y=False, zeroline=True,
                     range=[-100, 100] if kind == "nps" else [0, 100])
    # answers in the lower half, under the score line
    fig.update_yaxes(title_text="Answers", secondary_y=True, showgrid=False, tickmode="auto",
                     range=[0, ANSWER_AXIS_HEADROOM * max(int(periods["responses"].max()), 1)])
    fig.update_xaxes(type="category", title_text=grain.capitalize())
    st.plotly_chart(_layout(fig), key="fb_trend_chart", width="stretch")
    with st.expander("Numbers by period"):
        st.dataframe(df, key="fb_trend_table", hide_index=True,
                     column_order=[c for c in df.columns if c != "period_start"],
                     column_config=_score_columns(kind))


def _breakdown(kind: str) -> None:
    by = url_choice(
        "Break down by", list(BREAKDOWN_LABELS), key="fb_by", param="by",
        default=DEFAULT_BREAKDOWN, format_func=BREAKDOWN_LABELS.__getitem__, horizontal=True,
        help="RFM group at the as-of date; cohort = month of the first counted order; country "
        "and channel as imported. Answers of customers Relmark could not match go to "
        "(unknown).",
    )
    assert by in BREAKDOWNS
    try:
        df = compute(score_summary, kind=kind, grain=None, by=by, rng=f.rng, as_of=f.as_of, **scope)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    if df.empty or int(df["responses"].sum()) == 0:
        st.info(f"No {SCORE_LABELS[kind]} answers in this period to break down.")
        return
    top = _plot_frame(df.head(MAX_CHART_GROUPS), kind)
    names = [chart_text(g) for g in top["group"]]
    label = SCORE_LABELS[kind] + ("" if kind == "nps" else " (%)")
    fig = go.Figure(go.Bar(
        x=names, y=top["value"], name=label,
        marker_color=[PURPLE if n >= FEW_ANSWERS else LILAC for n in top["responses"]],
        error_y={"type": "data", "symmetric": False, "array": top["up"],
                 "arrayminus": top["down"], "color": "#52525b", "thickness": 1.5, "width": 5},
        customdata=top["responses"],
        hovertemplate="%{x}: %{y:.1f} (%{customdata:,} answers)<extra></extra>",
    ))
    fig.update_yaxes(title_text=f"{label} ± 95% margin")
    fig.update_xaxes(type="category")
    st.plotly_chart(_layout(fig), key="fb_breakdown_chart", width="stretch")
    notes = []
    if (top["responses"] < FEW_ANSWERS).any():
        notes.append(f"Pale bars: fewer than {FEW_ANSWERS} answers, so the margin is rough (a "
                     "group with one answer shows none at all).")
    if len(df) > MAX_CHART_GROUPS:
        notes.append(f"The chart shows the {MAX_CHART_GROUPS} groups with most answers; the "
                     f"table has all {len(df):,}.")
    if notes:
        st.caption(" ".join(notes))
    st.dataframe(df, key="fb_breakdown_table", hide_index=True,
                 column_order=["group"] + [c for c in df.columns
                                           if c not in ("group", "period", "period_start")],
                 column_config=_score_columns(kind) | {
                     "group": st.column_config.TextColumn(BREAKDOWN_LABELS[by])})


def scores_section() -> None:
    _headlines()
    c1, c2, _ = st.columns([1, 1.4, 2])
    kind = url_choice(
        "Score", list(SCORE_LABELS), key="fb_score", param="score", default=DEFAULT_SCORE,
        format_func=SCORE_LABELS.__getitem__, horizontal=True, where=c1,
        help="The score the trend and the breakdown show.",
    )
    grain = url_choice(
        "Trend by", list(GRAINS), key="fb_grain", param="grain", default=DEFAULT_GRAIN,
        format_func=str.capitalize, horizontal=True, where=c2,
    )
    st.subheader(f"{SCORE_LABELS[kind]} over time")
    _trend(kind, grain)
    st.subheader(f"{SCORE_LABELS[kind]} by group")
    _breakdown(kind)


# --- Reviews ----------------------------------------------------------------------------------


def _review_table(by: str) -> pd.DataFrame:
    df = compute(review_summary, by=by, rng=f.rng, **scope)
    st.dataframe(
        df.assign(**{by: df[by].map(lambda v: truncate(v, 60))}), key=f"fb_reviews_{by}",
        hide_index=True, height=min(TABLE_HEIGHT, 38 + 35 * max(len(df), 1)),
        column_config={
            by: st.column_config.TextColumn(by.capitalize(), width="medium"),
            "reviews": count_column("Reviews"),
            "average_rating": st.column_config.NumberColumn(
                "Average rating", format="%.2f ★", help=definition("review_rating").help),
            "reviewers": count_column("Reviewers", help="Distinct customers the reviews were "
                                      "matched to (by email)."),
        },
    )
    return df


def reviews_section() -> None:
    by_category = compute(review_summary, by="category", rng=f.rng, **scope)
    total = int(by_category["reviews"].sum())
    if total == 0:
        st.info("No product reviews in this period. Import a review export (Judge.me, Yotpo, "
                "Shopify Product Reviews) on the Data page, or pick a longer date range.")
        return
    st.metric("Reviews", f"{total:,}", help="Product reviews written in the period.")
    st.subheader("By category")
    left, right = st.columns(2, gap="large")
    with left:
        df = _review_table("category")
    with right:
        fig = go.Figure(go.Bar(
            x=df["average_rating"], y=[chart_text(c) for c in df["category"]], orientation="h",
            marker_color=PURPLE, customdata=df["reviews"],
            hovertemplate="%{y}: %{x:.2f} ★ (%{customdata:,} reviews)<extra></extra>",
        ))
        fig.update_xaxes(range=[0, 5], title_text="Average rating (1–5)")
        fig.update_yaxes(type="category", autorange="reversed")
        st.plotly_chart(_layout(fig, 60 + 36 * max(len(df), 1)), key="fb_reviews_chart",
                        width="stretch")
    st.subheader("By product")
    _review_table("product")


# --- Comments ---------------------------------------------------------------------------------


def _comment_filter() -> CommentFilter:
    c1, c2, c3 = st.columns([3, 1.3, 1.6], vertical_alignment="bottom")
    search = url_text(
        "Search comments", key="fb_q", param="q", where=c1,
        placeholder="A word or phrase, e.g. late",
        help="Not case-sensitive; finds the text anywhere in the comment or review title.",
    )
    kind = url_choice("Answers", list(ANSWER_KINDS), key="fb_kind", param="kind",
                      default=DEFAULT_ANSWER_KIND, format_func=ANSWER_KINDS.__getitem__, where=c2)
    group: NpsGroup | None = None
    if kind == "nps":
        g = url_choice("NPS group", list(GROUP_CHOICES), key="fb_group", param="group",
                       default=ALL, format_func=GROUP_CHOICES.__getitem__, where=c3,
                       help="The group of the answer itself (its own score).")
        group = None if g == ALL else cast(NpsGroup, g)
    return CommentFilter(kind=None if kind == ALL else cast(Kind, kind), group=group,
                         search=search or None, rng=f.rng)


def _comment_list(flt: CommentFilter) -> None:
    total = compute(count_comments, flt=flt, **scope)
    if total == 0:
        st.info(f"No comments match: {plain(flt.sentence())}. Clear the search or pick a longer "
                "date range.")
        return
    pages = math.ceil(total / COMMENT_PAGE_SIZE)
    view = flt.model_dump_json()
    if st.session_state.get("fb_comment_view") != view:  # a new filter starts on page 1
        if "fb_comment_view" in st.session_state:  # (the first visit takes the page from the URL)
            st.session_state["fb_comment_page"] = 1
        st.session_state["fb_comment_view"] = view
    caption, table = st.empty(), st.container()
    page_no = url_pagination(pages, key="fb_comment_page", param="comments_page")
    first = (page_no - 1) * COMMENT_PAGE_SIZE
    df = compute(comments, flt=flt, limit=COMMENT_PAGE_SIZE, offset=first, **scope)
    caption.caption(
        f"{plain(flt.sentence())} · **{total:,}** {'comment' if total == 1 else 'comments'} · "
        f"showing {first + 1:,}–{first + len(df):,}, newest first."
    )
    shown = df.assign(who=df["name"].fillna(df["email"]))
    columns = ["answered_at", "kind", "score", "nps_group", "who", "product", "title",
               "comment", "sentiment"]
    if flt.kind is not None:
        columns.remove("kind")
    if flt.kind != "review" and flt.kind is not None:
        columns = [c for c in columns if c not in ("product", "title")]
    if flt.kind not in ("nps", None):
        columns.remove("nps_group")
    with table:
        st.dataframe(
            shown, key="fb_comments_table", hide_index=True, height=TABLE_HEIGHT, placeholder="—",
            column_order=columns,
            column_config={
                "answered_at": date_column("Date", help="UTC date of the answer."),
                "kind": st.column_config.TextColumn("Kind"),
                "score": st.column_config.NumberColumn("Score", format="%d"),
                "nps_group": st.column_config.TextColumn("Group"),
                "who": st.column_config.TextColumn("Customer", width="medium"),
                "product": st.column_config.TextColumn("Product"),
                "title": st.column_config.TextColumn("Title"),
                "comment": st.column_config.TextColumn("Comment", width="large"),
                "sentiment": st.column_config.NumberColumn(
                    "Sentiment", format="%+.2f", help=definition("comment_sentiment").help),
            },
        )
    with st.expander(f"Read the {min(COMMENTS_IN_FULL, len(df))} newest in full", expanded=False):
        for rec in df.head(COMMENTS_IN_FULL).to_dict("records"):
            who = rec["name"] if isinstance(rec["name"], str) else rec["email"]
            facts = [pd.Timestamp(rec["answered_at"]).strftime("%-d %b %Y"),
                     f"{rec['kind']} {int(rec['score'])}", who, rec["product"]]
            st.caption(" · ".join(plain(x) for x in facts if isinstance(x, str) and x))
            text = "\n".join(x for x in (rec["title"], rec["comment"]) if isinstance(x, str))
            st.text(text)
    st.caption(SENTIMENT_NOTE)


def _terms_table(df: pd.DataFrame, key: str, shares: tuple[str, str],
                 labels: tuple[str, str]) -> None:
    """Terms with the share of each set's comments that use them (bars) and the z-score."""
    st.dataframe(
        df.assign(**{c: df[c] * 100 for c in shares}), key=key, hide_index=True,
        height=THEME_TABLE_HEIGHT,
        column_order=["term", shares[0], shares[1], "z"],
        column_config={
            "term": st.column_config.TextColumn("Word or phrase", width=TERM_WIDTH),
            shares[0]: st.column_config.ProgressColumn(
                labels[0], format="%.0f%%", min_value=0, max_value=100, width=SHARE_WIDTH,
                help=f"Share of {labels[0].lower()} comments that use it."),
            shares[1]: st.column_config.ProgressColumn(
                labels[1], format="%.0f%%", min_value=0, max_value=100, width=SHARE_WIDTH,
                help=f"Share of {labels[1].lower()} comments that use it."),
            "z": st.column_config.NumberColumn(
                "z", format="%+.1f", width=Z_WIDTH, help="How far from chance: beyond ±2 is "
                "unlikely to be a fluke of small numbers."),
        },
    )


def _term_pair(df: pd.DataFrame, titles: tuple[str, str], keys: tuple[str, str],
               shares: tuple[str, str], labels: tuple[str, str]) -> None:
    """Side by side: the terms most typical of the first set (z > 0, strongest first) and of
    the second (z < 0, strongest first)."""
    sides = (df[df["z"] > 0], df[df["z"] < 0].sort_values("z", kind="stable"))
    for col, title, key, part in zip(st.columns(2, gap="large"), titles, keys, sides, strict=True):
        with col:
            st.markdown(title)
            _terms_table(part.head(THEME_TERMS), key, shares, labels)


def _themes() -> None:
    st.subheader("Themes", help=definition("comment_themes").help)
    det = compute(count_comments, flt=CommentFilter(group="detractor", rng=f.rng), **scope)
    pro = compute(count_comments, flt=CommentFilter(group="promoter", rng=f.rng), **scope)
    st.caption(f"From {det:,} detractor and {pro:,} promoter comments in this period; each word "
               "or phrase counts once per comment.")
    themes = compute(comment_themes, rng=f.rng, **scope)
    if themes.empty:
        st.info("Themes need comments from both detractors and promoters in this period.")
    else:
        _term_pair(themes, ("**What sets detractors apart**", "**What sets promoters apart**"),
                   ("fb_themes_detractors", "fb_themes_promoters"),
                   ("detractor_share", "promoter_share"), ("Detractors", "Promoters"))
    st.markdown("**What detractors say now vs the previous period**")
    if not f.compare:
        st.caption("Turn on *Compare with the previous period* in the sidebar to see what "
                   "changed.")
        return
    changes = compute(theme_changes, rng=f.rng, group="detractor", **scope)
    if changes.empty:
        st.info("Needs detractor comments in both this period and the one before.")
        return
    _term_pair(changes, ("Said more now", "Said less now"), ("fb_changes_more", "fb_changes_less"),
               ("now_share", "before_share"), ("Now", "Before"))


def comments_section() -> None:
    flt = _comment_filter()
    _comment_list(flt)
    _themes()


# --- Behaviour --------------------------------------------------------------------------------


def _group_bars(df: pd.DataFrame, column: str, title: str, fmt: str, key: str) -> None:
    fig = go.Figure(go.Bar(
        x=[g.capitalize() + "s" for g in df["nps_group"]],
        y=[None if v is None or pd.isna(v) else float(v) for v in df[column]],
        marker_color=[GROUP_COLOURS[g] for g in df["nps_group"]],
        texttemplate=fmt, textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: " + fmt + "<extra></extra>",
    ))
    fig.update_layout(title={"text": title, "font": {"size": 14}})
    st.plotly_chart(_layout(fig, 280), key=key, width="stretch")


def behaviour_section() -> None:
    st.caption(f"{LATEST_ANSWER_GROUP} Orders and revenue up to {f.as_of:%-d %b %Y}, whatever the "
               "date range.")
    df = compute(behaviour_by_group, as_of=f.as_of, **scope)
    at_risk = compute(revenue_at_risk, as_of=f.as_of, **scope)
    counts = dict(zip(df["nps_group"], df["customers"], strict=True))
    c = st.columns(4)
    metric_card("revenue_at_risk", at_risk, currency=currency, where=c[0])
    for col, g in zip(c[1:], NPS_GROUPS, strict=True):
        col.metric(g.capitalize() + "s", f"{int(counts[g]):,}", help=definition("nps_group").help)
    if int(df["customers"].sum()) == 0:
        st.info("No customer has answered an NPS survey yet.")
        return
    a, b = st.columns(2, gap="large")
    with a:
        _group_bars(df.assign(rate=df["repeat_purchase_rate"].map(
            lambda v: None if v is None else v * 100)), "rate", "Repeat purchase rate (%)",
            "%{y:.1f}%", "fb_repeat_chart")
    with b:
        _group_bars(df, "historical_clv", f"Lifetime value per customer ({currency})",
                    "%{y:,.2f}", "fb_clv_chart")
    st.dataframe(
        df.assign(nps_group=df["nps_group"].map(lambda g: NPS_GROUP_LABELS[g].capitalize())),
        key="fb_behaviour_table", hide_index=True,
        column_config={
            "nps_group": st.column_config.TextColumn("Group", help=definition("nps_group").help),
            "customers": count_column("Customers"),
            "customers_with_orders": count_column("With orders"),
            "repeat_purchase_rate": share_column(
                "Repeat purchase rate",
                help="Customers with 2+ counted orders ÷ customers with 1+, up to the as-of date."),
            "orders": count_column("Orders", help=definition("orders").help),
            "orders_per_customer": st.column_config.NumberColumn("Orders per customer",
                                                                 format="%.2f"),
            "lifetime_revenue": money_column("Lifetime revenue", currency),
            "historical_clv": money_column("Per customer", currency,
                                           help=definition("feedback_historical_clv").help),
            "revenue_12m": money_column("Last 12 months", currency,
                                        help="Net revenue of the 12 months up to the as-of date."),
        },
    )


# --- Follow-up --------------------------------------------------------------------------------


def _pick_label(rec: dict[str, Any]) -> str:
    who = rec["name"] if isinstance(rec["name"], str) else rec["email"] or rec["customer_id"]
    when = pd.Timestamp(rec["answered_at"]).strftime("%-d %b %Y")
    status = STATUS_LABELS.get(rec["status"], rec["status"]).lower()
    return f"{when} · {truncate(who, 40)} · score {int(rec['score'])} · {status}"


def _forget_form() -> None:
    """A new answer picked: its status and note start from what is stored."""
    for k in (STATUS_KEY, NOTE_KEY):
        st.session_state.pop(k, None)


def _pick_from_table(ids: list[str], key: str) -> None:
    rows = st.session_state[key].selection.rows
    if rows and rows[0] < len(ids):
        st.session_state[PICK] = ids[rows[0]]
        _forget_form()


def _orders(n: int) -> str:
    return f"{n:,} order" + ("" if n == 1 else "s")


def _mark_form(rec: dict[str, Any]) -> None:
    rid = str(rec["response_id"])
    status = str(rec["status"])
    note = rec["note"] if isinstance(rec["note"], str) else None
    who = rec["name"] if isinstance(rec["name"], str) else rec["email"] or rec["customer_id"]
    st.markdown(f"**{plain(who)}**")
    contact = rec["email"] if isinstance(rec["email"], str) else f"customer id {rec['customer_id']}"
    st.text(f"{contact} · score {int(rec['score'])} on {pd.Timestamp(rec['answered_at']):%-d %b %Y}"
            f" · {_orders(int(rec['orders']))}, {fmt_money(rec['lifetime_revenue'], currency)} "
            f"in all, {fmt_money(rec['revenue_12m'], currency)} in the last 12 months")
    if isinstance(rec["comment"], str) and rec["comment"].strip():
        st.text(rec["comment"])
    else:
        st.caption("No comment.")
    shown = f"Status: **{STATUS_LABELS.get(status, status)}**"
    if status != OPEN:
        shown += (f" (by {plain(rec['updated_by'])}, "
                  f"{pd.Timestamp(rec['updated_at']):%-d %b %Y %H:%M} UTC)")
    st.markdown(shown)
    if note:
        st.text(f"Note: {note}")
    if not roles.may(Role.EDITOR):
        roles.read_only_note("mark follow-ups")
        return
    st.session_state.setdefault(STATUS_KEY, status if status in FOLLOWUP_STATUSES else "contacted")
    st.session_state.setdefault(NOTE_KEY, note or "")
    st.radio("Mark as", list(FOLLOWUP_STATUSES), key=STATUS_KEY, horizontal=True,
             format_func=STATUS_LABELS.__getitem__)
    st.text_area("Note", key=NOTE_KEY, max_chars=MAX_NOTE_CHARS, height=90,
                 placeholder="What you did or agreed, e.g. called, sent a replacement")
    # The click remembers the answer on screen: if the list changes before the rerun (a new
    # answer, an import undone), the mark still goes to the answer the marketer was looking at.
    st.button("Save follow-up", key="fb_fu_save", type="primary", icon=":material/save:",
              on_click=_clicked, args=(rid,))


def _clicked(rid: str) -> None:
    st.session_state[CLICKED] = rid


def _save_clicked() -> str | None:
    """Store the mark of a Save click (before anything is read); the error, if any."""
    rid = st.session_state.pop(CLICKED, None)
    if rid is None:
        return None
    status = str(st.session_state.get(STATUS_KEY, FOLLOWUP_STATUSES[0]))
    try:
        mark_followup(ctx.conn, rid, status, note=str(st.session_state.get(NOTE_KEY, "")),
                      actor=ctx.actor)
    except RelmarkError as exc:
        return str(exc)
    st.session_state[FLASH] = f"Marked {STATUS_LABELS.get(status, status).lower()}."
    st.session_state[TABLE_GENERATION] = st.session_state.get(TABLE_GENERATION, 0) + 1
    return None


def followup_section() -> None:
    st.caption(
        f"Customers whose latest NPS answer up to {f.as_of:%-d %b %Y} is a detractor (0–6), "
        "newest first, whatever the date range. A customer who answers again is listed by the "
        "new answer: open again if still a detractor, gone if not."
    )
    save_error = _save_clicked()
    counts = followup_counts(ctx.src, ctx.conn, as_of=f.as_of, customers=members)
    c = st.columns(3)
    for col, s in zip(c, (OPEN, *FOLLOWUP_STATUSES), strict=True):
        col.metric(STATUS_LABELS[s], f"{counts[s]:,}", border=True,
                   help=f"Detractors on the list marked {s}." if s != OPEN
                   else "Detractors on the list nobody has marked yet.")
    if save_error:
        st.error(save_error, icon=":material/error:")
    if msg := st.session_state.pop(FLASH, None):
        st.success(msg, icon=":material/check_circle:")
    chosen = url_choice("Show", list(STATUS_CHOICES), key="fb_status", param="status",
                        default=ALL, format_func=STATUS_CHOICES.__getitem__, horizontal=True)
    status = None if chosen == ALL else cast(ListStatus, chosen)
    total = sum(counts.values()) if status is None else counts[status]
    if total == 0:
        st.info("Nobody on this list." if status else "No detractors to follow up.")
        return
    if st.session_state.get("fb_fu_view") != chosen:  # a new filter starts on page 1
        if "fb_fu_view" in st.session_state:  # (the first visit takes the page from the URL)
            st.session_state["fb_fu_page"] = 1
        st.session_state["fb_fu_view"] = chosen
    pages = math.ceil(total / FOLLOWUP_PAGE_SIZE)
    table_slot = st.container()
    page_no = url_pagination(pages, key="fb_fu_page", param="followup_page")
    first = (page_no - 1) * FOLLOWUP_PAGE_SIZE
    df = followup_list(ctx.src, ctx.conn, as_of=f.as_of, status=status, customers=members,
                       limit=FOLLOWUP_PAGE_SIZE, offset=first)
    if df.empty:  # the list changed under this page number
        st.info("Nobody on this page of the list any more. Go back to page 1.")
        return
    ids = [str(x) for x in df["response_id"]]
    table_key = f"fb_fu_table_{st.session_state.get(TABLE_GENERATION, 0)}"
    with table_slot:
        st.caption(f"**{total:,}** {'detractor' if total == 1 else 'detractors'} · showing "
                   f"{first + 1:,}–{first + len(df):,}. Pick a row to mark it.")
        st.dataframe(
            df.assign(who=df["name"].fillna(df["email"]),
                      status=df["status"].map(lambda s: STATUS_LABELS.get(s, s))),
            key=table_key, hide_index=True, height=TABLE_HEIGHT, placeholder="—",
            on_select=lambda: _pick_from_table(ids, table_key), selection_mode="single-row",
            column_order=["answered_at", "score", "who", "status", "revenue_12m",
                          "lifetime_revenue", "orders", "comment", "note"],
            column_config={
                "answered_at": date_column("Answered", help="UTC date of the answer."),
                "score": st.column_config.NumberColumn("Score", format="%d"),
                "who": st.column_config.TextColumn("Customer"),
                "comment": st.column_config.TextColumn("Comment", width="large"),
                "orders": count_column("Orders", help="Counted orders up to the as-of date."),
                "lifetime_revenue": money_column("Lifetime revenue", currency,
                                                 help="Net revenue of their counted orders up "
                                                 "to the as-of date."),
                "revenue_12m": money_column("Last 12 months", currency,
                                            help=definition("revenue_at_risk").help),
                "status": st.column_config.TextColumn("Status"),
                "note": st.column_config.TextColumn("Note"),
            },
        )
    records: dict[str, dict[str, Any]] = {
        str(r["response_id"]): {str(k): v for k, v in r.items()} for r in df.to_dict("records")
    }
    if st.session_state.get(PICK) not in records:
        st.session_state[PICK] = ids[0]
        _forget_form()
    left, right = st.columns([2, 3], gap="large")
    with left:
        pick = st.selectbox("Answer to follow up", ids, key=PICK, on_change=_forget_form,
                            format_func=lambda i: _pick_label(records[i]))
    with right:
        _mark_form(records[pick or ids[0]])
    _export(chosen, status)


def _export(chosen: str, status: ListStatus | None) -> None:
    """The whole filtered list as CSV, built on request (a big shop has many detractors) and
    kept until the data, the as-of date or the filter change."""
    view = (store.data_version(ctx.conn), ctx.source_key, f.as_of.isoformat(), chosen)
    ready = st.session_state.get(EXPORT)
    if ready is None or ready[0] != view:
        ready = None
        if st.button("Export the list as CSV", key="fb_fu_export", icon=":material/table_view:",
                     help="Every detractor the filter shows (all pages), with value, status and "
                     "note."):
            full = followup_list(ctx.src, ctx.conn, as_of=f.as_of, status=status,
                                 customers=members)
            try:  # the list names people: editors only
                ready = (view, followups_csv(full, conn=ctx.conn, actor=ctx.actor), len(full))
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                st.session_state[EXPORT] = ready
    if ready is not None:
        st.download_button(
            f"Download the CSV ({ready[2]:,} rows)", ready[1],
            file_name=f"detractor-follow-ups-{f.as_of.isoformat()}.csv", mime="text/csv",
            key="fb_fu_csv", icon=":material/download:", on_click="ignore", type="primary",
            help="Cells that a spreadsheet would run as a formula start with an apostrophe.",
        )


DRAW = {
    "scores": scores_section,
    "reviews": reviews_section,
    "comments": comments_section,
    "behaviour": behaviour_section,
    "followup": followup_section,
}
DRAW[section]()
