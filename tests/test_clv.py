"""Lifetime value: BG/NBD and Gamma-Gamma against the published CDNOW results, the model inputs
read from the store, predictions with intervals and warnings, holdout validation, history."""

from __future__ import annotations

import importlib.util
import io
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from relmark_core import source
from relmark_core.metrics import clv
from relmark_core.metrics.clv import (
    BgNbdFit,
    expected_order_value,
    expected_orders,
    fit_bg_nbd,
    fit_gamma_gamma,
    historical_clv,
    holdout_validation,
    merge_identical,
    predict_clv,
    probability_alive,
    purchase_summary,
    simulate_bg_nbd,
)
from tests.builders import add_customer, order
from tests.test_retention import AS_OF as RETENTION_AS_OF
from tests.test_retention import build_shop as build_retention_shop


def _cdnow() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample summary shipped in the ``lifetimes`` wheel (a dev
    dependency): x, t_x, T in weeks from 1 Jan 1997 to 30 Sep 1997, and zbar, the mean value of
    the repeat purchases. Read as a package resource found from the package's spec, so the
    lifetimes code itself (which breaks on pandas 3 in places) is never imported."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations, "pip install lifetimes"
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets"
    text = (folder / "cdnow_customers_summary_with_transactions.csv").read_text()
    return pd.read_csv(io.StringIO(text))


# --- the published CDNOW results ----------------------------------------------------------------


def test_bg_nbd_on_cdnow_matches_fader_hardie_lee_2005() -> None:
    df = _cdnow()
    assert len(df) == 2357
    fit = fit_bg_nbd(merge_identical(df["x"], df["t_x"], df["T"]))
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", table / section 4
    for got, published in [(fit.r, 0.243), (fit.alpha, 4.414), (fit.a, 0.793), (fit.b, 2.426)]:
        assert got == pytest.approx(published, rel=0.01)
    assert fit.log_likelihood == pytest.approx(-9582.4, rel=0.0001)
    assert fit.converged and fit.customers == 2357
    # standard errors (delta method on the log parameters) as the lifetimes README prints them
    se = np.sqrt(np.diag(np.array(fit.covariance))) * np.array([fit.r, fit.alpha, fit.a, fit.b])
    assert se == pytest.approx([0.012557, 0.378221, 0.185719, 0.705345], rel=0.02)
    # the worked example of the paper's note: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases
    # expected in the next 39 weeks
    assert expected_orders(fit, 39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, rel=0.005)


def test_gamma_gamma_on_cdnow_matches_fader_hardie_lee_2005() -> None:
    df = _cdnow()
    fit = fit_gamma_gamma(df["x"], df["zbar"])
    assert fit.customers == 946  # customers with a repeat purchase
    for got, published in [(fit.p, 6.25), (fit.q, 3.74), (fit.gamma, 15.44)]:
        assert got == pytest.approx(published, rel=0.01)
    # the population mean p * gamma / (q - 1) for one-time buyers; a customer's own mean pulls
    # harder the more repeat purchases they have
    prior = fit.p * fit.gamma / (fit.q - 1)
    v = expected_order_value(fit, [0, 1, 20], [np.nan, 50.0, 50.0])
    assert v[0] == pytest.approx(prior)
    assert prior < v[1] < v[2] < 50.0


def test_merging_identical_rows_changes_nothing() -> None:
    df = _cdnow()
    merged = merge_identical(df["x"], df["t_x"], df["T"])
    assert merged.weight.size < 2357 and merged.customers == 2357
    unmerged = clv.RepeatData(
        df["x"].to_numpy(float), df["t_x"].to_numpy(float), df["T"].to_numpy(float),
        np.ones(2357), np.arange(2357),
    )
    a, b = fit_bg_nbd(merged), fit_bg_nbd(unmerged)
    assert (a.r, a.alpha, a.a, a.b) == pytest.approx((b.r, b.alpha, b.a, b.b), rel=1e-6)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-9)


