"""filter_reachable: the suppression list first (email or phone), then consent per channel."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from relmark_core import auth, source
from relmark_core.errors import NotAllowed
from relmark_core.feedback_followup import followups_csv
from relmark_core.loyalty import members_csv
from relmark_core.offers import SavedOffer, export_offer, launch_offer, plan_audience, save_offer
from relmark_core.offers.export import ExportKind
from relmark_core.privacy import suppression
from relmark_core.privacy.reach import Channel, Reach, filter_reachable, filter_suppressed
from relmark_core.segments import export_members, member_ids, parse_definition, save_segment
from tests.builders import add_customer


def _consent(conn: duckdb.DuckDBPyConnection, customer_id: str, channel: str, granted: bool) -> None:
    conn.execute(
        "INSERT INTO consent VALUES (?, ?, ?, 'test', TIMESTAMP '2024-01-01', NULL)",
        [customer_id, channel, granted],
    )


def _shop(conn: duckdb.DuckDBPyConnection) -> None:
    # a: email yes, sms yes; b: email yes but suppressed by email; c: sms yes but its phone is
    # suppressed (written differently); d: email withdrawn; e: nothing known (accepts NULL);
    # f: no consent row, accepts_marketing yes (an earlier import's answer counts for email).
    for cid, accepts in (("a", None), ("b", None), ("c", None), ("d", True), ("e", None),
                         ("f", True)):
        add_customer(conn, cid, email=f"{cid.upper()}@Shop.com", accepts_marketing=accepts)
    conn.execute("UPDATE customers SET phone = '+1 555 000 000' || customer_id "
                 "WHERE customer_id IN ('a', 'c')")
    conn.execute("UPDATE customers SET phone = '''+15550000003' WHERE customer_id = 'c'")
    _consent(conn, "a", "email", True)
    _consent(conn, "a", "sms", True)
    _consent(conn, "b", "email", True)
    _consent(conn, "c", "sms", True)
    _consent(conn, "c", "email", True)
    _consent(conn, "d", "email", False)  # the row wins over accepts_marketing
    suppression.add_entry(conn, "b@shop.com")
    suppression.add_entry(conn, "+1 (555) 000-0003 ", kind="phone")


IDS = ["a", "b", "c", "d", "e", "f", "zz"]


def test_email_reach(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    # c is suppressed by its phone on every channel, even with email consent; zz is unknown.
    assert filter_reachable(conn, IDS, Channel.EMAIL) == Reach(
        kept=["a", "f"], suppressed=2, no_consent=3)


def test_sms_reach_counts_suppression_before_consent(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    # b has no SMS consent but is counted as suppressed (checked first), not as without consent.
    assert filter_reachable(conn, IDS, Channel.SMS) == Reach(
        kept=["a"], suppressed=2, no_consent=4)


def test_ads_reach_needs_ads_consent(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    _consent(conn, "e", "ads", True)
    reach = filter_reachable(conn, ["e", "a", "e"], Channel.ADS)
    assert reach == Reach(kept=["e", "e"], suppressed=0, no_consent=1)
    assert reach.sentence() == "1 excluded: 0 suppressed, 1 without consent"


def test_suppression_alone_and_empty_input(conn: duckdb.DuckDBPyConnection) -> None:
    _shop(conn)
    assert filter_suppressed(conn, IDS) == Reach(
        kept=["a", "d", "e", "f", "zz"], suppressed=2, no_consent=0)
    assert filter_reachable(conn, [], Channel.EMAIL) == Reach(kept=[], suppressed=0, no_consent=0)


# --- the exports ------------------------------------------------------------------------------

AS_OF = date(2024, 12, 1)


def _six(conn: duckdb.DuckDBPyConnection) -> None:
    """p1..p6 with email and phone: p1, p2, p3 consent on every channel, p4 only email,
    p5 nothing known, p6 withdrew email; p2 suppressed by email, p3 by phone."""
    for i in range(1, 7):
        add_customer(conn, f"p{i}", email=f"P{i}@shop.com", first_name=f"P{i}",
                     accepts_marketing=None)
    conn.execute("UPDATE customers SET phone = '+4670000000' || right(customer_id, 1)")
    for cid in ("p1", "p2", "p3"):
        for ch in ("email", "sms", "ads"):
            _consent(conn, cid, ch, True)
    _consent(conn, "p4", "email", True)
    _consent(conn, "p6", "email", False)
    suppression.add_entry(conn, "p2@SHOP.com")
    suppression.add_entry(conn, "+46 70 000 0003")


def test_segment_export_leaves_out_suppressed_then_unconsented(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    _six(conn)
    src = source.from_duckdb(conn)
    got = export_members(src, definition=parse_definition({}), as_of=AS_OF, properties=[])
    assert got.data.decode() == (
        "Email,First Name,Last Name\nP1@shop.com,P1,\nP4@shop.com,P4,\n")
    assert (got.rows, got.excluded_suppressed, got.excluded_no_consent,
            got.excluded_no_email) == (2, 2, 2, 0)
    assert got.summary() == (
        "2 customers in the file; left out 2 on the suppression list and 2 without "
        "email-marketing consent.")
    # Messages that need no consent still skip the suppression list.
    everyone = export_members(src, definition=parse_definition({}), as_of=AS_OF, properties=[],
                              include_unconsented=True)
    assert (everyone.rows, everyone.excluded_suppressed, everyone.excluded_no_consent) == (4, 2, 0)


def test_consent_condition_reads_the_channel(conn: duckdb.DuckDBPyConnection) -> None:
    _six(conn)
    src = source.from_duckdb(conn)

    def who(cond: dict[str, object]) -> list[str]:
        d = parse_definition({"conditions": [{"kind": "consent", **cond}]})
        return sorted(src.execute(member_ids(src, d, as_of=AS_OF))["customer_id"])

    assert who({}) == ["p1", "p2", "p3", "p4"]
    assert who({"channel": "sms"}) == ["p1", "p2", "p3"]
    assert who({"channel": "sms", "consented": False}) == ["p4", "p5", "p6"]
    d = parse_definition({"conditions": [{"kind": "consent", "channel": "ads"}]})
    assert d.sentence("USD") == "Customers who accept ads (custom audiences)"


def _offer_to_everyone(conn: duckdb.DuckDBPyConnection) -> SavedOffer:
    """The six customers of :func:`_six`, a segment of everyone and a draft email offer to it
    with a shared code, no holdout and no consent check at launch."""
    _six(conn)
    save_segment(conn, "All", {"conditions": []})
    return save_offer(conn, {
        "name": "Thanks", "segment_id": 1, "offer_type": "percent_off", "value": 10,
        "channel": "email", "starts_on": "2024-12-01", "ends_on": "2024-12-14",
        "message": "Hi {first_name}", "holdout_pct": 0, "exclude_no_consent": False,
        "code_mode": "shared", "shared_code": "THANKS"}, seed="s")


@pytest.mark.parametrize(
    ("kind", "rows", "suppressed", "no_consent"),
    [("email", 1, 1, 2), ("sms", 1, 1, 2), ("ads", 1, 1, 2)],
)
def test_each_offer_channel_export_honours_suppression_and_consent(
    conn: duckdb.DuckDBPyConnection, kind: ExportKind, rows: int, suppressed: int,
    no_consent: int,
) -> None:
    saved = _offer_to_everyone(conn)
    # The launch leaves out p2 and p3 (suppressed); consent is not asked here.
    assert plan_audience(conn, saved.offer, as_of=AS_OF).sentence() == (
        "6 in the segment, leaving out 2 on the suppression list: 4 get the offer and 0 are "
        "held out.")
    launch_offer(conn, saved.offer_id, as_of=AS_OF)
    # p4 asks to stop after the launch: the export leaves them out on every channel; p5 and p6
    # have no consent on any of these channels.
    suppression.add_entry(conn, "p4@shop.com", reason="unsubscribed")
    got = export_offer(conn, saved.offer_id, kind)
    assert (got.rows, got.suppressed, got.no_consent) == (rows, suppressed, no_consent)
    text = got.data.decode()
    assert "p4@shop.com" not in text.lower() and "+46700000004" not in text
    assert got.excluded_sentence() == (
        f"{suppressed + no_consent} excluded: {suppressed} suppressed, "
        f"{no_consent} without consent")
    if kind == "sms":
        assert text.splitlines()[1:] == ["'+46700000001,P1,THANKS,Hi P1"]


def test_viewers_get_aggregates_but_not_personal_data(
    conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _offer_to_everyone(conn)
    launch_offer(conn, saved.offer_id, as_of=AS_OF)
    # Until the accounts developer's real roles land: "vic" is a viewer, the rest editors.
    monkeypatch.setattr(auth, "role_of", lambda _c, actor: (
        auth.Role.VIEWER if actor == "vic" else auth.Role.EDITOR))
    src = source.from_duckdb(conn)
    refused = [
        lambda: export_members(src, definition=parse_definition({}), as_of=AS_OF, actor="vic"),
        lambda: export_offer(conn, saved.offer_id, "email", actor="vic"),
        lambda: export_offer(conn, saved.offer_id, "sms", actor="vic"),
        lambda: export_offer(conn, saved.offer_id, "ads", actor="vic"),
        lambda: export_offer(conn, saved.offer_id, "in_store", actor="vic"),
        lambda: followups_csv(pd.DataFrame({"email": ["p1@shop.com"]}), conn=conn, actor="vic"),
        lambda: members_csv(pd.DataFrame({"email": ["p1@shop.com"]}), conn=conn, actor="vic"),
        lambda: suppression.entries_csv(conn, actor="vic"),
    ]
    for attempt in refused:
        with pytest.raises(NotAllowed, match=r"may not export personal data: that needs the "
                                             r"editor role"):
            attempt()
    # The codes file names nobody: open to viewers. Editors get the personal files.
    assert export_offer(conn, saved.offer_id, "codes", actor="vic").data == b"Code\nTHANKS\n"
    assert export_offer(conn, saved.offer_id, "email", actor="eda").rows == 2
