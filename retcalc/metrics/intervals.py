"""Confidence intervals of the rates (``--ci LEVEL``, SPEC §9).

A rate that is a share of customers or orders, k of n, gets the Wilson score
interval (Wilson 1927; Agresti & Coull 1998): with z the two-sided normal quantile
of the level and p = k / n,

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z √(p(1 − p)/n + z²/4n²) / (1 + z²/n)
    lo, hi = centre ∓ half

It stays inside [0, 1], is exact at the ends (k = 0 gives lo = 0, k = n gives
hi = 1), and behaves on small counts where the normal approximation p ± z√(p(1−p)/n)
does not. n = 0 (or null) gives null bounds, as the rate itself is null.

Each command's shares are named here once, as the printed columns they are computed
from (:data:`SHARES`); a rate that is not a share of customers or orders (crr, which
counts reactivated customers not in its base; revenue ratios; unit return rates)
gets no Wilson interval. The revenue ratios (:data:`RATIOS`) get a percentile
bootstrap over customers instead (:mod:`retcalc.metrics.bootstrap`), computed where
the per-customer sums are; :func:`with_intervals` places their bounds too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

import polars as pl

from retcalc.errors import UsageError

#: Per command: each share's (numerator, denominator) columns, as printed.
SHARES: dict[str, dict[str, tuple[str, str]]] = {
    "retention": {
        "retention_rate": ("retained", "customers_start"),
        "churn_rate": ("churned", "customers_start"),
        "repeat_rate": ("returning", "customers_start"),
    },
    "churn": {"churn_rate": ("churned", "customers_start")},
    "cohorts": {"retention": ("eligible_active", "eligible")},
    "returns": {"order_return_rate": ("orders_returned", "orders")},
    # kpis' counts behind churn_rate are not printed: kpi_table passes them itself.
    "kpis": {
        "churn_rate": ("churned", "customers_start"),
        "repeat_purchase_rate": ("_repeat", "customers"),
        "loyal_customer_rate": ("_loyal", "customers"),
    },
}


#: Per command: the revenue ratios whose bounds come from the bootstrap over customers.
RATIOS: dict[str, tuple[str, ...]] = {
    "churn": ("nrr", "grr"),
    "kpis": ("aov",),
    "returns": ("value_return_rate",),
}


def z_score(level: float) -> float:
    """The two-sided normal quantile of a confidence ``level`` (0.95 gives 1.95996...)."""
    if not (isinstance(level, int | float) and math.isfinite(level) and 0 < level < 1):
        raise UsageError(f"--ci {level}: give a confidence level between 0 and 1, e.g. 0.95")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson(k: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (module docstring);
    null bounds where ``n`` is 0 or null."""
    count = k
    n = n.cast(pl.Float64)
    p = k.cast(pl.Float64) / n
    z2 = z * z
    scale = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / scale
    half = z * ((p * (1 - p) / n + z2 / (4 * n * n)).clip(lower_bound=0)).sqrt() / scale
    valid = n > 0
    # The ends are exact (0 at k = 0, 1 at k = n), not the float rounding of centre ∓ half.
    lo = pl.when(valid).then(pl.when(count == 0).then(0.0).otherwise((centre - half).clip(0, 1)))
    hi = pl.when(valid).then(pl.when(count == n).then(1.0).otherwise((centre + half).clip(0, 1)))
    return lo, hi


def bounds(rate: str) -> tuple[str, str]:
    """The names of ``rate``'s interval columns."""
    return f"{rate}_lo", f"{rate}_hi"


def interval_columns(shares: Mapping[str, tuple[str, str]], level: float) -> list[pl.Expr]:
    """``<rate>_lo`` and ``<rate>_hi`` of every share in ``shares``."""
    z = z_score(level)
    out: list[pl.Expr] = []
    for rate, (k, n) in shares.items():
        lo, hi = wilson(pl.col(k), pl.col(n), z)
        lo_name, hi_name = bounds(rate)
        out += [lo.alias(lo_name), hi.alias(hi_name)]
    return out


def placed(columns: list[str], shares: Mapping[str, object]) -> list[str]:
    """``columns`` with each share's bounds right after it."""
    out: list[str] = []
    for name in columns:
        out.append(name)
        if name in shares:
            out += bounds(name)
    return out


def with_intervals(table: pl.DataFrame, command: str, level: float | None) -> pl.DataFrame:
    """``table`` (a command's output) with the Wilson bounds of its shares right after
    each, and the bootstrap bounds it has (:data:`RATIOS`) moved right after their
    ratios; or as it is without ``level``."""
    if level is None:
        return table
    present = set(table.columns)
    shares = {r: kn for r, kn in SHARES[command].items() if {r, *kn} <= present}
    ratios = [r for r in RATIOS.get(command, ()) if {r, *bounds(r)} <= present]
    made = {b for r in ratios for b in bounds(r)}
    order = placed([c for c in table.columns if c not in made], {**shares, **dict.fromkeys(ratios)})
    return table.with_columns(interval_columns(shares, level)).select(order)
