"""Feedback: NPS/CSAT per month, margins of error, breakdowns, reviews, comments, themes,
behaviour by NPS group, revenue at risk, the follow-up list and the ``report nps`` CLI.

Every expected value below was worked out by hand from the shop built in ``build_shop``.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest
from pydantic import ValidationError

from relmark_core import cli, source, store, text_themes
from relmark_core.errors import InputRefused
from relmark_core.feedback_followup import (
    followup_counts,
    followup_list,
    followups_csv,
    mark_followup,
    neutralise_cell,
)
from relmark_core.metrics import feedback as fb
from relmark_core.periods import DateRange
from tests.builders import add_customer, add_feedback, order, set_reporting

JUNE_END = date(2024, 6, 30)
MARCH = DateRange(start=date(2024, 3, 1), end=date(2024, 4, 1))


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    """Four customers and one anonymous respondent.

    NPS answers (score, group):
      Jan 15: a 10 P, b 9 P, c 5 D, anonymous 7 Pa (and an anonymous 11: off the scale, ignored)
      Mar:    a 3 D (10th: a answered twice), b 8 Pa (20th), d 0 D (25th)
      Apr 05: c 10 P (c answered twice: latest is a promoter)
    CSAT answers: Jan b 5, c 4, a 2; Feb a 3.
    Orders (USD unless said): a 2023-06-30 25, 2024-01-05 100, 2024-02-10 50, a cancelled 100
    on 2024-05-01, and 30 on 2024-07-15 (after the as-of date); b 2023-05-01 200, 2024-03-01
    80; c none; d 40 EUR on 2024-04-01.
    """
    add_customer(conn, "a", country="FR", channel="ads", first_name="Ann", last_name="Lee",
                 orders=[order("2023-06-30", 25),
                         order("2024-01-05", 100, lines=[("Mug", "Kitchen", 1, 100)]),
                         order("2024-02-10", 50, lines=[("Mug", "Kitchen", 1, 50)]),
                         order("2024-05-01", 100, status="cancelled"),
                         order("2024-07-15", 30)])
    add_customer(conn, "b", country="US", channel="email",
                 orders=[order("2023-05-01", 200),
                         order("2024-03-01", 80, lines=[("Mug", "Gifts", 1, 80)])])
    add_customer(conn, "c", country="US", channel="ads")
    add_customer(conn, "d", country="DE", orders=[order("2024-04-01", 40, currency="EUR")])

    add_feedback(conn, "a", "2024-01-15", 10, comment="Love the mugs", response_id="t:a1")
    add_feedback(conn, "b", "2024-01-15", 9, comment="Great mugs", response_id="t:b1")
    add_feedback(conn, "c", "2024-01-15", 5, comment="Slow shipping", response_id="t:c1")
    add_feedback(conn, None, "2024-01-15", 7, response_id="t:x1")
    add_feedback(conn, None, "2024-01-16", 11, response_id="t:x2")
    add_feedback(conn, "a", "2024-03-10", 3, comment="Late delivery, box broken",
                 response_id="t:a2")
    add_feedback(conn, "b", "2024-03-20", 8, comment="ok but slow", response_id="t:b2")
    add_feedback(conn, "d", "2024-03-25", 0, comment="<img src=x onerror=alert(1)>",
                 response_id="t:d1")
    add_feedback(conn, "c", "2024-04-05", 10, comment="Très bien, merci", response_id="t:c2")

    add_feedback(conn, "b", "2024-01-20", 5, kind="csat")
    add_feedback(conn, "c", "2024-01-21", 4, kind="csat")
    add_feedback(conn, "a", "2024-01-22", 2, kind="csat")
    add_feedback(conn, "a", "2024-02-01", 3, kind="csat")

    add_feedback(conn, "a", "2024-02-02", 5, kind="review", product="Mug")
    add_feedback(conn, "b", "2024-03-02", 3, kind="review", product="Mug")
    add_feedback(conn, "c", "2024-03-03", 4, kind="review", product="Teapot")
    add_feedback(conn, None, "2024-03-04", 2, kind="review")


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    build_shop(conn)
    return source.from_duckdb(conn)


def _counts(df: pd.DataFrame, cols: list[str]) -> list[tuple]:
    return [tuple(r) for r in df[cols].itertuples(index=False)]


# --- scores -----------------------------------------------------------------------------------


def test_nps_per_month_counts_every_answer(shop: source.Source) -> None:
    df = fb.nps_over_time(shop)
    assert _counts(df, ["period", "responses", "promoters", "passives", "detractors"]) == [
        ("2024-01", 4, 2, 1, 1),
        ("2024-02", 0, 0, 0, 0),
        ("2024-03", 3, 0, 1, 2),
        ("2024-04", 1, 1, 0, 0),
        ("all", 8, 3, 2, 3),
    ]
    # (2 - 1) / 4 = 25; (0 - 2) / 3 = -66.67; 1 / 1 = 100; (3 - 3) / 8 = 0
    assert df["nps"].iloc[0] == 25.0
    assert pd.isna(df["nps"].iloc[1])
    assert df["nps"].iloc[2] == pytest.approx(-66.6667, abs=1e-4)
    assert list(df["nps"].iloc[3:]) == [100.0, 0.0]
    assert df["period_start"].iloc[0] == date(2024, 1, 1)
    assert df["period_start"].iloc[-1] is None


def test_nps_change_against_the_previous_range(shop: source.Source) -> None:
    # Mar-Apr (61 days) against 2023-12-31 .. 2024-02-29 (January's answers)
    ch = fb.nps_change(shop, rng=DateRange(start=date(2024, 3, 1), end=date(2024, 5, 1)))
    # now: a 3, b 8, d 0, c 10 -> (1 - 2) / 4 = -25; before: 25 (see the monthly test)
    assert (ch.responses, ch.nps, ch.previous_responses, ch.previous_nps, ch.change) == (
        4, -25.0, 4, 25.0, -50.0)
    # both margins: p + d - (p - d)² = 0.75 - 0.0625 -> 1.96 x sqrt(0.6875 / 4) x 100 = 81.257;
    # the change's margin is sqrt(2) x 81.257 = 114.915: -50 is within the noise
    assert ch.margin_of_change == pytest.approx(114.915, abs=1e-3)
    assert not ch.is_real
    empty = fb.nps_change(shop, rng=DateRange(start=date(2024, 2, 1), end=date(2024, 3, 1)))
    assert (empty.responses, empty.nps, empty.change, empty.is_real) == (0, None, None, False)


def test_nps_group_boundaries(conn: duckdb.DuckDBPyConnection) -> None:
    for s in (0, 6, 7, 8, 9, 10):
        add_feedback(conn, None, "2024-05-05", s)
    df = fb.nps_over_time(source.from_duckdb(conn))
    assert _counts(df, ["period", "promoters", "passives", "detractors", "nps"]) == [
        ("2024-05", 2, 2, 2, 0.0),
        ("all", 2, 2, 2, 0.0),
    ]


def test_nps_by_week_in_a_range(shop: source.Source) -> None:
    df = fb.nps_over_time(shop, grain="week", rng=MARCH)
    # Mar 10 is a Sunday (week of Mar 4, W10); Mar 20 a Wednesday (W12); Mar 25 a Monday (W13)
    assert _counts(df, ["period", "responses", "detractors"]) == [
        ("2024-W09", 0, 0),
        ("2024-W10", 1, 1),
        ("2024-W11", 0, 0),
        ("2024-W12", 1, 0),
        ("2024-W13", 1, 1),
        ("all", 3, 2),
    ]


def test_periods_follow_the_store_time_zone(conn: duckdb.DuckDBPyConnection) -> None:
    # In New York: 2024-03-01 03:00 UTC is 29 Feb 22:00 (EST), 2024-04-01 02:00 UTC is 31 Mar
    # 22:00 (EDT) and 2024-11-01 03:59 UTC is 31 Oct 23:59 (EDT). In UTC months they would be
    # March, April and November.
    add_feedback(conn, None, "2024-03-01 03:00:00", 10)
    add_feedback(conn, None, "2024-04-01 02:00:00", 0)
    add_feedback(conn, None, "2024-11-01 03:59:00", 8)
    set_reporting(conn, "USD", "America/New_York")
    src = source.from_duckdb(conn)
    df = fb.nps_over_time(src, grain="quarter")
    assert _counts(df, ["period", "responses", "promoters", "detractors"]) == [
        ("2024-Q1", 2, 1, 1),
        ("2024-Q2", 0, 0, 0),
        ("2024-Q3", 0, 0, 0),
        ("2024-Q4", 1, 0, 0),
        ("all", 3, 1, 1),
    ]
    monthly = fb.nps_over_time(src, grain="month", rng=DateRange(start=date(2024, 2, 1),
                                                                  end=date(2024, 4, 1)))
    assert _counts(monthly, ["period", "responses"]) == [("2024-02", 1), ("2024-03", 1), ("all", 2)]
    by_month = fb.nps_over_time(src, grain="month")
    assert _counts(by_month[by_month["responses"] > 0], ["period", "responses"]) == [
        ("2024-02", 1), ("2024-03", 1), ("2024-10", 1), ("all", 3)]


def test_week_periods_follow_daylight_saving(conn: duckdb.DuckDBPyConnection) -> None:
    # New York left daylight saving on Sun 3 Nov 2024 at 06:00 UTC. 2024-11-04 04:30 UTC is
    # then Sun 3 Nov 23:30 EST: the week of Mon 28 Oct (2024-W44). With the summer offset it
    # would be Mon 4 Nov 00:30 (W45). 2024-11-04 05:30 UTC is Mon 00:30 EST: W45.
    add_feedback(conn, None, "2024-11-04 04:30:00", 10)
    add_feedback(conn, None, "2024-11-04 05:30:00", 0)
    set_reporting(conn, "USD", "America/New_York")
    df = fb.nps_over_time(source.from_duckdb(conn), grain="week")
    assert _counts(df, ["period", "promoters", "detractors"]) == [
        ("2024-W44", 1, 0),
        ("2024-W45", 0, 1),
        ("all", 1, 1),
    ]


def test_csat_per_month(shop: source.Source) -> None:
    df = fb.csat_over_time(shop)
    assert _counts(df, ["period", "responses", "satisfied"]) == [
        ("2024-01", 3, 2),
        ("2024-02", 1, 0),
        ("all", 4, 2),
    ]
    assert df["csat"].tolist() == pytest.approx([2 / 3, 0.0, 0.5])
    assert df["average_score"].tolist() == pytest.approx([11 / 3, 3.0, 3.5])
    # Wilson, 0 of 1: centre = half = (1.96²/2) / (1 + 1.96²) = 1.9208 / 4.8416 = 0.39673
    assert df["csat_low"].iloc[1] == 0.0
    assert df["csat_high"].iloc[1] == pytest.approx(0.79346, abs=1e-5)


def test_nps_margin_of_error_worked_example() -> None:
    # 100 answers: 50 promoters, 30 passives, 20 detractors -> NPS 30.
    # p + d - (p - d)² = 0.7 - 0.09 = 0.61; sqrt(0.61 / 100) = 0.0781025; x 1.96 x 100 = 15.308
    assert fb.nps_score(50, 20, 100) == 30.0
    assert fb.nps_margin_of_error(50, 20, 100) == pytest.approx(15.308, abs=1e-3)
    # January of the shop: p = 0.5, d = 0.25, n = 4: 0.75 - 0.0625 = 0.6875 -> 81.257
    assert fb.nps_margin_of_error(2, 1, 4) == pytest.approx(81.257, abs=1e-3)
    assert fb.nps_margin_of_error(0, 0, 0) is None


def test_csat_wilson_interval_worked_example() -> None:
    # 16 of 20 satisfied: z² = 3.8416, denominator 1 + 3.8416/20 = 1.19208,
    # centre (0.8 + 0.09604) / 1.19208 = 0.751661,
    # half 1.96 / 1.19208 x sqrt(0.008 + 0.0024010) = 1.644185 x 0.101985 = 0.167682
    low, high = fb.wilson_interval(16, 20) or (0.0, 0.0)
    assert low == pytest.approx(0.58398, abs=1e-4)
    assert high == pytest.approx(0.91934, abs=1e-4)
    assert fb.wilson_interval(0, 0) is None


def test_nps_by_country_and_cohort(shop: source.Source) -> None:
    by_country = fb.score_summary(shop, grain=None, by="country")
    assert _counts(by_country, ["group", "period", "responses", "promoters", "detractors", "nps"]) == [
        ("US", "all", 4, 2, 1, 25.0),
        ("FR", "all", 2, 1, 1, 0.0),
        ("(unknown)", "all", 1, 0, 0, 0.0),
        ("DE", "all", 1, 0, 1, -100.0),
    ]
    by_cohort = fb.score_summary(shop, grain=None, by="cohort")
    assert _counts(by_cohort, ["group", "responses", "nps"]) == [
        ("(no orders)", 2, 0.0),
        ("2023-05", 2, 50.0),
        ("2023-06", 2, 0.0),
        ("(unknown)", 1, 0.0),
        ("2024-04", 1, -100.0),
    ]


def test_nps_by_channel_per_quarter(shop: source.Source) -> None:
    df = fb.score_summary(shop, grain="quarter", by="channel")
    # ads: a (10, 3) and c (5, 10); email: b (9, 8); unknown: anonymous 7 and d (no channel) 0
    assert _counts(df, ["group", "period", "responses", "promoters", "detractors"]) == [
        ("ads", "2024-Q1", 3, 1, 2),
        ("ads", "2024-Q2", 1, 1, 0),
        ("ads", "all", 4, 2, 2),
        ("(unknown)", "2024-Q1", 2, 0, 1),
        ("(unknown)", "2024-Q2", 0, 0, 0),
        ("(unknown)", "all", 2, 0, 1),
        ("email", "2024-Q1", 2, 1, 0),
        ("email", "2024-Q2", 0, 0, 0),
        ("email", "all", 2, 1, 0),
    ]


def test_customer_list_and_own_groups(shop: source.Source) -> None:
    df = fb.nps_over_time(shop, customers=["a", "b"])
    assert _counts(df[df["period"] == "all"], ["responses", "promoters", "detractors", "nps"]) == [
        (4, 2, 1, 25.0)
    ]
    tiers = ibis.memtable({"customer_id": ["a", "b", "c"], "group": ["Gold", "Gold", "Silver"]})
    df = fb.score_summary(shop, grain=None, groups=tiers)
    assert _counts(df, ["group", "responses", "promoters", "detractors"]) == [
        ("Gold", 4, 2, 1),
        ("(unknown)", 2, 0, 1),
        ("Silver", 2, 1, 1),
    ]
    with pytest.raises(InputRefused):
        fb.score_summary(shop, by="country", groups=tiers)


def test_rfm_breakdown_puts_people_without_orders_in_unknown(shop: source.Source) -> None:
    df = fb.score_summary(shop, grain=None, by="rfm", as_of=JUNE_END)
    # c has no counted order (2 answers) and the anonymous 7: 3 answers without an RFM group
    unknown = df[df["group"] == "(unknown)"]
    assert unknown["responses"].tolist() == [3]
    assert int(df["responses"].sum()) == 8


# --- reviews ----------------------------------------------------------------------------------


def test_reviews_by_product_and_category(shop: source.Source) -> None:
    by_product = fb.review_summary(shop, by="product")
    assert _counts(by_product, ["product", "reviews", "average_rating", "reviewers"]) == [
        ("Mug", 2, 4.0, 2),
        ("(no product)", 1, 2.0, 0),
        ("Teapot", 1, 4.0, 1),
    ]
    # Mug is on two Kitchen lines and one Gifts line: Kitchen. Teapot was never sold.
    by_category = fb.review_summary(shop, by="category")
    assert _counts(by_category, ["category", "reviews", "average_rating", "reviewers"]) == [
        ("(unknown)", 2, 3.0, 1),
        ("Kitchen", 2, 4.0, 2),
    ]


# --- comments and themes ----------------------------------------------------------------------


def test_comment_list_filters_and_sentence(shop: source.Source) -> None:
    det = fb.comments(shop, fb.CommentFilter(group="detractor"))
    assert det["response_id"].tolist() == ["t:d1", "t:a2", "t:c1"]
    assert det["comment"].iloc[0] == "<img src=x onerror=alert(1)>"
    assert det["name"].fillna("-").tolist() == ["-", "Ann Lee", "-"]
    assert det["score"].tolist() == [0, 3, 5]

    slow = fb.comments(shop, fb.CommentFilter(search="SLOW"))
    assert slow["response_id"].tolist() == ["t:b2", "t:c1"]
    assert slow["nps_group"].tolist() == ["passive", "detractor"]
    assert fb.count_comments(shop, fb.CommentFilter(search="slow")) == 2
    assert fb.count_comments(shop, fb.CommentFilter(kind=None)) == 7

    flt = fb.CommentFilter(group="detractor", search=" late ", rng=MARCH)
    assert flt.sentence() == (
        'NPS comments from detractors (0-6) containing "late", 01 Mar 2024 – 31 Mar 2024'
    )
    assert fb.comments(shop, flt)["response_id"].tolist() == ["t:a2"]
    with pytest.raises(ValidationError):
        fb.CommentFilter(kind="csat", group="detractor")


def test_search_is_literal_text(conn: duckdb.DuckDBPyConnection) -> None:
    add_feedback(conn, None, "2024-05-01", 9, comment="50% off was great", response_id="t:p1")
    add_feedback(conn, None, "2024-05-02", 9, comment="500 points, o'k", response_id="t:p2")
    src = source.from_duckdb(conn)
    assert fb.comments(src, fb.CommentFilter(search="50%"))["response_id"].tolist() == ["t:p1"]
    assert fb.comments(src, fb.CommentFilter(search="o'k"))["response_id"].tolist() == ["t:p2"]
    assert fb.count_comments(src, fb.CommentFilter(search="_")) == 0


def test_comment_sentiment_english_only(shop: source.Source) -> None:
    df = fb.comments(shop, fb.CommentFilter()).set_index("response_id")
    assert df.loc["t:a1", "sentiment"] > 0.5  # "Love the mugs"
    assert df.loc["t:a2", "sentiment"] < 0  # "Late delivery, box broken"
    assert pd.isna(df.loc["t:c2", "sentiment"])  # French: not scored
    assert pd.isna(df.loc["t:d1", "sentiment"])  # markup, no words VADER knows


def test_sentiment_never_crashes_on_other_scripts() -> None:
    assert text_themes.sentiment(None) is None
    assert text_themes.sentiment("   ") is None
    assert text_themes.sentiment("配送が遅い") is None
    assert text_themes.sentiment("Доставка очень медленная") is None
    assert (text_themes.sentiment("😍😍") or 0) > 0
    assert (text_themes.sentiment("Terrible service, never again") or 0) < 0
    assert text_themes.words("Très bien, c’était GÉNIAL 10/10") == ["très", "bien", "c'était", "génial"]
    assert text_themes.words("配送が遅い。") == ["配送が遅い"]


def test_themes_on_a_tiny_corpus() -> None:
    detractors = ["Late delivery", "delivery was late again", "box arrived broken", "late and broken"]
    promoters = ["great quality", "fast delivery, great price", "great"]
    assert text_themes.terms("delivery was late again") == {"delivery", "late"}
    assert text_themes.terms("fast delivery, great price") == {
        "fast", "delivery", "great", "price", "fast delivery", "delivery great", "great price"}
    df = text_themes.distinguishing_terms(detractors, promoters)
    assert _counts(df, ["term", "count_a", "count_b"]) == [
        ("late", 3, 0),
        ("broken", 2, 0),
        ("delivery", 2, 1),
        ("great", 0, 3),
    ]
    assert df["share_a"].tolist() == [0.75, 0.5, 0.5, 0.0]
    # n_a = 12 and n_b = 11 term mentions, alpha_0 = 23; late: alpha = 3 + 0 = 3
    # ln(6 / (12 + 23 - 6)) - ln(3 / (11 + 23 - 3)) = ln(6/29) - ln(3/31) = -1.575536 + 2.335375
    # z = 0.759839 / sqrt(1/6 + 1/3) = 0.759839 / 0.707107 = 1.074576
    assert df["log_odds"].iloc[0] == pytest.approx(0.759839, abs=1e-5)
    assert df["z"].iloc[0] == pytest.approx(1.074576, abs=1e-5)
    # great: alpha = 3; ln(3 / 32) - ln(6 / 28) = -2.367124 + 1.540445 = -0.826679
    assert df["log_odds"].iloc[-1] == pytest.approx(-0.826679, abs=1e-5)
    # broken (2, 0): ln(4/31) - ln(2/32) = 0.724896, z = 0.724896 / sqrt(1/4 + 1/2) = 0.837038
    assert df["z"].iloc[1] == pytest.approx(0.837038, abs=1e-5)


def test_themes_need_two_sides() -> None:
    assert text_themes.distinguishing_terms(["late late", "late"], []).empty
    assert text_themes.distinguishing_terms(["late"], ["late"], min_comments=1).empty
    assert text_themes.distinguishing_terms([None, ""], ["great"], min_comments=1).empty


def test_comment_themes_and_changes(shop: source.Source) -> None:
    themes = fb.comment_themes(shop)
    # only "mugs" is in two comments (both promoters'); the other terms appear once
    assert _counts(themes, ["term", "detractor_comments", "promoter_comments"]) == [("mugs", 0, 2)]
    assert themes["promoter_share"].iloc[0] == pytest.approx(2 / 3)

    # Mar-Apr (61 days) against the 61 days before (2023-12-31 .. 2024-02-29)
    spring = DateRange(start=date(2024, 3, 1), end=date(2024, 5, 1))
    changes = fb.theme_changes(shop, rng=spring, min_comments=1).set_index("term")
    assert (changes.loc["late", "now_comments"], changes.loc["late", "before_comments"]) == (1, 0)
    assert (changes.loc["slow", "now_comments"], changes.loc["slow", "before_comments"]) == (0, 1)
    assert changes.loc["late", "z"] > 0 > changes.loc["slow", "z"]


# --- behaviour --------------------------------------------------------------------------------


def test_behaviour_of_promoters_passives_detractors(shop: source.Source) -> None:
    df = fb.behaviour_by_group(shop, as_of=JUNE_END)
    # latest answers by 30 Jun: a 3 (D), b 8 (Pa), c 10 (P), d 0 (D)
    # 12 months = 2023-07-01 .. 2024-06-30; a's 2023-06-30 order is before it
    assert pd.isna(df["repeat_purchase_rate"].iloc[0])  # no promoter has ordered
    assert df.drop(columns="repeat_purchase_rate").to_dict("records") == [
        {"nps_group": "promoter", "customers": 1, "customers_with_orders": 0, "orders": 0, "orders_per_customer": 0.0,
         "lifetime_revenue": Decimal("0.00"), "historical_clv": Decimal("0.00"),
         "revenue_12m": Decimal("0.00")},
        {"nps_group": "passive", "customers": 1, "customers_with_orders": 1,
         "orders": 2, "orders_per_customer": 2.0,
         "lifetime_revenue": Decimal("280.00"), "historical_clv": Decimal("280.00"),
         "revenue_12m": Decimal("80.00")},
        {"nps_group": "detractor", "customers": 2, "customers_with_orders": 2,
         "orders": 4, "orders_per_customer": 2.0,
         "lifetime_revenue": Decimal("175.00"), "historical_clv": Decimal("87.50"),
         "revenue_12m": Decimal("150.00")},
    ]
    assert df["repeat_purchase_rate"].tolist()[1:] == [1.0, 0.5]


def test_revenue_at_risk(shop: source.Source) -> None:
    # a (100 + 50 in the window; the cancelled and the July order do not count) + d (EUR only)
    assert fb.revenue_at_risk(shop, as_of=JUNE_END) == Decimal("150.00")
    # on 15 Mar: a (latest 3) and c (latest 5) are detractors; window 2023-03-16 .. 2024-03-15
    # a: 25 + 100 + 50; c: no orders
    assert fb.revenue_at_risk(shop, as_of=date(2024, 3, 15)) == Decimal("175.00")
    # before anybody answered
    assert fb.revenue_at_risk(shop, as_of=date(2023, 12, 31)) == Decimal("0.00")


def test_value_window() -> None:
    assert fb.value_window(date(2024, 6, 30)) == DateRange(start=date(2023, 7, 1), end=date(2024, 7, 1))
    assert fb.value_window(date(2024, 2, 29)) == DateRange(start=date(2023, 3, 1), end=date(2024, 3, 1))


# --- follow-up --------------------------------------------------------------------------------


def test_followup_list_and_marks_persist(tmp_path: Path) -> None:
    db = tmp_path / "f.duckdb"
    with store.open_db(db) as conn:
        build_shop(conn)
        src = source.from_duckdb(conn)
        df = followup_list(src, conn, as_of=JUNE_END)
        assert _counts(df, ["response_id", "customer_id", "score", "orders", "lifetime_revenue",
                            "revenue_12m", "status"]) == [
            ("t:d1", "d", 0, 1, Decimal("0.00"), Decimal("0.00"), "open"),
            ("t:a2", "a", 3, 3, Decimal("175.00"), Decimal("150.00"), "open"),
        ]
        version = store.data_version(conn)
        mark_followup(conn, "t:a2", "contacted", note="Called; voucher sent", actor="maria")
        assert store.data_version(conn) == version + 1
    with store.open_db(db) as conn:
        src = source.from_duckdb(conn)
        df = followup_list(src, conn, as_of=JUNE_END).set_index("response_id")
        assert (df.loc["t:a2", "status"], df.loc["t:a2", "note"], df.loc["t:a2", "updated_by"]) == (
            "contacted", "Called; voucher sent", "maria")
        assert df.loc["t:d1", "status"] == "open"
        mark_followup(conn, "t:a2", "resolved", note="Happy again")
        assert followup_list(src, conn, as_of=JUNE_END, status="resolved")["response_id"].tolist() == [
            "t:a2"]
        assert followup_list(src, conn, as_of=JUNE_END, status="open")["response_id"].tolist() == [
            "t:d1"]
        assert followup_list(src, conn, as_of=JUNE_END, limit=1, offset=1)["response_id"].tolist() == [
            "t:a2"]
        assert followup_counts(src, conn, as_of=JUNE_END) == {"open": 1, "contacted": 0, "resolved": 1}
        audit = conn.execute(
            "SELECT actor, action, detail FROM audit_log WHERE action LIKE 'feedback%' "
            "ORDER BY logged_at"
        ).fetchall()
        assert audit == [
            ("maria", "feedback follow-up contacted", "answer t:a2 (with a note)"),
            ("local", "feedback follow-up resolved", "answer t:a2 (with a note)"),
        ]


def test_followup_marks_refuse_bad_input(conn: duckdb.DuckDBPyConnection) -> None:
    build_shop(conn)
    with pytest.raises(InputRefused, match="not a follow-up status"):
        mark_followup(conn, "t:a2", "ignored")
    with pytest.raises(InputRefused, match="no answer with id"):
        mark_followup(conn, "t:nope", "contacted")
    with pytest.raises(InputRefused, match="characters long"):
        mark_followup(conn, "t:a2", "contacted", note="x" * 2001)
    assert store.scalar(conn, "SELECT count(*) FROM feedback_followups") == 0


def test_followup_csv_neutralises_formulas(shop: source.Source, conn: duckdb.DuckDBPyConnection) -> None:
    assert [neutralise_cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok", -2)] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "ok", -2]
    mark_followup(conn, "t:d1", "contacted", note='=HYPERLINK("http://evil.example","x")')
    text = followups_csv(followup_list(shop, conn, as_of=JUNE_END), conn=conn)
    lines = text.splitlines()
    assert lines[0] == ("response_id,answered_at,score,comment,customer_id,email,name,orders,"
                        "lifetime_revenue,revenue_12m,status,note,updated_by,updated_at")
    assert lines[1].startswith("t:d1,2024-03-25 12:00:00,0,<img src=x onerror=alert(1)>,d,"
                               "d@example.com,,1,0.00,0.00,contacted,"
                               "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",local,")
    assert lines[2] == ("t:a2,2024-03-10 12:00:00,3,\"Late delivery, box broken\",a,a@example.com,"
                        "Ann Lee,3,175.00,150.00,open,,,")


# --- CLI --------------------------------------------------------------------------------------


def test_cli_report_nps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.duckdb"
    with store.open_db(db) as conn:
        build_shop(conn)
    assert cli.main(["--db", str(db), "report", "nps"]) == 0
    assert capsys.readouterr().out == (
        "period,responses,promoters,passives,detractors,nps\n"
        "2024-01,4,2,1,1,25.0\n"
        "2024-02,0,0,0,0,\n"
        "2024-03,3,0,1,2,-66.7\n"
        "2024-04,1,1,0,0,100.0\n"
        "all,8,3,2,3,0.0\n"
    )
    assert cli.main(["--db", str(db), "report", "nps", "--grain", "quarter", "--format", "json"]) == 0
    # Q1: 7 answers, 2 promoters, 3 detractors -> -14.29
    assert json.loads(capsys.readouterr().out) == [
        {"period": "2024-Q1", "responses": 7, "promoters": 2, "passives": 2, "detractors": 3,
         "nps": -14.3},
        {"period": "2024-Q2", "responses": 1, "promoters": 1, "passives": 0, "detractors": 0,
         "nps": 100.0},
        {"period": "all", "responses": 8, "promoters": 3, "passives": 2, "detractors": 3,
         "nps": 0.0},
    ]
    assert cli.main(["--db", str(db), "report", "nps", "--start", "2024-03-01"]) == 0
    assert capsys.readouterr().out == (
        "period,responses,promoters,passives,detractors,nps\n"
        "2024-03,3,0,1,2,-66.7\n"
        "2024-04,1,1,0,0,100.0\n"
        "all,4,1,1,2,-25.0\n"
    )


def test_cli_report_nps_on_an_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--db", str(tmp_path / "empty.duckdb"), "report", "nps"]) == 0
    assert capsys.readouterr().out == (
        "period,responses,promoters,passives,detractors,nps\nall,0,0,0,0,\n"
    )
