"""What a segment is: conditions a marketer picks, grouped with AND/OR, as data.

A :class:`SegmentDefinition` holds conditions (one of the ``*Condition`` models, told apart by
their ``kind``) and at most one level of :class:`ConditionGroup`. Each condition knows its
plain-English phrase; :meth:`SegmentDefinition.sentence` joins them into the sentence the page
shows above the result ("Customers in Germany who bought Coffee in the last 90 days and are
promoters"). :mod:`relmark_core.segments.compile` turns the same definition into an Ibis filter.

Every text a user gives (a country, a tag, a product...) is checked here — trimmed, not empty,
no control characters, at most :data:`MAX_TEXT` characters — and only ever reaches a query as an
Ibis literal. :func:`parse_definition` and :func:`condition_problem` turn validation errors into
sentences naming the condition and the field.

Behaviour (orders, spend, products, codes, channels, feedback, RFM) is measured at an as-of
day: counted orders and answers up to the end of that day; "in the last N days" is the N days
ending on it (the as-of day included), the same as the sidebar's "Last N days".
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from relmark_core.errors import InputRefused
from relmark_core.metrics.rfm import money_text
from relmark_core.personalisation.affinity import DEFAULT_MIN_COUNT, MAX_MIN_COUNT

__all__ = [
    "MAX_TEXT",
    "MAX_VALUES",
    "MAX_CONDITIONS",
    "MAX_DAYS",
    "MAX_AGE",
    "CSAT_SCALE",
    "LIKELY_TOP",
    "LIKELY_MAX_TOP",
    "Match",
    "MATCHES",
    "ConditionKind",
    "CONDITION_LABELS",
    "CONDITION_KINDS",
    "FIELD_LABELS",
    "COUNTRY_NAMES",
    "SALES_CHANNEL_LABELS",
    "NPS_GROUP_WORDS",
    "AGE_BANDS",
    "Phrase",
    "AgeCondition",
    "GenderCondition",
    "LocationCondition",
    "TagCondition",
    "OrderCountCondition",
    "SpendCondition",
    "AovCondition",
    "OrderDateCondition",
    "BoughtCondition",
    "DiscountCodeCondition",
    "SalesChannelCondition",
    "NpsCondition",
    "CsatCondition",
    "ConsentCondition",
    "RfmCondition",
    "TierCondition",
    "LikelyCondition",
    "Condition",
    "ConditionGroup",
    "SegmentDefinition",
    "parse_definition",
    "parse_condition",
    "condition_problem",
    "definition_from_json",
    "STARTER_DAYS",
    "starter_condition",
]

MAX_TEXT = 200
"""Characters in one value (a country, a tag, a product name)."""
MAX_VALUES = 100
"""Values in one condition."""
MAX_CONDITIONS = 20
"""Conditions in the segment, and in one group."""
MAX_DAYS = 36_500
"""The longest "in the last N days" (100 years)."""
MAX_AGE = 130
CSAT_SCALE = (1, 5)
LIKELY_TOP = 1
"""The "likely to buy" condition's default: the product is the customer's next-best product."""
LIKELY_MAX_TOP = 5
MONEY_DIGITS = 14

Match = Literal["all", "any"]
MATCHES: tuple[Match, ...] = ("all", "any")

ConditionKind = Literal[
    "age", "gender", "location", "tags", "orders", "spend", "aov", "order_date", "bought",
    "discount_code", "sales_channel", "nps", "csat", "consent", "rfm", "tier", "likely",
]
CONDITION_LABELS: dict[str, str] = {
    "age": "Age",
    "gender": "Gender",
    "location": "Location",
    "tags": "Interests (tags)",
    "orders": "Number of orders",
    "spend": "Total spend",
    "aov": "Average order value",
    "order_date": "First or last order date",
    "bought": "Bought a category or product",
    "discount_code": "Discount code used",
    "sales_channel": "Sales channel",
    "nps": "NPS group (latest answer)",
    "csat": "CSAT score (latest answer)",
    "consent": "Email marketing consent",
    "rfm": "RFM group",
    "tier": "Loyalty tier",
    "likely": "Likely to buy a product next",
    "group": "Group of conditions",
}
CONDITION_KINDS: tuple[str, ...] = tuple(k for k in CONDITION_LABELS if k != "group")

FIELD_LABELS: dict[str, str] = {
    "min_age": "youngest age",
    "max_age": "oldest age",
    "genders": "genders",
    "field": "location field",
    "values": "values",
    "exclude": "exclude",
    "tags": "tags",
    "match": "match",
    "min_orders": "fewest orders",
    "max_orders": "most orders",
    "min_spend": "lowest spend",
    "max_spend": "highest spend",
    "min_aov": "lowest average order value",
    "max_aov": "highest average order value",
    "which": "first or last order",
    "within_days": "in the last N days",
    "over_days": "more than N days ago",
    "start": "from date",
    "end": "to date",
    "what": "category or product",
    "bought": "bought or not",
    "codes": "discount codes",
    "used": "used or not",
    "channels": "sales channels",
    "groups": "groups",
    "min_score": "lowest score",
    "max_score": "highest score",
    "consented": "consent",
    "channel": "channel",
    "tiers": "tiers",
    "product": "product",
    "top": "top suggestions",
    "min_customers": "fewest customers behind a pair",
    "conditions": "conditions",
    "kind": "condition type",
}

# ISO 3166 alpha-2 codes the sentence spells out; other codes are shown as they are.
COUNTRY_NAMES: dict[str, str] = {
    "US": "the United States", "CA": "Canada", "MX": "Mexico", "BR": "Brazil",
    "AR": "Argentina", "GB": "the United Kingdom", "IE": "Ireland", "DE": "Germany",
    "FR": "France", "ES": "Spain", "PT": "Portugal", "IT": "Italy", "NL": "the Netherlands",
    "BE": "Belgium", "LU": "Luxembourg", "CH": "Switzerland", "AT": "Austria",
    "DK": "Denmark", "SE": "Sweden", "NO": "Norway", "FI": "Finland", "IS": "Iceland",
    "PL": "Poland", "CZ": "Czechia", "HU": "Hungary", "GR": "Greece", "TR": "Turkey",
    "RO": "Romania", "UA": "Ukraine", "IL": "Israel", "AE": "the United Arab Emirates",
    "SA": "Saudi Arabia", "IN": "India", "CN": "China", "JP": "Japan", "KR": "South Korea",
    "SG": "Singapore", "HK": "Hong Kong", "TW": "Taiwan", "TH": "Thailand",
    "ID": "Indonesia", "MY": "Malaysia", "PH": "the Philippines", "VN": "Vietnam",
    "AU": "Australia", "NZ": "New Zealand", "ZA": "South Africa", "NG": "Nigeria",
    "KE": "Kenya", "EG": "Egypt",
}  # fmt: skip
SALES_CHANNEL_LABELS: dict[str, str] = {
    "online_store": "the online store",
    "online store": "the online store",
    "pos": "a shop till (POS)",
    "marketplace": "a marketplace",
}
NPS_GROUP_WORDS: dict[str, str] = {
    "promoter": "promoters",
    "passive": "passives",
    "detractor": "detractors",
}
NpsGroupName = Literal["promoter", "passive", "detractor"]
AGE_BANDS: tuple[tuple[str, int | None, int | None], ...] = (
    ("18–24", 18, 24),
    ("25–34", 25, 34),
    ("35–44", 35, 44),
    ("45–54", 45, 54),
    ("55–64", 55, 64),
    ("65 or over", 65, None),
)
"""Age bands the builder offers: (label, youngest, oldest)."""

_FORBIDDEN_CATEGORIES = ("Cc", "Cs", "Co", "Cn")  # control, surrogate, private use, unassigned


def _clean_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("is empty; type a value or remove it")
    if len(text) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    bad = next((ch for ch in text if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        raise ValueError(
            f"contains an invisible or control character (U+{ord(bad):04X}); retype the value"
        )
    return text


def _clean_values(values: Sequence[str], *, case: Literal["keep", "lower", "upper"]) -> tuple[
    str, ...
]:
    out: list[str] = []
    for v in values:
        text = _clean_text(v)
        text = text.lower() if case == "lower" else text.upper() if case == "upper" else text
        if text not in out:
            out.append(text)
    return tuple(out)


def _keep_case(values: tuple[str, ...]) -> tuple[str, ...]:
    return _clean_values(values, case="keep")


def _lower_case(values: tuple[str, ...]) -> tuple[str, ...]:
    return _clean_values(values, case="lower")


def _upper_case(values: tuple[str, ...]) -> tuple[str, ...]:
    return _clean_values(values, case="upper")


Values = Annotated[
    tuple[str, ...], Field(min_length=1, max_length=MAX_VALUES), AfterValidator(_keep_case)
]
"""Texts as typed (trimmed, checked, repeats dropped)."""
LowerValues = Annotated[
    tuple[str, ...], Field(min_length=1, max_length=MAX_VALUES), AfterValidator(_lower_case)
]
Codes = Annotated[tuple[str, ...], Field(max_length=MAX_VALUES), AfterValidator(_upper_case)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
Money = Annotated[Decimal, Field(ge=0, max_digits=MONEY_DIGITS, decimal_places=2)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


def _words(values: Sequence[str], conj: str = "or") -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    items = list(values)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _days_window(days: int | None) -> str:
    if days is None:
        return ""
    return " in the last day" if days == 1 else f" in the last {days:,} days"


class Phrase(BaseModel):
    """One condition in words: ``where`` phrases read after "Customers" ("in Germany"), ``who``
    phrases after "who" ("bought Coffee")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["where", "who"]
    text: str


