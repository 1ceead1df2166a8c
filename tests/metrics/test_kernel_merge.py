"""SPEC §8: a metric is a kernel over the rows of a set of whole customers returning
additive counts, and a merge. Split the customers of a shop into parts, run the kernel on
each part with the whole data's span of days, add the counts: the merge gives the table
of the whole shop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import retcalc
from retcalc.api import metric_params
from retcalc.metrics.activity import IDX
from retcalc.metrics.choices import Mode
from retcalc.metrics.churn import SUM_COLUMNS, churn_counts, finish_churn
from retcalc.metrics.cohorts import cohort_counts, data_grid, finish_cohorts
from retcalc.metrics.common import Prepared, complete_flag, prepare_activity
from retcalc.metrics.retention import COUNT_COLUMNS, finish_retention, retention_counts
from retcalc.sample import generate, write_sample


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shop")
    write_sample(generate(customers=300, seed=5, start=dt.date(2023, 1, 1), years=2), directory)
    return directory / "orders.csv"


def by_parts(
    orders: retcalc.Orders,
    params: Any,
    parts: int,
    seed: int,
    kernel: Callable[[Prepared], pl.LazyFrame],
    *,
    with_runs: bool = True,
) -> tuple[Prepared, list[pl.DataFrame]]:
    """The whole shop prepared, and ``kernel`` on each of ``parts`` sets of its customers
    (split by a hash of the id) prepared on the whole shop's span of days."""
    rows = orders.rows()
    whole = prepare_activity(rows, params, with_runs=with_runs)
    assert whole.purchases is not None
    span = (whole.data_start, whole.purchases.select(pl.col("day").max()).collect().item())
    part_of = pl.col("customer_id").hash(seed=seed) % parts
    found = [
        kernel(
            prepare_activity(
                rows.but(rows.frame.filter(part_of == i)), params, with_runs=with_runs, span=span
            )
        ).collect()
        for i in range(parts)
    ]
    assert all(f.height for f in found)  # every part has customers
    return whole, found


@pytest.mark.parametrize(
    ("period", "window", "by", "parts"),
    [
        ("month", "12mo", (), 3),
        ("week", "90d", ("channel",), 4),
        ("quarter", "all", ("channel",), 2),
        ("day", "30d", (), 5),
    ],
)
def test_counts_of_parts_add_up_to_the_whole(
    shop: Path, period: str, window: str, by: tuple[str, ...], parts: int
) -> None:
    orders = retcalc.read_orders(shop, by=list(by))
    params = metric_params(period=period, window=window, by=by)
    whole, counts = by_parts(orders, params, parts, 1, retention_counts)
    summed = (
        pl.concat(counts).group_by([*by, IDX]).agg(pl.col(c).sum() for c in COUNT_COLUMNS).lazy()
    )
    merged = finish_retention(summed, whole.grid, by, complete_flag(whole))
    expected = retcalc.retention(orders, period=period, window=window, by=by)
    assert merged.equals(expected)
    assert expected["customers_start"].sum() > 0


@pytest.mark.parametrize(
    ("period", "mode", "by", "parts"),
    [("month", "on", (), 3), ("quarter", "on-or-after", ("channel",), 4), ("week", "on", (), 2)],
)
def test_cohort_counts_of_parts_add_up_to_the_whole(
    shop: Path, period: str, mode: str, by: tuple[str, ...], parts: int
) -> None:
    orders = retcalc.read_orders(shop, by=list(by))
    params = metric_params(period=period, start="2023-06-10", by=by)

    def kernel(prep: Prepared) -> pl.LazyFrame:  # every part on the whole data's grid
        return cohort_counts(prep, mode=Mode(mode), grid=data_grid(prep.grid, prep.data_end))

    whole, counts = by_parts(orders, params, parts, 2, kernel, with_runs=False)
    grid = data_grid(whole.grid, whole.data_end)
    cell = [*by, "_cohort_idx", "offset"]
    summed = (
        pl.concat(counts).group_by(cell).agg(pl.col("cohort_size", "customers", "_micros").sum())
    )
    merged = finish_cohorts(summed.lazy(), grid, by, whole.data_end, min_cohort=5)
    expected = retcalc.cohorts(
        orders, period=period, start="2023-06-10", by=by, mode=mode, min_cohort=5
    )
    assert merged.equals(expected)
    assert expected["customers"].sum() > 0


@pytest.mark.parametrize(
    ("period", "window", "by", "parts"),
    [("month", "12mo", (), 3), ("quarter", "90d", ("channel",), 4), ("week", "all", (), 2)],
)
def test_churn_sums_of_parts_add_up_to_the_whole(
    shop: Path, period: str, window: str, by: tuple[str, ...], parts: int
) -> None:
    orders = retcalc.read_orders(shop, by=list(by))
    params = metric_params(period=period, window=window, by=by)
    whole, sums = by_parts(orders, params, parts, 3, churn_counts)
    added = pl.concat(sums).group_by([*by, IDX]).agg(pl.col(c).sum() for c in SUM_COLUMNS)
    merged = finish_churn(added.lazy(), whole.grid, by, complete_flag(whole))
    expected = retcalc.churn(orders, period=period, window=window, by=by)
    assert merged.equals(expected)
    assert expected["previous_revenue"].sum() > 0
