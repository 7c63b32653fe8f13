"""A loyalty program as data: points currency, earn rules, caps, tiers, paid membership, expiry
and a rewards catalogue. Every part says what it does in one plain-English sentence.

The rules here are what :mod:`relmark_core.loyalty.replay` runs; the sentences state the same
arithmetic, so a marketer can check a number by hand:

* Points are earned on the **net** of counted orders in the reporting currency (what the customer
  paid after discounts, minus refunds); a refund lowers the net and so the points, a fully
  refunded order earns nothing. Orders in other currencies earn nothing.
* An order's points = its net × the points-per-spend rate, times every multiplier that applies
  (multipliers stack by multiplying), **rounded down per order**; then the tier multiplier,
  rounded down; then caps.
* A category or product multiplier applies to the order's share of line value (price × quantity)
  in that category or product.
* Qualifying points (for tiers) are the points from earn rules and bonuses before tier
  multipliers and caps, so reaching a tier never depends on the tier itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from relmark_core.errors import InputRefused
from relmark_core.metrics.rfm import money_text

__all__ = [
    "DEFAULT_POINTS_NAME",
    "DEFAULT_POINT_VALUE",
    "DEFAULT_PER_AMOUNT",
    "DEFAULT_PROGRAM_NAME",
    "MAX_EXPIRY_MONTHS",
    "BONUS_EVENTS",
    "CAP_PERIODS",
    "TIER_PERIODS",
    "NO_TIER",
    "PointsCurrency",
    "PointsPerSpend",
    "Multiplier",
    "Promotion",
    "BonusEvent",
    "EarnRule",
    "Cap",
    "Tier",
    "TierRules",
    "PaidMembership",
    "Expiry",
    "Reward",
    "LoyaltyProgram",
    "parse_program",
    "starter_program",
    "describe_changes",
    "date_span",
    "factor_text",
]

DEFAULT_POINTS_NAME = "points"
DEFAULT_POINT_VALUE = Decimal("0.01")
DEFAULT_PER_AMOUNT = Decimal("1.00")
DEFAULT_PROGRAM_NAME = "Loyalty program"
MAX_EXPIRY_MONTHS = 120
NO_TIER = "Member (no tier)"

BonusKind = Literal["signup", "first_order", "birthday_month", "feedback", "review", "referral"]
BONUS_EVENTS: dict[str, str] = {
    "signup": "Signing up",
    "first_order": "First order",
    "birthday_month": "Birthday month",
    "feedback": "Answering a survey (NPS or CSAT)",
    "review": "Writing a product review",
    "referral": "Joining through a referral",
}
CapPeriod = Literal["order", "day", "month", "year", "program"]
CAP_PERIODS: dict[str, str] = {
    "order": "from any one order",
    "day": "per customer per day",
    "month": "per customer per calendar month",
    "year": "per customer per calendar year",
    "program": "per customer over the whole program",
}
_CAP_SHORT = {
    "order": "order",
    "day": "customer a day",
    "month": "customer a month",
    "year": "customer a year",
    "program": "customer",
}
TierPeriod = Literal["calendar_year", "rolling_12_months", "lifetime"]
TIER_PERIODS: dict[str, str] = {
    "calendar_year": "in a calendar year",
    "rolling_12_months": "in the last 365 days",
    "lifetime": "since the program started",
}

_FROZEN = ConfigDict(extra="forbid", frozen=True)


def factor_text(factor: float) -> str:
    """``×2``, ``×1.5``."""
    return f"×{factor:g}"


def date_span(start: date, end: date) -> str:
    """``1–7 Dec 2024``, ``28 Nov – 2 Dec 2024``, ``30 Dec 2024 – 2 Jan 2025``."""
    if start.year == end.year and start.month == end.month:
        return f"{start.day}–{end.day} {end:%b %Y}" if start != end else f"{end.day} {end:%b %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"


def _day(d: date) -> str:
    """``1 Dec 2024``."""
    return f"{d.day} {d:%b %Y}"


def _month_days(d: date) -> int:
    nxt = date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)
    return (nxt - d.replace(day=1)).days


def _plural(n: int | float, word: str) -> str:
    """``1 star``, ``12 stars`` (a trailing "s" is added to the currency name unless it has one)."""
    single = word[:-1] if word.endswith("s") and len(word) > 1 else word
    many = word if word.endswith("s") else word + "s"
    text = f"{n:,}" if isinstance(n, int) else f"{n:,g}"
    return f"{text} {single if n == 1 else many}"


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("give it a name")
    return value


class PointsCurrency(BaseModel):
    """What the points are called and what one point is worth to the business."""

    model_config = _FROZEN

    name: str = DEFAULT_POINTS_NAME
    value: Decimal = Field(default=DEFAULT_POINT_VALUE, gt=0)
    """Money value of one point for the business (what a redeemed point costs you)."""

    _n = field_validator("name")(lambda cls, v: _name(v).lower())

    def sentence(self, currency: str) -> str:
        return (
            f"Points are called “{self.name}”; one is worth {money_text(float(self.value), currency)}"
            " to the business (what it costs you when a customer redeems it)."
        )


class PointsPerSpend(BaseModel):
    """Points for every ``per_amount`` of an order's net, rounded down per order."""

    model_config = _FROZEN

    kind: Literal["points_per_spend"] = "points_per_spend"
    points: int = Field(default=1, ge=1)
    per_amount: Decimal = Field(default=DEFAULT_PER_AMOUNT, gt=0)

    @property
    def rate(self) -> float:
        """Points per one unit of money, before rounding."""
        return self.points / float(self.per_amount)

    def label(self, points: str, currency: str) -> str:
        return f"{_plural(self.points, points)} per {money_text(float(self.per_amount), currency)}"

    def sentence(self, points: str, currency: str) -> str:
        example_net = 12.80 if self.rate >= 1 else float(self.per_amount) * 3.2
        example = int(example_net * self.rate + 1e-9)
        return (
            f"Earn {_plural(self.points, points)} for every "
            f"{money_text(float(self.per_amount), currency)} of an order's net (what the customer "
            "paid after discounts, minus refunds), rounded down per order: an order of "
            f"{money_text(example_net, currency)} earns {_plural(example, points)}. A refund "
            f"takes back the {points} it paid for; fully refunded orders earn nothing. Orders in "
            f"other currencies than {currency} earn nothing."
        )


