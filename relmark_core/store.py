"""The local store: one DuckDB file holding the shop's data and Relmark's own state.

Writes (imports, undo, settings, definitions, audit) are plain SQL in transactions with bound
values. Metric reads go through :mod:`relmark_core.source` (Ibis).

The app opens the file for one rerun and closes it again, so a scheduled CLI job can write
between two clicks; both sides wait a bounded time when the other one holds the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from relmark_core.errors import DatabaseBusy, InputRefused

__all__ = [
    "SCHEMA_VERSION",
    "DEFAULT_ACTOR",
    "BUSY_WAIT_SECONDS",
    "default_db_path",
    "open_db",
    "APP_MEMORY_LIMIT_ENV",
    "DEFAULT_APP_MEMORY_LIMIT",
    "limit_memory",
    "ensure_schema",
    "stamp_schema",
    "transaction",
    "data_version",
    "bump_data_version",
    "scalar",
    "get_meta",
    "set_meta",
    "get_setting",
    "set_setting",
    "is_demo",
    "audit",
    "utc_now",
    "DATA_TABLES",
    "shop_counts",
]

SCHEMA_VERSION = 2  # relmark_core.migrations upgrades older databases
DEFAULT_ACTOR = "local"
BUSY_WAIT_SECONDS = float(os.environ.get("RELMARK_BUSY_WAIT_S", "20"))
_BUSY_POLL_SECONDS = 0.2
_HANDLE_RACE_POLL_SECONDS = 0.02  # a closing connection is gone within milliseconds
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_FILE = PROJECT_ROOT / "data" / "relmark.duckdb"

# Tables holding the shop's data (cleared by "start empty" / demo reset); Relmark's own state
# (settings, definitions, audit log) lives in other tables and survives a reset.
DATA_TABLES = ("order_lines", "orders", "feedback", "customer_keys", "customers", "rejected_rows",
               "consent")

MONEY = "DECIMAL(18,2)"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS import_id_seq START 1;
CREATE TABLE IF NOT EXISTS imports (
    import_id BIGINT PRIMARY KEY,
    file_name VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,          -- orders | customers | feedback
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    status VARCHAR NOT NULL,        -- loaded | undone
    message VARCHAR,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    undone_by VARCHAR,
    undone_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS rejected_rows (
    import_id BIGINT NOT NULL,
    line_number BIGINT,
    column_name VARCHAR,
    reason VARCHAR NOT NULL,
    raw VARCHAR
);
CREATE TABLE IF NOT EXISTS customers (
    customer_id VARCHAR PRIMARY KEY,      -- Relmark's stable id
    email VARCHAR,                        -- as given
    email_norm VARCHAR,                   -- trimmed, lower-case: the identity key
    first_name VARCHAR,
    last_name VARCHAR,
    phone VARCHAR,
    birthday DATE,
    gender VARCHAR,
    city VARCHAR,
    region VARCHAR,
    country VARCHAR,                      -- ISO 3166 alpha-2 where known
    accepts_marketing BOOLEAN,
    tags VARCHAR[],                       -- interests / psychographics, lower-case
    acquisition_channel VARCHAR,
    signup_at TIMESTAMP,                  -- UTC
    source_system VARCHAR NOT NULL,       -- demo | shopify | woocommerce | stripe | ...
    import_id BIGINT                      -- the import that last wrote the row (NULL for demo)
);
CREATE TABLE IF NOT EXISTS customer_keys (
    key_type VARCHAR NOT NULL,            -- 'email' or '<source_system>' (its customer id)
    key_value VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    PRIMARY KEY (key_type, key_value)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id VARCHAR PRIMARY KEY,         -- '<source_system>:<source order id>'
    source_order_id VARCHAR NOT NULL,
    source_system VARCHAR NOT NULL,
    customer_id VARCHAR,
    ordered_at TIMESTAMP NOT NULL,        -- UTC
    currency VARCHAR NOT NULL,            -- ISO 4217, upper-case
    subtotal {MONEY},
    discounts {MONEY},
    shipping {MONEY},
    tax {MONEY},
    total {MONEY} NOT NULL,               -- what the customer paid, shipping and tax included
    refunds {MONEY} NOT NULL DEFAULT 0,
    net {MONEY} NOT NULL,                 -- total - refunds
    status VARCHAR NOT NULL,              -- paid | pending | cancelled | voided | failed | refunded
    sales_channel VARCHAR,
    discount_code VARCHAR,
    import_id BIGINT
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    product VARCHAR,
    sku VARCHAR,
    category VARCHAR,
    quantity INTEGER,
    unit_price {MONEY},
    import_id BIGINT
);
CREATE TABLE IF NOT EXISTS feedback (
    response_id VARCHAR PRIMARY KEY,      -- '<source>:<source response id>'
    customer_id VARCHAR,
    answered_at TIMESTAMP NOT NULL,       -- UTC
    kind VARCHAR NOT NULL,                -- nps (0-10) | csat (1-5) | review (1-5)
    score INTEGER NOT NULL,
    comment VARCHAR,
    source VARCHAR NOT NULL,
    product VARCHAR,                      -- reviews: the product reviewed
    title VARCHAR,                        -- reviews: the review's title
    import_id BIGINT
);
CREATE TABLE IF NOT EXISTS rfm_groups (   -- edited RFM groups; none saved = the defaults
    position INTEGER PRIMARY KEY,         -- order: the first matching group wins
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    r_min INTEGER NOT NULL,
    r_max INTEGER NOT NULL,
    f_min INTEGER NOT NULL,
    f_max INTEGER NOT NULL,
    m_min INTEGER NOT NULL,
    m_max INTEGER NOT NULL,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback_followups (
    response_id VARCHAR PRIMARY KEY,      -- the detractor answer being followed up
    status VARCHAR NOT NULL,              -- contacted | resolved
    note VARCHAR,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS segment_id_seq START 1;
CREATE TABLE IF NOT EXISTS segments (     -- saved segments (relmark_core.segments)
    segment_id BIGINT PRIMARY KEY,        -- stable: links keep it through renames; never reused
    name VARCHAR NOT NULL,
    name_key VARCHAR NOT NULL UNIQUE,     -- trimmed, lower-case name: names are unique
    definition VARCHAR NOT NULL,          -- JSON of a SegmentDefinition
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS import_mappings (  -- column mappings remembered per file header
    header_key VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    fields VARCHAR NOT NULL,              -- JSON: Relmark field -> column name
    header VARCHAR NOT NULL,              -- JSON list of the header's column names
    saved_by VARCHAR NOT NULL,
    saved_at TIMESTAMP NOT NULL
);
-- Undo of imports: the versions of rows an import replaced (changed_by = that import) and the
-- identity keys it added. Rows it created carry its import_id in their own table.
CREATE TABLE IF NOT EXISTS import_prev_customers AS
    SELECT CAST(NULL AS BIGINT) AS changed_by, * FROM customers LIMIT 0;
CREATE TABLE IF NOT EXISTS import_prev_orders AS
    SELECT CAST(NULL AS BIGINT) AS changed_by, * FROM orders LIMIT 0;
CREATE TABLE IF NOT EXISTS import_prev_order_lines AS
    SELECT CAST(NULL AS BIGINT) AS changed_by, * FROM order_lines LIMIT 0;
CREATE TABLE IF NOT EXISTS import_prev_feedback AS
    SELECT CAST(NULL AS BIGINT) AS changed_by, * FROM feedback LIMIT 0;
CREATE TABLE IF NOT EXISTS import_added_keys (
    import_id BIGINT NOT NULL,
    key_type VARCHAR NOT NULL,
    key_value VARCHAR NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS loyalty_version_seq START 1;
CREATE TABLE IF NOT EXISTS loyalty_versions (  -- saved loyalty programs; at most one active
    version_id BIGINT PRIMARY KEY,
    name VARCHAR NOT NULL,
    program VARCHAR NOT NULL,             -- JSON of relmark_core.loyalty.model.LoyaltyProgram
    starts_on DATE NOT NULL,              -- applies to events on or after this day (store time)
    status VARCHAR NOT NULL,              -- active | replaced | draft
    changes VARCHAR NOT NULL,             -- what changed against the version before, in words
    saved_by VARCHAR NOT NULL,
    saved_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS loyalty_ledger (    -- append-only: entries are never changed or deleted
    entry_id BIGINT NOT NULL,             -- posting order
    customer_id VARCHAR NOT NULL,
    entry_key VARCHAR NOT NULL,           -- order:<id> | bonus:<event>[:<detail>] | redeem:<id> | expire:<day> | tier:<day>:<tier>
    happened_at TIMESTAMP NOT NULL,       -- UTC
    kind VARCHAR NOT NULL,                -- earned | redeemed | expired | tier
    points BIGINT NOT NULL,
    reason VARCHAR NOT NULL,
    version_id BIGINT NOT NULL,
    posted_by VARCHAR NOT NULL,
    posted_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS offer_id_seq START 1;
CREATE TABLE IF NOT EXISTS offers (       -- relmark_core.offers
    offer_id BIGINT PRIMARY KEY,
    name VARCHAR NOT NULL,
    definition VARCHAR NOT NULL,          -- JSON of relmark_core.offers.Offer
    status VARCHAR NOT NULL,              -- draft | running | cancelled
    holdout_seed VARCHAR NOT NULL,        -- the random holdout's seed (reproducible)
    launched_by VARCHAR,
    launched_at TIMESTAMP,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS offer_launches (  -- one row per launched offer: a second launch conflicts
    offer_id BIGINT PRIMARY KEY,
    launched_by VARCHAR NOT NULL,
    launched_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS offer_members (   -- the audience frozen at launch
    offer_id BIGINT NOT NULL,
    customer_id VARCHAR NOT NULL,
    arm VARCHAR NOT NULL,                 -- treatment | holdout
    code VARCHAR                          -- unique code or the shared code (treatment only)
);
CREATE TABLE IF NOT EXISTS offer_codes (
    code VARCHAR PRIMARY KEY,             -- upper-case; unique across offers
    offer_id BIGINT NOT NULL,
    customer_id VARCHAR                   -- NULL for a shared code
);
CREATE TABLE IF NOT EXISTS offer_events (
    offer_id BIGINT NOT NULL,
    event VARCHAR NOT NULL,               -- created | launched | cancelled | reopened
    actor VARCHAR NOT NULL,
    happened_at TIMESTAMP NOT NULL,
    detail VARCHAR
);
CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    detail VARCHAR
);
CREATE TABLE IF NOT EXISTS users (       -- relmark_core.accounts: team mode's accounts
    user_name VARCHAR PRIMARY KEY,        -- trimmed, lower-case; the actor name in the audit log
    display_name VARCHAR NOT NULL,
    email_norm VARCHAR UNIQUE,            -- trimmed, lower-case; matches an OIDC sign-in
    role VARCHAR NOT NULL,                -- viewer | editor | admin
    password_hash VARCHAR,                -- argon2id (argon2-cffi); NULL: company sign-in only
    disabled BOOLEAN NOT NULL DEFAULT false,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS login_sessions (  -- signed-in browsers (the cookie holds the token)
    token_hash VARCHAR PRIMARY KEY,       -- sha256 of the token; the token itself is not kept
    user_name VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP                    -- signed out or expired
);
CREATE TABLE IF NOT EXISTS login_throttle (  -- failed sign-ins per user name and per client
    key_hash VARCHAR PRIMARY KEY,         -- sha256 of 'user:<name>' or 'client:<address>'
    failures INTEGER NOT NULL,            -- failures since first_failed_at
    first_failed_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);
CREATE SEQUENCE IF NOT EXISTS saved_view_id_seq START 1;
CREATE TABLE IF NOT EXISTS saved_views (  -- named views of a page (relmark_core.sharing.views)
    view_id BIGINT PRIMARY KEY,           -- stable: ?view=<id> links survive renames; never reused
    name VARCHAR NOT NULL,
    name_key VARCHAR NOT NULL UNIQUE,     -- trimmed, lower-case name: names are unique
    page VARCHAR NOT NULL,                -- the page's URL path, e.g. 'retention'
    params VARCHAR NOT NULL,              -- JSON object: the page's query parameters
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- [sharing tables] (users, sessions, saved views: relmark_core.auth / relmark_core.sharing)
CREATE TABLE IF NOT EXISTS consent (      -- marketing consent per channel (relmark_core.privacy.consent)
    customer_id VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,             -- email | sms | ads
    granted BOOLEAN NOT NULL,             -- TRUE = opted in; FALSE = withdrawn / not subscribed
    source VARCHAR NOT NULL,              -- e.g. 'shopify customers export', 'manual', 'earlier import'
    recorded_at TIMESTAMP NOT NULL,       -- UTC: when the source says it was given, else when recorded
    import_id BIGINT,                     -- the import that wrote it (NULL otherwise)
    PRIMARY KEY (customer_id, channel)
);
CREATE TABLE IF NOT EXISTS import_prev_consent AS   -- undo: consent rows an import replaced
    SELECT CAST(NULL AS BIGINT) AS changed_by, * FROM consent LIMIT 0;
CREATE TABLE IF NOT EXISTS suppression (  -- never contact (relmark_core.privacy.suppression); kept by resets
    kind VARCHAR NOT NULL,                -- email | phone
    value VARCHAR NOT NULL,               -- normalised: trimmed lower-case email; '+' and digits
    reason VARCHAR NOT NULL,              -- unsubscribed | complaint | manual | uploaded
    source VARCHAR NOT NULL,              -- where it came from, e.g. 'klaviyo import 12', 'added by hand'
    added_by VARCHAR NOT NULL,
    added_at TIMESTAMP NOT NULL,
    import_id BIGINT,                     -- the import that added it (undo keeps it: never contact)
    PRIMARY KEY (kind, value)
);
CREATE TABLE IF NOT EXISTS erased_identities (  -- salted hashes of erased people's identifiers
    identity_hash VARCHAR PRIMARY KEY,    -- sha256(salt || 'email:..' | 'phone:..' | '<system>:<id>')
    erased_at TIMESTAMP NOT NULL
);
-- [privacy tables] (consent, suppression, erasure: relmark_core.privacy)
CREATE SEQUENCE IF NOT EXISTS automation_id_seq START 1;
CREATE TABLE IF NOT EXISTS automations (  -- lifecycle automations (relmark_core.automations)
    automation_id BIGINT PRIMARY KEY,
    name VARCHAR NOT NULL,
    name_key VARCHAR NOT NULL UNIQUE,     -- trimmed, lower-case name: names are unique
    definition VARCHAR NOT NULL,          -- JSON of relmark_core.automations.Automation
    holdout_seed VARCHAR NOT NULL,        -- the seeded holdout (reproducible)
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS automation_run_seq START 1;
CREATE TABLE IF NOT EXISTS automation_runs (  -- one row per run of one automation
    run_id BIGINT PRIMARY KEY,
    automation_id BIGINT NOT NULL,
    kind VARCHAR NOT NULL,                -- run | baseline (start policy "from now on")
    trigger_origin VARCHAR NOT NULL,      -- cli | import | page | created
    as_of DATE NOT NULL,
    qualified BIGINT NOT NULL,
    new_people BIGINT NOT NULL,
    excluded_cooldown BIGINT NOT NULL,
    excluded_suppressed BIGINT NOT NULL,
    excluded_no_consent BIGINT NOT NULL,
    excluded_cap BIGINT NOT NULL,
    holdout BIGINT NOT NULL,
    sent BIGINT NOT NULL,
    batch_file VARCHAR,                   -- the CSV written for this run (NULL: nobody new)
    actor VARCHAR NOT NULL,
    ran_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS automation_qualified (  -- who qualified at the automation's last run
    automation_id BIGINT NOT NULL,
    customer_id VARCHAR NOT NULL,
    occasion VARCHAR NOT NULL             -- what they qualified for (group, tier, answer, ...)
);
CREATE TABLE IF NOT EXISTS automation_entries (  -- batch entries: who each run added
    run_id BIGINT NOT NULL,
    automation_id BIGINT NOT NULL,
    customer_id VARCHAR NOT NULL,
    occasion VARCHAR NOT NULL,
    arm VARCHAR NOT NULL,                 -- treatment | holdout
    code VARCHAR,                         -- unique or shared code (treatment only)
    added_at TIMESTAMP NOT NULL
);
-- [personalisation tables] (automations: relmark_core.automations)
"""  # noqa: S608 - only the MONEY type constant is interpolated


