"""Preview, commit, undo and history of imports: the set-based loading path.

One file goes through these steps, all plain SQL over DuckDB staging tables (no Python loop
over rows):

1. sample: the first :data:`SAMPLE_ROWS` rows of the needed columns, as text, into
   ``_imp_raw``;
2. analyse: decimal commas, date formats and day/month order, currency symbols, Typeform's
   score column. A question is raised when the file is truly ambiguous, never a guess. When the
   sample shows slash dates or unusual amounts, those columns are read whole before deciding;
3. read, type and check in one pass: ``read_csv`` of the whole file straight into
   ``_imp_rows`` (parsed values, flags and each row's first problem), so the file's text is
   never stored whole. If values the sample did not show fail to parse, the conventions are
   settled again on every value and the pass repeats. Values that cannot be right (absurd
   totals, negative quantities, future dates) refuse the whole file;
4. shape: orders (one per order number; Shopify's line-item rows grouped), order lines,
   feedback answers, and the people behind them;
5. match: people to customers by the source's customer id and by normalised email; orders and
   answers to what the store already holds (new / changed / unchanged);
6. write, in one transaction: the previous versions of every row the import changes go to the
   ``import_prev_*`` tables so that :func:`undo_import` can put them back.

``preview`` runs steps 1-5 and writes nothing; ``commit`` runs them again and writes.
"""

# ruff: noqa: S608
# The SQL here is assembled from the import's own pieces only: positional column names c<i>,
# field keys checked by sql_ident(), literals checked by sql_literal() and table names from fixed
# lists. Every value that comes from a file or a user (header names, cells, answers) is a bound
# parameter.

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.imports import formats as fm
from relmark_core.imports import mapping as mp
from relmark_core.imports import reading as rd
from relmark_core.imports.parsing import (
    MACROS,
    analyse,
    analyse_conventions,
    convention_columns,
)
from relmark_core.imports.plan import (
    DateOrder,
    Options,
    Plan,
    Problem,
    Question,
    SqlParams,
    fetch_one,
    fetch_rows,
    make_options,
    make_plan,
    plural,
)
from relmark_core.imports.reading import ImportRefused
from relmark_core.imports.rows import (
    EARLIEST_DATE,
    FUTURE_TOLERANCE,
    MAX_ORDER_TOTAL,
    MAX_QUANTITY,
    build_rows,
    collect_problems,
    read_raw,
    refuse_absurd,
    run_csv,
)
from relmark_core.imports.shaping import (
    VALID_ROW,
    shape,
)
from relmark_core.privacy import consent as privacy_consent
from relmark_core.privacy import erasure
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "DateOrder",
    "Progress",
    "Problem",
    "Question",
    "ImportPreview",
    "ImportResult",
    "ImportRefused",
    "PREVIEW_ROWS",
    "MAX_ORDER_TOTAL",
    "MAX_QUANTITY",
    "EARLIEST_DATE",
    "FUTURE_TOLERANCE",
    "preview",
    "commit",
    "undo_import",
    "import_history",
    "rejected_rows_csv",
    "neutralise_formula",
]

Progress = Callable[[float, str], None]

PREVIEW_ROWS = 20
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ID_HASH_CHARS = 16


class ImportPreview(BaseModel):
    """What an import would do, before anything is stored.

    ``sample`` holds the first :data:`PREVIEW_ROWS` records as they will be stored;
    ``problems`` every refused row (columns ``row``, ``column``, ``reason``, ``value``);
    ``questions`` what must be answered first (then call :func:`preview` again with the
    answers). :func:`commit` takes the preview itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    file_name: str
    content_hash: str
    size_bytes: int
    format: str
    format_label: str
    kind: fm.Kind | None
    header: tuple[str, ...]
    mapping: mp.ImportMapping | None
    encoding: str
    delimiter: str
    date_order: DateOrder | None
    rows_read: int
    rows_to_load: int
    rows_rejected: int
    new_records: int
    updated_records: int
    unchanged_records: int
    new_customers: int
    sample: pd.DataFrame
    problems: pd.DataFrame
    questions: tuple[Question, ...]
    notes: tuple[str, ...]
    demo_present: bool
    already_imported: int | None
    source: Any = None
    requested: dict[str, Any] = {}

    @property
    def ready(self) -> bool:
        """True when nothing is left to answer."""
        return not self.questions


class ImportResult(BaseModel):
    """What a commit did; :meth:`as_record` is the CLI's JSON line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    import_id: int | None
    file_name: str
    format: str
    kind: fm.Kind
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    new_records: int
    updated_records: int
    unchanged_records: int
    demo_removed: bool
    already_imported: bool
    message: str

    def as_record(self) -> dict[str, Any]:
        return {
            "file": self.file_name,
            "status": "loaded",
            "format": self.format,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "message": self.message,
        }


def neutralise_formula(value: Any) -> str:
    """A cell made safe for spreadsheets: text starting with = + - @ tab or CR gets a ``'``."""
    text = "" if value is None else str(value)
    if isinstance(value, float) and math.isnan(value):
        text = ""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _noop(_f: float, _m: str) -> None:
    return None

_STAGING_TABLES = ["_imp_raw", "_imp_rows", "_imp_heads_d", "_imp_people", "_imp_persons",
                   "_imp_cust", "_imp_final", "_imp_problems", "_imp_lsig", "_imp_refunds",
                   "_imp_keys", "_imp_consent"]
_STAGING_VIEWS = ["_imp_heads", "_imp_orders", "_imp_lines", "_imp_fb"]


