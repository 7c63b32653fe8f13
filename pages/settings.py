"""Settings: reporting currency, store time zone and the analytics source (warehouse mode)."""

import os

import streamlit as st

from relmark_core import auth, warehouse
from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.settings import (
    TIMEZONES,
    ShopSettings,
    currencies_in_data,
    load_settings,
    save_settings,
)
from relmark_ui import current, roles
from relmark_ui.frame import app_secrets, forget_source_failure

ctx = current()
st.title("Settings")
is_admin = roles.may(Role.ADMIN)
if not is_admin:
    roles.read_only_note("change settings", needs=Role.ADMIN)
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
    if st.form_submit_button("Save settings", type="primary", disabled=not is_admin):
        try:
            save_settings(ctx.conn, ShopSettings(reporting_currency=currency, store_timezone=tz),
                          actor=ctx.actor)
            st.session_state["settings_flash"] = "Settings saved."
            st.rerun()
        except RelmarkError as exc:
            st.error(str(exc))
if msg := st.session_state.pop("settings_flash", None):
    st.success(msg)
if seen:
    st.caption("Currencies in your orders, most used first: " + ", ".join(seen) + ".")

# --- analytics source (warehouse mode) ------------------------------------------------------------

st.divider()
st.subheader("Analytics source")
_secrets = app_secrets()
_url = warehouse.configured_url(_secrets)
_from_env = bool(os.environ.get(warehouse.SOURCE_ENV))
if _url:
    _origin = (f"the {warehouse.SOURCE_ENV} environment variable" if _from_env
               else str(warehouse.secrets_file()))
    st.write(
        f"Pages and reports read your orders from **{warehouse.redact(_url)}** (set in "
        f"{_origin}). Settings, groups and notes stay in Relmark's own database."
    )
else:
    st.write(
        "Pages read Relmark's own database. When your orders live in PostgreSQL, Spark or a "
        "cloud warehouse, Relmark can read them there instead and never copy or change them."
    )


def _show_report(report: warehouse.ConnectionReport) -> None:
    lines = report.sentences()
    (st.success if report.ok else st.warning)(lines[0])
    for line in lines[1:]:
        st.text(line)


try:
    _mapping = warehouse.configured_mapping(_secrets)
except RelmarkError as exc:
    st.error(str(exc))
    _mapping = warehouse.SourceMapping()

if _url and st.button("Test connection", key="source_test_current"):
    with st.spinner("Connecting…"):
        _show_report(warehouse.test_connection(_url, mapping=_mapping))

with st.form("source_form"):
    new_url = st.text_input(
        "Source URL", type="password", key="source_url",
        help="For example postgresql://user:password@host:5432/database, or "
        "pyspark://?spark.master=local[4]. Use a login that may only read the customers, "
        "orders, order_lines and feedback tables. The URL is kept in "
        f"{warehouse.secrets_file()} (readable by you only), never in the database.",
    )
    col_test, col_save = st.columns(2)
    test_new = col_test.form_submit_button("Test this source", disabled=not is_admin)
    save_new = col_save.form_submit_button("Test, save and use", type="primary",
                                           disabled=not is_admin)
if (test_new or save_new) and not new_url.strip():
    st.error("Paste the source URL first.")
elif test_new or save_new:
    with st.spinner("Connecting…"):
        _report = warehouse.test_connection(new_url.strip(), mapping=_mapping)
    _show_report(_report)
    if save_new and _report.ok:
        try:
            warehouse.save_source_url(ctx.conn, new_url.strip(), actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
        else:
            forget_source_failure()
            st.session_state["settings_flash"] = (
                "Analytics source saved: pages now read it."
                + (f" ({warehouse.SOURCE_ENV} is set in the environment and still wins.)"
                   if _from_env else "")
            )
            st.rerun()
    elif save_new:
        st.info("Not saved: fix what the test found first.")
if _url and not _from_env and is_admin and st.button("Stop using the analytics source",
                                                    key="source_disconnect"):
    try:
        warehouse.save_source_url(ctx.conn, None, actor=ctx.actor)
        forget_source_failure()
        st.session_state["settings_flash"] = "Pages read Relmark's own database again."
        st.rerun()
    except RelmarkError as exc:
        st.error(str(exc))
st.caption(
    "Table and column names: "
    + ("Relmark's own (customers, orders, order_lines, feedback)." if _mapping ==
       warehouse.SourceMapping() else "from the mapping file.")
    + f" A mapping file is named by {warehouse.MAPPING_ENV} or by "
    f"[{warehouse.SECRETS_SECTION}] {warehouse.SECRETS_MAPPING_KEY} in the secrets file; "
    "see the README's Warehouse mode section."
)

# --- team mode (accounts live on the Team page) -------------------------------------------------

st.divider()
st.subheader("Team mode")
if auth.team_mode(ctx.conn):
    st.write(
        "Team mode is on: everyone signs in, and their role decides what they may change. "
        "Admins manage accounts and roles on the Team page."
    )
else:
    st.write(
        "Single-user mode: nobody signs in and anyone who can open this address can change "
        "everything. Create the first admin on the Team page to switch team mode on."
    )
st.page_link("pages/team.py", label="Open the Team page", icon=":material/badge:")
