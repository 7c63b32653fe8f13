"""Segments: build a group of customers without SQL, save it, watch its size, see how customers
move between RFM groups, and export it for an email tool.

The saved segment being looked at is the sidebar's (``segment=<id>`` in the URL), so a link
opens it on this and every other page. The builder's conditions are widgets; the core turns
them into a definition, its sentence, and the live numbers.
"""

import io
from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from relmark_core.auth import Role
from relmark_core.errors import NotAllowed, RelmarkError
from relmark_core.metrics.definitions import definition
from relmark_core.periods import DateRange
from relmark_core.personalisation.affinity import DEFAULT_MIN_COUNT
from relmark_core.privacy.consent import CHANNEL_LABELS as CONSENT_CHANNEL_LABELS
from relmark_core.privacy.reach import EXCLUDED_HELP
from relmark_core.segments import (
    AGE_BANDS,
    CONDITION_KINDS,
    CONDITION_LABELS,
    DEFAULT_PROPERTIES,
    EXPORT_PROPERTIES,
    MEMBERSHIP_OVER_TIME,
    ConditionGroup,
    SegmentDefinition,
    condition_problem,
    default_flow_dates,
    delete_segment,
    duplicate_segment,
    export_members,
    flow_members,
    flow_sentence,
    parse_definition,
    rename_segment,
    rfm_flow,
    save_segment,
    segment_sample,
    segment_summary,
    size_over_time,
    update_segment,
)
from relmark_core.segments.compile import value_options
from relmark_core.segments.model import LIKELY_MAX_TOP, LIKELY_TOP, starter_condition
from relmark_ui import compute, current, roles
from relmark_ui.widgets import (
    metric_card,
    select_segment,
    url_choice,
    url_date,
    url_multi,
    url_toggle,
)

VIEWS = {"build": "Build", "size": "Size over time", "flow": "RFM flow", "export": "Export"}
SIZE_MONTHS = (6, 12, 24, 36)
DEFAULT_SIZE_MONTHS = 12
DAYS_STEP = 1
MAX_CONDITIONS = 20  # per segment and per group (the model refuses more)
FLOW_COLORS = ("#7c3aed", "#2563eb", "#0891b2", "#059669", "#65a30d", "#ca8a04", "#ea580c",
               "#dc2626", "#db2777", "#9333ea", "#4b5563", "#94a3b8", "#a3a3a3")

ctx = current()
f = ctx.filters
assert f is not None
cur = ctx.src.reporting_currency
seg = f.segment
st.title("Segments")
st.caption(
    "Build a group of customers from conditions, save it, and use it as a filter on every page "
    "(sidebar → Segment). Links keep the segment by id, so they survive a rename."
)
if "_sg_done" in st.session_state:
    st.toast(st.session_state.pop("_sg_done"), icon=":material/check_circle:")
options: dict[str, list[str]] = compute(value_options)
view = url_choice("View", list(VIEWS), key="sg_view", param="view", default="build",
                  format_func=VIEWS.__getitem__, horizontal=True)


# --- the builder's state: conditions as widgets -----------------------------------------------
# st.session_state["sg_draft"] = {"for": id | None, "stamp": str, "gen": int, "uid": int,
#                                 "items": [{"uid", "kind", "init"} | {"uid", "kind": "group",
#                                 "children": [...]}]}
# Widget keys are "sg<gen>_<uid>_<field>": loading another segment starts a new generation.

def _stamp() -> str:
    return "" if seg is None else f"{seg.segment_id}:{seg.definition.to_json()}"


