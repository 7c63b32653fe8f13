"""Offers: the model's sentence and checks, tokens, codes, holdout, cost and power hint, launch
once (also from two threads), cancel/re-open, exports and results with literal intervals."""

from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from relmark_core import source, store
from relmark_core.errors import InputRefused
from relmark_core.offers import (
    CODE_ALPHABET,
    NO_EFFECT_YET,
    assign_holdout,
    bootstrap_mean_difference,
    cancel_offer,
    detectable_uplift,
    expected_cost,
    export_offer,
    frozen_members,
    generate_codes,
    get_offer,
    launch_offer,
    newcombe_interval,
    offer_events,
    offer_results,
    parse_offer,
    plan_audience,
    preview_message,
    render_message,
    reopen_offer,
    save_offer,
)
from relmark_core.segments import save_segment
from tests.builders import add_customer, order

TODAY = date(2024, 12, 1)


def _offer(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Winter thanks", "segment_id": 1, "offer_type": "percent_off", "value": 10,
        "channel": "email", "starts_on": "2024-12-01", "ends_on": "2024-12-14",
        "message": "Hi {first_name}, your {tier} perk: 10% off {favourite_category}",
    }
    return base | kw


# --- the model -----------------------------------------------------------------------------------


def test_sentence() -> None:
    o = parse_offer(_offer())
    assert o.sentence("Loyal customers") == (
        "10% off for Loyal customers by email, 1–14 Dec 2024, 10% held out")
    o2 = parse_offer(_offer(offer_type="amount_off", value=5, channel="sms", holdout_pct=0,
                            starts_on="2024-11-28", ends_on="2024-12-05"))
    assert o2.sentence("Lapsed") == "$5 off for Lapsed by SMS, 28 Nov – 5 Dec 2024, no holdout"
    o3 = parse_offer(_offer(offer_type="free_shipping", channel="in_store", holdout_pct=20))
    assert o3.sentence("VIP") == "Free shipping for VIP in store, 1–14 Dec 2024, 20% held out"


@pytest.mark.parametrize(("change", "words"), [
    ({"message": "Hi {name}"}, "unknown token {name}"),
    ({"ends_on": "2024-11-30"}, "ends (2024-11-30) before it starts"),
    ({"value": 150}, "percent between 1 and 100"),
    ({"code_mode": "shared", "shared_code": "AB"}, "at least 4"),
    ({"code_prefix": "WIN TER"}, "only letters, digits and '-'"),
    ({"holdout_pct": 60}, "holdout_pct"),
])
def test_refusals_name_the_field(change: dict[str, Any], words: str) -> None:
    with pytest.raises(InputRefused, match="The offer was not saved") as exc:
        parse_offer(_offer(**change))
    assert words in str(exc.value)


def test_message_tokens_and_fallbacks() -> None:
    o = parse_offer(_offer(fallbacks={"first_name": "friend"}))
    values = {"first_name": "  ", "tier": "Gold", "favourite_category": None}
    assert render_message(o.message, values, o.fallbacks) == (
        "Hi friend, your Gold perk: 10% off our range")


def test_codes_unguessable_alphabet_and_distinct() -> None:
    codes = generate_codes(2_000, prefix="WIN-")
    assert len(set(codes)) == 2_000
    assert all(c.startswith("WIN-") and len(c) == 14 for c in codes)
    used = set("".join(c[4:] for c in codes))
    assert used <= set(CODE_ALPHABET)
    assert not used & set("0O1IL")
    assert len(used) == 31  # 20,000 draws reach every one of the 31 characters
    again = generate_codes(5, taken=codes)
    assert not set(again) & set(codes)


def test_holdout_is_reproducible_from_its_seed() -> None:
    ids = [f"c{i:02d}" for i in range(1, 11)]
    # sha256("s1:cNN") ranked by hand (hashlib in a shell): c01 and c07 come first; 10 × 20% = 2
    ranked = sorted(ids, key=lambda c: hashlib.sha256(f"s1:{c}".encode()).digest())
    assert ranked[:2] == ["c01", "c07"]
    assert assign_holdout(ids, seed="s1", pct=20) == {"c01", "c07"}
    assert assign_holdout(reversed(ids), seed="s1", pct=20) == {"c01", "c07"}
    assert assign_holdout(ids, seed="s2", pct=20) != {"c01", "c07"}
    assert len(assign_holdout([f"c{i}" for i in range(15)], seed="x", pct=10)) == 2  # 1.5 -> 2


