"""Maximum likelihood for the CLV models: several starts, a penalty, standard errors.

Both models are fitted on log parameters (so they stay positive) in
``[-LOG_BOUND, LOG_BOUND]`` by L-BFGS-B with an analytic gradient, polished by
a second run from the first optimum. :func:`minimise` tries the starting
points it is given in order and keeps the first that converges inside the
bounds; when none does it returns the best it found, flagged, and the model
decides (a limit model at the boundary, or an error).

``penalizer`` is lifetimes' ``penalizer_coef``: ``coef · Σ θ²`` over the
natural parameters θ (in lifetimes' units: BG/NBD with time scaled so that the
oldest customer's ``T`` is 1; Gamma-Gamma in the currency of the data) added to
the *mean* negative log-likelihood.

Standard errors come from the Hessian of the mean (penalised) negative
log-likelihood at the optimum: central differences of the analytic gradient
in the log parameters ``φ = ln θ``, inverted and divided by the customer count,
carried to the natural parameters by ``se(θ_i) = θ_i · sqrt(Cov(φ)_ii)``. At
the optimum (gradient zero) this equals the inverse of the Hessian taken in
the natural parameters.

The likelihoods' weighted sums (:func:`dot`) are taken by BLAS on one thread, a long
one in two halves added: one order of summation whatever the number of cores, the
order OpenBLAS takes on two threads, without waking a second thread for each sum
(costly on a busy machine: bench/results-clvfit.md).
"""

from __future__ import annotations

import ctypes
import functools
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retcalc.lazy import LazyModule

optimize = LazyModule("scipy.optimize")
special = LazyModule("scipy.special")

Array = NDArray[np.float64]
Objective = Callable[..., tuple[float, Array]]

#: Log parameters are kept in [-LOG_BOUND, LOG_BOUND] while fitting.
LOG_BOUND = 20.0
#: Beyond e^±RIDGE a fitted parameter is suspected of running off to the boundary
#: (the optimizer may stop on a ridge well before LOG_BOUND): the limit models are tried.
RIDGE = 10.0
#: A limit model is taken when its total log-likelihood is within this of the full
#: model's: half the 95 % point of chi-squared with one degree of freedom, so a
#: likelihood-ratio test does not reject the limit at 5 %. Among limit models the one
#: with the fewest parameters within this of the best is taken.
LIMIT_TOLERANCE = 1.92
#: Step (in log parameters) of the central differences for the Hessian.
HESSIAN_STEP = 1e-5


#: OpenBLAS sums a dot product longer than this on several threads, a part each.
THREADED_DOT = 10_000


