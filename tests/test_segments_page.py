"""Segments page (AppTest) on the hand-built shop of tests/test_segments.py, as of 2024-06-30:
build, live numbers, validation beside the field, save, the sidebar filter and its link,
rename, delete, the other views, and the Overview narrowed to a segment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from relmark_core import store
from relmark_core.segments import list_segments, parse_definition, save_segment
from tests.apptest import open_page, problems
from tests.test_segments import build_shop

AS_OF = {"as_of": "2024-06-30"}


@pytest.fixture
def shop_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "shop.duckdb"
    with store.open_db(path) as c:
        build_shop(c)
        store.set_meta(c, "initialised", "1")  # no demo shop on first start
    monkeypatch.setenv("RELMARK_DB", str(path))
    yield path


def _add(at: AppTest, kind: str) -> None:
    gen = next(s.key for s in at.selectbox if s.key and s.key.endswith("_add")
               and s.key.count("_") == 1)
    at.selectbox(key=gen).set_value(kind).run()
    at.button(key=f"{gen}_go").click().run()


def picker(at: AppTest) -> Any:
    """The sidebar's saved-segment picker (its key changes with the list of names)."""
    return next(s for s in at.sidebar.selectbox if s.label == "Saved segment")


def _numbers(at: AppTest) -> list[str]:
    return [m.value for m in at.metric]


def test_build_save_and_open_by_link(shop_db: Path) -> None:
    at = open_page("pages/segments.py", AS_OF)
    assert problems(at) == []
    assert at.subheader[0].value == "All customers"
    assert _numbers(at) == ["6", "100.0%", "$430.00"]
    _add(at, "location")  # starts with the most frequent country: DE (ann, cara) ties US
    assert problems(at) == []
    assert at.subheader[0].value == "Customers in Germany"
    assert _numbers(at) == ["2", "33.3%", "$130.00"]
    _add(at, "nps")  # starts with promoters
    assert at.subheader[0].value == "Customers in Germany who are promoters"
    assert _numbers(at) == ["1", "16.7%", "$100.00"]
    assert [m.help for m in at.metric][0].startswith("Customers who meet the segment's")
    at.text_input(key="sg_name").input("German fans").run()
    at.button(key="sg_save").click().run()
    assert problems(at) == []
    assert at.query_params["segment"] in ("1", ["1"])
    assert picker(at).value == "German fans"
    assert [t.value for t in at.toast] == ["Saved “German fans”."]
    with store.open_db(shop_db) as c:
        saved = list_segments(c)
    assert [(s.segment_id, s.name, s.definition.sentence()) for s in saved] == [
        (1, "German fans", "Customers in Germany who are promoters")
    ]
    # the link opens the same segment in a new session: builder, numbers and sidebar
    other = open_page("pages/segments.py", {**AS_OF, "segment": "1"})
    assert problems(other) == []
    assert other.subheader[0].value == "Customers in Germany who are promoters"
    assert _numbers(other) == ["1", "16.7%", "$100.00"]
    assert "Customers in Germany who are promoters" in [c.value for c in other.sidebar.caption]


def test_a_clashing_name_and_a_bad_condition_say_what_to_fix(shop_db: Path) -> None:
    with store.open_db(shop_db) as c:
        save_segment(c, "Taken", parse_definition({}))
    at = open_page("pages/segments.py", AS_OF)
    _add(at, "spend")  # starts at $100 or more
    assert _numbers(at) == ["2", "33.3%", "$400.00"]
    at.text_input(key="sg_name").input("taken").run()
    at.button(key="sg_save").click().run()
    assert [e.value for e in at.error] == [
        "A segment called “Taken” already exists. Choose another name, or open that segment "
        "to change it."
    ]
    spend_max = next(n for n in at.number_input if n.key and n.key.endswith("_max"))
    spend_max.set_value(50.0).run()
    assert [e.value for e in at.error] == [
        "In this condition (Total spend): the lowest spend (100.00) is above the highest spend "
        "(50.00)."
    ]
    assert [w.value for w in at.warning] == [
        "Fix the condition marked below to see who is in the segment."
    ]
    assert len(at.metric) == 0  # no numbers for an invalid segment


