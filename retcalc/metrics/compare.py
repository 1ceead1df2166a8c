"""Significant differences between shares (``retcalc compare``, SPEC §9).

Two shares k₁/n₁ and k₂/n₂ (a group against the rest of the population, or the
same population in two periods) are compared by

- their difference d = p₁ − p₂;
- its interval: Newcombe's hybrid score interval (Newcombe 1998, method 10), from
  the two Wilson intervals (l₁, u₁) and (l₂, u₂) at the same level:

      lo = d − √((p₁ − l₁)² + (u₂ − p₂)²)
      hi = d + √((u₁ − p₁)² + (p₂ − l₂)²)

- the pooled two-proportion z-test: p̂ = (k₁ + k₂) / (n₁ + n₂),
  z = d / √(p̂(1 − p̂)(1/n₁ + 1/n₂)), two-sided p = 2(1 − Φ(|z|)); p = 1 when
  p̂ is 0 or 1 (both shares equal, at the same end);
- Holm's step-down adjustment over every p-value shown: with the m p-values
  sorted ascending, adjusted₍ᵢ₎ = max over j ≤ i of min(1, (m − j + 1) p₍ⱼ₎);
  ``significant`` = adjusted p < alpha.

An empty base (n₁ or n₂ zero or null) gives null rates, difference, interval and
p-value (and ``significant`` null); such rows do not count in Holm's m.

Revenue ratios (nrr, grr, aov, value_return_rate) are compared on the bootstrap's
draws (:class:`retcalc.metrics.bootstrap.Draws`): the difference under each resample
of customers (the same customer weights on both sides), its percentile interval and
:func:`bootstrap_p`, Holm as above (:func:`ratio_against_rest`, :func:`ratio_between`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from retcalc.metrics.intervals import wilson, z_score

if TYPE_CHECKING:
    import numpy as np

    from retcalc.metrics.bootstrap import Draws

#: The columns that ``compare`` adds after the keys (by group: group vs the rest).
GROUP_COLUMNS: tuple[str, ...] = (
    "group_n",
    "group_rate",
    "rest_n",
    "rest_rate",
)
#: ``--between A B``: period A's and period B's share.
BETWEEN_COLUMNS: tuple[str, ...] = (
    "period_a",
    "period_b",
    "a_n",
    "a_rate",
    "b_n",
    "b_rate",
)
#: The test's columns, after either.
TEST_COLUMNS: tuple[str, ...] = (
    "difference",
    "difference_lo",
    "difference_hi",
    "p_value",
    "p_adjusted",
    "significant",
)
COMPARE_COLUMNS: tuple[str, ...] = ("metric", *GROUP_COLUMNS, *BETWEEN_COLUMNS, *TEST_COLUMNS)


def _share(k: pl.Expr, n: pl.Expr) -> pl.Expr:
    return pl.when(n > 0).then(k.cast(pl.Float64) / n.cast(pl.Float64))


def difference(
    k1: pl.Expr, n1: pl.Expr, k2: pl.Expr, n2: pl.Expr, *, level: float
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """d = k1/n1 − k2/n2 and its Newcombe hybrid score interval at ``level`` (module
    docstring); null where either base is empty."""
    z = z_score(level)
    p1, p2 = _share(k1, n1), _share(k2, n2)
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    lo = d - ((p1 - l1) ** 2 + (u2 - p2) ** 2).sqrt()
    hi = d + ((u1 - p1) ** 2 + (p2 - l2) ** 2).sqrt()
    # d ± the distances stays in [-1, 1]; clip the float rounding at the ends.
    return d, lo.clip(-1.0, 1.0), hi.clip(-1.0, 1.0)


def z_statistic(k1: pl.Expr, n1: pl.Expr, k2: pl.Expr, n2: pl.Expr) -> pl.Expr:
    """The pooled two-proportion z statistic; 0 when the pooled share is 0 or 1, null
    where either base is empty."""
    f1, f2 = n1.cast(pl.Float64), n2.cast(pl.Float64)
    pooled = (k1 + k2).cast(pl.Float64) / (f1 + f2)
    se = (pooled * (1 - pooled) * (1 / f1 + 1 / f2)).sqrt()
    valid = (n1 > 0) & (n2 > 0)
    return pl.when(valid).then(
        pl.when(se > 0).then((_share(k1, n1) - _share(k2, n2)) / se).otherwise(0.0)
    )


def two_sided_p(z: pl.Series) -> pl.Series:
    """2(1 − Φ(|z|)) = erfc(|z| / √2) of each z (null stays null)."""
    from scipy.special import erfc

    values = z.abs().to_numpy() / math.sqrt(2)
    return pl.Series(z.name, erfc(values), dtype=pl.Float64).fill_nan(None)


def holm(p: pl.Series) -> pl.Series:
    """Holm's step-down adjusted p-values of ``p`` in its order (module docstring); null
    p-values stay null and are not counted in m."""
    frame = pl.DataFrame({"p": p.cast(pl.Float64)}).with_row_index("_row")
    known = frame.filter(pl.col("p").is_not_null()).sort("p", "_row")
    m = known.height
    adjusted = known.with_columns(
        ((m - pl.int_range(pl.len())) * pl.col("p")).clip(upper_bound=1.0).cum_max().alias("adj")
    )
    return (
        frame.join(adjusted.select("_row", "adj"), on="_row", how="left")
        .sort("_row")
        .get_column("adj")
        .alias(p.name)
    )


def compared(
    frame: pl.DataFrame, k1: str, n1: str, k2: str, n2: str, *, alpha: float
) -> pl.DataFrame:
    """``frame`` with the test's columns (:data:`TEST_COLUMNS`) comparing k1/n1 with
    k2/n2 on each row: interval at level 1 − ``alpha``, Holm over all rows."""
    d, lo, hi = difference(pl.col(k1), pl.col(n1), pl.col(k2), pl.col(n2), level=1 - alpha)
    out = frame.with_columns(
        d.alias("difference"),
        lo.alias("difference_lo"),
        hi.alias("difference_hi"),
        z_statistic(pl.col(k1), pl.col(n1), pl.col(k2), pl.col(n2)).alias("_z"),
    )
    p = two_sided_p(out["_z"]).alias("p_value")
    out = out.drop("_z").with_columns(p, holm(p).alias("p_adjusted"))
    return out.with_columns((pl.col("p_adjusted") < alpha).alias("significant"))


# ------------------------------------------------------------------ revenue ratios


def bootstrap_p(differences: np.ndarray) -> np.ndarray:
    """Per row of ``differences`` (rows × resamples, NaN where a resample has no
    difference), the two-sided bootstrap p-value of "no difference":
    min(1, 2 · min(1 + #{d* ≤ 0}, 1 + #{d* ≥ 0}) / (B + 1)), B the resamples with a
    difference (the +1 counts the observed data as one more resample, so p is never 0);
    NaN for a row without any."""
    import numpy as np

    known = ~np.isnan(differences)
    b = known.sum(axis=1)
    below = (known & (differences <= 0)).sum(axis=1)
    above = (known & (differences >= 0)).sum(axis=1)
    p = np.minimum(1.0, 2.0 * (1 + np.minimum(below, above)) / (b + 1))
    return np.where(b > 0, p, np.nan)


def _difference_columns(
    group: np.ndarray, other: np.ndarray, alpha: float
) -> dict[str, np.ndarray]:
    """The difference group − other (column 0 of each: the data; the rest: resamples),
    its percentile interval at 1 − alpha and its bootstrap p-value."""
    import numpy as np

    d = group - other
    star = d[:, 1:]
    lo = np.full(d.shape[0], np.nan)
    hi = np.full(d.shape[0], np.nan)
    defined = ~np.isnan(star).all(axis=1) & ~np.isnan(d[:, 0])
    if defined.any():
        lo[defined], hi[defined] = np.nanquantile(star[defined], [alpha / 2, 1 - alpha / 2], axis=1)
    p = np.where(np.isnan(d[:, 0]), np.nan, bootstrap_p(star))
    return {
        "group": group[:, 0],
        "other": other[:, 0],
        "difference": d[:, 0],
        "difference_lo": lo,
        "difference_hi": hi,
        "p_value": p,
    }


def _with_test(frame: pl.DataFrame, found: dict[str, np.ndarray], alpha: float) -> pl.DataFrame:
    out = frame.with_columns(
        pl.Series(name, values, dtype=pl.Float64).fill_nan(None) for name, values in found.items()
    )
    return out.with_columns(holm(out["p_value"]).alias("p_adjusted")).with_columns(
        (pl.col("p_adjusted") < alpha).alias("significant")
    )


def _rows_of(draws: Draws, cell: pl.Series, column: str) -> np.ndarray:
    """``draws.sums[column]`` at each row's cell (a row of NaN for a null cell)."""
    import numpy as np

    sums = draws.sums[column]
    known = cell.is_not_null().to_numpy()
    index = cell.fill_null(0).cast(pl.Int64).to_numpy()
    return np.where(known[:, None], sums[index], np.nan)


def ratio_against_rest(
    rows: pl.DataFrame, draws: Draws, rate: str, *, period: str, alpha: float
) -> pl.DataFrame:
    """``rows`` (one per period and group, ``_cell``: the group's cell in ``draws``,
    null when it has no customer) with group_n, group_rate, rest_n, rest_rate and the
    test's columns for the revenue ratio ``rate``: the rest of a group is the other
    groups' cells of its ``period`` pooled (their numerators over their denominators),
    each resample with the same customer weights as the group's; the interval is the
    percentile one of the resampled differences at 1 − ``alpha``, the p-value
    :func:`bootstrap_p`, Holm over all rows."""
    import numpy as np

    from retcalc.metrics.bootstrap import resampled_ratio

    num, den = draws.ratios[rate]
    cells = rows.select("_cell", pl.col(period).rank("dense").cast(pl.Int64).alias("_pid") - 1)
    pid = cells["_pid"].to_numpy()
    n_periods = int(pid.max()) + 1 if len(pid) else 0
    cell = cells["_cell"]
    known = cell.is_not_null().to_numpy()

    def split(column: str) -> tuple[np.ndarray, np.ndarray]:
        mine = _rows_of(draws, cell, column)
        total = np.zeros((n_periods, mine.shape[1]))
        np.add.at(total, pid[known], mine[known])
        rest = total[pid] - np.nan_to_num(mine)
        # What the float subtraction leaves of a sum that is really 0 (nothing else).
        scale = np.abs(total[pid]).max(axis=1, keepdims=True)
        rest[np.abs(rest) <= 1e-9 * scale] = 0.0
        return mine, rest

    group_num, rest_num = split(num)
    group_den, rest_den = split(den)
    found = _difference_columns(
        resampled_ratio(group_num, group_den), resampled_ratio(rest_num, rest_den), alpha
    )
    # Customers: in the group's cell; in the rest: in the period, in a cell other than
    # the group's (a customer in several groups is in the rest of each).
    members = draws.members.join(
        cells.filter(pl.col("_cell").is_not_null()).unique("_cell"), on="_cell"
    )
    whole = members.group_by("_pid").agg(pl.col("_unit").n_unique().alias("_all"))
    alone = (
        members.group_by("_pid", "_unit")
        .agg(pl.col("_cell").first(), pl.len().alias("_k"))
        .filter(pl.col("_k") == 1)
        .group_by("_cell")
        .agg(pl.len().alias("_alone"))
    )
    sizes = draws.cells.with_row_index("_cell").select(pl.col("_cell").cast(pl.Int64), "_n")
    counted = (
        cells.with_row_index("_row")
        .join(sizes, on="_cell", how="left")
        .join(whole, on="_pid", how="left")
        .join(alone, on="_cell", how="left")
        .sort("_row")
        .select(
            pl.col("_n").fill_null(0).alias("group_n"),
            (
                pl.col("_all").fill_null(0)
                - pl.when(pl.col("_cell").is_not_null())
                .then(pl.col("_alone").fill_null(0))
                .otherwise(0)
            ).alias("rest_n"),
        )
    )
    test = _with_test(rows.hstack(counted), found, alpha)
    return test.rename({"group": "group_rate", "other": "rest_rate"})


def ratio_between(rows: pl.DataFrame, draws: Draws, rate: str, *, alpha: float) -> pl.DataFrame:
    """``rows`` (``_cell_a``, ``_cell_b``: the cells of periods A and B in ``draws``)
    with a_n, a_rate, b_n, b_rate and the test's columns for b_rate − a_rate of the
    revenue ratio ``rate`` (the same customers' weights in both periods)."""
    from retcalc.metrics.bootstrap import resampled_ratio

    num, den = draws.ratios[rate]
    ratios = [
        resampled_ratio(_rows_of(draws, rows[c], num), _rows_of(draws, rows[c], den))
        for c in ("_cell_a", "_cell_b")
    ]
    found = _difference_columns(ratios[1], ratios[0], alpha)
    sizes = draws.cells.with_row_index("_c").select(pl.col("_c").cast(pl.Int64), "_n")
    counted = rows.with_columns(
        *(
            pl.col(f"_cell_{x}")
            .replace_strict(sizes["_c"], sizes["_n"], default=0, return_dtype=pl.Int64)
            .alias(f"{x}_n")
            for x in ("a", "b")
        )
    )
    test = _with_test(counted, found, alpha)
    return test.rename({"group": "b_rate", "other": "a_rate"})
