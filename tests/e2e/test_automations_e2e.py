"""Automations in Chromium: create a win-back automation for At risk on the page, import (with
the command line, against the server's database) older orders that move a customer into At
risk, and find that customer in the next batch the page offers for download."""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from relmark_core import source, store
from relmark_core.automations import run_log
from relmark_core.cli import main
from relmark_core.metrics.rfm import rfm_table
from relmark_core.reports import today_utc
from tests.e2e.conftest import Server, open_app, wait_idle
from tests.test_automations_cli import shopify_orders_csv

AT_RISK_F = (3, 4)  # the default At risk group: R 1–2, F 3–4
MAX_EXTRA_ORDERS = 10


def _customer_to_move(db: Path) -> tuple[str, str, int]:
    """A consenting customer with R 1–2 and F 1–2, and how many older orders make F 3–4:
    (customer id, email, orders to add)."""
    with store.open_db(db) as c:
        t = rfm_table(source.from_duckdb(c), as_of=today_utc() + timedelta(days=1))
        consenting = {r[0] for r in c.execute(
            "SELECT customer_id FROM customers WHERE accepts_marketing").fetchall()}
    n = len(t)
    cand = t[(t["r"] <= 2) & (t["f"] <= 2) & t["customer_id"].isin(consenting)]
    for row in cand.sort_values("customer_id").itertuples():
        others = t.loc[t["customer_id"] != row.customer_id, "frequency"].tolist()
        for k in range(1, MAX_EXTRA_ORDERS):
            f_score = 1 + 5 * sum(1 for f in others if f < row.frequency + k) // n
            if AT_RISK_F[0] <= f_score <= AT_RISK_F[1]:
                return str(row.customer_id), str(row.email), k
    raise AssertionError("no customer to move into At risk in the demo shop")


def test_win_back_batch_after_an_import(page: Page, server: Server, tmp_path: Path) -> None:
    open_app(page, server, "automations?view=edit")
    expect(page.get_by_text("Everyone who moves into At risk gets Win-back: 15% off by email, "
                            "at most once every 90 days, 10% held out.")).to_be_visible()
    page.get_by_role("button", name="Save automation").click()
    wait_idle(page)
    expect(page.get_by_text("Saved: Everyone who moves into At risk gets Win-back")).to_be_visible()
    with store.open_db(server.db) as c:
        assert run_log(c)["kind"].tolist() == ["baseline"]  # "from now on": today recorded

    cid, email, k = _customer_to_move(server.db)
    # orders years before the demo shop's first: recency stays, frequency rises into At risk
    rows = [(f"#E2E{i}", email, f"{today_utc() - timedelta(days=3000 + 30 * i)} 08:00:00 +0000",
             "20.00") for i in range(k)]
    f = shopify_orders_csv(tmp_path / "older_orders.csv", rows)
    assert main(["--db", str(server.db), "import", str(f), "--keep-demo"]) == 0
    with store.open_db(server.db) as c:
        log = run_log(c)
    assert log[["kind", "origin", "new_people", "sent"]].values.tolist()[0] == [
        "run", "import", 1, 1]

    open_app(page, server, "automations")
    button = page.get_by_role("button", name=re.compile(r"^Download win-back-.*-run\d+\.csv$"))
    expect(button).to_be_visible()
    with page.expect_download() as dl:
        button.click()
    path = dl.value.path()
    with open(path, encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [r["Email"] for r in got] == [email]
    assert got[0]["Code"] and got[0]["Offer Ends"]
    assert cid.startswith("demo-")
