"""SPEC §8 for kpis: a kernel over a set of whole customers giving additive partials per
range (counts, sums in micros, a histogram of day gaps) and a merge. Split a shop's
customers into parts, run the kernel on each part with the whole data's span, add the
partials: the merge gives the table of the whole shop, the medians exact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import retcalc
from retcalc.api import metric_params
from retcalc.metrics.common import Params, Prepared, complete_flag, prepare_activity
from retcalc.metrics.kpis import (
    GAP,
    finish_kpis,
    kpi_partials,
    kpi_table,
    partial_group,
    range_bounds,
    range_grid,
)
from retcalc.periods import Period, parse_window
from retcalc.sample import generate, write_sample
from tests.metrics.conftest import D, orders
from tests.metrics.test_kernel_merge import by_parts


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shop")
    write_sample(generate(customers=300, seed=7, start=dt.date(2023, 1, 1), years=2), directory)
    return directory / "orders.csv"


def merged(
    orders: retcalc.Orders, params: object, parts: int, seed: int, **kw: object
) -> tuple[pl.DataFrame, int]:
    """The table from the kernel on ``parts`` parts of the customers, summed and merged;
    and how many rows the summed partials have."""
    per_period = bool(kw["per_period"])
    by_sequence = bool(kw.get("by_sequence", False))
    last: list[dt.date] = []

    def kernel(prep: Prepared) -> pl.LazyFrame:
        return kpi_partials(prep, params=params, last=last[0], **kw)  # type: ignore[arg-type]

    whole = prepare_activity(orders.rows(), params)  # type: ignore[arg-type]
    assert whole.purchases is not None
    last.append(whole.purchases.select(pl.col("day").max()).collect().item())
    whole, found = by_parts(orders, params, parts, seed, kernel)
    group = partial_group(whole.keys, by_sequence)
    summed = pl.concat(found).group_by(group).agg(pl.exclude(group).sum())
    grid = whole.grid if per_period else range_grid(params, *range_bounds(whole, params))  # type: ignore[arg-type]
    table = finish_kpis(
        summed.lazy(),
        grid,
        whole.keys,
        complete_flag(whole),
        per_period=per_period,
        by_sequence=by_sequence,
    )
    return table, summed.height


@pytest.mark.parametrize(
    ("period", "by", "by_sequence", "parts", "start"),
    [
        (None, (), False, 3, None),
        (None, ("channel",), True, 4, "2023-05-10"),
        ("month", (), True, 3, None),
        ("week", ("channel",), False, 2, None),
        ("quarter", ("channel",), True, 5, "2023-04-01"),
        ("day", (), False, 2, "2024-10-01"),
    ],
)
def test_partials_of_parts_add_up_to_the_whole(
    shop: Path,
    period: str | None,
    by: tuple[str, ...],
    by_sequence: bool,
    parts: int,
    start: str | None,
) -> None:
    orders = retcalc.read_orders(shop, by=list(by))
    params = metric_params(period=period or "month", window="90d", start=start, by=by)
    per_period = period is not None
    table, _ = merged(
        orders, params, parts, 4, per_period=per_period, by_sequence=by_sequence, loyal_orders=3
    )
    expected = retcalc.kpis(
        orders,
        period=period,
        window="90d",
        start=start,
        by=by,
        by_sequence=by_sequence,
        loyal_orders=3,
    )
    assert table.equals(expected)
    if period in ("month", "quarter"):  # an even count's median: two middle values' mean
        assert (expected["median_days_between_purchases"] % 1 == 0.5).any()
    assert expected["customers"].sum() > 0
    if period != "day":  # two purchase days are never in one day
        assert expected["median_days_between_purchases"].drop_nulls().len() > 0
    if start is not None:  # existing customers: those who bought before the start
        assert expected["existing_customer_revenue_growth"].drop_nulls().len() > 0


def test_partials_are_bounded_by_the_history_not_the_customers(shop: Path) -> None:
    orders = retcalc.read_orders(shop)
    params = metric_params(period="month", window="90d")
    table, rows = merged(orders, params, 3, 5, per_period=True)
    # One row per period and one per (period, gap length): a gap inside a month is
    # shorter than 31 days.
    assert table.height < rows <= table.height * 31


# Hand-computed medians: one range, March 2024 (purchase days only count once a day).
COLUMNS = ("customer_id", "day", "order_id", "amount")


def march() -> Params:
    return Params(
        window=parse_window("1mo"), start=D("2024-03-01"), end=D("2024-03-31"), period=Period.month
    )


def kpis_of(rows: list[tuple[str, str, str, int]], **kw: object) -> dict[str, object]:
    params = march()
    frame = orders(rows, COLUMNS)
    table = kpi_table(prepare_activity(frame, params), params=params, **kw)  # type: ignore[arg-type]
    return table.row(0, named=True)


#   a: Mar 1, Mar 3, Mar 7 (gaps 2 and 4; the first purchase day has no gap)
#   b: Mar 1, Mar 2 (gap 1), and Feb 1 before the range (its gap crosses the range start)
#   c: Mar 5, Mar 15 (gap 10)
ODD = [
    ("a", "2024-03-01", "o1", 10),
    ("a", "2024-03-03", "o2", 10),
    ("a", "2024-03-07", "o3", 10),
    ("b", "2024-02-01", "o4", 10),
    ("b", "2024-03-01", "o5", 10),
    ("b", "2024-03-02", "o6", 10),
    ("b", "2024-03-02", "o7", 10),  # the same day: one purchase day
]
EVEN = [*ODD, ("c", "2024-03-05", "o8", 10), ("c", "2024-03-15", "o9", 10)]


def test_median_of_an_odd_count_is_the_middle_gap() -> None:
    row = kpis_of(ODD, by_sequence=True)  # gaps 1, 2, 4
    assert row["median_days_between_purchases"] == 2.0
    assert row["mean_days_between_purchases"] == pytest.approx(7 / 3)
    # 1st to 2nd day of the history: a's 2 (b's 1st to 2nd is Feb 1 to Mar 1, not inside)
    assert row["median_days_1_to_2"] == 2.0
    # 2nd to 3rd: a's 4, b's 1 -> (1 + 4) / 2
    assert row["median_days_2_to_3"] == 2.5
    assert row["median_days_3_to_4"] is None


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_gaps() -> None:
    row = kpis_of(EVEN)  # gaps 1, 2, 4, 10
    assert row["median_days_between_purchases"] == 3.0
    assert row["mean_days_between_purchases"] == 17 / 4


def test_a_single_gap_and_no_gap() -> None:
    one = kpis_of([("c", "2024-03-05", "o8", 10), ("c", "2024-03-15", "o9", 10)])
    assert (one["median_days_between_purchases"], one["mean_days_between_purchases"]) == (10, 10)
    none = kpis_of([("c", "2024-03-05", "o8", 10), ("d", "2024-03-15", "o9", 10)])
    assert none["median_days_between_purchases"] is None
    assert none["mean_days_between_purchases"] is None


def test_parts_histograms_merge_to_the_pooled_median() -> None:
    # a's gaps (2, 4) in one part, b's and c's (1, 10) in the other: pooled 1, 2, 4, 10.
    params = march()
    span = (D("2024-02-01"), D("2024-03-15"))
    found = []
    for ids in (["a"], ["b", "c"]):
        frame = orders(EVEN, COLUMNS).filter(pl.col("customer_id").is_in(ids))
        prep = prepare_activity(frame, params, span=span)
        found.append(kpi_partials(prep, params=params, per_period=False, last=span[1]).collect())
    assert {f.filter(pl.col(GAP).is_not_null())[GAP].to_list().__len__() for f in found} == {2}
    group = partial_group((), False)
    summed = pl.concat(found).group_by(group).agg(pl.exclude(group).sum())
    grid = range_grid(params, D("2024-03-01"), D("2024-03-31"))
    row = finish_kpis(summed.lazy(), grid, (), pl.lit(True), per_period=False).row(0, named=True)
    assert row["median_days_between_purchases"] == 3.0
    assert row["mean_days_between_purchases"] == 17 / 4
    assert row == kpis_of(EVEN)
