"""AppTest for the Data page: upload -> preview -> answers -> import, bad files, the column
mapping, day/month order, Typeform's score question, the import history with undo and rejected
rows, and previews that go stale when the data changes.

Expected figures come from the fixtures in tests/fixtures/imports/, worked out by hand:

* ``shopify_orders.csv``: 7 line-item rows = orders #1001 (2 lines, $59.00), #1002 (2 lines,
  $80.00 with $30.00 refunded) and #1003 (3 lines, $35.00); two people (ann@shop.com twice,
  bob@example.com) -> 3 orders, 7 order lines, 2 new customers.
* ``shopify_orders_newer.csv``: the newer export: #1002 changed, plus new orders.
* ``generic_ambiguous_dates.csv``: dates 03/04/2024 and 05/06/2024, read either way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from relmark_core import imports as im
from relmark_core import store
from tests.apptest import open_page, problems

PAGE = "pages/data.py"
FIXTURES = Path(__file__).parent / "fixtures" / "imports"
SHOPIFY = FIXTURES / "shopify_orders.csv"
CONTACT_CSV = (b"Order ID,Contact,Order Date,Amount\n"
               b"A1,amy@example.com,2024-03-01,10.00\n"
               b"A2,ben@example.com,2024-03-02,12.50\n")
TYPEFORM_TWO_SCORES = (
    b"#,How likely are you to recommend us?,How satisfied are you with delivery?,Anything else?,"
    b"Email,Start Date (UTC),Submit Date (UTC),Network ID\n"
    b"r1,9,4,Great,ann@shop.com,2024-03-10 09:00:00,2024-03-10 09:02:00,n1\n"
    b"r2,6,2,Slow,bob@example.com,2024-03-11 09:00:00,2024-03-11 09:02:00,n2\n"
)
SHOPIFY_MESSAGE = ("Loaded 3 orders from 7 rows (3 new, 0 updated, 0 unchanged); 2 new customers. "
                   "The demo data was removed first.")


def unescape(text: Any) -> str:
    """The text a markdown element shows (the page escapes file text with backslashes)."""
    return re.sub(r"\\(.)", r"\1", str(text))


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.get("file_uploader")[0].set_value([(name, data, "text/csv") for name, data in files])
    return at.run()


def metrics(at: AppTest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in at.metric:
        out.setdefault(m.label, []).append(m.value)
    return out


def store_counts(at: AppTest) -> list[str]:
    """The four store counts at the top of the page."""
    return [m.value for m in at.metric][:4]


def texts(elements: Any) -> list[str]:
    return [unescape(e.value) for e in elements]


def import_buttons(at: AppTest) -> list[Any]:
    return [b for b in at.button if b.key and b.key.endswith("_go")]


def selectbox(at: AppTest, label: str) -> Any:
    return next(s for s in at.selectbox if s.label == label)


def radio(at: AppTest, suffix: str) -> Any:
    return next(r for r in at.radio if r.key and r.key.endswith(suffix))


def history_table(at: AppTest) -> Any:
    return at.dataframe[-1].value


def commit_file(db: Path, path: Path | bytes, name: str, **kw: Any) -> im.ImportResult:
    with store.open_db(db) as conn:
        return im.commit(conn, path, file_name=name, **kw)


def db_counts(db: Path) -> dict[str, int]:
    with store.open_db(db) as conn:
        return store.shop_counts(conn)


# --- upload, preview, import ------------------------------------------------------------------


def test_upload_limit_is_stated_next_to_the_uploader(app_db: Path) -> None:
    at = open_page(PAGE)
    assert problems(at) == []
    uploader = at.get("file_uploader")[0]
    assert uploader.label == ("Exports to import — CSV, TSV, TXT or Excel (.xlsx), up to 500 MB "
                              "per file")
    assert uploader.proto.multiple_files
    assert sorted(uploader.proto.type) == [".csv", ".tsv", ".txt", ".xlsx"]
    assert "No imports yet." in texts(at.caption)


def test_shopify_export_previewed_then_imported(app_db: Path) -> None:
    before = db_counts(app_db)
    at = upload(open_page(PAGE), ("shopify_orders.csv", SHOPIFY.read_bytes()))
    assert problems(at) == []
    assert "**Shopify orders export** — orders · UTF-8 · comma-separated · 2.6 kB" in texts(at.markdown)
    m = metrics(at)
    assert {k: m[k] for k in ["Rows read", "Orders to load", "New", "Updated", "Unchanged",
                              "New customers", "Rows rejected"]} == {
        "Rows read": ["7"], "Orders to load": ["3"], "New": ["3"], "Updated": ["0"],
        "Unchanged": ["0"], "New customers": ["2"], "Rows rejected": ["0"]}
    sample = at.dataframe[0].value
    assert list(sample["order_id"]) == ["shopify:#1001", "shopify:#1002", "shopify:#1003"]
    assert [float(x) for x in sample["net"]] == [59.0, 50.0, 35.0]
    assert list(sample["lines"]) == [2, 2, 3]
    # nothing stored by the preview
    assert db_counts(app_db) == before
    assert at.checkbox(key="imp_remove_demo").value is True

    buttons = import_buttons(at)
    assert [b.label for b in buttons] == ["Import this file"]
    buttons[0].click().run()
    assert problems(at) == []
    assert SHOPIFY_MESSAGE in texts(at.success)
    assert store_counts(at) == ["2", "3", "7", "0"]
    assert db_counts(app_db) == {"customers": 2, "orders": 3, "order_lines": 7, "feedback": 0}
    links = at.get("page_link")
    assert [p.proto.label for p in links] == ["See the numbers on Overview"]
    assert links[0].proto.page_script_hash != "" and not links[0].proto.external
    hist = history_table(at)
    assert hist[["#", "File", "Format", "Holds", "Rows read", "Loaded", "Rejected", "By",
                 "Status"]].values.tolist() == [
        [1, "shopify_orders.csv", "Shopify orders export", "orders", 7, 3, 0, "local", "Loaded"]]
    assert not import_buttons(at)  # the imported file shows its result, not a second button


def test_keeping_the_demo_data_adds_to_it(app_db: Path) -> None:
    before = db_counts(app_db)
    at = upload(open_page(PAGE), ("shopify_orders.csv", SHOPIFY.read_bytes()))
    at.checkbox(key="imp_remove_demo").uncheck().run()
    import_buttons(at)[0].click().run()
    assert problems(at) == []
    assert ("Loaded 3 orders from 7 rows (3 new, 0 updated, 0 unchanged); 2 new customers."
            in texts(at.success))
    after = db_counts(app_db)
    assert after["orders"] == before["orders"] + 3
    assert after["order_lines"] == before["order_lines"] + 7


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
         "photo.csv: this is a PNG image, not a CSV or Excel export. Export the data from your "
         "tool as CSV (or .xlsx) and import that file."),
        ("empty.csv", b"",
         "empty.csv: the file is empty. Export the data again and import the new file."),
        ("header_only.csv", b"Name,Email,Financial Status,Created at,Total\n",
         "header_only.csv: the file has a header row but no data rows. Export the data again "
         "(check the export's date range and filters)."),
    ],
)
def test_bad_file_gets_one_sentence_and_nothing_changes(
    app_db: Path, name: str, data: bytes, message: str
) -> None:
    before = db_counts(app_db)
    at = open_page(PAGE)
    shown = store_counts(at)
    upload(at, (name, data))
    assert [e.value for e in at.exception] == []
    assert texts(at.error) == [message]
    assert not import_buttons(at)
    assert store_counts(at) == shown
    assert db_counts(app_db) == before


def test_generic_csv_mapping_is_proposed_changed_and_remembered(app_db: Path) -> None:
    at = upload(open_page(PAGE), ("contact.csv", CONTACT_CSV))
    assert problems(at) == []
    assert "**CSV / spreadsheet (columns mapped)** — orders · UTF-8 · comma-separated · 107 bytes" in \
        texts(at.markdown)
    assert radio(at, "_kind").value == "orders"
    assert [(s.label, s.value) for s in at.selectbox if s.key and "_map_" in s.key][:5] == [
        ("Order number (required)", "Order ID"), ("Order date (required)", "Order Date"),
        ("Order total (required)", "Amount"), ("Customer id", "— not in this file —"),
        ("Email", "— not in this file —")]
    assert metrics(at)["New customers"] == ["0"]
    assert "Columns not imported: Contact." in texts(at.caption)

    selectbox(at, "Email").set_value("Contact").run()
    assert problems(at) == []
    assert metrics(at)["New customers"] == ["2"]
    assert list(at.dataframe[0].value["email"]) == ["amy@example.com", "ben@example.com"]
    import_buttons(at)[0].click().run()
    assert problems(at) == []
    assert ("Loaded 2 orders from 2 rows (2 new, 0 updated, 0 unchanged); 2 new customers. "
            "The demo data was removed first.") in texts(at.success)
    with store.open_db(app_db) as conn:
        remembered = im.remembered_mapping(conn, ["Order ID", "Contact", "Order Date", "Amount"])
    assert remembered is not None
    assert remembered.fields == {"order_id": "Order ID", "ordered_at": "Order Date",
                                 "total": "Amount", "email": "Contact"}

    # a later export with the same columns: the mapping comes back by itself
    later = CONTACT_CSV.replace(b"A2,ben", b"A3,cat")
    at2 = upload(open_page(PAGE), ("contact-april.csv", later))
    assert problems(at2) == []
    assert selectbox(at2, "Email").value == "Contact"
    assert metrics(at2)["New customers"] == ["1"]  # cat; amy is known now


def test_required_column_missing_asks_for_it(app_db: Path) -> None:
    data = b"Ref,E-mail,Wann,Summe\nA1,amy@example.com,2024-03-01,10.00\n"
    at = upload(open_page(PAGE), ("wann.csv", data))
    assert problems(at) == []
    # no date column recognised: read as a customers file until told otherwise
    assert radio(at, "_kind").value == "customers"
    radio(at, "_kind").set_value("orders").run()
    assert problems(at) == []
    assert "Relmark could not tell which column holds the order date. Choose it below." in \
        texts(at.warning)
    assert not import_buttons(at)
    selectbox(at, "Order date (required)").set_value("Wann").run()
    assert problems(at) == []
    assert metrics(at)["Orders to load"] == ["1"]
    assert [b.label for b in import_buttons(at)] == ["Import this file"]


def test_ambiguous_dates_are_asked_not_guessed(app_db: Path) -> None:
    data = (FIXTURES / "generic_ambiguous_dates.csv").read_bytes()
    at = upload(open_page(PAGE), ("dates.csv", data))
    assert problems(at) == []
    assert ("The dates in column 'Order Date' (like 03/04/2024) could be day/month/year or "
            "month/day/year.") in texts(at.warning)
    order = radio(at, "_date_order")
    assert order.value is None
    assert [unescape(o) for o in order.options] == [
        "Day first (day/month/year) — 03/04/2024 is 3 April 2024",
        "Month first (month/day/year) — 03/04/2024 is 4 March 2024"]
    assert not import_buttons(at)
    order.set_value("mdy").run()
    assert problems(at) == []
    assert [str(d)[:10] for d in at.dataframe[0].value["ordered_at"]] == ["2024-03-04",
                                                                          "2024-05-06"]
    import_buttons(at)[0].click().run()
    assert problems(at) == []
    with store.open_db(app_db) as conn:
        got = conn.execute("SELECT order_id, CAST(ordered_at AS DATE)::VARCHAR FROM orders "
                           "ORDER BY order_id").fetchall()
    assert got == [("import:1", "2024-03-04"), ("import:2", "2024-05-06")]


def test_typeform_asks_which_answer_is_the_score(app_db: Path) -> None:
    at = upload(open_page(PAGE), ("responses.csv", TYPEFORM_TWO_SCORES))
    assert problems(at) == []
    assert ("Several answers in this survey look like scores. Which one is the NPS or CSAT score?"
            in texts(at.warning))
    score = radio(at, "_score")
    assert [unescape(o) for o in score.options] == ["How likely are you to recommend us?",
                                                    "How satisfied are you with delivery?"]
    assert not import_buttons(at)
    score.set_value("How satisfied are you with delivery?").run()
    assert problems(at) == []
    sample = at.dataframe[0].value
    assert list(sample["kind"]) == ["csat", "csat"]
    assert list(sample["score"]) == [4, 2]
    assert metrics(at)["Answers to load"] == ["2"]


def test_problem_rows_are_listed_and_downloadable_after_import(app_db: Path) -> None:
    data = (b"Order ID,Email,Order Date,Amount\n"
            b"A1,amy@example.com,2024-03-01,10.00\n"
            b"A2,ben@example.com,2024-03-02,=1+2\n")
    at = upload(open_page(PAGE), ("orders.csv", data))
    assert problems(at) == []
    assert metrics(at)["Rows rejected"] == ["1"]
    assert "1 row will be rejected; the other rows load. Every problem:" in texts(at.warning)
    probs = at.dataframe[1].value
    assert probs.values.tolist() == [[3, "Amount", '"=1+2" is not a number', "=1+2"]]
    import_buttons(at)[0].click().run()
    assert problems(at) == []
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["Rejected rows (1)"]
    with store.open_db(app_db) as conn:
        csv_text = im.rejected_rows_csv(conn, 1).decode()
    # the download: reason column, the row as read, the formula neutralised
    assert csv_text == ('row,column,reason,Order ID,Email,Order Date,Amount\n'
                        '3,Amount,"""=1+2"" is not a number",A2,ben@example.com,2024-03-02,\'=1+2\n')


