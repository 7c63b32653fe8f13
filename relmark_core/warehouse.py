"""Warehouse mode: the metrics read an analytics source; Relmark's own state stays local.

A shop whose orders live in PostgreSQL, a Spark cluster or a cloud warehouse connects it by URL,
the way Ibis names backends (``ibis.connect``)::

    postgresql://user:password@host:5432/database[/schema]
    pyspark://?spark.master=local[2]             (Spark: query parameters are Spark settings)
    bigquery://project/dataset   snowflake://user:pw@account/db/schema   trino://...   ...

Every metric then runs there as SQL the engine understands (the metrics are Ibis expressions),
and only result rows travel. The local DuckDB store keeps settings, saved groups, follow-up
marks, audit log: everything Relmark writes. Relmark never writes to the source's tables: it
only runs ``SELECT`` queries (a few small pieces of local state, e.g. follow-up marks, travel
as session-private temporary tables that vanish when the connection closes), so a read-only
account with the right to read the four tables is all it needs.

Without a mapping the source must hold Relmark's own tables and columns (``customers``,
``orders``, ``order_lines``, ``feedback``; see :func:`relmark_columns`), e.g. a copy of
Relmark's tables. A :class:`SourceMapping` names the source's tables and columns instead; it
is kept in a TOML or JSON file (:func:`load_mapping`)::

    database = "analytics"                 # Postgres schema / Spark database / BQ dataset

    [orders]
    table = "shop_orders"
    columns = { ordered_at = "created_at", net = "net_amount" }

Columns Relmark can do without (see :data:`REQUIRED_COLUMNS` for the others) read as empty
when the source has none; :func:`test_connection` says which ones are missing.

The URL holds a password: it is kept in the environment (:data:`SOURCE_ENV`) or in
``.streamlit/secrets.toml``, never in the database, and only :func:`redact`-ed forms of it are
shown or logged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import duckdb
import ibis
import ibis.expr.datatypes as dt
from ibis.backends import BaseBackend
from ibis.expr.types import Table
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relmark_core import auth, store
from relmark_core.errors import RelmarkError
from relmark_core.source import (
    DEFAULT_REPORTING_CURRENCY,
    DEFAULT_TIMEZONE,
    SHOP_TABLES,
    Source,
)

__all__ = [
    "SOURCE_ENV",
    "MAPPING_ENV",
    "SECRETS_SECTION",
    "SECRETS_URL_KEY",
    "SECRETS_MAPPING_KEY",
    "CONNECT_TIMEOUT_S",
    "POSTGRES_SESSION_OPTIONS",
    "SPARK_SCHEME",
    "REQUIRED_COLUMNS",
    "SourceUnavailable",
    "TableMapping",
    "SourceMapping",
    "WarehouseSource",
    "TableCheck",
    "ConnectionReport",
    "relmark_columns",
    "redact",
    "source_key",
    "load_mapping",
    "parse_mapping",
    "configured_url",
    "configured_mapping",
    "connect",
    "connect_backend",
    "test_connection",
    "explain",
    "is_source_error",
    "save_source_secret",
    "save_source_url",
    "secrets_file",
    "read_secrets",
]

SOURCE_ENV = "RELMARK_SOURCE"
MAPPING_ENV = "RELMARK_SOURCE_MAPPING"
SECRETS_SECTION = "relmark"  # [relmark] in .streamlit/secrets.toml
SECRETS_URL_KEY = "source_url"
SECRETS_MAPPING_KEY = "source_mapping_file"
CONNECT_TIMEOUT_S = 10  # seconds to wait for a database server before saying it is unreachable
# Settings for Relmark's own (read-only) Postgres session. Relmark's reads join aggregates of
# whole tables; Postgres has no statistics for those and guesses ~200 rows, then may pick a
# nested loop over millions of rows: the customers of one retention cell took over 9 minutes
# at 10M orders, 42 s with nested loops discouraged (bench/warehouse_bench.py). A setting in
# the URL (``?options=-c enable_nestloop=on``) wins over this default.
POSTGRES_SESSION_OPTIONS = {"enable_nestloop": "off"}
_POSTGRES_SCHEMES = ("postgres", "postgresql")
SPARK_SCHEME = "pyspark"
_LOCAL_ONLY = "internal"  # Relmark's own columns no source has (import_id)
_MESSAGE_CHARS = 300  # how much of an engine's own message a Relmark message quotes

# Columns no metric can do without; every other Relmark column reads as empty when missing.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "orders": ("order_id", "customer_id", "ordered_at", "currency", "net", "status"),
    "order_lines": ("order_id",),
    "feedback": ("response_id", "customer_id", "answered_at", "kind", "score"),
}
_WHAT_NEEDS = {
    "customers": "customer names, e-mails and profiles",
    "orders": "every sales number",
    "order_lines": "products and categories",
    "feedback": "NPS, CSAT and reviews",
}


class SourceUnavailable(RelmarkError):
    """The analytics source could not be reached, refused the login, or lacks what Relmark
    reads. The message says which and what to do."""


@cache
def relmark_columns() -> dict[str, dict[str, dt.DataType]]:
    """Relmark's tables and columns with their types, as the store defines them."""
    with store.open_db(":memory:") as conn:
        be = ibis.duckdb.from_connection(conn)
        out = {
            t: {c: typ.copy(nullable=True) for c, typ in be.table(t).schema().items()
                if c != "import_id"}
            for t in SHOP_TABLES
        }
        be.disconnect()
    return out


