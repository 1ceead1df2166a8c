"""The retention table of SPEC §2.1 (activity basis) and §2.2 (subscription basis)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from retcalc.errors import InputError
from retcalc.metrics import activity
from retcalc.metrics.activity import IDX, Grid
from retcalc.metrics.common import (
    Basis,
    Params,
    Prepared,
    complete_flag,
    prepare_activity,
    prepare_subscription,
    ratio,
)
from retcalc.metrics.conventions import DEFAULT, Convention

#: The counts of the table: sums over customers, so the counts of disjoint sets of
#: customers add up to the counts of their union (SPEC §8: a kernel's partial result).
COUNT_COLUMNS: tuple[str, ...] = (
    "customers_start",
    "new_customers",
    "customers_end",
    "retained",
    "churned",
    "reactivated",
    "new_lost",
    "returning",
)

RETENTION_COLUMNS: tuple[str, ...] = (
    "period_start",
    "period_end",
    *COUNT_COLUMNS,
    "crr",
    "retention_rate",
    "churn_rate",
    "repeat_rate",
    "complete",
)

RATE_COLUMNS: tuple[str, ...] = ("crr", "retention_rate", "churn_rate", "repeat_rate")


def retention_rates() -> list[pl.Expr]:
    """crr = (CE - CN) / CS; retention_rate = retained / CS; churn_rate = churned / CS;
    repeat_rate = returning / CS."""
    return [
        ratio(pl.col("customers_end") - pl.col("new_customers"), "customers_start").alias("crr"),
        ratio("retained", "customers_start").alias("retention_rate"),
        ratio("churned", "customers_start").alias("churn_rate"),
        ratio("returning", "customers_start").alias("repeat_rate"),
    ]


def retention_table(prep: Prepared, *, convention: Convention = DEFAULT) -> pl.DataFrame:
    """SPEC §2.1 per group and period; see ``activity`` for how the counts are made."""
    counts = retention_counts(prep, convention=convention)
    return finish_retention(counts, prep.grid, prep.keys, complete_flag(prep))


def retention_counts(prep: Prepared, *, convention: Convention = DEFAULT) -> pl.LazyFrame:
    """The kernel: ``keys..., idx`` and the :data:`COUNT_COLUMNS` of the customers in
    ``prep`` (every period of the grid for each group they are in). ``convention``
    (:mod:`.conventions`): with ``join_and_churn``, ``churned`` (and so churn_rate) also
    counts the period's ``new_lost``."""
    keys = list(prep.keys)
    table = activity.boundary_table(prep.runs, prep.first_period, prep.grid, keys, prep.groups)
    if convention.join_and_churn:
        table = table.with_columns(pl.col("churned") + pl.col("new_lost"))
    if prep.purchases is not None and prep.basis is Basis.activity:
        back = activity.returning_sorted(prep.purchases.collect(), prep.grid, keys)
        table = table.join(back, on=[*keys, IDX], how="left", nulls_equal=True).with_columns(
            pl.col("returning").fill_null(0)
        )
    elif prep.purchases is not None:
        back = activity.returning(prep.purchases, prep.runs, prep.grid, keys)
        table = table.join(back, on=[*keys, IDX], how="left", nulls_equal=True).with_columns(
            pl.col("returning").fill_null(0)
        )
    else:
        table = table.with_columns(pl.lit(None, dtype=pl.Int64).alias("returning"))
    return table.select(*keys, IDX, *COUNT_COLUMNS)


def finish_retention(
    counts: pl.LazyFrame, grid: Grid, keys: Sequence[str], complete: pl.Expr
) -> pl.DataFrame:
    """The merge: counts (of one set of customers, or summed over several) as the table,
    with the periods' dates, the rates and ``complete``."""
    return (
        counts.join(grid.periods(), on=IDX, how="left")
        .with_columns(*retention_rates(), complete.alias("complete"))
        .sort([*keys, IDX])
        .select(*keys, *RETENTION_COLUMNS)
        .collect()
    )


def retention(
    orders: pl.LazyFrame | None,
    *,
    params: Params,
    customers: pl.LazyFrame | None = None,
    basis: Basis | None = None,
) -> pl.DataFrame:
    """The retention table; the subscription basis when customers have signup dates (SPEC §2.2)."""
    chosen = basis or (
        Basis.subscription
        if customers is not None and "signup_date" in customers.collect_schema()
        else Basis.activity
    )
    if chosen is Basis.subscription:
        if customers is None or "signup_date" not in customers.collect_schema():
            raise InputError("--basis subscription needs --customers with a signup_date column")
        prep = prepare_subscription(customers, orders, params)
    else:
        if orders is None:
            raise InputError("the activity basis needs an orders file")
        prep = prepare_activity(orders, params)
    return retention_table(prep)