def _load(d: SegmentDefinition | None) -> None:
    gen = int(st.session_state.get("sg_gen", 0)) + 1
    st.session_state["sg_gen"] = gen
    uid = 0

    def node(data: dict[str, Any]) -> dict[str, Any]:
        nonlocal uid
        uid += 1
        return {"uid": uid, "kind": data["kind"], "init": data}

    items: list[dict[str, Any]] = []
    for item in d.conditions if d is not None else ():
        data = item.model_dump(mode="json")
        if isinstance(item, ConditionGroup):
            uid += 1
            group = {"uid": uid, "kind": "group",
                     "children": [node(c) for c in data["conditions"]]}
            st.session_state[f"sg{gen}_{uid}_match"] = item.match
            items.append(group)
        else:
            items.append(node(data))
    st.session_state[f"sg{gen}_match"] = d.match if d is not None else "all"
    st.session_state["sg_draft"] = {"for": None if seg is None else seg.segment_id,
                                    "stamp": _stamp(), "gen": gen, "uid": uid, "items": items}


draft = st.session_state.get("sg_draft")
if draft is None or draft["stamp"] != _stamp():
    _load(seg.definition if seg is not None else None)
    draft = st.session_state["sg_draft"]
gen = draft["gen"]


def _key(uid: int, name: str) -> str:
    return f"sg{gen}_{uid}_{name}"


def _new_node(kind: str) -> dict[str, Any]:
    draft["uid"] += 1
    return {"uid": draft["uid"], "kind": kind, "init": starter_condition(kind, options)}


# --- one condition's widgets ------------------------------------------------------------------

def _seed(k: str, value: Any) -> None:
    st.session_state.setdefault(k, value)


def _pick(label: str, k: str, values: list[str], init: list[str], help: str | None = None
          ) -> list[str]:
    _seed(k, [v for v in init])
    chosen = st.session_state[k]
    opts = list(dict.fromkeys([*values, *chosen]))
    return list(st.multiselect(label, opts, key=k, accept_new_options=True, help=help,
                               placeholder="Choose or type values"))


def _number(where: Any, label: str, k: str, init: Any, *, money: bool = False,
            lo: float = 0, hi: float | None = None) -> Any:
    _seed(k, None if init is None else (float(init) if money else int(init)))
    if money:
        v = where.number_input(label, min_value=float(lo), step=1.0, format="%.2f", key=k,
                               value=None, placeholder="any")
        return None if v is None else f"{v:.2f}"  # cents as text: no float artefacts
    return where.number_input(label, min_value=int(lo), max_value=None if hi is None else int(hi),
                              step=1, key=k, value=None, placeholder="any")


def _days(where: Any, label: str, k: str, init: Any) -> int | None:
    _seed(k, init)
    v = where.number_input(label, min_value=1, step=DAYS_STEP, key=k, value=None,
                           placeholder="any time")
    return None if v is None else int(v)


def _choice(where: Any, label: str, k: str, opts: dict[Any, str], init: Any) -> Any:
    _seed(k, init)
    return where.selectbox(label, list(opts), key=k, format_func=opts.__getitem__)


