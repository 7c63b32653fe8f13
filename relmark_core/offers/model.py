"""What an offer is: audience, exclusions, type, channel, window, message, codes, holdout.

An :class:`Offer` is data a marketer fills in; it knows its sentence ("10% off for Loyal
customers by email, 1–14 Dec 2024, 10% held out"), renders its message for a member (tokens with
fallbacks), prices itself before launch (:func:`expected_cost`) and says how small an uplift the
audience can show (:func:`detectable_uplift`). Codes come from :func:`generate_codes`:
``secrets``-random, from an alphabet without look-alike characters.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from relmark_core.errors import InputRefused
from relmark_core.metrics.rfm import money_text

__all__ = [
    "OfferType",
    "OFFER_TYPES",
    "OFFER_TYPE_LABELS",
    "Channel",
    "CHANNELS",
    "CHANNEL_LABELS",
    "CodeMode",
    "CODE_MODES",
    "TOKENS",
    "DEFAULT_FALLBACKS",
    "DEFAULT_HOLDOUT_PCT",
    "MAX_HOLDOUT_PCT",
    "DEFAULT_REDEMPTION",
    "DEFAULT_FREQUENCY_CAP_DAYS",
    "DEFAULT_POINT_VALUE",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "MAX_PREFIX",
    "ALPHA",
    "POWER",
    "Z_ALPHA",
    "Z_POWER",
    "Offer",
    "parse_offer",
    "render_message",
    "generate_codes",
    "clean_code",
    "assign_holdout",
    "expected_cost",
    "redemption_cost",
    "detectable_uplift",
    "new_seed",
]

OfferType = Literal[
    "percent_off", "amount_off", "free_shipping", "bonus_points", "free_item", "early_access"
]
OFFER_TYPE_LABELS: dict[str, str] = {
    "percent_off": "Percent off",
    "amount_off": "Amount off",
    "free_shipping": "Free shipping",
    "bonus_points": "Bonus points",
    "free_item": "Free item or perk",
    "early_access": "Early access",
}
OFFER_TYPES: tuple[str, ...] = tuple(OFFER_TYPE_LABELS)
Channel = Literal["email", "sms", "ads", "in_store"]
CHANNEL_LABELS: dict[str, str] = {
    "email": "email",
    "sms": "SMS",
    "ads": "an ads audience",
    "in_store": "in store",
}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_LABELS)
CodeMode = Literal["unique", "shared", "none"]
CODE_MODES: tuple[str, ...] = ("unique", "shared", "none")

TOKENS: tuple[str, ...] = (
    "first_name", "tier", "points_balance", "favourite_category", "last_product",
    "recommended_product",
)
DEFAULT_FALLBACKS: dict[str, str] = {
    "first_name": "there",
    "tier": "member",
    "points_balance": "0",
    "favourite_category": "our range",
    "last_product": "your last order",
    "recommended_product": "something new",
}
"""What a token becomes when the member has no value; ``recommended_product`` is the member's
next-best product (:mod:`relmark_core.personalisation.recommend`) at export time."""
DEFAULT_HOLDOUT_PCT = 10
MAX_HOLDOUT_PCT = 50
DEFAULT_REDEMPTION = 0.10
"""Share of the treated audience assumed to redeem, for the expected cost."""
DEFAULT_FREQUENCY_CAP_DAYS = 14
DEFAULT_POINT_VALUE = Decimal("0.01")
"""What one bonus point costs the shop (currency units), when no loyalty program says."""
MAX_NAME = 80
MAX_MESSAGE = 1_000
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Upper-case letters and digits without the look-alikes 0/O, 1/I/L."""
CODE_LENGTH = 10
"""Random characters per unique code: 31**10 ≈ 8e14 possibilities."""
MAX_PREFIX = 10
MAX_SHARED_CODE = 30
ALPHA = 0.05
POWER = 0.80
Z_ALPHA = 1.959964  # z at 1 - ALPHA/2
Z_POWER = 0.841621  # z at POWER

_TOKEN = re.compile(r"\{([^{}]*)\}")
_CODE_TEXT = re.compile(r"^[A-Z0-9-]+$")
_FORBIDDEN = ("Cc", "Cs", "Co", "Cn")


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _window_words(start: date, end: date) -> str:
    """``1–14 Dec 2024``, ``28 Nov – 5 Dec 2024``, ``30 Dec 2024 – 2 Jan 2025``."""
    if start == end:
        return _day(start)
    if start.year != end.year:
        return f"{_day(start)} – {_day(end)}"
    if start.month != end.month:
        return f"{start.day} {start:%b} – {_day(end)}"
    return f"{start.day}–{_day(end)}"


def _plain(text: str, what: str, limit: int) -> str:
    out = text.strip()
    if len(out) > limit:
        raise ValueError(f"the {what} is longer than {limit} characters")
    bad = next((ch for ch in out if unicodedata.category(ch) in _FORBIDDEN and ch != "\n"), None)
    if bad is not None:
        raise ValueError(f"the {what} contains an invisible or control character "
                         f"(U+{ord(bad):04X})")
    return out


