"""Offers page (AppTest) on the small demo store with one saved segment: create an offer with a
live personalised preview, save, launch (twice: one launch), export, results, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from relmark_core import store
from relmark_core.segments import save_segment
from tests.apptest import open_page, problems


@pytest.fixture
def seg_db(app_db: Path) -> Path:
    with store.open_db(app_db) as c:
        save_segment(c, "Consenting", {"conditions": [{"kind": "consent", "consented": True}]})
    return app_db


def test_create_preview_launch_once_and_results(seg_db: Path) -> None:
    at = open_page("pages/offers.py")
    assert problems(at) == []
    at.text_input(key="of_name").set_value("Winter thanks").run()
    at.text_area(key="of_message").set_value("Hi {first_name}, {points_balance} points").run()
    assert problems(at) == []
    assert at.subheader[0].value.startswith("10% off for Consenting by email, ")
    assert at.subheader[0].value.endswith(", 10% held out")
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Get the offer", "Held out", "Expected cost",
                          "Smallest detectable uplift"]
    assert all(m.help for m in at.metric)
    who = at.selectbox(key="of_preview_who")
    first = who.options[0]
    preview = at.text[0].value
    assert preview.startswith("Hi ") and preview.endswith(" points")
    assert first.split(" ")[0] in preview  # the member's first name, or the fallback "there"
    at.button(key="of_save").click().run()
    assert problems(at) == []
    assert at.query_params["view"] in ("offers", ["offers"])
    at.button(key="of_launch").click().run()
    assert problems(at) == []
    assert [s.value for s in at.success][0].startswith("Launched: ")
    with store.open_db(seg_db) as c:
        assert store.scalar(c, "SELECT count(*) FROM offer_launches") == 1
        treated = store.scalar(c, "SELECT count(*) FROM offer_members WHERE arm = 'treatment'")
    assert not [b for b in at.button if b.key == "of_launch"]
    assert at.dataframe[0].value["treated"].tolist() == [treated]
    assert at.dataframe[0].value["status"].tolist() == ["Running"]
    assert at.get("download_button")
    verdict = [m.value for m in at.markdown]
    assert any("not distinguishable from no effect yet" in v or "points" in v for v in verdict)
    at.text_input(key="of_reason").set_value("wrong segment").run()
    at.button(key="of_cancel").click().run()
    assert problems(at) == []
    assert at.dataframe[0].value["status"].tolist() == ["Cancelled"]
