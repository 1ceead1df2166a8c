"""Cohort tables (SPEC §2.5): retention and revenue by period since the first purchase or signup.

A customer's *cohort* is the period of their first purchase day (activity
basis) or first signup (subscription basis), as in ``Prepared.first_period``.
Offset ``k`` is the number of calendar periods between the cohort period and a
cell's period (``k = 0`` is the cohort period itself). Per cohort and offset:

- ``cohort_size``: customers in the cohort
- ``customers``: cohort members with a purchase day in offset ``k`` (mode ``on``),
  or in offset ``k`` or any later one (mode ``on-or-after``)
- ``eligible``: cohort members for whom offset ``k`` has fully elapsed before the data
  end (``--as-of``): the whole cohort when the cell's period is complete, else none
- ``eligible_active``: the eligible members counted in ``customers``
- ``retention`` = eligible_active / eligible, null where no member is eligible (a
  cell not yet over is not pulled down by days nobody could buy in)
- ``revenue``: net revenue of the cohort's members dated in offset ``k`` (returns
  netted on their revenue day as in ``events``)
- ``cumulative_revenue_per_customer`` = sum of revenue over offsets ``0..k`` / cohort_size
- ``complete``: false when the cell's period ends after the data end

**Brackets** (``brackets``): one row per cohort and bracket ``a-b`` of offsets (unit
``period``: periods since the cohort's period, as ``offset``; unit ``day``: days since
the customer's first purchase day or signup, day 0 being that day). ``customers``:
members with a purchase in the bracket; ``eligible``: members whose bracket has fully
elapsed (its last period ends by the data end; its last day is before it);
``eligible_active``, ``retention`` as above; ``complete``: every member eligible.

**Average rows** (``cohort`` null, after each group's cohorts): per offset or bracket,
the sums of the cohorts' ``cohort_size``, ``customers``, ``eligible`` and
``eligible_active``, so ``retention`` = Σ eligible_active / Σ eligible (each cohort
weighted by its eligible customers); ``cumulative_revenue_per_customer`` = the eligible
cohorts' revenue over offsets ``0..k`` / Σ eligible; ``revenue`` and ``period_start``
null; ``complete`` when every cohort's cell is.

Under a convention with ``rolling_days`` (Amplitude's, :mod:`.conventions`) the
offset of a purchase on day ``d`` is ``(d - f) // L`` for a customer whose first
purchase (or signup) day is ``f``, with ``L`` = 1, 7 or 30 days for a day, week
or month; the cohort stays the calendar period of ``f``. A cell's ``period_start``
is then ``cohort + k * L`` days (where offset ``k`` starts for a member who joined
on the cohort's first day), and it is complete when ``k + 1`` steps have passed
since the cohort's last day: ``cohort_end - 1 + (k + 1) * L <= data end``. The eligible members of
such a cell are the whole cohort when it is complete, as for calendar offsets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from retcalc.errors import InputError
from retcalc.metrics.activity import CUSTOMER, IDX, Grid, over, same_group
from retcalc.metrics.choices import Brackets, BracketUnit, Mode
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
    "eligible",
    "eligible_active",
    "retention",
    "revenue",
    "cumulative_revenue_per_customer",
    "complete",
)
BRACKET_COLUMNS: tuple[str, ...] = (
    "cohort",
    "bracket",
    "bracket_start",
    "bracket_end",
    "cohort_size",
    "customers",
    "eligible",
    "eligible_active",
    "retention",
    "complete",
)
#: The counts of a cell (besides the revenue ``_micros``): sums over customers.
CELL_COUNTS = ("cohort_size", "customers")
#: The counts summed over the cohorts on the average rows.
_SUMMED = ("cohort_size", "customers", "eligible", "eligible_active")

RATE_COLUMNS: tuple[str, ...] = ("retention",)
MONEY_COLUMNS: tuple[str, ...] = ("revenue", "cumulative_revenue_per_customer")

COHORT_IDX = "_cohort_idx"
_DONE = "_done"  # offsets (periods or days) fully elapsed before the data end
_BEGUN = "_begun"  # offsets begun before the data end
_BRACKET = "_bracket"


def _elapsed(last_offset: pl.Expr) -> pl.Expr:
    """Whether a cell whose last offset is ``last_offset`` has fully elapsed for a member
    (or cohort) that has ``_DONE`` offsets fully observed: the one rule of ``eligible``."""
    return last_offset < pl.col(_DONE)


def _periods_done(data_end: dt.date, grid: Grid) -> pl.Expr:
    """``_DONE`` on the period clock: periods of the grid from the cohort's own that end
    by the data end (the last period of the grid may not)."""
    ends = grid.bounds.slice(1)
    done = int((ends <= data_end).sum())
    return (pl.lit(done, dtype=pl.Int64) - pl.col(COHORT_IDX)).alias(_DONE)


def _steps_done(data_end: dt.date, grid: Grid, step: int) -> pl.Expr:
    """``_DONE`` on a clock of ``step`` days: the steps fully elapsed by the data end for
    the cohort's last possible member (joined on the cohort period's last day)."""
    ends = grid.periods().select(pl.col(IDX), pl.col("period_end"))
    last_day = pl.col(COHORT_IDX).replace_strict(
        ends.collect()[IDX], ends.collect()["period_end"], default=None
    ) - pl.duration(days=1)
    return ((pl.lit(data_end) - last_day).dt.total_days() // step).alias(_DONE)


def data_grid(ranged: Grid, data_end: dt.date) -> Grid:
    """The cohorts' grid of the whole data: from the first period of the range's grid
    (``ranged``: no cohort is shown before it) to the period holding the last observed day
    (before ``data_end``); the grid of :func:`cohort_counts` for every part of the
    customers (SPEC §8)."""
    last = data_end - dt.timedelta(days=1)
    first: dt.date = ranged.bounds[0]
    return Grid.build(min(first, last), last, ranged.period, ranged.window)


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
    offset = _offset(grid, pl.col("day"), pl.col("first_day"), pl.col(COHORT_IDX), step)
    if step is None:
        kept = pl.col(COHORT_IDX) + pl.col("offset") < grid.n_periods
    else:
        kept = pl.col("day") < pl.lit(data_end)
    return (
        frame.join(members, on=group, how="inner", nulls_equal=True)
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
        cohort.alias(COHORT_IDX),
        offset.alias("offset"),
    )
    changed = ~pl.col("_same") | (pl.col("offset") != pl.col("offset").shift(1))
    member = (pl.col("_first") >= shown_from) & (pl.col("_first") < shown_to)
    if step is None:
        in_grid = (pl.col("offset") >= 0) & (pl.col(COHORT_IDX) + pl.col("offset") < grid.n_periods)
    else:  # every purchase day is before the data end, so within the cohort's cells
        in_grid = pl.col("offset") >= 0
    return framed.filter(changed & member & in_grid).select(*keys, CUSTOMER, COHORT_IDX, "offset")


def _bracket_of(offset: pl.Expr, brackets: Brackets) -> pl.Expr:
    """The index of the bracket holding ``offset``, null outside every bracket."""
    index = pl.lit(None, dtype=pl.Int64)
    for i, (a, b) in enumerate(brackets.spans):  # brackets do not overlap: order is free
        index = pl.when(offset.is_between(a, b)).then(pl.lit(i, dtype=pl.Int64)).otherwise(index)
    return index


def _average_rows(cells: pl.LazyFrame, keys: list[str], column: list[str]) -> pl.LazyFrame:
    """The average row of each group and offset (or bracket): see the module docstring."""
    aggs = [pl.col(name).sum() for name in _SUMMED]
    if "_cum" in cells.collect_schema():
        aggs.append(pl.col("_cum").filter(pl.col("eligible") > 0).sum().fill_null(0).alias("_cum"))
    return (
        cells.group_by([*keys, *column])
        .agg(*aggs, pl.col("complete").all())
        .with_columns(pl.lit(None, dtype=pl.Int64).alias(COHORT_IDX))
    )


def _members(
    prep: Prepared, keys: list[str], grid: Grid | None = None
) -> tuple[pl.LazyFrame, Grid]:
    """The shown cohorts' members (``group..., first_day, _cohort_idx``) and their grid
    (``grid`` when given)."""
    group = [*keys, CUSTOMER]
    shown_from, shown_to = prep.grid.bounds[0], prep.grid.end
    members = (
        prep.first_period.select(*group, "first_day")
        .filter((pl.col("first_day") >= shown_from) & (pl.col("first_day") < shown_to))
        .collect()
        .lazy()
    )
    grid = grid or _cohort_grid(prep, members)
    return members.with_columns(grid.period_index(pl.col("first_day")).alias(COHORT_IDX)), grid


def _bought(
    prep: Prepared, members: pl.LazyFrame, grid: Grid, keys: list[str], step: int | None = None
) -> pl.LazyFrame:
    """``group..., _cohort_idx, offset``: each offset in which a cohort member purchased
    (``step``: offsets in days from the first day, :func:`_offset`)."""
    _, purchases = _needs_orders(prep)
    if prep.basis is Basis.activity:
        shown_from, shown_to = prep.grid.bounds[0], prep.grid.end
        return _bought_in_order(purchases, grid, keys, shown_from, shown_to, step)
    group = [*keys, CUSTOMER]
    return (
        _in_cohort_offsets(purchases, members, grid, group, step, prep.data_end)
        .select(*group, COHORT_IDX, "offset")
        .unique()
    )


def _needs_orders(prep: Prepared) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """``prep``'s events and purchases, refused when there are none."""
    if prep.events is None or prep.purchases is None:
        raise InputError("cohorts need an orders file: the cells count customers who purchased")
    return prep.events, prep.purchases


