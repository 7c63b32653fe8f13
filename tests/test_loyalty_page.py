"""The Loyalty page in AppTest: build a two-tier program with a promotion, read it back, simulate,
save it as the active version, then find a member's balance."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from tests.apptest import open_page, problems


def _text(at: object) -> str:
    parts = [str(m.value) for m in at.markdown]  # type: ignore[attr-defined]
    parts += [str(m.value) for m in at.caption]  # type: ignore[attr-defined]
    return " ".join(parts).replace("\\", "")  # markdown escapes of data text


def test_build_simulate_save_and_look_up_a_member(app_db: Path) -> None:
    at = open_page("pages/loyalty.py")
    assert problems(at) == []
    assert at.title[0].value == "Loyalty"
    assert "Earn 1 point for every $1 of an order" in _text(at)

    # a promotion (default dates: a week two months before the as-of day)
    at.selectbox(key="loy_rule_kind").set_value("promotion").run()
    at.text_input(key="loy_promo_name").set_value("Double week")
    at.button(key="loy_add_rule").click().run()
    assert problems(at) == []
    assert "Double week: every order placed from" in _text(at)

    # two tiers
    at.text_input(key="loy_tier_name").set_value("Green")
    at.button(key="loy_add_tier").click().run()
    at.text_input(key="loy_tier_name").set_value("Gold")
    at.number_input(key="loy_tier_threshold").set_value(300.0)
    at.number_input(key="loy_tier_multiplier").set_value(1.5)
    at.button(key="loy_add_tier").click().run()
    assert problems(at) == []
    text = _text(at)
    assert "Green: from 0 qualifying points in a calendar year." in text
    assert "Gold: from 300 qualifying points in a calendar year; earns ×1.5 points on orders." in text

    # a promotion that ends before it starts is an error shown in words
    at.selectbox(key="loy_rule_kind").set_value("promotion").run()
    at.text_input(key="loy_promo_name").set_value("Oops")
    start = at.date_input(key="loy_promo_start").value
    at.date_input(key="loy_promo_end").set_value(start - timedelta(days=1))
    at.button(key="loy_add_rule").click().run()
    errors = [str(e.value).replace("\\", "") for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("The promotion “Oops” ends on ")
    assert errors[0].endswith("so it would never apply. Swap the two dates.")
    at.button(key="loy_rm_earn_rules_2").click().run()  # rules: per spend, Double week, Oops
    assert problems(at) == []

    # simulate
    at.radio(key="loy_view").set_value("simulate").run()
    at.button(key="loy_simulate").click().run()
    assert problems(at) == []
    labels = [m.label for m in at.metric]
    assert labels[:5] == ["Members", "Points issued", "Points redeemed", "Points expired",
                          "Points outstanding"]
    assert "Liability" in labels and "Cost % of net revenue" in labels
    assert all(m.help for m in at.metric)
    liability = next(m.value for m in at.metric if m.label == "Liability")
    assert liability.startswith("$") and liability != "$0.00"

    # save as the active version; the ledger is posted
    at.radio(key="loy_view").set_value("program").run()
    at.button(key="loy_save").click().run()
    assert problems(at) == []
    assert any("Saved version 1 (active)" in str(s.value) for s in at.success)

    # members: the table and one member's balance
    at.radio(key="loy_view").set_value("members").run()
    assert problems(at) == []
    table = at.dataframe[-1].value  # the members table (the only table before a lookup)
    assert len(table) > 0
    top = table.iloc[0]
    at.text_input(key="loy_member").set_value(str(top["customer_id"])).run()
    assert problems(at) == []
    balance = next(m.value for m in at.metric if m.label.startswith("Balance"))
    assert balance == f"{int(top['balance']):,}"
    with duckdb.connect(str(app_db), read_only=True) as c:
        posted = c.execute("SELECT sum(points) FROM loyalty_ledger WHERE customer_id = ?",
                           [str(top["customer_id"])]).fetchall()[0][0]
    assert int(posted) == int(top["balance"])
