"""Table equality for the parity tests: integers, text and dates exactly, floats to 1e-12."""

from __future__ import annotations

import io

import polars as pl

TOLERANCE = 1e-12


def assert_same_table(
    polars_table: pl.DataFrame, spark_table: pl.DataFrame, what: str = ""
) -> None:
    assert polars_table.columns == spark_table.columns, what
    assert polars_table.height == spark_table.height, what
    for name in polars_table.columns:
        a, b = polars_table[name], spark_table[name]
        assert a.dtype == b.dtype, f"{what}: {name} {a.dtype} != {b.dtype}"
        assert a.is_null().equals(b.is_null()), f"{what}: nulls differ in {name}"
        if a.dtype.is_float():
            both = pl.DataFrame({"a": a, "b": b}).drop_nulls()
            worst = both.select(((pl.col("a") - pl.col("b")).abs()).max()).item()
            assert worst is None or worst <= TOLERANCE, f"{what}: {name} differs by {worst}"
        else:
            assert a.equals(b), f"{what}: {name} differs"


def csv_table(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), infer_schema_length=None)