def test_cost_and_power_hint() -> None:
    o = parse_offer(_offer())
    # 900 treated × 10% redeem × (10% of a $50 order = $5) = $450
    assert expected_cost(o, treated=900, average_order_value=50.0) == pytest.approx(450.0)
    pts = parse_offer(_offer(offer_type="bonus_points", value=200))
    assert expected_cost(pts, treated=100, average_order_value=50.0) == pytest.approx(20.0)
    # (1.959964 + 0.841621) × √(0.1 × 0.9 × (1/900 + 1/100)) = 2.801585 × √0.001 = 0.088594
    assert detectable_uplift(baseline=0.1, treated=900, holdout=100) == pytest.approx(
        0.088594, abs=1e-6)
    assert detectable_uplift(baseline=0.1, treated=900, holdout=0) is None


# --- statistics -----------------------------------------------------------------------------------


def test_newcombe_worked_examples() -> None:
    # Treatment 90/900 = 0.10, holdout 5/100 = 0.05, d = 0.05.
    # Wilson 95% (z = 1.959964): 90/900 -> (0.082068, 0.121332); 5/100 -> (0.021544, 0.111750).
    # lower = 0.05 − √((0.10 − 0.082068)² + (0.111750 − 0.05)²) = 0.05 − √0.0041347 = −0.014301
    # upper = 0.05 + √((0.121332 − 0.10)² + (0.05 − 0.021544)²) = 0.05 + √0.0012648 = 0.085564
    lo, hi = newcombe_interval(90, 900, 5, 100)
    assert lo == pytest.approx(-0.014301, abs=1e-6)
    assert hi == pytest.approx(0.085564, abs=1e-6)
    # 180/900 = 0.20 vs 8/100 = 0.08, d = 0.12; Wilson (0.175167, 0.227383), (0.041093, 0.149981)
    # lower = 0.12 − √(0.024833² + 0.069981²) = 0.045743; upper = 0.12 + √(0.027383² + 0.038907²)
    lo, hi = newcombe_interval(180, 900, 8, 100)
    assert (round(lo, 6), round(hi, 6)) == (0.045743, 0.167577)


def test_bootstrap_is_seeded_and_deterministic() -> None:
    a = np.array([0.0, 0.0, 50.0, 80.0, 0.0, 120.0])
    b = np.array([0.0, 40.0, 0.0])
    assert bootstrap_mean_difference(a, b) == bootstrap_mean_difference(a, b)
    lo, hi = bootstrap_mean_difference(a, b)
    assert lo < 250 / 6 - 40 / 3 < hi
    assert bootstrap_mean_difference(np.full(4, 10.0), np.full(3, 4.0)) == (6.0, 6.0)


# --- a small shop ----------------------------------------------------------------------------------


def _shop(conn: duckdb.DuckDBPyConnection) -> None:
    """20 German customers c01..c20 (c19, c20 without consent), one of them with a formula name,
    history in November, and a segment "Germany" (id 1)."""
    for i in range(1, 21):
        cid = f"c{i:02d}"
        add_customer(
            conn, cid, email=f" {cid.upper()}@Shop.com ", country="DE",
            first_name="=HYPERLINK(\"x\")" if i == 3 else f"Ann{i}" if i != 4 else None,
            last_name="Lee", accepts_marketing=i <= 18,
            orders=[order("2024-11-10", 40, lines=[("Mug", "Kitchen", 2, 20)])] if i % 2 else [],
        )
    save_segment(conn, "Germany", {"conditions": [{"kind": "location", "values": ["DE"]}]})


