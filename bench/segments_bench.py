"""Segments: a 3-condition segment count and the RFM flow between two quarter ends, Relmark
vs hand-written DuckDB SQL in the same run.

    python bench/segments_bench.py [--db PATH | --size small|large]

1. segment_count: "Customers in the United States who bought Coffee in the last 90 days and are
   promoters" at the last order day. Relmark builds the Ibis filter from the definition,
   compiles it and runs it (``members(...).count()``); the SQL is what a careful analyst would
   write (IN-subqueries on counted orders and lines, the latest NPS answer by ROW_NUMBER()).
2. segment_flow: customers per (RFM group at the end of one quarter, group at the end of the
   next), the last two whole quarters; the SQL scores both days with RANK() windows and the
   default groups as a CASE.

Both sides must give the same numbers; they run in turns (best of 7 each), so a busy moment
on a shared machine hits both. Target: Relmark within 1.3x of the SQL where the SQL takes
0.5 s or more. Below that the difference is mostly Ibis' fixed cost of building and compiling
the query (tens of milliseconds, two RFM passes for the flow), so the target there is
1.3 x SQL + 250 ms, and the note gives Relmark's absolute extra time and the compile time
(``ibis.to_sql`` of the same expression, best of 7) in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import ibis
from common import arg_parser, demo_db, result
from common import repeats as common_repeats

from relmark_core import source
from relmark_core.metrics.common import NOT_COUNTED_STATUSES
from relmark_core.metrics.kpis import data_span
from relmark_core.metrics.rfm import DEFAULT_GROUPS, NO_GROUP
from relmark_core.periods import period_start
from relmark_core.segments import parse_definition, rfm_flow
from relmark_core.segments.compile import members
from relmark_core.segments.flow import NO_ORDERS_YET, _moves

TARGET = 1.3
SQL_FLOOR_S = 0.5  # below this the ratio target does not apply (see the module docstring)
OVERHEAD_BUDGET_S = 0.25  # what Relmark may add to 1.3 x a sub-second SQL (compile, pandas)
REPEATS = 7  # best of; the machine is shared
WINDOW_DAYS = 90
COUNTED = f"status NOT IN ({', '.join(repr(s) for s in NOT_COUNTED_STATUSES)}) AND net > 0"

SEGMENT = {"conditions": [
    {"kind": "location", "field": "country", "values": ["US"]},
    {"kind": "bought", "what": "category", "values": ["Coffee"], "within_days": WINDOW_DAYS},
    {"kind": "nps", "groups": ["promoter"]},
]}

COUNT_SQL = f"""
SELECT count(*) FROM customers c
WHERE upper(c.country) = 'US'
  AND c.customer_id IN (
    SELECT o.customer_id FROM orders o JOIN order_lines l ON l.order_id = o.order_id
    WHERE {COUNTED} AND o.customer_id IS NOT NULL AND l.category = 'Coffee'
      AND o.ordered_at >= $lo AND o.ordered_at < $cutoff)
  AND c.customer_id IN (
    SELECT customer_id FROM (
      SELECT customer_id, score,
             row_number() OVER (PARTITION BY customer_id
                                ORDER BY answered_at DESC, response_id DESC) AS n
      FROM feedback
      WHERE kind = 'nps' AND score BETWEEN 0 AND 10 AND customer_id IS NOT NULL
        AND answered_at < $cutoff)
    WHERE n = 1 AND score >= 9)
"""


def _case() -> str:
    def q(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    return "CASE " + " ".join(
        f"WHEN r BETWEEN {g.r_min} AND {g.r_max} AND f BETWEEN {g.f_min} AND {g.f_max} "
        f"AND m BETWEEN {g.m_min} AND {g.m_max} THEN {q(g.name)}"
        for g in DEFAULT_GROUPS
    ) + " END"


def _rfm(day: str) -> str:
    return f"""
    SELECT customer_id, {_case()} AS grp FROM (
      SELECT customer_id,
             1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) // count(*) OVER () AS r,
             1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // count(*) OVER () AS f,
             1 + (5 * (rank() OVER (ORDER BY monetary) - 1)) // count(*) OVER () AS m
      FROM (
        SELECT customer_id,
               date_diff('day', CAST(max(ordered_at) AS DATE), {day}) AS recency_days,
               count(*) AS frequency,
               sum(CASE WHEN currency = $cur THEN net ELSE 0 END) AS monetary
        FROM orders
        WHERE {COUNTED} AND customer_id IS NOT NULL AND ordered_at < {day}
        GROUP BY customer_id))
    """


FLOW_SQL = f"""
WITH a AS ({_rfm("$a")}), b AS ({_rfm("$b")})
SELECT CASE WHEN a.customer_id IS NULL THEN '{NO_ORDERS_YET}'
            ELSE coalesce(a.grp, '{NO_GROUP}') END AS from_group,
       coalesce(b.grp, '{NO_GROUP}') AS to_group,
       count(*) AS customers
