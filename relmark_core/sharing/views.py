"""Saved views: a name, a page and its settings (the page's URL parameters), kept in the store.

A view keeps its id for life, so its link (``?saved=<id>``) survives a rename; names are unique
ignoring case and surrounding spaces. Saving, renaming and deleting need the editor role, are
audited, and bump the data version. :func:`describe_params` says in a sentence what a view's
filters show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, names, store
from relmark_core.errors import InputRefused
from relmark_core.periods import DEFAULT_PRESET, PRESETS, DateRange
from relmark_core.sharing.links import FILTER_PARAMS, LOCK_PARAM, MAX_PARAM_CHARS, PAGE_NAME
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "SAVED_VIEW_PARAM",
    "MAX_NAME",
    "MAX_PARAMS",
    "SavedView",
    "clean_name",
    "clean_params",
    "list_views",
    "get_view",
    "save_view",
    "rename_view",
    "delete_view",
    "describe_params",
]

SAVED_VIEW_PARAM = "saved"
"""``?saved=<id>`` opens a saved view (its page with its settings)."""
MAX_NAME = 80
MAX_PARAMS = 40
_NOT_SAVED = (LOCK_PARAM, SAVED_VIEW_PARAM)  # a lock or a view link is not a page setting
_COLUMNS = "view_id, name, page, params, created_by, created_at, updated_by, updated_at"


class SavedView(BaseModel):
    """A saved view as stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view_id: int
    name: str
    page: str
    params: dict[str, str]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


def clean_name(name: str) -> str:
    """A view name trimmed, or a refusal saying what to fix."""
    return names.clean_name(name, thing="view", max_chars=MAX_NAME,
                            empty="The view has no name. Type a name for it, e.g. “Weekly revenue”.")


def clean_params(params: Mapping[str, str]) -> dict[str, str]:
    """The page settings worth saving: every URL parameter but a lock or a view link."""
    out = {str(k): str(v) for k, v in params.items() if k not in _NOT_SAVED}
    if len(out) > MAX_PARAMS:
        raise InputRefused(f"This view has {len(out)} settings; a saved view keeps {MAX_PARAMS}.")
    for k, v in out.items():
        if not k or len(k) > MAX_PARAM_CHARS or len(v) > MAX_PARAM_CHARS:
            raise InputRefused(
                f"The setting “{k[:40]}” is longer than {MAX_PARAM_CHARS} characters; shorten "
                "the search or choice before saving the view."
            )
    return dict(sorted(out.items()))


def _key(name: str) -> str:
    return clean_name(name).casefold()


def _row(row: tuple[Any, ...]) -> SavedView:
    vid, name, page, params, cby, cat, uby, uat = row
    return SavedView(
        view_id=int(vid), name=str(name), page=str(page), params=json.loads(str(params)),
        created_by=str(cby), created_at=cat, updated_by=str(uby), updated_at=uat,
    )


def list_views(conn: duckdb.DuckDBPyConnection) -> list[SavedView]:
    """Every saved view, by name (case ignored)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM saved_views ORDER BY name_key, view_id"  # noqa: S608
    ).fetchall()
    return [_row(r) for r in rows]


def get_view(conn: duckdb.DuckDBPyConnection, view_id: int) -> SavedView:
    """The view with this id, or a refusal when there is none (e.g. it was deleted)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM saved_views WHERE view_id = ?", [int(view_id)]  # noqa: S608
    ).fetchall()
    if not rows:
        raise InputRefused(
            f"There is no saved view with id {view_id}; it may have been deleted. Choose one "
            "on the Dashboards page."
        )
    return _row(rows[0])


def _refuse_clash(conn: duckdb.DuckDBPyConnection, name: str, *, own_id: int | None) -> None:
    rows = conn.execute(
        "SELECT view_id, name FROM saved_views WHERE name_key = ?", [_key(name)]
    ).fetchall()
    if rows and int(rows[0][0]) != own_id:
        raise InputRefused(
            f"A saved view called “{rows[0][1]}” already exists. Choose another name, or "
            "rename or delete that view on the Dashboards page."
        )


