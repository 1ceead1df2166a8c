"""What every period-based metric shares (SPEC §2): the parameters, the groundwork
of events, grid, runs and first periods on either basis, the ratio rule, and the
completeness flag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from retcalc.engines import Rows, as_rows
from retcalc.errors import InputError, UsageError
from retcalc.metrics import activity
from retcalc.metrics.activity import CUSTOMER, Grid
from retcalc.metrics.choices import Basis
from retcalc.metrics.events import events_of, purchase_days
from retcalc.periods import Period, Window, observed_end, range_end


@dataclass(frozen=True)
class Params:
    """What every period-based metric is computed over."""

    period: Period = Period.month
    window: Window = field(default_factory=lambda: Window(12, "mo"))
    start: dt.date | None = None
    end: dt.date | None = None
    as_of: dt.date | None = None
    by: tuple[str, ...] = ()


def ratio(numerator: str | pl.Expr, denominator: str | pl.Expr) -> pl.Expr:
    """``numerator / denominator`` as a float, null when the denominator is 0 or null."""
    num = pl.col(numerator) if isinstance(numerator, str) else numerator
    den = pl.col(denominator) if isinstance(denominator, str) else denominator
    return pl.when(den != 0).then(num.cast(pl.Float64) / den.cast(pl.Float64)).otherwise(None)


@dataclass(frozen=True)
class Prepared:
    """The shared groundwork of the period metrics: events, grid, runs, first periods."""

    events: (
        pl.LazyFrame | None
    )  # classified order rows (None on the subscription basis without orders)
    purchases: pl.LazyFrame | None  # keys..., customer_id, day
    grid: Grid
    runs: pl.LazyFrame  # empty when prepared without them (``with_runs=False``)
    first_period: pl.LazyFrame
    groups: pl.LazyFrame | None
    keys: tuple[str, ...]
    data_start: dt.date
    data_end: dt.date  # exclusive: the first day not observed
    basis: Basis
    #: ``customer_id`` holds integer keys (:mod:`retcalc.kernels.keys`), not the ids.
    keyed: bool = False


def grid_range(params: Params, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the grid: ``--start`` else ``first``; ``periods.range_end``."""
    lo = params.start or first
    hi = range_end(last, end=params.end, as_of=params.as_of)
    if hi < lo:
        raise InputError(
            f"the range is empty: it ends ({hi}) before it starts ({lo}); check --start, --end "
            "and --as-of"
        )
    return lo, hi


def check_keys(keys: Sequence[str]) -> None:
    if CUSTOMER in keys:
        raise UsageError(
            "--by customer_id would make every customer a group of one; period metrics need "
            "groups of customers (use segment, channel, product_id, ...)"
        )


def prepare_activity(
    orders: Rows | pl.LazyFrame,
    params: Params,
    *,
    with_runs: bool = True,
    span: tuple[dt.date, dt.date] | None = None,
) -> Prepared:
    """Groundwork on the activity basis (SPEC §2.1): purchases make customers active.

    ``with_runs=False`` leaves ``runs`` empty, for a command that never reads them
    (cohorts): finding them is a pass over every purchase day. ``span``: the first and
    last purchase day of all the data when ``orders`` are some customers of it (a
    kernel's part, SPEC §8), so that every part has the same grid.
    """
    keys = params.by
    check_keys(keys)
    orders = as_rows(orders)
    events = events_of(orders, params.as_of)
    purchases = purchase_days(events, keys, keyed=orders.keyed).collect().lazy()
    if span is None:
        span = (
            purchases.select(pl.col("day").min(), pl.col("day").max().alias("hi")).collect().row(0)
        )
    first, last = span
    if first is None:
        raise no_purchases(params.as_of)
    grid = Grid.build(*grid_range(params, first, last), params.period, params.window)
    sorted_days = purchases.collect()
    if with_runs:
        active_runs = activity.purchase_runs(sorted_days, grid, keys).lazy()
    else:
        schema = {c: sorted_days.schema[c] for c in [*keys, CUSTOMER]}
        schema.update({"P": pl.Int64(), "Q": pl.Int64(), "first_idx": pl.Int64()})
        active_runs = pl.LazyFrame(schema=schema)
    first_period = (
        sorted_days.filter(~activity.same_group(keys))
        .select(*keys, CUSTOMER, pl.col("day").alias("first_day"))
        .with_columns(grid.period_index(pl.col("first_day")).alias("first_idx"))
        .lazy()
    )
    groups = purchases.select(keys).unique() if keys else None
    data_end = observed_end(last, params.as_of)
    return Prepared(
        events,
        purchases,
        grid,
        active_runs,
        first_period,
        groups,
        keys,
        first,
        data_end,
        Basis.activity,
        orders.keyed,
    )


