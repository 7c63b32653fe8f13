"""Saved automations and their runs: who newly qualifies, who is left out and why, the batch.

A run of one automation, on a day (``as_of``, UTC) at a moment (``now``):

1. **qualified**: the (customer, occasion) pairs its trigger holds now
   (:func:`relmark_core.automations.triggers.qualifying`);
2. **new**: people with a pair that was not in the automation's qualified set at its last run.
   The first run of a "from now on" automation (done when it is saved) only records that set;
   an "include people who already qualify" automation has none, so its first run adds
   everyone who qualifies once;
3. left out, in this order: **cooldown** (this automation added them in the last
   ``cooldown_days``), **suppressed** / **no consent** for the offer's channel
   (:func:`relmark_core.privacy.reach.filter_reachable`; an in-store list checks the
   suppression list alone, as offers do), **frequency cap** (they got
   :data:`DEFAULT_CAP_MESSAGES` or more messages — launched offers' treated members and
   automation batch entries — in the last :data:`DEFAULT_CAP_DAYS` days; the store's setting
   changes both). People held back by the cap stay "new" and are tried again at the next run;
4. **holdout**: ``holdout_pct`` of the rest, ranked by ``sha256("<seed>:<customer_id>")`` as
   offers do (:func:`relmark_core.offers.model.assign_holdout`);
5. **sent**: the rest, written with their codes to a new CSV in the ``batches`` folder next to
   the database (the offer's channel export's columns) — only when someone is sent.

A run writes its log row, batch entries and the new qualified set in one transaction, so a
second run straight after finds nobody new. A paused automation does not run.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.automations.batches import batch_csv
from relmark_core.automations.model import Automation, parse_automation
from relmark_core.automations.triggers import qualifying
from relmark_core.errors import InputRefused, RelmarkError
from relmark_core.offers.model import assign_holdout, generate_codes, new_seed
from relmark_core.privacy.reach import Channel as ReachChannel
from relmark_core.privacy.reach import Reach, filter_reachable, filter_suppressed
from relmark_core.segments.export import export_file_name
from relmark_core.source import Source, from_duckdb
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "CAP_MESSAGES_SETTING",
    "CAP_DAYS_SETTING",
    "DEFAULT_CAP_MESSAGES",
    "DEFAULT_CAP_DAYS",
    "BATCH_FOLDER",
    "RUN_LOG_COLUMNS",
    "Origin",
    "SavedAutomation",
    "FrequencyCap",
    "RunCounts",
    "AfterImport",
    "save_automation",
    "update_automation",
    "set_status",
    "list_automations",
    "get_automation",
    "frequency_cap",
    "set_frequency_cap",
    "preview_automation",
    "run_automations",
    "after_import",
    "run_log",
    "batch_folder",
    "batch_path",
    "batch_entries",
    "batch_bytes",
    "TABLE_COLUMNS",
    "automations_table",
]

log = logging.getLogger("relmark")

CAP_MESSAGES_SETTING = "automations_cap_messages"
CAP_DAYS_SETTING = "automations_cap_days"
DEFAULT_CAP_MESSAGES = 3
"""Global frequency cap: at most this many messages per customer ..."""
DEFAULT_CAP_DAYS = 7
"""... in this many days (offers launched and automation batches together)."""
MAX_CAP_DAYS = 365
BATCH_FOLDER = "batches"
RUN_LOG_COLUMNS = ("run_id", "automation_id", "name", "ran_at", "as_of", "kind", "origin",
                   "qualified", "new_people", "excluded_cooldown", "excluded_suppressed",
                   "excluded_no_consent", "excluded_cap", "holdout", "sent", "batch_file",
                   "actor")
TABLE_COLUMNS = ("automation_id", "name", "status", "automation", "last_run_at", "runs",
                 "last_sent", "sent", "held_out")
Origin = Literal["cli", "import", "page", "created"]
_COLUMNS = ("automation_id, definition, holdout_seed, created_by, created_at, updated_by, "
            "updated_at")


class SavedAutomation(BaseModel):
    """An automation as stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    automation_id: int
    automation: Automation
    holdout_seed: str
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


