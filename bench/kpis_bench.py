"""Overview KPIs (current + previous period, one call) vs hand-written DuckDB SQL."""

from __future__ import annotations

from datetime import timedelta

import duckdb
from common import arg_parser, best_of, demo_db, result

from relmark_core import source
from relmark_core.metrics.kpis import data_span, kpis_for_ranges
from relmark_core.periods import DateRange

SQL = """
WITH w AS (
  SELECT 0 AS w, customer_id, currency, net FROM orders
   WHERE status NOT IN ('cancelled','voided','failed','uncaptured') AND net > 0
     AND ordered_at >= $s0 AND ordered_at < $e0
  UNION ALL
  SELECT 1, customer_id, currency, net FROM orders
   WHERE status NOT IN ('cancelled','voided','failed','uncaptured') AND net > 0
     AND ordered_at >= $s1 AND ordered_at < $e1
), per_cust AS (SELECT w, customer_id, count(*) n FROM w WHERE customer_id IS NOT NULL GROUP BY ALL)
SELECT (SELECT list((w, currency, cnt, rev)) FROM (SELECT w, currency, count(*) cnt, sum(net) rev FROM w GROUP BY ALL)),
       (SELECT list((w, c, r)) FROM (SELECT w, count(*) c, sum((n >= 2)::INT) r FROM per_cust GROUP BY w))
"""


def main() -> None:
    args = arg_parser(__doc__ or "").parse_args()
    path = demo_db(args.size, db=args.db)
    with duckdb.connect(str(path), read_only=True) as conn:
        n = conn.execute("SELECT count(*) FROM orders").fetchall()[0][0]
        src = source.from_duckdb(conn)
        _, last = data_span(src)
        rng = DateRange(start=last - timedelta(days=364), end=last + timedelta(days=1))
        ours, _ = best_of(lambda: kpis_for_ranges(src, ranges=[rng, rng.previous()]))
        prev = rng.previous()
        params = {"s0": rng.start, "e0": rng.end, "s1": prev.start, "e1": prev.end}
        ref, _ = best_of(lambda: conn.execute(SQL, params).fetchall())
        result("overview_kpis", n, ours, ref, "1.3")


if __name__ == "__main__":
    main()
