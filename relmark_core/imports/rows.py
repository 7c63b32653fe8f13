"""The rows of a file: ``read_csv`` into a table of parsed values with each row's first
problem (one pass, the file's text is never stored whole), and the refusal of values that
cannot be right."""

# ruff: noqa: S608
# The SQL here is assembled from the import's own pieces only: positional column names c<i>,
# field keys checked by sql_ident(), literals checked by sql_literal() and table names from fixed
# lists. Every value that comes from a file or a user (header names, cells, answers) is a bound
# parameter.

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from relmark_core import store
from relmark_core.imports import reading as rd
from relmark_core.imports.parsing import (
    PARSE_CODE,
    PLACEHOLDERS,
    clean_text,
    in_list,
    raw_text,
    ts_expr,
    typed_expr,
)
from relmark_core.imports.plan import (
    Plan,
    SqlParams,
    fetch_one,
    fetch_rows,
    field_level,
    row_columns,
    sql_ident,
)

__all__ = [
    "MAX_ORDER_TOTAL",
    "MAX_QUANTITY",
    "EARLIEST_DATE",
    "EARLIEST_BIRTHDAY",
    "FUTURE_TOLERANCE",
    "TOTALS_WORDS_SQL",
    "SCORE_RANGES",
    "REASONS",
    "run_csv",
    "csv_error_sentence",
    "read_raw",
    "id_field",
    "build_rows",
    "keeps_file_order",
    "ORDER_KEEPING_OPERATORS",
    "person_key_sql",
    "kind_extras",
    "row_checks",
    "has_line_sql",
    "head_sql",
    "REASON_SQL",
    "collect_problems",
    "add_problems",
    "refuse_absurd",
]

MAX_ORDER_TOTAL = Decimal("1000000000")
MAX_QUANTITY = 1_000_000
EARLIEST_DATE = datetime(1970, 1, 1)
EARLIEST_BIRTHDAY = datetime(1900, 1, 1)
FUTURE_TOLERANCE = timedelta(days=1)
# What the first cell of a spreadsheet's totals row says (a list literal of Relmark's own words).
TOTALS_WORDS_SQL = ("['total', 'totals', 'grand total', 'total:', 'totals:', 'sum', 'summe', "
                    "'totaux']")
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5)}
REASONS = {
    "missing": "{} is empty",
    "number": '"{}" is not a number',
    "date": '"{}" is not a date Relmark can read',
    "integer": '"{}" is not a whole number',
    "currency": '"{}" is not a 3-letter currency code (like USD or EUR)',
    "status": 'the status "{}" is not one Relmark knows',
    "zone": 'the time zone "{}" is not one Relmark knows',
    "score_range": "the score {} is outside the survey's range",
    "survey_kind": 'the survey type "{}" is not NPS or CSAT',
    "extra_values": "the row has more values than the header has columns (a value holding the "
                    "delimiter without quotes?)",
    "no_identity": "the row has neither a usable email nor a customer id",
    "orphan_line": "a line of order {} whose order row is missing or was rejected",
    "orphan_refund": "a refund of transaction {} whose payment is not in this file",
}


def run_csv(conn: duckdb.DuckDBPyConnection, plan: Plan, columns: list[int],
             build: Callable[[str, dict[str, Any]], None]) -> None:
    """Run ``build(read_csv_sql, params)``; on DuckDB's complaints retry the ways that help:
    without the parallel reader (quoted newlines), or with the file decoded as Windows-1252."""
    f = plan.file
    while True:
        sql, params = rd.read_csv_sql(f, columns, parallel=plan.parallel)
        try:
            build(sql, params)
            return
        except duckdb.Error as exc:
            text = str(exc)
            if "null_padding" in text and "parallel" in text and plan.parallel:
                plan.parallel = False
                continue
            if ("unicode" in text.lower() or "utf-8" in text.lower()) and not plan.transcoded:
                assert f.workdir is not None
                out = f.workdir / "utf8-full.csv"
                used = rd.transcode(f.path, out, "cp1252")
                f.path = out
                f.encoding = used
                plan.notes.append(
                    f"Read as {'Windows-1252' if used == 'cp1252' else 'Latin-1'} text (the file "
                    "is not UTF-8)."
                )
                plan.transcoded = True
                continue
            raise plan.refuse(csv_error_sentence(text, len(f.header))) from exc