@functools.cache
def _blas_threads() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """Getter and setter of the thread count of numpy's OpenBLAS (its wheels' copy), or
    None when numpy has no OpenBLAS this can find."""
    root = Path(np.__file__).parent
    libraries = [*root.parent.glob("numpy.libs/*openblas*"), *root.glob(".dylibs/*openblas*")]
    for library in libraries:
        try:
            handle = ctypes.CDLL(str(library))
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "")):
            getter = getattr(handle, f"{prefix}_get_num_threads{suffix}", None)
            setter = getattr(handle, f"{prefix}_set_num_threads{suffix}", None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                return getter, setter
    return None


def dot(a: Array, b: Array) -> float:
    """``a · b`` as OpenBLAS sums it on two threads (module docstring): BLAS on one
    thread over each half of a long vector, the halves added; ``a @ b`` when numpy's
    BLAS is not OpenBLAS."""
    threads = _blas_threads() if len(a) > THREADED_DOT else None
    if threads is None:
        return float(a @ b)
    get, set_ = threads
    half = (len(a) + 1) // 2
    before = get()
    set_(1)
    try:
        return float(a[:half] @ b[:half]) + float(a[half:] @ b[half:])
    finally:
        set_(before)


@contextmanager
def quiet_numerics() -> Iterator[None]:
    """Silence numpy/scipy floating-point warnings (overflow in a trial step is expected)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", getattr(special, "SpecialFunctionWarning", RuntimeWarning))
        yield


@dataclass(frozen=True)
class Optimum:
    """The best point found: log parameters, mean negative log-likelihood, how it ended."""

    x: Array
    fun: float
    converged: bool
    at_bound: bool
    message: str
    start: int  # index of the start it came from

    @property
    def ok(self) -> bool:
        """Converged inside the bounds."""
        return self.converged and not self.at_bound

    @property
    def on_ridge(self) -> bool:
        """A parameter beyond e^±RIDGE (or at the bound): perhaps running off to a limit."""
        return self.at_bound or bool(np.any(np.abs(self.x) > RIDGE))


def _run(fun: Objective, start: Array, args: tuple[object, ...], index: int) -> Optimum:
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    options = {"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20}
    with quiet_numerics():
        result = optimize.minimize(
            fun, start, args=args, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
        if not np.all(np.isfinite(result.x)):
            return Optimum(start, np.inf, False, False, str(result.message), index)
        # A second run from the first optimum tightens the convergence at no risk.
        result = optimize.minimize(
            fun, result.x, args=args, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
    scale = max(1.0, abs(float(result.fun)))
    grad_ok = bool(np.all(np.abs(result.jac) < 1e-5 * scale))
    finite = bool(np.isfinite(result.fun)) and float(result.fun) < 1e299
    converged = finite and bool(result.success or grad_ok)
    at_bound = bool(np.any(np.abs(result.x) >= LOG_BOUND - 1e-6))
    message = str(result.message).strip() or "no progress"
    return Optimum(
        np.asarray(result.x, dtype=np.float64),
        float(result.fun) if finite else np.inf,
        converged,
        at_bound,
        message,
        index,
    )


def minimise(fun: Objective, starts: Sequence[Array], args: tuple[object, ...]) -> Optimum:
    """The first start that converges inside the bounds, else the best point of all starts."""
    best: Optimum | None = None
    for index, start in enumerate(starts):
        found = _run(fun, np.asarray(start, dtype=np.float64), args, index)
        if found.ok:
            return found
        if best is None or found.fun < best.fun:
            best = found
    assert best is not None, "no starting point"
    return best


def limit_holds(limit_fun: float, full_fun: float, n: int) -> bool:
    """Whether a limit model with mean negative log-likelihood ``limit_fun`` fits as well
    as a full one with ``full_fun`` (:data:`LIMIT_TOLERANCE`, in total log-likelihood)."""
    return limit_fun * n <= full_fun * n + LIMIT_TOLERANCE


def standard_errors(
    fun: Objective, log_params: Array, args: tuple[object, ...], natural: Array, n: int
) -> Array | None:
    """Standard errors of the natural parameters ``natural`` (module docstring); None when
    the Hessian is not positive definite (the optimum is flat in some direction)."""
    k = len(log_params)
    hessian = np.empty((k, k))
    with quiet_numerics():
        for j in range(k):
            step = np.zeros(k)
            step[j] = HESSIAN_STEP
            hessian[:, j] = (
                fun(log_params + step, *args)[1] - fun(log_params - step, *args)[1]
            ) / (2 * HESSIAN_STEP)
        hessian = (hessian + hessian.T) / 2
        if not np.all(np.isfinite(hessian)):
            return None
        try:
            np.linalg.cholesky(hessian)
        except np.linalg.LinAlgError:
            return None
        variance = np.diag(np.linalg.inv(hessian)) / n
    return np.asarray(natural, dtype=np.float64) * np.sqrt(variance)


def penalty(coef: float, natural: Array) -> tuple[float, Array]:
    """``coef · Σ θ²`` and its gradient in the log parameters (``2·coef·θ²``)."""
    squares = natural * natural
    return coef * float(squares.sum()), 2.0 * coef * squares
