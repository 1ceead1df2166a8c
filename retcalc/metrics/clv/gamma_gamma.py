"""The Gamma-Gamma spend model (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

A customer's purchase values are Gamma(p, nu) with nu ~ Gamma(q, v) across
customers. With ``x`` repeat purchases of mean value ``m`` (x > 0, m > 0) the
log-likelihood of the mean is (note eq. 1a, as lifetimes writes it)::

    LL = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v)

The fit works on log parameters with the spend rescaled by its mean (``v`` is
scaled back) and an analytic gradient. The expected average order value of a
customer (note eq. 5) shrinks their own mean towards the population mean::

    E[M | x, m] = (1 − w) · v·p/(q−1) + w · m,   w = p·x / (p·x + q − 1)
                = (p·v + p·x·m) / (p·x + q − 1)

**The limit at the boundary.** When the customers' mean spends do not vary
beyond what their own purchases' noise explains, the likelihood grows as
``q`` and ``v`` go to infinity together, with ``nu0 = q/v`` (the common
"spend rate") fixed: every customer has the same ``nu = nu0`` and a mean of
``x`` purchases is Gamma(p·x, x·nu0). Its log-likelihood is::

    LL = p·x·ln(x·nu0) − lnΓ(p·x) + (p·x − 1)·ln m − x·nu0·m

maximised at ``nu0 = p·Σx / Σx·m``: the population mean spend per purchase
``p/nu0`` (the limit of ``v·p/(q−1)``) is ``m̄ = Σ x·m / Σ x``, every repeat
purchase's spend averaged. ``p`` solves ``Σ x·(ln(p·x) − ψ(p·x)) = −Σ x·ln(m/m̄)``
(one root; ``p`` = ∞ when every ``m`` is the same). Standard errors:
``se(m̄) = m̄ / sqrt(p·Σx)`` (m̄ is a weighted mean of Gamma means) and ``se(p)``
from the curvature of the profile likelihood, ``Σ x²·ψ'(p·x) − Σx/p``. In E[M | x, m] the weight
``w = p·x/(p·x + q − 1)`` goes to 0, so every customer's expected spend is the
population mean ``m̄`` (``limit = "common_spend_rate"``, ``q`` and ``v`` = ∞).
The full model is fitted first; the limit is taken (with a note) when no start
converges or the fit runs off towards large parameters and the limit fits at
least as well, and when fewer than two customers or no variation leave
nothing else to fit. With a ``penalizer`` the optimum is always inside.

The likelihood depends on a customer only through ``(x, m)``: the fit runs on the
distinct ``(x, m)`` rows weighted by their customers (``bgnbd.distinct_rows``), so a fit
on distinct rows with their counts is the fit on every customer, to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from retcalc.errors import InputError
from retcalc.lazy import LazyModule
from retcalc.metrics.clv.bgnbd import Array, distinct_rows, failure, unique_codes
from retcalc.metrics.clv.optimum import (
    dot,
    limit_holds,
    minimise,
    penalty,
    quiet_numerics,
    standard_errors,
)

special = LazyModule("scipy.special")
optimize = LazyModule("scipy.optimize")

#: The limit model at the boundary (module docstring).
COMMON_SPEND_RATE = "common_spend_rate"
#: Starting points (p, q, v), v in units of the mean spend, tried in turn.
STARTS: tuple[tuple[float, float, float], ...] = (
    (1.0, 2.0, 1.0),
    (5.0, 5.0, 4.0),
    (0.5, 10.0, 20.0),
    (10.0, 1.5, 0.1),
)


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (``v`` in the currency of the data)."""

    p: float
    q: float
    v: float
    log_likelihood: float | None = None
    customers: int | None = None
    limit: str | None = None
    mean: float | None = None  # the population mean spend in the limit model
    standard_errors: Mapping[str, float | None] | None = field(default=None, compare=False)

    @property
    def population_mean(self) -> float | None:
        """Mean spend per purchase across customers, v·p/(q−1) (the limit model's mean);
        None when q ≤ 1 (no mean)."""
        if self.limit is not None:
            return self.mean
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
    """Repeat buyers' rows (weighted by their customers ``w``) with the terms in ``x``
    alone grouped by distinct ``x``."""

    n: int
    ux: Array
    x_count: Array
    x: Array
    xm: Array  # x · m, the same in every evaluation
    sum_x_log_m: float
    sum_log_m: float
    w: Array
    wx: Array  # w · x

    @classmethod
    def build(cls, x: Array, m: Array, w: Array | None = None) -> _Stats:
        """From rows ``x, m`` and their customers ``w`` (1 each without)."""
        w = np.ones(len(x)) if w is None else w
        ux, x_code, _ = unique_codes(x)
        log_m = np.log(m)
        wx = w * x
        return cls(
            round(float(w.sum())),
            ux,
            np.bincount(x_code, weights=w, minlength=len(ux)).astype(np.float64),
            x,
            x * m,
            dot(wx, log_m),
            dot(w, log_m),
            w,
            wx,
        )


