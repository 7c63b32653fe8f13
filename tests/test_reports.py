"""Page reports: the builder's numbers on a hand-built shop, the filters/import/date stamp,
escaping in the HTML file, the PDF's text (pdftotext) and pages (pdfinfo), and the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from relmark_core import cli, store
from relmark_core.errors import InputRefused
from relmark_core.periods import DateRange
from relmark_core.sharing.render_html import figure, render_html
from relmark_core.sharing.render_pdf import render_pdf
from relmark_core.sharing.report import (
    ReportChart,
    ReportFilters,
    ReportInputs,
    Series,
    last_import_sentence,
    one_line,
    table_from_frame,
)
from relmark_core.sharing.report_pages import REPORT_PAGES, build_report
from relmark_core.source import Source, from_duckdb
from tests.builders import add_customer, add_feedback, order

MARCH = DateRange(start=date(2024, 3, 1), end=date(2024, 4, 1))
AS_OF = date(2024, 3, 31)
NOW = datetime(2024, 4, 3, 8, 15)
FILTERS = ReportFilters(rng=MARCH, as_of=AS_OF, compare=True, preset="custom")
FILTER_TEXT = "Period 01 Mar 2024 – 31 Mar 2024, compared with the previous 31 days"
EVIL_NAME = "<b>Ann</b><script>alert(1)</script>"


@pytest.fixture
def shop(conn: duckdb.DuckDBPyConnection) -> Source:
    """March 2024: Ann orders 100 + 50, Bob 30 (and 20 in February), Cy only a cancelled order;
    NPS answers 10, 3 and 9 in March."""
    add_customer(conn, "c1", first_name=EVIL_NAME, last_name="Lee",
                 orders=[order("2024-03-05", 100), order("2024-03-20", 50)])
    add_customer(conn, "c2", first_name="Bob", last_name="Ray",
                 orders=[order("2024-02-10", 20), order("2024-03-10", 30)])
    add_customer(conn, "c3", first_name="Cy", orders=[order("2024-03-12", 999, status="cancelled")])
    add_feedback(conn, "c1", "2024-03-15", 10)
    add_feedback(conn, "c2", "2024-03-16", 3)
    add_feedback(conn, "c3", "2024-03-17", 9)
    return from_duckdb(conn)


def _inputs(conn: duckdb.DuckDBPyConnection, src: Source, **choices: str) -> ReportInputs:
    return ReportInputs(src=src, conn=conn, filters=FILTERS, choices=choices)


def _pdftotext(pdf: bytes, tmp_path: Path) -> tuple[str, int]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                          text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    return " ".join(text.split()), pages


# --- the builder -----------------------------------------------------------------------------


def test_overview_headlines_and_chart(conn: duckdb.DuckDBPyConnection, shop: Source) -> None:
    r = build_report("overview", _inputs(conn, shop, grain="month"), now=NOW)
    heads = {h.label: (h.value, h.previous, h.change) for h in r.sections[0].headlines}
    assert heads == {
        "Customers with orders": ("2", "1", "+100.0%"),
        "Orders": ("3", "1", "+200.0%"),
        "Net revenue": ("$180.00", "$20.00", "+800.0%"),
        "Average order value": ("$60.00", "$20.00", "+200.0%"),
        "Repeat purchase rate": ("50.0%", "0.0%", "+50.0 pts"),
    }
    assert r.sections[0].headlines[0].definition.startswith("People with at least one counted order")
    chart = r.sections[1].charts[0]
    assert chart.x == ("2024-03",)
    assert chart.series[0].values == (180.0,)
    assert r.sections[1].tables[0].rows == (("2024-03", "3", "2", "$180.00", "whole"),)
    assert r.choices == "Grouped by month; revenue with tax and shipping (net of refunds)"


def test_page_choices_come_from_the_url_params(
    conn: duckdb.DuckDBPyConnection, shop: Source
) -> None:
    """A saved view or a link opens a page with its URL settings; the report reads the same
    ones (here Overview's ``basis=1`` and ``grain=quarter``), and ignores nonsense values."""
    r = build_report("overview", _inputs(conn, shop, basis="1", grain="quarter"), now=NOW)
    revenue = r.sections[0].headlines[2]
    assert (revenue.label, revenue.value) == ("Net revenue excl. tax & shipping", "$180.00")
    assert r.sections[0].notes == (
        "Partial: 100% of orders came from a source without tax or shipping (e.g. a payment "
        "processor); those count in full.",
    )
    assert r.sections[1].charts[0].x == ("2024-Q1",)
    assert r.choices == "Grouped by quarter; revenue without tax and shipping"
    odd = build_report("overview", _inputs(conn, shop, grain="fortnight"), now=NOW)
    assert odd.sections[1].charts[0].x == ("2024-W09", "2024-W10", "2024-W11", "2024-W12",
                                          "2024-W13")


def test_stamp_states_filters_import_and_date(conn: duckdb.DuckDBPyConnection, shop: Source) -> None:
    r = build_report("overview", _inputs(conn, shop), now=NOW)
    assert dict(r.stamp()) == {
        "Filters": f"{FILTER_TEXT} · as of 31 Mar 2024 · all customers",
        "View": "Grouped by week; revenue with tax and shipping (net of refunds)",
        "Data": "Nothing imported yet.",
        "Generated": "3 Apr 2024 08:15 UTC",
        "Reporting currency": "USD",
    }
    assert r.file_stem() == "relmark-overview-2024-04-03"


def _add_import(conn: duckdb.DuckDBPyConnection, iid: int, name: str, when: datetime,
                status: str = "loaded") -> None:
    conn.execute(
        "INSERT INTO imports (import_id, file_name, content_hash, format, kind, rows_read, "
        "rows_loaded, rows_rejected, status, created_by, created_at) "
        "VALUES (?, ?, 'h', 'shopify', 'orders', 1, 1, 0, ?, 'local', ?)",
        [iid, name, status, when],
    )


def test_last_import_from_the_imports_table(conn: duckdb.DuckDBPyConnection) -> None:
    _add_import(conn, 1, "orders.csv", datetime(2024, 4, 2, 9, 30))
    _add_import(conn, 2, "undone.csv", datetime(2024, 4, 2, 11, 0), status="undone")
    assert last_import_sentence(conn) == "Last import 2 Apr 2024 09:30 UTC (orders.csv)."
    store.set_meta(conn, "demo", "1")
    store.audit(conn, "local", "demo data loaded", "")
    conn.execute("UPDATE audit_log SET logged_at = ?", [datetime(2024, 4, 1, 7, 5)])
    assert last_import_sentence(conn) == (
        "Demo data: an invented shop, made 1 Apr 2024 07:05 UTC; last import 2 Apr 2024 09:30 "
        "UTC (orders.csv)."
    )
    assert last_import_sentence(conn, "postgresql://host/db").startswith(
        "Read from the analytics source postgresql://host/db"
    )


def test_customers_table_leaves_emails_out(conn: duckdb.DuckDBPyConnection, shop: Source) -> None:
    r = build_report("customers", _inputs(conn, shop, sort="net_spend"), now=NOW)
    t = r.sections[0].tables[0]
    assert t.total_rows == 3
    assert [(row[0], row[2], row[3]) for row in t.rows[:2]] == [
        (f"{EVIL_NAME} Lee", "2", "$150.00"),
        ("Bob Ray", "2", "$50.00"),
    ]
    assert not any("@" in cell for row in t.rows for cell in row)


def test_feedback_scores(conn: duckdb.DuckDBPyConnection, shop: Source) -> None:
    r = build_report("feedback", _inputs(conn, shop), now=NOW)
    heads = {h.label: (h.value, h.previous) for h in r.sections[0].headlines}
    # 2 promoters (10, 9) and 1 detractor (3) of 3 answers: (2 - 1) / 3 = 33.3; none before
    assert heads["NPS"] == ("33.3", "—")
    assert heads["NPS answers"] == ("3", None)


def test_every_page_builds_and_unknown_page_is_refused(
    conn: duckdb.DuckDBPyConnection, shop: Source
) -> None:
    assert len(REPORT_PAGES) == 10
    for page in REPORT_PAGES:
        r = build_report(page, _inputs(conn, shop), now=NOW)
        assert r.sections, page
    for tab in ("churn", "value"):
        assert build_report("retention", _inputs(conn, shop, tab=tab), now=NOW).sections
    with pytest.raises(InputRefused, match="The page 'dashboards' has no report yet"):
        build_report("dashboards", _inputs(conn, shop), now=NOW)


def test_tables_are_truncated_with_a_note() -> None:
    df = pd.DataFrame({"n": range(60), "text": ["x" * 200] * 60})
    t = table_from_frame("Many", df, [("n", "N", "count"), ("text", "Text", "text")],
                         currency="USD")
    assert (len(t.rows), t.total_rows) == (50, 60)
    assert t.truncation_note() == (
        "The first 50 of 60 rows; the page (or a CSV export) has them all."
    )
    assert t.rows[0] == ("0", "x" * 119 + "…")
    assert one_line("a\n  b", 10) == "a b"


# --- HTML ------------------------------------------------------------------------------------


def test_html_escapes_data_and_states_the_filters(
    conn: duckdb.DuckDBPyConnection, shop: Source
) -> None:
    page = render_html(build_report("customers", _inputs(conn, shop, sort="net_spend"), now=NOW))
    assert "&lt;b&gt;Ann&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt; Lee" in page
    assert "<script>alert(1)" not in page
    assert "<b>Ann" not in page
    assert FILTER_TEXT in page
    assert "Nothing imported yet." in page


def test_html_embeds_plotly_and_escapes_chart_labels(
    conn: duckdb.DuckDBPyConnection, shop: Source
) -> None:
    page = render_html(build_report("overview", _inputs(conn, shop), now=NOW))
    assert "Plotly.newPlot" in page
    assert "<script src" not in page and "<link" not in page  # nothing to fetch: works offline
    assert len(re.findall(r"<script[^>]*>", page)) == 2  # plotly.js once, then the chart
    chart = ReportChart(title="t", kind="bar", x=(EVIL_NAME,),
                        series=(Series(name=EVIL_NAME, values=(1.0,)),))
    fig = figure(chart)
    assert list(fig.data[0].x) == ["&lt;b&gt;Ann&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert "<script>alert" not in fig.to_json()


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_states_filters_and_has_pages(
    conn: duckdb.DuckDBPyConnection, shop: Source, tmp_path: Path
) -> None:
    assert shutil.which("pdftotext"), "poppler-utils is missing: run scripts/test.sh"
    pdf = render_pdf(build_report("overview", _inputs(conn, shop, grain="month"), now=NOW))
    assert pdf.startswith(b"%PDF-")
    text, pages = _pdftotext(pdf, tmp_path)
    assert pages >= 1
    for expected in (FILTER_TEXT, "Nothing imported yet.", "3 Apr 2024 08:15 UTC",
                     "Net revenue", "$180.00", "Revenue over time"):
        assert expected in text, expected


def test_pdf_prints_truncation_note_and_data_text(
    conn: duckdb.DuckDBPyConnection, shop: Source, tmp_path: Path
) -> None:
    r = build_report("customers", _inputs(conn, shop, sort="net_spend"), now=NOW)
    text, _ = _pdftotext(render_pdf(r), tmp_path)
    assert "<b>Ann</b>" in text  # drawn as text, never interpreted
    assert "Email addresses are left out of reports." in text


# --- CLI -------------------------------------------------------------------------------------


def test_cli_export_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "shop.duckdb"
    with store.open_db(db) as c:
        add_customer(c, "c1", orders=[order("2024-03-05", 100)])
    out = tmp_path / "overview.pdf"
    code = cli.main(["--db", str(db), "export-report", "--page", "overview", "--format", "pdf",
                     "--out", str(out), "--start", "2024-03-01", "--end", "2024-04-01",
                     "--param", "grain=month"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    text, pages = _pdftotext(out.read_bytes(), tmp_path)
    assert pages >= 1
    assert f"{FILTER_TEXT} · as of 31 Mar 2024" in text
    assert "$100.00" in text
    html_out = tmp_path / "o.html"
    assert cli.main(["--db", str(db), "export-report", "--page", "rfm", "--format", "html",
                     "--out", str(html_out)]) == 0
    assert "RFM groups" in html_out.read_text()
    assert cli.main(["--db", str(db), "export-report", "--page", "overview", "--out",
                     str(out), "--param", "nonsense"]) == 3
    assert "is not NAME=VALUE" in capsys.readouterr().err


# --- the sidebar panel (AppTest) --------------------------------------------------------------


def test_sidebar_panel_makes_the_file_on_request(app_db: Path) -> None:
    from tests.apptest import open_page, problems

    at = open_page("pages/retention.py", {"tab": "churn"})
    assert at.get("download_button") == []  # nothing is made until asked
    at.button(key="export_make_html").click().run()
    assert problems(at) == []
    labels = [d.proto.label for d in at.get("download_button")]
    assert len(labels) == 1 and labels[0].startswith("Download HTML (")


def test_cli_exports_a_saved_view(tmp_path: Path) -> None:
    from relmark_core.sharing.views import save_view

    db = tmp_path / "shop.duckdb"
    with store.open_db(db) as c:
        add_customer(c, "c1", orders=[order("2024-03-05", 100), order("2024-03-06", 40)])
        view = save_view(c, "March by month", "overview", {
            "range": "custom", "start": "2024-03-01", "end": "2024-04-01", "as_of": "2024-03-31",
            "compare": "0", "grain": "month"})
    out = tmp_path / "view.pdf"
    assert cli.main(["--db", str(db), "export-report", "--view", str(view.view_id),
                     "--out", str(out)]) == 0
    text, _ = _pdftotext(out.read_bytes(), tmp_path)
    assert "Period 01 Mar 2024 – 31 Mar 2024 · as of 31 Mar 2024 · all customers" in text
    assert "Grouped by month" in text
    assert "$140.00" in text
    assert cli.main(["--db", str(db), "export-report", "--view", "999", "--out",
                     str(out)]) == 3