def test_merge_identical_literal() -> None:
    m = merge_identical([0, 1, 0, 1, 3], [0, 5, 0, 5, 9], [10, 20, 10, 30, 12])
    assert list(zip(m.x, m.t_x, m.T, m.weight, strict=True)) == [
        (0, 0, 10, 2), (1, 5, 20, 1), (1, 5, 30, 1), (3, 9, 12, 1)]
    assert list(m.inverse) == [0, 1, 0, 2, 3]
    frac = merge_identical([1, 1], [0.5, 0.5], [2.25, 2.25])  # weeks, not whole days
    assert (list(frac.weight), list(frac.inverse)) == ([2.0], [0, 0])


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (1.5, 0.2, 3.0, 0.6),
                                    (0.02, 90.0, 0.1, 30.0)])
def test_bg_nbd_gradient_is_the_derivative(params: tuple[float, ...]) -> None:
    df = _cdnow()
    obj = clv._BgNbdObjective(merge_identical(df["x"], df["t_x"], df["T"]))
    theta = np.log(np.array(params))
    _, grad = obj(theta)
    h = 1e-6
    numeric = [(obj(theta + e)[0] - obj(theta - e)[0]) / (2 * h) for e in np.eye(4) * h]
    assert grad == pytest.approx(numeric, abs=1e-7)


def test_gamma_gamma_gradient_is_the_derivative() -> None:
    df = _cdnow()
    rep = df[df["x"] > 0]
    obj = clv._GammaGammaObjective(rep["x"].to_numpy(float), rep["zbar"].to_numpy(float),
                                   np.ones(len(rep)))
    theta = np.log(np.array([2.0, 5.0, 40.0]))
    _, grad = obj(theta)
    h = 1e-6
    numeric = [(obj(theta + e)[0] - obj(theta - e)[0]) / (2 * h) for e in np.eye(3) * h]
    assert grad == pytest.approx(numeric, abs=1e-7)


def test_probability_alive_literal() -> None:
    fit = BgNbdFit(r=0.5, alpha=10.0, a=1.0, b=3.0, log_likelihood=0.0, customers=1,
                   converged=True)
    # x = 0: never seen to drop out -> 1. x = 2, t_x = 10, T = 30:
    # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) = 1 / (1 + 0.25 * 2^2.5)
    p = probability_alive(fit, [0, 2], [0, 10], [30, 30])
    assert p[0] == 1.0
    assert p[1] == pytest.approx(1 / (1 + 0.25 * 2**2.5))


# --- reading the shop ---------------------------------------------------------------------------


def _small_shop(conn: duckdb.DuckDBPyConnection) -> None:
    # A: three order days (two orders on 1 Jan), the last in EUR -> x = 2, value from 11 Jan only
    add_customer(conn, "A", orders=[order("2024-01-01", 100), order("2024-01-01 18:00:00", 20),
                                    order("2024-01-11", 50), order("2024-01-21", 30,
                                                                   currency="EUR")])
    # B: second order refunded in full -> no repeat purchase
    add_customer(conn, "B", orders=[order("2024-01-05", 40),
                                    order("2024-01-06", 40, refunds=40, status="refunded")])
    # C: its only repeat purchase is in EUR -> x = 1 but no known repeat value
    add_customer(conn, "C", orders=[order("2024-01-10", 10), order("2024-01-20", 30,
                                                                  currency="EUR")])


def test_purchase_summary_literal(conn: duckdb.DuckDBPyConnection) -> None:
    _small_shop(conn)
    s = purchase_summary(source.from_duckdb(conn), as_of=date(2024, 1, 31))
    assert list(s.columns) == ["customer_id", "first_day", "last_day", "x", "t_x", "T",
                               "mean_value", "revenue_to_date"]
    s["first_day"], s["last_day"] = s["first_day"].dt.date, s["last_day"].dt.date
    rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in r]
            for r in s.itertuples(index=False)]
    assert rows == [
        ["A", date(2024, 1, 1), date(2024, 1, 21), 2, 20, 30, 50.0, 170.0],
        ["B", date(2024, 1, 5), date(2024, 1, 5), 0, 0, 26, None, 40.0],
        ["C", date(2024, 1, 10), date(2024, 1, 20), 1, 10, 21, None, 10.0],
    ]


