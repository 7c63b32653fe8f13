"""Roles are enforced in the core: every write function refuses an actor whose role is too low,
and a refused call changes nothing.

Each case prepares its world as the system actor, then calls one write function as a given
user. ``test_every_write_function_is_covered`` finds every public function in relmark_core
that takes an ``actor`` and fails when one is missing from ``CASES`` (add it there).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

import relmark_core
from relmark_core import accounts, auth, demo, store, warehouse
from relmark_core import settings as shop_settings
from relmark_core.auth import Role
from relmark_core.errors import NotAllowed
from relmark_core.feedback_followup import mark_followup
from relmark_core.imports import commit, undo_import
from relmark_core.loyalty.ledger import post_ledger, save_version
from relmark_core.loyalty.model import LoyaltyProgram, PointsPerSpend
from relmark_core.metrics import rfm
from relmark_core.metrics.rfm import RfmGroup
from relmark_core.offers import (
    cancel_offer,
    launch_offer,
    reopen_offer,
    save_offer,
    update_offer,
)
from relmark_core.segments import (
    delete_segment,
    duplicate_segment,
    rename_segment,
    save_segment,
    update_segment,
)
from tests.builders import add_customer, add_feedback, order
from tests.test_import_support import fx

TODAY = date(2024, 12, 1)
GERMANY = {"conditions": [{"kind": "location", "values": ["DE"]}]}
PROGRAM = LoyaltyProgram(name="Stars", earn_rules=(PointsPerSpend(),))

PW = "correct horse battery"
BELOW = {Role.EDITOR: "vera", Role.ADMIN: "ed"}  # a user one role too low
AT = {Role.EDITOR: "ed", Role.ADMIN: "ada"}  # a user with just the role needed


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A store in team mode: admin 'ada', editor 'ed', viewers 'vera' and 'pat' (real
    accounts; argon2 is swapped for a cheap stand-in so 50 tests don't spend 10 s hashing).
    Also the path of a secrets file for the analytics-source case."""
    monkeypatch.setattr(accounts, "hash_password", lambda password: "test-hash")
    with store.open_db(":memory:") as c:
        accounts.create_first_admin(c, "ada", PW)
        accounts.add_user(c, "ed", role=Role.EDITOR, password=PW, actor="ada")
        accounts.add_user(c, "vera", role=Role.VIEWER, password=PW, actor="ada")
        accounts.add_user(c, "pat", role=Role.VIEWER, password=PW, actor="ada")
        assert auth.team_mode(c)
        yield c, tmp_path / "secrets.toml"


# --- the world each case starts from ------------------------------------------------------------


def _offer(**kw: Any) -> dict[str, Any]:
    return {
        "name": "Winter thanks", "segment_id": 1, "offer_type": "percent_off", "value": 10,
        "channel": "email", "starts_on": "2024-12-01", "ends_on": "2024-12-14",
        "message": "Hi {first_name}, 10% off for you",
    } | kw


