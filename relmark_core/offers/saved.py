"""Offers in the local store: save a draft, plan the audience, launch once, cancel, re-open.

Launch freezes the audience (segment members at the launch day minus the exclusions), the
seeded random holdout and the codes in one transaction. It is idempotent: inside the
transaction the offer must still be a draft and a row goes into ``offer_launches`` (primary key
``offer_id``), so a double click, a refresh or two threads launch once — the loser sees
"already launched" (DuckDB reports the clash as a TransactionException/ConstraintException on
the write or the commit).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any, Literal

import duckdb
import ibis
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.metrics.common import counted_orders, in_window
from relmark_core.offers.model import (
    Offer,
    assign_holdout,
    detectable_uplift,
    expected_cost,
    generate_codes,
    new_seed,
    parse_offer,
)
from relmark_core.periods import DateRange
from relmark_core.privacy.reach import Channel, filter_reachable, filter_suppressed
from relmark_core.segments import get_segment, member_ids, members
from relmark_core.source import Source, from_duckdb
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "Status",
    "SavedOffer",
    "AudiencePlan",
    "LaunchResult",
    "save_offer",
    "update_offer",
    "list_offers",
    "get_offer",
    "offer_events",
    "plan_audience",
    "launch_offer",
    "cancel_offer",
    "reopen_offer",
    "frozen_members",
    "member_tokens",
    "uses_recommendation",
    "preview_message",
    "OFFERS_TABLE_COLUMNS",
    "offers_table",
    "preview_choices",
]

Status = Literal["draft", "running", "cancelled"]
_COLUMNS = ("offer_id, name, definition, status, holdout_seed, launched_by, launched_at, "
            "created_by, created_at")
_ONE_DAY = timedelta(days=1)
_REACH_CHANNELS: dict[str, Channel] = {"email": Channel.EMAIL, "sms": Channel.SMS,
                                       "ads": Channel.ADS}  # in store: the suppression list only
LAUNCH_WAIT_SECONDS = 5.0
"""After a write conflict, how long to wait for the other launch to commit."""
_POLL_SECONDS = 0.05


class SavedOffer(BaseModel):
    """An offer as stored, with its status and holdout seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: int
    offer: Offer
    status: Status
    holdout_seed: str
    launched_by: str | None
    launched_at: datetime | None
    created_by: str
    created_at: datetime

    def status_words(self, today: date) -> str:
        """"Draft", "Running", "Ended", "Cancelled", "Scheduled"."""
        if self.status == "running":
            if today > self.offer.ends_on:
                return "Ended"
            return "Scheduled" if today < self.offer.starts_on else "Running"
        return self.status.capitalize()


class AudiencePlan(BaseModel):
    """Who would get the offer if it launched now, and what it would cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segment_members: int
    excluded_suppressed: int
    excluded_no_consent: int
    excluded_recent_offer: int
    excluded_running_offer: int
    eligible: int
    holdout: int
    treated: int
    baseline_conversion: float
    average_order_value: float
    expected_cost: float
    detectable_uplift: float | None

    def sentence(self) -> str:
        parts = []
        if self.excluded_suppressed:
            parts.append(f"{self.excluded_suppressed:,} on the suppression list")
        if self.excluded_no_consent:
            parts.append(f"{self.excluded_no_consent:,} without marketing consent")
        if self.excluded_recent_offer:
            parts.append(f"{self.excluded_recent_offer:,} with a recent offer")
        if self.excluded_running_offer:
            parts.append(f"{self.excluded_running_offer:,} in another running offer")
        left = f", leaving out {', '.join(parts)}" if parts else ""
        return (f"{self.segment_members:,} in the segment{left}: {self.treated:,} get the offer "
                f"and {self.holdout:,} are held out.")


class LaunchResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: int
    launched: bool
    treated: int
    holdout: int
    message: str


def _row(row: tuple[Any, ...]) -> SavedOffer:
    oid, _name, definition, status, seed, lby, lat, cby, cat = row
    return SavedOffer(offer_id=int(oid), offer=parse_offer(str(definition)), status=status,
                      holdout_seed=str(seed), launched_by=lby, launched_at=lat,
                      created_by=str(cby), created_at=cat)


def _event(conn: duckdb.DuckDBPyConnection, offer_id: int, event: str, actor: str,
           detail: str = "") -> None:
    conn.execute("INSERT INTO offer_events VALUES (?, ?, ?, ?, ?)",
                 [offer_id, event, actor, store.utc_now(), detail])
    store.audit(conn, actor, f"offer {event}", f"offer {offer_id}: {detail}".rstrip(": "))


def list_offers(conn: duckdb.DuckDBPyConnection) -> list[SavedOffer]:
    """Every offer, newest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM offers ORDER BY offer_id DESC").fetchall()  # noqa: S608
    return [_row(r) for r in rows]


