"""Versions and the member ledger: a literal year for a hand-built customer, refunds after posting,
new versions from their start date, member status, tiers for segments, the members export."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from relmark_core.errors import InputRefused
from relmark_core.loyalty.ledger import (
    customer_tiers,
    find_customer,
    list_versions,
    member_status,
    members_csv,
    members_table,
    post_ledger,
    posted_through,
    save_version,
)
from relmark_core.loyalty.model import (
    BonusEvent,
    Expiry,
    LoyaltyProgram,
    PointsCurrency,
    PointsPerSpend,
    Promotion,
    Reward,
    Tier,
    TierRules,
)
from relmark_core.source import from_duckdb
from tests.builders import add_customer, order

STARS_PROGRAM = LoyaltyProgram(
    name="Stars",
    currency=PointsCurrency(name="stars", value="0.01"),
    earn_rules=(
        PointsPerSpend(),
        Promotion(name="Double stars", start=date(2024, 12, 1), end=date(2024, 12, 7)),
        BonusEvent(event="birthday_month", points=50),
    ),
    tiers=TierRules(tiers=(Tier(name="Green", threshold=0),
                           Tier(name="Gold", threshold=300, earn_multiplier=1.5))),
    expiry=Expiry(months=6),
)


def _ann(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "ann", email="Ann@Example.com", first_name="Ann", birthday="1990-03-15", orders=[
        order("2024-01-10T12:00:00", "120.50", order_id="1001"),
        order("2024-02-20T09:30:00", "80.00", order_id="1002"),
        order("2024-04-05T15:00:00", "75.99", refunds="25.99", order_id="1003"),
        order("2024-05-10T10:00:00", "30.00", refunds="30.00", status="refunded", order_id="1004"),
        order("2024-12-03T18:00:00", "40.00", order_id="1005"),
    ])


def _entries(conn: duckdb.DuckDBPyConnection, customer: str = "ann") -> list[tuple[object, ...]]:
    st = member_status(conn, customer)
    assert st is not None
    return [(str(r.happened_at)[:16], r.kind, int(r.points), int(r.balance), r.reason)
            for r in st.entries.itertuples()]


# Worked out by hand (1 star per $1, rounded down per order; calendar-year tiers on qualifying
# stars: Green from 0, Gold from 300 with ×1.5; stars expire 6 months after earning):
#  10 Jan  order 1001, $120.50 → 120; she joins at Green (0 ≥ 0)               balance 120
#  20 Feb  order 1002, $80 → 80                                              balance 200
#   1 Mar  birthday month (March), a member since January → 50             balance 250
#   5 Apr  order 1003, $75.99 − $25.99 refund = $50 → 50 at Green (250 before it);
#          qualifying 120 + 80 + 50 + 50 = 300 → Gold                        balance 300
#  10 May  order 1004 was fully refunded: not counted, no stars
#  10 Jul  the 120 of 10 Jan expire (6 months)                               balance 180
#  20 Aug  the 80 of 20 Feb expire                                           balance 100
#   1 Sep  the birthday 50 expire                                            balance  50
#   5 Oct  the 50 of 5 Apr expire                                            balance   0
#   3 Dec  order 1005, $40 during Double stars: 40, ×2 → 80, at Gold ×1.5 → 120 balance 120
EXPECTED_YEAR = [
    ("2024-01-10 12:00", "earned", 120, 120, "Order 1001, $120.50 net: 1 star per $1 +120"),
    ("2024-01-10 12:00", "tier", 0, 120, "Joined the program at Green"),
    ("2024-02-20 09:30", "earned", 80, 200, "Order 1002, $80 net: 1 star per $1 +80"),
    ("2024-03-01 00:00", "earned", 50, 250, "Birthday month bonus"),
    ("2024-04-05 15:00", "earned", 50, 300, "Order 1003, $50 net: 1 star per $1 +50"),
    ("2024-04-05 15:00", "tier", 0, 300, "Moved up to Gold: 300 qualifying stars in 2024"),
    ("2024-07-10 00:00", "expired", -120, 180,
     "120 stars earned on 10 Jan 2024 expired (6 months after earning)"),
    ("2024-08-20 00:00", "expired", -80, 100,
     "80 stars earned on 20 Feb 2024 expired (6 months after earning)"),
    ("2024-09-01 00:00", "expired", -50, 50,
     "50 stars earned on 1 Mar 2024 expired (6 months after earning)"),
    ("2024-10-05 00:00", "expired", -50, 0,
     "50 stars earned on 5 Apr 2024 expired (6 months after earning)"),
    ("2024-12-03 18:00", "earned", 120, 120,
     "Order 1005, $40 net: 1 star per $1 +40, Double stars (1–7 Dec 2024) +40, Gold ×1.5 (tier) +40"),
]


def test_a_year_of_one_customer_literal_ledger(conn: duckdb.DuckDBPyConnection) -> None:
    _ann(conn)
    v = save_version(conn, STARS_PROGRAM, starts_on=date(2024, 1, 1), actor="maria")
    assert (v.version_id, v.status, v.changes, v.saved_by) == (1, "active", "First version.", "maria")
    summary = post_ledger(conn, through=date(2024, 12, 31), actor="maria")
    assert (summary.entries, summary.corrections, summary.customers) == (11, 0, 1)
    assert summary.message == "Posted 11 entries through 31 Dec 2024."
    assert _entries(conn) == EXPECTED_YEAR
    st = member_status(conn, "ann")
    assert st is not None
    assert (st.balance, st.balance_value, st.earned, st.redeemed, st.expired) == (120, 1.2, 420, 0, 300)
    # Gold reached in 2024 is kept through 2025; 2024's qualifying stars: 120+80+50+50+80 = 380
    assert (st.tier, st.tier_rank, st.qualifying, st.next_tier, st.to_next_tier, st.progress) == (
        "Gold", 2, 380.0, None, None, None)
    assert st.tier_note == "Gold until 31 Dec 2025 (qualified in 2024)."
    assert posted_through(conn) == date(2024, 12, 31)
    # posting again changes nothing
    assert post_ledger(conn, through=date(2024, 12, 31)).entries == 0
    audit = conn.execute("SELECT actor, action FROM audit_log WHERE action LIKE 'loyalty%' "
                         "ORDER BY logged_at").fetchall()
    assert audit == [("maria", "loyalty version saved"), ("maria", "loyalty ledger posted"),
                     ("local", "loyalty ledger posted")]


def test_progress_to_the_next_tier_mid_year(conn: duckdb.DuckDBPyConnection) -> None:
    _ann(conn)
    save_version(conn, STARS_PROGRAM, starts_on=date(2024, 1, 1))
    post_ledger(conn, through=date(2024, 12, 31))
    st = member_status(conn, "ann", as_of=date(2024, 3, 31))
    assert st is not None
    # by 31 Mar: 120 + 80 + 50 = 250 of Gold's 300
    assert (st.balance, st.tier, st.qualifying, st.next_tier, st.to_next_tier, st.progress) == (
        250, "Green", 250.0, "Gold", 50.0, 250 / 300)
    assert len(st.entries) == 4


def test_a_refund_after_posting_is_a_correction_never_a_rewrite(conn: duckdb.DuckDBPyConnection) -> None:
    _ann(conn)
    save_version(conn, STARS_PROGRAM, starts_on=date(2024, 1, 1))
    post_ledger(conn, through=date(2024, 6, 30))
    before = conn.execute("SELECT * FROM loyalty_ledger ORDER BY entry_id").fetchall()
    assert len(before) == 6
    # order 1002 gets a $30 refund after it was posted
    conn.execute("UPDATE orders SET refunds = 30, net = 50 WHERE source_order_id = '1002'")
    t0 = datetime.utcnow()  # noqa: DTZ003 - the store keeps naive UTC
    summary = post_ledger(conn, through=date(2024, 12, 31))
    assert summary.corrections == 2
    after = conn.execute("SELECT * FROM loyalty_ledger ORDER BY entry_id").fetchall()
    assert after[:6] == before  # posted entries untouched
    rows = _entries(conn)
    # Qualifying is now 120 + 50 + 50 + 50 = 270 by April: no Gold then, so the December order
    # earns at Green (40 ×2 = 80) and lifts her to Gold (270 + 80 = 350). The 20 Feb lot is 50.
    dated = [r for r in rows if not r[4].startswith("Correction")]
    assert dated == [
        *EXPECTED_YEAR[:6],
        ("2024-07-10 00:00", "expired", -120, 180,
         "120 stars earned on 10 Jan 2024 expired (6 months after earning)"),
        ("2024-08-20 00:00", "expired", -50, 130,
         "50 stars earned on 20 Feb 2024 expired (6 months after earning)"),
        ("2024-09-01 00:00", "expired", -50, 80,
         "50 stars earned on 1 Mar 2024 expired (6 months after earning)"),
        ("2024-10-05 00:00", "expired", -50, 30,
         "50 stars earned on 5 Apr 2024 expired (6 months after earning)"),
        ("2024-12-03 18:00", "earned", 80, 110,
         "Order 1005, $40 net: 1 star per $1 +40, Double stars (1–7 Dec 2024) +40"),
        ("2024-12-03 18:00", "tier", 0, 110, "Moved up to Gold: 350 qualifying stars in 2024"),
    ]
    corrections = [r[1:] for r in rows if r[4].startswith("Correction")]
    assert corrections == [
        ("earned", -30, 80, "Correction, now 50 instead of 80: Order 1002, $50 net: 1 star per $1 +50"),
        ("tier", 0, 80, "Correction, no longer holds: Moved up to Gold: 300 qualifying stars in 2024"),
    ]
    stamped = conn.execute("SELECT min(happened_at) FROM loyalty_ledger WHERE reason LIKE 'Correction%'").fetchall()
    assert stamped[0][0] >= t0.replace(microsecond=0)
    st = member_status(conn, "ann")
    assert st is not None and (st.balance, st.tier) == (80, "Gold")
    # a fully refunded order takes its stars back too
    conn.execute("UPDATE orders SET refunds = 40, net = 0, status = 'refunded' WHERE source_order_id = '1005'")
    post_ledger(conn, through=date(2024, 12, 31))
    last = _entries(conn)[-2:]
    assert [r[1:4] for r in last] == [("earned", -80, 0), ("tier", 0, 0)]
    assert last[0][4] == ("Correction, no longer applies (the order was refunded, cancelled or "
                          "changed): Order 1005, $40 net: 1 star per $1 +40, Double stars (1–7 Dec "
                          "2024) +40")


def test_a_new_version_applies_from_its_start_and_keeps_the_past(conn: duckdb.DuckDBPyConnection) -> None:
    _ann(conn)
    save_version(conn, STARS_PROGRAM, starts_on=date(2024, 1, 1))
    post_ledger(conn, through=date(2024, 6, 30))
    triple = STARS_PROGRAM.model_copy(update={
        "earn_rules": (PointsPerSpend(points=3), BonusEvent(event="birthday_month", points=50)),
    })
    with pytest.raises(InputRefused) as err:
        save_version(conn, triple, starts_on=date(2024, 6, 15))
    assert str(err.value) == (
        "The ledger already holds entries up to 30 Jun 2024 under the current program. A new "
        "version can start on 1 Jul 2024 or later, so past entries stay as they are."
    )
    v2 = save_version(conn, triple, starts_on=date(2024, 7, 1), actor="li")
    assert v2.changes == (
        "Earn rules added: 3 stars per $1; earn rules removed: 1 star per $1 | Double stars "
        "(1–7 Dec 2024)."
    )
    draft = save_version(conn, STARS_PROGRAM.model_copy(update={"name": "Idea"}),
                         starts_on=date(2025, 1, 1), activate=False)
    assert draft.status == "draft"
    versions = list_versions(conn)
    assert list(versions["version_id"]) == [3, 2, 1]
    assert list(versions["status"]) == ["draft", "active", "replaced"]
    with pytest.raises(InputRefused, match="must start after it. Pick 2 Jul 2024 or later"):
        save_version(conn, triple, starts_on=date(2024, 7, 1))
    post_ledger(conn, through=date(2024, 12, 31))
    rows = _entries(conn)
    assert rows[:10] == EXPECTED_YEAR[:10]  # everything before 1 Jul as version 1 posted it
    # 3 Dec under version 2: 3 × 40 = 120 (no Double stars any more), Gold ×1.5 → 180
    assert rows[10] == ("2024-12-03 18:00", "earned", 180, 180,
                        "Order 1005, $40 net: 3 stars per $1 +120, Gold ×1.5 (tier) +60")
    assert len(rows) == 11
    vids = conn.execute("SELECT DISTINCT version_id FROM loyalty_ledger ORDER BY 1").fetchall()
    assert vids == [(1,), (2,)]


def test_a_new_version_with_other_tiers_moves_members_on_its_first_day(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    _ann(conn)
    save_version(conn, STARS_PROGRAM, starts_on=date(2024, 1, 1))
    post_ledger(conn, through=date(2024, 6, 30))
    harder = STARS_PROGRAM.model_copy(update={"tiers": TierRules(tiers=(
        Tier(name="Green", threshold=0), Tier(name="Gold", threshold=400, earn_multiplier=1.5)))})
    save_version(conn, harder, starts_on=date(2024, 7, 1))
    post_ledger(conn, through=date(2024, 12, 31))
    rows = _entries(conn)
    # 300 qualifying stars in 2024 were Gold under version 1, not under version 2 (400)
    assert ("2024-07-01 00:00", "tier", 0, 300, "New program version from 1 Jul 2024: now Green") in rows
    # 3 Dec: 40 ×2 = 80 at Green, and 300 + 80 = 380 is still below 400
    assert rows[-1] == ("2024-12-03 18:00", "earned", 80, 80,
                        "Order 1005, $40 net: 1 star per $1 +40, Double stars (1–7 Dec 2024) +40")


def test_tiers_for_segments_members_table_and_export(conn: duckdb.DuckDBPyConnection) -> None:
    _ann(conn)
    add_customer(conn, "bob", first_name="=HYPERLINK(\"x\")", orders=[order("2024-05-02", "10.90")])
    add_customer(conn, "cy", orders=[order("2023-05-02", 99)])  # ordered only before the program
    save_version(conn, STARS_PROGRAM.model_copy(update={"rewards": (
        Reward(name="Free coffee", points=10, cost="0.10", discount_code="BEAN"),)}),
        starts_on=date(2024, 1, 1))
    post_ledger(conn, through=date(2024, 12, 31))
    tiers = customer_tiers(from_duckdb(conn))
    assert [tuple(r) for r in tiers.itertuples(index=False)] == [
        ("ann", "Gold", 2, 380.0), ("bob", "Green", 1, 10.0),
    ]
    assert customer_tiers(conn, as_of=date(2024, 3, 31))["tier"].tolist() == ["Green"]
    table = members_table(conn)
    assert list(table["customer_id"]) == ["ann", "bob"]  # highest balance first
    bob = table.iloc[1]
    # bob's 10 stars expire on 2 Nov
    assert (bob["tier"], bob["balance"], bob["earned"], bob["expired"], bob["next_tier"],
            bob["to_next_tier"]) == ("Green", 0, 10, 10, "Gold", 290.0)
    assert list(members_table(conn, search="HYPER")["customer_id"]) == ["bob"]
    rows = list(csv.reader(io.StringIO(members_csv(table, conn=conn))))
    assert rows[0][:5] == ["customer_id", "name", "email", "tier", "balance"]
    assert rows[2][1] == "'=HYPERLINK(\"x\")"
    assert find_customer(conn, " ANN@example.com ") == "ann"
    assert find_customer(conn, "bob") == "bob" and find_customer(conn, "nobody") is None


def test_reward_codes_redeem_in_the_ledger(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "f1", orders=[
        order("2024-01-05", 200, order_id="2001"),
        order("2024-02-05", 30, discount_code="bean", order_id="2002"),
    ])
    p = LoyaltyProgram(currency=PointsCurrency(name="beans"), earn_rules=(PointsPerSpend(),),
                       rewards=(Reward(name="Free coffee", points=100, cost=3, discount_code="BEAN"),))
    save_version(conn, p, starts_on=date(2024, 1, 1))
    post_ledger(conn, through=date(2024, 3, 31))
    assert [r[1:] for r in _entries(conn, "f1")] == [
        ("earned", 200, 200, "Order 2001, $200 net: 1 bean per $1 +200"),
        ("earned", 30, 230, "Order 2002, $30 net: 1 bean per $1 +30"),
        ("redeemed", -100, 130, "Redeemed “Free coffee” with the code BEAN on order 2002"),
    ]


def test_no_program_no_status(conn: duckdb.DuckDBPyConnection) -> None:
    _ann(conn)
    assert member_status(conn, "ann") is None
    assert customer_tiers(conn).empty and members_table(conn).empty
    assert post_ledger(conn, through=date(2024, 1, 31)).entries == 0
    assert isinstance(list_versions(conn), pd.DataFrame)
