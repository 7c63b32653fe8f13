"""A :class:`~relmark_core.sharing.report.Report` as one self-contained HTML file.

Interactive plotly charts with plotly.js embedded once in the file (it opens offline, from a
mail attachment or a shared drive), numbers and tables as HTML, and print-friendly CSS. Every
text is escaped: names and comments from the data are never HTML, in the page or in a chart
(plotly draws a few tags in labels, so chart texts are escaped too).
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from relmark_core.sharing.report import CHART_COLOURS, Report, ReportChart, ReportTable, Section

__all__ = ["render_html", "CHART_HEIGHT", "HEATMAP_ROW_PX"]

CHART_HEIGHT = 380
HEATMAP_ROW_PX = 24
HEATMAP_MIN_HEIGHT = 320
HEAT_SCALE = [[0, "#f5f3ff"], [0.5, "#a78bfa"], [1, "#4c1d95"]]
_TICKS = {"share": ".0%", "money": ",.2f", "number": ",.4~g"}
_HOVER = {"share": ".1%", "money": ",.2f", "number": ",.1f"}

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1f2937; margin: 2rem auto; max-width: 1180px; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.7rem; margin-bottom: .3rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #ede9fe; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
dl.stamp { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem;
           background: #f5f3ff; padding: .8rem 1rem; border-radius: 6px; }
dl.stamp dt { font-weight: 600; } dl.stamp dd { margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: .8rem; }
.card { border: 1px solid #e5e7eb; border-radius: 6px; padding: .6rem .8rem; }
.card .label { font-size: .85rem; color: #4b5563; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.card .change { font-size: .85rem; color: #4b5563; }
.card .def { font-size: .75rem; color: #6b7280; margin-top: .3rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin: .3rem 0; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .25rem .4rem; text-align: left;
         vertical-align: top; }
th { background: #f9fafb; }
td.num { text-align: right; white-space: nowrap; }
.note { font-size: .85rem; color: #4b5563; }
.chart { margin: .5rem 0 1rem; }
footer { margin-top: 2rem; font-size: .8rem; color: #6b7280; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  .card, .chart, tr { break-inside: avoid; }
  .cards { grid-template-columns: repeat(3, 1fr); }
}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _numeric(text: str) -> bool:
    t = text.strip().lstrip("+-−±$€£").replace(",", "").replace("%", "").split(" ")[0]
    return bool(t) and t.replace(".", "", 1).isdigit()


def _table(t: ReportTable) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{_e(v)}</td>' if _numeric(v) else f"<td>{_e(v)}</td>" for v in row
        ) + "</tr>"
        for row in t.rows
    )
    if not t.rows:
        body = f'<tr><td colspan="{max(len(t.columns), 1)}">Nothing to show.</td></tr>'
    notes = [n for n in (t.note, t.truncation_note()) if n]
    foot = "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
    return f"<h3>{_e(t.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{foot}"


def figure(chart: ReportChart) -> go.Figure:
    """The plotly figure of a chart (labels escaped: plotly draws tags in them)."""
    x = [_e(v) for v in chart.x]
    tick = _TICKS[chart.value_format]
    hover = _HOVER[chart.value_format]
    fig = go.Figure()
    height = CHART_HEIGHT
    if chart.kind == "heatmap":
        rows = [_e(s.name) for s in chart.series]
        z = [list(s.values) for s in chart.series]
        fig.add_trace(go.Heatmap(
            z=z, x=x, y=rows, colorscale=HEAT_SCALE, xgap=2, ygap=2, zmin=0,
            zmax=chart.color_max,
            texttemplate="%{z:" + hover + "}", hovertemplate="%{y} · %{x}: %{z:" + hover
            + "}<extra></extra>", colorbar={"tickformat": tick, "thickness": 12},
        ))
        fig.update_yaxes(autorange="reversed", type="category")
        height = max(HEATMAP_MIN_HEIGHT, HEATMAP_ROW_PX * len(rows) + 110)
    else:
        for i, s in enumerate(chart.series):
            colour = CHART_COLOURS[i % len(CHART_COLOURS)]
            common: dict[str, Any] = {
                "x": x, "y": list(s.values), "name": _e(s.name),
                "hovertemplate": "%{x}: %{y:" + hover + "}<extra>" + _e(s.name) + "</extra>",
            }
            if chart.kind == "bar":
                fig.add_trace(go.Bar(marker_color=colour, **common))
            else:
                fig.add_trace(go.Scatter(mode="lines+markers", line={"color": colour},
                                         connectgaps=False, **common))
        fig.update_yaxes(tickformat=tick, rangemode="tozero")
    fig.update_xaxes(title_text=_e(chart.x_label), type="category")
    fig.update_yaxes(title_text=_e(chart.y_label))
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, plot_bgcolor="white",
        showlegend=len(chart.series) > 1 and chart.kind != "heatmap",
        legend={"orientation": "h", "y": 1.08, "x": 0}, barmode="group",
    )
    return fig


def _chart(chart: ReportChart, index: int) -> str:
    title = f"<h3>{_e(chart.title)}</h3>"
    if chart.empty:
        return title + '<p class="note">Nothing to draw.</p>'
    div = figure(chart).to_html(
        full_html=False, include_plotlyjs=False, div_id=f"chart-{index}",
        config={"displaylogo": False, "responsive": True},
    )
    note = f'<p class="note">{_e(chart.note)}</p>' if chart.note else ""
    return f'{title}<div class="chart">{div}</div>{note}'


def _section(s: Section, first_chart: int) -> tuple[str, int]:
    parts = [f"<section><h2>{_e(s.title)}</h2>"]
    parts += [f'<p class="note">{_e(n)}</p>' for n in s.notes]
    if s.headlines:
        cards = []
        for h in s.headlines:
            change = ""
            if h.previous is not None:
                delta = f" ({_e(h.change)})" if h.change else ""
                change = f'<div class="change">Previous period: {_e(h.previous)}{delta}</div>'
            cards.append(
                f'<div class="card"><div class="label">{_e(h.label)}</div>'
                f'<div class="value">{_e(h.value)}</div>{change}'
                f'<div class="def">{_e(h.definition)}</div></div>'
            )
        parts.append(f'<div class="cards">{"".join(cards)}</div>')
    n = first_chart
    for c in s.charts:
        parts.append(_chart(c, n))
        n += 1
    parts += [_table(t) for t in s.tables]
    parts.append("</section>")
    return "".join(parts), n


def render_html(report: Report) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    stamp = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in report.stamp())
    body = []
    n = 0
    for s in report.sections:
        text, n = _section(s, n)
        body.append(text)
    has_charts = any(not c.empty for s in report.sections for c in s.charts)
    script = f'<script type="text/javascript">{get_plotlyjs()}</script>' if has_charts else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(report.title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style>{script}</head><body>"
        f"<header><h1>{_e(report.title)}</h1><dl class=\"stamp\">{stamp}</dl></header>"
        f"{''.join(body)}"
        f"<footer>Made by Relmark. Definitions of every number are under it; charts are "
        f"interactive (hover for values) and work offline.</footer></body></html>\n"
    )
