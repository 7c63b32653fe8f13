"""Retention and CLV: the cohort matrix vs hand-written DuckDB SQL and idiomatic pandas, and the
BG/NBD + Gamma-Gamma fit vs the ``lifetimes`` package, same run.

    python bench/retention_bench.py [--db PATH | --size small|large] [--repeat N]
                                    [--fit-customers N] [--skip-matrix] [--skip-fit]

**Matrix.** Each contender runs in its own subprocess on the same store (so one's memory does not
count against another), times ``--repeat`` runs of the whole job and reports its best time and
its peak resident memory (``VmHWM``, read after the timed runs). The job: monthly cohorts of
counted orders up to the last order day, and for every cohort and period that has started, the
cohort size, customers active in the period, customers active in it or later, and reporting-
currency revenue (everything the three matrices and the curves are drawn from). The three
results must be identical or the script fails. Targets: within 1.3x the SQL; faster than pandas
with at most half its peak memory (that line's ``*_s`` fields hold MiB).

**Fit.** ``--fit-customers`` customers (default 1,000,000 for ``--size large``, 20,000 for
``small``) are drawn from the BG/NBD model itself (CDNOW's parameters, in days, two years,
first purchases over the first year) with mean order values from the Gamma-Gamma model; each
side fits both models on the same (x, t_x, T, mean value) arrays in its own subprocess:
Relmark's ``merge_identical`` + ``fit_bg_nbd`` + ``fit_gamma_gamma`` against ``lifetimes``'
``BetaGeoFitter().fit`` + ``GammaGammaFitter().fit`` (both compute the Hessian too). Targets:
at least 10x faster (ratio <= 0.1) and every parameter within 1% of lifetimes' (that line's
``*_s`` fields hold the largest relative difference).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from common import SIZES, demo_db, result, run_measured, time_child_job, vm_hwm_mib

SQL_TARGET = "1.3"
PANDAS_SPEED_TARGET = "1.0"
PANDAS_MEMORY_TARGET = "0.5"
FIT_SPEED_TARGET = "0.1"
FIT_PARAMS_TARGET = "0.01"
DEFAULT_REPEAT = 3
FIT_CUSTOMERS = {"small": 20_000, "large": 1_000_000}
MATRIX_VARIANTS = ("relmark", "sql", "pandas")
FIT_VARIANTS = ("relmark_fit", "lifetimes_fit")
COLUMNS = ["cohort", "period", "size", "active", "active_on_or_after", "revenue"]
# the model the fit benchmark draws from: CDNOW's BG/NBD (alpha in days) and Gamma-Gamma
TRUE_BG = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
FIRST_DAYS, OBSERVATION_DAYS, SEED = 365, 730, 1


# --- the matrix contenders ----------------------------------------------------------------------
# The references get the rules (counted statuses, reporting currency, as-of day) from the parent
# as JSON, so their processes never import Relmark or Ibis.


def _frame(conn: duckdb.DuckDBPyConnection, sql: str, **params: Any) -> pd.DataFrame:
    return conn.sql(sql, params=params or None).to_arrow_table().to_pandas()


def matrix_sql(spec: dict[str, Any]) -> str:
    statuses = ", ".join(repr(s) for s in spec["not_counted"])
    return f"""
WITH o AS (
  SELECT customer_id, date_trunc('month', ordered_at) AS m,
         CASE WHEN currency = $cur THEN net ELSE 0 END AS rev
  FROM orders
  WHERE status NOT IN ({statuses}) AND net > 0 AND customer_id IS NOT NULL
    AND ordered_at < $end
), cp AS (
  SELECT customer_id, m, sum(rev) AS rev FROM o GROUP BY customer_id, m
), cust AS (
  SELECT customer_id, min(m) AS c, max(m) AS last FROM cp GROUP BY customer_id
)
SELECT CAST(cust.c AS DATE) AS c, date_diff('month', cust.c, cp.m) AS k, count(*) AS active,
       count(*) FILTER (WHERE cp.m = cust.last) AS last_here, CAST(sum(cp.rev) AS DOUBLE) AS revenue
