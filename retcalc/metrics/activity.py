"""Who is active at each period boundary, computed without one pass per period.

A customer is active at boundary ``b`` when an *activity interval* of theirs
covers it: a purchase on day ``d`` covers every ``b`` with ``b - W <= d < b``
(SPEC §2.1); a subscription covers every ``b`` with
``signup_date < b <= churn_date`` (SPEC §2.2). On the grid ``b[0] < ... <
b[n]`` each interval covers a contiguous range of boundary indices ``[p, q)``
found by binary search, and a customer's ranges merge into *runs*: maximal
stretches of consecutive boundaries at which they are active. Every count of
the retention table is a sum over runs (entering at ``P``, leaving at ``Q``),
so the work grows with the number of purchases, not with the number of
periods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from retcalc.periods import Period, Window, boundaries, window_starts

CUSTOMER = "customer_id"
IDX = "idx"


@dataclass(frozen=True)
class Grid:
    """Period boundaries ``b[0..n]`` and, for a bounded window, ``b[i] - W``."""

    period: Period
    window: Window
    bounds: pl.Series
    starts: pl.Series | None

    @classmethod
    def build(cls, first: dt.date, last: dt.date, period: Period, window: Window) -> Grid:
        bounds = boundaries(first, last, period)
        starts = None if window.is_all else window_starts(bounds, window)
        return cls(period, window, bounds, starts)

    @property
    def n_periods(self) -> int:
        return len(self.bounds) - 1

    @property
    def end(self) -> dt.date:
        return self.bounds[-1]

    def periods(self) -> pl.LazyFrame:
        """One row per period: ``idx, period_start, period_end, window_start``."""
        n = self.n_periods
        columns = {
            IDX: pl.int_range(0, n, eager=True, dtype=pl.Int64),
            "period_start": self.bounds[:n],
            "period_end": self.bounds[1:],
        }
        if self.starts is not None:
            columns["window_start"] = self.starts[:n]
        else:
            columns["window_start"] = pl.Series([None] * n, dtype=pl.Date)
        return pl.DataFrame(columns).lazy()

    def period_index(self, day: pl.Expr) -> pl.Expr:
        """Index of the period containing ``day``: -1 before the grid, ``n`` at or after its end."""
        return self.boundaries_up_to(day) - 1

    def boundaries_up_to(self, day: pl.Expr) -> pl.Expr:
        """Number of boundaries ``b <= day``, i.e. the first index with ``b > day``."""
        return count_up_to(self.bounds, day)

    def starts_up_to(self, day: pl.Expr) -> pl.Expr:
        """Number of window starts ``b - W <= day`` (bounded windows only)."""
        assert self.starts is not None
        return count_up_to(self.starts, day)


#: Longest span of days (about 270 years) answered from a table of days; a longer one
#: (which the date checks of the readers never let through) falls back to a binary search.
TABLE_DAYS = 100_000
EPOCH = dt.date(1970, 1, 1)


def day_number(day: pl.Expr, first: dt.date) -> pl.Expr:
    """Days from ``first`` to ``day``: the row of ``day`` in a table of days from ``first``."""
    return day.cast(pl.Int32) - (first - EPOCH).days


def count_up_to(sorted_days: pl.Series, day: pl.Expr) -> pl.Expr:
    """``sorted_days.search_sorted(day, side="right")`` as ``Int64``: how many values are <= day.

    The answer changes only between the first value and the last, so it is read from a
    table with one entry per day of that span, indexed by the day clamped to it: one
    gather per row, several times cheaper than a binary search per row (and the same
    whatever the number of periods).
    """
    lo, hi = sorted_days[0], sorted_days[-1]
    span = (hi - lo).days + 2
    if span > TABLE_DAYS:
        return pl.lit(sorted_days).search_sorted(day, side="right").cast(pl.Int64)
    first = lo - dt.timedelta(days=1)
    table = (
        pl.select(pl.date_range(first, hi, eager=True).alias("d"))
        .select(pl.lit(sorted_days).search_sorted(pl.col("d"), side="right").cast(pl.Int64))
        .to_series()
    )
    offset = day_number(day.clip(first, hi), first)
    # A null day counts nothing, as the binary search (nulls first) answers.
    return pl.lit(table).gather(offset.fill_null(0))


def over(expr: pl.Expr, keys: Sequence[str]) -> pl.Expr:
    """``expr.over(keys)``, or ``expr`` itself when there are no keys."""
    return expr.over(list(keys)) if keys else expr


def purchase_coverage(days: pl.LazyFrame, grid: Grid) -> pl.LazyFrame:
    """``[p, q)``: the boundaries at which a purchase on ``day`` makes its customer active."""
    p = grid.boundaries_up_to(pl.col("day"))
    if grid.starts is None:
        q = pl.lit(grid.n_periods + 1, dtype=pl.Int64)
    else:
        q = grid.starts_up_to(pl.col("day"))
    return days.with_columns(p.alias("p"), q.alias("q"))


def subscription_coverage(subs: pl.LazyFrame, grid: Grid) -> pl.LazyFrame:
    """``[p, q)``: the boundaries ``b`` with ``signup_date < b <= churn_date``."""
    p = grid.boundaries_up_to(pl.col("signup_date"))
    q = (
        pl.when(pl.col("churn_date").is_null())
        .then(pl.lit(grid.n_periods + 1, dtype=pl.Int64))
        .otherwise(grid.boundaries_up_to(pl.col("churn_date")))
    )
    return subs.with_columns(p.alias("p"), q.alias("q"))


def runs(coverage: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Merge each customer's ``[p, q)`` ranges into runs ``[P, Q)`` of consecutive active boundaries."""
    group = [*keys, CUSTOMER]
    return (
        coverage.filter(pl.col("q") > pl.col("p"))
        .sort([*group, "p", "q"])
        .with_columns(over(pl.col("q").cum_max().shift(1), group).alias("_reach"))
        .with_columns(
            over(
                (pl.col("_reach").is_null() | (pl.col("p") > pl.col("_reach"))).cum_sum(), group
            ).alias("_run")
        )
        .group_by([*group, "_run"])
        .agg(pl.col("p").min().alias("P"), pl.col("q").max().alias("Q"))
        .drop("_run")
    )


