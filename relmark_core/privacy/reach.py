"""Who may be contacted on a channel: the suppression list first, then consent.

Every export, offer and automation passes its audience through :func:`filter_reachable` and shows
the counts it returns (:func:`Reach.sentence` words them).

1. Suppression: a customer whose email address or phone number is on the suppression list
   (:mod:`relmark_core.privacy.suppression`) is left out on every channel.
2. Consent: of the rest, only customers who gave consent on the channel are kept
   (:mod:`relmark_core.privacy.consent`; an unknown answer counts as no consent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import duckdb
import pandas as pd

__all__ = ["Channel", "Reach", "filter_reachable", "filter_suppressed", "EXCLUDED_HELP"]

EXCLUDED_HELP = (
    "People left out of this audience. Suppressed: their email address or phone number is on "
    "the suppression list (Privacy page), which is checked first. Without consent: they have "
    "not agreed to marketing on this channel (or withdrew), or Relmark does not know."
)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    ADS = "ads"


@dataclass(frozen=True)
class Reach:
    kept: list[str]  # customer_ids that may be contacted, in the input's order
    suppressed: int  # removed by the suppression list
    no_consent: int  # removed for lack of consent on the channel

    @property
    def excluded(self) -> int:
        return self.suppressed + self.no_consent

    def sentence(self) -> str:
        """"12 excluded: 2 suppressed, 10 without consent"."""
        return (f"{self.excluded:,} excluded: {self.suppressed:,} suppressed, "
                f"{self.no_consent:,} without consent")


_IDS_VIEW = "_reach_ids"


def _ids_frame(customer_ids: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": pd.Series(list(dict.fromkeys(customer_ids)),
                                                  dtype="object")})


def _suppressed(conn: duckdb.DuckDBPyConnection) -> set[str]:
    from relmark_core.privacy import suppression

    rows = conn.execute(suppression.suppressed_customers(_IDS_VIEW)).fetchall()
    return {str(r[0]) for r in rows}


def filter_reachable(
    conn: duckdb.DuckDBPyConnection, customer_ids: Sequence[str], channel: Channel
) -> Reach:
    """Keep the customers who may be contacted on ``channel``: not suppressed, and with
    consent on the channel. Each input id counts once (repeats are kept in the output as
    given). Ids the store does not hold count as without consent."""
    from relmark_core.privacy import consent

    if len(customer_ids) == 0:
        return Reach(kept=[], suppressed=0, no_consent=0)
    ch = Channel(channel)
    conn.register(_IDS_VIEW, _ids_frame(customer_ids))
    try:
        blocked = _suppressed(conn)
        rows = conn.execute(
            f"""SELECT e.customer_id FROM ({consent.effective_consent_sql()}) e
                JOIN {_IDS_VIEW} t USING (customer_id) WHERE e.granted""",  # noqa: S608
            [ch.value, ch.value, ch.value],
        ).fetchall()
    finally:
        conn.unregister(_IDS_VIEW)
    consented = {str(r[0]) for r in rows}
    unique = list(dict.fromkeys(customer_ids))
    n_suppressed = sum(1 for c in unique if c in blocked)
    n_no_consent = sum(1 for c in unique if c not in blocked and c not in consented)
    kept = [c for c in customer_ids if c not in blocked and c in consented]
    return Reach(kept=kept, suppressed=n_suppressed, no_consent=n_no_consent)


def filter_suppressed(conn: duckdb.DuckDBPyConnection, customer_ids: Sequence[str]) -> Reach:
    """The suppression list alone (for messages that need no marketing consent, such as a
    service notice): ``no_consent`` is always 0."""
    if len(customer_ids) == 0:
        return Reach(kept=[], suppressed=0, no_consent=0)
    conn.register(_IDS_VIEW, _ids_frame(customer_ids))
    try:
        blocked = _suppressed(conn)
    finally:
        conn.unregister(_IDS_VIEW)
    unique = list(dict.fromkeys(customer_ids))
    return Reach(kept=[c for c in customer_ids if c not in blocked],
                 suppressed=sum(1 for c in unique if c in blocked), no_consent=0)
