"""Warehouse mode: every report and page-level metric on DuckDB (the local store) and on
PostgreSQL (a throwaway server this script starts and loads with the same demo shop).

    python bench/warehouse_bench.py [--size small|large] [--db PATH]

One RESULT line per metric: relmark_s = PostgreSQL seconds, reference_s = DuckDB seconds
(fastest of a few runs each), ratio = PostgreSQL ÷ DuckDB. The target ``>=0`` means
information only: nobody moves to a warehouse for speed on one machine; the figures say what
a dashboard click costs when the data lives in PostgreSQL instead. Each line's note says
whether both engines gave the same result (after rounding money to cents); the script exits
1 when any differ. Loading the copy (DuckDB -> CSV -> COPY) is timed too and printed, not
counted as a RESULT.
"""

from __future__ import annotations

import sys
import time
from datetime import date

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


def main() -> int:
    args = common.arg_parser(__doc__ or "").parse_args()
    db = common.demo_db(args.size, db=args.db)
    repeat = REPEAT[args.size]
    duck = duckdb.connect(str(db), read_only=True)
    last = duck.execute("SELECT max(ordered_at) FROM orders").fetchall()[0][0]
    as_of: date = last.date()
    n_orders = int(duck.execute("SELECT count(*) FROM orders").fetchall()[0][0])
    different = 0
    with start_postgres(PG_SETTINGS) as pg:
        t0 = time.perf_counter()
        counts = copy_shop(duck, pg.url)
        print(f"copied {counts} into PostgreSQL in {time.perf_counter() - t0:.1f}s", flush=True)
        local = source.from_duckdb(duck)
        remote = warehouse.connect(pg.add_reader(), state=duck)
        cases = {**report_cases(as_of), **metric_cases(duck, as_of)}
        for name, case in cases.items():
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