class FrequencyCap(BaseModel):
    """At most ``messages`` messages per customer in ``days`` days, across all offers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: int
    days: int

    def sentence(self) -> str:
        return (f"At most {self.messages} message{'s' if self.messages != 1 else ''} per "
                f"customer in {self.days} day{'s' if self.days != 1 else ''}, hand-made offers "
                "and automations together.")


class RunCounts(BaseModel):
    """What one run of one automation did (or, dry, would do)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    automation_id: int | None
    name: str
    kind: Literal["run", "baseline"]
    dry_run: bool
    qualified: int
    new_people: int
    excluded_cooldown: int
    excluded_suppressed: int
    excluded_no_consent: int
    excluded_cap: int
    holdout: int
    sent: int
    batch_file: str | None
    """The batch CSV's full path (None when nobody was sent or on a dry run)."""
    run_id: int | None = None

    @property
    def new_members(self) -> int:
        """People added to the batch this run (sent and held out)."""
        return self.sent + self.holdout

    def record(self) -> dict[str, Any]:
        """The CLI's JSON line."""
        return {"name": self.name, "new_members": self.new_members, "sent": self.sent,
                "holdout": self.holdout, "batch_file": self.batch_file,
                "qualified": self.qualified, "new_people": self.new_people,
                "excluded_cooldown": self.excluded_cooldown,
                "excluded_suppressed": self.excluded_suppressed,
                "excluded_no_consent": self.excluded_no_consent,
                "excluded_cap": self.excluded_cap, "dry_run": self.dry_run}

    def sentence(self) -> str:
        """"Win-back: 12 newly qualify; 1 in cooldown, 2 without consent; 9 sent, 1 held
        out.\""""
        out = []
        for n, words in ((self.excluded_cooldown, "in cooldown"),
                         (self.excluded_suppressed, "suppressed"),
                         (self.excluded_no_consent, "without consent"),
                         (self.excluded_cap, "over the frequency cap")):
            if n:
                out.append(f"{n:,} {words}")
        left = f"; {', '.join(out)}" if out else ""
        return (f"{self.name}: {self.new_people:,} newly qualify{left}; {self.sent:,} sent, "
                f"{self.holdout:,} held out.")


class AfterImport(BaseModel):
    """The automations' runs after an import; ``error`` when they failed (the import stays)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    results: tuple[RunCounts, ...] = ()
    error: str | None = None

    def sentence(self) -> str:
        if self.error:
            return self.error
        if not self.results:
            return ""
        return "Automations after the import — " + " ".join(r.sentence() for r in self.results)


# --- saved automations ----------------------------------------------------------------------------


def _row(row: tuple[Any, ...]) -> SavedAutomation:
    aid, definition, seed, cby, cat, uby, uat = row
    return SavedAutomation(automation_id=int(aid), automation=parse_automation(str(definition)),
                           holdout_seed=str(seed), created_by=str(cby), created_at=cat,
                           updated_by=str(uby), updated_at=uat)


def list_automations(conn: duckdb.DuckDBPyConnection) -> list[SavedAutomation]:
    """Every automation, oldest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM automations ORDER BY automation_id").fetchall()  # noqa: S608
    return [_row(r) for r in rows]


def get_automation(conn: duckdb.DuckDBPyConnection, automation_id: int) -> SavedAutomation:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM automations WHERE automation_id = ?",  # noqa: S608
                        [automation_id]).fetchall()
    if not rows:
        raise InputRefused(f"There is no automation with the id {automation_id}; pick one from "
                           "the list.")
    return _row(rows[0])


def _refuse_taken_name(conn: duckdb.DuckDBPyConnection, a: Automation, own: int | None) -> None:
    other = store.scalar(conn, "SELECT automation_id FROM automations WHERE name_key = ?",
                         [a.name.lower()])
    if other is not None and int(other) != own:
        raise InputRefused(f"An automation called “{a.name}” already exists; choose another "
                           "name or edit that one.")


def _check_trigger(conn: duckdb.DuckDBPyConnection, src: Source, a: Automation) -> None:
    """Refuse a group or tier that does not exist (the trigger would never fire)."""
    t = a.trigger
    if t.kind == "rfm_group":
        from relmark_core.metrics.rfm import load_groups_for

        names = [g.name for g in load_groups_for(src)]
        if t.group not in names:
            raise InputRefused(f"The automation was not saved: there is no RFM group called "
                               f"“{t.group}”. Choose one of: {', '.join(names)}.")
    if t.kind == "tier_reached":
        from relmark_core import loyalty

        active = loyalty.active_version(conn)
        if active is None:
            raise InputRefused("The automation was not saved: a tier trigger needs an active "
                               "loyalty program. Activate one on the Loyalty page first.")
        names = list(active.program.tier_names())
        if t.tier not in names:
            raise InputRefused(f"The automation was not saved: the loyalty program has no tier "
                               f"called “{t.tier}”. Choose one of: {', '.join(names)}.")