def test_file_names_and_values_are_text_not_markup(app_db: Path) -> None:
    data = (b"Order ID,Email,Order Date,Amount,Name\n"
            b"A1,amy@example.com,2024-03-01,10.00,<img src=x onerror=alert(1)>\n")
    at = upload(open_page(PAGE), ("[click](http://evil.example).csv", data))
    assert problems(at) == []
    heads = [m.value for m in at.markdown if "description" in m.value]
    assert heads == [r"#### :material/description: \[click\]\(http\://evil\.example\)\.csv"]
    assert list(at.dataframe[0].value["order_id"]) == ["import:A1"]


def test_same_file_twice_is_shown_once(app_db: Path) -> None:
    data = SHOPIFY.read_bytes()
    at = upload(open_page(PAGE), ("a.csv", data), ("b.csv", data))
    assert problems(at) == []
    assert "b.csv: the same content as a.csv, shown above." in texts(at.caption)
    assert len(import_buttons(at)) == 1


def test_import_all_imports_each_file_in_turn(app_db: Path) -> None:
    at = upload(open_page(PAGE), ("shopify_orders.csv", SHOPIFY.read_bytes()),
                ("contact.csv", CONTACT_CSV))
    assert problems(at) == []
    at.button(key="imp_go_all").click().run()
    assert problems(at) == []
    assert len(at.success) == 2
    assert db_counts(app_db)["orders"] == 3 + 2
    assert history_table(at)["File"].tolist() == ["contact.csv", "shopify_orders.csv"]


