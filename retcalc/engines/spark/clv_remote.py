"""``clv`` on the executors (SPEC §8): each task runs a kernel of the Polars engine on the
rows of its whole customers (:class:`~retcalc.engines.spark.partials.Remote`, partitioned
by customer), Spark sums the kernel's additive rows, and the driver merges them.

- historical (group table): :func:`retcalc.metrics.clv.historical.historical_counts`
  per task, :func:`~retcalc.metrics.clv.historical.finish_historical` on the driver; one
  row per ``--by`` group reaches it.
- bgnbd (group table): a first pass counts the customers of each distinct
  ``(x, t_x, T)`` and ``(x, m)`` (:func:`retcalc.metrics.clv.fit_counts`), the driver fits
  both models on the counts (:func:`~retcalc.metrics.clv.fit_from_counts`: the fit on
  every customer); a second pass scores each task's customers with the fitted parameters
  and sums the table's columns exactly (:func:`~retcalc.metrics.clv.sum_parts`), merged
  by :func:`~retcalc.metrics.clv.merge_sums`. The driver receives the distinct values and
  a few dozen rows per group, not the customers.

Each task summarises its customers over the whole data's observation end (its last
purchase day, known from the load's first pass), so both engines agree by construction.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from retcalc.engines import Rows
from retcalc.engines.spark import partials
from retcalc.engines.spark.partials import Remote
from retcalc.engines.spark.written import Customers, write_customers


def _summed(
    remote: Remote,
    compute: Callable[[Rows], pl.DataFrame],
    schema: dict[str, pl.DataType],
    group: Sequence[str],
) -> pl.DataFrame:
    """``compute`` over every partition's customers, summed per ``group`` by Spark."""
    return remote._sums(Customers(remote, compute, schema), schema, group)


def historical(remote: Remote, params: Any) -> pl.DataFrame:
    """``clv --model historical``'s group table of ``params`` computed on the executors."""
    from retcalc.metrics.clv.historical import SUM_SCHEMA, finish_historical

    keys = tuple(params.by)
    schema: dict[str, pl.DataType] = {k: remote.schema[k] for k in keys}
    schema.update(SUM_SCHEMA)
    compute = functools.partial(
        _historical_counts, keys=keys, start=params.start, end=params.end, as_of=params.as_of
    )
    summed = _summed(remote, compute, schema, keys)
    return finish_historical(summed, keys)


def _historical_counts(rows: Rows, **options: Any) -> pl.DataFrame:
    from retcalc.metrics.clv.historical import historical_counts

    return historical_counts(rows, **options).collect()


def bgnbd(
    remote: Remote,
    params: Any | None,
    *,
    keys: Sequence[str],
    as_of: dt.date | None,
    time_unit: Any,
    penalizer: float,
    spend_penalizer: float,
    horizon: float,
    margin: float,
    discount_per_month: float,
    groups: bool = True,
) -> tuple[Any, dt.date, pl.DataFrame | None]:
    """``clv --model bgnbd``'s models (``params``, else fitted on the executors' counts of
    distinct values), its observation end and its group table (scored on the executors;
    None without ``groups``). ``partials.collected`` counts what both passes sent to the
    driver."""
    from retcalc.metrics.clv import PART_SCHEMA, SUMMED_COLUMNS, group_table, merge_sums

    end = observation_end(remote, as_of)
    partials.collected.update(rows=0, bytes=0)
    received = [0, 0]

    def count(frame: pl.DataFrame) -> pl.DataFrame:
        received[0] += partials.collected["rows"]
        received[1] += partials.collected["bytes"]
        return frame

    summary = functools.partial(
        _summary, as_of=as_of, time_unit=time_unit, keys=tuple(keys), last_purchase=remote.last
    )
    if params is None:
        from retcalc.metrics.clv import FIT_COLUMNS, FIT_SCHEMA, fit_from_counts

        compute = functools.partial(_fit_counts, summary=summary)
        counts = count(_summed(remote, compute, dict(FIT_SCHEMA), FIT_COLUMNS))
        params = fit_from_counts(
            counts, time_unit, penalizer=penalizer, spend_penalizer=spend_penalizer
        )
    if not groups:
        partials.collected.update(rows=received[0], bytes=received[1])
        return params, end, None
    keys = tuple(keys)
    schema: dict[str, pl.DataType] = {k: remote.schema[k] for k in keys}
    schema.update(PART_SCHEMA)
    compute = functools.partial(
        _score_parts,
        summary=summary,
        fitted=params,
        horizon=horizon,
        margin=margin,
        discount_per_month=discount_per_month,
    )
    parts = count(_summed(remote, compute, schema, [*keys, "_column", "_exp"]))
    partials.collected.update(rows=received[0], bytes=received[1])
    found, sums = merge_sums(parts, keys, SUMMED_COLUMNS)
    return params, end, group_table(found, sums, keys, with_cost=False)