def _fields(kind: str, uid: int, init: dict[str, Any]) -> dict[str, Any]:
    """The widgets of one condition; returns the condition as plain data."""
    k = lambda name: _key(uid, name)  # noqa: E731
    out: dict[str, Any] = {"kind": kind}
    if kind == "age":
        bands = {label: (lo, hi) for label, lo, hi in AGE_BANDS}
        now = next((b for b, r in bands.items() if r == (init.get("min_age"), init.get("max_age"))),
                   "custom")
        band = _choice(st, "Age band", k("band"), {**{b: b for b in bands}, "custom": "Custom"},
                       now)
        if band != "custom":
            out["min_age"], out["max_age"] = bands[band]
        else:
            a, b = st.columns(2)
            out["min_age"] = _number(a, "From age", k("min"), init.get("min_age"))
            out["max_age"] = _number(b, "To age (included)", k("max"), init.get("max_age"))
    elif kind == "gender":
        out["genders"] = _pick("Gender", k("v"), options.get("gender", []), init["genders"])
    elif kind == "location":
        a, b = st.columns([1, 3])
        out["field"] = _choice(a, "Where", k("field"),
                               {"country": "Country", "region": "Region", "city": "City"},
                               init.get("field", "country"))
        with b:
            out["values"] = _pick("Values", k("v"), options.get(out["field"], []), init["values"],
                                  help="Countries are ISO codes (DE, US, ...).")
        out["exclude"] = st.checkbox("Everyone except these", key=k("exclude"),
                                     value=bool(init.get("exclude", False)))
    elif kind == "tags":
        out["tags"] = _pick("Tags", k("v"), options.get("tags", []), init["tags"])
        out["match"] = _choice(st, "Match", k("match"),
                               {"any": "Any of them", "all": "All of them", "none": "None of them"},
                               init.get("match", "any"))
    elif kind in ("orders", "spend", "aov"):
        names = {"orders": ("min_orders", "max_orders", "Fewest orders", "Most orders"),
                 "spend": ("min_spend", "max_spend", f"Spent at least ({cur})",
                           f"Spent at most ({cur})"),
                 "aov": ("min_aov", "max_aov", f"AOV at least ({cur})", f"AOV at most ({cur})")}
        lo_name, hi_name, lo_label, hi_label = names[kind]
        a, b = st.columns(2)
        money = kind != "orders"
        out[lo_name] = _number(a, lo_label, k("min"), init.get(lo_name), money=money)
        out[hi_name] = _number(b, hi_label, k("max"), init.get(hi_name), money=money)
    elif kind == "order_date":
        a, b, c = st.columns([1, 1.3, 2])
        out["which"] = _choice(a, "Order", k("which"), {"last": "Last order", "first": "First order"},
                               init.get("which", "last"))
        mode0 = ("over" if init.get("over_days") else "dates" if init.get("start") or init.get("end")
                 else "within")
        mode = _choice(b, "When", k("mode"), {"within": "In the last N days",
                                               "over": "More than N days ago",
                                               "dates": "Between dates"}, mode0)
        if mode == "dates":
            d1, d2 = c.columns(2)
            _seed(k("start"), date.fromisoformat(init["start"]) if init.get("start") else None)
            _seed(k("end"), date.fromisoformat(init["end"]) if init.get("end") else None)
            out["start"] = d1.date_input("From", key=k("start"), value=None)
            out["end"] = d2.date_input("To (included)", key=k("end"), value=None)
        else:
            field = "within_days" if mode == "within" else "over_days"
            out[field] = _days(c, "Days", k("days"),
                               init.get("within_days") or init.get("over_days") or 90)
    elif kind == "bought":
        a, b = st.columns([1, 1])
        out["bought"] = _choice(a, "Bought", k("bought"), {True: "Bought", False: "Never bought"},
                                bool(init.get("bought", True)))
        out["what"] = _choice(b, "What", k("what"), {"category": "Category", "product": "Product"},
                              init.get("what", "category"))
        out["values"] = _pick("Categories" if out["what"] == "category" else "Products", k("v"),
                              options.get(out["what"], []), init["values"])
        out["within_days"] = _days(st, "In the last N days (empty: any time)", k("days"),
                                   init.get("within_days"))
    elif kind == "discount_code":
        out["used"] = _choice(st, "Used", k("used"), {True: "Used", False: "Never used"},
                              bool(init.get("used", True)))
        out["codes"] = _pick("Codes (empty: any code)", k("v"), options.get("discount_code", []),
                             init.get("codes", []))
        out["within_days"] = _days(st, "In the last N days (empty: any time)", k("days"),
                                   init.get("within_days"))
    elif kind == "sales_channel":
        out["channels"] = _pick("Sales channels", k("v"), options.get("sales_channel", []),
                                init["channels"])
        out["within_days"] = _days(st, "In the last N days (empty: any time)", k("days"),
                                   init.get("within_days"))
    elif kind == "nps":
        _seed(k("v"), list(init["groups"]))
        out["groups"] = st.multiselect(
            "NPS group of the latest answer", ["promoter", "passive", "detractor"], key=k("v"),
            format_func=lambda g: {"promoter": "Promoters (9–10)", "passive": "Passives (7–8)",
                                   "detractor": "Detractors (0–6)"}[g])
    elif kind == "csat":
        _seed(k("v"), (int(init.get("min_score") or 1), int(init.get("max_score") or 5)))
        lo, hi = st.slider("Latest CSAT score", min_value=1, max_value=5, key=k("v"))
        out["min_score"], out["max_score"] = lo, hi
    elif kind == "consent":
        a, b = st.columns(2)
        out["channel"] = _choice(a, "Channel", k("ch"), dict(CONSENT_CHANNEL_LABELS),
                                 str(init.get("channel", "email")))
        out["consented"] = _choice(b, "Consent", k("v"),
                                   {True: "Gave consent",
                                    False: "Did not (withdrew, refused or unknown)"},
                                   bool(init.get("consented", True)))
    elif kind == "rfm":
        out["groups"] = _pick("RFM groups", k("v"), options.get("rfm", []), init["groups"])
    elif kind == "tier":
        out["tiers"] = _pick("Loyalty tiers", k("v"), options.get("tier", []), init["tiers"])
    elif kind == "likely":
        products = list(dict.fromkeys([*options.get("product", []), init["product"]]))
        out["product"] = _choice(st, "Product", k("v"), {p: p for p in products}, init["product"])
        a, b = st.columns(2)
        _seed(k("top"), int(init.get("top", LIKELY_TOP)))
        out["top"] = a.number_input(
            "Among their top N suggestions", min_value=1, max_value=LIKELY_MAX_TOP, step=1,
            key=k("top"), help=definition("next_best_product").help)
        _seed(k("min"), int(init.get("min_customers", DEFAULT_MIN_COUNT)))
        out["min_customers"] = b.number_input(
            "Fewest customers behind a pair", min_value=1, step=1, key=k("min"),
            help=definition("affinity_min_count").help)
    return out


