"""Loyalty program definitions: every part's sentence, refusals in words, version diffs."""

from __future__ import annotations

from datetime import date

import pytest

from relmark_core.errors import InputRefused
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
    describe_changes,
    parse_program,
)

STARS = LoyaltyProgram(
    name="Stars",
    currency=PointsCurrency(name="Stars", value="0.01"),
    earn_rules=(
        PointsPerSpend(),
        Multiplier(on="category", value="Coffee", factor=2),
        Multiplier(on="channel", value="pos", factor=1.5),
        Promotion(name="Double stars", start=date(2024, 12, 1), end=date(2024, 12, 7)),
        BonusEvent(event="birthday_month", points=50),
    ),
    caps=(Cap(per="order", points=500), Cap(per="month", points=2000)),
    tiers=TierRules(tiers=(
        Tier(name="Gold", threshold=300, earn_multiplier=1.5, perks=("free shipping", " ")),
        Tier(name="Green", threshold=0),
    )),
    membership=PaidMembership(name="Plus", fee="49", earn_multiplier=1.25, perks=("member-only offers",)),
    expiry=Expiry(months=12),
    rewards=(Reward(name="Free bag of coffee", points=150, cost="6", discount_code=" freebag "),),
)


def test_program_reads_as_sentences() -> None:
    assert STARS.sentences("USD") == [
        ("Currency", "Points are called “stars”; one is worth $0.01 to the business (what it "
                     "costs you when a customer redeems it)."),
        ("Earn rule", "Earn 1 star for every $1 of an order's net (what the customer paid after "
                      "discounts, minus refunds), rounded down per order: an order of $12.80 "
                      "earns 12 stars. A refund takes back the stars it paid for; fully refunded "
                      "orders earn nothing. Orders in other currencies than USD earn nothing."),
        ("Earn rule", "×2 stars on the category “Coffee”: the share of an order's line value "
                      "(price × quantity) that is Coffee earns ×2 (an order half in Coffee earns "
                      "×1.5 overall)."),
        ("Earn rule", "×1.5 stars on orders placed through “pos”."),
        ("Earn rule", "Double stars: every order placed from 1 Dec 2024 to 7 Dec 2024 (both days "
                      "included, store time) earns ×2 stars."),
        ("Earn rule", "50 stars in the customer's birthday month: on the 1st, once a year, for "
                      "members who joined before that day (customers without a birthday get "
                      "nothing)."),
        ("Cap", "At most 500 stars from any one order, after tier multipliers."),
        ("Cap", "At most 2,000 stars from orders per customer per calendar month, after tier "
                "multipliers (bonus stars are not capped)."),
        ("Tiers", "Tiers are earned with the qualifying stars (the stars from earn rules and "
                  "bonuses, before tier multipliers and caps) collected within a calendar year "
                  "and kept for the rest of that year and the whole next year. On 1 January, "
                  "customers who did not requalify move to the tier last year's total qualifies "
                  "them for."),
        # tiers are listed lowest first whatever order they were entered in
        ("Tier", "Green: from 0 qualifying stars in a calendar year."),
        ("Tier", "Gold: from 300 qualifying stars in a calendar year; earns ×1.5 stars on "
                 "orders; perks: free shipping."),
        ("Paid membership", "Paid membership “Plus”: $49 a year; free shipping, ×1.25 stars on "
                            "orders, member-only offers."),
        ("Expiry", "Stars expire 12 months after they were earned, on the same day of the month "
                   "or the month's last day (earned 31 Jan 2024, gone from 31 Jan 2025). "
                   "Redemptions spend the oldest stars first."),
        ("Reward", "Free bag of coffee: 150 stars (costs you $6); redeemed with the code FREEBAG."),
    ]


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        (PointsPerSpend(points=1, per_amount=10),
         "Earn 1 star for every €10 of an order's net (what the customer paid after discounts, "
         "minus refunds), rounded down per order: an order of €32 earns 3 stars. A refund takes "
         "back the stars it paid for; fully refunded orders earn nothing. Orders in other "
         "currencies than EUR earn nothing."),
        (Multiplier(on="product", value="Earl Grey 100g", factor=3),
         "×3 stars on the product “Earl Grey 100g”: the share of an order's line value (price × "
         "quantity) that is Earl Grey 100g earns ×3 (an order half in Earl Grey 100g earns ×2 "
         "overall)."),
        (BonusEvent(event="signup", points=25),
         "25 stars when a customer creates an account (at the time it was created)."),
        (BonusEvent(event="first_order", points=100),
         "100 stars with a customer's first counted order ever."),
        (BonusEvent(event="feedback", points=10), "10 stars for every NPS or CSAT survey answer."),
        (BonusEvent(event="review", points=1), "1 star for every product review."),
        (BonusEvent(event="referral", points=30),
         "30 stars with the first order of a customer who came through a referral (their "
         "acquisition channel is “referral”); your data does not say who referred them, so the "
         "referrer gets nothing."),
        (Cap(per="day", points=1),
         "At most 1 star from orders per customer per day, after tier multipliers (bonus stars "
         "are not capped)."),
        (Expiry(months=1),
         "Stars expire 1 month after they were earned, on the same day of the month or the "
         "month's last day (earned 31 Jan 2024, gone from 29 Feb 2024). Redemptions spend the "
         "oldest stars first."),
        (Expiry(rule="after_inactivity", months=6),
         "All stars expire after 6 months without activity (no order, bonus or redemption): on "
         "the day 6 months after the last one."),
        (TierRules(period="rolling_12_months", basis="spend"),
         "Tiers follow the net spend on counted orders in EUR of the last 365 days, checked "
         "continuously: a customer moves up as soon as they reach a threshold and down as soon "
         "as their last 365 days fall below it."),
        (TierRules(period="lifetime"),
         "Tiers follow all qualifying stars (the stars from earn rules and bonuses, before tier "
         "multipliers and caps) since the program started; a tier is never lost."),
        (TierRules(demotion="one_tier"),
         "Tiers are earned with the qualifying stars (the stars from earn rules and bonuses, "
         "before tier multipliers and caps) collected within a calendar year and kept for the "
         "rest of that year and the whole next year. On 1 January, customers who did not "
         "requalify move down one tier at a time."),
        (PaidMembership(fee="9.99", billing="monthly", free_shipping=False),
         "Paid membership “Plus”: €9.99 a month; no benefits yet."),
    ],
)
def test_each_part_has_its_sentence(part: object, expected: str) -> None:
    assert part.sentence("stars", "EUR") == expected  # type: ignore[attr-defined]


