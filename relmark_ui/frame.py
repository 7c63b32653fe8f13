"""The frame around every page: open the store for this rerun, first-start demo data, the common
sidebar, the demo banner, and the error policy (a plain message, never a traceback).

The store is opened for one rerun and closed at its end, so a scheduled CLI import can write
between two clicks.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import duckdb
import streamlit as st
from ibis.backends import BaseBackend

from relmark_core import demo, source, store, warehouse
from relmark_core.auth import Role
from relmark_core.errors import DatabaseBusy, RelmarkError
from relmark_ui import login, roles
from relmark_ui.context import RerunContext, reset_current, set_current
from relmark_ui.export import export_panel
from relmark_ui.share import sharing
from relmark_ui.widgets import sidebar_filters

__all__ = [
    "page_frame",
    "APP_BUSY_WAIT_SECONDS",
    "WAREHOUSE_CACHE_SECONDS",
    "SOURCE_RETRY_SECONDS",
    "app_secrets",
    "forget_source_failure",
]

APP_BUSY_WAIT_SECONDS = 8.0
# A warehouse changes without telling Relmark: cached numbers from it are kept this long.
WAREHOUSE_CACHE_SECONDS = 600
# After a source could not be reached, pages use the local store this long before trying again
# (so an unreachable host does not make every click wait for the connect timeout).
SOURCE_RETRY_SECONDS = 60
log = logging.getLogger("relmark.app")
_failures: dict[str, tuple[float, str]] = {}  # source key -> (when, message)


def app_secrets() -> Mapping[str, Any]:
    """``st.secrets``, with Relmark's section read afresh from the project's secrets file (the
    one the Settings page writes), so a saved source applies on the next click."""
    merged: dict[str, Any] = {}
    try:
        merged.update(st.secrets.to_dict())
    except Exception:  # no secrets file: Streamlit raises on access
        pass
    try:
        fresh = warehouse.read_secrets(warehouse.secrets_file())
    except RelmarkError as exc:
        st.warning(str(exc))
        fresh = None
    if fresh is not None:
        merged[warehouse.SECRETS_SECTION] = fresh.get(warehouse.SECRETS_SECTION, {})
    return merged


def _alive(be: BaseBackend) -> bool:
    con = getattr(be, "con", None)
    return not (getattr(con, "closed", False) or getattr(con, "broken", False))


@st.cache_resource(show_spinner=False, validate=_alive)
def _backend(url: str) -> BaseBackend:
    """One open connection per source URL for the app (the URL stays in memory only)."""
    return warehouse.connect_backend(url)


def forget_source_failure() -> None:
    """Try the analytics source again on the next rerun (and reconnect)."""
    _failures.clear()
    _backend.clear()


def _source(conn: duckdb.DuckDBPyConnection) -> tuple[source.Source, str, str | None]:
    """(the rerun's source, its cache key, the warehouse's label or None).

    Warehouse mode when a source URL is configured; if it cannot be reached the local store
    is used and a warning says why."""
    secrets = app_secrets()
    url = warehouse.configured_url(secrets)
    if not url:
        return source.from_duckdb(conn), "local", None
    mapping: warehouse.SourceMapping | None = None
    try:
        mapping = warehouse.configured_mapping(secrets)
        key = warehouse.source_key(url, mapping)
        failed = _failures.get(key)
        if failed and time.monotonic() - failed[0] < SOURCE_RETRY_SECONDS:
            _source_warning(failed[1])
            return source.from_duckdb(conn), "local", None
        src = warehouse.connect(url, mapping=mapping, state=conn, backend=_backend(url))
        _failures.pop(key, None)
    except RelmarkError as exc:
        _failures[warehouse.source_key(url, mapping)] = (time.monotonic(), str(exc))
        _source_warning(str(exc))
        return source.from_duckdb(conn), "local", None
    epoch = int(time.time() // WAREHOUSE_CACHE_SECONDS)
    return src, f"{key}:{epoch}", src.label


def _source_warning(message: str) -> None:
    st.warning(
        f"{message} Until it answers, pages show the data in Relmark's own store.",
        icon=":material/cloud_off:",
    )
    if st.button("Try the analytics source again", key="source_retry"):
        forget_source_failure()
        st.rerun()


def _source_failed(ctx: RerunContext | None, exc: Exception) -> bool:
    """Show a warehouse's failure during a page as a sentence; remember it (local data next)."""
    if ctx is None or ctx.source_label is None or not warehouse.is_source_error(exc):
        return False
    err = warehouse.explain(exc, label=ctx.source_label)
    log.warning("analytics source failed: %s", err)
    key = ctx.source_key.split(":", 1)[0]
    _failures[key] = (time.monotonic(), str(err))
    st.error(f"{err}", icon=":material/cloud_off:")
    if st.button("Show the page on Relmark's own data", key="source_fallback"):
        st.rerun()
    return True


def _first_start(conn: duckdb.DuckDBPyConnection) -> None:
    """Load the demo shop on the very first start, so a newcomer sees every page alive."""
    if store.get_meta(conn, "initialised") == "1":
        return
    bar = st.progress(0.0, text="Preparing a demo shop so you can look around…")
    demo.load_demo(conn, progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg))
    bar.empty()


def _banner(ctx: RerunContext) -> None:
    if ctx.demo:
        st.info(
            "**Demo data** — you are looking at an invented shop. Import your own exports on the "
            "Data page; the demo data is removed when you do.",
            icon=":material/science:",
        )


@contextmanager
def page_frame() -> Iterator[RerunContext | None]:
    """Run a page inside an open store; show errors as plain sentences.

    Yields the rerun's context, or None when the store could not be opened (busy, refused): the
    sentence is on the page then, and the caller skips the page.
    """
    path = store.default_db_path()
    ctx: RerunContext | None = None
    yielded = False
    try:
        with store.open_db(path, wait_seconds=APP_BUSY_WAIT_SECONDS) as conn:
            store.limit_memory(conn)  # one process serves everyone's pages
            actor = login.gate(conn)  # team mode: stops the rerun at the sign-in page
            _first_start(conn)
            src, source_key, label = _source(conn)
            ctx = RerunContext(
                conn=conn,
                src=src,
                db_path=path,
                version=store.data_version(conn),
                demo=store.is_demo(conn) and label is None,
                source_key=source_key,
                source_label=label,
                actor=actor,
            )
            if label is not None:
                st.sidebar.caption(f"Reading the analytics source {label}")
            token = set_current(ctx)
            try:
                _banner(ctx)
                if not roles.may(Role.EDITOR):
                    roles.hide_table_downloads()
                with sharing(ctx):  # saved-view links, locked links; the Share panel after the page
                    ctx.filters = sidebar_filters(ctx)
                    yielded = True
                    yield ctx
                export_panel(ctx)  # after the page: the URL holds its choices
            finally:
                reset_current(token)
    except DatabaseBusy as exc:
        st.warning(str(exc), icon=":material/hourglass_top:")
        st.button("Try again", key="busy_retry")
    except RelmarkError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:
        if _source_failed(ctx, exc):
            return
        ref = uuid.uuid4().hex[:8]
        log.exception("unexpected error, reference %s", ref)
        st.error(
            f"Sorry — something went wrong on our side and this page could not be shown "
            f"(reference **{ref}**). Your data is safe. Try again, or choose another page; if it "
            "keeps happening, quote the reference to your administrator.",
            icon=":material/error:",
        )
    if not yielded:  # failed before the page could run: the caller must not run it
        yield None
