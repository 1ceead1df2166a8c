"""RFM scores and segments per customer, as of a day.

Per customer with at least one purchase day in ``[start, as_of)`` (``as_of``
defaults to the day after the last purchase; ``--end`` moves it to the day
after ``--end``):

- recency_days = as_of − the last purchase day (1 for a purchase the day before)
- frequency = number of purchase days (several orders on one day are one)
- monetary = net revenue (returns netted as in ``events``) with a revenue day
  in ``[start, as_of)``

Scores 1–5 are quintiles of the customer's rank among n customers (within each
``--by`` group), ties sharing the lowest rank of their group:
``score = 1 + floor(5 × w / n)`` where w = the number of customers strictly
worse (R: a larger recency; F: a smaller frequency; M: a smaller monetary).
Equal values always get equal scores, and a score never depends on row order.
Computed from 4 cuts per group and measure (SPEC §8; the same passes on one partition
here as on Spark's executors): the k-th cut is the smallest value v with
5 × count(values worse than v) >= k × n, found from a histogram of the values (R and F
exactly; M in coarse bins of its micros, then the exact values of the bins holding a
cut), and a customer scores 1 + the number of cuts their value reaches. The summary is
sums per segment (customers, micros, recency and frequency), means = sums / customers.
``rfm_score`` is the three digits, e.g. ``"545"``.

Segments come from R and FM = floor((F + M) / 2) on the widely used R × FM grid:

========  ==============  ==================  ==================  ==========  ================
R \\ FM    1               2                   3                   4           5
========  ==============  ==================  ==================  ==========  ================
5         New             Potential loyalist  Potential loyalist  Champions   Champions
4         Promising       Potential loyalist  Potential loyalist  Loyal       Loyal
3         About to sleep  About to sleep      Need attention      Loyal       Loyal
2         Hibernating     Hibernating         At risk             At risk     Cannot lose them
1         Lost            Hibernating         At risk             At risk     Cannot lose them
========  ==============  ==================  ==================  ==========  ================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from retcalc.engines import Rows, as_rows
from retcalc.errors import InputError
from retcalc.kernels.keys import keyed_lines, with_ids
from retcalc.metrics.activity import CUSTOMER, over
from retcalc.metrics.common import Params, ratio
from retcalc.metrics.events import events_of, purchase_days
from retcalc.metrics.money import event_micros, money, to_micros

#: Segment of each (R, FM) cell: ``SEGMENT_GRID[r][fm - 1]``.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Cannot lose them"),
    1: ("Lost", "Hibernating", "At risk", "At risk", "Cannot lose them"),
}

#: Segments from best to worst, the order of the summary.
SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "Cannot lose them",
    "At risk",
    "Hibernating",
    "Lost",
)

CUSTOMER_COLUMNS: tuple[str, ...] = (
    CUSTOMER,
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "segment",
)

SUMMARY_COLUMNS: tuple[str, ...] = (
    "segment",
    "customers",
    "share",
    "revenue",
    "avg_recency_days",
    "avg_frequency",
    "avg_monetary",
)

RATE_COLUMNS: tuple[str, ...] = ("share",)


def segment_table() -> pl.DataFrame:
    """The R × FM grid as rows ``r_score, fm_score, segment``."""
    return pl.DataFrame(
        [(r, fm, name) for r, row in SEGMENT_GRID.items() for fm, name in enumerate(row, start=1)],
        schema={"r_score": pl.Int64, "fm_score": pl.Int64, "segment": pl.String},
        orient="row",
    )


def reference_day(
    orders: Rows | pl.LazyFrame | None, params: Params, last: dt.date | None = None
) -> dt.date:
    """The as-of day: ``--as-of``, the day after ``--end``, else the day after the last
    purchase (of ``orders``, or ``last`` when the orders are elsewhere)."""
    cut = params.as_of
    if params.end is not None:
        after_end = params.end + dt.timedelta(days=1)
        cut = after_end if cut is None else min(cut, after_end)
    if cut is not None:
        return cut
    if orders is not None:
        events = events_of(as_rows(orders))
        last = events.filter(pl.col("is_purchase")).select(pl.col("day").max()).collect().item()
    if last is None:
        raise InputError("no purchases: every row is a return or a cancellation")
    return last + dt.timedelta(days=1)


def rfm_scores(
    orders: Rows | pl.LazyFrame, *, params: Params, micros: bool = False
) -> pl.DataFrame:
    """Per customer (per ``--by`` group): recency_days, frequency, monetary, the R, F and M
    scores, rfm_score and segment (see the module docstring for every formula).
    ``micros``: with ``_micros`` too, monetary in exact integer micros (for
    :func:`rfm_segments`)."""
    group = [*params.by, CUSTOMER]
    orders = as_rows(orders)
    as_of = reference_day(orders, params)
    # Grouped, ranked and joined on integer keys, the ids put back before the sort: the
    # same table, held in far less memory than on the text ids.
    # The keys leave their low bits to the days: each customer's purchase days are then
    # one sort of one word per row (kernels.words.sorted_days).
    orders, ids = keyed_lines(orders, day_bits=True)
    scores = _scores(orders, params, as_of)
    del orders  # the plan holds the lines
    exact = ["_micros"] if micros else []
    columns = [*params.by, *CUSTOMER_COLUMNS, *exact]
    if ids is not None:
        keyed = scores.select(columns).collect()
        del scores  # the lines go before the ids are put back
        scores = with_ids(keyed, ids).lazy()
        del keyed, ids
    result = scores.sort(group).select(columns).collect()
    if result.height == 0:
        raise nothing_to_score(params, as_of)
    return result


def nothing_to_score(params: Params, as_of: dt.date) -> InputError:
    """The refusal when no customer has a purchase day in ``[start, as_of)``."""
    window = f"from {params.start} " if params.start else ""
    return InputError(f"no purchases {window}before {as_of}: nothing to score")


def _scores(orders: Rows, params: Params, as_of: dt.date) -> pl.LazyFrame:
    """:func:`rfm_scores`' rows, in no order: each customer's values, scored against the
    cuts of the whole data (one partition holding every customer)."""
    keys = tuple(params.by)
    values = customer_values(orders, params, as_of).collect()
    return scored(values.lazy(), global_cuts(values.lazy(), keys), keys)


def customer_values(orders: Rows, params: Params, as_of: dt.date) -> pl.LazyFrame:
    """Per customer (per ``--by`` group) with a purchase day in ``[start, as_of)``:
    recency_days, frequency and ``_micros`` (net revenue in integer micros), in no order:
    the per-customer step of every path (a partition of whole customers gives its
    customers' rows)."""
    keys = list(params.by)
    group = [*keys, CUSTOMER]
    events = events_of(orders, as_of)
    days = purchase_days(events, keys, keyed=orders.keyed)
    # Summed per row: the same integer micros as summing daily_revenue's days.
    revenue = events.filter(pl.col("revenue_day") < as_of)
    if params.start is not None:
        lower = pl.lit(params.start, dtype=pl.Date)
        days = days.filter(pl.col("day") >= lower)
        revenue = revenue.filter(pl.col("revenue_day") >= lower)
    return (
        days.group_by(group)
        .agg(
            pl.col("day").max().alias("_last"),
            pl.len().cast(pl.Int64).alias("frequency"),
        )
        .join(
            revenue.group_by(group).agg(event_micros(events).sum().alias("_micros")),
            on=group,
            how="left",
            nulls_equal=True,
        )
        .select(
            *group,
            (pl.lit(as_of, dtype=pl.Date) - pl.col("_last")).dt.total_days().alias("recency_days"),
            "frequency",
            pl.col("_micros").fill_null(0),
        )
    )


# Global state: the cuts. A score is 1 + floor(5 w / n), w the customers strictly worse,
# so it is at least k + 1 exactly when 5 w >= k n (k = 1..4; w < n keeps it at most 5).
# w grows with the value, so on each group's values the k-th cut is the smallest value v
# with 5 × count(values < v) >= k × n (none when no value qualifies): a customer scores
# 1 + the number of cuts at or below their value. Every measure is taken as a value that
# is larger for a better customer (R: minus the recency).

#: The measures scored: their score column and their value (larger is better).
MEASURES: dict[str, tuple[str, pl.Expr]] = {
    "r": ("r_score", -pl.col("recency_days")),
    "f": ("f_score", pl.col("frequency")),
    "m": ("m_score", pl.col("_micros")),
}
QUINTILES = (1, 2, 3, 4)
#: Binary digits after the leading one that a money bin keeps: 32 bins per doubling.
MONEY_BITS = 5


def money_bin(micros: pl.Expr, bits: int = MONEY_BITS) -> pl.Expr:
    """A coarse bin of integer micros, growing with the value (never smaller for a larger
    value): the value itself below ``2^(bits + 1)``, else its bit length and the ``bits``
    binary digits after its leading one; negative values mirrored. In integers only, so
    every machine bins alike."""
    width = 2 ** (bits + 1)
    size = micros.abs().clip(upper_bound=2**63 - 1).cast(pl.UInt64)
    length = 64 - size.bitwise_leading_zeros().cast(pl.Int64)
    top = size.cast(pl.Int64) // pl.lit(2, dtype=pl.Int64).pow((length - bits - 1).clip(0))
    magnitude = (
        pl.when(length <= bits + 1).then(size.cast(pl.Int64)).otherwise(length * width + top)
    )
    return (magnitude * micros.sign().cast(pl.Int64)).alias("bin")


def measure_values(
    values: pl.LazyFrame, money_bins: Callable[[pl.Expr], pl.Expr] = money_bin
) -> pl.LazyFrame:
    """``values`` (of :func:`customer_values`) as one row per customer and measure:
    ``measure``, ``value`` (Int128) and its ``bin``: the value itself for R and F (small
    integers: a histogram of them is exact), ``money_bins`` of it for M."""
    columns = values.collect_schema().names()
    keys = [c for c in columns if c not in (CUSTOMER, "recency_days", "frequency", "_micros")]
    return pl.concat(
        [
            values.select(
                *keys,
                pl.lit(name).alias("measure"),
                value.cast(pl.Int128).alias("value"),
                (money_bins(value) if name == "m" else value.cast(pl.Int64)).alias("bin"),
            )
            for name, (_, value) in MEASURES.items()
        ]
    )


def value_histogram(values: pl.LazyFrame, keys: Sequence[str], **bins: Any) -> pl.LazyFrame:
    """Pass 1 (a kernel: additive over sets of customers, ``least`` by its minimum): per
    group, measure and bin, the ``customers`` and the ``least`` value."""
    return (
        measure_values(values, **bins)
        .group_by([*keys, "measure", "bin"])
        .agg(pl.len().cast(pl.Int64).alias("customers"), pl.col("value").min().alias("least"))
    )


def crossings(histogram: pl.LazyFrame, keys: Sequence[str]) -> pl.DataFrame:
    """From the whole histogram, per group, measure and k: the ``bin`` that holds the k-th
    cut unless the cut is the ``next`` bin's least value (the last bin whose values have
    ``5 × below < k × n``, below = the customers in lower bins), ``below`` and ``n``.
    Values in lower bins are short of the cut, values in higher bins past it."""
    cell = [*keys, "measure"]
    ranked = histogram.sort([*cell, "bin"]).with_columns(
        (pl.col("customers").cum_sum() - pl.col("customers")).over(cell).alias("below"),
        pl.col("customers").sum().over(cell).alias("n"),
    )
    short = 5 * pl.col("below") < pl.col("k") * pl.col("n")
    return (
        ranked.join(pl.LazyFrame({"k": QUINTILES}, schema={"k": pl.Int64}), how="cross")
        .group_by([*cell, "k"])
        .agg(
            pl.col("bin").filter(short).max(),
            pl.col("below").filter(short).max(),
            pl.col("n").first(),
            pl.col("least").filter(~short).min().alias("next"),
        )
        .collect()
    )


def refinement(
    values: pl.LazyFrame, keys: Sequence[str], crossing: pl.DataFrame, **bins: Any
) -> pl.LazyFrame:
    """Pass 2 (a kernel, additive): the exact distinct values and their ``customers`` in
    the bins that hold a cut (one value per bin for R and F)."""
    cell = [*keys, "measure", "bin"]
    wanted = crossing.lazy().select(cell).unique()
    return (
        measure_values(values, **bins)
        .join(wanted, on=cell, how="semi", nulls_equal=True)
        .group_by([*cell, "value"])
        .agg(pl.len().cast(pl.Int64).alias("customers"))
    )


def cuts_of(crossing: pl.DataFrame, refined: pl.LazyFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Per group, measure and k, the ``cut``: the smallest value with ``5 × w >= k × n``,
    w = below its bin + the customers of its bin with a smaller value; else the next bin's
    least value; null when no value qualifies."""
    cell = [*keys, "measure", "k"]
    inside = (
        refined.join(crossing.lazy(), on=[*keys, "measure", "bin"], nulls_equal=True)
        .sort([*cell, "value"])
        .with_columns(
            (pl.col("below") + pl.col("customers").cum_sum() - pl.col("customers"))
            .over(cell)
            .alias("w")
        )
        .group_by(cell)
        .agg(pl.col("value").filter(5 * pl.col("w") >= pl.col("k") * pl.col("n")).min())
    )
    return (
        crossing.lazy()
        .join(inside, on=cell, how="left", nulls_equal=True)
        .select(*cell, pl.coalesce("value", "next").alias("cut"))
        .collect()
    )


def global_cuts(values: pl.LazyFrame, keys: Sequence[str], **bins: Any) -> pl.DataFrame:
    """The cuts of ``values`` (every customer) by the passes the Spark engine runs over
    its partitions, here over one: histogram, crossing bins, refinement, cuts."""
    crossing = crossings(value_histogram(values, keys, **bins), keys)
    return cuts_of(crossing, refinement(values, keys, crossing, **bins), keys)


def scored(values: pl.LazyFrame, cuts: pl.DataFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """``values`` (of :func:`customer_values`) with the R, F and M scores (1 + the cuts of
    the customer's group at or below their value), fm_score, rfm_score, monetary and the
    segment."""
    group = list(keys)
    wide = (
        cuts.lazy()
        .group_by(group or pl.lit(0).alias("_all"))
        .agg(
            pl.col("cut")
            .filter((pl.col("measure") == name) & (pl.col("k") == k))
            .first()
            .alias(f"_{name}{k}")
            for name in MEASURES
            for k in QUINTILES
        )
    )
    if group:
        values = values.join(wide, on=group, how="left", nulls_equal=True)
    else:
        values = values.join(wide.drop("_all"), how="cross")
    scores = [
        (
            1
            + pl.sum_horizontal(
                (value.cast(pl.Int128) >= pl.col(f"_{name}{k}")).fill_null(False).cast(pl.Int64)
                for k in QUINTILES
            )
        ).alias(score)
        for name, (score, value) in MEASURES.items()
    ]
    cut_columns = [f"_{name}{k}" for name in MEASURES for k in QUINTILES]
    return (
        values.with_columns(scores)
        .drop(cut_columns)
        .with_columns(
            ((pl.col("f_score") + pl.col("m_score")) // 2).alias("fm_score"),
            pl.concat_str([pl.col("r_score"), pl.col("f_score"), pl.col("m_score")]).alias(
                "rfm_score"
            ),
            money(pl.col("_micros")).alias("monetary"),
        )
        .join(segment_table().lazy(), on=["r_score", "fm_score"], how="left")
    )


#: What :func:`segment_sums` adds per group and segment (``_micros`` in Int128).
SUM_COLUMNS: tuple[str, ...] = ("customers", "_micros", "_recency_days", "_frequency")


def rfm_segments(scores: pl.DataFrame, keys: tuple[str, ...] = ()) -> pl.DataFrame:
    """Per segment (every segment of the grid, per ``--by`` group): customers, share of the
    customers, revenue (sum of monetary), and the mean recency, frequency and monetary."""
    if "_micros" not in scores.columns:  # scores made elsewhere: monetary as read
        scores = scores.with_columns(to_micros(pl.col("monetary")).alias("_micros"))
    return finish_segments(segment_sums(scores.lazy(), keys), keys)


def segment_sums(scores: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """The segment summary's kernel (additive over sets of customers): per group and
    segment, the customers and the sums of their micros, recency_days and frequency."""
    return scores.group_by([*keys, "segment"]).agg(
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("_micros").sum().cast(pl.Int128).alias("_micros"),
        pl.col("recency_days").sum().cast(pl.Int64).alias("_recency_days"),
        pl.col("frequency").sum().cast(pl.Int64).alias("_frequency"),
    )


def segment_partials(values: pl.LazyFrame, keys: Sequence[str], cuts: pl.DataFrame) -> pl.LazyFrame:
    """Pass 3 (a kernel): ``values`` of a set of customers scored with the whole data's
    ``cuts``, summed per group and segment."""
    return segment_sums(scored(values, cuts, keys), keys)


#: How each pass's partial columns add up over sets of customers: summed, or their
#: minimum (``least``); the other columns are the cell.
ADDED: dict[str, str] = {"least": "min"} | dict.fromkeys(SUM_COLUMNS, "sum")


def add_partials(parts: pl.LazyFrame) -> pl.LazyFrame:
    """Partials of several sets of customers (one pass's) added per cell (:data:`ADDED`)."""
    columns = parts.collect_schema().names()
    cell = [c for c in columns if c not in ADDED]
    return parts.group_by(cell).agg(getattr(pl.col(c), ADDED[c])() for c in columns if c in ADDED)


def finish_segments(sums: pl.LazyFrame, keys: Sequence[str]) -> pl.DataFrame:
    """The merge: :func:`segment_sums` (of one partition, or summed over several) as the
    summary, every segment of the grid per group, means = sums / customers."""
    group = list(keys)
    order = pl.DataFrame(
        {"segment": list(SEGMENTS), "_order": list(range(len(SEGMENTS)))},
        schema={"segment": pl.String, "_order": pl.Int64},
    ).lazy()
    base = order if not group else sums.select(group).unique().join(order, how="cross")
    return (
        base.join(sums, on=[*group, "segment"], how="left", nulls_equal=True)
        .with_columns(pl.col("customers").fill_null(0), pl.col("_micros").fill_null(0))
        .with_columns(
            ratio("customers", over(pl.col("customers").sum(), group)).alias("share"),
            money(pl.col("_micros")).alias("revenue"),
            ratio("_recency_days", "customers").alias("avg_recency_days"),
            ratio("_frequency", "customers").alias("avg_frequency"),
            ratio(money(pl.col("_micros")), "customers").round(6).alias("avg_monetary"),
        )
        .sort([*group, "_order"])
        .select(*group, *SUMMARY_COLUMNS)
        .collect()
    )