_SCHEMA_HASH = hashlib.sha256(SCHEMA.encode()).hexdigest()[:16]


def utc_now() -> datetime:
    """Now in UTC as a naive timestamp, the way the store keeps time."""
    return datetime.now(UTC).replace(tzinfo=None)


def default_db_path() -> Path:
    """The database the app and the CLI share: ``$RELMARK_DB`` or ``data/relmark.duckdb``."""
    env = os.environ.get("RELMARK_DB")
    return Path(env) if env else DEFAULT_DB_FILE


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def _is_handle_race(exc: Exception) -> bool:
    """DuckDB 2.0, several threads of one process (the app's sessions) opening and closing the
    same file: one can find it "already attached" while another is closing its last connection
    (seen 4 times in 20 browser sessions, bench/concurrency_check.py). A moment later it is not."""
    return "unique file handle conflict" in str(exc).lower()


def _connect(path: Path, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.ResourceInUseException as exc:
            if not _is_handle_race(exc):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"The database {path} is busy: it was being closed and opened by other "
                    f"pages for more than {wait_seconds:.0f} seconds. Try again in a moment."
                ) from exc
            time.sleep(_HANDLE_RACE_POLL_SECONDS)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise InputRefused(
                    f"Relmark could not open its database at {path}: {exc}. "
                    "Check that the path is a Relmark database (or a new file name) and that "
                    "the folder is writable."
                ) from exc
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"The database {path} is busy: another Relmark program (an import or the "
                    f"app) kept it open for more than {wait_seconds:.0f} seconds. Try again in "
                    "a minute; if it stays busy, check for a stuck import."
                ) from exc
            time.sleep(_BUSY_POLL_SECONDS)


