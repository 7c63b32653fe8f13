"""Privacy: consent per channel and the suppression list (erasure and access requests follow).

One function per section; the page runs them in order at the bottom. Addresses are personal
data: the suppression search lives in the session, never in the URL.
"""

from typing import Any

import streamlit as st

from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.privacy import consent, suppression
from relmark_ui import current, roles

ctx = current()

SEARCH_KEY = "pv_supp_search"
FLASH_KEY = "_pv_flash"
MAX_REMOVE_CHOICES = 200  # entries offered for removal (search to narrow the list)


def _flash() -> None:
    """The last action's result, shown once after the rerun it caused."""
    msg = st.session_state.pop(FLASH_KEY, None)
    if msg:
        st.success(msg)


def consent_section() -> None:
    st.subheader("Consent per channel", help=consent.STATUS_HELP["source"])
    st.caption("Who agreed to be contacted on each channel, and where Relmark learned it. "
               "Exports keep only people with consent on their channel.")
    overview = consent.consent_overview(ctx.conn)
    for row in overview.itertuples(index=False):
        name, yes, no, unknown = st.columns([2, 1, 1, 1])
        name.markdown(f"**{row.label}**")
        yes.metric("Gave consent", f"{row.granted:,}", help=consent.STATUS_HELP["granted"])
        no.metric("Withdrawn or refused", f"{row.withdrawn:,}",
                  help=consent.STATUS_HELP["withdrawn"])
        unknown.metric("Unknown", f"{row.unknown:,}", help=consent.STATUS_HELP["unknown"])
    by_source = consent.consent_by_source(ctx.conn)
    st.markdown("**By source**")
    if by_source.empty:
        st.caption("No consent recorded yet: import a customers export that carries it (for "
                   "example Shopify's or Klaviyo's).")
        return
    st.dataframe(
        by_source.drop(columns="channel"), hide_index=True, key="pv_consent_sources",
        column_config={
            "label": "Channel",
            "source": st.column_config.TextColumn("Source", help=consent.STATUS_HELP["source"]),
            "granted": st.column_config.NumberColumn("Gave consent",
                                                     help=consent.STATUS_HELP["granted"]),
            "withdrawn": st.column_config.NumberColumn("Withdrawn or refused",
                                                       help=consent.STATUS_HELP["withdrawn"]),
        },
    )


def _add_form() -> None:
    with st.form("pv_add_form", clear_on_submit=True):
        a, b = st.columns([3, 2])
        value = a.text_input("Email address or phone number", key="pv_add_value")
        reason = b.selectbox("Reason", list(suppression.REASONS), key="pv_add_reason",
                             index=suppression.REASONS.index("manual"),
                             format_func=suppression.REASON_LABELS.__getitem__)
        if st.form_submit_button("Add to the list", key="pv_add"):
            try:
                added = suppression.add_entry(ctx.conn, value, reason=reason, actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                st.session_state[FLASH_KEY] = ("Added to the suppression list." if added
                                               else "The list already held it.")
                st.rerun()


def _upload_form() -> None:
    with st.form("pv_upload_form", clear_on_submit=True):
        st.caption("A CSV with a header row and an Email column, a Phone column or both "
                   "(optional Reason column: unsubscribed, complaint, manual, uploaded). One "
                   "wrong row refuses the whole file.")
        file = st.file_uploader("Suppression file (CSV)", type=["csv", "txt"], key="pv_upload")
        if st.form_submit_button("Upload", key="pv_upload_go") and file is not None:
            try:
                got = suppression.upload_csv(ctx.conn, file.getvalue(), file_name=file.name,
                                             actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                st.session_state[FLASH_KEY] = (f"Added {got.added:,}; {got.already:,} were "
                                               "already on the list.")
                st.rerun()


def _remove_form(entries: Any) -> None:
    choices = [f"{k}: {v}" for k, v in zip(entries["kind"], entries["value"], strict=True)]
    if not choices:
        return
    with st.form("pv_remove_form"):
        pick = st.selectbox("Entry to remove", choices[:MAX_REMOVE_CHOICES], key="pv_remove_pick",
                            help="Search above to find an entry. Removing it lets Relmark "
                            "contact the person again where they gave consent.")
        if st.form_submit_button("Remove from the list", key="pv_remove") and pick:
            kind, value = pick.split(": ", 1)
            try:
                suppression.remove_entry(ctx.conn, value,
                                         kind="email" if kind == "email" else "phone",
                                         actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                st.session_state[FLASH_KEY] = "Removed from the suppression list."
                st.rerun()


def suppression_section() -> None:
    st.subheader("Suppression list", help=suppression.LIST_HELP)
    st.caption("Email addresses and phone numbers never to contact, checked before consent in "
               "every export, offer and automation. Kept when the shop's data is reset.")
    counts = suppression.count_entries(ctx.conn)
    cols = st.columns(len(counts) + 1)
    cols[0].metric("On the list", f"{sum(counts.values()):,}", help=suppression.LIST_HELP)
    for col, (reason, n) in zip(cols[1:], counts.items(), strict=True):
        col.metric(suppression.REASON_LABELS[reason].split(" (")[0], f"{n:,}",
                   help=suppression.REASON_HELP[reason])
    editor = roles.may(Role.EDITOR)
    if editor:
        add, upload = st.columns(2)
        with add:
            _add_form()
        with upload:
            _upload_form()
    else:
        roles.read_only_note("change the suppression list or download it")
    search = st.text_input("Search the list", key=SEARCH_KEY,
                           placeholder="part of an email address or phone number")
    entries = suppression.list_entries(ctx.conn, search=search)
    st.dataframe(
        entries, hide_index=True, key="pv_supp_table",
        column_config={
            "kind": "Kind", "value": "Email or phone", "reason": "Reason", "source": "Source",
            "added_by": "Added by",
            "added_at": st.column_config.DatetimeColumn("Added (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    if not editor:
        return
    _remove_form(entries)
    try:
        data = suppression.entries_csv(ctx.conn, actor=ctx.actor)
    except RelmarkError as exc:
        st.caption(str(exc))
    else:
        st.download_button("Download the list (CSV)", data, file_name="suppression-list.csv",
                           mime="text/csv", key="pv_supp_download", icon=":material/download:")


st.title("Privacy")
_flash()
consent_section()
suppression_section()
