"""Metrics on the executors (SPEC §8): each task runs a metric's kernel on the rows of
whole customers and returns additive partial counts; Spark sums them per cell (group and
period, or group, cohort and offset), and the driver turns the sums into the table
(rates, dates, ``complete``).

The kernels are the Polars engine's own code (:func:`retcalc.metrics.retention.
retention_counts`, :func:`retcalc.metrics.churn.churn_counts`,
:func:`retcalc.metrics.cohorts.cohort_counts`, over
:func:`retcalc.metrics.common.prepare_activity`), run on each partition with the grid of
the whole data (its first and last purchase day, found by a small first pass), so both
engines agree by construction: on Polars the same kernel runs on one partition holding
every customer. What reaches the driver is one row per cell, whatever the number of
order lines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import polars as pl

from retcalc.engines import Holds, Level, Rows
from retcalc.engines.spark import batches as b
from retcalc.metrics.conventions import DEFAULT, Convention

#: Rows and bytes of Arrow data the driver collected for the last metric run on the
#: executors in this process: the test of SPEC §8 ("only partials reach the driver")
#: and the bench read them.
collected = {"rows": 0, "bytes": 0}


@dataclasses.dataclass(frozen=True)
class Remote:
    """Order rows left on Spark, reduced per order partition (:func:`batches.reduce_batches`)
    to ``level`` (days, or orders: kept apart per order id) and partitioned by customer,
    with what the driver knows of them."""

    rows: Any  # a Spark frame with the columns of ``schema``
    schema: dict[str, pl.DataType]
    level: Level
    keys: tuple[str, ...]  # the --by columns the rows carry
    has_amount: bool
    first: dt.date | None  # the first and last purchase day
    last: dt.date | None
    last_day: dt.date | None  # the last day of any row (stale-data check)

    def span(self, params: Any) -> tuple[dt.date, dt.date]:
        """The first and last purchase day, refused as the Polars engine does without any."""
        from retcalc.metrics.common import no_purchases

        if self.first is None or self.last is None:
            raise no_purchases(params.as_of)
        return self.first, self.last

    def retention(self, params: Any, *, convention: Convention = DEFAULT) -> pl.DataFrame:
        """The retention table (activity basis) of ``params`` computed on the executors."""
        from retcalc.metrics.retention import COUNT_COLUMNS, finish_retention, retention_counts

        counts = functools.partial(retention_counts, convention=convention)
        sums = dict.fromkeys(COUNT_COLUMNS, pl.Int64())
        summed, grid, complete = self._per_period(params, counts, sums)
        return finish_retention(summed, grid, params.by, complete)

    def churn(self, params: Any, *, convention: Convention = DEFAULT) -> pl.DataFrame:
        """Churn's table (activity basis) of ``params`` computed on the executors."""
        from retcalc.metrics.churn import MONEY_COLUMNS, SUM_COLUMNS, churn_counts, finish_churn

        counts = functools.partial(churn_counts, convention=convention)
        money = (*MONEY_COLUMNS, "_kept_now", "_kept_floor")
        sums = {c: pl.Int128() if c in money else pl.Int64() for c in SUM_COLUMNS}
        summed, grid, complete = self._per_period(params, counts, sums)
        return finish_churn(summed, grid, params.by, complete, convention)

    def _per_period(
        self, params: Any, counts: Callable[..., pl.LazyFrame], sums: Mapping[str, pl.DataType]
    ) -> tuple[pl.LazyFrame, Any, pl.Expr]:
        """A per-period kernel's ``sums`` per group and period over every partition, the
        grid of the whole data and its ``complete`` flag: what the merge takes."""
        from retcalc.metrics.activity import IDX, Grid
        from retcalc.metrics.choices import Basis
        from retcalc.metrics.common import completeness, grid_range
        from retcalc.periods import observed_end

        first, last = span = self.span(params)
        keys = tuple(params.by)
        schema: dict[str, pl.DataType] = {k: self.schema[k] for k in keys}
        schema[IDX] = pl.Int64()
        schema.update(sums)
        summed = self._sums(_Kernel(self, params, span, counts, schema), schema, [*keys, IDX])
        grid = Grid.build(*grid_range(params, *span), params.period, params.window)
        complete = completeness(
            Basis.activity, params.window, first, observed_end(last, params.as_of)
        )
        return summed.lazy(), grid, complete

    def collected(self, loaded: Any) -> Any:
        """``loaded`` with the rows themselves, as the default reading hands them to the
        metrics at ``level`` (for what needs every customer's rows at once)."""
        from retcalc.engines.spark.load import collect_reduced

        rows = collect_reduced(self.rows, self.schema, self.level, has_amount=self.has_amount)
        return dataclasses.replace(loaded, frame=rows, remote=None)

    def cohorts(
        self,
        params: Any,
        *,
        mode: Any,
        min_cohort: int,
        max_offset: int | None,
        convention: Convention = DEFAULT,
    ) -> pl.DataFrame:
        """The cohort table (activity basis, offsets) of ``params`` computed on the executors."""
        from retcalc.metrics.activity import Grid
        from retcalc.metrics.cohorts import (
            CELL_COUNTS,
            COHORT_IDX,
            cohort_counts,
            data_grid,
            finish_cohorts,
            rolling_step,
        )
        from retcalc.metrics.common import grid_range
        from retcalc.periods import observed_end

        span = self.span(params)
        data_end = observed_end(span[1], params.as_of)
        ranged = Grid.build(*grid_range(params, *span), params.period, params.window)
        grid = data_grid(ranged, data_end)
        step = rolling_step(convention, grid)
        keys = tuple(params.by)
        schema: dict[str, pl.DataType] = {k: self.schema[k] for k in keys}
        schema.update({COHORT_IDX: pl.Int64(), "offset": pl.Int64()})
        schema.update({c: pl.Int64() for c in CELL_COUNTS})
        if self.has_amount:
            schema["_micros"] = pl.Int128()
        counts = functools.partial(cohort_counts, mode=mode, grid=grid, step=step)
        kernel = _Kernel(self, params, span, counts, schema, with_runs=False)
        summed = self._sums(kernel, schema, [*keys, COHORT_IDX, "offset"])
        return finish_cohorts(
            summed.lazy(),
            grid,
            keys,
            data_end,
            min_cohort=min_cohort,
            max_offset=max_offset,
            step=step,
        )

    def _sums(
        self, kernel: _Kernel, schema: dict[str, pl.DataType], group: Sequence[str]
    ) -> pl.DataFrame:
        """The kernel's counts over every partition, summed per ``group`` by Spark."""
        from pyspark.sql import functions as F

        from retcalc.engines.spark.load import spark_schema, to_arrow

        partials = self.rows.mapInArrow(kernel, spark_schema(schema))
        counts = [c for c in schema if c not in group]
        summed = partials.groupBy(*group).agg(*(F.sum(c).alias(c) for c in counts))
        arrow = to_arrow(summed)
        collected.update(rows=arrow.num_rows, bytes=arrow.nbytes)
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        if frame.width == 0:  # no partial at all: Arrow gives no schema
            return pl.DataFrame(schema=schema)
        return frame.cast({c: t for c, t in schema.items()})


