"""Program versions and the member ledger.

Saving a program creates a version (who, when, what changed in words). Activating one makes it
the program in force from its start date; the version before it keeps governing the days before.
A version can only start after the last day the ledger was posted through, so posted entries
are never rewritten.

The ledger is append-only. :func:`post_ledger` replays the timeline of active versions up to a
day and compares what each entry should be (keyed: ``order:<id>``, ``bonus:<event>[:<detail>]``,
``redeem:<id>``, ``expire:<day>``, ``tier:<day>:<tier>``) with the sum already posted; only the
differences are appended — a refund or cancellation after posting shows up as a correction that
takes the points back, dated when it was posted. The ledger holds only what the data shows:
redemptions come from reward codes on orders, never from an assumed rate.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.feedback_followup import neutralise_cell
from relmark_core.loyalty.model import LoyaltyProgram, describe_changes, parse_program
from relmark_core.loyalty.replay import (
    MOVE_EVENT,
    MOVE_NEW_VERSION,
    MOVE_NEW_YEAR,
    MOVE_WINDOW,
    Replay,
    Segment,
    connection_of,
    local_to_utc,
    run_replay,
    seconds_to_date,
)
from relmark_core.loyalty.validate import errors_of, validate
from relmark_core.metrics.rfm import money_text
from relmark_core.reports import today_utc
from relmark_core.source import DEFAULT_REPORTING_CURRENCY, DEFAULT_TIMEZONE
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "POSTED_THROUGH_META",
    "ENTRY_COLUMNS",
    "MEMBER_COLUMNS",
    "VERSION_COLUMNS",
    "DEFAULT_MEMBERS_LIMIT",
    "MAX_MEMBERS_LIMIT",
    "VersionInfo",
    "PostingSummary",
    "MemberStatus",
    "list_versions",
    "active_version",
    "get_version",
    "posted_through",
    "save_version",
    "post_ledger",
    "ledger_entries",
    "member_status",
    "customer_tiers",
    "members_table",
    "members_csv",
    "find_customer",
]

POSTED_THROUGH_META = "loyalty_posted_through"
ENTRY_COLUMNS = ("happened_at", "kind", "points", "balance", "reason")
MEMBER_COLUMNS = (
    "customer_id", "name", "email", "tier", "balance", "balance_value", "earned", "redeemed",
    "expired", "qualifying", "next_tier", "to_next_tier", "last_activity",
)
VERSION_COLUMNS = ("version_id", "name", "status", "starts_on", "saved_by", "saved_at", "changes")
DEFAULT_MEMBERS_LIMIT = 200
MAX_MEMBERS_LIMIT = 100_000
_KIND_RANK = {"expired": 0, "earned": 1, "redeemed": 2, "tier": 3}
_LEDGER_TABLES = ("loyalty_versions", "loyalty_ledger")
_ARBITRARY = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class VersionInfo(BaseModel):
    """A saved program version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version_id: int
    name: str
    status: Literal["active", "replaced", "draft"]
    starts_on: date
    changes: str
    saved_by: str
    saved_at: datetime
    program: LoyaltyProgram


class PostingSummary(BaseModel):
    """What one :func:`post_ledger` appended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    through: date | None
    entries: int
    corrections: int
    customers: int
    message: str


class MemberStatus(BaseModel):
    """One customer in the active program: balance, tier, progress and their ledger.

    ``entries`` columns: ``happened_at`` (UTC), ``kind`` (earned, redeemed, expired, tier),
    ``points``, ``balance`` (running), ``reason``. ``qualifying`` and ``to_next_tier`` are in
    the tiers' unit (points, or money for spend-based tiers); ``progress`` is the share of the
    next tier's threshold reached (None at the top or without tiers).
    """

    model_config = _ARBITRARY

    customer_id: str
    program_name: str
    version_id: int
    points_name: str
    currency: str
    balance: int
    balance_value: float
    earned: int
    redeemed: int
    expired: int
    tier: str
    tier_rank: int
    tier_basis: str
    qualifying: float
    next_tier: str | None
    to_next_tier: float | None
    progress: float | None
    tier_note: str
    posted_through: date | None
    entries: pd.DataFrame


# --- tables and versions --------------------------------------------------------------------


def _has_tables(conn: duckdb.DuckDBPyConnection) -> bool:
    n = store.scalar(
        conn,
        "SELECT count(*) FROM information_schema.tables WHERE list_contains($t, table_name)",
        {"t": list(_LEDGER_TABLES)},  # type: ignore[arg-type]
    )
    return int(n or 0) == len(_LEDGER_TABLES)


def _ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Stores made before the loyalty tables existed get them (the schema is idempotent)."""
    if not _has_tables(conn):
        with store.transaction(conn):
            conn.execute(store.SCHEMA)


