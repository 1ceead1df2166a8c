"""SPEC §8 for clv: the kernel over the rows of sets of whole customers gives additive
sums, the merge of the sums of every set gives the whole shop's table."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
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


def split(frame: pl.DataFrame, parts: int, seed: int) -> list[pl.DataFrame]:
    part_of = pl.col("customer_id").hash(seed=seed) % parts
    found = [frame.filter(part_of == i) for i in range(parts)]
    assert all(f.height for f in found)
    return found


@pytest.mark.parametrize(("unit", "as_of"), [("day", None), ("week", "2024-10-01")])
def test_bgnbd_fit_from_counts_of_parts_is_the_fit_on_every_customer(
    shop: Path, unit: str, as_of: str | None
) -> None:
    from retcalc.metrics.clv import FIT_COLUMNS, fit_counts, fit_from_counts, fit_models
    from retcalc.metrics.clv.summary import TimeUnit, rfm_summary

    time_unit = TimeUnit(unit)
    cut = dt.date.fromisoformat(as_of) if as_of else None
    summary = rfm_summary(retcalc.read_orders(shop).rows(), as_of=cut, time_unit=time_unit)
    whole = fit_models(summary)
    counts = [fit_counts(part.lazy()).collect() for part in split(summary.frame, 4, 3)]
    summed = pl.concat(counts).group_by(FIT_COLUMNS).agg(pl.col("customers").sum())
    # Far fewer rows than customers: the distinct values, not the customers, are sent.
    distinct = summary.frame.select("frequency", "recency", "T").unique().height
    assert summed.filter(pl.col("_model") == 0).height == distinct < summary.frame.height
    merged = fit_from_counts(summed, time_unit)
    assert merged.to_dict() == whole.to_dict()  # every digit, standard errors too
    assert merged.warnings == whole.warnings
    assert whole.bgnbd.customers == summary.frame.height


def test_weighted_fits_on_distinct_rows_equal_the_fits_on_every_row() -> None:
    from retcalc.metrics.clv import bgnbd, gamma_gamma

    rng = np.random.default_rng(11)
    n = 3000
    T = rng.integers(30, 400, n).astype(float)
    x = rng.poisson(1.5, n).astype(float)
    t_x = np.where(x > 0, np.floor(T * rng.random(n)), 0.0)
    every = bgnbd.fit(x, t_x, T)
    rows = pl.DataFrame({"x": x, "t": t_x, "T": T}).group_by("x", "t", "T").len()
    assert rows.height < n
    # In another order, with the counts as weights.
    rows = rows.sample(fraction=1.0, shuffle=True, seed=2)
    weighted = bgnbd.fit(
        rows["x"].to_numpy(), rows["t"].to_numpy(), rows["T"].to_numpy(), weights=rows["len"]
    )
    assert weighted == every and weighted.standard_errors == every.standard_errors
    assert every.customers == n
    repeat = x > 0
    m = np.round(rng.gamma(3.0, 10.0, n), 0)[repeat] + 1.0
    spend_every = gamma_gamma.fit(x[repeat], m)
    pairs = pl.DataFrame({"x": x[repeat], "m": m}).group_by("x", "m").len()
    assert pairs.height < repeat.sum()
    spend = gamma_gamma.fit(pairs["x"].to_numpy(), pairs["m"].to_numpy(), weights=pairs["len"])
    assert spend == spend_every and spend.standard_errors == spend_every.standard_errors
    assert spend.customers == repeat.sum()


def test_exact_sums_of_parts_are_the_correctly_rounded_sums() -> None:
    from retcalc.metrics.clv import PART_COLUMNS, group_sums, merge_sums, sum_parts

    rng = np.random.default_rng(4)
    n = 5000
    frame = pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "k": pl.Series(rng.choice(["a", "b", ""], n)).replace("", None),
            "v": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1e5, n) ** 3),
            "p": rng.random(n),
        }
    )
    columns = ["v", "p"]
    groups, whole = group_sums(frame, ["k"], columns)
    parts = pl.concat([sum_parts(part, ["k"], columns) for part in split(frame, 5, 1)])
    summed = parts.group_by("k", "_column", "_exp").agg(pl.col("_mant", "_count").sum())
    assert summed.columns == ["k", *PART_COLUMNS]
    merged_groups, merged = merge_sums(
        summed.sample(fraction=1.0, shuffle=True, seed=1), ["k"], columns
    )
    assert merged_groups.equals(groups)
    assert groups["k"].to_list() == [None, "a", "b"]
    for column in columns:
        assert np.array_equal(merged[column][0], whole[column][0])
        assert np.array_equal(merged[column][1], whole[column][1])
        for g, key in enumerate(groups["k"]):
            values = frame.filter(pl.col("k").eq_missing(key))[column].to_numpy()
            values = values[~np.isnan(values)]
            assert whole[column][0][g] == math.fsum(values)
            assert whole[column][1][g] == len(values)
