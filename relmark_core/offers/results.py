"""Did the offer work? Treatment against the random holdout, after later orders are imported.

- Redemptions: counted orders in the window whose discount code (trimmed, upper-case) is one
  of the offer's codes.
- Conversion: a member with any counted order in the window (the same rule for treatment and
  holdout, code or not). Revenue per member: net revenue of those orders (reporting currency)
  divided by the arm's members.
- Uplift in conversion = treatment − holdout, with Newcombe's hybrid (Wilson) score 95%
  interval for a difference of proportions; incremental revenue per member with a seeded
  percentile bootstrap (deterministic). When an interval includes 0 the verdict says "not
  distinguishable from no effect yet" instead of a bare percentage.
- Cost: the discounts recorded on redeeming orders (or the planned cost of one redemption when
  an order records none); return = incremental revenue − cost.
"""

from __future__ import annotations

import math
from datetime import timedelta

import duckdb
import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from relmark_core.metrics.common import counted_orders, in_window
from relmark_core.metrics.rfm import money_text
from relmark_core.offers.model import Offer, redemption_cost
from relmark_core.offers.saved import get_offer
from relmark_core.periods import DateRange
from relmark_core.source import Source

__all__ = [
    "Z_95",
    "BOOTSTRAP_SAMPLES",
    "BOOTSTRAP_SEED",
    "NO_EFFECT_YET",
    "wilson_interval",
    "newcombe_interval",
    "bootstrap_mean_difference",
    "OfferResults",
    "offer_results",
]

Z_95 = 1.959964
BOOTSTRAP_SAMPLES = 2_000
BOOTSTRAP_SEED = 20_240_601
_BOOT_CELLS = 2_000_000
NO_EFFECT_YET = "not distinguishable from no effect yet"


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, z: float = Z_95
                      ) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 − p2:
    ``d − √((p1−l1)² + (u2−p2)²)`` to ``d + √((u1−p1)² + (p2−l2)²)`` with Wilson limits."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def bootstrap_mean_difference(a: np.ndarray, b: np.ndarray, *, samples: int = BOOTSTRAP_SAMPLES,
                              seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95% percentile bootstrap interval for mean(a) − mean(b), resampling each arm with
    replacement; the same inputs and seed give the same interval."""
    if len(a) == 0 or len(b) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    ma = _boot_means(a.astype(float), rng, samples)
    mb = _boot_means(b.astype(float), rng, samples)
    lo, hi = np.percentile(ma - mb, [2.5, 97.5])
    return float(lo), float(hi)


def _boot_means(x: np.ndarray, rng: np.random.Generator, samples: int) -> np.ndarray:
    out = np.empty(samples)
    step = max(1, _BOOT_CELLS // len(x))  # resamples per batch, bounding memory
    for i in range(0, samples, step):
        k = min(step, samples - i)
        out[i:i + k] = x[rng.integers(0, len(x), size=(k, len(x)))].mean(axis=1)
    return out


class OfferResults(BaseModel):
    """Treatment against holdout for one launched offer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: int
    treated: int
    holdout: int
    redemptions: int
    treated_converted: int
    holdout_converted: int
    treated_conversion: float | None
    holdout_conversion: float | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    treated_revenue_per_member: float
    holdout_revenue_per_member: float
    incremental_per_member: float | None
    incremental_low: float | None
    incremental_high: float | None
    incremental_revenue: float | None
    cost: float
    net_return: float | None
    currency: str

    def conversion_verdict(self) -> str:
        """The uplift in plain words; "not distinguishable from no effect yet" when its
        interval includes 0."""
        if self.uplift is None or self.uplift_low is None or self.uplift_high is None:
            return "No holdout or no audience: the uplift cannot be measured."
        if self.uplift_low <= 0 <= self.uplift_high:
            return (f"Conversion: {NO_EFFECT_YET} (95% interval {self.uplift_low * 100:+.1f} to "
                    f"{self.uplift_high * 100:+.1f} points).")
        word = "higher" if self.uplift > 0 else "lower"
        return (f"Conversion was {abs(self.uplift) * 100:.1f} points {word} with the offer "
                f"(95% interval {self.uplift_low * 100:+.1f} to {self.uplift_high * 100:+.1f} "
                "points, Newcombe).")

    def revenue_verdict(self) -> str:
        lo, hi, mid = self.incremental_low, self.incremental_high, self.incremental_per_member
        if mid is None or lo is None or hi is None or math.isnan(lo):
            return "No holdout or no audience: incremental revenue cannot be measured."
        c = self.currency
        span = f"95% interval {money_text(lo, c)} to {money_text(hi, c)} per member, bootstrap"
        if lo <= 0 <= hi:
            return f"Revenue per member: {NO_EFFECT_YET} ({span})."
        word = "more" if mid > 0 else "less"
        return f"Members with the offer spent {money_text(abs(mid), c)} {word} each ({span})."


