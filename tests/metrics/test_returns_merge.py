"""SPEC §8 for returns: a kernel over the lines of a set of WHOLE orders (every sale and
return line of each order) returning additive sums per cell (--by keys, period), and a
merge. Split the orders into parts by a hash of the order id, find the span of sales
from each part's (the first pass), run the kernel on each part with the whole data's
grid, add the sums: the merge gives the whole shop's table and warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import retcalc
from retcalc.api import metric_params
from retcalc.metrics.activity import IDX
from retcalc.metrics.common import Params
from retcalc.metrics.returns import (
    CELL_SUMS,
    LAST_RETURN,
    TOTAL_SUMS,
    finish_returns,
    lines_span,
    returns_counts,
    returns_table,
    sale_span,
    sales_grid,
)
from retcalc.periods import Period
from retcalc.sample import generate, write_sample
from tests.metrics.conftest import D, orders


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shop")
    write_sample(generate(customers=300, seed=5, start=dt.date(2023, 1, 1), years=2), directory)
    return directory


COLUMNS = (
    "order_id",
    "customer_id",
    "day",
    "quantity",
    "amount",
    "status",
    "returned_quantity",
    "refund_amount",
    "channel",
)

#: Every kind of return and what the warnings count.
MESSY = orders(
    [
        ("O1", "A", "2024-01-05", 2, 20.0, "completed", None, None, "web"),
        ("O1", "A", "2024-01-20", -1, -10.0, None, None, None, "web"),  # a return line
        ("O2", "A", "2024-01-06", 1, 50.0, "returned", None, None, "app"),  # a returned status
        ("O3", "B", "2024-01-07", 4, 40.0, "cancelled", None, None, "web"),
        ("O3", "B", "2024-01-08", -4, -40.0, None, None, None, "web"),  # of a cancelled order
        ("O4", "C", "2024-01-09", 1, 10.0, "refunded", None, 4.0, "app"),  # refund_amount
        ("C9", "A", "2024-02-20", -2, -8.0, None, None, None, "web"),  # no such sale order
        ("O5", "D", "2024-02-02", 1.5, 15.0, "paid", None, None, "app"),  # half units
        ("O5", "D", "2024-02-10", -0.5, -5.0, None, None, None, "app"),
        ("O6", "E", "2024-02-03", 3, 30.0, "paid", 1.0, 10.0, "web"),  # returned_quantity
        ("O7", "E", "2024-03-01", 1, 10.0, "paid", None, None, "web"),
        ("O7", "E", "2024-03-02", -2, -20.0, None, None, None, "web"),  # more than sold
        (None, "F", "2024-03-05", 1, 5.0, "paid", None, None, "app"),  # no order id
        (None, "F", "2024-03-06", -1, -5.0, None, None, None, "app"),  # matches no sale
        ("O8", "G", "2024-03-10", 2, 20.0, "completed", None, None, None),  # no channel
        ("O8", "G", "2024-04-15", -1, -10.0, None, None, None, None),  # after the last sale
    ],
    COLUMNS,
).with_columns(pl.col("returned_quantity").cast(pl.Float64))


def parts_of(frame: pl.LazyFrame, parts: int, seed: int) -> list[pl.LazyFrame]:
    """The rows of ``frame`` in ``parts`` sets of whole orders (by a hash of the order id;
    a row without one is an order of its own), each in the order of ``frame``."""
    numbered = frame.with_row_index("_n")
    part = pl.coalesce(pl.col("order_id").hash(seed), pl.col("_n").hash(seed)) % parts
    return [numbered.filter(part == i).drop("_n") for i in range(parts)]


def merged_by_parts(
    lines: pl.LazyFrame,
    params: Params,
    parts: int,
    seed: int,
    *,
    by_return_date: bool = False,
    returns: pl.LazyFrame | None = None,
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The first pass and the kernel on each part, their sums, the merge."""
    keys, as_of = list(params.by), params.as_of
    pieces = parts_of(lines, parts, seed)
    files = parts_of(returns, parts, seed) if returns is not None else [None] * parts
    spans = pl.concat([lines_span(p, as_of) for p in pieces]).select(
        pl.col("first").min(), pl.col("last").max(), pl.col("informs").any()
    )
    first, last = sale_span(spans, has_file=returns is not None, as_of=as_of)
    grid = sales_grid(params, first, last)
    found = [
        returns_counts(
            p, keys=keys, grid=grid, as_of=as_of, by_return_date=by_return_date, returns=f
        )
        for p, f in zip(pieces, files, strict=True)
    ]
    # Split indeed (a part may hold no order: its kernel gives no cell).
    assert sum(f.filter(pl.col(IDX).is_not_null()).height > 0 for f in found) >= 2
    summed = (
        pl.concat(found)
        .group_by([*keys, IDX])
        .agg(pl.col(*CELL_SUMS, *TOTAL_SUMS).sum(), pl.col(LAST_RETURN).max())
    )
    result = finish_returns(summed, grid, keys, last_sale=last, as_of=as_of)
    return result.table.drop(IDX), result.warnings


