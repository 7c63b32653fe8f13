"""Feedback: NPS by month, NPS by RFM group and revenue at risk vs hand-written DuckDB SQL.

    python bench/feedback_bench.py [--db PATH | --size small|large]

Each task checks that Relmark and the SQL give the same counts before it prints its RESULT
line. The RFM reference spells the RFM module's definition out in SQL (1-5 scores from RANK(),
computed over the distinct values as a careful hand would; the default groups as a CASE), so
both sides do the whole job: score customers, group them, join the answers and count.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
from common import arg_parser, best_of, demo_db, result

from relmark_core import source
from relmark_core.metrics import feedback as fb
from relmark_core.metrics import rfm
from relmark_core.metrics.common import NOT_COUNTED_STATUSES
from relmark_core.metrics.kpis import data_span

TARGET = "1.3"
QUICK_REPEATS = 9  # sub-second tasks: more runs, so the best one is not a busy moment
COUNTED = (
    f"status NOT IN ({', '.join(repr(s) for s in NOT_COUNTED_STATUSES)}) AND net > 0"
)

NPS_BY_MONTH = """
SELECT date_trunc('month', answered_at)::DATE AS p,
       count(*) AS responses,
       count(*) FILTER (WHERE score >= 9) AS promoters,
       count(*) FILTER (WHERE score <= 6) AS detractors
FROM feedback
WHERE kind = 'nps' AND score BETWEEN 0 AND 10
GROUP BY 1 ORDER BY 1
"""


def _group_case() -> str:
    branches = " ".join(
        f"WHEN r BETWEEN {g.r_min} AND {g.r_max} AND f BETWEEN {g.f_min} AND {g.f_max} "
        f"AND m BETWEEN {g.m_min} AND {g.m_max} THEN '{g.name.replace(chr(39), chr(39) * 2)}'"
        for g in rfm.DEFAULT_GROUPS
    )
    return f"CASE {branches} ELSE 'No group' END"


def _score(column: str, order: str, letter: str) -> str:
    # 1 + floor(5 x (RANK() - 1) / n), ranking the distinct values instead of every customer
    return f"""{letter}_scores AS (
  SELECT {column},
         1 + (5 * (sum(c) OVER (ORDER BY {column} {order}) - c)) // (SELECT n FROM total) AS {letter}
  FROM (SELECT {column}, count(*) AS c FROM per GROUP BY 1)
)"""


NPS_BY_RFM = f"""
WITH per AS (
  SELECT customer_id, date_diff('day', max(ordered_at)::DATE, $rfm_day) AS recency_days,
         count(*) AS frequency,
         sum(CASE WHEN currency = $cur THEN net ELSE 0 END) AS monetary
  FROM orders
  WHERE {COUNTED} AND customer_id IS NOT NULL AND ordered_at < $cutoff
  GROUP BY 1
), total AS (SELECT count(*) AS n FROM per),
{_score("recency_days", "DESC", "r")},
{_score("frequency", "ASC", "f")},
{_score("monetary", "ASC", "m")},
grouped AS (
  SELECT customer_id, {_group_case()} AS grp
  FROM per JOIN r_scores USING (recency_days) JOIN f_scores USING (frequency)
           JOIN m_scores USING (monetary)
)
SELECT coalesce(g.grp, '(unknown)') AS grp,
       count(*) AS responses,
       count(*) FILTER (WHERE score >= 9) AS promoters,
       count(*) FILTER (WHERE score <= 6) AS detractors
FROM feedback a LEFT JOIN grouped g ON a.customer_id = g.customer_id
WHERE a.kind = 'nps' AND a.score BETWEEN 0 AND 10
GROUP BY 1
"""

REVENUE_AT_RISK = f"""
WITH latest AS (
  SELECT customer_id, score FROM feedback
  WHERE kind = 'nps' AND score BETWEEN 0 AND 10 AND customer_id IS NOT NULL
    AND answered_at < $cutoff
  QUALIFY row_number() OVER (PARTITION BY customer_id
                             ORDER BY answered_at DESC, response_id DESC) = 1
)
SELECT coalesce(sum(o.net), 0)
FROM orders o JOIN latest l ON o.customer_id = l.customer_id
WHERE l.score <= 6 AND {COUNTED} AND o.currency = $cur
  AND o.ordered_at >= $start AND o.ordered_at < $cutoff
"""


def main() -> None:
    args = arg_parser(__doc__ or "").parse_args()
    path = demo_db(args.size, db=args.db)
    with duckdb.connect(str(path), read_only=True) as conn:
        n = conn.execute("SELECT count(*) FROM orders").fetchall()[0][0]
        answers = conn.execute("SELECT count(*) FROM feedback WHERE kind = 'nps'").fetchall()[0][0]
        note = f"{answers} NPS answers"
        src = source.from_duckdb(conn)
        _, last = data_span(src)
        assert last is not None, "the demo database has no orders"
        cur = src.reporting_currency

        # 1. NPS by month
        ours_s, ours = best_of(lambda: fb.nps_over_time(src, grain="month"), QUICK_REPEATS)
        ref_s, ref = best_of(lambda: conn.execute(NPS_BY_MONTH).fetchall(), QUICK_REPEATS)
        got = ours[(ours["period"] != "all") & (ours["responses"] > 0)]
        assert [(r.period_start, r.responses, r.promoters, r.detractors)
                for r in got.itertuples()] == ref, "NPS by month differs from the SQL"
        result("nps_by_month", n, ours_s, ref_s, TARGET, note)

        # 2. NPS by RFM group (RFM as of the end of the last order day)
        rfm_day = last + timedelta(days=1)
        params = {"cur": cur, "cutoff": rfm_day, "rfm_day": rfm_day}
        ours_s, ours = best_of(lambda: fb.score_summary(src, grain=None, by="rfm", as_of=last))
        ref_s, ref = best_of(lambda: conn.execute(NPS_BY_RFM, params).fetchall())
        assert sorted((r.group, r.responses, r.promoters, r.detractors)
                      for r in ours.itertuples()) == sorted(ref), "NPS by RFM differs from the SQL"
        result("nps_by_rfm_group", n, ours_s, ref_s, TARGET, note)

        # 3. Revenue at risk (12 months to the last order day)
        window = fb.value_window(last)
        params = {"cur": cur, "cutoff": window.end, "start": window.start}
        ours_s, ours_v = best_of(lambda: fb.revenue_at_risk(src, as_of=last), QUICK_REPEATS)
        ref_s, ref_v = best_of(
            lambda: conn.execute(REVENUE_AT_RISK, params).fetchall(), QUICK_REPEATS
        )
        assert ours_v == ref_v[0][0], f"revenue at risk {ours_v} != {ref_v[0][0]}"
        result("revenue_at_risk", n, ours_s, ref_s, TARGET, note)


if __name__ == "__main__":
    main()
