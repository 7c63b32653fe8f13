"""Customer lifetime value: what customers have spent so far, and what they are likely to spend.

Historical value is net revenue per customer to date, by cohort, cumulated over the periods since
each cohort's first order (it reuses the cohort cells of :mod:`relmark_core.metrics.retention`).

Predictive value combines two models fitted by maximum likelihood with numpy/scipy:

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way") for repeat
  purchases: each customer buys at their own Poisson rate while "alive" and may drop out after
  any purchase. It gives the probability a customer is still alive and the expected number of
  repeat orders over a horizon.
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV") for the value of a repeat order.

Expected value over a horizon = expected orders x expected order value (undiscounted).

A customer's history is summarised as ``x`` (repeat purchase days: days with a counted order,
minus the first), ``t_x`` (days from the first to the last purchase day) and ``T`` (days from the
first purchase day to the end of the data). Purchase days are local days in the store's time zone.

Speed: identical (x, t_x, T) rows are merged and weighted (real shops repeat them a lot because
times are whole days), the special functions are evaluated once per distinct x, and the
optimiser gets the analytic gradient. Intervals are Hessian-based: the inverse Hessian of the
log-likelihood (on log parameters) is the parameters' covariance and the delta method carries it
to each prediction. They describe uncertainty about the model's parameters (wide for small shops),
not how much one customer's actual orders will scatter around their expectation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict
from scipy import optimize, special, stats

from relmark_core.metrics.common import DEFAULT_REVENUE_BASIS, RevenueBasis, revenue_value
from relmark_core.metrics.retention import (
    CohortFilter,
    RetentionQuery,
    cohort_retention,
    counted_customer_orders,
    local_day,
)
from relmark_core.periods import DEFAULT_GRAIN, Grain
from relmark_core.source import Source

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "INTERVAL_LEVEL",
    "MIN_CUSTOMERS",
    "MIN_REPEAT_CUSTOMERS",
    "HOLDOUT_SHARE",
    "MAX_HOLDOUT_DAYS",
    "RepeatData",
    "merge_identical",
    "ModelFit",
    "BgNbdFit",
    "GammaGammaFit",
    "fit_bg_nbd",
    "simulate_bg_nbd",
    "fit_gamma_gamma",
    "bg_nbd_log_likelihood",
    "probability_alive",
    "expected_orders",
    "expected_order_value",
    "purchase_summary",
    "ClvPrediction",
    "predict_clv",
    "HoldoutValidation",
    "holdout_validation",
    "FREQUENCY_BUCKETS",
    "INTERVAL_METHOD",
    "TRACKING_POINTS",
    "FALLBACK_PRIOR_SD",
    "STEADIED",
    "historical_clv",
]

DEFAULT_HORIZON_DAYS = 365
INTERVAL_LEVEL = 0.80
MIN_CUSTOMERS = 500
"""Below this many customers the predictions carry a warning (they still come back)."""
MIN_REPEAT_CUSTOMERS = 100
"""Below this many customers with a repeat order the predictions carry a warning."""
HOLDOUT_SHARE = 1 / 3
"""Default holdout: the last third of the data span..."""
MAX_HOLDOUT_DAYS = 365
"""...but not more than a year."""
TRACKING_POINTS = 26
"""Points on the cumulative predicted-vs-actual chart of the holdout."""
FALLBACK_PRIOR_SD = 1.0
"""When the data alone cannot pin a model down, refit with a normal prior of this standard
deviation on each log parameter (see :func:`fit_bg_nbd`)."""

_FD_STEP = 1e-4  # step (on log parameters) for the finite-difference Hessian and delta method
_NEWTON_STEPS = 8
_GTOL = 1e-9  # Newton polishing stops below this gradient (mean log-likelihood per customer)
_BFGS_GTOL = 1e-8
_BOUND = 20.0  # log parameters beyond +-20 mean the fit wandered off

Float = NDArray[np.float64]


def _dot(a: ArrayLike, b: ArrayLike) -> float:
    """Inner product of two 1-D arrays without BLAS: for long vectors BLAS' ddot wakes its
    worker threads, which costs far more than the sum itself when the cores are busy."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.einsum("i,i->", x, y))


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatData:
    """Customers' (x, t_x, T) with identical rows merged.

    ``weight`` counts the customers in each merged row; ``inverse`` maps every original customer
    to its merged row (``x[inverse]`` restores the original order).
    """

    x: Float
    t_x: Float
    T: Float
    weight: Float
    inverse: NDArray[np.intp]

    @property
    def customers(self) -> int:
        return int(round(float(self.weight.sum())))


def _is_integral(a: Float) -> bool:
    return bool(np.all(np.isfinite(a))) and bool(np.all(a == np.floor(a))) and bool(np.all(a >= 0))


def merge_identical(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> RepeatData:
    """Merge customers with the same (x, t_x, T) into one weighted row."""
    xa = np.asarray(x, dtype=np.float64)
    ta = np.asarray(t_x, dtype=np.float64)
    Ta = np.asarray(T, dtype=np.float64)
    if not (xa.shape == ta.shape == Ta.shape) or xa.ndim != 1:
        raise ValueError("x, t_x and T must be one-dimensional and of the same length")
    if xa.size == 0:
        empty = np.zeros(0)
        return RepeatData(empty, empty, empty, empty, np.zeros(0, dtype=np.intp))
    if _is_integral(xa) and _is_integral(ta) and _is_integral(Ta):
        # whole days: one int64 key per row sorts much faster than a row-wise unique
        span = int(max(ta.max(), Ta.max())) + 1
        xmax = int(xa.max()) + 1
        if xmax * span * span < 2**62:
            key = (xa.astype(np.int64) * span + ta.astype(np.int64)) * span + Ta.astype(np.int64)
            uniq, first, inverse, counts = np.unique(
                key, return_index=True, return_inverse=True, return_counts=True
            )
            return RepeatData(
                xa[first], ta[first], Ta[first], counts.astype(np.float64), inverse.ravel()
            )
    stacked = np.column_stack([xa, ta, Ta])
    rows, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return RepeatData(
        rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), counts.astype(np.float64),
        inverse.ravel(),
    )


