"""AppTest for the Customers and RFM groups pages on a hand-built shop of four customers.

The shop (as of 2024-06-21, the day after the last counted order):

    id    name                 city    orders (counted)              recency  F  M    | R F M | group
    ann   Ann Lee              Oslo    2024-05-01 $40, 06-10 $60          11  2  100  | 2 4 2 | At risk
    bob   Bob Stone            Bergen  2024-06-20 $200                     1  1  200  | 4 1 4 | Promising
    cy    <b>Cy</b> Q… (long)  Oslo    2024-01-15 $30                    158  1   30  | 1 1 1 | Lost
    dee   Dee Moss             Bergen  none                                                  | no group

Ranks (RANK(), ties share the lowest) over n = 3: R by recency descending cy 1, ann 2, bob 3;
F ascending bob = cy 1, ann 3; M ascending cy 1, ann 2, bob 3. Score = 1 + floor(5 (rank − 1) / 3):
rank 1 → 1, 2 → 2, 3 → 4. Groups (defaults, first match): R2 F4 → At risk (R 1–2, F 3–4);
R4 F1 → Promising (R 4, F 1); R1 F1 → Lost (R 1, F 1–2). Recency of cy: Jan 15 → Jun 21, 2024
(a leap year) = 16 + 29 + 31 + 30 + 31 + 21 = 158 days.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from relmark_core import store
from relmark_core.loyalty import post_ledger, save_version, starter_program
from relmark_core.metrics.rfm import DEFAULT_GROUPS, load_groups
from tests.apptest import open_page, problems
from tests.builders import add_customer, add_feedback, order, set_reporting

LONG_NAME_FIRST = "<b>Cy</b>"
LONG_NAME_LAST = "Quartermaine-Montgomery-Fitzwilliam-Smythe"
COMMENT = "<script>alert('x')</script> The *tea* was [great](http://x.example)"


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    set_reporting(conn, "USD")
    add_customer(conn, "ann", first_name="Ann", last_name="Lee", city="Oslo", country="NO",
                 tags=["tea"], orders=[
                     order("2024-05-01", 40, lines=[("Sencha", "tea", 2, 20)]),
                     order("2024-06-10", 60, lines=[("Mug", "gear", 1, 60)]),
                 ])
    add_feedback(conn, "ann", "2024-06-12", 9, comment=COMMENT)
    add_customer(conn, "bob", first_name="Bob", last_name="Stone", city="Bergen", country="NO",
                 orders=[order("2024-06-20", 200)])
    add_customer(conn, "cy", first_name=LONG_NAME_FIRST, last_name=LONG_NAME_LAST, city="Oslo",
                 country="NO", orders=[order("2024-01-15", 30)])
    add_customer(conn, "dee", first_name="Dee", last_name="Moss", city="Bergen", country="NO")
    store.set_meta(conn, "initialised", "1")  # not a first start: no demo shop is loaded


@pytest.fixture
def shop_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "shop.duckdb"
    with store.open_db(path) as conn:
        build_shop(conn)
    monkeypatch.setenv("RELMARK_DB", str(path))
    yield path


def table(at: AppTest, key: str) -> Any:
    """The table with this key (read-only tables without selections carry no key in AppTest:
    find those by a column only they have)."""
    return next(d for d in at.dataframe if d.key == key or key in d.value.columns)


def shown(markdown: Any) -> str:
    """Markdown source as the reader sees it (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", str(markdown))


def summary(at: AppTest) -> dict[str, int]:
    df = table(at, "revenue_share").value
    return dict(zip(df["group"], df["customers"], strict=True))


def editor_key(at: AppTest) -> str:
    (editor,) = at.data_editor
    assert editor.key is not None
    return editor.key


def saved_groups(path: Path) -> list[str]:
    with store.open_db(path) as conn:
        return [g.name for g in load_groups(conn)]


# --- Customers ---------------------------------------------------------------------------------


def test_customer_table_and_search(shop_db: Path) -> None:
    at = open_page("pages/customers.py")
    assert problems(at) == []
    df = table(at, "cu_table").value
    # newest last order first; dee (no orders) last
    assert list(df["customer_id"]) == ["bob", "ann", "cy", "dee"]
    names = dict(zip(df["customer_id"], df["name"], strict=True))
    # the long name is cut short for the cell, and kept as text (the tags are not interpreted)
    assert names["cy"] == "<b>Cy</b> Quartermaine-Montgomery-Fitzw…"  # 39 characters + …
    assert len(names["cy"]) == 40
    groups = dict(zip(df["customer_id"], df["rfm_group"], strict=True))
    assert [groups[c] for c in ("ann", "bob", "cy")] == ["At risk", "Promising", "Lost"]

    at.text_input(key="cu_search").input("oslo").run()
    assert problems(at) == []
    assert list(table(at, "cu_table").value["customer_id"]) == ["ann", "cy"]
    assert at.query_params["q"] in ("oslo", ["oslo"])

    at.text_input(key="cu_search").input("ANN L").run()
    assert list(table(at, "cu_table").value["customer_id"]) == ["ann"]

    at.text_input(key="cu_search").input("nobody").run()
    assert not [d for d in at.dataframe if d.key == "cu_table"]
    assert any("No customer matches" in str(i.value) for i in at.info)


def test_sort_lives_in_the_url(shop_db: Path) -> None:
    at = open_page("pages/customers.py", {"sort": "net_spend", "desc": "0", "q": "o"})
    assert problems(at) == []
    # "o" is in every name, city or country (NO); net spend ascending: dee 0, cy 30, ann 100,
    # bob 200
    assert list(table(at, "cu_table").value["customer_id"]) == ["dee", "cy", "ann", "bob"]
    assert at.text_input(key="cu_search").value == "o"


def test_clicking_a_row_opens_the_profile(shop_db: Path) -> None:
    at = open_page("pages/customers.py")
    at.session_state["cu_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert problems(at) == []
    assert at.query_params["customer"] in ("ann", ["ann"])
    assert [s.value for s in at.subheader] == ["Ann Lee"]


def test_clicking_a_cell_opens_that_customer(shop_db: Path) -> None:
    at = open_page("pages/customers.py")
    at.session_state["cu_table"] = {"selection": {"rows": [], "columns": [], "cells": [[0, "email"]]}}
    at.run()
    assert problems(at) == []
    assert at.query_params["customer"] in ("bob", ["bob"])
    assert [s.value for s in at.subheader] == ["Bob Stone"]


def test_link_opens_the_profile_with_its_reason(shop_db: Path) -> None:
    at = open_page("pages/customers.py", {"customer": "ann"})
    assert problems(at) == []
    # the sentence (escaped for markdown, so "$100" cannot start a formula)
    assert [shown(i.value) for i in at.info] == [
        "R2 F4 M2 → At risk: last order 11 days ago, 2 orders, $100"]
    assert [m.value for m in at.metric][:2] == ["2", "$100.00"]
    assert [m.label for m in at.metric][5:] == ["R", "F", "M"]
    assert [m.value for m in at.metric][5:] == ["2", "4", "2"]
    # the contact line and the comment exactly as written, as plain text
    assert [t.value for t in at.text] == ["ann@example.com · Oslo, NO · customer id ann", COMMENT]
    assert table(at, "spend").value["product"].tolist() == ["Mug", "Sencha"]

    at.button(key="cu_back").click().run()
    assert "customer" not in at.query_params
    assert len(table(at, "cu_table").value) == 4


def test_profile_shows_the_loyalty_balance(shop_db: Path) -> None:
    with store.open_db(shop_db) as conn:
        save_version(conn, starter_program(), starts_on=date(2024, 1, 1))
        post_ledger(conn, through=date(2024, 6, 21))
    at = open_page("pages/customers.py", {"customer": "ann"})
    assert problems(at) == []
    metrics = {m.label: m.value for m in at.metric}
    # the starter program gives 1 point per $1 of net: $40 + $60
    assert (metrics["Balance (points)"], metrics["Tier"]) == ("100", "Member (no tier)")


def test_profile_of_a_customer_without_orders_and_an_unknown_id(shop_db: Path) -> None:
    at = open_page("pages/customers.py", {"customer": "dee"})
    assert problems(at) == []
    assert any("No counted orders yet" in c.value for c in at.caption)
    at = open_page("pages/customers.py", {"customer": "zed"})
    assert [str(e.value) for e in at.error] == [
        "No customer has the id 'zed'. Search the customer table and pick one from the results."
    ]


def test_no_markdown_from_data(shop_db: Path) -> None:
    at = open_page("pages/customers.py", {"customer": "cy"})
    assert problems(at) == []
    assert [s.value for s in at.subheader] == [
        r"\<b\>Cy\</b\> Quartermaine\-Montgomery\-Fitzwilliam\-Smythe"
    ]


# --- RFM groups --------------------------------------------------------------------------------


def test_rfm_page_shows_the_groups_and_warnings(shop_db: Path) -> None:
    at = open_page("pages/rfm.py")
    assert problems(at) == []
    counts = summary(at)
    assert [counts[g] for g in ("At risk", "Promising", "Lost", "Champions")] == [1, 1, 1, 0]
    df = table(at, "revenue_share").value.set_index("group")
    assert df.loc["Promising", "revenue"] == 200.0
    assert round(df.loc["Promising", "revenue_share"], 4) == round(200 / 330, 4)
    # three customers leave R 3, R 5, F 2, F 3 and F 5 unused: the page says so in words
    assert any("No customer has R 3, R 5, F 2, F 3 or F 5." in shown(i.value) for i in at.info)
    assert at.date_input(key="rfm_as_of").value.isoformat() == "2024-06-21"


def test_m_filter_and_as_of_live_in_the_url(shop_db: Path) -> None:
    # as of 2024-06-20 bob's order (placed that day) does not count yet: ann (M 100) and cy (M 30)
    # are the n = 2 scored customers, M = 1 + floor(5 (rank − 1) / 2): cy 1, ann 3. M 2–5 keeps ann.
    at = open_page("pages/rfm.py", {"m": "2-5", "rfm_as_of": "2024-06-20"})
    assert problems(at) == []
    assert at.slider(key="rfm_m").value == (2, 5)
    assert any(c.value.startswith("1 of 2 customers with counted orders before 20 Jun 2024, "
                                  "M score 2–5.") for c in at.caption)


def test_editing_groups_and_saving_changes_the_table(shop_db: Path) -> None:
    at = open_page("pages/rfm.py")
    # Champions takes every score: everyone is a Champion, every later group can never match
    at.session_state[editor_key(at)] = {
        "edited_rows": {0: {"r_min": 1, "f_min": 1}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    assert problems(at) == []
    assert any("Unsaved changes" in c.value for c in at.caption)
    at.button(key="rfm_save").click().run()
    assert problems(at) == []
    assert summary(at) == {g.name: (3 if g.name == "Champions" else 0) for g in DEFAULT_GROUPS}
    assert any(s.value.startswith("Saved 11 groups") for s in at.success)
    assert any("“Loyal” can never match" in shown(w.value) for w in at.warning)
    assert saved_groups(shop_db)[0] == "Champions"

    # rename a group and move the last one to the top with the Order column
    at.session_state[editor_key(at)] = {
        "edited_rows": {0: {"name": "Everyone"}, 10: {"order": 0}},
        "added_rows": [], "deleted_rows": [],
    }
    at.run()
    at.button(key="rfm_save").click().run()
    assert problems(at) == []
    assert saved_groups(shop_db)[:2] == ["Lost", "Everyone"]
    # Lost (R1 F1–2) now wins for cy; Everyone takes ann and bob
    counts = summary(at)
    assert (counts["Lost"], counts["Everyone"]) == (1, 2)


def test_an_invalid_edit_is_refused_in_words(shop_db: Path) -> None:
    at = open_page("pages/rfm.py")
    at.session_state[editor_key(at)] = {
        "edited_rows": {2: {"f_max": 7}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    assert [str(e.value) for e in at.error] == [
        "Group row 3 (“Potential loyalists”), column f_max: '7' is not a score. Scores are "
        "whole numbers from 1 to 5."
    ]
    at.button(key="rfm_save").click().run()
    assert saved_groups(shop_db) == [g.name for g in DEFAULT_GROUPS]
    assert summary(at)["At risk"] == 1

    at.session_state[editor_key(at)] = {
        "edited_rows": {1: {"name": "Champions"}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    assert [str(e.value) for e in at.error] == [
        "Two groups are called “Champions”. Give each group its own name."
    ]


def test_reset_restores_the_defaults(shop_db: Path) -> None:
    at = open_page("pages/rfm.py")
    at.session_state[editor_key(at)] = {
        "edited_rows": {}, "added_rows": [],
        "deleted_rows": list(range(1, len(DEFAULT_GROUPS))),  # keep only Champions
    }
    at.run()
    at.button(key="rfm_save").click().run()
    assert saved_groups(shop_db) == ["Champions"]
    assert summary(at) == {"Champions": 0, "No group": 3}
    assert any("3 customers match no group (100.0% of" in shown(w.value) for w in at.warning)

    at.button(key="rfm_reset_yes").click().run()
    assert problems(at) == []
    assert saved_groups(shop_db) == [g.name for g in DEFAULT_GROUPS]
    assert summary(at)["At risk"] == 1
    assert any(s.value == "The default groups are back." for s in at.success)