def _drop_staging(conn: duckdb.DuckDBPyConnection) -> None:
    for v in _STAGING_VIEWS:
        conn.execute(f"DROP VIEW IF EXISTS temp.main.{v}")
    for t in _STAGING_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS temp.main.{t}")


# --- step 5: match ------------------------------------------------------------------------


def _resolve(conn: duckdb.DuckDBPyConnection, plan: Plan, *, exclude_demo: bool) -> None:
    """People to customers (by source customer id, then email), records to new/changed/same."""
    keys = ("(SELECT k.* FROM customer_keys k JOIN customers c USING (customer_id) "
            "WHERE c.import_id IS NOT NULL)") if exclude_demo else "customer_keys"
    q = SqlParams()
    sys = q.p(plan.system)
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_persons AS
        SELECT p.*, coalesce(ks.customer_id, ke.customer_id) AS existing_id,
               coalesce(ks.customer_id, ke.customer_id,
                        'c-' || substr(md5(p.person_key), 1, {_ID_HASH_CHARS})) AS resolved_id,
               p.customer_id IS NOT NULL AND ks.customer_id IS NULL AS add_src_key,
               p.email_norm IS NOT NULL AND ke.customer_id IS NULL AS add_email_key
        FROM _imp_people p
        LEFT JOIN {keys} ks ON ks.key_type = {sys} AND ks.key_value = p.customer_id
        LEFT JOIN {keys} ke ON ke.key_type = 'email' AND ke.key_value = p.email_norm
        """,
        q.values,
    )
    # One row per customer: what the store will hold after the import.
    overwrite = plan.kind == "customers"
    n_rows, n_ids = fetch_one(conn, "SELECT count(*), count(DISTINCT resolved_id) FROM _imp_persons")
    if n_rows == n_ids:
        per_customer = (f"SELECT resolved_id AS customer_id, existing_id IS NOT NULL AS existing, "
                        f"{', '.join(_CUSTOMER_ATTRS)}, first_k FROM _imp_persons")
    else:  # several people of the file are one customer: the latest details win
        attrs = ", ".join(f"arg_max({a}, first_k) FILTER (WHERE {a} IS NOT NULL) AS {a}"
                          for a in _CUSTOMER_ATTRS)
        per_customer = (f"SELECT resolved_id AS customer_id, bool_or(existing_id IS NOT NULL) "
                        f"AS existing, {attrs}, min(first_k) AS first_k FROM _imp_persons "
                        "GROUP BY resolved_id")
    merged = {}
    for a in _CUSTOMER_ATTRS:
        new = "CASE WHEN len(n.tags) > 0 THEN n.tags END" if a == "tags" else f"n.{a}"
        merged[a] = f"coalesce({new}, c.{a})" if overwrite else f"coalesce(c.{a}, {new})"
    differs = " OR ".join(f"{expr} IS DISTINCT FROM c.{a}" for a, expr in merged.items())
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_cust AS
        SELECT n.customer_id, n.existing, n.first_k,
               {', '.join(f'{expr} AS {a}' for a, expr in merged.items())},
               n.existing AND ({differs}) AS changed
        FROM ({per_customer}) n
        LEFT JOIN customers c ON c.customer_id = n.customer_id AND n.existing
        """
    )
    if plan.kind == "orders":
        _classify(conn, "_imp_orders", "orders", "order_id", _ORDER_COLS, exclude_demo,
                  lines=True)
    elif plan.kind == "feedback":
        _classify(conn, "_imp_fb", "feedback", "response_id", _FEEDBACK_COLS, exclude_demo,
                  lines=False)


_CUSTOMER_ATTRS = ("email", "email_norm", "first_name", "last_name", "phone", "birthday",
                   "gender", "city", "region", "country", "accepts_marketing", "tags",
                   "acquisition_channel", "signup_at")


_ORDER_COLS = ("source_order_id", "source_system", "customer_id", "ordered_at", "currency",
               "subtotal", "discounts", "shipping", "tax", "total", "refunds", "net", "status",
               "sales_channel", "discount_code")
_FEEDBACK_COLS = ("customer_id", "answered_at", "kind", "score", "comment", "source", "product",
                  "title")
_LINE_COLS = ("order_id", "line_no", "product", "sku", "category", "quantity", "unit_price")


def _classify(conn: duckdb.DuckDBPyConnection, staged: str, table: str, key: str,
              columns: tuple[str, ...], exclude_demo: bool, *, lines: bool) -> None:
    """``_imp_final``: the staged records with their customer and state new/changed/same."""
    demo = " AND o.import_id IS NOT NULL" if exclude_demo else ""
    differs = " OR ".join(
        f"o.{c} IS DISTINCT FROM " + ("p.resolved_id" if c == "customer_id" else f"n.{c}")
        for c in columns
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_final AS
        SELECT n.*, p.resolved_id AS customer_id,
               CASE WHEN o.{key} IS NULL THEN 'new' WHEN {differs} THEN 'changed' ELSE 'same'
               END AS state
        FROM {staged} n
        LEFT JOIN (SELECT DISTINCT person_key, resolved_id FROM _imp_persons) p
               ON p.person_key = n.person_key
        LEFT JOIN {table} o ON o.{key} = n.{key}{demo}
        """
    )
    if not lines or not fetch_one(conn, "SELECT count(*) FROM _imp_final WHERE state = 'same'")[0]:
        return
    # An order whose own fields are unchanged may still have different line items.
    sig = ("md5(string_agg(concat_ws('|', line_no, product, sku, category, quantity, "
           "unit_price), '\n' ORDER BY line_no))")
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_lsig AS
        WITH same AS (SELECT order_id FROM _imp_final WHERE state = 'same'),
        a AS (SELECT order_id, {sig} AS s FROM _imp_lines
              WHERE order_id IN (SELECT order_id FROM same) GROUP BY order_id),
        b AS (SELECT order_id, {sig} AS s FROM order_lines
              WHERE order_id IN (SELECT order_id FROM same) GROUP BY order_id)
        SELECT same.order_id FROM same LEFT JOIN a USING (order_id) LEFT JOIN b USING (order_id)
        WHERE a.s IS DISTINCT FROM b.s
        """
    )
    conn.execute("UPDATE _imp_final SET state = 'changed' "
                 "WHERE order_id IN (SELECT order_id FROM _imp_lsig)")


