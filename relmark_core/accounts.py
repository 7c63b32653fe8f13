"""Team mode's accounts: users and roles, passwords, sign-in sessions and the failed sign-in limit.

A fresh install has no accounts and runs in single-user mode (everyone is an admin, nobody signs
in). Creating the first admin switches team mode on (:func:`relmark_core.auth.team_mode`); from
then on every page asks for a sign-in, and the role of the signed-in account decides what the
core's write functions allow (:func:`relmark_core.auth.require`).

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``); the clear password is
never stored, logged, audited or put in an error. Sign-in sessions are random tokens the browser
keeps in a cookie; only their sha256 is stored, so a copy of the database opens no session.
Sessions end after ``SESSION_IDLE_LIMIT`` without a click and ``SESSION_MAX_AGE`` after sign-in.
Failed sign-ins are counted per user name and per client address in the database (so the limit
holds across browsers and restarts); the messages never say whether a user name exists.

Functions that read the clock take ``now`` (naive UTC) so tests can move time without sleeping.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.auth import Role
from relmark_core.errors import InputRefused, RelmarkError
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "User",
    "SignInRefused",
    "MIN_PASSWORD_LENGTH",
    "MAX_PASSWORD_LENGTH",
    "USER_NAME_PATTERN",
    "SESSION_IDLE_LIMIT",
    "SESSION_MAX_AGE",
    "SESSION_TOUCH_EVERY",
    "MAX_FAILURES_PER_USER",
    "MAX_FAILURES_PER_CLIENT",
    "FAILURE_WINDOW",
    "LOCKOUT",
    "WRONG_SIGN_IN",
    "hash_password",
    "verify_password",
    "check_password_rules",
    "normalise_user_name",
    "list_users",
    "get_user",
    "user_for_email",
    "enabled_admins",
    "create_first_admin",
    "add_user",
    "set_role",
    "set_disabled",
    "reset_password",
    "authenticate",
    "start_session",
    "session_user",
    "end_session",
]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # hashing a megabyte "password" is a cheap way to busy the server
USER_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
SESSION_IDLE_LIMIT = timedelta(minutes=60)
SESSION_MAX_AGE = timedelta(hours=12)
SESSION_TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 20  # one office behind one address types many user names
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
WRONG_SIGN_IN = (
    "The user name or password is not right. Check both and try again; an admin of this "
    "Relmark can reset your password."
)

_hasher = PasswordHasher()  # argon2id with argon2-cffi's current recommended parameters
_dummy_hash: str | None = None


class SignInRefused(RelmarkError):
    """A sign-in was refused (wrong user name or password, or too many failures)."""


class User(BaseModel):
    """One account. ``email`` matches a company (OIDC) sign-in; it is never audited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_name: str
    display_name: str
    email: str | None
    role: Role
    disabled: bool
    has_password: bool
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    @property
    def label(self) -> str:
        """The display name, or the user name when there is none."""
        return self.display_name or self.user_name


# ----------------------------------------------------------------------------- passwords


def check_password_rules(password: str) -> None:
    """Refuse a password that is too short or too long (a plain sentence, never the password)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputRefused(
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            "(a few words in a row are easy to remember)."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputRefused(
            f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters."
        )


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (after :func:`check_password_rules`)."""
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _spend_verify_time(password: str) -> None:
    """Verify against a throw-away hash, so an unknown user name takes as long as a known one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    verify_password(_dummy_hash, password)


# ----------------------------------------------------------------------------- users

_USER_COLUMNS = (
    "user_name, display_name, email_norm, role, password_hash IS NOT NULL, disabled, "
    "created_by, created_at, updated_by, updated_at"
)


def _user(row: tuple[object, ...]) -> User:
    return User(
        user_name=str(row[0]),
        display_name=str(row[1]),
        email=None if row[2] is None else str(row[2]),
        role=Role(str(row[3])),
        has_password=bool(row[4]),
        disabled=bool(row[5]),
        created_by=str(row[6]),
        created_at=row[7],  # type: ignore[arg-type]
        updated_by=str(row[8]),
        updated_at=row[9],  # type: ignore[arg-type]
    )


def normalise_user_name(user_name: str) -> str:
    """Trimmed, lower-case: the form user names are stored and compared in."""
    return user_name.strip().lower()


def _valid_user_name(user_name: str) -> str:
    name = normalise_user_name(user_name)
    if not USER_NAME_PATTERN.match(name):
        raise InputRefused(
            "A user name is 1 to 64 letters, digits, dots, dashes, underscores or @, starting "
            "with a letter or digit (for example anna or anna.berg). Choose another user name."
        )
    if name in auth.SYSTEM_ACTORS:
        raise InputRefused(
            f"The user name {name} is reserved for work done on the machine itself. "
            "Choose another user name."
        )
    return name


def _valid_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    norm = email.strip().lower()
    if "@" not in norm or any(c.isspace() for c in norm) or norm.startswith("@"):
        raise InputRefused(
            "The email address does not look like one (name@company.com). Correct it or leave "
            "it empty."
        )
    return norm


def list_users(conn: duckdb.DuckDBPyConnection) -> list[User]:
    """Every account, by user name."""
    rows = conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users ORDER BY user_name"  # noqa: S608 - fixed columns
    ).fetchall()
    return [_user(r) for r in rows]


def get_user(conn: duckdb.DuckDBPyConnection, user_name: str) -> User | None:
    """The account with this user name (any case), or None."""
    rows = conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE user_name = ?",  # noqa: S608 - fixed columns
        [normalise_user_name(user_name)],
    ).fetchall()
    return _user(rows[0]) if rows else None


def user_for_email(conn: duckdb.DuckDBPyConnection, email: str) -> User | None:
    """The enabled account whose email is ``email`` (any case): a company sign-in's account."""
    norm = email.strip().lower()
    if not norm:
        return None
    rows = conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users "  # noqa: S608 - fixed columns
        "WHERE email_norm = ? AND NOT disabled",
        [norm],
    ).fetchall()
    return _user(rows[0]) if rows else None


