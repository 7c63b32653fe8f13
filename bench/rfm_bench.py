"""RFM: Relmark's ``rfm_table`` vs hand-written DuckDB SQL vs idiomatic pandas, same run.

    python bench/rfm_bench.py [--db PATH | --size small|large] [--repeat N] [--rounds K]

Each contender runs in its own subprocesses on the same store (so one's memory does not count
against another; ``--rounds`` processes each, the contenders taking turns), times ``--repeat``
runs of the whole job (default as-of date, scores, default
groups, e-mail joined, one DataFrame sorted by customer) and reports its best time and its peak
resident memory (``VmHWM`` from /proc, read after the timed runs, before the result is written
out for the comparison). The three results must be identical (the CLI report's columns, money
to the cent) or the script fails.

Relmark runs ``rfm_table(src, with_reason=False)``, the CLI report's call and the same output as
the two references; the full page call (with the "R5 F4 M4 → Loyal: ..." sentences) is timed
too and printed as an extra line. Targets: within 1.3× the SQL; faster than pandas with at most
half its peak memory. The memory line is a RESULT line whose ``*_s`` fields hold MiB.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from common import SIZES, demo_db, result, run_measured, time_child_job

TARGET = "1.3"
PANDAS_SPEED_TARGET = "1.0"  # relmark_s / pandas_s must be below 1
PANDAS_MEMORY_TARGET = "0.5"  # relmark peak RSS / pandas peak RSS
DEFAULT_REPEAT = 2
DEFAULT_ROUNDS = 2
COLUMNS = ["customer_id", "email", "recency_days", "frequency", "monetary", "r", "f", "m", "group"]
VARIANTS = ("relmark", "relmark_reason", "sql", "pandas")


# --- the contenders ---------------------------------------------------------------------------


# The references get the rules (counted statuses, the default groups, the reporting currency)
# from the parent as JSON, so their processes never import Relmark or Ibis.


def _group_case(groups: list[dict[str, Any]]) -> str:
    branches = " ".join(
        f"WHEN r BETWEEN {g['r_min']} AND {g['r_max']} AND f BETWEEN {g['f_min']} AND "
        f"{g['f_max']} AND m BETWEEN {g['m_min']} AND {g['m_max']} "
        f"THEN '{g['name'].replace(chr(39), chr(39) * 2)}'"
        for g in groups
    )
    return f"CASE {branches} END"


def rfm_sql(spec: dict[str, Any]) -> str:
    statuses = ", ".join(repr(s) for s in spec["not_counted"])
    return f"""
WITH counted AS (
  SELECT customer_id, ordered_at, currency, net
  FROM orders
  WHERE status NOT IN ({statuses}) AND net > 0
), as_of AS (
  SELECT CAST(max(ordered_at) AS DATE) + 1 AS d FROM counted
), per AS (
  SELECT customer_id,
         date_diff('day', CAST(max(ordered_at) AS DATE), (SELECT d FROM as_of)) AS recency_days,
         count(*) AS frequency,
         sum(CASE WHEN currency = $cur THEN net ELSE 0 END) AS monetary
  FROM counted
  WHERE customer_id IS NOT NULL AND ordered_at < (SELECT d FROM as_of)
  GROUP BY customer_id
), scored AS (
  SELECT *,
         1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) // count(*) OVER () AS r,
         1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // count(*) OVER () AS f,
         1 + (5 * (rank() OVER (ORDER BY monetary) - 1)) // count(*) OVER () AS m
  FROM per
)
SELECT s.customer_id, c.email, s.recency_days, s.frequency, CAST(s.monetary AS DOUBLE) AS monetary,
       s.r, s.f, s.m, {_group_case(spec["groups"])} AS "group"
