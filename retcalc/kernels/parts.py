"""Work in parts: a group-by into tens of millions of groups, done one part of the
keys at a time, holds one part's table instead of the whole; and how big a part, a
slice or a batch of rows is.

A computation per value of a column gives the same rows done in parts (each value in
exactly one part) as done at once; only the peak memory and the time differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

#: Lines per batch of the streaming reader (:mod:`retcalc.io.batched`).
BATCH_ROWS = 1_000_000
#: Slices of the customers that churn sums per period one at a time.
SLICES = 4

#: Rows per part of :func:`in_parts`, and the most parts.
PART_ROWS, PARTS = 4_000_000, 8


def parts_for(rows: int) -> int:
    """How many parts :func:`in_parts` does ``rows`` rows in: one per :data:`PART_ROWS`,
    one to :data:`PARTS` (each part costs a pass over the frame)."""
    return max(1, min(PARTS, rows // PART_ROWS))


def part_filters(part: str, parts: int) -> list[pl.Expr]:
    """The filters of :func:`in_parts`' parts: the rows whose ``part`` column's hash
    leaves each remainder modulo ``parts`` (every row when ``parts`` is 1). Frames
    filtered alike hold the same values of ``part`` in the same part."""
    if parts == 1:
        return [pl.lit(True)]
    # Hashed, integers too: keys may leave their low bits free (free_low_bits).
    slot = (pl.col(part).hash() % parts).fill_null(0)  # a null is a value too
    return [slot == i for i in range(parts)]


def in_parts(
    frame: pl.LazyFrame, part: str, compute: Callable[[pl.LazyFrame], pl.LazyFrame], parts: int
) -> pl.DataFrame:
    """``compute`` of each of ``parts`` parts of ``frame`` (:func:`parts_for`,
    :func:`part_filters`), collected one after the other and put together. For a
    computation per value of ``part`` (a group-by on columns that include it, say),
    the same as ``compute(frame)``.

    A group-by into tens of millions of groups holds its whole table at once; in
    parts it holds one part's.
    ``frame`` is read once per part: it should be in memory, or cheap to read again.
    """
    if parts == 1:
        return compute(frame).collect()
    done = [compute(frame.filter(where)).collect() for where in part_filters(part, parts)]
    return pl.concat(done, rechunk=False)


def grouped_in_parts(
    frame: pl.LazyFrame, by: Sequence[str], part: str, aggs: Sequence[pl.Expr], parts: int
) -> pl.DataFrame:
    """``frame.group_by(by).agg(aggs)`` in parts (:func:`in_parts`; ``part`` one of ``by``)."""
    return in_parts(frame, part, lambda rows: rows.group_by(by).agg(aggs), parts)
