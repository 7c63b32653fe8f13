"""``python -m relmark_core export-report``: a page's report as an HTML or PDF file.

    python -m relmark_core export-report --page overview --format pdf --out overview.pdf \\
        --start 2024-03-01 --end 2024-04-01 --param grain=month

``--start``/``--end`` as in ``report kpis`` (end exclusive; either side defaults to the data's
first/last day); without both, the app's default range (the last 90 days to the as-of date).
``--param NAME=VALUE`` sets a page choice exactly as the page's URL does (``tab=churn``).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import duckdb

from relmark_core import errors, source
from relmark_core.errors import InputRefused
from relmark_core.metrics.kpis import data_span
from relmark_core.periods import DEFAULT_PRESET, parse_date, preset_range
from relmark_core.reports import range_args, today_utc
from relmark_core.segments import SegmentFilter, get_segment
from relmark_core.sharing.report import ReportFilters, ReportInputs
from relmark_core.sharing.report_pages import REPORT_PAGES, build_report

__all__ = ["add_arguments", "run", "EXPORT_FORMATS"]

EXPORT_FORMATS = ("pdf", "html")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--page", required=True, choices=list(REPORT_PAGES), help="the page to export")
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


def run(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace, src: source.Source | None = None) -> int:
    """Write the report file; print its path."""
    src = src or source.from_duckdb(conn)
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
    segment = None
    if args.segment is not None:
        seg = get_segment(conn, args.segment)
        segment = SegmentFilter(segment_id=seg.segment_id, name=seg.name,
                                definition=seg.definition, as_of=as_of)
    filters = ReportFilters(rng=rng, as_of=as_of, compare=not args.no_compare, preset=preset,
                            segment=segment)
    report = build_report(args.page, ReportInputs(src=src, conn=conn, filters=filters,
                                                  choices=_choices(args.param)))
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