# Adding and removing run as button callbacks, before the rerun draws the conditions.

def _add(group_uid: int | None, select_key: str) -> None:
    kind = st.session_state.get(select_key)
    if kind is None:
        return
    st.session_state[select_key] = None  # the picker shows its placeholder again
    if group_uid is None:
        if len(draft["items"]) < MAX_CONDITIONS:
            draft["items"].append(_new_node(kind))
        return
    for node in draft["items"]:
        if node["uid"] == group_uid and len(node["children"]) < MAX_CONDITIONS:
            node["children"].append(_new_node(kind))


def _add_group() -> None:
    if len(draft["items"]) < MAX_CONDITIONS:
        draft["uid"] += 1
        draft["items"].append({"uid": draft["uid"], "kind": "group",
                               "children": [_new_node("consent")]})


def _remove(uid: int) -> None:
    kept = []
    for node in draft["items"]:
        if node["uid"] == uid:
            continue
        if node["kind"] == "group":
            node["children"] = [c for c in node["children"] if c["uid"] != uid]
            if not node["children"]:
                continue
        kept.append(node)
    draft["items"] = kept


def _remove_button(where: Any, uid: int, what: str) -> None:
    where.button("Remove", key=_key(uid, "rm"), icon=":material/close:", type="tertiary",
                 help=f"Remove this {what}", on_click=_remove, args=(uid,))


def _condition(node: dict[str, Any], where: str) -> dict[str, Any]:
    """A bordered box with one condition's widgets; returns the condition as plain data."""
    with st.container(border=True):
        head, rm = st.columns([3, 1], vertical_alignment="center")
        head.markdown(f"**{where} · {CONDITION_LABELS[node['kind']]}**")
        _remove_button(rm, node["uid"], "condition")
        data = _fields(node["kind"], node["uid"], node["init"])
        problem = condition_problem(data)
        if problem:
            st.error(problem, icon=":material/error:")
            st.session_state["_sg_marked"] = True
    return data


def _adder(label: str, k: str, group_uid: int | None) -> None:
    a, b = st.columns([4, 1], vertical_alignment="bottom")
    kind = a.selectbox(label, kinds, key=k, format_func=CONDITION_LABELS.__getitem__, index=None,
                       placeholder="Choose a condition type")
    b.button("Add", key=k + "_go", disabled=kind is None, on_click=_add, args=(group_uid, k))


