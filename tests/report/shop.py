"""A small generated shop whose product and segment names are hostile (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from retcalc.sample import generate

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","x")'
AT = "@SUM(A1)"
HOSTILE = (SCRIPT, IMG, FORMULA, AT)
PRODUCTS = (*HOSTILE, "-2+3", "plain")
SEGMENTS = {"consumer": SCRIPT, "enterprise": IMG, "small_business": FORMULA}
TODAY = "2025-01-15"  # the generated shop runs from 2023-01-01 to 2024-12-31


@dataclass(frozen=True)
class Shop:
    directory: Path
    orders: Path
    customers: Path
    returns: Path


def _hostile_products(frame: pl.DataFrame) -> pl.DataFrame:
    """Six products in all, named by the number of the original one."""
    number = pl.col("product_id").str.extract(r"(\d+)$").cast(pl.Int64) % len(PRODUCTS)
    return frame.with_columns(
        number.replace_strict(dict(enumerate(PRODUCTS)), return_dtype=pl.String).alias("product_id")
    )


def make_shop(directory: Path) -> Shop:
    """Write the shop (300 customers over 2023-2024) into ``directory`` as Parquet."""
    data = generate(customers=300, seed=11, years=2.0)
    # Parquet: the same data as CSV would be, read several times faster in the many runs.
    _hostile_products(data.orders).write_parquet(directory / "orders.parquet")
    _hostile_products(data.returns).write_parquet(directory / "returns.parquet")
    data.customers.with_columns(pl.col("segment").replace_strict(SEGMENTS)).write_parquet(
        directory / "customers.parquet"
    )
    return Shop(
        directory,
        directory / "orders.parquet",
        directory / "customers.parquet",
        directory / "returns.parquet",
    )