# --- BG/NBD -------------------------------------------------------------------------------------


class ModelFit(BaseModel):
    """What every fitted model reports besides its parameters.

    ``covariance``: of the log parameters, from the inverse Hessian of the log-likelihood, or
    None when the Hessian could not be inverted. ``prior_sd``: set when the fit had to be
    steadied with a prior (see :func:`fit_bg_nbd`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    log_likelihood: float
    customers: int
    converged: bool
    covariance: tuple[tuple[float, ...], ...] | None = None
    prior_sd: float | None = None


class BgNbdFit(ModelFit):
    """Fitted BG/NBD parameters (time unit: whatever t_x and T were given in; days here);
    ``covariance`` is on (ln r, ln alpha, ln a, ln b)."""

    r: float
    alpha: float
    a: float
    b: float

    @property
    def log_params(self) -> Float:
        return np.log(np.array([self.r, self.alpha, self.a, self.b]))


class _BgNbdObjective:
    """Mean negative log-likelihood of BG/NBD and its gradient, on log parameters.

    Everything that depends on x alone (the gamma and digamma terms) is evaluated once per
    distinct x; ln(alpha + T) and ln(alpha + t_x) once per distinct T and t_x; sums that do not
    involve the per-row mixing weight use weights pre-added per distinct value. What is left per
    row is a dozen cheap array operations into preallocated buffers (fresh temporaries of this
    size cost more in page faults than the arithmetic).
    """

    _OVERFLOW = 700.0  # exp(700) is still finite in float64

    def __init__(self, data: RepeatData) -> None:
        x, w = data.x, data.weight
        self.total_weight = float(w.sum())
        self.ux, idx = np.unique(x, return_inverse=True)
        self.w_by_x = np.bincount(idx, weights=w, minlength=self.ux.size)
        rep = x > 0
        self.uT0, T0_idx = np.unique(data.T[~rep], return_inverse=True)
        self.w_by_T0 = np.bincount(T0_idx, weights=w[~rep], minlength=self.uT0.size)
        # rows with repeat purchases, sorted by x so per-x sums are contiguous slices
        order = np.flatnonzero(rep)
        order = order[np.argsort(idx[order], kind="stable")]
        w1, x1 = w[order], x[order]
        self.w = w1
        self.x = x1
        self.idx = idx[order]  # row -> position in ux
        self.starts = np.flatnonzero(np.r_[True, self.idx[1:] != self.idx[:-1]])
        self.start_pos = self.idx[self.starts]  # position in ux of each slice
        self.w_rep_by_x = np.bincount(self.idx, weights=w1, minlength=self.ux.size)
        self.uT, self.T_idx = np.unique(data.T[order], return_inverse=True)
        self.ut, self.t_idx = np.unique(data.t_x[order], return_inverse=True)
        # weights added up per distinct T and t_x, for the sums that need no per-row work
        self.w_by_T = np.bincount(self.T_idx, weights=w1, minlength=self.uT.size)
        self.wx_by_T = np.bincount(self.T_idx, weights=w1 * x1, minlength=self.uT.size)
        self.w_by_t = np.bincount(self.t_idx, weights=w1, minlength=self.ut.size)
        self.wx_by_t = np.bincount(self.t_idx, weights=w1 * x1, minlength=self.ut.size)
        n = w1.size
        self._diff = np.empty(n)
        self._d = np.empty(n)
        self._tmp = np.empty(n)
        self._p3 = np.empty(n)

    def __call__(self, theta: Float) -> tuple[float, Float]:
        r, alpha, a, b = np.exp(theta)
        ux, wbx = self.ux, self.w_by_x
        # terms that depend on x only
        g1 = special.gammaln(r + ux) - special.gammaln(r)
        a2 = (
            special.gammaln(a + b)
            + special.gammaln(b + ux)
            - special.gammaln(b)
            - special.gammaln(a + b + ux)
        )
        d_r = special.digamma(r + ux) - special.digamma(r)
        d_a = special.digamma(a + b) - special.digamma(a + b + ux)
        d_b = d_a + special.digamma(b + ux) - special.digamma(b)
        safe = np.where(ux > 0, b + ux - 1, 1.0)
        ln_bx1 = np.where(ux > 0, np.log(safe), 0.0)
        inv_bx1 = np.where(ux > 0, 1.0 / safe, 0.0)
        ln_alpha = math.log(alpha)
        total = self.total_weight

        ll = _dot(wbx, (g1 + a2)) + r * ln_alpha * total
        g_r = _dot(wbx, d_r) + ln_alpha * total
        g_alpha = r / alpha * total
        g_a = _dot(wbx, d_a)
        g_b = _dot(wbx, d_b)

        # customers without a repeat purchase: r ln alpha - r ln(alpha + T)
        if self.uT0.size:
            s0 = _dot(self.w_by_T0, np.log(alpha + self.uT0))
            ll -= r * s0
            g_r -= s0
            g_alpha -= r * _dot(self.w_by_T0, 1.0 / (alpha + self.uT0))

        # customers with repeat purchases: ln(exp(A3) + exp(A4)), where
        # A3 = -(r+x) ln(alpha+T) and A4 = ln a - ln(b+x-1) - (r+x) ln(alpha+t_x).
        # With d = A3 - A4: ln(...) = A3 + ln(1 + e^-d), and p3 = 1 / (1 + e^-d) is the share of
        # the likelihood in which the customer is still alive.
        if self.w.size:
            w = self.w
            LT = np.log(alpha + self.uT)
            Lt = np.log(alpha + self.ut)
            IT = 1.0 / (alpha + self.uT)
            It = 1.0 / (alpha + self.ut)
            ll -= r * _dot(self.w_by_T, LT) + _dot(self.wx_by_T, LT)
            g_r -= _dot(self.w_by_t, Lt)
            g_alpha -= r * _dot(self.w_by_t, It) + _dot(self.wx_by_t, It)

            diff, d, tmp, p3 = self._diff, self._d, self._tmp, self._p3
            np.take(Lt, self.t_idx, out=diff)
            np.take(LT, self.T_idx, out=tmp)
            np.subtract(diff, tmp, out=diff)  # ln(alpha+t_x) - ln(alpha+T) <= 0
            np.add(self.x, r, out=d)
            np.multiply(d, diff, out=d)
            np.take(ln_bx1 - math.log(a), self.idx, out=tmp)
            np.add(d, tmp, out=d)  # d = A3 - A4
            with np.errstate(over="ignore"):
                np.negative(d, out=p3)
                np.exp(p3, out=p3)
                np.add(p3, 1.0, out=p3)  # 1 + e^-d
                np.log(p3, out=tmp)
            low = d < -self._OVERFLOW
            if low.any():  # e^-d overflowed: ln(1 + e^-d) = -d + ln(1 + e^d)
                tmp[low] = -d[low] + np.log1p(np.exp(d[low]))
            ll += _dot(w, tmp)
            np.reciprocal(p3, out=p3)
            np.multiply(p3, w, out=p3)  # w * p3
            # g_r: -sum w (p3 lT + p4 lt) = -sum w lt + sum w p3 (lt - lT)
            g_r += _dot(p3, diff)
            # g_alpha: -sum w (r+x) (p3/(alpha+T) + p4/(alpha+t_x))
            np.take(It, self.t_idx, out=diff)
            np.take(IT, self.T_idx, out=tmp)
            np.subtract(tmp, diff, out=tmp)
            np.add(self.x, r, out=diff)
            np.multiply(tmp, diff, out=tmp)
            g_alpha -= _dot(p3, tmp)
            # g_a: sum w p4 / a ; g_b: -sum w p4 / (b+x-1)
            wp3_by_x = np.zeros(ux.size)
            wp3_by_x[self.start_pos] = np.add.reduceat(p3, self.starts)
            wp4_by_x = self.w_rep_by_x - wp3_by_x
            g_a += float(wp4_by_x.sum()) / a
            g_b -= _dot(wp4_by_x, inv_bx1)

        grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
        return -ll / total, -grad / total


def bg_nbd_log_likelihood(fit_or_params: BgNbdFit | ArrayLike, data: RepeatData) -> float:
    """Total BG/NBD log-likelihood of ``data`` at the given parameters (r, alpha, a, b)."""
    params = (
        np.array([fit_or_params.r, fit_or_params.alpha, fit_or_params.a, fit_or_params.b])
        if isinstance(fit_or_params, BgNbdFit)
        else np.asarray(fit_or_params, dtype=np.float64)
    )
    obj = _BgNbdObjective(data)
    f, _ = obj(np.log(params))
    return -f * obj.total_weight


def _hessian(fun: Any, theta: Float) -> Float:
    """Central finite differences of an analytic gradient."""
    n = theta.size
    h = np.zeros((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = _FD_STEP
        h[:, i] = (fun(theta + e)[1] - fun(theta - e)[1]) / (2 * _FD_STEP)
    return (h + h.T) / 2


def _posdef(h: Float) -> bool:
    try:
        np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(h)))


def _minimise(fun: Any, theta0: Float) -> tuple[Float, bool, Float | None]:
    """BFGS with the analytic gradient, then Newton steps (finite-difference Hessian of the
    analytic gradient) to polish the optimum.

    BFGS rather than L-BFGS-B: for a handful of parameters its dense updates are tiny numpy
    operations, while L-BFGS-B's calls into a multi-threaded BLAS cost milliseconds each on a
    busy machine. If BFGS wanders off (non-finite values, parameters beyond e^20), bounded
    L-BFGS-B takes over. Returns the log parameters, whether the gradient vanished, and the
    Hessian of the mean negative log-likelihood there (None when not positive definite).
    """
    res = optimize.minimize(
        fun, theta0, jac=True, method="BFGS", options={"gtol": _BFGS_GTOL, "maxiter": 2000}
    )
    theta = np.asarray(res.x, dtype=np.float64)
    f, g = fun(theta)
    if not (np.all(np.isfinite(theta)) and np.isfinite(f) and np.max(np.abs(theta)) < _BOUND):
        res = optimize.minimize(
            fun, theta0, jac=True, method="L-BFGS-B", bounds=[(-_BOUND, _BOUND)] * theta0.size,
            options={"maxiter": 2000, "gtol": _BFGS_GTOL, "ftol": 1e-15},
        )
        theta = np.asarray(res.x, dtype=np.float64)
        f, g = fun(theta)
    h = _hessian(fun, theta)
    for _ in range(_NEWTON_STEPS):
        if np.max(np.abs(g)) < _GTOL or not _posdef(h):
            break
        step = np.linalg.solve(h, g)
        # only accept a step that does not make things worse
        for _halving in range(20):
            cand = theta - step
            fc, gc = fun(cand)
            if np.isfinite(fc) and fc <= f:
                theta, f, g = cand, fc, gc
                break
            step = step / 2
        else:
            break
        if np.max(np.abs(g)) >= _GTOL:
            h = _hessian(fun, theta)
    converged = bool(np.max(np.abs(g)) < 1e-6)
    return theta, converged, (h if _posdef(h) else None)


def _covariance(hess: Float | None, total_weight: float) -> tuple[tuple[float, ...], ...] | None:
    if hess is None:
        return None
    try:
        cov = np.linalg.inv(hess * total_weight)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov)):
        return None
    return tuple(tuple(float(v) for v in row) for row in cov)


def fit_bg_nbd(data: RepeatData, *, prior_sd: float | None = None) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood (log parameters, analytic gradient, merged rows).

    ``prior_sd``: steady a fit the data cannot pin down (a handful of customers) with a normal
    prior of this standard deviation on each log parameter, centred on r = a = b = 1 and
    alpha = 1 / (the shop's mean purchase rate); the reported log-likelihood is the data's.
    Raises ValueError when there are no customers.
    """
    if data.weight.size == 0:
        raise ValueError("no customers to fit")
    obj = _BgNbdObjective(data)
    w = data.weight
    rate = _dot(w, data.x) / max(_dot(w, data.T), 1e-9)
    alpha0 = 1.0 / max(rate, 1e-6)
    theta0 = np.log(np.array([1.0, alpha0, 1.0, 1.0]))
    fun = obj if prior_sd is None else _with_prior(obj, theta0, prior_sd, obj.total_weight)
    theta, converged, hess = _minimise(fun, theta0)
    f, _ = obj(theta)
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=-f * obj.total_weight,
        customers=data.customers,
        converged=converged,
        covariance=_covariance(hess, obj.total_weight),
        prior_sd=prior_sd,
    )


