"""Money in one place: decimals rounded half-up to cents; numbers for JSON output."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["CENT", "cents", "money_number"]

CENT = Decimal("0.01")


def cents(value: Any) -> Decimal:
    """A money amount as a Decimal rounded half-up to cents (None/NaN -> 0.00)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def money_number(value: Any) -> float | None:
    """A money amount as a JSON number rounded to cents (None stays None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(cents(value))
