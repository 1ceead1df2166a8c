"""Historical value and the CLV formula (SPEC §2.7) against hand-computed numbers."""

from __future__ import annotations

import polars as pl
import pytest

from retcalc.errors import InputError
from retcalc.kernels import parts
from retcalc.metrics.clv import formula, historical
from retcalc.metrics.common import Params, prepare_activity
from retcalc.periods import Period, parse_window
from tests.metrics.conftest import D, orders

LINES = ("customer_id", "day", "amount", "order_id", "quantity", "segment")


@pytest.fixture(params=[False, True], ids=["whole", "in-parts"])
def in_parts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole, and as a large input: in parts of the customers (one row per part, up to
    eight), grouped on integer keys with the ids put back at the end."""
    if request.param:
        monkeypatch.setattr(parts, "PART_ROWS", 1)


@pytest.mark.usefixtures("in_parts")
def test_historical_per_customer_counts_orders_and_nets_returns() -> None:
    frame = orders(
        [
            ("A", "2024-01-01", 10.0, "o1", 1, "x"),  # one order, two lines
            ("A", "2024-01-01", 5.0, "o1", 1, "x"),
            ("A", "2024-02-10", 30.0, "o2", 1, "x"),
            ("A", "2024-02-20", -10.0, "o2", -1, "x"),  # return of an o2 line
            ("B", "2024-03-01", 40.0, None, 1, "y"),  # no order id: one order per row
            ("B", "2024-03-01", 20.0, None, 1, "y"),
        ],
        LINES,
    )
    table = historical.per_customer(frame)
    assert table.rows() == [
        ("A", 2, 35.0, 17.5, D("2024-01-01"), D("2024-02-10"), 40),
        ("B", 2, 60.0, 30.0, D("2024-03-01"), D("2024-03-01"), 0),
    ]
    summary = historical.summary(table)
    assert summary.row(0, named=True) == {
        "customers": 2,
        "orders": 4,
        "revenue": 95.0,
        "aov": 23.75,
        "orders_per_customer": 2.0,
        "revenue_per_customer": 47.5,
        "mean_tenure_days": 20.0,
    }
    by_segment = historical.summary(historical.per_customer(frame, keys=("segment",)), ("segment",))
    assert by_segment.select("segment", "customers", "revenue").rows() == [
        ("x", 1, 35.0),
        ("y", 1, 60.0),
    ]
    # --as-of cuts the order and its return; --start/--end bound the range.
    assert historical.per_customer(frame, as_of=D("2024-02-15"))["revenue"].to_list() == [45.0]
    assert historical.per_customer(frame, start=D("2024-02-01"))["orders"].to_list() == [1, 2]


@pytest.mark.usefixtures("in_parts")
def test_historical_counts_an_order_on_its_first_day_and_an_id_per_customer() -> None:
    frame = orders(
        [
            ("A", "2024-01-31", 10.0, "o3", 1, "x"),  # o3 starts before the range
            ("A", "2024-02-02", 10.0, "o3", 1, "x"),
            ("A", "2024-02-05", 5.0, "o4", 1, "x"),
            ("B", "2024-02-03", 7.0, "o4", 1, "y"),  # the same id, another customer's order
        ],
        LINES,
    )
    table = historical.per_customer(frame, start=D("2024-02-01"))
    # A: o3 counts on Jan 31, outside; its Feb 2 revenue is in range.
    assert table.rows() == [
        ("A", 1, 15.0, 15.0, D("2024-02-05"), D("2024-02-05"), 0),
        ("B", 1, 7.0, 7.0, D("2024-02-03"), D("2024-02-03"), 0),
    ]


@pytest.mark.usefixtures("in_parts")
def test_historical_ids_sharing_a_hash_stay_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Customers are grouped on a hash of their id; ids sharing it (every id here, by a
    stand-in hash) are grouped on their text: the same table, the summary too."""
    frame = orders(
        [
            ("A", "2024-01-01", 10.0, "o1", 1, "x"),
            ("B", "2024-01-03", 20.0, "o2", 1, "x"),
            ("B", "2024-01-09", -5.0, "o2", -1, "x"),
            ("C", "2024-01-05", 7.0, None, 1, "y"),
        ],
        LINES,
    )
    expected = [
        ("A", 1, 10.0, 10.0, D("2024-01-01"), D("2024-01-01"), 0),
        ("B", 1, 15.0, 15.0, D("2024-01-03"), D("2024-01-03"), 0),
        ("C", 1, 7.0, 7.0, D("2024-01-05"), D("2024-01-05"), 0),
    ]
    assert historical.per_customer(frame).rows() == expected
    real = historical.id_hashes

    def clashing(ids: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        _first, second = real(ids)
        return pl.when(ids.is_not_null()).then(pl.lit(7, pl.UInt64)), second

    monkeypatch.setattr(historical, "id_hashes", clashing)
    assert historical.per_customer(frame).rows() == expected
    table = historical.table(frame, keys=("segment",))
    assert table.select("segment", "customers", "orders", "revenue").rows() == [
        ("x", 2, 2, 25.0),
        ("y", 1, 1, 7.0),
    ]


# Yearly retention, window 12mo (see the test for the numbers):
# 2023: CS = {A, B, C}, retained {A, B}, churned {C} -> 1/3, complete
# 2024: CS = {A, B, D}, retained {A}, churned {B, D} -> 2/3, complete
YEARS = [
    ("A", "2022-01-01", 10.0, "a1"),
    ("A", "2023-03-01", 20.0, "a2"),
    ("A", "2024-02-01", 30.0, "a3"),
    ("B", "2022-06-01", 40.0, "b1"),
    ("B", "2023-05-01", 50.0, "b2"),
    ("B", "2023-05-01", 10.0, "b3"),
    ("C", "2022-07-01", 100.0, "c1"),
    ("D", "2023-02-01", 60.0, "d1"),
    ("E", "2024-12-31", 5.0, "e1"),
]


def yearly(rows: list[tuple]) -> object:
    frame = orders(rows, ("customer_id", "day", "amount", "order_id"))
    return prepare_activity(frame, Params(period=Period.year, window=parse_window("12mo")))


def test_formula_shows_every_input_and_the_result() -> None:
    prep = yearly(YEARS)
    table = formula.formula_table(prep, margin=0.5, discount_rate=0.1)  # type: ignore[arg-type]
    row = table.row(0, named=True)
    # orders 2023: A1 B2 D1, 2024: A1 E1 -> 6; customer-years 3 + 2 = 5
    # revenue 2023: 20 + 60 + 60 = 140, 2024: 30 + 5 = 35
    assert row["range_start"] == D("2023-01-01") and row["range_end"] == D("2025-01-01")
    assert (row["complete_years"], row["customer_years"], row["orders"]) == (2, 5, 6)
    assert row["revenue"] == 175.0
    assert row["aov"] == pytest.approx(175 / 6)
    assert row["purchases_per_year"] == pytest.approx(1.2)
    assert row["annual_churn_rate"] == pytest.approx(0.5)  # (1/3 + 2/3) / 2
    assert row["expected_lifetime_years"] == pytest.approx(2.0)
    assert row["discounted_lifetime_years"] == pytest.approx(1 / 0.6)
    # 175/6 × 1.2 × 0.5 × 1/0.6
    assert row["clv"] == pytest.approx(35 * 0.5 / 0.6)
    undiscounted = formula.formula_table(prep, margin=0.5, discount_rate=0.0)  # type: ignore[arg-type]
    assert undiscounted["clv"].item() == pytest.approx(35 * 0.5 * 2)


def test_formula_net_of_cost_to_serve_flags_negative() -> None:
    prep = yearly(YEARS)
    costs = pl.LazyFrame(
        {"customer_id": ["A", "B", "C", "D", "E"], "cost_to_serve": [10.0, 20.0, 50.0, 30.0, 40.0]}
    )
    table = formula.formula_table(prep, margin=0.5, discount_rate=0.1, costs=costs)  # type: ignore[arg-type]
    row = table.row(0, named=True)
    assert row["cost_to_serve"] == pytest.approx(25.0)  # buyers in 2023-2024: A, B, D, E
    assert row["clv_net"] == pytest.approx(35 * 0.5 / 0.6 - 25 / 0.6)
    assert row["net_clv_negative"] is True


def test_formula_in_parts_of_the_customers_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # A large input's orders and customer-years are counted per part of its customers
    # (one row per part here: eight parts for nine rows) and added up.
    costs = pl.LazyFrame(
        {"customer_id": ["A", "B", "D", "E"], "cost_to_serve": [10.0, 20.0, 30.0, 40.0]}
    )
    whole = formula.formula_table(yearly(YEARS), margin=0.5, discount_rate=0.1, costs=costs)  # type: ignore[arg-type]
    monkeypatch.setattr(parts, "PART_ROWS", 1)
    in_parts = formula.formula_table(yearly(YEARS), margin=0.5, discount_rate=0.1, costs=costs)  # type: ignore[arg-type]
    assert in_parts.equals(whole)
    assert (whole["customer_years"].item(), whole["orders"].item()) == (5, 6)


def test_formula_without_a_complete_year_is_an_input_error() -> None:
    with pytest.raises(InputError, match="complete calendar year"):
        formula.formula_table(yearly(YEARS[:2]), margin=1.0, discount_rate=0.0)  # type: ignore[arg-type]