class Multiplier(BaseModel):
    """More points on a category, a product or a sales channel."""

    model_config = _FROZEN

    kind: Literal["multiplier"] = "multiplier"
    on: Literal["category", "product", "channel"]
    value: str
    factor: float = Field(gt=0)

    _v = field_validator("value")(lambda cls, v: _name(v))

    @property
    def line_level(self) -> bool:
        """True for category/product multipliers (they apply to a share of the order)."""
        return self.on != "channel"

    def label(self, points: str, currency: str) -> str:
        return f"{factor_text(self.factor)} on {self.value}"

    def sentence(self, points: str, currency: str) -> str:
        if self.on == "channel":
            return (
                f"{factor_text(self.factor)} {points} on orders placed through “{self.value}”."
            )
        what = "category" if self.on == "category" else "product"
        return (
            f"{factor_text(self.factor)} {points} on the {what} “{self.value}”: the share of an "
            f"order's line value (price × quantity) that is {self.value} earns "
            f"{factor_text(self.factor)} (an order half in {self.value} earns "
            f"{factor_text(1 + (self.factor - 1) / 2)} overall)."
        )


class Promotion(BaseModel):
    """A date-limited multiplier on every order: "double stars 1–7 Dec"."""

    model_config = _FROZEN

    kind: Literal["promotion"] = "promotion"
    name: str
    start: date
    end: date
    """Last day included (store time)."""
    factor: float = Field(default=2.0, gt=0)

    _n = field_validator("name")(lambda cls, v: _name(v))

    def label(self, points: str, currency: str) -> str:
        return f"{self.name} ({date_span(self.start, self.end)})"

    def sentence(self, points: str, currency: str) -> str:
        return (
            f"{self.name}: every order placed from {_day(self.start)} to {_day(self.end)} "
            f"(both days included, store time) earns {factor_text(self.factor)} {points}."
        )

    def days(self) -> int:
        return (self.end - self.start).days + 1


