"""AppTest helpers: run the real app.py on a page with a generous timeout."""

from __future__ import annotations

from pathlib import Path

import streamlit.runtime.scriptrunner.script_runner as _script_runner
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
APPTEST_TIMEOUT_S = 60  # first runs build Ibis expressions and plotly figures; 3 s is too tight


def _run_app_py(main_script_path: str) -> None:
    """Run app.py as the real server does after its first run.

    AppTest resets Streamlit's "legacy pages/ folder" flag before every run, which would run the
    page file without app.py (and drop a clicked button's trigger on the rerun that recovers).
    """
    PagesManager.uses_pages_directory = False
    code = compile(Path(main_script_path).read_text(), main_script_path, "exec")
    exec(code, {"__name__": "__main__", "__file__": main_script_path})  # noqa: S102


_script_runner._mpa_v1 = _run_app_py  # type: ignore[attr-defined]


def open_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    """Run app.py, then switch to ``page`` (e.g. "pages/overview.py") and run it."""
    at = AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT_S)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    return at


def problems(at: AppTest) -> list[str]:
    """Exceptions and error boxes on the page (both must be empty on a healthy page)."""
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