def observation_end(remote: Remote, as_of: dt.date | None) -> dt.date:
    """The last day observed: the day before ``as_of``, else the last purchase day
    (``summary.rfm_summary``'s), refused as the Polars engine does without purchases."""
    from retcalc.errors import InputError
    from retcalc.periods import observed_end

    if remote.last is None:
        when = f" before --as-of {as_of}" if as_of else ""
        raise InputError(
            f"no purchases{when}: every row is a return, a cancellation or out of range"
        )
    return observed_end(remote.last, as_of) - dt.timedelta(days=1)


def _summary(rows: Rows, **options: Any) -> Any:
    """The task's customers summarised over the whole data's observation end."""
    from retcalc.metrics.clv.summary import rfm_summary

    return rfm_summary(rows, **options)


def _fit_counts(rows: Rows, *, summary: Callable[[Rows], Any]) -> pl.DataFrame:
    from retcalc.metrics.clv import fit_counts

    return fit_counts(summary(rows).frame.lazy()).collect()


def _score_parts(
    rows: Rows,
    *,
    summary: Callable[[Rows], Any],
    fitted: Any,
    horizon: float,
    margin: float,
    discount_per_month: float,
) -> pl.DataFrame:
    from retcalc.metrics.clv import score, sum_parts, summed_columns

    summarised = summary(rows)
    scored = score(
        summarised, fitted, horizon=horizon, margin=margin, discount_per_month=discount_per_month
    )
    frame, columns, _ = summed_columns(scored, years=None)
    return sum_parts(frame, summarised.keys, columns)


def write_historical(remote: Remote, params: Any, path: Path) -> int:
    """``clv --model historical --per-customer``: the executors write each customer's row
    (the default engine's table, sorted by group and customer) as a Parquet directory at
    ``path``; the number of customers written. No row reaches the driver."""
    from retcalc.metrics.clv.historical import CUSTOMER_COLUMNS

    keys = tuple(params.by)
    schema: dict[str, pl.DataType] = {k: remote.schema[k] for k in keys}
    schema["customer_id"] = pl.String()
    types = (pl.Int64(), pl.Float64(), pl.Float64(), pl.Date(), pl.Date(), pl.Int64())
    schema.update(dict(zip(CUSTOMER_COLUMNS, types, strict=True)))
    compute = functools.partial(
        _customer_rows, keys=keys, start=params.start, end=params.end, as_of=params.as_of
    )
    partials.collected.update(rows=0, bytes=0)  # nothing is collected
    written = write_customers(remote, compute, schema, [*keys, "customer_id"], path)
    if not written:
        from retcalc.errors import InputError

        raise InputError("no purchases in range: every row is a return, a cancellation or outside")
    return written


def _customer_rows(rows: Rows, *, keys: tuple[str, ...], **options: Any) -> pl.DataFrame:
    from retcalc.metrics.clv.historical import customer_rows

    return customer_rows(rows, keys=keys, **options).collect()


def write_bgnbd(
    remote: Remote,
    params: Any,
    path: Path,
    *,
    keys: Sequence[str],
    as_of: dt.date | None,
    time_unit: Any,
    horizon: float,
    margin: float,
    discount_per_month: float,
) -> int:
    """``clv --model bgnbd --per-customer``: the executors score their customers with
    ``params`` and write each one's row (the default engine's table, sorted by group and
    customer) as a Parquet directory at ``path``; the number of customers written."""
    from retcalc.metrics.clv import SCORE_COLUMNS
    from retcalc.metrics.clv.summary import SUMMARY_COLUMNS

    keys = tuple(keys)
    schema: dict[str, pl.DataType] = {k: remote.schema[k] for k in keys}
    schema["customer_id"] = pl.String()
    types = (pl.Date(), pl.Date(), pl.Int64(), pl.Float64(), pl.Float64(), pl.Float64())
    schema.update(dict(zip(SUMMARY_COLUMNS, types, strict=True)))
    schema.update({c: pl.Float64() for c in SCORE_COLUMNS})
    summary = functools.partial(
        _summary, as_of=as_of, time_unit=time_unit, keys=keys, last_purchase=remote.last
    )
    compute = functools.partial(
        _scored,
        summary=summary,
        fitted=params,
        horizon=horizon,
        margin=margin,
        discount_per_month=discount_per_month,
    )
    return write_customers(remote, compute, schema, [*keys, "customer_id"], path)


def _scored(
    rows: Rows,
    *,
    summary: Callable[[Rows], Any],
    fitted: Any,
    horizon: float,
    margin: float,
    discount_per_month: float,
) -> pl.DataFrame:
    from retcalc.metrics.clv import score

    return score(
        summary(rows), fitted, horizon=horizon, margin=margin, discount_per_month=discount_per_month
    )
