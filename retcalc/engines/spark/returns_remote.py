"""``returns`` on the executors (SPEC §8): the order lines stay on Spark, partitioned by
order id, so each task holds every line of its orders; a first pass finds the span of
sales (:func:`retcalc.metrics.returns.lines_span` per partition, its minimum, maximum
and any), then each task runs :func:`retcalc.metrics.returns.returns_counts` on its
orders with the whole data's grid, Spark sums the counts per cell (keys, period) and the
driver merges them (:func:`retcalc.metrics.returns.finish_returns`). What reaches the
driver is one row per cell, whatever the number of lines.

What needs rows across orders is computed on the driver from the lines collected
(:meth:`Remote.collected`): a returns file (a row may be matched by customer),
``--ci`` (a bootstrap over customers) and ``--top``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import polars as pl

from retcalc.engines import Level
from retcalc.engines.spark import batches as b
from retcalc.engines.spark.partials import Remote
from retcalc.io.frames import LoadOptions


def lines_left_on_spark(
    rows: Any,
    schema: dict[str, pl.DataType],
    keys: list[str],
    has_amount: bool,
    options: LoadOptions,
) -> Remote:
    """The order lines (``rows``, partitioned by order, of ``schema``) kept on Spark and
    cached; the driver learns only their last day before --as-of (the stale-data check)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    day = F.col("day")
    if options.as_of is not None:
        day = F.when(day < F.lit(options.as_of), day)
    (last_day,) = rows.agg(F.max(day)).first()
    return Remote(
        rows=rows,
        schema=schema,
        keys=tuple(keys),
        has_amount=has_amount,
        first=None,
        last=None,
        last_day=last_day,
        level=Level.lines,
    )


def returns_on_executors(remote: Remote, params: Any, *, by_return_date: bool) -> Any:
    """:func:`retcalc.metrics.returns.returns_table` of ``params`` (no returns file, no
    bootstrap) with the kernel on the executors."""
    from pyspark.sql import functions as F

    from retcalc.engines.spark.load import spark_schema, to_arrow
    from retcalc.metrics import returns as r
    from retcalc.metrics.activity import IDX

    keys = list(dict.fromkeys(params.by))
    as_of = params.as_of
    of_lines = functools.partial(r.lines_span, as_of=as_of)
    spans = remote.rows.mapInArrow(
        _OnLines(remote.schema, of_lines, r.SPAN_COLUMNS), spark_schema(r.SPAN_COLUMNS)
    )
    found = spans.agg(
        F.min("first").alias("first"),
        F.max("last").alias("last"),
        F.bool_or("informs").alias("informs"),
    )
    span = pl.from_arrow(to_arrow(found))
    assert isinstance(span, pl.DataFrame)
    span = span.cast({c: t for c, t in r.SPAN_COLUMNS.items()})
    first, last = r.sale_span(span, has_file=False, as_of=as_of)
    grid = r.sales_grid(params, first, last)
    schema = r.counts_schema(keys)
    counts = functools.partial(
        r.returns_counts, keys=keys, grid=grid, as_of=as_of, by_return_date=by_return_date
    )
    kernel = _OnLines(remote.schema, counts, schema)
    summed = remote._sums(kernel, schema, [*keys, IDX], latest=[r.LAST_RETURN])
    result = r.finish_returns(summed, grid, keys, last_sale=last, as_of=as_of)
    return r.ReturnsResult(result.table.drop(IDX), result.warnings)


class _OnLines:
    """``mapInArrow`` body: ``body`` of one partition's order lines (in file order), as
    the columns of ``out``."""

    def __init__(
        self,
        schema: dict[str, pl.DataType],
        body: Callable[[pl.LazyFrame], pl.DataFrame],
        out: dict[str, pl.DataType],
    ) -> None:
        self.schema, self.body, self.columns = schema, body, list(out)

    def __call__(self, batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from retcalc.engines.spark.load import as_lines

        parts = list(batches)
        if not parts:
            return
        frame = pl.from_arrow(pa.Table.from_batches(parts))
        assert isinstance(frame, pl.DataFrame)
        if frame.height == 0:
            return
        frame = (
            frame.cast({c: t for c, t in self.schema.items()}).sort(b.FILE, b.ID).drop(b.FILE, b.ID)
        )
        out = self.body(as_lines(frame).lazy()).select(self.columns)
        # Arrow (and so Spark) has no 128-bit integer: micros travel as decimal(38, 0).
        wide = [c for c, t in out.schema.items() if t == pl.Int128]
        yield from out.with_columns(pl.col(wide).cast(pl.Decimal(38, 0))).to_arrow().to_batches()