def _versions(
    conn: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None
) -> list[VersionInfo]:
    if not _has_tables(conn):
        return []
    rows = conn.execute(
        "SELECT version_id, name, status, starts_on, changes, saved_by, saved_at, program "  # noqa: S608 - fixed SQL; values are bound
        f"FROM loyalty_versions {where} ORDER BY version_id",
        params or [],
    ).fetchall()
    return [
        VersionInfo(
            version_id=r[0], name=r[1], status=r[2], starts_on=r[3], changes=r[4],
            saved_by=r[5], saved_at=r[6], program=parse_program(r[7]),
        )
        for r in rows
    ]


def list_versions(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every saved version, newest first (:data:`VERSION_COLUMNS`)."""
    vs = _versions(conn)
    return pd.DataFrame(
        [{c: getattr(v, c) for c in VERSION_COLUMNS} for v in reversed(vs)],
        columns=list(VERSION_COLUMNS),
    )


def active_version(conn: duckdb.DuckDBPyConnection) -> VersionInfo | None:
    """The version in force (the last one activated), or None."""
    vs = _versions(conn, "WHERE status = 'active'")
    return vs[-1] if vs else None


def get_version(conn: duckdb.DuckDBPyConnection, version_id: int) -> VersionInfo:
    """One saved version (refused when there is none with that number)."""
    found = _versions(conn, "WHERE version_id = ?", [version_id])
    if not found:
        raise InputRefused(f"There is no loyalty program version {version_id}.")
    return found[0]


def _timeline(conn: duckdb.DuckDBPyConnection) -> list[VersionInfo]:
    vs = _versions(conn, "WHERE status IN ('active', 'replaced')")
    return sorted(vs, key=lambda v: (v.starts_on, v.version_id))


def posted_through(conn: duckdb.DuckDBPyConnection) -> date | None:
    """The last day the ledger was posted through, or None before the first posting."""
    value = store.get_meta(conn, POSTED_THROUGH_META)
    return date.fromisoformat(value) if value else None


def _settings(conn: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    return (
        store.get_setting(conn, "reporting_currency", DEFAULT_REPORTING_CURRENCY),
        store.get_setting(conn, "store_timezone", DEFAULT_TIMEZONE),
    )


def save_version(
    conn: duckdb.DuckDBPyConnection,
    program: LoyaltyProgram,
    *,
    starts_on: date,
    activate: bool = True,
    actor: str = DEFAULT_ACTOR,
) -> VersionInfo:
    """Save ``program`` as a new version; with ``activate`` it is in force from ``starts_on``.

    Raises
    ------
    InputRefused
        When the program has errors (see :func:`~relmark_core.loyalty.validate.validate`), or an
        activated version would start on or before the active one's start or the last posted
        day (past ledger entries are never rewritten).
    NotAllowed
        The actor's role is below editor.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "save loyalty program versions")
    currency, _ = _settings(conn)
    errors = errors_of(validate(program, currency=currency))
    if errors:
        raise InputRefused(
            "The program was not saved: " + " ".join(e.message for e in errors)
        )
    _ensure_tables(conn)
    active = active_version(conn)
    if activate:
        if active is not None and starts_on <= active.starts_on:
            raise InputRefused(
                f"The active version starts on {_day(active.starts_on)}; a new version must "
                f"start after it. Pick {_day(active.starts_on + timedelta(days=1))} or later."
            )
        done = posted_through(conn)
        if done is not None and starts_on <= done:
            raise InputRefused(
                f"The ledger already holds entries up to {_day(done)} under the current "
                f"program. A new version can start on {_day(done + timedelta(days=1))} or "
                "later, so past entries stay as they are."
            )
    saved = _versions(conn)
    previous = active or (saved[-1] if saved else None)
    changes = describe_changes(previous.program if previous else None, program, currency)
    now = store.utc_now()
    with store.transaction(conn):
        vid = int(store.scalar(conn, "SELECT nextval('loyalty_version_seq')"))
        if activate:
            conn.execute("UPDATE loyalty_versions SET status = 'replaced' WHERE status = 'active'")
        conn.execute(
            "INSERT INTO loyalty_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [vid, program.name, program.model_dump_json(), starts_on,
             "active" if activate else "draft", changes, actor, now],
        )
        store.audit(
            conn, actor, "loyalty version saved",
            f"version {vid} ({'active from ' + starts_on.isoformat() if activate else 'draft'}): "
            f"{changes}",
        )
        store.bump_data_version(conn)
    return _versions(conn, "WHERE version_id = ?", [vid])[0]


