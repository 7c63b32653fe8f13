"""Who may change what: roles and the check every write function makes.

A fresh install runs in single-user mode: nobody has an account and every actor may do
everything. Team mode starts when the first admin account is created; from then on a write
function called with an actor whose role is too low raises
:class:`~relmark_core.errors.NotAllowed` (the check lives here, in the core, not in the pages).

Actors are user names (strings). ``SYSTEM_ACTORS`` are the names the CLI and the app use for
work done on the machine itself (the CLI has the file, so it has every right anyway).
"""

from __future__ import annotations

from enum import StrEnum

import duckdb

from relmark_core import store
from relmark_core.errors import NotAllowed

__all__ = [
    "ROLE_HELP","Role", "SYSTEM_ACTORS", "ROLE_RANK", "team_mode", "role_of", "require"]


class Role(StrEnum):
    VIEWER = "viewer"  # see and export aggregates
    EDITOR = "editor"  # import, segments, loyalty rules, offers, automations
    ADMIN = "admin"  # users, settings, reset, erasure, backup/restore


ROLE_HELP = (
    "viewer: sees every page and exports reports and totals (no lists of people). "
    "editor: also imports and undoes imports, exports people (segments, offers, follow-ups, "
    "access requests), edits segments, RFM groups, loyalty programs, offers, automations, saved "
    "views and the suppression list. "
    "admin: also manages users and roles, settings and the analytics source, resets the data, "
    "erases people, reads the audit log, and makes or restores backups."
)
ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
SYSTEM_ACTORS = frozenset({"local", "cli"})


def team_mode(conn: duckdb.DuckDBPyConnection) -> bool:
    """True once an enabled admin account exists (then everyone signs in)."""
    return bool(
        store.scalar(
            conn,
            "SELECT count(*) FROM users WHERE role = ? AND NOT disabled",
            [Role.ADMIN.value],
        )
    )


def role_of(conn: duckdb.DuckDBPyConnection, actor: str) -> Role | None:
    """The actor's role: every actor is an admin in single-user mode, and so are
    ``SYSTEM_ACTORS`` (the CLI) in team mode; otherwise the enabled account's role, or None."""
    if actor in SYSTEM_ACTORS or not team_mode(conn):
        return Role.ADMIN
    role = store.scalar(
        conn, "SELECT role FROM users WHERE user_name = ? AND NOT disabled", [actor]
    )
    return None if role is None else Role(role)


def require(conn: duckdb.DuckDBPyConnection, actor: str, role: Role, what: str) -> None:
    """Refuse ``what`` (e.g. "import data") unless ``actor`` has at least ``role``."""
    have = role_of(conn, actor)
    if have is None or ROLE_RANK[have] < ROLE_RANK[role]:
        raise NotAllowed(
            f"Your account ({actor}) may not {what}: that needs the {role.value} role. "
            "Ask an admin of this Relmark to change your role."
        )
