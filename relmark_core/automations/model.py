"""What an automation is: a trigger, the recurring offer it sends, a cooldown, a holdout.

An :class:`Automation` is data a marketer fills in. Its offer part (:class:`AutomationOffer`)
is an offer without an audience or fixed dates: the message, channel and code/discount of
:class:`relmark_core.offers.Offer`, checked by the same validators (it builds one with
:meth:`AutomationOffer.as_offer`), and valid for ``valid_days`` after each batch. Every
automation says itself in one sentence:

    "Everyone who moves into At risk gets Win-back: 15% off by email, at most once every
    90 days, 10% held out."
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from relmark_core.errors import InputRefused
from relmark_core.offers.model import (
    CHANNEL_LABELS,
    DEFAULT_FALLBACKS,
    DEFAULT_HOLDOUT_PCT,
    MAX_HOLDOUT_PCT,
    Channel,
    CodeMode,
    Offer,
    OfferType,
)

__all__ = [
    "DEFAULT_COOLDOWN_DAYS",
    "MAX_COOLDOWN_DAYS",
    "DEFAULT_VALID_DAYS",
    "DEFAULT_WELCOME_DAYS",
    "DEFAULT_NUDGE_DAYS",
    "DEFAULT_DETRACTOR_DAYS",
    "DEFAULT_EXPIRY_NOTICE_DAYS",
    "TRIGGER_KINDS",
    "TRIGGER_LABELS",
    "STATUSES",
    "START_POLICIES",
    "START_POLICY_LABELS",
    "WelcomeTrigger",
    "SecondOrderTrigger",
    "BirthdayTrigger",
    "TierTrigger",
    "RfmGroupTrigger",
    "DetractorTrigger",
    "PointsExpiringTrigger",
    "Trigger",
    "AutomationOffer",
    "Automation",
    "parse_automation",
]

DEFAULT_COOLDOWN_DAYS = 90
MAX_COOLDOWN_DAYS = 3650
DEFAULT_VALID_DAYS = 14
"""Days a batch's codes stay valid (the export's "Offer Ends" is the run day + this - 1)."""
MAX_VALID_DAYS = 365
DEFAULT_WELCOME_DAYS = 30
"""Welcome: a first order within this many days counts (older first orders are history)."""
DEFAULT_NUDGE_DAYS = 30
DEFAULT_DETRACTOR_DAYS = 30
DEFAULT_EXPIRY_NOTICE_DAYS = 30
MAX_TRIGGER_DAYS = 3650
MAX_NAME = 80

TRIGGER_LABELS: dict[str, str] = {
    "welcome": "Welcome (first order)",
    "second_order": "Second-order nudge",
    "birthday_month": "Birthday month",
    "tier_reached": "Loyalty tier reached",
    "rfm_group": "Moved into an RFM group",
    "detractor": "Detractor follow-up",
    "points_expiring": "Points about to expire",
}
TRIGGER_KINDS: tuple[str, ...] = tuple(TRIGGER_LABELS)
Status = Literal["active", "paused"]
STATUSES: tuple[str, ...] = ("active", "paused")
StartPolicy = Literal["include_existing", "from_now"]
START_POLICY_LABELS: dict[str, str] = {
    "include_existing": "Include people who already qualify today (once)",
    "from_now": "Only people who qualify from now on",
}
START_POLICIES: tuple[str, ...] = tuple(START_POLICY_LABELS)

_FORBID = ConfigDict(extra="forbid", frozen=True)
_Days = Annotated[int, Field(ge=1, le=MAX_TRIGGER_DAYS)]


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n:,} days"


class WelcomeTrigger(BaseModel):
    """A first counted order placed in the last ``within_days`` days."""

    model_config = _FORBID
    kind: Literal["welcome"] = "welcome"
    within_days: _Days = DEFAULT_WELCOME_DAYS

    def sentence(self) -> str:
        return "Everyone who places a first order"


class SecondOrderTrigger(BaseModel):
    """Exactly one counted order, placed ``after_days`` or more days ago."""

    model_config = _FORBID
    kind: Literal["second_order"] = "second_order"
    after_days: _Days = DEFAULT_NUDGE_DAYS

    def sentence(self) -> str:
        return f"Everyone with no second order {_days(self.after_days)} after their first"


class BirthdayTrigger(BaseModel):
    """A birthday in the run's month (once a year: the occasion is the year)."""

    model_config = _FORBID
    kind: Literal["birthday_month"] = "birthday_month"

    def sentence(self) -> str:
        return "Everyone in their birthday month"


class TierTrigger(BaseModel):
    """In the loyalty tier ``tier`` (active program, at the run day)."""

    model_config = _FORBID
    kind: Literal["tier_reached"] = "tier_reached"
    tier: str = Field(min_length=1, max_length=MAX_NAME)

    def sentence(self) -> str:
        return f"Everyone who reaches the {self.tier} tier"