def get_offer(conn: duckdb.DuckDBPyConnection, offer_id: int) -> SavedOffer:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM offers WHERE offer_id = ?",  # noqa: S608
                        [offer_id]).fetchall()
    if not rows:
        raise InputRefused(f"There is no offer with the id {offer_id}; pick one from the list.")
    return _row(rows[0])


def offer_events(conn: duckdb.DuckDBPyConnection, offer_id: int) -> pd.DataFrame:
    """The offer's history: ``happened_at``, ``event``, ``actor``, ``detail``."""
    return conn.execute(
        "SELECT happened_at, event, actor, detail FROM offer_events WHERE offer_id = ? "
        "ORDER BY happened_at, event", [offer_id]).df()


def _segment_name(conn: duckdb.DuckDBPyConnection, offer: Offer) -> str:
    return get_segment(conn, offer.segment_id).name


def _refuse_taken_code(conn: duckdb.DuckDBPyConnection, offer: Offer, own: int | None) -> None:
    if offer.code_mode != "shared":
        return
    rows = conn.execute("SELECT offer_id FROM offer_codes WHERE code = ?",
                        [offer.shared_code]).fetchall()
    if rows and int(rows[0][0]) != own:
        raise InputRefused(f"The code {offer.shared_code} already belongs to offer "
                           f"{rows[0][0]}; choose another code.")


def save_offer(conn: duckdb.DuckDBPyConnection, offer: Offer | dict[str, Any], *,
               seed: str | None = None, actor: str = DEFAULT_ACTOR) -> SavedOffer:
    """Save a new draft offer (with a fresh holdout seed unless ``seed`` is given)."""
    auth.require(conn, actor, auth.Role.EDITOR, "create offers")
    o = parse_offer(offer)
    seg_name = _segment_name(conn, o)  # refuses an unknown segment
    _refuse_taken_code(conn, o, None)
    now = store.utc_now()
    with store.transaction(conn):
        oid = int(store.scalar(conn, "SELECT nextval('offer_id_seq')"))
        conn.execute(
            "INSERT INTO offers (offer_id, name, definition, status, holdout_seed, created_by, "
            "created_at) VALUES (?, ?, ?, 'draft', ?, ?, ?)",
            [oid, o.name, o.to_json(), seed or new_seed(), actor, now])
        _event(conn, oid, "created", actor, o.sentence(seg_name))
        store.bump_data_version(conn)
    return get_offer(conn, oid)


def update_offer(conn: duckdb.DuckDBPyConnection, offer_id: int, offer: Offer | dict[str, Any],
                 *, actor: str = DEFAULT_ACTOR) -> SavedOffer:
    """Change a draft (a launched offer is frozen)."""
    auth.require(conn, actor, auth.Role.EDITOR, "change offers")
    o = parse_offer(offer)
    seg_name = _segment_name(conn, o)
    _refuse_taken_code(conn, o, offer_id)
    with store.transaction(conn):
        status = store.scalar(conn, "SELECT status FROM offers WHERE offer_id = ?", [offer_id])
        if status is None:
            raise InputRefused(f"There is no offer with the id {offer_id}.")
        if status != "draft":
            raise InputRefused("This offer was launched: its audience and codes are frozen. "
                               "Duplicate it as a new offer to change it.")
        conn.execute("UPDATE offers SET name = ?, definition = ? WHERE offer_id = ?",
                     [o.name, o.to_json(), offer_id])
        _event(conn, offer_id, "changed", actor, o.sentence(seg_name))
        store.bump_data_version(conn)
    return get_offer(conn, offer_id)


# --- the audience -------------------------------------------------------------------------------


def _window(offer: Offer) -> DateRange:
    return DateRange(start=offer.starts_on, end=offer.ends_on + _ONE_DAY)


