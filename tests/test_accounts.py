"""Accounts: password hashing, roles and team mode, last-admin rule, failed sign-in limit, sessions."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from argon2 import PasswordHasher

from relmark_core import accounts, auth, store
from relmark_core.accounts import SignInRefused
from relmark_core.auth import Role
from relmark_core.cli import main
from relmark_core.errors import InputRefused, NotAllowed

PW = "correct horse battery"  # 21 characters
T0 = datetime(2026, 11, 23, 9, 0, 0)


def audit_rows(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return [
        (str(a), str(b), str(c))
        for a, b, c in conn.execute(
            "SELECT actor, action, detail FROM audit_log ORDER BY logged_at, rowid"
        ).fetchall()
    ]


@pytest.fixture
def team(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Team mode: admin 'boss', editor 'ed', viewer 'vi' (all with password PW)."""
    accounts.create_first_admin(conn, "Boss", PW, display_name="The Boss", email="Boss@Shop.example")
    accounts.add_user(conn, "ed", role=Role.EDITOR, password=PW, actor="boss")
    accounts.add_user(conn, "vi", role=Role.VIEWER, password=PW, actor="boss")
    return conn


# ----------------------------------------------------------------------------- passwords


def test_hash_is_not_the_password_and_verifies() -> None:
    h = accounts.hash_password(PW)
    assert PW not in h
    assert h.startswith("$argon2id$")
    assert accounts.verify_password(h, PW) is True
    assert accounts.verify_password(h, PW + "x") is False
    assert accounts.verify_password("not a hash", PW) is False
    assert accounts.hash_password(PW) != h  # salted


def test_password_length_rule() -> None:
    with pytest.raises(InputRefused, match="at least 12 characters"):
        accounts.hash_password("short pw 11")
    with pytest.raises(InputRefused, match="at most 256"):
        accounts.hash_password("x" * 257)
    accounts.check_password_rules("x" * 12)


def test_password_is_not_stored_in_clear(team: duckdb.DuckDBPyConnection) -> None:
    stored = [str(r[0]) for r in team.execute("SELECT password_hash FROM users").fetchall()]
    assert len(stored) == 3 and all(s.startswith("$argon2id$") and PW not in s for s in stored)
    everything = str(team.execute("SELECT * FROM audit_log").fetchall())
    assert PW not in everything and "boss@shop.example" not in everything.lower()


def test_weak_hash_is_rehashed_on_sign_in(team: duckdb.DuckDBPyConnection) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PW)
    team.execute("UPDATE users SET password_hash = ? WHERE user_name = 'ed'", [weak])
    accounts.authenticate(team, "ed", PW, now=T0)
    new = str(team.execute("SELECT password_hash FROM users WHERE user_name = 'ed'").fetchall()[0][0])
    assert new != weak
    assert "m=65536,t=3,p=4" in new
    assert accounts.verify_password(new, PW)


# ----------------------------------------------------------------------------- team mode and roles


def test_single_user_mode_everyone_is_admin(conn: duckdb.DuckDBPyConnection) -> None:
    assert auth.team_mode(conn) is False
    assert auth.role_of(conn, "anyone") is Role.ADMIN
    auth.require(conn, "anyone", Role.ADMIN, "reset the data")


def test_first_admin_switches_team_mode_on(team: duckdb.DuckDBPyConnection) -> None:
    assert auth.team_mode(team) is True
    assert auth.role_of(team, "boss") is Role.ADMIN
    assert auth.role_of(team, "ed") is Role.EDITOR
    assert auth.role_of(team, "vi") is Role.VIEWER
    assert auth.role_of(team, "stranger") is None
    assert auth.role_of(team, "cli") is Role.ADMIN
    assert auth.role_of(team, "local") is Role.ADMIN
    with pytest.raises(NotAllowed, match=r"Your account \(vi\) may not import data"):
        auth.require(team, "vi", Role.EDITOR, "import data")
    with pytest.raises(NotAllowed):
        auth.require(team, "stranger", Role.VIEWER, "see pages")
    user = accounts.get_user(team, "BOSS")
    assert user is not None
    assert (user.user_name, user.display_name, user.email, user.role) == (
        "boss", "The Boss", "boss@shop.example", Role.ADMIN
    )
    assert audit_rows(team) == [
        ("local", "user added", "boss as admin"),
        ("local", "team mode switched on", "first admin boss"),
        ("boss", "user added", "ed as editor"),
        ("boss", "user added", "vi as viewer"),
    ]