def enabled_admins(conn: duckdb.DuckDBPyConnection) -> int:
    """How many enabled admin accounts exist (0: single-user mode)."""
    return int(
        store.scalar(
            conn,
            "SELECT count(*) FROM users WHERE role = ? AND NOT disabled",
            [Role.ADMIN.value],
        )
        or 0
    )


def _existing(conn: duckdb.DuckDBPyConnection, user_name: str) -> User:
    user = get_user(conn, user_name)
    if user is None:
        raise InputRefused(
            f"There is no user {normalise_user_name(user_name)}. Check the name on the Team page "
            "(or with `python -m relmark_core users list`)."
        )
    return user


def create_first_admin(
    conn: duckdb.DuckDBPyConnection,
    user_name: str,
    password: str,
    *,
    display_name: str = "",
    email: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> User:
    """Create the first admin account, which switches team mode on.

    Raises
    ------
    InputRefused
        Team mode is already on, or the user name, email or password is refused.
    """
    if auth.team_mode(conn):
        raise InputRefused(
            "Team mode is already on: an admin adds accounts on the Team page."
        )
    return add_user(
        conn,
        user_name,
        role=Role.ADMIN,
        password=password,
        display_name=display_name,
        email=email,
        actor=actor,
    )


def add_user(
    conn: duckdb.DuckDBPyConnection,
    user_name: str,
    *,
    role: Role,
    password: str | None = None,
    display_name: str = "",
    email: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> User:
    """Add an account (admin only). Adding the first admin switches team mode on.

    ``password`` may be left out for an account that signs in with the company's identity
    provider only (matched by ``email``), except for the first admin, who must be able to sign
    in without one.
    """
    auth.require(conn, actor, Role.ADMIN, "add users")
    name = _valid_user_name(user_name)
    email_norm = _valid_email(email)
    role = Role(role)
    first_admin = role is Role.ADMIN and not auth.team_mode(conn)
    if password is None or password == "":
        if first_admin:
            raise InputRefused(
                "The first admin needs a password, so someone can always sign in. Type one."
            )
        if email_norm is None:
            raise InputRefused(
                "Give the new user a password, or an email address for the company sign-in "
                "(without either, they could not sign in)."
            )
        password_hash = None
    else:
        password_hash = hash_password(password)
    if get_user(conn, name) is not None:
        raise InputRefused(f"There is already a user {name}. Choose another user name.")
    if email_norm is not None and store.scalar(
        conn, "SELECT count(*) FROM users WHERE email_norm = ?", [email_norm]
    ):
        raise InputRefused(
            "Another user already has this email address. Each email belongs to one user."
        )
    now = store.utc_now()
    with store.transaction(conn):
        conn.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, false, ?, ?, ?, ?)",
            [name, display_name.strip(), email_norm, role.value, password_hash,
             actor, now, actor, now],
        )
        store.audit(conn, actor, "user added", f"{name} as {role.value}")
        if first_admin:
            store.audit(conn, actor, "team mode switched on", f"first admin {name}")
        store.bump_data_version(conn)
    return _existing(conn, name)


def _refuse_last_admin(conn: duckdb.DuckDBPyConnection, user: User, what: str) -> None:
    if user.role is Role.ADMIN and not user.disabled and enabled_admins(conn) <= 1:
        raise InputRefused(
            f"{user.user_name} is the last admin, so they cannot be {what}: nobody could manage "
            "accounts any more. Make another user an admin first."
        )