# --- the whole staging ------------------------------------------------------------------------


SAMPLE_ROWS = 50_000


@dataclass
class _Staged:
    plan: Plan
    rows_read: int
    rows_rejected: int
    rows_to_load: int
    problems: pd.DataFrame
    counts: dict[str, int]
    new_customers: int
    already: tuple[Any, ...] = ()


def _typed_pass(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    run_csv(conn, plan, sorted(set(plan.cols.values())),
             lambda sql, params: build_rows(conn, plan, sql, params))


def _needs_full_analysis(plan: Plan) -> bool:
    """The first rows show slash dates or unusual amounts: read those columns whole."""
    return (any(c.other for c in plan.dates.values())
            or any(m != "plain" for m in plan.money.values())
            or any(q.key == "date_order" for q in plan.questions))


def _parse_failures(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(fetch_rows(conn, "SELECT 1 FROM _imp_rows WHERE problem.code IN ('date', 'number') "
                      "LIMIT 1"))


def _conventions(plan: Plan) -> tuple[Any, ...]:
    return (tuple(sorted(plan.money.items())),
            tuple(sorted((k, repr(v)) for k, v in plan.dates.items())), plan.date_order)


def _stage(
    conn: duckdb.DuckDBPyConnection,
    source: rd.SourceInput,
    file_name: str,
    opts: Options,
    progress: Progress,
    *,
    exclude_demo: bool,
    resolve: bool = True,
    stop_if_imported: bool = False,
) -> _Staged:
    """Steps 1-5 (see the module docstring); writes only temp tables."""
    _drop_staging(conn)
    for macro in MACROS:
        conn.execute(macro)
    progress(0.02, f"Opening {file_name}")
    with rd.open_source(source, file_name) as f:
        plan = make_plan(conn, f, opts)
        plan.notes = list(f.notes) + plan.notes
        # With no import in the store there is nothing to compare: the file's hash (a thread
        # computes it) is not waited for here.
        if stop_if_imported and fetch_one(conn, "SELECT count(*) FROM imports WHERE status = "
                                          "'loaded'")[0]:
            already = _already(conn, f.content_hash)
            if already:
                return _Staged(plan, int(already[2]), 0, 0, _empty_problems(), {}, 0,
                               already=already)
        progress(0.04, f"Reading {file_name}")
        wanted = (list(range(len(f.header))) if plan.spec.name == "typeform"
                  else sorted(set(plan.cols.values())))
        n = read_raw(conn, plan, wanted, SAMPLE_ROWS)
        plan.sample_complete = n < SAMPLE_ROWS
        if plan.questions:  # the mapping question: nothing more can be read yet
            return _Staged(plan, n, 0, 0, _empty_problems(), {}, 0)
        analyse(conn, plan, opts)
        if not plan.sample_complete and _needs_full_analysis(plan):
            progress(0.08, "Checking every date and amount")
            read_raw(conn, plan, convention_columns(plan), None)
            analyse_conventions(conn, plan, opts)
        if plan.questions:
            return _Staged(plan, n, 0, 0, _empty_problems(), {}, 0)
        progress(0.12, "Reading and checking every row")
        _typed_pass(conn, plan)
        if not plan.sample_complete and _parse_failures(conn):
            # The first rows did not show every way the file writes dates or amounts.
            used = _conventions(plan)
            read_raw(conn, plan, convention_columns(plan), None)
            analyse_conventions(conn, plan, opts)
            if plan.questions:
                return _Staged(plan, n, 0, 0, _empty_problems(), {}, 0)
            if _conventions(plan) != used:
                _typed_pass(conn, plan)
        conn.execute("DROP TABLE IF EXISTS temp.main._imp_raw")
        # Still inside: row numbers of problem rows are read from the file when needed.
        return _check_and_shape(conn, plan, progress, exclude_demo=exclude_demo, resolve=resolve)


def _check_and_shape(conn: duckdb.DuckDBPyConnection, plan: Plan, progress: Progress, *,
                     exclude_demo: bool, resolve: bool) -> _Staged:
    """Steps 3 (the checks) to 5, once ``_imp_rows`` holds the file."""
    rows_read = int(fetch_one(conn, "SELECT count(*) FILTER (WHERE NOT skip) FROM _imp_rows")[0])
    if rows_read == 0:
        raise plan.refuse("the file has a header row but no data rows. Export the data again "
                          "(check the export's date range and filters).")
    erased = erasure.skip_erased_rows(conn, plan.system)
    if erased:
        if erased >= rows_read:
            raise plan.refuse("all its rows belong to people who asked to be erased; nothing "
                              "was imported.", rows_read=rows_read)
        plan.notes.append(f"Skipped {plural(erased, 'row')} of people who asked to be erased "
                          f"{_ERASED_NOTE_END}")
    collect_problems(conn)
    refuse_absurd(conn, plan, rows_read)
    progress(0.55, "Grouping orders and customers")
    shape(conn, plan)
    problems = _problems_frame(conn, plan)
    rows_rejected = int(problems["row"].nunique()) if len(problems) else 0
    if plan.kind == "orders":
        to_load = int(fetch_one(conn, "SELECT count(*) FROM _imp_orders")[0])
    elif plan.kind == "feedback":
        to_load = int(fetch_one(conn, "SELECT count(*) FROM _imp_fb")[0])
    else:
        to_load = int(fetch_one(conn, "SELECT count(*) FROM _imp_people")[0])
    if to_load == 0:
        first = problems.iloc[0] if len(problems) else None
        detail = (f" The first problem: row {first['row']}, column '{first['column']}': "
                  f"{first['reason']}." if first is not None else "")
        raise plan.refuse(
            f"none of its {plural(rows_read, 'row')} could be loaded.{detail} Fix the file and "
            "import it again.", rows_read=rows_read, rows_rejected=rows_rejected,
        )
    _notes_after(conn, plan)
    counts: dict[str, int] = {}
    new_customers = 0
    if resolve:
        progress(0.62, "Matching customers")
        _resolve(conn, plan, exclude_demo=exclude_demo)
        counts, new_customers = _counts(conn, plan)
    return _Staged(plan, rows_read, rows_rejected, to_load, problems, counts, new_customers)


def _notes_after(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    cols = plan.row_cols
    if "f_email_norm" in cols:
        bad = int(fetch_one(conn, "SELECT count(*) FROM _imp_rows WHERE NOT skip AND problem IS NULL "
                       "AND f_email IS NOT NULL AND f_email_norm IS NULL")[0])
        if bad:
            plan.notes.append(
                f"{plural(bad, 'row has', 'rows have')} an email that is not an email address; "
                "they were read without it."
            )
    skipped = int(fetch_one(conn, "SELECT count(*) FROM _imp_rows WHERE skip AND "
                       "k > (SELECT min(k) FROM _imp_rows WHERE NOT skip)")[0])
    if skipped:
        plan.notes.append(f"Skipped {plural(skipped, 'empty or totals row')}.")


def _counts(conn: duckdb.DuckDBPyConnection, plan: Plan) -> tuple[dict[str, int], int]:
    new_customers = int(fetch_one(conn, "SELECT count(*) FROM _imp_cust WHERE NOT existing")[0])
    if plan.kind == "customers":
        row = fetch_one(conn, "SELECT count(*) FILTER (WHERE NOT existing), count(*) FILTER "
                   "(WHERE changed), count(*) FILTER (WHERE existing AND NOT changed) "
                   "FROM _imp_cust")
    else:
        row = fetch_one(conn, "SELECT count(*) FILTER (WHERE state = 'new'), count(*) FILTER "
                   "(WHERE state = 'changed'), count(*) FILTER (WHERE state = 'same') "
                   "FROM _imp_final")
    return {"new": int(row[0]), "changed": int(row[1]), "same": int(row[2])}, new_customers


def _empty_problems() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype="object"),
                         "reason": pd.Series(dtype="object"), "value": pd.Series(dtype="object"),
                         "raw": pd.Series(dtype="object")})


