"""CLV fits that do not fall over (issue 30, item 5): the limit models at the boundary of
the parameter space, lifetimes' penalizer, several starting points, standard errors.

lifetimes (0.11) is the reference for the penalizer and the standard errors; the limit
models are checked against hand-computed values and against the full model evaluated
at extreme parameters (the limit they are derived as).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import special

from retcalc.errors import InputError
from retcalc.metrics.clv import ModelParams, bgnbd, fit_models, gamma_gamma, score
from retcalc.metrics.clv.bgnbd import BgNbdParams
from retcalc.metrics.clv.gamma_gamma import GammaGammaParams
from retcalc.metrics.clv.optimum import minimise
from retcalc.metrics.clv.summary import RfmSummary, TimeUnit, rfm_summary
from tests.metrics.clv.test_models_vs_lifetimes import (
    CDNOW_END,
    arrays,
    call,
    close,
    lifetimes,
    sample_orders,
)

# --- Gamma-Gamma at the boundary ------------------------------------------------


def flat_spend(customers: int = 300, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Repeat buyers whose every purchase is 20.00, 19.99 or 20.01 (rounding noise)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, customers).astype(float)
    m = np.array([np.mean(20 + rng.integers(-1, 2, int(k)) * 0.01) for k in x])
    return x, m


def test_flat_spend_makes_lifetimes_give_up() -> None:
    lt = lifetimes()
    x, m = flat_spend()
    with pytest.raises(Exception, match="did not converge"):
        call(lt.GammaGammaFitter(penalizer_coef=0.0).fit, x, m)


def test_flat_spend_is_the_limit_model_with_the_population_mean() -> None:
    x, m = flat_spend()
    got = gamma_gamma.fit(x, m)
    assert got.limit == gamma_gamma.COMMON_SPEND_RATE
    assert got.q == np.inf and got.v == np.inf
    # every repeat purchase's spend averaged: Σ x·m / Σ x
    mean = float(np.sum(x * m) / np.sum(x))
    assert got.population_mean == pytest.approx(mean, rel=1e-15)
    expected = gamma_gamma.expected_average_value(got, x, m)
    np.testing.assert_array_equal(expected, np.full(len(x), got.mean))
    # it is the limit of the full model: E[M | x, m] at large q with v·p/(q−1) fixed
    for q in (got.p * 1e4, got.p * 1e7):
        full = GammaGammaParams(got.p, q, mean * (q - 1) / got.p)
        close(gamma_gamma.expected_average_value(full, x, m), expected, rtol=1e-6)
    # and no full-model fit beats its likelihood
    assert got.log_likelihood is not None
    for q in (1e3, 1e6):
        full = GammaGammaParams(got.p, q, mean * (q - 1) / got.p)
        assert gamma_gamma.log_likelihood(full, x, m).sum() < got.log_likelihood


def test_limit_p_solves_its_score_equation() -> None:
    """Two customers by hand: x = (1, 3), m = (10, 14): m̄ = (10 + 42) / 4 = 13."""
    x, m = np.array([1.0, 3.0]), np.array([10.0, 14.0])
    got = gamma_gamma.limit_fit(x, m)
    assert got.mean == 13.0
    p = got.p
    spread = -(1 * np.log(10 / 13) + 3 * np.log(14 / 13))
    assert np.sum(x * (np.log(p * x) - special.digamma(p * x))) == pytest.approx(spread, rel=1e-9)

    # the profile likelihood is highest there
    def profile(p: float) -> float:
        rate = p / 13.0
        return float(np.sum(p * x * np.log(x * rate) - special.gammaln(p * x)
                            + (p * x - 1) * np.log(m) - x * rate * m))  # fmt: skip

    assert profile(p) > max(profile(p * 1.01), profile(p * 0.99))
    assert got.log_likelihood == pytest.approx(profile(p), rel=1e-12)
    # standard errors: m̄ = Σ x·m / Σx with Var(m_i) = m̄²/(p·x_i) given p
    assert got.standard_errors is not None
    assert got.standard_errors["mean"] == pytest.approx(13 / np.sqrt(p * 4), rel=1e-12)
    h = p * 1e-4
    curvature = -(profile(p + h) - 2 * profile(p) + profile(p - h)) / h**2
    assert got.standard_errors["p"] == pytest.approx(1 / np.sqrt(curvature), rel=1e-4)


def test_limit_model_round_trips_through_json() -> None:
    x, m = flat_spend()
    bg = BgNbdParams(0.5, 10.0, 0.8, 2.5)
    params = ModelParams(bg, gamma_gamma.fit(x, m), TimeUnit.day)
    saved = params.to_dict()
    assert saved["gamma_gamma"]["q"] is None and saved["gamma_gamma"]["v"] is None
    assert saved["gamma_gamma"]["limit"] == "common_spend_rate"
    back = ModelParams.from_dict(saved)
    assert back.gamma_gamma is not None
    assert back.gamma_gamma.population_mean == params.gamma_gamma.population_mean  # type: ignore[union-attr]
    with pytest.raises(InputError, match=r"gamma_gamma\.limit must be one of"):
        ModelParams.from_dict({**saved, "gamma_gamma": {**saved["gamma_gamma"], "limit": "x"}})


# --- BG/NBD at the boundary -------------------------------------------------------


def no_dropout_shop(customers: int = 2000, seed: int = 2) -> tuple[np.ndarray, ...]:
    """Gamma-distributed Poisson rates and nobody ever drops out (an NBD world)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(30, 365, customers).astype(float)
    lam = rng.gamma(0.8, 1 / 30, customers)
    x = rng.poisson(lam * T).astype(float)
    # given x purchases in (0, T), their times are uniform: the last is T·U^(1/x)
    t_x = np.where(x > 0, np.floor(T * rng.random(customers) ** (1 / np.maximum(x, 1))), 0.0)
    return x, t_x, T