def set_role(
    conn: duckdb.DuckDBPyConnection, user_name: str, role: Role, *, actor: str = DEFAULT_ACTOR
) -> User:
    """Change an account's role (admin only); the last enabled admin keeps the admin role."""
    auth.require(conn, actor, Role.ADMIN, "change roles")
    user = _existing(conn, user_name)
    role = Role(role)
    if role is user.role:
        return user
    if role is not Role.ADMIN:
        _refuse_last_admin(conn, user, f"made {role.value}")
    with store.transaction(conn):
        conn.execute(
            "UPDATE users SET role = ?, updated_by = ?, updated_at = ? WHERE user_name = ?",
            [role.value, actor, store.utc_now(), user.user_name],
        )
        store.audit(
            conn, actor, "role changed", f"{user.user_name}: {user.role.value} -> {role.value}"
        )
        store.bump_data_version(conn)
    return _existing(conn, user.user_name)


def set_disabled(
    conn: duckdb.DuckDBPyConnection,
    user_name: str,
    disabled: bool = True,
    *,
    actor: str = DEFAULT_ACTOR,
) -> User:
    """Disable an account (it can no longer sign in; its sessions end) or enable it again.
    Admin only; the last enabled admin cannot be disabled."""
    auth.require(conn, actor, Role.ADMIN, "disable or enable users")
    user = _existing(conn, user_name)
    if user.disabled == disabled:
        return user
    if disabled:
        _refuse_last_admin(conn, user, "disabled")
    now = store.utc_now()
    with store.transaction(conn):
        conn.execute(
            "UPDATE users SET disabled = ?, updated_by = ?, updated_at = ? WHERE user_name = ?",
            [disabled, actor, now, user.user_name],
        )
        if disabled:
            _end_sessions_of(conn, user.user_name, now)
        store.audit(
            conn, actor, "user disabled" if disabled else "user enabled", user.user_name
        )
        store.bump_data_version(conn)
    return _existing(conn, user.user_name)


def reset_password(
    conn: duckdb.DuckDBPyConnection, user_name: str, password: str, *, actor: str = DEFAULT_ACTOR
) -> User:
    """Give an account a new password (admin only); its open sessions end and its failed
    sign-in count is cleared."""
    auth.require(conn, actor, Role.ADMIN, "reset passwords")
    user = _existing(conn, user_name)
    password_hash = hash_password(password)
    now = store.utc_now()
    with store.transaction(conn):
        conn.execute(
            "UPDATE users SET password_hash = ?, updated_by = ?, updated_at = ? "
            "WHERE user_name = ?",
            [password_hash, actor, now, user.user_name],
        )
        _end_sessions_of(conn, user.user_name, now)
        conn.execute(
            "DELETE FROM login_throttle WHERE key_hash = ?", [_key_hash("user", user.user_name)]
        )
        store.audit(conn, actor, "password reset", user.user_name)
        store.bump_data_version(conn)
    return _existing(conn, user.user_name)


# ----------------------------------------------------------------------------- sign-in
# Sessions and the failure counts are not shop data: they do not bump the data version (that
# would throw away every cached result at each sign-in) and are not audited per attempt.


