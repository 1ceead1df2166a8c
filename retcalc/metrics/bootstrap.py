"""Percentile bootstrap over customers of the revenue ratios (``--ci LEVEL``, SPEC §9).

A revenue ratio of a cell c (a group's period) is a ratio of sums over customers i,
r_c = Σ_i a_ic / Σ_i b_ic (nrr: revenue kept of last period's revenue; aov: revenue
of orders). Its interval:

- Resampling: each customer gets a Poisson(1) weight w_i per resample (the
  "Poisson bootstrap", Hanley & MacGibbon 2006; Chamandy et al. 2012): a resample
  of n customers drawn with replacement gives customer i a Binomial(n, 1/n) count,
  which tends to Poisson(1) as n grows; the weights are independent, so they are
  drawn in chunks of customers without knowing n, each group's n or the number of
  periods. One customer has the same weight in every cell of a resample (every
  period, every group): the same resampled customers for the whole run.
- The weights come from 16 random bits each (a quarter of one of the generator's
  64-bit words) through the Poisson(1) inverse
  distribution function (:data:`POISSON_TABLE`): each probability is within 2^-16 of
  Poisson(1)'s, and the draw is a table lookup (numpy's Poisson sampler is about
  ten times slower at a thousand resamples of a million customers).
- r*_c = Σ_i w_i a_ic / Σ_i w_i b_ic per resample; the bounds are the (1 − level)/2
  and (1 + level)/2 quantiles of the r*_c (linear interpolation between order
  statistics, numpy's default).
- A resample whose denominator is 0 in a cell (every customer with b_ic ≠ 0 drawn
  0 times) has no ratio there and is left out of that cell's quantiles; a cell
  where every resample is left out (its denominator is 0 on the data: the ratio
  itself is null) gets null bounds.
- Rows without a customer (null) count as one more customer, resampled as one.

Memory: the sums are a (cells × resamples) array per column; the weights are made
and used :data:`CHUNK` weights at a time (about 11 bytes each), so a million
customers at a thousand resamples stays within about 100 MB over the input.
The same seed gives the same bounds for the same input (a seeded numpy Generator,
consumed in customer order).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from retcalc.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

#: ``--ci-resamples`` default and upper limit.
RESAMPLES = 1000
MAX_RESAMPLES = 100_000

#: Weights made at a time (customers per chunk × resamples).
CHUNK = 4_000_000


@dataclass(frozen=True)
class Resampling:
    """A bootstrap's level, number of resamples and seed."""

    level: float
    resamples: int = RESAMPLES
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int):
            raise UsageError(f"--ci-resamples {self.resamples!r}: give a whole number")
        if not 1 <= self.resamples <= MAX_RESAMPLES:
            raise UsageError(f"--ci-resamples {self.resamples}: give 1 to {MAX_RESAMPLES}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise UsageError(f"--seed {self.seed!r}: give a whole number 0 or more")

    def said(self, rates: Sequence[str]) -> str:
        """The line on stderr naming how the bounds of ``rates`` were made."""
        return (
            f"{', '.join(rates)} intervals at {self.level:g}: percentile bootstrap over "
            f"customers, {self.resamples} resamples, seed {self.seed}"
        )


def poisson_table() -> np.ndarray:
    """Poisson(1) weights by 16-bit draw u: the smallest k with F(k) > (u + ½) / 2^16."""
    import numpy as np

    pmf = [math.exp(-1) / math.factorial(k) for k in range(20)]
    cdf = np.cumsum(pmf)
    u = (np.arange(1 << 16) + 0.5) / (1 << 16)
    return np.searchsorted(cdf, u, side="right").astype(np.uint8)


def weights(rng: np.random.Generator, customers: int, resamples: int) -> np.ndarray:
    """Poisson(1) weights, ``customers`` × ``resamples`` (uint8), from ``rng``."""
    import numpy as np

    n = customers * resamples
    # Raw 64-bit words cut into four 16-bit draws: the fastest bits numpy gives.
    bits = rng.bit_generator.random_raw(-(-n // 4)).view(np.uint16)[:n]
    return _table()[bits.reshape(customers, resamples)]


_TABLE: list[np.ndarray] = []


def _table() -> np.ndarray:
    if not _TABLE:
        _TABLE.append(poisson_table())
    return _TABLE[0]


@dataclass(frozen=True)
class Draws:
    """The resampled sums behind :func:`ratio_bounds`, for ``compare`` (SPEC §9).

    ``cells``: the cell keys, one row per cell, in cell-number order (row i is cell i),
    with ``_n``: the customers (resampled units) with a row in the cell. ``members``:
    the distinct (``_unit``, ``_cell``) pairs. ``sums[column]``: a cells × (1 + resamples)
    array, column 0 the sum on the data itself (every weight 1), column 1 + j the sum
    under resample j; the same customer has the same weight in every cell of a resample.
    ``ratios``: each rate's (numerator, denominator) columns.
    """

    cells: pl.DataFrame
    members: pl.DataFrame
    sums: Mapping[str, np.ndarray]
    ratios: Mapping[str, tuple[str, str]]


#: Set by :func:`capturing`: the draws of every :func:`ratio_bounds` run inside it.
_CAPTURED: ContextVar[list[Draws] | None] = ContextVar("retcalc_bootstrap_draws", default=None)


@contextlib.contextmanager
def capturing() -> Iterator[list[Draws]]:
    """Inside, :func:`ratio_bounds` keeps its :class:`Draws` in the list given and, instead
    of bounds, puts the cell's number (row of ``Draws.cells``) in both ``<rate>_lo`` and
    ``<rate>_hi``: a metric table computed inside names, on each row, the cell whose
    draws are its own (``compare`` reads them so; the table's bounds are not bounds)."""
    found: list[Draws] = []
    token = _CAPTURED.set(found)
    try:
        yield found
    finally:
        _CAPTURED.reset(token)


def resampled_sums(
    contributions: pl.DataFrame,
    *,
    cells: Sequence[str],
    customer: str,
    ratios: Mapping[str, tuple[str, str]],
    how: Resampling,
) -> Draws:
    """The :class:`Draws` of ``contributions`` (one row per customer and cell; a customer
    may have several rows in a cell, they add up)."""
    import numpy as np
    from scipy import sparse

    columns = list(dict.fromkeys(c for pair in ratios.values() for c in pair))
    coded = contributions.select(
        # Rows without a customer are one unit (rank leaves them null: 0 then).
        pl.col(customer).rank("dense").cast(pl.Int64).fill_null(0).alias("_unit"),
        pl.struct(cells).rank("dense").cast(pl.Int64).alias("_cell") - 1,
        *cells,
        *(pl.col(c).cast(pl.Float64) for c in columns),
    )
    members = coded.select("_unit", "_cell").unique()
    keys = (
        coded.group_by("_cell")
        .agg(pl.col(cells).first())
        .join(members.group_by("_cell").agg(pl.len().alias("_n")), on="_cell")
        .sort("_cell")
        .drop("_cell")
    )
    n_cells = keys.height
    n_units = int(coded["_unit"].max() or 0) + 1  # type: ignore[arg-type]
    unit, cell = coded["_unit"].to_numpy(), coded["_cell"].to_numpy()
    matrices = {
        c: sparse.csc_matrix(
            (coded[c].to_numpy(), (cell, unit)), shape=(n_cells, n_units), dtype=np.float64
        )
        for c in columns
    }
    b = how.resamples
    sums = {c: np.zeros((n_cells, 1 + b)) for c in columns}
    for c, m in matrices.items():
        sums[c][:, 0] = np.asarray(m.sum(axis=1)).ravel()
    rng = np.random.default_rng(how.seed)
    step = max(1, CHUNK // b)
    buffer = np.empty((step, b))
    for first in range(0, n_units, step):
        last = min(first + step, n_units)
        w = buffer[: last - first]
        np.copyto(w, weights(rng, last - first, b))
        for c, m in matrices.items():
            sums[c][:, 1:] += m[:, first:last] @ w
    return Draws(keys, members, sums, dict(ratios))


def ratio_bounds(
    contributions: pl.DataFrame,
    *,
    cells: Sequence[str],
    customer: str,
    ratios: Mapping[str, tuple[str, str]],
    how: Resampling,
) -> pl.DataFrame:
    """``cells..., <rate>_lo, <rate>_hi`` for every rate in ``ratios`` (name: numerator
    and denominator columns of ``contributions``, one row per customer and cell; a
    customer may have several rows in a cell, they add up), one row per cell present.
    Inside :func:`capturing`, the cell numbers instead of the bounds."""
    import numpy as np

    draws = resampled_sums(contributions, cells=cells, customer=customer, ratios=ratios, how=how)
    keys = draws.cells.drop("_n")
    captured = _CAPTURED.get()
    if captured is not None:
        captured.append(draws)
        number = pl.int_range(pl.len()).cast(pl.Float64)
        return keys.with_columns(number.alias(f"{r}_{end}") for r in ratios for end in ("lo", "hi"))
    q = [(1 - how.level) / 2, (1 + how.level) / 2]
    out: dict[str, np.ndarray] = {}
    n_cells = keys.height
    for rate, (num, den) in ratios.items():
        star = resampled_ratio(draws.sums[num][:, 1:], draws.sums[den][:, 1:])
        defined = ~np.isnan(star).all(axis=1)
        lo = np.full(n_cells, np.nan)
        hi = np.full(n_cells, np.nan)
        if defined.any():
            lo[defined], hi[defined] = np.nanquantile(star[defined], q, axis=1)
        out[f"{rate}_lo"], out[f"{rate}_hi"] = lo, hi
    return keys.with_columns(
        pl.Series(name, values, dtype=pl.Float64).fill_nan(None) for name, values in out.items()
    )


def resampled_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (no ratio there)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / denominator, np.nan)