def same_group(keys: Sequence[str], step: int = 1) -> pl.Expr:
    """True where a row has the same keys and customer as the row ``step`` rows before it
    (``step=-1``: the row after it), on sorted input."""
    same = pl.int_range(pl.len()).shift(step).is_not_null()  # there is such a row
    for column in [*keys, CUSTOMER]:
        same = same & pl.col(column).eq_missing(pl.col(column).shift(step))  # empty = empty
    return same


def since_group_start(value: pl.Expr, keys: Sequence[str]) -> pl.Expr:
    """``value`` less its value on the first row of the row's group (keys and customer),
    on sorted input: of a running count, what the group's own rows before added."""
    return value - pl.when(~same_group(keys)).then(value).forward_fill()


def purchase_runs(purchases: pl.DataFrame, grid: Grid, keys: Sequence[str]) -> pl.DataFrame:
    """Runs ``[P, Q)`` of each customer from their purchase days, plus ``first_idx``.

    ``purchases`` must be sorted by ``keys..., customer_id, day`` (as ``purchase_days``
    returns them). Within a customer both ends of a purchase's coverage grow with the
    day, so runs are found with comparisons to the previous row instead of a group-by.
    """
    in_grid = purchases.filter(pl.col("day") < grid.end)
    covered = purchase_coverage(in_grid.lazy(), grid).with_columns(
        same_group(keys).alias("_same"),
        grid.period_index(pl.col("day")).alias("_idx"),
    )
    # A run is a stretch of consecutive rows (sorted input), so no group-by is needed:
    # its first row gives the customer, P and first_idx, its last row gives Q
    # (q grows with the day), and the two row sets come in the same order.
    run = pl.col("_run")
    covering = (
        covered.with_columns(
            # The first purchase of a customer starts their history: its period is first_idx.
            pl.when(~pl.col("_same")).then(pl.col("_idx")).forward_fill().alias("first_idx"),
            (~pl.col("_same") | (pl.col("p") > pl.col("q").shift(1))).cum_sum().alias("_run"),
        )
        .filter(pl.col("q") > pl.col("p"))
        .select(
            *keys,
            CUSTOMER,
            "p",
            "q",
            "first_idx",
            (run != run.shift(1)).fill_null(True).alias("_starts"),
            (run != run.shift(-1)).fill_null(True).alias("_ends"),
        )
        # Polars' default (streaming) engine runs these running sums, forward fills and
        # shifts over every purchase day slower than the in-memory engine, and with a
        # higher peak.
        .collect(engine="in-memory")
    )
    ends = covering.filter(pl.col("_ends"))["q"]
    return (
        covering.filter(pl.col("_starts"))
        .select(*keys, CUSTOMER, pl.col("p").alias("P"), "first_idx")
        .insert_column(len(keys) + 2, ends.alias("Q"))
    )