class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: ClassVar[str] = ""

    def phrase(self, currency: str) -> Phrase:  # pragma: no cover - every condition overrides
        raise NotImplementedError


class _RangeCondition(_Condition):
    """A condition on a value between a lowest and a highest bound (either may be left out)."""

    bounds: ClassVar[tuple[str, str]] = ("", "")

    @model_validator(mode="after")
    def _range(self) -> _RangeCondition:
        lo_name, hi_name = self.bounds
        _check_range(getattr(self, lo_name), getattr(self, hi_name), lo_name, hi_name)
        return self


def _check_range(lo: Any, hi: Any, lo_name: str, hi_name: str) -> None:
    if lo is None and hi is None:
        raise ValueError(f"set the {FIELD_LABELS[lo_name]}, the {FIELD_LABELS[hi_name]} or both")
    if lo is not None and hi is not None and lo > hi:

        def show(v: Any) -> str:
            return f"{v:.2f}" if isinstance(v, Decimal) else str(v)

        raise ValueError(
            f"the {FIELD_LABELS[lo_name]} ({show(lo)}) is above the {FIELD_LABELS[hi_name]} "
            f"({show(hi)})"
        )


def _range_words(lo: Any, hi: Any, fmt: Any = str) -> tuple[str, str]:
    """(style, words): ``("between", "2–5")``, ``("min", "2")``, ``("max", "5")``,
    ``("exact", "2")``."""
    if lo is not None and hi is not None:
        if lo == hi:
            return "exact", fmt(lo)
        return "between", f"{fmt(lo)}–{fmt(hi)}"
    if lo is not None:
        return "min", fmt(lo)
    return "max", fmt(hi)


