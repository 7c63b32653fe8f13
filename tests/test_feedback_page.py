"""AppTest for the Feedback page: every section on the demo data, and literal numbers, comment
filters, text-only comments and follow-up marks on a hand-built shop.

The shop (UTC, USD), viewed for March 2024 (``range=custom&start=2024-03-01&end=2024-04-01``)
as of 2024-03-31; the previous period is the 31 days before, 2024-01-30 .. 2024-02-29:

    customer  counted orders                    NPS answers (comment)                  CSAT  review
    ann       01-10 $100, 03-05 $50 (Sencha)    02-10: 10; 03-10: 10 "Great coffee…"   5     Sencha 5
    bob       02-01 $80 (Sencha)                03-12: 9 "Great tea…"                  4     Sencha 4
    cy        03-02 $40 (Mug)                   03-15: 7 "**bold** claims…"            2     Mug 2
    dee       2023-06-01 $200, 03-01 $60        03-20: 3 "<img src=x onerror=alert(1)>"
    eve       none                              02-05: 2

March NPS: 4 answers (10, 9, 7, 3): 2 promoters, 1 detractor -> NPS = 100 (2 - 1) / 4 = 25.0.
Margin: p = 0.5, d = 0.25, p + d - (p - d)^2 = 0.6875; 1.96 sqrt(0.6875 / 4) 100 = 81.26.
Previous: 2 answers (10, 2) -> NPS 0.0, margin 1.96 sqrt(1 / 2) 100 = 138.59. Change +25.0 with
margin sqrt(81.26^2 + 138.59^2) = 160.66, so not distinguishable from noise.
March CSAT: 5, 4, 2 -> 2 of 3 satisfied = 66.7%; no CSAT answers in the previous period.
Latest answers up to 03-31: ann 10, bob 9 (promoters), cy 7 (passive), dee 3, eve 2
(detractors). Revenue at risk = dee's net revenue 2023-04-01 .. 2024-03-31 = 200 + 60 = $260.00.
Follow-up list, newest first: dee (03-20), eve (02-05).
Reviews: Sencha 2 (5, 4 -> 4.50), Mug 1 (2.00); categories tea 2 (4.50), gear 1 (2.00).
ann and bob live in Norway, cy, dee and eve in Sweden. The saved segment "Sweden" in March: cy 7,
dee 3 -> NPS 100 (0 - 1) / 2 = -50.0, margin 1.96 sqrt((0.5 - 0.25) / 2) 100 = 69.30; its
comments are dee's and cy's; latest answers cy (passive), dee and eve (detractors), revenue at
risk still $260.00.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from relmark_core import store
from relmark_core.segments.saved import save_segment
from tests.apptest import open_page, problems
from tests.builders import add_customer, add_feedback, order, set_reporting

PAGE = "pages/feedback.py"
MARCH = {"range": "custom", "start": "2024-03-01", "end": "2024-04-01", "as_of": "2024-03-31",
         "grain": "month"}
XSS = "<img src=x onerror=alert(1)>"
BOLD = "**bold** claims, slow delivery"
DEE = "test:nps-dee"
EVE = "test:nps-eve"
NOTE = "Called her; a new bag is on its way"


def build_shop(conn: duckdb.DuckDBPyConnection) -> None:
    set_reporting(conn, "USD", "UTC")
    add_customer(conn, "ann", first_name="Ann", last_name="Lee", country="NO", orders=[
        order("2024-01-10", 100), order("2024-03-05", 50, lines=[("Sencha", "tea", 1, 50)])])
    add_customer(conn, "bob", first_name="Bob", last_name="Stone", country="NO", orders=[
        order("2024-02-01", 80, lines=[("Sencha", "tea", 2, 40)])])
    add_customer(conn, "cy", first_name="Cy", last_name="Park", country="SE", orders=[
        order("2024-03-02", 40, lines=[("Mug", "gear", 1, 40)])])
    add_customer(conn, "dee", first_name="Dee", last_name="Moss", country="SE", orders=[
        order("2023-06-01", 200), order("2024-03-01", 60)])
    add_customer(conn, "eve", first_name="Eve", last_name="Hart", country="SE")
    add_feedback(conn, "ann", "2024-02-10", 10, comment="Always good")
    add_feedback(conn, "eve", "2024-02-05", 2, comment="Never arrived", response_id=EVE)
    add_feedback(conn, "ann", "2024-03-10", 10, comment="Great coffee, fast delivery")
    add_feedback(conn, "bob", "2024-03-12", 9, comment="Great tea and lovely packaging")
    add_feedback(conn, "cy", "2024-03-15", 7, comment=BOLD)
    add_feedback(conn, "dee", "2024-03-20", 3, comment=XSS, response_id=DEE)
    for who, score in (("ann", 5), ("bob", 4), ("cy", 2)):
        add_feedback(conn, who, "2024-03-08", score, kind="csat")
    for who, score, product in (("ann", 5, "Sencha"), ("bob", 4, "Sencha"), ("cy", 2, "Mug")):
        add_feedback(conn, who, "2024-03-09", score, kind="review", product=product,
                     comment=f"{product} review")
    store.set_meta(conn, "initialised", "1")  # not a first start: no demo shop is loaded


@pytest.fixture
def shop_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "shop.duckdb"
    with store.open_db(path) as conn:
        build_shop(conn)
    monkeypatch.setenv("RELMARK_DB", str(path))
    yield path


def table(at: AppTest, column: str, *, without: str | None = None) -> Any:
    """The first table holding ``column`` (and not ``without``); read-only tables carry no key
    in AppTest."""
    return next(d.value for d in at.dataframe
                if column in d.value.columns and (without is None or without not in d.value.columns))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def markdown_text(at: AppTest) -> str:
    """Every markdown and caption on the page as the reader sees it (escapes and bold marks
    removed)."""
    parts = [str(m.value) for m in at.markdown] + [str(c.value) for c in at.caption]
    return re.sub(r"\\(.)", r"\1", "\n".join(parts).replace("**", ""))


def texts(at: AppTest) -> list[str]:
    return [str(t.value) for t in at.text]


# --- every section on the demo data ----------------------------------------------------------

SECTION_MARKS = {
    "scores": ["NPS", "NPS margin of error", "NPS answers", "CSAT", "CSAT answers"],
    "reviews": ["Reviews"],
    "comments": [],
    "behaviour": ["Revenue at risk", "Promoters", "Passives", "Detractors"],
    "followup": ["Open", "Contacted", "Resolved"],
}


@pytest.mark.parametrize("section", list(SECTION_MARKS))
def test_each_section_renders_on_demo_data(section: str, app_db: Path) -> None:
    at = open_page(PAGE, {"tab": section})
    assert problems(at) == []
    assert [t.value for t in at.title] == ["Feedback"]
    assert at.radio(key="fb_tab").value == section
    assert [m.label for m in at.metric] == SECTION_MARKS[section]
    assert all(m.help for m in at.metric)
    if section == "scores":
        said = markdown_text(at)
        assert "not distinguishable from noise" in said or "a real move" in said
        assert len(at.get("plotly_chart")) == 2
        assert {"nps", "margin_of_error"} <= set(table(at, "group").columns)
    if section == "comments":
        assert len(table(at, "sentiment")) > 0
        assert len(table(at, "detractor_share")) > 0
    if section == "followup":
        assert len(table(at, "revenue_12m")) > 0
        assert len(at.get("download_button")) == 0  # the CSV is built on request
        at.button(key="fb_fu_export").click().run()
        assert problems(at) == []
        assert len(at.get("download_button")) == 1


def test_filtering_to_detractors_narrows_the_demo_comments(app_db: Path) -> None:
    at = open_page(PAGE, {"tab": "comments", "range": "last_365_days"})
    everyone = table(at, "sentiment")
    assert set(everyone["nps_group"]) == {"promoter", "passive", "detractor"}
    at.selectbox(key="fb_group").set_value("detractor").run()
    assert problems(at) == []
    detractors = table(at, "sentiment")
    assert 0 < len(detractors) < len(everyone)
    assert set(detractors["nps_group"]) == {"detractor"}
    assert detractors["score"].max() <= 6
    assert at.query_params["group"] in ("detractor", ["detractor"])


# --- literal numbers on the hand-built shop --------------------------------------------------


def test_scores_margins_and_the_change_in_words(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH)
    assert problems(at) == []
    assert metrics(at) == {"NPS": "25.0", "NPS margin of error": "±81.3", "NPS answers": "4",
                           "CSAT": "66.7%", "CSAT answers": "3"}
    said = markdown_text(at)
    assert ("NPS +25.0 points against the previous 31 days (0.0 on 2 answers) — not "
            "distinguishable from noise: smaller than the change's 95% margin of ±160.7 points."
            ) in said
    assert "No CSAT answers in the previous period to compare with." in said
    trend = table(at, "margin_of_error", without="group")
    march = trend[trend["period"] == "2024-03"].iloc[0]
    assert (march["responses"], march["promoters"], march["detractors"]) == (4, 2, 1)


def test_reviews_by_category_and_product(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH | {"tab": "reviews"})
    assert problems(at) == []
    assert metrics(at) == {"Reviews": "3"}
    cats = table(at, "category")
    assert cats[["category", "reviews", "average_rating"]].values.tolist() == [
        ["tea", 2, 4.5], ["gear", 1, 2.0]]
    products = table(at, "product")
    assert products[["product", "reviews", "average_rating"]].values.tolist() == [
        ["Sencha", 2, 4.5], ["Mug", 1, 2.0]]


def test_behaviour_and_revenue_at_risk(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH | {"tab": "behaviour"})
    assert problems(at) == []
    assert metrics(at) == {"Revenue at risk": "$260.00", "Promoters": "2", "Passives": "1",
                           "Detractors": "2"}


def test_comments_show_as_text_and_filter_to_detractors(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH | {"tab": "comments"})
    assert problems(at) == []
    listed = table(at, "sentiment")
    assert list(listed["score"]) == [3, 7, 9, 10]  # newest first
    assert list(listed["comment"])[:2] == [XSS, BOLD]
    # the full texts are plain text elements, exactly as written
    assert texts(at)[:2] == [XSS, BOLD]
    said = markdown_text(at)
    assert "onerror" not in said and "bold" not in said

    at.selectbox(key="fb_group").set_value("detractor").run()
    assert problems(at) == []
    assert list(table(at, "sentiment")["comment"]) == [XSS]
    assert texts(at) == [XSS]

    at.text_input(key="fb_q").input("GREAT").run()  # searching is not case-sensitive
    assert any("No comments match" in str(i.value) for i in at.info)
    at.selectbox(key="fb_group").set_value("all").run()
    assert list(table(at, "sentiment")["score"]) == [9, 10]


def test_the_comment_view_comes_from_the_url(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH | {"tab": "comments", "group": "promoter", "q": "tea"})
    assert problems(at) == []
    assert at.selectbox(key="fb_group").value == "promoter"
    assert list(table(at, "sentiment")["comment"]) == ["Great tea and lovely packaging"]


def saved_marks(path: Path) -> list[tuple[Any, ...]]:
    with store.open_db(path) as conn:
        return conn.execute(
            "SELECT response_id, status, note, updated_by FROM feedback_followups"
        ).fetchall()


def test_marking_a_follow_up_persists(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH | {"tab": "followup"})
    assert problems(at) == []
    assert metrics(at) == {"Open": "2", "Contacted": "0", "Resolved": "0"}
    assert list(table(at, "revenue_12m")["response_id"]) == [DEE, EVE]
    assert at.selectbox(key="fb_fu_pick").value == DEE
    assert "Status: Open" in markdown_text(at)

    at.radio(key="fb_fu_status").set_value("contacted")
    at.text_area(key="fb_fu_note").input(NOTE)
    at.button(key="fb_fu_save").click().run()
    assert problems(at) == []
    assert [str(s.value) for s in at.success] == ["Marked contacted."]
    assert metrics(at) == {"Open": "1", "Contacted": "1", "Resolved": "0"}
    assert saved_marks(shop_db) == [(DEE, "contacted", NOTE, "local")]

    at.run()  # another rerun: still contacted, with the note
    assert "Status: Contacted" in markdown_text(at)
    assert f"Note: {NOTE}" in texts(at)
    statuses = table(at, "revenue_12m").set_index("response_id")["status"]
    assert statuses.to_dict() == {DEE: "Contacted", EVE: "Open"}
    at.button(key="fb_fu_export").click().run()
    (download,) = at.get("download_button")
    assert download.proto.label == "Download the CSV (2 rows)"

    # a new session (a reload) reads the mark from the database; resolve it there
    again = open_page(PAGE, MARCH | {"tab": "followup", "status": "contacted"})
    assert list(table(again, "revenue_12m")["response_id"]) == [DEE]
    assert again.text_area(key="fb_fu_note").value == NOTE
    again.radio(key="fb_fu_status").set_value("resolved")
    again.button(key="fb_fu_save").click().run()
    assert problems(again) == []
    assert saved_marks(shop_db) == [(DEE, "resolved", NOTE, "local")]
    # the contacted filter is empty now; the page says so
    assert any("Nobody on this list" in str(i.value) for i in again.info)


def test_marking_an_answer_removed_meanwhile_is_refused_in_words(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH | {"tab": "followup"})
    assert at.selectbox(key="fb_fu_pick").value == DEE
    with store.open_db(shop_db) as conn:  # e.g. its import is undone from the command line
        conn.execute("DELETE FROM feedback WHERE response_id = ?", [DEE])
    at.button(key="fb_fu_save").click().run()
    assert [str(e.value) for e in at.error] == [
        f"There is no answer with id '{DEE}' in the store (was its import undone?). Reload the "
        "follow-up list and try again."
    ]
    assert saved_marks(shop_db) == []


def test_the_sidebar_segment_narrows_the_page(shop_db: Path) -> None:
    with store.open_db(shop_db) as conn:
        sweden = save_segment(conn, "Sweden", {"conditions": [{"kind": "location",
                                                              "values": ["SE"]}]})
    at = open_page(PAGE, MARCH | {"segment": str(sweden.segment_id)})
    assert problems(at) == []
    assert {k: v for k, v in metrics(at).items() if k.startswith("NPS")} == {
        "NPS": "−50.0", "NPS margin of error": "±69.3", "NPS answers": "2"}
    assert "segment “Sweden”" in markdown_text(at)
    at = open_page(PAGE, MARCH | {"segment": str(sweden.segment_id), "tab": "comments"})
    assert list(table(at, "sentiment")["comment"]) == [XSS, BOLD]
    at = open_page(PAGE, MARCH | {"segment": str(sweden.segment_id), "tab": "behaviour"})
    assert metrics(at) == {"Revenue at risk": "$260.00", "Promoters": "0", "Passives": "1",
                           "Detractors": "2"}


def test_reviews_and_csat_comments_list_too(shop_db: Path) -> None:
    at = open_page(PAGE, MARCH | {"tab": "comments", "kind": "review"})
    assert problems(at) == []
    listed = table(at, "sentiment")
    assert sorted(zip(listed["product"], listed["score"], strict=True)) == [
        ("Mug", 2), ("Sencha", 4), ("Sencha", 5)]
    assert not at.get("selectbox") or all(s.key != "fb_group" for s in at.selectbox)
    at.selectbox(key="fb_kind").set_value("all").run()
    assert problems(at) == []
    # four NPS comments and three reviews in March (the CSAT answers have no comment)
    assert sorted(table(at, "sentiment")["kind"]) == ["nps"] * 4 + ["review"] * 3
