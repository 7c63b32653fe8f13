"""A :class:`~relmark_core.sharing.report.Report` as a PDF, without a browser.

fpdf2 lays out the text and tables (pure Python; every text is drawn as text, never parsed as
markup) and matplotlib draws the charts (its Agg backend, no display). Both come with
``pip install -r requirements.txt``; kaleido (plotly's image export) needs Chrome, which a
marketer's machine may lack, so it is not used. The font is matplotlib's DejaVu Sans, embedded,
so names in most European scripts print as written (Chinese, Japanese or Korean characters have
no glyph in it and print as blanks).

The first page states the filters, the data's last import and the date; then come the headline
numbers with their definitions, the charts and the tables (at most
:data:`~relmark_core.sharing.report.MAX_TABLE_ROWS` rows each, with a note saying so).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts are drawn to images in memory

import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
from fpdf import FPDF  # noqa: E402
from fpdf.fonts import FontFace  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from relmark_core.sharing.report import (  # noqa: E402
    CHART_COLOURS,
    Headline,
    Report,
    ReportChart,
    ReportTable,
    Section,
)

__all__ = ["render_pdf", "chart_png", "FONT_FILE", "FONT_BOLD_FILE"]

FONT = "DejaVu"
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT_FILE = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD_FILE = FONT_DIR / "DejaVuSans-Bold.ttf"
PAGE_FORMAT = "A4"
ORIENTATION = "landscape"  # room for wide tables (a retention matrix has 15 columns)
MARGIN_MM = 12
TITLE_PT, H2_PT, H3_PT, BODY_PT, SMALL_PT, TABLE_PT = 18, 13, 10.5, 9, 7.5, 7
CHART_WIDTH_IN, CHART_HEIGHT_IN, CHART_DPI = 10.0, 3.6, 150
HEATMAP_ROW_IN = 0.22
MAX_CHART_HEIGHT_IN = 6.5
MAX_TICK_LABELS = 30
GREY = (75, 85, 99)
LIGHT = (245, 243, 255)
HEADINGS = FontFace(emphasis="BOLD", fill_color=(237, 233, 254))


def _formatter(kind: str) -> FuncFormatter:
    if kind == "share":
        return FuncFormatter(lambda v, _: f"{v * 100:.0f}%")
    if kind == "money":
        return FuncFormatter(lambda v, _: f"{v:,.0f}")
    return FuncFormatter(lambda v, _: f"{v:,.4g}")


def _cell_text(v: float | None, kind: str) -> str:
    if v is None:
        return ""
    if kind == "share":
        return f"{v * 100:.0f}%"
    if kind == "money":
        return f"{v:,.0f}"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _heatmap(fig: Figure, chart: ReportChart) -> None:
    ax = fig.add_subplot()
    z = [[float("nan") if v is None else float(v) for v in s.values] for s in chart.series]
    im = ax.imshow(z, aspect="auto", cmap="Purples", vmin=0, vmax=chart.color_max)
    ax.set_xticks(range(len(chart.x)), labels=list(chart.x), fontsize=7)
    ax.set_yticks(range(len(chart.series)), labels=[s.name for s in chart.series], fontsize=7)
    finite = [v for row in z for v in row if v == v]
    top = chart.color_max or max(finite, default=0.0)
    if len(chart.x) * len(chart.series) <= 400:
        for i, s in enumerate(chart.series):
            for j, v in enumerate(s.values):
                if v is not None:
                    ax.text(j, i, _cell_text(v, chart.value_format), ha="center", va="center",
                            fontsize=6, color="white" if top and v > 0.6 * top else "#1f2937")
    fig.colorbar(im, ax=ax, format=_formatter(chart.value_format), fraction=0.03)
    ax.set_xlabel(chart.x_label, fontsize=8)
    ax.set_ylabel(chart.y_label, fontsize=8)


def _xy(fig: Figure, chart: ReportChart) -> None:
    ax = fig.add_subplot()
    positions = list(range(len(chart.x)))
    n = max(len(chart.series), 1)
    width = 0.8 / n
    for i, s in enumerate(chart.series):
        ys = [float("nan") if v is None else float(v) for v in s.values]
        colour = CHART_COLOURS[i % len(CHART_COLOURS)]
        if chart.kind == "bar":
            offset = (i - (n - 1) / 2) * width
            ax.bar([p + offset for p in positions], ys, width=width, color=colour, label=s.name)
        else:
            ax.plot(positions, ys, marker="o", markersize=3, linewidth=1.5, color=colour,
                    label=s.name)
    step = max(1, -(-len(chart.x) // MAX_TICK_LABELS))
    ax.set_xticks(positions[::step], labels=list(chart.x)[::step], fontsize=7,
                  rotation=45 if len(chart.x) > 8 else 0, ha="right" if len(chart.x) > 8 else "center")
    ax.yaxis.set_major_formatter(_formatter(chart.value_format))
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel(chart.x_label, fontsize=8)
    ax.set_ylabel(chart.y_label, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)
    if chart.kind == "bar":
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    if len(chart.series) > 1:
        ax.legend(fontsize=6, ncol=min(len(chart.series), 6), loc="upper left", frameon=False)


def _height_in(chart: ReportChart) -> float:
    if chart.kind != "heatmap":
        return CHART_HEIGHT_IN
    rows = HEATMAP_ROW_IN * len(chart.series) + 1.2
    return min(MAX_CHART_HEIGHT_IN, max(CHART_HEIGHT_IN, rows))


def chart_png(chart: ReportChart) -> bytes:
    """The chart drawn by matplotlib, as PNG bytes."""
    fig = plt.figure(figsize=(CHART_WIDTH_IN, _height_in(chart)), dpi=CHART_DPI)
    try:
        if chart.kind == "heatmap":
            _heatmap(fig, chart)
        else:
            _xy(fig, chart)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=CHART_DPI)
    finally:
        plt.close(fig)
    return buf.getvalue()


class _Pdf(FPDF):
    def __init__(self, report: Report) -> None:
        super().__init__(orientation=ORIENTATION, format=PAGE_FORMAT)
        self.report = report
        self.add_font(FONT, "", str(FONT_FILE))
        self.add_font(FONT, "B", str(FONT_BOLD_FILE))
        self.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        self.set_auto_page_break(True, margin=MARGIN_MM)
        self.set_title(report.title)
        self.set_creator("Relmark")

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(FONT, "", SMALL_PT)
        self.set_text_color(*GREY)
        self.cell(0, 4, f"{self.report.title} · page {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    def text_block(self, text: str, size: float = BODY_PT, bold: bool = False,
                   colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)

    def space(self, mm: float = 2) -> None:
        self.ln(mm)


def _stamp(pdf: _Pdf, report: Report) -> None:
    pdf.text_block(report.title, TITLE_PT, bold=True)
    pdf.space(2)
    pdf.set_font(FONT, "", BODY_PT)
    with pdf.table(col_widths=(36, 232), first_row_as_headings=False, line_height=5,
                   cell_fill_color=LIGHT, cell_fill_mode="COLUMNS", borders_layout="NONE",
                   text_align="LEFT", padding=1) as t:
        for label, value in report.stamp():
            row = t.row()
            row.cell(label)
            row.cell(value)
    pdf.space(3)


def _headlines(pdf: _Pdf, heads: tuple[Headline, ...]) -> None:
    compare = any(h.previous is not None for h in heads)
    cols = ["Number", "Value"] + (["Previous period", "Change"] if compare else []) + ["Definition"]
    widths = (45, 28) + ((28, 18) if compare else ()) + ((154,) if compare else (200,))
    pdf.set_font(FONT, "", TABLE_PT + 0.5)
    with pdf.table(col_widths=widths, headings_style=HEADINGS, line_height=4,
                   text_align="LEFT", padding=1) as t:
        t.row(cols)
        for h in heads:
            cells = [h.label, h.value]
            if compare:
                cells += [h.previous or "—", h.change or "—"]
            t.row([*cells, h.definition])
    pdf.space(3)


def _chart(pdf: _Pdf, chart: ReportChart) -> None:
    if chart.empty:
        pdf.text_block(chart.title, H3_PT, bold=True)
        pdf.text_block("Nothing to draw.", SMALL_PT, colour=GREY)
        pdf.space(2)
        return
    png = chart_png(chart)
    width = pdf.epw
    height = width * _height_in(chart) / CHART_WIDTH_IN
    if pdf.get_y() + height + H3_PT > pdf.h - pdf.b_margin:
        pdf.add_page()  # the title stays with its chart
    pdf.text_block(chart.title, H3_PT, bold=True)
    pdf.image(io.BytesIO(png), x=pdf.l_margin, w=width, h=height)
    if chart.note:
        pdf.text_block(chart.note, SMALL_PT, colour=GREY)
    pdf.space(3)


def _table(pdf: _Pdf, table: ReportTable) -> None:
    pdf.text_block(table.title, H3_PT, bold=True)
    if not table.rows:
        pdf.text_block("Nothing to show.", SMALL_PT, colour=GREY)
        pdf.space(2)
        return
    pdf.set_font(FONT, "", TABLE_PT)
    with pdf.table(headings_style=HEADINGS, line_height=3.6, text_align="LEFT",
                   padding=0.8, repeat_headings=1) as t:
        t.row(list(table.columns))
        for r in table.rows:
            t.row(list(r))
    for note in (table.note, table.truncation_note()):
        if note:
            pdf.text_block(note, SMALL_PT, colour=GREY)
    pdf.space(3)


def _section(pdf: _Pdf, s: Section) -> None:
    if pdf.get_y() > pdf.h * 0.75:
        pdf.add_page()
    pdf.text_block(s.title, H2_PT, bold=True)
    pdf.space(1)
    for n in s.notes:
        pdf.text_block(n, BODY_PT - 0.5, colour=GREY)
    if s.notes:
        pdf.space(1.5)
    if s.headlines:
        _headlines(pdf, s.headlines)
    for c in s.charts:
        _chart(pdf, c)
    for t in s.tables:
        _table(pdf, t)


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes."""
    pdf = _Pdf(report)
    pdf.add_page()
    _stamp(pdf, report)
    for s in report.sections:
        _section(pdf, s)
    out: Any = pdf.output()
    return bytes(out)
