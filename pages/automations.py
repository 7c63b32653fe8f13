"""Automations: recurring offers that run themselves (welcome, win-back, birthday...), each run
adding only people who newly qualify; the calendar of what goes out next and the balance of
automated and hand-made messages per customer. The view and the chosen automation live in the
URL; the core does the triggers, exclusions, batches and projections.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import plotly.express as px
import streamlit as st

from relmark_core import loyalty
from relmark_core.automations import (
    DEFAULT_BALANCE_DAYS,
    DEFAULT_COOLDOWN_DAYS,
    DEFAULT_HORIZON_DAYS,
    DEFAULT_VALID_DAYS,
    START_POLICIES,
    START_POLICY_LABELS,
    TRIGGER_KINDS,
    TRIGGER_LABELS,
    Automation,
    automations_table,
    batch_bytes,
    batch_entries,
    frequency_cap,
    get_automation,
    message_balance,
    parse_automation,
    preview_automation,
    run_automations,
    run_log,
    save_automation,
    set_frequency_cap,
    set_status,
    unscheduled,
    upcoming_by_day,
    upcoming_sends,
    update_automation,
)
from relmark_core.automations.model import (
    DEFAULT_DETRACTOR_DAYS,
    DEFAULT_EXPIRY_NOTICE_DAYS,
    DEFAULT_NUDGE_DAYS,
    DEFAULT_WELCOME_DAYS,
)
from relmark_core.errors import RelmarkError
from relmark_core.metrics.rfm import load_groups_for
from relmark_core.offers import (
    CHANNEL_LABELS,
    CHANNELS,
    CODE_MODES,
    DEFAULT_HOLDOUT_PCT,
    OFFER_TYPE_LABELS,
    OFFER_TYPES,
    TOKENS,
)
from relmark_core.reports import today_utc
from relmark_core.store import utc_now
from relmark_ui import current
from relmark_ui.tables import count_column, plain
from relmark_ui.widgets import url_choice, url_text

VIEWS = {"automations": "Automations and runs", "edit": "Create or edit",
         "calendar": "Calendar and balance"}
NEW = 0
DEFAULT_MESSAGE = "Hi {first_name}, we miss you: here is something for your next order."
CODE_MODE_LABELS = {"unique": "Unique single-use codes", "shared": "One shared code",
                    "none": "No code"}
VALUE_LABELS = {"percent_off": "Percent off", "amount_off": "Amount off",
                "bonus_points": "Bonus points"}
DAYS_PARAM = {"welcome": ("within_days", "First order in the last N days", DEFAULT_WELCOME_DAYS),
              "second_order": ("after_days", "Days after the first order", DEFAULT_NUDGE_DAYS),
              "detractor": ("within_days", "Answered in the last N days", DEFAULT_DETRACTOR_DAYS),
              "points_expiring": ("within_days", "Points expiring within N days",
                                  DEFAULT_EXPIRY_NOTICE_DAYS)}
BALANCE_ROWS = 200
UPCOMING_ROWS = 500
COUNT_HELP = {
    "qualified": "People the trigger holds at the run.",
    "new_people": "Qualified now and not at the automation's last run.",
    "excluded_cooldown": "Left out: this automation added them within its cooldown.",
    "excluded_suppressed": "Left out: on the suppression list.",
    "excluded_no_consent": "Left out: no marketing consent on the offer's channel.",
    "excluded_cap": "Left out this time: the global frequency cap (tried again next run).",
    "holdout": "Kept out at random as the control group (sent nothing).",
    "sent": "In the batch file, with a code.",
}

ctx = current()
cur = ctx.src.reporting_currency
today = today_utc()
st.title("Automations")
st.caption("Offers that run themselves: everyone who newly qualifies — a first order, a move "
           "into At risk, a birthday month — gets the offer once, after every import and on "
           "the command line's schedule (`python -m relmark_core automations run`).")
if "_au_done" in st.session_state:
    st.success(st.session_state.pop("_au_done"), icon=":material/check_circle:")
if "_au_view_next" in st.session_state:
    st.session_state["au_view"] = st.session_state.pop("_au_view_next")
view = url_choice("View", list(VIEWS), key="au_view", param="view", default="automations",
                  format_func=VIEWS.__getitem__, horizontal=True)


def _log_config() -> dict[str, Any]:
    cfg: dict[str, Any] = {c: count_column(c.replace("_", " ").capitalize(), help=h)
                           for c, h in COUNT_HELP.items()}
    cfg.update({"run_id": "Run", "automation_id": None, "name": "Automation",
                "ran_at": st.column_config.DatetimeColumn("Ran (UTC)"), "as_of": None,
                "kind": "Kind", "origin": "Started by", "batch_file": "Batch file",
                "actor": "Who"})
    return cfg


# --- list, runs, batches ----------------------------------------------------------------------


def _cap() -> None:
    cap = frequency_cap(ctx.conn)
    with st.expander(f"Frequency cap: {cap.sentence()}"):
        c1, c2, c3 = st.columns([1, 1, 1])
        msgs = c1.number_input("Messages", 1, 100, cap.messages, key="au_cap_messages")
        days = c2.number_input("Days", 1, 365, cap.days, key="au_cap_days")
        if c3.button("Save the cap", key="au_cap_save"):
            try:
                set_frequency_cap(ctx.conn, messages=int(msgs), days=int(days), actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
                return
            st.session_state["_au_done"] = "Frequency cap saved."
            st.rerun()


def _batches(aid: int) -> None:
    runs = run_log(ctx.conn, aid, include_baseline=False)
    with_file = runs[runs["batch_file"].notna()]
    st.markdown("#### Batches")
    if with_file.empty:
        st.caption("No batch yet: a run writes one when it sends somebody.")
        return
    files = {int(r): str(f) for r, f in zip(with_file["run_id"], with_file["batch_file"],
                                            strict=True)}
    rid = st.selectbox("Batch", list(files), key="au_batch",
                       format_func=lambda r: f"Run {r} · {Path(files[r]).name}")
    name = files[rid]
    st.dataframe(batch_entries(ctx.conn, rid), hide_index=True, key="au_batch_entries",
                 column_config={"customer_id": "Customer", "email": "Email", "name": "Name",
                                "occasion": "Occasion", "arm": "Arm", "code": "Code"})
    try:
        data = batch_bytes(ctx.conn, name)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    st.caption(f"Saved in {Path(name).parent}.")
    st.download_button(f"Download {Path(name).name}", data, file_name=Path(name).name,
                       mime="text/csv", key="au_download")


def _set_status(aid: int, status: Literal["active", "paused"], done: str) -> None:
    try:
        set_status(ctx.conn, aid, status, actor=ctx.actor)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    st.session_state["_au_done"] = done
    st.rerun()


def _automations() -> None:
    _cap()
    table = automations_table(ctx.conn, currency=cur)
    if table.empty:
        st.info("No automations yet: create one (for example a win-back offer for At risk).")
        return
    st.dataframe(table, hide_index=True, key="au_table", column_config={
        "automation_id": "Id", "name": "Name", "status": "Status", "automation": "Automation",
        "last_run_at": st.column_config.DatetimeColumn("Last run (UTC)"),
        "runs": count_column("Runs", help="Runs that evaluated the trigger (not the baseline)."),
        "last_sent": count_column("Last run sent", help=COUNT_HELP["sent"]),
        "sent": count_column("Sent in all", help=COUNT_HELP["sent"]),
        "held_out": count_column("Held out in all", help=COUNT_HELP["holdout"])})
    if st.button("Run all active automations now", key="au_run_all", type="primary"):
        try:
            res = run_automations(ctx.conn, origin="page", src=ctx.src, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
            return
        st.session_state["_au_done"] = " ".join(r.sentence() for r in res) or "Nothing active."
        st.rerun()
    ids = [int(i) for i in table["automation_id"]]
    names = dict(zip(ids, table["name"], strict=True))
    raw = st.query_params.get("automation", "")
    if st.session_state.get("au_pick") not in ids:
        st.session_state["au_pick"] = int(raw) if raw.isdigit() and int(raw) in ids else ids[0]
    aid = st.selectbox("Automation", ids, key="au_pick", format_func=lambda i: f"{i} · {names[i]}")
    st.query_params["automation"] = str(aid)
    saved = get_automation(ctx.conn, aid)
    a = saved.automation
    st.subheader(a.sentence(cur))
    st.caption(f"Status: {a.status}. Start: {START_POLICY_LABELS[a.start_policy].lower()}. "
               f"Holdout seed {saved.holdout_seed}.")
    c1, c2, c3 = st.columns(3)
    if a.status == "active":
        if c1.button("Pause", key="au_pause"):
            _set_status(aid, "paused", f"{a.name} paused: it does not run until resumed.")
        if c2.button("Run now", key="au_run"):
            try:
                res = run_automations(ctx.conn, automation_ids=[aid], origin="page",
                                      src=ctx.src, actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
                return
            st.session_state["_au_done"] = " ".join(r.sentence() for r in res)
            st.rerun()
    elif c1.button("Resume", key="au_resume"):
        _set_status(aid, "active", f"{a.name} resumed: its next run adds who newly qualified "
                    "meanwhile.")
    if c3.button("Edit", key="au_edit"):
        st.query_params["automation"] = str(aid)
        st.session_state["au_edit_id"] = aid
        st.session_state["_au_view_next"] = "edit"
        st.rerun()
    _batches(aid)
    st.markdown("#### Run log")
    st.dataframe(run_log(ctx.conn, aid), hide_index=True, key="au_log",
                 column_config=_log_config())


# --- create / edit --------------------------------------------------------------------------------


def _trigger_widgets(kind: str, old: dict[str, Any]) -> dict[str, Any]:
    t: dict[str, Any] = {"kind": kind}
    if kind == "rfm_group":
        groups = [g.name for g in load_groups_for(ctx.src)]
        t["group"] = st.selectbox("RFM group", groups, key="au_group",
                                  index=groups.index(old["group"]) if old.get("group") in groups
                                  else (groups.index("At risk") if "At risk" in groups else 0))
    elif kind == "tier_reached":
        active = loyalty.active_version(ctx.conn)
        tiers = list(active.program.tier_names()) if active else []
        if not tiers:
            st.info("A tier trigger needs an active loyalty program (Loyalty page).")
            return t
        t["tier"] = st.selectbox("Tier", tiers, key="au_tier",
                                 index=tiers.index(old["tier"]) if old.get("tier") in tiers
                                 else len(tiers) - 1)
    elif kind in DAYS_PARAM:
        field, label, default = DAYS_PARAM[kind]
        t[field] = int(st.number_input(label, 1, 3650, int(old.get(field, default)),
                                       key=f"au_days_{kind}"))
    return t


def _editor() -> None:
    edit_id = int(st.session_state.get("au_edit_id", NEW))
    existing: Automation | None = None
    if edit_id != NEW:
        try:
            existing = get_automation(ctx.conn, edit_id).automation
        except RelmarkError:
            edit_id = NEW
    if existing is not None:
        st.caption(f"Editing automation {edit_id} · {existing.name}.")
        if st.button("Create a new one instead", key="au_new"):
            st.session_state["au_edit_id"] = NEW
            st.rerun()
    old = existing.model_dump(mode="json") if existing else {}
    old_t: dict[str, Any] = old.get("trigger", {})
    old_o: dict[str, Any] = old.get("offer", {})
    sfx = f"_{edit_id}"  # fresh widgets per automation edited
    c1, c2 = st.columns(2)
    name = c1.text_input("Name", value=old.get("name", "Win-back"), key=f"au_name{sfx}")
    kinds = list(TRIGGER_KINDS)
    kind = c2.selectbox("Trigger", kinds, key=f"au_trigger{sfx}",
                        index=kinds.index(old_t.get("kind", "rfm_group")),
                        format_func=TRIGGER_LABELS.__getitem__)
    trigger = _trigger_widgets(kind, old_t)
    c1, c2, c3 = st.columns(3)
    types = list(OFFER_TYPES)
    otype = c1.selectbox("Offer", types, key=f"au_type{sfx}",
                         index=types.index(old_o.get("offer_type", "percent_off")),
                         format_func=OFFER_TYPE_LABELS.__getitem__)
    value = Decimal("0")
    if otype in VALUE_LABELS:
        value = Decimal(str(c2.number_input(VALUE_LABELS[otype], min_value=0.0,
                                            value=float(old_o.get("value", 15)), step=1.0,
                                            key=f"au_value_{otype}{sfx}")))
    channels = list(CHANNELS)
    channel = c3.selectbox("Channel", channels, key=f"au_channel{sfx}",
                           index=channels.index(old_o.get("channel", "email")),
                           format_func=lambda c: CHANNEL_LABELS[c].capitalize())
    message = st.text_area("Message", value=old_o.get("message", DEFAULT_MESSAGE),
                           key=f"au_message{sfx}",
                           help="Tokens: " + ", ".join(f"{{{t}}}" for t in TOKENS) + ".")
    c1, c2, c3 = st.columns(3)
    modes = list(CODE_MODES)
    code_mode = c1.radio("Codes", modes, key=f"au_codes{sfx}",
                         index=modes.index(old_o.get("code_mode", "unique")),
                         format_func=CODE_MODE_LABELS.__getitem__)
    shared = (c2.text_input("Shared code", value=old_o.get("shared_code", ""),
                            key=f"au_shared{sfx}") if code_mode == "shared" else "")
    prefix = (c2.text_input("Code prefix", value=old_o.get("code_prefix", ""),
                            key=f"au_prefix{sfx}") if code_mode == "unique" else "")
    valid = c3.number_input("Codes valid for (days)", 1, 365,
                            int(old_o.get("valid_days", DEFAULT_VALID_DAYS)), key=f"au_valid{sfx}")
    c1, c2, c3 = st.columns(3)
    cooldown = c1.number_input("Cooldown (days)", 1, 3650,
                               int(old.get("cooldown_days", DEFAULT_COOLDOWN_DAYS)),
                               key=f"au_cooldown{sfx}",
                               help="Never the same person twice within this many days.")
    holdout = c2.slider("Holdout (%)", 0, 50, int(old.get("holdout_pct", DEFAULT_HOLDOUT_PCT)),
                        key=f"au_holdout{sfx}", help=COUNT_HELP["holdout"])
    policies = list(START_POLICIES)
    policy = c3.radio("Start", policies, key=f"au_policy{sfx}",
                      index=policies.index(old.get("start_policy", "from_now")),
                      format_func=START_POLICY_LABELS.__getitem__)
    try:
        a = parse_automation({
            "name": name, "trigger": trigger, "cooldown_days": int(cooldown),
            "holdout_pct": int(holdout), "start_policy": policy,
            "status": old.get("status", "active"),
            "offer": {"offer_type": otype, "value": value, "channel": channel,
                      "message": message, "code_mode": code_mode, "shared_code": shared,
                      "code_prefix": prefix, "valid_days": int(valid)},
        })
    except RelmarkError as exc:
        st.error(str(exc))
        return
    st.subheader(a.sentence(cur))
    try:
        p = preview_automation(ctx.conn, a, as_of=today, src=ctx.src,
                               automation_id=None if edit_id == NEW else edit_id)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    from_now = existing is None and a.start_policy == "from_now"
    would = 0 if from_now else p.new_members
    st.metric("Would add now", f"{would:,}", help="People a run now would add (sent and held "
              "out), after cooldown, consent, suppression and the frequency cap.")
    if from_now:
        st.caption(f"Would add {would:,} people now: {p.qualified:,} qualify today and are "
                   "recorded as they are; only people who qualify from now on get it "
                   f"({p.new_members:,} if you include those who already qualify).")
    else:
        st.caption(f"Would add {would:,} people now. {p.sentence()}")
    label = "Save changes" if existing is not None else "Save automation"
    if st.button(label, key="au_save", type="primary"):
        try:
            if existing is not None:
                saved = update_automation(ctx.conn, edit_id, a, src=ctx.src, actor=ctx.actor)
            else:
                saved = save_automation(ctx.conn, a, src=ctx.src, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
            return
        st.session_state["_au_done"] = f"Saved: {saved.automation.sentence(cur)}"
        st.query_params["automation"] = str(saved.automation_id)
        st.session_state.pop("au_pick", None)
        st.session_state["au_edit_id"] = NEW
        st.session_state["_au_view_next"] = "automations"
        st.rerun()


# --- calendar and balance ------------------------------------------------------------------------


def _calendar() -> None:
    st.markdown(f"#### The next {DEFAULT_HORIZON_DAYS} days")
    st.caption("Automated sends projected from dates (second-order nudges, birthday months, "
               "points expiring) and hand-made offers starting, before consent, the frequency "
               "cap and cooldowns, which each run applies.")
    days = upcoming_by_day(ctx.conn, ctx.src, start=today, days=DEFAULT_HORIZON_DAYS)
    if days.empty:
        st.info("Nothing scheduled in the next 30 days.")
    else:
        fig = px.bar(days, x="day", y="people", color="name", hover_data=["kind"],
                     labels={"day": "Day", "people": "People", "name": "", "kind": "Kind"})
        st.plotly_chart(fig, key="au_calendar_chart")
        st.dataframe(days, hide_index=True, key="au_calendar", column_config={
            "day": st.column_config.DateColumn("Day"), "kind": "Kind", "name": "Automation or offer",
            "people": count_column("People", help="People due that day, before exclusions.")})
        who = upcoming_sends(ctx.conn, ctx.src, start=today, days=DEFAULT_HORIZON_DAYS)
        with st.expander(f"Who ({len(who):,})"):
            st.dataframe(who.head(UPCOMING_ROWS), hide_index=True, key="au_calendar_who")
    if names := unscheduled(ctx.conn):
        st.caption("Sent when new data arrives (no date to project): "
                   + ", ".join(plain(n) for n in names) + ".")
    st.markdown(f"#### Automated and hand-made messages, last {DEFAULT_BALANCE_DAYS} days")
    search = url_text("Customer id", key="au_balance_customer", param="customer",
                      placeholder="All customers")
    bal = message_balance(ctx.conn, since=utc_now() - timedelta(days=DEFAULT_BALANCE_DAYS),
                          customer_id=search.strip() or None, limit=BALANCE_ROWS)
    if bal.empty:
        st.caption("No messages in this period.")
        return
    st.dataframe(bal, hide_index=True, key="au_balance", column_config={
        "customer_id": "Customer", "email": "Email", "name": "Name",
        "automated": count_column("Automated", help="Treated entries of automation batches."),
        "hand_made": count_column("Hand-made", help="Treated member of a launched offer."),
        "total": count_column("Total"),
        "automated_share": st.column_config.ProgressColumn(
            "Automated share", min_value=0.0, max_value=1.0, format="percent")})


if view == "edit":
    _editor()
elif view == "calendar":
    _calendar()
else:
    _automations()