def _shop(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Six German customers with November orders, one detractor answer, segment 1 'Germany'."""
    for i in range(1, 7):
        add_customer(conn, f"c{i}", country="DE",
                     orders=[order("2024-11-10", 40, order_id=f"n{i}")])
    add_feedback(conn, "c1", "2024-11-12", 3, response_id="t:d1")
    save_segment(conn, "Germany", GERMANY)
    return {}


def _with_import(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    _shop(conn)
    return {"import_id": commit(conn, fx("shopify_orders.csv")).import_id}


def _with_draft(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    _shop(conn)
    return {"offer_id": save_offer(conn, _offer(), seed="s1").offer_id}


def _with_running(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    ctx = _with_draft(conn)
    launch_offer(conn, ctx["offer_id"], as_of=TODAY)
    return ctx


def _with_cancelled(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    ctx = _with_running(conn)
    cancel_offer(conn, ctx["offer_id"], reason="stock ran out")
    return ctx


def _with_program(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    _shop(conn)
    save_version(conn, PROGRAM, starts_on=date(2024, 1, 1))
    return {}


@dataclass(frozen=True)
class Case:
    name: str  # module.function, as the coverage test finds it
    role: Role  # the least role allowed to call it
    call: Callable[[duckdb.DuckDBPyConnection, str, dict[str, Any], Path], object]
    prepare: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]] = _shop


CASES = [
    Case("relmark_core.imports.load.commit", Role.EDITOR,
         lambda c, a, x, p: commit(c, fx("shopify_orders.csv"), actor=a)),
    Case("relmark_core.imports.load.undo_import", Role.EDITOR,
         lambda c, a, x, p: undo_import(c, x["import_id"], actor=a), _with_import),
    Case("relmark_core.segments.saved.save_segment", Role.EDITOR,
         lambda c, a, x, p: save_segment(c, "Germany again", GERMANY, actor=a)),
    Case("relmark_core.segments.saved.update_segment", Role.EDITOR,
         lambda c, a, x, p: update_segment(
             c, 1, {"conditions": [{"kind": "location", "values": ["FR"]}]}, actor=a)),
    Case("relmark_core.segments.saved.rename_segment", Role.EDITOR,
         lambda c, a, x, p: rename_segment(c, 1, "Deutschland", actor=a)),
    Case("relmark_core.segments.saved.duplicate_segment", Role.EDITOR,
         lambda c, a, x, p: duplicate_segment(c, 1, actor=a)),
    Case("relmark_core.segments.saved.delete_segment", Role.EDITOR,
         lambda c, a, x, p: delete_segment(c, 1, actor=a)),
    Case("relmark_core.metrics.rfm.save_groups", Role.EDITOR,
         lambda c, a, x, p: rfm.save_groups(c, [RfmGroup(name="Everyone")], actor=a)),
    Case("relmark_core.metrics.rfm.reset_groups", Role.EDITOR,
         lambda c, a, x, p: rfm.reset_groups(c, actor=a)),
    Case("relmark_core.loyalty.ledger.save_version", Role.EDITOR,
         lambda c, a, x, p: save_version(c, PROGRAM, starts_on=date(2024, 1, 1), actor=a)),
    Case("relmark_core.loyalty.ledger.post_ledger", Role.EDITOR,
         lambda c, a, x, p: post_ledger(c, through=date(2024, 11, 30), actor=a), _with_program),
    Case("relmark_core.offers.saved.save_offer", Role.EDITOR,
         lambda c, a, x, p: save_offer(c, _offer(), actor=a)),
    Case("relmark_core.offers.saved.update_offer", Role.EDITOR,
         lambda c, a, x, p: update_offer(c, x["offer_id"], _offer(value=15), actor=a),
         _with_draft),
    Case("relmark_core.offers.saved.launch_offer", Role.EDITOR,
         lambda c, a, x, p: launch_offer(c, x["offer_id"], as_of=TODAY, actor=a), _with_draft),
    Case("relmark_core.offers.saved.cancel_offer", Role.EDITOR,
         lambda c, a, x, p: cancel_offer(c, x["offer_id"], reason="wrong code", actor=a),
         _with_running),
    Case("relmark_core.offers.saved.reopen_offer", Role.EDITOR,
         lambda c, a, x, p: reopen_offer(c, x["offer_id"], actor=a), _with_cancelled),
    Case("relmark_core.feedback_followup.mark_followup", Role.EDITOR,
         lambda c, a, x, p: mark_followup(c, "t:d1", "contacted", actor=a)),
    Case("relmark_core.settings.save_settings", Role.ADMIN,
         lambda c, a, x, p: shop_settings.save_settings(
             c, shop_settings.ShopSettings(reporting_currency="EUR"), actor=a)),
    Case("relmark_core.store.set_setting", Role.ADMIN,
         lambda c, a, x, p: store.set_setting(c, "store_timezone", "Europe/Berlin", actor=a)),
    Case("relmark_core.demo.load_demo", Role.ADMIN,
         lambda c, a, x, p: demo.load_demo(c, customers=3, end=TODAY, actor=a)),
    Case("relmark_core.demo.clear_shop_data", Role.ADMIN,
         lambda c, a, x, p: demo.clear_shop_data(c, actor=a)),
    Case("relmark_core.warehouse.save_source_url", Role.ADMIN,
         lambda c, a, x, p: warehouse.save_source_url(
             c, "postgresql://u:pw@db.example/shop", path=p, actor=a)),
    Case("relmark_core.accounts.add_user", Role.ADMIN,
         lambda c, a, x, p: accounts.add_user(c, "neo", role=Role.EDITOR, password=PW, actor=a)),
    Case("relmark_core.accounts.set_role", Role.ADMIN,
         lambda c, a, x, p: accounts.set_role(c, "pat", Role.EDITOR, actor=a)),
    Case("relmark_core.accounts.set_disabled", Role.ADMIN,
         lambda c, a, x, p: accounts.set_disabled(c, "pat", actor=a)),
    Case("relmark_core.accounts.reset_password", Role.ADMIN,
         lambda c, a, x, p: accounts.reset_password(c, "pat", PW + "!", actor=a)),
]

# Functions that take an actor but need no check of their own.
NOT_WRITES = {
    "relmark_core.auth.require",  # the check itself
    "relmark_core.auth.role_of",
    "relmark_core.store.audit",  # the log line a checked write adds inside its transaction
    # called inside commit()'s transaction, after commit's own check
    "relmark_core.imports.mapping.remember_mapping",
    "relmark_core.privacy.consent.write_import_consent",
    "relmark_core.privacy.suppression.add_imported",
    # runs only while team mode is off, when everyone is an admin anyway
    "relmark_core.accounts.create_first_admin",
    # runs the automations through run_automations, which checks
    "relmark_core.automations.run.after_import",
    # makes the link-signing secret on first use, called by sign_lock after its check
    "relmark_core.sharing.links.link_secret",
}
# Reads that take an actor for their own (admin) check: tested in tests/test_audit.py.
CHECKED_READS = {
    "relmark_core.audit.list_entries",
    "relmark_core.audit.count_entries",
    "relmark_core.audit.actors",
    "relmark_core.audit.actions",
    "relmark_core.audit.export_csv",
}


def _tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' ORDER BY table_name").fetchall()]


def _snapshot(conn: duckdb.DuckDBPyConnection, secrets: Path) -> dict[str, Any]:
    """Everything a write could change: every table's rows, the meta values, the secrets file."""
    snap: dict[str, Any] = {
        t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall()))  # noqa: S608
        for t in _tables(conn)
    }
    snap["secrets file"] = secrets.read_text() if secrets.exists() else None
    return snap