def _objective(
    log_params: Array, data: _Stats, penalizer: float = 0.0, scale: float = 1.0
) -> tuple[float, Array]:
    """Mean negative log-likelihood (plus ``penalizer · (p² + q² + v²)``, ``v`` in the
    data's currency: ``scale`` times the fitted one) and its gradient with respect to
    the log parameters."""
    p, q, v = np.exp(log_params)
    n, ux, xc = data.n, data.ux, data.x_count
    pu = p * ux
    psi_puq = special.digamma(pu + q)
    xmv = data.xm + v
    log_xmv = np.log(xmv)
    px_q = p * data.x + q
    ll = (
        dot(xc, special.gammaln(pu + q) - special.gammaln(pu) + pu * np.log(ux))
        + n * (q * np.log(v) - special.gammaln(q))
        + p * data.sum_x_log_m
        - data.sum_log_m
        - dot(data.w * px_q, log_xmv)
    )
    g_p = (
        dot(xc, ux * (psi_puq - special.digamma(pu) + np.log(ux)))
        + data.sum_x_log_m
        - dot(data.wx, log_xmv)
    )
    g_q = dot(xc, psi_puq) + n * (np.log(v) - special.digamma(q)) - dot(data.w, log_xmv)
    g_v = n * q / v - dot(data.w, px_q / xmv)
    grad = np.array([g_p * p, g_q * q, g_v * v])
    value = -ll / n
    out = -grad / n
    if penalizer:
        extra, extra_grad = penalty(penalizer, np.array([p, q, v * scale]))
        value += extra
        out = out + extra_grad
    if not np.isfinite(value) or not np.all(np.isfinite(out)):
        return 1e300, np.zeros(3)
    return value, out


def limit_fit(x: Array, m: Array, w: Array | None = None) -> GammaGammaParams:
    """The limit model (module docstring): the mean ``m̄ = Σx·m / Σx`` and ``p``; rows
    ``x, m`` weighted by their customers ``w`` (1 each without)."""
    w = np.ones(len(x)) if w is None else w
    n = round(float(w.sum()))
    wx = w * x
    total = dot(w, x)
    mean = dot(wx, m) / total
    # −Σ x·ln(m/m̄), ≥ 0 by Jensen; log1p keeps it exact for tiny variation
    spread = -dot(wx, np.log1p((m - mean) / mean))
    with quiet_numerics():
        if spread > 0:

            def score(log_p: float) -> float:
                px = np.exp(log_p) * x
                return dot(wx, np.log(px) - special.digamma(px)) - spread

            guess = math.log(n / (2.0 * spread))  # ln y − ψ(y) ≈ 1/(2y) for large y
            lo, hi = guess - 2.0, guess + 2.0
            while score(lo) < 0 and lo > -50:
                lo -= 4.0
            while score(hi) > 0 and hi < 50:
                hi += 4.0
            p = math.exp(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-14))
        else:
            p = math.inf
    ll = None
    if math.isfinite(p):
        rate = p / mean
        with quiet_numerics():
            px = p * x
            ll = dot(
                w,
                px * np.log(x * rate) - special.gammaln(px) + (px - 1.0) * np.log(m) - x * rate * m,
            )
    errors: dict[str, float | None] = {"p": None, "mean": None}
    if math.isfinite(p):
        with quiet_numerics():
            # the profile likelihood's curvature in p; m̄'s variance given p (exact)
            info = dot(wx, x * special.polygamma(1, p * x)) - total / p
        errors = {
            "p": 1.0 / math.sqrt(info) if info > 0 else None,
            "mean": mean / math.sqrt(p * total),
        }
    return GammaGammaParams(p, math.inf, math.inf, ll, n, COMMON_SPEND_RATE, mean, errors)