def _audience(conn: duckdb.DuckDBPyConnection, src: Source, offer: Offer, as_of: date,
              offer_id: int | None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Segment members with their exclusion flags; (eligible ids, counts per reason)."""
    seg = get_segment(conn, offer.segment_id)
    ids = src.execute(member_ids(src, seg.definition, as_of=as_of))["customer_id"].astype(str)
    df = pd.DataFrame({"customer_id": ids.drop_duplicates().sort_values().to_numpy()})
    conn.register("_offer_audience", df)
    try:
        flags = conn.execute(
            """
            SELECT a.customer_id,
                   EXISTS (SELECT 1 FROM offer_members m JOIN offers o USING (offer_id)
                           WHERE m.customer_id = a.customer_id AND m.arm = 'treatment'
                             AND o.offer_id IS DISTINCT FROM CAST($own AS BIGINT)
                             AND o.launched_at >= $cap_from) AS recent,
                   EXISTS (SELECT 1 FROM offer_members m JOIN offers o USING (offer_id)
                           WHERE m.customer_id = a.customer_id AND o.status = 'running'
                             AND o.offer_id IS DISTINCT FROM CAST($own AS BIGINT)
                             AND CAST(json_extract_string(o.definition, '$.ends_on') AS DATE)
                                 >= $starts
                             AND CAST(json_extract_string(o.definition, '$.starts_on') AS DATE)
                                 <= $ends) AS running
            FROM _offer_audience a
            ORDER BY a.customer_id
            """,
            {"own": offer_id, "starts": offer.starts_on, "ends": offer.ends_on,
             "cap_from": (datetime.combine(as_of, datetime.min.time())
                          - timedelta(days=offer.frequency_cap_days or 0))
             if offer.frequency_cap_days else datetime.max},
        ).df()
    finally:
        conn.unregister("_offer_audience")
    none = pd.Series(False, index=flags.index)
    # The suppression list always applies, then the channel's consent (relmark_core.privacy).
    listed = flags["customer_id"].astype(str)
    allowed = set(filter_suppressed(conn, listed.tolist()).kept)
    suppressed = ~listed.isin(allowed)
    no_consent = none
    if offer.exclude_no_consent and offer.channel in _REACH_CHANNELS:
        reach = filter_reachable(conn, listed[~suppressed].tolist(), _REACH_CHANNELS[offer.channel])
        no_consent = ~suppressed & ~listed.isin(set(reach.kept))
    recent = flags["recent"].astype(bool) & ~suppressed & ~no_consent
    running = (flags["running"].astype(bool) & ~suppressed & ~no_consent & ~recent
               if offer.exclude_running else none)
    keep = ~(suppressed | no_consent | recent | running)
    counts = {
        "segment_members": len(flags),
        "excluded_suppressed": int(suppressed.sum()),
        "excluded_no_consent": int(no_consent.sum()),
        "excluded_recent_offer": int(recent.sum()),
        "excluded_running_offer": int(running.sum()),
    }
    return flags.loc[keep, ["customer_id"]].reset_index(drop=True), counts


def _baseline(src: Source, ids: pd.Series, offer: Offer, as_of: date) -> tuple[float, float]:
    """(share of the audience with a counted order in the window's length before ``as_of``,
    average net order value of those orders in the reporting currency)."""
    if ids.empty:
        return 0.0, 0.0
    days = (offer.ends_on - offer.starts_on).days + 1
    rng = DateRange(start=as_of - timedelta(days=days - 1), end=as_of + _ONE_DAY)
    o = in_window(src, counted_orders(src), rng)
    mem = ibis.memtable(pd.DataFrame({"customer_id": ids.astype(str).to_numpy()}))
    o = o.filter(o.customer_id.isin(mem.customer_id))
    home = o.filter(o.currency == src.reporting_currency)
    buyers = int(src.execute(o.customer_id.nunique()) or 0)
    aov = src.execute(home.net.mean())
    return buyers / len(ids), float(aov) if aov is not None and aov == aov else 0.0


def plan_audience(conn: duckdb.DuckDBPyConnection, offer: Offer, *, as_of: date,
                  src: Source | None = None, seed: str = "plan",
                  offer_id: int | None = None) -> AudiencePlan:
    """The audience if the offer launched on ``as_of``: exclusions, holdout, expected cost
    (treated × assumed redemption × one redemption's cost) and the power hint."""
    src = src or from_duckdb(conn)
    eligible, counts = _audience(conn, src, offer, as_of, offer_id)
    held = len(assign_holdout(eligible["customer_id"], seed=seed, pct=offer.holdout_pct))
    treated = len(eligible) - held
    baseline, aov = _baseline(src, eligible["customer_id"], offer, as_of)
    return AudiencePlan(
        **counts, eligible=len(eligible), holdout=held, treated=treated,
        baseline_conversion=baseline, average_order_value=aov,
        expected_cost=expected_cost(offer, treated=treated, average_order_value=aov),
        detectable_uplift=detectable_uplift(baseline=baseline, treated=treated, holdout=held),
    )


# --- launch, cancel, re-open ---------------------------------------------------------------------


def _already(conn: duckdb.DuckDBPyConnection, offer_id: int) -> LaunchResult:
    counts = dict(conn.execute(
        "SELECT arm, count(*) FROM offer_members WHERE offer_id = ? GROUP BY arm",
        [offer_id]).fetchall())
    return LaunchResult(offer_id=offer_id, launched=False, treated=int(counts.get("treatment", 0)),
                        holdout=int(counts.get("holdout", 0)),
                        message="This offer was already launched; nothing changed.")


def launch_offer(conn: duckdb.DuckDBPyConnection, offer_id: int, *, as_of: date,
                 src: Source | None = None, actor: str = DEFAULT_ACTOR,
                 _retry: bool = True) -> LaunchResult:
    """Freeze the audience, holdout and codes and mark the offer running — once.

    A second call (a double click, another tab, another thread with its own cursor) returns
    ``launched=False`` and changes nothing.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "launch offers")
    saved = get_offer(conn, offer_id)
    if saved.status != "draft":
        return _already(conn, offer_id)
    offer = saved.offer
    src = src or from_duckdb(conn)
    eligible, counts = _audience(conn, src, offer, as_of, offer_id)
    if eligible.empty:
        raise InputRefused("Nobody is left to receive this offer after the exclusions "
                           f"({counts['segment_members']:,} in the segment). Pick another "
                           "segment or relax the exclusions.")
    ids = eligible["customer_id"]
    held = assign_holdout(ids, seed=saved.holdout_seed, pct=offer.holdout_pct)
    arm = ["holdout" if c in held else "treatment" for c in ids]
    members = pd.DataFrame({"customer_id": ids.to_numpy(), "arm": arm})
    treated = members["arm"] == "treatment"
    codes = pd.Series([None] * len(members), dtype=object)
    if offer.code_mode == "unique":
        codes[treated.to_numpy()] = generate_codes(int(treated.sum()), prefix=offer.code_prefix)
    elif offer.code_mode == "shared":
        codes[treated.to_numpy()] = offer.shared_code
    members["code"] = codes.to_numpy()
    seg_name = _segment_name(conn, offer)
    now = store.utc_now()
    try:
        with store.transaction(conn):
            status = store.scalar(conn, "SELECT status FROM offers WHERE offer_id = ?",
                                  [offer_id])
            if status != "draft":
                raise _AlreadyLaunched
            conn.execute("INSERT INTO offer_launches VALUES (?, ?, ?)", [offer_id, actor, now])
            conn.execute("UPDATE offers SET status = 'running', launched_by = ?, launched_at = ? "
                         "WHERE offer_id = ?", [actor, now, offer_id])
            conn.register("_offer_new", members)
            try:
                conn.execute("INSERT INTO offer_members SELECT $id, customer_id, arm, code "
                             "FROM _offer_new", {"id": offer_id})
                if offer.code_mode == "unique":
                    conn.execute("INSERT INTO offer_codes SELECT code, $id, customer_id "
                                 "FROM _offer_new WHERE code IS NOT NULL", {"id": offer_id})
                elif offer.code_mode == "shared":
                    conn.execute("INSERT INTO offer_codes VALUES (?, ?, NULL)",
                                 [offer.shared_code, offer_id])
            finally:
                conn.unregister("_offer_new")
            n_t, n_h = int(treated.sum()), len(held)
            _event(conn, offer_id, "launched", actor,
                   f"{offer.sentence(seg_name)}; {n_t:,} treated, {n_h:,} held out "
                   f"(seed {saved.holdout_seed}); excluded: "
                   f"{counts['excluded_suppressed']} suppressed, "
                   f"{counts['excluded_no_consent']} no consent, "
                   f"{counts['excluded_recent_offer']} recent offer, "
                   f"{counts['excluded_running_offer']} running offer")
            store.bump_data_version(conn)
    except _AlreadyLaunched:
        return _already(conn, offer_id)
    except (duckdb.TransactionException, duckdb.ConstraintException):
        # another launch of this offer is writing the same rows: wait for its outcome
        deadline = time.monotonic() + LAUNCH_WAIT_SECONDS
        while time.monotonic() < deadline:
            status = store.scalar(conn, "SELECT status FROM offers WHERE offer_id = ?",
                                  [offer_id])
            if status != "draft":
                return _already(conn, offer_id)
            time.sleep(_POLL_SECONDS)
        if _retry:
            return launch_offer(conn, offer_id, as_of=as_of, src=src, actor=actor,
                                _retry=False)
        raise
    return LaunchResult(offer_id=offer_id, launched=True, treated=n_t, holdout=n_h,
                        message=f"Launched: {n_t:,} customers get the offer, {n_h:,} are held "
                        "out.")


class _AlreadyLaunched(Exception):
    pass


def _set_status(conn: duckdb.DuckDBPyConnection, offer_id: int, *, want: str, to: str,
                event: str, reason: str, actor: str) -> SavedOffer:
    with store.transaction(conn):
        status = store.scalar(conn, "SELECT status FROM offers WHERE offer_id = ?", [offer_id])
        if status is None:
            raise InputRefused(f"There is no offer with the id {offer_id}.")
        if status != want:
            raise InputRefused(f"Only a {want} offer can be {event}; this one is {status}.")
        conn.execute("UPDATE offers SET status = ? WHERE offer_id = ?", [to, offer_id])
        _event(conn, offer_id, event, actor, reason.strip())
        store.bump_data_version(conn)
    return get_offer(conn, offer_id)


def cancel_offer(conn: duckdb.DuckDBPyConnection, offer_id: int, *, reason: str = "",
                 actor: str = DEFAULT_ACTOR) -> SavedOffer:
    """Stop a running offer (recorded with who and why; the frozen audience stays)."""
    auth.require(conn, actor, auth.Role.EDITOR, "cancel offers")
    return _set_status(conn, offer_id, want="running", to="cancelled", event="cancelled",
                       reason=reason, actor=actor)


def reopen_offer(conn: duckdb.DuckDBPyConnection, offer_id: int, *, reason: str = "",
                 actor: str = DEFAULT_ACTOR) -> SavedOffer:
    """Run a cancelled offer again with the same audience and codes (recorded)."""
    auth.require(conn, actor, auth.Role.EDITOR, "reopen offers")
    return _set_status(conn, offer_id, want="cancelled", to="running", event="reopened",
                       reason=reason, actor=actor)


# --- members and their tokens ---------------------------------------------------------------------


def frozen_members(conn: duckdb.DuckDBPyConnection, offer_id: int) -> pd.DataFrame:
    """The launched audience: ``customer_id``, ``arm``, ``code``, with email, names, phone."""
    return conn.execute(
        "SELECT m.customer_id, m.arm, m.code, c.email, c.first_name, c.last_name, c.phone "
        "FROM offer_members m LEFT JOIN customers c USING (customer_id) "
        "WHERE m.offer_id = ? ORDER BY m.customer_id", [offer_id]).df()


def member_tokens(conn: duckdb.DuckDBPyConnection, customer_ids: list[str], *,
                  src: Source | None = None, as_of: date | None = None,
                  recommended: bool = False) -> pd.DataFrame:
    """Token values per customer (``customer_id`` + :data:`~relmark_core.offers.model.TOKENS`):
    first name; loyalty tier and posted points balance (empty without a program); favourite
    category (most units in counted orders, ties alphabetical); last product (first line of the
    latest counted order); with ``recommended``, also the next-best product
    (``recommended_product``: computed only when a message uses it)."""
    src = src or from_duckdb(conn)
    ids = pd.DataFrame({"customer_id": pd.Series(customer_ids, dtype=object).astype(str)})
    mem = ibis.memtable(ids)
    o = counted_orders(src)
    o = o.filter(o.customer_id.isin(mem.customer_id))
    ln = src.order_lines
    j = o.join(ln, o.order_id == ln.order_id)
    cat = j.filter(j.category.notnull()).group_by(["customer_id", "category"]).aggregate(
        units=j.quantity.fill_null(1).sum())
    cat = cat.mutate(r=ibis.row_number().over(
        group_by=cat.customer_id, order_by=[ibis.desc(cat.units), cat.category]))
    fav = src.execute(cat.filter(cat.r == 0).select("customer_id", favourite_category="category"))
    lp = j.filter(j["product"].notnull())
    lp = lp.mutate(r=ibis.row_number().over(
        group_by=lp.customer_id, order_by=[ibis.desc(lp.ordered_at), ibis.desc(lp.order_id),
                                           lp.line_no]))
    last = src.execute(lp.filter(lp.r == 0).select("customer_id", last_product="product"))
    conn.register("_offer_ids", ids)
    try:
        base = conn.execute(
            "SELECT i.customer_id, c.first_name, "
            "(SELECT CAST(sum(points) AS BIGINT) FROM loyalty_ledger l "
            " WHERE l.customer_id = i.customer_id) AS points_balance "
            "FROM _offer_ids i LEFT JOIN customers c USING (customer_id)").df()
    finally:
        conn.unregister("_offer_ids")
    from relmark_core import loyalty

    tiers = loyalty.customer_tiers(conn, as_of=as_of)[["customer_id", "tier"]]
    out = base.merge(tiers, on="customer_id", how="left")
    out = out.merge(fav, on="customer_id", how="left").merge(last, on="customer_id", how="left")
    has_program = loyalty.active_version(conn) is not None
    out["points_balance"] = [
        (f"{int(v):,}" if not pd.isna(v) else ("0" if has_program else None))
        for v in out["points_balance"]]
    cols = ["customer_id", "first_name", "tier", "points_balance", "favourite_category",
            "last_product"]
    if recommended:
        from relmark_core.personalisation.recommend import recommended_product_tokens

        rec = recommended_product_tokens(src, list(out["customer_id"]), as_of=as_of)
        out = out.merge(rec, on="customer_id", how="left")
        cols.append("recommended_product")
    return out[cols].astype(object).where(out[cols].notna(), None)


def uses_recommendation(offer: Offer) -> bool:
    """Whether the offer's message names the member's next-best product."""
    return "{recommended_product}" in offer.message


def preview_message(conn: duckdb.DuckDBPyConnection, offer: Offer, customer_id: str, *,
                    src: Source | None = None) -> str:
    """The offer's message as ``customer_id`` would read it (fallbacks for missing values)."""
    from relmark_core.offers.model import render_message

    t = member_tokens(conn, [customer_id], src=src, recommended=uses_recommendation(offer))
    values = {str(k): v for k, v in t.iloc[0].items()} if len(t) else {}
    return render_message(offer.message, values, offer.fallbacks)


OFFERS_TABLE_COLUMNS = ("offer_id", "name", "status", "offer", "treated", "holdout",
                        "launched_at")
PREVIEW_CHOICES = 50


def offers_table(conn: duckdb.DuckDBPyConnection, *, today: date,
                 currency: str = "USD") -> pd.DataFrame:
    """Every offer, newest first (:data:`OFFERS_TABLE_COLUMNS`): status in words (Draft,
    Scheduled, Running, Ended, Cancelled), the offer's sentence and the frozen arm sizes."""
    sizes = {(int(o), str(a)): int(n) for o, a, n in conn.execute(
        "SELECT offer_id, arm, count(*) FROM offer_members GROUP BY ALL").fetchall()}
    names = {int(i): str(n) for i, n in conn.execute(
        "SELECT segment_id, name FROM segments").fetchall()}
    rows = []
    for s in list_offers(conn):
        seg = names.get(s.offer.segment_id, f"a deleted segment (id {s.offer.segment_id})")
        rows.append({
            "offer_id": s.offer_id, "name": s.offer.name, "status": s.status_words(today),
            "offer": s.offer.sentence(seg, currency),
            "treated": sizes.get((s.offer_id, "treatment"), 0),
            "holdout": sizes.get((s.offer_id, "holdout"), 0),
            "launched_at": s.launched_at,
        })
    return pd.DataFrame(rows, columns=list(OFFERS_TABLE_COLUMNS))


def preview_choices(conn: duckdb.DuckDBPyConnection, offer: Offer, *, as_of: date,
                    src: Source | None = None, limit: int = PREVIEW_CHOICES) -> dict[str, str]:
    """Up to ``limit`` segment members to preview the message for: customer id -> "Name
    (email)" (sorted by id)."""
    src = src or from_duckdb(conn)
    seg = get_segment(conn, offer.segment_id)
    m = members(src, seg.definition, as_of=as_of)
    df = src.execute(m.select("customer_id", "first_name", "last_name", "email")
                     .order_by("customer_id").limit(limit))
    out = {}
    for r in df.itertuples(index=False):
        name = " ".join(str(x) for x in (r.first_name, r.last_name) if isinstance(x, str)).strip()
        out[str(r.customer_id)] = f"{name or 'No name'} ({r.email or r.customer_id})"
    return out
