"""A throwaway PostgreSQL for warehouse tests and the warehouse bench.

    with start_postgres() as pg:
        copy_shop(duck_conn, pg.url)          # customers, orders, order_lines, feedback
        src = warehouse.connect(pg.url)

PostgreSQL's ``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the
``postgres`` user (``runuser``) in a temporary folder that user owns. The server listens on
127.0.0.1 only, on a free port, with TimeZone=UTC, fsync off (nothing here needs to survive a
crash) and password authentication, so a wrong password can be tested. Loading goes DuckDB ->
CSV file -> ``COPY ... FROM STDIN``: no DuckDB extension is needed (none can be installed
offline). This is test tooling: Relmark itself never writes to a warehouse.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from pydantic import BaseModel

from relmark_core import customers, feedback_followup
from relmark_core.metrics import churn, clv, feedback, kpis, retention, rfm
from relmark_core.periods import DateRange
from relmark_core.reports import REPORTS
from relmark_core.source import Source

__all__ = [
    "PG_BIN",
    "PG_USER",
    "PG_DATABASE",
    "READER",
    "PgServer",
    "PostgresUnavailable",
    "start_postgres",
    "copy_shop",
    "pg_type",
    "normalise",
    "differences",
    "report_cases",
    "metric_cases",
]

PG_BIN = Path(os.environ.get("RELMARK_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "relmark"
PG_DATABASE = "shop"
READER = "relmark_reader"
START_ATTEMPTS = 3  # a free port can be taken between finding it and the server binding it
START_TIMEOUT_S = 30
SHOP_TABLES = ("customers", "orders", "order_lines", "feedback")
KEPT_PASSWORD = "relmark-password"  # in a kept server's folder (see start_postgres)

# DuckDB column type -> PostgreSQL column type (the store's types; money stays NUMERIC(18,2)).
_PG_TYPES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "DOUBLE": "double precision",
    "VARCHAR[]": "text[]",
}


class PostgresUnavailable(RuntimeError):
    """The throwaway server could not be started (tests must fail, not skip, on this)."""


@dataclass
class PgServer:
    """A running throwaway server: its folder, port, password and URL."""

    folder: Path
    port: int
    password: str
    reused: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{PG_DATABASE}"

    def url_with(self, *, password: str | None = None, database: str | None = None) -> str:
        """The URL with another password or database (for refusal tests)."""
        pw = self.password if password is None else password
        db = PG_DATABASE if database is None else database
        return f"postgresql://{PG_USER}:{pw}@127.0.0.1:{self.port}/{db}"

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def add_reader(self, name: str = READER, *, schemas: tuple[str, ...] = ("public",)) -> str:
        """A login that may only read the tables of ``schemas`` (what a warehouse's
        administrator would give Relmark); returns its URL."""
        pw = secrets.token_hex(8)
        with self.connect() as c:
            exists = c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchall()
            verb = "ALTER" if exists else "CREATE"  # a kept server (bench cache) has it already
            c.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(pw)))
            for s in schemas:
                c.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    sql.Identifier(s), sql.Identifier(name)))
                c.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.Identifier(s), sql.Identifier(name)))
        return f"postgresql://{name}:{pw}@127.0.0.1:{self.port}/{PG_DATABASE}"


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], folder: Path) -> None:
    proc = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, cwd=folder)
    if proc.returncode != 0:
        raise PostgresUnavailable(
            f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )


def _init(folder: Path, password: str) -> None:
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
        shutil.chown(pwfile, user="postgres")
    _run(
        [str(PG_BIN / "initdb"), "-D", str(folder / "data"), "-U", PG_USER, f"--pwfile={pwfile}",
         "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
        folder,
    )
    pwfile.unlink()


def _start(folder: Path, port: int, settings: Mapping[str, str]) -> None:
    opts = (f"-h 127.0.0.1 -p {port} -k {folder} -c TimeZone=UTC -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
            + "".join(f" -c {k}={v}" for k, v in settings.items()))
    _run([str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"),
          "-o", opts, "-w", "-t", str(START_TIMEOUT_S), "start"], folder)


def _stop(folder: Path, mode: str = "immediate") -> None:
    subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-m", mode,
                      "-w", "stop"]),
        capture_output=True, cwd=folder,
    )


@contextmanager
def start_postgres(
    settings: Mapping[str, str] | None = None, *, keep: Path | None = None
) -> Iterator[PgServer]:
    """Start a throwaway PostgreSQL with an empty database ``shop``; stop and delete it after.

    ``settings`` are extra server settings (e.g. ``{"work_mem": "64MB"}`` for the bench).
    ``keep``: a folder the server lives in and stays in after it stops; when it already holds
    one (``PgServer.reused``), that server starts again with its data, so the bench copies the
    10M-order shop once, as it builds the demo once.

    Raises
    ------
    PostgresUnavailable
        When the binaries are missing or the server does not start (with its log).
    """
    if not (PG_BIN / "initdb").exists():
        raise PostgresUnavailable(
            f"PostgreSQL binaries not found in {PG_BIN} (install the postgresql package or set "
            "RELMARK_PG_BIN)."
        )
    reused = keep is not None and (keep / KEPT_PASSWORD).exists() and (keep / "data").exists()
    if keep is not None and not reused:
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
    folder = keep if keep is not None else Path(tempfile.mkdtemp(prefix="relmark-pg-"))
    password = (folder / KEPT_PASSWORD).read_text().strip() if reused else secrets.token_hex(8)
    started = False
    try:
        if not reused:
            _init(folder, password)
        last: Exception | None = None
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            try:
                _start(folder, port, settings or {})
                started = True
                break
            except PostgresUnavailable as exc:
                last = exc
                time.sleep(0.2)
        if not started:
            log = (folder / "log").read_text() if (folder / "log").exists() else ""
            raise PostgresUnavailable(f"{last}\n{log[-2000:]}")
        server = PgServer(folder=folder, port=port, password=password, reused=reused)
        if not reused:
            with psycopg.connect(server.url_with(database="postgres"), autocommit=True) as c:
                c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))
            if keep is not None:  # written last: a half-made folder is never taken for a server
                (folder / KEPT_PASSWORD).write_text(password + "\n")
        yield server
    finally:
        if started:  # a kept server shuts down cleanly, to start again without recovery
            _stop(folder, "immediate" if keep is None else "fast")
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def pg_type(duck_type: str) -> str:
    """The PostgreSQL type for a store column's DuckDB type."""
    if duck_type.startswith("DECIMAL"):
        return duck_type.replace("DECIMAL", "numeric")
    return _PG_TYPES[duck_type]


