"""``python -m relmark_core``: the command line for scheduled jobs and scripts.

The commands, options, output columns and exit codes are a contract (see README):
0 success, 2 usage error, 3 input refused (with a message), 4 database busy, 1 internal error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb

from relmark_core import errors, source, store, warehouse
from relmark_core.periods import parse_date
from relmark_core.reports import FORMATS, REPORTS, render

__all__ = ["main", "build_parser"]

log = logging.getLogger("relmark")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit with our usage code (2) and a plain message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: {message}\n")
        raise SystemExit(errors.EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m relmark_core", description="Relmark from the command line.")
    p.add_argument("--db", help="database file (default: $RELMARK_DB or data/relmark.duckdb)")
    p.add_argument(
        "--source",
        help="analytics source URL that reports read, e.g. postgresql://user:pw@host/db "
        f"(default: ${warehouse.SOURCE_ENV}, which keeps the password out of the process list; "
        "none: the local database)",
    )
    p.add_argument(
        "--source-mapping",
        help="TOML or JSON file naming the source's tables and columns "
        f"(default: ${warehouse.MAPPING_ENV}; none: Relmark's own names)",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser(
        "source-check", help="connect to the analytics source and say which tables it holds"
    )

    d = sub.add_parser("demo", help="replace the data with the generated demo shop")
    d.add_argument("--customers", type=int, default=None, help="number of customers (default 5000)")
    d.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    d.add_argument("--end", help="last day of the demo data (YYYY-MM-DD; default today)")

    from relmark_core.imports import command as import_command

    import_command.add_arguments(
        sub.add_parser("import", help="import exports (Shopify, Stripe, ... or any CSV/xlsx)")
    )

    from relmark_core.segments import command as segment_command

    segment_command.add_arguments(
        sub.add_parser("segment", help="list saved segments, or export one for an email tool"),
        _Parser,
    )

    from relmark_core import accounts_command

    accounts_command.add_arguments(
        sub.add_parser("users", help="team mode's accounts: add, list, set-role, disable, "
                       "enable, reset-password"),
        _Parser,
    )

    from relmark_core.automations import command as automations_command

    automations_command.add_arguments(
        sub.add_parser("automations", help="run the lifecycle automations (one JSON line each), "
                       "or list them"),
        _Parser,
    )

    b = sub.add_parser("backup", help="write one backup file of everything (data, definitions, "
                       "history, settings, audit log)")
    b.add_argument("--out", required=True, help="the backup file to write (.zip; replaced if it "
                   "exists)")
    rs = sub.add_parser("restore", help="replace the data, definitions and history with a "
                        "backup's (asks first)")
    rs.add_argument("file", help="a backup file made by `backup` or the Data page")
    rs.add_argument("--yes", action="store_true",
                    help="restore without asking (required when not run from a terminal)")

    from relmark_core.privacy import command as privacy_command

    privacy_command.add_erase_arguments(
        sub.add_parser("erase", help="erase a person (erasure request); orders stay anonymous")
    )
    privacy_command.add_access_arguments(
        sub.add_parser("access", help="write everything held about a person (access request)")
    )

    from relmark_core.sharing import report_command

    report_command.add_arguments(
        sub.add_parser("export-report", help="write a page's report as a PDF or HTML file")
    )

    r = sub.add_parser("report", help="print a report as CSV or JSON")
    rsub = r.add_subparsers(dest="report", required=True, parser_class=_Parser)
    for rep in REPORTS.values():
        rp = rsub.add_parser(rep.name, help=rep.help)
        rep.add_arguments(rp)
        rp.add_argument("--format", choices=FORMATS, default="csv")
        if not any(a.dest == "as_of" for a in rp._actions):
            rp.add_argument("--as-of", help="date relative periods count back from (default today)")
    return p


def _source_url(args: argparse.Namespace) -> str | None:
    return args.source or warehouse.configured_url()


def _mapping(args: argparse.Namespace) -> warehouse.SourceMapping:
    if args.source_mapping:
        return warehouse.load_mapping(args.source_mapping)
    return warehouse.configured_mapping()


def _source_check(args: argparse.Namespace) -> int:
    url = _source_url(args)
    if not url:
        raise errors.InputRefused(
            f"No analytics source: give --source URL or set {warehouse.SOURCE_ENV}."
        )
    report = warehouse.test_connection(url, mapping=_mapping(args))
    print("\n".join(report.sentences()))
    return errors.EXIT_OK if report.ok else errors.EXIT_REFUSED


def _report(args: argparse.Namespace, conn: duckdb.DuckDBPyConnection) -> int:
    rep = REPORTS[args.report]
    url = _source_url(args)
    if not url:
        src: source.Source = source.from_duckdb(conn)
        out = render(rep.run(src, args), args.format)
    else:
        wsrc = warehouse.connect(url, mapping=_mapping(args), state=conn)
        try:
            out = render(rep.run(wsrc, args), args.format)
        except Exception as exc:
            if warehouse.is_source_error(exc):
                raise warehouse.explain(exc, label=wsrc.label) from exc
            raise
    sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
    return errors.EXIT_OK


def _backup(args: argparse.Namespace, conn: duckdb.DuckDBPyConnection) -> int:
    from relmark_core import backup

    manifest = backup.create_backup(conn, args.out, actor="cli")
    size = Path(args.out).stat().st_size
    print(f"Backup written to {args.out} ({size:,} bytes): {len(manifest.tables)} tables, "
          f"{manifest.rows('customers'):,} customers, {manifest.rows('orders'):,} orders.")
    return errors.EXIT_OK


def _restore(args: argparse.Namespace, conn: duckdb.DuckDBPyConnection) -> int:
    from relmark_core import backup

    print(backup.describe_backup(conn, args.file))
    if not args.yes:
        if not sys.stdin.isatty():
            raise errors.InputRefused(
                "Not restored: add --yes to restore without being asked (this is not a "
                "terminal, so nobody can answer). Nothing was changed."
            )
        if input("Type yes to restore: ").strip().lower() != "yes":
            raise errors.InputRefused("Not restored. Nothing was changed.")
    result = backup.restore_backup(conn, args.file, actor="cli")
    print(result.sentence)
    return errors.EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.command == "source-check":
        return _source_check(args)
    with store.open_db(args.db) as conn:
        if args.command == "demo":
            from relmark_core import demo

            kwargs: dict[str, object] = {}
            if args.customers is not None:
                if args.customers < 1:
                    raise errors.InputRefused("--customers must be at least 1.")
                kwargs["customers"] = args.customers
            if args.seed is not None:
                kwargs["seed"] = args.seed
            if args.end:
                kwargs["end"] = parse_date(args.end, field="--end date")
            summary = demo.load_demo(conn, **kwargs)  # type: ignore[arg-type]
            print(summary.model_dump_json())
            return errors.EXIT_OK
        if args.command == "import":
            from relmark_core.imports import command as import_command

            return import_command.run(conn, args)
        if args.command == "segment":
            from relmark_core.segments import command as segment_command

            return segment_command.run(conn, args)
        if args.command == "users":
            from relmark_core import accounts_command

            return accounts_command.run(conn, args)
        if args.command == "automations":
            from relmark_core.automations import command as automations_command

            return automations_command.run(conn, args)
        if args.command in ("erase", "access"):
            from relmark_core.privacy import command as privacy_command

            if args.command == "erase":
                return privacy_command.run_erase(conn, args)
            return privacy_command.run_access(conn, args)
        if args.command == "report":
            return _report(args, conn)
        if args.command == "export-report":
            from relmark_core.sharing import report_command

            return report_command.run(conn, args)
        if args.command == "backup":
            return _backup(args, conn)
        if args.command == "restore":
            return _restore(args, conn)
    raise AssertionError(f"unhandled command {args.command}")


def _log_path(args: argparse.Namespace) -> Path:
    db = Path(args.db) if getattr(args, "db", None) else store.default_db_path()
    return db.parent / "relmark.log"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except errors.RelmarkError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("Stopped; nothing half-written was kept.\n")
        return errors.EXIT_INTERNAL
    except Exception:
        ref = uuid.uuid4().hex[:8]
        path = _log_path(args)
        try:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(f"--- error {ref}\n{traceback.format_exc()}\n")
            where = f" Details are in {path}."
        except OSError:
            where = ""
        sys.stderr.write(
            f"Relmark hit an unexpected error (reference {ref}). Nothing half-written was kept."
            f"{where}\n"
        )
        return errors.EXIT_INTERNAL
