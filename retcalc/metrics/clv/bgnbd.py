"""The BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Each customer buys at rate ``lambda ~ Gamma(r, alpha)`` while alive and, after
every repeat purchase, drops out with probability ``p ~ Beta(a, b)``. With a
customer's repeat purchases ``x``, recency ``t_x`` and age ``T`` (SPEC §2.7,
``summary.py``) the log-likelihood is (paper eq. 6, as lifetimes writes it)::

    LL = lnΓ(r+x) − lnΓ(r) + r ln alpha
       + lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)
       + ln( (alpha+T)^−(r+x) + [x>0] · a/(b+x−1) · (alpha+t_x)^−(r+x) )

and the parameters maximise its sum over customers. The fit works on log
parameters (so they stay positive) with time rescaled so that the oldest
customer has ``T = 1`` (as lifetimes does; ``alpha`` is scaled back), and an
analytic gradient, so a million customers fit in seconds.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import polars as pl
from numpy.typing import NDArray

from retcalc.errors import InputError
from retcalc.lazy import LazyModule

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult

optimize = LazyModule("scipy.optimize")
special = LazyModule("scipy.special")

Array = NDArray[np.float64]
Scalar = TypeVar("Scalar", bound=np.generic)

#: Log parameters are kept in [-LOG_BOUND, LOG_BOUND] while fitting.
LOG_BOUND = 20.0


@contextmanager
def quiet_numerics() -> Iterator[None]:
    """Silence numpy/scipy floating-point warnings (overflow in a trial step is expected)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", getattr(special, "SpecialFunctionWarning", RuntimeWarning))
        yield


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted BG/NBD parameters; ``alpha`` is in the time unit the model was fitted in."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float | None = None
    customers: int | None = None

    def rescaled(self, factor: float) -> BgNbdParams:
        """The same model with time measured in units ``factor`` times smaller (alpha × factor)."""
        return BgNbdParams(
            self.r, self.alpha * factor, self.a, self.b, self.log_likelihood, self.customers
        )


