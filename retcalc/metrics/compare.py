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
"""

from __future__ import annotations

import math

import polars as pl

from retcalc.metrics.intervals import wilson, z_score

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
