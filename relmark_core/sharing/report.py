"""A page as a report: what a manager reads in an HTML file or a PDF.

A :class:`Report` is plain data — headline numbers with their definitions, tables of formatted
text, charts as numbers — plus the three facts every report states on its first page: the
filters, when the data was last imported, and when the report was made. The per-page builders
(:mod:`relmark_core.sharing.report_pages`) fill it from the same core metric functions the pages
call; the renderers (:mod:`.render_html`, :mod:`.render_pdf`) draw it. Nothing here is HTML:
every text is plain and the renderers escape it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import store
from relmark_core.metrics.definitions import definition
from relmark_core.periods import PRESETS, DateRange
from relmark_core.segments import SegmentFilter
from relmark_core.source import Source

__all__ = [
    "change_text",
    "MAX_TABLE_ROWS",
    "MAX_TEXT_CHARS",
    "CHART_COLOURS",
    "ColumnKind",
    "ReportFilters",
    "ReportInputs",
    "Headline",
    "ReportTable",
    "Series",
    "ReportChart",
    "Section",
    "Report",
    "headline",
    "number_headline",
    "table_from_frame",
    "last_import_sentence",
    "fmt_money",
    "fmt_share",
    "fmt_count",
    "fmt_number",
    "fmt_date",
    "fmt_when",
    "one_line",
    "money_value",
]

MAX_TABLE_ROWS = 50
"""Rows a report table keeps; the rest are counted in a note ("first 50 of 1,234 rows")."""
MAX_TEXT_CHARS = 120
"""Longest text (a name, a comment) kept in one table cell before it is cut with an ellipsis."""
ELLIPSIS = "…"
DASH = "—"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}
WHEN_FORMAT = "%-d %b %Y %H:%M UTC"
DATE_FORMAT = "%-d %b %Y"
CHART_COLOURS = ("#7c3aed", "#ea580c", "#0891b2", "#16a34a", "#db2777", "#ca8a04", "#4b5563",
                 "#2563eb", "#9333ea", "#dc2626", "#65a30d", "#0d9488")
"""Series colours, in order, for both renderers (the app's purple first)."""

ColumnKind = Literal["text", "count", "money", "share", "number", "date", "when"]
ChartKind = Literal["bar", "line", "heatmap"]
ValueFormat = Literal["number", "money", "share"]


# --- formatting (plain text; the renderers escape it) -----------------------------------------


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_money(value: Any, currency: str) -> str:
    """``$1,234.50`` (or ``1,234.50 CHF``); a dash when missing."""
    if _missing(value):
        return DASH
    text = f"{float(value):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {currency}"


def fmt_share(value: Any) -> str:
    """A 0–1 share as ``12.3%``."""
    return DASH if _missing(value) else f"{float(value) * 100:.1f}%"


def fmt_count(value: Any) -> str:
    return DASH if _missing(value) else f"{int(value):,}"


def fmt_number(value: Any, decimals: int = 1) -> str:
    return DASH if _missing(value) else f"{float(value):,.{decimals}f}"


def fmt_date(value: Any) -> str:
    return DASH if _missing(value) else pd.Timestamp(value).strftime(DATE_FORMAT)


def fmt_when(value: Any) -> str:
    """A naive UTC timestamp as ``23 Nov 2026 14:05 UTC``."""
    return DASH if _missing(value) else pd.Timestamp(value).strftime(WHEN_FORMAT)


def one_line(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """Data text as one line of at most ``limit`` characters (cut with "…")."""
    if _missing(value):
        return DASH
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _cell(value: Any, kind: ColumnKind, currency: str) -> str:
    if kind == "count":
        return fmt_count(value)
    if kind == "money":
        return fmt_money(value, currency)
    if kind == "share":
        return fmt_share(value)
    if kind == "number":
        return fmt_number(value)
    if kind == "date":
        return fmt_date(value)
    if kind == "when":
        return fmt_when(value)
    return one_line(value) if not isinstance(value, bool) else ("yes" if value else "no")


# --- inputs ---------------------------------------------------------------------------------


class ReportFilters(BaseModel):
    """The sidebar's choices a report is made with (the same ones every page reads)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rng: DateRange
    as_of: date
    compare: bool = True
    preset: str | None = None
    """The relative range's key (``last_90_days``...), or None for fixed dates."""
    segment: SegmentFilter | None = None

    def sentence(self) -> str:
        """The filters in words, e.g. "Period 1 Sep 2026 – 29 Nov 2026 (Last 90 days), compared
        with the previous 90 days · as of 29 Nov 2026 · all customers"."""
        label = PRESETS.get(self.preset or "", "")
        named = f" ({label})" if label and self.preset != "custom" else ""
        period = f"Period {self.rng.sentence()}{named}"
        if self.compare:
            period += f", compared with the previous {self.rng.days} days"
        who = f"segment “{self.segment.name}”" if self.segment is not None else "all customers"
        return f"{period} · as of {self.as_of:%-d %b %Y} · {who}"


@dataclass(frozen=True)
class ReportInputs:
    """What a page report reads: the analytics source, the store (Relmark's own state), the
    sidebar's filters and the page's own choices (its URL parameters, e.g. ``grain=month``)."""

    src: Source
    conn: duckdb.DuckDBPyConnection
    filters: ReportFilters
    choices: Mapping[str, str] = field(default_factory=dict)
    source_label: str | None = None
    """The warehouse's redacted URL when the source is one; None for the local store."""

    @property
    def currency(self) -> str:
        return self.src.reporting_currency


# --- the report -------------------------------------------------------------------------------


class Headline(BaseModel):
    """A headline number, formatted, with the sentence that defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    value: str
    definition: str
    previous: str | None = None
    change: str | None = None


class ReportTable(BaseModel):
    """A table of formatted cells; ``total_rows`` counts the rows before truncation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total_rows: int
    note: str | None = None

    @property
    def truncated(self) -> bool:
        return self.total_rows > len(self.rows)

    def truncation_note(self) -> str | None:
        if not self.truncated:
            return None
        return (
            f"The first {len(self.rows):,} of {self.total_rows:,} rows; the page (or a CSV "
            "export) has them all."
        )


class Series(BaseModel):
    """One line or set of bars; for a heatmap, one row of cells."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    values: tuple[float | None, ...]


class ReportChart(BaseModel):
    """A chart as data: categories ``x`` and one value per category in each series.

    ``heatmap``: each series is a row (its name labels the row), ``values`` its cells."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    kind: ChartKind
    x: tuple[str, ...]
    series: tuple[Series, ...]
    x_label: str = ""
    y_label: str = ""
    value_format: ValueFormat = "number"
    note: str | None = None
    color_max: float | None = None
    """A heatmap's darkest value (None: the largest cell), e.g. to keep period 0's 100% from
    washing out the later periods."""

    @property
    def empty(self) -> bool:
        return not self.x or all(v is None for s in self.series for v in s.values)


class Section(BaseModel):
    """A part of a report: sentences, headline numbers, tables and charts, in that order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    notes: tuple[str, ...] = ()
    headlines: tuple[Headline, ...] = ()
    charts: tuple[ReportChart, ...] = ()
    tables: tuple[ReportTable, ...] = ()


class Report(BaseModel):
    """One page as a report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    page: str
    filters: str
    """The sidebar's filters in words (period, comparison, as-of date, segment)."""
    choices: str
    """The page's own choices in words (grain, section, mode...); "" when it has none."""
    last_import: str
    generated_at: datetime
    """When the report was made (naive UTC)."""
    currency: str
    sections: tuple[Section, ...]

    def stamp(self) -> list[tuple[str, str]]:
        """The facts the first page states: (label, text)."""
        rows = [("Filters", self.filters)]
        if self.choices:
            rows.append(("View", self.choices))
        rows += [
            ("Data", self.last_import),
            ("Generated", fmt_when(self.generated_at)),
            ("Reporting currency", self.currency),
        ]
        return rows

    def file_stem(self) -> str:
        """``relmark-overview-2026-11-23``: a safe file name without its extension."""
        return f"relmark-{self.page}-{self.generated_at:%Y-%m-%d}"


# --- building blocks for the page builders ----------------------------------------------------


def change_text(value: Any, previous: Any, unit: str) -> str | None:
    """The change against the previous period as the pages and reports show it: "+4.2%", or
    "+1.5 pts" for shares; None when either value is missing or the previous one is 0."""
    if _missing(value) or _missing(previous):
        return None
    if unit == "share":
        return f"{(float(value) - float(previous)) * 100:+.1f} pts"
    if float(previous) == 0:
        return None
    return f"{(float(value) / float(previous) - 1) * 100:+.1f}%"


def _unit_text(value: Any, unit: str, currency: str) -> str:
    if unit == "money":
        return fmt_money(value, currency)
    if unit == "share":
        return fmt_share(value)
    if _missing(value):
        return DASH
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return fmt_number(value)


def headline(
    key: str,
    value: Any,
    *,
    currency: str,
    previous: Any = None,
    compare: bool = False,
    label: str | None = None,
) -> Headline:
    """A headline number whose label, unit and definition come from
    :mod:`relmark_core.metrics.definitions` (the same ones the page's hover shows)."""
    d = definition(key)
    return Headline(
        label=label or d.label,
        value=_unit_text(value, d.unit, currency),
        definition=d.help,
        previous=_unit_text(previous, d.unit, currency) if compare else None,
        change=change_text(value, previous, d.unit) if compare else None,
    )


def number_headline(label: str, value: str, definition_text: str) -> Headline:
    """A headline already formatted by the builder (numbers without a definitions entry)."""
    return Headline(label=label, value=value, definition=definition_text)


def table_from_frame(
    title: str,
    df: pd.DataFrame,
    columns: Sequence[tuple[str, str, ColumnKind]],
    *,
    currency: str,
    max_rows: int = MAX_TABLE_ROWS,
    note: str | None = None,
    total_rows: int | None = None,
) -> ReportTable:
    """A report table from ``df``: ``columns`` = (column, header, kind) in the order shown;
    the first ``max_rows`` rows are kept and the rest counted."""
    rows: list[tuple[str, ...]] = []
    for rec in df.head(max_rows).to_dict("records"):
        rows.append(tuple(_cell(rec.get(col), kind, currency) for col, _, kind in columns))
    return ReportTable(
        title=title,
        columns=tuple(h for _, h, _ in columns),
        rows=tuple(rows),
        total_rows=len(df) if total_rows is None else total_rows,
        note=note,
    )


def last_import_sentence(conn: duckdb.DuckDBPyConnection, source_label: str | None = None) -> str:
    """When the data was last imported, in words (from the ``imports`` table); demo data and a
    warehouse source say so."""
    if source_label is not None:
        return (
            f"Read from the analytics source {source_label} when the report was made "
            "(it is not imported into Relmark)."
        )
    rows = conn.execute(
        "SELECT created_at, file_name FROM imports WHERE status = 'loaded' "
        "ORDER BY created_at DESC, import_id DESC LIMIT 1"
    ).fetchall()
    last = f"last import {fmt_when(rows[0][0])} ({one_line(rows[0][1], 80)})" if rows else None
    if store.is_demo(conn):
        made = store.scalar(
            conn, "SELECT max(logged_at) FROM audit_log WHERE action = 'demo data loaded'"
        )
        when = f", made {fmt_when(made)}" if made is not None else ""
        return f"Demo data: an invented shop{when}" + (f"; {last}." if last else "; nothing imported yet.")
    if last is None:
        return "Nothing imported yet."
    return last[0].upper() + last[1:] + "."


def money_value(value: Any) -> float | None:
    """A Decimal/float/None as a float for a chart (None stays None)."""
    if _missing(value):
        return None
    return float(value) if not isinstance(value, Decimal) else float(value)