FROM cp JOIN cust USING (customer_id)
GROUP BY ALL
"""


def _months(d: Any) -> int:
    return int(d.year) * 12 + int(d.month) - 1


def assemble(cells: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """(cohort month start, k, active, last_here, revenue) -> every started cell, with sizes and
    'on or after' counts (customers whose last active period is k or later)."""
    cur = as_of.year * 12 + as_of.month - 1
    cells = cells.assign(c=[_months(d) for d in pd.to_datetime(cells["c"])])
    rows = []
    for c, g in cells.groupby("c", sort=True):
        g = g.set_index("k")
        n = cur - int(c) + 1  # type: ignore[call-overload]
        full = g.reindex(range(n), fill_value=0)
        label = f"{int(c) // 12}-{int(c) % 12 + 1:02d}"  # type: ignore[call-overload]
        rows.append(pd.DataFrame({
            "cohort": label, "period": range(n), "size": int(full.loc[0, "active"]),
            "active": full["active"].to_numpy(),
            "active_on_or_after": full["last_here"].to_numpy()[::-1].cumsum()[::-1],
            "revenue": full["revenue"].to_numpy(dtype=float),
        }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)


def run_sql(conn: duckdb.DuckDBPyConnection, spec: dict[str, Any]) -> pd.DataFrame:
    end = date.fromisoformat(spec["as_of"]) + timedelta(days=1)
    cells = _frame(conn, matrix_sql(spec), cur=spec["currency"], end=end)
    return assemble(cells, date.fromisoformat(spec["as_of"]))


def run_pandas(conn: duckdb.DuckDBPyConnection, spec: dict[str, Any]) -> pd.DataFrame:
    """What a pandas user would write: load the orders, filter, month numbers, group twice."""
    as_of = date.fromisoformat(spec["as_of"])
    orders = _frame(conn, "SELECT customer_id, ordered_at, currency, net, status FROM orders")
    orders["net"] = orders["net"].astype("float64")
    end = pd.Timestamp(as_of + timedelta(days=1))
    o = orders[~orders["status"].isin(spec["not_counted"]) & (orders["net"] > 0)
               & orders["customer_id"].notna() & (orders["ordered_at"] < end)]
    o = o.assign(
        m=o["ordered_at"].dt.year * 12 + o["ordered_at"].dt.month - 1,
        rev=o["net"].where(o["currency"] == spec["currency"], 0.0),
    )
    cp = o.groupby(["customer_id", "m"], as_index=False)["rev"].sum()
    by_customer = cp.groupby("customer_id")["m"]
    cp["c"] = by_customer.transform("min")
    cp["last"] = by_customer.transform("max")
    cp["k"] = cp["m"] - cp["c"]
    cp["is_last"] = (cp["m"] == cp["last"]).astype("int64")
    cells = cp.groupby(["c", "k"], as_index=False).agg(
        active=("customer_id", "size"), last_here=("is_last", "sum"), revenue=("rev", "sum"))
    cells["c"] = [date(int(c) // 12, int(c) % 12 + 1, 1) for c in cells["c"]]
    return assemble(cells, as_of)


# --- the fit contenders -------------------------------------------------------------------------


def synthesise(customers: int, path: Path) -> None:
    """(x, t_x, T, mean value) of ``customers`` drawn from the models, saved as .npz."""
    from relmark_core.metrics.clv import BgNbdFit, simulate_bg_nbd

    truth = BgNbdFit(**TRUE_BG, log_likelihood=0.0, customers=customers, converged=True)
    days = simulate_bg_nbd(truth, customers=customers, first_days=FIRST_DAYS,
                           observation_days=OBSERVATION_DAYS, seed=SEED)
    g = days.groupby("customer")["day"].agg(["min", "max", "count"])
    x = (g["count"] - 1).to_numpy(dtype=np.float64)
    t_x = (g["max"] - g["min"]).to_numpy(dtype=np.float64)
    T = (OBSERVATION_DAYS - 1 - g["min"]).to_numpy(dtype=np.float64)
    rng = np.random.default_rng(SEED + 1)
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["gamma"], customers)
    shape = np.where(x > 0, TRUE_GG["p"] * x, 1.0)
    mean_value = np.where(x > 0, rng.gamma(shape, 1.0 / (nu * np.maximum(x, 1))), 0.0)
    np.savez(path, x=x, t_x=t_x, T=T, m=np.round(mean_value, 2))


def fit_relmark(data: dict[str, Any]) -> dict[str, float]:
    from relmark_core.metrics.clv import fit_bg_nbd, fit_gamma_gamma, merge_identical

    bg = fit_bg_nbd(merge_identical(data["x"], data["t_x"], data["T"]))
    gg = fit_gamma_gamma(data["x"], data["m"])
    return {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "p": gg.p, "q": gg.q,
            "gamma": gg.gamma}


def fit_lifetimes(data: dict[str, Any]) -> dict[str, float]:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    bg = BetaGeoFitter().fit(data["x"], data["t_x"], data["T"])
    rep = data["x"] > 0
    gg = GammaGammaFitter().fit(data["x"][rep], data["m"][rep])
    pb, pg = bg.params_, gg.params_
    return {"r": float(pb["r"]), "alpha": float(pb["alpha"]), "a": float(pb["a"]),
            "b": float(pb["b"]), "p": float(pg["p"]), "q": float(pg["q"]),
            "gamma": float(pg["v"])}


# --- children -----------------------------------------------------------------------------------


def child(db: Path, variant: str, repeat: int, out: Path, spec: dict[str, Any]) -> None:
    """Time one contender ``repeat`` times; write its result and a JSON line of figures."""
    if variant in FIT_VARIANTS:
        loaded = np.load(spec["data"])
        data = {k: loaded[k] for k in ("x", "t_x", "T", "m")}
        fn = fit_relmark if variant == "relmark_fit" else fit_lifetimes
        # imports are not part of the fit
        __import__("relmark_core.metrics.clv" if variant == "relmark_fit" else "lifetimes")
        t0 = time.perf_counter()
        params = fn(data)
        took = time.perf_counter() - t0
        out.write_text(json.dumps(params))
        print(json.dumps({"variant": variant, "best_s": took, "times": [took],
                          "peak_mib": vm_hwm_mib(), "baseline_mib": 0.0}))
        return
    if variant == "relmark":
        from relmark_core import source, store
        from relmark_core.metrics.retention import RetentionQuery, cohort_retention

        ctx = store.open_db(db)
        src = source.from_duckdb(ctx.__enter__())
        q = RetentionQuery(as_of=date.fromisoformat(spec["as_of"]), grain="month")

        def job() -> pd.DataFrame:
            return cohort_retention(src, query=q).cells[COLUMNS]
    else:
        conn = duckdb.connect(str(db), read_only=True)
        fn2 = run_sql if variant == "sql" else run_pandas

        def job() -> pd.DataFrame:
            return fn2(conn, spec)

    time_child_job(job, variant=variant, repeat=repeat, out=out, columns=COLUMNS)


def _spawn(db: Path, variant: str, repeat: int, out: Path, spec: dict[str, Any]) -> dict[str, Any]:
    _, maxrss, stdout = run_measured(
        [sys.executable, str(Path(__file__)), "--db", str(db), "--variant", variant,
         "--repeat", str(repeat), "--out", str(out), "--spec", json.dumps(spec)]
    )
    fig: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    fig["maxrss_mib"] = maxrss
    return fig


# --- the parent ---------------------------------------------------------------------------------


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    out = df[COLUMNS].copy()
    for col in ("period", "size", "active", "active_on_or_after"):
        out[col] = out[col].astype("int64")
    out["revenue"] = out["revenue"].astype("float64").round(2)
    out["cohort"] = out["cohort"].astype(object)
    return out.sort_values(["cohort", "period"]).reset_index(drop=True)


def bench_matrix(db: Path, repeat: int) -> None:
    from relmark_core import source, store
    from relmark_core.metrics.common import NOT_COUNTED_STATUSES

    with duckdb.connect(str(db), read_only=True) as c:
        orders, last = c.execute("SELECT count(*), max(ordered_at) FROM orders").fetchall()[0]
    if not orders:
        raise SystemExit(f"{db} has no orders; build one with: python -m relmark_core --db {db} "
                         "demo --customers N")
    with store.open_db(db) as c:
        s = source.from_duckdb(c)
        currency, tz = s.reporting_currency, s.timezone
    if tz != "UTC":
        raise SystemExit("the SQL and pandas references use UTC months; this store has time "
                         f"zone {tz}")
    spec = {"not_counted": list(NOT_COUNTED_STATUSES), "currency": currency,
            "as_of": last.date().isoformat()}
    figures: dict[str, dict[str, Any]] = {}
    frames: dict[str, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in MATRIX_VARIANTS:
            out = Path(tmp) / f"{variant}.parquet"
            figures[variant] = _spawn(db, variant, repeat, out, spec)
            frames[variant] = _normalise(pd.read_parquet(out))
    for variant in MATRIX_VARIANTS[1:]:
        pd.testing.assert_frame_equal(frames[variant], frames["relmark"], check_dtype=False)
    for v in MATRIX_VARIANTS:
        f = figures[v]
        print(f"{v:10s} best {f['best_s']:.3f}s  runs {', '.join(f'{t:.3f}' for t in f['times'])}"
              f"  peak RSS {f['peak_mib']:.0f} MiB (after imports {f['baseline_mib']:.0f} MiB)")
    cohorts = frames["relmark"]["cohort"].nunique()
    print(f"identical results: {cohorts} cohorts, {len(frames['relmark'])} cells, "
          f"{orders} orders")
    ours, sql, pdf = figures["relmark"], figures["sql"], figures["pandas"]
    result("retention_matrix", orders, ours["best_s"], sql["best_s"], SQL_TARGET)
    result("retention_matrix_vs_pandas", orders, ours["best_s"], pdf["best_s"],
           PANDAS_SPEED_TARGET, note=f"pandas {pdf['best_s']:.3f}s")
    result("retention_matrix_peak_rss_vs_pandas", orders, ours["peak_mib"], pdf["peak_mib"],
           PANDAS_MEMORY_TARGET, note="values are peak RSS in MiB, not seconds")


def bench_fit(db: Path, customers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rfm.npz"
        t0 = time.perf_counter()
        synthesise(customers, data)
        loaded = np.load(data)
        repeaters = int((loaded["x"] > 0).sum())
        print(f"drew {customers:,} customers from the model ({repeaters:,} with repeat "
              f"purchases) in {time.perf_counter() - t0:.1f}s")
        figures, params = {}, {}
        for variant in FIT_VARIANTS:
            out = Path(tmp) / f"{variant}.json"
            figures[variant] = _spawn(db, variant, 1, out, {"data": str(data)})
            params[variant] = json.loads(out.read_text())
    ours, ref = params["relmark_fit"], params["lifetimes_fit"]
    worst = max(abs(ours[k] / ref[k] - 1) for k in ours)
    for name, p in (("relmark", ours), ("lifetimes", ref)):
        print(f"{name:10s} " + "  ".join(f"{k}={v:.4f}" for k, v in p.items()))
    print("model     " + "  ".join(f"{k}={v:.4f}" for k, v in {**TRUE_BG, **TRUE_GG}.items()))
    t_ours, t_ref = figures["relmark_fit"]["best_s"], figures["lifetimes_fit"]["best_s"]
    print(f"fit: relmark {t_ours:.3f}s, lifetimes {t_ref:.3f}s ({t_ref / t_ours:.1f}x faster); "
          f"largest parameter difference {worst:.2e}")
    result("clv_fit_vs_lifetimes", customers, t_ours, t_ref, FIT_SPEED_TARGET,
           note=f"{t_ref / t_ours:.1f}x faster")
    result("clv_fit_params_vs_lifetimes", customers, worst, 1.0, FIT_PARAMS_TARGET,
           note=f"values are the largest relative parameter difference ({worst:.1e}), "
           "not seconds")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--db", help="demo database to read (default: the cached one for --size)")
    ap.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    ap.add_argument("--fit-customers", type=int, default=None,
                    help="customers for the fit benchmark (default by --size)")
    ap.add_argument("--skip-matrix", action="store_true")
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--variant", choices=MATRIX_VARIANTS + FIT_VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    db = demo_db(args.size, db=args.db)
    if args.variant:
        child(db, args.variant, args.repeat, Path(args.out), json.loads(args.spec))
        return 0
    if not args.skip_matrix:
        bench_matrix(db, args.repeat)
    if not args.skip_fit:
        bench_fit(db, args.fit_customers or FIT_CUSTOMERS[args.size])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