def cohort_table(
    prep: Prepared,
    *,
    mode: Mode = Mode.on,
    min_cohort: int = 1,
    max_offset: int | None = None,
    brackets: Brackets | None = None,
    average: bool = True,
    convention: Convention = DEFAULT,
) -> pl.DataFrame:
    """SPEC §2.5, one row per group, cohort and offset (see the module docstring for the cells),
    and with ``average`` the average rows (``cohort`` null) after each group's cohorts.
    ``convention`` with ``rolling_days``: offsets in days from each first day (module docstring).

    Cohorts shown are those whose period lies on ``prep.grid`` (``--start``/``--end``);
    every cohort gets every offset up to the period holding the last observed day
    (``prep.data_end`` - 1), cells without purchases included. ``min_cohort`` hides
    cohorts with fewer customers; ``max_offset`` drops later offsets (after the
    on-or-after counts are made, so those still see every later purchase).
    Without an amount column the revenue columns are null. With ``brackets``, one row
    per cohort and bracket instead (:func:`bracket_table`).
    """
    if brackets is not None:
        return bracket_table(prep, brackets, min_cohort=min_cohort, average=average)
    members, grid = _members(prep, list(prep.keys))
    step = rolling_step(convention, grid)
    return finish_cohorts(
        cohort_counts(prep, mode=mode, members=members, grid=grid, step=step),
        grid,
        prep.keys,
        prep.data_end,
        min_cohort=min_cohort,
        max_offset=max_offset,
        average=average,
        step=step,
    )


