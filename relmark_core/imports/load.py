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
# The SQL below is assembled from this module's own pieces only: positional column names c<i>,
# field keys checked by _ident(), literals checked by _lit() and table names from fixed lists.
# Every value that comes from a file or a user (header names, cells, answers) is a bound
# parameter.

from __future__ import annotations

import csv
import io
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core import store
from relmark_core.errors import InputRefused
from relmark_core.imports import formats as fm
from relmark_core.imports import mapping as mp
from relmark_core.imports import reading as rd
from relmark_core.imports.reading import ImportRefused
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

DateOrder = Literal["dmy", "mdy"]
DATE_ORDERS: tuple[DateOrder, ...] = ("dmy", "mdy")
Progress = Callable[[float, str], None]

PREVIEW_ROWS = 20
MAX_ORDER_TOTAL = Decimal("1000000000")
MAX_QUANTITY = 1_000_000
EARLIEST_DATE = datetime(1970, 1, 1)
EARLIEST_BIRTHDAY = datetime(1900, 1, 1)
FUTURE_TOLERANCE = timedelta(days=1)
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5)}
TYPEFORM_SCORE_SHARE = 0.9
TYPEFORM_EMAIL_SHARE = 0.8
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ID_HASH_CHARS = 16
_PLACEHOLDERS = ["", "-", "—", "n/a", "na", "null", "none", "#n/a", "nan", "(none)"]
_TRIM_CHARS = " \t\r\n\u00a0\ufeff"
_WS = ", ".join(f"chr({ord(c)})" for c in _TRIM_CHARS)
_BOOL_WORDS: dict[str, bool] = {
    "yes": True, "y": True, "true": True, "t": True, "1": True, "x": True, "subscribed": True,
    "opted in": True, "opted_in": True, "oui": True, "ja": True, "si": True, "sí": True,
    "no": False, "n": False, "false": False, "f": False, "0": False, "unsubscribed": False,
    "never_subscribed": False, "never subscribed": False, "not_subscribed": False,
    "not subscribed": False, "opted out": False, "non": False, "nein": False,
}
_SURVEY_KINDS = {"nps": "nps", "net promoter score": "nps", "csat": "csat",
                 "customer satisfaction": "csat", "satisfaction": "csat"}