def save_automation(conn: duckdb.DuckDBPyConnection, automation: Automation | Mapping[str, Any],
                    *, as_of: date | None = None, now: datetime | None = None,
                    src: Source | None = None, seed: str | None = None,
                    actor: str = DEFAULT_ACTOR) -> SavedAutomation:
    """Save a new automation. With the "from now on" start policy, who qualifies today is
    recorded at once (a baseline run in the log), so only people who qualify later are added."""
    auth.require(conn, actor, auth.Role.EDITOR, "create automations")
    a = parse_automation(automation)
    src = src or from_duckdb(conn)
    _refuse_taken_name(conn, a, None)
    _check_trigger(conn, src, a)
    now = now or store.utc_now()
    with store.transaction(conn):
        aid = int(store.scalar(conn, "SELECT nextval('automation_id_seq')"))
        conn.execute("INSERT INTO automations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [aid, a.name, a.name.lower(), a.to_json(), seed or new_seed(), actor, now,
                      actor, now])
        store.audit(conn, actor, "automation created", f"{aid}: {a.sentence()}")
        store.bump_data_version(conn)
    saved = get_automation(conn, aid)
    if a.start_policy == "from_now":
        _run_one(conn, src, saved, as_of=as_of or now.date(), now=now, dry_run=False,
                 actor=actor, origin="created", baseline=True, folder=None)
    return saved


def update_automation(conn: duckdb.DuckDBPyConnection, automation_id: int,
                      automation: Automation | Mapping[str, Any], *, as_of: date | None = None,
                      now: datetime | None = None, src: Source | None = None,
                      actor: str = DEFAULT_ACTOR) -> SavedAutomation:
    """Change an automation. A new trigger starts afresh by its start policy (the old
    qualified set means nothing to it); the batches sent so far keep counting for the
    cooldown."""
    auth.require(conn, actor, auth.Role.EDITOR, "change automations")
    a = parse_automation(automation)
    old = get_automation(conn, automation_id)
    src = src or from_duckdb(conn)
    _refuse_taken_name(conn, a, automation_id)
    _check_trigger(conn, src, a)
    now = now or store.utc_now()
    fresh = a.trigger != old.automation.trigger
    with store.transaction(conn):
        conn.execute("UPDATE automations SET name = ?, name_key = ?, definition = ?, "
                     "updated_by = ?, updated_at = ? WHERE automation_id = ?",
                     [a.name, a.name.lower(), a.to_json(), actor, now, automation_id])
        if fresh:
            conn.execute("DELETE FROM automation_qualified WHERE automation_id = ?",
                         [automation_id])
        store.audit(conn, actor, "automation changed", f"{automation_id}: {a.sentence()}")
        store.bump_data_version(conn)
    saved = get_automation(conn, automation_id)
    if fresh and a.start_policy == "from_now":
        _run_one(conn, src, saved, as_of=as_of or now.date(), now=now, dry_run=False,
                 actor=actor, origin="created", baseline=True, folder=None)
    return saved


def set_status(conn: duckdb.DuckDBPyConnection, automation_id: int,
               status: Literal["active", "paused"], *, actor: str = DEFAULT_ACTOR
               ) -> SavedAutomation:
    """Pause or resume. On resume, people who newly qualified while it was paused are added
    at its next run (they were not in the qualified set of its last run)."""
    auth.require(conn, actor, auth.Role.EDITOR, "pause or resume automations")
    if status not in ("active", "paused"):
        raise InputRefused(f"Unknown status “{status}”: use active or paused.")
    saved = get_automation(conn, automation_id)
    a = saved.automation.model_copy(update={"status": status})
    with store.transaction(conn):
        conn.execute("UPDATE automations SET definition = ?, updated_by = ?, updated_at = ? "
                     "WHERE automation_id = ?", [a.to_json(), actor, store.utc_now(),
                                                 automation_id])
        store.audit(conn, actor, "automation paused" if status == "paused"
                    else "automation resumed", str(automation_id))
        store.bump_data_version(conn)
    return get_automation(conn, automation_id)


