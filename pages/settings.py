"""Settings: reporting currency and store time zone."""

import streamlit as st

from relmark_core.errors import RelmarkError
from relmark_core.settings import (
    TIMEZONES,
    ShopSettings,
    currencies_in_data,
    load_settings,
    save_settings,
)
from relmark_ui import current

ctx = current()
st.title("Settings")
cur = load_settings(ctx.conn)
seen = currencies_in_data(ctx.conn)
options = list(dict.fromkeys([cur.reporting_currency, *seen, "USD", "EUR", "GBP", "CAD", "AUD"]))

with st.form("settings_form"):
    currency = st.selectbox(
        "Reporting currency", options, index=options.index(cur.reporting_currency),
        key="set_currency",
        help="Revenue and averages add up orders in this currency. Orders in other currencies "
        "still count as orders, and their money is shown apart — never converted or summed in.",
    )
    tz = st.selectbox(
        "Store time zone", TIMEZONES, index=TIMEZONES.index(cur.store_timezone), key="set_tz",
        help="Days start at midnight in this time zone when you pick a date range.",
    )
    if st.form_submit_button("Save settings", type="primary"):
        try:
            save_settings(ctx.conn, ShopSettings(reporting_currency=currency, store_timezone=tz))
            st.session_state["settings_flash"] = "Settings saved."
            st.rerun()
        except RelmarkError as exc:
            st.error(str(exc))
if msg := st.session_state.pop("settings_flash", None):
    st.success(msg)
if seen:
    st.caption("Currencies in your orders, most used first: " + ", ".join(seen) + ".")
