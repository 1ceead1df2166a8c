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

Under a convention with ``rolling_days`` (Amplitude's, :mod:`.conventions`) the
offset of a purchase on day ``d`` is ``(d - f) // L`` for a customer whose first
purchase (or signup) day is ``f``, with ``L`` = 1, 7 or 30 days for a day, week
or month; the cohort stays the calendar period of ``f``. A cell's ``period_start``
is then ``cohort + k * L`` days (where offset ``k`` starts for a member who joined
on the cohort's first day), and it is complete when ``k + 1`` steps have passed
since the cohort's last day: ``cohort_end - 1 + (k + 1) * L <= data end``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from retcalc.errors import InputError
from retcalc.metrics.activity import CUSTOMER, IDX, Grid, over, same_group
from retcalc.metrics.choices import Mode
from retcalc.metrics.common import Basis, Prepared, ratio
from retcalc.metrics.conventions import DEFAULT, ROLLING_DAYS, Convention, check_period
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


def _offset(
    grid: Grid, day: pl.Expr, first_day: pl.Expr, cohort: pl.Expr, step: int | None
) -> pl.Expr:
    """The offset of ``day``: calendar periods since the cohort period (``step`` None), or
    whole ``step``-day steps since the customer's ``first_day``."""
    if step is None:
        return grid.period_index(day) - cohort
    return (day - first_day).dt.total_days().cast(pl.Int64) // step


def _in_cohort_offsets(
    frame: pl.LazyFrame,
    members: pl.LazyFrame,
    grid: Grid,
    group: list[str],
    step: int | None = None,
    data_end: dt.date | None = None,
) -> pl.LazyFrame:
    """Rows of ``frame`` (``group..., day``) with the offset of their day from the customer's
    cohort; rows of non-members, before the cohort period or after the data end are left out.
    ``step``: offsets in days from the first day (``members`` then has ``first_day``), up
    to the day before ``data_end``."""
    offset = _offset(grid, pl.col("day"), pl.col("first_day"), pl.col(_COHORT_IDX), step)
    if step is None:
        kept = pl.col(_COHORT_IDX) + pl.col("offset") < grid.n_periods
    else:
        kept = pl.col("day") < pl.lit(data_end)
    return (
        frame.join(members, on=group, how="inner")
        .with_columns(offset.alias("offset"))
        .filter((pl.col("offset") >= 0) & kept)
    )


def _bought_in_order(
    purchases: pl.LazyFrame,
    grid: Grid,
    keys: list[str],
    shown_from: dt.date,
    shown_to: dt.date,
    step: int | None = None,
) -> pl.LazyFrame:
    """``group..., cohort, offset``: each offset in which a cohort member purchased, once
    (``step``: offsets in days from the first purchase day, :func:`_offset`).

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
    offset = _offset(grid, day, first_day, cohort, step)
    framed = purchases.with_columns(
        same.alias("_same"),
        first_day.alias("_first"),
        cohort.alias(_COHORT_IDX),
        offset.alias("offset"),
    )
    changed = ~pl.col("_same") | (pl.col("offset") != pl.col("offset").shift(1))
    member = (pl.col("_first") >= shown_from) & (pl.col("_first") < shown_to)
    if step is None:
        in_grid = (pl.col("offset") >= 0) & (
            pl.col(_COHORT_IDX) + pl.col("offset") < grid.n_periods
        )
    else:  # every purchase day is before the data end, so within the cohort's cells
        in_grid = pl.col("offset") >= 0
    return framed.filter(changed & member & in_grid).select(*keys, CUSTOMER, _COHORT_IDX, "offset")


def cohort_table(
    prep: Prepared,
    *,
    mode: Mode = Mode.on,
    min_cohort: int = 1,
    max_offset: int | None = None,
    convention: Convention = DEFAULT,
) -> pl.DataFrame:
    """SPEC §2.5, one row per group, cohort and offset (see the module docstring for the cells).
    ``convention`` with ``rolling_days``: offsets in days from each first day (module docstring).

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
    step: int | None = None
    if convention.rolling_days:
        check_period(convention, grid.period)
        step = ROLLING_DAYS[grid.period]
    members = members.select(
        *group,
        grid.period_index(pl.col("first_day")).alias(_COHORT_IDX),
        *(["first_day"] if step is not None else []),
    )

    sizes = (
        members.group_by([*keys, _COHORT_IDX])
        .agg(pl.len().cast(pl.Int64).alias("cohort_size"))
        .filter(pl.col("cohort_size") >= min_cohort)
    )
    periods = grid.periods().select(IDX, "period_start", "period_end")
    if step is None:
        count = grid.n_periods - pl.col(_COHORT_IDX)
    else:  # the steps from the cohort's first day that start before the data end
        days = (pl.lit(prep.data_end) - pl.col("_cohort_start")).dt.total_days()
        count = (days.cast(pl.Int64) + step - 1) // step
        sizes = sizes.join(
            periods.select(
                pl.col(IDX).alias(_COHORT_IDX), pl.col("period_start").alias("_cohort_start")
            ),
            on=_COHORT_IDX,
            how="left",
        )
    cells = (
        sizes.with_columns(pl.int_ranges(0, count, dtype=pl.Int64).alias("offset"))
        .explode("offset")
        .drop("_cohort_start", strict=False)
        .sort([*keys, _COHORT_IDX, "offset"])
    )
    cell = [*keys, _COHORT_IDX, "offset"]

    if prep.basis is Basis.activity:
        bought = _bought_in_order(prep.purchases, grid, keys, shown_from, shown_to, step)
    else:
        bought = (
            _in_cohort_offsets(prep.purchases, members, grid, group, step, prep.data_end)
            .select(*group, _COHORT_IDX, "offset")
            .unique()
        )
    if mode is Mode.on:
        counts = bought.group_by(cell).agg(pl.len().cast(pl.Int64).alias("customers"))
        cells = cells.join(counts, on=cell, how="left").with_columns(
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
            cells.join(last, on=cell, how="left")
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
            _in_cohort_offsets(
                revenue_lines(prep.events, keys), members, grid, group, step, prep.data_end
            )
            .group_by(cell)
            .agg(pl.col("micros").sum().alias("_micros"))
        )
        cells = (
            cells.join(summed, on=cell, how="left")
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
    cohort_of = periods.select(
        pl.col(IDX).alias(_COHORT_IDX),
        pl.col("period_start").alias("cohort"),
        pl.col("period_end").alias("_cohort_end"),
    )
    if step is None:
        placed = cells.with_columns((pl.col(_COHORT_IDX) + pl.col("offset")).alias(IDX)).join(
            periods, on=IDX, how="left"
        )
        complete = pl.col("period_end") <= pl.lit(prep.data_end)
    else:
        placed = cells
        steps = pl.duration(days=pl.col("offset") * step)
        last_member_end = (
            pl.col("_cohort_end") - pl.duration(days=1) + steps + pl.duration(days=step)
        )
        complete = last_member_end <= pl.lit(prep.data_end)
    result = (
        placed.join(cohort_of, on=_COHORT_IDX, how="left")
        .with_columns(
            ratio("customers", "cohort_size").alias("retention"),
            complete.alias("complete"),
            *(
                [
                    (pl.col("cohort") + pl.duration(days=pl.col("offset") * step)).alias(
                        "period_start"
                    )
                ]
                if step is not None
                else []
            ),
        )
        .sort(cell)
        .select(*keys, *COHORT_COLUMNS)
    )
    return result.collect()