class AgeCondition(_RangeCondition):
    """Age in whole years at the as-of day, from the birthday (customers without one never
    match)."""

    label: ClassVar[str] = CONDITION_LABELS["age"]
    bounds: ClassVar[tuple[str, str]] = ("min_age", "max_age")
    kind: Literal["age"] = "age"
    min_age: int | None = Field(default=None, ge=0, le=MAX_AGE)
    max_age: int | None = Field(default=None, ge=0, le=MAX_AGE)

    def phrase(self, currency: str) -> Phrase:
        style, words = _range_words(self.min_age, self.max_age)
        text = {
            "exact": f"are aged {words}",
            "between": f"are aged {words}",
            "min": f"are aged {words} or over",
            "max": f"are aged {words} or under",
        }[style]
        return Phrase(role="who", text=text)


class GenderCondition(_Condition):
    """The gender as recorded (values matched exactly)."""

    label: ClassVar[str] = CONDITION_LABELS["gender"]
    kind: Literal["gender"] = "gender"
    genders: Values

    def phrase(self, currency: str) -> Phrase:
        return Phrase(role="who", text=f"are {_words(self.genders)}")


class LocationCondition(_Condition):
    """City, region or country (country as ISO code, case ignored). ``exclude`` keeps everyone
    else, customers with no known location included."""

    label: ClassVar[str] = CONDITION_LABELS["location"]
    kind: Literal["location"] = "location"
    field: Literal["country", "region", "city"] = "country"
    values: Values
    exclude: bool = False

    @model_validator(mode="before")
    @classmethod
    def _case(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("field", "country") == "country":
            vals = data.get("values")
            if isinstance(vals, (list, tuple)):
                data = {**data, "values": [v.upper() if isinstance(v, str) else v for v in vals]}
        return data

    def phrase(self, currency: str) -> Phrase:
        names = [
            COUNTRY_NAMES.get(v, v) if self.field == "country" else v for v in self.values
        ]
        if self.exclude:
            return Phrase(role="where", text=f"outside {_words(names, 'and')}")
        return Phrase(role="where", text=f"in {_words(names)}")


class TagCondition(_Condition):
    """Interests: the customer's tags (lower-case). ``any``: at least one of them; ``all``:
    every one; ``none``: none of them (customers without tags included)."""

    label: ClassVar[str] = CONDITION_LABELS["tags"]
    kind: Literal["tags"] = "tags"
    tags: LowerValues
    match: Literal["any", "all", "none"] = "any"

    def phrase(self, currency: str) -> Phrase:
        if self.match == "all":
            return Phrase(role="who", text=f"are interested in {_words(self.tags, 'and')}")
        if self.match == "none":
            return Phrase(role="who", text=f"are not interested in {_words(self.tags)}")
        return Phrase(role="who", text=f"are interested in {_words(self.tags)}")


class OrderCountCondition(_RangeCondition):
    """Counted orders (every currency) up to the as-of day; customers without orders have 0."""

    label: ClassVar[str] = CONDITION_LABELS["orders"]
    bounds: ClassVar[tuple[str, str]] = ("min_orders", "max_orders")
    kind: Literal["orders"] = "orders"
    min_orders: Count | None = None
    max_orders: Count | None = None

    def phrase(self, currency: str) -> Phrase:
        lo, hi = self.min_orders, self.max_orders
        if hi == 0:
            return Phrase(role="who", text="have no orders")
        style, words = _range_words(lo, hi)
        if style == "exact":
            assert lo is not None
            text = f"have exactly {_plural(lo, 'order')}"
        elif style == "between":
            text = f"have {words} orders"
        elif style == "min":
            assert lo is not None
            text = f"have {_plural(lo, 'order')} or more"
        else:
            assert hi is not None
            text = f"have at most {_plural(hi, 'order')}"
        return Phrase(role="who", text=text)


def _money_range_phrase(lo: Decimal | None, hi: Decimal | None, currency: str, head: str,
                        ) -> str:
    style, words = _range_words(lo, hi, lambda d: money_text(float(d), currency))
    return {
        "exact": f"{head} exactly {words}",
        "between": f"{head} {words}",
        "min": f"{head} {words} or more",
        "max": f"{head} at most {words}",
    }[style]


class SpendCondition(_RangeCondition):
    """Net revenue of counted orders up to the as-of day, in the reporting currency (orders in
    other currencies add nothing); customers without orders have spent 0."""

    label: ClassVar[str] = CONDITION_LABELS["spend"]
    bounds: ClassVar[tuple[str, str]] = ("min_spend", "max_spend")
    kind: Literal["spend"] = "spend"
    min_spend: Money | None = None
    max_spend: Money | None = None

    def phrase(self, currency: str) -> Phrase:
        return Phrase(
            role="who",
            text=_money_range_phrase(self.min_spend, self.max_spend, currency, "have spent"),
        )


class AovCondition(_RangeCondition):
    """Spend ÷ counted orders in the reporting currency (customers without such orders never
    match)."""

    label: ClassVar[str] = CONDITION_LABELS["aov"]
    bounds: ClassVar[tuple[str, str]] = ("min_aov", "max_aov")
    kind: Literal["aov"] = "aov"
    min_aov: Money | None = None
    max_aov: Money | None = None

    def phrase(self, currency: str) -> Phrase:
        return Phrase(
            role="who",
            text=_money_range_phrase(
                self.min_aov, self.max_aov, currency, "have an average order value of"
            ),
        )


class OrderDateCondition(_Condition):
    """When the first or last counted order was placed: in the last N days, more than N days
    ago, or between two dates (both included). Customers without orders never match."""

    label: ClassVar[str] = CONDITION_LABELS["order_date"]
    kind: Literal["order_date"] = "order_date"
    which: Literal["first", "last"] = "last"
    within_days: Days | None = None
    over_days: Days | None = None
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _one_way(self) -> OrderDateCondition:
        ways = sum(
            [self.within_days is not None, self.over_days is not None,
             self.start is not None or self.end is not None]
        )
        if ways != 1:
            raise ValueError(
                "choose one of: in the last N days, more than N days ago, or a from/to date"
            )
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"the from date ({self.start}) is after the to date ({self.end})")
        return self

    def phrase(self, currency: str) -> Phrase:
        head = f"placed their {self.which} order"
        if self.within_days is not None:
            return Phrase(role="who", text=head + _days_window(self.within_days))
        if self.over_days is not None:
            return Phrase(role="who", text=f"{head} more than {_plural(self.over_days, 'day')} ago")
        if self.start is not None and self.end is not None:
            if self.start == self.end:
                return Phrase(role="who", text=f"{head} on {_day(self.start)}")
            return Phrase(
                role="who", text=f"{head} between {_day(self.start)} and {_day(self.end)}"
            )
        if self.start is not None:
            return Phrase(role="who", text=f"{head} on or after {_day(self.start)}")
        assert self.end is not None
        return Phrase(role="who", text=f"{head} on or before {_day(self.end)}")