def no_purchases(as_of: dt.date | None) -> InputError:
    """What to say when no row is a purchase (before ``--as-of``)."""
    cut = f" before --as-of {as_of}" if as_of else ""
    return InputError(f"no purchases{cut}: every row is a return, a cancellation or out of range")


def prepare_subscription(
    customers: pl.LazyFrame,
    orders: Rows | pl.LazyFrame | None,
    params: Params,
    *,
    keyed: bool = False,
) -> Prepared:
    """Groundwork on the subscription basis (SPEC §2.2): active while subscribed.
    ``keyed``: the customers' (and orders') ``customer_id`` holds integer keys."""
    keys = params.by
    check_keys(keys)
    if "churn_date" not in customers.collect_schema():
        customers = customers.with_columns(pl.lit(None, dtype=pl.Date).alias("churn_date"))
    subs = customers.filter(pl.col("signup_date").is_not_null())
    if params.as_of is not None:
        subs = subs.filter(pl.col("signup_date") < params.as_of).with_columns(
            pl.when(pl.col("churn_date") < params.as_of)
            .then(pl.col("churn_date"))
            .alias("churn_date")
        )
    subs = subs.collect().lazy()
    events = purchases = None
    last_candidates = [
        subs.select(pl.max_horizontal(pl.col("signup_date").max(), pl.col("churn_date").max()))
    ]
    if orders is not None:
        events = events_of(as_rows(orders), params.as_of)
        purchases = purchase_days(events, keys, keyed=keyed).collect().lazy()
        last_candidates.append(purchases.select(pl.col("day").max()))
    span = subs.select(pl.col("signup_date").min()).collect().item()
    if span is None:
        raise InputError(
            "the customers file has no signup dates"
            + (f" before {params.as_of}" if params.as_of else "")
        )
    last = max(v for v in (c.collect().item() for c in last_candidates) if v is not None)
    grid = Grid.build(*grid_range(params, span, last), params.period, params.window)
    active_runs = activity.runs(activity.subscription_coverage(subs, grid), keys)
    first_period = (
        subs.group_by([*keys, CUSTOMER])
        .agg(pl.col("signup_date").min().alias("first_day"))
        .with_columns(grid.period_index(pl.col("first_day")).alias("first_idx"))
    )
    groups = subs.select(keys).unique() if keys else None
    data_end = observed_end(last, params.as_of)
    return Prepared(
        events,
        purchases,
        grid,
        active_runs,
        first_period,
        groups,
        keys,
        span,
        data_end,
        Basis.subscription,
        keyed,
    )


def complete_flag(prep: Prepared) -> pl.Expr:
    """False when ``s - W`` is before the first order in the data or ``e`` after the data end."""
    return completeness(prep.basis, prep.grid.window, prep.data_start, prep.data_end)


def completeness(basis: Basis, window: Window, data_start: dt.date, data_end: dt.date) -> pl.Expr:
    """:func:`complete_flag` from its parts: the data's first day and its end (exclusive)."""
    ends_in_data = pl.col("period_end") <= pl.lit(data_end)
    if basis is Basis.subscription or window.is_all:
        return ends_in_data
    return ends_in_data & (pl.col("window_start") >= pl.lit(data_start))