def test_small_shop_gets_predictions_and_a_warning(conn: duckdb.DuckDBPyConnection) -> None:
    _small_shop(conn)
    p = predict_clv(source.from_duckdb(conn), as_of=date(2024, 1, 31), horizon_days=90)
    assert p.warning is not None and p.warning.startswith(
        "Only 3 customers, 2 of them with a repeat order: the model has little to learn from")
    assert clv.STEADIED in p.warning  # 3 customers cannot pin BG/NBD down on their own
    assert p.bg_nbd is not None and p.bg_nbd.prior_sd == clv.FALLBACK_PRIOR_SD
    assert p.gamma_gamma is None  # one repeat purchase with a known value
    df = p.customers.set_index("customer_id")
    assert df.loc["B", "p_alive"] == 1.0  # no repeat purchase: never seen to drop out
    assert (df["p_alive_low"]["B"], df["p_alive_high"]["B"]) == (1.0, 1.0)
    assert (df["expected_order_value"] == 50.0).all()  # A's own repeat value for everyone
    for col in ("expected_orders", "expected_value"):
        assert (df[f"{col}_low"] < df[col]).all() and (df[col] < df[f"{col}_high"]).all()
    # wide: the upper end is more than twice the lower one for every customer
    assert (df["expected_orders_high"] > 2 * df["expected_orders_low"]).all()
    assert "inverse Hessian" in p.interval_method and "80%" in p.interval_method


def test_nobody_repeats_yet(conn: duckdb.DuckDBPyConnection) -> None:
    add_customer(conn, "a", orders=[order("2024-01-01", 10)])
    add_customer(conn, "b", orders=[order("2024-01-05", 10)])
    p = predict_clv(source.from_duckdb(conn), as_of=date(2024, 1, 31))
    assert p.warning == ("Nobody has ordered a second time yet, so repeat orders cannot be "
                         "predicted.")
    assert p.bg_nbd is None and len(p.customers) == 2
    assert p.customers["expected_value"].isna().all()


def test_empty_shop(conn: duckdb.DuckDBPyConnection) -> None:
    p = predict_clv(source.from_duckdb(conn), as_of=date(2024, 1, 31))
    assert p.warning == "No customers yet, so there is nothing to predict."
    assert p.customers.empty
    h = holdout_validation(source.from_duckdb(conn), as_of=date(2024, 1, 31))
    assert h.warning is not None and h.mae is None


# --- a shop drawn from the model itself ---------------------------------------------------------

TRUE = BgNbdFit(r=0.5, alpha=40.0, a=0.7, b=3.0, log_likelihood=0.0, customers=0,
                converged=True)
START = datetime(2023, 1, 1, 10, 0)


def _synthetic(conn: duckdb.DuckDBPyConnection, customers: int) -> pd.DataFrame:
    days = simulate_bg_nbd(TRUE, customers=customers, first_days=270, observation_days=540,
                           seed=11)
    rng = np.random.default_rng(5)
    orders = pd.DataFrame({
        "order_id": [f"t:{i}" for i in range(len(days))],
        "source_order_id": [str(i) for i in range(len(days))],
        "customer_id": [f"c{c:04d}" for c in days["customer"]],
        "ordered_at": [START + timedelta(days=int(d)) for d in days["day"]],
        "total": np.round(rng.gamma(4.0, 10.0, len(days)), 2),
    })
    conn.register("frame", orders)
    conn.execute(
        "INSERT INTO orders (order_id, source_order_id, source_system, customer_id, ordered_at, "
        "currency, total, refunds, net, status) SELECT order_id, source_order_id, 'test', "
        "customer_id, ordered_at, 'USD', total, 0, total, 'paid' FROM frame"
    )
    conn.unregister("frame")
    return days


