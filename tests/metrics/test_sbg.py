"""The shifted-beta-geometric model against hand-worked values and Fader & Hardie (2007).

The paper ("How to project customer retention", J. Interactive Marketing 21(1)) fits
the model to the first 7 years of two cohorts of 1000 customers and reports
alpha = 0.704, beta = 1.182 (regular) and alpha = 0.668, beta = 3.806 (high end).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from retcalc.metrics import sbg

# Customers surviving after years 0..12, of 1000 (Fader & Hardie 2007, Table 1).
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]


@pytest.mark.parametrize(
    ("data", "alpha", "beta"),
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high-end"],
)
def test_the_papers_fits_on_years_1_to_7(data: list[int], alpha: float, beta: float) -> None:
    fit = sbg.fit(sbg.Counts.from_survivors([data[:8]]))
    assert round(fit.alpha, 3) == alpha
    assert round(fit.beta, 3) == beta
    assert not fit.at_boundary
    assert fit.customers == 1000 and fit.periods == 7


@pytest.mark.parametrize("data", [REGULAR, HIGH_END], ids=["regular", "high-end"])
def test_holdout_years_8_to_12_from_the_fit_on_1_to_7(data: list[int]) -> None:
    """The paper's point: two parameters fitted on 7 years project the next 5. Its own
    projections (Figure 4) stay within a few percent of the actual counts, the high-end
    cohort's drifting lowest by year 12; 5 % holds every year for both cohorts, while a
    model without heterogeneity (constant retention) misses by far more."""
    fit = sbg.fit(sbg.Counts.from_survivors([data[:8]]))
    years = np.arange(8, 13)
    projected = 1000 * sbg.survival(fit.alpha, fit.beta, years)
    actual = np.array(data[8:13], dtype=float)
    assert np.all(np.abs(projected - actual) / actual < 0.05)
    # The constant-retention projection from the same 7 years, for contrast.
    constant = 1000 * (data[7] / 1000) ** (years / 7)
    assert np.all(np.abs(constant - actual) > np.abs(projected - actual))


def test_survival_and_churn_by_hand() -> None:
    # alpha = beta = 1: theta uniform, P(T = t) = 1 / (t (t + 1)), S(t) = 1 / (t + 1).
    t = np.arange(1, 6)
    assert sbg.churn_probability(1.0, 1.0, t) == pytest.approx(1 / (t * (t + 1)), rel=1e-12)
    assert sbg.survival(1.0, 1.0, np.arange(0, 6)) == pytest.approx(
        1 / (np.arange(0, 6) + 1), rel=1e-12
    )
    # alpha = 2, beta = 3: P(T=1) = 2/5, P(T=2) = 2/5 * 3/6 = 1/5, P(T=3) = 1/5 * 4/7;
    # S(1) = 3/5, S(2) = 3/5 * 4/6 = 2/5, S(3) = 2/5 * 5/7 = 2/7.
    assert sbg.churn_probability(2.0, 3.0, [1, 2, 3]) == pytest.approx(
        [0.4, 0.2, 0.2 * 4 / 7], rel=1e-12
    )
    assert sbg.survival(2.0, 3.0, [0, 1, 2, 3]) == pytest.approx([1, 0.6, 0.4, 2 / 7], rel=1e-12)


def test_far_periods_stay_finite_and_consistent() -> None:
    """betaln keeps S(t) exact where products of rates would underflow or drift."""
    t = np.array([1_000.0, 100_000.0])
    s = sbg.survival(0.5, 2.0, t)
    assert np.all(np.isfinite(s)) and np.all(s > 0)
    # S(t) - S(t + 1) = P(T = t + 1)
    assert sbg.survival(0.5, 2.0, t) - sbg.survival(0.5, 2.0, t + 1) == pytest.approx(
        sbg.churn_probability(0.5, 2.0, t + 1), rel=1e-6
    )


def test_the_likelihood_by_hand() -> None:
    # 10 customers: 4 lost at t = 1, 2 at t = 2, 4 still there at 2; alpha = 2, beta = 3.
    counts = sbg.Counts.from_survivors([[10, 6, 4]])
    expected = 4 * np.log(0.4) + 2 * np.log(0.2) + 4 * np.log(0.4)
    assert sbg.log_likelihood(2.0, 3.0, counts)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "series",
    [[[1000, 631, 468, 382]], [[500, 400, 350, 320, 300], [300, 200, 170]], [[80, 50, 40, 30]]],
    ids=["regular-3y", "two-cohorts", "small"],
)
def test_newton_finds_the_optimum_scipy_finds(series: list[list[int]]) -> None:
    counts = sbg.Counts.from_survivors(series)
    fit = sbg.fit(counts)
    found = minimize(
        lambda x: -sbg.log_likelihood(np.exp(x[0]), np.exp(x[1]), counts)[0],
        x0=np.zeros(2),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10_000},
    )
    assert fit.log_likelihood >= -found.fun - 1e-9
    assert np.log([fit.alpha, fit.beta]) == pytest.approx(found.x, abs=1e-4)


def test_degenerate_data_ends_at_the_boundary() -> None:
    assert sbg.fit(sbg.Counts.from_survivors([[10, 10, 10]])).at_boundary  # nobody lost
    assert sbg.fit(sbg.Counts.from_survivors([[10, 0, 0]])).at_boundary  # all lost at once
    with pytest.raises(sbg.FitError):
        sbg.fit(sbg.Counts.from_survivors([[10]]))


def test_bootstrap_resamples_keep_the_customers_and_are_seeded() -> None:
    counts = sbg.Counts.from_survivors([REGULAR[:8], HIGH_END[:4]])
    fit = sbg.fit(counts)
    one = counts.resampled(fit.alpha, fit.beta, np.random.default_rng(7), 50)
    two = counts.resampled(fit.alpha, fit.beta, np.random.default_rng(7), 50)
    assert np.array_equal(one.lost, two.lost) and np.array_equal(one.alive, two.alive)
    assert np.all(one.lost[:, :7].sum(axis=1) + one.alive[:, 0] == 1000)
    assert np.all(one.lost[:, 7:].sum(axis=1) + one.alive[:, 1] == 1000)
    alphas, betas = sbg.refit(one, fit)
    # each resample's refit is its own maximum likelihood
    single = sbg.Counts(one.times, one.lost[3], one.ends, one.alive[3])
    assert alphas[3] == pytest.approx(sbg.fit(single).alpha, rel=1e-6)
    assert np.quantile(alphas, 0.05) < fit.alpha < np.quantile(alphas, 0.95)
    assert np.quantile(betas, 0.05) < fit.beta < np.quantile(betas, 0.95)
