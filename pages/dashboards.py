"""Dashboards: the saved views (a page with its filters and choices), opened, renamed, deleted.

A view is saved from any page (sidebar → Share → Save this view). Each has a stable link,
``?saved=<id>``, that keeps working after a rename. The chosen view is in the URL (``pick``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.segments import list_segments
from relmark_core.sharing.views import (
    SavedView,
    delete_view,
    describe_params,
    list_views,
    rename_view,
)
from relmark_ui import current, roles, share
from relmark_ui.tables import plain
from relmark_ui.widgets import url_choice

FLASH = "_db_flash"

ctx = current()
st.title("Dashboards")
st.caption("Saved views: a page with its date range, segment and choices. Save one from any "
           "page in the sidebar (Share → Save this view). A view's link keeps working after a "
           "rename.")
if msg := st.session_state.pop(FLASH, None):
    st.success(msg, icon=":material/check_circle:")

views = {v.view_id: v for v in list_views(ctx.conn)}
titles = share.page_titles()
names = {s.segment_id: s.name for s in list_segments(ctx.conn)}


def _manage(view: SavedView) -> None:
    """Rename and delete (editors)."""
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    new_name = c1.text_input("New name", key=f"db_new_name_{view.view_id}", value=view.name,
                             max_chars=80)
    if c2.button("Rename", key="db_rename", icon=":material/edit:"):
        try:
            renamed = rename_view(ctx.conn, view.view_id, new_name, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
        else:
            st.session_state[FLASH] = f"Renamed to “{plain(renamed.name)}”. Its link stays the same."
            st.rerun()
    with st.popover("Delete", icon=":material/delete:"):
        st.write(f"Delete the saved view “{plain(view.name)}”? Its link will then say it no longer "
                 "exists.")
        if st.button("Yes, delete it", key="db_delete", type="primary"):
            try:
                delete_view(ctx.conn, view.view_id, actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                st.session_state[FLASH] = f"Deleted “{plain(view.name)}”."
                st.session_state.pop("db_pick", None)
                st.rerun()


if not views:
    st.info("No saved views yet. Open a page, set its filters and choices, then use "
            "**Share → Save this view** in the sidebar.")
else:
    table = pd.DataFrame([
        {"name": v.name, "page": titles.get(v.page, v.page),
         "shows": describe_params(v.params, segment_names=names),
         "link": share.saved_view_url(v.view_id), "updated_by": v.updated_by,
         "updated_at": v.updated_at}
        for v in views.values()
    ])
    st.dataframe(table, key="db_table", hide_index=True, column_config={
        "name": st.column_config.TextColumn("Name", width="medium"),
        "page": st.column_config.TextColumn("Page", width="small"),
        "shows": st.column_config.TextColumn("What it shows", width="large"),
        "link": st.column_config.LinkColumn("Link", display_text="Open in a new tab",
                                            help="The view's stable link (?saved=<id>)."),
        "updated_by": st.column_config.TextColumn("Changed by"),
        "updated_at": st.column_config.DatetimeColumn("Changed (UTC)", format="D MMM YYYY, HH:mm"),
    })

    if st.session_state.get("db_pick") not in views:
        st.session_state.pop("db_pick", None)
    pick = url_choice("Saved view", list(views), key="db_pick", param="pick",
                      default=next(iter(views)), format_func=lambda i: views[i].name)
    view = views[pick]
    st.markdown(f"**{plain(view.name)}** · {plain(titles.get(view.page, view.page))} page")
    st.text(describe_params(view.params, segment_names=names))
    st.caption("Its link:")
    with st.container(key="db_view_link"):
        st.code(share.saved_view_url(view.view_id), language=None, wrap_lines=True)
    if view.page in titles:
        st.page_link(f"pages/{view.page}.py", label=f"Open “{plain(view.name)}”",
                     icon=":material/open_in_browser:",
                     query_params={"saved": str(view.view_id)})
    else:
        st.warning(f"This view is of a page this Relmark does not have ({plain(view.page)}).")

    if roles.may(Role.EDITOR):
        _manage(view)
    else:
        roles.read_only_note("rename or delete saved views")