def _key_hash(kind: str, value: str) -> str:
    """Throttle keys are hashed: typed user names (sometimes a password typed in the wrong
    box) and client addresses are not kept in clear."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _locked_until(
    conn: duckdb.DuckDBPyConnection, keys: list[str], now: datetime
) -> datetime | None:
    rows = conn.execute(
        "SELECT max(locked_until) FROM login_throttle "
        "WHERE list_contains(?, key_hash) AND locked_until > ?",
        [keys, now],
    ).fetchall()
    value = rows[0][0] if rows else None
    return value if isinstance(value, datetime) else None


def _record_failure(
    conn: duckdb.DuckDBPyConnection, key: str, limit: int, now: datetime
) -> None:
    rows = conn.execute(
        "SELECT failures, first_failed_at FROM login_throttle WHERE key_hash = ?", [key]
    ).fetchall()
    if not rows or rows[0][1] <= now - FAILURE_WINDOW:
        failures, first = 1, now
    else:
        failures, first = int(rows[0][0]) + 1, rows[0][1]
    locked = None
    if failures >= limit:
        locked, failures, first = now + LOCKOUT, 0, now
    conn.execute(
        "INSERT OR REPLACE INTO login_throttle VALUES (?, ?, ?, ?)", [key, failures, first, locked]
    )


def authenticate(
    conn: duckdb.DuckDBPyConnection,
    user_name: str,
    password: str,
    *,
    client: str | None = None,
    now: datetime | None = None,
) -> User:
    """Check a local sign-in; return the account or raise :class:`SignInRefused`.

    ``MAX_FAILURES_PER_USER`` failures for one user name within ``FAILURE_WINDOW`` (or
    ``MAX_FAILURES_PER_CLIENT`` from one ``client`` address) lock sign-in for ``LOCKOUT``,
    whether or not the user name exists, so the answer never tells which names exist. A hash
    made with older parameters is re-hashed on success.
    """
    now = now or store.utc_now()
    name = normalise_user_name(user_name)
    keys = [(_key_hash("user", name), MAX_FAILURES_PER_USER)]
    if client:
        keys.append((_key_hash("client", client), MAX_FAILURES_PER_CLIENT))
    until = _locked_until(conn, [k for k, _ in keys], now)
    if until is not None:
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        raise SignInRefused(
            f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes != 1 else ''} "
            "and try again, or ask an admin to reset your password."
        )
    rows = conn.execute(
        "SELECT password_hash FROM users WHERE user_name = ? AND NOT disabled "
        "AND password_hash IS NOT NULL",
        [name],
    ).fetchall()
    stored = str(rows[0][0]) if rows else None
    if stored is None or len(password) > MAX_PASSWORD_LENGTH:
        _spend_verify_time(password[:MAX_PASSWORD_LENGTH])
        ok = False
    else:
        ok = verify_password(stored, password)
    with store.transaction(conn):
        if not ok:
            for key, limit in keys:
                _record_failure(conn, key, limit, now)
        else:
            conn.execute("DELETE FROM login_throttle WHERE key_hash = ?", [keys[0][0]])
            if stored is not None and _hasher.check_needs_rehash(stored):
                conn.execute(
                    "UPDATE users SET password_hash = ? WHERE user_name = ?",
                    [_hasher.hash(password), name],
                )
    if not ok:
        raise SignInRefused(WRONG_SIGN_IN)
    return _existing(conn, name)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _end_sessions_of(conn: duckdb.DuckDBPyConnection, user_name: str, now: datetime) -> None:
    conn.execute(
        "UPDATE login_sessions SET ended_at = ? WHERE user_name = ? AND ended_at IS NULL",
        [now, user_name],
    )


def start_session(
    conn: duckdb.DuckDBPyConnection, user_name: str, *, now: datetime | None = None
) -> str:
    """Open a session for a signed-in account; return its token (for the browser's cookie).

    Sessions that ended more than ``SESSION_MAX_AGE`` ago are cleared out on the way."""
    now = now or store.utc_now()
    user = _existing(conn, user_name)
    token = secrets.token_urlsafe(32)
    with store.transaction(conn):
        conn.execute(
            "DELETE FROM login_sessions WHERE coalesce(ended_at, started_at) < ?",
            [now - SESSION_MAX_AGE - SESSION_MAX_AGE],
        )
        conn.execute(
            "INSERT INTO login_sessions VALUES (?, ?, ?, ?, NULL)",
            [_token_hash(token), user.user_name, now, now],
        )
        store.audit(conn, user.user_name, "signed in", "")
    return token


def session_user(
    conn: duckdb.DuckDBPyConnection, token: str, *, now: datetime | None = None
) -> User | None:
    """The enabled account a session token belongs to, or None when the token is unknown,
    signed out, idle for longer than ``SESSION_IDLE_LIMIT`` or older than ``SESSION_MAX_AGE``.
    A live session's last click is recorded (at most every ``SESSION_TOUCH_EVERY``)."""
    if not token:
        return None
    now = now or store.utc_now()
    key = _token_hash(token)
    rows = conn.execute(
        "SELECT user_name, started_at, last_seen_at FROM login_sessions "
        "WHERE token_hash = ? AND ended_at IS NULL",
        [key],
    ).fetchall()
    if not rows:
        return None
    name, started, seen = str(rows[0][0]), rows[0][1], rows[0][2]
    if now - started > SESSION_MAX_AGE or now - seen > SESSION_IDLE_LIMIT:
        with store.transaction(conn):
            conn.execute("UPDATE login_sessions SET ended_at = ? WHERE token_hash = ?", [now, key])
        return None
    user = get_user(conn, name)
    if user is None or user.disabled:
        return None
    if now - seen >= SESSION_TOUCH_EVERY:
        with store.transaction(conn):
            conn.execute(
                "UPDATE login_sessions SET last_seen_at = ? WHERE token_hash = ?", [now, key]
            )
    return user


def end_session(
    conn: duckdb.DuckDBPyConnection, token: str, *, now: datetime | None = None
) -> None:
    """Sign out: the token opens nothing any more."""
    now = now or store.utc_now()
    key = _token_hash(token)
    rows = conn.execute(
        "SELECT user_name FROM login_sessions WHERE token_hash = ? AND ended_at IS NULL", [key]
    ).fetchall()
    if not rows:
        return
    with store.transaction(conn):
        conn.execute("UPDATE login_sessions SET ended_at = ? WHERE token_hash = ?", [now, key])
        store.audit(conn, str(rows[0][0]), "signed out", "")