def csv_error_sentence(text: str, n_columns: int) -> str:
    """DuckDB's CSV complaint as a sentence for a marketer."""
    m = re.search(r"Line:\s*(\d+)", text)
    line = f"line {m.group(1)}" if m else "a line"
    counts = re.search(r"Expected Number of Columns: \d+ Found: (\d+)", text)
    if counts:
        what = (f"{line} has {int(counts.group(1))} values but the header has "
                f"{n_columns} columns (a value holding the delimiter without quotes?)")
    elif "unterminated quote" in text:
        what = f'{line} opens a quote (") that never closes'
    else:
        what = f"{line} could not be read ({text.splitlines()[0][:160]})"
    return (f"the file could not be read as a table: {what}. Fix that line, or open the file "
            "in a spreadsheet and save it again as CSV (or .xlsx), then import it again.")


def read_raw(conn: duckdb.DuckDBPyConnection, plan: Plan, columns: list[int],
              limit: int | None) -> int:
    """Text of some columns into ``_imp_raw`` (the first ``limit`` rows, or all)."""
    tail = f" LIMIT {int(limit)}" if limit is not None else ""

    def build(sql: str, params: dict[str, Any]) -> None:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _imp_raw AS {sql}{tail}", params)

    run_csv(conn, plan, columns, build)
    return int(fetch_one(conn, "SELECT count(*) FROM _imp_raw")[0])


def id_field(plan: Plan) -> str | None:
    for key in {"orders": ("order_id",), "customers": ("email", "customer_id"),
                "feedback": ("response_id", "score")}[plan.kind]:
        if plan.has(key):
            return key
    return None


def build_rows(conn: duckdb.DuckDBPyConnection, plan: Plan, source: str,
                source_params: dict[str, Any]) -> None:
    """``_imp_rows``: one row per data row with parsed fields, flags and its first problem.

    ``source`` is the ``read_csv(...)`` of the whole file (or the sample table): reading and
    parsing are one pass, so the file's text is never stored whole.
    """
    q = SqlParams()
    q.values.update(source_params)
    keys = list(plan.cols)
    idx = sorted(set(plan.cols.values()))
    carry = ", ".join(f"c{i}" for i in idx)
    # Bound only when used: DuckDB refuses a named parameter the statement does not use.
    placeholder = (q.p(PLACEHOLDERS) if any(plan.ftype(k) == "country" for k in keys)
                   else "NULL")
    raw_sel = ", ".join(f"{raw_text(plan, k)} AS t_{sql_ident(k)}" for k in keys)
    clean_sel = ", ".join(f"{clean_text(plan, k, placeholder)} AS r_{sql_ident(k)}" for k in keys)
    typed: dict[str, str] = {}
    for k in keys:
        typed[k] = typed_expr(plan, k, f"r_{sql_ident(k)}", q)
    extra = kind_extras(plan, q, typed)
    # Flags: head rows (carry the order's own fields), line rows, blank rows, totals rows.
    head = head_sql(plan)
    if plan.kind == "orders" and plan.spec.multi_row:
        # Who ordered is read from an order's first row only (Shopify repeats the email on
        # every line-item row): skip the work on the others.
        for group in (typed, extra):
            for k in group:
                if field_level(plan, k) == "person" or k in ("email_norm", "first_name", "last_name"):
                    group[k] = f"CASE WHEN {head} THEN {group[k]} END"
    typed_sel = ", ".join(f"{expr} AS f_{sql_ident(k)}" for k, expr in {**typed, **extra}.items())
    has_line = has_line_sql(plan)
    all_r = [f"r_{sql_ident(k)}" for k in keys]
    blank = " AND ".join(f"{r} IS NULL" for r in all_r) or "true"
    idf = id_field(plan)
    totals = "false"
    if idf is not None:
        rid = f"r_{sql_ident(idf)}"
        totals = (
            f"CASE WHEN {rid} IS NULL OR (length({rid}) <= 11 AND "
            f"{in_list(TOTALS_WORDS_SQL, f'lower({rid})')}) "
            f"THEN regexp_matches(lower(concat_ws(' ', {', '.join(all_r)})), "
            f"'\\b(grand )?totals?\\b|\\bsum(me)?\\b') ELSE false END"
        )
    checks = row_checks(plan, q, keys, extra)
    problem = " ".join(
        f"WHEN {cond} THEN struct_pack(code := '{code}', field := {q.p(fld)}, value := {val})"
        for cond, _, code, fld, val in checks
    )
    quick = " OR ".join(f"({qk})" for _, qk, _, _, _ in checks)
    problem_sql = (f"CASE WHEN {quick} THEN CASE {problem} ELSE NULL END END" if checks
                   else "NULL")
    person = person_key_sql(plan, q, set(f"f_{k}" for k in {**typed, **extra}))
    names = [plan.file.header[i] for i in idx]
    raw_json = (f"to_json(map({q.p(names)}, list_value({carry})))" if idx else "NULL")
    fcols = ", ".join(f"f_{sql_ident(k)}" for k in {**typed, **extra})
    select = f"""
        SELECT * EXCLUDE ({carry}),
               CASE WHEN problem IS NOT NULL THEN {raw_json} END AS raw
        FROM (
            SELECT k, {carry}, ({blank}) OR ({totals}) AS skip, ({head}) AS is_head,
                   ({has_line}) AS has_line, {fcols}, {person} AS f_person_key,
                   {problem_sql} AS problem
            FROM (
                SELECT *, {typed_sel}
                FROM (
                    SELECT k, c_extra, {carry}, {clean_sel}
                    FROM (SELECT {{number}} AS k, c_extra, {carry}, {raw_sel}
                          FROM ({source}))
                )
            )
        )
    """
    by_row_id = keeps_file_order(conn, select.replace("{number}", "CAST(NULL AS BIGINT)"),
                                 q.values)
    number = "CAST(NULL AS BIGINT)" if by_row_id else "row_number() OVER () - 1"
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _imp_rows AS {select.replace('{number}', number)}",
                 q.values)
    if by_row_id:
        conn.execute("UPDATE _imp_rows SET k = rowid")