def test_no_dropout_is_the_nbd_limit() -> None:
    x, t_x, T = no_dropout_shop()
    got = bgnbd.fit(x, t_x, T)
    assert got.limit == bgnbd.NO_DROPOUT
    np.testing.assert_array_equal(bgnbd.p_alive(got, x, t_x, T), np.ones(len(x)))
    close(bgnbd.expected_purchases(got, 30.0, x, t_x, T), (got.r + x) * 30 / (got.alpha + T))
    # lifetimes stops on the ridge towards a → 0 with a likelihood no better
    lt = lifetimes()
    ref = call(lt.BetaGeoFitter(penalizer_coef=0.0).fit, x, t_x, T)
    assert ref.params_["a"] < 1e-3
    theirs = BgNbdParams(*ref.params_[["r", "alpha", "a", "b"]].to_numpy())
    assert got.log_likelihood is not None
    assert bgnbd.log_likelihood(theirs, x, t_x, T).sum() <= got.log_likelihood + 1e-6
    close([got.r, got.alpha], ref.params_[["r", "alpha"]].to_numpy(), rtol=1e-5)


LIMITS = [
    bgnbd.NO_DROPOUT, bgnbd.COMMON_RATE, bgnbd.POISSON, bgnbd.COMMON_DROPOUT, bgnbd.COMMON_BOTH
]  # fmt: skip


@pytest.mark.parametrize("limit", LIMITS)
def test_limit_formulas_are_the_full_model_at_extreme_parameters(limit: str) -> None:
    """p_alive, E[X(t)] and the log-likelihood of each limit model are the full model's at
    parameters far towards that boundary (the full model's own 2F1 breaks down beyond
    r ≈ 1e5, so the common rate is approached at r = 1e4: within 1e-3)."""
    rng = np.random.default_rng(3)
    T = rng.integers(10, 200, 50).astype(float)
    x = rng.integers(0, 6, 50).astype(float)
    t_x = np.where(x > 0, np.floor(T * rng.random(50)), 0.0)
    rate, r, alpha, a, b, pi = 0.04, 0.7, 20.0, 0.6, 2.5, 0.3
    purchase, dropout = bgnbd.LIMIT_PARTS[limit]
    near_r, near_alpha, tol = (1e4, 1e4 / rate, 2e-3) if purchase == "rate" else (r, alpha, 1e-6)
    near_a, near_b = {"beta": (a, b), "none": (a / 1e9, b), "common": (pi * 1e9, (1 - pi) * 1e9)}[
        dropout
    ]
    model = BgNbdParams(
        np.inf if purchase == "rate" else r,
        np.inf if purchase == "rate" else alpha,
        a if dropout == "beta" else (0.0 if dropout == "none" else np.inf),
        b if dropout == "beta" else np.inf,
        limit=limit,
        rate=rate if purchase == "rate" else None,
        dropout_probability=pi if dropout == "common" else None,
    )
    near = BgNbdParams(near_r, near_alpha, near_a, near_b)
    close(bgnbd.p_alive(model, x, t_x, T), bgnbd.p_alive(near, x, t_x, T), rtol=tol)
    for t in (7.0, 90.0):
        close(
            bgnbd.expected_purchases(model, t, x, t_x, T),
            bgnbd.expected_purchases(near, t, x, t_x, T),
            rtol=tol,
        )
    # log-likelihoods (the full model's constant terms vanish in the limit)
    got = bgnbd.log_likelihood(model, x, t_x, T)
    want = bgnbd.log_likelihood(near, x, t_x, T)
    np.testing.assert_allclose(got, want, atol=20 * tol)
    # rescaling days to weeks keeps the predictions
    weekly = model.rescaled(1 / 7)
    close(
        bgnbd.expected_purchases(weekly, 90 / 7, x, t_x / 7, T / 7),
        bgnbd.expected_purchases(model, 90.0, x, t_x, T),
        rtol=1e-9,
    )