APP_MEMORY_LIMIT_ENV = "RELMARK_APP_MEMORY_LIMIT"
# The app serves several people's pages from one process: DuckDB may use this much memory for
# the store, and spills to a temporary folder beyond it instead of growing. Measured at 10M
# orders, the Cross-sell page's whole-customer tables: peak 5.1 GB and 14 s without a cap,
# 1.26 GB and 34 s with 1GB. Shops below a million orders never reach it.
DEFAULT_APP_MEMORY_LIMIT = "1GB"
_MEMORY_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def limit_memory(conn: duckdb.DuckDBPyConnection, limit: str | None = None) -> str:
    """Cap DuckDB's memory for the store: ``limit``, else ``$RELMARK_APP_MEMORY_LIMIT``, else
    :data:`DEFAULT_APP_MEMORY_LIMIT`. Returns the cap as DuckDB states it (``953.6 MiB``).

    Raises
    ------
    InputRefused
        When the size is not written like ``1GB`` or ``512MiB``.
    """
    value = limit or os.environ.get(APP_MEMORY_LIMIT_ENV) or DEFAULT_APP_MEMORY_LIMIT
    if not _MEMORY_SIZE.match(value):
        raise InputRefused(
            f"The memory cap '{value[:40]}' ({APP_MEMORY_LIMIT_ENV}) is not a size. Write it like "
            f"1GB or 512MiB, or unset it to use {DEFAULT_APP_MEMORY_LIMIT}."
        )
    conn.execute(f"SET memory_limit = '{value.strip()}'").fetchall()  # checked just above
    return str(scalar(conn, "SELECT current_setting('memory_limit')"))