# --- frequency cap --------------------------------------------------------------------------------


def frequency_cap(conn: duckdb.DuckDBPyConnection) -> FrequencyCap:
    """The global cap (settings, default :data:`DEFAULT_CAP_MESSAGES` per
    :data:`DEFAULT_CAP_DAYS` days)."""
    return FrequencyCap(
        messages=int(store.get_setting(conn, CAP_MESSAGES_SETTING, str(DEFAULT_CAP_MESSAGES))),
        days=int(store.get_setting(conn, CAP_DAYS_SETTING, str(DEFAULT_CAP_DAYS))))


def set_frequency_cap(conn: duckdb.DuckDBPyConnection, *, messages: int, days: int,
                      actor: str = DEFAULT_ACTOR) -> FrequencyCap:
    """Change the global cap (an admin setting)."""
    auth.require(conn, actor, auth.Role.ADMIN, "change the frequency cap")
    if not 1 <= messages <= 100:
        raise InputRefused("The frequency cap needs between 1 and 100 messages.")
    if not 1 <= days <= MAX_CAP_DAYS:
        raise InputRefused(f"The frequency cap's window needs between 1 and {MAX_CAP_DAYS} days.")
    with store.transaction(conn):
        for key, value in ((CAP_MESSAGES_SETTING, messages), (CAP_DAYS_SETTING, days)):
            conn.execute("INSERT OR REPLACE INTO settings VALUES (?, ?, ?, ?)",
                         [key, str(value), actor, store.utc_now()])
        store.audit(conn, actor, "frequency cap changed", f"{messages} per {days} days")
        store.bump_data_version(conn)
    return frequency_cap(conn)


def _messages_in_window(conn: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, int]:
    rows = conn.execute(
        """
        SELECT customer_id, count(*) FROM (
            SELECT m.customer_id FROM offer_members m JOIN offers o USING (offer_id)
            WHERE m.arm = 'treatment' AND o.launched_at >= $since
            UNION ALL
            SELECT customer_id FROM automation_entries
            WHERE arm = 'treatment' AND added_at >= $since
        ) GROUP BY customer_id
        """, {"since": since}).fetchall()
    return {str(c): int(n) for c, n in rows}


# --- batch folder ----------------------------------------------------------------------------------


def batch_folder(conn: duckdb.DuckDBPyConnection) -> Path:
    """``batches`` next to the database file (a temporary folder for an in-memory store)."""
    rows = conn.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                        "current_database()").fetchall()
    file = rows[0][0] if rows else None
    if not file or str(file) == ":memory:":
        return Path(tempfile.gettempdir()) / "relmark-batches"
    return Path(str(file)).resolve().parent / BATCH_FOLDER


def batch_path(conn: duckdb.DuckDBPyConnection, file_name: str, folder: Path | None = None
               ) -> Path:
    """Where a run's batch file (as logged: its full path) is; a bare name, or a path that no
    longer exists (the database and its folder moved), is looked up in ``folder`` (default
    :func:`batch_folder`)."""
    path = Path(file_name)
    if path.is_absolute() and (folder is None or path.parent == folder.resolve()) \
            and path.exists():
        return path
    return (folder or batch_folder(conn)) / path.name


# --- one run ------------------------------------------------------------------------------------------


def _snapshot(conn: duckdb.DuckDBPyConnection, automation_id: int) -> pd.DataFrame:
    return conn.execute("SELECT customer_id, occasion FROM automation_qualified "
                        "WHERE automation_id = ?", [automation_id]).df()


def _recently_added(conn: duckdb.DuckDBPyConnection, automation_id: int, since: datetime
                    ) -> set[str]:
    rows = conn.execute("SELECT DISTINCT customer_id FROM automation_entries "
                        "WHERE automation_id = ? AND added_at >= ?",
                        [automation_id, since]).fetchall()
    return {str(r[0]) for r in rows}


def _reach(conn: duckdb.DuckDBPyConnection, ids: list[str], channel: str) -> Reach:
    """Who may be contacted on the offer's channel: suppression and consent for email, SMS and
    ads; the suppression list alone for an in-store list (as offers do)."""
    if channel == "in_store":
        return filter_suppressed(conn, ids)
    return filter_reachable(conn, ids, ReachChannel(channel))


