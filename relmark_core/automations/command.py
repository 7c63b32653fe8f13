"""``python -m relmark_core automations ...``: lifecycle automations on a schedule (a contract).

    automations run [--dry-run] [--as-of YYYY-MM-DD]
        Runs every active automation. One JSON object per automation, on its own line:
        ``{"name", "new_members", "batch_file", "sent", "holdout", "qualified", "new_people",
        "excluded_cooldown", "excluded_suppressed", "excluded_no_consent", "excluded_cap",
        "dry_run"}``. ``new_members`` counts the people added to the batch (sent and held out);
        ``batch_file`` is the new CSV's path, or null when nobody was sent. Safe to run twice:
        the second run finds nobody new (0, null). ``--dry-run`` writes nothing.
    automations list [--format csv|json]
        One row per automation: ``automation_id``, ``name``, ``status``, ``description`` (the
        sentence), ``last_run_at``, ``last_sent``.

Exit codes as every command: 0 done, 2 usage, 3 refused, 4 busy.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

from relmark_core import errors, source
from relmark_core.automations.run import list_automations, run_automations, run_log
from relmark_core.periods import parse_date
from relmark_core.reports import render

__all__ = ["add_arguments", "run", "LIST_COLUMNS", "LIST_FORMATS", "CLI_ACTOR"]

LIST_COLUMNS = ("automation_id", "name", "status", "description", "last_run_at", "last_sent")
LIST_FORMATS = ("csv", "json")
CLI_ACTOR = "cli"


def add_arguments(p: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """The subcommands and options of ``automations`` (names are part of the CLI contract)."""
    sub = p.add_subparsers(dest="automations_command", required=True, parser_class=parser_class)
    rp = sub.add_parser("run", help="run every active automation; one JSON line each")
    rp.add_argument("--dry-run", action="store_true", help="say what would be added; write nothing")
    rp.add_argument("--as-of", help="evaluate the triggers at the end of this day (YYYY-MM-DD; "
                    "default today, UTC)")
    lp = sub.add_parser("list", help="list the automations with their status and last run")
    lp.add_argument("--format", choices=LIST_FORMATS, default="csv")


def run(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    if args.automations_command == "run":
        as_of = parse_date(args.as_of, field="--as-of date") if args.as_of else None
        for r in run_automations(conn, as_of=as_of, dry_run=args.dry_run, origin="cli",
                                 src=source.from_duckdb(conn), actor=CLI_ACTOR):
            sys.stdout.write(json.dumps(r.record(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return errors.EXIT_OK
    runs = run_log(conn, include_baseline=False)
    rows = []
    for s in list_automations(conn):
        mine = runs[runs["automation_id"] == s.automation_id]
        last = mine.iloc[0] if len(mine) else None
        rows.append({
            "automation_id": s.automation_id,
            "name": s.automation.name,
            "status": s.automation.status,
            "description": s.automation.sentence(),
            "last_run_at": None if last is None else last["ran_at"].isoformat(timespec="seconds"),
            "last_sent": None if last is None else int(last["sent"]),
        })
    out = render(rows, args.format)
    if not rows and args.format == "csv":
        out = ",".join(LIST_COLUMNS) + "\n"
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return errors.EXIT_OK
