"""BG/NBD and Gamma-Gamma against lifetimes (the reference people trust) and the papers.

Three data sets: the published CDNOW summary (Fader, Hardie & Lee 2005) that
lifetimes ships, the CDNOW transaction sample it ships (summarised by both
lifetimes and retcalc), and a ``retcalc.sample`` shop with returns. Fitted
parameters and per-customer predictions must agree to 1e-3 relative.

lifetimes 0.11 predates pandas 3 and numpy 2 and warns on import and use, so
every call into it runs with warnings silenced (the suite turns warnings into
errors).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import optimize

from retcalc.errors import InputError
from retcalc.metrics.clv import ModelParams, bgnbd, fit_models, gamma_gamma, score
from retcalc.metrics.clv.summary import RfmSummary, TimeUnit, rfm_summary
from retcalc.sample import generate

RTOL = 1e-3
CDNOW_END = dt.date(1998, 6, 30)


@contextmanager
def quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def lifetimes() -> Any:
    with quiet():
        return pytest.importorskip("lifetimes")


def lifetimes_file(name: str) -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        pytest.skip("lifetimes is not installed")
    return Path(spec.origin).parent / "datasets" / name


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with quiet():
        return fn(*args, **kwargs)


def close(got: Any, want: Any, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol)


# --- data sets ---------------------------------------------------------------


def cdnow_frame() -> pl.DataFrame:
    """The published CDNOW summary in weeks, with each customer's mean repeat spend
    (the ``cdnow`` fixture of conftest.py)."""
    path = lifetimes_file("cdnow_customers_summary_with_transactions.csv")
    return pl.read_csv(path).select(
        pl.col("ID").cast(pl.String).alias("customer_id"),
        pl.col("x").cast(pl.Int64).alias("frequency"),
        pl.col("t_x").cast(pl.Float64).alias("recency"),
        pl.col("T").cast(pl.Float64).alias("T"),
        pl.col("zbar").cast(pl.Float64).alias("monetary_value"),
    )


def cdnow_transactions() -> pl.LazyFrame:
    text = lifetimes_file("CDNOW_sample.txt").read_text()
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return (
        pl.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "day": [r[2] for r in rows],
                "amount": [float(r[4]) for r in rows],
            }
        )
        .lazy()
        .with_columns(pl.col("day").str.to_date("%Y%m%d"))
    )


def sample_orders() -> pl.LazyFrame:
    data = generate(customers=1500, seed=5)
    return data.orders.lazy().select(
        "customer_id",
        pl.col("order_date").dt.date().alias("day"),
        pl.col("amount").cast(pl.Float64),
        "order_id",
        pl.col("quantity").cast(pl.Float64),
        "status",
    )


def arrays(frame: pl.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(
        frame[c].cast(pl.Float64).to_numpy()
        for c in ("frequency", "recency", "T", "monetary_value")
    )


# --- the reference ------------------------------------------------------------


def reference_fit(frame: pl.DataFrame) -> tuple[Any, Any]:
    lt = lifetimes()
    x, t_x, T, m = arrays(frame)
    bgf = call(lt.BetaGeoFitter(penalizer_coef=0.0).fit, x, t_x, T)
    usable = (x > 0) & (m > 0)
    ggf = call(lt.GammaGammaFitter(penalizer_coef=0.0).fit, x[usable], m[usable])
    return bgf, ggf


def check_against_lifetimes(
    summary: RfmSummary, *, horizon: float, month: float, freq: str
) -> ModelParams:
    params = fit_models(summary)
    bgf, ggf = reference_fit(summary.frame)
    import pandas as pd  # installed with lifetimes

    got = params.bgnbd
    close([got.r, got.alpha, got.a, got.b], bgf.params_[["r", "alpha", "a", "b"]].to_numpy())
    assert params.gamma_gamma is not None
    gg = params.gamma_gamma
    close([gg.p, gg.q, gg.v], ggf.params_[["p", "q", "v"]].to_numpy())

    x, t_x, T, m = arrays(summary.frame)
    scored = score(summary, params, horizon=horizon, month=month, discount_per_month=0.01)
    close(scored["p_alive"], call(bgf.conditional_probability_alive, x, t_x, T))
    close(
        scored["expected_purchases"],
        call(bgf.conditional_expected_number_of_purchases_up_to_time, horizon, x, t_x, T),
    )
    close(
        scored["expected_avg_order_value"],
        call(ggf.conditional_expected_average_profit, x, np.maximum(m, 0.0)),
    )
    months = round(horizon / month)
    reference_clv = call(
        ggf.customer_lifetime_value,
        bgf,
        pd.Series(x),
        pd.Series(t_x),
        pd.Series(T),
        pd.Series(np.maximum(m, 0.0)),
        time=months,
        discount_rate=0.01,
        freq=freq,
    )
    close(scored["clv"], reference_clv.to_numpy())
    return params


# --- tests --------------------------------------------------------------------


def test_cdnow_published_parameters_and_lifetimes(cdnow: pl.DataFrame) -> None:
    """Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = −9582.4."""
    summary = RfmSummary(cdnow, observation_end=CDNOW_END, time_unit=TimeUnit.week)
    params = check_against_lifetimes(summary, horizon=12 * 4.345, month=4.345, freq="W")
    b = params.bgnbd
    assert (round(b.r, 3), round(b.alpha, 3), round(b.a, 3), round(b.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert b.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert b.customers == 2357
    # Fader & Hardie (2013) Gamma-Gamma note: p = 6.25, q = 3.74, v = 15.44.
    g = params.gamma_gamma
    assert g is not None
    assert (round(g.p, 2), round(g.q, 2), round(g.v, 2)) == (6.25, 3.74, 15.45)
    assert g.customers == 946


def test_cdnow_transactions_summary_and_fit_match_lifetimes() -> None:
    lt = lifetimes()
    import pandas as pd  # installed with lifetimes

    orders = cdnow_transactions()
    summary = rfm_summary(orders, time_unit=TimeUnit.day)
    raw = orders.collect()
    reference = call(
        lt.utils.summary_data_from_transaction_data,
        pd.DataFrame(
            {
                "customer_id": raw["customer_id"].to_list(),
                "date": pd.to_datetime(raw["day"].to_list()),
                "amount": raw["amount"].to_numpy(),
            }
        ),
        "customer_id",
        "date",
        monetary_value_col="amount",
        freq="D",
    )
    ref = pl.DataFrame(
        {"customer_id": list(reference.index), **{c: reference[c].to_numpy() for c in reference}}
    ).sort("customer_id")
    mine = summary.frame.sort("customer_id")
    assert mine["customer_id"].to_list() == ref["customer_id"].to_list()
    for column in ("frequency", "recency", "T", "monetary_value"):
        close(mine[column], ref[column], rtol=1e-12)
    check_against_lifetimes(summary, horizon=360.0, month=30.0, freq="D")


@pytest.mark.parametrize("unit", [TimeUnit.day, TimeUnit.week], ids=["day", "week"])
def test_sample_shop_with_returns_matches_lifetimes(unit: TimeUnit) -> None:
    summary = rfm_summary(sample_orders(), time_unit=unit)
    assert (summary.frame["monetary_value"] <= 0).filter(summary.frame["frequency"] > 0).any()
    if unit is TimeUnit.day:
        check_against_lifetimes(summary, horizon=360.0, month=30.0, freq="D")
    else:
        check_against_lifetimes(summary, horizon=12 * 4.345, month=4.345, freq="W")


def test_day_and_week_units_give_the_same_predictions() -> None:
    orders = sample_orders()
    by_day = rfm_summary(orders, time_unit=TimeUnit.day)
    by_week = rfm_summary(orders, time_unit=TimeUnit.week)
    day_params = fit_models(by_day)
    week_params = fit_models(by_week)
    close(week_params.bgnbd.alpha * 7, day_params.bgnbd.alpha)
    a = score(by_day, day_params, horizon=365.0)
    b = score(by_week, week_params, horizon=365.0 / 7)
    for column in ("p_alive", "expected_purchases", "clv"):
        close(a[column], b[column])
    # parameters fitted in days score week data after conversion
    c = score(by_week, day_params, horizon=365.0 / 7)
    close(c["clv"], a["clv"], rtol=1e-9)


def test_likelihood_is_the_published_formula_and_gradient_is_exact(cdnow: pl.DataFrame) -> None:
    x, t_x, T, m = arrays(cdnow)
    params = bgnbd.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    # Fader, Hardie & Lee (2005) eq. 6, written out term by term.
    from scipy.special import beta as B
    from scipy.special import gamma as G

    like = B(a, b + x) / B(a, b) * G(r + x) * alpha**r / G(r) / (alpha + T) ** (r + x) + (
        x > 0
    ) * B(a + 1, b + np.maximum(x, 1) - 1) / B(a, b) * G(r + x) * alpha**r / G(r) / (
        alpha + t_x
    ) ** (r + x)
    close(bgnbd.log_likelihood(params, x, t_x, T), np.log(like), rtol=1e-10)

    stats = bgnbd._Stats.build(x, t_x / T.max(), T / T.max())
    point = np.log([0.3, 0.2, 0.9, 2.0])
    numeric = optimize.approx_fprime(point, lambda p: bgnbd._objective(p, stats)[0], 1e-7)
    close(bgnbd._objective(point, stats)[1], numeric, rtol=1e-4)

    repeat = x > 0
    gstats = gamma_gamma._Stats.build(x[repeat], m[repeat] / m[repeat].mean())
    gpoint = np.log([6.0, 3.5, 0.8])
    numeric = optimize.approx_fprime(gpoint, lambda p: gamma_gamma._objective(p, gstats)[0], 1e-7)
    close(gamma_gamma._objective(gpoint, gstats)[1], numeric, rtol=1e-4)


def test_no_repeat_buyers_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no customer bought on more than one day"):
        bgnbd.fit(np.zeros(5), np.zeros(5), np.arange(1.0, 6.0))


def test_spend_that_does_not_vary_at_all_is_the_limit_model() -> None:
    """Every mean spend the same: p = ∞ too; the expected spend is that spend."""
    got = gamma_gamma.fit(np.array([1.0, 2.0]), np.array([5.0, 5.0]))
    assert got.limit == gamma_gamma.COMMON_SPEND_RATE
    assert got.mean == 5.0 and got.p == np.inf
    close(
        gamma_gamma.expected_average_value(got, np.array([1.0, 3.0]), np.array([4.0, 9.0])),
        [5.0, 5.0],
    )


def test_params_round_trip(cdnow: pl.DataFrame) -> None:
    summary = RfmSummary(cdnow, observation_end=CDNOW_END, time_unit=TimeUnit.week)
    params = fit_models(summary)
    back = ModelParams.from_dict(params.to_dict())
    assert back == params
    with pytest.raises(InputError, match=r"bgnbd\.alpha must be positive"):
        ModelParams.from_dict({"bgnbd": {"r": 1, "alpha": -1, "a": 1, "b": 1}})


@pytest.mark.parametrize(
    "values",
    [
        np.array([3.0, 0.0, 3.0, 1.5, 0.0, 7.25, 1.5, 3.0]),
        np.array([5, 2, 9, 2, 2, 5], dtype=np.int64),
        np.array([4.0]),
        np.array([], dtype=np.float64),
    ],
    ids=["floats", "ints", "one", "empty"],
)
def test_unique_codes_are_numpys_unique(values: np.ndarray) -> None:
    distinct, codes, counts = bgnbd.unique_codes(values)
    want = np.unique(values, return_inverse=True, return_counts=True)
    for got, expected in zip((distinct, codes, counts), want, strict=True):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
