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

from relmark_core import errors, source, store
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
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("demo", help="replace the data with the generated demo shop")
    d.add_argument("--customers", type=int, default=None, help="number of customers (default 5000)")
    d.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    d.add_argument("--end", help="last day of the demo data (YYYY-MM-DD; default today)")

    r = sub.add_parser("report", help="print a report as CSV or JSON")
    rsub = r.add_subparsers(dest="report", required=True, parser_class=_Parser)
    for rep in REPORTS.values():
        rp = rsub.add_parser(rep.name, help=rep.help)
        rep.add_arguments(rp)
        rp.add_argument("--format", choices=FORMATS, default="csv")
        if not any(a.dest == "as_of" for a in rp._actions):
            rp.add_argument("--as-of", help="date relative periods count back from (default today)")
    return p


def _run(args: argparse.Namespace) -> int:
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
        if args.command == "report":
            rep = REPORTS[args.report]
            out = render(rep.run(source.from_duckdb(conn), args), args.format)
            sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
            return errors.EXIT_OK
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
