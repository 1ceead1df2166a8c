"""Business KPIs over one range or per period (SPEC §2.8).

A *range* is a half-open interval of days ``[s, e)``: by default the whole
chosen range (one row, ``e`` = the day after ``range_end``), or each calendar
period of the grid. Purchases, purchase days, revenue and "active" are the
ones of ``events``, ``activity`` and ``retention``; nothing is redefined here.

- customers = customers with at least one purchase row in ``[s, e)``
- orders = distinct ``(customer_id, order_id)`` among those purchase rows (each
  row is an order without an ``order_id`` column, or when its id is empty)
- revenue = net revenue of every row whose revenue day is in ``[s, e)``
- new_customers = customers whose first purchase ever is in ``[s, e)``
- active_customers = customers active at ``e`` (SPEC §2.1, ``--active-window``)
- churn_rate = churned / CS and crr = (CE − CN) / CS, from ``s`` to ``e``
- purchase_frequency = orders / customers; aov = revenue / orders;
  revenue_per_customer = revenue / customers
- repeat_purchase_rate = customers with >= 2 orders in the range / customers
- loyal_customer_rate = customers with >= ``loyal_orders`` orders / customers
- median/mean_days_between_purchases: pooled gaps in days between a customer's
  consecutive purchase days that both lie in ``[s, e)``; ``median_days_k_to_k+1``
  (``by_sequence``) keeps the gaps between the k-th and (k+1)-th purchase day of
  the customer's whole history
- existing_customer_revenue_growth = R_now / R_prev − 1 over customers whose
  first purchase is before ``s``: R_now = their revenue in ``[s, e)``, R_prev =
  their revenue in the previous range (``[s − (e − s), s)`` for one range, the
  previous calendar period per period); null when R_prev <= 0
- nps = 100 × (responses scoring 9–10 − responses scoring 0–6) / responses
  dated in ``[s, e)``; nps_churned / nps_retained: the same over responses of
  customers active at ``s`` who are not / are still active at ``e``
- dso = receivables / credit sales × days in the range: credit sales = revenue
  of purchase rows in ``[s, e)``, receivables = the part of it not paid before
  ``e`` (``paid_day`` empty or on or after ``e``; a row without a paid date
  takes the latest paid date of its order)

Every ratio is null when its denominator is 0.

SPEC §8: :func:`kpi_counts` is the kernel (over a set of whole customers: retention's
counts, the order counts, revenue and R_now / R_prev in micros per range, and a histogram
of the day gaps, from which the medians are exact) and :func:`finish_kpis` the merge. NPS,
dso and aov's bootstrap need every customer's rows at once: they are computed beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

import polars as pl

from retcalc.errors import InputError, UsageError
from retcalc.kernels.parts import part_filters, parts_for
from retcalc.metrics import activity
from retcalc.metrics.activity import CUSTOMER, IDX, Grid
from retcalc.metrics.bootstrap import Resampling, ratio_bounds
from retcalc.metrics.common import Params, Prepared, complete_flag, grid_range, ratio
from retcalc.metrics.conventions import DEFAULT, Convention
from retcalc.metrics.events import revenue_lines
from retcalc.metrics.intervals import RATIOS, SHARES, interval_columns, placed
from retcalc.metrics.money import MICROS, event_micros, money
from retcalc.metrics.retention import COUNT_COLUMNS, finish_retention, retention_counts
from retcalc.periods import window_starts

#: The column of the orders holding the day an order was paid (``--paid-col``).
PAID = "paid_day"

#: ``median_days_k_to_k+1`` columns go up to the gap between the 4th and 5th purchase day.
MAX_SEQUENCE = 5

KPI_COLUMNS: tuple[str, ...] = (
    "customers",
    "orders",
    "revenue",
    "new_customers",
    "active_customers",
    "churn_rate",
    "crr",
    "purchase_frequency",
    "aov",
    "revenue_per_customer",
    "repeat_purchase_rate",
    "loyal_customer_rate",
    "median_days_between_purchases",
    "mean_days_between_purchases",
)
GROWTH = "existing_customer_revenue_growth"

#: The kernel's sums per range besides retention's counts (:func:`kpi_counts`), and
#: those in micros.
CELL_SUMS: tuple[str, ...] = (
    "customers",
    "orders",
    "_repeat",
    "_loyal",
    "_micros",
    "_now",
    "_prev",
)
MICROS_SUMS: tuple[str, ...] = ("_micros", "_now", "_prev")
#: The gap histogram's columns: the later purchase day's rank in the customer's history
#: (with --by-sequence), the gap in days, how many gaps.
SEQ, GAP, GAPS = "_seq", "_gap", "_gaps"
NPS_COLUMNS: tuple[str, ...] = ("nps_responses", "nps", "nps_churned", "nps_retained")

RATE_COLUMNS: tuple[str, ...] = (
    "churn_rate",
    "crr",
    "repeat_purchase_rate",
    "loyal_customer_rate",
    GROWTH,
)


def sequence_columns() -> list[str]:
    """``median_days_1_to_2`` ... ``median_days_4_to_5``."""
    return [f"median_days_{k}_to_{k + 1}" for k in range(1, MAX_SEQUENCE)]


def range_bounds(
    prep: Prepared, params: Params, last: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """First and last day of the range: ``--start``, else the first purchase day; and
    ``periods.range_end`` of the last purchase day (the rule of every grid). ``last``:
    the last purchase day of all the data when ``prep`` holds some customers of it."""
    assert prep.purchases is not None
    if last is None:
        last = prep.purchases.select(pl.col("day").max()).collect().item()
    assert last is not None
    return grid_range(params, prep.data_start, last)


def range_grid(params: Params, lo: dt.date, hi: dt.date) -> Grid:
    """The grid of one period ``[lo, hi + 1 day)``."""
    bounds = pl.Series("boundary", [lo, hi + dt.timedelta(days=1)], dtype=pl.Date)
    starts = None if params.window.is_all else window_starts(bounds, params.window)
    return Grid(params.period, params.window, bounds, starts)


def one_range(prep: Prepared, params: Params, last: dt.date | None = None) -> Prepared:
    """The groundwork on a single period ``[range_start, range_end + 1 day)``; ``last``
    as in :func:`range_bounds` (a kernel's part takes the whole data's range).

    The activity runs are rebuilt with ``activity`` on that one-period grid, so
    "active at the range start / end" is exactly SPEC §2.1's definition.
    """
    assert prep.purchases is not None
    grid = range_grid(params, *range_bounds(prep, params, last))
    # The purchase days of prepare_activity are sorted, as purchase_runs needs: it finds
    # the runs in one pass, far faster than the lazy group-by of activity.runs
    # (bench/README.md, "Why the code is so").
    runs = activity.purchase_runs(prep.purchases.collect(), grid, prep.keys).lazy()
    first_period = prep.first_period.with_columns(
        grid.period_index(pl.col("first_day")).alias("first_idx")
    )
    return replace(prep, grid=grid, runs=runs, first_period=first_period)


def _in_grid(frame: pl.LazyFrame, grid: Grid, day: str = "day") -> pl.LazyFrame:
    """Rows whose ``day`` falls in a period of the grid, with that period's index."""
    return frame.with_columns(grid.period_index(pl.col(day)).alias(IDX)).filter(
        pl.col(IDX).is_between(0, grid.n_periods - 1)
    )