def test_plan_and_launch_once(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    saved = save_offer(conn, _offer(), seed="s1", actor="mia")
    plan = plan_audience(conn, saved.offer, as_of=TODAY, seed="s1")
    # 20 members − 2 without consent = 18 eligible; 10% of 18 = 1.8 -> 2 held out, 16 treated
    assert (plan.segment_members, plan.excluded_no_consent, plan.eligible) == (20, 2, 18)
    assert (plan.holdout, plan.treated) == (2, 16)
    # baseline: 9 of the 18 ordered in the 14 days before 1 Dec? No: Nov 10 is 21 days back.
    assert plan.baseline_conversion == 0.0
    first = launch_offer(conn, saved.offer_id, as_of=TODAY, actor="mia")
    second = launch_offer(conn, saved.offer_id, as_of=TODAY, actor="mia")
    assert (first.launched, first.treated, first.holdout) == (True, 16, 2)
    assert (second.launched, second.treated, second.holdout) == (False, 16, 2)
    m = frozen_members(conn, saved.offer_id)
    assert len(m) == 18
    held = set(m.loc[m["arm"] == "holdout", "customer_id"])
    assert held == assign_holdout([f"c{i:02d}" for i in range(1, 19)], seed="s1", pct=10)
    codes = m.loc[m["arm"] == "treatment", "code"]
    assert codes.notna().all() and codes.nunique() == 16
    assert m.loc[m["arm"] == "holdout", "code"].isna().all()
    assert store.scalar(conn, "SELECT count(*) FROM offer_codes") == 16
    assert store.scalar(conn, "SELECT count(*) FROM offer_launches") == 1
    ev = offer_events(conn, saved.offer_id)
    assert list(ev["event"]) == ["created", "launched"]
    assert set(ev["actor"]) == {"mia"}


def test_launch_from_two_threads_launches_once(tmp_path: Any) -> None:
    with store.open_db(tmp_path / "t.duckdb") as conn:
        _shop(conn)
        saved = save_offer(conn, _offer(), seed="s1")
        results: list[Any] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def run() -> None:
            cur = conn.cursor()
            try:
                barrier.wait()
                results.append(launch_offer(cur, saved.offer_id, as_of=TODAY))
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)
            finally:
                cur.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(r.launched for r in results) == [False, True]
        assert store.scalar(conn, "SELECT count(*) FROM offer_members") == 18
        assert store.scalar(conn, "SELECT count(*) FROM offer_codes") == 16
        assert store.scalar(
            conn, "SELECT count(*) FROM offer_events WHERE event = 'launched'") == 1


