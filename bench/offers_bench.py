"""Launch an offer with unique codes to a large audience (synthetic customers in a temp store).

    python bench/offers_bench.py --size large     # 500,000 members

Measures the whole launch (segment members, exclusions, seeded holdout, code generation, the
frozen rows in one transaction) against generating the codes alone, and prints codes per second.
Informational: target ``>=0``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

import common

from relmark_core import store
from relmark_core.offers import generate_codes, launch_offer, save_offer
from relmark_core.segments import save_segment

AUDIENCE = {"small": 20_000, "large": 500_000}
TARGET = ">=0"
TODAY = date(2024, 12, 1)


def _shop(conn: store.duckdb.DuckDBPyConnection, n: int) -> None:
    with store.transaction(conn):
        conn.execute(
            "INSERT INTO customers (customer_id, email, email_norm, first_name, accepts_marketing, "
            "source_system) SELECT 'c' || lpad(CAST(i AS VARCHAR), 7, '0'), "
            "'c' || i || '@example.com', 'c' || i || '@example.com', 'Ann', true, 'bench' "
            "FROM range(?) t(i)", [n])
    save_segment(conn, "Everyone consenting",
                 {"conditions": [{"kind": "consent", "consented": True}]})


def main() -> None:
    p = common.arg_parser(__doc__ or "")
    args = p.parse_args()
    n = AUDIENCE[args.size]
    with tempfile.TemporaryDirectory() as tmp:
        # Always a fresh temporary store: bench/run.py passes its cached demo database as --db,
        # which this bench must not write into.
        path = Path(tmp) / "offers.duckdb"
        with store.open_db(path) as conn:
            _shop(conn, n)
            saved = save_offer(conn, {
                "name": "Bench", "segment_id": 1, "offer_type": "percent_off", "value": 10,
                "starts_on": TODAY, "ends_on": date(2024, 12, 14), "code_mode": "unique",
                "code_prefix": "BF-", "holdout_pct": 10}, seed="bench")
            t0 = time.perf_counter()
            res = launch_offer(conn, saved.offer_id, as_of=TODAY)
            launch_s = time.perf_counter() - t0
            codes = int(store.scalar(conn, "SELECT count(DISTINCT code) FROM offer_codes"))
            t0 = time.perf_counter()
            again = launch_offer(conn, saved.offer_id, as_of=TODAY)
            again_s = time.perf_counter() - t0
        assert res.launched and not again.launched and codes == res.treated
        ref_s, _ = common.best_of(lambda: generate_codes(res.treated, prefix="BF-"), repeat=1)
        note = (f"{n:,} members, {res.treated:,} unique codes, {res.holdout:,} held out; "
                f"launch {launch_s:.2f}s = {res.treated / launch_s:,.0f} codes/s; code "
                f"generation alone {ref_s:.2f}s = {res.treated / ref_s:,.0f} codes/s; "
                f"second launch (no-op) {again_s:.3f}s")
        print(note)
        common.result("offer_launch_unique_codes", n, launch_s, ref_s, TARGET, note)


if __name__ == "__main__":
    main()
