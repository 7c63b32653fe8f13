"""Cached calls into relmark_core, keyed on the inputs and the store's data version.

Every import, undo or setting change bumps the data version, so the next rerun misses the cache
and shows new numbers; nothing stale survives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from relmark_ui.context import current

T = TypeVar("T")
CACHE_ENTRIES = 512


@st.cache_data(show_spinner=False, max_entries=CACHE_ENTRIES)
def _cached(
    db_key: str, version: int, name: str, key: str, _fn: Callable[..., Any], _src: Any, _kw: dict[str, Any]
) -> Any:
    return _fn(_src, **_kw)


def compute(fn: Callable[..., T], **kwargs: Any) -> T:
    """``fn(src, **kwargs)`` for the current rerun's source, cached per data version."""
    ctx = current()
    key = repr(sorted((k, repr(v)) for k, v in kwargs.items()))
    name = f"{fn.__module__}.{getattr(fn, '__qualname__', repr(fn))}"
    db_key = f"{ctx.db_path}|{ctx.source_key}"
    return _cached(db_key, ctx.version, name, key, fn, ctx.src, kwargs)  # type: ignore[no-any-return]
