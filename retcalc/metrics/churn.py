"""Customer churn per period with revenue retention and the revenue bridge (SPEC §2.4).

Revenue of a customer in a period is their net revenue there (returns netted
as in ``events``), floored at 0 for the retention and bridge figures: a refund
bigger than the period's purchases counts as losing that customer's revenue,
not as negative revenue. ``revenue`` and ``lost_revenue`` are not floored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from retcalc.errors import InputError
from retcalc.kernels.words import free_key_bits, period_sums
from retcalc.metrics import activity
from retcalc.metrics.activity import CUSTOMER, IDX, day_number, same_group
from retcalc.metrics.bootstrap import Resampling, ratio_bounds
from retcalc.metrics.common import Prepared, complete_flag, ratio
from retcalc.metrics.conventions import DEFAULT, Convention, RevenueChurn
from retcalc.metrics.events import revenue_lines
from retcalc.metrics.intervals import RATIOS, bounds
from retcalc.metrics.money import money
from retcalc.periods import Period, truncate

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

#: Printed after quick_ratio under a convention that defines a revenue churn rate.
REVENUE_CHURN = "revenue_churn_rate"


def churn_columns(convention: Convention = DEFAULT) -> tuple[str, ...]:
    """The columns of churn's table under ``convention``."""
    if convention.revenue_churn is None:
        return CHURN_COLUMNS
    at = CHURN_COLUMNS.index("quick_ratio") + 1
    return (*CHURN_COLUMNS[:at], REVENUE_CHURN, *CHURN_COLUMNS[at:])


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


def revenue_movements(
    prep: Prepared, daily: pl.LazyFrame, resampling: Resampling | None = None
) -> pl.LazyFrame:
    """Per group and period start ``ps`` (comparing with the calendar period before it),
    the sums (in micros) of which :func:`revenue_ratios` makes the ratios:

    - previous_revenue = sum over P of rev_(k-1), P = customers with rev_(k-1) > 0
    - nrr = sum over P of rev_k / previous_revenue
    - grr = sum over P of min(rev_k, rev_(k-1)) / previous_revenue
    - new_revenue: rev_k of customers whose first purchase is in period k
      (``daily`` has ``is_purchase``: see :func:`_first_purchase_flags`)
    - expansion / contraction: rises / falls of rev_k against rev_(k-1) > 0 (rev_k > 0)
    - churned_revenue: rev_(k-1) of customers in P with rev_k = 0
    - reactivation_revenue: rev_k > 0 of earlier customers with rev_(k-1) = 0
    - quick_ratio = (new + expansion + reactivation) / (contraction + churned); without
      reactivation when ``convention.quick_ratio_reactivation`` is false
    - revenue_churn_rate, under a ``convention`` that defines one: net =
      (churned + contraction - expansion - reactivation) / previous_revenue, gross =
      (churned + contraction) / previous_revenue

    With ``resampling``, also nrr's and grr's bootstrap bounds over the customers in P
    (:mod:`retcalc.metrics.bootstrap`).
    """
    if prep.events is None:
        raise InputError("churn needs orders with an amount column for its revenue figures")
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    period = prep.grid.period
    span = daily.select(
        pl.col("day").min().alias("lo"),
        pl.col("day").max().alias("hi"),
        free_key_bits(group, keyed=prep.keyed).alias("free"),
    )
    lo, hi, free = span.collect().row(0)
    if lo is None:
        lo = hi = prep.data_start
    # Periods are numbered (0 for the one holding ``lo``), so that "the period before"
    # is one less: integer work on every row, dates only for the few sums at the end.
    numbers = PeriodNumbers(lo, hi, period)
    raw = period_sums(
        daily,
        group,
        numbers.of(pl.col("day")),
        numbers.starts.len(),
        has=HAS,
        keyed=prep.keyed,
        free_bits=free or 0,
    )
    totals = raw.group_by([*keys, "ps"]).agg(pl.col("raw").sum().alias("revenue"))
    # The running count of the flags over every row: faster in the in-memory engine.
    floored = (
        raw.lazy()
        .select(
            *group,
            "ps",
            pl.col("raw").clip(lower_bound=0).alias("rev"),
            *_first_purchase_flags(keys),
        )
        .collect(engine="in-memory")
    )
    del raw  # held only by ``floored`` and ``totals`` from here
    pairs = _with_previous(floored, keys)
    rev, prev = pl.col("rev"), pl.col("prev")
    kept = prev > 0

    def total(expr: pl.Expr, where: pl.Expr) -> pl.Expr:
        return pl.when(where).then(expr).otherwise(0).sum()

    movements = pairs.group_by([*keys, "ps"]).agg(
        total(rev, kept).alias("_kept_now"),
        total(prev, kept).alias("previous_revenue"),
        total(pl.min_horizontal(rev, prev), kept).alias("_kept_floor"),
        total(rev, pl.col(FIRST)).alias("new_revenue"),
        total(rev - prev, kept & (rev > prev)).alias("expansion"),
        total(prev - rev, kept & (rev > 0) & (rev < prev)).alias("contraction"),
        total(prev, kept & (rev == 0)).alias("churned_revenue"),
        total(rev, (prev == 0) & (rev > 0) & pl.col(LATER)).alias("reactivation_revenue"),
    )
    if resampling is not None:
        shares = pairs.filter(kept).select(
            *group, "ps", rev.alias("_now"), pl.min_horizontal(rev, prev).alias("_floor"), prev
        )
        ratios = {"nrr": ("_now", "prev"), "grr": ("_floor", "prev")}
        found = ratio_bounds(
            shares.collect(), cells=[*keys, "ps"], customer=CUSTOMER, ratios=ratios, how=resampling
        )
        movements = movements.join(found.lazy(), on=[*keys, "ps"], how="left", nulls_equal=True)
    return (
        movements.join(totals.lazy(), on=[*keys, "ps"], how="full", coalesce=True, nulls_equal=True)
        .with_columns(numbers.start(pl.col("ps")).alias("ps"))
        .rename({"ps": "period_start"})
    )


