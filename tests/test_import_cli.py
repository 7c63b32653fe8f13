"""``python -m relmark_core import``: the contract (JSON lines, exit codes), each file its own
transaction, and a process killed in the middle of a large import leaving the old data intact."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from relmark_core import store
from relmark_core.cli import main
from relmark_core.imports import load
from tests.builders import add_customer, order
from tests.test_import_support import dump, fx

ROOT = Path(__file__).resolve().parent.parent


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _dump(db: Path) -> dict[str, list[str]]:
    with store.open_db(db) as c:
        return dump(c)


def test_each_file_prints_one_json_line_and_loads(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "r.duckdb"
    code = main(["--db", str(db), "import", str(fx("shopify_orders.csv")),
                 str(fx("stripe_payments.csv"))])
    assert code == 0
    assert _lines(capsys.readouterr().out) == [
        {"file": "shopify_orders.csv", "status": "loaded", "format": "shopify_orders",
         "kind": "orders", "rows_read": 7, "rows_loaded": 3, "rows_rejected": 0,
         "message": "Loaded 3 orders from 7 rows (3 new, 0 updated, 0 unchanged); 2 new "
                    "customers."},
        {"file": "stripe_payments.csv", "status": "loaded", "format": "stripe_payments",
         "kind": "orders", "rows_read": 5, "rows_loaded": 5, "rows_rejected": 0,
         "message": "Loaded 5 orders from 5 rows (5 new, 0 updated, 0 unchanged); 2 new "
                    "customers."},
    ]
    # Re-importing an identical file: loaded, nothing changed, and it says so.
    assert main(["--db", str(db), "import", str(fx("shopify_orders.csv"))]) == 0
    [again] = _lines(capsys.readouterr().out)
    assert (again["status"], again["rows_loaded"]) == ("loaded", 0)
    assert again["message"].startswith("This file was already imported on ")
    assert again["message"].endswith("(import #1); nothing changed.")


def test_a_refused_file_exits_3_and_the_others_still_load(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "r.duckdb"
    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    code = main(["--db", str(db), "import", str(bad), str(fx("shopify_orders.csv"))])
    assert code == 3
    first, second = _lines(capsys.readouterr().out)
    assert first == {"file": "empty.csv", "status": "rejected", "format": None, "kind": None,
                     "rows_read": 0, "rows_loaded": 0, "rows_rejected": 0,
                     "message": "empty.csv: the file is empty. Export the data again and import "
                                "the new file."}
    assert (second["status"], second["rows_loaded"]) == ("loaded", 3)


def test_generic_file_needs_a_mapping_when_its_columns_do_not_map(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "r.duckdb"
    path = tmp_path / "export.csv"
    path.write_text("Kennung,Wann,Summe EUR\nK1,2024-02-01,10.00\n")
    assert main(["--db", str(db), "import", str(path)]) == 3
    [line] = _lines(capsys.readouterr().out)
    assert (line["status"], line["format"], line["kind"]) == ("rejected", "generic", "orders")
    assert "could not tell which columns hold the order number and order date" in line["message"]
    assert "Unmapped columns: 'Kennung', 'Wann'." in line["message"]  # 'Summe EUR' is the total
    assert "--mapping" in line["message"]
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"order_id": "Kennung", "ordered_at": "Wann",
                                   "total": "Summe EUR"}))
    assert main(["--db", str(db), "import", str(path), "--mapping", str(mapping)]) == 0
    [line] = _lines(capsys.readouterr().out)
    assert (line["status"], line["rows_loaded"]) == ("loaded", 1)


def test_ambiguous_dates_need_date_order(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "r.duckdb"
    path = fx("generic_ambiguous_dates.csv")
    assert main(["--db", str(db), "import", str(path)]) == 3
    [line] = _lines(capsys.readouterr().out)
    assert line["status"] == "rejected" and "--date-order dmy" in line["message"]
    assert main(["--db", str(db), "import", str(path), "--date-order", "dmy"]) == 0
    with store.open_db(db) as c:
        assert c.execute("SELECT min(ordered_at)::DATE::VARCHAR FROM orders").fetchall() == [
            ("2024-04-03",)]


def test_demo_data_is_removed_first_unless_kept(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for keep, expected_orders in ((False, 3), (True, 4)):
        db = tmp_path / f"demo-{keep}.duckdb"
        with store.open_db(db) as c:
            add_customer(c, "demo-1", email="zed@demo.example", source_system="demo",
                         orders=[order("2024-01-05", 20)])
            store.set_meta(c, "demo", "1")
        args = ["--db", str(db), "import", str(fx("shopify_orders.csv"))]
        assert main(args + (["--keep-demo"] if keep else [])) == 0
        [line] = _lines(capsys.readouterr().out)
        assert ("The demo data was removed first." in line["message"]) is not keep
        with store.open_db(db) as c:
            assert c.execute("SELECT count(*) FROM orders").fetchall() == [(expected_orders,)]


def test_usage_errors_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "r.duckdb"
    with pytest.raises(SystemExit) as err:
        main(["--db", str(db), "import", str(fx("shopify_orders.csv")), "--kind", "invoices"])
    assert err.value.code == 2
    with pytest.raises(SystemExit) as err:
        main(["--db", str(db), "import"])
    assert err.value.code == 2
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    assert main(["--db", str(db), "import", str(fx("shopify_orders.csv")), "--mapping",
                 str(bad)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    bad.write_text('{"colour": "Total"}')
    assert main(["--db", str(db), "import", str(fx("shopify_orders.csv")), "--mapping",
                 str(bad), "--kind", "orders"]) == 2
    assert "colour" in capsys.readouterr().err


def test_an_internal_error_exits_1_and_rolls_everything_back(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    db = tmp_path / "r.duckdb"
    assert main(["--db", str(db), "import", str(fx("stripe_payments.csv"))]) == 0
    before = _dump(db)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(load, "_write_rejected", broken)  # fails after the orders are written
    assert main(["--db", str(db), "import", str(fx("shopify_orders.csv"))]) == 1
    err = capsys.readouterr().err
    assert "unexpected error" in err and "Traceback" not in err
    assert _dump(db) == before


def test_busy_database_exits_4(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with store.open_db(db):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(20)", str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = subprocess.run(
            [sys.executable, "-m", "relmark_core", "--db", str(db), "import",
             str(fx("shopify_orders.csv"))],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "RELMARK_BUSY_WAIT_S": "1"},
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 4
    assert "is busy" in done.stderr and done.stdout == ""


CHILD = """
import os, signal, sys
from relmark_core import store
from relmark_core.imports import commit

