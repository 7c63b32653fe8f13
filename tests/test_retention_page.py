"""AppTest for the Retention page: every section on the demo data, and literal heatmaps, cell
customers, churn figures and a model fit on the hand-built shop of ``tests/test_retention.py``.

That shop, as of 15 April 2024 (April is the incomplete current month); months with a counted
order per customer: a {Jan, Feb, Apr}, b {Jan}, c {Jan, Mar}, d {Feb, Mar}, e {Feb, Apr (EUR)},
f {Mar 31, Apr 1}, h {Apr}, i {Mar} (its April order is after the as-of date).

Cohorts (month of first counted order): Jan = a, b, c (3); Feb = d, e (2); Mar = f, i (2);
Apr = h (1). "On" shares: Jan 3/3, 1/3 (a), 1/3 (c), April so far 1/3 (a); Feb 2/2, 1/2 (d),
April so far 1/2 (e); Mar 2/2, April so far 1/2 (f); Apr 1/1 so far. "On or after": Jan period 1
and 2 = 2/3 (a, c), Feb period 1 = 2/2. Quarters: Q1 = a b c d e f i (7), Q2 so far 3/7 (a e f);
Q2 = h (1).

Churn with N = 30 days (spells of order days no more than 30 days apart, silence completing
30 days after a spell's last day):

    a  Jan 5 -> Feb 4 | Feb 10 -> Mar 11 | Apr 2 -> (May 2)    b  Jan 20 -> Feb 19
    c  Jan 25 -> Feb 24 | Mar 15 -> Apr 14                       d  Feb 1 .. Mar 10 -> Apr 9
    e  Feb 14 -> Mar 15 | Apr 10 -> (May 10)                     f  Mar 31 .. Apr 1 -> (May 1)
    h  Apr 5 -> (May 5)                                          i  Mar 20 -> (Apr 19, after 15th)

Active at the start / churned: Feb 3 (a b c) / 3 (a b c); Mar 3 (a d e) / 2 (a e);
Apr 4 (c d f i) / 2 (c d). Overdue: f (usual gap 1 day, silent 14 days > 2 x 1, < 30).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from relmark_core import source, store
from relmark_core.metrics.retention import CohortFilterChoices, cohort_filter_choices
from relmark_core.segments import save_segment
from tests.apptest import open_page, problems
from tests.builders import set_reporting
from tests.test_retention import build_shop

PAGE = "pages/retention.py"
AS_OF = "2024-04-15"


@pytest.fixture
def shop_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "shop.duckdb"
    with store.open_db(path) as conn:
        set_reporting(conn, "USD")
        build_shop(conn)
        store.set_meta(conn, "initialised", "1")  # not a first start: no demo shop is loaded
    monkeypatch.setenv("RELMARK_DB", str(path))
    yield path


def _open(query: dict[str, str] | None = None) -> AppTest:
    at = open_page(PAGE, {"as_of": AS_OF, **(query or {})})
    assert problems(at) == []
    return at


def _figure(at: AppTest, key: str) -> dict[str, Any]:
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1, f"no chart {key}"
    return json.loads(charts[0].proto.spec)  # type: ignore[no-any-return]


def _heatmap(at: AppTest) -> tuple[list[str], list[list[str]], dict[tuple[str, int], str]]:
    """(row labels, the coloured cells' texts, the hatched (incomplete) cells' texts)."""
    fig = _figure(at, "ret_heatmap")
    heat = next(t for t in fig["data"] if t["type"] == "heatmap")
    cells = next(t for t in fig["data"] if t.get("name") == "cells")
    running = {
        (c, int(k)): text
        for (c, k), text in zip(cells["customdata"], cells["text"], strict=True)
        if text
    }
    return fig["layout"]["yaxis"]["ticktext"], heat["text"], running


def _numbers(values: Any) -> list[float]:
    """A plotly number array as a list (plotly sends numpy arrays base64-encoded)."""
    if isinstance(values, dict):
        return [float(v) for v in np.frombuffer(base64.b64decode(values["bdata"]),
                                                dtype=values["dtype"])]
    return [float(v) for v in values]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _query(at: AppTest, name: str) -> str:
    value = at.query_params[name]
    return value[0] if isinstance(value, list) else value  # type: ignore[no-any-return]


def _table(at: AppTest, column: str) -> Any:
    tables = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(tables) == 1
    return tables[0]


# --- demo data ----------------------------------------------------------------------------------


def test_cohort_section_renders_on_demo_data(app_db: Path) -> None:
    at = open_page(PAGE)
    assert problems(at) == []
    assert at.radio(key="ret_tab").value == "cohorts"
    labels, texts, running = _heatmap(at)
    assert len(labels) == 24  # the last 24 monthly cohorts by default (the demo spans 30)
    assert all(row[0] == "100%" for row in texts[:-1])  # everyone orders in their period 0
    assert running  # the current month is hatched
    assert list(_metrics(at)) == ["Customers in these cohorts",
                                  "Period-1 retention (weighted average)",
                                  "Period-3 retention (weighted average)"]
    assert all(m.help for m in at.metric)
    for key in ("ret_curves", "ret_trend"):
        assert _figure(at, key)["data"]


def test_churn_section_renders_on_demo_data(app_db: Path) -> None:
    at = open_page(PAGE, {"tab": "churn"})
    assert problems(at) == []
    days = at.number_input(key="ret_churn_days").value
    # prefilled with the suggestion, and the suggestion is said in words
    assert any(f"Suggested: {days} days." in c.value for c in at.caption)
    assert list(_metrics(at))[1:] == ["Active at its start", "Churned in it", "Overdue now"]
    assert all(m.help for m in at.metric)
    assert _figure(at, "ret_churn_chart")["data"]
    assert "usual_gap_days" in _table(at, "usual_gap_days").columns


def test_value_section_fits_on_demo_data(app_db: Path) -> None:
    at = open_page(PAGE, {"tab": "value"})
    assert problems(at) == []
    assert _figure(at, "ret_history")["data"]
    assert not any(c.proto.id.endswith("-ret_tracking") for c in at.get("plotly_chart"))
    at.button(key="ret_fit").click().run()
    assert problems(at) == []
    top = _table(at, "p_alive")
    assert len(top) == 50
    assert top["p_alive"].between(0, 100).all()  # shown in percent
    assert (top["expected_value"].diff().dropna() <= 0).all()  # largest first
    assert {"Holdout total error", "Holdout error per customer"} <= set(_metrics(at))
    assert _figure(at, "ret_tracking")["data"] and _figure(at, "ret_frequency")["data"]
    # another horizon refits without another click
    at.selectbox(key="ret_horizon").set_value(90).run()
    assert problems(at) == []
    assert _query(at, "horizon") == "90"
    assert len(_table(at, "p_alive")) == 50


# --- the hand-built shop ------------------------------------------------------------------------


def test_filter_choices(shop_db: Path) -> None:
    with store.open_db(shop_db) as conn:
        choices = cohort_filter_choices(source.from_duckdb(conn))
    # "Email " and "email" are one channel; "coffee" and "Coffee" one category
    assert choices == CohortFilterChoices(
        acquisition_channels=("Email", "instagram"), first_order_categories=("Coffee", "Tea")
    )


def test_switching_grain_and_mode_changes_the_matrix(shop_db: Path) -> None:
    at = _open()
    assert _heatmap(at) == (
        ["2024-01 · 3", "2024-02 · 2", "2024-03 · 2", "2024-04 · 1"],
        [["100%", "33%", "33%", ""],
         ["100%", "50%", "", ""],
         ["100%", "", "", ""],
         ["", "", "", ""]],
        {("2024-01", 3): "33%", ("2024-02", 2): "50%", ("2024-03", 1): "50%",
         ("2024-04", 0): "100%"},
    )
    at.radio(key="ret_mode").set_value("on_or_after").run()
    assert problems(at) == []
    labels, texts, running = _heatmap(at)
    assert texts[:2] == [["100%", "67%", "67%", ""], ["100%", "100%", "", ""]]
    assert running[("2024-01", 3)] == "33%"
    at.selectbox(key="ret_grain").set_value("quarter").run()
    assert problems(at) == []
    assert _heatmap(at) == (
        ["2024-Q1 · 7", "2024-Q2 · 1"],
        [["100%", ""], ["", ""]],
        {("2024-Q1", 1): "43%", ("2024-Q2", 0): "100%"},
    )
    assert (_query(at, "by"), _query(at, "mode")) == ("quarter", "on_or_after")


def test_view_comes_from_the_url(shop_db: Path) -> None:
    at = _open({"by": "quarter", "mode": "revenue", "view": "recurring"})
    assert at.selectbox(key="ret_grain").value == "quarter"
    assert at.radio(key="ret_mode").value == "revenue"
    labels, texts, _ = _heatmap(at)
    # everyone who ordered in Q1 (a b c d e f i); Q2 revenue is still running
    assert labels == ["2024-Q1 · 7", "2024-Q2 · 4"]  # Q2 so far: a, e, f, h
    assert texts == [["100%", ""], ["", ""]]


def test_channel_filter(shop_db: Path) -> None:
    at = _open()
    box = at.selectbox(key="ret_channel")
    assert box.options == ["(any)", "Email", "instagram"]
    box.set_value("Email").run()
    assert problems(at) == []
    labels, texts, _ = _heatmap(at)
    # a, b ("Email ") in January, d in February
    assert labels == ["2024-01 · 2", "2024-02 · 1"]
    assert texts == [["100%", "50%", "0%", ""], ["100%", "100%", "", ""]]
    assert _query(at, "channel") == "Email"
    assert any("Customers acquired via Email" in c.value for c in at.caption)


def test_cell_picker_lists_its_customers(shop_db: Path) -> None:
    at = _open()
    assert any("Click a cell" in c.value for c in at.caption)
    at.selectbox(key="ret_cell_cohort").set_value("2024-01")
    at.selectbox(key="ret_cell_period").set_value(1).run()
    assert problems(at) == []
    people = _table(at, "last_order_period")
    assert [list(r) for r in people[["customer_id", "orders", "revenue"]].itertuples(
        index=False)] == [["a", 1, 50.0]]
    at.radio(key="ret_mode").set_value("on_or_after").run()
    people = _table(at, "last_order_period")
    assert list(people["customer_id"]) == ["a", "c"]  # c's next order was in period 2
    at.selectbox(key="ret_cell_cohort").set_value("2024-03")
    at.selectbox(key="ret_cell_period").set_value(2).run()
    assert any("has not happened yet" in str(i.value) for i in at.info)


def test_churn_section_states_its_denominator(shop_db: Path) -> None:
    at = _open({"tab": "churn"})
    # 7 gaps between consecutive order days (a 2, c 1, d 2, e 1, f 1): too few to suggest
    assert at.number_input(key="ret_churn_days").value == 90
    assert any("Only 7 repeat orders so far" in c.value for c in at.caption)
    at.number_input(key="ret_churn_days").set_value(30).run()
    assert problems(at) == []
    assert _query(at, "churn_days") == "30"
    bars = _figure(at, "ret_churn_chart")["data"][0]
    assert bars["x"] == ["2024-02", "2024-03", "2024-04"]
    assert _numbers(bars["y"]) == [pytest.approx(1.0), pytest.approx(2 / 3), pytest.approx(0.5)]
    assert [h.split("<br>")[1:3] for h in bars["hovertext"]] == [
        ["Churn rate 100.0%", "3 churned of 3 customers active at the start"],
        ["Churn rate 66.7%", "2 churned of 3 customers active at the start"],
        ["Churn rate 50.0%", "2 churned of 4 customers active at the start"],
    ]
    assert "still running" in bars["hovertext"][2]
    assert _metrics(at) == {"Churn rate, 2024-03": "66.7%", "Active at its start": "3",
                            "Churned in it": "2", "Overdue now": "1"}
    overdue = _table(at, "usual_gap_days")
    assert [list(r) for r in overdue[["customer_id", "usual_gap_days", "days_since_last"]]
            .itertuples(index=False)] == [["f", 1.0, 14]]


def test_fit_on_a_small_shop_warns_in_words(shop_db: Path) -> None:
    at = _open({"tab": "value"})
    at.button(key="ret_fit").click().run()
    assert problems(at) == []
    # 8 customers with counted orders; a, c, d, e, f have a second order day
    assert any(str(w.value).startswith("Only 8 customers, 5 of them with a repeat order")
               for w in at.warning)
    top = _table(at, "p_alive")
    assert sorted(top["customer_id"]) == ["a", "b", "c", "d", "e", "f", "h", "i"]
    assert _metrics(at)["Customers modelled"] == "8"


def test_sidebar_segment_narrows_the_cohorts(shop_db: Path) -> None:
    with store.open_db(shop_db) as conn:
        seg = save_segment(conn, "Repeat *buyers*", {"conditions": [
            {"kind": "orders", "min_orders": 2}]})
    at = _open({"segment": str(seg.segment_id)})
    # two or more counted orders by 15 April: a, c (January), d, e (February), f (March)
    assert _heatmap(at) == (
        ["2024-01 · 2", "2024-02 · 2", "2024-03 · 1"],
        [["100%", "50%", "50%", ""], ["100%", "50%", "", ""], ["100%", "", "", ""]],
        {("2024-01", 3): "50%", ("2024-02", 2): "50%", ("2024-03", 1): "100%"},
    )
    # the segment's name is data: shown literally, never as markdown
    assert any(c.value.startswith(r"Customers in 'Repeat \*buyers\*' \(5 customers\), grouped")
               for c in at.caption)
    at.radio(key="ret_tab").set_value("churn").run()
    assert problems(at) == []
    assert any("sidebar's segment" in c.value for c in at.caption)
