"""Metrics on the executors (SPEC §8): each task runs a metric's kernel on the rows of
whole customers and returns additive partial counts; Spark sums them per group and
period, and the driver turns the sums into the table (rates, dates, ``complete``).

The kernel is the Polars engine's own code (:func:`retcalc.metrics.retention.
retention_counts` over :func:`retcalc.metrics.common.prepare_activity`), run on each
partition with the grid of the whole data (its first and last purchase day, found by
a small first pass), so both engines agree by construction: on Polars the same kernel
runs on one partition holding every customer. What reaches the driver is one row per
group and period, whatever the number of order lines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
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
    and partitioned by customer, with what the driver knows of them."""

    rows: Any  # a Spark frame with the columns of ``schema``
    schema: dict[str, pl.DataType]
    keys: tuple[str, ...]  # the --by columns the rows carry
    has_amount: bool
    first: dt.date | None  # the first and last purchase day
    last: dt.date | None
    last_day: dt.date | None  # the last day of any row (stale-data check)

    def retention(self, params: Any, *, convention: Convention = DEFAULT) -> pl.DataFrame:
        """The retention table (activity basis) of ``params`` computed on the executors."""
        from retcalc.metrics.activity import IDX, Grid
        from retcalc.metrics.choices import Basis
        from retcalc.metrics.common import completeness, grid_range, no_purchases
        from retcalc.metrics.retention import COUNT_COLUMNS, finish_retention
        from retcalc.periods import observed_end

        if self.first is None or self.last is None:
            raise no_purchases(params.as_of)
        span = (self.first, self.last)
        keys = tuple(params.by)
        schema: dict[str, pl.DataType] = {k: self.schema[k] for k in keys}
        schema[IDX] = pl.Int64()
        schema.update({c: pl.Int64() for c in COUNT_COLUMNS})
        kernel = _Kernel(self.schema, self.has_amount, params, span, convention)
        summed = self._sums(kernel, schema, [*keys, IDX], COUNT_COLUMNS)
        grid = Grid.build(*grid_range(params, *span), params.period, params.window)
        data_end = observed_end(self.last, params.as_of)
        complete = completeness(Basis.activity, params.window, self.first, data_end)
        return finish_retention(summed.lazy(), grid, keys, complete)

    def _sums(
        self,
        kernel: _Kernel,
        schema: dict[str, pl.DataType],
        group: Sequence[str],
        counts: Sequence[str],
    ) -> pl.DataFrame:
        from pyspark.sql import functions as F

        from retcalc.engines.spark.load import spark_schema, to_arrow

        partials = self.rows.mapInArrow(kernel, spark_schema(schema))
        summed = partials.groupBy(*group).agg(*(F.sum(c).alias(c) for c in counts))
        arrow = to_arrow(summed)
        collected.update(rows=arrow.num_rows, bytes=arrow.nbytes)
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        if frame.width == 0:  # no partial at all: Arrow gives no schema
            return pl.DataFrame(schema=schema)
        return frame.cast({c: t for c, t in schema.items()})


@dataclasses.dataclass(frozen=True)
class _Kernel:
    """``mapInArrow`` body: the retention counts of one partition's customers."""

    schema: dict[str, pl.DataType]
    has_amount: bool
    params: Any
    span: tuple[dt.date, dt.date]
    convention: Convention

    def __call__(self, batches: Iterable[Any]) -> Iterator[Any]:
        from retcalc.metrics.common import prepare_activity
        from retcalc.metrics.retention import retention_counts

        days = _partition_days(batches, self.schema, self.has_amount)
        if days is None or not days["is_purchase"].any():
            return
        prep = prepare_activity(Rows(days.lazy(), Holds(Level.days)), self.params, span=self.span)
        counts = retention_counts(prep, convention=self.convention)
        yield from counts.collect().to_arrow().to_batches()


def _partition_days(
    batches: Iterable[Any], schema: dict[str, pl.DataType], has_amount: bool
) -> pl.DataFrame | None:
    """A partition's reduced rows summed per customer and day, as the driver's
    :func:`batches.events_frame` makes them (None for an empty partition)."""
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
    return b.events_frame(frame.group_by(keys).agg(sums), Level.days)
