"""Who may be contacted on a channel: the suppression list first, then consent.

Every export, offer and automation passes its audience through :func:`filter_reachable` and shows
the counts it returns. (Stub: keeps everyone until the Privacy issue's consent lands.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import duckdb

__all__ = ["Channel", "Reach", "filter_reachable"]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    ADS = "ads"


@dataclass(frozen=True)
class Reach:
    kept: list[str]  # customer_ids that may be contacted, in the input's order
    suppressed: int  # removed by the suppression list
    no_consent: int  # removed for lack of consent on the channel


def filter_reachable(
    conn: duckdb.DuckDBPyConnection, customer_ids: Sequence[str], channel: Channel
) -> Reach:
    """Keep the customers who may be contacted on ``channel``."""
    return Reach(kept=list(customer_ids), suppressed=0, no_consent=0)