_SLASH_FORMATS = ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H:%M:%S.%f"]
_TEXT_DATE_FORMATS = [
    "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y",
    "%b %d, %Y %I:%M %p", "%B %d, %Y %I:%M %p", "%b %d, %Y %H:%M", "%d %b %Y %H:%M",
    "%d %B %Y %H:%M", "%d %b %Y %H:%M:%S", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
]
_REASONS = {
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


class Problem(BaseModel):
    """One refused row: its spreadsheet row number, the column and the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    row: int
    column: str | None
    reason: str
    value: str | None = None


class Question(BaseModel):
    """Something the user must answer before the file can load (never guessed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Literal["date_order", "mapping", "score_column"]
    text: str
    options: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    example: str | None = None


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


# --- small helpers --------------------------------------------------------------------------


class _Params:
    """Named SQL parameters: ``p(value)`` returns ``$pN`` and remembers the value."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def p(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"

    def lookup(self, table: Mapping[str, Any], key_sql: str) -> str:
        keys = list(table.keys())
        vals = list(table.values())
        return f"map({self.p(keys)}, {self.p(vals)})[{key_sql}]"


def _rows(conn: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params or []).fetchall()


def _one(conn: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[Any, ...]:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else ()


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def neutralise_formula(value: Any) -> str:
    """A cell made safe for spreadsheets: text starting with = + - @ tab or CR gets a ``'``."""
    text = "" if value is None else str(value)
    if isinstance(value, float) and math.isnan(value):
        text = ""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _noop(_f: float, _m: str) -> None:
    return None


# --- the plan: what the file is and which columns fill which fields -------------------------


@dataclass
class _DateConv:
    iso: bool = True
    other: bool = False
    offsets: Literal["none", "shopify", "all", "mixed"] = "none"
    ambiguous: bool = False
    decisive: DateOrder | None = None
    example: str | None = None


@dataclass
class _Plan:
    file: rd.CsvFile
    spec: fm.FormatSpec
    kind: fm.Kind
    cols: dict[str, int]
    mapping: mp.ImportMapping | None
    questions: list[Question] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    date_order: DateOrder | None = None
    money: dict[str, str] = field(default_factory=dict)
    dates: dict[str, _DateConv] = field(default_factory=dict)
    default_currency: str = "USD"
    store_tz: str = "UTC"
    survey_kind: str | None = None
    zones: dict[str, str] = field(default_factory=dict)
    rows_total: int = 0
    row_cols: set[str] = field(default_factory=set)
    parallel: bool = True
    transcoded: bool = False
    sample_complete: bool = True

    @property
    def system(self) -> str:
        return self.spec.source_system

    @property
    def label(self) -> str:
        return self.spec.label

    def column(self, key: str) -> str | None:
        i = self.cols.get(key)
        return None if i is None else self.file.header[i]

    def has(self, key: str) -> bool:
        return key in self.cols

    def ftype(self, key: str) -> fm.FieldType:
        spec = fm.field_spec(self.kind, key)
        if spec is not None:
            return spec.type
        return _HELPER_TYPES.get(key, "text")

    def refuse(self, sentence: str, *, rows_read: int = 0, rows_rejected: int = 0) -> ImportRefused:
        return ImportRefused(
            f"{self.file.name}: {sentence}", format=self.spec.name, kind=self.kind,
            rows_read=rows_read, rows_rejected=rows_rejected,
        )


_HELPER_TYPES: dict[str, fm.FieldType] = {
    "_cancelled_at": "text",
    "_captured": "bool",
    "_date": "text",
    "_time": "text",
    "_time_zone": "text",
    "_event_type": "text",
    "_shipping_tax": "money",
    "_line_total": "money",
    "_line_items": "text",
    "_response_type": "text",
}


@dataclass
class _Options:
    kind: fm.Kind | None
    format: str | None
    mapping: mp.ImportMapping | None
    date_order: DateOrder | None


def _options(
    kind: str | None, format: str | None, mapping: Any, date_order: str | None
) -> _Options:
    if kind is not None and kind not in fm.KINDS:
        raise InputRefused(f"The kind must be one of {', '.join(fm.KINDS)}; '{kind}' was given.")
    if format is not None and fm.find_format(format) is None:
        raise InputRefused(
            f"Relmark does not know the format '{format}'. Known formats: "
            f"{', '.join(fm.FORMAT_NAMES)}."
        )
    if date_order is not None and date_order not in DATE_ORDERS:
        raise InputRefused(f"The date order must be dmy or mdy; '{date_order}' was given.")
    m = None if mapping is None else mp.mapping_from_json(mapping, kind=kind)
    return _Options(kind=kind, format=format, mapping=m, date_order=date_order)


def _make_plan(conn: duckdb.DuckDBPyConnection, f: rd.CsvFile, opts: _Options) -> _Plan:
    spec: fm.FormatSpec | None
    if opts.format:
        spec = fm.find_format(opts.format)
        assert spec is not None
        if spec is not fm.GENERIC:
            missing = fm.missing_signature(spec, f.header)
            if missing:
                raise ImportRefused(
                    f"{f.name}: this is not a {spec.label}: it lacks the column(s) "
                    f"{', '.join(repr(m) for m in missing)}. Pick the right file, or import it "
                    "without naming a format.",
                    format=spec.name, kind=spec.kind,
                )
    else:
        spec = fm.recognise(f.header)
    if spec is None:
        spec = fm.GENERIC
    if spec is not fm.GENERIC:
        if opts.kind and opts.kind != spec.kind:
            raise ImportRefused(
                f"{f.name}: this is a {spec.label}, which holds {spec.kind}, not {opts.kind}. "
                f"Import it as {spec.kind} (or pick the file with your {opts.kind}).",
                format=spec.name, kind=spec.kind,
            )
        names = [fm.normalise_header(h) for h in f.header]
        cols: dict[str, int] = {}
        for key, candidates in spec.columns.items():
            for cand in candidates:
                if cand in names:
                    cols[key] = names.index(cand)
                    break
        plan = _Plan(file=f, spec=spec, kind=spec.kind, cols=cols, mapping=None)
        if opts.mapping:
            _apply_mapping(plan, opts.mapping)
        return plan
    # Generic: the mapping given, else the one remembered for this header, else a proposal.
    m = opts.mapping
    if m is None:
        remembered = mp.remembered_mapping(conn, f.header)
        if remembered is not None and (opts.kind is None or remembered.kind == opts.kind):
            m = remembered
    if m is None:
        kind = opts.kind or mp.infer_kind(f.header)
        if kind is None:
            kind = "orders"
        m = mp.propose_mapping(f.header, kind)
    plan = _Plan(file=f, spec=fm.GENERIC, kind=m.kind, cols={}, mapping=m)
    _apply_mapping(plan, m)
    missing = mp.missing_required(m)
    if missing:
        mapped = set(plan.cols.values())
        unmapped = [h for i, h in enumerate(f.header) if i not in mapped]
        labels = [(fm.field_spec(m.kind, k) or fm.FieldSpec(k, k, "text", "row")).label
                  .split(" (")[0].lower() for k in missing]
        plan.questions.append(
            Question(
                key="mapping",
                text=(
                    f"Relmark could not tell which columns hold the {_join(labels)} "
                    f"(reading the file as {m.kind}). Unmapped columns: "
                    f"{', '.join(repr(u) for u in unmapped) or 'none'}. Map them on the Data "
                    'page, or pass --mapping with a JSON object like {"'
                    + missing[0] + '": "' + (unmapped[0] if unmapped else "Column") + '"}.'
                ),
                options=tuple(f.header),
                fields=tuple(missing),
            )
        )
    return plan


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _apply_mapping(plan: _Plan, m: mp.ImportMapping) -> None:
    names = [fm.normalise_header(h) for h in plan.file.header]
    bad = []
    for key, column in m.fields.items():
        n = fm.normalise_header(column)
        if n in names:
            plan.cols[key] = names.index(n)
        else:
            bad.append(column)
    if bad:
        raise plan.refuse(
            f"the mapping names column(s) the file does not have: "
            f"{', '.join(repr(b) for b in bad)}. Its columns are: "
            f"{', '.join(repr(h) for h in plan.file.header)}."
        )


# --- step 1: read ---------------------------------------------------------------------------

_MACROS = [
    # Trim only values that start or end with white space: trimming every value is slow.
    "CREATE OR REPLACE TEMP MACRO _imp_t(v) AS CASE WHEN v = '' THEN NULL "
    f"WHEN v[1] IN ({_WS}) OR v[-1] IN ({_WS}) THEN nullif(trim(v, '{_TRIM_CHARS}'), '') "
    "ELSE v END",
    "CREATE OR REPLACE TEMP MACRO _imp_numtext(v) AS regexp_replace(v, '[^0-9,.()+-]', '', 'g')",
    # Amounts that are not plain numbers: a last separator followed by one or two digits is
    # the decimal point whatever it is; otherwise the column's convention decides (comma: '.'
    # separates thousands and ',' decimals; dot: the other way round). (3.00) is negative.
    "CREATE OR REPLACE TEMP MACRO _imp_sep_text(s, comma) AS CASE "
    "WHEN regexp_matches(s, '[.,][0-9]{1,2}$') THEN "
    "regexp_replace(regexp_extract(s, '^(.*)[.,][0-9]{1,2}$', 1), '[.,]', '', 'g') || '.' || "
    "regexp_extract(s, '([0-9]{1,2})$', 1) "
    "WHEN comma THEN replace(replace(s, '.', ''), ',', '.') ELSE replace(s, ',', '') END",
    "CREATE OR REPLACE TEMP MACRO _imp_money(v, comma) AS TRY_CAST("
    "CASE WHEN _imp_numtext(v) LIKE '(%)' "
    "THEN '-' || _imp_sep_text(trim(_imp_numtext(v), '()'), comma) "
    "ELSE _imp_sep_text(_imp_numtext(v), comma) END AS DECIMAL(18,2))",
    "CREATE OR REPLACE TEMP MACRO _imp_dbl(v) AS TRY_CAST(replace(v, ',', '.') AS DOUBLE)",
    "CREATE OR REPLACE TEMP MACRO _imp_int(v) AS CASE WHEN contains(v, '.') OR contains(v, ',') "
    "THEN CASE WHEN _imp_dbl(v) = floor(_imp_dbl(v)) AND abs(_imp_dbl(v)) < 1e15 "
    "THEN CAST(_imp_dbl(v) AS BIGINT) END ELSE TRY_CAST(v AS BIGINT) END",
    "CREATE OR REPLACE TEMP MACRO _imp_email_ok(v) AS "
    "(v LIKE '%_@_%._%' AND NOT contains(v, ' ') AND NOT contains(substr(v, strpos(v, '@') + 1),"
    " '@'))",
]

_STAGING_TABLES = ["_imp_raw", "_imp_rows", "_imp_heads_d", "_imp_people", "_imp_persons",
                   "_imp_cust", "_imp_final", "_imp_problems", "_imp_lsig", "_imp_refunds",
                   "_imp_keys"]
_STAGING_VIEWS = ["_imp_heads", "_imp_orders", "_imp_lines", "_imp_fb"]


def _drop_staging(conn: duckdb.DuckDBPyConnection) -> None:
    for v in _STAGING_VIEWS:
        conn.execute(f"DROP VIEW IF EXISTS temp.main.{v}")
    for t in _STAGING_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS temp.main.{t}")


def _run_csv(conn: duckdb.DuckDBPyConnection, plan: _Plan, columns: list[int],
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
            raise plan.refuse(_csv_error_sentence(text, len(f.header))) from exc


def _csv_error_sentence(text: str, n_columns: int) -> str:
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


def _read_raw(conn: duckdb.DuckDBPyConnection, plan: _Plan, columns: list[int],
              limit: int | None) -> int:
    """Text of some columns into ``_imp_raw`` (the first ``limit`` rows, or all)."""
    tail = f" LIMIT {int(limit)}" if limit is not None else ""

    def build(sql: str, params: dict[str, Any]) -> None:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _imp_raw AS {sql}{tail}", params)

    _run_csv(conn, plan, columns, build)
    return int(_one(conn, "SELECT count(*) FROM _imp_raw")[0])


# --- step 2: analyse ------------------------------------------------------------------------


def _raw(plan: _Plan, key: str) -> str:
    return f"_imp_t(c{plan.cols[key]})"


def _analyse(conn: duckdb.DuckDBPyConnection, plan: _Plan, opts: _Options) -> None:
    """Settle how to read the file, from the rows in ``_imp_raw``."""
    plan.store_tz = store.get_setting(conn, "store_timezone", "UTC")
    if plan.spec.name == "typeform":
        _typeform_columns(conn, plan, opts)
    if plan.kind == "feedback" and plan.has("score") and not plan.has("kind"):
        _survey_kind(conn, plan)
    _analyse_conventions(conn, plan, opts)
    if plan.has("_time_zone"):
        _square_zones(conn, plan)


def _convention_columns(plan: _Plan) -> list[int]:
    keys = [k for k in plan.cols if plan.ftype(k) in ("money", "timestamp", "date")]
    keys += [k for k in ("_date", "_time") if plan.has(k)]
    return sorted({plan.cols[k] for k in keys})


def _analyse_conventions(conn: duckdb.DuckDBPyConnection, plan: _Plan, opts: _Options) -> None:
    """Decimal separators, currency symbols, date formats and day/month order."""
    reporting = store.get_setting(conn, "reporting_currency", "USD")
    plan.default_currency = reporting
    plan.notes = [n for n in plan.notes if not n.startswith(_CONVENTION_NOTES)]
    plan.questions = [q for q in plan.questions if q.key != "date_order"]
    money = [k for k in plan.cols if plan.ftype(k) == "money"]
    symbols = _analyse_money(conn, plan, money)
    if not plan.has("currency"):
        if len(symbols) == 1:
            sym = next(iter(symbols))
            cur = fm.CURRENCY_SYMBOLS[sym]
            if sym == "$" and reporting in ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"):
                cur = reporting
            plan.default_currency = cur
            plan.notes.append(f"The file names no currency; amounts written with {sym} are "
                              f"stored as {cur}.")
        elif plan.kind == "orders":
            plan.notes.append(f"The file names no currency; amounts are stored as {reporting}, "
                              "the reporting currency.")
    date_fields = [k for k in plan.cols if plan.ftype(k) in ("timestamp", "date")]
    if plan.spec.name == "square_transactions" and plan.has("_date"):
        date_fields.append("_square_when")
    plan.dates = {}
    _analyse_dates(conn, plan, date_fields)
    _settle_date_order(plan, opts)


_CONVENTION_NOTES = ("The file names no currency", "Amounts use a decimal comma", "Dates read as")


def _analyse_money(conn: duckdb.DuckDBPyConnection, plan: _Plan, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    parts = []
    for key in keys:
        v = _raw(plan, key)
        parts.append(f"count(*) FILTER (WHERE {v} IS NOT NULL AND TRY_CAST({v} AS DECIMAL(18,2)) "
                     "IS NULL)")
        if plan.file.delimiter == ";":
            parts.append(f"count(*) FILTER (WHERE regexp_full_match({v}, "
                         "'-?[0-9]{1,3}(\\.[0-9]{3})+'))")
        else:
            parts.append("0")
    row = _one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    symbols: set[str] = set()
    odd = []
    for i, key in enumerate(keys):
        n_odd, n_thousands = int(row[2 * i]), int(row[2 * i + 1])
        plan.money[key] = "plain"
        if n_odd or n_thousands:
            odd.append((key, n_thousands))
    if not odd:
        return symbols
    parts = []
    for key, _ in odd:
        v = _raw(plan, key)
        parts += [
            f"count(*) FILTER (WHERE regexp_matches({v}, ',[0-9]{{1,2}}[^0-9,.]*$'))",
            f"count(*) FILTER (WHERE regexp_matches({v}, '\\.[0-9]{{1,2}}[^0-9,.]*$'))",
            f"list_distinct(list(regexp_extract({v}, '[$£€¥₹]')) FILTER "
            f"(WHERE regexp_matches({v}, '[$£€¥₹]')))",
        ]
    row = _one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    for i, (key, n_thousands) in enumerate(odd):
        n_comma, n_dot, syms = int(row[3 * i]), int(row[3 * i + 1]), row[3 * i + 2] or []
        symbols.update(s for s in syms if s)
        if n_comma > n_dot or (n_thousands and not n_dot):
            plan.money[key] = "comma"
        else:
            plan.money[key] = "dot"
    if any(c == "comma" for c in plan.money.values()):
        plan.notes.append("Amounts use a decimal comma (12,50 read as 12.50).")
    return symbols


def _date_source(plan: _Plan, key: str) -> str:
    if key == "_square_when":
        time_part = f"coalesce(' ' || {_raw(plan, '_time')}, '')" if plan.has("_time") else "''"
        return f"({_raw(plan, '_date')} || {time_part})"
    return _raw(plan, key)


_OFFSET_RE = "(Z|[+-][0-9]{2}:?[0-9]{2}|UTC|GMT)$"
_SHOPIFY_TS_RE = "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
_DMY_RE = "^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{2,4})"


def _analyse_dates(conn: duckdb.DuckDBPyConnection, plan: _Plan, keys: list[str]) -> None:
    if not keys:
        return
    parts = []
    for key in keys:
        v = _date_source(plan, key)
        iso = f"substr({v}, 5, 1) = '-'"
        parts += [
            f"count({v})",
            f"count(*) FILTER (WHERE {iso})",
            f"count(*) FILTER (WHERE {iso} AND regexp_full_match({v}, '{_SHOPIFY_TS_RE}'))",
            f"count(*) FILTER (WHERE {iso} AND regexp_matches({v}, '{_OFFSET_RE}'))",
        ]
    row = _one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    other_keys = []
    for i, key in enumerate(keys):
        n, n_iso, n_shop, n_off = (int(x) for x in row[4 * i: 4 * i + 4])
        conv = _DateConv(iso=n_iso > 0, other=n_iso < n)
        if n_iso and n_shop == n_iso:
            conv.offsets = "shopify"
        elif n_iso and n_off == n_iso:
            conv.offsets = "all"
        elif n_off:
            conv.offsets = "mixed"
        plan.dates[key] = conv
        if conv.other:
            other_keys.append(key)
    if not other_keys:
        return
    parts = []
    for key in other_keys:
        v = _date_source(plan, key)
        a = f"TRY_CAST(regexp_extract({v}, '{_DMY_RE}', 1) AS INTEGER)"
        b = f"TRY_CAST(regexp_extract({v}, '{_DMY_RE}', 2) AS INTEGER)"
        parts += [f"max({a})", f"max({b})", f"count(*) FILTER (WHERE {a} <> {b})",
                  f"min({v}) FILTER (WHERE {a} <> {b} AND {a} <= 12 AND {b} <= 12)"]
    row = _one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    for i, key in enumerate(other_keys):
        max_a, max_b, n_diff, example = row[4 * i: 4 * i + 4]
        conv = plan.dates[key]
        if max_a is None:
            continue
        if max_a > 12 and (max_b or 0) <= 12:
            conv.decisive = "dmy"
        elif (max_b or 0) > 12 and max_a <= 12:
            conv.decisive = "mdy"
        elif max_a <= 12 and (max_b or 0) <= 12 and n_diff:
            conv.ambiguous = True
            conv.example = example


def _settle_date_order(plan: _Plan, opts: _Options) -> None:
    decisive = {c.decisive for c in plan.dates.values() if c.decisive}
    if opts.date_order:
        plan.date_order = opts.date_order
        return
    if len(decisive) == 1:
        plan.date_order = decisive.pop()
        if any(c.ambiguous for c in plan.dates.values()):
            plan.notes.append(
                f"Dates read as {'day/month/year' if plan.date_order == 'dmy' else 'month/day/year'}"
                " (other dates in the file can only be read that way)."
            )
        return
    ambiguous = [k for k, c in plan.dates.items() if c.ambiguous]
    if ambiguous:
        key = ambiguous[0]
        conv = plan.dates[key]
        col = plan.column("_date" if key == "_square_when" else key)
        plan.questions.append(
            Question(
                key="date_order",
                text=(
                    f"The dates in column '{col}' (like {conv.example}) could be day/month/year "
                    "or month/day/year. Say which: choose it on the Data page, or pass "
                    "--date-order dmy or --date-order mdy."
                ),
                options=DATE_ORDERS,
                example=conv.example,
            )
        )
    plan.date_order = "dmy" if not decisive else decisive.pop()


def _square_zones(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    names = [r[0] for r in _rows(
        conn, f"SELECT DISTINCT {_raw(plan, '_time_zone')} FROM _imp_raw WHERE "
        f"{_raw(plan, '_time_zone')} IS NOT NULL LIMIT 1000")]
    known = zoneinfo.available_timezones()
    for name in names:
        iana = fm.RAILS_TIME_ZONES.get(name) or fm.RAILS_TIME_ZONES.get(name.upper())
        if iana is None and name in known:
            iana = name
        if iana is not None:
            plan.zones[name] = iana


def _typeform_columns(conn: duckdb.DuckDBPyConnection, plan: _Plan, opts: _Options) -> None:
    """Find Typeform's score, comment and email columns by their values and wording."""
    given = opts.mapping.fields if opts.mapping else {}
    fixed = {fm.normalise_header(h) for h in ("#", "submit date (utc)", "start date (utc)",
                                              "stage date (utc)", "network id", "response type",
                                              "tags", "ending")}
    candidates = [i for i, h in enumerate(plan.file.header) if fm.normalise_header(h) not in fixed]
    if not candidates:
        raise plan.refuse("the Typeform file has no answer columns. Download the responses "
                          "again with all questions included.")
    parts = []
    for i in candidates:
        v = f"_imp_t(c{i})"
        parts += [
            f"count({v})",
            f"count(*) FILTER (WHERE regexp_full_match({v}, '[0-9]{{1,2}}'))",
            f"min(TRY_CAST({v} AS INTEGER))",
            f"max(TRY_CAST({v} AS INTEGER))",
            f"count(*) FILTER (WHERE _imp_email_ok(lower({v})))",
        ]
    row = _one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    stats = {}
    for j, i in enumerate(candidates):
        n, n_int, lo, hi, n_email = row[5 * j: 5 * j + 5]
        stats[i] = (int(n), int(n_int), lo, hi, int(n_email))
    header = plan.file.header
    if "score" not in given:
        scored = [i for i, (n, n_int, lo, hi, _) in stats.items()
                  if n and n_int >= TYPEFORM_SCORE_SHARE * n and lo is not None and lo >= 0
                  and hi is not None and hi <= 10]
        strong = [i for i in scored if re.search(r"recommend|likely|satisf|how (would|do) you rate",
                                                 header[i], re.I)]
        pick = strong if strong else scored
        if len(pick) == 1:
            plan.cols["score"] = pick[0]
        elif not pick:
            raise plan.refuse(
                "no answer in this Typeform file looks like a 0–10 or 1–5 score. Name the score "
                'column with a mapping, e.g. {"score": "How likely are you to recommend us?"}.'
            )
        else:
            plan.questions.append(
                Question(
                    key="score_column",
                    text=(
                        "Several answers in this Typeform file look like scores: "
                        f"{', '.join(repr(header[i]) for i in pick)}. Say which one is the "
                        'NPS/CSAT score: choose it on the Data page, or pass --mapping with '
                        f'{{"score": "{header[pick[0]]}"}}.'
                    ),
                    options=tuple(header[i] for i in pick),
                )
            )
            return
    score_i = plan.cols["score"]
    if "email" not in given:
        emails = [i for i, (n, _, _, _, n_email) in stats.items()
                  if i != score_i and n and n_email >= TYPEFORM_EMAIL_SHARE * n]
        if emails:
            plan.cols["email"] = emails[0]
    if "comment" not in given:
        texts = [i for i, (n, n_int, _, _, n_email) in stats.items()
                 if n and i not in (score_i, plan.cols.get("email")) and n_int < n / 2
                 and n_email < n / 2]
        worded = [i for i in texts if re.search(
            r"why|comment|reason|tell us|anything|feedback|improve|suggest", header[i], re.I)]
        after = [i for i in (worded or texts) if i > score_i]
        pick_c = (after or worded or texts)
        if pick_c:
            plan.cols["comment"] = pick_c[0]
    hi = stats.get(score_i, (0, 0, None, None, 0))[3]
    lo = stats.get(score_i, (0, 0, None, None, 0))[2]
    if re.search(r"recommend|likely", header[score_i], re.I):
        plan.survey_kind = "nps"
    elif hi is not None and lo is not None and hi <= 5 and lo >= 1:
        plan.survey_kind = "csat"
    else:
        plan.survey_kind = "nps"
    plan.notes.append(
        f"Score read from '{header[score_i]}' ({plan.survey_kind.upper()})"
        + (f", comment from '{header[plan.cols['comment']]}'" if "comment" in plan.cols else "")
        + (f", email from '{header[plan.cols['email']]}'" if "email" in plan.cols else "")
        + "."
    )


def _survey_kind(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    if plan.survey_kind is not None:
        return
    if plan.spec.name == "delighted":
        plan.survey_kind = "nps"
        return
    lo, hi = _one(conn, f"SELECT min(_imp_int({_raw(plan, 'score')})), "
                  f"max(_imp_int({_raw(plan, 'score')})) FROM _imp_raw")
    plan.survey_kind = "csat" if hi is not None and lo is not None and lo >= 1 and hi <= 5 else "nps"
    plan.notes.append(f"Scores read as {plan.survey_kind.upper()} "
                      f"({'1–5' if plan.survey_kind == 'csat' else '0–10'}).")


# --- step 3: type and check ------------------------------------------------------------------


def _ts_expr(plan: _Plan, key: str, v: str, q: _Params, *, to_utc: bool = True) -> str:
    """SQL turning text ``v`` into a naive UTC timestamp (or naive local when not to_utc)."""
    conv = plan.dates.get(key, _DateConv())
    local_zone = None if (plan.spec.utc or not to_utc or plan.store_tz in ("UTC", "Etc/UTC")) \
        else plan.store_tz

    def local(ts: str) -> str:
        if local_zone is None:
            return ts
        return f"timezone('UTC', timezone({q.p(local_zone)}, {ts}))"

    offset_cast = (f"timezone('UTC', TRY_CAST(replace(replace({v}, ' -', '-'), ' +', '+') "
                   "AS TIMESTAMPTZ))")
    if conv.offsets == "shopify" and to_utc:
        iso = f"timezone('UTC', try_strptime({v}, '%Y-%m-%d %H:%M:%S %z'))"
    elif conv.offsets == "all" and to_utc:
        iso = offset_cast
    elif conv.offsets == "mixed" and to_utc:
        iso = (f"CASE WHEN regexp_matches({v}, '{_OFFSET_RE}') THEN {offset_cast} "
               f"ELSE {local(f'TRY_CAST({v} AS TIMESTAMP)')} END")
    else:
        iso = local(f"TRY_CAST({v} AS TIMESTAMP)")
    if not conv.other:
        return iso
    order = plan.date_order or "dmy"
    d = "%d/%m" if order == "dmy" else "%m/%d"
    formats = []
    for y in ("%Y", "%y"):
        formats.append(f"{d}/{y}")
        formats += [f"{d}/{y} {t}" for t in _SLASH_FORMATS]
    normalised = f"regexp_replace({v}, '^([0-9]{{1,2}})[.-]([0-9]{{1,2}})[.-]', '\\1/\\2/')"
    other = local(
        f"coalesce(try_strptime({normalised}, {q.p(formats)}), "
        f"try_strptime({v}, {q.p(_TEXT_DATE_FORMATS)}))"
    )
    if not conv.iso:
        return other
    return f"CASE WHEN substr({v}, 5, 1) = '-' THEN {iso} ELSE {other} END"


def _money_expr(plan: _Plan, key: str, v: str) -> str:
    conv = plan.money.get(key, "plain")
    if conv == "plain":
        return f"TRY_CAST({v} AS DECIMAL(18,2))"
    if conv == "comma":
        return f"_imp_money({v}, true)"
    return f"_imp_money({v}, false)"


def _status_key(v: str) -> str:
    return f"replace(replace(lower({v}), ' ', '_'), '-', '_')"


def _typed_expr(plan: _Plan, key: str, v: str, q: _Params) -> str:
    t = plan.ftype(key)
    if key == "phone":  # Shopify writes '+1555... so that spreadsheets keep the plus sign
        return f"ltrim({v}, '''')"
    if t in ("text", "email"):
        return v
    if t == "id":
        return f"nullif(ltrim({v}, ''''), '0')"
    if t == "money":
        return _money_expr(plan, key, v)
    if t == "timestamp":
        return _ts_expr(plan, key, v, q)
    if t == "date":
        return f"CAST({_ts_expr(plan, key, v, q, to_utc=False)} AS DATE)"
    if t in ("int", "score"):
        return f"_imp_int({v})"
    if t == "bool":
        return q.lookup(_BOOL_WORDS, f"lower({v})")
    if t == "tags":
        return (f"list_filter(list_transform(string_split({v}, ','), lambda x: lower(trim(x))), "
                "lambda x: x <> '')")
    if t == "country":
        return (f"CASE WHEN length({v}) = 2 THEN upper({v}) "
                f"ELSE coalesce({q.lookup(fm.COUNTRY_CODES, f'lower({v})')}, {v}) END")
    if t == "currency":
        return (f"CASE WHEN regexp_full_match(upper({v}), '[A-Z]{{3}}') THEN upper({v}) "
                f"ELSE {q.lookup(fm.CURRENCY_SYMBOLS, v)} END")
    if t == "status":
        table = dict(plan.spec.statuses or fm.GENERIC_STATUSES)
        table.update({f"wc_{k}": val for k, val in list(table.items())})  # WooCommerce's wc- prefix
        return q.lookup(table, _status_key(v))
    if t == "survey_kind":
        return q.lookup(_SURVEY_KINDS, f"lower({v})")
    raise AssertionError(f"unknown field type {t}")


_PARSE_CODE: dict[str, str] = {
    "money": "number", "timestamp": "date", "date": "date", "int": "integer", "score": "integer",
    "currency": "currency", "status": "status", "survey_kind": "survey_kind",
}


def _id_field(plan: _Plan) -> str | None:
    for key in {"orders": ("order_id",), "customers": ("email", "customer_id"),
                "feedback": ("response_id", "score")}[plan.kind]:
        if plan.has(key):
            return key
    return None


def _build_rows(conn: duckdb.DuckDBPyConnection, plan: _Plan, source: str,
                source_params: dict[str, Any]) -> None:
    """``_imp_rows``: one row per data row with parsed fields, flags and its first problem.

    ``source`` is the ``read_csv(...)`` of the whole file (or the sample table): reading and
    parsing are one pass, so the file's text is never stored whole.
    """
    q = _Params()
    q.values.update(source_params)
    keys = list(plan.cols)
    idx = sorted(set(plan.cols.values()))
    carry = ", ".join(f"c{i}" for i in idx)
    # Bound only when used: DuckDB refuses a named parameter the statement does not use.
    placeholder = (q.p(_PLACEHOLDERS) if any(plan.ftype(k) == "country" for k in keys)
                   else "NULL")
    raw_sel = ", ".join(f"{_raw_text(plan, k)} AS t_{_ident(k)}" for k in keys)
    clean_sel = ", ".join(f"{_clean_text(plan, k, placeholder)} AS r_{_ident(k)}" for k in keys)
    typed: dict[str, str] = {}
    for k in keys:
        typed[k] = _typed_expr(plan, k, f"r_{_ident(k)}", q)
    extra = _kind_extras(plan, q, typed)
    # Flags: head rows (carry the order's own fields), line rows, blank rows, totals rows.
    head = _head_sql(plan)
    if plan.kind == "orders" and plan.spec.multi_row:
        # Who ordered is read from an order's first row only (Shopify repeats the email on
        # every line-item row): skip the work on the others.
        for group in (typed, extra):
            for k in group:
                if _level(plan, k) == "person" or k in ("email_norm", "first_name", "last_name"):
                    group[k] = f"CASE WHEN {head} THEN {group[k]} END"
    typed_sel = ", ".join(f"{expr} AS f_{_ident(k)}" for k, expr in {**typed, **extra}.items())
    has_line = _has_line_sql(plan)
    all_r = [f"r_{_ident(k)}" for k in keys]
    blank = " AND ".join(f"{r} IS NULL" for r in all_r) or "true"
    idf = _id_field(plan)
    totals = "false"
    if idf is not None:
        rid = f"r_{_ident(idf)}"
        totals = (
            f"CASE WHEN {rid} IS NULL OR (length({rid}) <= 11 AND lower({rid}) IN ('total', "
            f"'totals', 'grand total', 'total:', 'totals:', 'sum', 'summe', 'totaux')) "
            f"THEN regexp_matches(lower(concat_ws(' ', {', '.join(all_r)})), "
            f"'\\b(grand )?totals?\\b|\\bsum(me)?\\b') ELSE false END"
        )
    checks = _checks(plan, q, keys, extra)
    problem = " ".join(
        f"WHEN {cond} THEN struct_pack(code := '{code}', field := {q.p(fld)}, value := {val})"
        for cond, _, code, fld, val in checks
    )
    quick = " OR ".join(f"({qk})" for _, qk, _, _, _ in checks)
    problem_sql = (f"CASE WHEN {quick} THEN CASE {problem} ELSE NULL END END" if checks
                   else "NULL")
    person = _person_key_sql(plan, q, set(f"f_{k}" for k in {**typed, **extra}))
    names = [plan.file.header[i] for i in idx]
    raw_json = (f"to_json(map({q.p(names)}, list_value({carry})))" if idx else "NULL")
    fcols = ", ".join(f"f_{_ident(k)}" for k in {**typed, **extra})
    sql = f"""
        CREATE OR REPLACE TEMP TABLE _imp_rows AS
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
                    FROM (SELECT row_number() OVER () - 1 AS k, c_extra, {carry}, {raw_sel}
                          FROM ({source}))
                )
            )
        )
    """
    conn.execute(sql, q.values)


_NO_TRIM_TYPES = ("money", "int", "score")


def _raw_text(plan: _Plan, key: str) -> str:
    """The cell as text: trimmed, except where the cast ignores surrounding spaces anyway."""
    c = f"c{plan.cols[key]}"
    return c if plan.ftype(key) in _NO_TRIM_TYPES else f"_imp_t({c})"


def _clean_text(plan: _Plan, key: str, placeholder: str) -> str:
    """Countries are stored as written when not recognised: a placeholder ('-', 'n/a') there
    reads as empty. Elsewhere placeholders simply fail to parse and are let through as empty by
    the checks (see :func:`_checks`)."""
    t = f"t_{_ident(key)}"
    if plan.ftype(key) != "country":
        return t
    return (f"CASE WHEN length({t}) <= 6 AND list_contains({placeholder}, lower(trim({t}))) "
            f"THEN NULL ELSE {t} END")


def _person_key_sql(plan: _Plan, q: _Params, cols: set[str]) -> str:
    """How a row names its person: 'email:<normalised email>', else '<source>:<customer id>'."""
    whens = []
    if "f_email_norm" in cols:
        whens.append("WHEN f_email_norm IS NOT NULL THEN 'email:' || f_email_norm")
    if "f_customer_id" in cols:
        whens.append(f"WHEN f_customer_id IS NOT NULL THEN {q.p(plan.system)} || ':' || "
                     "f_customer_id")
    return f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS VARCHAR)"


def _ident(key: str) -> str:
    if not re.fullmatch(r"_?[a-z][a-z0-9_]*", key):
        raise AssertionError(f"bad field key {key!r}")
    return key


def _level(plan: _Plan, key: str) -> str:
    spec = fm.field_spec(plan.kind, key)
    if spec is not None:
        return spec.level
    return {"_cancelled_at": "order", "_captured": "order", "_date": "order", "_time": "order",
            "_time_zone": "order", "_shipping_tax": "order", "_line_items": "order",
            "_line_total": "line", "_event_type": "order"}.get(key, "row")


def _kind_extras(plan: _Plan, q: _Params, typed: dict[str, str]) -> dict[str, str]:
    """Derived columns: Square's timestamp, names split, normalised email..."""
    extra: dict[str, str] = {}
    if plan.spec.name == "square_transactions" and plan.has("_date"):
        time_part = "coalesce(' ' || r__time, '')" if plan.has("_time") else "''"
        local = _ts_expr(plan, "_square_when", f"(r__date || {time_part})", q, to_utc=False)
        if plan.has("_time_zone"):
            zone = f"coalesce({q.lookup(plan.zones, 'r__time_zone')}, {q.p(plan.store_tz)})"
            extra["ordered_at"] = f"timezone('UTC', timezone({zone}, {local}))"
            extra["_zone_ok"] = (f"(r__time_zone IS NULL OR "
                                 f"{q.lookup(plan.zones, 'r__time_zone')} IS NOT NULL)")
        else:
            extra["ordered_at"] = _ts_expr(plan, "_square_when", f"(r__date || {time_part})", q)
    if plan.has("email"):
        extra["email_norm"] = "CASE WHEN _imp_email_ok(r_email) THEN lower(r_email) END"
    if plan.has("name"):
        if not plan.has("first_name"):
            extra["first_name"] = "split_part(r_name, ' ', 1)"
        if not plan.has("last_name"):
            extra["last_name"] = ("CASE WHEN contains(r_name, ' ') THEN "
                                  "nullif(ltrim(substr(r_name, strpos(r_name, ' ') + 1)), '') END")
    return extra


def _checks(
    plan: _Plan, q: _Params, keys: list[str], extra: dict[str, str]
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
            bound.append(q.p(_PLACEHOLDERS))
        return f"(length({v}) <= 6 AND list_contains({bound[0]}, lower(trim({v}))))"

    def head(cond: str) -> str:
        return f"({cond} AND is_head_x)" if head_only else cond

    def missing(key: str, parsed: str | None = None) -> str:
        r = f"r_{_ident(key)}"
        f = parsed or f"f_{_ident(key)}"
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
            lonely = f"r_total IS NULL AND NOT ({_has_line_sql(plan)})"
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
        code = _PARSE_CODE.get(t)
        if code is None:
            continue
        r, f = f"r_{_ident(k)}", f"f_{_ident(k)}"
        cond = f"{f} IS NULL AND {r} IS NOT NULL AND NOT {ph(r)}"
        if plan.kind == "orders" and _level(plan, k) == "order":
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
    head_sql = _head_sql(plan)
    return [(c.replace("is_head_x", f"({head_sql})"), quick.replace("is_head_x", f"({head_sql})"),
             code, col, v) for c, quick, code, col, v in out]


def _has_line_sql(plan: _Plan) -> str:
    """SQL true on rows that carry a line item (product, SKU, quantity or unit price)."""
    line_keys = [k for k in ("product", "sku", "quantity", "unit_price") if plan.has(k)]
    if not line_keys or plan.kind != "orders":
        return "false"
    return " OR ".join(f"r_{k} IS NOT NULL" for k in line_keys)


def _head_sql(plan: _Plan) -> str:
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


_REASON_SQL = "CASE " + " ".join(
    f"WHEN problem.code = '{code}' THEN format('{text.replace(chr(39), chr(39) * 2)}', "
    f"coalesce(problem.value, ''))"
    for code, text in _REASONS.items() if code != "missing"
) + " END"


def _collect_problems(conn: duckdb.DuckDBPyConnection) -> None:
    """``_imp_problems``: every refused row with its column, reason and raw values."""
    missing_reason = "format('{} is empty', coalesce(problem.field, 'a required value'))"
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_problems AS
        SELECT k, problem.field AS column_name,
               CASE WHEN problem.code = 'missing' THEN {missing_reason} ELSE {_REASON_SQL} END
                   AS reason,
               problem.value AS value, raw
        FROM _imp_rows
        WHERE NOT skip AND problem IS NOT NULL
        """
    )


def _add_problems(conn: duckdb.DuckDBPyConnection, plan: _Plan, where: str, code: str,
                  column: str | None, value: str) -> None:
    """Refuse more rows after shaping (line items without their order...); their raw values
    are rebuilt from what was read."""
    q = _Params()
    keys = [k for k in plan.cols if f"f_{k}" in plan.row_cols]
    names = [plan.file.header[plan.cols[k]] for k in keys]
    values = ", ".join(f"CAST(r.f_{_ident(k)} AS VARCHAR)" for k in keys)
    raw_json = f"to_json(map({q.p(names)}, list_value({values})))" if keys else "NULL"
    conn.execute(
        f"""
        INSERT INTO _imp_problems
        SELECT r.k, {q.p(column)}, format({q.p(_REASONS[code])}, coalesce({value}, '')),
               {value}, {raw_json}
        FROM _imp_rows r
        WHERE {where}
        """,
        q.values,
    )


def _refuse_absurd(conn: duckdb.DuckDBPyConnection, plan: _Plan, rows_read: int) -> None:
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
    present = [c for c in checks if f"f_{c[1]}" in _row_columns(conn)]
    if not present:
        return
    conds = " OR ".join(f"({c[0]})" for c in present)
    params: list[Any] = []
    for c in present:
        params += c[3]
    rows = _rows(
        conn,
        f"SELECT k FROM _imp_rows WHERE NOT skip AND problem IS NULL AND ({conds}) "
        "ORDER BY k LIMIT 1",
        params,
    )
    if not rows:
        return
    k = int(rows[0][0])
    for cond, col_key, show_key, p, sentence in present:
        hit = _rows(conn, f"SELECT f_{show_key} FROM _imp_rows WHERE k = ? AND ({cond})", [k, *p])
        if hit:
            value = hit[0][0]
            shown = f"{value:,.2f}" if isinstance(value, Decimal) else str(value)
            row = rd.spreadsheet_rows(plan.file, [k])[0]
            column = plan.column(col_key) or plan.column("_date") or col_key
            raise plan.refuse(
                f"row {row}, column '{column}': {sentence.format(shown)}. Nothing was imported.",
                rows_read=rows_read,
            )


def _row_columns(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in _rows(
        conn, "SELECT column_name FROM duckdb_columns() WHERE table_name = '_imp_rows' "
        "AND database_name = 'temp'")}


# --- step 4: shape ----------------------------------------------------------------------------

_PERSON_FIELDS = ("customer_id", "email", "email_norm", "first_name", "last_name", "phone",
                  "birthday", "gender", "city", "region", "country", "accepts_marketing", "tags",
                  "acquisition_channel", "signup_at")
_PERSON_CASTS = {"birthday": "DATE", "accepts_marketing": "BOOLEAN", "tags": "VARCHAR[]",
                 "signup_at": "TIMESTAMP"}
_VALID = "NOT skip AND problem IS NULL"


def _fcol(plan: _Plan, name: str, cast: str = "DECIMAL(18,2)", prefix: str = "") -> str:
    """The parsed column ``f_<name>`` if the file has it, else a typed NULL."""
    if f"f_{name}" in plan.row_cols:
        return f"{prefix}f_{name}"
    return f"CAST(NULL AS {cast})"


def _shape(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    plan.row_cols = _row_columns(conn)
    if plan.kind == "orders":
        _shape_orders(conn, plan)
    elif plan.kind == "feedback":
        _shape_feedback(conn, plan)
    _people(conn, plan)


def _people(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    """``_imp_people``: one row per person in the file, with their latest details."""
    rows = "_imp_heads" if plan.kind == "orders" else f"(SELECT * FROM _imp_rows WHERE {_VALID})"
    attrs = ", ".join(
        f"{_fcol(plan, a, _PERSON_CASTS.get(a, 'VARCHAR'), 'r.')} AS {a}" for a in _PERSON_FIELDS
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


def _shape_orders(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    # Heads: the rows carrying the order's own fields; the last one wins if an order repeats.
    conn.execute(f"CREATE OR REPLACE TEMP VIEW _imp_heads AS SELECT * FROM _imp_rows "
                 f"WHERE {_VALID} AND is_head")
    n, n_keys = _one(conn, "SELECT count(*), count(DISTINCT f_order_id) FROM _imp_heads")
    if n != n_keys:
        conn.execute("CREATE OR REPLACE TEMP TABLE _imp_heads_d AS SELECT * FROM _imp_heads "
                     "QUALIFY row_number() OVER (PARTITION BY f_order_id ORDER BY k DESC) = 1")
        conn.execute("CREATE OR REPLACE TEMP VIEW _imp_heads AS SELECT * FROM _imp_heads_d")
    sys = _lit(plan.system)

    def col(name: str, cast: str = "DECIMAL(18,2)", prefix: str = "h.") -> str:
        return _fcol(plan, name, cast, prefix)

    refunds = f"coalesce({col('refunds')}, 0)"
    refund_join = ""
    if plan.has("_event_type"):
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _imp_refunds AS
                SELECT f_order_id, sum(abs(f_total)) AS extra FROM _imp_rows
                WHERE {_VALID} AND NOT is_head AND f_total IS NOT NULL GROUP BY f_order_id"""
        )
        refund_join = "LEFT JOIN _imp_refunds x ON x.f_order_id = h.f_order_id"
        refunds = f"({refunds} + coalesce(x.extra, 0))"
    status = f"coalesce({col('status', 'VARCHAR')}, {_lit(plan.spec.default_status)})"
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
    currency = f"coalesce({col('currency', 'VARCHAR')}, {_lit(plan.default_currency)})"
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
    unit = _fcol(plan, "unit_price")
    if plan.has("_line_total") and not plan.has("unit_price"):
        unit = ("CAST(f__line_total / nullif(f_quantity, 0) AS DECIMAL(18,2))"
                if plan.has("quantity") else "f__line_total")
    lines = f"""
        SELECT {_lit(plan.system)} || ':' || f_order_id AS order_id,
               CAST(row_number() OVER (PARTITION BY f_order_id ORDER BY k) AS INTEGER) AS line_no,
               {_fcol(plan, 'product', 'VARCHAR')} AS product,
               {_fcol(plan, 'sku', 'VARCHAR')} AS sku,
               {_fcol(plan, 'category', 'VARCHAR')} AS category,
               CAST({_fcol(plan, 'quantity', 'BIGINT')} AS INTEGER) AS quantity,
               {unit} AS unit_price
        FROM _imp_rows
        WHERE {_VALID} AND has_line
    """
    if plan.has("_line_items"):
        lines += " UNION ALL " + _packed_lines_sql(plan)
    conn.execute(f"CREATE OR REPLACE TEMP VIEW _imp_lines AS {lines}")
    # Line rows (and Square refunds) whose order row is missing or was refused are refused too.
    orphans = ("NOT r.skip AND r.problem IS NULL AND NOT r.is_head AND "
               "r.f_order_id NOT IN (SELECT f_order_id FROM _imp_heads)")
    code = "orphan_refund" if plan.has("_event_type") else "orphan_line"
    _add_problems(conn, plan, orphans, code, plan.column("order_id"), "r.f_order_id")
    conn.execute(
        f"UPDATE _imp_rows SET problem = struct_pack(code := {_lit(code)}, "
        "field := CAST(NULL AS VARCHAR), value := CAST(f_order_id AS VARCHAR)) "
        "WHERE problem IS NULL AND NOT skip AND k IN (SELECT k FROM _imp_problems)"
    )


def _lit(value: str) -> str:
    """A SQL string literal of a value Relmark itself chose (a source name, a status...)."""
    if not re.fullmatch(r"[A-Za-z0-9_ .:/-]*", value):
        raise AssertionError(f"not a safe literal: {value!r}")
    return "'" + value + "'"


def _packed_lines_sql(plan: _Plan) -> str:
    """WooCommerce's ``line_items`` cell: ``name:Mug|sku:M1|quantity:2|total:20.00;...``."""

    def part(name: str) -> str:
        return f"nullif(regexp_extract(item, '(?:^|\\|){name}:([^|]*)', 1), '')"

    return f"""
        SELECT {_lit(plan.system)} || ':' || f_order_id, CAST(i AS INTEGER), {part('name')},
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


def _shape_feedback(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    sys = _lit(plan.system)
    default_kind = _lit(plan.survey_kind or "nps")
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
               {_fcol(plan, 'comment', 'VARCHAR')} AS comment, {sys} AS source,
               {_fcol(plan, 'product', 'VARCHAR')} AS product,
               {_fcol(plan, 'title', 'VARCHAR')} AS title,
               f_person_key AS person_key, k AS first_k
        FROM _imp_rows
        WHERE {_VALID}
        QUALIFY row_number() OVER (PARTITION BY response_id ORDER BY k DESC) = 1
        """
    )


# --- step 5: match ------------------------------------------------------------------------


def _resolve(conn: duckdb.DuckDBPyConnection, plan: _Plan, *, exclude_demo: bool) -> None:
    """People to customers (by source customer id, then email), records to new/changed/same."""
    keys = ("(SELECT k.* FROM customer_keys k JOIN customers c USING (customer_id) "
            "WHERE c.import_id IS NOT NULL)") if exclude_demo else "customer_keys"
    q = _Params()
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
    n_rows, n_ids = _one(conn, "SELECT count(*), count(DISTINCT resolved_id) FROM _imp_persons")
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
    if not lines or not _one(conn, "SELECT count(*) FROM _imp_final WHERE state = 'same'")[0]:
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
    plan: _Plan
    rows_read: int
    rows_rejected: int
    rows_to_load: int
    problems: pd.DataFrame
    counts: dict[str, int]
    new_customers: int
    already: tuple[Any, ...] = ()


def _typed_pass(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    _run_csv(conn, plan, sorted(set(plan.cols.values())),
             lambda sql, params: _build_rows(conn, plan, sql, params))


def _needs_full_analysis(plan: _Plan) -> bool:
    """The first rows show slash dates or unusual amounts: read those columns whole."""
    return (any(c.other for c in plan.dates.values())
            or any(m != "plain" for m in plan.money.values())
            or any(q.key == "date_order" for q in plan.questions))


def _parse_failures(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(_rows(conn, "SELECT 1 FROM _imp_rows WHERE problem.code IN ('date', 'number') "
                      "LIMIT 1"))


def _conventions(plan: _Plan) -> tuple[Any, ...]:
    return (tuple(sorted(plan.money.items())),
            tuple(sorted((k, repr(v)) for k, v in plan.dates.items())), plan.date_order)


def _stage(
    conn: duckdb.DuckDBPyConnection,
    source: rd.SourceInput,
    file_name: str,
    opts: _Options,
    progress: Progress,
    *,
    exclude_demo: bool,
    resolve: bool = True,
    stop_if_imported: bool = False,
) -> _Staged:
    """Steps 1-5 (see the module docstring); writes only temp tables."""
    _drop_staging(conn)
    for macro in _MACROS:
        conn.execute(macro)
    progress(0.02, f"Opening {file_name}")
    with rd.open_source(source, file_name) as f:
        plan = _make_plan(conn, f, opts)
        plan.notes = list(f.notes) + plan.notes
        if stop_if_imported:
            already = _already(conn, f.content_hash)
            if already:
                return _Staged(plan, int(already[2]), 0, 0, _empty_problems(), {}, 0,
                               already=already)
        progress(0.04, f"Reading {file_name}")
        wanted = (list(range(len(f.header))) if plan.spec.name == "typeform"
                  else sorted(set(plan.cols.values())))
        n = _read_raw(conn, plan, wanted, SAMPLE_ROWS)
        plan.sample_complete = n < SAMPLE_ROWS
        if plan.questions:  # the mapping question: nothing more can be read yet
            return _Staged(plan, n, 0, 0, _empty_problems(), {}, 0)
        _analyse(conn, plan, opts)
        if not plan.sample_complete and _needs_full_analysis(plan):
            progress(0.08, "Checking every date and amount")
            _read_raw(conn, plan, _convention_columns(plan), None)
            _analyse_conventions(conn, plan, opts)
        if plan.questions:
            return _Staged(plan, n, 0, 0, _empty_problems(), {}, 0)
        progress(0.12, "Reading and checking every row")
        _typed_pass(conn, plan)
        if not plan.sample_complete and _parse_failures(conn):
            # The first rows did not show every way the file writes dates or amounts.
            used = _conventions(plan)
            _read_raw(conn, plan, _convention_columns(plan), None)
            _analyse_conventions(conn, plan, opts)
            if plan.questions:
                return _Staged(plan, n, 0, 0, _empty_problems(), {}, 0)
            if _conventions(plan) != used:
                _typed_pass(conn, plan)
        conn.execute("DROP TABLE IF EXISTS temp.main._imp_raw")
        # Still inside: row numbers of problem rows are read from the file when needed.
        return _check_and_shape(conn, plan, progress, exclude_demo=exclude_demo, resolve=resolve)


def _check_and_shape(conn: duckdb.DuckDBPyConnection, plan: _Plan, progress: Progress, *,
                     exclude_demo: bool, resolve: bool) -> _Staged:
    """Steps 3 (the checks) to 5, once ``_imp_rows`` holds the file."""
    rows_read = int(_one(conn, "SELECT count(*) FILTER (WHERE NOT skip) FROM _imp_rows")[0])
    if rows_read == 0:
        raise plan.refuse("the file has a header row but no data rows. Export the data again "
                          "(check the export's date range and filters).")
    _collect_problems(conn)
    _refuse_absurd(conn, plan, rows_read)
    progress(0.55, "Grouping orders and customers")
    _shape(conn, plan)
    problems = _problems_frame(conn, plan)
    rows_rejected = int(problems["row"].nunique()) if len(problems) else 0
    if plan.kind == "orders":
        to_load = int(_one(conn, "SELECT count(*) FROM _imp_orders")[0])
    elif plan.kind == "feedback":
        to_load = int(_one(conn, "SELECT count(*) FROM _imp_fb")[0])
    else:
        to_load = int(_one(conn, "SELECT count(*) FROM _imp_people")[0])
    if to_load == 0:
        first = problems.iloc[0] if len(problems) else None
        detail = (f" The first problem: row {first['row']}, column '{first['column']}': "
                  f"{first['reason']}." if first is not None else "")
        raise plan.refuse(
            f"none of its {_plural(rows_read, 'row')} could be loaded.{detail} Fix the file and "
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


def _notes_after(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    cols = plan.row_cols
    if "f_email_norm" in cols:
        bad = int(_one(conn, "SELECT count(*) FROM _imp_rows WHERE NOT skip AND problem IS NULL "
                       "AND f_email IS NOT NULL AND f_email_norm IS NULL")[0])
        if bad:
            plan.notes.append(
                f"{_plural(bad, 'row has', 'rows have')} an email that is not an email address; "
                "they were read without it."
            )
    skipped = int(_one(conn, "SELECT count(*) FROM _imp_rows WHERE skip AND "
                       "k > (SELECT min(k) FROM _imp_rows WHERE NOT skip)")[0])
    if skipped:
        plan.notes.append(f"Skipped {_plural(skipped, 'empty or totals row')}.")


def _counts(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> tuple[dict[str, int], int]:
    new_customers = int(_one(conn, "SELECT count(*) FROM _imp_cust WHERE NOT existing")[0])
    if plan.kind == "customers":
        row = _one(conn, "SELECT count(*) FILTER (WHERE NOT existing), count(*) FILTER "
                   "(WHERE changed), count(*) FILTER (WHERE existing AND NOT changed) "
                   "FROM _imp_cust")
    else:
        row = _one(conn, "SELECT count(*) FILTER (WHERE state = 'new'), count(*) FILTER "
                   "(WHERE state = 'changed'), count(*) FILTER (WHERE state = 'same') "
                   "FROM _imp_final")
    return {"new": int(row[0]), "changed": int(row[1]), "same": int(row[2])}, new_customers


def _empty_problems() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype="object"),
                         "reason": pd.Series(dtype="object"), "value": pd.Series(dtype="object"),
                         "raw": pd.Series(dtype="object")})


def _problems_frame(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> pd.DataFrame:
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


def _sample(conn: duckdb.DuckDBPyConnection, plan: _Plan, resolved: bool) -> pd.DataFrame:
    n = PREVIEW_ROWS
    if plan.kind == "orders":
        cust = "o.customer_id, " if resolved else ""
        src = "_imp_final" if resolved else "_imp_orders"
        return conn.execute(
            f"""WITH o AS (SELECT * FROM {src} ORDER BY first_k LIMIT {n}),
                l AS (SELECT f_order_id, count(*) AS lines FROM _imp_rows
                      WHERE {_VALID} AND has_line
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


def _header_mapping(plan: _Plan) -> mp.ImportMapping:
    fields = {k: plan.file.header[i] for k, i in plan.cols.items() if not k.startswith("_")}
    return mp.ImportMapping(kind=plan.kind, fields=fields)


def _already(conn: duckdb.DuckDBPyConnection, content_hash: str) -> tuple[Any, ...]:
    return _one(
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
    opts = _options(kind, format, mapping, date_order)
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


def _raw_sample(conn: duckdb.DuckDBPyConnection, plan: _Plan) -> pd.DataFrame:
    """The first rows as read (while questions are open, nothing is parsed yet)."""
    present = {r[0] for r in _rows(
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
    """
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
    opts = _options(kind, format, mapping, date_order)
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
            import_id = int(_one(conn, "SELECT nextval('import_id_seq')")[0])
            _write(conn, plan, import_id, prog)
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


def _message(plan: _Plan, st: _Staged, counts: dict[str, int], new_customers: int,
             demo_removed: bool) -> str:
    noun = {"orders": ("order", "orders"), "customers": ("customer", "customers"),
            "feedback": ("answer", "answers")}[plan.kind]
    parts = [
        f"Loaded {_plural(st.rows_to_load, *noun)} from {_plural(st.rows_read, 'row')} "
        f"({counts['new']:,} new, {counts['changed']:,} updated, {counts['same']:,} unchanged)"
    ]
    if plan.kind != "customers" and new_customers:
        parts.append(f"{_plural(new_customers, 'new customer')}")
    msg = "; ".join(parts) + "."
    if st.rows_rejected:
        msg += (f" {_plural(st.rows_rejected, 'row was', 'rows were')} rejected (download them "
                "with their reasons).")
    if demo_removed:
        msg += " The demo data was removed first."
    return msg


def _remove_demo(conn: duckdb.DuckDBPyConnection) -> None:
    """Delete the demo shop's rows (they carry no import id) and mark the store as real data."""
    conn.execute("DELETE FROM order_lines WHERE import_id IS NULL")
    conn.execute("DELETE FROM orders WHERE import_id IS NULL")
    conn.execute("DELETE FROM feedback WHERE import_id IS NULL")
    conn.execute("DELETE FROM customers WHERE import_id IS NULL")
    conn.execute("DELETE FROM customer_keys WHERE customer_id NOT IN "
                 "(SELECT customer_id FROM customers)")
    store.set_meta(conn, "demo", "0")


def _table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in _rows(
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


def _write(conn: duckdb.DuckDBPyConnection, plan: _Plan, import_id: int, prog: Progress) -> None:
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
        n_same = _one(conn, "SELECT count(*) FROM _imp_final WHERE state = 'same'")[0]
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
    row = _one(conn, "SELECT file_name, status FROM imports WHERE import_id = ?", [import_id])
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
    return _one(
        conn,
        """
        WITH deps AS (
            SELECT changed_by AS y FROM import_prev_customers WHERE import_id = $x
            UNION SELECT changed_by FROM import_prev_orders WHERE import_id = $x
            UNION SELECT changed_by FROM import_prev_order_lines WHERE import_id = $x
            UNION SELECT changed_by FROM import_prev_feedback WHERE import_id = $x
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
    rows = _rows(
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

