"""RFM scores, ties at quintile edges, and the segment grid, against hand-computed values."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from retcalc.errors import InputError
from retcalc.metrics.common import Params
from retcalc.metrics.rfm import (
    SEGMENTS,
    SUMMARY_COLUMNS,
    rfm_scores,
    rfm_segments,
    segment_table,
)
from tests.metrics.conftest import D, orders

AS_OF = D("2024-07-01")

# customer: (recency days, purchase days, monetary). Ten customers, so a customer with
# w customers strictly worse scores 1 + floor(5 w / 10): w 0-1 -> 1, 2-3 -> 2, ... 8-9 -> 5.
PROFILE = {
    "c0": (1, 5, 500),
    "c1": (1, 4, 400),
    "c2": (10, 3, 300),
    "c3": (10, 2, 300),
    "c4": (30, 2, 100),
    "c5": (30, 1, 100),
    "c6": (60, 1, 50),
    "c7": (90, 1, 50),
    "c8": (120, 1, 20),
    "c9": (120, 1, 10),
}

# customer: (R, F, M, segment), worked out by hand:
# R: recency 1 -> w 8 -> 5; 10 -> w 6 -> 4; 30 -> w 4 -> 3; 60 -> w 3 -> 2; 90 -> w 2 -> 2;
#    120 -> w 0 -> 1.
# F: 1 -> w 0 -> 1; 2 -> w 5 -> 3; 3 -> w 7 -> 4; 4 -> w 8 -> 5; 5 -> w 9 -> 5.
# M: 10 -> 1; 20 -> w 1 -> 1; 50 -> w 2 -> 2; 100 -> w 4 -> 3; 300 -> w 6 -> 4; 400 -> 5; 500 -> 5.
# FM = floor((F + M) / 2).
EXPECTED = {
    "c0": (5, 5, 5, "Champions"),  # FM 5
    "c1": (5, 5, 5, "Champions"),  # FM 5
    "c2": (4, 4, 4, "Loyal"),  # FM 4
    "c3": (4, 3, 4, "Potential loyalist"),  # FM 3
    "c4": (3, 3, 3, "Need attention"),  # FM 3
    "c5": (3, 1, 3, "About to sleep"),  # FM 2
    "c6": (2, 1, 2, "Hibernating"),  # FM 1
    "c7": (2, 1, 2, "Hibernating"),  # FM 1
    "c8": (1, 1, 1, "Lost"),  # FM 1
    "c9": (1, 1, 1, "Lost"),  # FM 1
}


def profile_orders(reverse: bool = False) -> pl.LazyFrame:
    """Orders that give each customer exactly its (recency, frequency, monetary)."""
    rows: list[tuple[str, str, float]] = []
    for customer, (recency, frequency, monetary) in PROFILE.items():
        last = AS_OF - dt.timedelta(days=recency)
        for k in range(frequency):
            day = last - dt.timedelta(days=400 * k)
            amount = monetary - 1.0 * (frequency - 1) if k == 0 else 1.0
            rows.append((customer, day.isoformat(), amount))
    if reverse:
        rows.reverse()
    return orders(rows)


def test_scores_with_ties_at_quintile_edges() -> None:
    table = rfm_scores(profile_orders(), params=Params(as_of=AS_OF))
    assert table.columns == [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "rfm_score",
        "segment",
    ]
    got = {
        r["customer_id"]: (r["r_score"], r["f_score"], r["m_score"], r["segment"])
        for r in table.iter_rows(named=True)
    }
    assert got == EXPECTED
    inputs = {
        r["customer_id"]: (r["recency_days"], r["frequency"], r["monetary"])
        for r in table.iter_rows(named=True)
    }
    assert inputs == {k: (r, f, float(m)) for k, (r, f, m) in PROFILE.items()}
    assert table.filter(pl.col("customer_id") == "c3")["rfm_score"].item() == "434"


def test_scores_do_not_depend_on_row_order() -> None:
    forward = rfm_scores(profile_orders(), params=Params(as_of=AS_OF))
    backward = rfm_scores(profile_orders(reverse=True), params=Params(as_of=AS_OF))
    assert forward.equals(backward)


def test_everyone_tied_scores_one() -> None:
    frame = orders([("a", "2024-01-01", 5), ("b", "2024-01-01", 5), ("c", "2024-01-01", 5)])
    table = rfm_scores(frame, params=Params())
    assert table["rfm_score"].to_list() == ["111"] * 3
    assert table["segment"].to_list() == ["Lost"] * 3


def test_purchase_days_returns_and_default_as_of() -> None:
    frame = orders(
        [
            ("a", "2024-03-01", "o1", 1, 10),
            ("a", "2024-03-01", "o2", 1, 15),  # same day: one purchase day
            ("a", "2024-03-04", "o3", 2, 20),
            ("a", "2024-03-06", "o3", -1, -10),  # return of o3, netted
            ("b", "2024-03-09", "o4", 1, 7),
        ],
        ("customer_id", "day", "order_id", "quantity", "amount"),
    )
    table = rfm_scores(frame, params=Params())
    rows = {r["customer_id"]: r for r in table.iter_rows(named=True)}
    # As of the day after the last purchase (Mar 10): b bought yesterday.
    assert rows["b"]["recency_days"] == 1
    assert rows["a"]["recency_days"] == 6  # Mar 4 -> Mar 10
    assert rows["a"]["frequency"] == 2
    assert rows["a"]["monetary"] == 35.0  # 10 + 15 + 20 - 10


def test_start_and_end_bound_the_window() -> None:
    frame = orders([("a", "2024-01-05", 100), ("a", "2024-03-01", 10), ("b", "2024-04-01", 5)])
    table = rfm_scores(frame, params=Params(start=D("2024-02-01"), end=D("2024-03-31")))
    assert table.rows() == [("a", 31, 1, 10.0, 1, 1, 1, "111", "Lost")]


def test_no_purchases_in_the_window_is_an_input_error() -> None:
    frame = orders([("a", "2024-01-05", 100)])
    with pytest.raises(InputError, match="no purchases"):
        rfm_scores(frame, params=Params(start=D("2024-02-01")))


@pytest.mark.parametrize(
    ("r", "fm", "segment"),
    [
        (5, 5, "Champions"),
        (5, 4, "Champions"),
        (4, 5, "Loyal"),
        (3, 4, "Loyal"),
        (5, 2, "Potential loyalist"),
        (4, 3, "Potential loyalist"),
        (5, 1, "New"),
        (4, 1, "Promising"),
        (3, 3, "Need attention"),
        (3, 1, "About to sleep"),
        (3, 2, "About to sleep"),
        (2, 3, "At risk"),
        (1, 4, "At risk"),
        (1, 5, "Cannot lose them"),
        (2, 5, "Cannot lose them"),
        (2, 1, "Hibernating"),
        (1, 2, "Hibernating"),
        (1, 1, "Lost"),
    ],
)
def test_segment_grid(r: int, fm: int, segment: str) -> None:
    grid = segment_table()
    found = grid.filter((pl.col("r_score") == r) & (pl.col("fm_score") == fm))["segment"]
    assert found.to_list() == [segment]


def test_segment_grid_covers_every_cell_with_every_segment() -> None:
    grid = segment_table()
    assert grid.height == 25
    assert grid.select("r_score", "fm_score").n_unique() == 25
    assert set(grid["segment"]) == set(SEGMENTS)


def test_summary_by_segment() -> None:
    scores = rfm_scores(profile_orders(), params=Params(as_of=AS_OF))
    summary = rfm_segments(scores)
    assert summary.columns == list(SUMMARY_COLUMNS)
    assert summary["segment"].to_list() == list(SEGMENTS)
    rows = {r["segment"]: r for r in summary.iter_rows(named=True)}
    assert rows["Champions"]["customers"] == 2
    assert rows["Champions"]["share"] == 0.2
    assert rows["Champions"]["revenue"] == 900.0
    assert rows["Champions"]["avg_recency_days"] == 1.0
    assert rows["Champions"]["avg_frequency"] == 4.5
    assert rows["Champions"]["avg_monetary"] == 450.0
    assert rows["Lost"]["revenue"] == 30.0
    # Segments with nobody are listed with zeros and null averages.
    assert (rows["New"]["customers"], rows["New"]["share"], rows["New"]["revenue"]) == (0, 0.0, 0.0)
    assert rows["New"]["avg_monetary"] is None
    assert summary["customers"].sum() == 10


def test_by_group_scores_within_each_group() -> None:
    frame = orders(
        [
            ("a", "2024-01-01", 5, "web"),
            ("b", "2024-02-01", 50, "web"),
            ("c", "2024-01-01", 5, "shop"),
        ],
        ("customer_id", "day", "amount", "channel"),
    )
    table = rfm_scores(frame, params=Params(by=("channel",)))
    assert table.columns[0] == "channel"
    rows = {(r["channel"], r["customer_id"]): r["rfm_score"] for r in table.iter_rows(named=True)}
    # web: b more recent and richer (w = 1 of 2 -> 1 + floor(5 / 2) = 3); shop: c alone.
    assert rows == {("web", "a"): "111", ("web", "b"): "313", ("shop", "c"): "111"}
    summary = rfm_segments(table, ("channel",))
    assert summary.height == 2 * len(SEGMENTS)
    web = summary.filter(pl.col("channel") == "web")
    assert web["customers"].sum() == 2