def test_first_admin_only_once(team: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputRefused, match="Team mode is already on"):
        accounts.create_first_admin(team, "other", PW)


def test_first_admin_needs_a_password(conn: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputRefused, match="first admin needs a password"):
        accounts.add_user(conn, "a", role=Role.ADMIN, email="a@b.example")
    assert auth.team_mode(conn) is False


def test_only_admins_manage_users(team: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(NotAllowed, match="may not add users"):
        accounts.add_user(team, "x", role=Role.VIEWER, password=PW, actor="ed")
    with pytest.raises(NotAllowed, match="may not change roles"):
        accounts.set_role(team, "vi", Role.ADMIN, actor="vi")
    with pytest.raises(NotAllowed, match="may not reset passwords"):
        accounts.reset_password(team, "boss", PW, actor="ed")
    with pytest.raises(NotAllowed, match="may not disable"):
        accounts.set_disabled(team, "boss", actor="vi")


def test_user_name_rules(conn: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputRefused, match="reserved"):
        accounts.add_user(conn, "cli", role=Role.ADMIN, password=PW)
    with pytest.raises(InputRefused, match="1 to 64 letters"):
        accounts.add_user(conn, "anna berg", role=Role.ADMIN, password=PW)
    accounts.add_user(conn, "anna", role=Role.ADMIN, password=PW)
    with pytest.raises(InputRefused, match="already a user anna"):
        accounts.add_user(conn, " ANNA ", role=Role.VIEWER, password=PW, actor="anna")
    with pytest.raises(InputRefused, match="password, or an email"):
        accounts.add_user(conn, "bob", role=Role.VIEWER, actor="anna")


def test_company_sign_in_only_account(team: duckdb.DuckDBPyConnection) -> None:
    u = accounts.add_user(team, "cy", role=Role.VIEWER, email="Cy@Shop.example", actor="boss")
    assert u.has_password is False
    found = accounts.user_for_email(team, " cy@SHOP.example ")
    assert found is not None and found.user_name == "cy"
    assert accounts.user_for_email(team, "nobody@shop.example") is None
    with pytest.raises(InputRefused, match="already has this email"):
        accounts.add_user(team, "cy2", role=Role.VIEWER, email="cy@shop.example", actor="boss")
    with pytest.raises(SignInRefused):
        accounts.authenticate(team, "cy", "", now=T0)


def test_role_change_and_disable_are_audited(team: duckdb.DuckDBPyConnection) -> None:
    accounts.set_role(team, "vi", Role.EDITOR, actor="boss")
    assert auth.role_of(team, "vi") is Role.EDITOR
    accounts.set_disabled(team, "ed", actor="boss")
    assert auth.role_of(team, "ed") is None
    accounts.set_disabled(team, "ed", False, actor="boss")
    accounts.reset_password(team, "ed", "another long one", actor="boss")
    assert audit_rows(team)[4:] == [
        ("boss", "role changed", "vi: viewer -> editor"),
        ("boss", "user disabled", "ed"),
        ("boss", "user enabled", "ed"),
        ("boss", "password reset", "ed"),
    ]
    assert accounts.authenticate(team, "ed", "another long one", now=T0).user_name == "ed"


def test_last_admin_cannot_be_demoted_or_disabled(team: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputRefused, match="boss is the last admin.*Make another user an admin"):
        accounts.set_role(team, "boss", Role.EDITOR, actor="boss")
    with pytest.raises(InputRefused, match="boss is the last admin"):
        accounts.set_disabled(team, "boss", actor="cli")
    assert auth.role_of(team, "boss") is Role.ADMIN
    accounts.set_role(team, "ed", Role.ADMIN, actor="boss")
    accounts.set_role(team, "boss", Role.VIEWER, actor="ed")
    assert auth.role_of(team, "boss") is Role.VIEWER
    assert auth.team_mode(team) is True


# ----------------------------------------------------------------------------- failed sign-ins


def test_wrong_password_and_unknown_user_get_the_same_answer(
    team: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(SignInRefused) as wrong:
        accounts.authenticate(team, "ed", "wrong password!", now=T0)
    with pytest.raises(SignInRefused) as unknown:
        accounts.authenticate(team, "nobody", "wrong password!", now=T0)
    assert str(wrong.value) == str(unknown.value) == accounts.WRONG_SIGN_IN


def test_five_failures_lock_the_user_name_for_15_minutes(team: duckdb.DuckDBPyConnection) -> None:
    for i in range(5):
        with pytest.raises(SignInRefused, match="not right"):
            accounts.authenticate(team, "ed", "wrong password!", now=T0 + timedelta(minutes=i))
    # locked at T0+4min until T0+19min: even the right password is refused
    with pytest.raises(SignInRefused, match="Too many failed sign-ins. Wait 15 minutes"):
        accounts.authenticate(team, "ed", PW, now=T0 + timedelta(minutes=4))
    with pytest.raises(SignInRefused, match="Wait 1 minute and"):
        accounts.authenticate(team, "ED", PW, now=T0 + timedelta(minutes=18, seconds=30))
    # another user is not locked
    assert accounts.authenticate(team, "vi", PW, now=T0 + timedelta(minutes=5)).user_name == "vi"
    # after the lock, the right password works
    user = accounts.authenticate(team, "ed", PW, now=T0 + timedelta(minutes=19, seconds=1))
    assert user.user_name == "ed"


def test_unknown_user_names_lock_too(team: duckdb.DuckDBPyConnection) -> None:
    for _ in range(5):
        with pytest.raises(SignInRefused, match="not right"):
            accounts.authenticate(team, "ghost", "wrong password!", now=T0)
    with pytest.raises(SignInRefused, match="Too many"):
        accounts.authenticate(team, "ghost", "wrong password!", now=T0)


def test_failures_outside_the_window_start_a_new_count(team: duckdb.DuckDBPyConnection) -> None:
    for i in range(4):
        with pytest.raises(SignInRefused, match="not right"):
            accounts.authenticate(team, "ed", "wrong password!", now=T0 + timedelta(minutes=i))
    # the 5th failure comes 16 minutes after the first: a new window, no lock
    with pytest.raises(SignInRefused, match="not right"):
        accounts.authenticate(team, "ed", "wrong password!", now=T0 + timedelta(minutes=16))
    assert accounts.authenticate(team, "ed", PW, now=T0 + timedelta(minutes=17)).user_name == "ed"


def test_success_clears_the_count(team: duckdb.DuckDBPyConnection) -> None:
    for _ in range(4):
        with pytest.raises(SignInRefused):
            accounts.authenticate(team, "ed", "wrong password!", now=T0)
    accounts.authenticate(team, "ed", PW, now=T0)
    for _ in range(4):
        with pytest.raises(SignInRefused, match="not right"):
            accounts.authenticate(team, "ed", "wrong password!", now=T0)
    assert accounts.authenticate(team, "ed", PW, now=T0).user_name == "ed"


def test_client_limit_counts_across_user_names(team: duckdb.DuckDBPyConnection) -> None:
    for i in range(20):
        with pytest.raises(SignInRefused, match="not right"):
            accounts.authenticate(team, f"name{i}", "wrong password!", client="10.0.0.9", now=T0)
    with pytest.raises(SignInRefused, match="Too many"):
        accounts.authenticate(team, "ed", PW, client="10.0.0.9", now=T0)
    assert accounts.authenticate(team, "ed", PW, client="10.0.0.8", now=T0).user_name == "ed"


def test_throttle_keeps_no_user_name_in_clear(team: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(SignInRefused):
        accounts.authenticate(team, "typed-my-password", "x", client="10.0.0.9", now=T0)
    rows = str(team.execute("SELECT * FROM login_throttle").fetchall())
    assert "typed-my-password" not in rows and "10.0.0.9" not in rows


def test_disabled_user_cannot_sign_in(team: duckdb.DuckDBPyConnection) -> None:
    accounts.set_disabled(team, "ed", actor="boss")
    with pytest.raises(SignInRefused, match="not right"):
        accounts.authenticate(team, "ed", PW, now=T0)


# ----------------------------------------------------------------------------- sessions


def test_session_lives_until_idle_limit(team: duckdb.DuckDBPyConnection) -> None:
    token = accounts.start_session(team, "ed", now=T0)
    assert len(token) >= 40
    assert str(token) not in str(team.execute("SELECT * FROM login_sessions").fetchall())
    at = T0
    for _ in range(3):  # a click every 59 minutes keeps it alive
        at += timedelta(minutes=59)
        u = accounts.session_user(team, token, now=at)
        assert u is not None and u.user_name == "ed"
    assert accounts.session_user(team, token, now=at + timedelta(minutes=60, seconds=1)) is None
    # once expired, it stays expired
    assert accounts.session_user(team, token, now=at + timedelta(minutes=1)) is None


def test_session_absolute_limit(team: duckdb.DuckDBPyConnection) -> None:
    token = accounts.start_session(team, "ed", now=T0)
    at = T0
    while at < T0 + timedelta(hours=12):
        at += timedelta(minutes=30)
        assert accounts.session_user(team, token, now=at) is not None
    assert at == T0 + timedelta(hours=12)
    assert accounts.session_user(team, token, now=at + timedelta(seconds=1)) is None


def test_sign_out_disable_and_reset_end_sessions(team: duckdb.DuckDBPyConnection) -> None:
    a = accounts.start_session(team, "ed", now=T0)
    b = accounts.start_session(team, "ed", now=T0)
    accounts.end_session(team, a, now=T0)
    assert accounts.session_user(team, a, now=T0) is None
    assert accounts.session_user(team, b, now=T0) is not None
    accounts.reset_password(team, "ed", "brand new password", actor="boss")
    assert accounts.session_user(team, b, now=T0) is None
    c = accounts.start_session(team, "vi", now=T0)
    accounts.set_disabled(team, "vi", actor="boss")
    accounts.set_disabled(team, "vi", False, actor="boss")
    assert accounts.session_user(team, c, now=T0) is None
    assert accounts.session_user(team, "made-up-token", now=T0) is None
    assert accounts.session_user(team, "", now=T0) is None


# ----------------------------------------------------------------------------- CLI


def test_cli_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.duckdb")
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert main(["--db", db, "users", "add", "Boss", "--role", "admin", "--password-stdin"]) == 0
    assert capsys.readouterr().out == "Added boss as admin.\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["--db", db, "users", "add", "ed", "--role", "editor", "--password-stdin"]) == 3
    assert "at least 12 characters" in capsys.readouterr().err
    assert main(["--db", db, "users", "add", "cy", "--role", "viewer", "--no-password",
                 "--email", "cy@shop.example"]) == 0
    assert main(["--db", db, "users", "set-role", "cy", "editor"]) == 0
    assert main(["--db", db, "users", "disable", "cy"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "users", "set-role", "boss", "viewer"]) == 3
    assert "boss is the last admin" in capsys.readouterr().err
    assert main(["--db", db, "users", "disable", "boss"]) == 3
    with pytest.raises(SystemExit) as usage:
        main(["--db", db, "users", "set-role", "cy", "owner"])
    assert usage.value.code == 2
    capsys.readouterr()
    assert main(["--db", db, "users", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "user_name,display_name,email,role,status,signs_in_with,updated_at,updated_by"
    assert [ln.split(",")[:6] for ln in lines[1:]] == [
        ["boss", "", "", "admin", "enabled", "password"],
        ["cy", "", "cy@shop.example", "editor", "disabled", "company account"],
    ]
    with store.open_db(db) as conn:
        assert auth.team_mode(conn) is True
        assert [r[1:] for r in audit_rows(conn)] == [
            ("user added", "boss as admin"),
            ("team mode switched on", "first admin boss"),
            ("user added", "cy as viewer"),
            ("role changed", "cy: viewer -> editor"),
            ("user disabled", "cy"),
        ]
        assert {r[0] for r in audit_rows(conn)} == {"cli"}