class _Kernel:
    """``mapInArrow`` body: ``counts`` of one partition's customers, prepared on the whole
    data's span of days, as the columns of ``schema``."""

    def __init__(
        self,
        remote: Remote,
        params: Any,
        span: tuple[dt.date, dt.date],
        counts: Callable[..., pl.LazyFrame],
        schema: dict[str, pl.DataType],
        *,
        with_runs: bool = True,
    ) -> None:
        # What the task needs of ``remote``, not the Spark frame.
        self.schema, self.level, self.has_amount = remote.schema, remote.level, remote.has_amount
        self.params, self.span, self.counts, self.with_runs = params, span, counts, with_runs
        self.columns = list(schema)  # Spark takes the kernel's columns by position

    def __call__(self, batches: Iterable[Any]) -> Iterator[Any]:
        from retcalc.metrics.common import prepare_activity

        events = partition_events(batches, self.schema, self.level, self.has_amount)
        if events is None or not events["is_purchase"].any():
            return
        rows = Rows(events.lazy(), Holds(self.level))
        prep = prepare_activity(rows, self.params, with_runs=self.with_runs, span=self.span)
        counts = self.counts(prep).select(self.columns).collect()
        # Arrow (and so Spark) has no 128-bit integer: micros travel as decimal(38, 0).
        wide = [c for c, t in counts.schema.items() if t == pl.Int128]
        counts = counts.with_columns(pl.col(wide).cast(pl.Decimal(38, 0)))
        yield from counts.to_arrow().to_batches()


def partition_events(
    batches: Iterable[Any], schema: dict[str, pl.DataType], level: Level, has_amount: bool
) -> pl.DataFrame | None:
    """A partition's reduced rows summed per reduced row's group (a day's, or an order's,
    rows come from several order partitions), as :func:`load.collect_reduced` hands them
    to the metrics at ``level`` (None for an empty partition)."""
    import pyarrow as pa

    parts = list(batches)
    if not parts:
        return None
    frame = pl.from_arrow(pa.Table.from_batches(parts))
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return None
    frame = frame.cast({c: t for c, t in schema.items() if c in frame.columns})
    keys = [c for c in frame.columns if c not in ("micros", "amount")]
    sums = [pl.col("micros").sum()]
    if has_amount:
        sums.append(pl.col("amount").sum())
    return b.events_frame(frame.group_by(keys).agg(sums), level)
