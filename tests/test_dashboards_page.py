"""AppTest: the sidebar's Share panel (link, locked link, save), the Dashboards page, and
opening saved views and locked links."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from relmark_core import auth, store
from relmark_core.sharing.views import list_views, save_view
from tests.apptest import open_page, problems

LAST_30 = {"range": "last_30_days", "compare": "0"}


def _links(at: AppTest) -> list[str]:
    return [str(c.value) for c in at.sidebar.code]


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _qp(at: AppTest, key: str) -> str | None:
    v = at.query_params.get(key)
    return v[-1] if isinstance(v, list) else v


def _audit(db: Path) -> list[tuple[str, str]]:
    with store.open_db(db) as c:
        return [tuple(r) for r in c.execute(
            "SELECT action, detail FROM audit_log WHERE action LIKE 'view %' "
            "ORDER BY logged_at").fetchall()]


def test_the_share_panel_shows_the_link_of_this_view(app_db: Path) -> None:
    at = open_page("pages/overview.py", LAST_30)
    assert problems(at) == []
    at.radio(key="ov_grain").set_value("month").run()
    link = _links(at)[0]
    q = _query(link)
    # every choice of the page and the sidebar, the as-of date pinned
    assert urlsplit(link).path == "/"
    assert {k: q[k] for k in ("range", "compare", "grain")} == {
        "range": "last_30_days", "compare": "0", "grain": "month"}
    assert "as_of" in q


def test_save_this_view_then_find_it_on_dashboards(app_db: Path) -> None:
    at = open_page("pages/overview.py", LAST_30)
    at.sidebar.button(key="share_save").click().run()
    assert [str(e.value) for e in at.sidebar.error] == [
        "The view has no name. Type a name for it, e.g. “Weekly revenue”."]
    at.sidebar.text_input(key="share_view_name").input("Last month, weekly")
    at.sidebar.button(key="share_save").click().run()  # a form sends its fields on submit
    assert problems(at) == []
    assert any("Saved “Last month, weekly”" in str(s.value) for s in at.sidebar.success)
    at.sidebar.button(key="share_save").click().run()  # the same name again
    assert [str(e.value) for e in at.sidebar.error] == [
        "A saved view called “Last month, weekly” already exists. Choose another name, or "
        "rename or delete that view on the Dashboards page."]
    with store.open_db(app_db) as c:
        (view,) = list_views(c)
    assert view.page == "overview"
    assert {k: view.params[k] for k in ("range", "compare")} == LAST_30
    assert "as_of" not in view.params  # a saved view counts back from the day it is opened

    at.switch_page("pages/dashboards.py").run()
    assert problems(at) == []
    table = at.dataframe[0].value
    assert list(table["name"]) == ["Last month, weekly"]
    assert list(table["page"]) == ["Overview"]
    assert table["shows"].iloc[0].startswith(
        "Last 30 days up to the day it is opened, without comparison, all customers.")
    assert list(table["link"]) == [f"/?saved={view.view_id}"]


def test_rename_and_delete_on_dashboards_are_audited(app_db: Path) -> None:
    with store.open_db(app_db) as c:
        a = save_view(c, "Alpha", "overview", LAST_30)
        save_view(c, "Beta", "rfm", {"shade": "revenue"})
    at = open_page("pages/dashboards.py")
    assert problems(at) == []
    assert at.selectbox(key="db_pick").value == a.view_id
    at.text_input(key=f"db_new_name_{a.view_id}").input("beta").run()
    at.button(key="db_rename").click().run()
    assert [str(e.value) for e in at.error] == [
        "A saved view called “Beta” already exists. Choose another name, or rename or delete "
        "that view on the Dashboards page."]
    at.text_input(key=f"db_new_name_{a.view_id}").input("Alpha weekly").run()
    at.button(key="db_rename").click().run()
    assert problems(at) == []
    assert list(at.dataframe[0].value["name"]) == ["Alpha weekly", "Beta"]
    at.button(key="db_delete").click().run()
    assert problems(at) == []
    assert list(at.dataframe[0].value["name"]) == ["Beta"]
    assert _audit(app_db) == [
        ("view saved", "1 “Alpha” (overview)"),
        ("view saved", "2 “Beta” (rfm)"),
        ("view renamed", "1 “Alpha” → “Alpha weekly”"),
        ("view deleted", "1 “Alpha weekly” (overview)"),
    ]


def test_a_saved_view_link_opens_its_page_with_its_settings(app_db: Path) -> None:
    with store.open_db(app_db) as c:
        v = save_view(c, "RFM by revenue", "rfm", {"shade": "revenue", "range": "last_7_days"})
    at = open_page("pages/overview.py", {"saved": str(v.view_id)})
    assert problems(at) == []
    assert [t.value for t in at.title] == ["RFM groups"]
    assert at.radio(key="rfm_shade").value == "revenue"
    assert at.sidebar.selectbox(key="f_range").value == "last_7_days"
    assert _qp(at, "saved") is None


def test_a_deleted_view_link_says_so(app_db: Path) -> None:
    at = open_page("pages/overview.py", {"saved": "42"})
    assert [str(w.value) for w in at.warning][:1] == [
        "There is no saved view with id 42; it may have been deleted. Choose one on the "
        "Dashboards page."]
    assert [t.value for t in at.title] == ["Overview"]


def test_a_locked_link_cannot_be_widened(app_db: Path) -> None:
    at = open_page("pages/overview.py", {"range": "last_7_days", "grain": "day"})
    at.sidebar.button(key="share_make_lock").click().run()
    locked = _links(at)[1]
    seen = [m.value for m in at.metric]
    q = _query(locked)
    assert q["range"] == "last_7_days" and q["lock"].startswith("v1.")

    # the viewer edits the link's range and choices: the lock's values win, widgets disabled
    wider = q | {"range": "all_time", "compare": "0", "basis": "1"}
    viewer = open_page("pages/overview.py", wider)
    assert problems(viewer) == []
    assert [m.value for m in viewer.metric] == seen
    rng = viewer.sidebar.selectbox(key="f_range")
    assert (rng.value, rng.disabled) == ("last_7_days", True)
    assert viewer.toggle(key="ov_basis").disabled and viewer.toggle(key="ov_basis").value is False
    assert _qp(viewer, "range") == "last_7_days"
    assert any("locked by its link" in str(i.value) for i in viewer.info)

    # on another page the filters stay locked, the page's own choices are free
    viewer.switch_page("pages/rfm.py").run()
    assert problems(viewer) == []
    assert viewer.sidebar.selectbox(key="f_range").disabled
    assert not viewer.radio(key="rfm_shade").disabled


def test_a_tampered_lock_shows_an_error_and_no_data(app_db: Path) -> None:
    at = open_page("pages/overview.py")
    at.sidebar.button(key="share_make_lock").click().run()
    q = _query(_links(at)[1])
    prefix, body, mac = q["lock"].split(".")
    tampered = q | {"lock": f"{prefix}.{body[:-2]}AA.{mac}"}
    viewer = open_page("pages/overview.py", tampered)
    assert [str(e.value) for e in viewer.error][0].startswith("This link's lock is not valid")
    assert len(viewer.metric) == 0
    assert len(viewer.title) == 0


def test_customer_links_keep_the_profile_tab_and_the_list_page(app_db: Path) -> None:
    at = open_page("pages/customers.py", {"p": "3"})
    assert problems(at) == []
    assert at.caption[0].value.startswith("All customers · **600** customers · showing 101–150,")
    profile = open_page("pages/customers.py",
                        {"customer": "demo-0000001", "profile_tab": "feedback"})
    assert problems(profile) == []
    assert profile.session_state["cu_profile_tab"] == "Feedback"
    assert "profile_tab=feedback" in _links(profile)[0]


def test_retention_links_keep_the_chosen_cell_the_churn_days_and_the_fit(app_db: Path) -> None:
    at = open_page("pages/retention.py", {"by": "month"})
    cohort = at.selectbox(key="ret_cell_cohort").options[0]
    at.selectbox(key="ret_cell_cohort").set_value(cohort)
    at.selectbox(key="ret_cell_period").set_value(1).run()
    assert problems(at) == []
    assert (_qp(at, "cell_cohort"), _qp(at, "cell_period")) == (cohort, "1")

    again = open_page("pages/retention.py", {"by": "month", "cell_cohort": cohort,
                                             "cell_period": "1"})
    assert problems(again) == []
    assert again.selectbox(key="ret_cell_cohort").value == cohort
    assert again.selectbox(key="ret_cell_period").value == 1

    churn = open_page("pages/retention.py", {"tab": "churn", "churn_days": "45"})
    assert problems(churn) == []
    assert churn.number_input(key="ret_churn_days").value == 45

    value = open_page("pages/retention.py", {"tab": "value", "fit": "1"})
    assert problems(value) == []
    assert not any("Press **Fit model**" in str(c.value) for c in value.caption)
    assert _qp(value, "fit") == "1"


def test_links_keep_the_other_pages_choices(app_db: Path) -> None:
    loyalty = open_page("pages/loyalty.py", {"view": "simulate", "rate": "35"})
    assert problems(loyalty) == []
    assert loyalty.number_input(key="loy_rate").value == 35
    segments = open_page("pages/segments.py", {"view": "export", "props": "orders,city"})
    assert problems(segments) == []
    assert segments.multiselect(key="sg_props").value == ["orders", "city"]


def test_a_viewer_can_copy_links_but_not_save_rename_or_delete(
    app_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.open_db(app_db) as c:
        save_view(c, "Alpha", "overview", LAST_30)
    monkeypatch.setattr(auth, "role_of", lambda _c, _actor: auth.Role.VIEWER)
    at = open_page("pages/overview.py")
    assert problems(at) == []
    assert len(_links(at)) == 1  # the link is there to copy
    assert not [b for b in at.sidebar.button if b.key == "share_save"]
    assert any("ask an admin for editor rights to save views" in str(c.value)
               for c in at.sidebar.caption)
    dash = open_page("pages/dashboards.py")
    assert problems(dash) == []
    assert not [b for b in dash.button if b.key in ("db_rename", "db_delete")]
    assert list(dash.dataframe[0].value["name"]) == ["Alpha"]


def test_a_saved_view_opened_with_a_lock_stays_locked(app_db: Path) -> None:
    at = open_page("pages/overview.py", {"range": "last_7_days"})
    at.sidebar.button(key="share_make_lock").click().run()
    token = _query(_links(at)[1])["lock"]
    with store.open_db(app_db) as c:
        v = save_view(c, "Wide RFM", "rfm", {"range": "all_time", "shade": "revenue"})
    viewer = open_page("pages/overview.py", {"saved": str(v.view_id), "lock": token})
    assert problems(viewer) == []
    assert [t.value for t in viewer.title] == ["RFM groups"]
    rng = viewer.sidebar.selectbox(key="f_range")
    assert (rng.value, rng.disabled) == ("last_7_days", True)
    assert viewer.radio(key="rfm_shade").value == "revenue"


def test_a_locked_link_to_a_deleted_segment_shows_nothing(app_db: Path) -> None:
    from relmark_core.segments import delete_segment, save_segment

    with store.open_db(app_db) as c:
        seg = save_segment(c, "Big spenders", {"conditions": [
            {"kind": "orders", "min_orders": 2}]})
    at = open_page("pages/overview.py", {"segment": str(seg.segment_id)})
    assert problems(at) == []
    at.sidebar.button(key="share_make_lock").click().run()
    q = _query(_links(at)[1])
    assert q["segment"] == str(seg.segment_id)
    with store.open_db(app_db) as c:
        delete_segment(c, seg.segment_id)
    viewer = open_page("pages/overview.py", q)
    assert [str(e.value) for e in viewer.error][0].startswith(
        f"The segment this locked link shows (id {seg.segment_id}) no longer exists")
    assert len(viewer.metric) == 0