def rolling_step(convention: Convention, grid: Grid) -> int | None:
    """The days of an offset under ``convention`` (None: calendar periods)."""
    if not convention.rolling_days:
        return None
    check_period(convention, grid.period)
    return ROLLING_DAYS[grid.period]


def cohort_counts(
    prep: Prepared,
    *,
    mode: Mode,
    members: pl.LazyFrame | None = None,
    grid: Grid | None = None,
    step: int | None = None,
) -> pl.LazyFrame:
    """The kernel (SPEC §8): per group, cohort (``_cohort_idx`` on ``grid``) and offset,
    the counts of ``prep``'s customers: ``cohort_size``, ``customers`` and, with an amount
    column, the revenue ``_micros``; sums over customers, so the counts of disjoint sets of
    customers add up. ``grid`` (by default from the cohorts' first day) may start earlier,
    when it is the whole data's and ``prep`` holds some of its customers. ``step``: offsets
    in days from each member's first day (:func:`rolling_step`)."""
    events, _ = _needs_orders(prep)
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    if members is None or grid is None:
        members, own = _members(prep, keys, grid)
        grid = grid or own
    sizes = members.group_by([*keys, COHORT_IDX]).agg(pl.len().cast(pl.Int64).alias("cohort_size"))
    if step is None:
        count = grid.n_periods - pl.col(COHORT_IDX)
    else:  # the steps from the cohort's first day that start before the data end
        starts = grid.periods().select(
            pl.col(IDX).alias(COHORT_IDX), pl.col("period_start").alias("_cohort_start")
        )
        sizes = sizes.join(starts, on=COHORT_IDX, how="left")
        days = (pl.lit(prep.data_end) - pl.col("_cohort_start")).dt.total_days()
        count = (days.cast(pl.Int64) + step - 1) // step
    cells = (
        sizes.with_columns(pl.int_ranges(0, count, dtype=pl.Int64).alias("offset"))
        .explode("offset")
        .drop("_cohort_start", strict=False)
        .sort([*keys, COHORT_IDX, "offset"])
    )
    cell = [*keys, COHORT_IDX, "offset"]

    bought = _bought(prep, members, grid, keys, step)
    if mode is Mode.on:
        counts = bought.group_by(cell).agg(pl.len().cast(pl.Int64).alias("customers"))
        cells = cells.join(counts, on=cell, how="left", nulls_equal=True).with_columns(
            pl.col("customers").fill_null(0)
        )
    else:
        # Counted at every offset up to their last purchase offset: a reverse cumulative sum.
        last = (
            bought.group_by([*group, COHORT_IDX])
            .agg(pl.col("offset").max())
            .group_by(cell)
            .agg(pl.len().cast(pl.Int64).alias("_last_here"))
        )
        cells = (
            cells.join(last, on=cell, how="left", nulls_equal=True)
            .with_columns(pl.col("_last_here").fill_null(0))
            .sort(cell)
            .with_columns(
                over(pl.col("_last_here").cum_sum(reverse=True), [*keys, COHORT_IDX]).alias(
                    "customers"
                )
            )
            .drop("_last_here")
        )
    if "amount" in events.collect_schema():
        summed = (
            _in_cohort_offsets(
                revenue_lines(events, keys), members, grid, group, step, prep.data_end
            )
            .group_by(cell)
            .agg(pl.col("micros").sum().alias("_micros"))
        )
        cells = cells.join(summed, on=cell, how="left", nulls_equal=True).with_columns(
            pl.col("_micros").fill_null(0)
        )
    return cells