def test_parse_program_round_trips_and_refuses_in_words() -> None:
    assert parse_program(STARS.model_dump_json()) == STARS
    with pytest.raises(InputRefused) as err:
        parse_program({"earn_rules": [{"kind": "multiplier", "on": "colour", "value": "x", "factor": 0}]})
    assert str(err.value) == (
        "The loyalty program could not be read: earn_rules → 0 → multiplier → on: Input should "
        "be 'category', 'product' or 'channel'; earn_rules → 0 → multiplier → factor: Input "
        "should be greater than 0. Correct these fields and try again."
    )
    with pytest.raises(InputRefused, match="name"):
        parse_program({"tiers": {"tiers": [{"name": "  ", "threshold": 5}]}})


def test_describe_changes_in_words() -> None:
    new = STARS.model_copy(update={
        "earn_rules": (*STARS.earn_rules[:3],
                       Promotion(name="Triple week", start=date(2025, 1, 5), end=date(2025, 1, 11), factor=3)),
        "expiry": Expiry(rule="after_inactivity", months=6),
        "currency": PointsCurrency(name="stars", value="0.02"),
    })
    assert describe_changes(STARS, new, "USD") == (
        "Currency: stars at $0.01 → stars at $0.02; earn rules added: Triple week (5–11 Jan "
        "2025); earn rules removed: Double stars (1–7 Dec 2024) | Birthday month bonus; expiry: "
        "All stars expire after 6 months without activity (no order, bonus or redemption): on "
        "the day 6 months after the last one."
    )
    assert describe_changes(None, STARS, "USD") == "First version."
    assert describe_changes(STARS, STARS, "USD") == "No changes to the rules (saved again)."
    fewer = STARS.model_copy(update={"tiers": TierRules(tiers=(Tier(name="Green", threshold=0),))})
    assert describe_changes(STARS, fewer, "USD") == (
        "Tiers removed: Gold: from 300 qualifying stars in a calendar year; earns ×1.5 stars on "
        "orders; perks: free shipping."
    )
