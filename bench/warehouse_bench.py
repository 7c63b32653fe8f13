"""Warehouse mode: every report and page-level metric on DuckDB (the local store) and on
PostgreSQL (a throwaway server this script starts and loads with the same demo shop).

    python bench/warehouse_bench.py [--size small|large] [--db PATH] [--all] [--cases TEXT]

One RESULT line per metric: relmark_s = PostgreSQL seconds, reference_s = DuckDB seconds
(fastest of a few runs each), ratio = PostgreSQL ÷ DuckDB. The target ``>=0`` means
information only: nobody moves to a warehouse for speed on one machine; the figures say what
a dashboard click costs when the data lives in PostgreSQL instead. Each line's note says
whether both engines gave the same result (after rounding money to cents); the script exits
1 when any differ. Loading the copy (DuckDB -> CSV -> COPY) is timed too and printed, not
counted as a RESULT. At ``--size large`` the PostgreSQL server and its copy of the shop are
kept in bench/cache/ (like the demo itself) and reused while the demo file is the same one;
``--cases a,b`` runs only the cases whose name contains ``a`` or ``b``.

What runs: at ``--size small`` every case. At ``--size large`` the four reports scripts run
with ``--source`` (kpis, rfm, nps, retention: the numbers of the Overview, RFM, Feedback and
Retention pages) unless ``--all`` is given: PostgreSQL takes 10-90 s per case at 10M orders,
so every case (46) takes far longer than the 15 minutes the whole suite has (Scale issue).
``python bench/run.py --size large --only warehouse --warehouse-all --out
bench/RESULTS-warehouse.md`` runs them all and keeps their table apart.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import date
from pathlib import Path

import common
import duckdb

from relmark_core import source, warehouse
from tests.warehouse_pg import (
    copy_shop,
    differences,
    metric_cases,
    normalise,
    report_cases,
    start_postgres,
)

REPEAT = {"small": 3, "large": 1}
# A server sized like a modest analytics box on this machine (the defaults suit 1990s RAM).
PG_SETTINGS = {"work_mem": "256MB", "shared_buffers": "2GB", "max_parallel_workers_per_gather": "2",
               "effective_cache_size": "8GB", "jit": "off"}


def _identity(db: Path) -> str:
    """What the kept copy was made from: the demo file's path, size and modification time."""
    st = db.stat()
    return f"{db.resolve()} {st.st_size} {st.st_mtime_ns}\n"


def main() -> int:
    ap = common.arg_parser(__doc__ or "")
    ap.add_argument("--all", action="store_true",
                    help="at --size large, every case, not only the reports")
    ap.add_argument("--cases", default="",
                    help="only the cases whose name contains one of these (comma-separated)")
    args = ap.parse_args()
    db = common.demo_db(args.size, db=args.db)
    repeat = REPEAT[args.size]
    duck = duckdb.connect(str(db), read_only=True)
    last = duck.execute("SELECT max(ordered_at) FROM orders").fetchall()[0][0]
    as_of: date = last.date()
    n_orders = int(duck.execute("SELECT count(*) FROM orders").fetchall()[0][0])
    different = 0
    keep = common.CACHE / f"pg-{args.size}" if args.size == "large" else None
    stamp = common.CACHE / f"pg-{args.size}.source"
    if keep is not None and (not stamp.exists() or stamp.read_text() != _identity(db)):
        stamp.unlink(missing_ok=True)
        shutil.rmtree(keep, ignore_errors=True)  # made from another demo file: start afresh
    with start_postgres(PG_SETTINGS, keep=keep) as pg:
        if pg.reused:
            print(f"reusing the PostgreSQL copy kept in {keep}", flush=True)
        else:
            t0 = time.perf_counter()
            counts = copy_shop(duck, pg.url)
            print(f"copied {counts} into PostgreSQL in {time.perf_counter() - t0:.1f}s",
                  flush=True)
            if keep is not None:
                stamp.write_text(_identity(db))
        local = source.from_duckdb(duck)
        remote = warehouse.connect(pg.add_reader(), state=duck)
        cases = dict(report_cases(as_of))
        if args.size != "large" or args.all or args.cases:
            cases |= metric_cases(duck, as_of)
        for name, case in cases.items():
            if not any(part in name for part in args.cases.split(",")):
                continue
            pg_s, pg_out = common.best_of(lambda case=case: case(remote), repeat)
            duck_s, duck_out = common.best_of(lambda case=case: case(local), repeat)
            diff = differences(normalise(duck_out), normalise(pg_out))
            different += bool(diff)
            note = f"{n_orders} orders; " + ("same result" if not diff else f"DIFFERENT: {diff[0]}")
            common.result(f"warehouse {name}".replace(" ", "_"), n_orders, pg_s, duck_s, ">=0",
                          note=note)
    duck.close()
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