# --- the ledger -------------------------------------------------------------------------------


def _segments(timeline: list[VersionInfo], end: date) -> list[Segment]:
    segs = []
    for i, v in enumerate(timeline):
        stop = timeline[i + 1].starts_on if i + 1 < len(timeline) else end
        stop = min(stop, end)
        if v.starts_on < stop:
            segs.append(Segment(program=v.program, start=v.starts_on, end=stop, version_id=v.version_id))
    return segs


def _replay(
    conn: duckdb.DuckDBPyConnection, through: date, customer_id: str | None = None
) -> Replay | None:
    timeline = _timeline(conn)
    segs = _segments(timeline, through + timedelta(days=1))
    if not segs:
        return None
    currency, tz = _settings(conn)
    return run_replay(
        conn, segs, currency=currency, tz=tz, with_ids=True, customer_id=customer_id,
        redemption_rate=None,
    )


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _utc(values: Any) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(list(values), dtype=object)), dtype="datetime64[us]")


def _period_words(rep: Replay, v: int, when: int) -> str:
    rule = rep.tier_rules[v]
    if rule is None:
        return ""
    if rule.period == "calendar_year":
        return f"in {seconds_to_date(when).year}"
    if rule.period == "rolling_12_months":
        return "in the last 365 days"
    return "since the program started"


def _q_text(rep: Replay, v: int, q: int) -> str:
    rule = rep.tier_rules[v]
    points = rep.segments[v].program.points
    if rule is not None and rule.basis == "spend":
        return f"{money_text(q / 100, rep.currency)} of net spend"
    return f"{q:,} qualifying {points}"