class RfmGroupTrigger(BaseModel):
    """In the RFM group ``group`` (the saved groups, values at the end of the run day)."""

    model_config = _FORBID
    kind: Literal["rfm_group"] = "rfm_group"
    group: str = Field(min_length=1, max_length=MAX_NAME)

    def sentence(self) -> str:
        return f"Everyone who moves into {self.group}"


class DetractorTrigger(BaseModel):
    """Latest NPS answer a detractor (0–6), answered in the last ``within_days`` days and not
    marked resolved or contacted on the Feedback page's follow-up list."""

    model_config = _FORBID
    kind: Literal["detractor"] = "detractor"
    within_days: _Days = DEFAULT_DETRACTOR_DAYS

    def sentence(self) -> str:
        return "Every detractor (NPS 0–6) nobody has followed up yet"


class PointsExpiringTrigger(BaseModel):
    """Loyalty points that expire within ``within_days`` days if nothing changes."""

    model_config = _FORBID
    kind: Literal["points_expiring"] = "points_expiring"
    within_days: _Days = DEFAULT_EXPIRY_NOTICE_DAYS

    def sentence(self) -> str:
        return f"Everyone whose points expire within {_days(self.within_days)}"


Trigger = Annotated[
    WelcomeTrigger | SecondOrderTrigger | BirthdayTrigger | TierTrigger | RfmGroupTrigger
    | DetractorTrigger | PointsExpiringTrigger,
    Field(discriminator="kind"),
]


class AutomationOffer(BaseModel):
    """The offer each batch carries: what :class:`~relmark_core.offers.Offer` holds apart from
    its audience, dates, holdout and exclusions (the automation has its own)."""

    model_config = _FORBID

    offer_type: OfferType = "percent_off"
    value: Decimal = Field(default=Decimal("10"), ge=0, max_digits=14, decimal_places=2)
    channel: Channel = "email"
    message: str = ""
    fallbacks: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_FALLBACKS))
    code_mode: CodeMode = "unique"
    shared_code: str = ""
    code_prefix: str = ""
    valid_days: int = Field(default=DEFAULT_VALID_DAYS, ge=1, le=MAX_VALID_DAYS)

    def as_offer(self, name: str, starts_on: date) -> Offer:
        """The offer one batch sends (``starts_on`` = the run day), checked by Offer's rules.
        ``segment_id`` is a placeholder: an automation's audience is its trigger."""
        return Offer(
            name=name, segment_id=1, offer_type=self.offer_type, value=self.value,
            channel=self.channel, starts_on=starts_on,
            ends_on=starts_on + timedelta(days=self.valid_days - 1), message=self.message,
            fallbacks=self.fallbacks, code_mode=self.code_mode, shared_code=self.shared_code,
            code_prefix=self.code_prefix, holdout_pct=0, exclude_no_consent=False,
            frequency_cap_days=None, exclude_running=False)

    def words(self, currency: str = "USD") -> str:
        """"15% off by email"."""
        what = self.as_offer("x", date(2000, 1, 1)).what_words(currency)
        how = ("in store" if self.channel == "in_store" else "through an ads audience"
               if self.channel == "ads" else f"by {CHANNEL_LABELS[self.channel]}")
        return f"{what} {how}"


class Automation(BaseModel):
    """A lifecycle automation (stored as JSON in ``automations.definition``)."""

    model_config = _FORBID

    name: str = Field(min_length=1, max_length=MAX_NAME)
    trigger: Trigger
    offer: AutomationOffer = Field(default_factory=AutomationOffer)
    cooldown_days: int = Field(default=DEFAULT_COOLDOWN_DAYS, ge=1, le=MAX_COOLDOWN_DAYS)
    holdout_pct: int = Field(default=DEFAULT_HOLDOUT_PCT, ge=0, le=MAX_HOLDOUT_PCT)
    status: Status = "active"
    start_policy: StartPolicy = "from_now"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        out = " ".join(v.split())
        if not out:
            raise ValueError("the automation name is empty; give it a name")
        return out

    @model_validator(mode="after")
    def _offer_ok(self) -> Automation:
        try:
            self.offer.as_offer(self.name, date(2000, 1, 1))
        except ValidationError as exc:
            raise ValueError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from exc
        return self

    def sentence(self, currency: str = "USD") -> str:
        """"Everyone who moves into At risk gets Win-back: 15% off by email, at most once
        every 90 days, 10% held out.\""""
        held = f"{self.holdout_pct}% held out" if self.holdout_pct else "no holdout"
        return (f"{self.trigger.sentence()} gets {self.name}: {self.offer.words(currency)}, "
                f"at most once every {_days(self.cooldown_days)}, {held}.")

    def to_json(self) -> str:
        return self.model_dump_json()


def parse_automation(data: Automation | Mapping[str, object] | str) -> Automation:
    """An :class:`Automation` from a dict or JSON, or a refusal naming the field and the fix."""
    if isinstance(data, Automation):
        return data
    try:
        if isinstance(data, str):
            return Automation.model_validate_json(data)
        return Automation.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"] if not str(p).endswith("Trigger")) or "automation"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InputRefused(f"The automation was not saved: {where}: {msg}.") from exc