MATCH = {"all": "All of these", "any": "Any of these"}
kinds = [k for k in CONDITION_KINDS if k != "tier" or options.get("tier")]


def _builder() -> dict[str, Any]:
    """Draw the conditions; returns the definition as plain data (may be invalid)."""
    st.radio("Customers who match", list(MATCH), key=f"sg{gen}_match", format_func=MATCH.get,
             horizontal=True)
    items: list[dict[str, Any]] = []
    for i, node in enumerate(draft["items"], start=1):
        if node["kind"] != "group":
            items.append(_condition(node, f"Condition {i}"))
            continue
        with st.container(border=True):
            head, rm = st.columns([3, 1], vertical_alignment="center")
            head.markdown(f"**Condition {i} · a group**")
            _remove_button(rm, node["uid"], "group")
            _seed(_key(node["uid"], "match"), "any")
            match = st.radio("Inside this group, customers who match", list(MATCH),
                             key=_key(node["uid"], "match"), format_func=MATCH.get,
                             horizontal=True)
            children = [_condition(child, f"{i}.{j}")
                        for j, child in enumerate(node["children"], start=1)]
            _adder("Add to this group", _key(node["uid"], "add"), node["uid"])
            items.append({"kind": "group", "match": match, "conditions": children})
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    with a:
        _adder("Add a condition", f"sg{gen}_add", None)
    b.button("Add a group", key=f"sg{gen}_addgroup", on_click=_add_group,
             help="Conditions inside a group combine on their own (e.g. any of them), and the "
             "group counts as one condition here.")
    return {"match": st.session_state[f"sg{gen}_match"], "conditions": items}


def _done(message: str, *, select: int | None = -1, clear: str | None = None) -> None:
    """After a write: say so on the next run, clear a text box, switch segment, rerun."""
    st.session_state["_sg_done"] = message
    if clear is not None:
        st.session_state["_sg_clear"] = clear
    if select != -1:
        select_segment(select)
    st.rerun()


def _text(where: Any, label: str, key: str, placeholder: str) -> str:
    if st.session_state.get("_sg_clear") == key:
        del st.session_state["_sg_clear"]
        st.session_state[key] = ""
    return str(where.text_input(label, key=key, placeholder=placeholder))