def test_rename_keeps_the_link_and_delete_says_so(shop_db: Path) -> None:
    with store.open_db(shop_db) as c:
        save_segment(c, "Consent", parse_definition({"conditions": [{"kind": "consent"}]}))
    at = open_page("pages/segments.py", {**AS_OF, "segment": "1"})
    assert _numbers(at) == ["3", "50.0%", "$100.00"]  # ann, dan, eve
    at.text_input(key="sg_rename_to").input("Subscribers").run()
    at.button(key="sg_rename").click().run()
    assert problems(at) == []
    assert picker(at).value == "Subscribers"  # shown at once
    assert at.text_input(key="sg_rename_to").value == ""
    again = open_page("pages/overview.py", {**AS_OF, "segment": "1"})
    assert picker(again).value == "Subscribers"
    assert "segment “Subscribers”" in again.caption[0].value
    at.button(key="sg_delete").click().run()
    assert picker(at).value == "All customers"
    gone = open_page("pages/overview.py", {**AS_OF, "segment": "1"})
    assert [w.value for w in gone.sidebar.warning] == [
        "The segment in this link (id 1) no longer exists; showing all customers."
    ]


def test_overview_is_narrowed_to_the_segment(shop_db: Path) -> None:
    with store.open_db(shop_db) as c:
        save_segment(c, "Germany", parse_definition(
            {"conditions": [{"kind": "location", "values": ["DE"]}]}))
    query = {**AS_OF, "range": "custom", "start": "2024-01-01", "end": "2024-07-01",
             "compare": "0"}
    everyone = open_page("pages/overview.py", query)
    # H1 2024: ann 40 + 60, cara 30, eve EUR 25 (not in USD revenue)
    assert _numbers(everyone)[:3] == ["3", "4", "$130.00"]
    germany = open_page("pages/overview.py", {**query, "segment": "1"})
    assert problems(germany) == []
    assert _numbers(germany)[:3] == ["2", "3", "$130.00"]
    # picking it in the sidebar does the same, and puts its id in the URL
    picker(everyone).set_value("Germany").run()
    assert _numbers(everyone)[:3] == ["2", "3", "$130.00"]
    assert everyone.query_params["segment"] in ("1", ["1"])
    picker(everyone).set_value("All customers").run()
    assert _numbers(everyone)[:3] == ["3", "4", "$130.00"]
    assert "segment" not in everyone.query_params


def test_size_flow_and_export_views(shop_db: Path) -> None:
    with store.open_db(shop_db) as c:
        save_segment(c, "Buyers", parse_definition(
            {"conditions": [{"kind": "orders", "min_orders": 1}]}))
    base = {**AS_OF, "segment": "1"}
    size = open_page("pages/segments.py", {**base, "view": "size", "months": "6"})
    assert problems(size) == []
    table = size.dataframe[0].value
    assert table["customers"].tolist() == [2, 2, 3, 3, 3, 4]  # Jan..Jun 2024 month ends
    flow = open_page("pages/segments.py", {**base, "view": "flow", "from": "2024-03-31"})
    assert problems(flow) == []
    assert flow.selectbox(key="sg_move").options == [
        "No orders yet → Promising (1)", "Promising → Hibernating (1)", "At risk → At risk (1)",
        "Hibernating → Needs attention (1)",
    ]
    assert flow.selectbox(key="sg_move").value == "No orders yet → Promising"
    export = open_page("pages/segments.py", {**base, "view": "export"})
    assert problems(export) == []
    # buyers: ann, ben, cara, eve; ben and cara have not consented; nobody is suppressed
    assert _numbers(export) == ["2", "0", "2", "0"]
    assert export.dataframe[0].value["Email"].tolist() == [
        "ann@example.com", "eve@example.com"
    ]