def _problems_frame(conn: duckdb.DuckDBPyConnection, plan: Plan) -> pd.DataFrame:
    df = conn.execute(
        "SELECT k, column_name, reason, value, raw FROM _imp_problems ORDER BY k"
    ).df()
    if not len(df):
        return _empty_problems()
    rows = rd.spreadsheet_rows(plan.file, [int(k) for k in df["k"]])
    return pd.DataFrame({
        "row": pd.Series(rows, dtype="int64"),
        "column": df["column_name"].astype("object").where(df["column_name"].notna(), None),
        "reason": df["reason"].astype("object"),
        "value": df["value"].astype("object").where(df["value"].notna(), None),
        "raw": df["raw"].astype("object"),
    })


def _sample(conn: duckdb.DuckDBPyConnection, plan: Plan, resolved: bool) -> pd.DataFrame:
    n = PREVIEW_ROWS
    if plan.kind == "orders":
        cust = "o.customer_id, " if resolved else ""
        src = "_imp_final" if resolved else "_imp_orders"
        return conn.execute(
            f"""WITH o AS (SELECT * FROM {src} ORDER BY first_k LIMIT {n}),
                l AS (SELECT f_order_id, count(*) AS lines FROM _imp_rows
                      WHERE {VALID_ROW} AND has_line
                        AND f_order_id IN (SELECT source_order_id FROM o) GROUP BY f_order_id)
                SELECT o.order_id, o.ordered_at, {cust}p.email, o.currency, o.subtotal,
                       o.discounts, o.shipping, o.tax, o.total, o.refunds, o.net, o.status,
                       o.sales_channel, o.discount_code, coalesce(l.lines, 0) AS lines
                FROM o LEFT JOIN _imp_people p USING (person_key)
                LEFT JOIN l ON l.f_order_id = o.source_order_id
                ORDER BY o.first_k"""
        ).df()
    if plan.kind == "feedback":
        cust = "f.customer_id, " if resolved else ""
        src = "_imp_final" if resolved else "_imp_fb"
        return conn.execute(
            f"""SELECT f.response_id, f.answered_at, {cust}p.email, f.kind, f.score, f.comment,
                       f.source
                FROM {src} f LEFT JOIN _imp_people p USING (person_key)
                ORDER BY f.first_k LIMIT {n}"""
        ).df()
    src = "_imp_cust" if resolved else "_imp_people"
    idcol = "customer_id" if resolved else "person_key"
    return conn.execute(
        f"""SELECT {idcol}, email, first_name, last_name, phone, birthday, gender, city, region,
                   country, accepts_marketing, tags, acquisition_channel, signup_at
            FROM {src} ORDER BY first_k LIMIT {n}"""
    ).df()


