"""The sidebar's "Export report" panel: the page as it is now (filters and the page's own
choices from the URL, so a saved view or a shared link exports that view) as a self-contained
HTML file or a PDF.

Files are made only on request — a button, then a download button — and kept until the view or
the data change. Drawn by :func:`relmark_ui.frame.page_frame` after the page ran, so the URL
holds every choice the page made in this rerun.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st

from relmark_core.errors import RelmarkError
from relmark_core.sharing.report import Report, ReportFilters, ReportInputs
from relmark_core.sharing.report_pages import REPORT_PAGES, build_report
from relmark_ui.context import RerunContext
from relmark_ui.share import current_page as current_page_name

__all__ = ["export_panel", "current_page_name", "FORMATS"]

log = logging.getLogger("relmark.app")

_READY = "_export_ready"  # (signature, format, file bytes, file name, mime)


def _html(report: Report) -> bytes:
    from relmark_core.sharing.render_html import render_html

    return render_html(report).encode("utf-8")


def _pdf(report: Report) -> bytes:
    from relmark_core.sharing.render_pdf import render_pdf  # matplotlib loads on first use

    return render_pdf(report)


# format -> (button label, extension, mime type, renderer)
FORMATS: dict[str, tuple[str, str, str, Callable[[Report], bytes]]] = {
    "html": ("HTML", "html", "text/html", _html),
    "pdf": ("PDF", "pdf", "application/pdf", _pdf),
}


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{max(n // 1024, 1)} kB"


def _make(ctx: RerunContext, page: str, fmt: str, choices: dict[str, str]) -> tuple[bytes, str]:
    f = ctx.filters
    assert f is not None
    inputs = ReportInputs(
        src=ctx.src,
        conn=ctx.conn,
        filters=ReportFilters(
            rng=f.rng, as_of=f.as_of, compare=f.compare, preset=f.preset, segment=f.segment
        ),
        choices=choices,
        source_label=ctx.source_label,
    )
    report = build_report(page, inputs)
    _, ext, _, render = FORMATS[fmt]
    return render(report), f"{report.file_stem()}.{ext}"


def export_panel(ctx: RerunContext) -> None:
    """Draw the panel in the sidebar (nothing on pages without a report or without filters)."""
    page = current_page_name()
    if ctx.filters is None or not page:
        return
    sb = st.sidebar
    sb.markdown("### Export report")
    if page not in REPORT_PAGES:
        sb.caption("This page has no report yet.")
        return
    choices = {str(k): str(v) for k, v in st.query_params.to_dict().items()}
    signature: Any = (page, tuple(sorted(choices.items())), ctx.filters, ctx.version,
                      ctx.source_key)
    sb.caption("This page with its filters, the data's last import and today's date, as a "
               "file to share: HTML (interactive charts, opens offline) or PDF.")
    cols = sb.columns(len(FORMATS))
    for col, (fmt, (label, _, _, _)) in zip(cols, FORMATS.items(), strict=True):
        if col.button(f"Make {label}", key=f"export_make_{fmt}", icon=":material/description:"):
            with sb, st.spinner(f"Making the {label} report…"):
                try:
                    data, name = _make(ctx, page, fmt, choices)
                except RelmarkError as exc:
                    sb.error(str(exc), icon=":material/error:")
                    continue
                except ImportError as exc:  # an install that skipped requirements.txt
                    sb.error(f"Making a {label} report needs the Python package "
                             f"“{exc.name or 'fpdf2'}”. Install it with `pip install -r "
                             "requirements.txt` and restart Relmark.", icon=":material/error:")
                    continue
                except Exception:
                    ref = uuid.uuid4().hex[:8]
                    log.exception("report export failed, reference %s", ref)
                    sb.error(f"Sorry — the {label} report could not be made (reference {ref}). "
                             "Try again; if it keeps happening, quote the reference to your "
                             "administrator.", icon=":material/error:")
                    continue
            st.session_state[_READY] = (signature, fmt, data, name)
    ready = st.session_state.get(_READY)
    if ready is None or ready[0] != signature:
        return
    _, fmt, data, name = ready
    label, _, mime, _ = FORMATS[fmt]
    sb.download_button(
        f"Download {label} ({_size(len(data))})", data, file_name=name, mime=mime,
        key=f"export_download_{fmt}", icon=":material/download:", on_click="ignore",
        type="primary",
    )