def _csv_expr(name: str, duck_type: str) -> str:
    q = f'"{name}"'
    if duck_type == "VARCHAR[]":  # a PostgreSQL array literal: {"a","b"}
        return (
            "CASE WHEN " + q + " IS NULL THEN NULL ELSE '{' || array_to_string(list_transform("
            + q + ", lambda x: '\"' || replace(replace(x, '\\', '\\\\'), '\"', '\\\"') || '\"'), ',') "
            "|| '}' END AS " + q
        )
    return q


def copy_shop(
    duck: duckdb.DuckDBPyConnection,
    url: str,
    *,
    schema: str = "public",
    tables: Mapping[str, str] | None = None,
    renames: Mapping[str, Mapping[str, str]] | None = None,
    drop: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, int]:
    """Copy the shop's tables from a Relmark store into PostgreSQL; return rows per table.

    ``tables`` maps Relmark's table names to the names to create (default: the same),
    ``renames`` maps a Relmark table to {Relmark column: column name to create}, and ``drop``
    leaves columns out, so a test can build a warehouse that needs a mapping or lacks a column.
    """
    names = dict(tables or {t: t for t in SHOP_TABLES})
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="relmark-copy-") as tmp, \
            psycopg.connect(url, autocommit=False) as pg:
        pg.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for rel_name, target in names.items():
            cols = [
                (str(r[0]), str(r[1]))
                for r in duck.execute(f'DESCRIBE "{rel_name}"').fetchall()
                if str(r[0]) != "import_id" and str(r[0]) not in (drop or {}).get(rel_name, ())
            ]
            ren = (renames or {}).get(rel_name, {})
            ident = sql.Identifier(schema, target)
            defs = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(ren.get(c, c)), sql.SQL(pg_type(t)))
                for c, t in cols
            )
            pg.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, defs))
            path = Path(tmp) / f"{rel_name}.csv"
            select = ", ".join(_csv_expr(c, t) for c, t in cols)
            duck.execute(
                f"COPY (SELECT {select} FROM \"{rel_name}\") TO '{path}' (FORMAT csv, HEADER false)"
            ).fetchall()
            col_list = sql.SQL(", ").join(sql.Identifier(ren.get(c, c)) for c, _ in cols)
            with pg.cursor() as cur, cur.copy(
                sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(ident, col_list)
            ) as copy, path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
            counts[rel_name] = int(
                pg.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchall()[0][0]
            )
        pg.commit()
        pg.execute("ANALYZE")
    return counts