class BoughtCondition(_Condition):
    """Bought (or never bought) a category or product in a counted order, optionally only in
    the last N days."""

    label: ClassVar[str] = CONDITION_LABELS["bought"]
    kind: Literal["bought"] = "bought"
    what: Literal["category", "product"] = "category"
    values: Values
    bought: bool = True
    within_days: Days | None = None

    def phrase(self, currency: str) -> Phrase:
        window = _days_window(self.within_days)
        if self.bought:
            return Phrase(role="who", text=f"bought {_words(self.values)}{window}")
        if self.within_days is None:
            return Phrase(role="who", text=f"never bought {_words(self.values)}")
        return Phrase(role="who", text=f"did not buy {_words(self.values)}{window}")


class DiscountCodeCondition(_Condition):
    """Used (or never used) a discount code in a counted order — any code when ``codes`` is
    empty; codes are matched ignoring case."""

    label: ClassVar[str] = CONDITION_LABELS["discount_code"]
    kind: Literal["discount_code"] = "discount_code"
    codes: Codes = ()
    used: bool = True
    within_days: Days | None = None

    def phrase(self, currency: str) -> Phrase:
        window = _days_window(self.within_days)
        what = (
            "a discount code" if not self.codes
            else f"the discount code {_words(self.codes)}" if len(self.codes) == 1
            else f"the discount codes {_words(self.codes)}"
        )
        if self.used:
            return Phrase(role="who", text=f"used {what}{window}")
        if self.within_days is None:
            return Phrase(role="who", text=f"never used {what}")
        return Phrase(role="who", text=f"did not use {what}{window}")


