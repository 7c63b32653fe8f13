"""What a file is: its format, its kind and which column fills which field (the plan),
and the small SQL helpers every step of an import shares."""

# ruff: noqa: S608
# The SQL here is assembled from the import's own pieces only: positional column names c<i>,
# field keys checked by sql_ident(), literals checked by sql_literal() and table names from fixed
# lists. Every value that comes from a file or a user (header names, cells, answers) is a bound
# parameter.

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict

from relmark_core.errors import InputRefused
from relmark_core.imports import formats as fm
from relmark_core.imports import mapping as mp
from relmark_core.imports import reading as rd
from relmark_core.imports.reading import ImportRefused

__all__ = [
    "Problem",
    "Question",
    "DateOrder",
    "DATE_ORDERS",
    "SqlParams",
    "fetch_rows",
    "fetch_one",
    "plural",
    "DateConv",
    "Plan",
    "HELPER_TYPES",
    "Options",
    "make_options",
    "make_plan",
    "join_words",
    "apply_mapping",
    "sql_ident",
    "field_level",
    "row_columns",
    "sql_literal",
]

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


DateOrder = Literal["dmy", "mdy"]
DATE_ORDERS: tuple[DateOrder, ...] = ("dmy", "mdy")


# --- small helpers --------------------------------------------------------------------------


class SqlParams:
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


def fetch_rows(conn: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params or []).fetchall()


def fetch_one(conn: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[Any, ...]:
    rows = fetch_rows(conn, sql, params)
    return rows[0] if rows else ()


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


# --- the plan: what the file is and which columns fill which fields -------------------------


@dataclass
class DateConv:
    iso: bool = True
    other: bool = False
    offsets: Literal["none", "shopify", "all", "mixed"] = "none"
    ambiguous: bool = False
    decisive: DateOrder | None = None
    example: str | None = None


@dataclass
class Plan:
    file: rd.CsvFile
    spec: fm.FormatSpec
    kind: fm.Kind
    cols: dict[str, int]
    mapping: mp.ImportMapping | None
    questions: list[Question] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    date_order: DateOrder | None = None
    money: dict[str, str] = field(default_factory=dict)
    dates: dict[str, DateConv] = field(default_factory=dict)
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
        return HELPER_TYPES.get(key, "text")

    def refuse(self, sentence: str, *, rows_read: int = 0, rows_rejected: int = 0) -> ImportRefused:
        return ImportRefused(
            f"{self.file.name}: {sentence}", format=self.spec.name, kind=self.kind,
            rows_read=rows_read, rows_rejected=rows_rejected,
        )


HELPER_TYPES: dict[str, fm.FieldType] = {
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
class Options:
    kind: fm.Kind | None
    format: str | None
    mapping: mp.ImportMapping | None
    date_order: DateOrder | None


def make_options(
    kind: str | None, format: str | None, mapping: Any, date_order: str | None
) -> Options:
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
    return Options(kind=kind, format=format, mapping=m, date_order=date_order)


def make_plan(conn: duckdb.DuckDBPyConnection, f: rd.CsvFile, opts: Options) -> Plan:
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
        plan = Plan(file=f, spec=spec, kind=spec.kind, cols=cols, mapping=None)
        if opts.mapping:
            apply_mapping(plan, opts.mapping)
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
    plan = Plan(file=f, spec=fm.GENERIC, kind=m.kind, cols={}, mapping=m)
    apply_mapping(plan, m)
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
                    f"Relmark could not tell which columns hold the {join_words(labels)} "
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


def join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def apply_mapping(plan: Plan, m: mp.ImportMapping) -> None:
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


def sql_ident(key: str) -> str:
    if not re.fullmatch(r"_?[a-z][a-z0-9_]*", key):
        raise AssertionError(f"bad field key {key!r}")
    return key


def field_level(plan: Plan, key: str) -> str:
    spec = fm.field_spec(plan.kind, key)
    if spec is not None:
        return spec.level
    return {"_cancelled_at": "order", "_captured": "order", "_date": "order", "_time": "order",
            "_time_zone": "order", "_shipping_tax": "order", "_line_items": "order",
            "_line_total": "line", "_event_type": "order"}.get(key, "row")


def row_columns(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in fetch_rows(
        conn, "SELECT column_name FROM duckdb_columns() WHERE table_name = '_imp_rows' "
        "AND database_name = 'temp'")}


def sql_literal(value: str) -> str:
    """A SQL string literal of a value Relmark itself chose (a source name, a status...)."""
    if not re.fullmatch(r"[A-Za-z0-9_ .:/-]*", value):
        raise AssertionError(f"not a safe literal: {value!r}")
    return "'" + value + "'"
