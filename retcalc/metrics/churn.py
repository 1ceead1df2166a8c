"""Customer churn per period with revenue retention and the revenue bridge (SPEC §2.4).

Revenue of a customer in a period is their net revenue there (returns netted
as in ``events``), floored at 0 for the retention and bridge figures: a refund
bigger than the period's purchases counts as losing that customer's revenue,
not as negative revenue. ``revenue`` and ``lost_revenue`` are not floored.
"""

from __future__ import annotations

import polars as pl

from retcalc.errors import InputError
from retcalc.metrics import activity
from retcalc.metrics.activity import CUSTOMER, IDX
from retcalc.metrics.events import daily_revenue, money
from retcalc.metrics.retention import Prepared, complete_flag, ratio
from retcalc.periods import truncate

CHURN_COLUMNS: tuple[str, ...] = (
    "period_start",
    "period_end",
    "customers_start",
    "churned",
    "churn_rate",
    "revenue",
    "previous_revenue",
    "lost_revenue",
    "nrr",
    "grr",
    "new_revenue",
    "expansion",
    "contraction",
    "churned_revenue",
    "reactivation_revenue",
    "quick_ratio",
    "complete",
)

RATE_COLUMNS: tuple[str, ...] = ("churn_rate", "nrr", "grr")


MONEY_COLUMNS: tuple[str, ...] = (
    "revenue",
    "previous_revenue",
    "lost_revenue",
    "new_revenue",
    "expansion",
    "contraction",
    "churned_revenue",
    "reactivation_revenue",
)


def revenue_movements(prep: Prepared, daily: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """Per group and period start ``ps`` (comparing with the calendar period before it):

    - previous_revenue = sum over P of rev_(k-1), P = customers with rev_(k-1) > 0
    - nrr = sum over P of rev_k / previous_revenue
    - grr = sum over P of min(rev_k, rev_(k-1)) / previous_revenue
    - new_revenue: rev_k of customers whose first purchase is in period k
    - expansion / contraction: rises / falls of rev_k against rev_(k-1) > 0 (rev_k > 0)
    - churned_revenue: rev_(k-1) of customers in P with rev_k = 0
    - reactivation_revenue: rev_k > 0 of earlier customers with rev_(k-1) = 0
    - quick_ratio = (new + expansion + reactivation) / (contraction + churned)
    """
    if prep.events is None or prep.purchases is None:
        raise InputError("churn needs orders with an amount column for its revenue figures")
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    period = prep.grid.period
    if daily is None:
        daily = daily_revenue(prep.events, keys)
    raw = daily.group_by([*group, truncate(pl.col("day"), period).alias("ps")]).agg(
        pl.col("micros").sum().alias("raw")
    )
    floored = raw.select(*group, "ps", pl.col("raw").clip(lower_bound=0).alias("rev"))
    previous = floored.select(
        *group,
        pl.col("ps").dt.offset_by(period.every).alias("ps"),
        pl.col("rev").alias("prev"),
    )
    first = prep.purchases.group_by(group).agg(
        truncate(pl.col("day").min(), period).alias("first_ps")
    )
    pairs = (
        floored.join(previous, on=[*group, "ps"], how="full", coalesce=True)
        .with_columns(pl.col("rev").fill_null(0), pl.col("prev").fill_null(0))
        .join(first, on=group, how="left")
    )
    rev, prev = pl.col("rev"), pl.col("prev")
    kept = prev > 0

    def total(expr: pl.Expr, where: pl.Expr) -> pl.Expr:
        return pl.when(where).then(expr).otherwise(0).sum()

    movements = pairs.group_by([*keys, "ps"]).agg(
        total(rev, kept).alias("_kept_now"),
        total(prev, kept).alias("previous_revenue"),
        total(pl.min_horizontal(rev, prev), kept).alias("_kept_floor"),
        total(rev, pl.col("first_ps") == pl.col("ps")).alias("new_revenue"),
        total(rev - prev, kept & (rev > prev)).alias("expansion"),
        total(prev - rev, kept & (rev > 0) & (rev < prev)).alias("contraction"),
        total(prev, kept & (rev == 0)).alias("churned_revenue"),
        total(rev, (prev == 0) & (rev > 0) & (pl.col("first_ps") < pl.col("ps"))).alias(
            "reactivation_revenue"
        ),
    )
    totals = raw.group_by([*keys, "ps"]).agg(pl.col("raw").sum().alias("revenue"))
    return (
        movements.join(totals, on=[*keys, "ps"], how="full", coalesce=True)
        .with_columns(
            ratio("_kept_now", "previous_revenue").alias("nrr"),
            ratio("_kept_floor", "previous_revenue").alias("grr"),
            ratio(
                pl.col("new_revenue") + pl.col("expansion") + pl.col("reactivation_revenue"),
                pl.col("contraction") + pl.col("churned_revenue"),
            ).alias("quick_ratio"),
        )
        .drop("_kept_now", "_kept_floor")
        .rename({"ps": "period_start"})
    )


def lost_revenue(prep: Prepared, daily: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """Revenue in ``[s - W, s)`` of the customers counted in ``churned`` for the period at ``s``."""
    assert prep.events is not None
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    periods = prep.grid.periods()
    exits = (
        prep.runs.filter(pl.col("Q") <= prep.grid.n_periods)
        .select(*group, (pl.col("Q").cast(pl.Int64) - 1).alias(IDX))
        .join(periods, on=IDX, how="left")
    )
    if daily is None:
        daily = daily_revenue(prep.events, keys)
    lower = pl.col("window_start").is_null() | (pl.col("day") >= pl.col("window_start"))
    return (
        exits.join(daily, on=group, how="inner")
        .filter(lower & (pl.col("day") < pl.col("period_start")))
        .group_by([*keys, IDX])
        .agg(pl.col("micros").sum().alias("lost_revenue"))
    )


def churn_table(prep: Prepared) -> pl.DataFrame:
    """Churn per group and period with the revenue retention of SPEC §2.4."""
    keys = list(prep.keys)
    if prep.events is None:
        raise InputError("churn needs orders with an amount column for its revenue figures")
    daily = daily_revenue(prep.events, keys).collect().lazy()
    counts = activity.boundary_table(prep.runs, prep.first_period, prep.grid, keys, prep.groups)
    table = (
        counts.select(*keys, IDX, "customers_start", "churned")
        .join(prep.grid.periods(), on=IDX, how="left")
        .join(revenue_movements(prep, daily), on=[*keys, "period_start"], how="left")
        .join(lost_revenue(prep, daily), on=[*keys, IDX], how="left")
        .with_columns(money(pl.col(c).fill_null(0)).alias(c) for c in MONEY_COLUMNS)
        .with_columns(
            ratio("churned", "customers_start").alias("churn_rate"),
            complete_flag(prep).alias("complete"),
        )
    )
    return table.sort([*keys, IDX]).select(*keys, *CHURN_COLUMNS).collect()
