"""AppTest over every page on the demo data: no exception, no error box, key elements present."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.apptest import APP, open_page, problems


def _pages_in_app() -> list[str]:
    """The page files app.py registers with st.Page (so a new page is tested automatically)."""
    tree = ast.parse(Path(APP).read_text())
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "Page"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


PAGES = _pages_in_app()


def test_every_page_file_is_registered() -> None:
    on_disk = sorted(f"pages/{p.name}" for p in (Path(APP).parent / "pages").glob("*.py"))
    assert sorted(PAGES) == on_disk


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_demo_data(page: str, app_db: Path) -> None:
    at = open_page(page)
    assert problems(at) == []
    assert len(at.title) == 1
    # the demo banner is on every page while the store holds demo data
    assert any("Demo data" in str(i.value) for i in at.info)


def test_overview_metrics_follow_the_date_range(app_db: Path) -> None:
    at = open_page("pages/overview.py")
    labels = [m.label for m in at.metric]
    assert labels == ["Customers with orders", "Orders", "Net revenue", "Average order value",
                      "Repeat purchase rate"]
    before = [m.value for m in at.metric]
    at.sidebar.selectbox(key="f_range").set_value("last_7_days").run()
    assert problems(at) == []
    after = [m.value for m in at.metric]
    assert after != before
    assert at.query_params["range"] == ["last_7_days"] or at.query_params["range"] == "last_7_days"


def test_overview_reads_its_view_from_the_url(app_db: Path) -> None:
    at = open_page("pages/overview.py", {"range": "custom", "start": "2020-01-01", "end": "2020-02-01"})
    assert problems(at) == []
    assert at.sidebar.selectbox(key="f_range").value == "custom"
    # the demo shop has no orders in January 2020: the page says so and shows zeros
    assert [m.value for m in at.metric][:2] == ["0", "0"]
    assert any("No counted orders" in str(i.value) for i in at.info)


def test_help_on_every_metric(app_db: Path) -> None:
    at = open_page("pages/overview.py")
    assert all(m.help for m in at.metric)


def test_first_start_on_an_empty_database_loads_the_demo_shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relmark_core import store

    db = tmp_path / "fresh" / "relmark.duckdb"
    monkeypatch.setenv("RELMARK_DB", str(db))
    at = open_page("pages/overview.py")
    assert problems(at) == []
    assert any("Demo data" in str(i.value) for i in at.info)
    assert [m.value for m in at.metric][1] != "0"  # orders in the last 90 days
    with store.open_db(db) as c:
        assert store.is_demo(c) and store.shop_counts(c)["customers"] == 5000
