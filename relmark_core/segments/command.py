"""``python -m relmark_core segment ...``: saved segments from the command line (a contract).

    segment list [--format csv|json]
        One row per saved segment: ``segment_id``, ``name``, ``description`` (the sentence),
        ``updated_at``, ``updated_by``.
    segment export --segment NAME_OR_ID [--format csv|xlsx] [--out FILE]
                   [--properties rfm_group,last_order_date,...] [--include-unconsented]
                   [--as-of YYYY-MM-DD]
        The members as an email-tool import file (Email, First Name, Last Name, properties) to
        FILE or standard output; a one-line summary (customers written, left out) on standard
        error. Only customers who accept email marketing unless --include-unconsented.

Exit codes as every command: 0 done, 2 usage, 3 refused (unknown segment or property), 4 busy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from relmark_core import errors, source
from relmark_core.periods import parse_date
from relmark_core.reports import render, today_utc
from relmark_core.segments.export import (
    DEFAULT_PROPERTIES,
    EXPORT_FORMATS,
    EXPORT_PROPERTIES,
    export_members,
    parse_properties,
)
from relmark_core.segments.saved import find_segment, list_segments

__all__ = ["add_arguments", "run", "LIST_COLUMNS", "LIST_FORMATS"]

LIST_COLUMNS = ("segment_id", "name", "description", "updated_at", "updated_by")
LIST_FORMATS = ("csv", "json")


def add_arguments(p: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """The subcommands and options of ``segment`` (names are part of the CLI contract)."""
    sub = p.add_subparsers(dest="segment_command", required=True, parser_class=parser_class)
    lp = sub.add_parser("list", help="list saved segments")
    lp.add_argument("--format", choices=LIST_FORMATS, default="csv")
    ep = sub.add_parser("export", help="write a saved segment's members for Klaviyo/Mailchimp")
    ep.add_argument("--segment", required=True, metavar="NAME_OR_ID",
                    help="the segment's name (case ignored) or id")
    ep.add_argument("--format", choices=EXPORT_FORMATS, default="csv")
    ep.add_argument("--out", metavar="FILE", help="file to write (default: standard output)")
    ep.add_argument(
        "--properties",
        help="comma-separated columns after Email, First Name, Last Name (default: "
        f"{','.join(DEFAULT_PROPERTIES)}; choose from {','.join(EXPORT_PROPERTIES)})",
    )
    ep.add_argument("--include-unconsented", action="store_true",
                    help="also write customers who do not accept email marketing")
    ep.add_argument("--as-of", help="membership at the end of this day (YYYY-MM-DD; default "
                    "today, UTC)")


def run(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    src = source.from_duckdb(conn)
    if args.segment_command == "list":
        rows = [
            {
                "segment_id": s.segment_id,
                "name": s.name,
                "description": s.definition.sentence(src.reporting_currency),
                "updated_at": s.updated_at.isoformat(timespec="seconds"),
                "updated_by": s.updated_by,
            }
            for s in list_segments(conn)
        ]
        out = render(rows, args.format)
        if not rows and args.format == "csv":
            out = ",".join(LIST_COLUMNS) + "\n"
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
        return errors.EXIT_OK
    seg = find_segment(conn, args.segment)
    as_of = parse_date(args.as_of, field="--as-of date") if args.as_of else today_utc()
    result = export_members(
        src,
        definition=seg.definition,
        as_of=as_of,
        name=seg.name,
        fmt=args.format,
        properties=parse_properties(args.properties),
        include_unconsented=args.include_unconsented,
    )
    if args.out:
        path = Path(args.out)
        try:
            path.write_bytes(result.data)
        except OSError as exc:
            raise errors.InputRefused(
                f"Could not write {path}: {exc.strerror or exc}. Check the folder exists and is "
                "writable."
            ) from exc
        where = str(path)
    else:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
        where = "standard output"
    sys.stderr.write(f"“{seg.name}” (id {seg.segment_id}) to {where}: {result.summary()}\n")
    return errors.EXIT_OK