class SalesChannelCondition(_Condition):
    """Placed a counted order through one of these sales channels (optionally in the last N
    days)."""

    label: ClassVar[str] = CONDITION_LABELS["sales_channel"]
    kind: Literal["sales_channel"] = "sales_channel"
    channels: Values
    within_days: Days | None = None

    def phrase(self, currency: str) -> Phrase:
        names = [SALES_CHANNEL_LABELS.get(c, c) for c in self.channels]
        return Phrase(
            role="who", text=f"bought through {_words(names)}{_days_window(self.within_days)}"
        )


class NpsCondition(_Condition):
    """The NPS group of the customer's latest NPS answer up to the as-of day."""

    label: ClassVar[str] = CONDITION_LABELS["nps"]
    kind: Literal["nps"] = "nps"
    groups: Annotated[tuple[NpsGroupName, ...], Field(min_length=1, max_length=3)]

    @field_validator("groups")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v))

    def phrase(self, currency: str) -> Phrase:
        return Phrase(role="who", text=f"are {_words([NPS_GROUP_WORDS[g] for g in self.groups])}")


class CsatCondition(_RangeCondition):
    """The score (1–5) of the customer's latest CSAT answer up to the as-of day."""

    label: ClassVar[str] = CONDITION_LABELS["csat"]
    bounds: ClassVar[tuple[str, str]] = ("min_score", "max_score")
    kind: Literal["csat"] = "csat"
    min_score: int | None = Field(default=None, ge=CSAT_SCALE[0], le=CSAT_SCALE[1])
    max_score: int | None = Field(default=None, ge=CSAT_SCALE[0], le=CSAT_SCALE[1])

    def phrase(self, currency: str) -> Phrase:
        style, words = _range_words(self.min_score, self.max_score)
        text = {
            "exact": f"gave {words}",
            "between": f"gave {words}",
            "min": f"gave {words} or more",
            "max": f"gave {words} or less",
        }[style]
        return Phrase(role="who", text=f"{text} in their latest CSAT answer")