def _header_mapping(plan: Plan) -> mp.ImportMapping:
    fields = {k: plan.file.header[i] for k, i in plan.cols.items() if not k.startswith("_")}
    return mp.ImportMapping(kind=plan.kind, fields=fields)


def _already(conn: duckdb.DuckDBPyConnection, content_hash: str) -> tuple[Any, ...]:
    return fetch_one(
        conn,
        "SELECT import_id, created_at, rows_read, format, kind FROM imports WHERE content_hash = ? "
        "AND status = 'loaded' ORDER BY import_id DESC LIMIT 1",
        [content_hash],
    )


# --- public API -------------------------------------------------------------------------------


def preview(
    conn: duckdb.DuckDBPyConnection,
    path_or_bytes: rd.SourceInput,
    *,
    file_name: str | None = None,
    kind: str | None = None,
    format: str | None = None,
    mapping: Mapping[str, str] | mp.ImportMapping | str | None = None,
    date_order: str | None = None,
    keep_demo: bool = False,
    progress: Progress | None = None,
) -> ImportPreview:
    """Read and check a file without storing anything.

    Parameters
    ----------
    conn
        The store.
    path_or_bytes
        A path, or the file's bytes (an upload).
    file_name
        The name shown in messages (default: the path's name).
    kind, format
        Force the kind (orders | customers | feedback) or the format (see
        :data:`~relmark_core.imports.formats.FORMAT_NAMES`); normally recognised.
    mapping
        Relmark field -> column (generic files; also answers Typeform's score question).
    date_order
        ``"dmy"`` or ``"mdy"`` when the file's dates are ambiguous.
    keep_demo
        Count new/updated records as if the demo data stayed (default: as if removed).
    progress
        ``progress(fraction, message)`` called as the steps advance.

    Raises
    ------
    ImportRefused
        The file cannot be imported (empty, binary, absurd values...); the message says why.
    """
    name = file_name or _name_of(path_or_bytes)
    opts = make_options(kind, format, mapping, date_order)
    prog = progress or _noop
    demo = store.is_demo(conn)
    try:
        st = _stage(conn, path_or_bytes, name, opts, prog, exclude_demo=demo and not keep_demo)
        plan = st.plan
        resolved = not plan.questions
        sample = _sample(conn, plan, resolved) if resolved else _raw_sample(conn, plan)
        already = _already(conn, plan.file.content_hash)
        prog(1.0, "Preview ready")
        return ImportPreview(
            file_name=name,
            content_hash=plan.file.content_hash,
            size_bytes=plan.file.size,
            format=plan.spec.name,
            format_label=plan.label,
            kind=plan.kind,
            header=tuple(plan.file.header),
            mapping=plan.mapping if plan.spec is fm.GENERIC else _header_mapping(plan),
            encoding=plan.file.encoding,
            delimiter=plan.file.delimiter_name,
            date_order=plan.date_order if any(c.other for c in plan.dates.values()) else None,
            rows_read=st.rows_read,
            rows_to_load=st.rows_to_load,
            rows_rejected=st.rows_rejected,
            new_records=st.counts.get("new", 0),
            updated_records=st.counts.get("changed", 0),
            unchanged_records=st.counts.get("same", 0),
            new_customers=st.new_customers,
            sample=sample,
            problems=st.problems.drop(columns=["raw"]),
            questions=tuple(plan.questions),
            notes=tuple(plan.notes),
            demo_present=demo,
            already_imported=int(already[0]) if already else None,
            source=path_or_bytes,
            requested={"kind": kind, "format": format,
                       "mapping": opts.mapping.fields if opts.mapping else None,
                       "date_order": date_order},
        )
    finally:
        _drop_staging(conn)


def _raw_sample(conn: duckdb.DuckDBPyConnection, plan: Plan) -> pd.DataFrame:
    """The first rows as read (while questions are open, nothing is parsed yet)."""
    present = {r[0] for r in fetch_rows(
        conn, "SELECT column_name FROM duckdb_columns() WHERE table_name = '_imp_raw' "
        "AND database_name = 'temp'")}
    idx = [i for i in range(len(plan.file.header)) if f"c{i}" in present]
    if not idx:
        return pd.DataFrame()
    df = conn.execute(
        f"SELECT {', '.join(f'c{i}' for i in idx)} FROM _imp_raw LIMIT {PREVIEW_ROWS}"
    ).df()
    df.columns = [plan.file.header[i] for i in idx]
    return df


def _name_of(source: rd.SourceInput) -> str:
    if isinstance(source, (str,)) or hasattr(source, "__fspath__"):
        return str(getattr(source, "name", None) or str(source).rsplit("/", 1)[-1])
    return str(getattr(source, "name", None) or "upload")