FROM scored s LEFT JOIN customers c USING (customer_id)
ORDER BY s.customer_id
"""


def _frame(conn: duckdb.DuckDBPyConnection, sql: str, **params: Any) -> pd.DataFrame:
    # Arrow then pandas: measured faster than DuckDB's .df() here, so the references get it too
    return conn.sql(sql, params=params or None).to_arrow_table().to_pandas()


def run_sql(conn: duckdb.DuckDBPyConnection, spec: dict[str, Any]) -> pd.DataFrame:
    return _frame(conn, rfm_sql(spec), cur=spec["currency"])


def run_pandas(conn: duckdb.DuckDBPyConnection, spec: dict[str, Any]) -> pd.DataFrame:
    """What a pandas user would write: load the tables, filter, group, rank, np.select."""
    orders = _frame(conn, "SELECT customer_id, ordered_at, currency, net, status FROM orders")
    customers = _frame(conn, "SELECT customer_id, email FROM customers")
    counted = orders[~orders["status"].isin(spec["not_counted"]) & (orders["net"] > 0)]
    as_of = counted["ordered_at"].max().normalize() + pd.Timedelta(days=1)
    counted = counted[counted["customer_id"].notna() & (counted["ordered_at"] < as_of)]
    home = counted["currency"] == spec["currency"]
    counted = counted.assign(home_net=counted["net"].astype("float64").where(home, 0.0))
    per = counted.groupby("customer_id").agg(
        last=("ordered_at", "max"), frequency=("ordered_at", "size"), monetary=("home_net", "sum")
    )
    # money arrives as float: round to cents so sums like 0.1 + 0.2 tie with 0.3 when ranked
    per["monetary"] = per["monetary"].round(2)
    per["recency_days"] = (as_of - per["last"].dt.normalize()).dt.days
    n = len(per)
    for score, col, ascending in (("r", "recency_days", False), ("f", "frequency", True),
                                  ("m", "monetary", True)):
        rank = per[col].rank(method="min", ascending=ascending).astype("int64")
        per[score] = 1 + (5 * (rank - 1)) // n
    groups = spec["groups"]
    conditions = [
        per["r"].between(g["r_min"], g["r_max"]) & per["f"].between(g["f_min"], g["f_max"])
        & per["m"].between(g["m_min"], g["m_max"])
        for g in groups
    ]
    per["group"] = np.select(conditions, [g["name"] for g in groups], default=None)
    out = per.reset_index().merge(customers, on="customer_id", how="left")
    return out.sort_values("customer_id", ignore_index=True)[COLUMNS]


def child(db: Path, variant: str, repeat: int, out: Path, spec: dict[str, Any]) -> None:
    """Time one contender ``repeat`` times; write its result and a JSON line of figures."""
    if variant.startswith("relmark"):
        from relmark_core import source, store
        from relmark_core.metrics import rfm

        ctx = store.open_db(db)
        src = source.from_duckdb(ctx.__enter__())
        with_reason = variant == "relmark_reason"

        def job() -> pd.DataFrame:
            return rfm.rfm_table(src, with_reason=with_reason)
    else:
        conn = duckdb.connect(str(db), read_only=True)
        fn = run_sql if variant == "sql" else run_pandas

        def job() -> pd.DataFrame:
            return fn(conn, spec)

    time_child_job(job, variant=variant, repeat=repeat, out=out, columns=COLUMNS)


# --- the parent -------------------------------------------------------------------------------


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    out = df[COLUMNS].copy()
    for col in ("recency_days", "frequency", "r", "f", "m"):
        out[col] = out[col].astype("int64")
    out["monetary"] = out["monetary"].astype("float64").round(2)
    for col in ("customer_id", "email", "group"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out.reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--db", help="demo database to read (default: the cached one for --size)")
    ap.add_argument("--repeat", type=int, default=DEFAULT_REPEAT,
                    help=f"timed runs in each process (default {DEFAULT_REPEAT})")
    ap.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                    help=f"processes per contender, interleaved (default {DEFAULT_ROUNDS})")
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    db = demo_db(args.size, db=args.db)
    if args.variant:
        child(db, args.variant, args.repeat, Path(args.out), json.loads(args.spec))
        return 0

    with duckdb.connect(str(db), read_only=True) as c:
        orders = int(c.execute("SELECT count(*) FROM orders").fetchall()[0][0])
    if orders == 0:
        raise SystemExit(f"{db} has no orders; build one with: python -m relmark_core --db {db} "
                         "demo --customers N")
    from relmark_core import source, store
    from relmark_core.metrics import rfm
    from relmark_core.metrics.common import NOT_COUNTED_STATUSES

    with store.open_db(db) as c:
        currency = source.from_duckdb(c).reporting_currency
    spec = json.dumps({"not_counted": list(NOT_COUNTED_STATUSES), "currency": currency,
                       "groups": [g.model_dump() for g in rfm.DEFAULT_GROUPS]})
    figures: dict[str, dict[str, Any]] = {
        v: {"times": [], "peak_mib": 0.0, "baseline_mib": 0.0, "maxrss_mib": 0.0}
        for v in VARIANTS
    }
    frames: dict[str, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # rounds interleave the contenders, so a busy spell on the machine hits all of them
        for _ in range(args.rounds):
            for variant in VARIANTS:
                out = Path(tmp) / f"{variant}.parquet"
                _, maxrss, stdout = run_measured(
                    [sys.executable, str(Path(__file__)), "--db", str(db), "--variant", variant,
                     "--repeat", str(args.repeat), "--out", str(out), "--spec", spec]
                )
                got = json.loads(stdout.strip().splitlines()[-1])
                f = figures[variant]
                f["times"] += got["times"]
                f["peak_mib"] = max(f["peak_mib"], got["peak_mib"])
                f["baseline_mib"] = max(f["baseline_mib"], got["baseline_mib"])
                f["maxrss_mib"] = max(f["maxrss_mib"], maxrss)
                frames[variant] = _normalise(pd.read_parquet(out))
    for f in figures.values():
        f["best_s"] = min(f["times"])
    for variant in VARIANTS[1:]:
        pd.testing.assert_frame_equal(frames[variant], frames["relmark"], check_dtype=False)
    customers = len(frames["relmark"])
    for v in VARIANTS:
        f = figures[v]
        print(f"{v:15s} best {f['best_s']:.3f}s  runs {', '.join(f'{t:.3f}' for t in f['times'])}"
              f"  peak RSS {f['peak_mib']:.0f} MiB (after imports {f['baseline_mib']:.0f} MiB)")
    print(f"identical results: {customers} customers, {orders} orders")
    ours, sql, pdf = figures["relmark"], figures["sql"], figures["pandas"]
    result("rfm", orders, ours["best_s"], sql["best_s"], TARGET)
    result("rfm_vs_pandas", orders, ours["best_s"], pdf["best_s"], PANDAS_SPEED_TARGET,
           note=f"pandas {pdf['best_s']:.3f}s")
    result("rfm_peak_rss_vs_pandas", orders, ours["peak_mib"], pdf["peak_mib"],
           PANDAS_MEMORY_TARGET, note="values are peak RSS in MiB, not seconds")
    print(f"rfm_table with reason sentences: {figures['relmark_reason']['best_s']:.3f}s "
          f"({figures['relmark_reason']['best_s'] / sql['best_s']:.2f}x the SQL without them)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
