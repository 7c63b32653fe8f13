"""Automations page (AppTest) on the small demo store: create a win-back automation for At
risk with its live preview, see it listed, run it (a batch to download), run again (nothing
new), pause/resume, the calendar view and the balance table; the Data page's note on the
automations' run after an import."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from relmark_core import store
from relmark_core.automations import list_automations, run_automations, run_log, save_automation
from tests.apptest import open_page, problems
from tests.test_automations_cli import shopify_orders_csv


def test_create_run_pause_and_calendar(app_db: Path) -> None:
    at = open_page("pages/automations.py", {"view": "edit"})
    assert problems(at) == []
    assert at.selectbox(key="au_trigger_0").value == "rfm_group"
    assert at.selectbox(key="au_group").value == "At risk"
    at.radio(key="au_policy_0").set_value("include_existing").run()
    assert problems(at) == []
    assert at.subheader[0].value == ("Everyone who moves into At risk gets Win-back: 15% off by "
                                     "email, at most once every 90 days, 10% held out.")
    would = int(at.metric[0].value.replace(",", ""))
    assert would > 0
    at.button(key="au_save").click().run()
    assert problems(at) == []
    assert at.query_params["view"] in ("automations", ["automations"])
    with store.open_db(app_db) as c:
        assert [s.automation.name for s in list_automations(c)] == ["Win-back"]
        assert len(run_log(c)) == 0  # include existing: nothing recorded before the first run
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["Win-back"]
    assert table["status"].tolist() == ["Active"]
    at.button(key="au_run").click().run()
    assert problems(at) == []
    assert at.success[0].value.startswith("Win-back: ")
    with store.open_db(app_db) as c:
        log = run_log(c)
    assert len(log) == 1
    assert int(log["sent"].iloc[0]) + int(log["holdout"].iloc[0]) == would
    assert at.get("download_button")
    at.button(key="au_run").click().run()
    assert problems(at) == []
    assert ("0 newly qualify" in at.success[0].value) and ("0 sent, 0 held out" in
                                                           at.success[0].value)
    at.button(key="au_pause").click().run()
    assert problems(at) == []
    assert at.dataframe[0].value["status"].tolist() == ["Paused"]
    assert not [b for b in at.button if b.key == "au_run"]
    at.button(key="au_resume").click().run()
    assert at.dataframe[0].value["status"].tolist() == ["Active"]
    at.radio(key="au_view").set_value("calendar").run()
    assert problems(at) == []
    balance = [d.value for d in at.dataframe if "automated_share" in d.value.columns][0]
    assert int(balance["automated"].sum()) == int(log["sent"].iloc[0])
    assert int(balance["hand_made"].sum()) == 0


def test_data_page_shows_the_automations_after_an_import(app_db: Path, tmp_path: Path) -> None:
    with store.open_db(app_db) as c:
        save_automation(c, {"name": "Welcome", "trigger": {"kind": "welcome"}, "holdout_pct": 0,
                            "start_policy": "include_existing"})
        run_automations(c)  # today's first-time buyers of the demo shop: already sent
    created = f"{date.today() - timedelta(days=1)} 10:00:00 +0000"
    f = shopify_orders_csv(tmp_path / "orders.csv", [("#9001", "new@shop.com", created, "25.00")])
    at = open_page("pages/data.py")
    at.get("file_uploader")[0].set_value([("orders.csv", f.read_bytes(), "text/csv")])
    at.run()
    at.checkbox(key="imp_remove_demo").uncheck().run()
    [b for b in at.button if str(b.key).endswith("_go")][0].click().run()
    assert problems(at) == []
    shown = [re.sub(r"\\(.)", r"\1", str(i.value)) for i in at.info]  # markdown-escaped
    assert [t for t in shown if "Automations" in t] == [
        "Automations after the import — Welcome: 1 newly qualify; 1 sent, 0 held out."]
