"""``python -m relmark_core segment list|export``: the contract (columns, files, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from relmark_core import store
from relmark_core.cli import main
from relmark_core.segments import parse_definition, save_segment
from tests.test_segments import build_shop

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The hand-built shop of tests/test_segments.py with two saved segments:
    1 "Germany" (ann, cara; cara has not consented) and 2 "Everyone"."""
    path = tmp_path / "s.duckdb"
    with store.open_db(path) as c:
        build_shop(c)
        save_segment(c, "Germany", parse_definition(
            {"conditions": [{"kind": "location", "values": ["DE"]}]}), actor="mia")
        save_segment(c, "Everyone", parse_definition({}), actor="mia")
    return path


def test_list_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "segment", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [{k: r[k] for k in ("segment_id", "name", "description", "updated_by")}
            for r in rows] == [
        {"segment_id": 2, "name": "Everyone", "description": "All customers", "updated_by": "mia"},
        {"segment_id": 1, "name": "Germany", "description": "Customers in Germany",
         "updated_by": "mia"},
    ]
    assert all(len(r["updated_at"]) == 19 for r in rows)  # 2024-06-30T12:00:00


def test_list_csv_on_an_empty_store_is_the_header(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path / "new.duckdb"), "segment", "list"]) == 0
    assert capsys.readouterr().out == "segment_id,name,description,updated_at,updated_by\n"


def test_export_csv_to_stdout_by_name(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", str(db), "segment", "export", "--segment", " germany ",
                 "--as-of", "2024-06-30", "--properties", "orders,total_spent,last_order_date"])
    out = capsys.readouterr()
    assert code == 0
    assert out.out == (
        "Email,First Name,Last Name,Orders,Total Spent,Last Order Date\n"
        "ann@example.com,Ann,Lee,2,100.00,2024-06-10\n"
    )
    assert out.err == (
        "“Germany” (id 1) to standard output: 1 customer in the file; left out 1 without "
        "email-marketing consent.\n"
    )


def test_export_xlsx_to_a_file_by_id(db: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "everyone.xlsx"
    code = main(["--db", str(db), "segment", "export", "--segment", "2", "--format", "xlsx",
                 "--out", str(target), "--as-of", "2024-06-30", "--include-unconsented"])
    assert code == 0
    frame = pd.read_excel(target, dtype=str, keep_default_na=False)
    # everyone with an email address (fay has none), default properties
    assert frame.values.tolist() == [
        ["ann@example.com", "Ann", "Lee", "Needs attention", "2024-06-10"],
        ["ben@example.com", "Ben", "Ode", "At risk", "2023-04-01"],
        ["cara@example.com", "Cara", "Diaz", "Promising", "2024-06-30"],
        ["dan@example.com", "'=HYPERLINK(\"x\")", "'+44", "", ""],
        ["eve@example.com", "Eve", "'@home", "Hibernating", "2024-03-01"],
    ]
    assert list(frame.columns) == ["Email", "First Name", "Last Name", "RFM Group",
                                   "Last Order Date"]
    assert capsys.readouterr().err.endswith(
        "5 customers in the file; left out 1 without an email address.\n"
    )


def test_refusals_and_usage_errors(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "segment", "export", "--segment", "Gone"]) == 3
    assert capsys.readouterr().err == (
        "No saved segment is called or has the id “Gone”. Saved segments: “Everyone”, "
        "“Germany”.\n"
    )
    assert main(["--db", str(db), "segment", "export", "--segment", "1",
                 "--properties", "rfm_group,iq"]) == 3
    assert "Unknown export property: iq." in capsys.readouterr().err
    assert main(["--db", str(db), "segment", "export", "--segment", "1", "--as-of",
                 "2024-13-01"]) == 3
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), "segment", "export", "--segment", "1", "--format", "pdf"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), "segment", "export"])
    assert exc.value.code == 2


def test_as_a_real_process_writing_bytes_to_a_pipe(db: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "relmark_core", "--db", str(db), "segment", "export",
         "--segment", "Germany", "--as-of", "2024-06-30", "--format", "xlsx"],
        cwd=ROOT, capture_output=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout[:2] == b"PK"  # an xlsx workbook is a zip file