def log_likelihood(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """Per-customer log-likelihood (the formula in the module docstring)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with quiet_numerics():
        repeat = x > 0
        a3 = -(r + x) * np.log(alpha + T)
        b_x1 = np.where(repeat, b + x - 1.0, 1.0)
        a4 = np.log(a) - np.log(b_x1) - (r + x) * np.log(alpha + t_x)
        log_mix = np.where(repeat, np.logaddexp(a3, a4), a3)
        return (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.gammaln(a + b)
            + special.gammaln(b + x)
            - special.gammaln(b)
            - special.gammaln(a + b + x)
            + log_mix
        )


def unique_codes(
    values: NDArray[Scalar],
) -> tuple[NDArray[Scalar], NDArray[np.intp], NDArray[np.intp]]:
    """``np.unique(values, return_inverse=True, return_counts=True)``, the same arrays,
    found by hashing (Polars) and a binary search into the distinct values instead of a
    sort of every value: the distinct values here are few (counts and ages in days)."""
    distinct = np.unique(pl.Series(values).unique().to_numpy())
    codes = np.searchsorted(distinct, values)
    return distinct, codes, np.bincount(codes, minlength=len(distinct))


@dataclass(frozen=True)
class _Stats:
    """The data in the shape the likelihood needs it, built once per fit.

    Terms that depend on ``x`` alone are summed over distinct ``x`` with their
    counts, those of one-time buyers (x = 0) over distinct ``T``; only repeat
    buyers need per-customer arithmetic, and what depends on one of their ``x``,
    ``t_x`` or ``T`` alone is computed per distinct value and gathered (the same
    numbers, fewer logarithms).
    """

    n: int
    ux: Array  # distinct x
    x_count: Array  # customers per distinct x
    uT: Array  # distinct T
    once_count: Array  # one-time buyers per distinct T
    # Repeat buyers' indexes into uT / ux / ut:
    rep_T: NDArray[np.intp]
    rep_ux: NDArray[np.intp]
    ut: Array  # distinct t_x of repeat buyers
    rep_ut: NDArray[np.intp]

    @classmethod
    def build(cls, x: Array, t_x: Array, T: Array) -> _Stats:
        ux, x_code, x_count = unique_codes(x)
        uT, T_code, _ = unique_codes(T)
        repeat = x > 0
        once_count = np.bincount(T_code[~repeat], minlength=len(uT)).astype(np.float64)
        ut, t_code, _ = unique_codes(t_x[repeat])
        return cls(
            len(x),
            ux,
            x_count.astype(np.float64),
            uT,
            once_count,
            T_code[repeat],
            x_code[repeat],
            ut,
            t_code,
        )


def _objective(log_params: Array, data: _Stats) -> tuple[float, Array]:
    """Mean negative log-likelihood and its gradient with respect to the log parameters.

    With ``d = ln a − ln(b+x−1) + (r+x)·(ln(alpha+T) − ln(alpha+t_x))`` a repeat buyer's
    last term is ``−(r+x)·ln(alpha+T) + ln(1 + e^d)``, and ``w = 1/(1 + e^−d)`` (the
    weight of "dropped out after the last purchase") carries the gradient.
    """
    r, alpha, a, b = np.exp(log_params)
    ux, xc, n = data.ux, data.x_count, data.n
    # Terms in x alone.
    ll = float(
        xc @ (special.gammaln(r + ux) + special.gammaln(b + ux) - special.gammaln(a + b + ux))
    ) + n * (-special.gammaln(r) + r * np.log(alpha) + special.gammaln(a + b) - special.gammaln(b))
    psi_abx = special.digamma(a + b + ux)
    g_r = float(xc @ special.digamma(r + ux)) + n * (np.log(alpha) - special.digamma(r))
    g_alpha = n * r / alpha
    g_a = n * special.digamma(a + b) - float(xc @ psi_abx)
    g_b = n * (special.digamma(a + b) - special.digamma(b)) + float(
        xc @ (special.digamma(b + ux) - psi_abx)
    )
    # One-time buyers: −r·ln(alpha+T).
    ln_T = np.log(alpha + data.uT)
    inv_T = 1.0 / (alpha + data.uT)
    ll -= r * float(data.once_count @ ln_T)
    g_r -= float(data.once_count @ ln_T)
    g_alpha -= r * float(data.once_count @ inv_T)
    # Repeat buyers.
    if len(data.rep_ux):
        rx = (r + ux)[data.rep_ux]
        ln_Tr = ln_T[data.rep_T]
        alpha_t = alpha + data.ut
        ln_t = np.log(alpha_t)[data.rep_ut]
        b_x1_u = b + ux - 1.0
        b_x1 = b_x1_u[data.rep_ux]
        d = np.log(a) - np.log(b_x1_u)[data.rep_ux] + rx * (ln_Tr - ln_t)
        ll += float(np.sum(np.logaddexp(0.0, d) - rx * ln_Tr))
        w = special.expit(d)
        g_r += float(np.sum(w * (ln_Tr - ln_t) - ln_Tr))
        g_alpha -= float(np.sum(rx * ((1.0 - w) * inv_T[data.rep_T] + w / alpha_t[data.rep_ut])))
        g_a += float(w.sum()) / a
        g_b -= float(np.sum(w / b_x1))
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    value = -ll / n
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return 1e300, np.zeros(4)
    return value, -grad / n


def _minimise(fun: object, start: Array, args: tuple[object, ...], what: str) -> OptimizeResult:
    """L-BFGS-B on bounded log parameters, polished by a second run; a clear error on failure."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    options = {"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20}
    with quiet_numerics():
        result = optimize.minimize(
            fun, start, args=args, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
        if not np.all(np.isfinite(result.x)):
            raise InputError(f"the {what} fit did not converge ({result.message})")
        # A second run from the first optimum tightens the convergence at no risk.
        result = optimize.minimize(
            fun, result.x, args=args, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
    scale = max(1.0, abs(float(result.fun)))
    grad_ok = bool(np.all(np.abs(result.jac) < 1e-5 * scale))
    at_bound = bool(np.any(np.abs(result.x) >= LOG_BOUND - 1e-6))
    if not np.isfinite(result.fun) or result.fun >= 1e299 or not (result.success or grad_ok):
        raise InputError(
            f"the {what} fit did not converge on this data (the optimizer stopped: "
            f"{str(result.message).strip() or 'no progress'}); more customers, more repeat "
            "purchases or a longer history usually help"
        )
    if at_bound:
        raise InputError(
            f"the {what} model is not identified by this data (a parameter ran off to "
            f"{'infinity' if np.any(result.x > 0) else 'zero'}); with more customers, more "
            "repeat purchases or a longer history it usually fits"
        )
    return result


def fit(x: Array, t_x: Array, T: Array) -> BgNbdParams:
    """Maximum-likelihood (r, alpha, a, b) for repeat purchases ``x``, recency ``t_x``, age ``T``."""
    x = np.asarray(x, dtype=np.float64)
    t_x = np.asarray(t_x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise InputError("no customers to fit the BG/NBD model on")
    if not np.any(x > 0):
        raise InputError(
            "no customer bought on more than one day: the BG/NBD model cannot be fitted "
            "(it needs repeat buyers to tell how often people buy and when they drop out)"
        )
    t_max = float(T.max())
    if t_max <= 0:
        raise InputError(
            "every customer's first purchase is on the last observed day (T = 0): "
            "there is no history to fit the BG/NBD model on"
        )
    scale = 1.0 / t_max
    args = (_Stats.build(x, t_x * scale, T * scale),)
    start = np.log(np.array([1.0, 1.0, 1.0, 1.0]))
    result = _minimise(_objective, start, args, "BG/NBD")
    r, alpha, a, b = np.exp(result.x)
    fitted = BgNbdParams(
        float(r),
        float(alpha) / scale,
        float(a),
        float(b),
        customers=n,
    )
    total = float(log_likelihood(fitted, x, t_x, T).sum())
    return BgNbdParams(fitted.r, fitted.alpha, fitted.a, fitted.b, total, n)


def p_alive(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """P(alive | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x−1) · ((alpha+T)/(alpha+t_x))^(r+x))."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with quiet_numerics():
        b_x1 = np.where(x > 0, b + x - 1.0, 1.0)
        log_odds = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / b_x1)
        return np.where(x > 0, special.expit(-log_odds), 1.0)


def _unique_pairs(x: Array, T: Array) -> tuple[Array, Array, NDArray[np.intp]]:
    """Distinct ``(x, T)`` pairs and, per customer, the index of theirs."""
    t_values, t_code, _ = unique_codes(T)
    key = x.astype(np.int64) * len(t_values) + t_code
    keys, inverse, _ = unique_codes(key)
    return (keys // len(t_values)).astype(np.float64), t_values[keys % len(t_values)], inverse


def _log_hyp_term(params: BgNbdParams, t: float, x: Array, T: Array) -> Array:
    """ln 2F1(r+x, b+x; a+b+x−1; t/(alpha+T+t)), with Euler's transform where it overflows."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyp_a, hyp_b, hyp_c = r + x, b + x, a + b + x - 1.0
    z = t / (alpha + T + t)
    direct = np.log(special.hyp2f1(hyp_a, hyp_b, hyp_c, z))
    bad = ~np.isfinite(direct)
    if np.any(bad):
        alt = np.log(
            special.hyp2f1(hyp_c[bad] - hyp_a[bad], hyp_c[bad] - hyp_b[bad], hyp_c[bad], z[bad])
        ) + (hyp_c[bad] - hyp_a[bad] - hyp_b[bad]) * np.log1p(-z[bad])
        direct[bad] = alt
    return direct


def expected_purchases(params: BgNbdParams, t: float, x: Array, t_x: Array, T: Array) -> Array:
    """E[X(T, T+t) | x, t_x, T], the repeat purchases expected in the next ``t`` (paper eq. 10).

    ``(a+b+x−1)/(a−1) · [1 − ((alpha+T)/(alpha+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; t/(alpha+T+t))]
    / (1 + [x>0] · a/(b+x−1) · ((alpha+T)/(alpha+t_x))^(r+x))``.
    """
    return next(expected_purchases_at(params, [t], x, t_x, T))


def expected_purchases_at(
    params: BgNbdParams, times: Sequence[float], x: Array, t_x: Array, T: Array
) -> Iterator[Array]:
    """:func:`expected_purchases` for each of ``times`` in turn, sharing the work.

    The hypergeometric term depends only on ``(x, T)``, so it is computed once
    per distinct pair and spread to the customers.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=np.float64)
    t_x = np.asarray(t_x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    with quiet_numerics():
        ux, uT, inverse = _unique_pairs(x, T)
        b_x1 = np.where(x > 0, b + x - 1.0, 1.0)
        odds = np.where(
            x > 0, a / b_x1 * np.exp((r + x) * np.log((alpha + T) / (alpha + t_x))), 0.0
        )
        denominator = 1.0 + odds
        first = (a + b + ux - 1.0) / (a - 1.0)
    for t in times:
        if t <= 0:
            yield np.zeros(len(x))
            continue
        with quiet_numerics():
            log_hyp = _log_hyp_term(params, t, ux, uT)
            bracket = -np.expm1(log_hyp + (r + ux) * np.log((alpha + uT) / (alpha + t + uT)))
            yield (first * bracket)[inverse] / denominator