def _ids(cases: list[Case]) -> list[str]:
    return [c.name.rsplit(".", 1)[1] for c in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_a_viewer_is_refused_and_nothing_changes(
    case: Case, world: tuple[duckdb.DuckDBPyConnection, Path]
) -> None:
    conn, secrets = world
    ctx = case.prepare(conn)
    before = _snapshot(conn, secrets)
    version = store.data_version(conn)
    with pytest.raises(NotAllowed, match=r"^Your account \(vera\) may not .+: that needs the "
                       f"{case.role.value} role\\. Ask an admin"):
        case.call(conn, "vera", ctx, secrets)
    assert store.data_version(conn) == version
    assert _snapshot(conn, secrets) == before


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_the_role_needed_may_and_the_one_below_may_not(
    case: Case, world: tuple[duckdb.DuckDBPyConnection, Path]
) -> None:
    conn, secrets = world
    ctx = case.prepare(conn)
    version = store.data_version(conn)
    with pytest.raises(NotAllowed, match=f"needs the {case.role.value} role"):
        case.call(conn, BELOW[case.role], ctx, secrets)
    assert store.data_version(conn) == version
    case.call(conn, AT[case.role], ctx, secrets)
    assert store.data_version(conn) > version  # the case really writes
    last = conn.execute("SELECT actor FROM audit_log ORDER BY logged_at DESC LIMIT 1").fetchall()
    assert last == [(AT[case.role],)]


def test_an_editor_imports_but_may_not_change_settings_or_reset(
    world: tuple[duckdb.DuckDBPyConnection, Path]
) -> None:
    conn, _ = world
    _shop(conn)
    assert commit(conn, fx("shopify_orders.csv"), actor="ed").rows_loaded == 3
    with pytest.raises(NotAllowed) as refused:
        shop_settings.save_settings(conn, shop_settings.ShopSettings(), actor="ed")
    assert str(refused.value) == (
        "Your account (ed) may not change settings: that needs the admin role. Ask an admin "
        "of this Relmark to change your role.")
    with pytest.raises(NotAllowed, match=r"may not clear the shop's data"):
        demo.clear_shop_data(conn, actor="ed")
    with pytest.raises(NotAllowed, match=r"may not replace the shop's data with the demo shop"):
        demo.load_demo(conn, customers=3, actor="ed")
    assert store.shop_counts(conn)["customers"] == 8  # c1..c6 + Ann and Bob from the file


def test_unknown_and_disabled_users_are_refused(
    world: tuple[duckdb.DuckDBPyConnection, Path]
) -> None:
    conn, _ = world
    with pytest.raises(NotAllowed, match=r"^Your account \(mallory\) may not save segments"):
        save_segment(conn, "Germany", GERMANY, actor="mallory")
    accounts.set_disabled(conn, "ed", actor="ada")
    with pytest.raises(NotAllowed, match=r"^Your account \(ed\) may not save segments"):
        save_segment(conn, "Germany", GERMANY, actor="ed")


def test_the_cli_acts_as_a_system_actor_in_team_mode(
    world: tuple[duckdb.DuckDBPyConnection, Path]
) -> None:
    conn, _ = world
    assert commit(conn, fx("shopify_orders.csv")).rows_loaded == 3  # actor 'local', as the CLI
    demo.clear_shop_data(conn, actor="cli")
    assert store.shop_counts(conn)["orders"] == 0


def test_single_user_mode_may_do_everything(conn: duckdb.DuckDBPyConnection) -> None:
    # no accounts: single-user mode, as a fresh install runs
    assert auth.team_mode(conn) is False
    demo.load_demo(conn, customers=3, end=TODAY)  # the first start's demo load (actor 'local')
    store.set_setting(conn, "store_timezone", "UTC", actor="anyone")
    assert conn.execute("SELECT actor, action FROM audit_log ORDER BY logged_at").fetchall() == [
        ("local", "demo data loaded"), ("anyone", "setting changed")]


def _public_functions_with_actor() -> set[str]:
    found: set[str] = set()
    for info in pkgutil.walk_packages(relmark_core.__path__, "relmark_core."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != module.__name__:
                continue
            if "actor" in inspect.signature(fn).parameters:
                found.add(f"{module.__name__}.{name}")
    return found


def _calls_require(name: str) -> bool:
    module, fn = name.rsplit(".", 1)
    return "auth.require(" in inspect.getsource(getattr(importlib.import_module(module), fn))


def test_every_write_function_checks_the_role() -> None:
    """Every public function taking an ``actor`` has a case above, or is exempt for a reason,
    or (features whose own tests cover their roles) at least calls ``auth.require``."""
    found = _public_functions_with_actor()
    assert not ({c.name for c in CASES} - found), "CASES names a function that does not exist"
    rest = found - {c.name for c in CASES} - NOT_WRITES - CHECKED_READS
    unchecked = sorted(name for name in rest if not _calls_require(name))
    assert not unchecked, (
        f"Write functions that never call auth.require: {unchecked}. Make each check the "
        "role it needs first, and add a case to CASES in tests/test_roles.py.")
