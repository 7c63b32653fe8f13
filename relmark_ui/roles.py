"""Which write controls a page offers the signed-in user.

The core refuses a write the role does not allow (:func:`relmark_core.auth.require`); pages use
these helpers only so a viewer sees no dead buttons, with a plain sentence saying why.
"""

from __future__ import annotations

import streamlit as st

from relmark_core import auth
from relmark_core.auth import ROLE_RANK, Role
from relmark_ui.context import current

__all__ = ["role", "may", "read_only_note", "READ_ONLY_NOTE", "hide_table_downloads"]

READ_ONLY_NOTE = "Your role ({have}) can see and export; ask an admin for {needs} rights to {what}."
_ROLE_KEY = "role"  # RerunContext.extras: the actor's role, looked up once per rerun


def role() -> Role | None:
    """The role of this rerun's actor (admin in single-user mode); None for an unknown one."""
    ctx = current()
    if _ROLE_KEY not in ctx.extras:
        ctx.extras[_ROLE_KEY] = auth.role_of(ctx.conn, ctx.actor)
    have = ctx.extras[_ROLE_KEY]
    return have if isinstance(have, Role) else None


def may(needs: Role) -> bool:
    """True when this rerun's actor has at least the role ``needs``."""
    have = role()
    return have is not None and ROLE_RANK[have] >= ROLE_RANK[needs]


def read_only_note(what: str, *, needs: Role = Role.EDITOR) -> None:
    """A caption where write controls would be, e.g. 'Your role (viewer) can see and export;
    ask an admin for editor rights to import.'"""
    have = role()
    st.caption(READ_ONLY_NOTE.format(have=have.value if have else "none", needs=needs.value,
                                     what=what))


# Tables' own "Download as CSV" button (Streamlit's element toolbar): viewers may export
# aggregates through the pages' buttons, but not personal data from any table.
_HIDE_TABLE_DOWNLOADS = """<style>
[data-testid="stElementToolbarButton"]:has(button[aria-label="Download as CSV"]),
button[aria-label="Download as CSV"] { display: none !important; }
</style>"""


def hide_table_downloads() -> None:
    """Hide every table's CSV download button for this rerun (call for viewers)."""
    st.html(_HIDE_TABLE_DOWNLOADS)