def ledger_entries(rep: Replay) -> pd.DataFrame:
    """What the ledger should hold for a with-ids replay: ``customer_id``, ``entry_key``,
    ``happened_at`` (UTC), ``kind``, ``points``, ``reason``, ``version_id``; by customer and time.
    """
    cols = ["customer_id", "entry_key", "happened_at", "kind", "points", "reason", "version_id"]
    assert rep.cust_id is not None, "ledger entries need a replay with ids"
    cid = rep.cust_id
    vids = np.asarray([s.version_id or 0 for s in rep.segments], dtype=np.int64)
    cur = rep.currency
    parts: list[pd.DataFrame] = []

    # earned on orders
    sel = np.flatnonzero(rep.o_final != 0)
    if len(sel):
        ids = rep.o_ids
        contrib = [(rid, arr[sel]) for rid, arr in rep.o_contrib]
        reasons = []
        for k, i in enumerate(sel):
            details = ", ".join(
                f"{rep.rules[rid].label} {int(arr[k]):+,}" for rid, arr in contrib if arr[k] != 0
            )
            reasons.append(
                f"Order {ids['source_order_id'][i]}, {money_text(float(rep.o_net[i]), cur)} net: "
                f"{details}"
            )
        parts.append(pd.DataFrame({
            "customer_id": cid[rep.o_cust[sel]],
            "entry_key": ["order:" + str(x) for x in ids["order_id"][sel]],
            "happened_at": _utc(ids["ordered_at"][sel]),
            "kind": "earned",
            "points": rep.o_final[sel],
            "reason": reasons,
            "version_id": vids[rep.o_v[sel]],
        }))
    # bonuses
    if len(rep.b_t):
        parts.append(pd.DataFrame({
            "customer_id": cid[rep.b_cust],
            "entry_key": rep.b_key,
            "happened_at": _utc(rep.b_utc),
            "kind": "earned",
            "points": rep.b_points,
            "reason": [rep.rules[r].label for r in rep.b_rule],
            "version_id": vids[rep.b_v],
        }))
    # redemptions seen as reward codes
    if len(rep.r_src) and (rep.r_src >= 0).all():
        ids = rep.o_ids
        parts.append(pd.DataFrame({
            "customer_id": cid[rep.r_cust],
            "entry_key": ["redeem:" + str(x) for x in ids["order_id"][rep.r_src]],
            "happened_at": _utc(ids["ordered_at"][rep.r_src]),
            "kind": "redeemed",
            "points": -np.round(rep.r_amt).astype(np.int64),
            "reason": [f"Redeemed {lab} on order {ids['source_order_id'][o]}"
                       for lab, o in zip(rep.r_label, rep.r_src, strict=True)],
            "version_id": vids[rep.o_v[rep.r_src]],
        }))
    # expiries, one entry per customer and day
    gone = rep.l_expired > 0.5
    if gone.any():
        df = pd.DataFrame({
            "c": rep.l_cust[gone], "x": rep.l_x[gone], "t": rep.l_t[gone], "v": rep.l_v[gone],
            "e": np.round(rep.l_expired[gone]).astype(np.int64),
        })
        g = df.groupby(["c", "x"], sort=True).agg(e=("e", "sum"), t0=("t", "min"), t1=("t", "max"),
                                                   v=("v", "max")).reset_index()
        reasons = []
        for e, t0, t1, v in zip(g["e"].to_numpy(), g["t0"].to_numpy(), g["t1"].to_numpy(),
                                g["v"].to_numpy(), strict=True):
            prog = rep.segments[int(v)].program
            exp = prog.expiry
            assert exp is not None
            p = prog.points
            if exp.rule == "after_earning":
                a, b = seconds_to_date(int(t0)), seconds_to_date(int(t1))
                when = f"on {_day(a)}" if a == b else f"between {_day(a)} and {_day(b)}"
                reasons.append(f"{int(e):,} {p} earned {when} expired ({exp.months} months after earning)")
            else:
                reasons.append(f"{int(e):,} {p} expired after {exp.months} months without activity")
        parts.append(pd.DataFrame({
            "customer_id": cid[g["c"].to_numpy()],
            "entry_key": ["expire:" + seconds_to_date(int(x)).isoformat() for x in g["x"]],
            "happened_at": _utc(local_to_utc(g["x"].to_numpy(dtype=np.int64), rep.tz)),
            "kind": "expired",
            "points": -g["e"].to_numpy(dtype=np.int64),
            "reason": reasons,
            "version_id": vids[g["v"].to_numpy(dtype=np.int64)],
        }))
    # tier moves
    if len(rep.m_t):
        keys, reasons = [], []
        for c, t, fr, to, v, cause, q in zip(
            rep.m_cust, rep.m_t, rep.m_from, rep.m_to, rep.m_v, rep.m_cause, rep.m_q, strict=True
        ):
            rule = rep.tier_rules[int(v)]
            names = rule.names if rule is not None else ["Member (no tier)"]
            to_name, fr_name = names[int(to)], names[int(fr)]
            day = seconds_to_date(int(t))
            keys.append(f"tier:{day.isoformat()}:{to_name}")
            if cause == MOVE_EVENT and fr == 0 and int(t) == int(rep.first_t[int(c)]):
                reasons.append(f"Joined the program at {to_name}")
            elif cause == MOVE_EVENT:
                reasons.append(f"Moved up to {to_name}: {_q_text(rep, int(v), int(q))} "
                               f"{_period_words(rep, int(v), int(t))}")
            elif cause == MOVE_WINDOW:
                reasons.append(f"Moved {'down' if to < fr else 'up'} to {to_name}: "
                               f"{_q_text(rep, int(v), int(q))} in the last 365 days")
            elif cause == MOVE_NEW_YEAR:
                reasons.append(
                    f"New year: {'down' if to < fr else 'up'} from {fr_name} to {to_name} "
                    f"({fr_name} was not requalified in {day.year - 1})" if to < fr
                    else f"New year: {to_name} for {day.year}"
                )
            else:
                assert cause == MOVE_NEW_VERSION
                reasons.append(f"New program version from {_day(day)}: now {to_name}")
        parts.append(pd.DataFrame({
            "customer_id": cid[rep.m_cust],
            "entry_key": keys,
            "happened_at": _utc(local_to_utc(rep.m_t, rep.tz)),
            "kind": "tier",
            "points": np.zeros(len(rep.m_t), dtype=np.int64),
            "reason": reasons,
            "version_id": vids[rep.m_v],
        }))
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["points"] = out["points"].astype(np.int64)
    out["_rank"] = out["kind"].map(_KIND_RANK)
    out = out.sort_values(["customer_id", "happened_at", "_rank", "entry_key"], kind="stable")
    return out[cols].reset_index(drop=True)


