"""Run every bench/*_bench.py and write the table to bench/RESULTS.md.

    python bench/run.py [--size small|large] [--only NAME] [--out FILE] [--warehouse-all]

``--size large`` reads the ~10M-order demo shop (built once, cached under bench/cache/).
``--size small`` is a smoke test: it checks that every script runs, not how fast.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, demo_db  # noqa: E402

LINE = re.compile(r"^RESULT (.*)$")
COLUMNS = ["task", "size", "relmark_s", "reference_s", "ratio", "target", "pass", "note"]


def passes(ratio: float, target: str) -> bool:
    if target.startswith(">="):
        return ratio >= float(target[2:])
    return ratio <= float(target.lstrip("<="))


def parse(output: str) -> list[dict[str, str]]:
    rows = []
    for line in output.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        row = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
        row["pass"] = "pass" if passes(float(row["ratio"]), row["target"]) else "FAIL"
        row.setdefault("note", "")
        row["note"] = row["note"].replace("_", " ")
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=["small", "large"], default="small")
    ap.add_argument("--only", help="run only scripts whose name contains this")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    ap.add_argument("--warehouse-all", action="store_true",
                    help="the warehouse script runs every case at --size large (see its --all)")
    args = ap.parse_args(argv)

    db = demo_db(args.size)
    scripts = sorted(p for p in (ROOT / "bench").glob("*_bench.py")
                     if not args.only or args.only in p.name)
    rows: list[dict[str, str]] = []
    walls: list[tuple[str, float]] = []
    failures: list[str] = []
    t_all = time.perf_counter()
    for script in scripts:
        t0 = time.perf_counter()
        print(f"== {script.name}", flush=True)
        extra = ["--all"] if args.warehouse_all and script.name == "warehouse_bench.py" else []
        proc = subprocess.run(
            [sys.executable, str(script), "--size", args.size, "--db", str(db), *extra],
            cwd=ROOT, capture_output=True, text=True,
        )
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            failures.append(f"{script.name} exited {proc.returncode}: {proc.stderr[-2000:]}")
            print(proc.stderr[-2000:], file=sys.stderr)
        walls.append((script.name, time.perf_counter() - t0))
        print(f"== {script.name} took {walls[-1][1]:.0f} s", flush=True)
        found = parse(proc.stdout)
        if not found and proc.returncode == 0:
            failures.append(f"{script.name} printed no RESULT line")
        for r in found:
            r["script"] = script.name
            r["wall_s"] = f"{time.perf_counter() - t0:.1f}"
        rows.extend(found)
    total = time.perf_counter() - t_all

    header = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    body = "".join("| " + " | ".join(r.get(c, "") for c in COLUMNS) + " |\n" for r in rows)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"# Benchmark results ({args.size})\n\n"
        f"Run {stamp} on {platform.machine()}, {platform.python_version()}, "
        f"database `{db.name}`; total {total:.0f} s (demo build excluded).\n"
        "Times are seconds (best of several runs where a script says so). ratio = Relmark ÷ "
        "reference; target is the largest acceptable ratio, or the smallest when written `>=`.\n\n"
        + header + body
        + "\n## Time per script\n\n| script | wall_s |\n|---|---|\n"
        + "".join(f"| {name} | {wall:.0f} |\n" for name, wall in walls)
        + f"| all | {total:.0f} |\n"
    )
    if failures:
        text += "\n## Failures\n\n" + "\n".join(f"- {f}" for f in failures) + "\n"
    Path(args.out).write_text(text)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
