"""Table helpers shared by pages: column formats for money, dates and shares, text cut short for
table cells, data text made safe for markdown, and the labels of the RFM grid's cells.

Texts from data (names, comments, tags) go into ``st.dataframe`` cells, which draw plain text
only, or through :func:`plain` before any markdown element; never into HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from relmark_core.metrics.rfm import SCORES, RfmGroup

__all__ = [
    "CELL_CHARS",
    "ELLIPSIS",
    "truncate",
    "truncate_columns",
    "plain",
    "chart_text",
    "money_column",
    "compact_money",
    "date_column",
    "share_column",
    "count_column",
    "grid_cell_groups",
]

CELL_CHARS = 40
"""Longest text shown in a table cell before it is cut short with an ellipsis."""
ELLIPSIS = "…"
DATE_FORMAT = "D MMM YYYY"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}
# markdown (and Streamlit's :icon:, :color[...], $math$, autolinked emails) syntax characters
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=@&])")


def truncate(value: Any, limit: int = CELL_CHARS) -> str | None:
    """``value`` as one line of at most ``limit`` characters (cut with "…"); None stays None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def truncate_columns(df: pd.DataFrame, columns: Iterable[str], limit: int = CELL_CHARS) -> pd.DataFrame:
    """A copy of ``df`` with the text ``columns`` cut short for a table cell."""
    out = df.copy()
    for col in columns:
        out[col] = out[col].map(lambda v: truncate(v, limit)).astype(object)
    return out


def plain(text: Any) -> str:
    """Data text escaped so a markdown element shows it literally (no links, emphasis, math)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def chart_text(text: Any) -> str:
    """Data text escaped for a plotly label or hover (plotly draws a few HTML tags, links too)."""
    return html.escape(" ".join(str(text).split()), quote=True)


def money_column(label: str, currency: str, *, help: str | None = None, width: Any = None) -> Any:
    """A number column shown as money in ``currency`` ("$1,234.50" or "1,234.50 CHF")."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    fmt = f"{symbol}%,.2f" if symbol else f"%,.2f {currency}"
    return st.column_config.NumberColumn(label, format=fmt, help=help, width=width)


def compact_money(value: float, currency: str) -> str:
    """A short money figure for a chart label: "$640", "$12.3k", "$1.2M" (or "12.3k CHF")."""
    body = f"{value:,.0f}"
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            body = f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
            break
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{body}" if symbol else f"{body} {currency}"


def date_column(label: str, *, help: str | None = None, width: Any = None) -> Any:
    """A date column shown as "4 Mar 2025"."""
    return st.column_config.DateColumn(label, format=DATE_FORMAT, help=help, width=width)


def share_column(label: str, *, help: str | None = None, width: Any = None) -> Any:
    """A 0–1 share shown as a percentage."""
    return st.column_config.NumberColumn(label, format="percent", help=help, width=width)


def count_column(label: str, *, help: str | None = None, width: Any = None) -> Any:
    """A whole number with thousands separators."""
    return st.column_config.NumberColumn(label, format="%,d", help=help, width=width)


def grid_cell_groups(
    groups: Sequence[RfmGroup], *, m_min: int = 1, m_max: int = SCORES[-1]
) -> dict[tuple[int, int], list[str]]:
    """For each R×F cell, the groups its customers can fall in when M is in ``m_min``–``m_max``
    (first matching group per M score, in group order); empty when no group matches."""
    out: dict[tuple[int, int], list[str]] = {}
    for r in SCORES:
        for f in SCORES:
            names: list[str] = []
            for m in range(m_min, m_max + 1):
                first = next((g.name for g in groups if g.matches(r, f, m)), None)
                if first is not None and first not in names:
                    names.append(first)
            out[(r, f)] = names
    return out