def _saved_actions(d: SegmentDefinition) -> None:
    """Save as new; and for a saved segment: save changes, rename, duplicate, delete. Errors
    (a name in use, an empty name) show next to the button."""
    if not roles.may(Role.EDITOR):
        roles.read_only_note("save segments")
        return
    st.markdown("#### Save")
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    name = _text(a, "Name", "sg_name", "e.g. German coffee promoters")
    if b.button("Save as new", key="sg_save", type="primary", icon=":material/save:"):
        try:
            new = save_segment(ctx.conn, name, d, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
        else:
            _done(f"Saved “{new.name}”.", select=new.segment_id, clear="sg_name")
    if seg is None:
        return
    st.markdown(f"#### “{seg.name}”")
    c1, c2, c3 = st.columns(3)
    if c1.button("Save changes", key="sg_update", disabled=d == seg.definition,
                 help="Replace the saved conditions with the ones above"):
        try:
            update_segment(ctx.conn, seg.segment_id, d, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
        else:
            _done(f"Saved the changes to “{seg.name}”.")
    if c2.button("Duplicate", key="sg_duplicate"):
        try:
            copy = duplicate_segment(ctx.conn, seg.segment_id, actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
        else:
            _done(f"Made “{copy.name}”.", select=copy.segment_id)
    with c3.popover("Delete…"):
        st.write(f"Delete “{seg.name}”? Links to it will say it no longer exists.")
        if st.button("Delete for good", key="sg_delete", type="primary"):
            delete_segment(ctx.conn, seg.segment_id, actor=ctx.actor)
            _done(f"Deleted “{seg.name}”.", select=None)
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    new_name = _text(a, "New name", "sg_rename_to", seg.name)
    if b.button("Rename", key="sg_rename"):
        try:
            renamed = rename_segment(ctx.conn, seg.segment_id, new_name,
                                     actor=ctx.actor)
        except RelmarkError as exc:
            st.error(str(exc))
        else:
            _done(f"Renamed to “{renamed.name}”; links keep working.", clear="sg_rename_to")
    base = (st.context.url or "").split("?")[0] or "/segments"
    st.caption("Link to this segment (opens it on any page, also after a rename):")
    st.code(f"{base}?segment={seg.segment_id}", language=None)


def _live(d: SegmentDefinition) -> int:
    """The sentence and the live numbers; returns the number of members."""
    s = compute(segment_summary, definition=d, as_of=f.as_of)
    st.subheader(s.sentence)
    c1, c2, c3 = st.columns(3)
    metric_card("segment_customers", s.customers, where=c1)
    metric_card("segment_share", s.share, where=c2)
    metric_card("segment_revenue", s.revenue, currency=cur, where=c3)
    st.caption(f"Membership as of {f.as_of.day} {f.as_of:%b %Y} (the sidebar's as-of date).")
    return s.customers


def _sample(d: SegmentDefinition, customers: int) -> None:
    if customers == 0:
        st.info("No customer matches these conditions. Loosen one of them, or choose *Any of "
                "these*.")
        return
    sample = compute(segment_sample, definition=d, as_of=f.as_of)
    st.markdown(f"**A sample of members** (the {len(sample)} biggest spenders)")
    st.dataframe(
        sample[["name", "orders", "net_spend", "last_order", "accepts_marketing", "location",
                "email"]],
        hide_index=True, key="sg_sample",
        column_config={
            "name": "Name", "email": "Email", "location": "Location",
            "orders": st.column_config.NumberColumn("Orders", width="small"),
            "net_spend": st.column_config.NumberColumn(
                "Spend", format="%.2f", width="small",
                help=f"Net revenue of counted orders up to the as-of date, {cur}"),
            "last_order": st.column_config.DatetimeColumn("Last order", format="YYYY-MM-DD",
                                                          width="small"),
            "accepts_marketing": st.column_config.CheckboxColumn(
                "Consent", width="small", help="Accepts email marketing"),
        },
    )


def _whom() -> tuple[SegmentDefinition, str]:
    """The sidebar's segment, or everyone."""
    if seg is not None:
        return seg.definition, f"“{seg.name}”"
    return parse_definition({}), "all customers"


# --- views ------------------------------------------------------------------------------------

if view == "build":
    st.session_state["_sg_marked"] = False
    head = st.container()
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        if seg is not None:
            st.markdown(f"Editing the saved segment **{seg.name}**. To start a new one, choose "
                        "*All customers* in the sidebar.")
        raw = _builder()
    try:
        d = parse_definition(raw)
    except RelmarkError as exc:
        if st.session_state.get("_sg_marked"):
            head.warning("Fix the condition marked below to see who is in the segment.",
                         icon=":material/edit:")
        else:
            head.error(str(exc), icon=":material/error:")
    else:
        with head:
            n = _live(d)
        with right:
            _sample(d, n)
            _saved_actions(d)

elif view == "size":
    d, whom = _whom()
    months = url_choice("Months", list(SIZE_MONTHS), key="sg_months", param="months",
                        default=DEFAULT_SIZE_MONTHS, format_func=lambda m: f"Last {m} months",
                        horizontal=True)
    first = (f.as_of.replace(day=1) - timedelta(days=1)).replace(day=1)
    for _ in range(months - 2):
        first = (first - timedelta(days=1)).replace(day=1)
    rng = DateRange(start=first, end=f.as_of + timedelta(days=1))
    series = compute(size_over_time, definition=d, rng=rng)
    st.subheader(f"Size of {whom} at each month end")
    st.caption(MEMBERSHIP_OVER_TIME)
    df = series.assign(point=series["complete"].map({True: "Month end",
                                                      False: "As-of date (month not over)"}))
    fig = go.Figure(go.Scatter(
        x=df["period"], y=df["customers"], mode="lines+markers", line={"color": "#7c3aed"},
        customdata=df[["as_of", "point"]].astype(str).to_numpy(),
        hovertemplate="%{customdata[0]}: %{y:,} customers<br>%{customdata[1]}<extra></extra>",
    ))
    fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=360,
                      yaxis_title=definition("segment_size").label, xaxis_title="Month")
    st.plotly_chart(fig, key="sg_size_chart", width="stretch")
    st.dataframe(series, hide_index=True, key="sg_size_table", column_config={
        "period": "Month", "as_of": "Counted on",
        "customers": st.column_config.NumberColumn("Customers",
                                                   help=definition("segment_size").help),
        "complete": "Month over"})

elif view == "flow":
    start0, end0 = default_flow_dates(f.as_of)
    a, b = st.columns(2)
    start = url_date("From (end of day)", key="sg_flow_from", param="from", default=start0, where=a)
    end = url_date("To (end of day)", key="sg_flow_to", param="to", default=end0, where=b)
    st.subheader("How customers moved between RFM groups"
                 + (f" — {seg.name}" if seg is not None else ""))
    st.caption(definition("segment_flow").help)
    try:
        flow = compute(rfm_flow, start=start, end=end, segment=seg)
    except RelmarkError as exc:
        st.error(str(exc))
        st.stop()
    if flow.empty:
        st.info("No customer had a counted order by the 'to' date. Choose later dates.")
        st.stop()
    lefts = list(dict.fromkeys(flow["from_group"]))
    rights = list(dict.fromkeys(flow.sort_values("to_group", key=lambda s: s.map(
        {g: i for i, g in enumerate(lefts)}).fillna(99))["to_group"]))
    left_n = flow.groupby("from_group")["customers"].sum()
    right_n = flow.groupby("to_group")["customers"].sum()
    names = sorted(set(lefts) | set(rights), key=lambda g: (g not in lefts, lefts.index(g)
                                                           if g in lefts else 0, g))
    color = {g: FLOW_COLORS[i % len(FLOW_COLORS)] for i, g in enumerate(names)}
    labels = [f"{g} ({int(left_n[g]):,})" for g in lefts] + [
        f"{g} ({int(right_n[g]):,})" for g in rights]
    fig = go.Figure(go.Sankey(
        node={"label": labels, "pad": 12, "thickness": 14,
              "color": [color[g] for g in lefts] + [color[g] for g in rights]},
        link={
            "source": [lefts.index(r.from_group) for r in flow.itertuples()],
            "target": [len(lefts) + rights.index(r.to_group) for r in flow.itertuples()],
            "value": flow["customers"].tolist(),
            "color": [color[r.from_group] + "55" for r in flow.itertuples()],
            "customdata": [f"{r.from_group} → {r.to_group}" for r in flow.itertuples()],
            "hovertemplate": "%{customdata}: %{value:,} customers<extra></extra>",
        },
    ))
    fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10}, height=520,
                      annotations=[
                          {"x": 0, "y": 1.06, "xref": "paper", "yref": "paper", "showarrow": False,
                           "text": f"{start.day} {start:%b %Y}", "xanchor": "left"},
                          {"x": 1, "y": 1.06, "xref": "paper", "yref": "paper", "showarrow": False,
                           "text": f"{end.day} {end:%b %Y}", "xanchor": "right"}])
    st.plotly_chart(fig, key="sg_flow_chart", width="stretch")
    moves = flow.sort_values("customers", ascending=False, kind="stable")
    pairs = [f"{r.from_group} → {r.to_group}" for r in moves.itertuples()]
    counts = {f"{r.from_group} → {r.to_group}": int(r.customers) for r in moves.itertuples()}
    changed = [p for p in pairs if p.split(" → ")[0] != p.split(" → ")[1]]
    if st.session_state.get("sg_move") not in pairs:
        st.session_state.pop("sg_move", None)
    move = url_choice("Who moved", pairs, key="sg_move", param="move",
                      default=(changed or pairs)[0],
                      format_func=lambda p: f"{p} ({counts[p]:,})")
    src_group, dst_group = move.split(" → ")
    st.caption(flow_sentence(src_group, dst_group, counts[move], start, end))
    who = compute(flow_members, start=start, end=end, from_group=src_group, to_group=dst_group,
                  segment=seg)
    st.dataframe(who.drop(columns=["customer_id", "from_group", "to_group"]), hide_index=True,
                 key="sg_flow_members", column_config={
                     "name": "Name", "email": "Email", "orders": "Orders",
                     "net_spend": st.column_config.NumberColumn(f"Net spend ({cur})",
                                                                format="%.2f"),
                     "last_order": st.column_config.DatetimeColumn("Last order",
                                                                   format="YYYY-MM-DD")})