def returning_sorted(purchases: pl.DataFrame, grid: Grid, keys: Sequence[str]) -> pl.LazyFrame:
    """Per group and period: customers active at the period start who purchased inside it.

    On purchases sorted by customer and day: the first purchase of a customer in
    period k counts when the purchase before it keeps them active at ``b[k]``,
    i.e. its coverage ``[p, q)`` reaches index k (``q > k``).
    """
    n = grid.n_periods
    frame = purchase_coverage(purchases.lazy(), grid).with_columns(
        same_group(keys).alias("_same"), grid.period_index(pl.col("day")).alias(IDX)
    )
    prev_idx = pl.col(IDX).shift(1)
    prev_q = pl.col("q").shift(1)
    first_in_period = ~pl.col("_same") | (prev_idx != pl.col(IDX))
    hit = pl.col("_same") & first_in_period & (prev_q > pl.col(IDX))
    return (
        frame.filter(hit & pl.col(IDX).is_between(0, n - 1))
        .group_by([*keys, IDX])
        .agg(pl.len().cast(pl.Int64).alias("returning"))
    )


def _counts(frame: pl.LazyFrame, index: pl.Expr, name: str, keys: Sequence[str]) -> pl.LazyFrame:
    return frame.group_by([*keys, index.alias(IDX)]).agg(pl.len().cast(pl.Int64).alias(name))


