"""The BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Each customer buys at rate ``lambda ~ Gamma(r, alpha)`` while alive and, after
every repeat purchase, drops out with probability ``p ~ Beta(a, b)``. With a
customer's repeat purchases ``x``, recency ``t_x`` and age ``T`` (SPEC §2.7,
``summary.py``) the log-likelihood is (paper eq. 6, as lifetimes writes it)::

    LL = lnΓ(r+x) − lnΓ(r) + r ln alpha
       + lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)
       + ln( (alpha+T)^−(r+x) + [x>0] · a/(b+x−1) · (alpha+t_x)^−(r+x) )

and the parameters maximise its sum over customers. The likelihood depends on a customer
only through ``(x, t_x, T)``: the fit first reduces the customers to their distinct
``(x, t_x, T)`` rows, each weighted by its number of customers (:func:`distinct_rows`),
so that a fit on distinct rows with their counts (what the Spark executors send) is the
fit on every customer, to the last bit. The fit works on log
parameters (so they stay positive) with time rescaled so that the oldest
customer has ``T = 1`` (as lifetimes does; ``alpha`` is scaled back), and an
analytic gradient, so a million customers fit in seconds; ``optimum.py`` tries
:data:`STARTS` in turn and adds lifetimes' penalizer.

**Limit models at the boundary.** The likelihood can grow without bound
towards the edge of the parameter space. Each edge is a simpler model, named
by its purchase part and its dropout part (:data:`LIMIT_PARTS`):

- purchases, ``rate``: r, alpha → ∞ with r/alpha = rate (everyone buys at the
  same rate): ``lnΓ(r+x) − lnΓ(r) + r ln alpha − (r+x) ln(alpha+T)`` becomes
  ``x ln rate − rate·T`` and the odds factor ``((alpha+T)/(alpha+t_x))^(r+x)``
  becomes ``e^(rate·(T−t_x))``;
- dropout, ``none``: a → 0 or b → ∞ (nobody drops out): the Beta terms and the
  second mixture term vanish, p_alive = 1;
- dropout, ``common``: a, b → ∞ with a/(a+b) = π (everyone drops out with
  probability π after a purchase): the Beta terms become ``x ln(1−π)`` and
  a/(b+x−1) becomes π/(1−π).

Expected purchases in the next ``t``, times p_alive: ``(r+x)·t/(alpha+T)``
(no dropout, NBD) or ``rate·t`` (Poisson); ``(1 − ((alpha+T)/(alpha+T+π·t))^(r+x))/π``
or ``(1 − e^(−rate·π·t))/π`` (common dropout); ``(a+b+x−1)/(a−1) ·
[1 − 1F1(a−1; a+b+x−1; −rate·t)]`` (common rate, Beta dropout: the confluent
limit of the 2F1, by Kummer's transformation). Without a penalizer, when no
start converges inside the bounds or the fit runs past e^±10 (``RIDGE``), the
limit models are fitted too, and the one with the fewest parameters whose
log-likelihood is within 1.92 of the best limit's is taken if it is within 1.92
of the full fit's (``LIMIT_TOLERANCE``: a likelihood-ratio test at 5 % does not
reject it). The limit's name is in ``limit``; its infinite parameters are
``math.inf`` (null in JSON).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import polars as pl
from numpy.typing import NDArray

from retcalc.errors import InputError
from retcalc.lazy import LazyModule
from retcalc.metrics.clv.optimum import (
    LOG_BOUND,
    Optimum,
    dot,
    limit_holds,
    minimise,
    penalty,
    quiet_numerics,
    standard_errors,
)

special = LazyModule("scipy.special")

Array = NDArray[np.float64]
Scalar = TypeVar("Scalar", bound=np.generic)

__all__ = ["LOG_BOUND", "BgNbdParams", "fit", "quiet_numerics"]

#: The limit models at the boundary of the parameter space (module docstring).
NO_DROPOUT = "no_dropout"
COMMON_RATE = "common_rate"
POISSON = "common_rate_no_dropout"
COMMON_DROPOUT = "common_dropout"
COMMON_BOTH = "common_rate_common_dropout"
#: Each limit as (purchase part, dropout part): "gamma" (r, alpha) or "rate" (one rate
#: for all); "beta" (a, b), "none" (no dropout) or "common" (one dropout probability).
LIMIT_PARTS: dict[str, tuple[str, str]] = {
    POISSON: ("rate", "none"),
    NO_DROPOUT: ("gamma", "none"),
    COMMON_BOTH: ("rate", "common"),
    COMMON_DROPOUT: ("gamma", "common"),
    COMMON_RATE: ("rate", "beta"),
}

#: Starting points (r, alpha, a, b), alpha in time scaled so that the oldest customer's
#: T is 1, tried in turn until one converges inside the bounds.
STARTS: tuple[tuple[float, float, float, float], ...] = (
    (1.0, 1.0, 1.0, 1.0),
    (0.5, 0.2, 0.5, 3.0),
    (2.0, 5.0, 0.2, 10.0),
    (0.1, 0.05, 2.0, 0.5),
)


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted BG/NBD parameters; ``alpha`` (and ``rate``) in the time unit of the fit.

    ``limit`` names the limit model taken at the boundary (module docstring):
    ``no_dropout`` (``a`` = 0, ``b`` = ∞), ``common_rate`` (``r`` = ``alpha`` = ∞,
    every customer buys at ``rate``) or both; ``standard_errors`` maps each
    fitted parameter to its standard error (None when the Hessian is singular).
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float | None = None
    customers: int | None = None
    limit: str | None = None
    rate: float | None = None
    standard_errors: Mapping[str, float | None] | None = field(default=None, compare=False)
    dropout_probability: float | None = None

    @property
    def parts(self) -> tuple[str, str]:
        """(purchase part, dropout part), as :data:`LIMIT_PARTS`; ("gamma", "beta") in full."""
        return LIMIT_PARTS[self.limit] if self.limit is not None else ("gamma", "beta")

    @property
    def dropout(self) -> bool:
        """Customers may drop out (not the no-dropout limits)."""
        return self.parts[1] != "none"

    @property
    def common_rate(self) -> bool:
        """Every customer buys at the same ``rate`` (the common-rate limits)."""
        return self.parts[0] == "rate"

    def fitted(self) -> dict[str, float]:
        """The parameters this model has, by name (r, alpha or rate; a, b or
        dropout_probability)."""
        purchase, dropout = self.parts
        out = (
            {"rate": float(self.rate or 0.0)}
            if purchase == "rate"
            else {"r": self.r, "alpha": self.alpha}
        )
        if dropout == "beta":
            out.update(a=self.a, b=self.b)
        elif dropout == "common":
            out["dropout_probability"] = float(self.dropout_probability or 0.0)
        return out

    def rescaled(self, factor: float) -> BgNbdParams:
        """The same model with time measured in units ``factor`` times smaller (alpha × factor)."""
        rate = None if self.rate is None else self.rate / factor
        errors = self.standard_errors
        if errors is not None:
            scale = {"alpha": factor, "rate": 1.0 / factor}
            errors = {k: None if v is None else v * scale.get(k, 1.0) for k, v in errors.items()}
        return BgNbdParams(
            self.r,
            self.alpha * factor,
            self.a,
            self.b,
            self.log_likelihood,
            self.customers,
            self.limit,
            rate,
            errors,
            self.dropout_probability,
        )


def _purchase_terms(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> tuple[Array, Array]:
    """The limit models' log-likelihood of the purchase process (as if alive throughout)
    and the log odds factor ``(r+x)·ln((alpha+T)/(alpha+t_x))`` (``rate·(T−t_x)`` with a
    common rate) of having dropped out after the last purchase."""
    if params.common_rate:
        rate = float(params.rate or 0.0)
        return x * np.log(rate) - rate * T, rate * (T - t_x)
    r, alpha = params.r, params.alpha
    purchase = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        - (r + x) * np.log(alpha + T)
    )
    return purchase, (r + x) * np.log((alpha + T) / (alpha + t_x))


def _log_odds(params: BgNbdParams, x: Array, gap: Array) -> Array:
    """ln(a/(b+x−1)) + gap (ln(π/(1−π)) + gap with a common dropout probability π): the log
    odds of having dropped out after the last purchase, for repeat buyers."""
    if params.parts[1] == "common":
        pi = float(params.dropout_probability or 0.0)
        return np.log(pi) - np.log1p(-pi) + gap
    b_x1 = np.where(x > 0, params.b + x - 1.0, 1.0)
    return np.log(params.a) - np.log(b_x1) + gap


def log_likelihood(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """Per-customer log-likelihood (the formula in the module docstring; limit models as
    documented there)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with quiet_numerics():
        repeat = x > 0
        if params.limit is not None:
            purchase, gap = _purchase_terms(params, x, t_x, T)
            if not params.dropout:
                return purchase
            if params.parts[1] == "common":
                stay = x * np.log1p(-float(params.dropout_probability or 0.0))
            else:
                stay = (
                    special.gammaln(a + b)
                    + special.gammaln(b + x)
                    - special.gammaln(b)
                    - special.gammaln(a + b + x)
                )
            mix = np.where(repeat, np.logaddexp(0.0, _log_odds(params, x, gap)), 0.0)
            return purchase + stay + mix
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


