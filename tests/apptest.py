"""AppTest helpers: run the real app.py on a page with a generous timeout."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
APPTEST_TIMEOUT_S = 60  # first runs build Ibis expressions and plotly figures; 3 s is too tight


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
