"""RFM scores from cuts (SPEC §8): the k-th cut of a group's values is the smallest value
v with 5 × count(values < v) >= k × n, and a customer scores 1 + the cuts at or below
their value: the rank formula 1 + floor(5 w / n) on every list. The cuts come from a
histogram of coarse bins and the exact values of the bins that hold a cut; the segment
summary from sums per part of the customers, added."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import retcalc
from retcalc.api import metric_params
from retcalc.metrics.rfm import (
    add_partials,
    crossings,
    customer_values,
    cuts_of,
    finish_segments,
    global_cuts,
    money_bin,
    reference_day,
    refinement,
    rfm_scores,
    rfm_segments,
    scored,
    segment_partials,
    value_histogram,
)
from retcalc.sample import generate, write_sample


def rank_scores(values: list[int], better_larger: bool = True) -> list[int]:
    """The definition: 1 + floor(5 w / n), w = the values strictly worse."""
    n = len(values)
    if better_larger:
        return [1 + 5 * sum(u < v for u in values) // n for v in values]
    return [1 + 5 * sum(u > v for u in values) // n for v in values]


def frame(frequency: list[int], micros: list[int] | None = None, recency: list[int] | None = None):
    n = len(frequency)
    return pl.LazyFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency_days": recency or [1] * n,
            "frequency": frequency,
            "_micros": micros or [0] * n,
        },
        schema={
            "customer_id": pl.String,
            "recency_days": pl.Int64,
            "frequency": pl.Int64,
            "_micros": pl.Int128,
        },
    )


def cuts(table: pl.DataFrame, measure: str) -> list[int | None]:
    return table.filter(pl.col("measure") == measure).sort("k")["cut"].to_list()


# values, worked out by hand: w of each distinct value, then the smallest v with 5w >= kn.
HAND = {
    # n = 7, ties: w(1) 0, w(2) 2, w(3) 3, w(5) 6; k n / 5 = 1.4, 2.8, 4.2, 5.6
    "n7": ([1, 1, 2, 3, 3, 3, 5], [2, 3, 5, 5], [1, 1, 2, 3, 3, 3, 5]),
    # n = 5: w = 0..4, k n / 5 = k
    "n5": ([10, 20, 30, 40, 50], [20, 30, 40, 50], [1, 2, 3, 4, 5]),
    # n = 3 < 5: w 0, 1, 2; k n / 5 = 0.6, 1.2, 1.8, 2.4: no fourth cut
    "n3": ([1, 2, 3], [2, 3, 3, None], [1, 2, 4]),
    # ties at a cut, n = 10: w(1) 0, w(2) 3, w(3) 7, w(4) 8, w(5) 9; k n / 5 = 2, 4, 6, 8
    "ties": ([1, 1, 1, 2, 2, 2, 2, 3, 4, 5], [2, 3, 3, 4], [1, 1, 1, 2, 2, 2, 2, 4, 5, 5]),
    "all-equal": ([7, 7, 7, 7], [None] * 4, [1, 1, 1, 1]),
    "one": ([9], [None] * 4, [1]),
}


@pytest.mark.parametrize("case", list(HAND))
def test_hand_computed_cuts_give_the_rank_formula(case: str) -> None:
    values, expected_cuts, expected_scores = HAND[case]
    assert rank_scores(values) == expected_scores
    for bins in ({}, {"money_bins": lambda m: money_bin(m, 0)}, {"money_bins": one_bin}):
        found = global_cuts(frame(values, micros=values), (), **bins)
        assert cuts(found, "f") == expected_cuts
        assert cuts(found, "m") == expected_cuts
        table = scored(frame(values, micros=values), found, ()).collect().sort("customer_id")
        assert table["f_score"].to_list() == expected_scores
        assert table["m_score"].to_list() == expected_scores


def one_bin(micros: pl.Expr) -> pl.Expr:
    """A coarse pass that puts every customer in one bin."""
    return (micros * 0).cast(pl.Int64)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=30),
    st.lists(st.integers(-(10**12), 10**12) | st.sampled_from([0, 5, 10**6]), min_size=30),
    st.lists(st.integers(1, 9), min_size=30),
    st.integers(0, 5),
)
def test_cut_scores_equal_the_rank_formula(
    frequency: list[int], micros: list[int], recency: list[int], bits: int
) -> None:
    n = len(frequency)
    micros, recency = micros[:n], recency[:n]
    values = frame(frequency, micros, recency)
    for bins in ({"money_bins": lambda m: money_bin(m, bits)}, {"money_bins": one_bin}):
        table = scored(values, global_cuts(values, (), **bins), ()).collect()
        table = table.sort(pl.col("customer_id").str.slice(1).cast(pl.Int64))
        assert table["f_score"].to_list() == rank_scores(frequency)
        assert table["m_score"].to_list() == rank_scores(micros)
        assert table["r_score"].to_list() == rank_scores(recency, better_larger=False)


def test_money_bins_grow_with_the_value() -> None:
    values = sorted({0, 1, 5, 63, 64, 65, 100, 127, 128, 10**6, 10**6 + 1, 2**62, 2**70})
    values = sorted({*values, *(-v for v in values)})
    found = pl.select(money_bin(pl.Series(values, dtype=pl.Int128)))["bin"].to_list()
    assert found == sorted(found)
    assert found[values.index(64)] == found[values.index(65)]  # 64..65 share a bin
    assert found[values.index(63)] < found[values.index(64)]  # exact below 64


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shop")
    write_sample(generate(customers=300, seed=11, start=dt.date(2023, 1, 1), years=2), directory)
    return directory / "orders.csv"


def segments_by_parts(
    orders: retcalc.Orders, params: Any, parts: int, bins: Callable[[pl.Expr], pl.Expr]
) -> tuple[pl.DataFrame, int]:
    """The summary from ``parts`` sets of the customers as the executors make it: each pass
    a kernel per part, its partials added, the next pass given what the last one found.
    Also the rows of money values that reached the merge (histogram and refinement)."""
    keys = tuple(params.by)
    rows = orders.rows()
    as_of = reference_day(rows, params)
    part_of = pl.col("customer_id").hash(seed=4) % parts
    values = [
        customer_values(rows.but(rows.frame.filter(part_of == i)), params, as_of).collect()
        for i in range(parts)
    ]
    assert all(v.height for v in values)

    def added(kernel: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.LazyFrame:
        return add_partials(pl.concat([kernel(v.lazy()).collect() for v in values]).lazy())

    histogram = added(lambda v: value_histogram(v, keys, money_bins=bins)).collect()
    crossing = crossings(histogram.lazy(), keys)
    refined = added(lambda v: refinement(v, keys, crossing, money_bins=bins)).collect()
    found = cuts_of(crossing, refined.lazy(), keys)
    sums = added(lambda v: segment_partials(v, keys, found)).collect()
    money = pl.col("measure") == "m"
    return finish_segments(sums.lazy(), keys), histogram.filter(money).height + refined.filter(
        money
    ).height


@pytest.mark.parametrize(
    ("by", "ranges", "parts", "bits"),
    [
        ((), {}, 3, 5),
        (("channel",), {}, 4, 5),
        (("channel",), {"start": "2023-06-01", "as_of": "2024-09-01"}, 2, 5),
        ((), {"end": "2024-06-30"}, 5, 0),
        (("channel",), {"start": "2023-03-01"}, 3, None),
    ],
    ids=["whole", "by", "start-as-of", "end-coarse", "one-bin"],
)
def test_segments_of_parts_add_up_to_the_whole(
    shop: Path, by: tuple[str, ...], ranges: dict[str, str], parts: int, bits: int | None
) -> None:
    orders = retcalc.read_orders(shop, by=list(by))
    params = metric_params(by=by, shows=(), command="rfm", **ranges)

    def bins(m: pl.Expr) -> pl.Expr:
        return one_bin(m) if bits is None else money_bin(m, bits)

    merged, rows = segments_by_parts(orders, params, parts, bins)
    expected = retcalc.rfm(orders, by=by, **ranges)
    assert merged.equals(expected)
    assert rfm_segments(rfm_scores(orders.rows(), params=params, micros=True), by).equals(expected)
    assert expected["customers"].sum() > 0
    if bits is not None and bits > 0:  # fine bins: fewer money rows than customers
        assert rows < expected["customers"].sum()
