"""Relmark: navigation only. Every page runs inside the shared frame (store, sidebar, errors)."""

import streamlit as st

from relmark_ui.frame import page_frame

st.set_page_config(page_title="Relmark", page_icon=":material/favorite:", layout="wide")

PAGES = {
    "Understand": [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/customers.py", title="Customers", icon=":material/group:"),
        st.Page("pages/rfm.py", title="RFM groups", icon=":material/grid_view:"),
        st.Page("pages/retention.py", title="Retention", icon=":material/autorenew:"),
        st.Page("pages/feedback.py", title="Feedback", icon=":material/reviews:"),
        st.Page("pages/crosssell.py", title="Cross-sell", icon=":material/add_shopping_cart:"),
    ],
    "Act": [
        st.Page("pages/segments.py", title="Segments", icon=":material/filter_alt:"),
        st.Page("pages/loyalty.py", title="Loyalty", icon=":material/loyalty:"),
        st.Page("pages/offers.py", title="Offers", icon=":material/redeem:"),
        st.Page("pages/automations.py", title="Automations", icon=":material/bolt:"),
    ],
    "Share": [
        st.Page("pages/dashboards.py", title="Dashboards", icon=":material/bookmarks:"),
    ],
    "Manage": [
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
        st.Page("pages/privacy.py", title="Privacy", icon=":material/privacy_tip:"),
        st.Page("pages/team.py", title="Team", icon=":material/badge:"),
        st.Page("pages/audit.py", title="Audit log", icon=":material/history:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
    ],
}

page = st.navigation(PAGES, expanded=True)  # every page listed: no "View more" to find
with page_frame() as frame:
    if frame is not None:  # None: the store could not be opened, and the page says why
        page.run()
