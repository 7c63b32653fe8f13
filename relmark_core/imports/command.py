"""``python -m relmark_core import FILE...``: the import command (a contract, see README).

Prints one JSON object per file, on its own line::

    {"file", "status": "loaded"|"rejected", "format", "kind", "rows_read", "rows_loaded",
     "rows_rejected", "message"}

Each file is its own transaction. Exit 0 when every file loaded, 3 when any file was refused as
a whole, 4 when the database is busy, 2 on a usage error, 1 on an internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import duckdb

from relmark_core import errors
from relmark_core.imports.formats import FORMAT_NAMES, KINDS
from relmark_core.imports.load import ImportRefused, commit
from relmark_core.imports.mapping import ImportMapping, mapping_from_json

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``import`` (names are part of the CLI contract)."""
    p.add_argument("files", nargs="+", metavar="FILE", help="exports to import (CSV, TSV, xlsx)")
    p.add_argument("--kind", choices=KINDS, help="what the files hold (default: recognised)")
    p.add_argument("--format", choices=FORMAT_NAMES, help="the export format (default: recognised)")
    p.add_argument("--mapping", metavar="mapping.json",
                   help="JSON object from Relmark field to column, for files not recognised")
    p.add_argument("--date-order", choices=("dmy", "mdy"),
                   help="day/month order of ambiguous dates like 03/04/2024")
    p.add_argument("--keep-demo", action="store_true",
                   help="keep the demo data (default: removed before the first import)")


def _load_mapping(path: str, kind: str | None) -> ImportMapping:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise _Usage(f"--mapping: cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise _Usage(f"--mapping: {path} is not valid JSON ({exc}).") from exc
    try:
        return mapping_from_json(obj, kind=kind, where=f"mapping in {path}")  # type: ignore[arg-type]
    except errors.InputRefused as exc:
        raise _Usage(f"--mapping: {exc}") from exc


class _Usage(Exception):
    pass


def _line(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def run(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    """Import each file in turn; print its JSON line; return the exit code."""
    try:
        mapping = _load_mapping(args.mapping, args.kind) if args.mapping else None
    except _Usage as exc:
        sys.stderr.write(f"python -m relmark_core import: {exc}\n")
        return errors.EXIT_USAGE
    refused = False
    loaded = False
    for file in args.files:
        name = Path(file).name
        try:
            result = commit(
                conn, file, file_name=name, kind=args.kind, format=args.format,
                mapping=mapping, date_order=args.date_order, keep_demo=args.keep_demo,
            )
            _line(result.as_record())
            loaded = loaded or not result.already_imported
        except errors.DatabaseBusy:
            raise
        except errors.InputRefused as exc:
            refused = True
            info = exc if isinstance(exc, ImportRefused) else None
            _line({
                "file": name,
                "status": "rejected",
                "format": info.format if info else None,
                "kind": info.kind if info else args.kind,
                "rows_read": info.rows_read if info else 0,
                "rows_loaded": 0,
                "rows_rejected": info.rows_rejected if info else 0,
                "message": str(exc),
            })
    if loaded:  # re-evaluate the automations; a failure is reported, the imports stay
        from relmark_core.automations import after_import

        if sentence := after_import(conn, actor="cli").sentence():
            sys.stderr.write(sentence + "\n")
    return errors.EXIT_REFUSED if refused else errors.EXIT_OK