def _last_run(conn: duckdb.DuckDBPyConnection, automation_id: int | None) -> int | None:
    if automation_id is None:
        return None
    v = store.scalar(conn, "SELECT max(run_id) FROM automation_runs WHERE automation_id = ?",
                     [automation_id])
    return None if v is None else int(v)


def _evaluate(conn: duckdb.DuckDBPyConnection, src: Source, a: Automation,
              automation_id: int | None, seed: str, *, as_of: date, now: datetime,
              baseline: bool) -> tuple[dict[str, int], pd.DataFrame, pd.DataFrame]:
    """(counts, the new entries: customer_id, occasion, arm; the qualified set to keep)."""
    q = qualifying(conn, src, a.trigger, as_of=as_of)
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=object),
                          "occasion": pd.Series([], dtype=object),
                          "arm": pd.Series([], dtype=object)})
    counts = dict.fromkeys(("excluded_cooldown", "excluded_suppressed", "excluded_no_consent",
                            "excluded_cap", "holdout", "sent"), 0)
    counts["qualified"] = int(q["customer_id"].nunique())
    if baseline:
        counts["new_people"] = 0
        return counts, empty, q
    prev = _snapshot(conn, automation_id) if automation_id is not None else q.iloc[:0]
    seen = set(zip(prev["customer_id"].astype(str), prev["occasion"].astype(str), strict=True))
    is_new = pd.Series([(c, o) not in seen for c, o in zip(q["customer_id"], q["occasion"],
                                                            strict=True)],
                       index=q.index, dtype=bool)
    new = q[is_new].drop_duplicates("customer_id")  # one entry a person, first occasion
    counts["new_people"] = len(new)
    ids = new["customer_id"].tolist()
    cooled = (_recently_added(conn, automation_id, now - timedelta(days=a.cooldown_days))
              if automation_id is not None else set())
    ids_c = [c for c in ids if c not in cooled]
    counts["excluded_cooldown"] = len(ids) - len(ids_c)
    reach = _reach(conn, ids_c, a.offer.channel)
    counts["excluded_suppressed"] = reach.suppressed
    counts["excluded_no_consent"] = reach.no_consent
    cap = frequency_cap(conn)
    sent_before = _messages_in_window(conn, now - timedelta(days=cap.days))
    kept = [c for c in reach.kept if sent_before.get(c, 0) < cap.messages]
    capped = set(reach.kept) - set(kept)
    counts["excluded_cap"] = len(capped)
    held = assign_holdout(kept, seed=seed, pct=a.holdout_pct)
    counts["holdout"] = len(held)
    counts["sent"] = len(kept) - len(held)
    keep_set = set(kept)
    entries = new[new["customer_id"].isin(keep_set)].copy()
    entries["arm"] = ["holdout" if c in held else "treatment" for c in entries["customer_id"]]
    # the capped are tried again at the next run: leave them out of the qualified set
    to_keep = q[~q["customer_id"].isin(capped) | ~is_new]
    return counts, entries.reset_index(drop=True), to_keep.reset_index(drop=True)


def _codes(a: Automation, entries: pd.DataFrame) -> list[str | None]:
    treated = (entries["arm"] == "treatment").to_numpy()
    out: list[str | None] = [None] * len(entries)
    if a.offer.code_mode == "unique":
        codes = iter(generate_codes(int(treated.sum()), prefix=a.offer.code_prefix))
        out = [next(codes) if t else None for t in treated]
    elif a.offer.code_mode == "shared":
        out = [a.offer.shared_code if t else None for t in treated]
    return out


def _file_name(a: Automation, now: datetime, run_id: int) -> str:
    stem = export_file_name(a.name, now.date(), "csv").removesuffix(".csv")
    return f"{stem}-{now:%H%M%S}-run{run_id}.csv"


class _Raced(Exception):
    pass