class BonusEvent(BaseModel):
    """Points for something a customer does (sign up, birthday month, a review...)."""

    model_config = _FROZEN

    kind: Literal["bonus"] = "bonus"
    event: BonusKind
    points: int = Field(ge=1)

    def label(self, points: str, currency: str) -> str:
        return f"{BONUS_EVENTS[self.event]} bonus"

    def sentence(self, points: str, currency: str) -> str:
        p = _plural(self.points, points)
        return {
            "signup": f"{p} when a customer creates an account (at the time it was created).",
            "first_order": f"{p} with a customer's first counted order ever.",
            "birthday_month": (
                f"{p} in the customer's birthday month: on the 1st, once a year, for members who "
                "joined before that day (customers without a birthday get nothing)."
            ),
            "feedback": f"{p} for every NPS or CSAT survey answer.",
            "review": f"{p} for every product review.",
            "referral": (
                f"{p} with the first order of a customer who came through a referral (their "
                "acquisition channel is “referral”); your data does not say who referred them, "
                "so the referrer gets nothing."
            ),
        }[self.event]


EarnRule = Annotated[
    PointsPerSpend | Multiplier | Promotion | BonusEvent, Field(discriminator="kind")
]


class Cap(BaseModel):
    """At most ``points`` from orders per order, or per customer per day/month/year/program."""

    model_config = _FROZEN

    per: CapPeriod
    points: int = Field(ge=1)

    def label(self, points: str, currency: str) -> str:
        return f"Cap: {_plural(self.points, points)} per {_CAP_SHORT[self.per]}"

    def sentence(self, points: str, currency: str) -> str:
        if self.per == "order":
            return f"At most {_plural(self.points, points)} from any one order, after tier multipliers."
        return (
            f"At most {_plural(self.points, points)} from orders {CAP_PERIODS[self.per]}, after "
            f"tier multipliers (bonus {points} are not capped)."
        )


class Tier(BaseModel):
    """A level reached with enough qualifying points or spend."""

    model_config = _FROZEN

    name: str
    threshold: Decimal = Field(ge=0)
    earn_multiplier: float = Field(default=1.0, ge=1)
    perks: tuple[str, ...] = ()

    _n = field_validator("name")(lambda cls, v: _name(v))
    _p = field_validator("perks")(lambda cls, v: tuple(p.strip() for p in v if p.strip()))


class TierRules(BaseModel):
    """How tiers are earned, kept and lost, and the tiers themselves (lowest first)."""

    model_config = _FROZEN

    basis: Literal["points", "spend"] = "points"
    period: TierPeriod = "calendar_year"
    demotion: Literal["to_qualified", "one_tier"] = "to_qualified"
    tiers: tuple[Tier, ...] = ()

    def threshold_text(self, tier: Tier, points: str, currency: str) -> str:
        if self.basis == "spend":
            return f"{money_text(float(tier.threshold), currency)} of net spend"
        return f"{_plural(int(tier.threshold), 'qualifying ' + points)}"

    def tier_sentence(self, tier: Tier, points: str, currency: str) -> str:
        parts = [f"{tier.name}: from {self.threshold_text(tier, points, currency)} "
                 f"{TIER_PERIODS[self.period]}"]
        if tier.earn_multiplier != 1:
            parts.append(f"earns {factor_text(tier.earn_multiplier)} {points} on orders")
        if tier.perks:
            parts.append("perks: " + ", ".join(tier.perks))
        return "; ".join(parts) + "."

    def sentence(self, points: str, currency: str) -> str:
        what = (
            f"qualifying {points} (the {points} from earn rules and bonuses, before tier "
            "multipliers and caps)"
            if self.basis == "points"
            else f"net spend on counted orders in {currency}"
        )
        if self.period == "calendar_year":
            down = (
                "move to the tier last year's total qualifies them for"
                if self.demotion == "to_qualified"
                else "move down one tier at a time"
            )
            return (
                f"Tiers are earned with the {what} collected within a calendar year and kept for "
                f"the rest of that year and the whole next year. On 1 January, customers who did "
                f"not requalify {down}."
            )
        if self.period == "rolling_12_months":
            return (
                f"Tiers follow the {what} of the last 365 days, checked continuously: a customer "
                "moves up as soon as they reach a threshold and down as soon as their last 365 "
                "days fall below it."
            )
        return f"Tiers follow all {what} since the program started; a tier is never lost."