def finish_cohorts(
    counts: pl.LazyFrame,
    grid: Grid,
    keys: Sequence[str],
    data_end: dt.date,
    *,
    min_cohort: int = 1,
    max_offset: int | None = None,
    average: bool = True,
    step: int | None = None,
) -> pl.DataFrame:
    """The merge: the kernel's counts (of one set of customers, or summed over several)
    as the table of :func:`cohort_table`."""
    keys = list(keys)
    cell = [*keys, COHORT_IDX, "offset"]
    cells = counts.filter(pl.col("cohort_size") >= min_cohort)
    # Every member's offset k elapses together: the cohort is eligible or none of it.
    elapsed = _elapsed(pl.col("offset"))
    done = _periods_done(data_end, grid) if step is None else _steps_done(data_end, grid, step)
    cells = cells.with_columns(done).with_columns(
        pl.when(elapsed).then(pl.col("cohort_size")).otherwise(0).alias("eligible"),
        pl.when(elapsed).then(pl.col("customers")).otherwise(0).alias("eligible_active"),
        elapsed.alias("complete"),
    )
    has_amount = "_micros" in cells.collect_schema()
    if has_amount:
        cells = cells.sort(cell).with_columns(
            over(pl.col("_micros").cum_sum(), [*keys, COHORT_IDX]).alias("_cum")
        )
    if max_offset is not None:
        cells = cells.filter(pl.col("offset") <= max_offset)
    parts = [cells]
    if average:
        parts.append(_average_rows(cells, keys, ["offset"]))
    cells = pl.concat(parts, how="diagonal_relaxed")
    if has_amount:
        cells = cells.with_columns(
            money("_micros").alias("revenue"),
            ratio(
                money("_cum"),
                pl.when(pl.col(COHORT_IDX).is_null()).then("eligible").otherwise("cohort_size"),
            )
            .round(6)
            .alias("cumulative_revenue_per_customer"),
        )
    else:
        cells = cells.with_columns(
            pl.lit(None, dtype=pl.Float64).alias(name) for name in MONEY_COLUMNS
        )
    periods = grid.periods().select(IDX, "period_start")
    cohort_of = periods.select(
        pl.col(IDX).alias(COHORT_IDX), pl.col("period_start").alias("cohort")
    )
    if step is None:
        placed = cells.with_columns((pl.col(COHORT_IDX) + pl.col("offset")).alias(IDX)).join(
            periods, on=IDX, how="left"
        )
        dated = placed.join(cohort_of, on=COHORT_IDX, how="left")
    else:  # where offset k starts for a member who joined on the cohort's first day
        dated = cells.join(cohort_of, on=COHORT_IDX, how="left").with_columns(
            (pl.col("cohort") + pl.duration(days=pl.col("offset") * step)).alias("period_start")
        )
    result = (
        dated.with_columns(ratio("eligible_active", "eligible").alias("retention"))
        .sort(cell, nulls_last=True)
        .select(*keys, *COHORT_COLUMNS)
    )
    return result.collect()


