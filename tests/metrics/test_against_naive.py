"""The interval algorithm against the naive set-based reference on random order histories."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from retcalc.metrics.churn import churn_table
from retcalc.metrics.common import Params, prepare_activity
from retcalc.metrics.retention import retention_table
from retcalc.periods import Period, parse_window
from tests.metrics.naive import naive_tables


def random_orders(seed: int, customers: int = 25) -> pl.DataFrame:
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1)
    rows = []
    order = 0
    for c in range(customers):
        day = start + dt.timedelta(days=rng.randrange(0, 500))
        for _ in range(rng.choice([1, 1, 1, 2, 3, 5, 8])):
            order += 1
            oid = f"o{order}"
            amount = round(rng.uniform(1, 100), 2)
            status = rng.choice(["completed"] * 12 + ["cancelled"])
            rows.append((f"c{c}", day, amount, 1.0, oid, status))
            if rng.random() < 0.15:  # a later return of part of it, same order id
                back = day + dt.timedelta(days=rng.randrange(1, 60))
                rows.append((f"c{c}", back, -round(amount / 2, 2), -1.0, oid, "returned"))
            if rng.random() < 0.05:  # a return with no matching order
                rows.append((f"c{c}", day, -5.0, -1.0, f"x{order}", None))
            gap = rng.choice([0, 1, 3, 10, 30, 45, 90, 200, 400])
            day = day + dt.timedelta(days=gap)
    return pl.DataFrame(
        rows,
        schema=["customer_id", "day", "amount", "quantity", "order_id", "status"],
        orient="row",
    )


def frames_equal(got: pl.DataFrame, expected: list[dict]) -> None:
    exp = pl.DataFrame(
        expected,
        schema_overrides={c: pl.Float64 for c in got.columns if got.schema[c] == pl.Float64},
    )
    assert got.columns == exp.columns
    for column in got.columns:
        a, b = got[column].to_list(), exp[column].cast(got.schema[column]).to_list()
        if got.schema[column] == pl.Float64:
            for x, y in zip(a, b, strict=True):
                assert (x is None) == (y is None), column
                if x is not None:
                    assert x == pytest.approx(y, rel=1e-9, abs=1e-9), column
        else:
            assert a == b, column


CASES = [
    (seed, period, window)
    for seed, (period, window) in enumerate(
        [
            ("month", "12mo"),
            ("month", "1mo"),
            ("month", "30d"),
            ("month", "all"),
            ("week", "8w"),
            ("week", "90d"),
            ("quarter", "3mo"),
            ("quarter", "30d"),
            ("year", "1y"),
            ("day", "30d"),
            ("month", "3mo"),
            ("week", "1mo"),
        ]
    )
]


@pytest.mark.parametrize(
    ("seed", "period", "window"), CASES, ids=[f"{p}-{w}-{s}" for s, p, w in CASES]
)
def test_matches_naive(seed: int, period: str, window: str) -> None:
    frame = random_orders(seed, customers=12 if period == "day" else 25)
    params = Params(period=Period(period), window=parse_window(window))
    prep = prepare_activity(frame.lazy(), params)
    expected_retention, expected_churn = naive_tables(frame, Period(period), parse_window(window))
    frames_equal(retention_table(prep), expected_retention)
    frames_equal(churn_table(prep), expected_churn)
