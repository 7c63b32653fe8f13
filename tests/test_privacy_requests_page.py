"""Privacy page (AppTest): the erasure and access-request section — find a person, nobody
found, erase after the confirmation, and what editors and viewers may do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relmark_core import auth, store
from tests.apptest import open_page, problems
from tests.builders import add_customer, order

PAGE = "pages/privacy.py"


@pytest.fixture
def shop_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "shop.duckdb"
    with store.open_db(path) as c:
        add_customer(c, "ann", email="ann@shop.com", first_name="Ann", last_name="Quist",
                     orders=[order("2024-03-01", 50), order("2024-04-01", 20)])
        add_customer(c, "ben", email="ben@shop.com", orders=[order("2024-03-02", 10)])
        store.set_meta(c, "initialised", "1")
    monkeypatch.setenv("RELMARK_DB", str(path))
    yield path


def _find(at, who: str):  # type: ignore[no-untyped-def]
    at.text_input(key="pv_req_who").input(who)
    at.button(key="pv_req_find").click()
    return at.run()


def test_find_then_erase(shop_db: Path) -> None:
    at = _find(open_page(PAGE), "ANN@shop.com")
    assert problems(at) == []
    assert any("1 customer record with 2 orders and 0 feedback answers" in m.value
               for m in at.markdown)
    assert at.button(key="pv_req_erase").disabled
    at.checkbox(key="pv_req_sure").check().run()
    at.button(key="pv_req_erase").click().run()
    assert problems(at) == []
    assert [s.value for s in at.success][0].startswith("Erased 1 customer record")
    with store.open_db(shop_db) as c:
        assert c.execute("SELECT count(*), sum(total) FROM orders").fetchall() == [(3, 80)]
        assert c.execute("SELECT count(*) FROM customers WHERE email = 'ann@shop.com' "
                         "OR last_name = 'Quist'").fetchall() == [(0,)]


def test_nobody_found_says_so(shop_db: Path) -> None:
    at = _find(open_page(PAGE), "nobody@shop.com")
    assert [i.value for i in at.info] == [
        "Nobody in Relmark has that email address or phone number: Relmark holds no data on "
        "this person."]


def test_editor_may_export_but_not_erase(shop_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "role_of", lambda conn, actor: auth.Role.EDITOR)
    at = _find(open_page(PAGE), "ann@shop.com")
    assert problems(at) == []
    at.button(key="pv_req_access").click().run()
    assert problems(at) == []
    assert "pv_req_erase" not in [b.key for b in at.button]
    assert any("ask an admin for admin rights to erase a person" in c.value for c in at.caption)


def test_viewer_cannot_look_people_up(shop_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "role_of", lambda conn, actor: auth.Role.VIEWER)
    at = open_page(PAGE)
    assert problems(at) == []
    assert "pv_req_who" not in [t.key for t in at.text_input]