ORDER_KEEPING_OPERATORS = frozenset({"READ_CSV", "TABLE_SCAN", "SEQ_SCAN", "PROJECTION",
                                     "FILTER"})


def keeps_file_order(conn: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any]) -> bool:
    """True when storing ``select`` in a table keeps the rows in the file's order, so that the
    table's row ids number them (``k``).

    DuckDB keeps the order of a ``read_csv`` it stores when ``preserve_insertion_order`` is on
    (the default) and the plan has only operators that keep it (scans, projections, filters:
    no join, which an ``IN`` list or ``list_contains`` would bring, see
    :func:`~.parsing.in_list`). Otherwise the rows are numbered with ``row_number() OVER ()``,
    which makes DuckDB read and parse the whole file on one thread.
    """
    if not fetch_one(conn, "SELECT current_setting('preserve_insertion_order')")[0]:
        return False
    explained = fetch_rows(conn, f"EXPLAIN (FORMAT json) {select}", params)
    operators: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        operators.add(str(node.get("name")))
        for child in node.get("children", []):
            walk(child)

    for row in explained:
        for node in json.loads(row[1]):
            walk(node)
    return bool(operators) and operators <= ORDER_KEEPING_OPERATORS


def person_key_sql(plan: Plan, q: SqlParams, cols: set[str]) -> str:
    """How a row names its person: 'email:<normalised email>', else '<source>:<customer id>'."""
    whens = []
    if "f_email_norm" in cols:
        whens.append("WHEN f_email_norm IS NOT NULL THEN 'email:' || f_email_norm")
    if "f_customer_id" in cols:
        whens.append(f"WHEN f_customer_id IS NOT NULL THEN {q.p(plan.system)} || ':' || "
                     "f_customer_id")
    return f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS VARCHAR)"


