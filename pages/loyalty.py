"""Loyalty: build a program, read it back in sentences, replay it on the shop's history, save it
as a version, and look up members' balances.

The section shown lives in the URL (``view``), as do the replay period (``period``) and the
member looked up (``member``). The draft being edited lives in this session until it is saved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.loyalty import (
    LoyaltyProgram,
    SimulationResult,
    active_version,
    compare,
    find_customer,
    get_version,
    list_versions,
    member_status,
    members_csv,
    members_table,
    parse_program,
    post_ledger,
    posted_through,
    save_version,
    shop_facts,
    simulate,
    starter_program,
    validate,
)
from relmark_core.loyalty.model import BONUS_EVENTS, CAP_PERIODS, TIER_PERIODS
from relmark_core.loyalty.simulate import DEFAULT_REDEMPTION_RATE
from relmark_core.metrics.definitions import definition
from relmark_core.periods import DateRange, preset_range
from relmark_ui import compute, current, roles
from relmark_ui.tables import chart_text, count_column, money_column, plain
from relmark_ui.widgets import (
    fmt_money,
    fmt_share,
    metric_card,
    url_choice,
    url_number,
    url_text,
)

VIEWS = {"program": "Program", "simulate": "Simulate", "members": "Members", "versions": "Versions"}
PERIODS = {
    "last_365_days": "The last 365 days",
    "last_year": "Last calendar year",
    "sidebar": "The sidebar's period",
}
RULE_KINDS = {
    "points_per_spend": "Points per spend",
    "multiplier": "Multiplier (category, product, channel)",
    "promotion": "Promotion (dates)",
    "bonus": "Bonus event",
}
PROMOTION_DAYS = 7
PROMOTION_LEAD_DAYS = 60  # a new promotion's default start, days before the as-of date
CHART_HEIGHT = 320
DRAFT_KEY = "loy_draft_json"
RESULT_KEY = "loy_result"
FLASH_KEY = "loy_flash"

ctx = current()
f = ctx.filters
assert f is not None
currency = ctx.src.reporting_currency
st.title("Loyalty")
if msg := st.session_state.pop(FLASH_KEY, None):
    st.success(msg)

active = active_version(ctx.conn)
if DRAFT_KEY not in st.session_state:
    st.session_state[DRAFT_KEY] = (active.program if active else starter_program()).model_dump_json()
draft = parse_program(st.session_state[DRAFT_KEY])
facts = compute(shop_facts)


def _set_draft(program: LoyaltyProgram) -> None:
    st.session_state[DRAFT_KEY] = program.model_dump_json()
    st.rerun()


def _apply(**changes: Any) -> None:
    """Replace parts of the draft (as plain data); a refusal is shown, the draft kept."""
    data = draft.model_dump(mode="json")
    data.update(changes)
    try:
        new = parse_program(data)
    except RelmarkError as exc:
        st.error(str(exc))
        return
    _set_draft(new)


def _dump(items: Any) -> list[Any]:
    return [i.model_dump(mode="json") for i in items]


view = url_choice("Section", list(VIEWS), key="loy_view", param="view", default="program",
                  format_func=VIEWS.get, horizontal=True)


# --- the program editor -----------------------------------------------------------------------

def _listing(items: Any, kind: str, text: Any) -> None:
    """One line per item with a Remove button."""
    for i, item in enumerate(items):
        a, b = st.columns([7, 1], vertical_alignment="center")
        a.markdown(plain(text(item)))
        if b.button(":material/delete:", key=f"loy_rm_{kind}_{i}", help="Remove"):
            rest = [x for j, x in enumerate(items) if j != i]
            _apply(**{kind: _dump(rest)})


def _value_input(on: str, where: Any) -> str:
    values = {"category": facts.categories, "product": facts.products, "channel": facts.channels}[on]
    if values:
        return str(where.selectbox(f"Which {on}", list(values), key=f"loy_mult_value_{on}"))
    return str(where.text_input(f"Which {on}", key=f"loy_mult_value_{on}"))


def program_editor() -> None:
    p = draft.points
    with st.expander("Name and currency", expanded=False):
        with st.form("loy_currency_form"):
            name = st.text_input("Program name", value=draft.name, key="loy_name")
            points = st.text_input("What points are called", value=draft.currency.name,
                                   key="loy_points_name", help="e.g. points, stars, beans.")
            value = st.number_input(
                f"Money value of one point ({currency})", min_value=0.0001, step=0.001,
                value=float(draft.currency.value), format="%.4f", key="loy_point_value",
                help="What a point costs you when it is redeemed: liability and cost use it.")
            if st.form_submit_button("Apply", key="loy_currency_apply"):
                _apply(name=name, currency={"name": points, "value": str(value)})

    with st.expander("Earn rules and promotions", expanded=True):
        _listing(draft.earn_rules, "earn_rules", lambda r: r.sentence(p, currency))
        kind = st.selectbox("Add a rule", list(RULE_KINDS), format_func=RULE_KINDS.get,
                            key="loy_rule_kind")
        rule: dict[str, Any] = {"kind": kind}
        if kind == "multiplier":
            on = st.selectbox("Multiply points on", ["category", "product", "channel"],
                              key="loy_mult_on")
            rule["on"] = on
        with st.form("loy_rule_form", clear_on_submit=True):
            if kind == "points_per_spend":
                rule["points"] = st.number_input(f"{p.capitalize()}", min_value=1, value=1, key="loy_pps_points")
                rule["per_amount"] = str(st.number_input(
                    f"for every ({currency})", min_value=0.01, value=1.0, key="loy_pps_amount"))
            elif kind == "multiplier":
                rule["value"] = _value_input(rule["on"], st)
                rule["factor"] = st.number_input("Factor", min_value=0.1, value=2.0, step=0.5,
                                                 key="loy_mult_factor")
            elif kind == "promotion":
                start = f.as_of - timedelta(days=PROMOTION_LEAD_DAYS)
                rule["name"] = st.text_input("Promotion name", value="Double points",
                                             key="loy_promo_name")
                rule["start"] = st.date_input("First day", value=start, key="loy_promo_start").isoformat()
                rule["end"] = st.date_input("Last day", value=start + timedelta(days=PROMOTION_DAYS - 1),
                                            key="loy_promo_end").isoformat()
                rule["factor"] = st.number_input("Factor", min_value=0.1, value=2.0, step=0.5,
                                                 key="loy_promo_factor")
            else:
                rule["event"] = st.selectbox("Event", list(BONUS_EVENTS), format_func=BONUS_EVENTS.get,
                                             key="loy_bonus_event")
                rule["points"] = st.number_input(f"Bonus {p}", min_value=1, value=50, key="loy_bonus_points")
            if st.form_submit_button("Add rule", key="loy_add_rule"):
                _apply(earn_rules=[*_dump(draft.earn_rules), rule])

    with st.expander("Caps", expanded=False):
        _listing(draft.caps, "caps", lambda c: c.sentence(p, currency))
        with st.form("loy_cap_form", clear_on_submit=True):
            per = st.selectbox("Cap per", list(CAP_PERIODS), format_func=CAP_PERIODS.get, key="loy_cap_per")
            n = st.number_input(f"At most ({p})", min_value=1, value=1000, key="loy_cap_points")
            if st.form_submit_button("Add cap", key="loy_add_cap"):
                _apply(caps=[*_dump(draft.caps), {"per": per, "points": n}])

    with st.expander("Tiers", expanded=True):
        rules = draft.tiers
        with st.form("loy_tier_rules_form"):
            c1, c2, c3 = st.columns(3)
            basis = c1.selectbox("Tiers by", ["points", "spend"], key="loy_tier_basis",
                                 index=0 if rules is None or rules.basis == "points" else 1,
                                 format_func=lambda b: f"qualifying {p}" if b == "points" else "net spend")
            periods = list(TIER_PERIODS)
            period = c2.selectbox("Counted", periods, format_func=TIER_PERIODS.get, key="loy_tier_period",
                                  index=periods.index(rules.period) if rules else 0)
            demotion = c3.selectbox(
                "Not requalified", ["to_qualified", "one_tier"], key="loy_tier_demotion",
                index=0 if rules is None or rules.demotion == "to_qualified" else 1,
                format_func=lambda d: "to the tier earned" if d == "to_qualified" else "down one tier",
                help="Calendar-year tiers: what happens on 1 January to customers who did not "
                "reach their tier's threshold again.")
            if st.form_submit_button("Apply tier rules", key="loy_tier_rules_apply"):
                tiers = _dump(rules.tiers) if rules else []
                _apply(tiers={"basis": basis, "period": period, "demotion": demotion, "tiers": tiers})
        if rules is not None:
            st.markdown(plain(rules.sentence(p, currency)))
            tier_list = draft.tier_list()
            for i, t in enumerate(tier_list):
                a, b = st.columns([7, 1], vertical_alignment="center")
                a.markdown(plain(rules.tier_sentence(t, p, currency)))
                if b.button(":material/delete:", key=f"loy_rm_tier_{i}", help="Remove"):
                    rest = [x for x in tier_list if x is not t]
                    _apply(tiers={**rules.model_dump(mode="json"), "tiers": _dump(rest)})
        with st.form("loy_tier_form", clear_on_submit=True):
            c1, c2, c3 = st.columns(3)
            t_name = c1.text_input("Tier name", key="loy_tier_name", placeholder="Gold")
            unit = f"qualifying {p}" if rules is None or rules.basis == "points" else currency
            t_thr = c2.number_input(f"From ({unit})", min_value=0.0, value=0.0, step=50.0,
                                    key="loy_tier_threshold")
            t_mult = c3.number_input("Earn multiplier", min_value=1.0, value=1.0, step=0.25,
                                     key="loy_tier_multiplier")
            t_perks = st.text_input("Perks (separated by commas)", key="loy_tier_perks")
            if st.form_submit_button("Add tier", key="loy_add_tier"):
                base = rules.model_dump(mode="json") if rules else {}
                tier = {"name": t_name, "threshold": str(t_thr), "earn_multiplier": t_mult,
                        "perks": [x for x in t_perks.split(",") if x.strip()]}
                _apply(tiers={**base, "tiers": [*base.get("tiers", []), tier]})

    with st.expander("Expiry", expanded=False):
        with st.form("loy_expiry_form"):
            options = ["never", "after_earning", "after_inactivity"]
            current_rule = draft.expiry.rule if draft.expiry else "never"
            rule_kind = st.selectbox(
                "Points expire", options, index=options.index(current_rule), key="loy_expiry_rule",
                format_func={"never": "never", "after_earning": "N months after earning",
                             "after_inactivity": "after N months without activity"}.get)
            months = st.number_input("N months", min_value=1, max_value=120,
                                     value=draft.expiry.months if draft.expiry else 12,
                                     key="loy_expiry_months")
            if st.form_submit_button("Apply expiry", key="loy_expiry_apply"):
                _apply(expiry=None if rule_kind == "never" else {"rule": rule_kind, "months": months})

    with st.expander("Paid membership", expanded=False):
        m = draft.membership
        with st.form("loy_membership_form"):
            on = st.checkbox("Offer a paid membership", value=m is not None, key="loy_member_on")
            c1, c2, c3 = st.columns(3)
            m_name = c1.text_input("Name", value=m.name if m else "Plus", key="loy_member_name")
            fee = c2.number_input(f"Fee ({currency})", min_value=0.01,
                                  value=float(m.fee) if m else 49.0, key="loy_member_fee")
            billing = c3.selectbox("Billed", ["yearly", "monthly"], key="loy_member_billing",
                                   index=0 if m is None or m.billing == "yearly" else 1)
            ship = st.checkbox("Free shipping", value=m.free_shipping if m else True, key="loy_member_ship")
            mult = st.number_input("Extra earn multiplier", min_value=1.0, step=0.25,
                                   value=m.earn_multiplier if m else 1.0, key="loy_member_mult")
            perks = st.text_input("Other perks (separated by commas)",
                                  value=", ".join(m.perks) if m else "", key="loy_member_perks")
            if st.form_submit_button("Apply membership", key="loy_member_apply"):
                _apply(membership=None if not on else {
                    "name": m_name, "fee": str(fee), "billing": billing, "free_shipping": ship,
                    "earn_multiplier": mult, "perks": [x for x in perks.split(",") if x.strip()],
                })

    with st.expander("Rewards", expanded=False):
        _listing(draft.rewards, "rewards", lambda r: r.sentence(p, currency))
        with st.form("loy_reward_form", clear_on_submit=True):
            c1, c2, c3, c4 = st.columns(4)
            r_name = c1.text_input("Reward", key="loy_reward_name", placeholder="Free bag of coffee")
            r_points = c2.number_input(f"Cost in {p}", min_value=1, value=500, key="loy_reward_points")
            r_cost = c3.number_input(f"Cost to you ({currency})", min_value=0.0, value=5.0,
                                     key="loy_reward_cost")
            codes = ["", *facts.discount_codes]
            r_code = c4.selectbox("Redeemed with the code", codes, key="loy_reward_code",
                                  format_func=lambda c: c or "(none in the data)",
                                  help="When orders show this discount code, the simulation and the "
                                  "ledger count them as redemptions of this reward.")
            if st.form_submit_button("Add reward", key="loy_add_reward"):
                _apply(rewards=[*_dump(draft.rewards), {
                    "name": r_name, "points": r_points, "cost": str(r_cost),
                    "discount_code": r_code or None}])


def program_view() -> None:
    left, right = st.columns([3, 2])
    with left:
        st.subheader(f"Draft: {plain(draft.name)}")
        if active is not None and draft == active.program:
            st.caption(f"Same as the active version {active.version_id}.")
        program_editor()
        c1, c2 = st.columns(2)
        if active is not None and c1.button("Start over from the active program", key="loy_reset_active"):
            _set_draft(active.program)
        if c2.button("Start over from scratch", key="loy_reset_starter"):
            _set_draft(starter_program())
    with right:
        st.subheader("In words")
        for section, sentence in draft.sentences(currency):
            st.markdown(f"**{plain(section)}** · {plain(sentence)}")
        problems = validate(draft, currency=currency, facts=facts)
        st.subheader("Checks")
        if not problems:
            st.success("No problems found.")
        for pr in problems:
            (st.error if pr.severity == "error" else st.warning)(plain(pr.message))
        save_form()


def save_form() -> None:
    st.subheader("Save as a version")
    if not roles.may(Role.EDITOR):
        roles.read_only_note("save program versions")
        return
    done = posted_through(ctx.conn)
    if active is None:
        default = _replay_range().start
    else:
        default = max((done or f.as_of) + timedelta(days=1), active.starts_on + timedelta(days=1))
    with st.form("loy_save_form"):
        starts = st.date_input("In force from", value=default, key="loy_save_start",
                               help="The version applies to orders from this day on; earlier days "
                               "keep the version that was in force then.")
        make_active = st.checkbox("Make it the active program", value=True, key="loy_save_activate")
        if st.form_submit_button("Save version", type="primary", key="loy_save"):
            try:
                v = save_version(ctx.conn, draft, starts_on=starts, activate=make_active,
                                 actor=ctx.actor)
                note = f"Saved version {v.version_id} ({v.status}). {v.changes}"
                if make_active:
                    with st.spinner("Posting the member ledger…"):
                        note += " " + post_ledger(ctx.conn, actor=ctx.actor).message
                st.session_state[FLASH_KEY] = note
                st.rerun()
            except RelmarkError as exc:
                st.error(str(exc))


# --- the simulation ---------------------------------------------------------------------------

def _replay_range() -> DateRange:
    choice = st.session_state.get("loy_period", "last_365_days")
    if choice == "sidebar":
        return f.rng
    return preset_range(choice, as_of=f.as_of)


def _show_result(r: SimulationResult, current_result: SimulationResult | None) -> None:
    cols = st.columns(5)
    for col, key, value in zip(cols, ["loyalty_members", "loyalty_points_issued",
                                      "loyalty_points_redeemed", "loyalty_points_expired",
                                      "loyalty_points_outstanding"],
                               [r.members, r.issued, r.redeemed, r.expired, r.outstanding], strict=True):
        metric_card(key, value, currency=currency, where=col)
    cols = st.columns(4)
    metric_card("loyalty_liability", r.liability, currency=currency, where=cols[0])
    metric_card("loyalty_program_cost", r.program_cost, currency=currency, where=cols[1])
    metric_card("loyalty_cost_share", r.cost_share, currency=currency, where=cols[2])
    if r.membership is not None:
        metric_card("loyalty_better_off", r.membership.better_off, currency=currency, where=cols[3])
    st.caption(plain(r.redemption_note) + f" Net revenue in the period: {fmt_money(r.net_revenue, currency)}.")
    if r.negative_balances:
        st.warning(f"{r.negative_balances:,} members used reward codes before this program would "
                   "have given them enough points: their balances end below zero.")
    if r.membership is not None:
        st.info(plain(r.membership.sentence(currency)))

    a, b = st.columns(2)
    with a:
        st.markdown(f"**Points by rule** ({r.points_name})")
        st.dataframe(r.by_rule, hide_index=True, key="loy_by_rule", column_config={
            "rule": "Rule", "kind": "Kind", "points": count_column(
                "Points", help="What each rule added to the rounded-down points of the orders "
                "(caps take points away). " + definition("loyalty_points_issued").help)})
    with b:
        ot = r.over_time.assign(liability=r.over_time["liability"].astype(float))
        fig = px.bar(ot, x="month", y="liability",
                     labels={"month": "Month", "liability": f"Liability at month end ({currency})"},
                     hover_data={"issued": True, "redeemed": True, "expired": True, "outstanding": True})
        fig.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                          title="Liability over time")
        st.plotly_chart(fig, key="loy_liability_chart", width="stretch")
    if len(r.tier_reached):
        a, b = st.columns(2)
        with a:
            fig = px.bar(r.tier_over_time.assign(tier=r.tier_over_time["tier"].map(chart_text)),
                         x="month", y="members", color="tier",
                         labels={"month": "Month", "members": "Members at month end", "tier": "Tier"})
            fig.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                              title="Members by tier")
            st.plotly_chart(fig, key="loy_tier_chart", width="stretch")
        with b:
            moves = r.tier_moves.melt(id_vars="month", value_vars=["joined", "up", "down"],
                                      var_name="move", value_name="members")
            fig = px.bar(moves, x="month", y="members", color="move", barmode="group",
                         labels={"month": "Month", "members": "Members", "move": ""})
            fig.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                              title="Joined and moved between tiers")
            st.plotly_chart(fig, key="loy_moves_chart", width="stretch")
        st.dataframe(r.tier_reached, hide_index=True, key="loy_tier_reached", column_config={
            "tier": "Tier", "members": count_column(
                "Members who reached it", help="Members who were in this tier or a higher one at "
                "some point of the period.")})
    if current_result is not None:
        st.markdown("**The active program and the draft side by side**")
        side = compare(current_result, r)
        shown = side.assign(**{c: [_fmt(v, u) for v, u in zip(side[c], side["unit"], strict=True)]
                               for c in ("current", "draft", "change")})
        st.dataframe(shown.drop(columns="unit"), hide_index=True, key="loy_side_by_side",
                     column_config={
                         "metric": "", "current": st.column_config.TextColumn(
                             "Active program", help="The active version replayed over the same "
                             "period with the same redemption rate."),
                         "draft": "Draft", "change": st.column_config.TextColumn(
                             "Change", help="Draft minus active program.")})
    checked = validate(draft, currency=currency, facts=facts.model_copy(update={
        "best_qualifying": r.best_qualifying, "best_period": r.period.sentence()}))
    for pr in checked:
        if pr.code == "tier_unreachable":
            st.warning(plain(pr.message))


def _fmt(value: Any, unit: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if unit == "money":
        return fmt_money(value, currency)
    if unit == "share":
        return fmt_share(value)
    return f"{int(value):,}"


def simulate_view() -> None:
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    url_choice("Replay period", list(PERIODS), key="loy_period", param="period",
               default="last_365_days", format_func=PERIODS.get, where=c1)
    rng = _replay_range()
    rate = url_number("Assumed redemption rate (%)", key="loy_rate", param="rate",
                      default=int(DEFAULT_REDEMPTION_RATE * 100), min_value=0, max_value=100,
                      step=5, where=c2,
                      help="Share of points customers redeem when no reward codes show up in "
                      "the orders; the rest is never claimed.") / 100
    st.caption(f"Replays **{plain(draft.name)}** over {rng.sentence()} as if it had launched on "
               "the first day. The same inputs always give the same numbers.")
    inputs = (st.session_state[DRAFT_KEY], rng.start, rng.end, rate, ctx.version,
              active.version_id if active else None)
    if c3.button("Simulate", type="primary", key="loy_simulate"):
        bar = st.progress(0.0, text="Replaying the draft…")
        share = 0.5 if active is not None else 1.0

        def draft_progress(x: float, text: str) -> None:
            bar.progress(min(max(x * share, 0.0), 1.0), text=f"Draft: {text}")

        def active_progress(x: float, text: str) -> None:
            bar.progress(min(max(0.5 + x * 0.5, 0.0), 1.0), text=f"Active program: {text}")

        try:
            result = simulate(ctx.src, program=draft, rng=rng, redemption_rate=rate,
                              progress=draft_progress)
            current_result = None
            if active is not None:
                current_result = simulate(ctx.src, program=active.program, rng=rng,
                                          redemption_rate=rate, progress=active_progress)
            st.session_state[RESULT_KEY] = (inputs, result, current_result)
        except RelmarkError as exc:
            st.error(str(exc))
        bar.empty()
    saved = st.session_state.get(RESULT_KEY)
    if saved is None:
        st.info("Press **Simulate** to replay the draft on your orders.")
        return
    if saved[0] != inputs:
        st.info("The draft, the period or the data changed since the last run: press "
                "**Simulate** to see numbers for what you have now. Showing the last run.")
    _show_result(saved[1], saved[2])


# --- members and versions ---------------------------------------------------------------------

def members_view() -> None:
    if active is None:
        st.info("No program is active yet. Save a version and make it active to start the ledger.")
        return
    done = posted_through(ctx.conn)
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.caption(f"Active: **{plain(active.name)}** (version {active.version_id}, from "
               f"{active.starts_on:%-d %b %Y}). Ledger posted through "
               f"{done.strftime('%-d %b %Y') if done else 'never'}.")
    if roles.may(Role.EDITOR) and c2.button("Update the ledger", key="loy_post"):
        try:
            st.session_state[FLASH_KEY] = post_ledger(ctx.conn, actor=ctx.actor).message
            st.rerun()
        except RelmarkError as exc:
            st.error(str(exc))

    st.subheader("Look up a member")
    who = url_text("Customer id or email", key="loy_member", param="member",
                   placeholder="ann.lee@example.com")
    if who.strip():
        cid = find_customer(ctx.conn, who)
        if cid is None:
            st.warning("No customer has that id or email.")
        else:
            status = member_status(ctx.conn, cid)
            assert status is not None
            a, b, c = st.columns(3)
            a.metric(f"Balance ({status.points_name})", f"{status.balance:,}",
                     help=definition("loyalty_balance").help
                     + f" Worth {fmt_money(status.balance_value, currency)}.")
            b.metric("Tier", status.tier, help=status.tier_note)
            c.metric("Earned / redeemed / expired",
                     f"{status.earned:,} / {status.redeemed:,} / {status.expired:,}",
                     help="Totals of the member's ledger entries of each kind, corrections "
                     "included. " + definition("loyalty_points_expired").help)
            if status.next_tier is not None and status.progress is not None:
                st.progress(min(max(status.progress, 0.0), 1.0),
                            text=f"{status.progress:.0%} of the way to {plain(status.next_tier)}")
            st.dataframe(status.entries, hide_index=True, key="loy_member_entries", column_config={
                "happened_at": st.column_config.DatetimeColumn("When (UTC)", format="D MMM YYYY, HH:mm"),
                "kind": "Kind", "points": count_column("Points"), "balance": count_column("Balance"),
                "reason": "Reason"})

    st.subheader("Members")
    search = url_text("Search members", key="loy_members_search", param="members_q",
                      placeholder="Part of a name, email or customer id")
    table = compute(members_table, search=search or None)
    st.dataframe(table, hide_index=True, key="loy_members_table", column_config={
        "customer_id": "Customer", "name": "Name", "email": "Email", "tier": "Tier",
        "balance": count_column("Balance", help=definition("loyalty_balance").help),
        "balance_value": money_column("Worth", currency),
        "earned": count_column("Earned"), "redeemed": count_column("Redeemed"),
        "expired": count_column("Expired"),
        "qualifying": st.column_config.NumberColumn(
            "Qualifying", help=definition("loyalty_tier_progress").help),
        "next_tier": "Next tier",
        "to_next_tier": st.column_config.NumberColumn(
            "To next tier", help="Qualifying points (or spend) still needed for the next tier."),
        "last_activity": st.column_config.DatetimeColumn("Last activity", format="D MMM YYYY"),
    })
    try:  # the table names people: editors only
        members_file = members_csv(table, conn=ctx.conn, actor=ctx.actor)
    except RelmarkError as exc:
        st.caption(str(exc))
    else:
        st.download_button("Download members (CSV)", members_file,
                           file_name="loyalty-members.csv", mime="text/csv",
                           key="loy_members_csv")


def versions_view() -> None:
    versions = list_versions(ctx.conn)
    if versions.empty:
        st.info("No version saved yet.")
        return
    st.dataframe(versions, hide_index=True, key="loy_versions", column_config={
        "version_id": "Version", "name": "Program", "status": "Status",
        "starts_on": st.column_config.DateColumn("In force from", format="D MMM YYYY"),
        "saved_by": "Saved by",
        "saved_at": st.column_config.DatetimeColumn("Saved (UTC)", format="D MMM YYYY, HH:mm"),
        "changes": "What changed"})
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    vid = c1.selectbox("Version", list(versions["version_id"]), key="loy_version_pick")
    if c2.button("Load it into the editor", key="loy_version_load"):
        _set_draft(get_version(ctx.conn, int(vid)).program)


if view == "program":
    program_view()
elif view == "simulate":
    simulate_view()
elif view == "members":
    members_view()
else:
    versions_view()