def clean_code(text: str, *, what: str = "code") -> str:
    """A code or prefix upper-cased and trimmed; only letters, digits and '-'."""
    out = text.strip().upper()
    if out and not _CODE_TEXT.match(out):
        raise ValueError(f"the {what} “{text.strip()}” may hold only letters, digits and '-'")
    return out


class Offer(BaseModel):
    """An offer as the marketer defines it (stored as JSON in ``offers.definition``).

    Attributes
    ----------
    segment_id
        The saved segment whose members (at launch) are the audience.
    value
        Percent for ``percent_off`` (1–100), money for ``amount_off``, points for
        ``bonus_points``; unused otherwise.
    unit_cost
        What one redemption costs the shop for free shipping, a free item or early access
        (money); for percent off it is the average order value the percent applies to.
    starts_on, ends_on
        The validity window, both days included (store time zone).
    holdout_pct
        Whole percent of the eligible audience kept out at random (gets nothing).
    frequency_cap_days
        Leave out customers who received another offer launched in the last N days (None: no
        cap).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_NAME)
    segment_id: int = Field(ge=1)
    offer_type: OfferType = "percent_off"
    value: Decimal = Field(default=Decimal("10"), ge=0, max_digits=14, decimal_places=2)
    unit_cost: Decimal = Field(default=Decimal("0"), ge=0, max_digits=14, decimal_places=2)
    channel: Channel = "email"
    starts_on: date
    ends_on: date
    message: str = Field(default="", max_length=MAX_MESSAGE)
    fallbacks: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_FALLBACKS))
    code_mode: CodeMode = "unique"
    shared_code: str = ""
    code_prefix: str = ""
    holdout_pct: int = Field(default=DEFAULT_HOLDOUT_PCT, ge=0, le=MAX_HOLDOUT_PCT)
    exclude_no_consent: bool = True
    frequency_cap_days: int | None = Field(default=DEFAULT_FREQUENCY_CAP_DAYS, ge=1, le=3650)
    exclude_running: bool = True
    assumed_redemption: float = Field(default=DEFAULT_REDEMPTION, ge=0, le=1)
    point_value: Decimal = Field(default=DEFAULT_POINT_VALUE, ge=0, max_digits=14,
                                 decimal_places=4)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        out = _plain(" ".join(v.split()), "offer name", MAX_NAME)
        if not out:
            raise ValueError("the offer name is empty; give the offer a name")
        return out

    @field_validator("message")
    @classmethod
    def _message(cls, v: str) -> str:
        out = _plain(v, "message", MAX_MESSAGE)
        unknown = [t for t in _TOKEN.findall(out) if t not in TOKENS]
        if unknown:
            raise ValueError(
                f"the message uses the unknown token {{{unknown[0]}}}; use "
                + ", ".join(f"{{{t}}}" for t in TOKENS)
            )
        return out

    @field_validator("fallbacks")
    @classmethod
    def _fallbacks(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in v if k not in TOKENS]
        if unknown:
            raise ValueError(f"there is a fallback for the unknown token {{{unknown[0]}}}")
        return {**DEFAULT_FALLBACKS, **{k: _plain(x, "fallback", MAX_NAME) for k, x in v.items()}}

    @field_validator("shared_code")
    @classmethod
    def _shared(cls, v: str) -> str:
        out = clean_code(v, what="shared code")
        if len(out) > MAX_SHARED_CODE:
            raise ValueError(f"the shared code is longer than {MAX_SHARED_CODE} characters")
        return out

    @field_validator("code_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        out = clean_code(v, what="code prefix")
        if len(out) > MAX_PREFIX:
            raise ValueError(f"the code prefix is longer than {MAX_PREFIX} characters")
        return out

    @model_validator(mode="after")
    def _consistent(self) -> Offer:
        if self.ends_on < self.starts_on:
            raise ValueError(
                f"the offer ends ({self.ends_on}) before it starts ({self.starts_on})"
            )
        if self.offer_type == "percent_off" and not 0 < self.value <= 100:
            raise ValueError("a percent-off offer needs a percent between 1 and 100")
        if self.offer_type in ("amount_off", "bonus_points") and self.value <= 0:
            raise ValueError("set the amount (or points) the offer gives")
        if self.code_mode == "shared" and len(self.shared_code) < 4:
            raise ValueError("a shared code needs at least 4 letters or digits")
        return self

    # --- words -------------------------------------------------------------------------------

    def what_words(self, currency: str = "USD") -> str:
        """"10% off", "$5 off", "Free shipping", "200 bonus points"."""
        v = self.value
        if self.offer_type == "percent_off":
            return f"{v.normalize():f}% off"
        if self.offer_type == "amount_off":
            return f"{money_text(float(v), currency)} off"
        if self.offer_type == "bonus_points":
            return f"{int(v):,} bonus points"
        return OFFER_TYPE_LABELS[self.offer_type]

    def sentence(self, segment_name: str, currency: str = "USD") -> str:
        """"10% off for Loyal customers by email, 1–14 Dec 2024, 10% held out"."""
        how = "in store" if self.channel == "in_store" else (
            f"by {CHANNEL_LABELS[self.channel]}" if self.channel != "ads" else "through an ads audience"
        )
        held = f"{self.holdout_pct}% held out" if self.holdout_pct else "no holdout"
        return (f"{self.what_words(currency)} for {segment_name} {how}, "
                f"{_window_words(self.starts_on, self.ends_on)}, {held}")

    def exclusion_words(self) -> list[str]:
        out = []
        if self.exclude_no_consent:
            out.append("customers without marketing consent")
        if self.frequency_cap_days:
            out.append(f"customers who received an offer in the last {self.frequency_cap_days} days")
        if self.exclude_running:
            out.append("customers already in another running offer")
        return out

    def to_json(self) -> str:
        return self.model_dump_json()


def parse_offer(data: Offer | Mapping[str, object] | str) -> Offer:
    """An :class:`Offer` from a dict or JSON, or a refusal naming the field and the fix."""
    if isinstance(data, Offer):
        return data
    try:
        if isinstance(data, str):
            return Offer.model_validate_json(data)
        return Offer.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "offer"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InputRefused(f"The offer was not saved: {where}: {msg}.") from exc


def render_message(template: str, values: Mapping[str, object], fallbacks: Mapping[str, str]
                   ) -> str:
    """The message with each ``{token}`` replaced by the member's value, or its fallback when
    the value is missing or empty."""

    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        v = values.get(key)
        text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()
        return text or fallbacks.get(key, DEFAULT_FALLBACKS.get(key, ""))

    return _TOKEN.sub(one, template)


def generate_codes(n: int, *, prefix: str = "", length: int = CODE_LENGTH,
                   taken: Iterable[str] = ()) -> list[str]:
    """``n`` distinct single-use codes: ``prefix`` + ``length`` characters drawn uniformly from
    :data:`CODE_ALPHABET` with ``secrets`` (no two alike, none in ``taken``)."""
    alphabet = np.frombuffer(CODE_ALPHABET.encode(), dtype=np.uint8)
    k = len(CODE_ALPHABET)
    limit = 256 - 256 % k  # bytes at or above this are dropped: every character equally likely
    seen = set(taken)
    out: list[str] = []
    while len(out) < n:
        need = (n - len(out)) * length
        raw = np.frombuffer(secrets.token_bytes(int(need * 1.1) + 64), dtype=np.uint8)
        raw = raw[raw < limit][: need - need % length]
        chars = alphabet[raw % k].reshape(-1, length)
        for row in chars.view(f"S{length}").ravel():
            code = prefix + row.decode()
            if code not in seen:
                seen.add(code)
                out.append(code)
    return out[:n]


def new_seed() -> str:
    """A fresh holdout seed (stored with the offer)."""
    return secrets.token_hex(8)


def assign_holdout(customer_ids: Iterable[str], *, seed: str, pct: int) -> set[str]:
    """The holdout: customers ranked by ``sha256("<seed>:<customer_id>")``, the first
    ``round(n * pct / 100)`` (halves up). Same seed and audience, same holdout."""
    ids = sorted(set(customer_ids))
    size = (len(ids) * pct * 2 + 100) // 200
    ranked = sorted(ids, key=lambda c: hashlib.sha256(f"{seed}:{c}".encode()).digest())
    return set(ranked[:size])


def redemption_cost(offer: Offer, *, average_order_value: float) -> float:
    """What one redemption is expected to cost: the percent of the average order, the amount,
    the points at their value, or the unit cost (free shipping, item, early access)."""
    if offer.offer_type == "percent_off":
        aov = float(offer.unit_cost) or average_order_value
        return aov * float(offer.value) / 100
    if offer.offer_type == "amount_off":
        return float(offer.value)
    if offer.offer_type == "bonus_points":
        return float(offer.value) * float(offer.point_value)
    return float(offer.unit_cost)


def expected_cost(offer: Offer, *, treated: int, average_order_value: float) -> float:
    """Treated audience × assumed redemption × cost of one redemption."""
    return treated * offer.assumed_redemption * redemption_cost(
        offer, average_order_value=average_order_value)


def detectable_uplift(*, baseline: float, treated: int, holdout: int) -> float | None:
    """The smallest difference in conversion (treatment − holdout, as a share) a two-sided test
    at α = 0.05 finds with 80% power:

        (z₀.₉₇₅ + z₀.₈₀) × √(p(1−p) × (1/n_treated + 1/n_holdout))

    with ``p`` the audience's baseline conversion. None without a holdout or treated members.
    """
    if treated <= 0 or holdout <= 0:
        return None
    p = min(max(baseline, 0.0), 1.0)
    return (Z_ALPHA + Z_POWER) * math.sqrt(p * (1 - p) * (1 / treated + 1 / holdout))
