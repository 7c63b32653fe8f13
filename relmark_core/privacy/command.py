"""``python -m relmark_core erase`` and ``access``: erasure and access requests (a contract).

    erase --email ADDRESS [--phone NUMBER] [--yes]
        Says what will be erased, asks (or refuses without --yes when not at a terminal), erases
        and prints one sentence of what was done. The person's data never appears in the output.
    access --email ADDRESS [--phone NUMBER] --out FILE
        Writes everything Relmark holds about the person to FILE (JSON).

Exit codes as every command: 0 done, 2 usage, 3 refused (nobody matches, not confirmed), 4 busy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from relmark_core import errors
from relmark_core.privacy import access, erasure

__all__ = ["add_erase_arguments", "add_access_arguments", "run_erase", "run_access", "CLI_ACTOR"]

CLI_ACTOR = "cli"


def _who(p: argparse.ArgumentParser) -> None:
    p.add_argument("--email", help="the person's email address (case and spaces ignored)")
    p.add_argument("--phone", help="the person's phone number (only its digits are compared)")


def add_erase_arguments(p: argparse.ArgumentParser) -> None:
    _who(p)
    p.add_argument("--yes", action="store_true",
                   help="erase without asking (required when not run from a terminal)")


def add_access_arguments(p: argparse.ArgumentParser) -> None:
    _who(p)
    p.add_argument("--out", required=True, help="the JSON file to write (replaced if it exists)")


def run_erase(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    person = erasure.find_person(conn, email=args.email, phone=args.phone)
    if not person.customer_ids:
        raise errors.InputRefused(
            "Nobody in Relmark has that email address or phone number. Nothing was changed."
        )
    print(f"This erases {person.sentence()}: personal details and comments are removed for "
          "good; orders stay as anonymous rows.")
    if not args.yes:
        if not sys.stdin.isatty():
            raise errors.InputRefused(
                "Not erased: add --yes to erase without being asked (this is not a terminal, "
                "so nobody can answer). Nothing was changed."
            )
        if input("Type yes to erase: ").strip().lower() != "yes":
            raise errors.InputRefused("Not erased. Nothing was changed.")
    result = erasure.erase_person(conn, email=args.email, phone=args.phone, actor=CLI_ACTOR)
    print(result.sentence())
    return errors.EXIT_OK


def run_access(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    data = access.access_request(conn, email=args.email, phone=args.phone, actor=CLI_ACTOR)
    out = Path(args.out)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise errors.InputRefused(
            f"Could not write {out}: {exc.strerror}. Choose a folder you can write to."
        ) from exc
    print(f"Wrote everything Relmark holds about the person to {out} ({len(data):,} bytes).")
    return errors.EXIT_OK