CONSENT_CHANNEL_WORDS: dict[str, str] = {
    "email": "email marketing",
    "sms": "SMS marketing",
    "ads": "ads (custom audiences)",
}


class ConsentCondition(_Condition):
    """Whether the customer gave marketing consent on a channel (email by default; unknown
    counts as not): see :mod:`relmark_core.privacy.consent`."""

    label: ClassVar[str] = CONDITION_LABELS["consent"]
    kind: Literal["consent"] = "consent"
    consented: bool = True
    channel: Literal["email", "sms", "ads"] = "email"

    def phrase(self, currency: str) -> Phrase:
        words = CONSENT_CHANNEL_WORDS[self.channel]
        return Phrase(
            role="who",
            text=f"accept {words}" if self.consented else f"do not accept {words}",
        )


class RfmCondition(_Condition):
    """The customer's RFM group at the as-of day (the shop's saved groups)."""

    label: ClassVar[str] = CONDITION_LABELS["rfm"]
    kind: Literal["rfm"] = "rfm"
    groups: Values

    def phrase(self, currency: str) -> Phrase:
        noun = "the RFM group" if len(self.groups) == 1 else "the RFM groups"
        return Phrase(role="where", text=f"in {noun} {_words(self.groups)}")


class TierCondition(_Condition):
    """The customer's tier in the active loyalty program at the as-of day (members only; see
    :func:`relmark_core.loyalty.customer_tiers`)."""

    label: ClassVar[str] = CONDITION_LABELS["tier"]
    kind: Literal["tier"] = "tier"
    tiers: Values

    def phrase(self, currency: str) -> Phrase:
        noun = "the loyalty tier" if len(self.tiers) == 1 else "the loyalty tiers"
        return Phrase(role="where", text=f"in {noun} {_words(self.tiers)}")


class LikelyCondition(_Condition):
    """The product is one of the customer's ``top`` next-best products at the as-of day: bought
    later by the most buyers of a product they bought, and not bought by them yet (see
    :mod:`relmark_core.personalisation.recommend`; pairs behind at least ``min_customers``
    customers)."""

    label: ClassVar[str] = CONDITION_LABELS["likely"]
    kind: Literal["likely"] = "likely"
    product: Annotated[str, AfterValidator(_clean_text)]
    top: int = Field(default=LIKELY_TOP, ge=1, le=LIKELY_MAX_TOP)
    min_customers: int = Field(default=DEFAULT_MIN_COUNT, ge=1, le=MAX_MIN_COUNT)

    def phrase(self, currency: str) -> Phrase:
        which = ("their top suggestion" if self.top == 1
                 else f"one of their top {self.top} suggestions")
        if self.min_customers != DEFAULT_MIN_COUNT:
            which += f", from pairs behind at least {_plural(self.min_customers, 'customer')}"
        return Phrase(role="who", text=f"are likely to buy {self.product} next ({which})")


Condition: TypeAlias = Annotated[
    AgeCondition | GenderCondition | LocationCondition | TagCondition | OrderCountCondition
    | SpendCondition | AovCondition | OrderDateCondition | BoughtCondition
    | DiscountCodeCondition | SalesChannelCondition | NpsCondition | CsatCondition
    | ConsentCondition | RfmCondition | TierCondition | LikelyCondition,
    Field(discriminator="kind"),
]


def _clause(parts: Sequence[Phrase | str], match: Match) -> str:
    """Phrases joined: "in Germany who bought Coffee and are promoters". ``where`` phrases come
    first, then the ``who`` phrases after a single "who", then groups (already worded)."""
    conj = " and " if match == "all" else " or "
    where = [p.text for p in parts if isinstance(p, Phrase) and p.role == "where"]
    who = [p.text for p in parts if isinstance(p, Phrase) and p.role == "who"]
    groups = [p for p in parts if isinstance(p, str)]
    if match == "all":
        head = conj.join(where)
        if who:
            head = (head + " " if head else "") + "who " + conj.join(who)
        return conj.join(([head] if head else []) + groups)
    return conj.join(where + (["who " + conj.join(who)] if who else []) + groups)