def homogeneous_shop(seed: int = 3, customers: int = 2000) -> tuple[np.ndarray, ...]:
    """Everyone buys at 0.02 a day and drops out with probability 0.3 after a purchase."""
    rng = np.random.default_rng(seed)
    T = rng.integers(30, 365, customers).astype(float)
    gaps = rng.exponential(1 / 0.02, (customers, 80))
    times = np.cumsum(gaps, axis=1)
    dropped = rng.random((customers, 80)) < 0.3
    first_drop = np.where(dropped.any(axis=1), dropped.argmax(axis=1), 80)
    made = (times <= T[:, None]) & (np.arange(80)[None, :] <= first_drop[:, None])
    x = made.sum(axis=1)
    last = np.take_along_axis(times, np.maximum(x - 1, 0)[:, None], axis=1)[:, 0]
    return x.astype(float), np.where(x > 0, np.floor(last), 0.0), T


def test_homogeneous_shop_is_the_common_rate_common_dropout_limit() -> None:
    """A shop where lifetimes gives up (and retcalc did): the double limit, its parameters
    the ones the data were made with."""
    x, t_x, T = homogeneous_shop()
    lt = lifetimes()
    with pytest.raises(Exception, match="did not converge"):
        call(lt.BetaGeoFitter(penalizer_coef=0.0).fit, x, t_x, T)
    got = bgnbd.fit(x, t_x, T)
    assert got.limit == bgnbd.COMMON_BOTH
    assert got.rate == pytest.approx(0.02, rel=0.05)
    assert got.dropout_probability == pytest.approx(0.3, rel=0.1)
    assert got.standard_errors is not None
    assert set(got.standard_errors) == {"rate", "dropout_probability"}
    # rate = Σx / Σ(time alive): its standard error is about rate / sqrt(Σx)
    assert got.standard_errors["rate"] == pytest.approx(got.rate / np.sqrt(x.sum()), rel=0.2)
    expected = bgnbd.expected_purchases(got, 30.0, x, t_x, T)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    # the full model fits no better than the tolerance
    assert got.log_likelihood is not None
    far = BgNbdParams(1e4, 1e4 / got.rate, 0.3 * 1e8, 0.7 * 1e8)
    assert bgnbd.log_likelihood(far, x, t_x, T).sum() <= got.log_likelihood + 1.92


def test_bgnbd_limit_round_trips_and_scores() -> None:
    x, t_x, T = no_dropout_shop()
    bg = bgnbd.fit(x, t_x, T)
    params = ModelParams(bg, GammaGammaParams(6.0, 3.0, 15.0), TimeUnit.day)
    saved = params.to_dict()
    assert saved["bgnbd"]["a"] is None and saved["bgnbd"]["b"] is None
    assert saved["bgnbd"]["limit"] == "no_dropout"
    assert set(saved["bgnbd"]["standard_errors"]) == {"r", "alpha"}
    assert ModelParams.from_dict(saved) == params


# --- several starting points ------------------------------------------------------

#: A start the optimizer does not get away from on CDNOW (r, a at e^−19; alpha, b at e^19).
BAD_START = (np.exp(-19.0), np.exp(19.0), np.exp(-19.0), np.exp(19.0))


def test_a_bad_first_start_is_followed_by_the_others(cdnow: pl.DataFrame) -> None:
    x, t_x, T, _ = arrays(cdnow)
    scale = 1 / T.max()
    stats = bgnbd._Stats.build(x, t_x * scale, T * scale)
    alone = minimise(bgnbd._objective, [np.log(BAD_START)], (stats, 0.0))
    assert not alone.ok
    good = bgnbd.fit(x, t_x, T)
    got = bgnbd.fit(x, t_x, T, starts=[BAD_START, *bgnbd.STARTS])
    close([got.r, got.alpha, got.a, got.b], [good.r, good.alpha, good.a, good.b], rtol=1e-6)
    assert got.limit is None


def test_no_start_converging_is_exit_2_saying_what_to_try() -> None:
    found = minimise(lambda p: (float("nan"), np.zeros(1)), [np.zeros(1)], ())
    message = str(bgnbd.failure("BG/NBD", found, 0.0, 4))
    assert "from any of 4 starting points" in message
    assert "try --penalizer 0.001" in message
    message = str(bgnbd.failure("Gamma-Gamma", found, 0.01, 4))
    assert "try a larger --penalizer than 0.01 (e.g. 0.1)" in message


