"""Return rates (SPEC §2.6) on small literal order histories, computed by hand."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from retcalc.errors import InputError, UsageError
from retcalc.metrics.common import Params
from retcalc.metrics.returns import RETURNS_COLUMNS, returns_table, top_returns
from retcalc.periods import Period
from tests.metrics.conftest import D, orders

LINE = ("order_id", "customer_id", "day", "quantity", "amount")
STATUS = (*LINE, "status")
MONTH = Params(period=Period.month)


def expected(rows: list[tuple], keys: tuple[str, ...] = ()) -> pl.DataFrame:
    """Expected table from tuples: keys..., period_start, orders, orders_returned, units_sold,
    units_returned, gross_sales, refunded, complete (period_end and the rates derived)."""
    frame = pl.DataFrame(
        rows,
        schema=[
            *[(k, pl.String) for k in keys],
            ("period_start", pl.String),
            ("orders", pl.Int64),
            ("orders_returned", pl.Int64),
            ("units_sold", pl.Int64),
            ("units_returned", pl.Int64),
            ("gross_sales", pl.Float64),
            ("refunded", pl.Float64),
            ("complete", pl.Boolean),
        ],
        orient="row",
    )

    def rate(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) != 0).then(pl.col(num) / pl.col(den)).otherwise(None)

    return (
        frame.with_columns(pl.col("period_start").str.to_date())
        .with_columns(
            pl.col("period_start").dt.offset_by("1mo").alias("period_end"),
            rate("units_returned", "units_sold").alias("unit_return_rate"),
            rate("refunded", "gross_sales").alias("value_return_rate"),
            rate("orders_returned", "orders").alias("order_return_rate"),
        )
        .select(*keys, *RETURNS_COLUMNS)
    )


def check(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert_frame_equal(got, want, check_exact=False, rel_tol=1e-12)


LATER = orders(
    [
        ("O1", "A", "2024-01-10", 2, 20.0),
        ("O1", "A", "2024-02-05", -1, -10.0),  # O1 returned in February
        ("O2", "B", "2024-01-20", 1, 15.0),
        ("O3", "B", "2024-02-10", 3, 30.0),
        ("O3", "B", "2024-02-12", -3, -30.0),
    ],
    LINE,
)


def test_return_counts_in_the_period_of_its_order() -> None:
    result = returns_table(LATER, params=MONTH)
    check(
        result.table,
        expected(
            [
                # Jan: O1 and O2 sold 3 units for 35; O1's February return (1 unit, 10) counts here.
                ("2024-01-01", 2, 1, 3, 1, 35.0, 10.0, True),
                # Feb: O3 sold 3 for 30 and was returned in full; data ends 2024-02-13.
                ("2024-02-01", 1, 1, 3, 3, 30.0, 30.0, False),
            ]
        ),
    )
    assert result.warnings == ()


def test_by_return_date_moves_the_return_to_its_own_period() -> None:
    result = returns_table(LATER, params=MONTH, by_return_date=True)
    check(
        result.table,
        expected(
            [
                ("2024-01-01", 2, 0, 3, 0, 35.0, 0.0, True),
                # O1 (sold in January) and O3 both had returns in February: 2 / 1 orders.
                ("2024-02-01", 1, 2, 3, 4, 30.0, 40.0, False),
            ]
        ),
    )
    assert result.table["order_return_rate"].to_list() == [0.0, 2.0]


def test_return_line_without_a_sale_counts_on_its_own_date_with_a_warning() -> None:
    unmatched = pl.concat(
        [LATER, orders([("C9", "A", "2024-02-20", -2, -8.0)], LINE)], how="vertical_relaxed"
    )
    result = returns_table(unmatched, params=MONTH)
    check(
        result.table,
        expected(
            [
                ("2024-01-01", 2, 1, 3, 1, 35.0, 10.0, True),
                # +2 units and 8.00 refunded from C9, but no extra returned order.
                ("2024-02-01", 1, 1, 3, 5, 30.0, 38.0, False),
            ]
        ),
    )
    (warning,) = result.warnings
    assert warning.startswith(
        "1 return line (2 units, 8.00 refunded) without a matching sale order"
    )


def test_order_ids_are_optional_every_return_line_is_then_unmatched() -> None:
    frame = LATER.drop("order_id")
    result = returns_table(frame, params=MONTH)
    check(
        result.table,
        expected(
            [
                # Each row is an order: 2 sales in January, 1 in February.
                ("2024-01-01", 2, 0, 3, 0, 35.0, 0.0, True),
                ("2024-02-01", 1, 0, 3, 4, 30.0, 40.0, False),
            ]
        ),
    )
    assert "2 return lines (4 units, 40.00 refunded)" in result.warnings[0]


def test_a_line_without_an_order_id_is_an_order_of_its_own() -> None:
    frame = orders(
        [
            (None, "A", "2024-01-05", 1, 10.0),
            (None, "A", "2024-01-05", 2, 20.0),
            ("O1", "A", "2024-01-05", 1, 5.0),
            ("O1", "A", "2024-01-08", 1, 5.0),
            ("O1", "A", "2024-02-02", -1, -5.0),  # counts in January, O1's month
            (None, "A", "2024-01-20", -1, -10.0),  # matches no sale: not an order returned
        ],
        LINE,
    )
    result = returns_table(frame, params=MONTH)
    check(result.table, expected([("2024-01-01", 3, 1, 5, 2, 40.0, 15.0, True)]))
    assert "1 return line (1 units, 10.00 refunded) without a matching" in result.warnings[0]


def test_status_marks_returns_and_cancelled_orders_are_left_out() -> None:
    frame = orders(
        [
            ("O1", "A", "2024-01-05", 2, 20.0, "completed"),
            ("O2", "A", "2024-01-06", 1, 50.0, "returned"),  # sold and returned in full
            ("O3", "B", "2024-01-07", 4, 40.0, "cancelled"),  # neither a sale nor a return
            ("O3", "B", "2024-01-08", -4, -40.0, None),  # return line of a cancelled order
            ("O4", "C", "2024-01-09", 1, 10.0, "refunded"),  # meanings, as the readers give them
        ],
        STATUS,
    )
    result = returns_table(frame, params=MONTH)
    check(result.table, expected([("2024-01-01", 3, 2, 4, 2, 80.0, 60.0, False)]))
    assert result.warnings == (
        "1 return line of cancelled orders left out (cancelled orders count in neither sales "
        "nor returns)",
    )


def test_returned_quantity_and_refund_amount_columns() -> None:
    frame = orders(
        [
            ("O1", "A", "2024-01-05", 3, 30.0, 1.0, 10.0, "paid"),
            ("O2", "B", "2024-01-06", 2, 20.0, 0.0, 5.0, "paid"),  # money-only partial refund
            ("O3", "C", "2024-02-01", 1, 10.0, None, None, "paid"),
            # O5 has the return both on its sale row and as a line: the line counts, once.
            ("O5", "D", "2024-02-02", 2, 40.0, 2.0, 40.0, "paid"),
            ("O5", "D", "2024-02-15", -2, -40.0, None, None, "paid"),
            # refunded status: its unit comes back, and the money its refund_amount says
            # (10 of 30), as revenue nets it; without a refund figure, all 30.
            ("O6", "E", "2024-02-03", 1, 30.0, None, 10.0, "refunded"),
            ("O7", "F", "2024-02-04", 1, 5.0, None, None, "refunded"),
        ],
        (*LINE, "returned_quantity", "refund_amount", "status"),
    ).with_columns(pl.col("returned_quantity").cast(pl.Float64))
    result = returns_table(frame, params=MONTH)
    check(
        result.table,
        expected(
            [
                ("2024-01-01", 2, 2, 5, 1, 50.0, 15.0, True),
                ("2024-02-01", 4, 3, 5, 4, 85.0, 55.0, False),
            ]
        ),
    )


RETURNS_FILE = pl.DataFrame(
    {
        "order_id": ["O1", "O3", "O9"],
        "customer_id": ["A", "B", "Z"],
        "day": [D("2024-02-03"), D("2024-02-20"), D("2024-02-21")],
        "quantity": [1.0, 2.0, 1.0],
        "amount": [10.0, 20.0, 5.0],
    }
).lazy()
SALES_ONLY = LATER.filter(pl.col("quantity") > 0)


def test_separate_returns_file_joined_by_order_id() -> None:
    result = returns_table(SALES_ONLY, params=MONTH, returns=RETURNS_FILE)
    want = expected(
        [
            ("2024-01-01", 2, 1, 3, 1, 35.0, 10.0, True),
            # O3 returned 2 of 3; O9 is not a sale: 1 unit, 5.00, on its own date.
            ("2024-02-01", 1, 1, 3, 3, 30.0, 25.0, False),
        ]
    )
    check(result.table, want)
    assert "1 return line (1 units, 5.00 refunded)" in result.warnings[0]
    # The orders' own return lines describe the same returns: the file wins, nothing is doubled.
    both = returns_table(LATER, params=MONTH, returns=RETURNS_FILE)
    check(both.table, want)


def test_returns_file_without_order_ids_matches_the_latest_order_of_the_customer() -> None:
    sales = orders(
        [
            ("O1", "A", "2024-01-10", 2, 20.0),
            ("O2", "A", "2024-02-05", 1, 10.0),
            ("O3", "B", "2024-01-15", 1, 5.0),
        ],
        LINE,
    )
    file = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "day": [D("2024-02-01"), D("2024-02-06"), D("2024-01-01")],
            "quantity": [1.0, 1.0, 1.0],
            "amount": [10.0, 10.0, 5.0],
        }
    ).lazy()
    result = returns_table(sales, params=MONTH, returns=file)
    check(
        result.table,
        expected(
            [
                # A's Feb 1 return belongs to O1 (Jan 10); B's Jan 1 return precedes every B order.
                ("2024-01-01", 2, 1, 3, 2, 25.0, 15.0, True),
                ("2024-02-01", 1, 1, 1, 1, 10.0, 10.0, False),
            ]
        ),
    )


def test_no_returns_information_is_an_error_not_zeros() -> None:
    frame = orders(
        [
            ("O1", "A", "2024-01-05", 1, 10.0, "completed"),
            ("O2", "B", "2024-01-06", 2, 5.0, "completed"),
        ],
        STATUS,
    )
    with pytest.raises(InputError, match="returned_quantity or refund_amount"):
        returns_table(frame, params=MONTH)


def test_more_units_returned_than_sold_is_a_warning() -> None:
    frame = orders([("O1", "A", "2024-01-05", 1, 10.0), ("O1", "A", "2024-01-09", -2, -20.0)], LINE)
    result = returns_table(frame, params=MONTH)
    check(result.table, expected([("2024-01-01", 1, 1, 1, 2, 10.0, 20.0, False)]))
    assert result.warnings[0].startswith("1 order with more units returned than sold (1 units more")


def test_empty_period_has_null_rates_and_as_of_cuts_returns() -> None:
    frame = orders(
        [
            ("O1", "A", "2024-01-05", 2, 20.0),
            ("O1", "A", "2024-03-02", -1, -10.0),
            ("O2", "B", "2024-03-01", 1, 10.0),
            ("O3", "B", "2024-04-01", 1, 10.0),
        ],
        LINE,
    )
    result = returns_table(frame, params=Params(period=Period.month, as_of=D("2024-03-02")))
    check(
        result.table,
        expected(
            [
                # The 2024-03-02 return is on the --as-of day: not yet happened.
                ("2024-01-01", 1, 0, 2, 0, 20.0, 0.0, True),
                ("2024-02-01", 0, 0, 0, 0, 0.0, 0.0, True),
                ("2024-03-01", 1, 0, 1, 0, 10.0, 0.0, False),
            ]
        ),
    )
    assert result.table.row(1, named=True)["unit_return_rate"] is None


def test_by_product_splits_by_the_line_and_file_rows_borrow_the_order_channel() -> None:
    frame = orders(
        [
            ("O1", "A", "2024-01-05", 2, 20.0, "P1", "web"),
            ("O1", "A", "2024-01-05", 1, 5.0, "P2", "web"),
            ("O1", "A", "2024-01-20", -1, -5.0, "P2", "web"),
            ("O2", "B", "2024-01-07", 1, 8.0, "P2", "app"),
        ],
        (*LINE, "product_id", "channel"),
    )
    by_product = returns_table(frame, params=Params(by=("product_id",)))
    check(
        by_product.table,
        expected(
            [
                ("P1", "2024-01-01", 1, 0, 2, 0, 20.0, 0.0, False),
                ("P2", "2024-01-01", 2, 1, 2, 1, 13.0, 5.0, False),
            ],
            keys=("product_id",),
        ),
    )
    file = pl.DataFrame(
        {"order_id": ["O2"], "day": [D("2024-01-09")], "quantity": [1.0], "amount": [8.0]}
    ).lazy()
    by_channel = returns_table(frame, params=Params(by=("channel",)), returns=file)
    check(
        by_channel.table,
        expected(
            [
                ("app", "2024-01-01", 1, 1, 1, 1, 8.0, 8.0, False),
                ("web", "2024-01-01", 1, 1, 3, 1, 25.0, 5.0, False),
            ],
            keys=("channel",),
        ),
    )


def test_fractional_quantities_keep_float_units() -> None:
    frame = orders(
        [("O1", "A", "2024-01-05", 1.5, 15.0), ("O1", "A", "2024-01-06", -0.5, -5.0)], LINE
    )
    table = returns_table(frame, params=MONTH).table
    assert table.schema["units_sold"] == pl.Float64
    assert table.row(0, named=True)["unit_return_rate"] == pytest.approx(1 / 3)


def test_units_are_whole_only_when_every_line_is() -> None:
    # O1's lines sum to 2 units, but one line is half a unit: the units stay float.
    frame = orders(
        [
            ("O1", "A", "2024-01-05", 0.5, 5.0),
            ("O1", "A", "2024-01-05", 1.5, 15.0),
            ("O1", "A", "2024-01-06", -1, -10.0),
        ],
        LINE,
    )
    for by in ((), ("customer_id",)):
        table = returns_table(frame, params=dataclasses.replace(MONTH, by=by)).table
        assert table.schema["units_sold"] == pl.Float64
        assert table.select("units_sold", "units_returned").row(0) == (2.0, 1.0)


def _product(name: str, sold: int, returned: int) -> list[tuple]:
    rows: list[tuple] = [(f"S-{name}", "A", "2024-01-05", sold, float(sold), name)]
    if returned:
        rows.append((f"S-{name}", "A", "2024-01-20", -returned, -float(returned), name))
    return rows


def test_top_ranks_by_unit_return_rate_with_minimum_volume_and_ties() -> None:
    rows = [
        *_product("P1", 10, 5),  # 50 %
        *_product("P2", 30, 6),  # 20 %, 6 returned
        *_product("P3", 20, 4),  # 20 %, 4 returned
        *_product("P4", 40, 8),  # 20 %, 8 returned
        *_product("P5", 2, 2),  # 100 % but below --min-units
        *_product("P6", 30, 6),  # ties P2 on rate and units: key order
    ]
    frame = orders(rows, (*LINE, "product_id"))
    result = top_returns(frame, params=MONTH, n=4, min_units=5)
    assert result.table.columns == [
        "product_id",
        "units_sold",
        "units_returned",
        "unit_return_rate",
        "gross_sales",
        "refunded",
        "value_return_rate",
        "orders",
        "orders_returned",
        "order_return_rate",
    ]
    assert result.table["product_id"].to_list() == ["P1", "P4", "P2", "P6"]
    assert result.table.row(0) == ("P1", 10, 5, 0.5, 10.0, 5.0, 0.5, 1, 1, 1.0)
    assert top_returns(frame, params=MONTH, n=1, min_units=0).table["product_id"].to_list() == [
        "P5"
    ]


def test_top_by_customer_and_bad_keys() -> None:
    frame = orders(
        [
            ("O1", "A", "2024-01-05", 30, 30.0),
            ("O1", "A", "2024-01-06", -3, -3.0),
            ("O2", "B", "2024-01-05", 25, 25.0),
        ],
        LINE,
    )
    table = top_returns(frame, params=Params(by=("customer_id",)), n=5).table
    assert table.select("customer_id", "unit_return_rate").rows() == [("A", 0.1), ("B", 0.0)]
    with pytest.raises(UsageError, match="--top ranks"):
        top_returns(frame, params=Params(by=("channel",)), n=5)


def test_returns_file_row_without_order_id_falls_back_to_the_customer() -> None:
    file = pl.DataFrame(
        {
            "order_id": ["O1", None],
            "customer_id": ["A", "B"],
            "day": [D("2024-02-03"), D("2024-02-25")],
            "quantity": [1.0, 1.0],
            "amount": [10.0, 10.0],
        }
    ).lazy()
    table = returns_table(SALES_ONLY, params=MONTH, returns=file).table
    # B's undated-order return belongs to O3 (2024-02-10), B's latest order before 02-25.
    assert table.select("orders_returned", "units_returned", "refunded").rows() == [
        (1, 1, 10.0),
        (1, 1, 10.0),
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    # (#1001, #1002 and S-1, S-2 hash in the other order than their text sorts)
    [("O1", "O2"), ("Z9", "A1"), ("#1001", "#1002"), ("S-2", "S-1"), ("B7", None), (None, "B7")],
)
def test_a_file_return_by_customer_takes_the_order_first_by_id_of_a_shared_day(
    first: str | None, second: str | None
) -> None:
    # A's two orders on 2024-01-10 sell different products; the file's return (no order
    # id) belongs to the one whose id comes first as text (a row without an id before any).
    sales = orders(
        [
            (first, "A", "2024-01-10", 1, 10.0, "P-first"),
            (second, "A", "2024-01-10", 1, 10.0, "P-second"),
        ],
        (*LINE, "product_id"),
    )
    file = pl.DataFrame(
        {"customer_id": ["A"], "day": [D("2024-01-15")], "quantity": [1.0], "amount": [10.0]}
    ).lazy()
    params = dataclasses.replace(MONTH, by=("product_id",))
    table = returns_table(sales, params=params, returns=file).table
    text = {i: "\x00" if i is None else i for i in (first, second)}  # a row key's text
    winner = "P-first" if text[first] < text[second] else "P-second"
    returned = dict(table.select("product_id", "units_returned").rows())
    assert returned == {winner: 1, ({"P-first", "P-second"} - {winner}).pop(): 0}
