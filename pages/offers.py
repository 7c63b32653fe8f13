"""Offers: an exclusive offer to a saved segment, a random holdout, launch once, and whether it
worked. The view (create / offers) and the chosen offer live in the URL; the core does the
audience, codes, exports and statistics.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import streamlit as st

from relmark_core.auth import Role
from relmark_core.errors import NotAllowed, RelmarkError
from relmark_core.metrics.definitions import definition
from relmark_core.offers import (
    CHANNEL_LABELS,
    CHANNELS,
    CODE_MODES,
    DEFAULT_FALLBACKS,
    DEFAULT_HOLDOUT_PCT,
    EXPORT_LABELS,
    OFFER_TYPE_LABELS,
    OFFER_TYPES,
    TOKENS,
    Offer,
    cancel_offer,
    export_offer,
    get_offer,
    launch_offer,
    offer_events,
    offer_results,
    offers_table,
    parse_offer,
    plan_audience,
    preview_choices,
    render_message,
    reopen_offer,
    save_offer,
)
from relmark_core.offers.export import REACH_CHANNELS
from relmark_core.offers.model import DEFAULT_FREQUENCY_CAP_DAYS, DEFAULT_REDEMPTION
from relmark_core.offers.saved import member_tokens, uses_recommendation
from relmark_core.privacy.reach import EXCLUDED_HELP
from relmark_core.reports import today_utc
from relmark_core.segments import list_segments
from relmark_ui import compute, current, roles
from relmark_ui.widgets import (
    fmt_money,
    fmt_share,
    is_locked,
    metric_card,
    sync_from_url,
    url_choice,
)

VIEWS = {"create": "Create an offer", "offers": "Offers and results"}
DEFAULT_DAYS = 14
DEFAULT_MESSAGE = ("Hi {first_name}, thank you for being a {tier} customer: here is something "
                   "for your next {favourite_category} order.")
CODE_MODE_LABELS = {"unique": "Unique single-use codes", "shared": "One shared code",
                    "none": "No code"}
VALUE_LABELS = {"percent_off": "Percent off", "amount_off": "Amount off",
                "bonus_points": "Bonus points"}
COST_LABELS = {"percent_off": "Average order value it applies to (0: the audience's own)",
               "free_shipping": "Cost of one free shipping", "free_item": "Cost of the item or perk",
               "early_access": "Cost per redemption (often 0)"}
NEW = 0

ctx = current()
f = ctx.filters
assert f is not None
cur = ctx.src.reporting_currency
today = today_utc()
st.title("Offers")
st.caption("Send an exclusive offer to a saved segment through the channel they use, keep a "
           "random group out as a control, launch once, and see afterwards whether it worked.")
if "_of_done" in st.session_state:
    st.success(st.session_state.pop("_of_done"), icon=":material/check_circle:")
if "_of_view_next" in st.session_state:
    st.session_state["of_view"] = st.session_state.pop("_of_view_next")
view = url_choice("View", list(VIEWS), key="of_view", param="view", default="create",
                  format_func=VIEWS.__getitem__, horizontal=True)
segments = {s.segment_id: s for s in list_segments(ctx.conn)}


def _results(src: Any, offer_id: int) -> Any:
    return offer_results(src.state, src, offer_id)


def _plan_cards(offer: Offer, seed: str, offer_id: int | None) -> None:
    plan = plan_audience(ctx.conn, offer, as_of=today, src=ctx.src, seed=seed, offer_id=offer_id)
    st.write(plan.sentence())
    c = st.columns(4)
    metric_card("offer_treated", plan.treated, where=c[0])
    metric_card("offer_holdout", plan.holdout, where=c[1])
    metric_card("offer_expected_cost", plan.expected_cost, currency=cur, where=c[2])
    hint = plan.detectable_uplift
    c[3].metric(definition("offer_power").label, "—" if hint is None else f"{hint * 100:.1f} pts",
                help=definition("offer_power").help
                + f"  \nBaseline conversion here: {fmt_share(plan.baseline_conversion)}.")
    if hint is not None and hint > 0.05:
        st.caption(f"Only an uplift above {hint * 100:.1f} points would stand out from chance "
                   "with this audience and holdout; a bigger segment or holdout narrows it.")


def _create() -> None:
    if not segments:
        st.info("Save a segment on the Segments page first: an offer goes to a saved segment.")
        return
    c1, c2 = st.columns(2)
    name = c1.text_input("Offer name", value="New offer", key="of_name")
    seg_id = c2.selectbox("Audience (saved segment)", list(segments), key="of_segment",
                          format_func=lambda i: segments[i].name)
    st.caption(segments[seg_id].definition.sentence(cur))
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Offer", list(OFFER_TYPES), key="of_type",
                        format_func=OFFER_TYPE_LABELS.__getitem__)
    value = Decimal("0")
    unit_cost = Decimal("0")
    if kind in VALUE_LABELS:
        value = Decimal(str(c2.number_input(VALUE_LABELS[kind], min_value=0.0, value=10.0,
                                            step=1.0, key=f"of_value_{kind}")))
    if kind in COST_LABELS:
        unit_cost = Decimal(str(c3.number_input(COST_LABELS[kind], min_value=0.0, value=0.0,
                                                step=1.0, key=f"of_cost_{kind}")))
    channel = c1.selectbox("Channel", list(CHANNELS), key="of_channel",
                           format_func=lambda c: CHANNEL_LABELS[c].capitalize())
    start = c2.date_input("Starts", value=today, key="of_start")
    end = c3.date_input("Ends (included)", value=today + timedelta(days=DEFAULT_DAYS - 1),
                        key="of_end")
    message = st.text_area("Message", value=DEFAULT_MESSAGE, key="of_message",
                           help="Tokens: " + ", ".join(f"{{{t}}}" for t in TOKENS)
                           + ". A missing value shows its fallback.")
    with st.expander("Fallbacks for missing values"):
        cols = st.columns(len(TOKENS))
        fallbacks = {t: cols[i].text_input(t, value=DEFAULT_FALLBACKS[t], key=f"of_fb_{t}")
                     for i, t in enumerate(TOKENS)}
    c1, c2, c3 = st.columns(3)
    code_mode = c1.radio("Codes", list(CODE_MODES), key="of_codes",
                         format_func=CODE_MODE_LABELS.__getitem__)
    shared = c2.text_input("Shared code", key="of_shared") if code_mode == "shared" else ""
    prefix = c2.text_input("Code prefix", key="of_prefix") if code_mode == "unique" else ""
    holdout = c3.slider("Holdout (%)", 0, 50, DEFAULT_HOLDOUT_PCT, key="of_holdout",
                        help="Kept out at random and sent nothing: the control group.")
    with st.expander("Exclusions and assumptions"):
        e1, e2, e3, e4 = st.columns(4)
        consent = e1.checkbox("Leave out customers without marketing consent", value=True,
                              key="of_consent")
        cap = e2.number_input("Leave out those with an offer in the last N days (0: no cap)",
                              min_value=0, value=DEFAULT_FREQUENCY_CAP_DAYS, key="of_cap")
        running = e3.checkbox("Leave out customers in another running offer", value=True,
                              key="of_running")
        redemption = e4.slider("Assumed redemption (%)", 0, 100, int(DEFAULT_REDEMPTION * 100),
                               key="of_redemption")
    try:
        offer = parse_offer({
            "name": name, "segment_id": seg_id, "offer_type": kind, "value": value,
            "unit_cost": unit_cost, "channel": channel, "starts_on": start, "ends_on": end,
            "message": message, "fallbacks": fallbacks, "code_mode": code_mode,
            "shared_code": shared, "code_prefix": prefix, "holdout_pct": holdout,
            "exclude_no_consent": consent, "frequency_cap_days": int(cap) or None,
            "exclude_running": running, "assumed_redemption": redemption / 100,
        })
    except RelmarkError as exc:
        st.error(str(exc))
        return
    st.subheader(offer.sentence(segments[seg_id].name, cur))
    _plan_cards(offer, "plan", None)
    st.markdown("#### Preview")
    choices = preview_choices(ctx.conn, offer, as_of=today, src=ctx.src)
    if choices:
        who = st.selectbox("Preview for", list(choices), key="of_preview_who",
                           format_func=lambda c: choices.get(c, c))
        tokens = member_tokens(ctx.conn, [who], src=ctx.src,
                               recommended=uses_recommendation(offer))
        values = {str(k): v for k, v in tokens.iloc[0].items()} if len(tokens) else {}
        st.text(render_message(offer.message, values, offer.fallbacks))
    else:
        st.caption("The segment has no members today.")
    if not roles.may(Role.EDITOR):
        roles.read_only_note("save offers")
    elif st.button("Save offer", key="of_save", type="primary"):
        try:
            saved = save_offer(ctx.conn, offer, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
            return
        st.session_state["_of_done"] = f"Saved offer {saved.offer_id}. Launch it when ready."
        st.query_params["offer"] = str(saved.offer_id)
        st.session_state["_of_view_next"] = "offers"
        st.session_state.pop("of_pick", None)
        st.rerun()


def _exports(offer_id: int) -> None:
    st.markdown("#### Exports")
    kind = url_choice("File", list(EXPORT_LABELS), key="of_export_kind", param="file",
                      default=next(iter(EXPORT_LABELS)), format_func=EXPORT_LABELS.__getitem__)
    try:
        ex = export_offer(ctx.conn, offer_id, kind, src=ctx.src, actor=ctx.actor)
    except NotAllowed as exc:  # a viewer: a role, not a fault
        st.info(str(exc))
        return
    except RelmarkError as exc:
        st.error(str(exc))
        return
    left = f"; {ex.left_out:,} left out without the channel's contact" if ex.left_out else ""
    st.caption(f"{ex.rows:,} rows{left}. Text cells that a spreadsheet would run as a formula "
               "start with '.")
    if kind in REACH_CHANNELS:
        st.caption(f"{ex.excluded_sentence()}.", help=EXCLUDED_HELP)
    st.download_button(f"Download {ex.file_name}", ex.data, file_name=ex.file_name,
                       mime=ex.mime, key="of_download")


def _results_view(offer_id: int) -> None:
    st.markdown("#### Results")
    r = compute(_results, offer_id=offer_id)
    c = st.columns(4)
    metric_card("offer_redemptions", r.redemptions, where=c[0])
    metric_card("offer_conversion", r.treated_conversion, label="Conversion with the offer",
                where=c[1])
    metric_card("offer_conversion", r.holdout_conversion, label="Conversion held out",
                where=c[2])
    inconclusive = r.uplift_low is None or r.uplift_low <= 0 <= (r.uplift_high or 0)
    c[3].metric(definition("offer_uplift").label,
                "No clear effect yet" if inconclusive or r.uplift is None
                else f"{r.uplift * 100:+.1f} pts", help=definition("offer_uplift").help)
    st.write(r.conversion_verdict())
    c = st.columns(4)
    metric_card("offer_revenue_per_member", r.treated_revenue_per_member, currency=cur,
                label="Revenue per member with the offer", where=c[0])
    metric_card("offer_revenue_per_member", r.holdout_revenue_per_member, currency=cur,
                label="Revenue per member held out", where=c[1])
    metric_card("offer_cost", r.cost, currency=cur, where=c[2])
    c[3].metric(definition("offer_return").label,
                "—" if r.net_return is None else fmt_money(r.net_return, cur),
                help=definition("offer_return").help + "  \n"
                + definition("offer_incremental_revenue").help)
    st.write(r.revenue_verdict())


def _offers() -> None:
    table = offers_table(ctx.conn, today=today, currency=cur)
    if table.empty:
        st.info("No offers yet: create one first.")
        return
    st.dataframe(table, hide_index=True, key="of_table", column_config={
        "offer_id": "Id", "name": "Name", "status": "Status", "offer": "Offer",
        "treated": st.column_config.NumberColumn("Get the offer",
                                                 help=definition("offer_treated").help),
        "holdout": st.column_config.NumberColumn("Held out", help=definition("offer_holdout").help),
        "launched_at": st.column_config.DatetimeColumn("Launched (UTC)")})
    ids = [int(i) for i in table["offer_id"]]
    names = dict(zip(ids, table["name"], strict=True))
    sync_from_url("of_pick", "offer", int)  # the URL's offer (a locked link's, if any)
    if st.session_state.get("of_pick") not in ids:
        st.session_state["of_pick"] = ids[0]
    oid = st.selectbox("Offer", ids, key="of_pick", format_func=lambda i: f"{i} · {names[i]}",
                       disabled=is_locked("offer"))
    st.query_params["offer"] = str(oid)
    saved = get_offer(ctx.conn, oid)
    seg = segments.get(saved.offer.segment_id)
    st.subheader(saved.offer.sentence(seg.name if seg else "a deleted segment", cur))
    st.caption(f"Status: {saved.status_words(today)}. Holdout seed {saved.holdout_seed}.")
    if saved.status == "draft":
        try:
            _plan_cards(saved.offer, saved.holdout_seed, oid)
        except RelmarkError as exc:
            st.error(str(exc))
        if not roles.may(Role.EDITOR):
            roles.read_only_note("launch offers")
        elif st.button("Launch", key="of_launch", type="primary",
                     help="Freezes the audience, holdout and codes. Launching twice does "
                     "nothing more."):
            try:
                res = launch_offer(ctx.conn, oid, as_of=today, src=ctx.src, actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
                return
            st.session_state["_of_done"] = res.message
            st.rerun()
        return
    can_edit = roles.may(Role.EDITOR)
    if not can_edit:
        roles.read_only_note("cancel or re-open offers")
    reason = st.text_input("Reason (recorded)", key="of_reason") if can_edit else ""
    if saved.status == "running" and can_edit and st.button("Cancel offer", key="of_cancel"):
        cancel_offer(ctx.conn, oid, reason=reason, actor=ctx.actor)
        st.session_state["_of_done"] = "Offer cancelled."
        st.rerun()
    if saved.status == "cancelled" and can_edit and st.button("Re-open offer", key="of_reopen"):
        reopen_offer(ctx.conn, oid, reason=reason, actor=ctx.actor)
        st.session_state["_of_done"] = "Offer re-opened."
        st.rerun()
    _exports(oid)
    _results_view(oid)
    with st.expander("History"):
        st.dataframe(offer_events(ctx.conn, oid), hide_index=True, key="of_events")


if view == "create":
    _create()
else:
    _offers()
