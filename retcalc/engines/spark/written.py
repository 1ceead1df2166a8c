"""Rows of every customer computed and written by the Spark executors (SPEC §8):
``--per-customer`` with ``--engine spark`` and a Parquet ``--output``: each task computes
its whole customers' rows with the default engine's code, and Spark writes them, sorted,
as a Parquet directory that replaces the target only once complete. No customer's row
reaches the driver.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from retcalc.engines import Holds, Rows
from retcalc.engines.spark import partials
from retcalc.engines.spark.partials import Remote


class Customers:
    """``mapInArrow`` body: ``compute`` of one partition's customers (their rows as the
    metrics take them at the remote's level) as the columns of ``schema``."""

    def __init__(
        self,
        remote: Remote,
        compute: Callable[[Rows], pl.DataFrame],
        schema: dict[str, pl.DataType],
    ) -> None:
        # What the task needs of ``remote``, not the Spark frame.
        self.schema, self.level, self.has_amount = remote.schema, remote.level, remote.has_amount
        self.compute = compute
        self.columns = list(schema)  # Spark takes the columns by position

    def __call__(self, batches: Iterable[Any]) -> Iterator[Any]:
        events = partials.partition_events(batches, self.schema, self.level, self.has_amount)
        if events is None or not events["is_purchase"].any():
            return
        out = self.compute(Rows(events.lazy(), Holds(self.level))).select(self.columns)
        # Arrow (and so Spark) has no 128-bit integer: micros travel as decimal(38, 0).
        wide = [c for c, t in out.schema.items() if t == pl.Int128]
        out = out.with_columns(pl.col(wide).cast(pl.Decimal(38, 0)))
        yield from out.to_arrow().to_batches()


#: A Parquet directory the executors wrote (Spark's layout), which a new one may replace.
_SPARK_FILES = re.compile(r"(part-.*|\..*\.crc|_SUCCESS)")


def write_customers(
    remote: Remote,
    compute: Callable[[Rows], pl.DataFrame],
    schema: dict[str, pl.DataType],
    order: Sequence[str],
    path: Path,
) -> int:
    """``compute``'s rows of every partition's customers (floats cleaned as the default
    engine's Parquet has them), sorted by ``order``, written by the executors as a Parquet
    directory beside ``path`` and then renamed to it; the number of rows."""
    from retcalc.engines.spark.load import spark_schema
    from retcalc.render.values import clean_floats

    target = Path(path)
    _check_target(target)
    cleaned = functools.partial(_cleaned, compute=compute, clean=clean_floats)
    rows = remote.rows.mapInArrow(Customers(remote, cleaned, schema), spark_schema(schema))
    temporary = target.parent / f".{target.name}.retcalc-{os.getpid()}.tmp"
    if temporary.exists():
        shutil.rmtree(temporary)
    try:
        rows.orderBy(*order).write.parquet(str(temporary.resolve()))
        written = int(rows.sparkSession.read.parquet(str(temporary.resolve())).count())
        _replace(temporary, target)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return written


def _cleaned(
    rows: Rows, *, compute: Callable[[Rows], pl.DataFrame], clean: Callable[..., pl.DataFrame]
) -> pl.DataFrame:
    return clean(compute(rows))


def _check_target(target: Path) -> None:
    """Refuse a ``path`` that is a file, or a directory holding anything but a Parquet
    directory Spark wrote (which is replaced)."""
    from retcalc.errors import UsageError

    if target.is_dir():
        foreign = [p.name for p in target.iterdir() if not _SPARK_FILES.fullmatch(p.name)]
        if foreign:
            raise UsageError(
                f"--output {target}: the directory holds other files ({', '.join(sorted(foreign)[:3])}); "
                "name a new directory (with --engine spark, --per-customer writes a Parquet "
                "directory)"
            )
    elif target.exists():
        raise UsageError(
            f"--output {target} is a file: with --engine spark, --per-customer writes a "
            "Parquet directory; name a new directory or remove the file"
        )
    if not target.parent.is_dir():
        raise UsageError(f"--output {target}: no directory {target.parent}")


def _replace(new: Path, target: Path) -> None:
    """``new`` renamed to ``target``; an earlier Spark Parquet directory there is moved
    aside first and removed after."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.retcalc-{os.getpid()}.old"
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old)
