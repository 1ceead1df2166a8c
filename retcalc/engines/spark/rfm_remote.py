"""rfm on the executors (SPEC §8): the passes of :mod:`retcalc.metrics.rfm`, each a
``mapInArrow`` over the rows left on Spark (whole customers per partition), its partials
added per cell by Spark, the next pass given what the driver found from the last one:

1. per group, measure and bin: customers and least value (R and F exact, M in coarse
   bins of its micros);
2. the exact values (with their customers) of the bins that hold one of the 4 cuts;
3. each customer scored with the cuts, summed per group and segment.

What reaches the driver is bounded by the days of history (R, F), the money bins, the
distinct values of at most 4 bins per group (M) and the segments; never a row per
customer. :data:`partials.collected` records the sum over the three passes.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from retcalc.engines import Holds, Rows
from retcalc.engines.spark import partials


def segments(remote: partials.Remote, params: Any) -> pl.DataFrame:
    """rfm's segment summary of ``params`` computed on the executors."""
    from retcalc.metrics.rfm import SUM_COLUMNS, finish_segments, nothing_to_score, segment_partials

    keys = tuple(params.by)
    as_of, cuts, run = _cuts(remote, params)
    money = ("_micros",)
    sums = run(
        functools.partial(segment_partials, keys=keys, cuts=cuts),
        {
            **{k: remote.schema[k] for k in keys},
            "segment": pl.String(),
            **{c: pl.Int128() if c in money else pl.Int64() for c in SUM_COLUMNS},
        },
    )
    if sums["customers"].sum() == 0:
        raise nothing_to_score(params, as_of)
    return finish_segments(sums.lazy(), keys)


def write_scores(remote: partials.Remote, params: Any, path: Path) -> int:
    """``rfm --per-customer``: the cuts found as for the summary, then the executors score
    their customers and write each one's row (the default engine's table, sorted by group
    and customer) as a Parquet directory at ``path``; the number of customers written."""
    from retcalc.engines.spark.written import write_customers
    from retcalc.metrics.rfm import CUSTOMER_COLUMNS, nothing_to_score

    keys = tuple(params.by)
    as_of, cuts, _ = _cuts(remote, params)
    schema: dict[str, pl.DataType] = {k: remote.schema[k] for k in keys}
    scores = (pl.Int64(), pl.Int64(), pl.Int64())
    types = (pl.String(), pl.Int64(), pl.Int64(), pl.Float64(), *scores, pl.String(), pl.String())
    schema.update(dict(zip(CUSTOMER_COLUMNS, types, strict=True)))
    columns = list(schema)
    compute = functools.partial(_scored, params=params, as_of=as_of, cuts=cuts, columns=columns)
    written = write_customers(remote, compute, schema, [*keys, "customer_id"], path)
    if not written:
        raise nothing_to_score(params, as_of)
    return written


def _scored(
    rows: Rows, *, params: Any, as_of: dt.date, cuts: pl.DataFrame, columns: Sequence[str]
) -> pl.DataFrame:
    from retcalc.metrics.rfm import customer_values, scored

    values = customer_values(rows, params, as_of)
    return scored(values, cuts, tuple(params.by)).select(list(columns)).collect()


def _cuts(
    remote: partials.Remote, params: Any
) -> tuple[dt.date, pl.DataFrame, Callable[..., pl.DataFrame]]:
    """Passes 1 and 2 on the executors: the as-of day, the cuts of every group and
    measure, and the runner of a further pass (what each pass collected is counted in
    ``partials.collected``)."""
    from retcalc.metrics.rfm import (
        crossings,
        cuts_of,
        reference_day,
        refinement,
        value_histogram,
    )

    keys = tuple(params.by)
    as_of = reference_day(None, params, remote.last)
    group: dict[str, pl.DataType] = {k: remote.schema[k] for k in keys}
    cell = {**group, "measure": pl.String(), "bin": pl.Int64()}
    tally = {"rows": 0, "bytes": 0}

    def run(
        step: Callable[[pl.LazyFrame], pl.LazyFrame], schema: dict[str, pl.DataType]
    ) -> pl.DataFrame:
        kernel = _Kernel(remote, params, as_of, step, schema)
        found = _added(remote, kernel, schema, tally)
        partials.collected.update(tally)
        return found

    histogram = run(
        functools.partial(value_histogram, keys=keys),
        {**cell, "customers": pl.Int64(), "least": pl.Int128()},
    )
    crossing = crossings(histogram.lazy(), keys)
    refined = run(
        functools.partial(refinement, keys=keys, crossing=crossing),
        {**cell, "value": pl.Int128(), "customers": pl.Int64()},
    )
    return as_of, cuts_of(crossing, refined.lazy(), keys), run


def _added(
    remote: partials.Remote,
    kernel: _Kernel,
    schema: dict[str, pl.DataType],
    tally: dict[str, int],
) -> pl.DataFrame:
    """The kernel's partials over every partition, added per cell by Spark
    (:data:`retcalc.metrics.rfm.ADDED`: summed, or the minimum); the rows and bytes
    collected added to ``tally``."""
    from pyspark.sql import functions as F

    from retcalc.engines.spark.load import spark_schema, to_arrow
    from retcalc.metrics.rfm import ADDED

    found = remote.rows.mapInArrow(kernel, spark_schema(schema))
    cell = [c for c in schema if c not in ADDED]
    how = {"sum": F.sum, "min": F.min}
    added = found.groupBy(*cell).agg(*(how[ADDED[c]](c).alias(c) for c in schema if c in ADDED))
    arrow = to_arrow(added)
    tally["rows"] += arrow.num_rows
    tally["bytes"] += arrow.nbytes
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    if frame.width == 0:  # no partial at all: Arrow gives no schema
        return pl.DataFrame(schema=schema)
    return frame.select(list(schema)).cast({c: t for c, t in schema.items()})


class _Kernel:
    """``mapInArrow`` body: one pass (``step``) over the values of a partition's customers
    (:func:`retcalc.metrics.rfm.customer_values` as of ``as_of``), as the columns of
    ``schema``."""

    def __init__(
        self,
        remote: partials.Remote,
        params: Any,
        as_of: dt.date,
        step: Callable[[pl.LazyFrame], pl.LazyFrame],
        schema: dict[str, pl.DataType],
    ) -> None:
        # What the task needs of ``remote``, not the Spark frame.
        self.schema, self.level, self.has_amount = remote.schema, remote.level, remote.has_amount
        self.params, self.as_of, self.step = params, as_of, step
        self.columns: Sequence[str] = list(schema)  # Spark takes the columns by position

    def __call__(self, batches: Iterable[Any]) -> Iterator[Any]:
        from retcalc.metrics.rfm import customer_values

        events = partials.partition_events(batches, self.schema, self.level, self.has_amount)
        if events is None:
            return
        rows = Rows(events.lazy(), Holds(self.level))
        values = customer_values(rows, self.params, self.as_of).collect()
        if values.height == 0:
            return
        found = self.step(values.lazy()).select(self.columns).collect()
        # Arrow (and so Spark) has no 128-bit integer: micros travel as decimal(38, 0).
        wide = [c for c, t in found.schema.items() if t == pl.Int128]
        found = found.with_columns(pl.col(wide).cast(pl.Decimal(38, 0)))
        yield from found.to_arrow().to_batches()
