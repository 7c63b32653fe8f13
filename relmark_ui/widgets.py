"""Widgets every page shares: the sidebar filters (kept in the URL), metric cards with their
definitions on hover, and number formatting.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import streamlit as st

from relmark_core.errors import InputRefused
from relmark_core.metrics.definitions import definition
from relmark_core.metrics.kpis import data_span
from relmark_core.periods import (
    DEFAULT_PRESET,
    PRESETS,
    DateRange,
    parse_date,
    preset_range,
)
from relmark_core.reports import today_utc
from relmark_core.segments import SegmentFilter, list_segments
from relmark_core.sharing.report import change_text
from relmark_ui import share
from relmark_ui.cache import compute
from relmark_ui.context import Filters, RerunContext

__all__ = [
    "sidebar_filters",
    "select_segment",
    "SEGMENT_PARAM",
    "ALL_CUSTOMERS",
    "url_choice",
    "url_toggle",
    "url_text",
    "url_date",
    "url_range",
    "url_number",
    "url_multi",
    "url_tabs",
    "url_pagination",
    "sync_from_url",
    "write_url",
    "is_locked",
    "metric_card",
    "fmt_value",
    "fmt_money",
    "fmt_share",
]

T = TypeVar("T")


def _sync_from_url(key: str, param: str, parse: Callable[[str], Any]) -> None:
    """Seed a widget's state from the URL the first time this session renders it; a locked
    link's value (or the default) on every run; the URL's again when a saved view opens."""
    locked, value = share.fixed(param)
    if locked or share.reseeding():
        st.session_state.pop(key, None)
        raw = value if locked else st.query_params.get(param)
    elif key in st.session_state:
        return
    else:
        raw = st.query_params.get(param)
    if raw is None:
        return
    try:
        st.session_state[key] = parse(raw)
    except (ValueError, InputRefused):
        pass  # a hand-edited link with a bad value: fall back to the default


def _write_url(param: str, value: str | None) -> None:
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != value:
        st.query_params[param] = value


def url_choice(
    label: str,
    options: Sequence[T],
    *,
    key: str,
    param: str,
    default: T,
    format_func: Callable[[T], str] = str,
    where: Any = None,
    help: str | None = None,
    horizontal: bool = False,
) -> T:
    """A select box (or radio if ``horizontal``) whose value lives in the URL as ``param``."""
    by_text = {str(o): o for o in options}

    def parse(raw: str) -> T:
        if raw not in by_text:
            raise ValueError(raw)
        return by_text[raw]

    _sync_from_url(key, param, parse)
    if key not in st.session_state:
        st.session_state[key] = default
    host = where if where is not None else st
    locked = share.fixed(param)[0]
    if horizontal:
        value = host.radio(
            label, list(options), key=key, format_func=format_func, help=help, horizontal=True,
            disabled=locked,
        )
    else:
        value = host.selectbox(label, list(options), key=key, format_func=format_func, help=help,
                               disabled=locked)
    _write_url(param, str(value))
    return value  # type: ignore[no-any-return]


def url_toggle(label: str, *, key: str, param: str, default: bool = False, help: str | None = None,
               where: Any = None) -> bool:
    """A toggle whose value lives in the URL as ``param`` (1/0)."""
    _sync_from_url(key, param, lambda raw: raw == "1")
    if key not in st.session_state:
        st.session_state[key] = default
    host = where if where is not None else st
    value = bool(host.toggle(label, key=key, help=help, disabled=share.fixed(param)[0]))
    _write_url(param, "1" if value else "0")
    return value


def url_text(label: str, *, key: str, param: str, help: str | None = None,
             placeholder: str | None = None, where: Any = None) -> str:
    """A text box (e.g. a search) whose text lives in the URL as ``param`` (absent when empty)."""
    _sync_from_url(key, param, str)
    host = where if where is not None else st
    value = host.text_input(label, key=key, help=help, placeholder=placeholder,
                            disabled=share.fixed(param)[0]) or ""
    _write_url(param, value if value.strip() else None)
    return str(value)


def url_date(label: str, *, key: str, param: str, default: date, help: str | None = None,
             where: Any = None) -> date:
    """A date input whose value lives in the URL as ``param`` (absent while it is ``default``)."""
    _sync_from_url(key, param, parse_date)
    st.session_state.setdefault(key, default)
    host = where if where is not None else st
    value: date = host.date_input(label, key=key, help=help, disabled=share.fixed(param)[0])
    _write_url(param, None if value == default else value.isoformat())
    return value


def url_range(label: str, *, key: str, param: str, lo: int, hi: int, help: str | None = None,
              where: Any = None) -> tuple[int, int]:
    """A range slider over whole numbers ``lo``–``hi`` kept in the URL as ``param=a-b`` (absent
    while the whole range is chosen)."""

    def parse(raw: str) -> tuple[int, int]:
        a, b = (int(x) for x in raw.split("-"))
        if not lo <= a <= b <= hi:
            raise ValueError(raw)
        return a, b

    _sync_from_url(key, param, parse)
    st.session_state.setdefault(key, (lo, hi))
    host = where if where is not None else st
    a, b = host.slider(label, min_value=lo, max_value=hi, step=1, key=key, help=help,
                       disabled=share.fixed(param)[0])
    _write_url(param, None if (a, b) == (lo, hi) else f"{a}-{b}")
    return int(a), int(b)


def url_number(label: str, *, key: str, param: str, default: int, min_value: int,
               max_value: int, step: int = 1, help: str | None = None, where: Any = None) -> int:
    """A whole-number input kept in the URL as ``param`` (absent while it is ``default``)."""

    def parse(raw: str) -> int:
        n = int(raw)
        if not min_value <= n <= max_value:
            raise ValueError(raw)
        return n

    _sync_from_url(key, param, parse)
    st.session_state.setdefault(key, default)
    host = where if where is not None else st
    n = int(host.number_input(label, min_value=min_value, max_value=max_value, step=step,
                              key=key, help=help, disabled=share.fixed(param)[0]))
    _write_url(param, None if n == default else str(n))
    return n


def url_multi(label: str, options: Sequence[T], *, key: str, param: str, default: Sequence[T],
              format_func: Callable[[T], str] = str, help: str | None = None,
              where: Any = None) -> list[T]:
    """A multi-select kept in the URL as ``param=a,b`` (absent while it is ``default``)."""
    by_text = {str(o): o for o in options}

    def parse(raw: str) -> list[T]:
        return [by_text[x] for x in raw.split(",") if x in by_text]

    _sync_from_url(key, param, parse)
    st.session_state.setdefault(key, list(default))
    host = where if where is not None else st
    value = list(host.multiselect(label, list(options), key=key, format_func=format_func,
                                  help=help, disabled=share.fixed(param)[0]))
    _write_url(param, None if value == list(default) else ",".join(str(v) for v in value))
    return value


def url_tabs(tabs: dict[str, str], *, key: str, param: str) -> tuple[str, Sequence[Any]]:
    """``st.tabs`` (id -> label) whose open tab lives in the URL as ``param`` (its id; absent
    for the first tab). Returns the open tab's id and the tab containers.

    Streamlit 1.67's tabs take a ``key`` and ``on_change``: the open tab's label is then in
    Session State and can be set before the tabs are drawn (a link opens the right tab)."""
    ids = {label: i for i, label in tabs.items()}

    def parse(raw: str) -> str:
        if raw not in tabs:
            raise ValueError(raw)
        return tabs[raw]

    _sync_from_url(key, param, parse)
    containers = st.tabs(list(tabs.values()), key=key, on_change="rerun")
    chosen = ids.get(str(st.session_state.get(key)), next(iter(tabs)))
    _write_url(param, None if chosen == next(iter(tabs)) else chosen)
    return chosen, containers


def url_pagination(pages: int, *, key: str, param: str, where: Any = None) -> int:
    """Page numbers of a long list kept in the URL as ``param`` (absent on page 1); draws
    nothing and returns 1 when the list fits one page."""
    if pages <= 1:
        _write_url(param, None)
        return 1

    def parse(raw: str) -> int:
        n = int(raw)
        if n < 1:
            raise ValueError(raw)
        return n

    _sync_from_url(key, param, parse)
    if int(st.session_state.get(key, 1)) > pages:
        st.session_state[key] = pages
    host = where if where is not None else st
    n = int(host.pagination(pages, key=key, disabled=share.fixed(param)[0]))
    _write_url(param, None if n == 1 else str(n))
    return n


sync_from_url = _sync_from_url
"""For a page's own URL-backed widget: seed its Session State from the URL (or a locked link)."""
write_url = _write_url
"""Keep a value in the URL (None removes the parameter)."""


