"""Money: integer micros (millionths of the currency unit) in 128 bits, how an amount
becomes micros, and how micros are printed. Every metric sums and prints money
through this module."""

from __future__ import annotations

import polars as pl

# Defined where the readers refuse larger amounts; here for the metrics that name it.
from retcalc.io.checks import LARGEST_AMOUNT as LARGEST_AMOUNT

#: Money is summed in integer millionths of the currency unit, so that totals do
#: not depend on the order of summation (parallel group-bys) and an order netted
#: to zero by its returns is exactly zero. The integers are 128 bits wide: no sum of
#: amounts that can be read (below ``io.checks.LARGEST_AMOUNT`` each) wraps around.
MICROS = 1_000_000

#: Amounts are read to this many significant digits, as spreadsheets keep them: a
#: 64-bit float holds any decimal text of up to 15 significant digits exactly enough
#: to give that text back by rounding (every amount below 10**13 with cents).
DIGITS = 15


def to_micros(amount: pl.Expr) -> pl.Expr:
    """An amount as integer micros (Int128), rounded per row to :data:`DIGITS`
    significant digits and to the micro: the value of the text the amount was read
    from, whenever it had at most that many digits. NaN is null."""
    size = amount.abs()
    scaled: pl.Expr = amount  # at 10**DIGITS and above: to the unit
    factor: pl.Expr = pl.lit(MICROS, dtype=pl.Int128)
    for decimals in range(7):  # fewer decimals for larger amounts
        below = size < 10.0 ** (DIGITS - decimals)
        scaled = pl.when(below).then(amount * 10.0**decimals).otherwise(scaled)
        factor = (
            pl.when(below).then(pl.lit(10 ** (6 - decimals), dtype=pl.Int128)).otherwise(factor)
        )
    return scaled.round(0).cast(pl.Int128, strict=False) * factor


def money(micros: str | pl.Expr) -> pl.Expr:
    """Integer micros as a float amount, divided exactly (through a decimal) so that
    ``28903110000`` prints as ``28903.11`` and not ``28903.109999999997``."""
    expr = pl.col(micros) if isinstance(micros, str) else micros
    return (expr.cast(pl.Decimal(38, 6)) / MICROS).cast(pl.Float64)


def event_micros(events: pl.LazyFrame | pl.DataFrame) -> pl.Expr:
    """Each event's revenue in integer micros: the ``micros`` that a reader summed
    already (the batched reader, the Spark engine), else :func:`to_micros` of ``revenue``."""
    if "micros" in events.collect_schema():
        return pl.col("micros")
    return to_micros(pl.col("revenue"))
