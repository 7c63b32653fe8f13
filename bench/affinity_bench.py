"""Affinity: product pairs over the demo's order lines, Relmark vs a hand-written DuckDB
self-join in the same run.

    python bench/affinity_bench.py [--db PATH | --size small|large]

1. affinity_same_order: for every pair of products, the counted orders holding both, with
   support, confidence and lift (pairs behind at least the default minimum of orders).
2. affinity_later: for every pair (A, B), the customers who bought B after their first order
   holding A, with the same three numbers (at least the default minimum of customers).

Relmark runs :func:`relmark_core.personalisation.affinity.affinity` (build the Ibis expression,
compile, run, sort, to pandas); the SQL is what a careful analyst would write (a DISTINCT
basket table, or first/last order per customer and product, joined to itself), also sorted and
fetched as a DataFrame. Both must give the same pairs and numbers; they run in turns (best of
7 each), so a busy moment on a shared machine hits both. Target, timing and the note as in
bench/segments_bench.py (whose helpers this reuses): Relmark within 1.3x of the SQL where the
SQL takes 0.5 s or more; below that, 1.3 x SQL + 250 ms (Ibis' fixed cost of building and
compiling the query), with Relmark's extra time and the compile time in the note.
"""

from __future__ import annotations

from typing import Any

import duckdb
import ibis
import pandas as pd
from common import arg_parser, demo_db
from segments_bench import _compile_s, _report, interleaved

from relmark_core import source
from relmark_core.metrics.common import NOT_COUNTED_STATUSES
from relmark_core.personalisation.affinity import (
    AFFINITY_COLUMNS,
    DEFAULT_MIN_COUNT,
    affinity,
    affinity_expr,
)

COUNTED = f"o.status NOT IN ({', '.join(repr(s) for s in NOT_COUNTED_STATUSES)}) AND o.net > 0"

_NUMBERS = """
SELECT p.antecedent, p.consequent, p."both", ta.n AS antecedent_total, tb.n AS consequent_total,
       base.n AS base,
       p."both" / base.n AS support,
       p."both" / ta.n AS confidence,
       p."both" * base.n / (ta.n * tb.n) AS lift
FROM pairs p
JOIN totals ta ON ta.item = p.antecedent
JOIN totals tb ON tb.item = p.consequent
CROSS JOIN base
ORDER BY lift DESC, confidence DESC, support DESC, "both" DESC, antecedent, consequent
"""

SAME_ORDER_SQL = f"""
WITH items AS (
  SELECT DISTINCT l.order_id, l.product AS item
  FROM orders o JOIN order_lines l ON l.order_id = o.order_id
  WHERE {COUNTED} AND l.product IS NOT NULL),
totals AS (SELECT item, count(*)::DOUBLE AS n FROM items GROUP BY item),
base AS (SELECT count(DISTINCT order_id)::DOUBLE AS n FROM items),
pairs AS (
  SELECT a.item AS antecedent, b.item AS consequent, count(*) AS "both"
  FROM items a JOIN items b ON a.order_id = b.order_id AND a.item <> b.item
  GROUP BY a.item, b.item
  HAVING count(*) >= $min)
{_NUMBERS}
"""  # noqa: S608 - only the fixed status list is interpolated

LATER_SQL = f"""
WITH items AS (
  SELECT o.customer_id, l.product AS item, min(o.ordered_at) AS first_at,
         max(o.ordered_at) AS last_at
  FROM orders o JOIN order_lines l ON l.order_id = o.order_id
  WHERE {COUNTED} AND l.product IS NOT NULL AND o.customer_id IS NOT NULL
  GROUP BY o.customer_id, l.product),
totals AS (SELECT item, count(*)::DOUBLE AS n FROM items GROUP BY item),
base AS (SELECT count(DISTINCT customer_id)::DOUBLE AS n FROM items),
pairs AS (
  SELECT a.item AS antecedent, b.item AS consequent, count(*) AS "both"
  FROM items a JOIN items b
    ON a.customer_id = b.customer_id AND a.item <> b.item AND b.last_at > a.first_at
  GROUP BY a.item, b.item
  HAVING count(*) >= $min)
{_NUMBERS}
"""  # noqa: S608 - only the fixed status list is interpolated


def _rows(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        (str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]),
         round(float(r[6]), 9), round(float(r[7]), 9), round(float(r[8]), 9))
        for r in df[list(AFFINITY_COLUMNS)].itertuples(index=False, name=None)
    ]


def main() -> None:
    args = arg_parser(__doc__ or "").parse_args()
    path = demo_db(args.size, db=args.db)
    with duckdb.connect(str(path), read_only=True) as conn:
        n = conn.execute("SELECT count(*) FROM orders").fetchall()[0][0]
        lines = conn.execute("SELECT count(*) FROM order_lines").fetchall()[0][0]
        src = source.from_duckdb(conn)
        for mode, sql, unit in (("same_order", SAME_ORDER_SQL, "orders"),
                                ("later", LATER_SQL, "customers")):
            ours_s, ours, ref_s, ref = interleaved(
                lambda mode=mode: affinity(src, level="product", mode=mode,
                                           min_count=DEFAULT_MIN_COUNT),
                lambda sql=sql: conn.execute(sql, {"min": DEFAULT_MIN_COUNT}).df(),
            )
            got, want = _rows(ours), _rows(ref)
            assert got == want, f"{mode}: Relmark's pairs differ from the SQL's"
            print(f"{mode}: {len(got)} pairs; relmark {ours_s:.3f} s, sql {ref_s:.3f} s, "
                  f"ratio {ours_s / ref_s:.2f}", flush=True)
            compile_s = _compile_s(lambda mode=mode: ibis.to_sql(affinity_expr(
                src, level="product", mode=mode, min_count=DEFAULT_MIN_COUNT)))
            _report(f"affinity_{mode}", n, ours_s, ref_s, compile_s,
                    f"{lines} lines, {len(got)} product pairs behind >= {DEFAULT_MIN_COUNT} "
                    f"{unit}")


if __name__ == "__main__":
    main()
