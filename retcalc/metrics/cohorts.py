"""Cohort tables (SPEC §2.5): retention and revenue by period since the first purchase or signup.

A customer's *cohort* is the period of their first purchase day (activity
basis) or first signup (subscription basis), as in ``Prepared.first_period``.
Offset ``k`` is the number of calendar periods between the cohort period and a
cell's period (``k = 0`` is the cohort period itself). Per cohort and offset:

- ``cohort_size``: customers in the cohort
- ``customers``: cohort members with a purchase day in offset ``k`` (mode ``on``),
  or in offset ``k`` or any later one (mode ``on-or-after``)
- ``retention`` = customers / cohort_size
- ``revenue``: net revenue of the cohort's members dated in offset ``k`` (returns
  netted on their revenue day as in ``events``)
- ``cumulative_revenue_per_customer`` = sum of revenue over offsets ``0..k`` / cohort_size
- ``complete``: false when the cell's period ends after the data end
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from retcalc.errors import InputError
from retcalc.metrics.activity import CUSTOMER, IDX, Grid, over, same_group
from retcalc.metrics.choices import Mode
from retcalc.metrics.common import Basis, Prepared, ratio
from retcalc.metrics.events import revenue_lines
from retcalc.metrics.money import money

COHORT_COLUMNS: tuple[str, ...] = (
    "cohort",
    "offset",
    "period_start",
    "cohort_size",
    "customers",
    "retention",
    "revenue",
    "cumulative_revenue_per_customer",
    "complete",
)

RATE_COLUMNS: tuple[str, ...] = ("retention",)
MONEY_COLUMNS: tuple[str, ...] = ("revenue", "cumulative_revenue_per_customer")

_COHORT_IDX = "_cohort_idx"


def _cohort_grid(prep: Prepared, members: pl.LazyFrame) -> Grid:
    """Periods from the earliest cohort to the period holding the last observed day."""
    first = members.select(pl.col("first_day").min()).collect().item()
    last = prep.data_end - dt.timedelta(days=1)
    if first is None:
        raise InputError("no customers to put in cohorts: every row is a return or out of range")
    return Grid.build(min(first, last), last, prep.grid.period, prep.grid.window)


def _in_cohort_offsets(
    frame: pl.LazyFrame, members: pl.LazyFrame, grid: Grid, group: list[str]
) -> pl.LazyFrame:
    """Rows of ``frame`` (``group..., day``) with the offset of their day from the customer's
    cohort; rows of non-members, before the cohort period or after the data end are left out."""
    return (
        frame.join(members, on=group, how="inner", nulls_equal=True)
        .with_columns((grid.period_index(pl.col("day")) - pl.col(_COHORT_IDX)).alias("offset"))
        .filter((pl.col("offset") >= 0) & (pl.col(_COHORT_IDX) + pl.col("offset") < grid.n_periods))
    )


def _bought_in_order(
    purchases: pl.LazyFrame,
    grid: Grid,
    keys: list[str],
    shown_from: dt.date,
    shown_to: dt.date,
) -> pl.LazyFrame:
    """``group..., cohort, offset``: each offset in which a cohort member purchased, once.

    On the activity basis a customer's cohort is the period of their first purchase
    day, and ``purchases`` holds each customer's days together and in order (as
    ``Prepared`` has them): the first row of a customer gives the cohort, and the
    offsets only grow down a customer's rows, so each offset's first row stands for
    it. No join with the members and no distinct over every row.
    """
    day = pl.col("day")
    same = same_group(keys)
    first_day = pl.when(~same).then(day).forward_fill()
    cohort = grid.period_index(first_day)
    offset = grid.period_index(day) - cohort
    framed = purchases.with_columns(
        same.alias("_same"),
        first_day.alias("_first"),
        cohort.alias(_COHORT_IDX),
        offset.alias("offset"),
    )
    changed = ~pl.col("_same") | (pl.col("offset") != pl.col("offset").shift(1))
    member = (pl.col("_first") >= shown_from) & (pl.col("_first") < shown_to)
    in_grid = (pl.col("offset") >= 0) & (pl.col(_COHORT_IDX) + pl.col("offset") < grid.n_periods)
    return framed.filter(changed & member & in_grid).select(*keys, CUSTOMER, _COHORT_IDX, "offset")


def cohort_table(
    prep: Prepared,
    *,
    mode: Mode = Mode.on,
    min_cohort: int = 1,
    max_offset: int | None = None,
) -> pl.DataFrame:
    """SPEC §2.5, one row per group, cohort and offset (see the module docstring for the cells).

    Cohorts shown are those whose period lies on ``prep.grid`` (``--start``/``--end``);
    every cohort gets every offset up to the period holding the last observed day
    (``prep.data_end`` - 1), cells without purchases included. ``min_cohort`` hides
    cohorts with fewer customers; ``max_offset`` drops later offsets (after the
    on-or-after counts are made, so those still see every later purchase).
    Without an amount column the revenue columns are null.
    """
    if prep.events is None or prep.purchases is None:
        raise InputError("cohorts need an orders file: the cells count customers who purchased")
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    shown_from, shown_to = prep.grid.bounds[0], prep.grid.end
    members = (
        prep.first_period.select(*group, "first_day")
        .filter((pl.col("first_day") >= shown_from) & (pl.col("first_day") < shown_to))
        .collect()
        .lazy()
    )
    grid = _cohort_grid(prep, members)
    members = members.select(*group, grid.period_index(pl.col("first_day")).alias(_COHORT_IDX))

    sizes = (
        members.group_by([*keys, _COHORT_IDX])
        .agg(pl.len().cast(pl.Int64).alias("cohort_size"))
        .filter(pl.col("cohort_size") >= min_cohort)
    )
    cells = (
        sizes.with_columns(
            pl.int_ranges(0, grid.n_periods - pl.col(_COHORT_IDX), dtype=pl.Int64).alias("offset")
        )
        .explode("offset")
        .sort([*keys, _COHORT_IDX, "offset"])
    )
    cell = [*keys, _COHORT_IDX, "offset"]

    if prep.basis is Basis.activity:
        bought = _bought_in_order(prep.purchases, grid, keys, shown_from, shown_to)
    else:
        bought = (
            _in_cohort_offsets(prep.purchases, members, grid, group)
            .select(*group, _COHORT_IDX, "offset")
            .unique()
        )
    if mode is Mode.on:
        counts = bought.group_by(cell).agg(pl.len().cast(pl.Int64).alias("customers"))
        cells = cells.join(counts, on=cell, how="left", nulls_equal=True).with_columns(
            pl.col("customers").fill_null(0)
        )
    else:
        # Counted at every offset up to their last purchase offset: a reverse cumulative sum.
        last = (
            bought.group_by([*group, _COHORT_IDX])
            .agg(pl.col("offset").max())
            .group_by(cell)
            .agg(pl.len().cast(pl.Int64).alias("_last_here"))
        )
        cells = (
            cells.join(last, on=cell, how="left", nulls_equal=True)
            .with_columns(pl.col("_last_here").fill_null(0))
            .sort(cell)
            .with_columns(
                over(pl.col("_last_here").cum_sum(reverse=True), [*keys, _COHORT_IDX]).alias(
                    "customers"
                )
            )
            .drop("_last_here")
        )

    has_amount = "amount" in prep.events.collect_schema()
    if has_amount:
        summed = (
            _in_cohort_offsets(revenue_lines(prep.events, keys), members, grid, group)
            .group_by(cell)
            .agg(pl.col("micros").sum().alias("_micros"))
        )
        cells = (
            cells.join(summed, on=cell, how="left", nulls_equal=True)
            .with_columns(pl.col("_micros").fill_null(0))
            .sort(cell)
            .with_columns(over(pl.col("_micros").cum_sum(), [*keys, _COHORT_IDX]).alias("_cum"))
            .with_columns(
                money("_micros").alias("revenue"),
                ratio(money("_cum"), "cohort_size")
                .round(6)
                .alias("cumulative_revenue_per_customer"),
            )
        )
    else:
        cells = cells.with_columns(
            pl.lit(None, dtype=pl.Float64).alias(name) for name in MONEY_COLUMNS
        )

    if max_offset is not None:
        cells = cells.filter(pl.col("offset") <= max_offset)
    periods = grid.periods().select(IDX, "period_start", "period_end")
    result = (
        cells.with_columns((pl.col(_COHORT_IDX) + pl.col("offset")).alias(IDX))
        .join(periods, on=IDX, how="left")
        .join(
            periods.select(pl.col(IDX).alias(_COHORT_IDX), pl.col("period_start").alias("cohort")),
            on=_COHORT_IDX,
            how="left",
        )
        .with_columns(
            ratio("customers", "cohort_size").alias("retention"),
            (pl.col("period_end") <= pl.lit(prep.data_end)).alias("complete"),
        )
        .sort(cell)
        .select(*keys, *COHORT_COLUMNS)
    )
    return result.collect()