class ConditionGroup(BaseModel):
    """Conditions combined by ``match`` (all must hold, or any one), inside the segment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["group"] = "group"
    match: Match = "any"
    conditions: Annotated[tuple[Condition, ...], Field(min_length=1, max_length=MAX_CONDITIONS)]

    def clause(self, currency: str) -> str:
        inner = _clause([c.phrase(currency) for c in self.conditions], self.match)
        return inner if len(self.conditions) == 1 else f"({inner})"


Item: TypeAlias = Annotated[Condition | ConditionGroup, Field(discriminator="kind")]


class SegmentDefinition(BaseModel):
    """A segment: conditions (and groups of conditions, one level deep) combined by ``match``.

    No conditions means every customer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: Match = "all"
    conditions: Annotated[tuple[Item, ...], Field(max_length=MAX_CONDITIONS)] = ()

    def sentence(self, currency: str = "USD") -> str:
        """The segment in words: "Customers in Germany who bought Coffee in the last 90 days
        and are promoters"."""
        if not self.conditions:
            return "All customers"
        parts: list[Phrase | str] = [
            c.clause(currency) if isinstance(c, ConditionGroup) else c.phrase(currency)
            for c in self.conditions
        ]
        return "Customers " + _clause(parts, self.match)

    def flat_conditions(self) -> list[_Condition]:
        """Every condition, groups opened."""
        out: list[_Condition] = []
        for c in self.conditions:
            out.extend(c.conditions if isinstance(c, ConditionGroup) else [c])
        return out

    def uses_behaviour(self) -> bool:
        """True when a condition depends on orders, answers or RFM (so it changes over time)."""
        static = (GenderCondition, LocationCondition, TagCondition, ConsentCondition)
        return any(not isinstance(c, static) for c in self.flat_conditions())

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=False)


# --- validation messages ----------------------------------------------------------------------

_ADAPTER: TypeAdapter[SegmentDefinition] = TypeAdapter(SegmentDefinition)
_CONDITION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Item)


def _where(loc: Sequence[int | str], prefix: str | None) -> tuple[str, str | None]:
    """("condition 2 (Total spend)", "min_spend") from a pydantic error location."""
    numbers: list[str] = []
    kinds: list[str] = []
    field: str | None = None
    after_number = True  # a lone condition's location starts with its kind
    for part in loc:
        if field is None and isinstance(part, int):
            numbers.append(str(part + 1))
            kinds = []  # a kind names the condition only right after its number
        elif field is None and after_number and part in CONDITION_LABELS:
            kinds.append(str(part))
        elif field is None and part == "conditions":
            pass
        elif field is None:
            field = str(part)
        elif isinstance(part, int):
            field = f"{field}#{part + 1}"
        after_number = isinstance(part, int)
    if prefix is not None:
        return prefix, field
    label = CONDITION_LABELS.get(kinds[-1], "") if kinds else ""
    where = f"condition {'.'.join(numbers)}" if numbers else "the segment"
    return (f"{where} ({label})" if label else where), field


def _field_words(field: str | None) -> str:
    if field is None:
        return ""
    base, _, nth = field.partition("#")
    words = FIELD_LABELS.get(base, base.replace("_", " "))
    return f"{words}, value {nth}" if nth else words


def _explain(err: Any) -> str:
    """A pydantic error in plain words."""
    typ = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if typ == "extra_forbidden":
        return "is not a field of this condition"
    if typ == "union_tag_invalid" and ctx.get("tag") == "group":
        return "a group cannot hold another group (one level only); move its conditions up"
    if typ == "union_tag_invalid":
        return f"“{ctx.get('tag')}” is not a condition type; use one of: {', '.join(CONDITION_KINDS)}"
    if typ == "union_tag_not_found":
        return "says no condition type (kind)"
    if typ == "missing":
        return "is missing"
    if typ in ("greater_than_equal", "greater_than"):
        return f"must be {ctx.get('ge', ctx.get('gt'))} or more"
    if typ in ("less_than_equal", "less_than"):
        return f"must be {ctx.get('le', ctx.get('lt'))} or less"
    if typ in ("int_parsing", "int_from_float", "int_type"):
        return "must be a whole number"
    if typ in ("decimal_parsing", "decimal_type", "float_parsing"):
        return "must be a number"
    if typ == "decimal_max_places":
        return f"can have at most {ctx.get('decimal_places')} decimal places"
    if typ == "decimal_max_digits":
        return "is too large"
    if typ.startswith("date") or typ.startswith("datetime"):
        return "must be a date (YYYY-MM-DD)"
    if typ == "too_short":
        return "needs at least one value"
    if typ == "too_long":
        return f"can have at most {ctx.get('max_length')} values"
    if typ == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if typ.startswith("bool"):
        return "must be yes or no"
    if typ in ("string_type", "tuple_type", "list_type", "dict_type", "model_type"):
        return "has the wrong type of value"
    msg = str(err.get("msg", "is not valid"))
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg[:1].lower() + msg[1:]


