"""Date ranges, relative presets and period labels.

A range is half-open: ``start`` inclusive, ``end`` exclusive, both calendar dates in the store's
time zone. Relative presets ("last 90 days") count back from an as-of date (default: today).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator

from relmark_core.errors import InputRefused

__all__ = [
    "DateRange",
    "Grain",
    "GRAINS",
    "DEFAULT_GRAIN",
    "PRESETS",
    "DEFAULT_PRESET",
    "preset_range",
    "parse_date",
    "period_label",
    "period_start",
    "utc_bounds",
    "next_period_start",
]

Grain = Literal["week", "month", "quarter"]
GRAINS: tuple[Grain, ...] = ("week", "month", "quarter")
DEFAULT_GRAIN: Grain = "month"

# key -> (label shown to the user, number of days or None for calendar presets)
PRESETS: dict[str, str] = {
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "last_90_days": "Last 90 days",
    "last_365_days": "Last 365 days",
    "this_month": "This month",
    "last_month": "Last month",
    "year_to_date": "Year to date",
    "last_year": "Last calendar year",
    "all_time": "All time",
    "custom": "Custom dates",
}
DEFAULT_PRESET = "last_90_days"
_DAYS = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90, "last_365_days": 365}


class DateRange(BaseModel):
    """A half-open range of calendar dates: ``start`` <= day < ``end``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end <= self.start:
            raise ValueError(
                f"The end date ({self.end}) must be after the start date ({self.start})."
            )
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> DateRange:
        """The range of the same length just before this one (for comparisons)."""
        return DateRange(start=self.start - timedelta(days=self.days), end=self.start)

    def sentence(self) -> str:
        last = self.end - timedelta(days=1)
        if last == self.start:
            return f"{self.start:%d %b %Y}"
        return f"{self.start:%d %b %Y} – {last:%d %b %Y}"


def parse_date(text: str, *, field: str = "date") -> date:
    """An ISO date (YYYY-MM-DD), or a clear refusal naming the field."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputRefused(
            f"The {field} '{text}' is not a date. Write it as YYYY-MM-DD, e.g. 2024-03-01."
        ) from exc


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def preset_range(key: str, *, as_of: date, first_day: date | None = None) -> DateRange:
    """The range a preset means at ``as_of`` (the as-of day is included).

    ``first_day`` is the first day with data, for "all time".
    """
    end = as_of + timedelta(days=1)
    if key in _DAYS:
        return DateRange(start=end - timedelta(days=_DAYS[key]), end=end)
    if key == "this_month":
        return DateRange(start=_month_start(as_of), end=end)
    if key == "last_month":
        this = _month_start(as_of)
        return DateRange(start=_add_months(this, -1), end=this)
    if key == "year_to_date":
        return DateRange(start=date(as_of.year, 1, 1), end=end)
    if key == "last_year":
        return DateRange(start=date(as_of.year - 1, 1, 1), end=date(as_of.year, 1, 1))
    if key == "all_time":
        start = first_day if first_day is not None and first_day < end else end - timedelta(days=1)
        return DateRange(start=start, end=end)
    raise InputRefused(f"Unknown date range '{key}'. Choose one of: {', '.join(PRESETS)}.")


def period_start(d: date, grain: Grain) -> date:
    """The first day of the week (Monday, ISO), month or quarter holding ``d``."""
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def next_period_start(d: date, grain: Grain) -> date:
    """The first day of the period after the one starting at ``d``."""
    if grain == "week":
        return d + timedelta(days=7)
    return _add_months(d, 1 if grain == "month" else 3)


def period_label(d: date, grain: Grain) -> str:
    """``2024-W09`` (ISO week), ``2024-03`` (month) or ``2024-Q1`` (quarter)."""
    if grain == "week":
        iso = d.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if grain == "month":
        return f"{d.year}-{d.month:02d}"
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def utc_bounds(rng: DateRange, tz: str) -> tuple[datetime, datetime]:
    """The range's local midnights in ``tz`` as naive UTC timestamps (how the store keeps time)."""
    zone = ZoneInfo(tz)
    utc = ZoneInfo("UTC")

    def conv(d: date) -> datetime:
        local = datetime(d.year, d.month, d.day, tzinfo=zone)
        return local.astimezone(utc).replace(tzinfo=None)

    return conv(rng.start), conv(rng.end)
