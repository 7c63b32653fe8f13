"""``python -m relmark_core automations run|list`` (JSON lines, safe to run twice, dry run) and
the re-evaluation after ``python -m relmark_core import``."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from relmark_core import store
from relmark_core.automations import run as run_module
from relmark_core.automations import save_automation, set_status
from relmark_core.cli import main
from tests.builders import add_customer, order

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "imports"


def shopify_orders_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """A Shopify orders export: one single-line order per (name, email, created at, total)."""
    with (FIXTURES / "shopify_orders.csv").open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for name, email, created, total in rows:
            w.writerow({"Name": name, "Email": email, "Financial Status": "paid",
                        "Paid at": created, "Accepts Marketing": "yes", "Currency": "USD",
                        "Subtotal": total, "Total": total, "Created at": created,
                        "Lineitem quantity": "1", "Lineitem name": "Tea",
                        "Lineitem price": total})
    return path


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    db = tmp_path / "shop.duckdb"
    today = store.utc_now().date()
    with store.open_db(db) as c:
        add_customer(c, "a", orders=[order(today - timedelta(days=2), 30)])
        add_customer(c, "b", orders=[order(today - timedelta(days=3), 30)])
        add_customer(c, "old", orders=[order(today - timedelta(days=200), 30)])
        save_automation(c, {"name": "Welcome", "trigger": {"kind": "welcome"}, "holdout_pct": 0,
                            "start_policy": "include_existing"})
        paused = save_automation(c, {"name": "Birthday", "trigger": {"kind": "birthday_month"},
                                     "start_policy": "include_existing"})
        set_status(c, paused.automation_id, "paused")
    return db


def test_run_twice_and_dry_run(shop_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(shop_db), "automations", "run", "--dry-run"]) == 0
    dry = _lines(capsys.readouterr().out)
    assert [(d["name"], d["new_members"], d["batch_file"], d["dry_run"]) for d in dry] == [
        ("Welcome", 2, None, True)]
    assert not (shop_db.parent / "batches").exists()
    assert main(["--db", str(shop_db), "automations", "run"]) == 0
    first = _lines(capsys.readouterr().out)
    assert [(d["name"], d["new_members"], d["sent"]) for d in first] == [("Welcome", 2, 2)]
    batch = Path(str(first[0]["batch_file"]))
    assert batch.parent == shop_db.parent / "batches"
    with batch.open(encoding="utf-8") as fh:
        assert sorted(r["Email"] for r in csv.DictReader(fh)) == ["a@example.com",
                                                                  "b@example.com"]
    assert main(["--db", str(shop_db), "automations", "run"]) == 0
    second = _lines(capsys.readouterr().out)
    assert [(d["name"], d["new_members"], d["batch_file"]) for d in second] == [
        ("Welcome", 0, None)]
    assert [p.name for p in (shop_db.parent / "batches").iterdir()] == [batch.name]
    with store.open_db(shop_db) as c:
        assert store.scalar(c, "SELECT count(*) FROM automation_entries") == 2
        assert store.scalar(c, "SELECT count(*) FROM automation_runs") == 2


def test_list(shop_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(shop_db), "automations", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["automation_id"], r["name"], r["status"], r["last_run_at"]) for r in rows] == [
        (1, "Welcome", "active", None), (2, "Birthday", "paused", None)]
    assert rows[0]["description"] == ("Everyone who places a first order gets Welcome: 10% off "
                                      "by email, at most once every 90 days, no holdout.")


def test_import_runs_the_automations(shop_db: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(shop_db), "automations", "run"]) == 0
    capsys.readouterr()
    created = f"{date.today() - timedelta(days=1)} 10:00:00 +0000"
    f = shopify_orders_csv(tmp_path / "orders.csv", [("#9001", "new@shop.com", created, "25.00")])
    assert main(["--db", str(shop_db), "import", str(f)]) == 0
    out = capsys.readouterr()
    assert [d["status"] for d in _lines(out.out)] == ["loaded"]
    assert out.err == ("Automations after the import — Welcome: 1 newly qualify; 1 sent, 0 held "
                       "out.\n")
    with store.open_db(shop_db) as c:
        rows = c.execute("SELECT c.email_norm, r.trigger_origin FROM automation_entries e "
                         "JOIN customers c USING (customer_id) JOIN automation_runs r "
                         "USING (run_id) WHERE e.run_id = 2").fetchall()
    assert rows == [("new@shop.com", "import")]
    assert main(["--db", str(shop_db), "automations", "run"]) == 0
    assert [d["new_members"] for d in _lines(capsys.readouterr().out)] == [0]


def test_a_failing_automation_keeps_the_import(shop_db: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_module, "run_automations", boom)
    created = f"{date.today()} 08:00:00 +0000"
    f = shopify_orders_csv(tmp_path / "orders.csv", [("#9002", "kim@shop.com", created, "9.00")])
    assert main(["--db", str(shop_db), "import", str(f)]) == 0
    out = capsys.readouterr()
    assert [d["status"] for d in _lines(out.out)] == ["loaded"]
    assert out.err.startswith("The import was kept, but the automations did not run")
    with store.open_db(shop_db) as c:
        assert store.scalar(c, "SELECT count(*) FROM customers WHERE email_norm = "
                               "'kim@shop.com'") == 1
