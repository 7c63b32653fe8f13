"""``python -m relmark_core users ...``: team mode's accounts from the command line (a contract).

    users add NAME --role admin|editor|viewer [--display-name TEXT] [--email ADDRESS]
              [--password-stdin | --no-password]
        Add an account. The password is read from the first line of standard input with
        --password-stdin, else asked for twice at the terminal (never as an argument, which the
        process list would show). --no-password: company (OIDC) sign-in only, needs --email.
        Adding the first admin switches team mode on.
    users list [--format csv|json]
        One row per account: ``user_name``, ``display_name``, ``email``, ``role``, ``status``
        (enabled | disabled), ``signs_in_with`` (password | company account), ``updated_at``,
        ``updated_by``.
    users set-role NAME ROLE
    users disable NAME / users enable NAME
    users reset-password NAME [--password-stdin]
        Also ends the user's open sessions and clears their failed sign-in count.

The CLI acts as ``cli``, which has every right (it holds the database file anyway); the last
enabled admin cannot be demoted or disabled. Exit codes as every command: 0 done, 2 usage,
3 refused (with a message), 4 busy.
"""

from __future__ import annotations

import argparse
import getpass
import sys

import duckdb

from relmark_core import accounts, errors
from relmark_core.auth import Role
from relmark_core.reports import render

__all__ = ["add_arguments", "run", "CLI_ACTOR", "LIST_COLUMNS", "LIST_FORMATS"]

CLI_ACTOR = "cli"
LIST_COLUMNS = (
    "user_name", "display_name", "email", "role", "status", "signs_in_with", "updated_at",
    "updated_by",
)
LIST_FORMATS = ("csv", "json")
ROLE_CHOICES = [r.value for r in Role]


def add_arguments(p: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """The subcommands and options of ``users`` (names are part of the CLI contract)."""
    sub = p.add_subparsers(dest="users_command", required=True, parser_class=parser_class)
    ap = sub.add_parser("add", help="add an account (the first admin switches team mode on)")
    ap.add_argument("name", metavar="NAME")
    ap.add_argument("--role", required=True, choices=ROLE_CHOICES)
    ap.add_argument("--display-name", default="", help="the person's name, shown in the app")
    ap.add_argument("--email", help="work email: matches the company (OIDC) sign-in")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    how.add_argument("--no-password", action="store_true",
                     help="company sign-in only (needs --email)")
    lp = sub.add_parser("list", help="list the accounts")
    lp.add_argument("--format", choices=LIST_FORMATS, default="csv")
    sp = sub.add_parser("set-role", help="change an account's role")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("role", metavar="ROLE", choices=ROLE_CHOICES)
    for verb in ("disable", "enable"):
        vp = sub.add_parser(verb, help=f"{verb} an account")
        vp.add_argument("name", metavar="NAME")
    rp = sub.add_parser("reset-password", help="give an account a new password")
    rp.add_argument("name", metavar="NAME")
    rp.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of standard input")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise errors.InputRefused(
            "No terminal to ask for the password: pipe it in with --password-stdin."
        )
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise errors.InputRefused("The two passwords differ; nothing was changed. Try again.")
    return first


def _list(conn: duckdb.DuckDBPyConnection, fmt: str) -> None:
    rows = [
        {
            "user_name": u.user_name,
            "display_name": u.display_name,
            "email": u.email or "",
            "role": u.role.value,
            "status": "disabled" if u.disabled else "enabled",
            "signs_in_with": "password" if u.has_password else "company account",
            "updated_at": u.updated_at.isoformat(timespec="seconds"),
            "updated_by": u.updated_by,
        }
        for u in accounts.list_users(conn)
    ]
    out = render(rows, fmt)
    if not rows and fmt == "csv":
        out = ",".join(LIST_COLUMNS) + "\n"
    sys.stdout.write(out if out.endswith("\n") else out + "\n")


def run(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> int:
    cmd = args.users_command
    if cmd == "list":
        _list(conn, args.format)
        return errors.EXIT_OK
    if cmd == "add":
        if args.no_password and not args.email:
            raise errors.InputRefused(
                "--no-password needs --email: without a password the user signs in with the "
                "company account that has this email."
            )
        password = None if args.no_password else _read_password(args.password_stdin)
        user = accounts.add_user(
            conn, args.name, role=Role(args.role), password=password,
            display_name=args.display_name, email=args.email, actor=CLI_ACTOR,
        )
        print(f"Added {user.user_name} as {user.role.value}.")
    elif cmd == "set-role":
        user = accounts.set_role(conn, args.name, Role(args.role), actor=CLI_ACTOR)
        print(f"{user.user_name} is now {user.role.value}.")
    elif cmd in ("disable", "enable"):
        user = accounts.set_disabled(conn, args.name, cmd == "disable", actor=CLI_ACTOR)
        print(f"{user.user_name} is {cmd}d.")
    elif cmd == "reset-password":
        password = _read_password(args.password_stdin)
        user = accounts.reset_password(conn, args.name, password, actor=CLI_ACTOR)
        print(f"{user.user_name} has a new password; their open sessions ended.")
    return errors.EXIT_OK
