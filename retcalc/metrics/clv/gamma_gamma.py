"""The Gamma-Gamma spend model (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

A customer's purchase values are Gamma(p, nu) with nu ~ Gamma(q, v) across
customers. With ``x`` repeat purchases of mean value ``m`` (x > 0, m > 0) the
log-likelihood of the mean is (note eq. 1a, as lifetimes writes it)::

    LL = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v)

The fit works on log parameters with the spend rescaled by its mean (``v`` is
scaled back) and an analytic gradient. The expected average order value of a
customer (note eq. 5) shrinks their own mean towards the population mean::

    E[M | x, m] = (1 − w) · v·p/(q−1) + w · m,   w = p·x / (p·x + q − 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retcalc.errors import InputError
from retcalc.lazy import LazyModule
from retcalc.metrics.clv.bgnbd import Array, _minimise, quiet_numerics, unique_codes

special = LazyModule("scipy.special")


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (``v`` in the currency of the data)."""

    p: float
    q: float
    v: float
    log_likelihood: float | None = None
    customers: int | None = None

    @property
    def population_mean(self) -> float | None:
        """Mean spend per purchase across customers, v·p/(q−1); None when q ≤ 1 (no mean)."""
        return self.v * self.p / (self.q - 1.0) if self.q > 1.0 else None


def log_likelihood(params: GammaGammaParams, x: Array, m: Array) -> Array:
    """Per-customer log-likelihood of the mean spend (the formula in the module docstring)."""
    p, q, v = params.p, params.q, params.v
    with quiet_numerics():
        px = p * x
        return (
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1.0) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(x * m + v)
        )


@dataclass(frozen=True)
class _Stats:
    """Repeat buyers' data with the terms in ``x`` alone grouped by distinct ``x``."""

    n: int
    ux: Array
    x_count: Array
    x: Array
    xm: Array  # x · m, the same in every evaluation
    sum_x_log_m: float
    sum_log_m: float

    @classmethod
    def build(cls, x: Array, m: Array) -> _Stats:
        ux, _, x_count = unique_codes(x)
        log_m = np.log(m)
        return cls(
            len(x),
            ux,
            x_count.astype(np.float64),
            x,
            x * m,
            float(x @ log_m),
            float(log_m.sum()),
        )


def _objective(log_params: Array, data: _Stats) -> tuple[float, Array]:
    """Mean negative log-likelihood and its gradient with respect to the log parameters."""
    p, q, v = np.exp(log_params)
    n, ux, xc = data.n, data.ux, data.x_count
    pu = p * ux
    psi_puq = special.digamma(pu + q)
    xmv = data.xm + v
    log_xmv = np.log(xmv)
    px_q = p * data.x + q
    ll = (
        float(xc @ (special.gammaln(pu + q) - special.gammaln(pu) + pu * np.log(ux)))
        + n * (q * np.log(v) - special.gammaln(q))
        + p * data.sum_x_log_m
        - data.sum_log_m
        - float(px_q @ log_xmv)
    )
    g_p = (
        float(xc @ (ux * (psi_puq - special.digamma(pu) + np.log(ux))))
        + data.sum_x_log_m
        - float(data.x @ log_xmv)
    )
    g_q = float(xc @ psi_puq) + n * (np.log(v) - special.digamma(q)) - float(log_xmv.sum())
    g_v = n * q / v - float(np.sum(px_q / xmv))
    grad = np.array([g_p * p, g_q * q, g_v * v])
    value = -ll / n
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return 1e300, np.zeros(3)
    return value, -grad / n


def fit(x: Array, m: Array) -> GammaGammaParams:
    """Maximum-likelihood (p, q, v) from repeat buyers' purchase counts ``x`` and mean spend ``m``.

    Every ``x`` and ``m`` must be positive (the caller leaves the others out).
    """
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise InputError(
            "no repeat buyer with a positive spend: the Gamma-Gamma spend model cannot be fitted"
        )
    if np.any(x <= 0) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma needs x > 0 and m > 0")
    if n < 2 or float(np.ptp(m)) == 0.0:
        raise InputError(
            "the repeat buyers' spend does not vary: the Gamma-Gamma model cannot be fitted "
            f"({n} repeat buyer{'s' if n != 1 else ''} with a positive spend)"
        )
    scale = float(m.mean())
    m_scaled = m / scale
    args = (_Stats.build(x, m_scaled),)
    start = np.log(np.array([1.0, 2.0, 1.0]))
    result = _minimise(_objective, start, args, "Gamma-Gamma")
    p, q, v = np.exp(result.x)
    fitted = GammaGammaParams(float(p), float(q), float(v) * scale)
    total = float(log_likelihood(fitted, x, m).sum())
    return GammaGammaParams(fitted.p, fitted.q, fitted.v, total, n)


def expected_average_value(params: GammaGammaParams, x: Array, m: Array) -> Array:
    """E[M | x, m] = (1 − w)·v·p/(q−1) + w·m with w = p·x/(p·x + q − 1); NaN when q ≤ 1."""
    mean = params.population_mean
    if mean is None:
        return np.full(len(x), np.nan)
    with quiet_numerics():
        weight = params.p * x / (params.p * x + params.q - 1.0)
        return (1.0 - weight) * mean + weight * m