def _with_prior(fun: Any, centre: Float, sd: float, total: float) -> Any:
    """``fun`` (a mean negative log-likelihood and its gradient) plus a normal prior on the
    parameters, in the same per-customer units."""

    def penalised(theta: Float) -> tuple[float, Float]:
        f, g = fun(theta)
        z = (theta - centre) / sd
        return f + 0.5 * float(np.sum(z * z)) / total, g + z / sd / total

    return penalised


def _bg_parts(theta: Float, x: Float, t_x: Float, T: Float) -> tuple[Float, Float]:
    """(log of the 'alive' odds term, i.e. ln of delta * a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x);
    -inf where x = 0) and r + x."""
    r, alpha, a, b = np.exp(theta)
    rx = r + x
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(
            x > 0,
            math.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + rx * (np.log(alpha + T) - np.log(alpha + t_x)),
            -np.inf,
        )
    return d, rx


def _p_alive(theta: Float, x: Float, t_x: Float, T: Float) -> Float:
    d, _ = _bg_parts(theta, x, t_x, T)
    return np.asarray(special.expit(-d), dtype=np.float64)


def _expected_orders(theta: Float, horizon: float, x: Float, t_x: Float, T: Float) -> Float:
    r, alpha, a, b = np.exp(theta)
    d, rx = _bg_parts(theta, x, t_x, T)
    z = horizon / (alpha + T + horizon)
    hyp = special.hyp2f1(rx, b + x, a + b + x - 1, z)
    shrink = np.exp(rx * np.log((alpha + T) / (alpha + T + horizon)))
    first = (a + b + x - 1) / (a - 1) * (1 - shrink * hyp)
    return np.asarray(first * special.expit(-d), dtype=np.float64)


