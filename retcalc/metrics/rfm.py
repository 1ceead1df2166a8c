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

import polars as pl

from retcalc.engines import Rows, as_rows
from retcalc.errors import InputError
from retcalc.kernels.keys import keyed_lines, with_ids
from retcalc.metrics.activity import CUSTOMER, over
from retcalc.metrics.common import Params, ratio
from retcalc.metrics.events import daily_revenue, events_of, purchase_days
from retcalc.metrics.money import money, to_micros

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


def quintile(worse: pl.Expr, n: pl.Expr) -> pl.Expr:
    """``1 + floor(5 × worse / n)``: the quintile of a customer with ``worse`` customers below."""
    return (pl.lit(1, dtype=pl.Int64) + (worse.cast(pl.Int64) * 5) // n.cast(pl.Int64)).alias(
        "score"
    )


def reference_day(orders: Rows | pl.LazyFrame, params: Params) -> dt.date:
    """The as-of day: ``--as-of``, the day after ``--end``, else the day after the last purchase."""
    cut = params.as_of
    if params.end is not None:
        after_end = params.end + dt.timedelta(days=1)
        cut = after_end if cut is None else min(cut, after_end)
    if cut is not None:
        return cut
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
    orders, ids = keyed_lines(orders)
    scores = _scores(orders, params, as_of)
    del orders  # the plan holds the lines
    if ids is not None:
        keyed = scores.collect()
        del scores  # the lines go before the ids are put back
        scores = with_ids(keyed, ids).lazy()
        del keyed, ids
    exact = ["_micros"] if micros else []
    result = scores.sort(group).select(*params.by, *CUSTOMER_COLUMNS, *exact).collect()
    if result.height == 0:
        window = f"from {params.start} " if params.start else ""
        raise InputError(f"no purchases {window}before {as_of}: nothing to score")
    return result


def _scores(orders: Rows, params: Params, as_of: dt.date) -> pl.LazyFrame:
    """:func:`rfm_scores`' rows, in no order."""
    keys = list(params.by)
    group = [*keys, CUSTOMER]
    events = events_of(orders, as_of)
    days = purchase_days(events, keys, keyed=orders.keyed)
    revenue = daily_revenue(events, keys).filter(pl.col("day") < as_of)
    if params.start is not None:
        lower = pl.lit(params.start, dtype=pl.Date)
        days = days.filter(pl.col("day") >= lower)
        revenue = revenue.filter(pl.col("day") >= lower)
    per_customer = (
        days.group_by(group)
        .agg(
            pl.col("day").max().alias("_last"),
            pl.len().cast(pl.Int64).alias("frequency"),
        )
        .join(
            revenue.group_by(group).agg(pl.col("micros").sum().alias("_micros")),
            on=group,
            how="left",
            nulls_equal=True,
        )
        .with_columns(
            (pl.lit(as_of, dtype=pl.Date) - pl.col("_last")).dt.total_days().alias("recency_days"),
            pl.col("_micros").fill_null(0),
        )
    )
    n = over(pl.len(), keys)
    strictly_worse = {
        "r_score": over(pl.col("recency_days").rank("min", descending=True), keys) - 1,
        "f_score": over(pl.col("frequency").rank("min"), keys) - 1,
        "m_score": over(pl.col("_micros").rank("min"), keys) - 1,
    }
    scored = per_customer.with_columns(
        quintile(worse, n).alias(name) for name, worse in strictly_worse.items()
    ).with_columns(
        ((pl.col("f_score") + pl.col("m_score")) // 2).alias("fm_score"),
        pl.concat_str([pl.col("r_score"), pl.col("f_score"), pl.col("m_score")]).alias("rfm_score"),
        money(pl.col("_micros")).alias("monetary"),
    )
    return scored.join(segment_table().lazy(), on=["r_score", "fm_score"], how="left")


def rfm_segments(scores: pl.DataFrame, keys: tuple[str, ...] = ()) -> pl.DataFrame:
    """Per segment (every segment of the grid, per ``--by`` group): customers, share of the
    customers, revenue (sum of monetary), and the mean recency, frequency and monetary."""
    group = list(keys)
    order = pl.DataFrame(
        {"segment": list(SEGMENTS), "_order": list(range(len(SEGMENTS)))},
        schema={"segment": pl.String, "_order": pl.Int64},
    ).lazy()
    if "_micros" not in scores.columns:  # scores made elsewhere: monetary as read
        scores = scores.with_columns(to_micros(pl.col("monetary")).alias("_micros"))
    frame = scores.lazy()
    base = order if not group else frame.select(group).unique().join(order, how="cross")
    per_segment = frame.group_by([*group, "segment"]).agg(
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("_micros").sum().alias("_micros"),
        pl.col("recency_days").mean().alias("avg_recency_days"),
        pl.col("frequency").mean().alias("avg_frequency"),
    )
    return (
        base.join(per_segment, on=[*group, "segment"], how="left", nulls_equal=True)
        .with_columns(pl.col("customers").fill_null(0), pl.col("_micros").fill_null(0))
        .with_columns(
            ratio("customers", over(pl.col("customers").sum(), group)).alias("share"),
            money(pl.col("_micros")).alias("revenue"),
            ratio(money(pl.col("_micros")), "customers").round(6).alias("avg_monetary"),
        )
        .sort([*group, "_order"])
        .select(*group, *SUMMARY_COLUMNS)
        .collect()
    )
