"""The replay on history: literal results for small hand-built shops, worked out in comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from relmark_core.loyalty.model import (
    BonusEvent,
    Cap,
    Expiry,
    LoyaltyProgram,
    Multiplier,
    PaidMembership,
    PointsCurrency,
    PointsPerSpend,
    Promotion,
    Reward,
    Tier,
    TierRules,
)
from relmark_core.loyalty.replay import _positions
from relmark_core.loyalty.simulate import SimulationResult, compare, simulate
from relmark_core.periods import DateRange
from relmark_core.source import from_duckdb
from tests.builders import add_customer, add_feedback, order

STARS = PointsCurrency(name="stars", value="0.01")
MARCH_APRIL = DateRange(start=date(2024, 3, 1), end=date(2024, 5, 1))
RULES = (
    PointsPerSpend(),
    Multiplier(on="category", value="Coffee", factor=2),
    Multiplier(on="channel", value="pos", factor=1.5),
    Promotion(name="Spring double", start=date(2024, 3, 9), end=date(2024, 3, 11)),
)


def _spring_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "c1", orders=[
        # $44 net ($4 shipping), lines $30 Coffee + $10 Tea, during the promotion
        order("2024-03-10", 44, shipping=4, lines=[("House Blend", "Coffee", 2, 15),
                                                  ("Earl Grey", "Tea", 1, 10)]),
        # $25.50 through pos, Tea only
        order("2024-03-20", "25.50", channel="pos", lines=[("Sencha", "Tea", 1, "25.50")]),
    ])
    add_customer(conn, "c2", orders=[
        order("2024-03-15", 100, refunds=40),                    # partly refunded: net $60
        order("2024-03-16", 50, currency="EUR"),                 # other currency: no points
        order("2024-03-17", 70, status="cancelled"),             # not counted
    ])
    add_customer(conn, "c3", orders=[order("2024-03-18", 30, refunds=30, status="refunded")])


def _rows(df: pd.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(r) for r in df.itertuples(index=False)]


def test_earn_rules_multipliers_refunds_and_assumed_redemptions(conn: duckdb.DuckDBPyConnection) -> None:
    _spring_shop(conn)
    r = simulate(from_duckdb(conn), program=LoyaltyProgram(currency=STARS, earn_rules=RULES),
                 rng=MARCH_APRIL, redemption_rate=0.5)
    # 10 Mar: base 44; Coffee share of line value 30/40 → ×(1 + 0.75) = 77 (+33); not pos;
    #         promotion ×2 = 154 (+77).
    # 20 Mar: base 25.50 → 25; no Coffee; pos ×1.5 = 38.25 → 38 (+13); no promotion.
    # 15 Mar: net 100 − 40 = 60 → 60. EUR, cancelled and fully refunded orders earn nothing.
    assert _rows(r.by_rule) == [
        ("1 star per $1", "earn", 129),
        ("×2 on Coffee", "earn", 33),
        ("×1.5 on pos", "earn", 13),
        ("Spring double (9–11 Mar 2024)", "earn", 77),
    ]
    assert (r.members, r.issued, r.redeemed, r.expired, r.outstanding) == (2, 252, 126, 0, 126)
    # half of each batch is redeemed 30 days later (9, 14 and 19 Apr): 126 stars
    assert r.redemption_source == "assumed"
    assert r.redemption_note == ("Assumed: 50% of every batch of stars is redeemed 30 days after "
                                 "it was earned (no reward codes in these orders).")
    assert r.net_revenue == Decimal("129.50")                 # 44 + 25.50 + 60 (USD, counted)
    assert r.redeemed_cost == Decimal("1.26")                 # 126 × $0.01
    assert r.liability == Decimal("0.63")                     # 126 outstanding × $0.01 × 50%
    assert r.program_cost == Decimal("1.89")
    assert r.cost_share is not None and abs(r.cost_share - 1.89 / 129.50) < 1e-12
    assert _rows(r.over_time) == [
        ("2024-03", 252, 0, 0, 252, 1.26),
        ("2024-04", 0, 126, 0, 126, 0.63),
    ]


def test_caps_per_order_and_per_customer_month(conn: duckdb.DuckDBPyConnection) -> None:
    _spring_shop(conn)
    p = LoyaltyProgram(currency=STARS, earn_rules=RULES,
                       caps=(Cap(per="order", points=100), Cap(per="month", points=120)))
    r = simulate(from_duckdb(conn), program=p, rng=MARCH_APRIL, redemption_rate=0)
    # c1's 154 → 100 (−54); then c1's March: 100 + 38 = 138 → 120 (−18); c2's 60 is under both
    assert _rows(r.by_rule)[-2:] == [
        ("Cap: 100 stars per order", "cap", -54),
        ("Cap: 120 stars per customer a month", "cap", -18),
    ]
    assert r.issued == 252 - 54 - 18
    assert (r.redeemed, r.liability) == (0, Decimal("0.00"))


def test_rolling_tiers_multiplier_window_demotion_and_inactivity_expiry(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    add_customer(conn, "d1", orders=[
        order("2024-01-15", 150), order("2024-02-01", 60), order("2024-06-10", 10),
    ])
    p = LoyaltyProgram(
        currency=STARS, earn_rules=(PointsPerSpend(),),
        tiers=TierRules(period="rolling_12_months", tiers=(
            Tier(name="Silver", threshold=100), Tier(name="Gold", threshold=200, earn_multiplier=2))),
        expiry=Expiry(rule="after_inactivity", months=3),
    )
    r = simulate(from_duckdb(conn), program=p,
                 rng=DateRange(start=date(2024, 1, 1), end=date(2025, 3, 1)), redemption_rate=0)
    # 15 Jan: 150 → joins in Silver. 1 Feb: 60 → 210 in 365 days → Gold.
    # 10 Jun: earns at Gold: 10 × 2 = 20 (+10 from the tier); qualifying stays 10.
    # Inactivity: 1 Feb → 10 Jun is longer than 3 months, so on 1 May the 210 stars expire;
    # the 20 expire on 10 Sep (nothing after 10 Jun).
    # 14 Jan 2025 (365 days after 15 Jan 2024): the last 365 days hold 60 + 10 = 70 → no tier.
    assert _rows(r.by_rule) == [("1 star per $1", "earn", 220), ("Gold ×2 (tier)", "tier", 10)]
    assert (r.issued, r.expired, r.outstanding) == (230, 230, 0)
    ot = r.over_time.set_index("month")
    assert ot.loc["2024-05", "expired"] == 210 and ot.loc["2024-09", "expired"] == 20
    moves = r.tier_moves[(r.tier_moves[["joined", "up", "down"]] != 0).any(axis=1)]
    assert _rows(moves) == [("2024-01", 1, 0, 0), ("2024-02", 0, 1, 0), ("2025-01", 0, 0, 1)]
    assert _rows(r.tier_reached) == [("Silver", 1), ("Gold", 1)]
    assert _rows(r.tier_end) == [("Member (no tier)", 1), ("Silver", 0), ("Gold", 0)]
    t = r.tier_over_time
    held = t[t["members"] > 0].set_index("month")["tier"]
    assert held["2024-01"] == "Silver" and held["2024-12"] == "Gold" and held["2025-01"] == "Member (no tier)"
    assert r.best_qualifying == 220.0   # 150 + 60 + 10, the most in any 365 days


def test_calendar_year_tiers_are_kept_a_year_then_demoted(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "e1", orders=[order("2023-03-01", 250)])
    tiers = (Tier(name="Silver", threshold=100), Tier(name="Gold", threshold=200))
    rng = DateRange(start=date(2023, 1, 1), end=date(2026, 6, 1))

    def run(demotion: str) -> SimulationResult:
        p = LoyaltyProgram(currency=STARS, earn_rules=(PointsPerSpend(),),
                           tiers=TierRules(demotion=demotion, tiers=tiers))  # type: ignore[arg-type]
        return simulate(from_duckdb(conn), program=p, rng=rng, redemption_rate=0)

    # Gold from 1 Mar 2023, kept through 2024 (qualified in 2023). Nothing in 2024, so on
    # 1 Jan 2025: one tier at a time → Silver, and on 1 Jan 2026 → no tier; "to qualified" → no
    # tier at once.
    def held(r: SimulationResult) -> dict[str, str]:
        t = r.tier_over_time
        return dict(t[t["members"] > 0].set_index("month")["tier"])

    one = held(run("one_tier"))
    assert (one["2023-03"], one["2024-12"], one["2025-01"], one["2025-12"], one["2026-01"]) == (
        "Gold", "Gold", "Silver", "Silver", "Member (no tier)")
    direct = held(run("to_qualified"))
    assert (direct["2024-12"], direct["2025-01"]) == ("Gold", "Member (no tier)")


def test_reward_codes_are_the_redemptions_when_present(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "f1", orders=[
        order("2024-01-05", 200), order("2024-02-05", 30, discount_code="freebag"),
    ])
    p = LoyaltyProgram(currency=STARS, earn_rules=(PointsPerSpend(),),
                       rewards=(Reward(name="Free bag", points=100, cost=5, discount_code="FREEBAG"),))
    r = simulate(from_duckdb(conn), program=p,
                 rng=DateRange(start=date(2024, 1, 1), end=date(2024, 3, 1)), redemption_rate=0.9)
    # 200 + 30 issued; the code order redeems 100 (the 90% assumption is not used)
    assert (r.issued, r.redeemed, r.outstanding) == (230, 100, 130)
    assert r.redemption_source == "codes"
    assert r.redemption_note == ("Measured from 1 order that used reward codes: 43% of the stars "
                                 "issued were redeemed.")
    assert r.redeemed_cost == Decimal("5.00")          # the reward's business cost
    assert r.liability == Decimal("0.57")              # 130 × $0.01 × 100/230 = 0.5652
    assert r.program_cost == Decimal("5.57")


def test_paid_membership_who_is_better_off(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "g1", orders=[order(f"2024-0{m}-01", 50, shipping=6) for m in (2, 3, 4)])
    add_customer(conn, "g2", orders=[order("2024-06-01", 20, shipping=5)])
    p = LoyaltyProgram(currency=STARS, earn_rules=(PointsPerSpend(),),
                       membership=PaidMembership(fee=10, earn_multiplier=2))
    r = simulate(from_duckdb(conn), program=p,
                 rng=DateRange(start=date(2024, 1, 1), end=date(2025, 1, 1)), redemption_rate=0.3)
    # g1: shipping 3 × $6 = $18 + extra stars 3 × 50 = 150 × $0.01 = $1.50 → $19.50 > $10 (one
    # started year from 1 Feb). g2: $5 + 20 × $0.01 = $5.20 < $10.
    m = r.membership
    assert m is not None
    assert (m.customers, m.better_off, m.fees, m.shipping_waived, m.extra_points) == (
        2, 1, Decimal("10.00"), Decimal("18.00"), 150)
    assert m.extra_points_cost == Decimal("0.45")      # 150 × $0.01 × 30% redeemed
    assert m.net_for_shop == Decimal("-8.45")
    assert m.sentence("USD") == (
        "1 of 2 customers with orders would have been better off joining “Plus”. Had they "
        "joined, the shop would have collected $10 in fees, waived $18 of shipping and paid "
        "$0.45 for extra points: it would have cost $8.45."
    )


def test_bonus_events(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "h1", signup="2024-02-01T09:00:00", channel="referral", birthday="1991-02-20",
                 orders=[order("2024-02-03", 20)])
    add_feedback(conn, "h1", "2024-02-10", 9)
    add_feedback(conn, "h1", "2024-02-12", 5, kind="review", product="House Blend")
    add_customer(conn, "h2", signup="2023-06-01", orders=[order("2023-12-20", 10), order("2024-02-05", 15)])
    add_customer(conn, "h3", birthday="1985-02-14", orders=[order("2024-01-20", 5)])
    p = LoyaltyProgram(currency=STARS, earn_rules=(
        PointsPerSpend(),
        BonusEvent(event="signup", points=25), BonusEvent(event="first_order", points=100),
        BonusEvent(event="birthday_month", points=50), BonusEvent(event="feedback", points=10),
        BonusEvent(event="review", points=20), BonusEvent(event="referral", points=30),
    ))
    r = simulate(from_duckdb(conn), program=p,
                 rng=DateRange(start=date(2024, 1, 1), end=date(2024, 3, 1)), redemption_rate=0)
    # signup: h1 only (h2 signed up before). First order ever: h1 (3 Feb) and h3 (20 Jan), not h2
    # (first ordered in Dec 2023). Birthday (1 Feb): h3, a member since 20 Jan; h1 joined later
    # that day. Referral: h1 came through a referral.
    assert _rows(r.by_rule) == [
        ("1 star per $1", "earn", 40),
        ("Signing up bonus", "bonus", 25),
        ("First order bonus", "bonus", 200),
        ("Answering a survey (NPS or CSAT) bonus", "bonus", 10),
        ("Writing a product review bonus", "bonus", 20),
        ("Joining through a referral bonus", "bonus", 30),
        ("Birthday month bonus", "bonus", 50),
    ]
    assert (r.members, r.issued) == (3, 375)


def test_same_inputs_same_result_and_side_by_side(conn: duckdb.DuckDBPyConnection) -> None:
    _spring_shop(conn)
    src = from_duckdb(conn)
    draft = LoyaltyProgram(currency=STARS, earn_rules=RULES, caps=(Cap(per="order", points=100),))
    current = LoyaltyProgram(currency=STARS, earn_rules=RULES)
    a = simulate(src, program=draft, rng=MARCH_APRIL, redemption_rate=0.5)
    b = simulate(src, program=draft, rng=MARCH_APRIL, redemption_rate=0.5)
    assert a.model_dump(exclude={"by_rule", "over_time", "tier_over_time", "tier_moves",
                                 "tier_reached", "tier_end"}) == b.model_dump(
        exclude={"by_rule", "over_time", "tier_over_time", "tier_moves", "tier_reached", "tier_end"})
    pd.testing.assert_frame_equal(a.over_time, b.over_time)
    cur = simulate(src, program=current, rng=MARCH_APRIL, redemption_rate=0.5)
    side = compare(cur, a)
    # the cap takes 54 of the 252: 198 issued, 99 redeemed and 99 outstanding
    assert _rows(side) == [
        ("Members", "count", 2, 2, 0),
        ("Points issued", "points", 252, 198, -54),
        ("Points redeemed", "points", 126, 99, -27),
        ("Points expired", "points", 0, 0, 0),
        ("Points outstanding", "points", 126, 99, -27),
        ("Liability", "money", Decimal("0.63"), Decimal("0.50"), Decimal("-0.13")),
        ("Program cost", "money", Decimal("1.89"), Decimal("1.49"), Decimal("-0.40")),
        ("Cost as % of net revenue", "share", cur.cost_share, a.cost_share,
         a.cost_share - cur.cost_share),  # type: ignore[operator]
    ]


def test_spend_based_lifetime_tiers(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "s1", orders=[order("2024-01-10", 150), order("2024-02-10", 200),
                                     order("2024-03-10", "10.50")])
    p = LoyaltyProgram(currency=STARS, earn_rules=(PointsPerSpend(),), tiers=TierRules(
        basis="spend", period="lifetime", tiers=(Tier(name="VIP", threshold=300, earn_multiplier=2),)))
    r = simulate(from_duckdb(conn), program=p,
                 rng=DateRange(start=date(2024, 1, 1), end=date(2024, 4, 1)), redemption_rate=0)
    # $150 + $200 = $350 of spend reaches VIP with the second order; the third earns ×2:
    # 10.50 → 10, ×2 = 21 → 21 (+11)
    assert _rows(r.by_rule) == [("1 star per $1", "earn", 360), ("VIP ×2 (tier)", "tier", 11)]
    assert _rows(r.tier_end) == [("Member (no tier)", 0), ("VIP", 1)]
    assert r.best_qualifying == 360.5


def test_line_multipliers_stack_on_the_order_line_value(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "l1", orders=[
        # $40: House Blend (Coffee) $20 + Sencha (Tea) $20
        order("2024-03-05", 40, lines=[("House Blend", "Coffee", 1, 20), ("Sencha", "Tea", 2, 10)]),
        order("2024-03-06", 10, lines=[("Sample", "Coffee", 1, 0)]),  # no line value
        order("2024-03-07", 5),                                       # no lines
    ])
    add_customer(conn, "l2", orders=[order("2024-03-08", 8, lines=[("Espresso", "Coffee", 4, 2)])])
    p = LoyaltyProgram(currency=STARS, earn_rules=(
        PointsPerSpend(),
        Multiplier(on="category", value="Coffee", factor=2),
        Multiplier(on="product", value="House Blend", factor=3),
    ))
    r = simulate(from_duckdb(conn), program=p, rng=MARCH_APRIL, redemption_rate=0)
    # 5 Mar: 40 × (20×2 + 20)/40 = 60 (+20 Coffee); × (20×2×3 + 20)/40 = 140 (+80 House Blend).
    # 6 Mar: lines worth $0 multiply nothing: 10. 7 Mar: no lines: 5.
    # 8 Mar: all Coffee: 8 × 2 = 16 (+8); no House Blend.
    assert _rows(r.by_rule) == [
        ("1 star per $1", "earn", 63),
        ("×2 on Coffee", "earn", 28),
        ("×3 on House Blend", "earn", 80),
    ]
    assert r.issued == 171


def test_positions_of_row_ids_close_together_and_far_apart() -> None:
    dense = np.asarray([5, 3, 4])
    assert _positions(dense, np.asarray([4, 4, 5, 3])).tolist() == [2, 2, 0, 1]
    sparse = np.asarray([7, 1_000_000, 3])
    assert _positions(sparse, np.asarray([3, 7, 1_000_000, 3])).tolist() == [2, 0, 1, 2]
    assert _positions(sparse, np.asarray([], dtype=np.int64)).tolist() == []
