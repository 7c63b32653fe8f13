"""The app's memory cap for DuckDB (store.limit_memory): default, environment, refusal, and the
page frame applying it."""

from __future__ import annotations

from pathlib import Path

import pytest

from relmark_core import store
from relmark_core.errors import InputRefused
from tests.apptest import open_page


def test_the_default_cap_is_one_gigabyte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(store.APP_MEMORY_LIMIT_ENV, raising=False)
    with store.open_db(tmp_path / "r.duckdb") as conn:
        # DuckDB states 1GB (10^9 bytes) in MiB
        assert store.limit_memory(conn) == "953.6 MiB"
        assert conn.execute("SELECT current_setting('memory_limit')").fetchall() == [("953.6 MiB",)]


def test_the_environment_and_an_argument_set_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store.APP_MEMORY_LIMIT_ENV, "512MiB")
    with store.open_db(tmp_path / "r.duckdb") as conn:
        assert store.limit_memory(conn) == "512.0 MiB"
        assert store.limit_memory(conn, " 2 GiB ") == "2.0 GiB"


@pytest.mark.parametrize("value", ["lots", "1G", "1GB'; DROP TABLE orders; --", "-1GB"])
def test_a_value_that_is_not_a_size_is_refused_in_words(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(store.APP_MEMORY_LIMIT_ENV, value)
    with store.open_db(tmp_path / "r.duckdb") as conn:
        before = conn.execute("SELECT current_setting('memory_limit')").fetchall()
        with pytest.raises(InputRefused, match="RELMARK_APP_MEMORY_LIMIT.*Write it like 1GB"):
            store.limit_memory(conn)
        assert conn.execute("SELECT current_setting('memory_limit')").fetchall() == before


def test_the_page_frame_applies_the_cap(app_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad cap shows its sentence on the page: the frame calls limit_memory on every rerun."""
    monkeypatch.setenv(store.APP_MEMORY_LIMIT_ENV, "lots")
    at = open_page("pages/overview.py")
    errors = [e.value for e in at.error]
    assert any("The memory cap 'lots' (RELMARK_APP_MEMORY_LIMIT) is not a size" in e for e in errors)
    assert not at.exception
    monkeypatch.setenv(store.APP_MEMORY_LIMIT_ENV, "2GB")
    at = open_page("pages/overview.py")
    assert not at.error and not at.exception


HOLD = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
        "time.sleep(float(sys.argv[2]))")


def test_a_busy_store_is_a_sentence_not_a_traceback(
    app_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program holds the file longer than the app waits: the page says so, offers to try
    again, and shows no exception (the frame yields nothing and the page is skipped)."""
    import subprocess
    import sys

    from relmark_ui import frame

    monkeypatch.setattr(frame, "APP_BUSY_WAIT_SECONDS", 0.5)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(app_db), "20"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        at = open_page("pages/overview.py")
        assert not at.exception
        assert any("is busy" in w.value for w in at.warning)
        assert [b.label for b in at.button] == ["Try again"]
        assert not at.metric  # the page itself did not run
    finally:
        holder.kill()
        holder.wait()


def test_opening_retries_duckdbs_handle_race_then_says_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another thread closing the same file's last connection: DuckDB says the file is already
    attached; open_db tries again (and says busy in words if it never clears)."""
    import duckdb

    db = tmp_path / "r.duckdb"
    with store.open_db(db):
        pass
    real = duckdb.connect
    calls = {"n": 0}
    race = duckdb.ResourceInUseException(
        f'Resource In Use Error: Unique file handle conflict: Cannot attach "r" - the database '
        f'file "{db}" is already attached by database "r"')

    def flaky(path: str, *a: object, **k: object) -> duckdb.DuckDBPyConnection:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise race
        return real(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(store.duckdb, "connect", flaky)
    with store.open_db(db, wait_seconds=5) as conn:
        assert store.data_version(conn) == 0
    assert calls["n"] == 3

    def always(path: str, *a: object, **k: object) -> duckdb.DuckDBPyConnection:
        raise race

    monkeypatch.setattr(store.duckdb, "connect", always)
    with pytest.raises(store.DatabaseBusy, match="is busy: it was being closed and opened"):
        with store.open_db(db, wait_seconds=0.1):
            pass

    def other(path: str, *a: object, **k: object) -> duckdb.DuckDBPyConnection:
        raise duckdb.ResourceInUseException("Resource In Use Error: something else")

    monkeypatch.setattr(store.duckdb, "connect", other)
    with pytest.raises(duckdb.ResourceInUseException, match="something else"):
        with store.open_db(db, wait_seconds=0.1):
            pass