def test_exclusions_recent_and_running_offers(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    first = save_offer(conn, _offer(holdout_pct=0), seed="s1")
    launch_offer(conn, first.offer_id, as_of=TODAY)
    # a second offer for the same people: all 18 received one today (cap 14 days)
    second = save_offer(conn, _offer(name="Again", holdout_pct=0), seed="s2")
    plan = plan_audience(conn, second.offer, as_of=TODAY, offer_id=second.offer_id)
    assert (plan.excluded_no_consent, plan.excluded_recent_offer, plan.eligible) == (2, 18, 0)
    with pytest.raises(InputRefused, match="Nobody is left"):
        launch_offer(conn, second.offer_id, as_of=TODAY)
    # without the cap they are still in a running offer whose window overlaps
    nocap = parse_offer(_offer(name="Again", holdout_pct=0, frequency_cap_days=None))
    plan = plan_audience(conn, nocap, as_of=TODAY)
    assert (plan.excluded_recent_offer, plan.excluded_running_offer) == (0, 18)
    # once the first is cancelled, nobody is in a running offer
    cancel_offer(conn, first.offer_id, reason="typo in the message", actor="mia")
    assert plan_audience(conn, nocap, as_of=TODAY).eligible == 18
    reopen_offer(conn, first.offer_id, reason="fixed", actor="tom")
    ev = offer_events(conn, first.offer_id)
    assert list(ev["event"]) == ["created", "launched", "cancelled", "reopened"]
    assert list(ev["actor"])[2:] == ["mia", "tom"]
    assert list(ev["detail"])[2:] == ["typo in the message", "fixed"]
    with pytest.raises(InputRefused, match="Only a cancelled offer can be reopened"):
        reopen_offer(conn, first.offer_id)


def test_preview_and_exports(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    saved = save_offer(conn, _offer(holdout_pct=0, code_mode="shared", shared_code="winter10"),
                       seed="s1")
    assert preview_message(conn, saved.offer, "c01") == (
        "Hi Ann1, your member perk: 10% off Kitchen")
    assert preview_message(conn, saved.offer, "c04") == (
        "Hi there, your member perk: 10% off our range")
    with pytest.raises(InputRefused, match="Launch the offer first"):
        export_offer(conn, saved.offer_id, "email")
    launch_offer(conn, saved.offer_id, as_of=TODAY)
    email = export_offer(conn, saved.offer_id, "email")
    df = pd.read_csv(pd.io.common.BytesIO(email.data), dtype=str, keep_default_na=False)
    assert email.columns == ("Email", "First Name", "Last Name", "Code", "Message", "Tier",
                             "Points Balance", "Favourite Category", "Last Product",
                             "Offer Ends")
    assert len(df) == 18
    row1 = df.iloc[0].to_dict()
    assert row1 == {"Email": "C01@Shop.com", "First Name": "Ann1", "Last Name": "Lee",
                    "Code": "WINTER10", "Message": "Hi Ann1, your member perk: 10% off Kitchen",
                    "Tier": "", "Points Balance": "", "Favourite Category": "Kitchen",
                    "Last Product": "Mug", "Offer Ends": "2024-12-14"}
    assert df.iloc[2]["First Name"] == "'=HYPERLINK(\"x\")"
    assert df.iloc[2]["Message"].startswith("Hi =HYPERLINK")  # not at the cell's start
    # Ads audiences need their own consent (relmark_core.privacy.reach): 17 of the 18 gave it.
    conn.execute("INSERT INTO consent SELECT customer_id, 'ads', customer_id <> 'c02', 'test', "
                 "TIMESTAMP '2024-01-01', NULL FROM customers")
    ads = export_offer(conn, saved.offer_id, "ads")
    lines = ads.data.decode().splitlines()
    assert lines[0] == "email" and len(lines) == 18
    assert (ads.suppressed, ads.no_consent) == (0, 1)
    # sha256("c01@shop.com"): the address trimmed and lower-cased
    assert hashlib.sha256(b"c01@shop.com").hexdigest() in lines
    codes = export_offer(conn, saved.offer_id, "codes")
    assert codes.data.decode() == "Code\nWINTER10\n"


def test_results_with_later_orders(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    saved = save_offer(conn, _offer(holdout_pct=50), seed="s1")
    launch_offer(conn, saved.offer_id, as_of=TODAY)
    m = frozen_members(conn, saved.offer_id)
    t = m[m["arm"] == "treatment"].reset_index(drop=True)
    h = m[m["arm"] == "holdout"].reset_index(drop=True)
    assert (len(t), len(h)) == (9, 9)
    from tests.builders import add_order

    # 3 treated redeem their codes (60, 80, 100 with a 10% discount recorded), one treated buys
    # without the code; 1 held-out buys 50; an order after the window and a cancelled one do
    # not count.
    for i, total in enumerate([60, 80, 100]):
        add_order(conn, t.customer_id[i], order(datetime(2024, 12, 3 + i, 10), total,
                  discounts=total / 10, discount_code=f" {t.code[i].lower()} "))
    add_order(conn, t.customer_id[3], order("2024-12-10", 20))
    add_order(conn, h.customer_id[0], order("2024-12-05", 50))
    add_order(conn, h.customer_id[1], order("2024-12-20", 500))
    add_order(conn, h.customer_id[2], order("2024-12-06", 70, status="cancelled"))
    r = offer_results(conn, source.from_duckdb(conn), saved.offer_id)
    assert (r.redemptions, r.treated_converted, r.holdout_converted) == (3, 4, 1)
    assert r.treated_conversion == pytest.approx(4 / 9)
    assert r.holdout_conversion == pytest.approx(1 / 9)
    assert r.uplift == pytest.approx(3 / 9)
    # revenue per member: (60+80+100+20)/9 = 28.888…; 50/9 = 5.555…; difference 23.333…
    assert r.treated_revenue_per_member == pytest.approx(260 / 9)
    assert r.incremental_per_member == pytest.approx(210 / 9)
    assert r.incremental_revenue == pytest.approx(210.0)
    assert r.cost == pytest.approx(24.0)  # 6 + 8 + 10 recorded discounts
    assert r.net_return == pytest.approx(186.0)
    # 4/9 vs 1/9 on 9 each: the interval still includes 0
    assert r.uplift_low is not None and r.uplift_low < 0 < (r.uplift_high or 0)
    assert NO_EFFECT_YET in r.conversion_verdict()
    assert "%" not in r.conversion_verdict().split("(")[0]


def test_launched_offer_is_frozen(conn: duckdb.DuckDBPyConnection) -> None:
    from relmark_core.offers import update_offer

    _shop(conn)
    saved = save_offer(conn, _offer())
    update_offer(conn, saved.offer_id, _offer(value=15))
    assert get_offer(conn, saved.offer_id).offer.value == Decimal("15")
    launch_offer(conn, saved.offer_id, as_of=TODAY)
    with pytest.raises(InputRefused, match="frozen"):
        update_offer(conn, saved.offer_id, _offer(value=20))