# --- previews follow the data -----------------------------------------------------------------


def test_preview_goes_stale_when_the_data_changes(app_db: Path) -> None:
    at = upload(open_page(PAGE), ("shopify_orders.csv", SHOPIFY.read_bytes()))
    assert metrics(at)["New"] == ["3"]
    # a scheduled CLI import of the same file happens while the page is open
    commit_file(app_db, SHOPIFY, "shopify_orders.csv", keep_demo=True)
    at.run()
    assert problems(at) == []
    assert ("This file was already imported (import #1, see the history below); importing it "
            "again changes nothing.") in texts(at.info)
    assert not import_buttons(at)


# --- history and undo ---------------------------------------------------------------------------


def test_undo_from_the_history_puts_the_data_back(app_db: Path) -> None:
    before = db_counts(app_db)
    commit_file(app_db, SHOPIFY, "shopify_orders.csv", keep_demo=True)
    at = open_page(PAGE)
    assert problems(at) == []
    assert [int(v.replace(",", "")) for v in store_counts(at)][1] == before["orders"] + 3
    hist = history_table(at)
    assert hist[["#", "File", "Status"]].values.tolist() == [[1, "shopify_orders.csv", "Loaded"]]
    at.button(key="imp_undo_1").click().run()
    assert problems(at) == []
    assert "Import #1 (shopify_orders.csv) was undone." in texts(at.success)
    assert db_counts(app_db) == before
    assert [int(v.replace(",", "")) for v in store_counts(at)] == [
        before["customers"], before["orders"], before["order_lines"], before["feedback"]]
    status = history_table(at)["Status"].tolist()
    assert len(status) == 1 and status[0].startswith("Undone ") and status[0].endswith(" by local")
    assert not [b for b in at.button if b.key == "imp_undo_1"]