def kind_extras(plan: Plan, q: SqlParams, typed: dict[str, str]) -> dict[str, str]:
    """Derived columns: Square's timestamp, names split, normalised email..."""
    extra: dict[str, str] = {}
    if plan.spec.name == "square_transactions" and plan.has("_date"):
        time_part = "coalesce(' ' || r__time, '')" if plan.has("_time") else "''"
        local = ts_expr(plan, "_square_when", f"(r__date || {time_part})", q, to_utc=False)
        if plan.has("_time_zone"):
            zone = f"coalesce({q.lookup(plan.zones, 'r__time_zone')}, {q.p(plan.store_tz)})"
            extra["ordered_at"] = f"timezone('UTC', timezone({zone}, {local}))"
            extra["_zone_ok"] = (f"(r__time_zone IS NULL OR "
                                 f"{q.lookup(plan.zones, 'r__time_zone')} IS NOT NULL)")
        else:
            extra["ordered_at"] = ts_expr(plan, "_square_when", f"(r__date || {time_part})", q)
    if plan.has("email"):
        extra["email_norm"] = "CASE WHEN _imp_email_ok(r_email) THEN lower(r_email) END"
    if plan.has("name"):
        if not plan.has("first_name"):
            extra["first_name"] = "split_part(r_name, ' ', 1)"
        if not plan.has("last_name"):
            extra["last_name"] = ("CASE WHEN contains(r_name, ' ') THEN "
                                  "nullif(ltrim(substr(r_name, strpos(r_name, ' ') + 1)), '') END")
    return extra


def row_checks(
    plan: Plan, q: SqlParams, keys: list[str], extra: dict[str, str]
) -> list[tuple[str, str, str, str | None, str]]:
    """(condition, quick test, code, column shown, value) in priority order; the first
    condition that holds wins. The quick test holds whenever the condition does and is cheap:
    rows passing none of them skip the checks.

    Placeholders ('-', 'n/a'...) read as empty: they are looked for only in values that did
    not parse (cheap, as those are rare), and each condition starts with its rarest test.
    """
    out: list[tuple[str, str, str, str | None, str]] = [
        ("c_extra IS NOT NULL", "c_extra IS NOT NULL", "extra_values", None, "c_extra")
    ]
    head_only = plan.kind == "orders"
    bound: list[str] = []

    def ph(v: str) -> str:
        if not bound:
            bound.append(q.p(PLACEHOLDERS))
        return f"(length({v}) <= 6 AND {in_list(bound[0], f'lower(trim({v}))')})"

    def head(cond: str) -> str:
        return f"({cond} AND is_head_x)" if head_only else cond

    def missing(key: str, parsed: str | None = None) -> str:
        r = f"r_{sql_ident(key)}"
        f = parsed or f"f_{sql_ident(key)}"
        return f"({r} IS NULL OR ({f} IS NULL AND {ph(r)}))"

    if plan.kind == "orders":
        out.append(("r_order_id IS NULL", "r_order_id IS NULL", "missing",
                    plan.column("order_id"), "NULL"))
        if "ordered_at" in extra:
            out.append((head(missing("_date", "f_ordered_at")), head("f_ordered_at IS NULL"),
                        "missing", plan.column("_date"), "NULL"))
        else:
            out.append((head(missing("ordered_at")), head("f_ordered_at IS NULL"), "missing",
                        plan.column("ordered_at"), "NULL"))
        if plan.spec.multi_row:
            # A row without a total is a line item of an order given on another row; a row
            # with neither is missing its total.
            lonely = f"r_total IS NULL AND NOT ({has_line_sql(plan)})"
            out.append((lonely, lonely, "missing", plan.column("total"), "NULL"))
        out.append((head(missing("total")), head("f_total IS NULL"), "missing",
                    plan.column("total"), "NULL"))
    elif plan.kind == "feedback":
        out.append((missing("score"), "f_score IS NULL", "missing", plan.column("score"),
                    "NULL"))
        out.append((missing("answered_at"), "f_answered_at IS NULL", "missing",
                    plan.column("answered_at"), "NULL"))
    for k in keys:
        t = plan.ftype(k)
        code = PARSE_CODE.get(t)
        if code is None:
            continue
        r, f = f"r_{sql_ident(k)}", f"f_{sql_ident(k)}"
        cond = f"{f} IS NULL AND {r} IS NOT NULL AND NOT {ph(r)}"
        if plan.kind == "orders" and field_level(plan, k) == "order":
            cond = head(cond)
        out.append((cond, f"{f} IS NULL AND {r} IS NOT NULL", code, plan.column(k), r))
    if "ordered_at" in extra:
        out.append((head(f"f_ordered_at IS NULL AND r__date IS NOT NULL AND NOT {ph('r__date')}"),
                    "f_ordered_at IS NULL AND r__date IS NOT NULL", "date", plan.column("_date"),
                    "r__date"))
        if "_zone_ok" in extra:
            out.append((head("NOT f__zone_ok"), "NOT f__zone_ok", "zone",
                        plan.column("_time_zone"), "r__time_zone"))
    if plan.kind == "feedback" and plan.has("score"):
        kind_sql = "f_kind" if plan.has("kind") else q.p(plan.survey_kind or "nps")
        out_of_range = (f"f_score IS NOT NULL AND NOT (f_score BETWEEN "
                        f"CASE WHEN {kind_sql} = 'csat' THEN 1 ELSE 0 END AND "
                        f"CASE WHEN {kind_sql} = 'csat' THEN 5 ELSE 10 END)")
        out.append((out_of_range, out_of_range, "score_range", plan.column("score"), "r_score"))
    if plan.kind == "customers":
        parts = []
        if plan.has("email"):
            parts.append("f_email_norm IS NULL")
        if plan.has("customer_id"):
            parts.append("f_customer_id IS NULL")
        if parts:
            col = plan.column("email") or plan.column("customer_id")
            val = "r_email" if plan.has("email") else "NULL"
            cond = " AND ".join(parts)
            out.append((cond, cond, "no_identity", col, val))
    # is_head_x is the head flag computed in the same SELECT; inline it.
    head_flag = head_sql(plan)
    return [(c.replace("is_head_x", f"({head_flag})"),
             quick.replace("is_head_x", f"({head_flag})"),
             code, col, v) for c, quick, code, col, v in out]


