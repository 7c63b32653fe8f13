"""From rows to records: orders (Shopify's line-item rows grouped under their order), order
lines, feedback answers and the people behind them."""

# ruff: noqa: S608
# The SQL here is assembled from the import's own pieces only: positional column names c<i>,
# field keys checked by sql_ident(), literals checked by sql_literal() and table names from fixed
# lists. Every value that comes from a file or a user (header names, cells, answers) is a bound
# parameter.

from __future__ import annotations

import duckdb

from relmark_core.imports.plan import (
    Plan,
    fetch_one,
    row_columns,
    sql_literal,
)
from relmark_core.imports.rows import (
    add_problems,
)

__all__ = [
    "PERSON_FIELDS",
    "PERSON_CASTS",
    "VALID_ROW",
    "CONSENT_CASTS",
    "parsed_or_null",
    "shape",
    "people",
    "shape_orders",
    "packed_lines_sql",
    "shape_feedback",
]

# --- step 4: shape ----------------------------------------------------------------------------

PERSON_FIELDS = ("customer_id", "email", "email_norm", "first_name", "last_name", "phone",
                  "birthday", "gender", "city", "region", "country", "accepts_marketing", "tags",
                  "acquisition_channel", "signup_at")
PERSON_CASTS = {"birthday": "DATE", "accepts_marketing": "BOOLEAN", "tags": "VARCHAR[]",
                 "signup_at": "TIMESTAMP"}
VALID_ROW = "NOT skip AND problem IS NULL"
CONSENT_CASTS = (("sms_consent", "BOOLEAN"), ("_email_state", "VARCHAR"),
                 ("_sms_state", "VARCHAR"), ("ordered_at", "TIMESTAMP"))


def parsed_or_null(plan: Plan, name: str, cast: str = "DECIMAL(18,2)", prefix: str = "") -> str:
    """The parsed column ``f_<name>`` if the file has it, else a typed NULL."""
    if f"f_{name}" in plan.row_cols:
        return f"{prefix}f_{name}"
    return f"CAST(NULL AS {cast})"