def offer_results(conn: duckdb.DuckDBPyConnection, src: Source, offer_id: int) -> OfferResults:
    """Redemptions, conversion and revenue per member by arm, uplift and incremental revenue
    with their intervals, cost and return for a launched offer."""
    saved = get_offer(conn, offer_id)
    offer: Offer = saved.offer
    members = conn.execute("SELECT customer_id, arm FROM offer_members WHERE offer_id = ?",
                           [offer_id]).df()
    codes = conn.execute("SELECT code FROM offer_codes WHERE offer_id = ?", [offer_id]).df()
    rng = DateRange(start=offer.starts_on, end=offer.ends_on + timedelta(days=1))
    o = in_window(src, counted_orders(src), rng)
    code_t = ibis.memtable(pd.DataFrame({"code": codes["code"].astype(str).to_numpy()}),
                           schema={"code": "string"})
    redeeming = o.filter(o.discount_code.strip().upper().isin(code_t.code))
    red = src.execute(redeeming.select(
        "order_id", "customer_id", discounts=redeeming.discounts.cast("float64")))
    mem = ibis.memtable(members[["customer_id"]].astype(str), schema={"customer_id": "string"})
    mo = o.filter(o.customer_id.isin(mem.customer_id))
    home = mo.currency == src.reporting_currency
    per = src.execute(mo.group_by("customer_id").aggregate(
        revenue=ibis.ifelse(home, mo.net, 0).sum().cast("float64")))
    df = members.merge(per, on="customer_id", how="left")
    df["converted"] = df["revenue"].notna()
    df["revenue"] = df["revenue"].fillna(0.0).astype(float)
    t = df[df["arm"] == "treatment"]
    h = df[df["arm"] == "holdout"]
    nt, nh = len(t), len(h)
    xt, xh = int(t["converted"].sum()), int(h["converted"].sum())
    ct = xt / nt if nt else None
    ch = xh / nh if nh else None
    uplift = lo = hi = None
    inc = ilo = ihi = inc_total = None
    rt = float(t["revenue"].mean()) if nt else 0.0
    rh = float(h["revenue"].mean()) if nh else 0.0
    if nt and nh:
        uplift = xt / nt - xh / nh
        lo, hi = newcombe_interval(xt, nt, xh, nh)
        inc = rt - rh
        ilo, ihi = bootstrap_mean_difference(t["revenue"].to_numpy(), h["revenue"].to_numpy(),
                                             seed=BOOTSTRAP_SEED + offer_id)
        inc_total = inc * nt
    per_red = redemption_cost(offer, average_order_value=0.0)
    disc = red["discounts"]
    cost = float(sum(d if d == d and d and d > 0 else per_red for d in disc))
    return OfferResults(
        offer_id=offer_id, treated=nt, holdout=nh, redemptions=len(red),
        treated_converted=xt, holdout_converted=xh, treated_conversion=ct,
        holdout_conversion=ch, uplift=uplift, uplift_low=lo, uplift_high=hi,
        treated_revenue_per_member=rt, holdout_revenue_per_member=rh,
        incremental_per_member=inc, incremental_low=ilo, incremental_high=ihi,
        incremental_revenue=inc_total, cost=cost,
        net_return=None if inc_total is None else inc_total - cost,
        currency=src.reporting_currency,
    )
