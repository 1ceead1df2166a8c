"""The lifetimes-style summary (SPEC §2.7) on a small hand-computed fixture."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from retcalc.errors import InputError
from retcalc.kernels.keys import keyed_customers, with_ids
from retcalc.kernels.words import free_bits
from retcalc.metrics.clv.summary import (
    TimeUnit,
    _day_revenue_joined,
    _day_revenue_packed,
    rfm_summary,
)
from retcalc.metrics.events import classify
from tests.metrics.conftest import D, orders

COLUMNS = ("customer_id", "day", "amount", "order_id", "quantity", "status")

# A: two orders on 01-01 (one purchase day), 01-08 with a line returned on 01-20
#    (same order: netted into 01-08), and 01-15.
# B: one purchase.
# C: 01-02, 01-10, and a refund without an order id on 01-12 (nets into 01-10).
# D: only a cancelled order: not a customer.
# E: 01-03, and 01-09 fully returned (its repeat spend nets to 0).
ROWS = [
    ("A", "2024-01-01", 10.0, "a1", 1, "paid"),
    ("A", "2024-01-01", 20.0, "a2", 1, "paid"),
    ("A", "2024-01-08", 40.0, "a3", 2, "paid"),
    ("A", "2024-01-20", -10.0, "a3", -1, "paid"),
    ("A", "2024-01-15", 50.0, "a4", 1, "paid"),
    ("B", "2024-01-05", 100.0, "b1", 1, "paid"),
    ("C", "2024-01-02", 20.0, "c1", 1, "paid"),
    ("C", "2024-01-10", 15.0, "c2", 1, "paid"),
    ("C", "2024-01-12", -5.0, None, -1, None),
    ("D", "2024-01-04", 70.0, "d1", 1, "cancelled"),
    ("E", "2024-01-03", 60.0, "e1", 1, "paid"),
    ("E", "2024-01-09", 25.0, "e2", 1, "paid"),
    ("E", "2024-01-11", -25.0, "e2", -1, "paid"),
]


def fixture() -> pl.LazyFrame:
    return orders(ROWS, COLUMNS)


def expected(rows: list[tuple], unit: float = 1.0) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema=[
            "customer_id",
            "first_purchase",
            "last_purchase",
            "frequency",
            "recency",
            "T",
            "monetary_value",
        ],
        orient="row",
    )
    return frame.with_columns(
        pl.col("first_purchase").str.to_date(),
        pl.col("last_purchase").str.to_date(),
        pl.col("frequency").cast(pl.Int64),
        (pl.col("recency").cast(pl.Float64) / unit),
        (pl.col("T").cast(pl.Float64) / unit),
        pl.col("monetary_value").cast(pl.Float64),
    )


def test_same_day_merged_returns_netted_observation_end_last_purchase() -> None:
    summary = rfm_summary(fixture())
    assert summary.observation_end == D("2024-01-15")
    assert_frame_equal(
        summary.frame,
        expected(
            [
                # A: days 01-01, 01-08 (40 - 10), 01-15 (50) -> mean of repeats (30 + 50) / 2
                ("A", "2024-01-01", "2024-01-15", 2, 14, 14, 40.0),
                ("B", "2024-01-05", "2024-01-05", 0, 0, 10, 0.0),
                # C: repeat day 01-10 is 15 - 5 (refund on 01-12 without order id)
                ("C", "2024-01-02", "2024-01-10", 1, 8, 13, 10.0),
                ("E", "2024-01-03", "2024-01-09", 1, 6, 12, 0.0),
            ]
        ),
    )


def test_week_unit_divides_days_by_seven() -> None:
    summary = rfm_summary(fixture(), time_unit=TimeUnit.week)
    assert_frame_equal(
        summary.frame,
        expected(
            [
                ("A", "2024-01-01", "2024-01-15", 2, 14, 14, 40.0),
                ("B", "2024-01-05", "2024-01-05", 0, 0, 10, 0.0),
                ("C", "2024-01-02", "2024-01-10", 1, 8, 13, 10.0),
                ("E", "2024-01-03", "2024-01-09", 1, 6, 12, 0.0),
            ],
            unit=7.0,
        ),
    )


def test_as_of_ends_observation_the_day_before() -> None:
    summary = rfm_summary(fixture(), as_of=D("2024-01-15"))
    assert summary.observation_end == D("2024-01-14")
    assert_frame_equal(
        summary.frame,
        expected(
            [
                # the 01-15 purchase and the 01-20 return are not seen yet
                ("A", "2024-01-01", "2024-01-08", 1, 7, 13, 40.0),
                ("B", "2024-01-05", "2024-01-05", 0, 0, 9, 0.0),
                ("C", "2024-01-02", "2024-01-10", 1, 8, 12, 10.0),
                ("E", "2024-01-03", "2024-01-09", 1, 6, 11, 0.0),
            ]
        ),
    )


def test_keys_take_the_first_purchase_value() -> None:
    frame = orders(
        [
            ("A", "2024-01-01", 10.0, "web"),
            ("A", "2024-01-01", 10.0, "app"),
            ("A", "2024-01-05", 10.0, "store"),
            ("B", "2024-01-02", 10.0, "store"),
        ],
        ("customer_id", "day", "amount", "channel"),
    )
    summary = rfm_summary(frame, keys=("channel",))
    assert summary.frame.select("channel", "customer_id").rows() == [
        ("app", "A"),
        ("store", "B"),
    ]


def test_no_purchase_is_an_input_error() -> None:
    frame = orders([("A", "2024-01-01", -5.0)])
    with pytest.raises(InputError, match="no purchases"):
        rfm_summary(frame)


def test_day_revenue_packed_in_words_is_the_joined_one() -> None:
    # F: a refund without an order id before F's first purchase (it counts nowhere), and
    # one between F's purchases (it nets into 01-04).
    rows = [
        *ROWS,
        ("F", "2024-01-02", -7.0, None, -1, None),
        ("F", "2024-01-04", 30.0, "f1", 1, "paid"),
        ("F", "2024-01-05", -3.0, None, -1, None),
        ("F", "2024-01-06", 20.0, "f2", 1, "paid"),
    ]
    events = classify(orders(rows, COLUMNS)).collect()
    bits = free_bits(pl.concat([events["day"], events["revenue_day"]]))
    assert bits > 0
    coded, ids = keyed_customers(events, bits)
    first = min(events["day"].min(), events["revenue_day"].min())
    packed = with_ids(_day_revenue_packed(coded, bits, first), ids).sort("customer_id", "day")
    joined = with_ids(_day_revenue_joined(coded.lazy()), ids).sort("customer_id", "day")
    assert_frame_equal(packed, joined, check_column_order=False)
    f = packed.filter(pl.col("customer_id") == "F")
    assert f.select("day", "micros").rows() == [
        (D("2024-01-04"), 27_000_000),
        (D("2024-01-06"), 20_000_000),
    ]
    assert packed.height == 10  # purchase days: A 3, B 1, C 2, E 2, F 2 (D never purchased)