# --- the same metrics on two engines ---------------------------------------------------------

MONEY_PLACES = Decimal("0.01")
FLOAT_REL_TOL = 1e-9
FLOAT_ABS_TOL = 1e-9


def normalise(value: Any) -> Any:
    """A metric result as plain data: frames -> column names + rows, models -> dicts, money
    (Decimal) -> cents, times -> ISO strings, missing -> None."""
    if isinstance(value, pd.DataFrame):
        return {
            "columns": [str(c) for c in value.columns],
            "rows": [[normalise(v) for v in row] for row in value.itertuples(index=False)],
        }
    if isinstance(value, pd.Series):
        return [normalise(v) for v in value.tolist()]
    if isinstance(value, BaseModel):
        return {k: normalise(getattr(value, k)) for k in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: normalise(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [normalise(v) for v in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, Decimal):
        return value.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
    if isinstance(value, (pd.Timestamp, datetime)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return normalise(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two normalised results differ, as readable lines: money (Decimal) after rounding
    to cents, other numbers of the same type, floats within a relative 1e-9."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} != {list(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)} items"]
        out: list[str] = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(differences(x, y, f"{path}[{i}]"))
            if len(out) > 20:
                break
        return out
    if isinstance(a, bool) or isinstance(b, bool):
        return [] if a == b else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        if isinstance(a, Decimal) or isinstance(b, Decimal):
            x = Decimal(str(a)).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
            y = Decimal(str(b)).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
            return [] if x == y else [f"{path}: {a!r} != {b!r}"]
        if type(a) is not type(b):  # 3 and 3.0 print differently in a report
            return [f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"]
        ok = math.isclose(float(a), float(b), rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_ABS_TOL)
        return [] if ok else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


Case = Callable[[Source], Any]


def report_cases(as_of: date) -> dict[str, Case]:
    """Every CLI report in :data:`relmark_core.reports.REPORTS`, with its default arguments
    (and a fixed as-of date), rendered as JSON the way the CLI prints it."""
    from relmark_core.cli import build_parser

    out: dict[str, Case] = {}
    for name, rep in REPORTS.items():
        args = build_parser().parse_args(["report", name, "--format", "json"])
        if getattr(args, "as_of", None) is None:
            args.as_of = as_of.isoformat()

        def run(src: Source, rep: Any = rep, args: argparse.Namespace = args) -> Any:
            from relmark_core.reports import render

            return render(rep.run(src, args), "json")

        out[f"report {name}"] = run
    return out


def metric_cases(local: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, Case]:
    """The page-level metric functions, with arguments a page would pass.

    ``local`` is Relmark's own store (follow-up marks live there, next to warehouse answers).
    """
    last90 = DateRange(start=as_of - timedelta(days=90), end=as_of + timedelta(days=1))
    prev90 = DateRange(start=last90.start - timedelta(days=91), end=last90.start)
    year = DateRange(start=as_of - timedelta(days=365), end=as_of + timedelta(days=1))
    rq = retention.RetentionQuery(as_of=as_of)
    rq_week = retention.RetentionQuery(as_of=as_of, grain="week", view="recurring",
                                       cohorts_since=as_of - timedelta(days=120))
    rq_filtered = retention.RetentionQuery(
        as_of=as_of, filters=retention.CohortFilter(first_order_discount=True))

    def first_cohort_customers(src: Source) -> Any:
        res = retention.cohort_retention(src, query=rq)
        cohort = res.cohorts["cohort"].iloc[0]
        return retention.cohort_customers(src, query=rq, cohort=cohort, period=1)

    def profile(src: Source) -> Any:
        first = customers.customer_table(src, sort="net_spend", limit=1, as_of=as_of)
        return customers.customer_profile(src, str(first["customer_id"].iloc[0]), as_of=as_of)

    cases: dict[str, Case] = {
        "kpis_for_ranges": lambda s: kpis.kpis_for_ranges(s, ranges=[last90, prev90]),
        "kpis ex tax": lambda s: kpis.kpis(s, rng=year, basis="net_ex_tax_shipping"),
        "revenue_over_time month": lambda s: kpis.revenue_over_time(s, rng=year),
        "revenue_over_time week": lambda s: kpis.revenue_over_time(s, rng=last90, grain="week"),
        "data_span": kpis.data_span,
        "rfm default_as_of": rfm.default_as_of,
        "rfm_table": lambda s: rfm.rfm_table(s, as_of=as_of),
        "rfm_grid": lambda s: rfm.rfm_grid(s, as_of=as_of),
        "rfm_group_summary": lambda s: rfm.rfm_group_summary(s, as_of=as_of),
        "retention month": lambda s: retention.cohort_retention(s, query=rq),
        "retention week recurring": lambda s: retention.cohort_retention(s, query=rq_week),
        "retention discount cohorts": lambda s: retention.cohort_retention(s, query=rq_filtered),
        "retention curves/trend": lambda s: [
            (r := retention.cohort_retention(s, query=rq)).matrix("revenue"),
            r.average_curve("on_or_after"), r.trend()],
        "cohort_customers": first_cohort_customers,
        "churn suggest": lambda s: churn.suggest_churn_days(s, as_of=as_of),
        "churn_rates": lambda s: churn.churn_rates(s, as_of=as_of),
        "overdue_customers": lambda s: churn.overdue_customers(s, as_of=as_of),
        "purchase_summary": lambda s: clv.purchase_summary(s, as_of=as_of),
        "predict_clv": lambda s: clv.predict_clv(s, as_of=as_of),
        "holdout_validation": lambda s: clv.holdout_validation(s, as_of=as_of),
        "historical_clv": lambda s: clv.historical_clv(s, as_of=as_of),
        "answer_span": feedback.answer_span,
        "nps_over_time": lambda s: feedback.nps_over_time(s),
        "csat_over_time": lambda s: feedback.csat_over_time(s, grain="quarter"),
        "nps by rfm": lambda s: feedback.score_summary(s, grain=None, by="rfm", as_of=as_of),
        "nps by cohort": lambda s: feedback.score_summary(s, by="cohort", as_of=as_of),
        "nps by country": lambda s: feedback.score_summary(s, grain=None, by="country"),
        "nps by channel": lambda s: feedback.score_summary(s, grain=None, by="channel"),
        "review_summary": lambda s: feedback.review_summary(s, by="category"),
        "comments": lambda s: feedback.comments(s, feedback.CommentFilter(group="detractor")),
        "comment search": lambda s: feedback.comments(
            s, feedback.CommentFilter(kind=None, search="late")),
        "count_comments": lambda s: feedback.count_comments(s),
        "comment_themes": lambda s: feedback.comment_themes(s),
        "theme_changes": lambda s: feedback.theme_changes(s, rng=year),
        "behaviour_by_group": lambda s: feedback.behaviour_by_group(s, as_of=as_of),
        "revenue_at_risk": lambda s: feedback.revenue_at_risk(s, as_of=as_of),
        "customer_table": lambda s: customers.customer_table(s, as_of=as_of, limit=50),
        "customer_table by nps": lambda s: customers.customer_table(
            s, sort="nps", as_of=as_of, limit=50, search="a"),
        "count_customers": lambda s: customers.count_customers(s, search="gmail"),
        "customer_profile": profile,
        "followup_list": lambda s: feedback_followup.followup_list(s, local, as_of=as_of),
        "followup_counts": lambda s: feedback_followup.followup_counts(s, local, as_of=as_of),
    }
    return cases


# --- Spark -------------------------------------------------------------------------------------

SPARK_URL = "pyspark://?spark.master=local[2]&spark.sql.shuffle.partitions=4"


@contextmanager
def spark_session_with_shop(duck: duckdb.DuckDBPyConnection) -> Iterator[str]:
    """A local Spark session holding the store's shop tables as views; yields its URL.

    ``warehouse.connect(url)`` finds the same session (Spark keeps one per process)."""
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("relmark-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    try:
        for name in SHOP_TABLES:
            cols = [str(r[0]) for r in duck.execute(f'DESCRIBE "{name}"').fetchall()
                    if str(r[0]) != "import_id"]
            table = duck.sql(f'SELECT {", ".join(cols)} FROM "{name}"').to_arrow_table()
            session.createDataFrame(table).createOrReplaceTempView(name)
        yield SPARK_URL
    finally:
        session.stop()