def has_line_sql(plan: Plan) -> str:
    """SQL true on rows that carry a line item (product, SKU, quantity or unit price)."""
    line_keys = [k for k in ("product", "sku", "quantity", "unit_price") if plan.has(k)]
    if not line_keys or plan.kind != "orders":
        return "false"
    return " OR ".join(f"r_{k} IS NOT NULL" for k in line_keys)


def head_sql(plan: Plan) -> str:
    """SQL true on rows that carry an order's own fields (Shopify: the first row of an order;
    later rows hold only line items). Square refund rows are not heads."""
    if plan.kind != "orders":
        return "true"
    # Shopify writes the total (and the rest of the order's fields) on an order's first row
    # only; other exports repeat it on every line-item row (duplicates are merged later).
    head = "r_total IS NOT NULL" if plan.spec.multi_row and plan.has("total") else "true"
    if plan.has("_event_type"):
        head = f"({head}) AND coalesce(lower(r__event_type), '') <> 'refund'"
    return head


REASON_SQL = "CASE " + " ".join(
    f"WHEN problem.code = '{code}' THEN format('{text.replace(chr(39), chr(39) * 2)}', "
    f"coalesce(problem.value, ''))"
    for code, text in REASONS.items() if code != "missing"
) + " END"


def collect_problems(conn: duckdb.DuckDBPyConnection) -> None:
    """``_imp_problems``: every refused row with its column, reason and raw values."""
    missing_reason = "format('{} is empty', coalesce(problem.field, 'a required value'))"
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_problems AS
        SELECT k, problem.field AS column_name,
               CASE WHEN problem.code = 'missing' THEN {missing_reason} ELSE {REASON_SQL} END
                   AS reason,
               problem.value AS value, raw
        FROM _imp_rows
        WHERE NOT skip AND problem IS NOT NULL
        """
    )


def add_problems(conn: duckdb.DuckDBPyConnection, plan: Plan, where: str, code: str,
                  column: str | None, value: str) -> None:
    """Refuse more rows after shaping (line items without their order...); their raw values
    are rebuilt from what was read."""
    q = SqlParams()
    keys = [k for k in plan.cols if f"f_{k}" in plan.row_cols]
    names = [plan.file.header[plan.cols[k]] for k in keys]
    values = ", ".join(f"CAST(r.f_{sql_ident(k)} AS VARCHAR)" for k in keys)
    raw_json = f"to_json(map({q.p(names)}, list_value({values})))" if keys else "NULL"
    conn.execute(
        f"""
        INSERT INTO _imp_problems
        SELECT r.k, {q.p(column)}, format({q.p(REASONS[code])}, coalesce({value}, '')),
               {value}, {raw_json}
        FROM _imp_rows r
        WHERE {where}
        """,
        q.values,
    )


def refuse_absurd(conn: duckdb.DuckDBPyConnection, plan: Plan, rows_read: int) -> None:
    """Values that cannot be right refuse the whole file, naming the first such row."""
    now = store.utc_now()
    future = now + FUTURE_TOLERANCE
    checks: list[tuple[str, str, str, list[Any], str]] = []
    if plan.kind == "orders":
        checks += [
            ("is_head AND f_total > ?", "total", "total", [MAX_ORDER_TOTAL],
             "a total of {} is not believable (over 1,000,000,000). Check that the column holds "
             "money in units, not cents, then import the file again"),
            ("is_head AND f_total < 0", "total", "total", [],
             "the order total is negative ({}). Refunds belong in the refunded amount; fix the "
             "row and import the file again"),
            ("is_head AND f_ordered_at > ?", "ordered_at", "ordered_at", [future],
             "the order date {} is in the future. Check the date column (and the day/month "
             "order), then import the file again"),
            ("is_head AND f_ordered_at < ?", "ordered_at", "ordered_at", [EARLIEST_DATE],
             "the order date {} is before 1970, which cannot be right. Check the date column, "
             "then import the file again"),
        ]
        if plan.has("refunds"):
            checks += [
                ("is_head AND f_refunds < 0", "refunds", "refunds", [],
                 "the refunded amount is negative ({}). Write refunds as positive amounts and "
                 "import the file again"),
                ("is_head AND f_refunds > f_total AND f_total >= 0", "refunds", "refunds", [],
                 "the refunded amount ({}) is more than the order total. Fix the row and import "
                 "the file again"),
            ]
        if plan.has("quantity"):
            checks += [
                ("f_quantity < 0", "quantity", "quantity", [],
                 "the quantity is negative ({}). Returns belong in the refunded amount; fix the "
                 "row and import the file again"),
                ("f_quantity > ?", "quantity", "quantity", [MAX_QUANTITY],
                 "a quantity of {} is not believable. Check the quantity column, then import the "
                 "file again"),
            ]
        if plan.has("unit_price"):
            checks += [
                ("f_unit_price < 0", "unit_price", "unit_price", [],
                 "the unit price is negative ({}). Fix the row and import the file again"),
                ("f_unit_price > ?", "unit_price", "unit_price", [MAX_ORDER_TOTAL],
                 "a unit price of {} is not believable. Check the price column, then import the "
                 "file again"),
            ]
    elif plan.kind == "feedback":
        checks += [
            ("f_answered_at > ?", "answered_at", "answered_at", [future],
             "the answer date {} is in the future. Check the date column (and the day/month "
             "order), then import the file again"),
            ("f_answered_at < ?", "answered_at", "answered_at", [EARLIEST_DATE],
             "the answer date {} is before 1970, which cannot be right. Check the date column"),
        ]
    else:
        if plan.has("signup_at"):
            checks.append(("f_signup_at > ?", "signup_at", "signup_at", [future],
                           "the sign-up date {} is in the future. Check the date column (and "
                           "the day/month order), then import the file again"))
        if plan.has("birthday"):
            checks += [
                ("f_birthday > CAST(? AS DATE)", "birthday", "birthday", [now.date()],
                 "the birthday {} is in the future. Check the column (and the day/month order)"),
                ("f_birthday < CAST(? AS DATE)", "birthday", "birthday",
                 [EARLIEST_BIRTHDAY.date()],
                 "the birthday {} is before 1900, which cannot be right. Check the column"),
            ]
    present = [c for c in checks if f"f_{c[1]}" in row_columns(conn)]
    if not present:
        return
    conds = " OR ".join(f"({c[0]})" for c in present)
    params: list[Any] = []
    for c in present:
        params += c[3]
    rows = fetch_rows(
        conn,
        f"SELECT k FROM _imp_rows WHERE NOT skip AND problem IS NULL AND ({conds}) "
        "ORDER BY k LIMIT 1",
        params,
    )
    if not rows:
        return
    k = int(rows[0][0])
    for cond, col_key, show_key, p, sentence in present:
        hit = fetch_rows(conn, f"SELECT f_{show_key} FROM _imp_rows WHERE k = ? AND ({cond})", [k, *p])
        if hit:
            value = hit[0][0]
            shown = f"{value:,.2f}" if isinstance(value, Decimal) else str(value)
            row = rd.spreadsheet_rows(plan.file, [k])[0]
            column = plan.column(col_key) or plan.column("_date") or col_key
            raise plan.refuse(
                f"row {row}, column '{column}': {sentence.format(shown)}. Nothing was imported.",
                rows_read=rows_read,
            )