FROM b LEFT JOIN a ON a.customer_id = b.customer_id
GROUP BY 1, 2
"""


def interleaved(ours: Callable[[], Any], ref: Callable[[], Any], repeats: int = REPEATS
                ) -> tuple[float, Any, float, Any]:
    """Best times of two jobs run in turns (a busy moment hits both, not one), and their last
    results."""
    best = [float("inf"), float("inf")]
    out: list[Any] = [None, None]
    for _ in range(common_repeats(repeats)):
        for i, fn in enumerate((ours, ref)):
            t0 = time.perf_counter()
            out[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best[0], out[0], best[1], out[1]


def _compile_s(fn: object) -> float:
    best = float("inf")
    for _ in range(common_repeats(REPEATS)):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def _report(task: str, n: int, ours: float, ref: float, compile_s: float, note: str) -> None:
    overhead = f"Relmark - SQL {(ours - ref) * 1000:.0f} ms, of it compile {compile_s * 1000:.0f} ms"
    if ref >= SQL_FLOOR_S:
        result(task, n, ours, ref, str(TARGET), f"{note}; {overhead}")
        return
    allowed = (TARGET * ref + OVERHEAD_BUDGET_S) / ref
    result(task, n, ours, ref, f"{allowed:.2f}",
           f"{note}; SQL under {SQL_FLOOR_S} s, so target = 1.3 x SQL + "
           f"{OVERHEAD_BUDGET_S * 1000:.0f} ms; {overhead}")


def main() -> None:
    args = arg_parser(__doc__ or "").parse_args()
    path = demo_db(args.size, db=args.db)
    with duckdb.connect(str(path), read_only=True) as conn:
        n = conn.execute("SELECT count(*) FROM orders").fetchall()[0][0]
        customers = conn.execute("SELECT count(*) FROM customers").fetchall()[0][0]
        src = source.from_duckdb(conn)
        _, last = data_span(src)
        assert last is not None, "the demo database has no orders"
        assert src.timezone == "UTC", "the SQL below assumes the demo's UTC store"

        # 1. three-condition segment count at the last order day
        d = parse_definition(SEGMENT)
        cutoff = datetime.combine(last + timedelta(days=1), datetime.min.time())
        lo = cutoff - timedelta(days=WINDOW_DAYS)
        ours_s, ours, ref_s, ref = interleaved(
            lambda: int(src.execute(members(src, d, as_of=last).count())),
            lambda: conn.execute(COUNT_SQL, {"lo": lo, "cutoff": cutoff}).fetchall()[0][0],
        )
        assert ours == ref, f"segment count {ours} != SQL {ref}"
        compile_s = _compile_s(lambda: ibis.to_sql(members(src, d, as_of=last).count()))
        _report("segment_count", n, ours_s, ref_s, compile_s,
                f"{customers} customers, {ours} members")

        # 2. RFM flow between the last two whole quarter ends
        end: date = period_start(last, "quarter") - timedelta(days=1)
        start: date = period_start(end, "quarter") - timedelta(days=1)
        params = {"a": start + timedelta(days=1), "b": end + timedelta(days=1),
                  "cur": src.reporting_currency}
        ours_s, flow, ref_s, rows = interleaved(
            lambda: rfm_flow(src, start=start, end=end),
            lambda: conn.execute(FLOW_SQL, params).fetchall(),
        )
        got = sorted((r.from_group, r.to_group, int(r.customers)) for r in flow.itertuples())
        assert got == sorted(rows), "flow differs from the SQL"
        compile_s = _compile_s(lambda: ibis.to_sql(_moves(src, start, end, DEFAULT_GROUPS, None)))
        _report("segment_flow", n, ours_s, ref_s, compile_s,
                f"{start} to {end}, {sum(r[2] for r in got)} customers, {len(got)} moves")


if __name__ == "__main__":
    main()
