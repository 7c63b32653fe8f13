"""Lifecycle automations on hand-built shops: each trigger's exact people, runs that add only the
newly qualified, cooldown, consent and suppression, the frequency cap, the holdout, pause,
dry runs, the batch file, the calendar and the message balance."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from relmark_core import store
from relmark_core.automations import (
    after_import,
    batch_bytes,
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
    update_automation,
)
from relmark_core.automations import run as run_module
from relmark_core.automations.triggers import qualifying
from relmark_core.errors import InputRefused
from relmark_core.feedback_followup import mark_followup
from relmark_core.loyalty.ledger import save_version
from relmark_core.loyalty.model import (
    Expiry,
    LoyaltyProgram,
    PointsCurrency,
    PointsPerSpend,
    Tier,
    TierRules,
)
from relmark_core.offers import launch_offer, save_offer
from relmark_core.privacy.reach import Channel, Reach
from relmark_core.privacy.suppression import add_entry
from relmark_core.segments import save_segment
from relmark_core.source import from_duckdb
from tests.builders import add_customer, add_feedback, add_order, order

AS_OF = date(2024, 6, 15)
NOW = datetime(2024, 6, 15, 9, 0)
STARS = LoyaltyProgram(
    name="Stars", currency=PointsCurrency(name="stars", value="0.01"),
    earn_rules=(PointsPerSpend(),),
    tiers=TierRules(tiers=(Tier(name="Green", threshold=0), Tier(name="Gold", threshold=300))),
    expiry=Expiry(months=6))


def _people(df: object) -> list[tuple[str, str]]:
    return [(str(c), str(o)) for c, o in df.itertuples(index=False)]  # type: ignore[attr-defined]


def _entries(conn: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str, str]]:
    rows = conn.execute("SELECT run_id, customer_id, occasion, arm FROM automation_entries "
                        "ORDER BY run_id, customer_id").fetchall()
    return [(int(r), str(c), str(o), str(a)) for r, c, o, a in rows]


def _auto(name: str, trigger: dict[str, object], **kw: object) -> dict[str, object]:
    return {"name": name, "trigger": trigger, "holdout_pct": 0,
            "start_policy": "include_existing", **kw}


# --- the shop for welcome, nudge and birthday ----------------------------------------------------


def _lifecycle_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "a", first_name="Ann", orders=[order("2024-06-10", 30)])
    add_customer(conn, "b", orders=[order("2024-04-01", 20), order("2024-06-12", 25)])
    add_customer(conn, "c", birthday="1990-06-03")
    add_customer(conn, "e", orders=[order("2024-05-16", 40)])
    add_customer(conn, "f", orders=[order("2024-05-17", 40)])
    add_customer(conn, "g", birthday="1985-07-01", orders=[order("2024-06-20", 10)])
    add_customer(conn, "h", orders=[order("2024-03-01", 10, status="cancelled")])


def test_sentences() -> None:
    cases = {
        "welcome": ("Everyone who places a first order gets X: 10% off by email, at most once "
                    "every 90 days, 10% held out."),
        "second_order": ("Everyone with no second order 30 days after their first gets X: 10% "
                         "off by email, at most once every 90 days, 10% held out."),
        "birthday_month": ("Everyone in their birthday month gets X: 10% off by email, at most "
                           "once every 90 days, 10% held out."),
        "detractor": ("Every detractor (NPS 0–6) nobody has followed up yet gets X: 10% off by "
                      "email, at most once every 90 days, 10% held out."),
        "points_expiring": ("Everyone whose points expire within 30 days gets X: 10% off by "
                            "email, at most once every 90 days, 10% held out."),
    }
    for kind, text in cases.items():
        assert parse_automation({"name": "X", "trigger": {"kind": kind}}).sentence() == text
    win = parse_automation({"name": "Win-back", "trigger": {"kind": "rfm_group", "group": "At risk"},
                            "offer": {"value": 15, "channel": "sms"}, "cooldown_days": 1,
                            "holdout_pct": 0})
    assert win.sentence() == ("Everyone who moves into At risk gets Win-back: 15% off by SMS, at "
                              "most once every 1 day, no holdout.")
    tier = parse_automation({"name": "Gold hello", "trigger": {"kind": "tier_reached",
                                                               "tier": "Gold"},
                             "offer": {"offer_type": "bonus_points", "value": 200}})
    assert tier.sentence().startswith("Everyone who reaches the Gold tier gets Gold hello: 200 "
                                      "bonus points by email")


def test_refusals_name_the_field() -> None:
    with pytest.raises(InputRefused, match="unknown token {nickname}"):
        parse_automation({"name": "X", "trigger": {"kind": "welcome"},
                          "offer": {"message": "Hi {nickname}"}})
    with pytest.raises(InputRefused, match="cooldown_days"):
        parse_automation({"name": "X", "trigger": {"kind": "welcome"}, "cooldown_days": 0})
    with pytest.raises(InputRefused, match="percent between 1 and 100"):
        parse_automation({"name": "X", "trigger": {"kind": "welcome"}, "offer": {"value": 150}})


def test_welcome_nudge_birthday_people(conn: duckdb.DuckDBPyConnection) -> None:
    _lifecycle_shop(conn)
    src = from_duckdb(conn)
    welcome = parse_automation({"name": "W", "trigger": {"kind": "welcome"}}).trigger
    # first counted order on 17 May .. 15 Jun: a (10 Jun) and f (17 May); b's first was April,
    # e's 16 May, g's after the day, h's was cancelled
    assert _people(qualifying(conn, src, welcome, as_of=AS_OF)) == [
        ("a", "first order"), ("f", "first order")]
    nudge = parse_automation({"name": "N", "trigger": {"kind": "second_order",
                                                       "after_days": 30}}).trigger
    # one counted order, placed 30 or more days before 15 Jun (on or before 16 May): e only
    assert _people(qualifying(conn, src, nudge, as_of=AS_OF)) == [("e", "one order on 2024-05-16")]
    bday = parse_automation({"name": "B", "trigger": {"kind": "birthday_month"}}).trigger
    assert _people(qualifying(conn, src, bday, as_of=AS_OF)) == [("c", "birthday 2024")]


def test_tier_and_points_expiring_people(conn: duckdb.DuckDBPyConnection) -> None:
    # ann: 120 stars on 10 Jan + 200 on 20 Feb = 320 qualifying → Gold; bob 50 → Green.
    # Stars expire 6 months after earning: ann's 120 on 10 Jul, 200 on 20 Aug; bob's on 1 Sep.
    add_customer(conn, "ann", orders=[order("2024-01-10", 120), order("2024-02-20", 200)])
    add_customer(conn, "bob", orders=[order("2024-03-01", 50)])
    save_version(conn, STARS, starts_on=date(2024, 1, 1))
    src = from_duckdb(conn)
    gold = parse_automation({"name": "G", "trigger": {"kind": "tier_reached",
                                                      "tier": "Gold"}}).trigger
    assert _people(qualifying(conn, src, gold, as_of=date(2024, 3, 31))) == [("ann", "Gold")]
    exp = parse_automation({"name": "E", "trigger": {"kind": "points_expiring",
                                                     "within_days": 30}}).trigger
    assert _people(qualifying(conn, src, exp, as_of=date(2024, 7, 1))) == [
        ("ann", "points expiring 2024-07-10")]
    # calendar: due 30 days before each expiry → ann on 10 Jun (10 Jul) and 21 Jul (20 Aug)
    save_automation(conn, _auto("Points reminder", {"kind": "points_expiring"}), now=NOW)
    days = upcoming_by_day(conn, src, start=date(2024, 6, 1), days=30)
    assert days.values.tolist() == [[date(2024, 6, 10), "automated", "Points reminder", 1]]
    with pytest.raises(InputRefused, match="no tier called “Platinum”"):
        save_automation(conn, _auto("P", {"kind": "tier_reached", "tier": "Platinum"}))


def test_detractor_people_leave_out_followed_up(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "d1")
    add_customer(conn, "d2")
    add_customer(conn, "d3")
    add_customer(conn, "d4")
    add_feedback(conn, "d1", "2024-06-10", 3, response_id="t:1")
    add_feedback(conn, "d2", "2024-06-10", 9, response_id="t:2")   # promoter
    add_feedback(conn, "d3", "2024-04-01", 5, response_id="t:3")   # more than 30 days ago
    add_feedback(conn, "d4", "2024-06-12", 4, response_id="t:4")
    mark_followup(conn, "t:4", "contacted")                         # already followed up
    det = parse_automation({"name": "D", "trigger": {"kind": "detractor"}}).trigger
    assert _people(qualifying(conn, from_duckdb(conn), det, as_of=AS_OF)) == [("d1", "t:1")]


# --- RFM: moving into At risk ---------------------------------------------------------------------

# Five customers with distinct recency and frequency: scores 1..5 by rank (n = 5).
#   p1: 3 orders, last 20 Jan 2023 → R1 F3 → At risk
#   p2: 1 order,  1 Mar 2023       → R2 F1 → Hibernating
#   p3: 2 orders, last 1 Jul 2023  → R3 F2;  p4: 4 orders → R4 F4;  p5: 5 orders → R5 F5
# Three older orders for p2 make F = 4 (tied with p4): frequencies 2, 3, 4, 4, 5 give
# p3 F1, p1 F2 (leaves At risk), p2 and p4 F3 → p2 (R2 F3) moves into At risk.


def _rfm_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "p1", first_name="Pia", orders=[
        order("2023-01-01", 30), order("2023-01-10", 30), order("2023-01-20", 30)])
    add_customer(conn, "p2", first_name="Paul", orders=[order("2023-03-01", 30)])
    add_customer(conn, "p3", orders=[order("2023-06-01", 30), order("2023-07-01", 30)])
    add_customer(conn, "p4", orders=[order(f"2023-{m:02d}-01", 30) for m in (8, 9, 10)]
                 + [order("2024-01-01", 30)])
    add_customer(conn, "p5", orders=[order(f"2024-{m:02d}-01", 30) for m in (1, 2, 3, 4)]
                 + [order("2024-05-01", 30)])


def _move_p2_into_at_risk(conn: duckdb.DuckDBPyConnection) -> None:
    for day in ("2022-01-05", "2022-02-05", "2022-03-05"):
        add_order(conn, "p2", order(day, 30))


def test_moved_into_at_risk_batches(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _rfm_shop(conn)
    saved = save_automation(conn, _auto(
        "Win-back", {"kind": "rfm_group", "group": "At risk"},
        offer={"value": 15, "message": "Hi {first_name}", "code_mode": "shared",
               "shared_code": "COMEBACK", "valid_days": 14}), now=NOW)
    r1 = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    assert [(r.name, r.qualified, r.new_people, r.sent, r.holdout) for r in r1] == [
        ("Win-back", 1, 1, 1, 0)]
    assert r1[0].batch_file == str(tmp_path / "win-back-2024-06-15-090000-run1.csv")
    rows = list(csv.reader(io.StringIO(Path(r1[0].batch_file).read_text())))
    assert rows == [
        ["Email", "First Name", "Last Name", "Code", "Message", "Tier", "Points Balance",
         "Favourite Category", "Last Product", "Offer Ends"],
        ["p1@example.com", "Pia", "", "COMEBACK", "Hi Pia", "", "", "", "", "2024-06-28"]]
    _move_p2_into_at_risk(conn)
    later = NOW + timedelta(days=1)
    r2 = run_automations(conn, as_of=AS_OF + timedelta(days=1), now=later, folder=tmp_path)
    assert [(r.qualified, r.new_people, r.sent) for r in r2] == [(1, 1, 1)]
    assert _entries(conn) == [(1, "p1", "At risk", "treatment"), (2, "p2", "At risk", "treatment")]
    log = run_log(conn, saved.automation_id)
    assert log[["run_id", "kind", "qualified", "new_people", "sent"]].values.tolist() == [
        [2, "run", 1, 1, 1], [1, "run", 1, 1, 1]]
    assert batch_bytes(conn, str(log["batch_file"].iloc[0]), tmp_path).decode().splitlines()[1] \
        .startswith("p2@example.com,Paul,,COMEBACK,Hi Paul,")


def test_from_now_on_leaves_out_who_qualifies_today(conn: duckdb.DuckDBPyConnection,
                                                    tmp_path: Path) -> None:
    _rfm_shop(conn)
    a = _auto("Win-back", {"kind": "rfm_group", "group": "At risk"}, start_policy="from_now")
    saved = save_automation(conn, a, as_of=AS_OF, now=NOW)
    log = run_log(conn)
    assert log[["kind", "origin", "qualified", "new_people", "sent"]].values.tolist() == [
        ["baseline", "created", 1, 0, 0]]
    assert run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)[0].new_members == 0
    _move_p2_into_at_risk(conn)
    assert preview_automation(conn, a, as_of=AS_OF, automation_id=saved.automation_id,
                              now=NOW).new_members == 1
    r = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    assert (r[0].new_people, r[0].sent) == (1, 1)
    assert _entries(conn) == [(3, "p2", "At risk", "treatment")]


# --- cooldown, reruns, pause, dry run ------------------------------------------------------------


def test_twice_within_the_cooldown_gets_one_entry(conn: duckdb.DuckDBPyConnection,
                                                  tmp_path: Path) -> None:
    add_customer(conn, "d1")
    add_feedback(conn, "d1", "2024-06-10", 3, response_id="t:1")
    save_automation(conn, _auto("Sorry", {"kind": "detractor"}, cooldown_days=90), now=NOW)
    r1 = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    assert (r1[0].new_people, r1[0].sent) == (1, 1)
    # a second detractor answer five days later: a new occasion, inside the 90-day cooldown
    add_feedback(conn, "d1", "2024-06-20", 2, response_id="t:2")
    later = datetime(2024, 6, 21, 9, 0)
    r2 = run_automations(conn, as_of=date(2024, 6, 21), now=later, folder=tmp_path)
    assert (r2[0].new_people, r2[0].excluded_cooldown, r2[0].sent, r2[0].batch_file) == (
        1, 1, 0, None)
    assert _entries(conn) == [(1, "d1", "t:1", "treatment")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sorry-2024-06-15-090000-run1.csv"]


def test_a_new_occasion_after_the_cooldown_is_sent(conn: duckdb.DuckDBPyConnection,
                                                   tmp_path: Path) -> None:
    add_customer(conn, "c", birthday="1990-06-03")
    save_automation(conn, _auto("Birthday", {"kind": "birthday_month"}, cooldown_days=300),
                    now=NOW)
    run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    run_automations(conn, as_of=date(2024, 7, 1), now=datetime(2024, 7, 1), folder=tmp_path)
    run_automations(conn, as_of=date(2025, 6, 2), now=datetime(2025, 6, 2), folder=tmp_path)
    assert _entries(conn) == [(1, "c", "birthday 2024", "treatment"),
                              (3, "c", "birthday 2025", "treatment")]


def test_pause_stops_and_resume_catches_up(conn: duckdb.DuckDBPyConnection,
                                           tmp_path: Path) -> None:
    _lifecycle_shop(conn)
    saved = save_automation(conn, _auto("Welcome", {"kind": "welcome"}), now=NOW)
    set_status(conn, saved.automation_id, "paused")
    assert run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path) == []
    assert _entries(conn) == []
    assert after_import(conn).results == ()
    set_status(conn, saved.automation_id, "active")
    r = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    assert [(x.new_people, x.sent) for x in r] == [(2, 2)]
    assert [e[1] for e in _entries(conn)] == ["a", "f"]


def test_dry_run_writes_nothing(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _lifecycle_shop(conn)
    save_automation(conn, _auto("Welcome", {"kind": "welcome"}), now=NOW)
    version = store.data_version(conn)
    r = run_automations(conn, as_of=AS_OF, now=NOW, dry_run=True, folder=tmp_path)
    assert [(x.new_people, x.sent, x.batch_file, x.dry_run) for x in r] == [(2, 2, None, True)]
    assert store.data_version(conn) == version
    assert store.scalar(conn, "SELECT count(*) FROM automation_runs") == 0
    assert store.scalar(conn, "SELECT count(*) FROM automation_qualified") == 0
    assert _entries(conn) == []
    assert list(tmp_path.iterdir()) == []


def test_editing_the_trigger_starts_afresh(conn: duckdb.DuckDBPyConnection,
                                           tmp_path: Path) -> None:
    _lifecycle_shop(conn)
    saved = save_automation(conn, _auto("Hello", {"kind": "welcome"}), now=NOW)
    run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    update_automation(conn, saved.automation_id,
                      _auto("Hello", {"kind": "birthday_month"}), now=NOW)
    r = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    assert [(x.qualified, x.new_people, x.sent) for x in r] == [(1, 1, 1)]
    assert [e[1:3] for e in _entries(conn)] == [
        ("a", "first order"), ("f", "first order"), ("c", "birthday 2024")]


# --- consent, suppression, frequency cap, holdout -------------------------------------------------


def test_consent_and_suppression(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    add_customer(conn, "x1", orders=[order("2024-06-10", 20)])
    add_customer(conn, "x2", accepts_marketing=False, orders=[order("2024-06-10", 20)])
    add_customer(conn, "x3", orders=[order("2024-06-10", 20)])
    add_entry(conn, "X3@example.com", reason="manual")
    save_automation(conn, _auto("Welcome", {"kind": "welcome"}), now=NOW)
    r = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)[0]
    assert (r.new_people, r.excluded_suppressed, r.excluded_no_consent, r.sent) == (3, 1, 1, 1)
    assert [e[1] for e in _entries(conn)] == ["x1"]
    # the people left out are not retried: a second run adds nobody
    assert run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)[0].new_people == 0


def test_in_store_lists_check_only_the_suppression_list(conn: duckdb.DuckDBPyConnection,
                                                        tmp_path: Path) -> None:
    add_customer(conn, "x1", orders=[order("2024-06-10", 20)])
    add_customer(conn, "x2", accepts_marketing=False, orders=[order("2024-06-10", 20)])
    add_customer(conn, "x3", orders=[order("2024-06-10", 20)])
    add_entry(conn, "x3@example.com", reason="manual")
    save_automation(conn, _auto("Welcome", {"kind": "welcome"}, offer={"channel": "in_store"}),
                    now=NOW)
    r = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)[0]
    assert (r.excluded_suppressed, r.excluded_no_consent, r.sent) == (1, 0, 2)
    with Path(str(r.batch_file)).open(encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["Name", "Email", "Code"],
                                         ["", "x1@example.com", _codes(conn)["x1"]],
                                         ["", "x2@example.com", _codes(conn)["x2"]]]


def _codes(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {str(c): str(k) for c, k in conn.execute(
        "SELECT customer_id, code FROM automation_entries").fetchall()}


def test_reach_gets_the_offers_channel(conn: duckdb.DuckDBPyConnection, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _lifecycle_shop(conn)
    seen: list[tuple[list[str], Channel]] = []

    def fake(_c: object, ids: list[str], channel: Channel) -> Reach:
        seen.append((list(ids), channel))
        return Reach(kept=[i for i in ids if i != "a"], suppressed=0, no_consent=1)

    monkeypatch.setattr(run_module, "filter_reachable", fake)
    save_automation(conn, _auto("Welcome", {"kind": "welcome"}, offer={"channel": "sms"}),
                    now=NOW)
    r = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)[0]
    assert seen == [(["a", "f"], Channel.SMS)]
    assert (r.excluded_no_consent, r.sent) == (1, 1)
    assert [e[1] for e in _entries(conn)] == ["f"]


def test_frequency_cap_across_automations(conn: duckdb.DuckDBPyConnection,
                                          tmp_path: Path) -> None:
    _lifecycle_shop(conn)
    set_frequency_cap(conn, messages=1, days=7)
    save_automation(conn, _auto("Welcome A", {"kind": "welcome"}), now=NOW)
    save_automation(conn, _auto("Welcome B", {"kind": "welcome"}), now=NOW)
    r1 = run_automations(conn, as_of=AS_OF, now=NOW, folder=tmp_path)
    assert [(x.name, x.sent, x.excluded_cap, x.batch_file is None) for x in r1] == [
        ("Welcome A", 2, 0, False), ("Welcome B", 0, 2, True)]
    # held back by the cap: tried again next run, still within 7 days of A's batch
    r2 = run_automations(conn, as_of=AS_OF, now=NOW + timedelta(days=1), folder=tmp_path)
    assert [(x.new_people, x.excluded_cap) for x in r2] == [(0, 0), (2, 2)]
    # 8 days on (23 Jun): A's first batch is out of the 7-day window; f's first order (17 May)
    # is over 30 days old; g's (20 Jun) is new. A sends g, so B holds g back and sends a.
    day8 = NOW + timedelta(days=8)
    r3 = run_automations(conn, as_of=day8.date(), now=day8, folder=tmp_path)
    assert [(x.new_people, x.sent, x.excluded_cap) for x in r3] == [(1, 1, 0), (2, 1, 1)]
    assert [(e[0], e[1]) for e in _entries(conn)] == [(1, "a"), (1, "f"), (5, "g"), (6, "a")]


def test_hand_made_offers_count_toward_the_cap(conn: duckdb.DuckDBPyConnection,
                                               tmp_path: Path) -> None:
    today = store.utc_now().date()
    add_customer(conn, "a", orders=[order(today - timedelta(days=1), 30)])
    add_customer(conn, "b", orders=[order(today - timedelta(days=2), 30)])
    add_customer(conn, "z", accepts_marketing=False, orders=[order(today, 30)])
    seg = save_segment(conn, "Consenting", {"conditions": [{"kind": "consent", "consented": True}]})
    offer = save_offer(conn, {"name": "Thanks", "segment_id": seg.segment_id, "starts_on": today,
                              "ends_on": today, "holdout_pct": 0, "frequency_cap_days": None})
    launch_offer(conn, offer.offer_id, as_of=today)     # a and b get the hand-made offer
    set_frequency_cap(conn, messages=1, days=7)
    save_automation(conn, _auto("Welcome", {"kind": "welcome"}))
    r = run_automations(conn, folder=tmp_path)[0]
    assert (r.new_people, r.excluded_no_consent, r.excluded_cap, r.sent) == (3, 1, 2, 0)
    bal = message_balance(conn, since=store.utc_now() - timedelta(days=1))
    assert bal[["customer_id", "automated", "hand_made", "total"]].values.tolist() == [
        ["a", 0, 1, 1], ["b", 0, 1, 1]]


def test_holdout_is_seeded_and_reproducible(tmp_path: Path) -> None:
    ids = [f"k{i:02d}" for i in range(20)]
    # the holdout by its definition: ranked by sha256("<seed>:<id>"), the first 20 × 25% = 5
    expected = sorted(sorted(ids, key=lambda c: hashlib.sha256(f"s1:{c}".encode()).digest())[:5])
    got = []
    for n in (1, 2):
        with store.open_db(":memory:") as c:
            for i in ids:
                add_customer(c, i, orders=[order("2024-06-10", 20)])
            save_automation(c, _auto("Welcome", {"kind": "welcome"}, holdout_pct=25), seed="s1",
                            now=NOW)
            r = run_automations(c, as_of=AS_OF, now=NOW, folder=tmp_path / str(n))[0]
            assert (r.holdout, r.sent) == (5, 15)
            got.append(sorted(e[1] for e in _entries(c) if e[3] == "holdout"))
            lines = batch_bytes(c, Path(str(r.batch_file)).name, tmp_path / str(n)).decode()
            assert len(lines.splitlines()) == 16  # header + the 15 treated; no holdout
    assert got == [expected, expected]


# --- after an import, calendar, balance ---------------------------------------------------------


def test_after_import_reports_a_failure(conn: duckdb.DuckDBPyConnection,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _lifecycle_shop(conn)
    save_automation(conn, _auto("Welcome", {"kind": "welcome"}), now=NOW)

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_module, "run_automations", boom)
    out = after_import(conn)
    assert out.results == ()
    assert out.sentence().startswith("The import was kept, but the automations did not run")


def test_calendar_and_unscheduled(conn: duckdb.DuckDBPyConnection) -> None:
    _lifecycle_shop(conn)
    save_automation(conn, _auto("Nudge", {"kind": "second_order", "after_days": 30}), now=NOW)
    save_automation(conn, _auto("Birthday", {"kind": "birthday_month"}), now=NOW)
    save_automation(conn, _auto("Welcome", {"kind": "welcome"}), now=NOW)
    # one-order customers a (10 Jun), e (16 May), f (17 May), g (20 Jun): due 30 days on;
    # in 15 Jun .. 14 Jul: e (15 Jun), f (16 Jun), a (10 Jul). Birthdays: g in July (1 Jul).
    days = upcoming_by_day(conn, from_duckdb(conn), start=AS_OF, days=30)
    assert days.values.tolist() == [
        [date(2024, 6, 15), "automated", "Nudge", 1],
        [date(2024, 6, 16), "automated", "Nudge", 1],
        [date(2024, 7, 1), "automated", "Birthday", 1],
        [date(2024, 7, 10), "automated", "Nudge", 1],
    ]
    assert unscheduled(conn) == ["Welcome"]