def is_locked(param: str) -> bool:
    """True when a locked link fixes ``param`` on this page (draw its widget disabled)."""
    return share.fixed(param)[0]


SEGMENT_PARAM = "segment"
ALL_CUSTOMERS = "All customers"
_SEGMENT_KEY = "f_segment"  # the picker (shows names); see _sidebar_segment for its suffix
_SEGMENT_ID = "_f_segment_id"  # the chosen segment's id (0: all customers)
_SEGMENT_PENDING = "_f_segment_pending"


def select_segment(segment_id: int | None) -> None:
    """Make ``segment_id`` (None: all customers) the sidebar's segment from the next rerun on
    (e.g. after saving one); call ``st.rerun()`` next."""
    st.session_state[_SEGMENT_PENDING] = segment_id


def _picked(key: str, ids: dict[str, int]) -> None:
    st.session_state[_SEGMENT_ID] = ids.get(st.session_state.get(key, ""), 0)


def _sidebar_segment(ctx: RerunContext, as_of: date) -> SegmentFilter | None:
    """The saved segment picked in the sidebar, kept in the URL by id (links survive renames).

    The chosen id is kept apart and the picker is set from it on every run. The picker's key
    ends with a checksum of the names: the browser keeps showing an option's old label after a
    rename when the key stays the same (Streamlit 1.67), so a changed list of names makes it a
    new widget. Tests find it by its label, "Saved segment"."""
    saved = {s.segment_id: s for s in list_segments(ctx.conn)}
    if _SEGMENT_PENDING in st.session_state:
        st.session_state[_SEGMENT_ID] = st.session_state.pop(_SEGMENT_PENDING) or 0
    locked, value = share.fixed(SEGMENT_PARAM)
    if _SEGMENT_ID not in st.session_state or locked or share.reseeding():
        raw = (value if locked else st.query_params.get(SEGMENT_PARAM)) or ""
        st.session_state[_SEGMENT_ID] = int(raw) if raw.isdigit() else 0
    chosen = int(st.session_state[_SEGMENT_ID])
    if chosen and chosen not in saved:
        st.sidebar.warning(
            f"The segment in this link (id {chosen}) no longer exists; showing all customers."
        )
        chosen = st.session_state[_SEGMENT_ID] = 0
    labels = {0: ALL_CUSTOMERS} | {
        i: s.name if s.name.casefold() != ALL_CUSTOMERS.casefold() else f"{s.name} (id {i})"
        for i, s in saved.items()
    }
    ids = {label: i for i, label in labels.items()}
    key = f"{_SEGMENT_KEY}_{zlib.crc32(repr(sorted(labels.items())).encode()):08x}"
    for old in [k for k in st.session_state if str(k).startswith(_SEGMENT_KEY + "_")]:
        if old != key:
            del st.session_state[old]
    st.session_state[key] = labels[chosen]
    st.sidebar.selectbox(
        "Saved segment",
        list(labels.values()),
        key=key,
        on_change=_picked,
        args=(key, ids),
        disabled=locked,
        help="A saved segment (build one on the Segments page) narrows every page to its "
        "customers. Membership is taken at the as-of date.",
    )
    _write_url(SEGMENT_PARAM, str(chosen) if chosen else None)
    if not chosen:
        return None
    seg = saved[chosen]
    st.sidebar.caption(seg.definition.sentence(ctx.src.reporting_currency))
    return SegmentFilter(
        segment_id=seg.segment_id, name=seg.name, definition=seg.definition, as_of=as_of
    )