def progress(fraction, message):
    print(message, flush=True)
    if message == "Saving the import":  # orders and lines written, not yet committed
        os.kill(os.getpid(), signal.SIGKILL)

with store.open_db(sys.argv[1]) as conn:
    commit(conn, sys.argv[2], progress=progress)
print("DONE", flush=True)
"""


def _bench_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_bench", ROOT / "bench" / "import_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_killed_in_the_middle_of_a_large_import_the_old_data_is_intact(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with store.open_db(db) as c:
        from relmark_core.imports import commit

        commit(c, fx("shopify_orders.csv"))
        before = dump(c)
    big = tmp_path / "big.csv"
    rows_written = _bench_module().write_shopify_export(big, 10_000, 110_000)
    assert rows_written > 190_000
    size_before = db.stat().st_size
    child = subprocess.run([sys.executable, "-c", CHILD, str(db), str(big)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stderr
    assert "Writing order lines" in child.stdout and "DONE" not in child.stdout
    wal = db.with_name(db.name + ".wal")
    assert db.stat().st_size + (wal.stat().st_size if wal.exists() else 0) > size_before, \
        "the child should have written to disk before it was killed"
    with store.open_db(db) as c:
        assert dump(c) == before
        assert c.execute("SELECT count(*) FROM orders").fetchall() == [(3,)]
    # ...and the store still works: the same import now goes through.
    with store.open_db(db) as c:
        from relmark_core.imports import commit

        assert commit(c, fx("shopify_orders_newer.csv")).new_records == 1


def test_shopify_orders_at_bench_shape_load_as_orders(conn: duckdb.DuckDBPyConnection,
                                                      tmp_path: Path) -> None:
    """The bench's generated export is read as the format it claims (small size)."""
    from relmark_core.imports import commit

    path = tmp_path / "gen.csv"
    rows_written = _bench_module().write_shopify_export(path, 0, 300)
    result = commit(conn, path)
    assert (result.format, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "shopify_orders", rows_written, 300, 0)