def describe_limit(params: GammaGammaParams) -> str:
    """The note on stderr when the spend model is the limit model."""
    return (
        "the spend model's likelihood has its maximum at the boundary (q, v → ∞: the "
        "repeat buyers' mean spends differ no more than their own purchases' noise "
        "explains), so the limit model is used: every customer's expected spend per "
        f"purchase is the population mean {params.mean:.6g}"
    )


def fit(
    x: Array,
    m: Array,
    *,
    weights: NDArray[np.int64] | None = None,
    penalizer: float = 0.0,
    starts: Sequence[Sequence[float]] = STARTS,
) -> GammaGammaParams:
    """Maximum-likelihood (p, q, v) from repeat buyers' purchase counts ``x`` and mean spend ``m``.

    Every ``x`` and ``m`` must be positive (the caller leaves the others out).
    ``penalizer`` is lifetimes' ``penalizer_coef``, ``starts`` the starting points
    (p, q, v with v in units of the mean spend). The limit model is taken as the
    module docstring says (``limit`` says so). ``weights``: the customers each row stands
    for (distinct rows with their counts); 1 each without. Either way the fit runs on
    the distinct rows, so both give the same fit.
    """
    (x, m), w = distinct_rows((x, m), weights)
    n = round(float(w.sum()))
    if n == 0:
        raise InputError(
            "no repeat buyer with a positive spend: the Gamma-Gamma spend model cannot be fitted"
        )
    if np.any(x <= 0) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma needs x > 0 and m > 0")
    if n < 2 or float(np.ptp(m)) == 0.0:
        return limit_fit(x, m, w)
    scale = dot(w, m) / n
    m_scaled = m / scale
    args = (_Stats.build(x, m_scaled, w), penalizer, scale)
    log_starts = [np.log(np.asarray(start, dtype=np.float64)) for start in starts]
    # As BG/NBD: the first start, the limit once a fit converges out on the ridge, then
    # the other starts, then the limit again.
    found = minimise(_objective, log_starts[:1], args)
    limit: GammaGammaParams | None = None
    for attempt in (0, 1):
        early = found.on_ridge and found.converged
        if not penalizer and (not found.ok or found.on_ridge) and (early or attempt):
            limit = limit or limit_fit(x, m, w)
            # the limit's mean negative log-likelihood on the scaled data, as the objective's
            limit_fun = (
                -math.inf
                if limit.log_likelihood is None
                else -(limit.log_likelihood + n * math.log(scale)) / n
            )
            if limit_holds(limit_fun, found.fun, n):
                return limit
        if attempt == 0 and not found.ok and len(log_starts) > 1:
            other = minimise(_objective, log_starts[1:], args)
            if other.ok or other.fun < found.fun:
                found = other
    if not found.ok:
        raise failure("Gamma-Gamma", found, penalizer, len(starts))
    p, q, v = np.exp(found.x)
    fitted = GammaGammaParams(float(p), float(q), float(v) * scale)
    se = standard_errors(_objective, found.x, args, np.array([fitted.p, fitted.q, fitted.v]), n)
    errors = (
        dict.fromkeys(("p", "q", "v"))
        if se is None
        else dict(zip(("p", "q", "v"), map(float, se), strict=True))
    )
    total = dot(w, log_likelihood(fitted, x, m))
    return GammaGammaParams(fitted.p, fitted.q, fitted.v, total, n, standard_errors=errors)


def expected_average_value(params: GammaGammaParams, x: Array, m: Array) -> Array:
    """E[M | x, m] = (1 − w)·v·p/(q−1) + w·m with w = p·x/(p·x + q − 1); NaN when q ≤ 1.

    In the limit model (w = 0) every customer's is the population mean."""
    mean = params.population_mean
    if mean is None:
        return np.full(len(x), np.nan)
    if params.limit is not None:
        return np.full(len(x), mean)
    with quiet_numerics():
        weight = params.p * x / (params.p * x + params.q - 1.0)
        return (1.0 - weight) * mean + weight * m