def shape(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    plan.row_cols = row_columns(conn)
    if plan.kind == "orders":
        shape_orders(conn, plan)
    elif plan.kind == "feedback":
        shape_feedback(conn, plan)
    people(conn, plan)


def people(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """``_imp_people``: one row per person in the file, with their latest details."""
    rows = "_imp_heads" if plan.kind == "orders" else f"(SELECT * FROM _imp_rows WHERE {VALID_ROW})"
    attrs = ", ".join(
        f"{parsed_or_null(plan, a, PERSON_CASTS.get(a, 'VARCHAR'), 'r.')} AS {a}" for a in PERSON_FIELDS
    )
    # Consent per channel (written by relmark_core.privacy.consent): the SMS answer, the
    # exports' own words for the state ('unsubscribed'...) and, for orders, the order's date.
    attrs += ", " + ", ".join(
        f"{parsed_or_null(plan, a, cast, 'r.')} AS {a.lstrip('_')}" for a, cast in CONSENT_CASTS
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_people AS
        SELECT g.person_key, {attrs}, g.first_k
        FROM (SELECT f_person_key AS person_key, max(k) AS last_k, min(k) AS first_k
              FROM {rows} WHERE f_person_key IS NOT NULL GROUP BY f_person_key) g
        JOIN _imp_rows r ON r.k = g.last_k
        """
    )


def shape_orders(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    # Heads: the rows carrying the order's own fields; the last one wins if an order repeats.
    conn.execute(f"CREATE OR REPLACE TEMP VIEW _imp_heads AS SELECT * FROM _imp_rows "
                 f"WHERE {VALID_ROW} AND is_head")
    n, n_keys = fetch_one(conn, "SELECT count(*), count(DISTINCT f_order_id) FROM _imp_heads")
    if n != n_keys:
        conn.execute("CREATE OR REPLACE TEMP TABLE _imp_heads_d AS SELECT * FROM _imp_heads "
                     "QUALIFY row_number() OVER (PARTITION BY f_order_id ORDER BY k DESC) = 1")
        conn.execute("CREATE OR REPLACE TEMP VIEW _imp_heads AS SELECT * FROM _imp_heads_d")
    sys = sql_literal(plan.system)

    def col(name: str, cast: str = "DECIMAL(18,2)", prefix: str = "h.") -> str:
        return parsed_or_null(plan, name, cast, prefix)

    refunds = f"coalesce({col('refunds')}, 0)"
    refund_join = ""
    if plan.has("_event_type"):
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _imp_refunds AS
                SELECT f_order_id, sum(abs(f_total)) AS extra FROM _imp_rows
                WHERE {VALID_ROW} AND NOT is_head AND f_total IS NOT NULL GROUP BY f_order_id"""
        )
        refund_join = "LEFT JOIN _imp_refunds x ON x.f_order_id = h.f_order_id"
        refunds = f"({refunds} + coalesce(x.extra, 0))"
    status = f"coalesce({col('status', 'VARCHAR')}, {sql_literal(plan.spec.default_status)})"
    if plan.has("_cancelled_at"):
        status = f"CASE WHEN h.f__cancelled_at IS NOT NULL THEN 'cancelled' ELSE {status} END"
    if plan.has("_captured"):
        status = (f"CASE WHEN h.f__captured = false AND {status} = 'paid' THEN 'uncaptured' "
                  f"ELSE {status} END")
    tax = col("tax")
    if plan.has("_shipping_tax"):
        tax = f"({tax} + coalesce(h.f__shipping_tax, 0))"
    discounts = col("discounts")
    if plan.spec.name == "square_transactions":
        discounts = f"abs({discounts})"
    currency = f"coalesce({col('currency', 'VARCHAR')}, {sql_literal(plan.default_currency)})"
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW _imp_orders AS
        SELECT {sys} || ':' || h.f_order_id AS order_id, h.f_order_id AS source_order_id,
               {sys} AS source_system,
               h.f_ordered_at AS ordered_at, {currency} AS currency,
               {col('subtotal')} AS subtotal, {discounts} AS discounts,
               {col('shipping')} AS shipping, {tax} AS tax, h.f_total AS total,
               CAST({refunds} AS DECIMAL(18,2)) AS refunds,
               CAST(h.f_total - {refunds} AS DECIMAL(18,2)) AS net, {status} AS status,
               {col('sales_channel', 'VARCHAR')} AS sales_channel,
               {col('discount_code', 'VARCHAR')} AS discount_code,
               h.f_person_key AS person_key, h.k AS first_k
        FROM _imp_heads h {refund_join}
        """
    )
    # Line items: rows with line fields whose order loaded; the rest are refused.
    unit = parsed_or_null(plan, "unit_price")
    if plan.has("_line_total") and not plan.has("unit_price"):
        unit = ("CAST(f__line_total / nullif(f_quantity, 0) AS DECIMAL(18,2))"
                if plan.has("quantity") else "f__line_total")
    lines = f"""
        SELECT {sql_literal(plan.system)} || ':' || f_order_id AS order_id,
               CAST(row_number() OVER (PARTITION BY f_order_id ORDER BY k) AS INTEGER) AS line_no,
               {parsed_or_null(plan, 'product', 'VARCHAR')} AS product,
               {parsed_or_null(plan, 'sku', 'VARCHAR')} AS sku,
               {parsed_or_null(plan, 'category', 'VARCHAR')} AS category,
               CAST({parsed_or_null(plan, 'quantity', 'BIGINT')} AS INTEGER) AS quantity,
               {unit} AS unit_price
        FROM _imp_rows
        WHERE {VALID_ROW} AND has_line
    """
    if plan.has("_line_items"):
        lines += " UNION ALL " + packed_lines_sql(plan)
    conn.execute(f"CREATE OR REPLACE TEMP VIEW _imp_lines AS {lines}")
    # Line rows (and Square refunds) whose order row is missing or was refused are refused too.
    orphans = ("NOT r.skip AND r.problem IS NULL AND NOT r.is_head AND "
               "r.f_order_id NOT IN (SELECT f_order_id FROM _imp_heads)")
    code = "orphan_refund" if plan.has("_event_type") else "orphan_line"
    add_problems(conn, plan, orphans, code, plan.column("order_id"), "r.f_order_id")
    conn.execute(
        f"UPDATE _imp_rows SET problem = struct_pack(code := {sql_literal(code)}, "
        "field := CAST(NULL AS VARCHAR), value := CAST(f_order_id AS VARCHAR)) "
        "WHERE problem IS NULL AND NOT skip AND k IN (SELECT k FROM _imp_problems)"
    )


def packed_lines_sql(plan: Plan) -> str:
    """WooCommerce's ``line_items`` cell: ``name:Mug|sku:M1|quantity:2|total:20.00;...``."""

    def part(name: str) -> str:
        return f"nullif(regexp_extract(item, '(?:^|\\|){name}:([^|]*)', 1), '')"

    return f"""
        SELECT {sql_literal(plan.system)} || ':' || f_order_id, CAST(i AS INTEGER), {part('name')},
               {part('sku')}, NULL, TRY_CAST({part('quantity')} AS INTEGER),
               CAST(TRY_CAST({part('total')} AS DECIMAL(18,2))
                    / nullif(TRY_CAST({part('quantity')} AS INTEGER), 0) AS DECIMAL(18,2))
        FROM (
            SELECT f_order_id, unnest(string_split(f__line_items, ';')) AS item,
                   unnest(range(1, len(string_split(f__line_items, ';')) + 1)) AS i
            FROM _imp_heads
            WHERE f__line_items IS NOT NULL AND NOT has_line
        )
        WHERE trim(item) <> ''
    """


def shape_feedback(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    sys = sql_literal(plan.system)
    default_kind = sql_literal(plan.survey_kind or "nps")
    kind = f"coalesce(f_kind, {default_kind})" if "f_kind" in plan.row_cols else default_kind
    hashed = [c for c in ("f_email_norm", "f_answered_at", "f_score", "f_comment")
              if c in plan.row_cols]
    rid = f"md5(concat_ws('|', {', '.join(hashed)}))"
    if "f_response_id" in plan.row_cols:
        rid = f"coalesce(f_response_id, {rid})"
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW _imp_fb AS
        SELECT {sys} || ':' || {rid} AS response_id, f_answered_at AS answered_at,
               {kind} AS kind, CAST(f_score AS INTEGER) AS score,
               {parsed_or_null(plan, 'comment', 'VARCHAR')} AS comment, {sys} AS source,
               {parsed_or_null(plan, 'product', 'VARCHAR')} AS product,
               {parsed_or_null(plan, 'title', 'VARCHAR')} AS title,
               f_person_key AS person_key, k AS first_k
        FROM _imp_rows
        WHERE {VALID_ROW}
        QUALIFY row_number() OVER (PARTITION BY response_id ORDER BY k DESC) = 1
        """
    )
