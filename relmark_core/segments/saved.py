"""Saved segments in the local store: save, change, rename, duplicate, delete, list, find.

A segment keeps its id for life (links and the sidebar filter use it, so they survive a
rename); names are unique ignoring case and surrounding spaces. Every write is one transaction
with bound values, audited, and bumps the data version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, names, store
from relmark_core.errors import InputRefused
from relmark_core.segments.model import SegmentDefinition, definition_from_json, parse_definition
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "MAX_NAME",
    "COPY_SUFFIX",
    "SavedSegment",
    "clean_name",
    "list_segments",
    "get_segment",
    "find_segment",
    "save_segment",
    "update_segment",
    "rename_segment",
    "duplicate_segment",
    "delete_segment",
]

MAX_NAME = 80
COPY_SUFFIX = " (copy)"
_COLUMNS = "segment_id, name, definition, created_by, created_at, updated_by, updated_at"


class SavedSegment(BaseModel):
    """A segment as stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segment_id: int
    name: str
    definition: SegmentDefinition
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


def clean_name(name: str) -> str:
    """A segment name trimmed, or a refusal saying what to fix."""
    return names.clean_name(name, thing="segment", max_chars=MAX_NAME,
                            empty="The segment name is empty. Give the segment a name.")


def _key(name: str) -> str:
    return clean_name(name).casefold()


def _row(row: tuple[Any, ...]) -> SavedSegment:
    sid, name, definition, cby, cat, uby, uat = row
    return SavedSegment(
        segment_id=int(sid),
        name=str(name),
        definition=definition_from_json(str(definition)),
        created_by=str(cby),
        created_at=cat,
        updated_by=str(uby),
        updated_at=uat,
    )


def list_segments(conn: duckdb.DuckDBPyConnection) -> list[SavedSegment]:
    """Every saved segment, by name (case ignored)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM segments ORDER BY name_key, segment_id"  # noqa: S608
    ).fetchall()
    return [_row(r) for r in rows]


def get_segment(conn: duckdb.DuckDBPyConnection, segment_id: int) -> SavedSegment:
    """The segment with this id, or a refusal when there is none (e.g. it was deleted)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM segments WHERE segment_id = ?", [int(segment_id)]  # noqa: S608
    ).fetchall()
    if not rows:
        raise InputRefused(
            f"There is no saved segment with id {segment_id}; it may have been deleted. "
            "Choose one from the list of saved segments."
        )
    return _row(rows[0])


def find_segment(conn: duckdb.DuckDBPyConnection, name_or_id: str) -> SavedSegment:
    """A segment by name (case ignored) or, when no name matches, by id."""
    text = " ".join(str(name_or_id).split())
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM segments WHERE name_key = ?", [text.casefold()]  # noqa: S608
    ).fetchall()
    if rows:
        return _row(rows[0])
    if text.isdigit():
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM segments WHERE segment_id = ?", [int(text)]  # noqa: S608
        ).fetchall()
        if rows:
            return _row(rows[0])
    names = [s.name for s in list_segments(conn)]
    known = (
        "There are no saved segments yet; build one on the Segments page."
        if not names
        else "Saved segments: " + ", ".join(f"“{n}”" for n in names[:10])
        + (" …" if len(names) > 10 else "") + "."
    )
    raise InputRefused(f"No saved segment is called or has the id “{text}”. {known}")


def _refuse_clash(conn: duckdb.DuckDBPyConnection, name: str, *, own_id: int | None) -> None:
    rows = conn.execute(
        "SELECT segment_id, name FROM segments WHERE name_key = ?", [_key(name)]
    ).fetchall()
    if rows and int(rows[0][0]) != own_id:
        raise InputRefused(
            f"A segment called “{rows[0][1]}” already exists. Choose another name, or open "
            "that segment to change it."
        )