def _summed_in_parts(
    prep: Prepared, compute: Callable[[pl.Expr], pl.LazyFrame], parts: int
) -> pl.LazyFrame:
    """Sums per range (``keys..., IDX``) that ``compute(where)`` gives over the customers
    ``where`` keeps, done in ``parts`` parts of the customers (``parts.part_filters``) and
    added up: the group-bys per customer of a large input hold one part's customers at a
    time.
    """
    done = [compute(where).collect() for where in part_filters(CUSTOMER, parts)]
    if parts == 1:
        return done[0].lazy()
    on = [*prep.keys, IDX]
    return pl.concat(done).lazy().group_by(on).agg(pl.exclude(on).sum())


def _orders_per_customer(prep: Prepared, where: pl.Expr) -> pl.LazyFrame:
    """``keys..., CUSTOMER, IDX, orders``: each customer's orders per range, of the
    customers ``where`` keeps."""
    assert prep.events is not None
    keys = list(prep.keys)
    if "order_id" in prep.events.collect_schema():
        orders = pl.col("order_id").drop_nulls().n_unique() + pl.col("order_id").null_count()
    else:
        orders = pl.len()
    rows = _in_grid(prep.events.filter(pl.col("is_purchase") & where), prep.grid)
    return rows.group_by([*keys, CUSTOMER, IDX]).agg(orders.cast(pl.Int64).alias("orders"))


