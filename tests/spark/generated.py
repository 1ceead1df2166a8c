"""Generated shops for the parity tests: lapses, reactivations, returns, segments,
cancelled orders, and the awkward shapes of real exports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from retcalc.sample import generate, write_sample


def shop(directory: Path, *, customers: int = 600, seed: int = 11) -> Path:
    """``retcalc.sample`` data (two and a half years) plus a messier copy of its orders.

    ``orders_messy.csv``: the status only on each order's first line (Shopify),
    a few lines without an order id, amounts with thousands separators, dates
    written day-first with times, and a few blank lines' worth of missing values.
    """
    data = generate(customers=customers, seed=seed, start=dt.date(2022, 3, 1), years=2.5)
    write_sample(data, directory)
    orders = pl.read_csv(directory / "orders.csv", infer_schema=False)
    n = pl.int_range(pl.len())
    first_line = pl.col("order_id").is_first_distinct()
    messy = orders.with_columns(
        pl.when(first_line).then(pl.col("status")).otherwise(None).alias("status"),
        pl.when(n % 97 == 5).then(None).otherwise(pl.col("order_id")).alias("order_id"),
        pl.when(n % 13 == 0)
        .then(pl.col("amount").cast(pl.Float64) * 1000)
        .otherwise(pl.col("amount").cast(pl.Float64))
        .map_elements(lambda v: f"{v:,.2f}", return_dtype=pl.String)
        .alias("amount"),
        pl.col("order_date")
        .str.to_datetime("%Y-%m-%d %H:%M:%S")
        .dt.strftime("%d/%m/%Y %H:%M")
        .alias("order_date"),
        pl.when(n % 211 == 7).then(None).otherwise(pl.col("customer_id")).alias("customer_id"),
    )
    messy.write_csv(directory / "orders_messy.csv")
    # A glob of CSV files whose headers differ in order (and one has a column more).
    parts = directory / "parts"
    parts.mkdir()
    half = orders.height // 2
    orders.head(half).write_csv(parts / "orders_1.csv")
    rest = orders.slice(half).with_columns(pl.lit("x").alias("note"))
    rest.select(list(reversed(rest.columns))).write_csv(parts / "orders_2.csv")
    # Hive-partitioned Parquet: one folder per channel.
    typed = pl.read_parquet(directory / "orders.parquet")
    hive = directory / "hive"
    typed.write_parquet(hive, partition_by=["channel"])
    return directory
