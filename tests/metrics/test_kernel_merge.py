"""SPEC §8: a metric is a kernel over the rows of a set of whole customers returning
additive counts, and a merge. Split the customers of a shop into parts, run the kernel on
each part with the whole data's span of days, add the counts: the merge gives the table
of the whole shop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import retcalc
from retcalc.api import metric_params
from retcalc.metrics.activity import IDX
from retcalc.metrics.choices import Mode
from retcalc.metrics.churn import SUM_COLUMNS, churn_counts, finish_churn
from retcalc.metrics.cohorts import cohort_counts, data_grid, finish_cohorts
from retcalc.metrics.common import complete_flag, prepare_activity
from retcalc.metrics.retention import COUNT_COLUMNS, finish_retention, retention_counts
from retcalc.sample import generate, write_sample


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shop")
    write_sample(generate(customers=300, seed=5, start=dt.date(2023, 1, 1), years=2), directory)
    return directory / "orders.csv"


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
    rows = orders.rows()
    whole = prepare_activity(rows, params)
    span = (whole.data_start, whole.purchases.select(pl.col("day").max()).collect().item())
    assert span[1] is not None
    part_of = pl.col("customer_id").hash(seed=1) % parts
    counts = [
        retention_counts(
            prepare_activity(rows.but(rows.frame.filter(part_of == i)), params, span=span)
        ).collect()
        for i in range(parts)
    ]
    assert all(c.height for c in counts)  # every part has customers
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
    rows = orders.rows()
    whole = prepare_activity(rows, params, with_runs=False)
    span = (whole.data_start, whole.purchases.select(pl.col("day").max()).collect().item())
    grid = data_grid(whole.grid, whole.data_end)
    part_of = pl.col("customer_id").hash(seed=2) % parts
    counts = [
        cohort_counts(
            prepare_activity(
                rows.but(rows.frame.filter(part_of == i)), params, with_runs=False, span=span
            ),
            mode=Mode(mode),
            grid=grid,
        ).collect()
        for i in range(parts)
    ]
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
    rows = orders.rows()
    whole = prepare_activity(rows, params)
    span = (whole.data_start, whole.purchases.select(pl.col("day").max()).collect().item())
    part_of = pl.col("customer_id").hash(seed=3) % parts
    sums = [
        churn_counts(
            prepare_activity(rows.but(rows.frame.filter(part_of == i)), params, span=span)
        ).collect()
        for i in range(parts)
    ]
    added = pl.concat(sums).group_by([*by, IDX]).agg(pl.col(c).sum() for c in SUM_COLUMNS)
    merged = finish_churn(added.lazy(), whole.grid, by, complete_flag(whole))
    expected = retcalc.churn(orders, period=period, window=window, by=by)
    assert merged.equals(expected)
    assert expected["previous_revenue"].sum() > 0