def _order_counts(prep: Prepared, loyal_orders: int, parts: int) -> pl.LazyFrame:
    """customers, orders, and customers with >= 2 / >= ``loyal_orders`` orders per range."""
    keys = list(prep.keys)

    def counts(where: pl.Expr) -> pl.LazyFrame:
        per_customer = _orders_per_customer(prep, where)
        return per_customer.group_by([*keys, IDX]).agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("orders").sum().alias("orders"),
            (pl.col("orders") >= 2).sum().cast(pl.Int64).alias("_repeat"),
            (pl.col("orders") >= loyal_orders).sum().cast(pl.Int64).alias("_loyal"),
        )

    return _summed_in_parts(prep, counts, parts)


def _revenue(prep: Prepared) -> pl.LazyFrame:
    """Net revenue (micros) per range."""
    assert prep.events is not None
    keys = list(prep.keys)
    rows = _in_grid(revenue_lines(prep.events, keys), prep.grid)
    return rows.group_by([*keys, IDX]).agg(pl.col("micros").sum().alias("_micros"))


def _aov_bounds(prep: Prepared, resampling: Resampling) -> pl.LazyFrame:
    """aov's bootstrap bounds per range: each customer's net revenue in the range (as
    in :func:`_revenue`) over their orders there (as in :func:`_order_counts`)."""
    assert prep.events is not None
    keys = list(prep.keys)
    group = [*keys, CUSTOMER, IDX]
    rows = _in_grid(revenue_lines(prep.events, keys), prep.grid)
    revenue = rows.group_by(group).agg(pl.col("micros").sum().alias("_micros"))
    orders = _orders_per_customer(prep, pl.lit(True))
    per_customer = (
        revenue.join(orders, on=group, how="full", coalesce=True, nulls_equal=True)
        .select(
            *group,
            (pl.col("_micros").fill_null(0).cast(pl.Float64) / MICROS).alias("_revenue"),
            pl.col("orders").fill_null(0),
        )
        .collect()
    )
    return ratio_bounds(
        per_customer,
        cells=[*keys, IDX],
        customer=CUSTOMER,
        ratios={"aov": ("_revenue", "orders")},
        how=resampling,
    ).lazy()


def _gap_histogram(prep: Prepared, by_sequence: bool) -> pl.LazyFrame:
    """``keys..., IDX, [SEQ], GAP, GAPS``: how many gaps of each length in days lie
    between consecutive purchase days inside each range; by ``SEQ`` (the later day's
    rank in the customer's history, :data:`MAX_SEQUENCE` + 1 for any later one) with
    ``by_sequence``."""
    assert prep.purchases is not None
    keys = list(prep.keys)
    grid = prep.grid
    # The purchase days of prepare_activity are sorted by customer and day: a customer's
    # previous day is the row before when it has the same customer (no window by group).
    same = activity.same_group(keys)
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    days = (
        prep.purchases.with_columns(
            pl.when(same).then(pl.col("day").shift(1)).alias("_prev"),
            (activity.since_group_start(row, keys) + 1).alias(SEQ),
        )
        .filter(pl.col("_prev").is_not_null())
        .with_columns(
            (pl.col("day") - pl.col("_prev")).dt.total_days().cast(pl.Int64).alias(GAP),
            grid.period_index(pl.col("day")).alias(IDX),
            grid.period_index(pl.col("_prev")).alias("_prev_idx"),
        )
        .filter(
            (pl.col(IDX) == pl.col("_prev_idx")) & pl.col(IDX).is_between(0, grid.n_periods - 1)
        )
    )
    group = _histogram_group(keys, by_sequence)
    if by_sequence:
        days = days.with_columns(pl.col(SEQ).clip(upper_bound=MAX_SEQUENCE + 1))
    return days.group_by(group).agg(pl.len().cast(pl.Int64).alias(GAPS))


