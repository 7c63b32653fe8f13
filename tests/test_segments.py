"""Segments on a hand-built shop of six customers: each condition type's sentence and members,
AND/OR groups, live numbers, size over time, RFM flow, saving and the export file.

The shop at AS_OF = 2024-06-30 (last day included; store time zone UTC):

    id    country city     gender      birthday    tags           consent  counted orders
    ann   DE      Berlin   female      1990-07-01  coffee,baking  yes      2024-01-15 $40 Tea (pos),
                                                                           2024-06-10 $60 Coffee
                                                                           (online, WELCOME10)
    ben   US      Austin   male        1960-06-30  tea            no       2023-03-01 $200 gear,
                                                                           2023-04-01 $100 Coffee
                                                                           (marketplace, BFCM25)
    cara  de      Munich   non-binary  —           —              unknown  2024-06-30 23:00 $30 Coffee
                                                                           (+ a cancelled $500 Tea)
    dan   GB      London   —           2006-07-01  coffee,tea     yes      none
    eve   US      Austin   female      2000-02-29  coffee         yes      2024-03-01 EUR 25 Tea
                                                                           (+ refunded, + after as-of)
    fay   —       —        —           —           —              unknown  none

    per customer   orders  spend (USD)  AOV   first        last         age at AS_OF
    ann            2       100          50    2024-01-15   2024-06-10   33
    ben            2       300          150   2023-03-01   2023-04-01   64 (birthday on AS_OF)
    cara           1       30           30    2024-06-30   2024-06-30   —
    dan            0       0            —     —            —            17 (18 the day after)
    eve            1       0 (EUR)      —     2024-03-01   2024-03-01   24
    fay            0       0            —     —            —            —

Feedback: ann NPS 10 (promoter), CSAT 5; ben NPS 9 then 3 (latest: detractor), CSAT 2; cara NPS 7
after AS_OF (ignored); fay NPS 8 (passive).

RFM at AS_OF (ranked among ann, ben, cara, eve; n = 4, score = 1 + floor(5 (rank − 1) / 4)):
recency days to 2024-07-01: ben 457, eve 122, ann 21, cara 1 → R 1, 2, 3, 4; frequency ranks:
cara 1, eve 1, ann 3, ben 3 → F 1, 1, 3, 3. Groups: ann R3 F3 Needs attention, ben R1 F3 At risk,
cara R4 F1 Promising, eve R2 F1 Hibernating.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import openpyxl
import pandas as pd
import pytest

from relmark_core import source, store
from relmark_core.errors import InputRefused
from relmark_core.metrics.kpis import kpis
from relmark_core.periods import DateRange
from relmark_core.segments import (
    SegmentFilter,
    condition_problem,
    delete_segment,
    duplicate_segment,
    export_members,
    find_segment,
    flow_members,
    get_segment,
    list_segments,
    parse_definition,
    rename_segment,
    rfm_flow,
    save_segment,
    segment_sample,
    segment_summary,
    size_over_time,
    update_segment,
)
from relmark_core.segments.compile import members
from tests.builders import add_customer, add_feedback, order, set_reporting

AS_OF = date(2024, 6, 30)


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(
        conn, "ann", first_name="Ann", last_name="Lee", country="DE", city="Berlin",
        gender="female", birthday="1990-07-01", tags=["coffee", "baking"],
        orders=[
            order("2024-01-15", 40, channel="pos", lines=[("Earl Grey", "Tea", 1, 40)]),
            order("2024-06-10", 60, discount_code="WELCOME10",
                  lines=[("House Blend", "Coffee", 2, 30)]),
        ],
    )
    add_customer(
        conn, "ben", first_name="Ben", last_name="Ode", country="US", city="Austin",
        gender="male", birthday="1960-06-30", tags=["tea"], accepts_marketing=False,
        orders=[
            order("2023-03-01", 200, channel="marketplace",
                  lines=[("French Press", "Brewing gear", 1, 200)]),
            order("2023-04-01", 100, channel="marketplace", discount_code="BFCM25",
                  lines=[("Espresso Roast", "Coffee", 1, 100)]),
        ],
    )
    add_customer(
        conn, "cara", first_name="Cara", last_name="Diaz", country="de", city="Munich",
        gender="non-binary", accepts_marketing=None,
        orders=[
            order("2024-06-30 23:00:00", 30, lines=[("House Blend", "Coffee", 1, 30)]),
            order("2024-05-01", 500, status="cancelled", lines=[("Matcha", "Tea", 1, 500)]),
        ],
    )
    add_customer(
        conn, "dan", first_name="=HYPERLINK(\"x\")", last_name="+44", country="GB",
        city="London", birthday="2006-07-01", tags=["coffee", "tea"], signup="2024-04-15",
    )
    add_customer(
        conn, "eve", first_name="Eve", last_name="@home", country="US", city="Austin",
        gender="female", birthday="2000-02-29", tags=["coffee"],
        orders=[
            order("2024-03-01", 25, currency="EUR", lines=[("Earl Grey", "Tea", 1, 25)]),
            order("2024-02-01", 50, refunds=50, status="refunded",
                  lines=[("House Blend", "Coffee", 1, 50)]),
            order("2024-07-01", 80, lines=[("House Blend", "Coffee", 1, 80)]),
        ],
    )
    add_customer(conn, "fay", email="", accepts_marketing=None, tags=None)
    add_feedback(conn, "ann", "2024-05-01", 10)
    add_feedback(conn, "ann", "2024-06-11", 5, kind="csat")
    add_feedback(conn, "ben", "2024-01-01", 9)
    add_feedback(conn, "ben", "2024-06-20", 3)
    add_feedback(conn, "ben", "2024-06-21", 2, kind="csat")
    add_feedback(conn, "cara", "2024-07-01", 7)
    add_feedback(conn, "fay", "2024-02-01", 8)


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    build_shop(conn)
    return source.from_duckdb(conn)


def ids(src: source.Source, data: dict[str, Any], as_of: date = AS_OF) -> list[str]:
    d = parse_definition(data)
    return sorted(src.execute(members(src, d, as_of=as_of).customer_id).tolist())


def one(condition: dict[str, Any]) -> dict[str, Any]:
    return {"conditions": [condition]}


# (condition, sentence, members) for every condition type
CASES: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"kind": "age", "min_age": 18, "max_age": 34},
     "Customers who are aged 18–34", ["ann", "eve"]),
    ({"kind": "age", "min_age": 64}, "Customers who are aged 64 or over", ["ben"]),
    ({"kind": "age", "max_age": 17}, "Customers who are aged 17 or under", ["dan"]),
    ({"kind": "gender", "genders": ["female"]}, "Customers who are female", ["ann", "eve"]),
    ({"kind": "gender", "genders": ["non-binary", "male"]},
     "Customers who are non-binary or male", ["ben", "cara"]),
    ({"kind": "location", "values": ["de"]}, "Customers in Germany", ["ann", "cara"]),
    ({"kind": "location", "values": ["US"], "exclude": True},
     "Customers outside the United States", ["ann", "cara", "dan", "fay"]),
    ({"kind": "location", "field": "city", "values": ["Austin", "London"]},
     "Customers in Austin or London", ["ben", "dan", "eve"]),
    ({"kind": "tags", "tags": ["Coffee"]}, "Customers who are interested in coffee",
     ["ann", "dan", "eve"]),
    ({"kind": "tags", "tags": ["coffee", "tea"], "match": "all"},
     "Customers who are interested in coffee and tea", ["dan"]),
    ({"kind": "tags", "tags": ["coffee"], "match": "none"},
     "Customers who are not interested in coffee", ["ben", "cara", "fay"]),
    ({"kind": "orders", "min_orders": 2}, "Customers who have 2 orders or more", ["ann", "ben"]),
    ({"kind": "orders", "max_orders": 0}, "Customers who have no orders", ["dan", "fay"]),
    ({"kind": "orders", "max_orders": 1}, "Customers who have at most 1 order",
     ["cara", "dan", "eve", "fay"]),
    ({"kind": "orders", "min_orders": 1, "max_orders": 1}, "Customers who have exactly 1 order",
     ["cara", "eve"]),
    ({"kind": "spend", "min_spend": "100"}, "Customers who have spent $100 or more",
     ["ann", "ben"]),
    ({"kind": "spend", "max_spend": 30}, "Customers who have spent at most $30",
     ["cara", "dan", "eve", "fay"]),
    ({"kind": "spend", "min_spend": 50, "max_spend": "150.50"},
     "Customers who have spent $50–$150.50", ["ann"]),
    ({"kind": "aov", "min_aov": 50}, "Customers who have an average order value of $50 or more",
     ["ann", "ben"]),
    ({"kind": "aov", "max_aov": 40}, "Customers who have an average order value of at most $40",
     ["cara"]),
    ({"kind": "order_date", "which": "last", "within_days": 30},
     "Customers who placed their last order in the last 30 days", ["ann", "cara"]),
    ({"kind": "order_date", "which": "last", "over_days": 90},
     "Customers who placed their last order more than 90 days ago", ["ben", "eve"]),
    ({"kind": "order_date", "which": "first", "start": "2024-01-01", "end": "2024-03-01"},
     "Customers who placed their first order between 1 Jan 2024 and 1 Mar 2024",
     ["ann", "eve"]),
    ({"kind": "order_date", "which": "first", "end": "2023-12-31"},
     "Customers who placed their first order on or before 31 Dec 2023", ["ben"]),
    ({"kind": "bought", "values": ["Coffee"]}, "Customers who bought Coffee",
     ["ann", "ben", "cara"]),
    ({"kind": "bought", "values": ["Coffee"], "within_days": 30},
     "Customers who bought Coffee in the last 30 days", ["ann", "cara"]),
    ({"kind": "bought", "values": ["Tea"], "bought": False}, "Customers who never bought Tea",
     ["ben", "cara", "dan", "fay"]),
    ({"kind": "bought", "what": "product", "values": ["Espresso Roast"]},
     "Customers who bought Espresso Roast", ["ben"]),
    ({"kind": "discount_code"}, "Customers who used a discount code", ["ann", "ben"]),
    ({"kind": "discount_code", "codes": ["welcome10"]},
     "Customers who used the discount code WELCOME10", ["ann"]),
    ({"kind": "discount_code", "used": False}, "Customers who never used a discount code",
     ["cara", "dan", "eve", "fay"]),
    ({"kind": "sales_channel", "channels": ["pos"]},
     "Customers who bought through a shop till (POS)", ["ann"]),
    ({"kind": "sales_channel", "channels": ["online_store"], "within_days": 30},
     "Customers who bought through the online store in the last 30 days", ["ann", "cara"]),
    ({"kind": "nps", "groups": ["promoter"]}, "Customers who are promoters", ["ann"]),
    ({"kind": "nps", "groups": ["detractor", "passive"]},
     "Customers who are detractors or passives", ["ben", "fay"]),
    ({"kind": "csat", "min_score": 4}, "Customers who gave 4 or more in their latest CSAT answer",
     ["ann"]),
    ({"kind": "csat", "max_score": 2}, "Customers who gave 2 or less in their latest CSAT answer",
     ["ben"]),
    ({"kind": "consent"}, "Customers who accept email marketing", ["ann", "dan", "eve"]),
    ({"kind": "consent", "consented": False}, "Customers who do not accept email marketing",
     ["ben", "cara", "fay"]),
    ({"kind": "rfm", "groups": ["At risk"]}, "Customers in the RFM group At risk", ["ben"]),
    ({"kind": "rfm", "groups": ["Needs attention", "Promising"]},
     "Customers in the RFM groups Needs attention or Promising", ["ann", "cara"]),
]


@pytest.mark.parametrize(("condition", "sentence", "expected"), CASES,
                         ids=[f"{c['kind']}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_each_condition_sentence_and_members(
    shop: source.Source, condition: dict[str, Any], sentence: str, expected: list[str]
) -> None:
    d = parse_definition(one(condition))
    assert d.sentence() == sentence
    assert ids(shop, one(condition)) == expected


def test_every_condition_type_is_covered() -> None:
    from relmark_core.segments import CONDITION_KINDS

    # tier: its own test below; likely: tests/test_recommend.py (needs a shop with pairs)
    covered = {c["kind"] for c, _, _ in CASES} | {"tier", "likely"}
    assert sorted(covered) == sorted(CONDITION_KINDS)


def test_loyalty_tier_condition(conn: duckdb.DuckDBPyConnection) -> None:
    from relmark_core.loyalty import post_ledger, save_version
    from relmark_core.loyalty.model import (
        LoyaltyProgram,
        PointsCurrency,
        PointsPerSpend,
        Tier,
        TierRules,
    )

    build_shop(conn)
    src = source.from_duckdb(conn)
    gold = one({"kind": "tier", "tiers": ["Gold"]})
    assert ids(src, gold) == []  # no program yet: nobody has a tier
    # tiers on lifetime net spend in USD: ann 100 and ben 300 reach Gold (100), cara 30 is Green
    program = LoyaltyProgram(
        name="Beans", currency=PointsCurrency(name="beans", value="0.01"),
        earn_rules=(PointsPerSpend(),),
        tiers=TierRules(basis="spend", period="lifetime",
                        tiers=(Tier(name="Green", threshold=0), Tier(name="Gold", threshold=100))),
    )
    save_version(conn, program, starts_on=date(2023, 1, 1))
    post_ledger(conn, through=AS_OF)
    assert parse_definition(gold).sentence() == "Customers in the loyalty tier Gold"
    assert ids(src, gold) == ["ann", "ben"]
    assert ids(src, one({"kind": "tier", "tiers": ["Green", "Platinum"]})) == ["cara"]
    got = export_members(src, definition=parse_definition(gold), as_of=AS_OF,
                         properties=["loyalty_tier"], include_unconsented=True)
    assert got.data.decode() == (
        "Email,First Name,Last Name,Loyalty Tier\n"
        "ann@example.com,Ann,Lee,Gold\n"
        "ben@example.com,Ben,Ode,Gold\n"
    )


def test_the_issue_example_sentence_and_members(shop: source.Source) -> None:
    data = {"conditions": [
        {"kind": "location", "values": ["DE"]},
        {"kind": "bought", "values": ["Coffee"], "within_days": 90},
        {"kind": "nps", "groups": ["promoter"]},
    ]}
    d = parse_definition(data)
    assert d.sentence() == (
        "Customers in Germany who bought Coffee in the last 90 days and are promoters"
    )
    assert ids(shop, data) == ["ann"]


def test_any_and_a_nested_group(shop: source.Source) -> None:
    anyof = {"match": "any", "conditions": [
        {"kind": "nps", "groups": ["detractor"]},
        {"kind": "location", "field": "city", "values": ["Berlin"]},
    ]}
    assert parse_definition(anyof).sentence() == (
        "Customers in Berlin or who are detractors"
    )
    assert ids(shop, anyof) == ["ann", "ben"]
    nested = {"conditions": [
        {"kind": "consent"},
        {"kind": "group", "match": "any", "conditions": [
            {"kind": "orders", "max_orders": 0},
            {"kind": "rfm", "groups": ["Hibernating"]},
        ]},
    ]}
    assert parse_definition(nested).sentence() == (
        "Customers who accept email marketing and (in the RFM group Hibernating or who have "
        "no orders)"
    )
    assert ids(shop, nested) == ["dan", "eve"]
    assert ids(shop, {"conditions": []}) == ["ann", "ben", "cara", "dan", "eve", "fay"]
    assert parse_definition({}).sentence() == "All customers"


def test_age_on_29_february_birthdays(shop: source.Source) -> None:
    adult = one({"kind": "age", "min_age": 18})
    # eve, born 2000-02-29, turns 18 on 1 March 2018 (no 29 February that year)
    assert ids(shop, adult, as_of=date(2018, 2, 28)) == ["ann", "ben"]
    assert ids(shop, adult, as_of=date(2018, 3, 1)) == ["ann", "ben", "eve"]
    # dan turns 18 the day after AS_OF
    assert ids(shop, adult, as_of=date(2024, 7, 1)) == ["ann", "ben", "dan", "eve"]


def test_days_count_in_the_store_time_zone(conn: duckdb.DuckDBPyConnection) -> None:
    # 2024-07-01 02:00 UTC is 30 June 22:00 in New York: on the as-of day there, not in UTC
    add_customer(conn, "late", orders=[order("2024-07-01 02:00:00", 10)])
    add_customer(conn, "early", orders=[order("2024-06-01 03:00:00", 10)])
    recent = one({"kind": "order_date", "within_days": 30})
    # UTC: the 30 days are 1 June 00:00 to 1 July 00:00 UTC
    assert ids(source.from_duckdb(conn), recent) == ["early"]
    set_reporting(conn, tz="America/New_York")
    ny = source.from_duckdb(conn)
    # New York: 1 June 00:00 local = 04:00 UTC, so "early" (1 June 03:00 UTC = 31 May) is out
    assert ids(ny, recent) == ["late"]


def test_summary_and_sample(shop: source.Source) -> None:
    d = parse_definition(one({"kind": "location", "values": ["DE"]}))
    s = segment_summary(shop, definition=d, as_of=AS_OF)
    assert (s.customers, s.all_customers, s.orders, s.revenue) == (2, 6, 3, Decimal("130.00"))
    assert s.share == pytest.approx(2 / 6)
    assert s.sentence == "Customers in Germany"
    sample = segment_sample(shop, definition=d, as_of=AS_OF)
    assert sample[["customer_id", "name", "location", "orders", "net_spend"]].to_dict(
        "records"
    ) == [
        {"customer_id": "ann", "name": "Ann Lee", "location": "Berlin, DE", "orders": 2,
         "net_spend": 100.0},
        {"customer_id": "cara", "name": "Cara Diaz", "location": "Munich, de", "orders": 1,
         "net_spend": 30.0},
    ]
    assert sample["accepts_marketing"].tolist() == [True, False]


def test_size_over_time_at_month_ends(shop: source.Source) -> None:
    rng = DateRange(start=date(2024, 1, 1), end=date(2024, 7, 1))
    buyers = parse_definition(one({"kind": "orders", "min_orders": 1}))
    got = size_over_time(shop, definition=buyers, rng=rng)
    assert got["period"].tolist() == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05",
                                      "2024-06"]
    # Jan: ann, ben; Mar: + eve (EUR order); Jun: + cara (30 June 23:00)
    assert got["customers"].tolist() == [2, 2, 3, 3, 3, 4]
    assert got["complete"].tolist() == [True] * 6
    # profile-only condition: counted from sign-up or first order (any status)
    # ann from 15 Jan; eve from her refunded order on 1 Feb; dan signed up 15 April
    consent = parse_definition(one({"kind": "consent"}))
    got = size_over_time(shop, definition=consent, rng=rng)
    assert got["customers"].tolist() == [1, 2, 2, 3, 3, 3]
    # a range ending mid-month ends with a partial point on its last day
    got = size_over_time(
        shop, definition=buyers, rng=DateRange(start=date(2024, 5, 1), end=date(2024, 6, 16))
    )
    assert got[["period", "as_of", "customers", "complete"]].values.tolist() == [
        ["2024-05", date(2024, 5, 31), 3, True],
        ["2024-06", date(2024, 6, 15), 3, False],
    ]


def test_rfm_flow_between_two_days(shop: source.Source) -> None:
    # At 31 March (ranked among ann, ben, eve; n = 3): recency days to 1 April ben 366, ann 77,
    # eve 31 -> R 1, 2, 4; F ranks ann 1, eve 1, ben 3 -> F 1, 1, 4.
    # ben R1 F4 At risk, ann R2 F1 Hibernating, eve R4 F1 Promising; cara had no orders yet.
    flow = rfm_flow(shop, start=date(2024, 3, 31), end=AS_OF)
    assert flow.values.tolist() == [
        ["No orders yet", "Promising", 1],
        ["Promising", "Hibernating", 1],
        ["At risk", "At risk", 1],
        ["Hibernating", "Needs attention", 1],
    ]
    who = flow_members(shop, start=date(2024, 3, 31), end=AS_OF, from_group="Promising",
                       to_group="Hibernating")
    assert who[["customer_id", "name", "orders", "net_spend"]].values.tolist() == [
        ["eve", "Eve @home", 1, 0.0]
    ]
    consent = SegmentFilter(segment_id=1, name="Consent", as_of=AS_OF,
                            definition=parse_definition(one({"kind": "consent"})))
    flow = rfm_flow(shop, start=date(2024, 3, 31), end=AS_OF, segment=consent)
    assert flow.values.tolist() == [
        ["Promising", "Hibernating", 1],
        ["Hibernating", "Needs attention", 1],
    ]
    with pytest.raises(InputRefused, match="must be after the 'from' date"):
        rfm_flow(shop, start=AS_OF, end=AS_OF)


def test_kpis_for_a_segment(shop: source.Source) -> None:
    # counted orders in H1 2024: ann 40 + 60, cara 30, eve EUR 25 -> for Germany: ann and cara
    rng = DateRange(start=date(2024, 1, 1), end=date(2024, 7, 1))
    de = SegmentFilter(segment_id=1, name="DE", as_of=AS_OF,
                       definition=parse_definition(one({"kind": "location", "values": ["DE"]})))
    k = kpis(shop, rng=rng, segment=de)
    assert (k.customers, k.orders, k.revenue, k.other_currencies) == (2, 3, Decimal("130.00"), {})
    everyone = kpis(shop, rng=rng)
    assert (everyone.customers, everyone.orders) == (3, 4)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    (one({"kind": "spend", "min_spend": -1}),
     "In condition 1 (Total spend), lowest spend: must be 0 or more."),
    (one({"kind": "spend", "min_spend": "1.005"}),
     "In condition 1 (Total spend), lowest spend: can have at most 2 decimal places."),
    (one({"kind": "age", "min_age": 40, "max_age": 30}),
     "In condition 1 (Age): the youngest age (40) is above the oldest age (30)."),
    (one({"kind": "location", "values": ["  "]}),
     "In condition 1 (Location), values: is empty; type a value or remove it."),
    (one({"kind": "tags", "tags": ["ok", "a\x00b"]}),
     "In condition 1 (Interests (tags)), tags: contains an invisible or control character "
     "(U+0000); retype the value."),
    (one({"kind": "orders"}),
     "In condition 1 (Number of orders): set the fewest orders, the most orders or both."),
    (one({"kind": "order_date", "within_days": 0}),
     "In condition 1 (First or last order date), in the last N days: must be 1 or more."),
    (one({"kind": "astrology"}),
     "In condition 1: “astrology” is not a condition type; use one of: age, gender, location, "
     "tags, orders, spend, aov, order_date, bought, discount_code, sales_channel, nps, csat, "
     "consent, rfm, tier, likely."),
    ({"conditions": [{"kind": "consent"}, {"kind": "group", "conditions": [
        {"kind": "nps", "groups": ["fans"]}]}]},
     "In condition 2.1 (NPS group (latest answer)), groups, value 1: must be one of "
     "'promoter', 'passive' or 'detractor'."),
    ({"conditions": [{"kind": "group", "conditions": [{"kind": "group", "conditions": [
        {"kind": "consent"}]}]}]},
     "In condition 1.1: a group cannot hold another group (one level only); move its "
     "conditions up."),
    (one({"kind": "consent", "colour": "red"}),
     "In condition 1 (Email marketing consent), colour: is not a field of this condition."),
])
def test_invalid_conditions_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InputRefused) as exc:
        parse_definition(data)
    assert str(exc.value) == message


def test_condition_problem_for_the_builder() -> None:
    assert condition_problem({"kind": "csat", "min_score": 6}) == (
        "In this condition (CSAT score (latest answer)), lowest score: must be 5 or less."
    )
    assert condition_problem({"kind": "csat", "min_score": 4}) is None


# --- saving -----------------------------------------------------------------------------------


def test_save_rename_duplicate_delete(conn: duckdb.DuckDBPyConnection) -> None:
    d = parse_definition(one({"kind": "consent"}))
    a = save_segment(conn, "  Newsletter   fans ", d, actor="mia")
    assert (a.name, a.created_by, a.definition) == ("Newsletter fans", "mia", d)
    with pytest.raises(InputRefused, match="A segment called “Newsletter fans” already exists"):
        save_segment(conn, "NEWSLETTER FANS", d)
    b = duplicate_segment(conn, a.segment_id)
    c = duplicate_segment(conn, a.segment_id)
    assert (b.name, c.name) == ("Newsletter fans (copy)", "Newsletter fans (copy 2)")
    assert len({a.segment_id, b.segment_id, c.segment_id}) == 3
    renamed = rename_segment(conn, a.segment_id, "Subscribers", actor="max")
    assert (renamed.segment_id, renamed.name, renamed.updated_by) == (a.segment_id,
                                                                     "Subscribers", "max")
    assert get_segment(conn, a.segment_id).name == "Subscribers"  # the id survives renames
    assert rename_segment(conn, a.segment_id, "subscribers").name == "subscribers"  # own name
    with pytest.raises(InputRefused, match="already exists"):
        rename_segment(conn, b.segment_id, "Subscribers")
    changed = update_segment(conn, b.segment_id, one({"kind": "orders", "max_orders": 0}))
    assert changed.definition.sentence() == "Customers who have no orders"
    assert find_segment(conn, str(b.segment_id)).name == "Newsletter fans (copy)"
    assert find_segment(conn, " SUBSCRIBERS ").segment_id == a.segment_id
    delete_segment(conn, c.segment_id)
    assert [s.name for s in list_segments(conn)] == ["Newsletter fans (copy)", "subscribers"]
    with pytest.raises(InputRefused, match="There is no saved segment with id"):
        get_segment(conn, c.segment_id)
    with pytest.raises(InputRefused, match="No saved segment is called or has the id “nope”"):
        find_segment(conn, "nope")
    with pytest.raises(InputRefused, match="The segment name is empty"):
        save_segment(conn, "   ", d)
    # a new segment never takes a deleted one's id (old links do not open another segment)
    assert save_segment(conn, "Later", d).segment_id == c.segment_id + 1
    actions = [r[0] for r in conn.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'segment%' ORDER BY logged_at"
    ).fetchall()]
    assert actions == ["segment saved"] * 3 + ["segment renamed"] * 2 + ["segment changed",
                                                                         "segment deleted",
                                                                         "segment saved"]


def test_saving_bumps_the_data_version(conn: duckdb.DuckDBPyConnection) -> None:
    before = store.data_version(conn)
    s = save_segment(conn, "All", parse_definition({}))
    rename_segment(conn, s.segment_id, "Everyone")
    assert store.data_version(conn) == before + 2


# --- export -----------------------------------------------------------------------------------


def test_export_csv_is_ready_for_email_tools(shop: source.Source) -> None:
    everyone = parse_definition({})
    got = export_members(shop, definition=everyone, as_of=AS_OF, name="Everyone, really!")
    # ben and cara do not accept email marketing; fay has no email address
    assert (got.rows, got.excluded_no_consent, got.excluded_no_email) == (3, 2, 1)
    assert got.file_name == "everyone-really-2024-06-30.csv"
    assert got.data.decode("utf-8") == (
        "Email,First Name,Last Name,RFM Group,Last Order Date\n"
        "ann@example.com,Ann,Lee,Needs attention,2024-06-10\n"
        "dan@example.com,\"'=HYPERLINK(\"\"x\"\")\",'+44,,\n"
        "eve@example.com,Eve,'@home,Hibernating,2024-03-01\n"
    )
    assert got.summary() == (
        "3 customers in the file; left out 2 without email-marketing consent and 1 without an "
        "email address."
    )
    frame = pd.read_csv(io.BytesIO(got.data))
    assert list(frame.columns) == ["Email", "First Name", "Last Name", "RFM Group",
                                   "Last Order Date"]


def test_export_xlsx_with_properties_and_everyone(shop: source.Source) -> None:
    de = parse_definition(one({"kind": "location", "values": ["DE"]}))
    got = export_members(
        shop, definition=de, as_of=AS_OF, fmt="xlsx", include_unconsented=True,
        properties=["orders", "total_spent", "tags", "nps_group", "first_order_date", "country"],
    )
    assert (got.rows, got.excluded_no_consent, got.excluded_no_email) == (2, 0, 0)
    ws = openpyxl.load_workbook(io.BytesIO(got.data)).active
    assert ws is not None
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows == [
        ["Email", "First Name", "Last Name", "Orders", "Total Spent", "Tags", "NPS Group",
         "First Order Date", "Country"],
        ["ann@example.com", "Ann", "Lee", 2, 100, "coffee, baking", "Promoter", "2024-01-15",
         "DE"],
        ["cara@example.com", "Cara", "Diaz", 1, 30, None, None, "2024-06-30", "de"],
    ]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)  # no formulas


def test_export_refuses_unknown_properties(shop: source.Source) -> None:
    with pytest.raises(InputRefused, match="Unknown export property: shoe_size"):
        export_members(shop, definition=parse_definition({}), as_of=AS_OF,
                       properties=["rfm_group", "shoe_size"])