def save_view(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    page: str,
    params: Mapping[str, str],
    *,
    actor: str = DEFAULT_ACTOR,
) -> SavedView:
    """Save ``page`` (its URL path, e.g. ``"retention"``) with its URL ``params`` under a new,
    unique name; returns the view with its id."""
    auth.require(conn, actor, auth.Role.EDITOR, "save views")
    title = clean_name(name)
    if not PAGE_NAME.match(page):
        raise InputRefused(f"“{page[:40]}” is not a page of Relmark; open a page to save it.")
    kept = clean_params(params)
    now = store.utc_now()
    with store.transaction(conn):
        _refuse_clash(conn, title, own_id=None)
        new_id = int(store.scalar(conn, "SELECT nextval('saved_view_id_seq')"))
        conn.execute(
            "INSERT INTO saved_views (view_id, name, name_key, page, params, created_by, "
            "created_at, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [new_id, title, _key(title), page, json.dumps(kept), actor, now, actor, now],
        )
        store.audit(conn, actor, "view saved", f"{new_id} “{title}” ({page})")
        store.bump_data_version(conn)
    return get_view(conn, new_id)


def rename_view(
    conn: duckdb.DuckDBPyConnection, view_id: int, name: str, *, actor: str = DEFAULT_ACTOR
) -> SavedView:
    """Give a view a new unique name; its id (and its link) stays."""
    auth.require(conn, actor, auth.Role.EDITOR, "rename views")
    title = clean_name(name)
    old = get_view(conn, view_id)
    with store.transaction(conn):
        _refuse_clash(conn, title, own_id=old.view_id)
        conn.execute(
            "UPDATE saved_views SET name = ?, name_key = ?, updated_by = ?, updated_at = ? "
            "WHERE view_id = ?",
            [title, _key(title), actor, store.utc_now(), old.view_id],
        )
        store.audit(conn, actor, "view renamed", f"{old.view_id} “{old.name}” → “{title}”")
        store.bump_data_version(conn)
    return get_view(conn, view_id)


def delete_view(
    conn: duckdb.DuckDBPyConnection, view_id: int, *, actor: str = DEFAULT_ACTOR
) -> None:
    """Delete a view (its link then says it no longer exists); its id is never reused."""
    auth.require(conn, actor, auth.Role.EDITOR, "delete views")
    old = get_view(conn, view_id)
    with store.transaction(conn):
        conn.execute("DELETE FROM saved_views WHERE view_id = ?", [old.view_id])
        store.audit(conn, actor, "view deleted", f"{old.view_id} “{old.name}” ({old.page})")
        store.bump_data_version(conn)


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _period(params: Mapping[str, str]) -> str:
    preset = params.get("range", DEFAULT_PRESET)
    as_of = params.get("as_of")
    if preset == "custom":
        try:
            start, end = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
            rng = DateRange(start=start, end=end)
        except (KeyError, ValueError):
            return "custom dates (not readable: the last 30 days are shown)"
        last = rng.end - timedelta(days=1)
        return f"{_day(rng.start)} to {_day(last)}" if last != rng.start else _day(rng.start)
    label = PRESETS.get(preset, PRESETS[DEFAULT_PRESET])
    try:
        when = f"up to {_day(date.fromisoformat(as_of))}" if as_of else None
    except ValueError:
        when = None
    return f"{label} {when or 'up to the day it is opened'}"


def describe_params(params: Mapping[str, str], *, segment_names: Mapping[int, str]) -> str:
    """A plain sentence saying what a view's settings show, e.g. "Last 90 days up to the day it
    is opened, compared with the previous period, all customers. Page settings: grain week."

    ``segment_names`` maps saved segment ids to their names (a deleted one is named by id)."""
    parts = [_period(params)]
    parts.append("without comparison" if params.get("compare") == "0"
                 else "compared with the previous period")
    raw = params.get("segment", "")
    if not raw or raw == "0":
        parts.append("all customers")
    elif raw.isdigit() and int(raw) in segment_names:
        parts.append(f"segment “{segment_names[int(raw)]}”")
    else:
        parts.append(f"segment id {raw[:20]}, which no longer exists (all customers)")
    text = ", ".join(parts) + "."
    if params.get("range") == "custom" and params.get("as_of"):
        try:
            text += f" As of {_day(date.fromisoformat(params['as_of']))}."
        except ValueError:
            pass
    rest = [f"{k} {v}" for k, v in sorted(params.items())
            if k not in FILTER_PARAMS and k not in _NOT_SAVED]
    if rest:
        text += " Page settings: " + ", ".join(rest) + "."
    return text[0].upper() + text[1:]