def bracket_table(
    prep: Prepared, brackets: Brackets, *, min_cohort: int = 1, average: bool = True
) -> pl.DataFrame:
    """Bracket retention (see the module docstring): one row per group, cohort and bracket
    that has begun for a member before the data end, then the average rows."""
    _, purchases = _needs_orders(prep)
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    members, grid = _members(prep, keys)
    if brackets.unit is BracketUnit.period:
        members = members.with_columns(
            _periods_done(prep.data_end, grid),
            (grid.n_periods - pl.col(COHORT_IDX)).alias(_BEGUN),
        )
        active = _bought(prep, members, grid, keys).select(
            *group, _bracket_of(pl.col("offset"), brackets).alias(_BRACKET)
        )
    else:
        observed = (pl.lit(prep.data_end) - pl.col("first_day")).dt.total_days()
        members = members.with_columns(observed.alias(_DONE), observed.alias(_BEGUN))
        days = (pl.col("day") - pl.col("first_day")).dt.total_days()
        active = purchases.join(members.select(*group, "first_day"), on=group).select(
            *group, _bracket_of(days, brackets).alias(_BRACKET)
        )
    spans = pl.LazyFrame(
        {
            _BRACKET: list(range(len(brackets.spans))),
            "bracket": list(brackets.labels),
            "bracket_start": [a for a, _ in brackets.spans],
            "bracket_end": [b for _, b in brackets.spans],
        },
        schema={_BRACKET: pl.Int64, "bracket": pl.String, "bracket_start": pl.Int64,
                "bracket_end": pl.Int64},
    )  # fmt: skip
    active = active.drop_nulls(_BRACKET).unique().with_columns(pl.lit(True).alias("_active"))
    cell = [*keys, COHORT_IDX, _BRACKET]
    per_member = (
        members.select(*group, COHORT_IDX, _DONE, _BEGUN)
        .with_columns(pl.len().over([*keys, COHORT_IDX]).cast(pl.Int64).alias("_size"))
        .filter(pl.col("_size") >= min_cohort)
        .join(spans, how="cross")
        .join(active, on=[*group, _BRACKET], how="left")
        .with_columns(
            _elapsed(pl.col("bracket_end")).alias("_eligible"),
            pl.col("_active").fill_null(False),
        )
    )
    cells = (
        per_member.group_by([*cell, "bracket", "bracket_start", "bracket_end"])
        .agg(
            pl.len().cast(pl.Int64).alias("cohort_size"),
            pl.col("_active").sum().cast(pl.Int64).alias("customers"),
            pl.col("_eligible").sum().cast(pl.Int64).alias("eligible"),
            (pl.col("_active") & pl.col("_eligible")).sum().cast(pl.Int64).alias("eligible_active"),
            (pl.col("bracket_start") < pl.col(_BEGUN)).any().alias("_begun"),
        )
        .filter(pl.col("_begun"))
        .with_columns((pl.col("eligible") == pl.col("cohort_size")).alias("complete"))
    )
    parts = [cells]
    if average:
        parts.append(
            _average_rows(cells, keys, [_BRACKET, "bracket", "bracket_start", "bracket_end"])
        )
    periods = grid.periods().select(
        pl.col(IDX).alias(COHORT_IDX), pl.col("period_start").alias("cohort")
    )
    return (
        pl.concat(parts, how="diagonal_relaxed")
        .join(periods, on=COHORT_IDX, how="left")
        .with_columns(ratio("eligible_active", "eligible").alias("retention"))
        .sort(cell, nulls_last=True)
        .select(*keys, *BRACKET_COLUMNS)
        .collect()
    )
