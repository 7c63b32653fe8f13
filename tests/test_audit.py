"""The audit log: each change leaves a row (who, when, what), resets keep the log, the log is
listed with filters and exported as CSV by admins only, and nothing edits or deletes it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from relmark_core import accounts, audit, demo, store
from relmark_core.audit import AuditQuery
from relmark_core.auth import Role
from relmark_core.errors import InputRefused, NotAllowed
from relmark_core.imports import commit, undo_import
from relmark_core.loyalty.ledger import save_version
from relmark_core.offers import cancel_offer, launch_offer, save_offer
from relmark_core.segments import save_segment
from tests.builders import add_customer, order
from tests.test_import_support import fx
from tests.test_roles import GERMANY, PROGRAM, PW, TODAY, _offer

CORE = Path(__file__).resolve().parent.parent / "relmark_core"


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch) -> Iterator[duckdb.DuckDBPyConnection]:
    """Team mode: admin 'ada' and viewer 'ed' (argon2 swapped for a cheap stand-in)."""
    monkeypatch.setattr(accounts, "hash_password", lambda password: "test-hash")
    with store.open_db(":memory:") as c:
        accounts.create_first_admin(c, "ada", PW)
        accounts.add_user(c, "ed", role=Role.VIEWER, password=PW, actor="ada")
        yield c


def _log(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return [tuple(map(str, r)) for r in conn.execute(  # type: ignore[misc]
        "SELECT actor, action, detail FROM audit_log ORDER BY logged_at, rowid").fetchall()]


def test_each_change_leaves_a_row_with_who_and_what(team: duckdb.DuckDBPyConnection) -> None:
    conn = team
    accounts.set_role(conn, "ed", Role.EDITOR, actor="ada")
    for i in (1, 2, 3):
        add_customer(conn, f"c{i}", country="DE", orders=[order("2024-11-10", 40)])
    imported = commit(conn, fx("shopify_orders.csv"), actor="ed")
    undo_import(conn, imported.import_id, actor="ed")
    save_segment(conn, "Germany", GERMANY, actor="ed")
    save_version(conn, PROGRAM, starts_on=date(2024, 1, 1), actor="ed")
    offer = save_offer(conn, _offer(), seed="s1", actor="ed")
    launch_offer(conn, offer.offer_id, as_of=TODAY, actor="ed")
    cancel_offer(conn, offer.offer_id, reason="wrong code", actor="ed")
    demo.clear_shop_data(conn, actor="ada")
    demo.load_demo(conn, customers=3, seed=1, end=TODAY, actor="ada")
    assert _log(conn) == [
        ("local", "user added", "ada as admin"),
        ("local", "team mode switched on", "first admin ada"),
        ("ada", "user added", "ed as viewer"),
        ("ada", "role changed", "ed: viewer -> editor"),
        # shopify_orders.csv: orders #1001-#1003 on 7 lines, by Ann and Bob (new customers)
        ("ed", "import", "#1 shopify_orders.csv: Loaded 3 orders from 7 rows (3 new, 0 updated, "
                         "0 unchanged); 2 new customers."),
        ("ed", "import undone", "#1 shopify_orders.csv"),
        ("ed", "segment saved", "segment 1 “Germany”: Customers in Germany"),
        ("ed", "loyalty version saved", "version 1 (active from 2024-01-01): First version."),
        ("ed", "offer created", "offer 1: 10% off for Germany by email, 1–14 Dec 2024, "
                                "10% held out"),
        # 3 German customers; 10% of 3 rounds to nobody held out
        ("ed", "offer launched", "offer 1: 10% off for Germany by email, 1–14 Dec 2024, 10% "
                                 "held out; 3 treated, 0 held out (seed s1); excluded: 0 "
                                 "suppressed, 0 no consent, 0 recent offer, 0 running offer"),
        ("ed", "offer cancelled", "offer 1: wrong code"),
        ("ada", "shop data cleared", "all customers, orders and feedback"),
        ("ada", "demo data loaded", "3 customers, 7 orders, 3 feedback answers; seed 1, "
                                    "2022-06-01 to 2024-12-01 (exclusive)"),
    ]
    # who and when: every row has a time, none in the future
    times = [r[0] for r in conn.execute("SELECT logged_at FROM audit_log").fetchall()]
    assert all(isinstance(t, datetime) and t <= store.utc_now() for t in times)


def test_no_personal_data_in_the_log(team: duckdb.DuckDBPyConnection) -> None:
    """Emails, names and follow-up notes stay out of the audit details."""
    from relmark_core.feedback_followup import mark_followup
    from tests.builders import add_feedback

    conn = team
    add_customer(conn, "c1", email="jane.doe@mail.example", first_name="Jane", last_name="Doe",
                 orders=[order("2024-11-10", 40)])
    add_feedback(conn, "c1", "2024-11-12", 2, response_id="t:d1", comment="Jane here: late!")
    mark_followup(conn, "t:d1", "contacted", note="Called Jane Doe on +44 7700 900123",
                  actor="ada")
    commit(conn, fx("shopify_orders.csv"), actor="ada")  # holds Ann@Shop.com, bob@example.com
    text = " ".join(" ".join(r) for r in _log(conn)).lower()
    for personal in ("jane", "doe", "7700", "@shop.com", "bob@example.com", "late!"):
        assert personal not in text
    assert _log(conn)[-2][1:] == ("feedback follow-up contacted", "answer t:d1 (with a note)")


def test_reset_and_demo_reload_keep_the_log_and_are_logged(
    team: duckdb.DuckDBPyConnection,
) -> None:
    conn = team
    add_customer(conn, "c1", orders=[order("2024-11-10", 40)])
    store.set_setting(conn, "store_timezone", "Europe/Berlin", actor="ada")
    before = _log(conn)
    assert len(before) == 4
    demo.clear_shop_data(conn, actor="ada")
    assert store.shop_counts(conn) == {"customers": 0, "orders": 0, "order_lines": 0,
                                       "feedback": 0}
    demo.load_demo(conn, customers=2, seed=3, end=TODAY, actor="ada")
    after = _log(conn)
    assert after[:4] == before
    assert [r[:2] for r in after[4:]] == [("ada", "shop data cleared"),
                                          ("ada", "demo data loaded")]


def test_listing_filters_and_csv(conn: duckdb.DuckDBPyConnection) -> None:
    rows = [
        (datetime(2026, 11, 1, 9, 0), "ada", "import", "#1 orders.csv: Loaded 2 orders."),
        (datetime(2026, 11, 2, 23, 59, 59), "ed", "segment saved", "segment 1 “VIP”: =1+1"),
        (datetime(2026, 11, 3, 0, 0), "ada", "import undone", "#1 orders.csv"),
        (datetime(2026, 11, 5, 12, 30), "ed", "import", "#2 more.csv: Loaded 1 order."),
    ]
    conn.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?)", rows)
    df = audit.list_entries(conn)
    assert list(df.columns) == ["logged_at", "actor", "action", "detail"]
    assert df["action"].tolist() == ["import", "import undone", "segment saved", "import"]
    nov2 = AuditQuery(start=date(2026, 11, 2), end=date(2026, 11, 2))
    assert audit.list_entries(conn, nov2)["detail"].tolist() == ["segment 1 “VIP”: =1+1"]
    q = AuditQuery(start=date(2026, 11, 2), who="ed", action="import")
    assert audit.list_entries(conn, q)["detail"].tolist() == ["#2 more.csv: Loaded 1 order."]
    assert audit.count_entries(conn, AuditQuery(end=date(2026, 11, 2))) == 2
    assert audit.list_entries(conn, limit=1)["action"].tolist() == ["import"]
    assert audit.actors(conn) == ["ada", "ed"]
    assert audit.actions(conn) == ["import", "import undone", "segment saved"]
    assert q.sentence() == "Changes since 02 Nov 2026 by ed: import"
    assert nov2.sentence() == "Changes from 02 Nov 2026 to 02 Nov 2026"
    assert AuditQuery().sentence() == "Every change"
    assert audit.export_csv(conn, AuditQuery(who="ed")).decode() == (
        "logged_at_utc,actor,action,detail\n"
        "2026-11-05 12:30:00,ed,import,#2 more.csv: Loaded 1 order.\n"
        "2026-11-02 23:59:59,ed,segment saved,segment 1 “VIP”: =1+1\n"
    )
    # a detail starting like a formula is neutralised in the CSV
    conn.execute("INSERT INTO audit_log VALUES (?, 'x', 'y', '=cmd()')", [datetime(2026, 11, 6)])
    assert audit.export_csv(conn, AuditQuery(who="x")).decode().endswith(",x,y,'=cmd()\n")
    assert audit.export_file_name(date(2026, 11, 23)) == "relmark-audit-log-2026-11-23.csv"
    with pytest.raises(InputRefused, match=r"first day \(05 Nov 2026\) is after the last day"):
        audit.list_entries(conn, AuditQuery(start=date(2026, 11, 5), end=date(2026, 11, 1)))


def test_only_admins_read_the_log(team: duckdb.DuckDBPyConnection) -> None:
    conn = team
    for read in (audit.list_entries, audit.count_entries, audit.export_csv):
        with pytest.raises(NotAllowed, match=r"^Your account \(ed\) may not read the audit log"):
            read(conn, actor="ed")
    for names in (audit.actors, audit.actions):
        with pytest.raises(NotAllowed):
            names(conn, actor="ed")
    assert len(audit.list_entries(conn, actor="ada")) == 3


def test_nothing_in_relmark_edits_or_deletes_audit_rows() -> None:
    """The log is append-only: no UPDATE, DELETE, TRUNCATE, DROP or REPLACE of audit_log, and
    the only INSERT is store.audit's."""
    change = re.compile(r"(UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE|INSERT\s+OR\s+REPLACE\s+"
                        r"INTO|ALTER\s+TABLE)\s+(IF\s+EXISTS\s+)?audit_log", re.I)
    inserts = []
    for path in sorted(CORE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not change.search(text), f"{path.name} changes audit rows"
        if re.search(r"INSERT\s+INTO\s+audit_log", text, re.I):
            inserts.append(path.relative_to(CORE).as_posix())
    assert inserts == ["store.py"]
    assert "audit_log" not in store.DATA_TABLES