def revenue_ratios(convention: Convention = DEFAULT) -> list[pl.Expr]:
    """nrr, grr, quick_ratio (and revenue_churn_rate under a ``convention`` that defines
    one) from the sums of :func:`revenue_movements` (see its docstring)."""
    gains = pl.col("new_revenue") + pl.col("expansion")
    if convention.quick_ratio_reactivation:
        gains = gains + pl.col("reactivation_revenue")
    losses = pl.col("contraction") + pl.col("churned_revenue")
    found = [
        ratio("_kept_now", "previous_revenue").alias("nrr"),
        ratio("_kept_floor", "previous_revenue").alias("grr"),
        ratio(gains, losses).alias("quick_ratio"),
    ]
    if convention.revenue_churn is RevenueChurn.net:
        net = losses - pl.col("expansion") - pl.col("reactivation_revenue")
        found.append(ratio(net, "previous_revenue").alias(REVENUE_CHURN))
    elif convention.revenue_churn is RevenueChurn.gross:
        found.append(ratio(losses, "previous_revenue").alias(REVENUE_CHURN))
    return found


class PeriodNumbers:
    """The periods holding the days from ``lo`` to ``hi``, numbered from 0, and the one after.

    A day's number is read from a table of those days (a gather instead of calendar
    arithmetic on every row).
    """

    def __init__(self, lo: dt.date, hi: dt.date, period: Period):
        days = pl.date_range(lo, hi, eager=True).to_frame("d")
        starts = days.select(truncate(pl.col("d"), period).alias("s"))["s"]
        self.lo = lo
        self.numbers = starts.rle_id().cast(pl.Int64)
        last = starts[-1]
        after = pl.select(pl.lit(last).dt.offset_by(period.every)).item()
        self.starts = pl.concat([starts.unique(maintain_order=True), pl.Series([after])])

    def of(self, day: pl.Expr) -> pl.Expr:
        """The number of the period holding ``day`` (a day from ``lo`` to ``hi``)."""
        return pl.lit(self.numbers).gather(day_number(day, self.lo))

    def start(self, number: pl.Expr) -> pl.Expr:
        """The first day of period ``number`` (up to the one after ``hi``'s)."""
        return pl.lit(self.starts).gather(number)


def _first_purchase_flags(keys: Sequence[str]) -> list[pl.Expr]:
    """``FIRST`` and ``LATER`` on :func:`~retcalc.kernels.words.period_sums`'s rows (each customer's together, in
    period order): the period is the customer's first with a purchase; the customer
    purchased in an earlier period. From a running count of the periods with purchases
    (no join with each customer's first purchase day, which was a large share of churn's
    time)."""
    has = pl.col(HAS)
    seen = has.cast(pl.UInt32).cum_sum() - has.cast(pl.UInt32)  # periods with purchases before
    own = activity.since_group_start(seen, keys)  # ... this customer's
    return [(has & (own == 0)).alias(FIRST), (own > 0).alias(LATER)]


#: Flags of :func:`_first_purchase_flags`, and :func:`~retcalc.kernels.words.period_sums`'s "purchased in the period".
FIRST, LATER, HAS = "_first", "_later", "_hp"


