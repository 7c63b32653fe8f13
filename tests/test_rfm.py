"""RFM on a hand-built shop of 12 customers, with every value, rank and score worked out below."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from relmark_core import cli, source, store
from relmark_core.errors import InputRefused
from relmark_core.metrics import rfm
from relmark_core.metrics.definitions import definition
from relmark_core.metrics.rfm import DEFAULT_GROUPS, RfmGroup
from tests.builders import add_customer, add_order, order

AS_OF = date(2024, 7, 1)


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    """Twelve customers with counted orders before 2024-07-01, two without.

    Values at as-of 2024-07-01 (recency = days from the last counted order's UTC date):

        id   last order   recency  F  M    | R rank  F rank  M rank | R F M | group
        c01  2024-06-30         1  6  600  |   11      12      11   | 5 5 5 | Champions
        c02  2024-06-30         1  4  400  |   11       9       9   | 5 4 4 | Champions
        c03  2024-06-21        10  4  400  |    9       9       9   | 4 4 4 | Loyal
        c04  2024-06-21        10  2  150  |    9       5       6   | 4 2 3 | Potential loyalists
        c05  2024-06-01        30  2  150  |    7       5       6   | 3 2 3 | About to sleep
        c06  2024-06-01        30  1   80  |    7       1       4   | 3 1 2 | About to sleep
        c07  2024-05-02        60  1   80  |    6       1       4   | 3 1 2 | About to sleep
        c08  2024-04-02        90  3  300  |    4       8       8   | 2 3 3 | At risk
        c09  2024-04-02        90  1   20  |    4       1       1   | 2 1 1 | Hibernating
        c10  2024-01-03       180  5  900  |    2      11      12   | 1 5 5 | Can't lose
        c11  2024-01-03       180  2   20  |    2       5       1   | 1 2 1 | Lost
        c12  2023-07-02       365  1   50  |    1       1       3   | 1 1 1 | Lost

    Ranks are RANK() (ties share the lowest), descending by recency, ascending by F and M;
    n = 12, score = 1 + floor(5 × (rank − 1) / 12): rank 1–3 → 1, 4–5 → 2, 6–8 → 3,
    9–10 → 4, 11–12 → 5. Traps: c06's later, fully refunded order does not count (else its
    recency would be 6 and F 2); c07's order on the as-of date is ignored; c08's partly refunded
    order counts at its net 100; c11's EUR order sets recency and F but adds nothing to M;
    c12's cancelled order and a guest order (no customer) are ignored; c13 has only a refunded
    order and c14 none, so neither is scored.
    """
    add_customer(conn, "c01", orders=[order(f"2024-0{m}-10", 100) for m in range(1, 6)]
                 + [order("2024-06-30 00:00:01", 100)])
    add_customer(conn, "c02", orders=[order(f"2024-0{m}-10", 100) for m in range(1, 4)]
                 + [order("2024-06-30 23:59:59", 100)])
    add_customer(conn, "c03", orders=[order(f"2024-0{m}-10", 100) for m in range(1, 4)]
                 + [order("2024-06-21", 100)])
    add_customer(conn, "c04", orders=[order("2024-02-01", 100), order("2024-06-21", 50)])
    add_customer(conn, "c05", orders=[order("2024-03-01", 75), order("2024-06-01", 75)])
    add_customer(conn, "c06", orders=[order("2024-06-01", 80),
                                      order("2024-06-25", 70, refunds=70, status="refunded")])
    add_customer(conn, "c07", orders=[order("2024-05-02", 80),
                                      order("2024-07-01 00:00:00", 999)])
    add_customer(conn, "c08", orders=[order("2024-02-02", 100), order("2024-03-02", 100),
                                      order("2024-04-02", 120, refunds=20)])
    add_customer(conn, "c09", orders=[order("2024-04-02", 20)])
    add_customer(conn, "c10", orders=[order(f"2023-{m:02d}-03", 180) for m in range(9, 13)]
                 + [order("2024-01-03", 180)])
    add_customer(conn, "c11", orders=[order("2023-12-01", 20),
                                      order("2024-01-03", 500, currency="EUR")])
    add_customer(conn, "c12", orders=[order("2023-07-02", 50),
                                      order("2024-06-15", 60, status="cancelled")])
    add_customer(conn, "c13", orders=[order("2024-06-20", 40, refunds=40, status="refunded")])
    add_customer(conn, "c14")
    add_order(conn, None, order("2024-06-30", 35))


EXPECTED = [
    # customer_id, recency_days, frequency, monetary, r, f, m, group
    ("c01", 1, 6, 600.0, 5, 5, 5, "Champions"),
    ("c02", 1, 4, 400.0, 5, 4, 4, "Champions"),
    ("c03", 10, 4, 400.0, 4, 4, 4, "Loyal"),
    ("c04", 10, 2, 150.0, 4, 2, 3, "Potential loyalists"),
    ("c05", 30, 2, 150.0, 3, 2, 3, "About to sleep"),
    ("c06", 30, 1, 80.0, 3, 1, 2, "About to sleep"),
    ("c07", 60, 1, 80.0, 3, 1, 2, "About to sleep"),
    ("c08", 90, 3, 300.0, 2, 3, 3, "At risk"),
    ("c09", 90, 1, 20.0, 2, 1, 1, "Hibernating"),
    ("c10", 180, 5, 900.0, 1, 5, 5, "Can't lose"),
    ("c11", 180, 2, 20.0, 1, 2, 1, "Lost"),
    ("c12", 365, 1, 50.0, 1, 1, 1, "Lost"),
]


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> source.Source:
    build_shop(conn)
    return source.from_duckdb(conn)


def test_values_scores_and_groups(shop: source.Source) -> None:
    df = rfm.rfm_table(shop, as_of=AS_OF)
    assert list(df.columns) == list(rfm.RFM_COLUMNS)
    got = [
        (r.customer_id, r.recency_days, r.frequency, r.monetary, r.r, r.f, r.m, r.group)
        for r in df.itertuples()
    ]
    assert got == EXPECTED
    assert df.loc[df.customer_id == "c01", "email"].item() == "c01@example.com"


def test_reason_sentences(shop: source.Source) -> None:
    df = rfm.rfm_table(shop, as_of=AS_OF).set_index("customer_id")
    assert df.loc["c02", "reason"] == "R5 F4 M4 → Champions: last order 1 day ago, 4 orders, $400"
    assert df.loc["c06", "reason"] == (
        "R3 F1 M2 → About to sleep: last order 30 days ago, 1 order, $80"
    )
    assert df.loc["c10", "reason"] == "R1 F5 M5 → Can't lose: last order 180 days ago, 5 orders, $900"


def test_default_as_of_is_the_day_after_the_last_counted_order(shop: source.Source) -> None:
    # c07's order at 2024-07-01 00:00 is the last counted one (the guest order is 06-30)
    assert rfm.default_as_of(shop) == date(2024, 7, 2)
    df = rfm.rfm_table(shop).set_index("customer_id")
    assert (df.loc["c07", "recency_days"], df.loc["c07", "frequency"],
            df.loc["c07", "monetary"]) == (1, 2, 1079.0)
    assert len(df) == 12


def test_orders_before_as_of_only(shop: source.Source) -> None:
    # at 2024-04-01 only orders of March and earlier count: c01, c02, c03 (3 orders each by
    # 03-10), c04 (1), c05 (1), c08 (2), c10 (5), c11 (2: USD in December, EUR in January),
    # c12 (1)
    df = rfm.rfm_table(shop, as_of=date(2024, 4, 1))
    assert list(df.customer_id) == ["c01", "c02", "c03", "c04", "c05", "c08", "c10", "c11", "c12"]
    assert df.set_index("customer_id").loc["c11", "frequency"] == 2


def test_money_in_the_reason(conn: duckdb.DuckDBPyConnection) -> None:
    amounts = {"a": "1234567.05", "b": "1000", "c": "0.50", "d": "12.30", "e": "999.99",
               "f": "1000000", "g": "1002003004.01"}
    for cid, total in amounts.items():
        add_customer(conn, cid, orders=[order("2024-01-01", total)])
    add_customer(conn, "h", orders=[order("2024-01-01", 5, currency="EUR")])
    df = rfm.rfm_table(source.from_duckdb(conn), as_of=date(2024, 1, 2))
    money = {r.customer_id: r.reason.rsplit(", ", 1)[1] for r in df.itertuples()}
    assert money == {"a": "$1,234,567.05", "b": "$1,000", "c": "$0.50", "d": "$12.30",
                     "e": "$999.99", "f": "$1,000,000", "g": "$1,002,003,004.01", "h": "$0"}
    assert rfm.money_text(1234567.05, "USD") == "$1,234,567.05"
    assert rfm.money_text(640, "EUR") == "€640"
    assert rfm.money_text(12.5, "CHF") == "12.50 CHF"


def test_unknown_currency_reason_and_unmatched_customers(conn: duckdb.DuckDBPyConnection) -> None:
    store.set_setting(conn, "reporting_currency", "CHF")
    add_customer(conn, "a", orders=[order("2024-01-01", 12.5, currency="CHF")])
    groups = (RfmGroup(name="Top", r_min=5, r_max=5, f_min=5, f_max=5, m_min=5, m_max=5),)
    df = rfm.rfm_table(source.from_duckdb(conn), as_of=date(2024, 1, 2), groups=groups)
    # a lone customer has rank 1 of 1 everywhere: scores 1
    assert df["group"].isna().all()
    assert df.reason.item() == "R1 F1 M1 → no group: last order 1 day ago, 1 order, 12.50 CHF"


def test_grid(shop: source.Source) -> None:
    grid = rfm.rfm_grid(shop, as_of=AS_OF)
    assert len(grid) == 25
    cells = {(r.r, r.f): (r.customers, r.revenue) for r in grid.itertuples()}
    assert cells[(5, 5)] == (1, 600.0)
    assert cells[(5, 4)] == (1, 400.0)
    assert cells[(3, 1)] == (2, 160.0)
    assert cells[(1, 1)] == (1, 50.0)
    assert cells[(4, 5)] == (0, 0.0)
    assert sum(c for c, _ in cells.values()) == 12
    with_m = {(r.r, r.f): r.customers for r in rfm.rfm_grid(shop, as_of=AS_OF, m_min=2).itertuples()}
    assert (with_m[(3, 1)], with_m[(2, 1)], with_m[(1, 1)]) == (2, 0, 0)
    assert sum(with_m.values()) == 9  # c09, c11, c12 have M1


def test_unused_scores_warning(shop: source.Source) -> None:
    assert rfm.unused_scores_warning(rfm.rfm_grid(shop, as_of=AS_OF)) is None
    # another store: three one-time buyers (F rank 1 → F1) and two with two orders (rank 4 of
    # 5 → 1 + floor(5 × 3 / 5) = F4); last orders on five different days give R 1–5.
    with store.open_db(":memory:") as other:
        for i, n in enumerate([1, 1, 1, 2, 2], start=1):
            add_customer(other, f"x{i}", orders=[order(f"2024-01-0{i}", 10)] * n)
        grid = rfm.rfm_grid(source.from_duckdb(other), as_of=date(2024, 2, 1))
        assert rfm.unused_scores_warning(grid) == (
            "No customer has F 2, F 3 or F 5. Customers tied on a value share a score (the lowest "
            "of their places), so when many are tied, most often one-time buyers, the scores "
            "their places span are skipped. Groups that rely only on those scores stay empty: "
            "widen them to neighbouring scores."
        )
        empty = rfm.rfm_grid(source.from_duckdb(other), as_of=date(2023, 1, 1))
        assert rfm.unused_scores_warning(empty) is None


def test_group_summary(shop: source.Source) -> None:
    s = rfm.rfm_group_summary(shop, as_of=AS_OF).set_index("group")
    assert list(s.index) == [g.name for g in DEFAULT_GROUPS]
    total = 3150.0  # 600+400+400+150+150+80+80+300+20+900+20+50
    champ = s.loc["Champions"]
    assert (champ.customers, champ.revenue, champ.aov, champ.median_days_since_last_order) == (
        2, 1000.0, 100.0, 1.0)
    assert champ.share == pytest.approx(2 / 12)
    assert champ.revenue_share == pytest.approx(1000 / total)
    sleep = s.loc["About to sleep"]
    assert (sleep.customers, sleep.revenue, sleep.aov, sleep.median_days_since_last_order) == (
        3, 310.0, 77.5, 30.0)
    lost = s.loc["Lost"]  # c11's EUR order is not a USD order: AOV = 70 / 2
    assert (lost.customers, lost.revenue, lost.aov, lost.median_days_since_last_order) == (
        2, 70.0, 35.0, 272.5)
    new = s.loc["New"]
    assert (new.customers, new.revenue) == (0, 0.0)
    assert pd.isna(new.aov) and pd.isna(new.median_days_since_last_order)
    assert champ.rule == "R 5, F 4–5, any M"
    assert rfm.unmatched_warning(s.reset_index()) is None


def test_unmatched_customers_warning(shop: source.Source) -> None:
    groups = (RfmGroup(name="Recent", r_min=4, description="d", action="a"),)
    s = rfm.rfm_group_summary(shop, as_of=AS_OF, groups=groups)
    assert list(s.group) == ["Recent", rfm.NO_GROUP]
    assert list(s.customers) == [4, 8]
    assert rfm.unmatched_warning(s) == (
        "8 customers match no group (66.7% of customers with orders). Widen a group, or add a "
        "last group with any R, F and M to catch them."
    )


def test_default_groups_cover_every_score_once() -> None:
    assert rfm.rfm_check_groups(DEFAULT_GROUPS) == []
    assert len(DEFAULT_GROUPS) == 11
    for r in range(1, 6):
        for f in range(1, 6):
            assert sum(g.matches(r, f, 3) for g in DEFAULT_GROUPS) == 1


def test_group_checks_in_words() -> None:
    everyone = RfmGroup(name="Everyone")
    champs = RfmGroup(name="Champions", r_min=5)
    odd = RfmGroup(name="Odd", r_min=4, r_max=2)
    assert rfm.rfm_check_groups([everyone, champs, odd]) == [
        "“Champions” can never match: every score it covers (R 5, any F, any M) is already "
        "taken by an earlier group, “Everyone”. Move it up or narrow the groups above it.",
        "“Odd” can never match: its R range 4–2 is empty (the lower score is above the upper).",
    ]
    two = [RfmGroup(name="A", r_max=2), RfmGroup(name="B", r_min=3, r_max=3),
           RfmGroup(name="C", r_max=3, f_min=2)]
    assert rfm.rfm_check_groups(two)[0].startswith(
        "“C” can never match: every score it covers (R 1–3, F 2–5, any M) is already taken by "
        "earlier groups, “A” and “B”."
    )
    assert rfm.rfm_check_groups([RfmGroup(name="Recent", r_min=3)]) == [
        "10 R×F cells (R1 F1, R1 F2, R1 F3, R1 F4, R1 F5, R2 F1 …) match no group, so customers "
        "with those scores get none. Widen a group, or add a last group with any R, F and M to "
        "catch the rest."
    ]
    assert rfm.rfm_check_groups([RfmGroup(name="Big", m_min=2)])[0].startswith(
        "25 score combinations (R1 F1 M1, R1 F2 M1, R1 F3 M1, R1 F4 M1, R1 F5 M1, R2 F1 M1 …) "
        "match no group"
    )
    assert rfm.rfm_check_groups([everyone, RfmGroup(name="Everyone", r_min=2)])[0] == (
        "Group 2 repeats the name “Everyone”. Give each group its own name."
    )
    assert rfm.rfm_check_groups([]) == [
        "There are no groups, so no customer gets one. Add a group or reset to defaults."
    ]


def test_first_matching_group_wins(shop: source.Source) -> None:
    groups = (RfmGroup(name="Frequent", f_min=4), RfmGroup(name="Recent", r_min=5),
              RfmGroup(name="Rest"))
    df = rfm.rfm_table(shop, as_of=AS_OF).set_index("customer_id")
    df2 = rfm.rfm_table(shop, as_of=AS_OF, groups=groups).set_index("customer_id")
    assert df.loc["c01", "group"] == "Champions"
    # c01 (R5 F5) and c02 (R5 F4) are frequent before they are recent; c04 (R4 F2) is the rest
    assert (df2.loc["c01", "group"], df2.loc["c02", "group"], df2.loc["c04", "group"]) == (
        "Frequent", "Frequent", "Rest")


def test_groups_from_records_refuse_bad_rows_in_words() -> None:
    rows = rfm.groups_to_frame(DEFAULT_GROUPS).to_dict("records")
    assert rfm.groups_from_records(rows) == DEFAULT_GROUPS
    bad = [dict(rows[0]), dict(rows[1], r_max=7)]
    with pytest.raises(InputRefused, match=r"Group row 2 \(“Loyal”\), column r_max: '7' is not a "
                       r"score. Scores are whole numbers from 1 to 5."):
        rfm.groups_from_records(bad)
    with pytest.raises(InputRefused, match="Group row 1: the name is empty"):
        rfm.groups_from_records([dict(rows[0], name="  ")])
    with pytest.raises(InputRefused, match="Two groups are called “Loyal”"):
        rfm.groups_from_records([rows[1], rows[1]])
    # an empty score cell means the full range
    g = rfm.groups_from_records([{"name": "All", "r_min": None, "f_max": float("nan")}])
    assert g == (RfmGroup(name="All"),)


def test_save_load_and_reset_groups(conn: duckdb.DuckDBPyConnection) -> None:
    assert rfm.load_groups(conn) == DEFAULT_GROUPS
    mine = (RfmGroup(name="VIP", description="best", action="thank", m_min=5),
            RfmGroup(name="Everyone else"))
    before = store.data_version(conn)
    rfm.save_groups(conn, mine, actor="maria")
    assert rfm.load_groups(conn) == mine
    assert store.data_version(conn) == before + 1
    rfm.reset_groups(conn, actor="maria")
    assert rfm.load_groups(conn) == DEFAULT_GROUPS
    assert store.data_version(conn) == before + 2
    log = conn.execute("SELECT actor, action, detail FROM audit_log ORDER BY logged_at").fetchall()
    assert log[-2:] == [
        ("maria", "rfm groups saved", "VIP: any R, any F, M 5; Everyone else: any R, any F, any M"),
        ("maria", "rfm groups reset", "back to the default groups"),
    ]
    with pytest.raises(InputRefused, match="Keep at least one group"):
        rfm.save_groups(conn, [])
    with pytest.raises(InputRefused, match="Two groups are called “VIP”"):
        rfm.save_groups(conn, [mine[0], mine[0]])
    assert rfm.load_groups(conn) == DEFAULT_GROUPS  # refused saves changed nothing


def test_definitions_state_the_score_formula() -> None:
    for key in ("r_score", "f_score", "m_score"):
        assert "1 + floor(5 × (rank − 1) ÷ n)" in definition(key).help
        assert "RANK()" in definition(key).help
    assert "other currencies count toward orders" in definition("monetary").help


def _cli_shop(path: Path) -> None:
    with store.open_db(path) as c:
        build_shop(c)


def test_cli_report_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "shop.duckdb"
    _cli_shop(db)
    code = cli.main(["--db", str(db), "report", "rfm", "--as-of", "2024-07-01"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "customer_id,email,recency_days,frequency,monetary,r,f,m,group"
    assert out[1] == "c01,c01@example.com,1,6,600.0,5,5,5,Champions"
    assert out[10] == "c10,c10@example.com,180,5,900.0,1,5,5,Can't lose"
    assert len(out) == 13


def test_cli_report_json_default_as_of_and_saved_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "shop.duckdb"
    _cli_shop(db)
    with store.open_db(db) as c:
        rfm.save_groups(c, [RfmGroup(name="Recent", r_min=5)])
    assert cli.main(["--db", str(db), "report", "rfm", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 12
    assert rows[6] == {"customer_id": "c07", "email": "c07@example.com", "recency_days": 1,
                       "frequency": 2, "monetary": 1079.0, "r": 5, "f": 2, "m": 5,
                       "group": "Recent"}
    assert rows[11]["group"] is None


def test_cli_report_refuses_a_bad_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "shop.duckdb"
    _cli_shop(db)
    assert cli.main(["--db", str(db), "report", "rfm", "--as-of", "July"]) == 3
    assert "The --as-of date 'July' is not a date" in capsys.readouterr().err


def test_empty_shop(src: source.Source) -> None:
    assert rfm.default_as_of(src) is None
    assert list(rfm.rfm_table(src).columns) == list(rfm.RFM_COLUMNS)
    assert len(rfm.rfm_table(src)) == 0
    assert rfm.rfm_grid(src).customers.sum() == 0
    s = rfm.rfm_group_summary(src)
    assert list(s.customers) == [0] * 11


def test_group_expression_computes_only_the_scores_the_rules_use(shop: source.Source) -> None:
    # Scores from the table in build_shop. "Big spenders" narrows M only (M 4-5: c01 c02 c03
    # c10); "Recent" narrows R only (R 5: c01 c02, both already taken, so nobody); "Repeat"
    # narrows F (F 2-3: c04 c05 c08 c11); "Everyone" narrows nothing: c06 c07 c09 c12.
    groups = [
        RfmGroup(name="Big spenders", m_min=4),
        RfmGroup(name="Recent", r_min=5),
        RfmGroup(name="Repeat", f_min=2, f_max=3),
        RfmGroup(name="Everyone"),
    ]
    assert rfm._scores_used(groups) == ("r", "f", "m")
    assert rfm._scores_used(DEFAULT_GROUPS) == ("r", "f")
    assert rfm._scores_used([RfmGroup(name="Everyone")]) == ()
    t = rfm.rfm_group_expr(shop, as_of=AS_OF, groups=groups)
    got = dict(shop.execute(t.order_by("customer_id")).itertuples(index=False, name=None))
    assert got == {
        "c01": "Big spenders", "c02": "Big spenders", "c03": "Big spenders",
        "c04": "Repeat", "c05": "Repeat", "c06": "Everyone", "c07": "Everyone",
        "c08": "Repeat", "c09": "Everyone", "c10": "Big spenders", "c11": "Repeat",
        "c12": "Everyone",
    }
    # The default groups leave M out and give every customer the group the full table gives.
    lean = rfm.rfm_group_expr(shop, as_of=AS_OF)
    assert dict(shop.execute(lean).itertuples(index=False, name=None)) == {
        row[0]: row[7] for row in EXPECTED
    }
    everyone = rfm.rfm_group_expr(shop, as_of=AS_OF, groups=[RfmGroup(name="Everyone")])
    assert sorted(shop.execute(everyone)["group"]) == ["Everyone"] * 12