class PaidMembership(BaseModel):
    """A tier customers pay for (the Amazon Prime idea)."""

    model_config = _FROZEN

    name: str = "Plus"
    fee: Decimal = Field(gt=0)
    billing: Literal["yearly", "monthly"] = "yearly"
    free_shipping: bool = True
    earn_multiplier: float = Field(default=1.0, ge=1)
    perks: tuple[str, ...] = ()

    _n = field_validator("name")(lambda cls, v: _name(v))
    _p = field_validator("perks")(lambda cls, v: tuple(p.strip() for p in v if p.strip()))

    def sentence(self, points: str, currency: str) -> str:
        benefits = []
        if self.free_shipping:
            benefits.append("free shipping")
        if self.earn_multiplier != 1:
            benefits.append(f"{factor_text(self.earn_multiplier)} {points} on orders")
        benefits.extend(self.perks)
        per = "a year" if self.billing == "yearly" else "a month"
        return (
            f"Paid membership “{self.name}”: {money_text(float(self.fee), currency)} {per}; "
            + (", ".join(benefits) if benefits else "no benefits yet")
            + "."
        )


class Expiry(BaseModel):
    """When points expire: N months after they were earned, or after N months of inactivity."""

    model_config = _FROZEN

    rule: Literal["after_earning", "after_inactivity"] = "after_earning"
    months: int = Field(default=12, ge=1, le=MAX_EXPIRY_MONTHS)

    def sentence(self, points: str, currency: str) -> str:
        m = _plural(self.months, "months")
        if self.rule == "after_earning":
            earned = date(2024, 1, 31)
            y, m0 = divmod(earned.month - 1 + self.months, 12)
            gone = date(earned.year + y, m0 + 1, 1)
            gone = gone.replace(day=min(earned.day, _month_days(gone)))
            return (
                f"{points.capitalize()} expire {m} after they were earned, on the same day of "
                f"the month or the month's last day (earned {_day(earned)}, gone from "
                f"{_day(gone)}). Redemptions spend the oldest {points} first."
            )
        return (
            f"All {points} expire after {m} without activity (no order, bonus or redemption): "
            f"on the day {m} after the last one."
        )


class Reward(BaseModel):
    """Something a customer can redeem points for."""

    model_config = _FROZEN

    name: str
    points: int = Field(ge=1)
    cost: Decimal = Field(ge=0)
    """What one redemption costs the business."""
    discount_code: str | None = None
    """The discount code customers use to redeem it, when your orders show it."""

    _n = field_validator("name")(lambda cls, v: _name(v))
    _c = field_validator("discount_code")(
        lambda cls, v: (v.strip().upper() or None) if isinstance(v, str) else v
    )

    def sentence(self, points: str, currency: str) -> str:
        code = f"; redeemed with the code {self.discount_code}" if self.discount_code else ""
        return (
            f"{self.name}: {_plural(self.points, points)} (costs you "
            f"{money_text(float(self.cost), currency)}){code}."
        )


class LoyaltyProgram(BaseModel):
    """A whole program definition (what a version stores)."""

    model_config = _FROZEN

    name: str = DEFAULT_PROGRAM_NAME
    currency: PointsCurrency = PointsCurrency()
    earn_rules: tuple[EarnRule, ...] = ()
    caps: tuple[Cap, ...] = ()
    tiers: TierRules | None = None
    membership: PaidMembership | None = None
    expiry: Expiry | None = None
    rewards: tuple[Reward, ...] = ()

    _n = field_validator("name")(lambda cls, v: _name(v))

    @property
    def points(self) -> str:
        return self.currency.name

    def rules_of(self, kind: type[Any]) -> list[Any]:
        return [r for r in self.earn_rules if isinstance(r, kind)]

    def tier_list(self) -> tuple[Tier, ...]:
        """Tiers, lowest threshold first (empty without tiers)."""
        if self.tiers is None:
            return ()
        return tuple(sorted(self.tiers.tiers, key=lambda t: t.threshold))

    def tier_names(self) -> list[str]:
        """Level names by rank: 0 is "no tier", then the tiers lowest first."""
        return [NO_TIER, *(t.name for t in self.tier_list())]

    def sentences(self, currency: str) -> list[tuple[str, str]]:
        """(section, sentence) pairs describing the whole program, in reading order."""
        p = self.points
        out: list[tuple[str, str]] = [("Currency", self.currency.sentence(currency))]
        out += [("Earn rule", r.sentence(p, currency)) for r in self.earn_rules]
        if not self.earn_rules:
            out.append(("Earn rule", f"No earn rules yet: nobody earns {p}."))
        out += [("Cap", c.sentence(p, currency)) for c in self.caps]
        if self.tiers is not None and self.tiers.tiers:
            out.append(("Tiers", self.tiers.sentence(p, currency)))
            out += [("Tier", self.tiers.tier_sentence(t, p, currency)) for t in self.tier_list()]
        if self.membership is not None:
            out.append(("Paid membership", self.membership.sentence(p, currency)))
        out.append(
            ("Expiry", self.expiry.sentence(p, currency) if self.expiry else f"{p.capitalize()} never expire.")
        )
        out += [("Reward", r.sentence(p, currency)) for r in self.rewards]
        return out