# --- the mapping ---------------------------------------------------------------------------------


class TableMapping(BaseModel):
    """Where one Relmark table is in the source.

    ``table``: the source's table (default: Relmark's name); ``database``: its schema /
    database / dataset (default: the mapping's, else the connection's); ``columns``: Relmark
    column -> the source's column, for the columns whose names differ.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str | None = None
    database: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)


class SourceMapping(BaseModel):
    """The source's names for Relmark's four tables (none given: Relmark's own names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: str | None = None
    customers: TableMapping = Field(default_factory=TableMapping)
    orders: TableMapping = Field(default_factory=TableMapping)
    order_lines: TableMapping = Field(default_factory=TableMapping)
    feedback: TableMapping = Field(default_factory=TableMapping)

    @model_validator(mode="after")
    def _known_columns(self) -> SourceMapping:
        cols = relmark_columns()
        for name in SHOP_TABLES:
            unknown = sorted(set(self.for_table(name).columns) - set(cols[name]))
            if unknown:
                raise ValueError(
                    f"[{name}] maps {', '.join(unknown)}, which Relmark's {name} table does "
                    f"not have. Relmark's columns are: {', '.join(cols[name])}"
                )
        return self

    def for_table(self, name: str) -> TableMapping:
        m = getattr(self, name)
        assert isinstance(m, TableMapping)
        return m

    def table_name(self, name: str) -> str:
        return self.for_table(name).table or name

    def database_of(self, name: str) -> str | None:
        return self.for_table(name).database or self.database

    def where(self, name: str) -> str:
        """The source's table as a person would write it: ``analytics.shop_orders``."""
        db = self.database_of(name)
        return f"{db}.{self.table_name(name)}" if db else self.table_name(name)


def parse_mapping(data: Mapping[str, Any], *, origin: str = "the mapping") -> SourceMapping:
    """A mapping from parsed TOML/JSON, refused in words when it does not fit."""
    try:
        return SourceMapping.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            (".".join(str(p) for p in e["loc"]) + ": " if e["loc"] else "")
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise SourceUnavailable(
            f"{origin} does not fit: {problems}. A mapping has an optional database and one "
            "section per table ([customers], [orders], [order_lines], [feedback]) with "
            "optional table, database and columns = {relmark_name = \"source_name\"}."
        ) from exc


def load_mapping(path: str | Path) -> SourceMapping:
    """Read a mapping file (``.toml`` or ``.json``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceUnavailable(
            f"The source mapping file {p} could not be read ({exc.strerror}). Check the path."
        ) from exc
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if p.suffix.lower() == ".json" else "TOML"
        raise SourceUnavailable(
            f"The source mapping file {p} is not valid {kind}: {exc}. Fix the line named."
        ) from exc
    if not isinstance(data, dict):
        raise SourceUnavailable(f"The source mapping file {p} must hold a table of settings.")
    return parse_mapping(data, origin=f"The source mapping file {p}")


# --- configuration: environment or secrets --------------------------------------------------------


def _section(secrets: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not secrets:
        return {}
    try:
        sec = secrets.get(SECRETS_SECTION)
    except Exception:  # st.secrets without a secrets file raises on access
        return {}
    return sec if isinstance(sec, Mapping) else {}


def configured_url(secrets: Mapping[str, Any] | None = None) -> str | None:
    """The source URL: ``$RELMARK_SOURCE``, else ``[relmark] source_url`` in the secrets
    (None: no analytics source, the local store is the source)."""
    url = os.environ.get(SOURCE_ENV) or _section(secrets).get(SECRETS_URL_KEY)
    return str(url).strip() or None if url else None


def configured_mapping(secrets: Mapping[str, Any] | None = None) -> SourceMapping:
    """The mapping: the file in ``$RELMARK_SOURCE_MAPPING``, else ``[relmark]
    source_mapping_file`` or an inline ``[relmark.source_mapping]`` table in the secrets, else
    none (Relmark's own names)."""
    path = os.environ.get(MAPPING_ENV) or _section(secrets).get(SECRETS_MAPPING_KEY)
    if path:
        return load_mapping(str(path))
    inline = _section(secrets).get("source_mapping")
    if isinstance(inline, Mapping):
        return parse_mapping(_plain(inline), origin="[relmark.source_mapping] in the secrets")
    return SourceMapping()


def _plain(m: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in m.items()}


def redact(url: str) -> str:
    """The URL without its password (and without secret-looking query values), for display."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rsplit("@", 1)[1]
            netloc = f"{user}:***@{host}"
        query = urlencode(
            [(k, "***" if re.search(r"pass|secret|token|key|credential", k, re.I) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)],
            safe="[]*:/",
        )
        text = f"{parts.scheme}://{netloc}{parts.path}" if "://" in url else (
            urlunsplit((parts.scheme, netloc, parts.path, "", "")))
        return text + (f"?{query}" if query else "") + (
            f"#{parts.fragment}" if parts.fragment else "")
    except ValueError:
        return "(a source URL that could not be read)"


def source_key(url: str, mapping: SourceMapping | None = None) -> str:
    """A short fingerprint of a source and mapping (for cache keys; reveals nothing)."""
    text = url + "\n" + (mapping or SourceMapping()).model_dump_json()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def secrets_file() -> Path:
    """The app's secrets file: ``$RELMARK_SECRETS_FILE`` or ``.streamlit/secrets.toml`` in the
    folder the app runs from (where Streamlit looks)."""
    env = os.environ.get("RELMARK_SECRETS_FILE")
    return Path(env) if env else Path.cwd() / ".streamlit" / "secrets.toml"


def read_secrets(path: str | Path) -> dict[str, Any] | None:
    """The secrets file's contents (None when there is no such file)."""
    p = Path(path)
    if not p.exists():
        return None
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceUnavailable(
            f"{p} could not be read as TOML ({exc}); fix it by hand."
        ) from exc


def save_source_secret(path: str | Path, url: str | None) -> None:
    """Keep the source URL in a Streamlit secrets file (``[relmark] source_url``); None
    removes it. Other sections and keys of the file are kept; the file is readable by its
    owner only."""
    p = Path(path)
    text = p.read_text(encoding="utf-8") if p.exists() else ""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourceUnavailable(
            f"{p} is not valid TOML ({exc}); fix it by hand before saving the source here."
        ) from exc
    lines = text.splitlines()
    out: list[str] = []
    in_section = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = stripped == f"[{SECRETS_SECTION}]"
        if in_section and re.match(rf"{SECRETS_URL_KEY}\s*=", stripped):
            continue
        out.append(line)
    if url:
        value = json.dumps(url)  # a TOML basic string: JSON's escapes are valid TOML
        if f"[{SECRETS_SECTION}]" in (s.strip() for s in out):
            i = [s.strip() for s in out].index(f"[{SECRETS_SECTION}]")
            out.insert(i + 1, f"{SECRETS_URL_KEY} = {value}")
        else:
            out += (["", f"[{SECRETS_SECTION}]"] if out else [f"[{SECRETS_SECTION}]"])
            out.append(f"{SECRETS_URL_KEY} = {value}")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(p)


def save_source_url(
    conn: duckdb.DuckDBPyConnection,
    url: str | None,
    *,
    path: str | Path | None = None,
    actor: str = store.DEFAULT_ACTOR,
) -> None:
    """Point the app at an analytics source (None: back to Relmark's own store). Admins only.

    Writes the URL into the secrets file (``path``, default :func:`secrets_file`) with
    :func:`save_source_secret` and records the change, with the password hidden, in the
    store's audit log.
    """
    auth.require(conn, actor, auth.Role.ADMIN, "change the analytics source")
    save_source_secret(path if path is not None else secrets_file(), url)
    with store.transaction(conn):
        if url:
            store.audit(conn, actor, "analytics source changed", redact(url))
        else:
            store.audit(conn, actor, "analytics source removed", "back to Relmark's own store")
        store.bump_data_version(conn)


# --- connecting -------------------------------------------------------------------------------------


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _with_defaults(url: str) -> str:
    """Add Relmark's defaults to a URL: for Postgres a connect timeout, and
    :data:`POSTGRES_SESSION_OPTIONS` for the session unless the URL sets those settings."""
    parts = urlsplit(url)
    if parts.scheme.lower() in _POSTGRES_SCHEMES:
        q = parse_qsl(parts.query, keep_blank_values=True)
        if not any(k == "connect_timeout" for k, _ in q):
            q.append(("connect_timeout", str(CONNECT_TIMEOUT_S)))
        given = " ".join(v for k, v in q if k == "options")
        extra = " ".join(
            f"-c {name}={value}"
            for name, value in POSTGRES_SESSION_OPTIONS.items()
            if name not in given
        )
        if extra:
            q = [(k, v) for k, v in q if k != "options"]
            q.append(("options", f"{given} {extra}".strip()))
        return urlunsplit(parts._replace(query=urlencode(q, safe="[]*:/")))
    return url


def connect_backend(url: str) -> BaseBackend:
    """An Ibis backend for the URL, or a :class:`SourceUnavailable` saying what went wrong."""
    label = redact(url)
    if not _scheme(url) or _scheme(url) == "file":
        raise SourceUnavailable(
            f"'{label}' is not a source URL. Write it like postgresql://user:password@host:"
            "5432/database, or pyspark://?spark.master=local[2] for Spark."
        )
    try:
        if _scheme(url) == SPARK_SCHEME:
            return _connect_spark(url)
        return ibis.connect(_with_defaults(url))
    except Exception as exc:  # every driver raises its own kinds
        raise explain(exc, label=label) from exc


def _connect_spark(url: str) -> BaseBackend:
    """``pyspark://[warehouse dir]?spark.setting=value&...``: the process's Spark session (made
    with those settings if none is running yet; settings Spark fixes at start-up then apply
    only to a new session), e.g. ``pyspark://?spark.master=local[4]`` or
    ``pyspark://?spark.master=spark://host:7077``."""
    from pyspark.sql import SparkSession

    parts = urlsplit(url)
    builder = SparkSession.builder
    if parts.netloc or parts.path:
        builder = builder.config(
            "spark.sql.warehouse.dir", str(Path(parts.netloc + parts.path).absolute())
        )
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        builder = builder.config(k, v)
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    return ibis.pyspark.connect(builder.getOrCreate())


@dataclass(frozen=True)
class WarehouseSource(Source):
    """A :class:`Source` over an analytics source, its names mapped to Relmark's.

    ``label`` is the redacted URL; ``key`` a fingerprint of URL and mapping (cache keys);
    ``state`` (inherited) the local store with Relmark's own state.
    """

    mapping: SourceMapping = field(default_factory=SourceMapping)
    label: str = ""
    key: str = ""
    _built: dict[str, Table] = field(default_factory=dict, init=False, compare=False, repr=False)

    def raw_table(self, name: str) -> Table:
        """The source's table for a Relmark table, as it is (no renames)."""
        m = self.mapping
        try:
            return self.backend.table(m.table_name(name), database=m.database_of(name))
        except Exception as exc:
            raise _missing_table(self, name, exc) from exc

    def table(self, name: str) -> Table:
        """The source's table with Relmark's column names and types."""
        if name not in SHOP_TABLES:
            return super().table(name)
        built = self._built.get(name)
        if built is None:
            built = _as_relmark(self, name, self.raw_table(name))
            self._built[name] = built
        return built


def _source_column(t: Table, wanted: str) -> str | None:
    if wanted in t.columns:
        return wanted
    folded = [c for c in t.columns if c.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


def _needs_cast(have: dt.DataType, want: dt.DataType) -> bool:
    if type(have) is not type(want):
        return not (have.is_integer() and want.is_integer())
    if want.is_decimal():
        return bool((have.precision, have.scale) != (want.precision, want.scale))
    if want.is_timestamp():
        return have.timezone is not None
    return False


def _column_plan(
    src: WarehouseSource, name: str, t: Table
) -> tuple[dict[str, str], list[str], list[str]]:
    """(Relmark column -> source column found, required columns missing, others missing)."""
    tm = src.mapping.for_table(name)
    found: dict[str, str] = {}
    missing_req: list[str] = []
    missing_opt: list[str] = []
    for col in relmark_columns()[name]:
        have = _source_column(t, tm.columns.get(col, col))
        if have is not None:
            found[col] = have
        elif col in REQUIRED_COLUMNS[name]:
            missing_req.append(col)
        else:
            missing_opt.append(col)
    return found, missing_req, missing_opt


def _as_relmark(src: WarehouseSource, name: str, t: Table) -> Table:
    found, missing_req, _ = _column_plan(src, name, t)
    if missing_req:
        raise SourceUnavailable(_missing_columns_sentence(src, name, missing_req))
    cols: dict[str, Any] = {}
    for col, want in relmark_columns()[name].items():
        if col in found:
            v = t[found[col]]
            cols[col] = v.cast(want) if _needs_cast(v.type(), want) else v
        else:
            cols[col] = ibis.null().cast(want)
    return t.select(**cols)


def _missing_columns_sentence(src: WarehouseSource, name: str, cols: list[str]) -> str:
    tm = src.mapping.for_table(name)
    names = ", ".join(f"{c}" + (f" (mapped to {tm.columns[c]})" if c in tm.columns else "")
                      for c in cols)
    noun = "column" if len(cols) == 1 else "columns"
    return (
        f"The table {src.mapping.where(name)} in {src.label} has no {noun} {names}, which "
        f"Relmark needs for {_WHAT_NEEDS[name]}. Name the source's {noun} in the mapping file: "
        f"[{name}] columns = {{ {cols[0]} = \"<your column>\" }}."
    )


def _missing_table(src: WarehouseSource, name: str, exc: Exception) -> RelmarkError:
    text = str(exc).lower()
    if type(exc).__name__ in ("TableNotFound", "UndefinedTable") or "not found" in text or "does not exist" in text or "undefined" in text or \
            "cannot be found" in text or "no such table" in text or "table_or_view" in text:
        return SourceUnavailable(
            f"{src.label} has no table {src.mapping.where(name)} (Relmark's {name}, needed for "
            f"{_WHAT_NEEDS[name]}). Check the name, or map yours in the mapping file: "
            f"[{name}] table = \"<your table>\"."
        )
    return explain(exc, label=src.label)


def connect(
    url: str,
    *,
    mapping: SourceMapping | None = None,
    state: duckdb.DuckDBPyConnection | None = None,
    backend: BaseBackend | None = None,
) -> WarehouseSource:
    """A :class:`WarehouseSource` for the URL.

    Parameters
    ----------
    url
        The source's URL (see the module's docstring).
    mapping
        The source's names for Relmark's tables and columns (default: Relmark's own).
    state
        The local store: its reporting currency and time zone apply, and metrics that join
        Relmark's own state (saved groups, follow-up marks) read it there.
    backend
        An already open backend for this URL (the app keeps one per source).
    """
    mapping = mapping or SourceMapping()
    be = backend if backend is not None else connect_backend(url)
    currency, tz = DEFAULT_REPORTING_CURRENCY, DEFAULT_TIMEZONE
    if state is not None:
        currency = store.get_setting(state, "reporting_currency", DEFAULT_REPORTING_CURRENCY)
        tz = store.get_setting(state, "store_timezone", DEFAULT_TIMEZONE)
    return WarehouseSource(
        backend=be,
        reporting_currency=currency,
        timezone=tz,
        state=state,
        mapping=mapping,
        label=redact(url),
        key=source_key(url, mapping),
    )


# --- test connection ----------------------------------------------------------------------------


class TableCheck(BaseModel):
    """What the source holds for one Relmark table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    found_as: str | None
    rows: int | None
    missing_required: tuple[str, ...] = ()
    missing_optional: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def sentence(self) -> str:
        if self.problem:
            return self.problem
        text = f"{self.table}: {self.found_as}, {self.rows:,} rows"
        if self.missing_optional:
            cols = ", ".join(self.missing_optional)
            text += f"; no {cols} (read as empty)"
        return text + "."


class ConnectionReport(BaseModel):
    """What :func:`test_connection` found: each table, and whether metrics can run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    backend: str
    reached: bool
    tables: tuple[TableCheck, ...] = ()
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.reached and all(t.ok for t in self.tables)

    def sentences(self) -> list[str]:
        if not self.reached:
            return [self.problem or f"{self.source} could not be reached."]
        head = (f"Connected to {self.source} ({self.backend}). "
                + ("Every table Relmark reads is there." if self.ok
                   else "Some tables need attention before the dashboards can use it."))
        return [head, *(t.sentence() for t in self.tables)]


def _check_table(src: WarehouseSource, name: str) -> TableCheck:
    where = src.mapping.where(name)
    try:
        raw = src.raw_table(name)
    except RelmarkError as exc:
        return TableCheck(table=name, found_as=None, rows=None, problem=str(exc))
    found, missing_req, missing_opt = _column_plan(src, name, raw)
    if missing_req:
        return TableCheck(table=name, found_as=where, rows=None,
                          missing_required=tuple(missing_req), missing_optional=tuple(missing_opt),
                          problem=_missing_columns_sentence(src, name, missing_req))
    try:
        t = src.table(name)
        src.execute(t.limit(1))  # the renames and type conversions work
        rows = int(src.execute(t.count()))
    except Exception as exc:
        err = explain(exc, label=src.label)
        return TableCheck(table=name, found_as=where, rows=None,
                          missing_optional=tuple(missing_opt),
                          problem=f"{name} ({where}): {err}")
    return TableCheck(table=name, found_as=where, rows=rows, missing_optional=tuple(missing_opt))


def test_connection(
    url: str,
    *,
    mapping: SourceMapping | None = None,
    backend: BaseBackend | None = None,
) -> ConnectionReport:
    """Connect, and report each Relmark table: where it was found, its rows, missing columns.

    Never raises for a source problem: an unreachable source or a refused login is reported
    in ``problem``. Reads only (``SELECT count(*)`` and one row per table).
    """
    label = redact(url)
    try:
        be = backend if backend is not None else connect_backend(url)
    except RelmarkError as exc:
        return ConnectionReport(source=label, backend=_scheme(url), reached=False,
                                problem=str(exc))
    src = connect(url, mapping=mapping, backend=be)
    checks = tuple(_check_table(src, name) for name in SHOP_TABLES)
    return ConnectionReport(source=label, backend=be.name, reached=True, tables=checks)


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# --- errors in words --------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:_MESSAGE_CHARS]


_DRIVER_MODULES = ("psycopg", "pyspark", "ibis", "py4j", "sqlglot", "snowflake", "google",
                   "trino", "clickhouse", "databricks", "pyarrow")


def is_source_error(exc: BaseException) -> bool:
    """True for an exception raised by a source's engine or driver (not a Relmark bug)."""
    return isinstance(exc, RelmarkError) or type(exc).__module__.startswith(_DRIVER_MODULES)


def explain(exc: BaseException, *, label: str = "the analytics source") -> RelmarkError:
    """An engine's or driver's exception as a :class:`RelmarkError` a person can act on."""
    if isinstance(exc, RelmarkError):
        return exc
    kind = type(exc).__name__
    module = type(exc).__module__
    text = str(exc)
    low = text.lower()
    if "password authentication failed" in low or kind in (
        "InvalidPassword", "InvalidAuthorizationSpecification"
    ):
        return SourceUnavailable(
            f"{label} refused the login: the user name or password is wrong. Check the user "
            "and password in the source URL (kept in the RELMARK_SOURCE environment variable "
            "or .streamlit/secrets.toml)."
        )
    if "database" in low and "does not exist" in low:
        return SourceUnavailable(
            f"{label} was reached but has no such database: {_first_line(exc)}. Check the "
            "database name at the end of the URL."
        )
    if kind == "InsufficientPrivilege" or "permission denied" in low:
        return SourceUnavailable(
            f"{label} refused to show a table to this user: {_first_line(exc)}. Ask the "
            "warehouse's administrator to grant read access (SELECT) on Relmark's tables."
        )
    if kind in ("UndefinedTable", "UndefinedColumn") or "TABLE_OR_VIEW_NOT_FOUND" in text \
            or "UNRESOLVED_COLUMN" in text:
        return SourceUnavailable(
            f"{label} has no such table or column: {_first_line(exc)}. Check the mapping of "
            "table and column names."
        )
    if kind == "OperationalError" or "connection refused" in low or "could not connect" in low \
            or "timeout" in low or "could not translate host name" in low \
            or "name or service not known" in low or "server closed the connection" in low:
        return SourceUnavailable(
            f"{label} could not be reached: {_first_line(exc)}. Check the host name and port, "
            "that the database server is running and that this computer may connect to it "
            "(firewall, VPN). Meanwhile Relmark shows the data in its own store."
        )
    if isinstance(exc, ModuleNotFoundError | ImportError) or "install" in low and "pip" in low:
        return SourceUnavailable(
            f"Relmark cannot talk to {label}: its driver is not installed ({_first_line(exc)}). "
            "Install it (for Spark: pip install -r requirements-spark.txt) and start again."
        )
    if kind == "ValueError" and "don't know how to connect" in low:
        return SourceUnavailable(
            f"Relmark does not know how to connect to {label}. Use a URL Ibis knows, such as "
            "postgresql://user:password@host:5432/database or pyspark://?spark.master=local[2]."
        )
    if module.startswith(_DRIVER_MODULES):
        return SourceUnavailable(
            f"{label} refused a query Relmark sent: {_first_line(exc)}. This is worth "
            "reporting to Relmark's maintainers with the page and filters you used."
        )
    return SourceUnavailable(f"{label} failed: {kind}: {_first_line(exc)}.")
