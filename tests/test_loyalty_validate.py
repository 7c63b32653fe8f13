"""Validation explains each problem in words (one test per problem), and blocks saving errors."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from relmark_core.errors import InputRefused
from relmark_core.loyalty.ledger import save_version
from relmark_core.loyalty.model import (
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
from relmark_core.loyalty.validate import HistoryFacts, Problem, shop_facts, validate
from relmark_core.source import from_duckdb
from tests.builders import add_customer, order

STARS = PointsCurrency(name="stars")
COFFEE_X2 = Multiplier(on="category", value="Coffee", factor=2)
DOUBLE = Promotion(name="Double stars", start=date(2024, 12, 1), end=date(2024, 12, 7))
FACTS = HistoryFacts(
    categories=("Coffee", "Tea"),
    products=("House Blend", "Earl Grey"),
    product_categories={"House Blend": ("Coffee",), "Earl Grey": ("Tea",)},
    channels=("online store", "pos"),
)


def _program(*rules: object, **kw: object) -> LoyaltyProgram:
    return LoyaltyProgram(currency=STARS, earn_rules=(PointsPerSpend(), *rules), **kw)  # type: ignore[arg-type]


def _messages(program: LoyaltyProgram, facts: HistoryFacts | None = FACTS) -> list[tuple[str, str, str]]:
    return [(p.severity, p.code, p.message) for p in validate(program, currency="USD", facts=facts)]


def test_a_clean_program_has_no_problems() -> None:
    tea = Multiplier(on="category", value="Tea", factor=2)
    assert _messages(_program(COFFEE_X2, tea)) == []  # different categories never meet


def test_category_multiplier_and_promotion_stack() -> None:
    assert _messages(_program(COFFEE_X2, DOUBLE)) == [(
        "warning", "stacking",
        "“×2 on Coffee” and “Double stars (1–7 Dec 2024)” stack: on Coffee bought during Double "
        "stars (1–7 Dec 2024), stars are multiplied by 4 (2 × 2), not 2. If that is not what you "
        "meant, make them not overlap or lower one of the factors.",
    )]


def test_product_multiplier_inside_a_multiplied_category_stacks() -> None:
    blend = Multiplier(on="product", value="House Blend", factor=1.5)
    earl = Multiplier(on="product", value="Earl Grey", factor=1.5)
    assert _messages(_program(COFFEE_X2, blend, earl)) == [(
        "warning", "stacking",
        "“×2 on Coffee” and “×1.5 on House Blend” stack: on House Blend (a product in Coffee), "
        "stars are multiplied by 3 (2 × 1.5), not 2. If that is not what you meant, make them not "
        "overlap or lower one of the factors.",
    )]


def test_overlapping_promotions_stack_on_the_shared_days() -> None:
    weekend = Promotion(name="Weekend", start=date(2024, 12, 6), end=date(2024, 12, 8), factor=3)
    later = Promotion(name="Later", start=date(2024, 12, 20), end=date(2024, 12, 24))
    assert _messages(_program(DOUBLE, weekend, later)) == [(
        "warning", "stacking",
        "“Double stars (1–7 Dec 2024)” and “Weekend (6–8 Dec 2024)” stack: on every order from "
        "6–7 Dec 2024, stars are multiplied by 6 (2 × 3), not 3. If that is not what you meant, "
        "make them not overlap or lower one of the factors.",
    )]


def test_channel_and_category_stack() -> None:
    pos = Multiplier(on="channel", value="pos", factor=1.5)
    assert [m for _, _, m in _messages(_program(COFFEE_X2, pos))] == [
        "“×2 on Coffee” and “×1.5 on pos” stack: on Coffee ordered through “pos”, stars are "
        "multiplied by 3 (2 × 1.5), not 2. If that is not what you meant, make them not overlap "
        "or lower one of the factors."
    ]


def test_promotion_ending_before_it_starts_is_an_error() -> None:
    backwards = Promotion(name="Backwards", start=date(2024, 12, 9), end=date(2024, 12, 2))
    assert _messages(_program(backwards)) == [(
        "error", "promotion_backwards",
        "The promotion “Backwards” ends on 2 Dec 2024, before it starts on 9 Dec 2024, so it "
        "would never apply. Swap the two dates.",
    )]


def test_tier_nobody_reached_in_history() -> None:
    tiers = TierRules(tiers=(Tier(name="Green", threshold=0), Tier(name="Gold", threshold=300),
                             Tier(name="Diamond", threshold=5000)))
    facts = FACTS.model_copy(update={"best_qualifying": 2054.0, "best_period": "1 Jun 2025 – 31 May 2026"})
    assert _messages(_program(tiers=tiers), facts) == [(
        "warning", "tier_unreachable",
        "Nobody in your history would have reached Diamond: it needs 5,000 qualifying stars "
        "within a calendar year, and the most any customer collected within a calendar year in "
        "1 Jun 2025 – 31 May 2026 was 2,054 qualifying stars. Lower the threshold towards what "
        "your best customers reach, or expect an empty Diamond tier.",
    )]
    # spend-based tiers speak money
    spend = TierRules(basis="spend", period="rolling_12_months", tiers=(Tier(name="VIP", threshold=1000),))
    facts = FACTS.model_copy(update={"best_qualifying": 612.5, "best_period": "2024"})
    assert [m for _, _, m in _messages(_program(tiers=spend), facts)] == [
        "Nobody in your history would have reached VIP: it needs $1,000 of net spend within 365 "
        "days, and the most any customer collected within 365 days in 2024 was $612.50 of net "
        "spend. Lower the threshold towards what your best customers reach, or expect an empty "
        "VIP tier."
    ]


def test_reward_cheaper_than_the_earn_rate_makes_sense() -> None:
    # 100 stars at $0.01 are worth $1; the bag costs $15, so a star spent on it costs 15× its
    # value; at 1 star per $1 it takes $100 of spend: 15% back. Fair price: 15 / 0.01 = 1,500.
    bag = Reward(name="Free bag of coffee", points=100, cost=15)
    sticker = Reward(name="Sticker", points=100, cost="1.25")  # within the 25% tolerance
    assert _messages(_program(rewards=(bag, sticker))) == [(
        "warning", "reward_too_cheap",
        "“Free bag of coffee” costs 100 stars but costs you $15: at $0.01 a star, those stars are "
        "worth $1, so every star spent on it costs you 15× the value the program gives a star, "
        "and the liability figures understate it. A customer earns it with $100 of spend at the "
        "base rate: 15% back. Price it at about 1,500 stars, or lower its cost.",
    )]
    mug = Reward(name="Mug", points=10, cost=20)  # $10 of spend earns a $20 mug
    assert "$10 of spend at the base rate: 200% back, more than they spent." in _messages(
        _program(rewards=(mug,)))[0][2]


def test_names_that_match_nothing_tiers_and_missing_rules() -> None:
    typo = Multiplier(on="category", value="Cofee", factor=2)
    assert _messages(_program(typo)) == [(
        "warning", "unknown_value",
        "No order in your data has the category “Cofee”, so “×2 on Cofee” would never apply. "
        "Check the spelling; your data has: Coffee, Tea.",
    )]
    same = TierRules(tiers=(Tier(name="Gold", threshold=10), Tier(name="gold", threshold=10)))
    p = LoyaltyProgram(currency=STARS, tiers=same, membership=PaidMembership(fee=5, free_shipping=False))
    assert [x.code for x in validate(p, currency="USD")] == [
        "tier_names", "tier_thresholds", "no_spend_rule", "membership_empty"
    ]
    assert validate(p, currency="USD")[0] == Problem(
        severity="error", code="tier_names",
        message="Two tiers are called Gold, gold: give each tier its own name.",
    )


def test_errors_stop_a_version_from_being_saved(conn: duckdb.DuckDBPyConnection) -> None:
    backwards = Promotion(name="Backwards", start=date(2024, 12, 9), end=date(2024, 12, 2))
    with pytest.raises(InputRefused) as err:
        save_version(conn, _program(backwards), starts_on=date(2024, 1, 1))
    assert str(err.value) == (
        "The program was not saved: The promotion “Backwards” ends on 2 Dec 2024, before it "
        "starts on 9 Dec 2024, so it would never apply. Swap the two dates."
    )
    assert conn.execute("SELECT count(*) FROM loyalty_versions").fetchall() == [(0,)]


def test_shop_facts_list_what_the_orders_hold(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "a", orders=[
        order("2024-01-02", 30, channel="pos", discount_code="freebag",
              lines=[("House Blend", "Coffee", 1, 15), ("Earl Grey", "Tea", 1, 15)]),
        order("2024-01-03", 10, lines=[("House Blend", "Coffee", 1, 10)]),
    ])
    facts = shop_facts(from_duckdb(conn))
    assert facts.categories == ("Coffee", "Tea")
    assert facts.products == ("House Blend", "Earl Grey")
    assert facts.product_categories == {"House Blend": ("Coffee",), "Earl Grey": ("Tea",)}
    assert facts.channels == ("online_store", "pos")
    assert facts.discount_codes == ("FREEBAG",)
