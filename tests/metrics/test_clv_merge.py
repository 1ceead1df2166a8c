"""SPEC §8 for clv: the kernel over the rows of sets of whole customers gives additive
sums, the merge of the sums of every set gives the whole shop's table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import retcalc
from retcalc.engines import Rows
from retcalc.errors import InputError
from retcalc.metrics.clv.historical import SUM_COLUMNS, finish_historical, historical_counts
from retcalc.sample import generate, write_sample


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shop")
    write_sample(generate(customers=300, seed=5, start=dt.date(2023, 1, 1), years=2), directory)
    return directory / "orders.csv"


def in_parts(
    rows: Rows, parts: int, seed: int, kernel: Callable[[Rows], pl.LazyFrame]
) -> list[pl.DataFrame]:
    """``kernel`` on each of ``parts`` sets of the customers of ``rows`` (split by a hash
    of the id)."""
    part_of = pl.col("customer_id").hash(seed=seed) % parts
    found = [kernel(rows.but(rows.frame.filter(part_of == i))).collect() for i in range(parts)]
    assert all(f.height for f in found)  # every part has customers
    return found


def summed(
    parts: list[pl.DataFrame], keys: tuple[str, ...], columns: tuple[str, ...]
) -> pl.DataFrame:
    frame = pl.concat(parts)
    if not keys:
        return frame.select(pl.col(c).sum() for c in columns)
    return frame.group_by(keys).agg(pl.col(c).sum() for c in columns)


@pytest.mark.parametrize(
    ("by", "parts", "options"),
    [
        ((), 3, {}),
        (("channel",), 4, {}),
        (("channel",), 2, {"start": "2023-06-01", "end": "2024-06-30"}),
        ((), 5, {"as_of": "2024-09-01"}),
    ],
)
def test_historical_sums_of_parts_merge_to_the_whole(
    shop: Path, by: tuple[str, ...], parts: int, options: dict[str, str]
) -> None:
    orders = retcalc.read_orders(shop, by=list(by))
    whole = retcalc.clv_historical(orders, by=by, **options)
    dates = {k: dt.date.fromisoformat(v) for k, v in options.items()}
    found = in_parts(
        orders.rows(), parts, 7, lambda rows: historical_counts(rows, keys=by, **dates)
    )
    merged = finish_historical(summed(found, by, SUM_COLUMNS), by)
    assert_frame_equal(merged, whole, check_exact=True)
    assert merged["customers"].sum() == sum(f["customers"].sum() for f in found)


def test_historical_merge_by_hand() -> None:
    # a: orders on Jan 1 (10 + 5 on two lines) and Jan 31 (20); b: one order, Feb 1 (7.5);
    # c: a cancelled order only (no customer).
    orders = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "c"],
            "order_id": ["1", "1", "2", "3", "4"],
            "order_date": ["2024-01-01", "2024-01-01", "2024-01-31", "2024-02-01", "2024-02-02"],
            "amount": [10.0, 5.0, 20.0, 7.5, 9.0],
            "status": ["paid", "paid", "paid", "paid", "cancelled"],
        }
    )
    rows = retcalc.read_orders(orders).rows()
    a = historical_counts(rows.but(rows.frame.filter(pl.col("customer_id") == "a"))).collect()
    bc = historical_counts(rows.but(rows.frame.filter(pl.col("customer_id") != "a"))).collect()
    assert a.row(0) == (1, 2, 35_000_000, 30)
    assert bc.row(0) == (1, 1, 7_500_000, 0)
    table = finish_historical(summed([a, bc], (), SUM_COLUMNS))
    assert table.row(0, named=True) == {
        "customers": 2,
        "orders": 3,
        "revenue": 42.5,
        "aov": pytest.approx(42.5 / 3),
        "orders_per_customer": 1.5,
        "revenue_per_customer": 21.25,
        "mean_tenure_days": 15.0,
    }
    # A set without any customer adds nothing; no customer at all is refused.
    none = historical_counts(rows.but(rows.frame.filter(pl.col("customer_id") == "c"))).collect()
    assert none.height == 0
    with pytest.raises(InputError, match="no purchases in range"):
        finish_historical(summed([none], (), SUM_COLUMNS))