def test_gamma_gamma_bad_first_start(cdnow: pl.DataFrame) -> None:
    x, _, _, m = arrays(cdnow)
    x, m = x[x > 0], m[x > 0]
    bad = (np.exp(-18.0), np.exp(18.0), np.exp(-18.0))
    good = gamma_gamma.fit(x, m)
    got = gamma_gamma.fit(x, m, starts=[bad, *gamma_gamma.STARTS])
    close([got.p, got.q, got.v], [good.p, good.q, good.v], rtol=1e-5)


# --- penalizer and standard errors against lifetimes ---------------------------


@pytest.mark.parametrize("coef", [0.0, 0.001, 0.01, 0.1])
@pytest.mark.parametrize("unit", [TimeUnit.day, TimeUnit.week], ids=["day", "week"])
def test_penalizer_and_standard_errors_match_lifetimes(coef: float, unit: TimeUnit) -> None:
    lt = lifetimes()
    summary = rfm_summary(sample_orders(), time_unit=unit)
    x, t_x, T, m = arrays(summary.frame)
    params = fit_models(summary, penalizer=coef, spend_penalizer=coef)
    bgf = call(lt.BetaGeoFitter(penalizer_coef=coef).fit, x, t_x, T)
    usable = (x > 0) & (m > 0)
    ggf = call(lt.GammaGammaFitter(penalizer_coef=coef).fit, x[usable], m[usable])
    b, g = params.bgnbd, params.gamma_gamma
    assert g is not None and b.standard_errors is not None and g.standard_errors is not None
    names = ["r", "alpha", "a", "b"]
    close([b.r, b.alpha, b.a, b.b], bgf.params_[names].to_numpy(), rtol=1e-5)
    close([b.standard_errors[k] for k in names], bgf.standard_errors_[names].to_numpy(), 1e-4)
    close([g.p, g.q, g.v], ggf.params_[["p", "q", "v"]].to_numpy(), rtol=1e-5)
    close([g.standard_errors[k] for k in "pqv"], ggf.standard_errors_[list("pqv")].to_numpy(), 1e-4)
    if coef:
        assert params.to_dict()["penalizer"] == params.to_dict()["spend_penalizer"] == coef


def test_standard_errors_are_the_natural_parameters_hessian(cdnow: pl.DataFrame) -> None:
    """Against second differences of the total log-likelihood in (r, alpha, a, b) themselves."""
    summary = RfmSummary(cdnow, observation_end=CDNOW_END, time_unit=TimeUnit.week)
    params = fit_models(summary)
    x, t_x, T, _ = arrays(cdnow)
    b = params.bgnbd
    theta = np.array([b.r, b.alpha, b.a, b.b])

    def total(v: np.ndarray) -> float:
        return float(bgnbd.log_likelihood(BgNbdParams(*v), x, t_x, T).sum())

    k = len(theta)
    h = theta * 1e-4
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            hess[i, j] = (
                total(theta + ei + ej) - total(theta + ei - ej)
                - total(theta - ei + ej) + total(theta - ei - ej)
            ) / (4 * h[i] * h[j])  # fmt: skip
    want = np.sqrt(np.diag(np.linalg.inv(-hess)))
    assert b.standard_errors is not None
    close([b.standard_errors[k] for k in ("r", "alpha", "a", "b")], want, rtol=1e-3)


def test_penalized_scores_are_lifetimes(cdnow: pl.DataFrame) -> None:
    lt = lifetimes()
    summary = RfmSummary(cdnow, observation_end=CDNOW_END, time_unit=TimeUnit.week)
    params = fit_models(summary, penalizer=0.05)
    x, t_x, T, _ = arrays(cdnow)
    bgf = call(lt.BetaGeoFitter(penalizer_coef=0.05).fit, x, t_x, T)
    scored = score(summary, params, horizon=52.0)
    close(scored["p_alive"], call(bgf.conditional_probability_alive, x, t_x, T), rtol=1e-4)


def test_expected_purchases_when_a_plus_b_is_below_one() -> None:
    """2F1(r, b; a+b−1; z) is negative for one-time buyers when a + b < 1 (lifetimes, and
    retcalc before, took its log: NaN). Against the series summed term by term."""
    params = BgNbdParams(0.19, 29.4, 0.29, 0.68)
    r, alpha, a, b = 0.19, 29.4, 0.29, 0.68
    T, t = np.array([1094.0, 300.0]), 365.0
    x = np.zeros(2)
    got = bgnbd.expected_purchases(params, t, x, x, T)
    z = t / (alpha + T + t)
    c = a + b - 1
    term, series = np.ones(2), np.ones(2)
    for k in range(400):
        term = term * (r + k) * (b + k) / ((c + k) * (k + 1)) * z
        series = series + term
    assert np.all(series < 0)
    want = (a + b - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** r * series)
    close(got, want, rtol=1e-10)
