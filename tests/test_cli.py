"""The CLI contract: commands, JSON/CSV shapes and exit codes, including a busy database."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from relmark_core import store
from relmark_core.cli import main
from tests.builders import add_customer, order

ROOT = Path(__file__).resolve().parent.parent


def _shop(path: Path) -> None:
    with store.open_db(path) as c:
        add_customer(c, "a", orders=[order("2024-03-05", "100.005"), order("2024-03-20", 50)])
        add_customer(c, "b", orders=[order("2024-02-10", 80, currency="EUR")])


def test_kpis_json_echoes_the_range_used(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "s.duckdb"
    _shop(db)
    assert main(["--db", str(db), "report", "kpis", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # 100.005 is stored as DECIMAL(18,2) -> 100.01 (round half away from zero)
    assert out == {
        "start": "2024-02-10", "end": "2024-03-21", "currency": "USD", "customers": 2,
        "orders": 3, "revenue": 150.01, "aov": 75.01, "repeat_purchase_rate": 0.5,
        "other_currencies": {"EUR": {"orders": 1, "revenue": 80.0}},
    }


def test_kpis_csv_is_a_header_and_one_row(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "s.duckdb"
    _shop(db)
    assert main(["--db", str(db), "report", "kpis", "--start", "2024-03-01", "--end", "2024-04-01"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows == [{
        "start": "2024-03-01", "end": "2024-04-01", "currency": "USD", "customers": "1",
        "orders": "2", "revenue": "150.01", "aov": "75.01", "repeat_purchase_rate": "1.0",
        "other_currencies": "{}",
    }]


def test_empty_period_has_empty_cells_in_csv(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "s.duckdb"
    _shop(db)
    assert main(["--db", str(db), "report", "kpis", "--start", "2020-01-01", "--end", "2020-02-01"]) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (row["aov"], row["repeat_purchase_rate"], row["orders"]) == ("", "", "0")


def test_fresh_db_starts_empty_never_demo(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "new.duckdb"
    assert main(["--db", str(db), "report", "kpis", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["orders"] == 0
    with store.open_db(db) as c:
        assert store.shop_counts(c)["customers"] == 0 and not store.is_demo(c)


def test_usage_and_refusal_exit_codes(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "s.duckdb")
    try:
        main(["--db", db, "report", "nonsense"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("usage error did not exit")
    assert main(["--db", db, "report", "kpis", "--start", "2024-02-30"]) == 3
    assert "--start date '2024-02-30' is not a date" in capsys.readouterr().err
    assert main(["--db", db, "report", "kpis", "--start", "2024-03-01", "--end", "2024-03-01"]) == 3


def test_demo_command_is_deterministic_and_marks_demo(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    dumps = []
    for name in ("a", "b"):
        db = tmp_path / f"{name}.duckdb"
        assert main(["--db", str(db), "demo", "--customers", "120", "--seed", "5", "--end", "2025-06-30"]) == 0
        assert main(["--db", str(db), "report", "kpis", "--format", "json"]) == 0
        with store.open_db(db) as c:
            assert store.is_demo(c)
    out = capsys.readouterr().out.strip().splitlines()
    dumps = [line for line in out if line.startswith('{"start"')]
    assert len(dumps) == 2 and dumps[0] == dumps[1]
    assert json.loads(dumps[0])["end"] <= "2025-07-01"


HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(float(sys.argv[2]))"


def _hold(db: Path, seconds: float) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def _cli(db: Path, wait: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relmark_core", "--db", str(db), "report", "kpis", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "RELMARK_BUSY_WAIT_S": wait},
    )


def test_busy_database_waits_then_succeeds(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _shop(db)
    holder = _hold(db, 2.0)
    t0 = time.monotonic()
    done = _cli(db, "30")
    holder.wait()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["orders"] == 3
    assert time.monotonic() - t0 >= 1.0  # it had to wait for the holder


def test_busy_database_exits_4_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _shop(db)
    holder = _hold(db, 8.0)
    done = _cli(db, "1")
    holder.kill()
    holder.wait()
    assert done.returncode == 4
    assert "is busy" in done.stderr and "Traceback" not in done.stderr