def test_holdout_validation_on_a_synthetic_shop(conn: duckdb.DuckDBPyConnection) -> None:
    days = _synthetic(conn, 400)
    as_of = (START + timedelta(days=539)).date()
    h = holdout_validation(source.from_duckdb(conn), as_of=as_of, holdout_days=180)
    assert (h.calibration_end, h.holdout_days) == (as_of - timedelta(days=180), 180)
    # what actually happened, counted from the simulation itself: repeat purchase days after
    # the calibration end of customers who had bought by then
    cal_day = 539 - 180
    known = set(days.loc[days["day"] <= cal_day, "customer"])
    actual = int(((days["day"] > cal_day) & days["customer"].isin(known)).sum())
    assert h.total_actual == actual
    assert len(h.customers) == len(known)
    assert int(h.customers["actual"].sum()) == actual
    # the model was fitted on the calibration period only, yet gets the total about right
    assert h.error_pct is not None and abs(h.error_pct) < 25
    assert h.mae is not None and 0 < h.mae < 2
    assert list(h.by_frequency.columns) == ["x_cal", "customers", "predicted", "actual"]
    assert h.by_frequency["x_cal"].iloc[0] == "0"
    assert int(h.by_frequency["customers"].sum()) == len(known)
    t = h.tracking
    assert list(t.columns) == ["day", "days", "predicted", "actual"]
    assert t["days"].iloc[-1] == 180 and t["day"].iloc[-1] == as_of
    assert t["actual"].iloc[-1] == actual
    assert t["predicted"].iloc[-1] == pytest.approx(h.total_predicted)
    assert t["predicted"].is_monotonic_increasing and t["actual"].is_monotonic_increasing
    assert h.warning is not None and "400 customers" in h.warning
    # default holdout: the last third of the span since the first order
    default = holdout_validation(source.from_duckdb(conn), as_of=as_of)
    assert default.holdout_days == (539 - int(days["day"].min())) // 3


def test_predictions_have_intervals_around_them(conn: duckdb.DuckDBPyConnection) -> None:
    _synthetic(conn, 400)
    as_of = (START + timedelta(days=539)).date()
    p = predict_clv(source.from_duckdb(conn), as_of=as_of, horizon_days=180)
    df = p.customers
    assert p.bg_nbd is not None and p.gamma_gamma is not None
    for col in ("p_alive", "expected_orders", "expected_value"):
        assert (df[f"{col}_low"] <= df[col] + 1e-12).all()
        assert (df[col] <= df[f"{col}_high"] + 1e-12).all()
    assert (df["expected_value_high"] > df["expected_value_low"]).all()
    # sorted by predicted value, most valuable first
    assert df["expected_value"].is_monotonic_decreasing


# --- historical value ---------------------------------------------------------------------------


def test_historical_value_per_customer_by_cohort(conn: duckdb.DuckDBPyConnection) -> None:
    build_retention_shop(conn)
    h = historical_clv(source.from_duckdb(conn), as_of=RETENTION_AS_OF)
    jan = h[h["cohort"] == "2024-01"]
    # January's 3 customers: 240 in January, then 50, 20 and 30 (April incomplete)
    assert list(jan["revenue"]) == [240.0, 50.0, 20.0, 30.0]
    assert list(jan["cumulative_revenue"]) == [240.0, 290.0, 310.0, 340.0]
    assert list(jan["value_per_customer"]) == [80.0, 96.67, 103.33, 113.33]
    assert list(jan["incomplete"]) == [False, False, False, True]
    feb = h[h["cohort"] == "2024-02"]
    assert list(feb["value_per_customer"]) == [50.0, 62.5, 62.5]