def save_segment(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    definition: SegmentDefinition | dict[str, Any],
    *,
    actor: str = DEFAULT_ACTOR,
) -> SavedSegment:
    """Save a new segment under a unique name; returns it with its new id."""
    auth.require(conn, actor, auth.Role.EDITOR, "save segments")
    title = clean_name(name)
    d = parse_definition(definition)
    now = store.utc_now()
    with store.transaction(conn):
        _refuse_clash(conn, title, own_id=None)
        new_id = int(store.scalar(conn, "SELECT nextval('segment_id_seq')"))
        conn.execute(
            "INSERT INTO segments (segment_id, name, name_key, definition, created_by, "
            "created_at, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [new_id, title, _key(title), d.to_json(), actor, now, actor, now],
        )
        store.audit(conn, actor, "segment saved", f"segment {new_id} “{title}”: {d.sentence()}")
        store.bump_data_version(conn)
    return get_segment(conn, new_id)


def update_segment(
    conn: duckdb.DuckDBPyConnection,
    segment_id: int,
    definition: SegmentDefinition | dict[str, Any],
    *,
    actor: str = DEFAULT_ACTOR,
) -> SavedSegment:
    """Replace a saved segment's conditions (its id and name stay)."""
    auth.require(conn, actor, auth.Role.EDITOR, "change segments")
    d = parse_definition(definition)
    old = get_segment(conn, segment_id)
    with store.transaction(conn):
        conn.execute(
            "UPDATE segments SET definition = ?, updated_by = ?, updated_at = ? "
            "WHERE segment_id = ?",
            [d.to_json(), actor, store.utc_now(), old.segment_id],
        )
        store.audit(conn, actor, "segment changed", f"segment {old.segment_id} “{old.name}”: "
                    f"{d.sentence()}")
        store.bump_data_version(conn)
    return get_segment(conn, segment_id)


def rename_segment(
    conn: duckdb.DuckDBPyConnection, segment_id: int, name: str, *, actor: str = DEFAULT_ACTOR
) -> SavedSegment:
    """Give a segment a new unique name; its id (and every link to it) stays."""
    auth.require(conn, actor, auth.Role.EDITOR, "rename segments")
    title = clean_name(name)
    old = get_segment(conn, segment_id)
    with store.transaction(conn):
        _refuse_clash(conn, title, own_id=old.segment_id)
        conn.execute(
            "UPDATE segments SET name = ?, name_key = ?, updated_by = ?, updated_at = ? "
            "WHERE segment_id = ?",
            [title, _key(title), actor, store.utc_now(), old.segment_id],
        )
        store.audit(conn, actor, "segment renamed",
                    f"segment {old.segment_id} “{old.name}” → “{title}”")
        store.bump_data_version(conn)
    return get_segment(conn, segment_id)


def _free_copy_name(conn: duckdb.DuckDBPyConnection, name: str) -> str:
    taken = {str(r[0]) for r in conn.execute("SELECT name_key FROM segments").fetchall()}
    base = name[: MAX_NAME - len(COPY_SUFFIX) - 3]
    candidate = base + COPY_SUFFIX
    n = 2
    while candidate.casefold() in taken:
        candidate = f"{base} (copy {n})"
        n += 1
    return candidate


def duplicate_segment(
    conn: duckdb.DuckDBPyConnection,
    segment_id: int,
    *,
    name: str | None = None,
    actor: str = DEFAULT_ACTOR,
) -> SavedSegment:
    """A copy of a segment under a new id: ``name``, or "<name> (copy)" ("(copy 2)", ...)."""
    auth.require(conn, actor, auth.Role.EDITOR, "save segments")
    old = get_segment(conn, segment_id)
    return save_segment(
        conn, name if name is not None else _free_copy_name(conn, old.name), old.definition,
        actor=actor,
    )


def delete_segment(
    conn: duckdb.DuckDBPyConnection, segment_id: int, *, actor: str = DEFAULT_ACTOR
) -> None:
    """Delete a saved segment (links to it then say it was deleted)."""
    auth.require(conn, actor, auth.Role.EDITOR, "delete segments")
    old = get_segment(conn, segment_id)
    with store.transaction(conn):
        conn.execute("DELETE FROM segments WHERE segment_id = ?", [old.segment_id])
        store.audit(conn, actor, "segment deleted", f"segment {old.segment_id} “{old.name}”: "
                    f"{old.definition.sentence()}")
        store.bump_data_version(conn)
