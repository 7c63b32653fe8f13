"""The sign-in gate every page passes in team mode, and the sidebar's "signed in as".

Single-user mode (no admin account yet) needs no sign-in: the actor is ``"local"``.

In team mode a rerun is signed in by one of two ways:

- **Company sign-in (OIDC)**, when ``.streamlit/secrets.toml`` has an ``[auth]`` section:
  Streamlit's own ``st.login`` / ``st.user`` / ``st.logout``. Streamlit keeps that sign-in in its
  own signed cookie, so it survives a browser reload. The account is the enabled Relmark user
  whose email is the identity provider's email; anyone else is told to ask an admin.
- **Local accounts**: user name and password (:func:`relmark_core.accounts.authenticate`). A
  session is a random token: the database keeps its sha256 and its idle and absolute limits,
  the browser keeps the token in a cookie (``SESSION_COOKIE``: SameSite=Strict, max-age the
  absolute limit), so a reload stays signed in. Streamlit can read cookies
  (``st.context.cookies``, sent when the page connects) but has no call to set one, so a short
  fixed script sets it (``st.html`` with JavaScript; it only ever carries the token, checked
  against ``_TOKEN_PATTERN``). Signing out ends the session in the database, so a stale cookie
  opens nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import duckdb
import streamlit as st

from relmark_core import accounts, auth, store
from relmark_core.accounts import SignInRefused, User

__all__ = [
    "SESSION_COOKIE",
    "OIDC_SECTION",
    "gate",
    "sign_in_as",
    "oidc_configured",
]

SESSION_COOKIE = "relmark_session"
OIDC_SECTION = "auth"  # secrets.toml section Streamlit's st.login reads
_STATE_TOKEN = "relmark_session_token"
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
NOT_A_USER = (
    "You signed in with your company account, but it is not a Relmark user yet. Ask an admin of "
    "this Relmark to add you (with this email address) on the Team page, then sign in again."
)


def oidc_configured() -> bool:
    """True when secrets.toml configures Streamlit's OIDC sign-in (an ``[auth]`` section)."""
    try:
        return OIDC_SECTION in st.secrets
    except Exception:  # no secrets file: Streamlit raises on access
        return False


def _cookie_script(value: str, max_age: int) -> None:
    if value and not _TOKEN_PATTERN.match(value):
        return
    st.html(
        "<script>document.cookie = '"
        f"{SESSION_COOKIE}={value}; path=/; max-age={max_age}; SameSite=Strict'"
        " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
    )


def sign_in_as(conn: duckdb.DuckDBPyConnection, user: User) -> None:
    """Open a local session for ``user`` in this browser (after a password check, or right
    after creating the first admin)."""
    st.session_state[_STATE_TOKEN] = accounts.start_session(conn, user.user_name)


def _local_user(conn: duckdb.DuckDBPyConnection) -> User | None:
    token = st.session_state.get(_STATE_TOKEN) or st.context.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    user = accounts.session_user(conn, str(token))
    if user is None:
        st.session_state.pop(_STATE_TOKEN, None)
        return None
    st.session_state[_STATE_TOKEN] = str(token)
    return user


def _oidc_user(conn: duckdb.DuckDBPyConnection) -> tuple[User | None, bool]:
    """(the Relmark account of the company sign-in, whether someone is signed in with OIDC)."""
    if not oidc_configured() or not st.user.is_logged_in:
        return None, False
    issued = st.user.get("iat")
    if isinstance(issued, int | float):
        age = store.utc_now() - datetime.fromtimestamp(issued, UTC).replace(tzinfo=None)
        if age > accounts.SESSION_MAX_AGE:  # Streamlit's own cookie would last 30 days
            st.logout()
            st.stop()
    email = st.user.get("email")
    user = accounts.user_for_email(conn, str(email)) if email else None
    return user, True


def _sign_out(conn: duckdb.DuckDBPyConnection, via_oidc: bool) -> None:
    token = st.session_state.pop(_STATE_TOKEN, None)
    if token:
        accounts.end_session(conn, str(token))
    if via_oidc:
        st.logout()  # redirects the browser through Streamlit's sign-out route
        st.stop()
    st.rerun()


def _sign_in_page(conn: duckdb.DuckDBPyConnection, oidc_unknown: bool) -> None:
    st.title("Sign in to Relmark")
    if st.context.cookies.get(SESSION_COOKIE):
        _cookie_script("", 0)  # a signed-out or expired session: forget its cookie
    if oidc_unknown:
        st.warning(NOT_A_USER, icon=":material/person_off:")
        if st.button("Sign out of the company account", key="oidc_sign_out"):
            st.logout()
            st.stop()
        return
    if oidc_configured():
        if st.button("Sign in with your company account", key="oidc_sign_in", type="primary"):
            st.login()
        st.caption("Or sign in with a Relmark user name and password:")
    with st.form("sign_in", enter_to_submit=True):
        name = st.text_input("User name", key="sign_in_user", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="sign_in_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = accounts.authenticate(conn, name, password, client=st.context.ip_address)
        except SignInRefused as exc:
            st.error(str(exc), icon=":material/lock:")
            return
        sign_in_as(conn, user)
        st.rerun()
    idle = int(accounts.SESSION_IDLE_LIMIT.total_seconds() // 60)
    longest = int(accounts.SESSION_MAX_AGE.total_seconds() // 3600)
    st.caption(
        f"Sessions end after {idle} minutes without a click and {longest} hours after signing in."
    )


def _sidebar(conn: duckdb.DuckDBPyConnection, user: User, via_oidc: bool) -> None:
    st.sidebar.text(f"Signed in as {user.label} ({user.role.value})")
    if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        _sign_out(conn, via_oidc)
    token = st.session_state.get(_STATE_TOKEN)
    if not via_oidc and token and st.context.cookies.get(SESSION_COOKIE) != token:
        with st.sidebar:
            _cookie_script(str(token), int(accounts.SESSION_MAX_AGE.total_seconds()))


def gate(conn: duckdb.DuckDBPyConnection) -> str:
    """The actor of this rerun. In team mode, show the sign-in page and stop the rerun until
    someone is signed in; then show who in the sidebar, with a sign-out button."""
    if not auth.team_mode(conn):
        return store.DEFAULT_ACTOR
    user, via_oidc = _oidc_user(conn)
    if user is None:
        local = _local_user(conn)
        if local is not None:
            user, via_oidc = local, False
    if user is None:
        _sign_in_page(conn, oidc_unknown=via_oidc)
        st.stop()
    assert user is not None
    _sidebar(conn, user, via_oidc)
    return user.user_name
