"""``count_up_to`` (a table of days) answers as the binary search it replaces."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from retcalc.metrics import activity
from retcalc.metrics.activity import count_up_to


def _search(values: pl.Series, days: pl.Series) -> list[int]:
    frame = days.to_frame("d")
    found = frame.select(pl.lit(values).search_sorted(pl.col("d"), side="right").alias("n"))
    return found["n"].to_list()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_as_a_binary_search_inside_outside_and_on_the_values(seed: int) -> None:
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1)
    values = pl.Series(
        sorted({start + dt.timedelta(days=rng.randrange(0, 900)) for _ in range(40)}),
        dtype=pl.Date,
    )
    days = [start + dt.timedelta(days=rng.randrange(-400, 1300)) for _ in range(2000)]
    days += list(values) + [v - dt.timedelta(days=1) for v in values]
    series = pl.Series("d", days, dtype=pl.Date)
    got = series.to_frame().select(count_up_to(values, pl.col("d")).alias("n"))["n"]
    assert got.dtype == pl.Int64
    assert got.to_list() == _search(values, series)


def test_a_null_day_counts_nothing_and_one_value_works() -> None:
    values = pl.Series([dt.date(2024, 3, 1)], dtype=pl.Date)
    days = pl.Series("d", [None, dt.date(2024, 2, 29), dt.date(2024, 3, 1)], dtype=pl.Date)
    got = days.to_frame().select(count_up_to(values, pl.col("d")).alias("n"))["n"]
    assert got.to_list() == [0, 0, 1]


def test_a_span_too_long_for_a_table_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity, "TABLE_DAYS", 10)
    values = pl.Series([dt.date(2024, 1, 1), dt.date(2024, 6, 1)], dtype=pl.Date)
    days = pl.Series("d", [dt.date(2023, 1, 1), dt.date(2024, 3, 1), dt.date(2025, 1, 1)])
    got = days.to_frame().select(count_up_to(values, pl.col("d")).alias("n"))["n"]
    assert got.to_list() == [0, 1, 2]