def boundary_table(
    active_runs: pl.LazyFrame,
    first_period: pl.LazyFrame,
    grid: Grid,
    keys: Sequence[str],
    groups: pl.LazyFrame | None,
) -> pl.LazyFrame:
    """Per group and period: customers_start, customers_end, retained, churned, reactivated,
    new_customers, new_lost.

    ``first_period`` has ``keys..., customer_id, first_idx`` (period of the first purchase or
    signup). ``groups`` lists the distinct key values (None without keys).
    """
    n = grid.n_periods
    periods = grid.periods().select(IDX)
    base = periods if groups is None else groups.join(periods, how="cross")

    # Active at boundary j: +1 where a run starts, -1 where it ends, summed over j.
    active = (
        pl.concat(
            [
                active_runs.select(*keys, pl.col("P").alias(IDX), pl.lit(1).alias("d")),
                active_runs.select(*keys, pl.col("Q").alias(IDX), pl.lit(-1).alias("d")),
            ]
        )
        .group_by([*keys, IDX])
        .agg(pl.col("d").sum())
    )
    boundary_base = pl.int_range(0, n + 1, eager=True, dtype=pl.Int64).alias(IDX).to_frame().lazy()
    if groups is not None:
        boundary_base = groups.join(boundary_base, how="cross")
    active_at = (
        boundary_base.join(
            active.with_columns(pl.col(IDX).cast(pl.Int64)),
            on=[*keys, IDX],
            how="left",
            nulls_equal=True,
        )
        .with_columns(pl.col("d").fill_null(0))
        .sort([*keys, IDX])
        .with_columns(over(pl.col("d").cum_sum(), keys).alias("active"))
        .select(*keys, IDX, "active")
    )
    customers_start = active_at.rename({"active": "customers_start"})
    customers_end = active_at.select(
        *keys, (pl.col(IDX) - 1).alias(IDX), pl.col("active").alias("customers_end")
    )

    # Retained in period i: the run covers boundaries i and i + 1, i.e. P <= i <= Q - 2.
    long_runs = active_runs.filter(pl.col("Q") - pl.col("P") >= 2)
    retained_delta = (
        pl.concat(
            [
                long_runs.select(*keys, pl.col("P").alias(IDX), pl.lit(1).alias("d")),
                long_runs.select(*keys, (pl.col("Q") - 1).alias(IDX), pl.lit(-1).alias("d")),
            ]
        )
        .group_by([*keys, IDX])
        .agg(pl.col("d").sum())
    )
    retained = (
        base.join(
            retained_delta.with_columns(pl.col(IDX).cast(pl.Int64)),
            on=[*keys, IDX],
            how="left",
            nulls_equal=True,
        )
        .with_columns(pl.col("d").fill_null(0))
        .sort([*keys, IDX])
        .with_columns(over(pl.col("d").cum_sum(), keys).alias("retained"))
        .select(*keys, IDX, "retained")
    )

    # Churned in period i: a run whose last active boundary is i.
    churned = _counts(
        active_runs.filter(pl.col("Q") <= n), pl.col("Q").cast(pl.Int64) - 1, "churned", keys
    )

    # Entering at boundary i + 1: reactivated, or a new customer still active at the end.
    entries = active_runs.filter((pl.col("P") >= 1) & (pl.col("P") <= n))
    if "first_idx" not in entries.collect_schema():
        entries = entries.join(
            first_period.select(*keys, CUSTOMER, "first_idx"),
            on=[*keys, CUSTOMER],
            how="left",
            nulls_equal=True,
        )
    entry_idx = pl.col("P").cast(pl.Int64) - 1
    reactivated = _counts(
        entries.filter(pl.col("first_idx") < entry_idx), entry_idx, "reactivated", keys
    )
    new_active = _counts(
        entries.filter(pl.col("first_idx") == entry_idx), entry_idx, "_new_active", keys
    )
    new_customers = _counts(
        first_period.filter(pl.col("first_idx").is_between(0, n - 1)),
        pl.col("first_idx"),
        "new_customers",
        keys,
    )

    table = base
    for part in (
        customers_start,
        customers_end,
        retained,
        churned,
        reactivated,
        new_active,
        new_customers,
    ):
        table = table.join(part, on=[*keys, IDX], how="left", nulls_equal=True)
    counts = [
        "customers_start",
        "customers_end",
        "retained",
        "churned",
        "reactivated",
        "_new_active",
        "new_customers",
    ]
    return (
        table.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts)
        .with_columns((pl.col("new_customers") - pl.col("_new_active")).alias("new_lost"))
        .drop("_new_active")
    )


def returning(
    purchases: pl.LazyFrame, active_runs: pl.LazyFrame, grid: Grid, keys: Sequence[str]
) -> pl.LazyFrame:
    """Per group and period: customers active at the period start who purchased inside it."""
    group = [*keys, CUSTOMER]
    in_period = (
        purchases.select(*group, grid.period_index(pl.col("day")).alias(IDX))
        .filter(pl.col(IDX).is_between(0, grid.n_periods - 1))
        .unique()
    )
    hits = in_period.join(active_runs, on=group, how="inner", nulls_equal=True).filter(
        (pl.col("P") <= pl.col(IDX)) & (pl.col(IDX) < pl.col("Q"))
    )
    return hits.group_by([*keys, IDX]).agg(pl.len().cast(pl.Int64).alias("returning"))