def parse_program(data: dict[str, Any] | str) -> LoyaltyProgram:
    """A program from a dict or JSON text, or a refusal that names the field and the problem."""
    try:
        if isinstance(data, str):
            return LoyaltyProgram.model_validate_json(data)
        return LoyaltyProgram.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = " → ".join(str(x) for x in err["loc"]) or "program"
            problems.append(f"{where}: {err['msg']}")
        raise InputRefused(
            "The loyalty program could not be read: " + "; ".join(problems)
            + ". Correct these fields and try again."
        ) from exc


def starter_program() -> LoyaltyProgram:
    """What a new draft starts from: 1 point per 1 unit of money, nothing else."""
    return LoyaltyProgram(earn_rules=(PointsPerSpend(),))


def describe_changes(old: LoyaltyProgram | None, new: LoyaltyProgram, currency: str) -> str:
    """What changed from ``old`` to ``new``, in words (for the version list)."""
    if old is None:
        return "First version."
    p = new.points
    changes: list[str] = []
    if old.name != new.name:
        changes.append(f"renamed “{old.name}” → “{new.name}”")
    if old.currency != new.currency:
        changes.append(
            f"currency: {old.currency.name} at {money_text(float(old.currency.value), currency)}"
            f" → {new.currency.name} at {money_text(float(new.currency.value), currency)}"
        )

    def diff(label: str, a: Sequence[Any], b: Sequence[Any], text: Any) -> None:
        added = [text(x) for x in b if x not in a]
        removed = [text(x) for x in a if x not in b]
        if added:
            changes.append(f"{label} added: " + " | ".join(added))
        if removed:
            changes.append(f"{label} removed: " + " | ".join(removed))

    diff("earn rules", old.earn_rules, new.earn_rules, lambda r: r.label(p, currency))
    diff("caps", old.caps, new.caps, lambda c: c.label(p, currency))
    old_rules = old.tiers.model_copy(update={"tiers": ()}) if old.tiers else None
    new_rules = new.tiers.model_copy(update={"tiers": ()}) if new.tiers else None
    if old_rules != new_rules:
        changes.append("tier rules: " + (new_rules.sentence(p, currency) if new_rules else "none"))
    if new.tiers is not None:
        rules = new.tiers
        diff("tiers", old.tier_list(), new.tier_list(),
             lambda t: rules.tier_sentence(t, p, currency).rstrip("."))
    elif old.tiers is not None and old.tiers.tiers:
        changes.append("tiers removed")
    if old.membership != new.membership:
        changes.append(
            "paid membership: "
            + (new.membership.sentence(p, currency).rstrip(".") if new.membership else "removed")
        )
    if old.expiry != new.expiry:
        changes.append(
            "expiry: "
            + (new.expiry.sentence(p, currency).rstrip(".") if new.expiry else f"{p} never expire")
        )
    diff("rewards", old.rewards, new.rewards, lambda r: r.sentence(p, currency).rstrip("."))
    if not changes:
        return "No changes to the rules (saved again)."
    text = "; ".join(changes)
    return text[0].upper() + text[1:] + "."