def commit(
    conn: duckdb.DuckDBPyConnection,
    source: ImportPreview | rd.SourceInput,
    *,
    file_name: str | None = None,
    kind: str | None = None,
    format: str | None = None,
    mapping: Mapping[str, str] | mp.ImportMapping | str | None = None,
    date_order: str | None = None,
    keep_demo: bool = False,
    actor: str = DEFAULT_ACTOR,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a file in one transaction: all or nothing.

    ``source`` is an :class:`ImportPreview` (its file and answers are reused; the file must not
    have changed since) or the same arguments :func:`preview` takes. Demo data is removed first
    unless ``keep_demo``. Re-importing a file already imported (same content) changes nothing.

    Raises
    ------
    ImportRefused
        The file, or an answer it needs, is missing or wrong; the database is unchanged.
    NotAllowed
        The actor's role is below editor.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "import data")
    expected_hash = None
    if isinstance(source, ImportPreview):
        req = source.requested
        expected_hash = source.content_hash
        file_name = file_name or source.file_name
        kind = kind or req.get("kind")
        format = format or req.get("format")
        mapping = mapping or req.get("mapping")
        date_order = date_order or req.get("date_order")
        src: rd.SourceInput = source.source
    else:
        src = source
    name = file_name or _name_of(src)
    opts = make_options(kind, format, mapping, date_order)
    prog = progress or _noop
    demo = store.is_demo(conn)
    remove_demo = demo and not keep_demo
    try:
        st = _stage(conn, src, name, opts, prog, exclude_demo=remove_demo, resolve=False,
                    stop_if_imported=True)
        plan = st.plan
        if expected_hash and expected_hash != plan.file.content_hash:
            raise plan.refuse("the file changed since it was previewed. Preview it again, "
                              "then import.")
        already = st.already
        if plan.questions and not already:
            raise plan.refuse(" ".join(q.text for q in plan.questions),
                              rows_read=st.rows_read)
        if already:
            when = pd.Timestamp(already[1]).strftime("%Y-%m-%d %H:%M")
            return ImportResult(
                import_id=int(already[0]), file_name=name, format=plan.spec.name,
                kind=plan.kind, rows_read=st.rows_read, rows_loaded=0, rows_rejected=0,
                new_records=0, updated_records=0, unchanged_records=st.rows_to_load,
                demo_removed=False, already_imported=True,
                message=(f"This file was already imported on {when} UTC (import "
                         f"#{already[0]}); nothing changed."),
            )
        prog(0.6, "Writing")
        with store.transaction(conn):
            if remove_demo:
                _remove_demo(conn)
            _resolve(conn, plan, exclude_demo=False)
            counts, new_customers = _counts(conn, plan)
            import_id = int(fetch_one(conn, "SELECT nextval('import_id_seq')")[0])
            _write(conn, plan, import_id, prog)
            # Consent per channel and unsubscribes, in the same transaction (undo restores).
            privacy_consent.write_import_consent(conn, import_id, source=plan.spec.label,
                                                 actor=actor)
            _write_rejected(conn, import_id, st.problems)
            message = _message(plan, st, counts, new_customers, remove_demo)
            conn.execute(
                "INSERT INTO imports (import_id, file_name, content_hash, format, kind, "
                "rows_read, rows_loaded, rows_rejected, status, message, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?)",
                [import_id, name, plan.file.content_hash, plan.spec.name, plan.kind,
                 st.rows_read, st.rows_to_load, st.rows_rejected, message, actor,
                 store.utc_now()],
            )
            if plan.spec is fm.GENERIC and plan.mapping is not None:
                mp.remember_mapping(conn, plan.file.header, plan.mapping, actor=actor)
            store.audit(conn, actor, "import", f"#{import_id} {name}: {message}")
            store.bump_data_version(conn)
        prog(1.0, "Imported")
        return ImportResult(
            import_id=import_id, file_name=name, format=plan.spec.name, kind=plan.kind,
            rows_read=st.rows_read, rows_loaded=st.rows_to_load, rows_rejected=st.rows_rejected,
            new_records=counts["new"], updated_records=counts["changed"],
            unchanged_records=counts["same"], demo_removed=remove_demo, already_imported=False,
            message=message,
        )
    finally:
        _drop_staging(conn)


_ERASED_NOTE_END = "(they stay erased)."


def _message(plan: Plan, st: _Staged, counts: dict[str, int], new_customers: int,
             demo_removed: bool) -> str:
    noun = {"orders": ("order", "orders"), "customers": ("customer", "customers"),
            "feedback": ("answer", "answers")}[plan.kind]
    parts = [
        f"Loaded {plural(st.rows_to_load, *noun)} from {plural(st.rows_read, 'row')} "
        f"({counts['new']:,} new, {counts['changed']:,} updated, {counts['same']:,} unchanged)"
    ]
    if plan.kind != "customers" and new_customers:
        parts.append(f"{plural(new_customers, 'new customer')}")
    msg = "; ".join(parts) + "."
    if st.rows_rejected:
        msg += (f" {plural(st.rows_rejected, 'row was', 'rows were')} rejected (download them "
                "with their reasons).")
    if demo_removed:
        msg += " The demo data was removed first."
    msg += "".join(f" {n}" for n in plan.notes if n.endswith(_ERASED_NOTE_END))
    return msg


def _remove_demo(conn: duckdb.DuckDBPyConnection) -> None:
    """Delete the demo shop's rows (they carry no import id) and mark the store as real data."""
    conn.execute("DELETE FROM order_lines WHERE import_id IS NULL")
    conn.execute("DELETE FROM orders WHERE import_id IS NULL")
    conn.execute("DELETE FROM feedback WHERE import_id IS NULL")
    conn.execute("DELETE FROM customers WHERE import_id IS NULL")
    conn.execute("DELETE FROM customer_keys WHERE customer_id NOT IN "
                 "(SELECT customer_id FROM customers)")
    conn.execute("DELETE FROM consent WHERE customer_id NOT IN "
                 "(SELECT customer_id FROM customers)")
    store.set_meta(conn, "demo", "0")


def _table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in fetch_rows(
        conn, "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
        "AND database_name = current_database() AND schema_name = 'main' ORDER BY column_index",
        [table])]