@contextmanager
def open_db(
    path: str | Path | None = None, *, wait_seconds: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store (creating it and its schema if new) and close it afterwards.

    Parameters
    ----------
    path
        A database file, or ``":memory:"``; default :func:`default_db_path`.
    wait_seconds
        How long to retry while another process holds the file before raising
        :class:`~relmark_core.errors.DatabaseBusy` (default ``BUSY_WAIT_SECONDS``, which
        ``$RELMARK_BUSY_WAIT_S`` sets).
    """
    if wait_seconds is None:
        wait_seconds = BUSY_WAIT_SECONDS
    if path is None:
        path = default_db_path()
    if str(path) == ":memory:":
        conn = duckdb.connect(":memory:")
    else:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(p, wait_seconds)
    try:
        ensure_schema(conn)
        yield conn
    finally:
        conn.close()


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the tables if missing; upgrade a database made by an older Relmark
    (:mod:`relmark_core.migrations`: automatic backup, then one transaction); refuse one made by
    a newer Relmark before writing anything."""
    exists = scalar(
        conn, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    )
    if exists:
        row = scalar(conn, "SELECT value FROM meta WHERE key = 'schema_version'")
        found = int(row) if row is not None and str(row).isdigit() else SCHEMA_VERSION
        if found > SCHEMA_VERSION:
            from relmark_core import migrations

            where = migrations.database_file(conn) or "in memory"
            raise InputRefused(
                f"The database {where} was made by a newer Relmark (schema version {found}; "
                f"this Relmark knows version {SCHEMA_VERSION}). Upgrade Relmark to open it; "
                "the file was not changed."
            )
        if found < SCHEMA_VERSION:
            from relmark_core import migrations

            migrations.upgrade(conn, found)
            return
        if get_meta(conn, "schema_hash") == _SCHEMA_HASH:
            return
    # New database, or tables added within this schema version: CREATE ... IF NOT EXISTS is
    # additive and leaves existing data alone.
    with transaction(conn):
        conn.execute(SCHEMA)
        stamp_schema(conn)


def stamp_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Mark the database as this Relmark's schema (call inside the transaction that made it so)."""
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_hash', ?)", [_SCHEMA_HASH])
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('data_version', '0')")


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends, roll back if it raises."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first value of the first row, or None. Fetches the whole result, as DuckDB 2.0
    requires before the connection runs anything else."""
    rows = conn.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def get_meta(conn: duckdb.DuckDBPyConnection, key: str, default: str | None = None) -> str | None:
    value = scalar(conn, "SELECT value FROM meta WHERE key = ?", [key])
    return default if value is None else str(value)


def set_meta(conn: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def data_version(conn: duckdb.DuckDBPyConnection) -> int:
    """A number that changes after every write to the shop's data (cache key for results)."""
    return int(get_meta(conn, "data_version", "0") or 0)


def bump_data_version(conn: duckdb.DuckDBPyConnection) -> int:
    """Call inside the write's transaction, so readers never see new data with an old version."""
    new = data_version(conn) + 1
    set_meta(conn, "data_version", str(new))
    return new


def is_demo(conn: duckdb.DuckDBPyConnection) -> bool:
    """True while the store holds the generated demo shop."""
    return get_meta(conn, "demo", "0") == "1"


def get_setting(conn: duckdb.DuckDBPyConnection, key: str, default: str) -> str:
    value = scalar(conn, "SELECT value FROM settings WHERE key = ?", [key])
    return default if value is None else str(value)


def set_setting(
    conn: duckdb.DuckDBPyConnection, key: str, value: str, *, actor: str = DEFAULT_ACTOR
) -> None:
    """Store one setting (admins only), audited."""
    from relmark_core import auth  # here, not at the top: auth reads the store's tables

    auth.require(conn, actor, auth.Role.ADMIN, "change settings")
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO settings VALUES (?, ?, ?, ?)", [key, value, actor, utc_now()]
        )
        audit(conn, actor, "setting changed", f"{key} = {value}")
        bump_data_version(conn)


def audit(conn: duckdb.DuckDBPyConnection, actor: str, action: str, detail: str = "") -> None:
    """Record a change (call inside the change's transaction)."""
    conn.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?)", [utc_now(), actor, action, detail])


def shop_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many customers, orders, order lines and feedback answers the store holds."""
    return {
        t: int(scalar(conn, f"SELECT count(*) FROM {t}") or 0)  # noqa: S608 - fixed table names
        for t in ("customers", "orders", "order_lines", "feedback")
    }
