"""``python -m relmark_core export-report``: a page's report as an HTML or PDF file.

    python -m relmark_core export-report --page overview --format pdf --out overview.pdf \\
        --start 2024-03-01 --end 2024-04-01 --param grain=month

``--start``/``--end`` as in ``report kpis`` (end exclusive; either side defaults to the data's
first/last day); without both, the app's default range (the last 90 days to the as-of date).
``--param NAME=VALUE`` sets a page choice exactly as the page's URL does (``tab=churn``).
``--view ID`` exports a saved view: its page with its settings (relative ranges count back
from the view's as-of date, or today). The analytics source is the one ``report`` reads.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import duckdb

from relmark_core import errors, source, warehouse
from relmark_core.errors import InputRefused
from relmark_core.metrics.kpis import data_span
from relmark_core.periods import DEFAULT_PRESET, PRESETS, DateRange, parse_date, preset_range
from relmark_core.reports import range_args, today_utc
from relmark_core.segments import SegmentFilter, get_segment
from relmark_core.sharing.report import Report, ReportFilters, ReportInputs
from relmark_core.sharing.views import get_view

__all__ = ["add_arguments", "run", "filters_from_params", "EXPORT_FORMATS", "REPORT_PAGE_NAMES"]

EXPORT_FORMATS = ("pdf", "html")
# The pages with a report (the keys of report_pages.REPORT_PAGES; a test checks they agree).
# Named here so that building the CLI's parser does not import the report builders (and scipy
# with them): every command, an import too, would pay about a second for it.
REPORT_PAGE_NAMES = ("overview", "customers", "rfm", "feedback", "retention", "loyalty",
                     "segments", "offers", "data", "settings")


def add_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--page", choices=list(REPORT_PAGE_NAMES), help="the page to export")
    which.add_argument("--view", type=int, metavar="ID",
                       help="a saved view's id (Dashboards page): its page with its settings")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="pdf")
    p.add_argument("--out", required=True, help="file to write")
    p.add_argument("--start", help="first day, inclusive (YYYY-MM-DD)")
    p.add_argument("--end", help="day after the last, exclusive (YYYY-MM-DD)")
    p.add_argument("--as-of", help="as-of date (default: the day before --end, else today)")
    p.add_argument("--no-compare", action="store_true",
                   help="leave out the comparison with the previous period")
    p.add_argument("--segment", type=int, help="a saved segment's id: only its customers")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a page choice as in the page's URL, e.g. grain=month (repeatable)")


def _choices(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputRefused(f"--param '{pair}' is not NAME=VALUE, e.g. --param grain=month.")
        out[name.strip()] = value.strip()
    return out


def filters_from_params(
    src: source.Source, conn: duckdb.DuckDBPyConnection, params: Mapping[str, str]
) -> ReportFilters:
    """The sidebar's filters a view's URL settings mean (``range``, ``start``, ``end``,
    ``as_of``, ``compare``, ``segment``), read the way the sidebar reads them."""
    as_of = parse_date(params["as_of"], field="as-of date") if params.get("as_of") else today_utc()
    preset = params.get("range") or DEFAULT_PRESET
    if preset == "custom" and params.get("start") and params.get("end"):
        rng = DateRange(start=parse_date(params["start"], field="start date"),
                        end=parse_date(params["end"], field="end date"))
    else:
        preset = preset if preset in PRESETS and preset != "custom" else DEFAULT_PRESET
        first = data_span(src)[0] if preset == "all_time" else None
        rng = preset_range(preset, as_of=as_of, first_day=first)
    raw = params.get("segment", "")
    return ReportFilters(rng=rng, as_of=as_of, compare=params.get("compare") != "0",
                         preset=preset, segment=_segment(conn, int(raw), as_of) if raw.isdigit() else None)


def _segment(conn: duckdb.DuckDBPyConnection, segment_id: int, as_of: date) -> SegmentFilter:
    seg = get_segment(conn, segment_id)
    return SegmentFilter(segment_id=seg.segment_id, name=seg.name, definition=seg.definition,
                         as_of=as_of)


def _source(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> tuple[source.Source, str | None]:
    """The analytics source ``--source`` (or the configured one) names; else the local store."""
    url = getattr(args, "source", None) or warehouse.configured_url()
    if not url:
        return source.from_duckdb(conn), None
    mapping = (warehouse.load_mapping(args.source_mapping) if getattr(args, "source_mapping", None)
               else warehouse.configured_mapping())
    wsrc = warehouse.connect(url, mapping=mapping, state=conn)
    return wsrc, wsrc.label


def run(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    """Write the report file; print its path."""
    from relmark_core.sharing.report_pages import REPORT_PAGES

    src, label = _source(conn, args)
    if args.view is not None:
        view = get_view(conn, args.view)
        if view.page not in REPORT_PAGES:
            raise InputRefused(
                f"The saved view {args.view} shows the page '{view.page}', which has no report "
                f"yet. Pages with reports: {', '.join(REPORT_PAGES)}."
            )
        choices = {**view.params, **_choices(args.param)}
        filters = filters_from_params(src, conn, choices)
        return _write(args, _build(view.page, ReportInputs(
            src=src, conn=conn, filters=filters, choices=choices, source_label=label)))
    if args.start or args.end:
        first, last = data_span(src)
        rng = range_args(args, first, last)
        preset = "custom"
    else:
        rng = None
        preset = DEFAULT_PRESET
    if args.as_of:
        as_of = parse_date(args.as_of, field="--as-of date")
    elif rng is not None and args.end:
        as_of = rng.end - timedelta(days=1)
    else:
        as_of = today_utc()
    if rng is None:
        rng = preset_range(DEFAULT_PRESET, as_of=as_of)
    segment = None if args.segment is None else _segment(conn, args.segment, as_of)
    filters = ReportFilters(rng=rng, as_of=as_of, compare=not args.no_compare, preset=preset,
                            segment=segment)
    return _write(args, _build(args.page, ReportInputs(
        src=src, conn=conn, filters=filters, choices=_choices(args.param), source_label=label)))


def _build(page: str, inputs: ReportInputs) -> Report:
    from relmark_core.sharing.report_pages import build_report

    try:
        return build_report(page, inputs)
    except Exception as exc:
        if inputs.source_label is not None and warehouse.is_source_error(exc):
            raise warehouse.explain(exc, label=inputs.source_label) from exc
        raise


def _write(args: argparse.Namespace, report: Report) -> int:
    out = Path(args.out)
    if args.format == "html":
        from relmark_core.sharing.render_html import render_html

        data = render_html(report).encode("utf-8")
    else:
        from relmark_core.sharing.render_pdf import render_pdf

        data = render_pdf(report)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InputRefused(
            f"Relmark could not write {out}: {exc.strerror}. Check the folder exists and is "
            "writable."
        ) from exc
    print(out)
    return errors.EXIT_OK