def _run_one(conn: duckdb.DuckDBPyConnection, src: Source, saved: SavedAutomation, *,
             as_of: date, now: datetime, dry_run: bool, actor: str, origin: Origin,
             baseline: bool, folder: Path | None) -> RunCounts:
    a = saved.automation
    aid = saved.automation_id
    before = _last_run(conn, aid)
    counts, entries, keep = _evaluate(conn, src, a, aid, saved.holdout_seed, as_of=as_of,
                                      now=now, baseline=baseline)
    kind: Literal["run", "baseline"] = "baseline" if baseline else "run"
    if dry_run:
        return RunCounts(automation_id=aid, name=a.name, kind=kind, dry_run=True,
                         batch_file=None, **counts)
    entries["code"] = _codes(a, entries)
    treated = entries[entries["arm"] == "treatment"]
    written: Path | None = None
    conn.register("_auto_keep", keep[["customer_id", "occasion"]])
    conn.register("_auto_new", entries[["customer_id", "occasion", "arm", "code"]])
    try:
        with store.transaction(conn):
            if _last_run(conn, aid) != before:
                raise _Raced
            run_id = int(store.scalar(conn, "SELECT nextval('automation_run_seq')"))
            if len(treated):
                written = batch_path(conn, _file_name(a, now, run_id), folder).resolve()
            name = str(written) if written is not None else None
            conn.execute(
                "INSERT INTO automation_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, aid, kind, origin, as_of, counts["qualified"], counts["new_people"],
                 counts["excluded_cooldown"], counts["excluded_suppressed"],
                 counts["excluded_no_consent"], counts["excluded_cap"], counts["holdout"],
                 counts["sent"], name, actor, now])
            conn.execute("DELETE FROM automation_qualified WHERE automation_id = ?", [aid])
            conn.execute("INSERT INTO automation_qualified SELECT $aid, customer_id, "
                         "occasion FROM _auto_keep", {"aid": aid})
            conn.execute("INSERT INTO automation_entries SELECT $run, $aid, customer_id, "
                         "occasion, arm, code, $now FROM _auto_new",
                         {"run": run_id, "aid": aid, "now": now})
            if written is not None:
                data = batch_csv(conn, a, treated, starts_on=now.date(), src=src)
                written.parent.mkdir(parents=True, exist_ok=True)
                written.write_bytes(data)
            store.audit(conn, actor, f"automation {kind}",
                        f"{aid} run {run_id} ({origin}): {counts['qualified']} qualified, "
                        f"{counts['new_people']} new, {counts['sent']} sent, "
                        f"{counts['holdout']} held out")
            store.bump_data_version(conn)
    except _Raced:
        # another run of this automation committed meanwhile: it added these people
        return RunCounts(automation_id=aid, name=a.name, kind=kind, dry_run=False,
                         batch_file=None, **dict.fromkeys(counts, 0))
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise
    finally:
        conn.unregister("_auto_keep")
        conn.unregister("_auto_new")
    return RunCounts(automation_id=aid, name=a.name, kind=kind, dry_run=False, run_id=run_id,
                     batch_file=str(written) if written else None, **counts)


# --- runs ------------------------------------------------------------------------------------------


def preview_automation(conn: duckdb.DuckDBPyConnection, automation: Automation | Mapping[str, Any],
                       *, as_of: date, automation_id: int | None = None,
                       src: Source | None = None, now: datetime | None = None) -> RunCounts:
    """Who a run would add now, writing nothing. For an unsaved automation (or a changed
    trigger) everyone who qualifies counts as new — what "include people who already
    qualify" would send; "from now on" would send nobody today."""
    a = parse_automation(automation)
    src = src or from_duckdb(conn)
    seed = "preview"
    aid = automation_id
    if automation_id is not None:
        saved = get_automation(conn, automation_id)
        seed = saved.holdout_seed
        if saved.automation.trigger != a.trigger:
            aid = None
    counts, _, _ = _evaluate(conn, src, a, aid, seed, as_of=as_of,
                             now=now or store.utc_now(), baseline=False)
    return RunCounts(automation_id=automation_id, name=a.name, kind="run", dry_run=True,
                     batch_file=None, **counts)


def run_automations(conn: duckdb.DuckDBPyConnection, *, as_of: date | None = None,
                    now: datetime | None = None, dry_run: bool = False,
                    automation_ids: list[int] | None = None, src: Source | None = None,
                    origin: Origin = "cli", folder: Path | None = None,
                    actor: str = DEFAULT_ACTOR) -> list[RunCounts]:
    """Run every active automation (or those in ``automation_ids``, active ones) in turn.

    ``dry_run`` writes nothing (no log row, entries or file). Each automation's run is its
    own transaction; an earlier automation's batch counts toward the frequency cap of a later
    one in the same call."""
    if not dry_run:
        auth.require(conn, actor, auth.Role.EDITOR, "run automations")
    now = now or store.utc_now()
    day = as_of or now.date()
    src = src or from_duckdb(conn)
    out = []
    for saved in list_automations(conn):
        if saved.automation.status != "active":
            continue
        if automation_ids is not None and saved.automation_id not in automation_ids:
            continue
        out.append(_run_one(conn, src, saved, as_of=day, now=now, dry_run=dry_run, actor=actor,
                            origin=origin, baseline=False, folder=folder))
    return out


