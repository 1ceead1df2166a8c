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

import math
from collections.abc import Mapping, Sequence
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
    customer may have several rows in a cell, they add up), one row per cell present."""
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
    keys = coded.group_by("_cell").agg(pl.col(cells).first()).sort("_cell").drop("_cell")
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
    sums = {c: np.zeros((n_cells, b)) for c in columns}
    rng = np.random.default_rng(how.seed)
    step = max(1, CHUNK // b)
    buffer = np.empty((step, b))
    for first in range(0, n_units, step):
        last = min(first + step, n_units)
        w = buffer[: last - first]
        np.copyto(w, weights(rng, last - first, b))
        for c, m in matrices.items():
            sums[c] += m[:, first:last] @ w
    q = [(1 - how.level) / 2, (1 + how.level) / 2]
    out: dict[str, np.ndarray] = {}
    for rate, (num, den) in ratios.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            star = np.where(sums[den] != 0, sums[num] / sums[den], np.nan)
        defined = ~np.isnan(star).all(axis=1)
        lo = np.full(n_cells, np.nan)
        hi = np.full(n_cells, np.nan)
        if defined.any():
            lo[defined], hi[defined] = np.nanquantile(star[defined], q, axis=1)
        out[f"{rate}_lo"], out[f"{rate}_hi"] = lo, hi
    return keys.with_columns(
        pl.Series(name, values, dtype=pl.Float64).fill_nan(None) for name, values in out.items()
    )
