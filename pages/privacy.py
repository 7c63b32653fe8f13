"""Privacy: consent per channel, the suppression list, and erasure and access requests.

One function per section; the page runs them in order at the bottom. Addresses are personal
data: the suppression search lives in the session, never in the URL.
"""

from typing import Any

import streamlit as st

from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.privacy import access, consent, erasure, suppression
from relmark_ui import current, roles

ctx = current()

SEARCH_KEY = "pv_supp_search"
FLASH_KEY = "_pv_flash"
REQUESTS_HELP = ("An erasure request asks a shop to delete a person's data; an access request "
                 "asks for a copy of it. Both are rights under privacy laws such as the GDPR.")
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


WHO_KEY = "pv_req_who"  # personal data: kept in the session, never in the URL
FOUND_KEY = "_pv_req_found"
ACCESS_KEY = "_pv_req_access"


def _who(text: str) -> dict[str, str]:
    """An email address (it has an @) or else a phone number, as the core's keyword."""
    return {"email": text} if "@" in text else {"phone": text}


def requests_section() -> None:
    st.subheader("Erasure and access requests", help=REQUESTS_HELP)
    st.caption("Find a person by email address or phone number, then give them a copy of "
               "everything Relmark holds about them, or erase them. Erasing removes their "
               "personal details and comments everywhere; their orders stay as anonymous rows, "
               "so shop totals do not change, and later imports skip them.")
    if not roles.may(Role.EDITOR):
        roles.read_only_note("look up a person's data", needs=Role.EDITOR)
        return
    with st.form("pv_req_form"):
        who = st.text_input("Person's email address or phone number", key=WHO_KEY)
        if st.form_submit_button("Find", key="pv_req_find"):
            st.session_state.pop(ACCESS_KEY, None)
            try:
                person = erasure.find_person(ctx.conn, **_who(who))
            except RelmarkError as exc:
                st.session_state.pop(FOUND_KEY, None)
                st.error(str(exc))
            else:
                st.session_state[FOUND_KEY] = (who, person.sentence() if person.customer_ids
                                               else None)
    found = st.session_state.get(FOUND_KEY)
    if not found:
        return
    who, sentence = found
    if sentence is None:
        st.info("Nobody in Relmark has that email address or phone number: Relmark holds no "
                "data on this person.")
        return
    st.markdown(f"Found **{sentence}**.")
    access_col, erase_col = st.columns(2)
    with access_col:
        if st.button("Prepare the access-request file", key="pv_req_access",
                     icon=":material/description:"):
            try:
                st.session_state[ACCESS_KEY] = access.access_request(ctx.conn, **_who(who),
                                                                     actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
        data = st.session_state.get(ACCESS_KEY)
        if data:
            st.download_button("Download the access-request file (JSON)", data,
                               file_name=access.access_file_name(), mime="application/json",
                               key="pv_req_download", icon=":material/download:")
    with erase_col:
        if not roles.may(Role.ADMIN):
            roles.read_only_note("erase a person", needs=Role.ADMIN)
            return
        sure = st.checkbox("I understand erasing cannot be undone", key="pv_req_sure")
        if st.button("Erase this person", key="pv_req_erase", type="primary", disabled=not sure,
                     icon=":material/delete_forever:"):
            try:
                result = erasure.erase_person(ctx.conn, **_who(who), actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                for key in (FOUND_KEY, ACCESS_KEY):
                    st.session_state.pop(key, None)
                st.session_state[FLASH_KEY] = result.sentence()
                st.rerun()


st.title("Privacy")
_flash()
consent_section()
suppression_section()
requests_section()