@pytest.mark.parametrize(
    ("period", "by", "by_return_date", "as_of", "parts"),
    [
        ("month", (), False, None, 3),
        ("week", ("channel",), True, None, 4),
        ("quarter", ("channel", "product_id"), False, "2024-06-01", 2),
        ("day", ("customer_id",), False, None, 5),
        ("month", ("product_id",), True, "2023-11-15", 3),
    ],
)
def test_sums_of_parts_of_a_shop_add_up_to_the_whole(
    shop: Path,
    period: str,
    by: tuple[str, ...],
    by_return_date: bool,
    as_of: str | None,
    parts: int,
) -> None:
    read = retcalc.read_orders(shop / "orders.csv", by=[k for k in by if k != "customer_id"])
    lines = read.view().frame
    params = metric_params(period=period, by=by, as_of=as_of)
    whole = returns_table(lines, params=params, by_return_date=by_return_date)
    table, warnings = merged_by_parts(lines, params, parts, 7, by_return_date=by_return_date)
    assert_frame_equal(table, whole.table)
    assert warnings == whole.warnings
    assert whole.table["units_returned"].sum() > 0
    assert whole.table["orders_returned"].sum() > 0


@pytest.mark.parametrize(
    ("by", "by_return_date", "as_of", "parts", "seed"),
    [
        ((), False, None, 3, 1),
        (("channel",), True, None, 4, 2),
        (("customer_id",), False, "2024-04-01", 2, 3),
        (("channel",), False, "2024-03-02", 5, 4),
    ],
)
def test_sums_of_parts_of_messy_orders_add_up_to_the_whole(
    by: tuple[str, ...], by_return_date: bool, as_of: str | None, parts: int, seed: int
) -> None:
    params = Params(period=Period.month, by=by, as_of=D(as_of) if as_of else None)
    whole = returns_table(MESSY, params=params, by_return_date=by_return_date)
    table, warnings = merged_by_parts(MESSY, params, parts, seed, by_return_date=by_return_date)
    assert_frame_equal(table, whole.table)
    assert warnings == whole.warnings
    assert table.schema["units_sold"] == pl.Float64  # O5's half units
    # The warnings the parts' counts make: a cancelled order's return line, O7's excess,
    # the loose lines (C9 and F's, or those before --as-of).
    assert whole.warnings[0].startswith("1 return line of cancelled orders left out")
    if as_of is None or as_of > "2024-03-02":
        assert "1 order with more units returned than sold (1 units more" in whole.warnings[1]
    assert "without a matching sale order" in whole.warnings[-1]


def test_whole_units_stay_integers_and_the_last_return_ends_the_data() -> None:
    lines = MESSY.filter(pl.col("order_id") != "O5")
    params = Params(period=Period.month)
    whole = returns_table(lines, params=params)
    table, warnings = merged_by_parts(lines, params, 3, 5)
    assert_frame_equal(table, whole.table)
    assert warnings == whole.warnings
    assert table.schema["units_sold"] == pl.Int64
    # O8's return on 2024-04-15 (after the last sale, 2024-03-10) ends the data: March
    # is complete.
    assert table["complete"].to_list() == [True, True, True]


def test_a_returns_file_by_order_id_goes_with_its_orders() -> None:
    file = pl.DataFrame(
        {
            "order_id": ["O1", "O6", "O9", "O3"],
            "day": [D("2024-02-03"), D("2024-02-20"), D("2024-02-21"), D("2024-01-10")],
            "quantity": [1.0, 2.0, 1.0, 1.0],
            "amount": [10.0, 20.0, 5.0, 10.0],
        }
    ).lazy()
    params = Params(period=Period.month, by=("channel",))
    whole = returns_table(MESSY, params=params, returns=file)
    table, warnings = merged_by_parts(MESSY, params, 3, 6, returns=file)
    assert_frame_equal(table, whole.table)
    assert warnings == whole.warnings
    assert table["orders_returned"].sum() > 0
