"""The frame around every page: open the store for this rerun, first-start demo data, the common
sidebar, the demo banner, and the error policy (a plain message, never a traceback).

The store is opened for one rerun and closed at its end, so a scheduled CLI import can write
between two clicks.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import streamlit as st

from relmark_core import demo, source, store
from relmark_core.errors import DatabaseBusy, RelmarkError
from relmark_ui.context import RerunContext, reset_current, set_current
from relmark_ui.widgets import sidebar_filters

__all__ = ["page_frame", "APP_BUSY_WAIT_SECONDS"]

APP_BUSY_WAIT_SECONDS = 8.0
log = logging.getLogger("relmark.app")


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
    """Run a page inside an open store; show errors as plain sentences."""
    path = store.default_db_path()
    try:
        with store.open_db(path, wait_seconds=APP_BUSY_WAIT_SECONDS) as conn:
            _first_start(conn)
            ctx = RerunContext(
                conn=conn,
                src=source.from_duckdb(conn),
                db_path=path,
                version=store.data_version(conn),
                demo=store.is_demo(conn),
            )
            token = set_current(ctx)
            try:
                _banner(ctx)
                ctx.filters = sidebar_filters(ctx)
                yield ctx
            finally:
                reset_current(token)
    except DatabaseBusy as exc:
        st.warning(str(exc), icon=":material/hourglass_top:")
        st.button("Try again", key="busy_retry")
    except RelmarkError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("unexpected error, reference %s", ref)
        st.error(
            f"Sorry — something went wrong on our side and this page could not be shown "
            f"(reference **{ref}**). Your data is safe. Try again, or choose another page; if it "
            "keeps happening, quote the reference to your administrator.",
            icon=":material/error:",
        )
