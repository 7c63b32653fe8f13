"""AppTest: the Team page (first admin, add user, role change, last-admin message) and the
sign-in gate every page passes in team mode."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from relmark_core import accounts, auth, store
from relmark_core.auth import Role
from tests.apptest import open_page, problems

PW = "correct horse battery"


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text] + [t.value for t in at.sidebar.text]


def make_team(db: Path) -> None:
    with store.open_db(db) as conn:
        accounts.create_first_admin(conn, "boss", PW)
        accounts.add_user(conn, "vi", role=Role.VIEWER, password=PW, actor="boss")


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_user").input(name)
    at.text_input(key="sign_in_password").input(password)
    return click(at, "Sign in")


def test_single_user_mode_needs_no_sign_in(app_db: Path) -> None:
    at = open_page("pages/overview.py")
    assert problems(at) == []
    assert not [t for t in at.title if t.value == "Sign in to Relmark"]
    assert not [t for t in texts(at) if t.startswith("Signed in as")]


def test_create_the_first_admin_signs_in(app_db: Path) -> None:
    at = open_page("pages/team.py")
    assert problems(at) == []
    assert any("single-user mode" in m.value for m in at.markdown)
    at.text_input(key="first_admin_name").input("Boss")
    at.text_input(key="first_admin_password").input("too short")
    at.text_input(key="first_admin_password2").input("too short")
    at = click(at, "Create the first admin")
    assert [e.value for e in at.error] == [
        "The password is too short: use at least 12 characters (a few words in a row are easy "
        "to remember)."
    ]
    at.text_input(key="first_admin_password").input(PW)
    at.text_input(key="first_admin_password2").input(PW)
    at = click(at, "Create the first admin")
    assert problems(at) == []
    assert "Signed in as boss (admin)" in texts(at)
    assert [s.value for s in at.success] == [
        "Team mode is on: you are signed in as boss, the first admin."
    ]
    with store.open_db(app_db) as conn:
        assert auth.team_mode(conn) is True


def test_admin_adds_a_user_and_meets_the_last_admin_rule(app_db: Path) -> None:
    make_team(app_db)
    at = open_page("pages/team.py")
    at = sign_in(at, "boss", PW)
    assert problems(at) == []
    [frame] = at.dataframe
    users = frame.value
    assert list(users["User name"]) == ["boss", "vi"]
    assert list(users["Role"]) == ["admin", "viewer"]
    at.text_input(key="add_name").input("ed")
    at.selectbox(key="add_role").select("editor")
    at.text_input(key="add_password").input(PW)
    at = click(at, "Add user")
    assert [s.value for s in at.success] == ["Added ed as editor."]
    at.selectbox(key="change_user").select("boss")
    at.selectbox(key="change_role").select("viewer")
    at = click(at, "Change role")
    assert [e.value for e in at.error] == [
        "boss is the last admin, so they cannot be made viewer: nobody could manage accounts "
        "any more. Make another user an admin first."
    ]
    with store.open_db(app_db) as conn:
        assert auth.role_of(conn, "ed") is Role.EDITOR
        assert auth.role_of(conn, "boss") is Role.ADMIN


def test_sign_in_gate(app_db: Path) -> None:
    make_team(app_db)
    at = open_page("pages/overview.py")
    assert [t.value for t in at.title] == ["Sign in to Relmark"]
    assert len(at.metric) == 0  # the page did not run
    at = sign_in(at, "vi", "wrong password!")
    assert [e.value for e in at.error] == [accounts.WRONG_SIGN_IN]
    at = sign_in(at, "nobody", PW)
    assert [e.value for e in at.error] == [accounts.WRONG_SIGN_IN]
    at = sign_in(at, "vi", PW)
    assert problems(at) == []
    assert "Signed in as vi (viewer)" in texts(at)
    assert len(at.metric) > 0
    # a viewer sees a sentence on the Team page, not the accounts
    at.switch_page("pages/team.py").run()
    assert [i.value for i in at.info][-1:] == [
        "Only an admin of this Relmark manages accounts and roles. Ask one if yours needs a change."
    ]
    assert len(at.dataframe) == 0
    at = click(at, "Sign out")
    assert [t.value for t in at.title] == ["Sign in to Relmark"]
    with store.open_db(app_db) as conn:
        ended = store.scalar(
            conn, "SELECT count(*) FROM login_sessions WHERE ended_at IS NOT NULL"
        )
        assert ended == 1


def test_an_idle_session_ends_at_the_next_click(app_db: Path) -> None:
    make_team(app_db)
    at = open_page("pages/overview.py")
    at = sign_in(at, "vi", PW)
    assert "Signed in as vi (viewer)" in texts(at)
    with store.open_db(app_db) as conn:  # the last click was 61 minutes ago
        conn.execute(
            "UPDATE login_sessions SET last_seen_at = last_seen_at - INTERVAL 61 MINUTE"
        )
    at.run()
    assert [t.value for t in at.title] == ["Sign in to Relmark"]
    assert not [t for t in texts(at) if t.startswith("Signed in as")]