def test_undo_refused_while_a_later_import_builds_on_it(app_db: Path) -> None:
    commit_file(app_db, SHOPIFY, "shopify_orders.csv", keep_demo=True)
    commit_file(app_db, FIXTURES / "shopify_orders_newer.csv", "shopify_orders_newer.csv",
                keep_demo=True)
    at = open_page(PAGE)
    at.button(key="imp_undo_1").click().run()
    assert [e.value for e in at.exception] == []
    assert texts(at.error) == [
        "Import #2 (shopify_orders_newer.csv) changed or uses records that import #1 "
        "(shopify_orders.csv) wrote. Undo #2 first, then #1."]
    with store.open_db(app_db) as conn:
        statuses = conn.execute("SELECT import_id, status FROM imports ORDER BY 1").fetchall()
    assert statuses == [(1, "loaded"), (2, "loaded")]


def test_demo_section_is_kept(app_db: Path) -> None:
    at = open_page(PAGE)
    assert [s.value for s in at.subheader] == ["Import your exports", "Import history",
                                               "Demo data", "Backup and restore"]
    assert {b.key for b in at.button} >= {"data_reset_demo", "data_start_empty"}
    at.button(key="data_start_empty").click().run()
    assert problems(at) == []
    assert store_counts(at) == ["0", "0", "0", "0"]
