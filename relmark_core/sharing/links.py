"""Locked links: a view's filters signed into one ``lock=<token>`` URL parameter.

A locked link fixes the sidebar's filters (date range, as-of date, comparison, segment) on every
page the viewer opens, and every choice of the page it was made on. The token carries the fixed
values and an HMAC-SHA256 of them under a secret kept in the store's ``meta`` table (made the
first time someone makes a locked link), so neither editing the token nor editing the URL's
other parameters can widen the view: the app applies the token's values whatever the URL says.

A lock is not access control: it keeps a shared view as it was sent, but whoever may open
Relmark may also open it without the link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from datetime import date
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "LOCK_PARAM",
    "FILTER_PARAMS",
    "TOKEN_PREFIX",
    "SECRET_META_KEY",
    "SECRET_BYTES",
    "MAX_TOKEN_CHARS",
    "MAX_PARAM_CHARS",
    "PAGE_NAME",
    "LockedView",
    "link_secret",
    "sign_lock",
    "verify_lock",
    "INVALID_LOCK",
]

LOCK_PARAM = "lock"
FILTER_PARAMS = ("range", "start", "end", "as_of", "compare", "segment")
"""The sidebar's URL parameters: a lock fixes them on every page."""
TOKEN_PREFIX = "v1"
SECRET_META_KEY = "share_link_secret"
SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4000
MAX_PARAM_CHARS = 500
PAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
"""A page's URL path (its file name without ``.py``), e.g. ``retention``."""
INVALID_LOCK = (
    "This link's lock is not valid: the link was changed after it was made, or it was made by "
    "another Relmark. Nothing is shown. Ask whoever sent it for a new locked link, or open "
    "Relmark without the link."
)


def _check_params(params: dict[str, str]) -> dict[str, str]:
    for k, v in params.items():
        if not k or len(k) > MAX_PARAM_CHARS or len(v) > MAX_PARAM_CHARS:
            raise ValueError(f"The link setting '{k[:40]}' is too long.")
    return params


class LockedView(BaseModel):
    """What a locked link fixes.

    ``filters`` (sidebar parameters, see :data:`FILTER_PARAMS`) hold on every page; ``choices``
    hold on ``page`` only, where every other choice of the page stays at its default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    page: str
    filters: dict[str, str]
    choices: dict[str, str]
    made_on: date

    @field_validator("page")
    @classmethod
    def _page(cls, v: str) -> str:
        if not PAGE_NAME.match(v):
            raise ValueError(f"'{v[:40]}' is not a page of Relmark.")
        return v

    @field_validator("filters")
    @classmethod
    def _filters(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(FILTER_PARAMS))
        if unknown:
            raise ValueError(f"'{unknown[0][:40]}' is not a sidebar filter.")
        return _check_params(v)

    @field_validator("choices")
    @classmethod
    def _choices(cls, v: dict[str, str]) -> dict[str, str]:
        clash = sorted(set(v) & {*FILTER_PARAMS, LOCK_PARAM})
        if clash:
            raise ValueError(f"'{clash[0]}' is a sidebar filter, not a page choice.")
        return _check_params(v)

    def fixes(self, page: str, param: str) -> bool:
        """True when the lock decides ``param`` on ``page`` (a value or the default)."""
        return param in self.filters or (page == self.page and param != LOCK_PARAM)

    def value(self, page: str, param: str) -> str | None:
        """The value the lock gives ``param`` on ``page`` (None: the widget's default)."""
        if param in self.filters:
            return self.filters[param]
        return self.choices.get(param) if page == self.page else None

    def params_for(self, page: str) -> dict[str, str]:
        """The URL parameters the lock sets on ``page`` (besides ``lock`` itself)."""
        return dict(self.filters) | (dict(self.choices) if page == self.page else {})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _payload(view: LockedView) -> bytes:
    data: dict[str, Any] = view.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()


def link_secret(
    conn: duckdb.DuckDBPyConnection, *, create: bool = False, actor: str = DEFAULT_ACTOR
) -> bytes | None:
    """The store's secret for signing locked links; with ``create``, made (and audited) on
    first use. None when there is none yet (then no locked link was ever made here)."""
    value = store.get_meta(conn, SECRET_META_KEY)
    if value is None and create:
        with store.transaction(conn):
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                [SECRET_META_KEY, secrets.token_hex(SECRET_BYTES)],
            )
            store.audit(conn, actor, "link secret created", "for signing locked links")
            store.bump_data_version(conn)
        value = store.get_meta(conn, SECRET_META_KEY)
    return None if value is None else bytes.fromhex(value)


def sign_lock(
    conn: duckdb.DuckDBPyConnection, view: LockedView, *, actor: str = DEFAULT_ACTOR
) -> str:
    """The ``lock=`` token of a locked link fixing ``view`` (anyone who may see a page may
    share it locked)."""
    auth.require(conn, actor, auth.Role.VIEWER, "share locked links")
    secret = link_secret(conn, create=True, actor=actor)
    assert secret is not None
    payload = _payload(view)
    return f"{TOKEN_PREFIX}.{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify_lock(conn: duckdb.DuckDBPyConnection, token: str) -> LockedView:
    """The view a ``lock=`` token fixes, or :class:`InputRefused` (:data:`INVALID_LOCK`) when
    it was changed, cut short, or signed by another store."""
    secret = link_secret(conn)
    parts = token.strip().split(".")
    if secret is None or len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise InputRefused(INVALID_LOCK)
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise InputRefused(INVALID_LOCK) from exc
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise InputRefused(INVALID_LOCK)
    try:
        return LockedView.model_validate(json.loads(payload))
    except (ValueError, ValidationError) as exc:  # signed here but not a lock we can read
        raise InputRefused(INVALID_LOCK) from exc
