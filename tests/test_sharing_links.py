"""Locked links: sign, verify, and refuse anything changed or signed elsewhere."""

from __future__ import annotations

import base64
import json
from datetime import date

import duckdb
import pytest

from relmark_core import store
from relmark_core.errors import InputRefused
from relmark_core.sharing.links import (
    INVALID_LOCK,
    SECRET_META_KEY,
    LockedView,
    link_secret,
    sign_lock,
    verify_lock,
)

VIEW = LockedView(
    page="overview",
    filters={"range": "last_30_days", "as_of": "2026-11-20", "compare": "1", "segment": "0"},
    choices={"grain": "week"},
    made_on=date(2026, 11, 20),
)


def _audit(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [(a, d) for a, d in conn.execute("SELECT action, detail FROM audit_log").fetchall()]


def test_a_signed_lock_verifies_to_the_same_view(conn: duckdb.DuckDBPyConnection) -> None:
    token = sign_lock(conn, VIEW, actor="ann")
    assert token.startswith("v1.")
    assert verify_lock(conn, token) == VIEW
    # the secret was made on first use, once, and audited without revealing it
    assert _audit(conn) == [("link secret created", "for signing locked links")]
    assert sign_lock(conn, VIEW) == token  # same view, same secret: same token
    assert len(_audit(conn)) == 1


def test_no_secret_means_no_lock_is_valid(conn: duckdb.DuckDBPyConnection) -> None:
    assert link_secret(conn) is None
    with pytest.raises(InputRefused, match="lock is not valid"):
        verify_lock(conn, "v1.e30.AAAA")
    assert _audit(conn) == []  # verifying never writes


def _swap_payload(token: str, change: dict[str, object]) -> str:
    prefix, body, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data.update(change)
    new = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{prefix}.{new}.{mac}"


def test_a_widened_payload_is_refused(conn: duckdb.DuckDBPyConnection) -> None:
    token = sign_lock(conn, VIEW)
    wider = _swap_payload(token, {"filters": {"range": "all_time", "as_of": "2026-11-20",
                                              "compare": "1", "segment": "0"}})
    with pytest.raises(InputRefused) as err:
        verify_lock(conn, wider)
    assert str(err.value) == INVALID_LOCK


@pytest.mark.parametrize("broken", [
    "",
    "v1",
    "v2.{body}.{mac}",
    "v1.{body}.{mac}x",
    "v1.{body}x.{mac}",
    "v1.{body}",
    "v1.{body}.{mac}.extra",
    "v1.!!!.{mac}",
])
def test_cut_or_edited_tokens_are_refused(conn: duckdb.DuckDBPyConnection, broken: str) -> None:
    _, body, mac = sign_lock(conn, VIEW).split(".")
    with pytest.raises(InputRefused, match="lock is not valid"):
        verify_lock(conn, broken.format(body=body, mac=mac))


def test_a_token_from_another_store_is_refused(conn: duckdb.DuckDBPyConnection) -> None:
    with store.open_db(":memory:") as other:
        foreign = sign_lock(other, VIEW)
    sign_lock(conn, VIEW)  # this store has its own secret
    with pytest.raises(InputRefused, match="made by another Relmark"):
        verify_lock(conn, foreign)


def test_changing_the_secret_voids_old_links(conn: duckdb.DuckDBPyConnection) -> None:
    token = sign_lock(conn, VIEW)
    store.set_meta(conn, SECRET_META_KEY, "00" * 32)
    with pytest.raises(InputRefused):
        verify_lock(conn, token)


def test_what_a_lock_fixes_on_its_page_and_elsewhere() -> None:
    # filters hold everywhere; the page's choices only on the page it was made on
    assert VIEW.fixes("retention", "range") and VIEW.value("retention", "range") == "last_30_days"
    assert not VIEW.fixes("retention", "grain")
    assert VIEW.value("retention", "grain") is None
    assert VIEW.fixes("overview", "grain") and VIEW.value("overview", "grain") == "week"
    # on its own page a choice the lock does not name stays at its default (fixed, no value)
    assert VIEW.fixes("overview", "basis") and VIEW.value("overview", "basis") is None
    assert VIEW.params_for("overview") == {"range": "last_30_days", "as_of": "2026-11-20",
                                           "compare": "1", "segment": "0", "grain": "week"}
    assert VIEW.params_for("rfm") == {"range": "last_30_days", "as_of": "2026-11-20",
                                      "compare": "1", "segment": "0"}


@pytest.mark.parametrize("bad", [
    {"page": "../etc"},
    {"filters": {"grain": "week"}},
    {"choices": {"range": "all_time"}},
    {"choices": {"lock": "x"}},
    {"choices": {"q": "x" * 501}},
    {"extra": 1},
])
def test_a_lock_model_refuses_what_it_cannot_mean(bad: dict[str, object]) -> None:
    data = VIEW.model_dump() | bad
    with pytest.raises(ValueError):
        LockedView.model_validate(data)
