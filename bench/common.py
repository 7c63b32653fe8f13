"""Shared helpers for bench scripts: the cached demo databases, timing, peak memory, RESULT lines.

Every bench script accepts ``--db PATH`` (a demo store to read) and ``--size small|large`` and
prints one line per measurement:

    RESULT task=<name> size=<n> relmark_s=<x> reference_s=<y> ratio=<x/y> target=<t> [note=...]

``bench/run.py`` parses those lines into bench/RESULTS.md. ``target`` is the largest acceptable
ratio (``<=``), or a smallest one written as ``>=10`` (e.g. a speed-up).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache"
# Demo sizes: small is a smoke test (CI), large is the ~10M-order shop the targets are about.
SIZES = {"small": 2_000, "large": 4_000_000}
DEMO_SEED = 42

sys.path.insert(0, str(ROOT))


def arg_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--db", help="demo database to read (default: the cached one for --size)")
    return p


def demo_db(size: str, *, db: str | None = None) -> Path:
    """The demo store for ``size`` (built once with the CLI and cached under bench/cache/)."""
    if db:
        return Path(db)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"demo-{size}.duckdb"
    if not path.exists():
        tmp = path.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "relmark_core", "--db", str(tmp), "demo",
             "--customers", str(SIZES[size]), "--seed", str(DEMO_SEED)],
            cwd=ROOT, check=True,
        )
        tmp.rename(path)
        print(f"built {path.name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return path


MAX_REPEATS_ENV = "RELMARK_BENCH_MAX_REPEATS"  # the smoke test sets 1: it checks, not times


def repeats(n: int) -> int:
    """``n``, capped by ``$RELMARK_BENCH_MAX_REPEATS`` when set (at least 1)."""
    cap = os.environ.get(MAX_REPEATS_ENV)
    return max(1, min(n, int(cap))) if cap else n


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last result."""
    best = float("inf")
    out: Any = None
    for _ in range(repeats(repeat)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_measured(args: list[str], *, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS in MiB of that process, its stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, out


def vm_hwm_mib() -> float:
    """This process's peak resident memory so far (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def time_child_job(job: Callable[[], Any], *, variant: str, repeat: int, out: Path,
                   columns: list[str]) -> None:
    """In a child process: run ``job`` ``repeat`` times, keep its last result (as parquet) and print
    one JSON line with the best time and the peak memory, for the parent to read."""
    import json

    baseline = vm_hwm_mib()
    times: list[float] = []
    df: Any = None
    for _ in range(repeats(repeat)):
        df = None  # let the previous result go, as a page rerun would
        t0 = time.perf_counter()
        df = job()
        times.append(time.perf_counter() - t0)
    peak = vm_hwm_mib()
    assert df is not None
    df[columns].to_parquet(out)
    print(json.dumps({"variant": variant, "best_s": min(times), "times": times, "rows": len(df),
                      "peak_mib": peak, "baseline_mib": baseline}))


def result(task: str, size: int | str, relmark_s: float, reference_s: float, target: str,
           note: str = "") -> None:
    """Print one RESULT line (bench/run.py collects them)."""
    ratio = relmark_s / reference_s if reference_s > 0 else float("inf")
    extra = f" note={note.replace(' ', '_')}" if note else ""
    print(f"RESULT task={task} size={size} relmark_s={relmark_s:.4f} reference_s={reference_s:.4f} "
          f"ratio={ratio:.3f} target={target}{extra}", flush=True)
