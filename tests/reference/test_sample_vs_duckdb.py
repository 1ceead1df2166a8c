"""retcalc's retention and churn on the shipped sample data against independent DuckDB SQL."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from tests.reference.duckdb_ref import churn_table, load_sample_orders, retention_table

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
CASES = [
    ("month", "12mo"),
    ("month", "3mo"),
    ("week", "90d"),
    ("quarter", "all"),
    ("month", "30d"),
]


@pytest.fixture(scope="module")
def reference_orders() -> pl.DataFrame:
    return load_sample_orders(SAMPLE / "orders.csv")


def run_cli(command: str, source: str, period: str, window: str, *extra: str) -> pl.DataFrame:
    result = CliRunner().invoke(
        app,
        [
            command,
            str(SAMPLE / source),
            "--period",
            period,
            "--active-window",
            window,
            "--format",
            "csv",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return pl.read_csv(io.StringIO(result.stdout), try_parse_dates=True)


def assert_same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert got.columns == expected.columns
    assert got.height == expected.height
    for column in expected.columns:
        exp = expected[column]
        if exp.dtype == pl.Float64:
            a = got[column].cast(pl.Float64).to_list()
            for i, (x, y) in enumerate(zip(a, exp.to_list(), strict=True)):
                assert (x is None) == (y is None), (column, i)
                if x is not None:
                    assert x == pytest.approx(y, rel=1e-9, abs=1e-6), (column, i)
        else:
            assert got[column].cast(exp.dtype).to_list() == exp.to_list(), column


@pytest.mark.parametrize(("period", "window"), CASES, ids=[f"{p}-{w}" for p, w in CASES])
def test_retention_matches_duckdb(reference_orders: pl.DataFrame, period: str, window: str) -> None:
    got = run_cli("retention", "orders.csv", period, window)
    assert_same(got, retention_table(reference_orders, period=period, window=window))


@pytest.mark.parametrize(("period", "window"), CASES[:3], ids=[f"{p}-{w}" for p, w in CASES[:3]])
def test_churn_matches_duckdb(reference_orders: pl.DataFrame, period: str, window: str) -> None:
    got = run_cli("churn", "orders.csv", period, window)
    assert_same(got, churn_table(reference_orders, period=period, window=window))


def test_parquet_and_csv_agree_and_match_with_as_of(reference_orders: pl.DataFrame) -> None:
    extra = ("--as-of", "2025-07-15", "--start", "2024-01-01")
    from_csv = run_cli("retention", "orders.csv", "month", "6mo", *extra)
    from_parquet = run_cli("retention", "orders.parquet", "month", "6mo", *extra)
    assert from_csv.equals(from_parquet)
    expected = retention_table(
        reference_orders, period="month", window="6mo", as_of="2025-07-15", start="2024-01-01"
    )
    assert_same(from_csv, expected)
