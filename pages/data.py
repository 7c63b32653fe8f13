"""Data: what the store holds, and the demo data switches (reset to demo / start empty)."""

import streamlit as st

from relmark_core import demo, store
from relmark_ui import current

ctx = current()
st.title("Data")

counts = store.shop_counts(ctx.conn)
cols = st.columns(4)
for col, (label, key) in zip(
    cols, [("Customers", "customers"), ("Orders", "orders"), ("Order lines", "order_lines"),
           ("Feedback answers", "feedback")], strict=True
):
    col.metric(label, f"{counts[key]:,}")
st.caption(
    f"Database: `{ctx.db_path}` · " + ("holds the **demo shop**" if ctx.demo else "holds your data")
)

st.subheader("Demo data")
st.write(
    "The demo shop is invented data for looking around. *Reset to demo data* replaces everything "
    "in the store with it; *Start empty* removes all customers, orders and feedback. Saved "
    "definitions and the audit log are kept."
)
c1, c2 = st.columns(2)
with c1, st.popover("Reset to demo data", icon=":material/restart_alt:"):
    st.write("This replaces **all** customers, orders and feedback with the demo shop.")
    if st.button("Yes, reset to demo data", key="data_reset_demo", type="primary"):
        bar = st.progress(0.0, text="Building the demo shop…")
        demo.load_demo(ctx.conn, progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        st.session_state["data_flash"] = "The demo shop was loaded."
        st.rerun()
with c2, st.popover("Start empty", icon=":material/delete_sweep:"):
    st.write("This removes **all** customers, orders and feedback. It cannot be undone.")
    if st.button("Yes, start empty", key="data_start_empty", type="primary"):
        demo.clear_shop_data(ctx.conn)
        st.session_state["data_flash"] = "The store is now empty. Import your exports to begin."
        st.rerun()
if msg := st.session_state.pop("data_flash", None):
    st.success(msg)
