"""The shifted-beta-geometric retention model (Fader & Hardie, "How to project customer
retention", Journal of Interactive Marketing 21(1), 2007).

Each customer renews at the end of every period with their own probability ``1 - theta``
and, once lost, stays lost; ``theta`` varies between customers as Beta(a, b). Then the
lifetime ``T`` in periods (``T = t``: lost at the end of period ``t``) has

- ``P(T = t) = B(a + 1, b + t - 1) / B(a, b)``, ``t = 1, 2, ...``
- ``S(t) = P(T > t) = B(a, b + t) / B(a, b)``, ``S(0) = 1``
- ``r_t = S(t) / S(t - 1) = (b + t - 1) / (a + b + t - 1)`` (retention rises with t:
  the customers who churn easily leave first).

The parameters are fitted by maximum likelihood from survivor counts ``n_0 >= n_1 >=
... >= n_K`` (``n_0`` the customers at ``t = 0``): ``n_{t-1} - n_t`` customers lost at
``t`` and ``n_K`` still there at ``K``,

    LL(a, b) = Σ_{t=1..K} (n_{t-1} - n_t) ln P(T = t) + n_K ln S(K),

summed over several series (cohorts) for a pooled fit, each to its own ``K``.
Everything is computed with ``scipy.special.betaln`` on arrays (no recursion that
loses precision at large t), and the fit runs on ``ln a, ln b`` from several
starting points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, polygamma

#: Bounds of ln a and ln b: 1e-4 .. 1e4. A fit that ends on one is "at the boundary"
#: (the data cannot tell the parameters apart: no churn, everyone lost, or no
#: heterogeneity left to measure).
LOG_BOUND = 4 * np.log(10)
#: Starting points of ln a, ln b: a grid from 0.1 to 10 each.
STARTS: tuple[tuple[float, float], ...] = tuple(
    (np.log(a), np.log(b)) for a in (0.1, 1.0, 10.0) for b in (0.1, 1.0, 10.0)
)


def log_churn_probability(alpha: float, beta: float, t: ArrayLike) -> NDArray[np.float64]:
    """``ln P(T = t) = ln B(a + 1, b + t - 1) - ln B(a, b)`` for ``t >= 1``."""
    times = np.asarray(t, dtype=np.float64)
    return betaln(alpha + 1.0, beta + times - 1.0) - betaln(alpha, beta)


def log_survival(alpha: float, beta: float, t: ArrayLike) -> NDArray[np.float64]:
    """``ln S(t) = ln B(a, b + t) - ln B(a, b)`` for ``t >= 0``."""
    times = np.asarray(t, dtype=np.float64)
    return betaln(alpha, beta + times) - betaln(alpha, beta)


def churn_probability(alpha: float, beta: float, t: ArrayLike) -> NDArray[np.float64]:
    """``P(T = t)``: the share of customers lost at the end of period ``t``."""
    return np.exp(log_churn_probability(alpha, beta, t))


def survival(alpha: float, beta: float, t: ArrayLike) -> NDArray[np.float64]:
    """``S(t)``: the share of customers still there after ``t`` periods."""
    return np.exp(log_survival(alpha, beta, t))


@dataclass(frozen=True)
class Counts:
    """Survivor series stacked for the likelihood: per series, ``lost`` customers lost at
    ``t = 1..K`` and ``alive`` still there at ``K``. ``lost`` and ``alive`` may have a
    leading axis of data sets (the bootstrap's resamples) sharing ``times`` and ``ends``."""

    times: NDArray[np.float64]  # t of each loss count, all series one after another
    lost: NDArray[np.float64]
    ends: NDArray[np.float64]  # K of each series
    alive: NDArray[np.float64]  # n_K of each series

    @classmethod
    def from_survivors(cls, series: Sequence[ArrayLike]) -> Counts:
        """From survivor counts ``n_0, ..., n_K`` per series (``K >= 1``)."""
        times, lost, ends, alive = [], [], [], []
        for one in series:
            n = np.asarray(one, dtype=np.float64)
            if n.size < 2:
                continue
            times.append(np.arange(1, n.size, dtype=np.float64))
            lost.append(n[:-1] - n[1:])
            ends.append(float(n.size - 1))
            alive.append(float(n[-1]))
        if not times:
            empty = np.zeros(0)
            return cls(empty, empty, empty, empty)
        return cls(np.concatenate(times), np.concatenate(lost), np.array(ends), np.array(alive))

    @property
    def customers(self) -> float:
        """Customers at ``t = 0`` over every series."""
        return float(self.lost.sum() + self.alive.sum())

    @property
    def periods(self) -> int:
        """The longest series' ``K``."""
        return int(self.ends.max()) if self.ends.size else 0

    def resampled(self, alpha: float, beta: float, rng: np.random.Generator, size: int) -> Counts:
        """``size`` data sets drawn from the model with the same customers at ``t = 0`` and
        the same ``K`` per series (the parametric bootstrap): each series' lifetimes,
        censored at its ``K``, are one multinomial draw."""
        lost_parts, alive_parts = [], []
        start = 0
        for end, alive in zip(self.ends, self.alive, strict=True):
            k = int(end)
            n0 = round(self.lost[start : start + k].sum() + alive)
            t = np.arange(1, k + 1, dtype=np.float64)
            probs = np.append(churn_probability(alpha, beta, t), survival(alpha, beta, k))
            probs = np.clip(probs, 0.0, None)
            counts = rng.multinomial(n0, probs / probs.sum(), size=size).astype(np.float64)
            lost_parts.append(counts[:, :k])
            alive_parts.append(counts[:, k])
            start += k
        return Counts(
            self.times,
            np.concatenate(lost_parts, axis=1),
            self.ends,
            np.stack(alive_parts, axis=1),
        )


def log_likelihood(alpha: ArrayLike, beta: ArrayLike, counts: Counts) -> NDArray[np.float64]:
    """``LL(a, b)`` of the module docstring, one value per pair of ``alpha``, ``beta`` (and
    per data set, when ``counts`` holds several)."""
    a = np.atleast_1d(np.asarray(alpha, dtype=np.float64))[:, None]
    b = np.atleast_1d(np.asarray(beta, dtype=np.float64))[:, None]
    t, k = counts.times[None, :], counts.ends[None, :]
    base = betaln(a, b)
    churned = (counts.lost * (betaln(a + 1.0, b + t - 1.0) - base)).sum(axis=-1)
    kept = (counts.alive * (betaln(a, b + k) - base)).sum(axis=-1)
    return churned + kept


def _derivatives(
    theta: NDArray[np.float64], counts: Counts
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gradient ``(M, 2)`` and Hessian ``(M, 2, 2)`` of ``LL`` in ``u = ln a, v = ln b``.

    For a term ``ln B(a + x, b + y)``, with ``s = a + b + x + y``: d/da = digamma(a + x) -
    digamma(s), d/db = digamma(b + y) - digamma(s), d2/da2 = trigamma(a + x) -
    trigamma(s), d2/db2 = trigamma(b + y) - trigamma(s), d2/dadb = -trigamma(s); then
    d/du = a d/da, d2/du2 = a^2 d2/da2 + a d/da, d2/dudv = a b d2/dadb.
    """
    a, b = np.exp(theta[:, :1]), np.exp(theta[:, 1:])
    t, k = counts.times[None, :], counts.ends[None, :]

    def terms(x: Any, y: Any) -> list[NDArray[np.float64]]:
        s = a + b + x + y
        d_s, t_s = digamma(s), polygamma(1, s)
        return [
            digamma(a + x) - d_s,
            digamma(b + y) - d_s,
            polygamma(1, a + x) - t_s,
            polygamma(1, b + y) - t_s,
            -t_s,
        ]

    base, churn, keep = terms(0.0, 0.0), terms(1.0, t - 1.0), terms(0.0, k)
    g_a, g_b, h_aa, h_bb, h_ab = (
        (counts.lost * (c - z)).sum(axis=-1) + (counts.alive * (kk - z)).sum(axis=-1)
        for c, kk, z in zip(churn, keep, base, strict=True)
    )
    a1, b1 = a[:, 0], b[:, 0]
    grad = np.stack([a1 * g_a, b1 * g_b], axis=1)
    hess = np.empty((theta.shape[0], 2, 2))
    hess[:, 0, 0] = a1 * a1 * h_aa + a1 * g_a
    hess[:, 1, 1] = b1 * b1 * h_bb + b1 * g_b
    hess[:, 0, 1] = hess[:, 1, 0] = a1 * b1 * h_ab
    return grad, hess


def _values(theta: NDArray[np.float64], counts: Counts) -> NDArray[np.float64]:
    return log_likelihood(np.exp(theta[:, 0]), np.exp(theta[:, 1]), counts)


def maximise(
    theta: NDArray[np.float64], counts: Counts, iterations: int = 200
) -> NDArray[np.float64]:
    """Newton's method on ``ln a, ln b`` from each row of ``theta`` at once (one problem per
    row: several starting points of one data set, or the bootstrap's resamples), within
    ``±LOG_BOUND``: a Newton step where the Hessian is negative definite, else a step up
    the gradient; a step is halved until the likelihood does not fall."""
    theta = np.clip(np.array(theta, dtype=np.float64), -LOG_BOUND, LOG_BOUND)
    value = _values(theta, counts)
    active = np.isfinite(value)
    for _ in range(iterations):
        if not active.any():
            break
        grad, hess = _derivatives(theta, counts)
        det = hess[:, 0, 0] * hess[:, 1, 1] - hess[:, 0, 1] ** 2
        concave = (hess[:, 0, 0] < 0) & (det > 0)
        safe = np.where(concave, det, 1.0)
        newton = np.stack(
            [
                -(hess[:, 1, 1] * grad[:, 0] - hess[:, 0, 1] * grad[:, 1]) / safe,
                -(hess[:, 0, 0] * grad[:, 1] - hess[:, 1, 0] * grad[:, 0]) / safe,
            ],
            axis=1,
        )
        uphill = grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-300)
        step = np.where(concave[:, None], newton, uphill)
        length = np.linalg.norm(step, axis=1, keepdims=True)
        step *= np.minimum(1.0, 2.0 / np.maximum(length, 1e-300))
        step[~active] = 0.0
        taken = np.zeros_like(step)
        moved = ~active
        for _halving in range(50):
            trial = np.clip(theta + step, -LOG_BOUND, LOG_BOUND)
            trial_value = _values(trial, counts)
            better = ~moved & (trial_value >= value)
            taken[better] = trial[better] - theta[better]
            theta[better], value[better] = trial[better], trial_value[better]
            moved |= better
            if moved.all():
                break
            step *= 0.5
        small = np.abs(taken).max(axis=1) <= 1e-10
        flat = np.abs(grad).max(axis=1) <= 1e-9 * np.maximum(1.0, np.abs(value))
        active &= ~(small | flat)
    return theta


@dataclass(frozen=True)
class Fit:
    """A maximum-likelihood fit: a, b, the log-likelihood, the customers at ``t = 0`` and the
    longest series' ``K``; ``at_boundary`` when the optimum is on a bound of ln a or ln b."""

    alpha: float
    beta: float
    log_likelihood: float
    customers: int
    periods: int
    at_boundary: bool

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "log_likelihood": self.log_likelihood,
            "n": self.customers,
            "periods": self.periods,
            "at_boundary": self.at_boundary,
        }


class FitError(ValueError):
    """No fit: no series with a period after ``t = 0``, or no optimum found."""


def fit(counts: Counts, starts: Sequence[tuple[float, float]] = STARTS) -> Fit:
    """The maximum-likelihood a, b: :func:`maximise` from every starting point, the best
    optimum kept."""
    if counts.ends.size == 0:
        raise FitError("no survivor series with a period after the first")
    found = maximise(np.array(starts, dtype=np.float64), counts)
    values = _values(found, counts)
    if not np.isfinite(values).any():
        raise FitError("the likelihood has no finite optimum")
    best = int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))
    log_a, log_b = (float(v) for v in found[best])
    edge = LOG_BOUND - 1e-3
    return Fit(
        alpha=float(np.exp(log_a)),
        beta=float(np.exp(log_b)),
        log_likelihood=float(values[best]),
        customers=round(counts.customers),
        periods=counts.periods,
        at_boundary=bool(abs(log_a) > edge or abs(log_b) > edge),
    )


def refit(counts: Counts, start: Fit) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """a and b fitted to each data set of ``counts`` (the bootstrap's resamples), all
    started from ``start``."""
    rows = counts.lost.shape[0] if counts.lost.ndim == 2 else 1
    theta = np.tile([np.log(start.alpha), np.log(start.beta)], (rows, 1))
    found = maximise(theta, counts)
    return np.exp(found[:, 0]), np.exp(found[:, 1])