def _histogram_group(keys: Sequence[str], by_sequence: bool) -> list[str]:
    return [*keys, IDX, *([SEQ] if by_sequence else []), GAP]


def _median_of(count: pl.Expr) -> pl.Expr:
    """The median of gaps counted by ``count`` (on a group's histogram rows): the middle
    value, or the mean of the two middle values of an even count (as Polars' median);
    null without any gap."""
    order = pl.col(GAP)
    count = count.sort_by(order)
    gap = order.sort_by(order).cast(pl.Float64)
    n = count.sum()
    below = count.cum_sum()
    low, high = (gap.filter(below > k).first() for k in ((n - 1) // 2, n // 2))
    return pl.when(n > 0).then((low + high) / 2.0)


def _gap_figures(histogram: pl.LazyFrame, keys: Sequence[str], by_sequence: bool) -> pl.LazyFrame:
    """Pooled median and mean gap per range from the summed histogram (and the median
    between the k-th and (k+1)-th purchase day with ``by_sequence``)."""
    count = pl.col(GAPS)
    n = count.sum()
    aggs = [
        _median_of(count).alias("median_days_between_purchases"),
        pl.when(n > 0)
        .then((pl.col(GAP) * count).sum().cast(pl.Float64) / n.cast(pl.Float64))
        .alias("mean_days_between_purchases"),
    ]
    if by_sequence:
        aggs += [
            _median_of(pl.when(pl.col(SEQ) == k + 1).then(count).otherwise(0)).alias(name)
            for k, name in enumerate(sequence_columns(), start=1)
        ]
    return histogram.group_by([*keys, IDX]).agg(aggs)


def _previous_starts(prep: Prepared, per_period: bool) -> pl.Series:
    """Boundaries of the previous ranges: range i's previous range is ``[p[i], p[i + 1])``."""
    grid = prep.grid
    first, second = grid.bounds[0], grid.bounds[1]
    if per_period:
        before = pl.select(
            pl.lit(first, dtype=pl.Date).dt.offset_by("-" + grid.period.every)
        ).item()
    else:
        before = first - (second - first)
    head = pl.Series("boundary", [before], dtype=pl.Date)
    return pl.concat([head, grid.bounds[: grid.n_periods]])


def _growth_sums(prep: Prepared, per_period: bool, parts: int) -> pl.LazyFrame:
    """R_now and R_prev (micros) of existing_customer_revenue_growth per range (see the
    module docstring) as ``_now`` and ``_prev``."""
    assert prep.events is not None
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    grid = prep.grid
    previous_bounds = _previous_starts(prep, per_period)
    first = prep.first_period.select(*group, "first_day").collect().lazy()
    starts = grid.periods().select(IDX, "period_start")

    def totals(where: pl.Expr) -> pl.LazyFrame:
        assert prep.events is not None
        rows = revenue_lines(prep.events.filter(where), keys)
        now = _in_grid(rows, grid).group_by([*group, IDX]).agg(pl.col("micros").sum().alias("_now"))
        prev = (
            rows.with_columns(
                (
                    pl.lit(previous_bounds)
                    .search_sorted(pl.col("day"), side="right")
                    .cast(pl.Int64)
                    - 1
                ).alias(IDX)
            )
            .filter(pl.col(IDX).is_between(0, grid.n_periods - 1))
            .group_by([*group, IDX])
            .agg(pl.col("micros").sum().alias("_prev"))
        )
        existing = (
            now.join(prev, on=[*group, IDX], how="full", coalesce=True, nulls_equal=True)
            .join(first.filter(where), on=group, how="inner", nulls_equal=True)
            .join(starts, on=IDX, how="left")
            .filter(pl.col("first_day") < pl.col("period_start"))
        )
        return existing.group_by([*keys, IDX]).agg(
            pl.col("_now").fill_null(0).sum().alias("_now"),
            pl.col("_prev").fill_null(0).sum().alias("_prev"),
        )

    return _summed_in_parts(prep, totals, parts)


def _growth() -> pl.Expr:
    """existing_customer_revenue_growth from its sums; null when R_prev <= 0."""
    return (
        pl.when(pl.col("_prev") > 0)
        .then(pl.col("_now").cast(pl.Float64) / pl.col("_prev").cast(pl.Float64) - 1.0)
        .otherwise(None)
        .alias(GROWTH)
    )


def _nps_score(promoters: pl.Expr, detractors: pl.Expr, responses: pl.Expr) -> pl.Expr:
    return ratio((promoters - detractors) * 100, responses)


def _nps(prep: Prepared, responses: pl.LazyFrame, as_of: dt.date | None) -> pl.LazyFrame:
    """NPS per range, and over respondents who churned / stayed (see the module docstring)."""
    assert prep.purchases is not None
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    if as_of is not None:
        responses = responses.filter(pl.col("day") < as_of)
    dated = _in_grid(responses, prep.grid)
    if keys:
        # A respondent belongs to each group in which they purchased.
        dated = dated.join(prep.purchases.select(group).unique(), on=CUSTOMER, how="inner")
    per_customer = dated.group_by([*group, IDX]).agg(
        pl.len().cast(pl.Int64).alias("_n"),
        (pl.col("score") >= 9).sum().cast(pl.Int64).alias("_pro"),
        (pl.col("score") <= 6).sum().cast(pl.Int64).alias("_det"),
    )
    runs = prep.runs.with_columns(pl.col("P").cast(pl.Int64), pl.col("Q").cast(pl.Int64))
    status = (
        per_customer.select(*group, IDX)
        .join(runs, on=group, how="inner", nulls_equal=True)
        .filter((pl.col("P") <= pl.col(IDX)) & (pl.col(IDX) < pl.col("Q")))
        .select(
            *group,
            IDX,
            (pl.col("Q") == pl.col(IDX) + 1).alias("_churned"),
            (pl.col("Q") >= pl.col(IDX) + 2).alias("_retained"),
        )
    )
    marked = per_customer.join(status, on=[*group, IDX], how="left", nulls_equal=True).with_columns(
        pl.col("_churned").fill_null(False), pl.col("_retained").fill_null(False)
    )

    def among(column: str, where: pl.Expr | None) -> pl.Expr:
        value = pl.col(column)
        return (value if where is None else pl.when(where).then(value).otherwise(0)).sum()

    def score(where: pl.Expr | None) -> pl.Expr:
        return _nps_score(among("_pro", where), among("_det", where), among("_n", where))

    return marked.group_by([*keys, IDX]).agg(
        pl.col("_n").sum().alias("nps_responses"),
        score(None).alias("nps"),
        score(pl.col("_churned")).alias("nps_churned"),
        score(pl.col("_retained")).alias("nps_retained"),
    )


def _dso(prep: Prepared, as_of: dt.date | None) -> pl.LazyFrame:
    """Days sales outstanding per range (see the module docstring)."""
    assert prep.events is not None
    if PAID not in prep.events.collect_schema():
        raise InputError("dso needs the orders' paid dates (--paid-col)")
    keys = list(prep.keys)
    paid = pl.col(PAID)
    if "order_id" in prep.events.collect_schema():
        # Line exports (Shopify) date the payment on an order's first line only.
        of_order = pl.when(pl.col("order_id").is_not_null()).then(paid.max().over("order_id"))
        paid = pl.coalesce(paid, of_order)
    if as_of is not None:
        paid = pl.when(paid < as_of).then(paid)  # a payment on or after --as-of is not seen
    rows = _in_grid(prep.events.filter(pl.col("is_purchase")), prep.grid).join(
        prep.grid.periods().select(IDX, "period_start", "period_end"), on=IDX, how="left"
    )
    micros = event_micros(prep.events)
    unpaid = paid.is_null() | (paid >= pl.col("period_end"))
    totals = rows.group_by([*keys, IDX]).agg(
        micros.sum().alias("_credit"),
        pl.when(unpaid).then(micros).otherwise(0).sum().alias("_receivable"),
        (pl.col("period_end") - pl.col("period_start")).dt.total_days().first().alias("_days"),
    )
    return totals.select(
        *keys,
        IDX,
        pl.when(pl.col("_credit") > 0)
        .then(
            pl.col("_receivable").cast(pl.Float64)
            / pl.col("_credit").cast(pl.Float64)
            * pl.col("_days").cast(pl.Float64)
        )
        .otherwise(None)
        .alias("dso"),
    )


def check_loyal_orders(loyal_orders: int) -> None:
    if loyal_orders < 1:
        raise UsageError(f"--loyal-orders must be at least 1, not {loyal_orders}")


def kpi_counts(
    prep: Prepared,
    *,
    per_period: bool,
    loyal_orders: int = 4,
    by_sequence: bool = False,
    convention: Convention = DEFAULT,
) -> pl.LazyFrame:
    """The kernel (SPEC §8): additive partials of the customers in ``prep``, prepared on
    the grid of its ranges (:func:`one_range` for one range), in two kinds of rows:

    - per range (``keys..., IDX``, ``GAP`` null): retention's ``COUNT_COLUMNS`` and the
      :data:`CELL_SUMS` (customers, orders, those with >= 2 and >= ``loyal_orders``
      orders, revenue, the existing customers' R_now and R_prev, in micros);
    - per range (``SEQ`` with ``by_sequence``) and gap length ``GAP`` in days: ``GAPS``,
      how many gaps of that length (a histogram: the medians are exact from it).

    Summed per :func:`partial_group` over sets of whole customers, they are the partials
    of their union, which :func:`finish_kpis` turns into the table.
    """
    assert prep.events is not None
    # The classified rows feed every part below: classify them once.
    events = prep.events.collect()
    parts = parts_for(events.height)
    prep = replace(prep, events=events.lazy())
    keys = list(prep.keys)
    on = [*keys, IDX]
    cells = retention_counts(prep, convention=convention)
    figures = [
        _order_counts(prep, loyal_orders, parts),
        _revenue(prep),
        _growth_sums(prep, per_period, parts),
    ]
    for figure in figures:
        cells = cells.join(figure, on=on, how="left", nulls_equal=True)
    cells = cells.with_columns(
        pl.col(c).fill_null(0).cast(pl.Int128 if c in MICROS_SUMS else pl.Int64) for c in CELL_SUMS
    )
    histogram = _gap_histogram(prep, by_sequence)
    columns = [*partial_group(keys, by_sequence), *COUNT_COLUMNS, *CELL_SUMS, GAPS]
    # A range's row has no gap (null), a gap's row no range sums (null).
    return pl.concat([cells, histogram], how="diagonal").select(columns)


def partial_group(keys: Sequence[str], by_sequence: bool) -> list[str]:
    """What :func:`kpi_counts`' rows are summed per: ``keys..., IDX, [SEQ], GAP``."""
    return _histogram_group(keys, by_sequence)


def kpi_partials(
    prep: Prepared,
    *,
    params: Params,
    per_period: bool,
    last: dt.date,
    loyal_orders: int = 4,
    by_sequence: bool = False,
    convention: Convention = DEFAULT,
) -> pl.LazyFrame:
    """:func:`kpi_counts` of a part of the customers prepared on the whole data's span
    (``prepare_activity(..., span=...)``; ``last``: its last purchase day): one range is
    the whole data's range, not the part's."""
    if not per_period:
        prep = one_range(prep, params, last)
    return kpi_counts(
        prep,
        per_period=per_period,
        loyal_orders=loyal_orders,
        by_sequence=by_sequence,
        convention=convention,
    )


def finish_kpis(
    partials: pl.LazyFrame,
    grid: Grid,
    keys: Sequence[str],
    complete: pl.Expr,
    *,
    per_period: bool,
    by_sequence: bool = False,
    figures: Sequence[pl.LazyFrame] = (),
    nps: bool = False,
    dso: bool = False,
    ci: float | None = None,
    resampling: Resampling | None = None,
) -> pl.DataFrame:
    """The merge: :func:`kpi_counts`' partials (of one set of customers, or summed per
    :func:`partial_group` over several) as the table on ``grid`` (the ranges'). ``figures``:
    more columns per range (``keys..., IDX``) computed from every customer's rows at once:
    the NPS columns (``nps``), dso (``dso``), aov's bootstrap bounds (``resampling``)."""
    keys = list(keys)
    on = [*keys, IDX]
    cells = partials.filter(pl.col(GAP).is_null())
    histogram = partials.filter(pl.col(GAP).is_not_null())
    base = (
        finish_retention(cells.select(*on, *COUNT_COLUMNS), grid, keys, complete)
        .lazy()
        .join(grid.periods().select(IDX, "period_start"), on="period_start", how="left")
    )
    table = base.join(cells.select(*on, *CELL_SUMS), on=on, how="left", nulls_equal=True)
    table = table.join(
        _gap_figures(histogram, keys, by_sequence), on=on, how="left", nulls_equal=True
    )
    for figure in figures:
        table = table.join(figure, on=on, how="left", nulls_equal=True)
    counts = ["customers", "orders", "_repeat", "_loyal"]
    if nps:
        counts.append("nps_responses")
    revenue = money(pl.col("_micros"))
    table = table.with_columns(
        *(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts),
        *(pl.col(c).fill_null(0).cast(pl.Int128) for c in MICROS_SUMS),
    ).with_columns(
        revenue.alias("revenue"),
        pl.col("customers_end").alias("active_customers"),
        ratio("orders", "customers").alias("purchase_frequency"),
        ratio(revenue, "orders").alias("aov"),
        ratio(revenue, "customers").alias("revenue_per_customer"),
        ratio("_repeat", "customers").alias("repeat_purchase_rate"),
        ratio("_loyal", "customers").alias("loyal_customer_rate"),
        _growth(),
    )
    columns = list(KPI_COLUMNS)
    if by_sequence:
        columns += sequence_columns()
    columns.append(GROWTH)
    if nps:
        columns += NPS_COLUMNS
    if dso:
        columns.append("dso")
    if ci is not None:
        table = table.with_columns(interval_columns(SHARES["kpis"], ci))
        columns = placed(columns, SHARES["kpis"])
    if resampling is not None:
        columns = placed(columns, dict.fromkeys(RATIOS["kpis"]))
    table = table.sort(on)
    if per_period:
        return table.select(*keys, "period_start", "period_end", *columns, "complete").collect()
    return table.select(
        *keys,
        pl.col("period_start").alias("range_start"),
        (pl.col("period_end") - pl.duration(days=1)).alias("range_end"),
        *columns,
    ).collect()


def kpi_table(
    prep: Prepared,
    *,
    params: Params,
    per_period: bool = False,
    loyal_orders: int = 4,
    by_sequence: bool = False,
    nps: pl.LazyFrame | None = None,
    dso: bool = False,
    ci: float | None = None,
    resampling: Resampling | None = None,
    convention: Convention = DEFAULT,
) -> pl.DataFrame:
    """The KPIs of SPEC §2.8 over the range (one row per group) or per period of the grid.
    ``ci``: with the Wilson bounds of the shares at that level (:mod:`.intervals`);
    ``resampling``: with aov's bootstrap bounds (:mod:`.bootstrap`).

    ``prep`` is the activity groundwork (``prepare_activity``); ``nps`` holds survey
    responses ``customer_id, day, score``; ``dso`` needs a ``paid_day`` column on
    the orders. One range: ``range_start, range_end`` (the last day, inclusive)
    then the KPIs; per period: ``period_start, period_end`` (exclusive), the KPIs
    and ``complete``. The kernel (:func:`kpi_counts`) runs on every customer at once,
    then the merge (:func:`finish_kpis`); NPS, dso and aov's bootstrap are computed
    from the rows here.
    """
    if prep.events is None or prep.purchases is None:
        raise InputError("kpis needs an orders file")
    check_loyal_orders(loyal_orders)
    # The classified rows feed every part below: classify them once.
    prep = replace(prep, events=prep.events.collect().lazy())
    if not per_period:
        prep = one_range(prep, params)
    partials = kpi_counts(
        prep,
        per_period=per_period,
        loyal_orders=loyal_orders,
        by_sequence=by_sequence,
        convention=convention,
    )
    figures = []
    if nps is not None:
        figures.append(_nps(prep, nps, params.as_of))
    if dso:
        figures.append(_dso(prep, params.as_of))
    if resampling is not None:
        figures.append(_aov_bounds(prep, resampling))
    return finish_kpis(
        partials,
        prep.grid,
        prep.keys,
        complete_flag(prep),
        per_period=per_period,
        by_sequence=by_sequence,
        figures=figures,
        nps=nps is not None,
        dso=dso,
        ci=ci,
        resampling=resampling,
    )