def sidebar_filters(ctx: RerunContext) -> Filters:
    """Date range, as-of date and comparison, in the sidebar and the URL (``range``, ``start``,
    ``end``, ``as_of``, ``compare``). A reloaded link opens the same view."""
    sb = st.sidebar
    sb.markdown("### Period")
    preset = url_choice(
        "Date range",
        list(PRESETS),
        key="f_range",
        param="range",
        default=DEFAULT_PRESET,
        format_func=lambda k: PRESETS[k],
        where=sb,
        help="Relative ranges count back from the as-of date (the last day included).",
    )
    _sync_from_url("f_as_of", "as_of", lambda raw: parse_date(raw))
    st.session_state.setdefault("f_as_of", today_utc())
    as_of: date = sb.date_input(
        "As of",
        key="f_as_of",
        disabled=share.fixed("as_of")[0],
        help="Relative ranges end on this day. Set it to the date of an old export to look at "
        "it as it was then.",
    )
    _write_url("as_of", None if as_of == today_utc() else as_of.isoformat())
    if preset == "custom":
        _sync_from_url("f_start", "start", lambda raw: parse_date(raw))
        _sync_from_url("f_last", "end", lambda raw: parse_date(raw) - timedelta(days=1))
        st.session_state.setdefault("f_start", as_of - timedelta(days=29))
        st.session_state.setdefault("f_last", as_of)
        start = sb.date_input("From", key="f_start", disabled=share.fixed("start")[0])
        last = sb.date_input("To (included)", key="f_last", disabled=share.fixed("end")[0])
        if last < start:
            sb.error("'To' is before 'From': showing the single day 'From'.")
            last = start
        rng = DateRange(start=start, end=last + timedelta(days=1))
        _write_url("start", rng.start.isoformat())
        _write_url("end", rng.end.isoformat())
    else:
        first = None
        if preset == "all_time":
            first, _ = compute(data_span)  # cached per data version, not a query each rerun
        rng = preset_range(preset, as_of=as_of, first_day=first)
        _write_url("start", None)
        _write_url("end", None)
    compare = url_toggle(
        "Compare with the previous period",
        key="f_compare",
        param="compare",
        default=True,
        where=sb,
        help="Shows the change against the period of the same length just before.",
    )
    sb.caption(f"Showing **{rng.sentence()}**")
    sb.markdown("### Segment")
    segment = _sidebar_segment(ctx, as_of)
    return Filters(preset=preset, rng=rng, as_of=as_of, compare=compare, segment=segment)


def fmt_money(value: Decimal | float | None, currency: str) -> str:
    if value is None:
        return "—"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}.get(currency)
    text = f"{float(value):,.2f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def fmt_share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt_value(value: Any, unit: str, currency: str = "USD") -> str:
    if unit == "money":
        return fmt_money(value, currency)
    if unit == "share":
        return fmt_share(value)
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{float(value):,.1f}"


def metric_card(
    key: str,
    value: Any,
    *,
    previous: Any = None,
    currency: str = "USD",
    label: str | None = None,
    where: Any = None,
) -> None:
    """A headline number with its definition on hover and the change against ``previous``."""
    d = definition(key)
    host = where if where is not None else st
    help_text = d.help
    if previous is not None:
        help_text += f"  \nPrevious period: {fmt_value(previous, d.unit, currency)}."
    host.metric(
        label or d.label,
        fmt_value(value, d.unit, currency),
        delta=change_text(value, previous, d.unit),
        help=help_text,
    )