def post_ledger(
    conn: duckdb.DuckDBPyConnection, *, through: date | None = None, actor: str = DEFAULT_ACTOR
) -> PostingSummary:
    """Append to the ledger what the active timeline says up to ``through`` (default today, UTC).

    Entries already posted are never changed: new keys are appended as they are, and keys whose
    points changed (a refund, a cancelled order, an expiry that moved) get a correction entry for
    the difference, dated now.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "post the loyalty ledger")
    _ensure_tables(conn)
    day = through or today_utc()
    done = posted_through(conn)
    if done is not None and day < done:
        raise InputRefused(
            f"The ledger is already posted through {_day(done)}; post through that day or later."
        )
    rep = _replay(conn, day)
    if rep is None:
        return PostingSummary(
            through=done, entries=0, corrections=0, customers=0,
            message="No active program starts on or before that day: nothing to post.",
        )
    should = ledger_entries(rep)
    posted = conn.execute(
        "SELECT customer_id, entry_key, CAST(sum(points) AS BIGINT) AS posted, min(kind) AS pkind, "
        "count(*) FILTER (WHERE kind = 'tier') AS notes, arg_min(reason, entry_id) AS preason "
        "FROM loyalty_ledger GROUP BY customer_id, entry_key"
    ).df()
    now = store.utc_now()
    m = should.merge(posted, on=["customer_id", "entry_key"], how="outer", indicator=True)
    is_tier = (m["kind"] == "tier") | (m["pkind"] == "tier")
    notes = m["notes"].fillna(0).astype(np.int64)
    posted_pts = m["posted"].fillna(0).astype(np.int64)
    should_pts = m["points"].fillna(0).astype(np.int64)
    new_key = (m["_merge"] == "left_only") | ((m["_merge"] == "both") & is_tier & (notes % 2 == 0))
    changed = (m["_merge"] == "both") & ~is_tier & (posted_pts != should_pts)
    gone_pts = (m["_merge"] == "right_only") & ~is_tier & (posted_pts != 0)
    gone_tier = (m["_merge"] == "right_only") & is_tier & (notes % 2 == 1)
    last_vid = rep.segments[-1].version_id or 0
    rows = [m.loc[new_key, ["customer_id", "entry_key", "happened_at", "kind", "points",
                            "reason", "version_id"]]]
    if changed.any():
        c = m.loc[changed]
        rows.append(pd.DataFrame({
            "customer_id": c["customer_id"], "entry_key": c["entry_key"], "happened_at": now,
            "kind": c["kind"], "points": (should_pts - posted_pts)[changed],
            "reason": [f"Correction, now {int(s):,} instead of {int(p):,}: {r}" for s, p, r in
                       zip(should_pts[changed], posted_pts[changed], c["reason"], strict=True)],
            "version_id": c["version_id"],
        }))
    if gone_pts.any():
        c = m.loc[gone_pts]
        rows.append(pd.DataFrame({
            "customer_id": c["customer_id"], "entry_key": c["entry_key"], "happened_at": now,
            "kind": c["pkind"], "points": -posted_pts[gone_pts],
            "reason": [f"Correction, no longer applies (the order was refunded, cancelled or "
                       f"changed): {r}" for r in c["preason"]],
            "version_id": last_vid,
        }))
    if gone_tier.any():
        c = m.loc[gone_tier]
        rows.append(pd.DataFrame({
            "customer_id": c["customer_id"], "entry_key": c["entry_key"], "happened_at": now,
            "kind": "tier", "points": 0,
            "reason": [f"Correction, no longer holds: {r}" for r in c["preason"]],
            "version_id": last_vid,
        }))
    new = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) \
        else pd.DataFrame(columns=rows[0].columns)
    corrections = int(changed.sum() + gone_pts.sum() + gone_tier.sum())
    new = new.assign(
        happened_at=pd.to_datetime(new["happened_at"]).astype("datetime64[us]"),
        points=new["points"].astype(np.int64),
        version_id=new["version_id"].astype(np.int64),
        _rank=new["kind"].map(_KIND_RANK),
    ).sort_values(["customer_id", "happened_at", "_rank", "entry_key"], kind="stable")
    new = new.drop(columns="_rank").reset_index(drop=True)
    with store.transaction(conn):
        start = int(store.scalar(conn, "SELECT coalesce(max(entry_id), 0) FROM loyalty_ledger"))
        new.insert(0, "entry_id", np.arange(start + 1, start + 1 + len(new), dtype=np.int64))
        if len(new):
            conn.register("_loyalty_new_entries", new)
            try:
                conn.execute(
                    "INSERT INTO loyalty_ledger SELECT entry_id, customer_id, entry_key, "
                    "happened_at, kind, points, reason, version_id, $actor, $now "
                    "FROM _loyalty_new_entries ORDER BY entry_id",
                    {"actor": actor, "now": now},
                )
            finally:
                conn.unregister("_loyalty_new_entries")
        store.set_meta(conn, POSTED_THROUGH_META, day.isoformat())
        detail = f"through {day.isoformat()}: {len(new)} entries ({corrections} corrections)"
        store.audit(conn, actor, "loyalty ledger posted", detail)
        store.bump_data_version(conn)
    return PostingSummary(
        through=day, entries=len(new), corrections=corrections,
        customers=int(new["customer_id"].nunique()) if len(new) else 0,
        message=f"Posted {len(new):,} entries through {_day(day)}"
        + (f", {corrections:,} of them corrections." if corrections else "."),
    )


# --- members ----------------------------------------------------------------------------------


def _progress(rep: Replay, c: int) -> dict[str, Any]:
    v = len(rep.segments) - 1
    rule = rep.tier_rules[v]
    lvl = int(rep.end_level[c])
    if rule is None:
        return {"tier": "Member (no tier)", "tier_rank": 0, "tier_basis": "points",
                "qualifying": 0.0, "next_tier": None, "to_next_tier": None, "progress": None,
                "tier_note": "This program has no tiers."}
    scale = 100 if rule.basis == "spend" else 1
    q = int(rep.end_q[c])
    nxt = lvl + 1 if lvl + 1 < len(rule.names) else None
    out: dict[str, Any] = {
        "tier": rule.names[lvl], "tier_rank": lvl, "tier_basis": rule.basis,
        "qualifying": q / scale, "next_tier": None, "to_next_tier": None, "progress": None,
    }
    if nxt is not None:
        thr = int(rule.thresholds[nxt - 1])
        out.update(next_tier=rule.names[nxt], to_next_tier=max(thr - q, 0) / scale,
                   progress=min(q / thr, 1.0) if thr > 0 else 1.0)
    year = seconds_to_date(rep.hi_sec - 1).year
    if rule.period == "calendar_year":
        qualified = int(rule.level(np.asarray([q]))[0])
        if lvl == 0:
            note = "Not in a tier yet."
        elif qualified >= lvl:
            note = f"{rule.names[lvl]} until 31 Dec {year + 1} (qualified in {year})."
        else:
            note = (f"{rule.names[lvl]} until 31 Dec {year} (qualified in {year - 1}); reach its "
                    f"threshold again in {year} to keep it for {year + 1}.")
    elif rule.period == "rolling_12_months":
        note = "Tiers follow the last 365 days: the tier lasts while they stay above its threshold."
    else:
        note = "Tiers are for good once reached."
    out["tier_note"] = note
    return out


def _as_of(conn: duckdb.DuckDBPyConnection, as_of: date | None) -> date:
    return as_of or posted_through(conn) or today_utc()


def member_status(
    conn_or_src: Any, customer_id: str, *, as_of: date | None = None
) -> MemberStatus | None:
    """One customer's standing in the active program (None when no program is active).

    Balance and entries are the posted ledger (every entry, or those up to ``as_of``); tier and
    progress are worked out from the active timeline at ``as_of`` (default: the day the ledger
    was posted through).
    """
    conn = connection_of(conn_or_src)
    active = active_version(conn)
    if active is None:
        return None
    day = _as_of(conn, as_of)
    currency, _ = _settings(conn)
    # without an as-of day every posted entry counts, corrections dated at posting included
    until = datetime.max if as_of is None else datetime.combine(
        as_of + timedelta(days=1), datetime.min.time())
    entries = conn.execute(
        "SELECT happened_at, kind, points, reason FROM loyalty_ledger WHERE customer_id = ? "
        "AND happened_at < ? ORDER BY happened_at, entry_id",
        [customer_id, until],
    ).df()
    entries["points"] = entries["points"].astype(np.int64)
    entries["balance"] = entries["points"].cumsum().astype(np.int64)
    entries = entries[list(ENTRY_COLUMNS)]
    by_kind = entries.groupby("kind")["points"].sum()
    rep = _replay(conn, day, customer_id=customer_id)
    prog = rep.segments[-1].program if rep is not None else active.program
    if rep is not None and rep.n_cust:
        standing = _progress(rep, 0)
    else:
        standing = {"tier": prog.tier_names()[0], "tier_rank": 0,
                    "tier_basis": prog.tiers.basis if prog.tiers else "points", "qualifying": 0.0,
                    "next_tier": prog.tier_names()[1] if len(prog.tier_names()) > 1 else None,
                    "to_next_tier": None, "progress": None,
                    "tier_note": "No orders or bonuses in the program yet."}
    balance = int(entries["points"].sum())
    return MemberStatus(
        customer_id=customer_id,
        program_name=prog.name,
        version_id=rep.segments[-1].version_id or 0 if rep is not None else active.version_id,
        points_name=prog.points,
        currency=currency,
        balance=balance,
        balance_value=round(balance * float(prog.currency.value), 2),
        earned=int(by_kind.get("earned", 0)),
        redeemed=-int(by_kind.get("redeemed", 0)),
        expired=-int(by_kind.get("expired", 0)),
        posted_through=posted_through(conn),
        entries=entries.reset_index(drop=True),
        **standing,
    )


def customer_tiers(conn_or_src: Any, *, as_of: date | None = None) -> pd.DataFrame:
    """Every member's tier in the active program at ``as_of`` (default: the last posted day):
    ``customer_id``, ``tier``, ``tier_rank`` (0 = no tier, then tiers lowest first),
    ``qualifying`` (points, or money for spend-based tiers). Empty without an active program.
    For segments: "customers in Gold" is ``tier == 'Gold'``."""
    conn = connection_of(conn_or_src)
    cols = ["customer_id", "tier", "tier_rank", "qualifying"]
    rep = _replay(conn, _as_of(conn, as_of))
    if rep is None or not rep.n_cust or rep.cust_id is None:
        return pd.DataFrame(columns=cols)
    rule = rep.tier_rules[-1]
    names = rule.names if rule is not None else ["Member (no tier)"]
    scale = 100 if rule is not None and rule.basis == "spend" else 1
    member = rep.first_t < rep.hi_sec
    return pd.DataFrame({
        "customer_id": rep.cust_id[member],
        "tier": np.asarray(names, dtype=object)[rep.end_level[member]],
        "tier_rank": rep.end_level[member],
        "qualifying": rep.end_q[member] / scale,
    }).sort_values("customer_id").reset_index(drop=True)[cols]


def find_customer(conn_or_src: Any, text: str) -> str | None:
    """The customer id for an exact customer id or email (case-insensitive), or None."""
    conn = connection_of(conn_or_src)
    needle = text.strip()
    if not needle:
        return None
    rows = conn.execute(
        "SELECT customer_id FROM customers WHERE customer_id = ? OR email_norm = lower(?) "
        "ORDER BY customer_id = ? DESC, customer_id LIMIT 1",
        [needle, needle, needle],
    ).fetchall()
    return str(rows[0][0]) if rows else None


def members_table(
    conn_or_src: Any, *, search: str | None = None, limit: int = DEFAULT_MEMBERS_LIMIT
) -> pd.DataFrame:
    """Members of the active program with their posted balance and current tier, highest
    balance first (:data:`MEMBER_COLUMNS`). ``search`` matches id, name or email."""
    if not 1 <= limit <= MAX_MEMBERS_LIMIT:
        raise InputRefused(f"Show between 1 and {MAX_MEMBERS_LIMIT:,} members at a time.")
    conn = connection_of(conn_or_src)
    active = active_version(conn)
    if active is None:
        return pd.DataFrame(columns=list(MEMBER_COLUMNS))
    value = float(active.program.currency.value)
    params: dict[str, Any] = {"limit": limit}
    where = ""
    if search and search.strip():
        params["q"] = f"%{search.strip().lower()}%"
        where = (
            "WHERE lower(l.customer_id) LIKE $q OR lower(coalesce(c.email, '')) LIKE $q OR "
            "lower(concat_ws(' ', c.first_name, c.last_name)) LIKE $q"
        )
    df = conn.execute(
        "SELECT l.customer_id, nullif(trim(concat_ws(' ', c.first_name, c.last_name)), '') AS name, "  # noqa: S608 - fixed SQL; values are bound
        "c.email, CAST(sum(l.points) AS BIGINT) AS balance, "
        "CAST(sum(l.points) FILTER (WHERE l.kind = 'earned') AS BIGINT) AS earned, "
        "CAST(-sum(l.points) FILTER (WHERE l.kind = 'redeemed') AS BIGINT) AS redeemed, "
        "CAST(-sum(l.points) FILTER (WHERE l.kind = 'expired') AS BIGINT) AS expired, "
        "max(l.happened_at) FILTER (WHERE l.kind <> 'expired') AS last_activity "
        "FROM loyalty_ledger l LEFT JOIN customers c USING (customer_id) "
        f"{where} GROUP BY ALL ORDER BY balance DESC, l.customer_id LIMIT $limit",
        params,
    ).df()
    tiers = customer_tiers(conn)
    df = df.merge(tiers, on="customer_id", how="left")
    for c in ("balance", "earned", "redeemed", "expired"):
        df[c] = df[c].fillna(0).astype(np.int64)
    df["balance_value"] = (df["balance"] * value).round(2)
    rule = active.program.tiers
    names = active.program.tier_names()
    thresholds = [float(t.threshold) for t in active.program.tier_list()]
    rank = df["tier_rank"].fillna(0).astype(np.int64)
    df["tier"] = df["tier"].fillna(names[0])
    df["qualifying"] = df["qualifying"].fillna(0.0).astype(float)
    nxt = rank + 1
    has_next = nxt < len(names)
    df["next_tier"] = [names[n] if ok else None for n, ok in zip(nxt, has_next, strict=True)]
    df["to_next_tier"] = [
        max(thresholds[n - 1] - q, 0.0) if ok and rule is not None else None
        for n, ok, q in zip(nxt, has_next, df["qualifying"], strict=True)
    ]
    return df[list(MEMBER_COLUMNS)].reset_index(drop=True)


def members_csv(
    df: pd.DataFrame, *, conn: duckdb.DuckDBPyConnection, actor: str = DEFAULT_ACTOR
) -> str:
    """The members table as CSV, text cells formula-neutralised (a leading ``'`` before
    ``= + - @``), empty cells for missing values.

    Raises
    ------
    NotAllowed
        The table names people (emails): exporting it needs the editor role.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "export personal data")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([neutralise_cell(str(c)) for c in df.columns])
    for row in df.itertuples(index=False):
        w.writerow(["" if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT
                    else neutralise_cell(v) if isinstance(v, str) else str(v) for v in row])
    return buf.getvalue()