def _save_previous(conn: duckdb.DuckDBPyConnection, table: str, where: str,
                   import_id: int) -> None:
    cols = [c for c in _table_columns(conn, f"import_prev_{table}") if c != "changed_by"]
    collist = ", ".join(cols)
    conn.execute(
        f"INSERT INTO import_prev_{table} (changed_by, {collist}) "
        f"SELECT ?, {collist} FROM {table} WHERE {where}",
        [import_id],
    )


def _write(conn: duckdb.DuckDBPyConnection, plan: Plan, import_id: int, prog: Progress) -> None:
    x = import_id
    # Customers: keep the versions being changed, update them, add the new ones and their keys.
    _save_previous(conn, "customers",
                   "customer_id IN (SELECT customer_id FROM _imp_cust WHERE changed)", x)
    attrs = _CUSTOMER_ATTRS
    conn.execute(
        f"UPDATE customers SET {', '.join(f'{a} = n.{a}' for a in attrs)}, import_id = ? "
        "FROM _imp_cust n WHERE customers.customer_id = n.customer_id AND n.changed",
        [x],
    )
    conn.execute(
        f"INSERT INTO customers (customer_id, {', '.join(attrs)}, source_system, import_id) "
        f"SELECT customer_id, {', '.join(attrs)}, ?, ? FROM _imp_cust WHERE NOT existing",
        [plan.system, x],
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _imp_keys AS
        SELECT 'email' AS key_type, email_norm AS key_value, min(resolved_id) AS customer_id
        FROM _imp_persons WHERE add_email_key GROUP BY email_norm
        UNION ALL
        SELECT ?, customer_id, min(resolved_id) FROM _imp_persons WHERE add_src_key
        GROUP BY customer_id
        """,
        [plan.system],
    )
    conn.execute("INSERT INTO customer_keys SELECT key_type, key_value, customer_id FROM _imp_keys")
    conn.execute("INSERT INTO import_added_keys SELECT ?, key_type, key_value FROM _imp_keys", [x])
    if plan.kind == "orders":
        prog(0.7, "Writing orders")
        changed = "order_id IN (SELECT order_id FROM _imp_final WHERE state = 'changed')"
        _save_previous(conn, "orders", changed, x)
        _save_previous(conn, "order_lines", changed, x)
        conn.execute(f"DELETE FROM order_lines WHERE {changed}")
        sets = ", ".join(f"{c} = n.{c}" for c in _ORDER_COLS)
        conn.execute(
            f"UPDATE orders SET {sets}, import_id = ? FROM _imp_final n "
            "WHERE orders.order_id = n.order_id AND n.state = 'changed'",
            [x],
        )
        cols = ", ".join(("order_id",) + _ORDER_COLS)
        conn.execute(
            f"INSERT INTO orders ({cols}, import_id) SELECT {cols}, ? FROM _imp_final "
            "WHERE state = 'new'",
            [x],
        )
        prog(0.85, "Writing order lines")
        lines = ", ".join(_LINE_COLS)
        n_same = fetch_one(conn, "SELECT count(*) FROM _imp_final WHERE state = 'same'")[0]
        filt = "" if not n_same else (
            " WHERE order_id IN (SELECT order_id FROM _imp_final WHERE state <> 'same')")
        conn.execute(
            f"INSERT INTO order_lines ({lines}, import_id) SELECT {lines}, ? FROM _imp_lines{filt}",
            [x],
        )
    elif plan.kind == "feedback":
        prog(0.75, "Writing answers")
        changed = "response_id IN (SELECT response_id FROM _imp_final WHERE state = 'changed')"
        _save_previous(conn, "feedback", changed, x)
        sets = ", ".join(f"{c} = n.{c}" for c in _FEEDBACK_COLS)
        conn.execute(
            f"UPDATE feedback SET {sets}, import_id = ? FROM _imp_final n "
            "WHERE feedback.response_id = n.response_id AND n.state = 'changed'",
            [x],
        )
        cols = ", ".join(("response_id",) + _FEEDBACK_COLS)
        conn.execute(
            f"INSERT INTO feedback ({cols}, import_id) SELECT {cols}, ? FROM _imp_final "
            "WHERE state = 'new'",
            [x],
        )
    prog(0.95, "Saving the import")


def _write_rejected(conn: duckdb.DuckDBPyConnection, import_id: int, problems: pd.DataFrame) -> None:
    if not len(problems):
        return
    df = pd.DataFrame({
        "import_id": import_id,
        "line_number": problems["row"].astype("int64"),
        "column_name": problems["column"],
        "reason": problems["reason"],
        "raw": problems["raw"],
    })
    conn.register("_imp_rejected_df", df)
    try:
        conn.execute("INSERT INTO rejected_rows SELECT import_id, line_number, column_name, "
                     "reason, raw FROM _imp_rejected_df")
    finally:
        conn.unregister("_imp_rejected_df")


def undo_import(conn: duckdb.DuckDBPyConnection, import_id: int, *,
                actor: str = DEFAULT_ACTOR) -> None:
    """Put the store back as it was before an import (rows it added go, rows it changed return).

    Refused while a later import still builds on this one's rows (undo that one first). Demo
    data an import removed is not brought back.
    """
    auth.require(conn, actor, auth.Role.EDITOR, "undo an import")
    row = fetch_one(conn, "SELECT file_name, status FROM imports WHERE import_id = ?", [import_id])
    if not row:
        raise InputRefused(f"There is no import #{import_id}. Check the number in the history.")
    file_name, status = row
    if status != "loaded":
        raise InputRefused(f"Import #{import_id} ({file_name}) was already undone.")
    later = _dependants(conn, import_id)
    if later:
        lid, lname = later
        raise InputRefused(
            f"Import #{lid} ({lname}) changed or uses records that import #{import_id} "
            f"({file_name}) wrote. Undo #{lid} first, then #{import_id}."
        )
    x = import_id
    with store.transaction(conn):
        conn.execute("DELETE FROM order_lines WHERE import_id = ?", [x])
        conn.execute("DELETE FROM orders WHERE import_id = ?", [x])
        conn.execute("DELETE FROM feedback WHERE import_id = ?", [x])
        conn.execute("DELETE FROM customers WHERE import_id = ?", [x])
        for table in ("customers", "orders", "order_lines", "feedback"):
            cols = [c for c in _table_columns(conn, f"import_prev_{table}") if c != "changed_by"]
            collist = ", ".join(cols)
            conn.execute(
                f"INSERT INTO {table} ({collist}) SELECT {collist} FROM import_prev_{table} "
                "WHERE changed_by = ?",
                [x],
            )
            conn.execute(f"DELETE FROM import_prev_{table} WHERE changed_by = ?", [x])
        privacy_consent.undo_import_consent(conn, x)
        conn.execute(
            "DELETE FROM customer_keys WHERE (key_type, key_value) IN "
            "(SELECT (key_type, key_value) FROM import_added_keys WHERE import_id = ?)",
            [x],
        )
        conn.execute("DELETE FROM import_added_keys WHERE import_id = ?", [x])
        conn.execute(
            "UPDATE imports SET status = 'undone', undone_by = ?, undone_at = ? "
            "WHERE import_id = ?",
            [actor, store.utc_now(), x],
        )
        store.audit(conn, actor, "import undone", f"#{x} {file_name}")
        store.bump_data_version(conn)


def _dependants(conn: duckdb.DuckDBPyConnection, x: int) -> tuple[Any, ...]:
    """The first later, still loaded import that changed or uses rows import ``x`` wrote."""
    return fetch_one(
        conn,
        """
        WITH deps AS (
            SELECT changed_by AS y FROM import_prev_customers WHERE import_id = $x
            UNION SELECT changed_by FROM import_prev_orders WHERE import_id = $x
            UNION SELECT changed_by FROM import_prev_order_lines WHERE import_id = $x
            UNION SELECT changed_by FROM import_prev_feedback WHERE import_id = $x
            UNION SELECT changed_by FROM import_prev_consent WHERE import_id = $x
            UNION SELECT o.import_id FROM orders o JOIN customers c USING (customer_id)
                  WHERE c.import_id = $x AND o.import_id <> $x
                    AND c.customer_id NOT IN (SELECT customer_id FROM import_prev_customers
                                              WHERE changed_by = $x)
            UNION SELECT f.import_id FROM feedback f JOIN customers c USING (customer_id)
                  WHERE c.import_id = $x AND f.import_id <> $x
                    AND c.customer_id NOT IN (SELECT customer_id FROM import_prev_customers
                                              WHERE changed_by = $x)
            UNION SELECT a.import_id FROM import_added_keys a
                  JOIN customer_keys k USING (key_type, key_value)
                  JOIN customers c ON c.customer_id = k.customer_id
                  WHERE c.import_id = $x AND a.import_id <> $x
                    AND c.customer_id NOT IN (SELECT customer_id FROM import_prev_customers
                                              WHERE changed_by = $x)
        )
        SELECT i.import_id, i.file_name FROM deps JOIN imports i ON i.import_id = deps.y
        WHERE i.status = 'loaded' AND i.import_id <> $x ORDER BY i.import_id DESC LIMIT 1
        """,
        {"x": x},
    )


def import_history(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every import, newest first: what, when, who, counts and whether it was undone."""
    df = conn.execute(
        """SELECT import_id, created_at, file_name, format, kind, rows_read, rows_loaded,
                  rows_rejected, status, message, created_by, undone_at, undone_by
           FROM imports ORDER BY import_id DESC"""
    ).df()
    for col in ("message", "undone_by"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def rejected_rows_csv(conn: duckdb.DuckDBPyConnection, import_id: int) -> bytes:
    """The rows an import refused, as CSV with a reason column (formulas neutralised).

    Columns: ``row``, ``column``, ``reason``, then the file's own columns (the values Relmark
    read from the refused row).
    """
    rows = fetch_rows(
        conn,
        "SELECT line_number, column_name, reason, raw FROM rejected_rows WHERE import_id = ? "
        "ORDER BY line_number",
        [import_id],
    )
    parsed: list[dict[str, Any]] = []
    columns: list[str] = []
    for _, _, _, raw in rows:
        try:
            obj = json.loads(raw) if raw else {}
        except ValueError:
            obj = {"raw": raw}
        if not isinstance(obj, dict):
            obj = {"raw": raw}
        for key in obj:
            if key not in columns:
                columns.append(key)
        parsed.append(obj)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["row", "column", "reason"] + [c if c not in ("row", "column", "reason")
                                            else f"{c} (file)" for c in columns]
    writer.writerow([neutralise_formula(h) for h in header])
    for (line, column, reason, _), obj in zip(rows, parsed, strict=True):
        writer.writerow([neutralise_formula(v) for v in
                         [line, column, reason, *[obj.get(c) for c in columns]]])
    return buf.getvalue().encode("utf-8")
