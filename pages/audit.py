"""Audit log: who changed what and when, with filters (kept in the URL) and a CSV download.
Admins only; everyone else gets a sentence saying so."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from relmark_core import audit
from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.reports import today_utc
from relmark_ui import current, roles
from relmark_ui.widgets import url_choice, url_date

EVERYONE = "Everyone"
EVERY_CHANGE = "Every change"
DEFAULT_DAYS = 30  # the "From" day defaults to this many days back (or the first entry, if later)

ctx = current()
st.title("Audit log")


def _log() -> None:
    st.write(
        "Every change made in Relmark — imports and undos, segments, loyalty versions, offers, "
        "users and roles, settings and data resets — with who made it and when (UTC). Nothing "
        "here can be edited or deleted; resets keep the log."
    )
    today = today_utc()
    found = audit.span(ctx.conn, actor=ctx.actor)
    if found is None:
        st.info("Nothing has been changed yet.")
        return
    first = max(found[0], today - timedelta(days=DEFAULT_DAYS))
    c1, c2, c3, c4 = st.columns(4)
    start = url_date("From (UTC)", key="audit_from", param="from", default=first, where=c1)
    end = url_date("To (UTC)", key="audit_to", param="to", default=today, where=c2)
    who = url_choice("Who", [EVERYONE, *audit.actors(ctx.conn, actor=ctx.actor)],
                     key="audit_who", param="who", default=EVERYONE, where=c3)
    action = url_choice("Change", [EVERY_CHANGE, *audit.actions(ctx.conn, actor=ctx.actor)],
                        key="audit_action", param="action", default=EVERY_CHANGE, where=c4)
    query = audit.AuditQuery(start=start, end=end, who=None if who == EVERYONE else who,
                             action=None if action == EVERY_CHANGE else action)
    try:
        total = audit.count_entries(ctx.conn, query, actor=ctx.actor)
        shown = audit.list_entries(ctx.conn, query, actor=ctx.actor)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    st.caption(f"{query.sentence()}: {total:,} " + ("entry" if total == 1 else "entries")
               + (f"; the newest {audit.PAGE_ROWS:,} are shown, the CSV has them all."
                  if total > len(shown) else "."))
    st.dataframe(
        shown, hide_index=True, width="stretch", key="audit_table",
        column_config={
            "logged_at": st.column_config.DatetimeColumn("When (UTC)",
                                                         format="YYYY-MM-DD HH:mm:ss"),
            "actor": st.column_config.TextColumn("Who"),
            "action": st.column_config.TextColumn("Change"),
            "detail": st.column_config.TextColumn("What", width="large"),
        },
    )
    st.download_button(
        "Download CSV", data=audit.export_csv(ctx.conn, query, actor=ctx.actor),
        file_name=audit.export_file_name(today), mime="text/csv", key="audit_csv",
        icon=":material/download:", on_click="ignore", disabled=total == 0,
    )


if roles.may(Role.ADMIN):
    _log()
else:
    have = roles.role()
    st.write(
        f"The audit log is for admins. Your role ({have.value if have else 'none'}) cannot "
        "open it; ask an admin of this Relmark if you need to know who changed something."
    )
