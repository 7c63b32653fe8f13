"""Import speed: a Shopify orders export of N orders, against DuckDB's bare ``read_csv``.

    python bench/import_bench.py [--orders N] [--keep DIR]

1. Writes a Shopify-format orders export (79 columns, 1-3 line-item rows per order, the order's
   own columns only on its first row, refunds and cancellations) of N orders.
2. First import: ``python -m relmark_core --db <new file> import <export>`` run in this process
   (``relmark_core.cli.main``, the CLI's own code path) into an empty database; the reference is
   ``CREATE TABLE t AS SELECT * FROM read_csv(<export>)`` into another new database file, in
   the same run. Target: the import runs at >= 0.7x the reference's speed, i.e. takes at most
   1/0.7 of its time (``ratio`` below is import time / reference time, target ``<=1.43``).
3. Overlapping newer export: the last 20% of the orders (most of them changed: refunds,
   statuses) plus 10% new orders, imported into the database from step 2, against ``read_csv``
   of that file. The issue sets no target here; the bar printed is ours (>= 0.5x).

Prints both timings and their ratio, then one ``RESULT`` line per measurement (see
bench/common.py). ``--size``/``--db`` are accepted for bench/run.py and ignored (the size is
``--orders``; the small size runs 20,000 orders as a smoke test).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import result  # noqa: E402

from relmark_core import cli  # noqa: E402

DEFAULT_ORDERS = 1_000_000
SMALL_ORDERS = 20_000
TARGET_SPEED = 0.7
# The issue sets no bar for the re-import; this one is ours: at least half the bare read speed.
OVERLAP_TARGET_SPEED = 0.5
CHANGED_SHARE = 0.2
NEW_SHARE = 0.1

SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,"
    "Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,"
    "Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,"
    "Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,"
    "Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,"
    "Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,Tax 4 Value,Tax 5 Name,"
    "Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,"
    "Payment ID,Payment Terms Name,Next Payment Due At,Payment References"
).split(",")


SPAN_DAYS = 900


def write_shopify_export(path: Path, start: int, stop: int, *, changed_from: int | None = None,
                         scale: int | None = None) -> int:
    """Write orders ``#(1000+start)`` .. ``#(1000+stop-1)`` as a Shopify orders export.

    ``scale`` (default ``stop - start``) is the shop's size: it sets the number of customers
    (a third of it) and spreads orders over :data:`SPAN_DAYS` days, so two exports of the same
    shop agree. Orders numbered ``changed_from`` or later are written in a later state (refunded
    by one more unit). Deterministic; returns the number of rows written (line items).
    """
    base = scale or (stop - start)
    n_customers = max(base // 3, 1)
    changed = changed_from if changed_from is not None else stop
    con = duckdb.connect()
    con.execute(
        f"""CREATE TEMP TABLE o AS
            SELECT i, 1 + hash(i * 7) % 3 AS nlines, hash(i) % {n_customers} AS cust,
                   TIMESTAMP '2022-01-01' + to_seconds((i * {SPAN_DAYS * 86400 // base})::BIGINT)
                       AS ts,
                   hash(i * 13) % 100 AS r, i >= {changed} AS later
            FROM range({start}, {stop}) t(i)"""
    )
    price = "round(5 + (hash(i * 31 + l) % 9000) / 100.0, 2)"
    qty = "(1 + hash(i + l) % 3)"
    head = "l = 1"

    def h(expr: str) -> str:
        return f"CASE WHEN {head} THEN {expr} END"

    when = "strftime(ts, '%Y-%m-%d %H:%M:%S') || ' -0500'"
    status = ("CASE WHEN later AND r < 88 THEN 'partially_refunded' WHEN r < 80 THEN 'paid' "
              "WHEN r < 88 THEN 'partially_refunded' WHEN r < 93 THEN 'refunded' "
              "WHEN r < 96 THEN 'pending' ELSE 'voided' END")
    refund = ("printf('%.2f', CASE WHEN r >= 80 AND r < 88 THEN 5.0 "
              "WHEN r >= 88 AND r < 93 THEN sub * 1.1 + 5 ELSE 0.0 END "
              "+ CASE WHEN later AND r < 88 THEN 1.0 ELSE 0.0 END)")
    cols = {name: "NULL" for name in SHOPIFY_HEADER}
    cols.update({
        "Name": "'#' || (1000 + i)",
        "Email": "'cust' || cust || '@example.com'",
        "Financial Status": h(status),
        "Paid at": h(when),
        "Fulfillment Status": h("'fulfilled'"),
        "Accepts Marketing": h("CASE WHEN r % 2 = 0 THEN 'yes' ELSE 'no' END"),
        "Currency": h("'USD'"),
        "Subtotal": h("printf('%.2f', sub)"),
        "Shipping": h("'5.00'"),
        "Taxes": h("printf('%.2f', sub * 0.1)"),
        "Total": h("printf('%.2f', sub * 1.1 + 5)"),
        "Discount Code": h("CASE WHEN r % 10 = 0 THEN 'WELCOME10' END"),
        "Discount Amount": h("'0.00'"),
        "Shipping Method": h("'Standard'"),
        "Created at": h(when),
        "Lineitem quantity": f"{qty}::INTEGER",
        "Lineitem name": "'Product ' || (hash(i * 3 + l) % 500)",
        "Lineitem price": f"printf('%.2f', {price})",
        "Lineitem sku": "'SKU-' || (hash(i * 3 + l) % 500)",
        "Lineitem requires shipping": "'true'",
        "Lineitem taxable": "'true'",
        "Lineitem fulfillment status": "'fulfilled'",
        "Billing Name": h("'First' || cust || ' Last' || cust"),
        "Billing Street": h("'1 Main St'"),
        "Billing Address1": h("'1 Main St'"),
        "Billing City": h("'Springfield'"),
        "Billing Zip": h("'62701'"),
        "Billing Province": h("'IL'"),
        "Billing Country": h("'US'"),
        "Shipping Name": h("'First' || cust || ' Last' || cust"),
        "Shipping City": h("'Springfield'"),
        "Shipping Country": h("'US'"),
        "Cancelled at": h(f"CASE WHEN r >= 96 THEN {when} END"),
        "Payment Method": h("'Shopify Payments'"),
        "Refunded Amount": h(refund),
        "Vendor": "'Acme'",
        "Outstanding Balance": h("'0.00'"),
        "Id": h("(4000000000 + i)::VARCHAR"),
        "Risk Level": h("'Low'"),
        "Source": h("'web'"),
        "Lineitem discount": "'0.00'",
        "Tax 1 Name": h("'IL State Tax 10%'"),
        "Tax 1 Value": h("printf('%.2f', sub * 0.1)"),
        "Billing Province Name": h("'Illinois'"),
    })
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in cols.items())
    con.execute(
        f"""COPY (
              WITH lines AS (SELECT o.*, l FROM o, range(1, 4) t(l) WHERE l <= nlines),
              s AS (SELECT i, sum({price} * {qty}) AS sub FROM lines GROUP BY i)
              SELECT {select} FROM lines JOIN s USING (i) ORDER BY i, l
            ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    rows = int(con.execute("SELECT sum(nlines) FROM o").fetchall()[0][0])
    con.close()
    return rows


def reference_seconds(csv_path: Path, work: Path) -> tuple[float, float]:
    """DuckDB's bare CTAS of the export into a new database file: (wall, CPU) seconds."""
    db = work / f"reference-{csv_path.stem}.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    t0, c0 = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv_path}')")
    con.close()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    db.unlink(missing_ok=True)
    return elapsed, cpu


def import_seconds(csv_path: Path, db: Path) -> tuple[float, float, str]:
    """The CLI's import of the export (in this process): (wall, CPU) seconds, its JSON line."""
    out = io.StringIO()
    t0, c0 = time.perf_counter(), time.process_time()
    with redirect_stdout(out):
        code = cli.main(["--db", str(db), "import", str(csv_path)])
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if code != 0:
        raise SystemExit(f"import of {csv_path.name} failed with exit code {code}: "
                         f"{out.getvalue()}")
    return elapsed, cpu, out.getvalue().strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--orders", type=int, default=None, help=f"orders (default {DEFAULT_ORDERS:,})")
    ap.add_argument("--keep", help="write the files here and keep them (default: a temp folder)")
    ap.add_argument("--size", choices=["small", "large"], help="bench/run.py size (small = smoke)")
    ap.add_argument("--db", help="ignored (bench/run.py passes its demo database)")
    args = ap.parse_args(argv)
    n = args.orders or (SMALL_ORDERS if args.size == "small" else DEFAULT_ORDERS)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="relmark-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        first = work / f"shopify-orders-{n}.csv"
        t0 = time.perf_counter()
        rows = write_shopify_export(first, 0, n)
        print(f"wrote {first.name}: {n:,} orders on {rows:,} rows, "
              f"{first.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t0:.1f}s",
              flush=True)
        db = work / "relmark.duckdb"
        db.unlink(missing_ok=True)
        ref, ref_cpu = reference_seconds(first, work)
        took, took_cpu, line = import_seconds(first, db)
        print(line)
        speed = ref / took
        print(f"first import: relmark {took:.2f}s (CPU {took_cpu:.2f}s), read_csv CTAS "
              f"{ref:.2f}s (CPU {ref_cpu:.2f}s), speed {speed:.2f}x of read_csv "
              f"(target >= {TARGET_SPEED}; by CPU time {ref_cpu / took_cpu:.2f}x)", flush=True)
        result("import_first", n, took, ref, f"<={1 / TARGET_SPEED:.2f}",
               note=f"speed {speed:.2f}x of bare read_csv CTAS (CPU {ref_cpu / took_cpu:.2f}x)")

        newer = work / f"shopify-orders-{n}-newer.csv"
        lo = int(n * (1 - CHANGED_SHARE))
        hi = int(n * (1 + NEW_SHARE))
        write_shopify_export(newer, lo, hi, changed_from=lo, scale=n)
        ref2, ref2_cpu = reference_seconds(newer, work)
        took2, took2_cpu, line2 = import_seconds(newer, db)
        print(line2)
        speed2 = ref2 / took2
        print(f"overlapping newer export ({hi - lo:,} orders: {n - lo:,} changed, {hi - n:,} "
              f"new): relmark {took2:.2f}s (CPU {took2_cpu:.2f}s), read_csv CTAS {ref2:.2f}s "
              f"(CPU {ref2_cpu:.2f}s), speed {speed2:.2f}x", flush=True)
        result("import_overlap", hi - lo, took2, ref2, f"<={1 / OVERLAP_TARGET_SPEED:.2f}",
               note=f"speed {speed2:.2f}x of bare read_csv CTAS (CPU {ref2_cpu / took2_cpu:.2f}x; "
                    "bar set here, not by the issue)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
