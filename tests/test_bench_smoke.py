"""The benchmark suite at --size small: every script runs and reports (a smoke test, no timing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_TIMEOUT_S = 900


def test_bench_suite_runs_at_small_size(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--size", "small", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S,
        env={**os.environ, "RELMARK_BENCH_MAX_REPEATS": "1"},  # a smoke test: run once, not time
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = out.read_text()
    scripts = sorted(p.stem for p in (ROOT / "bench").glob("*_bench.py"))
    assert "## Failures" not in table
    # every script contributed at least one row (task names start with the script's subject)
    results, _, times = table.partition("## Time per script")
    rows = [line for line in results.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= len(scripts)
    # and the wall time of each script, then of all, so the 15-minute budget can be checked
    timed = [line.split("|")[1].strip() for line in times.splitlines()
             if line.startswith("| ") and "---" not in line][1:]
    assert timed == [f"{s}.py" for s in scripts] + ["all"]