def distinct_rows(
    columns: Sequence[Array], weights: NDArray[np.int64] | None = None
) -> tuple[list[Array], NDArray[np.float64]]:
    """The distinct rows of ``columns`` (arrays of one length), sorted, and each one's
    summed ``weights`` (a count of customers; 1 each without ``weights``) as floats.
    Rows of weight 0 are dropped."""
    names = [f"c{i}" for i in range(len(columns))]
    data: dict[str, object] = {
        n: np.asarray(c, dtype=np.float64) for n, c in zip(names, columns, strict=True)
    }
    count = len(columns[0]) if columns else 0
    data["_w"] = (
        np.ones(count, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    )
    frame = (
        pl.DataFrame(data)
        .group_by(names)
        .agg(pl.col("_w").sum())
        .filter(pl.col("_w") > 0)
        .sort(names)
    )
    return [frame[n].to_numpy() for n in names], frame["_w"].cast(pl.Float64).to_numpy()


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

    Built on distinct ``(x, t_x, T)`` rows with their customers as weights
    (:func:`distinct_rows`). Terms that depend on ``x`` alone are summed over distinct
    ``x`` with their counts, those of one-time buyers (x = 0) over distinct ``T``; only
    repeat buyers' rows need their own arithmetic (weighted by ``rep_w``), and what
    depends on one of their ``x``, ``t_x`` or ``T`` alone is computed per distinct value
    and gathered (the same numbers, fewer logarithms).
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
    rep_w: Array  # customers per repeat buyers' row

    @classmethod
    def build(cls, x: Array, t_x: Array, T: Array, w: Array | None = None) -> _Stats:
        """From rows ``x, t_x, T`` and their customers ``w`` (1 each without)."""
        w = np.ones(len(x)) if w is None else w
        ux, x_code, _ = unique_codes(x)
        x_count = np.bincount(x_code, weights=w, minlength=len(ux)).astype(np.float64)
        uT, T_code, _ = unique_codes(T)
        repeat = x > 0
        once_count = np.bincount(T_code[~repeat], weights=w[~repeat], minlength=len(uT)).astype(
            np.float64
        )
        ut, t_code, _ = unique_codes(t_x[repeat])
        return cls(
            round(float(w.sum())),
            ux,
            x_count,
            uT,
            once_count,
            T_code[repeat],
            x_code[repeat],
            ut,
            t_code,
            w[repeat],
        )


def _objective(log_params: Array, data: _Stats, penalizer: float = 0.0) -> tuple[float, Array]:
    """Mean negative log-likelihood (plus ``penalizer · Σ θ²``) and its gradient with
    respect to the log parameters.

    With ``d = ln a − ln(b+x−1) + (r+x)·(ln(alpha+T) − ln(alpha+t_x))`` a repeat buyer's
    last term is ``−(r+x)·ln(alpha+T) + ln(1 + e^d)``, and ``w = 1/(1 + e^−d)`` (the
    weight of "dropped out after the last purchase") carries the gradient.
    """
    r, alpha, a, b = np.exp(log_params)
    ux, xc, n = data.ux, data.x_count, data.n
    # Terms in x alone.
    ll = dot(
        xc, special.gammaln(r + ux) + special.gammaln(b + ux) - special.gammaln(a + b + ux)
    ) + n * (-special.gammaln(r) + r * np.log(alpha) + special.gammaln(a + b) - special.gammaln(b))
    psi_abx = special.digamma(a + b + ux)
    g_r = dot(xc, special.digamma(r + ux)) + n * (np.log(alpha) - special.digamma(r))
    g_alpha = n * r / alpha
    g_a = n * special.digamma(a + b) - dot(xc, psi_abx)
    g_b = n * (special.digamma(a + b) - special.digamma(b)) + dot(
        xc, special.digamma(b + ux) - psi_abx
    )
    # One-time buyers: −r·ln(alpha+T).
    ln_T = np.log(alpha + data.uT)
    inv_T = 1.0 / (alpha + data.uT)
    ll -= r * dot(data.once_count, ln_T)
    g_r -= dot(data.once_count, ln_T)
    g_alpha -= r * dot(data.once_count, inv_T)
    # Repeat buyers.
    if len(data.rep_ux):
        rx = (r + ux)[data.rep_ux]
        ln_Tr = ln_T[data.rep_T]
        alpha_t = alpha + data.ut
        ln_t = np.log(alpha_t)[data.rep_ut]
        b_x1_u = b + ux - 1.0
        b_x1 = b_x1_u[data.rep_ux]
        d = np.log(a) - np.log(b_x1_u)[data.rep_ux] + rx * (ln_Tr - ln_t)
        rw = data.rep_w
        ll += dot(rw, np.logaddexp(0.0, d) - rx * ln_Tr)
        w = special.expit(d)
        g_r += dot(rw, w * (ln_Tr - ln_t) - ln_Tr)
        g_alpha -= dot(rw, rx * ((1.0 - w) * inv_T[data.rep_T] + w / alpha_t[data.rep_ut]))
        g_a += dot(rw, w) / a
        g_b -= dot(rw, w / b_x1)
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return _finish(ll, grad, n, penalizer, np.array([r, alpha, a, b]))


def _finish(
    ll: float, grad: Array, n: int, penalizer: float, natural: Array
) -> tuple[float, Array]:
    """Mean negative log-likelihood and its gradient, penalised; a huge value off the map."""
    value = -ll / n
    out = -grad / n
    if penalizer:
        extra, extra_grad = penalty(penalizer, natural)
        value += extra
        out = out + extra_grad
    if not np.isfinite(value) or not np.all(np.isfinite(out)):
        return 1e300, np.zeros(len(grad))
    return value, out


def _limit_objective(
    log_params: Array, data: _Stats, parts: tuple[str, str]
) -> tuple[float, Array]:
    """Mean negative log-likelihood of a limit model (module docstring) and its gradient in
    the log parameters: (r, alpha) or (rate), then (a, b), (odds = π/(1−π)) or nothing.
    Grouped as :func:`_objective`: terms in x alone per distinct x, one-time buyers per
    distinct T, repeat buyers' rows weighted by their customers."""
    theta = np.exp(log_params)
    ux, xc, n, rw = data.ux, data.x_count, data.n, data.rep_w
    rep_x = ux[data.rep_ux]
    rep_T = data.uT[data.rep_T]
    rep_t = data.ut[data.rep_ut]
    sum_x = dot(xc, ux)
    purchase, dropout = parts
    grads: list[float] = []
    d_gap: list[Array] = []
    if purchase == "gamma":
        r, alpha = theta[0], theta[1]
        k = 2
        ln_uT = np.log(alpha + data.uT)
        ln_T = ln_uT[data.rep_T]
        sum_ln_T = dot(data.once_count, ln_uT) + dot(rw, ln_T)
        ll = (
            dot(xc, special.gammaln(r + ux))
            + n * (r * np.log(alpha) - special.gammaln(r))
            - r * sum_ln_T
            - dot(rw * rep_x, ln_T)
        )
        grads += [
            dot(xc, special.digamma(r + ux)) + n * (np.log(alpha) - special.digamma(r)) - sum_ln_T,
            n * r / alpha
            - r * dot(data.once_count, 1.0 / (alpha + data.uT))
            - dot(rw, (r + rep_x) / (alpha + rep_T)),
        ]
        ln_ratio = ln_T - np.log(alpha + rep_t)
        gap = (r + rep_x) * ln_ratio
        d_gap = [ln_ratio, (r + rep_x) * (1.0 / (alpha + rep_T) - 1.0 / (alpha + rep_t))]
    else:
        rate = theta[0]
        k = 1
        sum_T = dot(data.once_count, data.uT) + dot(rw, rep_T)
        ll = sum_x * np.log(rate) - rate * sum_T
        grads.append(sum_x / rate - sum_T)
        gap = rate * (rep_T - rep_t)
        d_gap = [rep_T - rep_t]
    d_odds: list[Array] = []
    odds = np.zeros(len(rep_x))
    if dropout == "beta":
        a, b = theta[k], theta[k + 1]
        psi_abx = special.digamma(a + b + ux)
        ll += dot(xc, special.gammaln(b + ux) - special.gammaln(a + b + ux)) + n * (
            special.gammaln(a + b) - special.gammaln(b)
        )
        grads += [
            float(n * special.digamma(a + b) - dot(xc, psi_abx)),
            dot(xc, special.digamma(b + ux) - psi_abx)
            + n * (special.digamma(a + b) - special.digamma(b)),
        ]
        b_x1 = b + rep_x - 1.0
        odds = np.log(a) - np.log(b_x1)
        d_odds = [np.full(len(rep_x), 1.0 / a), -1.0 / b_x1]
    elif dropout == "common":
        o = theta[k]
        ll -= sum_x * np.log1p(o)
        grads.append(-sum_x / (1.0 + o))
        odds = np.full(len(rep_x), np.log(o))
        d_odds = [np.full(len(rep_x), 1.0 / o)]
    if dropout != "none" and len(rep_x):
        d = odds + gap
        ll += dot(rw, np.logaddexp(0.0, d))
        w = rw * special.expit(d)
        for j, dg in enumerate(d_gap):
            grads[j] += dot(w, dg)
        for j, do in enumerate(d_odds):
            grads[k + j] += dot(w, do)
    return _finish(ll, np.array(grads) * theta, n, 0.0, np.zeros(len(theta)))


#: Starting points of the limit models' parts (scaled time), combined index by index.
_PART_STARTS: dict[str, tuple[tuple[float, ...], ...]] = {
    "gamma": ((1.0, 1.0), (0.5, 0.2), (2.0, 5.0)),
    "rate": ((1.0,), (10.0,), (0.1,)),
    "beta": ((1.0, 1.0), (0.5, 3.0), (0.2, 10.0)),
    "common": ((0.5,), (0.1,), (2.0,)),
    "none": ((), (), ()),
}
_PART_NAMES = {
    "gamma": ("r", "alpha"),
    "rate": ("rate",),
    "beta": ("a", "b"),
    "common": ("dropout_odds",),
    "none": (),
}


def _fit_limits(data: _Stats) -> tuple[str, Optimum] | None:
    """The limit model with the fewest parameters (the order of :data:`LIMIT_PARTS`) that
    fits as well as the best one (``limit_holds``); None if none converges."""
    fits: list[tuple[str, Optimum]] = []
    for name, (purchase, dropout) in LIMIT_PARTS.items():
        starts = [
            np.log(np.array(p + d, dtype=np.float64))
            for p, d in zip(_PART_STARTS[purchase], _PART_STARTS[dropout], strict=True)
        ]
        found = minimise(_limit_objective, starts, (data, (purchase, dropout)))
        if found.converged:
            fits.append((name, found))
    if not fits:
        return None
    best = min(found.fun for _, found in fits)
    return next(fit for fit in fits if limit_holds(fit[1].fun, best, data.n))


def _limit_params(name: str, found: Optimum, scale: float, data: _Stats, n: int) -> BgNbdParams:
    """The limit model's parameters, time scaled back (alpha / scale, rate × scale), a
    common dropout probability π = odds/(1+odds), with their standard errors."""
    purchase, dropout = LIMIT_PARTS[name]
    names = _PART_NAMES[purchase] + _PART_NAMES[dropout]
    time = {"alpha": 1.0 / scale, "rate": scale}
    values = {k: float(v) * time.get(k, 1.0) for k, v in zip(names, np.exp(found.x), strict=True)}
    errors = _errors(
        names,
        _limit_objective,
        found,
        (data, (purchase, dropout)),
        np.array([values[k] for k in names]),
        n,
    )
    pi = None
    if "dropout_odds" in values:
        odds = values.pop("dropout_odds")
        pi = odds / (1.0 + odds)
        se = errors.pop("dropout_odds")
        errors["dropout_probability"] = None if se is None else se / (1.0 + odds) ** 2
    return BgNbdParams(
        r=values.get("r", math.inf),
        alpha=values.get("alpha", math.inf),
        a=values.get("a", 0.0 if dropout == "none" else math.inf),
        b=values.get("b", math.inf),
        limit=name,
        rate=values.get("rate"),
        standard_errors=errors,
        dropout_probability=pi,
    )


def describe_limit(name: str) -> str:
    """What a limit model means, for the note on stderr."""
    return {
        NO_DROPOUT: "no customer drops out (a → 0: the NBD model, p_alive = 1)",
        COMMON_RATE: "every customer buys at the same rate (r, alpha → ∞ with r/alpha fixed)",
        POISSON: "every customer buys at the same rate and none drops out (a Poisson "
        "process, p_alive = 1)",
        COMMON_DROPOUT: "every customer has the same dropout probability after a purchase "
        "(a, b → ∞ with a/(a+b) fixed)",
        COMMON_BOTH: "every customer buys at the same rate and has the same dropout "
        "probability (r, alpha → ∞ and a, b → ∞)",
    }[name]


def failure(what: str, found: Optimum, penalizer: float, tries: int) -> InputError:
    """The exit-2 message when no start converged: what happened and what to try."""
    if found.at_bound and found.converged:
        how = (
            f"a parameter ran off to {'infinity' if np.any(found.x > 0) else 'zero'} "
            "and no limit model fits as well"
        )
    else:
        how = f"the optimizer stopped: {found.message}"
    if penalizer:
        hint = f"try a larger --penalizer than {penalizer:g} (e.g. {penalizer * 10:g})"
    else:
        hint = (
            "try --penalizer 0.001 (as lifetimes' penalizer_coef: it pulls the parameters "
            "towards 0; raise it until the fit converges)"
        )
    return InputError(
        f"the {what} fit did not converge on this data from any of {tries} starting points "
        f"({how}); {hint}, or give it more customers, more repeat purchases or a longer history"
    )


def _errors(
    names: Sequence[str],
    objective: object,
    found: Optimum,
    args: tuple[object, ...],
    natural: Array,
    n: int,
) -> dict[str, float | None]:
    """Standard errors by parameter name (all None when the Hessian is singular)."""
    se = standard_errors(objective, found.x, args, natural, n)  # type: ignore[arg-type]
    if se is None:
        return dict.fromkeys(names)
    return {k: float(v) for k, v in zip(names, se, strict=True)}


def fit(
    x: Array,
    t_x: Array,
    T: Array,
    *,
    weights: NDArray[np.int64] | None = None,
    penalizer: float = 0.0,
    starts: Sequence[Sequence[float]] = STARTS,
) -> BgNbdParams:
    """Maximum-likelihood (r, alpha, a, b) for repeat purchases ``x``, recency ``t_x``, age ``T``.

    ``weights``: the customers each row stands for (rows of distinct values with their
    counts); 1 each without. Either way the fit runs on the distinct rows
    (:func:`distinct_rows`), so both give the same fit.

    ``penalizer``: lifetimes' ``penalizer_coef`` (``optimum.py``). ``starts``: the
    starting points (r, alpha, a, b) in scaled time, tried in turn. Without a
    penalizer, a fit that runs off towards the boundary is compared with the limit
    models and the best limit is taken when it fits as well (``limit`` says which).
    """
    (x, t_x, T), w = distinct_rows((x, t_x, T), weights)
    n = round(float(w.sum()))
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
    data = _Stats.build(x, t_x * scale, T * scale, w)
    args = (data, penalizer)
    log_starts = [np.log(np.asarray(start, dtype=np.float64)) for start in starts]
    # The first start alone; the limits as soon as it converges out on the ridge towards
    # the boundary, the other starts only if that is not the answer (a start stuck out
    # there without converging is no sign of the boundary).
    found = minimise(_objective, log_starts[:1], args)
    limits: tuple[str, Optimum] | None = None
    checked = False
    for attempt in (0, 1):
        early = found.on_ridge and found.converged
        if not penalizer and (not found.ok or found.on_ridge) and (early or attempt):
            if not checked:
                limits, checked = _fit_limits(data), True
            if limits is not None and limit_holds(limits[1].fun, found.fun, n):
                model = _limit_params(*limits, scale, data, n)
                total = dot(w, log_likelihood(model, x, t_x, T))
                return dataclasses.replace(model, log_likelihood=total, customers=n)
        if attempt == 0 and not found.ok and len(log_starts) > 1:
            other = minimise(_objective, log_starts[1:], args)
            if other.ok or other.fun < found.fun:
                found = other
    if not found.ok:
        raise failure("BG/NBD", found, penalizer, len(starts))
    r, alpha, a, b = np.exp(found.x)
    fitted = BgNbdParams(float(r), float(alpha) / scale, float(a), float(b), customers=n)
    natural = np.array([fitted.r, fitted.alpha, fitted.a, fitted.b])
    errors = _errors(("r", "alpha", "a", "b"), _objective, found, args, natural, n)
    total = dot(w, log_likelihood(fitted, x, t_x, T))
    return BgNbdParams(fitted.r, fitted.alpha, fitted.a, fitted.b, total, n, standard_errors=errors)


def p_alive(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """P(alive | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x−1) · ((alpha+T)/(alpha+t_x))^(r+x)).

    No-dropout limits: 1; the other limits: the odds of :func:`_log_odds`.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if not params.dropout:
        return np.ones(len(x))
    with quiet_numerics():
        if params.limit is not None:
            log_odds = _log_odds(params, x, _purchase_terms(params, x, t_x, T)[1])
        else:
            b_x1 = np.where(x > 0, b + x - 1.0, 1.0)
            log_odds = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / b_x1)
        return np.where(x > 0, special.expit(-log_odds), 1.0)


def _unique_pairs(x: Array, T: Array) -> tuple[Array, Array, NDArray[np.intp]]:
    """Distinct ``(x, T)`` pairs and, per customer, the index of theirs."""
    t_values, t_code, _ = unique_codes(T)
    key = x.astype(np.int64) * len(t_values) + t_code
    keys, inverse, _ = unique_codes(key)
    return (keys // len(t_values)).astype(np.float64), t_values[keys % len(t_values)], inverse


def _log_hyp_term(params: BgNbdParams, t: float, x: Array, T: Array) -> tuple[Array, Array]:
    """ln |2F1(r+x, b+x; a+b+x−1; t/(alpha+T+t))| and its sign, with Euler's transform where
    it overflows. The value is negative when a+b+x−1 < 0 (a + b < 1, one-time buyers)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyp_a, hyp_b, hyp_c = r + x, b + x, a + b + x - 1.0
    z = t / (alpha + T + t)
    value = special.hyp2f1(hyp_a, hyp_b, hyp_c, z)
    direct = np.log(np.abs(value))
    sign = np.sign(value)
    bad = ~np.isfinite(direct)
    if np.any(bad):
        alt_value = special.hyp2f1(
            hyp_c[bad] - hyp_a[bad], hyp_c[bad] - hyp_b[bad], hyp_c[bad], z[bad]
        )
        alt = np.log(np.abs(alt_value)) + (hyp_c[bad] - hyp_a[bad] - hyp_b[bad]) * np.log1p(-z[bad])
        direct[bad] = alt
        sign[bad] = np.sign(alt_value)
    return direct, sign


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
    if params.limit is not None:
        yield from _limit_expected_at(params, times, x, t_x, T)
        return
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
            log_hyp, sign = _log_hyp_term(params, t, ux, uT)
            log_term = log_hyp + (r + ux) * np.log((alpha + uT) / (alpha + t + uT))
            # 1 − sign·e^log_term
            bracket = np.where(sign < 0, 1.0 + np.exp(log_term), -np.expm1(log_term))
            yield (first * bracket)[inverse] / denominator


def _limit_expected_at(
    params: BgNbdParams, times: Sequence[float], x: Array, t_x: Array, T: Array
) -> Iterator[Array]:
    """E[X(t) | x, t_x, T] in the limit models (module docstring), p_alive times:
    no dropout: ``(r+x)·t/(alpha+T)`` (NBD) or ``rate·t`` (Poisson); a common dropout
    probability π: ``(1 − ((alpha+T)/(alpha+T+π·t))^(r+x)) / π`` or
    ``(1 − e^(−rate·π·t)) / π``; a common rate with Beta dropout:
    ``(a+b+x−1)/(a−1) · [1 − 1F1(a−1; a+b+x−1; −rate·t)]``."""
    purchase, dropout = params.parts
    rate = float(params.rate or 0.0)
    pi = float(params.dropout_probability or 0.0)
    with quiet_numerics():
        alive = p_alive(params, x, t_x, T)
    for t in times:
        if t <= 0:
            yield np.zeros(len(x))
            continue
        with quiet_numerics():
            if dropout == "none":
                if purchase == "rate":
                    yield np.full(len(x), rate * t)
                else:
                    yield (params.r + x) * t / (params.alpha + T)
            elif dropout == "common":
                if purchase == "rate":
                    yield -np.expm1(-rate * pi * t) / pi * alive
                else:
                    ratio = np.log((params.alpha + T) / (params.alpha + T + pi * t))
                    yield -np.expm1((params.r + x) * ratio) / pi * alive
            else:
                a, b = params.a, params.b
                ux, x_code, _ = unique_codes(x)
                c = a + b + ux - 1.0
                bracket = 1.0 - special.hyp1f1(a - 1.0, c, -rate * t)
                yield (c / (a - 1.0) * bracket)[x_code] * alive
