"""Small literal order frames for the metric tests."""

from __future__ import annotations

import datetime as dt

import polars as pl


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def orders(
    rows: list[tuple], columns: tuple[str, ...] = ("customer_id", "day", "amount")
) -> pl.LazyFrame:
    """Canonical orders from tuples; ``day`` given as ISO strings."""
    frame = pl.DataFrame(rows, schema=list(columns), orient="row")
    if "day" in frame.columns:
        frame = frame.with_columns(pl.col("day").str.to_date())
    for name in ("amount", "quantity", "refund_amount"):
        if name in frame.columns:
            frame = frame.with_columns(pl.col(name).cast(pl.Float64))
    return frame.lazy()