def _refusal(exc: ValidationError, *, prefix: str | None = None) -> InputRefused:
    """One sentence per problem (at most three), deepest problems first: a group that fails
    because a condition inside it fails is not reported twice."""
    errs = exc.errors()
    deep = [e for e in errs if e.get("type") not in ("too_short",)] or errs
    lines: list[str] = []
    for err in deep[:3]:
        where, field = _where(err.get("loc", ()), prefix)
        fw = _field_words(field)
        lines.append(f"In {where}, {fw}: {_explain(err)}." if fw else
                     f"In {where}: {_explain(err)}.")
    more = f" (and {len(deep) - 3} more problems)" if len(deep) > 3 else ""
    return InputRefused(" ".join(dict.fromkeys(lines)) + more)


def parse_definition(data: dict[str, Any] | SegmentDefinition) -> SegmentDefinition:
    """A definition from plain data (e.g. the builder's rows or saved JSON), or a refusal whose
    message names the condition and field: "In condition 2 (Total spend), lowest spend: Input
    should be greater than or equal to 0."."""
    if isinstance(data, SegmentDefinition):
        return data
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _refusal(exc) from exc


def parse_condition(data: dict[str, Any]) -> Any:
    """One condition (or group) from plain data; refusals as in :func:`parse_definition`."""
    try:
        return _CONDITION_ADAPTER.validate_python(data)
    except ValidationError as exc:
        label = CONDITION_LABELS.get(str(data.get("kind")), "")
        raise _refusal(exc, prefix=f"this condition ({label})" if label else "this condition")\
            from exc


def condition_problem(data: dict[str, Any]) -> str | None:
    """The message for one condition's first problem, or None when it is valid (the builder
    shows it beside the condition)."""
    try:
        parse_condition(data)
    except InputRefused as exc:
        return str(exc)
    return None


def definition_from_json(text: str) -> SegmentDefinition:
    """A definition saved as JSON (refusing broken JSON in words)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputRefused(f"The saved segment is not valid JSON ({exc.msg}).") from exc
    if not isinstance(data, dict):
        raise InputRefused("The saved segment is not a definition (expected a JSON object).")
    return parse_definition(data)



STARTER_DAYS = 90
"""The "in the last N days" a new condition starts with."""


def starter_condition(kind: str, options: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A valid condition of ``kind`` to start editing from, using the shop's most frequent
    values (``options`` as :func:`relmark_core.segments.compile.value_options` gives them)."""
    opts = options or {}

    def first(field: str, fallback: str) -> list[str]:
        values = opts.get(field) or []
        return [values[0] if values else fallback]

    starters: dict[str, dict[str, Any]] = {
        "age": {"min_age": 25, "max_age": 34},
        "gender": {"genders": first("gender", "female")},
        "location": {"field": "country", "values": first("country", "US")},
        "tags": {"tags": first("tags", "coffee"), "match": "any"},
        "orders": {"min_orders": 2},
        "spend": {"min_spend": "100.00"},
        "aov": {"min_aov": "50.00"},
        "order_date": {"which": "last", "within_days": STARTER_DAYS},
        "bought": {"what": "category", "values": first("category", "Coffee"),
                   "within_days": STARTER_DAYS},
        "discount_code": {"codes": []},
        "sales_channel": {"channels": first("sales_channel", "online_store")},
        "nps": {"groups": ["promoter"]},
        "csat": {"min_score": 4, "max_score": 5},
        "consent": {"consented": True},
        "rfm": {"groups": first("rfm", "Champions")},
        "tier": {"tiers": first("tier", "Gold")},
        "likely": {"product": first("product", "Coffee")[0], "top": LIKELY_TOP},
    }
    if kind not in starters:
        raise InputRefused(
            f"“{kind}” is not a condition type; use one of: {', '.join(CONDITION_KINDS)}."
        )
    return {"kind": kind, **starters[kind]}
