"""What one rerun of the app works with: the open store, the analytics source and the filters."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from relmark_core.periods import DateRange
from relmark_core.segments import SegmentFilter
from relmark_core.source import Source


@dataclass(frozen=True)
class Filters:
    """The sidebar's common choices, shared by every page and kept in the URL."""

    preset: str
    rng: DateRange
    as_of: date
    compare: bool = True
    segment: SegmentFilter | None = None
    """The saved segment chosen in the sidebar (kept in the URL as ``segment=<id>``), or None
    for all customers. Pass it as ``segment=`` to metrics that take one."""


@dataclass
class RerunContext:
    conn: duckdb.DuckDBPyConnection
    src: Source
    db_path: Path
    version: int
    demo: bool
    filters: Filters | None = None
    source_key: str = "local"
    """Which analytics source ``src`` reads (and when, for a warehouse): part of cache keys."""
    source_label: str | None = None
    """The warehouse's redacted URL in warehouse mode; None when ``src`` is the local store."""
    actor: str = "local"
    """Who is acting: the logged-in user's name in team mode, ``"local"`` in single-user mode.
    Pass it as ``actor=ctx.actor`` to every core write function (the core checks the role)."""
    extras: dict[str, object] = field(default_factory=dict)


_current: ContextVar[RerunContext | None] = ContextVar("relmark_rerun", default=None)


def current() -> RerunContext:
    """The running rerun's context (set by :func:`relmark_ui.frame.page_frame`)."""
    ctx = _current.get()
    if ctx is None:
        # Streamlit's legacy "pages/ folder" mode can run a page file without app.py: on the
        # first request a fresh server gets (a shared deep link) and on every AppTest run. Turn
        # that mode off for the process and rerun, so the page runs inside app.py's frame.
        PagesManager.uses_pages_directory = False
        st.rerun()
    return ctx


def set_current(ctx: RerunContext | None) -> object:
    return _current.set(ctx)


def reset_current(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