def _with_previous(floored: pl.DataFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """``group..., ps, rev, prev, FIRST, LATER`` for every customer and period ``ps`` (a
    number) where that period or the one before it has revenue (``rev``, ``prev``: 0
    where none; the flags false on a period without revenue): the full join of the
    periods with the periods before them, found on rows ordered as :func:`~retcalc.kernels.words.period_sums`
    orders them, each compared with its neighbours."""
    group = [*keys, CUSTOMER]
    ps, rev = pl.col("ps"), pl.col("rev")
    flagged = floored.lazy().with_columns(
        (same_group(keys) & (ps.shift(1) + 1 == ps)).fill_null(False).alias("_after"),
        (same_group(keys, step=-1) & (ps + 1 == ps.shift(-1))).fill_null(False).alias("_before"),
    )
    here = flagged.select(
        *group,
        "ps",
        "rev",
        pl.when("_after").then(rev.shift(1)).otherwise(0).alias("prev"),
        FIRST,
        LATER,
    )
    # A period with revenue and none in the next: the next period has prev only.
    gone = flagged.filter(~pl.col("_before")).select(
        *group,
        (ps + 1).alias("ps"),
        pl.lit(0, dtype=pl.Int128).alias("rev"),
        rev.alias("prev"),
        pl.lit(False).alias(FIRST),
        pl.lit(False).alias(LATER),
    )
    return pl.concat([here, gone], how="vertical")


def lost_revenue(prep: Prepared, daily: pl.LazyFrame) -> pl.LazyFrame:
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
    lower = pl.col("window_start").is_null() | (pl.col("day") >= pl.col("window_start"))
    return (
        exits.join(daily, on=group, how="inner", nulls_equal=True)
        .filter(lower & (pl.col("day") < pl.col("period_start")))
        .group_by([*keys, IDX])
        .agg(pl.col("micros").sum().alias("lost_revenue"))
    )


#: The sums of churn's kernel (besides the group and period): counts of customers and
#: money in micros, each a sum over customers, so the sums of disjoint sets of customers
#: add up (SPEC §8).
SUM_COLUMNS: tuple[str, ...] = (
    "customers_start",
    "churned",
    *MONEY_COLUMNS,
    "_kept_now",
    "_kept_floor",
)


def churn_table(
    prep: Prepared,
    resampling: Resampling | None = None,
    *,
    convention: Convention = DEFAULT,
) -> pl.DataFrame:
    """Churn per group and period with the revenue retention of SPEC §2.4; with
    ``resampling``, nrr's and grr's bootstrap bounds after the columns. ``convention``
    (:mod:`.conventions`): with ``join_and_churn``, ``churned`` also counts the period's
    ``new_lost``; its quick ratio and revenue churn rate as it defines them."""
    sums = churn_counts(prep, resampling, convention=convention)
    return finish_churn(
        sums, prep.grid, prep.keys, complete_flag(prep), convention, resampled=resampling
    )


def churn_counts(
    prep: Prepared,
    resampling: Resampling | None = None,
    *,
    convention: Convention = DEFAULT,
) -> pl.LazyFrame:
    """The kernel: ``keys..., idx`` and the :data:`SUM_COLUMNS` of the customers in
    ``prep`` (every period of the grid for each group they are in); with ``resampling``
    also the bootstrap bounds (not sums: only for all the customers at once)."""
    keys = list(prep.keys)
    if prep.events is None:
        raise InputError("churn needs orders with an amount column for its revenue figures")
    # Every row's revenue on its day: both figures sum further (per period, per
    # window), so the rows are not first summed per day. Collected once: the sums per
    # period read it once per slice, and each read classified the lines again.
    daily = revenue_lines(prep.events, keys, purchase=True).collect().lazy()
    counts = activity.boundary_table(prep.runs, prep.first_period, prep.grid, keys, prep.groups)
    churned = pl.col("churned")
    if convention.join_and_churn:
        churned = churned + pl.col("new_lost")
    extra = [b for r in RATIOS["churn"] for b in bounds(r)] if resampling is not None else []
    sums = [c for c in SUM_COLUMNS if c not in ("customers_start", "churned")]
    return (
        counts.select(*keys, IDX, "customers_start", churned.alias("churned"))
        .join(prep.grid.periods().select(IDX, "period_start"), on=IDX, how="left")
        .join(
            revenue_movements(prep, daily, resampling),
            on=[*keys, "period_start"],
            how="left",
            nulls_equal=True,
        )
        .join(lost_revenue(prep, daily), on=[*keys, IDX], how="left", nulls_equal=True)
        .with_columns(pl.col(c).fill_null(0) for c in sums)
        .select(*keys, IDX, *SUM_COLUMNS, *extra)
    )


def finish_churn(
    sums: pl.LazyFrame,
    grid: activity.Grid,
    keys: Sequence[str],
    complete: pl.Expr,
    convention: Convention = DEFAULT,
    *,
    resampled: Resampling | None = None,
) -> pl.DataFrame:
    """The merge: the kernel's sums (of one set of customers, or added over several) as
    churn's table: money from micros, the rates, the periods' dates and ``complete``."""
    keys = list(keys)
    extra = [b for r in RATIOS["churn"] for b in bounds(r)] if resampled is not None else []
    table = (
        sums.join(grid.periods(), on=IDX, how="left")
        .with_columns(
            ratio("churned", "customers_start").alias("churn_rate"),
            complete.alias("complete"),
        )
        .with_columns(revenue_ratios(convention))
        .with_columns(money(c).alias(c) for c in MONEY_COLUMNS)
    )
    columns = churn_columns(convention)
    return table.sort([*keys, IDX]).select(*keys, *columns, *extra).collect()
