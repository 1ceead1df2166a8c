"""Packed words: a customer key and a day's (or a period's) number in one ``UInt64``,
so that a sort or a sum per customer and day is a sort of one integer column, and
sums over runs of sorted rows in place of a group-by and a sort of its result.

Each function's result is that of the obvious computation its docstring names
(``unique().sort(customer, day)``, a group-by); only the time and peak differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from retcalc.kernels.parts import SLICES

CUSTOMER = "customer_id"


#: Most bits of a packed sort key that may hold the day (2**20 days: 2,870 years).
DAY_BITS = 20


def span_bits(days: pl.Series) -> int:
    """How many bits hold any day of ``days`` as its distance from the first."""
    span = days.to_frame("d").select(pl.col("d").max() - pl.col("d").min()).item()
    return 0 if span is None else int(span.days).bit_length()


def free_bits(days: pl.Series) -> int:
    """How many low bits of the customer keys to leave free for ``days`` (see
    ``sorted_days``): as many as their distance from the first needs, none past ``DAY_BITS``."""
    bits = span_bits(days)
    return bits if bits <= DAY_BITS else 0


def sorted_days(frame: pl.DataFrame, day_bits: int | None = None) -> pl.DataFrame:
    """Distinct ``(customer_id, day)`` rows of ``frame`` (``UInt64`` customer keys), each
    customer's rows together and in day order.

    A sort on two columns costs several times one on a single integer, so the
    sort key is one word: the customer key's high bits, then the day's distance
    from the first day (``day_bits`` bits, by default as few as the days need).
    When every key's low bits are zero (the keys of ``keys.free_low_bits``) the
    word holds the whole row: only it is sorted, and the row read back from it.
    Otherwise the frame is sorted on the word, and customers whose keys agree on
    the high bits (they would interleave; rare at 44 bits or more) are sorted
    again on both columns.
    """
    if frame.height == 0:
        return frame
    needed = span_bits(frame["day"])
    bits = needed if day_bits is None else day_bits
    if bits > DAY_BITS or needed > bits:
        return frame.unique().sort(CUSTOMER, "day")
    first = frame.select(pl.col("day").min().cast(pl.Int32)).item()  # days since 1970-01-01
    days = pl.lit((1 << bits) - 1, dtype=pl.UInt64)
    offset = (pl.col("day").cast(pl.Int32) - first).cast(pl.UInt64)
    customer = pl.col(CUSTOMER)
    if frame.columns == [CUSTOMER, "day"] and frame[CUSTOMER].null_count() == 0:
        free = frame.select((customer & days).max()).item() == 0
        if free:
            return _packed_rows(frame.select((customer | offset).alias("_key")), days, first)
    packed = (customer & ~days) | offset
    ordered = frame.with_columns(packed.alias("_key")).sort("_key")
    prefix = pl.col("_key") // (1 << bits)
    clash = ordered.filter(
        (prefix == prefix.shift(1)) & (pl.col(CUSTOMER) != pl.col(CUSTOMER).shift(1))
    ).select(prefix.unique())
    first = (pl.col("_key") != pl.col("_key").shift(1)).fill_null(True)
    if clash.height == 0:
        return ordered.filter(first).drop("_key")
    shared = prefix.is_in(clash.to_series().implode())
    alone = ordered.filter(~shared)
    return pl.concat(
        [
            alone.filter(first).drop("_key"),
            ordered.filter(shared).drop("_key").unique().sort(CUSTOMER, "day"),
        ]
    )


def _packed_rows(keys: pl.DataFrame, days: pl.Expr, first: int) -> pl.DataFrame:
    """The distinct rows of ``keys`` (``_key``: a customer key whose low bits, the mask
    ``days``, hold a day's distance from day number ``first``), sorted, as
    ``customer_id, day``."""
    ordered = keys["_key"].sort()
    key = pl.col("_key")
    return (
        ordered.to_frame()
        .filter((key != key.shift(1)).fill_null(True))
        .select(
            (key & ~days).alias(CUSTOMER),
            ((key & days).cast(pl.Int32) + first).cast(pl.Date).alias("day"),
        )
    )


def run_ends(value: pl.Expr) -> pl.Expr:
    """True on the last row of each run of equal ``value``s (sorted rows)."""
    return (value != value.shift(-1)).fill_null(True)


def run_differences(running: pl.Expr) -> pl.Expr:
    """On the last rows of runs: a running sum's growth over each run."""
    return running - running.shift(1, fill_value=0)


def summed_runs(rows: pl.LazyFrame, word: str, purchase: str) -> pl.LazyFrame:
    """``word, micros, purchase`` per run of equal ``word``s of ``rows`` (sorted on it):
    the sum of the run's ``micros`` and whether any of its rows is a purchase. A sort
    and running sums instead of a group-by (and a sort of its result)."""
    total, bought = pl.col("_total"), pl.col("_bought")
    return (
        rows.select(
            word,
            pl.col("micros").cum_sum().alias("_total"),
            pl.col(purchase).cast(pl.UInt32).cum_sum().alias("_bought"),
        )
        .filter(run_ends(pl.col(word)))
        .select(
            word,
            run_differences(total).alias("micros"),
            (run_differences(bought) > 0).alias(purchase),
        )
    )


#: Column of :func:`period_sums`' words: a customer key with a period's number in its low bits.
WORD = "_word"


def free_key_bits(group: Sequence[str], *, keyed: bool) -> pl.Expr:
    """How many low bits every customer key leaves zero (the keys of
    ``keys.free_low_bits``), as an aggregate over the rows: 0 unless the customer is the
    only group column and ``keyed`` (``customer_id`` holds ``UInt64`` keys), never null."""
    if list(group) != [CUSTOMER] or not keyed:
        return pl.lit(0)
    customer = pl.col(CUSTOMER)
    zeros = customer.bitwise_trailing_zeros().min()
    return pl.when(customer.null_count() == 0).then(zeros).otherwise(0)


def period_sums(
    rows: pl.LazyFrame,
    group: Sequence[str],
    period: pl.Expr,
    periods: int,
    *,
    has: str,
    keyed: bool,
    free_bits: int = 0,
) -> pl.DataFrame:
    """``group..., ps, raw, <has>``: ``rows``' ``micros`` summed per ``group`` (whose last
    column is the customer) and period number ``ps`` (``period``, an ``Int32`` below
    ``periods``), and whether any of them ``is_purchase``, each customer's rows together
    and in period order: ``group_by([*group, ps]).agg(...)`` sorted on ``[*group, "ps"]``
    up to the order of the customers.

    Collected one slice of the customers at a time (:data:`parts.SLICES`, by a hash of the
    id), each slice sorted on its own (customers of different slices never meet), so that
    only one slice's group-by table and sort are held at once. When the period's number
    fits in the ``free_bits`` low bits every customer key leaves zero
    (:func:`free_key_bits`), it goes into them, and the rows are sorted on that one word
    and summed as runs of it, faster and with a lower peak than a group-by and a sort on
    two columns.
    """
    ps = period.cast(pl.Int32).alias("ps")
    # Hashed even when the id is an integer key: those keep low bits free (zero) for
    # sorted_days, so the key's own remainder would put every customer in one slice.
    slice_of = pl.col(CUSTOMER).hash() % SLICES
    bits = (periods - 1).bit_length()
    if bits <= free_bits:
        word = (pl.col(CUSTOMER) | ps.cast(pl.UInt64)).alias(WORD)
        return pl.concat(
            _word_sums(
                rows.filter(slice_of == i)
                .select(word, "micros", "is_purchase")
                .sort(WORD)
                .collect(engine="streaming"),
                bits,
                has,
            )
            for i in range(SLICES)
        )
    return pl.concat(
        _ordered(
            rows.filter(slice_of == i)
            .group_by([*group, ps])
            .agg(pl.col("micros").sum().alias("raw"), pl.col("is_purchase").any().alias(has))
            .collect(),
            group,
            keyed=keyed,
        )
        for i in range(SLICES)
    )


def _word_sums(rows: pl.DataFrame, bits: int, has: str) -> pl.DataFrame:
    """``rows`` (``WORD, micros, is_purchase``, sorted on the word; see :func:`period_sums`)
    summed per word as runs of equal words and read back as ``customer_id, ps, raw, has``."""
    periods = pl.lit((1 << bits) - 1, dtype=pl.UInt64)
    word = pl.col(WORD)
    return (
        summed_runs(rows.lazy(), WORD, "is_purchase")
        .select(
            (word & ~periods).alias(CUSTOMER),
            (word & periods).cast(pl.Int32).alias("ps"),
            pl.col("micros").alias("raw"),
            pl.col("is_purchase").alias(has),
        )
        # Running sums and shifts: faster in the in-memory engine.
        .collect(engine="in-memory")
    )


def _ordered(frame: pl.DataFrame, group: Sequence[str], *, keyed: bool) -> pl.DataFrame:
    """``frame`` (distinct ``group..., ps``) with each customer's rows together and in
    period order."""
    if list(group) == [CUSTOMER] and keyed:
        # sorted_days packs a customer key and a small day number into one sort word.
        as_day = frame.with_columns(pl.col("ps").cast(pl.Date).alias("day")).drop("ps")
        ordered = sorted_days(as_day).with_columns(pl.col("day").cast(pl.Int32).alias("ps"))
        return ordered.select(*frame.columns)
    return frame.sort([*group, "ps"])