else:  # export
    d, whom = _whom()
    st.subheader(f"Export {whom} for Klaviyo or Mailchimp")
    st.caption("Columns Email, First Name and Last Name map on import without asking; the "
               "properties you pick follow. Cells that would run as a spreadsheet formula start "
               "with an apostrophe.")
    props = url_multi("Properties", list(EXPORT_PROPERTIES), key="sg_props", param="props",
                      default=list(DEFAULT_PROPERTIES), format_func=EXPORT_PROPERTIES.__getitem__)
    a, b = st.columns([1, 2])
    fmt = url_choice("Format", ["csv", "xlsx"], key="sg_fmt", param="format", default="csv",
                     format_func=str.upper, horizontal=True, where=a)
    everyone = url_toggle("Include customers without email-marketing consent", key="sg_all",
                          param="unconsented", where=b,
                          help="Only for messages that need no marketing consent (e.g. "
                          "service updates).")
    try:  # the file names people: editors only
        result = compute(export_members, definition=d, as_of=f.as_of,
                         name=seg.name if seg is not None else "all customers", fmt=fmt,
                         properties=tuple(props), include_unconsented=everyone,
                         actor=ctx.actor)
    except NotAllowed as exc:  # a viewer: a role, not a fault
        st.info(str(exc))
        st.stop()
    except RelmarkError as exc:
        st.error(str(exc))
        st.stop()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Customers in the file", f"{result.rows:,}",
              help="Members with a usable email address, not on the suppression list"
              + ("." if everyone else ", who accept email marketing."))
    c2.metric("Left out: suppressed", f"{result.excluded_suppressed:,}",
              help="Members whose email address or phone number is on the suppression list "
              "(Privacy page). Checked first, and applied even to messages that need no "
              "consent.")
    c3.metric("Left out: no consent", f"{result.excluded_no_consent:,}",
              help="Members who do not accept email marketing (withdrew, refused or never "
              "said).")
    c4.metric("Left out: no email", f"{result.excluded_no_email:,}",
              help="Members without a usable email address.")
    st.caption(f"{result.excluded_suppressed + result.excluded_no_consent:,} excluded: "
               f"{result.excluded_suppressed:,} suppressed, "
               f"{result.excluded_no_consent:,} without consent.", help=EXCLUDED_HELP)
    st.download_button(f"Download {result.file_name}", result.data, file_name=result.file_name,
                       mime=result.mime, key="sg_download", type="primary", on_click="ignore",
                       icon=":material/download:")
    if fmt == "csv" and result.rows:
        preview = pd.read_csv(io.BytesIO(result.data), nrows=10, dtype=str,
                              keep_default_na=False)
        st.caption("The first rows of the file:")
        st.dataframe(preview, hide_index=True, key="sg_export_preview")
    st.caption(f"Total Spent is net revenue of counted orders in {cur}; dates are in the "
               "store's time zone.")