def probability_alive(fit: BgNbdFit, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Float:
    """P(a customer with this history is still 'alive', i.e. has not dropped out)."""
    return _p_alive(
        fit.log_params,
        np.asarray(x, dtype=np.float64),
        np.asarray(t_x, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
    )


def expected_orders(
    fit: BgNbdFit, horizon: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Float:
    """Expected repeat purchases in the next ``horizon`` time units, given each history."""
    return _expected_orders(
        fit.log_params,
        float(horizon),
        np.asarray(x, dtype=np.float64),
        np.asarray(t_x, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
    )


def simulate_bg_nbd(
    fit: BgNbdFit,
    *,
    customers: int,
    first_days: int,
    observation_days: int,
    seed: int,
) -> pd.DataFrame:
    """Purchase days drawn from the BG/NBD model itself (for tests and benchmarks).

    Customers make their first purchase on a uniformly drawn day in ``[0, first_days)``, then buy
    at their own Poisson rate (Gamma(r, alpha)) and drop out after each repeat purchase with
    their own probability (Beta(a, b)). Returns distinct ``(customer, day)`` rows with days in
    ``[0, observation_days)``, sorted.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, first_days, customers)
    lam = rng.gamma(fit.r, 1.0 / fit.alpha, customers)
    p = rng.beta(fit.a, fit.b, customers)
    cust = [np.arange(customers)]
    days = [first.astype(np.float64)]
    t = first.astype(np.float64)
    live = np.arange(customers)
    while live.size:
        t_live = t[live] + rng.exponential(1.0, live.size) / lam[live]
        inside = t_live < observation_days
        live, t_live = live[inside], t_live[inside]
        t[live] = t_live
        cust.append(live)
        days.append(t_live)
        live = live[rng.random(live.size) >= p[live]]
    df = pd.DataFrame(
        {"customer": np.concatenate(cust), "day": np.floor(np.concatenate(days)).astype(np.int64)}
    )
    return df.drop_duplicates().sort_values(["customer", "day"]).reset_index(drop=True)


# --- Gamma-Gamma --------------------------------------------------------------------------------


class GammaGammaFit(ModelFit):
    """Fitted Gamma-Gamma spend parameters; ``covariance`` is on (ln p, ln q, ln gamma)."""

    p: float
    q: float
    gamma: float

    @property
    def log_params(self) -> Float:
        return np.log(np.array([self.p, self.q, self.gamma]))


class _GammaGammaObjective:
    """Mean negative log-likelihood of Gamma-Gamma and its gradient, on log parameters.

    The gamma and digamma terms are evaluated once per distinct x; per row only
    ln(gamma + m x) and 1 / (gamma + m x) are computed, into preallocated buffers.
    """

    def __init__(self, x: Float, m: Float, w: Float) -> None:
        self.ux, self.idx = np.unique(x, return_inverse=True)
        self.w_by_x = np.bincount(self.idx, weights=w, minlength=self.ux.size)
        self.w, self.wx = w, w * x
        self.total_weight = float(w.sum())
        lm, lx = np.log(m), np.log(x)
        self.sum_w_lm = _dot(w, lm)
        self.sum_wx_lmx = _dot(self.wx, lm + lx)
        self.mx = m * x
        self._l = np.empty(x.size)
        self._i = np.empty(x.size)

    def __call__(self, theta: Float) -> tuple[float, Float]:
        p, q, g = np.exp(theta)
        ux = self.ux
        px = p * ux
        c = special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
        dpq = special.digamma(px + q)
        d_p_x = ux * (dpq - special.digamma(px))
        d_q_x = dpq - special.digamma(q)
        total = self.total_weight
        w, wx, lgm, inv = self.w, self.wx, self._l, self._i
        np.add(self.mx, g, out=inv)
        np.log(inv, out=lgm)  # ln(gamma + m x)
        np.reciprocal(inv, out=inv)  # 1 / (gamma + m x)
        s_w_l, s_wx_l = _dot(w, lgm), _dot(wx, lgm)
        ll = (
            _dot(self.w_by_x, c)
            + q * math.log(g) * total
            + p * self.sum_wx_lmx
            - self.sum_w_lm
            - (p * s_wx_l + q * s_w_l)
        )
        g_p = _dot(self.w_by_x, d_p_x) + self.sum_wx_lmx - s_wx_l
        g_q = _dot(self.w_by_x, d_q_x) + math.log(g) * total - s_w_l
        g_g = q / g * total - (p * _dot(wx, inv) + q * _dot(w, inv))
        grad = np.array([g_p * p, g_q * q, g_g * g])
        return -ll / total, -grad / total


def fit_gamma_gamma(
    x: ArrayLike,
    mean_value: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    prior_sd: float | None = None,
) -> GammaGammaFit:
    """Fit Gamma-Gamma on customers with repeat purchases (x > 0) and their mean order value.

    Rows with x = 0 or a mean value <= 0 are left out. ``prior_sd`` as for :func:`fit_bg_nbd`
    (centred on p = 1, q = 2, gamma = the mean value). Raises ValueError when fewer than two
    customers remain.
    """
    xa = np.asarray(x, dtype=np.float64)
    ma = np.asarray(mean_value, dtype=np.float64)
    wa = np.ones_like(xa) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = (xa > 0) & (ma > 0) & np.isfinite(ma)
    xa, ma, wa = xa[keep], ma[keep], wa[keep]
    if wa.sum() < 2:
        raise ValueError("fewer than two customers with a repeat order and a value")
    obj = _GammaGammaObjective(xa, ma, wa)
    theta0 = np.log(np.array([1.0, 2.0, _dot(wa, ma) / float(wa.sum())]))
    total = obj.total_weight
    fun = obj if prior_sd is None else _with_prior(obj, theta0, prior_sd, total)
    theta, converged, hess = _minimise(fun, theta0)
    f, _ = obj(theta)
    p, q, g = (float(v) for v in np.exp(theta))
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=g,
        log_likelihood=-f * total,
        customers=int(round(total)),
        converged=converged,
        covariance=_covariance(hess, total),
        prior_sd=prior_sd,
    )


def _expected_value(theta: Float, x: Float, m: Float) -> Float:
    p, q, g = np.exp(theta)
    prior = p * g / (q - 1) if q > 1 else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = p * (g + x * m) / (p * x + q - 1)
    ok = (x > 0) & np.isfinite(m) & (m > 0)
    return np.asarray(np.where(ok, cond, prior), dtype=np.float64)


def expected_order_value(fit: GammaGammaFit, x: ArrayLike, mean_value: ArrayLike) -> Float:
    """Expected value of a customer's future orders given x repeat orders averaging
    ``mean_value`` (the population mean p*gamma/(q-1) where x = 0 or no value is known)."""
    return _expected_value(
        fit.log_params, np.asarray(x, dtype=np.float64), np.asarray(mean_value, dtype=np.float64)
    )


# --- intervals ----------------------------------------------------------------------------------


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def _delta_sd(fun: Any, theta: Float, cov: Float) -> Float:
    """Standard deviation of ``fun(theta)`` (a vector) by the delta method."""
    cols = []
    for j in range(theta.size):
        e = np.zeros(theta.size)
        e[j] = _FD_STEP
        cols.append((fun(theta + e) - fun(theta - e)) / (2 * _FD_STEP))
    jac = np.column_stack(cols)
    var = np.einsum("ij,jk,ik->i", jac, cov, jac)
    return np.asarray(np.sqrt(np.maximum(var, 0.0)), dtype=np.float64)


def _log(v: Float) -> Float:
    return np.asarray(np.log(np.maximum(v, 1e-300)), dtype=np.float64)


def _logit(v: Float) -> Float:
    c = np.clip(v, 1e-12, 1 - 1e-12)
    return np.asarray(np.log(c) - np.log1p(-c), dtype=np.float64)


# --- reading the shop ---------------------------------------------------------------------------


_SUMMARY_COLUMNS = [
    "customer_id", "first_day", "last_day", "x", "t_x", "T", "mean_value", "revenue_to_date"
]


def purchase_summary(
    src: Source, *, as_of: date, basis: RevenueBasis = DEFAULT_REVENUE_BASIS
) -> pd.DataFrame:
    """Per customer with a counted order on or before ``as_of``: the model's inputs.

    Columns: ``customer_id``, ``first_day``, ``last_day`` (datetime64, midnight of the local
    day), ``x`` (repeat purchase days),
    ``t_x`` and ``T`` (days), ``mean_value`` (mean reporting-currency net revenue of the repeat
    purchase days that had some; NaN when none), ``revenue_to_date`` (reporting currency).
    Orders in other currencies count as purchases but add no value.
    """
    o = counted_customer_orders(src, as_of=as_of)
    is_home = o.currency == src.reporting_currency
    d = o.select(
        customer_id=o.customer_id,
        day=local_day(src, o.ordered_at),
        # money stays decimal until summed: exact sums are the same on every engine and in
        # every run, whatever order the rows are added in (float sums are not)
        rev=ibis.ifelse(is_home, revenue_value(o, basis), ibis.literal(0)),
        home=is_home.cast("int32"),
    )
    dd = d.group_by(["customer_id", "day"]).aggregate(rev=d.rev.sum(), home=d.home.max())
    per = dd.group_by("customer_id").aggregate(
        first_day=dd.day.min(),
        last_day=dd.day.max(),
        n=dd.count(),
        rev=dd.rev.sum(),
        home_days=dd.home.sum(),
        rev_first=dd.rev.argmin(dd.day),
        home_first=dd.home.argmin(dd.day),
    )
    per = per.select(
        "customer_id",
        "first_day",
        "last_day",
        x=per.n - 1,
        t_x=per.last_day.delta(per.first_day, unit="day"),
        T=ibis.literal(as_of).delta(per.first_day, unit="day"),
        repeat_rev=(per.rev - per.rev_first).cast("float64"),
        repeat_home=per.home_days - per.home_first,
        revenue_to_date=per.rev.cast("float64"),
    )
    # Arrow straight to numpy: a million customers' rows skip the generic pandas conversion
    tbl = src.backend.to_pyarrow(per.order_by("customer_id"))
    if not tbl.num_rows:
        return pd.DataFrame(columns=_SUMMARY_COLUMNS)

    def col(name: str) -> Float:
        return np.asarray(tbl.column(name).to_numpy(), dtype=np.float64)

    rep_home, rep_rev = col("repeat_home"), col("repeat_rev")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(rep_home > 0, rep_rev / np.where(rep_home > 0, rep_home, 1), np.nan)
    return pd.DataFrame(
        {
            "customer_id": tbl.column("customer_id").to_pandas(),
            "first_day": tbl.column("first_day").to_pandas(date_as_object=False),
            "last_day": tbl.column("last_day").to_pandas(date_as_object=False),
            "x": col("x").astype(np.int64),
            "t_x": col("t_x").astype(np.int64),
            "T": col("T").astype(np.int64),
            "mean_value": mean,
            "revenue_to_date": np.round(col("revenue_to_date"), 2),
        }
    )


# --- predictions --------------------------------------------------------------------------------


_PREDICTION_COLUMNS = [
    "customer_id",
    "x",
    "t_x",
    "T",
    "mean_value",
    "revenue_to_date",
    "p_alive",
    "p_alive_low",
    "p_alive_high",
    "expected_orders",
    "expected_orders_low",
    "expected_orders_high",
    "expected_order_value",
    "expected_value",
    "expected_value_low",
    "expected_value_high",
]

INTERVAL_METHOD = (
    "{level:.0%} intervals from the uncertainty of the fitted model parameters: the inverse "
    "Hessian of the log-likelihood gives the parameters' covariance, carried to each prediction "
    "by the delta method (on the log scale for orders and value, the logit scale for P(alive)). "
    "They widen when the shop is small; one customer's actual orders scatter more widely."
)


@dataclass(frozen=True)
class ClvPrediction:
    """Predicted customer value over a horizon.

    ``customers`` columns: ``customer_id``, ``x``, ``t_x``, ``T``, ``mean_value``,
    ``revenue_to_date``, ``p_alive`` (+ ``_low``/``_high``), ``expected_orders`` (repeat
    orders in the horizon, + interval), ``expected_order_value``, ``expected_value`` (+
    interval; reporting currency, undiscounted). Interval columns are NaN when the fit gave no
    usable covariance. ``warning`` is a plain sentence when the results are rough (small shop,
    few repeat buyers, unsettled fit), else None.
    """

    as_of: date
    horizon_days: int
    level: float
    customers: pd.DataFrame
    bg_nbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    warning: str | None
    interval_method: str


STEADIED = (
    "The history is too short to pin the model down on its own, so it was steadied with mild "
    "default assumptions; read the predictions as a rough guide."
)


def _warnings(n: int, repeaters: int, fits: list[ModelFit | None]) -> list[str]:
    out = []
    if n < MIN_CUSTOMERS or repeaters < MIN_REPEAT_CUSTOMERS:
        out.append(
            f"Only {n:,} customer{'s' if n != 1 else ''}, {repeaters:,} of them with a repeat "
            "order: the model has little to learn from, so treat these predictions as rough "
            "and mind their wide intervals."
        )
    if any(f is not None and f.prior_sd is not None for f in fits):
        out.append(STEADIED)
    if any(f is not None and not f.converged for f in fits):
        out.append("The model fit did not fully settle; the predictions may be off.")
    if any(f is not None and f.covariance is None for f in fits):
        out.append("The data could not pin down every model parameter, so some intervals are "
                   "missing.")
    return out


def _usable(fit: ModelFit) -> bool:
    return fit.converged and fit.covariance is not None


def _fit_and_predict(
    summary: pd.DataFrame, *, horizon: float, level: float
) -> tuple[pd.DataFrame, BgNbdFit | None, GammaGammaFit | None, list[str]]:
    n = len(summary)
    x = summary["x"].to_numpy(dtype=np.float64)
    t_x = summary["t_x"].to_numpy(dtype=np.float64)
    T = summary["T"].to_numpy(dtype=np.float64)
    m = summary["mean_value"].to_numpy(dtype=np.float64)
    repeaters = int((x > 0).sum())
    out = summary[["customer_id", "x", "t_x", "T", "mean_value"]].copy()
    if "revenue_to_date" in summary:
        out["revenue_to_date"] = summary["revenue_to_date"]
    nan = np.full(n, np.nan)
    if n == 0 or repeaters == 0:
        msg = (
            "No customers yet, so there is nothing to predict."
            if n == 0
            else "Nobody has ordered a second time yet, so repeat orders cannot be predicted."
        )
        for c in _PREDICTION_COLUMNS[6:]:
            out[c] = nan
        return out.reindex(columns=_PREDICTION_COLUMNS), None, None, [msg]

    data = merge_identical(x, t_x, T)
    ux, ut, uT, inv = data.x, data.t_x, data.T, data.inverse
    bg = fit_bg_nbd(data)
    eo = _expected_orders(bg.log_params, horizon, ux, ut, uT)
    if not _usable(bg) or not np.all(np.isfinite(eo)):
        bg = fit_bg_nbd(data, prior_sd=FALLBACK_PRIOR_SD)
        eo = _expected_orders(bg.log_params, horizon, ux, ut, uT)
    th = bg.log_params
    z = _z(level)
    pa = _p_alive(th, ux, ut, uT)
    if bg.covariance is not None:
        cov = np.array(bg.covariance)
        sd_pa = _delta_sd(lambda t: _logit(_p_alive(t, ux, ut, uT)), th, cov)
        sd_eo = _delta_sd(lambda t: _log(_expected_orders(t, horizon, ux, ut, uT)), th, cov)
        lpa = _logit(pa)
        # customers without a repeat purchase are alive with certainty in this model
        pa_lo = np.where(ux > 0, special.expit(lpa - z * sd_pa), pa)
        pa_hi = np.where(ux > 0, special.expit(lpa + z * sd_pa), pa)
        eo_lo, eo_hi = eo * np.exp(-z * sd_eo), eo * np.exp(z * sd_eo)
    else:
        sd_eo = np.full(ux.size, np.nan)
        pa_lo = pa_hi = eo_lo = eo_hi = np.full(ux.size, np.nan)

    gg: GammaGammaFit | None = None
    notes: list[str] = []
    try:
        gg = fit_gamma_gamma(x, m)
        if not _usable(gg):
            gg = fit_gamma_gamma(x, m, prior_sd=FALLBACK_PRIOR_SD)
    except ValueError:
        gg = None
    if gg is not None:
        ev = _expected_value(gg.log_params, x, m)
        if gg.covariance is not None:
            sd_ev = _delta_sd(lambda t: _log(_expected_value(t, x, m)), gg.log_params,
                              np.array(gg.covariance))
        else:
            sd_ev = np.full(n, np.nan)
    else:
        known = np.isfinite(m) & (m > 0)
        if known.any():
            fallback = float(np.mean(m[known]))
        else:  # no repeat value at all: the shop's value per purchase day
            days = float(np.sum(x + 1))
            fallback = float(summary["revenue_to_date"].sum()) / days if days else np.nan
        ev = np.where(known, m, fallback)
        sd_ev = np.zeros(n)
        notes.append(
            "Too few repeat orders with a value to model order values; each customer's own "
            "average (or the shop's) is used instead, and the value intervals leave its "
            "uncertainty out."
        )
    eo_c, sd_eo_c = eo[inv], sd_eo[inv]
    value = eo_c * ev
    sd_v = np.sqrt(sd_eo_c**2 + sd_ev**2)
    out["p_alive"] = pa[inv]
    out["p_alive_low"] = pa_lo[inv]
    out["p_alive_high"] = pa_hi[inv]
    out["expected_orders"] = eo_c
    out["expected_orders_low"] = eo_lo[inv]
    out["expected_orders_high"] = eo_hi[inv]
    out["expected_order_value"] = ev
    out["expected_value"] = value
    out["expected_value_low"] = value * np.exp(-z * sd_v)
    out["expected_value_high"] = value * np.exp(z * sd_v)
    warns = _warnings(n, repeaters, [bg, gg]) + notes
    return out.reindex(columns=_PREDICTION_COLUMNS), bg, gg, warns


def predict_clv(
    src: Source,
    *,
    as_of: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    level: float = INTERVAL_LEVEL,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
) -> ClvPrediction:
    """Fit BG/NBD and Gamma-Gamma on every customer's history up to ``as_of`` and predict each
    customer's P(alive), repeat orders and value over the next ``horizon_days`` days.

    Small shops get results and a ``warning``, not a refusal.
    """
    summary = purchase_summary(src, as_of=as_of, basis=basis)
    frame, bg, gg, warns = _fit_and_predict(summary, horizon=float(horizon_days), level=level)
    frame = frame.sort_values(["expected_value", "customer_id"], ascending=[False, True],
                              na_position="last").reset_index(drop=True)
    return ClvPrediction(
        as_of=as_of,
        horizon_days=horizon_days,
        level=level,
        customers=frame,
        bg_nbd=bg,
        gamma_gamma=gg,
        warning=" ".join(warns) if warns else None,
        interval_method=INTERVAL_METHOD.format(level=level),
    )


# --- holdout validation -------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldoutValidation:
    """Predicted vs actual repeat orders in a holdout period the model did not see.

    ``customers``: ``customer_id``, ``x_cal`` (repeat purchase days in calibration),
    ``predicted``, ``actual`` (repeat purchase days in the holdout).
    ``by_frequency``: ``x_cal`` (label, "7+" for the last bucket), ``customers``, ``predicted``
    and ``actual`` (means per customer) — the classic conditional-expectation chart.
    ``tracking``: ``day`` (date), ``days`` (since the calibration end), ``predicted`` and
    ``actual`` cumulative repeat purchase days of the calibration customers.
    ``mae``: mean absolute error per customer; ``error_pct``: (total predicted - total actual)
    / total actual x 100 (None when nothing happened in the holdout).
    """

    calibration_end: date
    holdout_end: date
    holdout_days: int
    customers: pd.DataFrame
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    mae: float | None
    total_predicted: float
    total_actual: int
    error_pct: float | None
    bg_nbd: BgNbdFit | None
    warning: str | None


FREQUENCY_BUCKETS = 7
"""Calibration repeat counts at or above this are one bucket ("7+") on the chart."""


def holdout_validation(
    src: Source,
    *,
    as_of: date,
    holdout_days: int | None = None,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
) -> HoldoutValidation:
    """Fit on the data up to ``as_of - holdout_days`` and compare the predicted repeat orders
    with what customers actually did in the ``holdout_days`` after (up to ``as_of``).

    The default holdout is :data:`HOLDOUT_SHARE` of the data span, at most
    :data:`MAX_HOLDOUT_DAYS`.
    """
    warns: list[str] = []
    if holdout_days is None:
        first = _first_order_day(src, as_of=as_of)
        span = (as_of - first).days if first is not None else 0
        holdout_days = min(MAX_HOLDOUT_DAYS, int(span * HOLDOUT_SHARE))
    cal_end = as_of - timedelta(days=max(holdout_days, 0))
    cal = (
        purchase_summary(src, as_of=cal_end, basis=basis)
        if holdout_days > 0
        else pd.DataFrame(columns=_SUMMARY_COLUMNS)
    )
    if holdout_days < 1 or not len(cal):
        warns.append(
            "There is not enough history before the holdout period to check the model: it "
            "needs orders both before and during the holdout."
        )
        empty = pd.DataFrame(columns=["customer_id", "x_cal", "predicted", "actual"])
        return HoldoutValidation(
            calibration_end=cal_end, holdout_end=as_of, holdout_days=max(holdout_days, 0),
            customers=empty,
            by_frequency=pd.DataFrame(columns=["x_cal", "customers", "predicted", "actual"]),
            tracking=pd.DataFrame(columns=["day", "days", "predicted", "actual"]),
            mae=None, total_predicted=0.0, total_actual=0, error_pct=None, bg_nbd=None,
            warning=" ".join(warns),
        )
    frame, bg, _, fit_warns = _fit_and_predict(cal, horizon=float(holdout_days),
                                               level=INTERVAL_LEVEL)
    warns += fit_warns
    # actual repeat purchase days in the holdout: per customer, and per day after cal_end
    per_customer, per_day = _holdout_counts(src, cal_end=cal_end, as_of=as_of)
    actual = cal["customer_id"].map(per_customer).fillna(0).astype("int64").to_numpy()
    predicted = frame["expected_orders"].to_numpy(dtype=np.float64)
    customers = pd.DataFrame(
        {"customer_id": cal["customer_id"], "x_cal": cal["x"].astype("int64"),
         "predicted": predicted, "actual": actual}
    )
    buckets = np.minimum(customers["x_cal"].to_numpy(), FREQUENCY_BUCKETS)
    by_freq = (
        customers.assign(b=buckets).groupby("b")
        .agg(customers=("customer_id", "size"), predicted=("predicted", "mean"),
             actual=("actual", "mean"))
        .reset_index()
    )
    by_freq.insert(
        0, "x_cal",
        [f"{int(b)}+" if b == FREQUENCY_BUCKETS else str(int(b)) for b in by_freq["b"]],
    )
    by_freq = by_freq.drop(columns="b")
    tracking = _tracking(cal, bg, per_day, cal_end=cal_end, holdout_days=holdout_days)
    total_pred = float(np.nansum(predicted))
    total_act = int(actual.sum())
    has_pred = bool(np.isfinite(predicted).any())
    return HoldoutValidation(
        calibration_end=cal_end,
        holdout_end=as_of,
        holdout_days=holdout_days,
        customers=customers,
        by_frequency=by_freq,
        tracking=tracking,
        mae=float(np.nanmean(np.abs(predicted - actual))) if has_pred else None,
        total_predicted=total_pred,
        total_actual=total_act,
        error_pct=(total_pred - total_act) / total_act * 100 if total_act and has_pred else None,
        bg_nbd=bg,
        warning=" ".join(warns) if warns else None,
    )


def _first_order_day(src: Source, *, as_of: date) -> date | None:
    o = counted_customer_orders(src, as_of=as_of)
    df = src.execute(o.aggregate(first=local_day(src, o.ordered_at).min()))
    first = df["first"].iloc[0]
    return None if first is None or pd.isna(first) else pd.Timestamp(first).date()


def _holdout_counts(src: Source, *, cal_end: date, as_of: date) -> tuple[pd.Series, pd.Series]:
    """Order days after ``cal_end`` up to ``as_of`` of the customers who had ordered by
    ``cal_end``: per customer, and per day (indexed by days since ``cal_end``)."""
    o = counted_customer_orders(src, as_of=as_of)
    d = o.select(customer_id=o.customer_id, day=local_day(src, o.ordered_at)).distinct()
    known = d.filter(d.day <= ibis.literal(cal_end)).select("customer_id").distinct()
    h = d.filter(d.day > ibis.literal(cal_end)).semi_join(known, "customer_id")
    h = h.mutate(offset=h.day.delta(ibis.literal(cal_end), unit="day"))
    by_customer = src.execute(h.group_by("customer_id").aggregate(n=h.count()))
    by_day = src.execute(h.group_by("offset").aggregate(n=h.count()).order_by("offset"))
    return (
        by_customer.set_index("customer_id")["n"].astype("int64"),
        by_day.set_index("offset")["n"].astype("int64"),
    )


def _tracking(
    cal: pd.DataFrame, bg: BgNbdFit | None, per_day: pd.Series, *, cal_end: date,
    holdout_days: int,
) -> pd.DataFrame:
    cols = ["day", "days", "predicted", "actual"]
    if bg is None or holdout_days < 1:
        return pd.DataFrame(columns=cols)
    steps = sorted({max(1, round(holdout_days * i / TRACKING_POINTS))
                    for i in range(1, TRACKING_POINTS + 1)})
    data = merge_identical(cal["x"], cal["t_x"], cal["T"])
    offsets = per_day.index.to_numpy(dtype=np.int64)
    cumulative = np.cumsum(per_day.to_numpy(dtype=np.int64))
    rows = []
    for t in steps:
        eo = _expected_orders(bg.log_params, float(t), data.x, data.t_x, data.T)
        upto = int(np.searchsorted(offsets, t, side="right"))
        rows.append(
            {
                "day": cal_end + timedelta(days=t),
                "days": t,
                "predicted": _dot(data.weight, eo),
                "actual": int(cumulative[upto - 1]) if upto else 0,
            }
        )
    return pd.DataFrame(rows, columns=cols)


# --- historical value ---------------------------------------------------------------------------


def historical_clv(
    src: Source,
    *,
    as_of: date,
    grain: Grain = DEFAULT_GRAIN,
    filters: CohortFilter | None = None,
    cohorts_since: date | None = None,
    basis: RevenueBasis = DEFAULT_REVENUE_BASIS,
) -> pd.DataFrame:
    """Net revenue per customer to date, by cohort, cumulated over the periods since the first
    order (reporting currency).

    Columns: ``cohort``, ``cohort_start``, ``size``, ``period``, ``revenue`` (in period k),
    ``cumulative_revenue`` (periods 0..k), ``value_per_customer`` (cumulative / size),
    ``incomplete``.
    """
    q = RetentionQuery(
        as_of=as_of, grain=grain, filters=filters or CohortFilter(), cohorts_since=cohorts_since,
        basis=basis,
    )
    cells = cohort_retention(src, query=q).cells
    cols = ["cohort", "cohort_start", "size", "period", "revenue", "cumulative_revenue",
            "value_per_customer", "incomplete"]
    if not len(cells):
        return pd.DataFrame(columns=cols)
    out = cells[["cohort", "cohort_start", "size", "period", "revenue", "incomplete"]].copy()
    out["cumulative_revenue"] = out.groupby("cohort")["revenue"].cumsum().round(2)
    out["value_per_customer"] = (out["cumulative_revenue"] / out["size"]).round(2)
    return out[cols].reset_index(drop=True)
