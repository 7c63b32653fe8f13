"""Warehouse mode: every metric gives the same numbers on PostgreSQL (and Spark) as on DuckDB.

A throwaway PostgreSQL 15 starts once per run (tests FAIL, never skip, when it cannot), the
small demo shop is copied into it, and every CLI report and page-level metric runs on both
engines through a login that may only read. Smaller hand-built shops check the mapping, the
connection report and the messages for what goes wrong.

Spark: ``python -m pytest -m spark tests/test_warehouse.py`` (needs ``pip install -r
requirements-spark.txt`` and Java 17; not in the default run).
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from relmark_core import source, store, warehouse
from relmark_core.cli import main
from relmark_core.errors import RelmarkError
from relmark_core.metrics import kpis
from relmark_core.periods import DateRange
from relmark_core.reports import REPORTS
from relmark_core.warehouse import SourceMapping, SourceUnavailable, TableMapping
from tests.builders import add_customer, order
from tests.warehouse_pg import (
    PgServer,
    copy_shop,
    differences,
    metric_cases,
    normalise,
    report_cases,
    start_postgres,
)

pytestmark = pytest.mark.warehouse

NON_UTC_ZONE = "America/New_York"  # local days differ from UTC days; DST changes inside the data
_CASE_NAMES = sorted(metric_cases(None, date(2024, 1, 1)))  # type: ignore[arg-type]


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A throwaway PostgreSQL for this run (a start failure is an error, not a skip)."""
    with start_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def demo_store(demo_db_template: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The small demo shop (tests/conftest.py), opened read-only: the DuckDB side."""
    conn = duckdb.connect(str(demo_db_template), read_only=True)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def demo_pg(pg: PgServer, demo_store: duckdb.DuckDBPyConnection) -> str:
    """The demo shop copied into PostgreSQL; the URL of a login that may only read it."""
    counts = copy_shop(demo_store, pg.url)
    assert counts["orders"] > 1000  # the demo shop, not an empty copy
    return pg.add_reader()


@pytest.fixture(scope="session")
def as_of(demo_store: duckdb.DuckDBPyConnection) -> date:
    last = demo_store.execute("SELECT max(ordered_at) FROM orders").fetchall()[0][0]
    return last.date()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def both(demo_store: duckdb.DuckDBPyConnection, demo_pg: str) -> tuple[source.Source, source.Source]:
    """(DuckDB source, PostgreSQL source) over the same shop and the same local settings."""
    return source.from_duckdb(demo_store), warehouse.connect(demo_pg, state=demo_store)


def _compare(case: object, duck: source.Source, pgs: source.Source) -> list[str]:
    assert callable(case)
    return differences(normalise(case(duck)), normalise(case(pgs)))


# --- the same numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_matches_duckdb(
    name: str, both: tuple[source.Source, source.Source], as_of: date
) -> None:
    duck, pgs = both
    case = report_cases(as_of)[f"report {name}"]
    out = case(duck)
    assert len(out) > 50  # a real report, not an empty one
    assert _compare(case, duck, pgs) == []


@pytest.mark.parametrize("zone", ["UTC", NON_UTC_ZONE])
@pytest.mark.parametrize("name", _CASE_NAMES)
def test_every_metric_matches_duckdb(
    name: str, zone: str, both: tuple[source.Source, source.Source],
    demo_store: duckdb.DuckDBPyConnection, as_of: date,
) -> None:
    duck, pgs = (dataclasses.replace(s, timezone=zone) for s in both)
    case = metric_cases(demo_store, as_of)[name]
    assert _compare(case, duck, pgs) == []


def test_the_warehouse_source_reads_postgres_not_the_local_copy(
    both: tuple[source.Source, source.Source],
) -> None:
    _, pgs = both
    assert pgs.backend.name == "postgres"
    assert isinstance(pgs, warehouse.WarehouseSource)
    assert "***" in pgs.label and pgs.label.startswith("postgresql://relmark_reader:***@")


def _setting(src: source.Source, name: str) -> str:
    with src.backend.raw_sql(f"SHOW {name}") as cur:  # type: ignore[attr-defined]
        return str(cur.fetchall()[0][0])


def test_relmark_sessions_discourage_nested_loops_unless_the_url_says(
    both: tuple[source.Source, source.Source], demo_pg: str, demo_store: duckdb.DuckDBPyConnection,
) -> None:
    """A nested loop over a misjudged aggregate took over 9 minutes at 10M orders; Relmark's
    session turns them off, and a setting written in the URL wins."""
    _, pgs = both
    assert _setting(pgs, "enable_nestloop") == "off"
    assert _setting(pgs, "statement_timeout") == "0"  # nothing else changed
    own = warehouse.connect(demo_pg + "?options=-c%20enable_nestloop%3Don", state=demo_store)
    assert _setting(own, "enable_nestloop") == "on"
    other = warehouse.connect(demo_pg + "?options=-c%20work_mem%3D8MB", state=demo_store)
    assert (_setting(other, "enable_nestloop"), _setting(other, "work_mem")) == ("off", "8MB")


def test_the_reader_login_cannot_write(demo_pg: str) -> None:
    """The comparison above ran as this login: it can read the shop and nothing more."""
    import psycopg

    with psycopg.connect(demo_pg, autocommit=True) as c:
        assert c.execute("SELECT count(*) > 0 FROM orders").fetchall() == [(True,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("DELETE FROM orders")


def test_no_postgres_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests import warehouse_pg

    monkeypatch.setattr(warehouse_pg, "PG_BIN", tmp_path / "no-postgres")
    with pytest.raises(warehouse_pg.PostgresUnavailable, match="PostgreSQL binaries not found"):
        with start_postgres():
            pass


def test_differences_notices_a_changed_cent_and_a_type() -> None:
    from decimal import Decimal

    assert differences(normalise([Decimal("1.004")]), normalise([Decimal("1.001")])) == []
    assert differences(normalise([Decimal("1.01")]), normalise([Decimal("1.02")])) == [
        "[0]: Decimal('1.01') != Decimal('1.02')"]
    assert differences([3], [3.0]) == ["[0]: 3 (int) != 3.0 (float)"]


# --- a hand-built shop under other names ------------------------------------------------------


def _tiny_shop(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "a", email="ann@shop.com", orders=[
        order("2024-03-05 10:00:00", 100, tax=10, shipping=5),
        order("2024-03-20 10:00:00", 50, refunds=20),
        order("2024-03-21 10:00:00", 70, status="cancelled"),
    ])
    add_customer(conn, "b", email="bob@shop.com", orders=[order("2024-03-10 10:00:00", 80,
                                                                currency="EUR")])


@pytest.fixture(scope="session")
def mapped_pg(pg: PgServer) -> str:
    """The tiny shop in schema ``analytics`` under the warehouse's own names, without
    ``discount_code`` and ``sales_channel``; returns the reader URL."""
    with store.open_db(":memory:") as c:
        _tiny_shop(c)
        copy_shop(
            c, pg.url, schema="analytics",
            tables={"customers": "people", "orders": "shop_orders", "order_lines": "lines",
                    "feedback": "answers"},
            renames={"orders": {"ordered_at": "created_at", "net": "net_amount"},
                     "customers": {"customer_id": "person_id"}},
            drop={"orders": ("discount_code", "sales_channel")},
        )
    return pg.add_reader("analytics_reader", schemas=("analytics",))


MAPPING = SourceMapping(
    database="analytics",
    customers=TableMapping(table="people", columns={"customer_id": "person_id"}),
    orders=TableMapping(table="shop_orders",
                        columns={"ordered_at": "created_at", "net": "net_amount"}),
    order_lines=TableMapping(table="lines"),
    feedback=TableMapping(table="answers"),
)
MARCH = DateRange(start=date(2024, 3, 1), end=date(2024, 4, 1))


def test_a_mapping_reads_the_warehouse_own_names(mapped_pg: str) -> None:
    src = warehouse.connect(mapped_pg, mapping=MAPPING)
    k = kpis.kpis(src, rng=MARCH).as_record()
    # a: 100 and 50-20=30 counted (the cancelled 70 is not); b: 80 EUR apart
    assert k == {
        "start": "2024-03-01", "end": "2024-04-01", "currency": "USD", "customers": 2,
        "orders": 3, "revenue": 130.0, "aov": 65.0, "repeat_purchase_rate": 0.5,
        "other_currencies": {"EUR": {"orders": 1, "revenue": 80.0}},
    }
    # missing optional columns read as empty, in Relmark's order and types
    o = src.execute(src.orders.order_by("ordered_at"))
    assert list(o.columns) == list(warehouse.relmark_columns()["orders"])
    assert o["discount_code"].isna().all() and o["sales_channel"].isna().all()
    assert [str(v) for v in o["net"]] == ["100.00", "80.00", "30.00", "70.00"]


def test_a_mapping_file_in_toml(tmp_path: Path, mapped_pg: str) -> None:
    f = tmp_path / "map.toml"
    f.write_text(
        'database = "analytics"\n'
        '[customers]\ntable = "people"\ncolumns = { customer_id = "person_id" }\n'
        '[orders]\ntable = "shop_orders"\ncolumns = { ordered_at = "created_at", '
        'net = "net_amount" }\n[order_lines]\ntable = "lines"\n[feedback]\ntable = "answers"\n'
    )
    assert warehouse.load_mapping(f) == MAPPING


def test_test_connection_reports_tables_rows_and_missing_columns(mapped_pg: str) -> None:
    report = warehouse.test_connection(mapped_pg, mapping=MAPPING)
    assert report.ok and report.reached and report.backend == "postgres"
    assert [(t.table, t.found_as, t.rows) for t in report.tables] == [
        ("customers", "analytics.people", 2),
        ("orders", "analytics.shop_orders", 4),
        ("order_lines", "analytics.lines", 0),
        ("feedback", "analytics.answers", 0),
    ]
    assert report.tables[1].missing_optional == ("sales_channel", "discount_code")
    assert report.sentences()[2] == (
        "orders: analytics.shop_orders, 4 rows; no sales_channel, discount_code (read as empty)."
    )
    assert "password" not in " ".join(report.sentences())


def test_without_a_mapping_a_renamed_warehouse_is_explained(mapped_pg: str) -> None:
    report = warehouse.test_connection(mapped_pg, mapping=SourceMapping(database="analytics"))
    assert report.reached and not report.ok
    assert report.tables[1].problem == (
        "postgresql://analytics_reader:***@127.0.0.1:" + mapped_pg.rsplit(":", 1)[1].split("/")[0]
        + "/shop has no table analytics.orders (Relmark's orders, needed for every sales "
        "number). Check the name, or map yours in the mapping file: [orders] table = "
        "\"<your table>\"."
    )


def test_a_missing_required_column_is_named(mapped_pg: str) -> None:
    wrong = MAPPING.model_copy(update={"orders": TableMapping(
        table="shop_orders", columns={"ordered_at": "created_at"})})
    src = warehouse.connect(mapped_pg, mapping=wrong)
    with pytest.raises(SourceUnavailable) as exc:
        kpis.kpis(src, rng=MARCH)
    msg = str(exc.value)
    assert "analytics.shop_orders" in msg and "has no column net, which Relmark needs for " \
        "every sales number" in msg
    assert '[orders] columns = { net = "<your column>" }' in msg
    report = warehouse.test_connection(mapped_pg, mapping=wrong)
    assert not report.ok and report.tables[1].missing_required == ("net",)


def test_a_mapping_naming_an_unknown_relmark_column_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "map.toml"
    f.write_text('[orders]\ncolumns = { orderdate = "created_at" }\n')
    with pytest.raises(SourceUnavailable, match=r"\[orders\] maps orderdate, which Relmark's "
                       r"orders table does not have"):
        warehouse.load_mapping(f)
    f.write_text("[orders\n")
    with pytest.raises(SourceUnavailable, match="is not valid TOML"):
        warehouse.load_mapping(f)


# --- what goes wrong, in words -----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_host_is_a_clear_message() -> None:
    url = f"postgresql://u:secret@127.0.0.1:{_closed_port()}/shop"
    with pytest.raises(SourceUnavailable) as exc:
        warehouse.connect(url)
    msg = str(exc.value)
    assert msg.startswith(f"postgresql://u:***@127.0.0.1:{url.split(':')[3].split('/')[0]}"
                          "/shop could not be reached: ")
    assert "Check the host name and port" in msg and "secret" not in msg


def test_a_wrong_password_is_a_clear_message(pg: PgServer) -> None:
    with pytest.raises(SourceUnavailable, match="refused the login: the user name or password "
                       "is wrong") as exc:
        warehouse.connect(pg.url_with(password="wrong-pw"))
    assert "wrong-pw" not in str(exc.value)


def test_a_missing_database_is_a_clear_message(pg: PgServer) -> None:
    with pytest.raises(SourceUnavailable, match="was reached but has no such database"):
        warehouse.connect(pg.url_with(database="nope"))


@pytest.mark.parametrize("url,expected", [
    ("not a url", "'not a url' is not a source URL. Write it like postgresql://"),
    ("nosuchengine://x", "Relmark does not know how to connect to nosuchengine://x"),
])
def test_a_bad_url_is_a_clear_message(url: str, expected: str) -> None:
    with pytest.raises(RelmarkError) as exc:
        warehouse.connect(url)
    assert str(exc.value).startswith(expected)


def test_test_connection_never_raises_for_an_unreachable_source() -> None:
    report = warehouse.test_connection(f"postgresql://u:pw@127.0.0.1:{_closed_port()}/x")
    assert not report.reached and not report.ok
    assert "could not be reached" in report.sentences()[0]


def test_a_query_the_engine_refuses_is_explained() -> None:
    import psycopg

    err = warehouse.explain(psycopg.errors.SyntaxError("syntax error at or near \"QUALIFY\""),
                            label="pg")
    assert str(err) == ('pg refused a query Relmark sent: syntax error at or near "QUALIFY". '
                        "This is worth reporting to Relmark's maintainers with the page and "
                        "filters you used.")


# --- configuration, secrets, redaction ----------------------------------------------------------


def test_redact_hides_passwords_and_secret_parameters() -> None:
    assert warehouse.redact("postgresql://ann:s3cr%40t@db.example:5432/shop?sslmode=require") \
        == "postgresql://ann:***@db.example:5432/shop?sslmode=require"
    assert warehouse.redact("trino://ann@host/cat?access_token=abc") \
        == "trino://ann@host/cat?access_token=***"
    assert warehouse.redact("pyspark://?spark.master=local[2]") \
        == "pyspark://?spark.master=local[2]"


def test_the_url_comes_from_the_environment_then_the_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(warehouse.SOURCE_ENV, raising=False)
    monkeypatch.delenv(warehouse.MAPPING_ENV, raising=False)
    secrets = {"relmark": {"source_url": "postgresql://s@h/d",
                           "source_mapping": {"orders": {"table": "o"}}}}
    assert warehouse.configured_url(None) is None
    assert warehouse.configured_url(secrets) == "postgresql://s@h/d"
    assert warehouse.configured_mapping(secrets).table_name("orders") == "o"
    monkeypatch.setenv(warehouse.SOURCE_ENV, "postgresql://e@h/d")
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"orders": {"table": "from_file"}}))
    monkeypatch.setenv(warehouse.MAPPING_ENV, str(f))
    assert warehouse.configured_url(secrets) == "postgresql://e@h/d"
    assert warehouse.configured_mapping(secrets).table_name("orders") == "from_file"


def test_save_source_secret_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    f = tmp_path / ".streamlit" / "secrets.toml"
    f.parent.mkdir()
    f.write_text('api = "x"\n\n[relmark]\nsource_url = "old"\nother = 1\n')
    warehouse.save_source_secret(f, 'postgresql://a:p"w@h/d')
    assert f.read_text() == (
        'api = "x"\n\n[relmark]\nsource_url = "postgresql://a:p\\"w@h/d"\nother = 1\n')
    assert f.stat().st_mode & 0o777 == 0o600
    warehouse.save_source_secret(f, None)
    assert f.read_text() == 'api = "x"\n\n[relmark]\nother = 1\n'
    g = tmp_path / "new.toml"
    warehouse.save_source_secret(g, "postgresql://h/d")
    assert g.read_text() == '[relmark]\nsource_url = "postgresql://h/d"\n'


# --- the CLI --------------------------------------------------------------------------------------


def test_cli_reports_read_the_source(
    demo_db_template: Path, demo_pg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "local.duckdb"
    db.write_bytes(demo_db_template.read_bytes())
    assert main(["--db", str(db), "report", "kpis", "--format", "json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["--db", str(db), "--source", demo_pg, "report", "kpis", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == local
    # the environment variable does the same, and an emptied local store proves the source read
    with store.open_db(db) as c:
        c.execute("DELETE FROM order_lines; DELETE FROM orders")
    monkeypatch.setenv(warehouse.SOURCE_ENV, demo_pg)
    assert main(["--db", str(db), "report", "kpis", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == local


def test_cli_source_mapping_and_an_unreachable_source(
    mapped_pg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(warehouse.SOURCE_ENV, raising=False)
    db = tmp_path / "local.duckdb"
    f = tmp_path / "map.json"
    f.write_text(MAPPING.model_dump_json(exclude_defaults=True))
    args = ["--db", str(db), "--source", mapped_pg, "--source-mapping", str(f), "report", "kpis",
            "--start", "2024-03-01", "--end", "2024-04-01", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["revenue"] == 130.0
    bad = f"postgresql://u:pw@127.0.0.1:{_closed_port()}/x"
    assert main(["--db", str(db), "--source", bad, "report", "kpis"]) == 3
    err = capsys.readouterr().err
    assert "could not be reached" in err and ":pw@" not in err


def test_cli_source_check_prints_what_it_found(
    mapped_pg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    f = tmp_path / "map.json"
    f.write_text(MAPPING.model_dump_json(exclude_defaults=True))
    code = main(["--db", str(tmp_path / "l.duckdb"), "--source", mapped_pg, "--source-mapping",
                 str(f), "source-check"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[1:] == [
        "customers: analytics.people, 2 rows.",
        "orders: analytics.shop_orders, 4 rows; no sales_channel, discount_code (read as empty).",
        "order_lines: analytics.lines, 0 rows.",
        "feedback: analytics.answers, 0 rows.",
    ]


# --- Spark ----------------------------------------------------------------------------------------


@pytest.mark.spark
def test_every_metric_matches_duckdb_on_spark(
    demo_store: duckdb.DuckDBPyConnection, as_of: date
) -> None:
    from tests.warehouse_pg import spark_session_with_shop

    with spark_session_with_shop(demo_store) as url:
        duck = source.from_duckdb(demo_store)
        spark = warehouse.connect(url, state=demo_store)
        assert spark.backend.name == "pyspark"
        cases = {**report_cases(as_of), **metric_cases(demo_store, as_of)}
        failed = {}
        for name, case in cases.items():
            try:
                diff = _compare(case, duck, spark)
            except RelmarkError as exc:
                diff = [str(exc)]
            if diff:
                failed[name] = diff[:5]
        assert failed == {}


def test_local_helpers_cover_every_report() -> None:
    assert sorted(k.removeprefix("report ") for k in report_cases(date(2024, 1, 1))) == sorted(
        REPORTS)


# --- the app ----------------------------------------------------------------------------------------


def _app_pages() -> list[str]:
    from tests.test_pages import PAGES

    return PAGES


@pytest.fixture
def no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's secrets file is a private temporary one (the test may write it)."""
    f = tmp_path / "secrets.toml"
    monkeypatch.setenv("RELMARK_SECRETS_FILE", str(f))
    monkeypatch.delenv(warehouse.SOURCE_ENV, raising=False)
    monkeypatch.delenv(warehouse.MAPPING_ENV, raising=False)
    return f


@pytest.mark.parametrize("page", _app_pages())
def test_every_page_reads_the_warehouse(
    page: str, app_db: Path, demo_pg: str, no_secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.apptest import open_page, problems

    monkeypatch.setenv(warehouse.SOURCE_ENV, demo_pg)
    at = open_page(page)
    assert problems(at) == []
    captions = [str(c.value) for c in at.sidebar.caption]
    assert any(c.startswith("Reading the analytics source postgresql://relmark_reader:***@")
               for c in captions)
    assert not any("Demo data" in str(i.value) for i in at.info)  # the local demo is not shown


def test_an_unreachable_source_leaves_the_app_usable(
    app_db: Path, no_secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.apptest import open_page, problems

    monkeypatch.setenv(warehouse.SOURCE_ENV, f"postgresql://u:pw@127.0.0.1:{_closed_port()}/x")
    at = open_page("pages/overview.py")
    assert problems(at) == []
    warnings = [str(w.value) for w in at.warning]
    assert any("could not be reached" in w and "pages show the data in Relmark's own store" in w
               for w in warnings)
    assert any("Demo data" in str(i.value) for i in at.info)  # the local data is shown


def test_the_settings_page_tests_and_saves_a_source(
    app_db: Path, demo_pg: str, no_secrets: Path
) -> None:
    from tests.apptest import open_page, problems

    at = open_page("pages/settings.py")
    assert problems(at) == []
    at.text_input(key="source_url").input(demo_pg)
    at.button(key="FormSubmitter:source_form-Test, save and use").click().run()
    assert problems(at) == []
    assert warehouse.read_secrets(no_secrets) == {"relmark": {"source_url": demo_pg}}
    body = " ".join(str(m.value) for m in at.markdown)
    assert "Pages and reports read your orders from **postgresql://relmark_reader:***@" in body
    assert any(str(s.value) == "Analytics source saved: pages now read it." for s in at.success)