def after_import(conn: duckdb.DuckDBPyConnection, *, actor: str = DEFAULT_ACTOR,
                 folder: Path | None = None) -> AfterImport:
    """Run the active automations after an import has committed. Never raises: a failure is
    reported (the import stays)."""
    try:
        n = store.scalar(conn, "SELECT count(*) FROM automations WHERE json_extract_string("
                         "definition, '$.status') = 'active'")
        if not n:
            return AfterImport()
        return AfterImport(results=tuple(run_automations(conn, origin="import", actor=actor,
                                                         folder=folder)))
    except RelmarkError as exc:
        return AfterImport(error=f"The import was kept, but the automations did not run: {exc}")
    except Exception:
        log.exception("automations after an import failed")
        return AfterImport(error="The import was kept, but the automations did not run "
                           "because of an unexpected error (details are in the log). Run them "
                           "from the Automations page or with `python -m relmark_core "
                           "automations run`.")


def run_log(conn: duckdb.DuckDBPyConnection, automation_id: int | None = None,
            *, include_baseline: bool = True) -> pd.DataFrame:
    """Every run, newest first: :data:`RUN_LOG_COLUMNS`."""
    df = conn.execute(
        "SELECT r.run_id, r.automation_id, a.name, r.ran_at, r.as_of, r.kind, "
        "r.trigger_origin AS origin, r.qualified, r.new_people, r.excluded_cooldown, "
        "r.excluded_suppressed, r.excluded_no_consent, r.excluded_cap, r.holdout, r.sent, "
        "r.batch_file, r.actor FROM automation_runs r LEFT JOIN automations a "
        "USING (automation_id) WHERE (CAST($aid AS BIGINT) IS NULL OR r.automation_id = $aid) "
        "AND ($base OR r.kind = 'run') ORDER BY r.run_id DESC",
        {"aid": automation_id, "base": include_baseline}).df()
    return df[list(RUN_LOG_COLUMNS)]


def batch_entries(conn: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """One run's entries: ``customer_id``, ``email``, ``name``, ``occasion``, ``arm``,
    ``code``."""
    return conn.execute(
        "SELECT e.customer_id, c.email, trim(concat_ws(' ', c.first_name, c.last_name)) AS name, "
        "e.occasion, e.arm, e.code FROM automation_entries e LEFT JOIN customers c "
        "USING (customer_id) WHERE e.run_id = ? ORDER BY e.arm DESC, e.customer_id",
        [run_id]).df()


def batch_bytes(conn: duckdb.DuckDBPyConnection, file_name: str, folder: Path | None = None
                ) -> bytes:
    """A logged batch file's content (for a download)."""
    path = batch_path(conn, file_name, folder)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputRefused(f"The batch file {path.name} is not in {path.parent} any more (moved "
                           "or deleted); its people are still in the run's entries.") from exc


def automations_table(conn: duckdb.DuckDBPyConnection, *, currency: str = "USD"
                      ) -> pd.DataFrame:
    """Every automation with its last run: :data:`TABLE_COLUMNS` (``automation`` is the
    sentence; ``sent`` and ``held_out`` are totals over its runs)."""
    per = {int(r[0]): r[1:] for r in conn.execute(
        "SELECT automation_id, max(ran_at) FILTER (WHERE kind = 'run'), "
        "count(*) FILTER (WHERE kind = 'run'), CAST(sum(sent) AS BIGINT), "
        "CAST(sum(holdout) AS BIGINT), arg_max(sent, run_id) FILTER (WHERE kind = 'run') "
        "FROM automation_runs GROUP BY automation_id").fetchall()}
    rows = []
    for s in list_automations(conn):
        last_at, runs, sent, held, last_sent = per.get(s.automation_id, (None, 0, 0, 0, None))
        rows.append({"automation_id": s.automation_id, "name": s.automation.name,
                     "status": s.automation.status.capitalize(),
                     "automation": s.automation.sentence(currency), "last_run_at": last_at,
                     "runs": int(runs or 0), "last_sent": last_sent, "sent": int(sent or 0),
                     "held_out": int(held or 0)})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
