"""Retention on the activity basis (SPEC §2.1) against hand-computed tables."""

from __future__ import annotations

import polars as pl
import pytest

from retcalc.metrics.common import Params
from retcalc.metrics.retention import retention
from retcalc.periods import Period, parse_window
from tests.metrics.conftest import D, orders

COUNTS = [
    "customers_start",
    "new_customers",
    "customers_end",
    "retained",
    "churned",
    "reactivated",
    "new_lost",
    "returning",
]


def run(frame: pl.LazyFrame, period: str = "month", window: str = "12mo", **kw) -> pl.DataFrame:
    return retention(frame, params=Params(period=Period(period), window=parse_window(window), **kw))


def rows(table: pl.DataFrame, columns: list[str] = COUNTS) -> dict[str, tuple]:
    return {
        str(r["period_start"]): tuple(r[c] for c in columns) for r in table.iter_rows(named=True)
    }


def test_lapse_and_return_with_one_month_window() -> None:
    # a: Jan 5, May 1 (lapses Feb-Apr, comes back). b: Jan 20, Mar 2. c: Feb 10.
    # Active at Feb 1 = {a, b}; Mar 1 = {c}; Apr 1 = {b}; May 1 = {}; Jun 1 = {a}.
    table = run(
        orders(
            [
                ("a", "2024-01-05", 10),
                ("b", "2024-01-20", 20),
                ("c", "2024-02-10", 40),
                ("b", "2024-03-02", 30),
                ("a", "2024-05-01", 50),
            ]
        ),
        window="1mo",
    )
    assert rows(table) == {
        #              CS CN CE ret churn react newlost returning
        "2024-01-01": (0, 2, 2, 0, 0, 0, 0, 0),
        "2024-02-01": (2, 1, 1, 0, 2, 0, 0, 0),
        "2024-03-01": (1, 0, 1, 0, 1, 1, 0, 0),
        "2024-04-01": (1, 0, 0, 0, 1, 0, 0, 0),
        "2024-05-01": (0, 0, 1, 0, 0, 1, 0, 0),
    }
    by_start = {str(r["period_start"]): r for r in table.iter_rows(named=True)}
    # March: crr = (CE - CN) / CS = (1 - 0) / 1; retention 0/1; churn 1/1.
    assert by_start["2024-03-01"]["crr"] == 1.0
    assert by_start["2024-03-01"]["retention_rate"] == 0.0
    assert by_start["2024-03-01"]["churn_rate"] == 1.0
    # CS = 0: every rate is null, not 0.
    for column in ("crr", "retention_rate", "churn_rate", "repeat_rate"):
        assert by_start["2024-01-01"][column] is None
        assert by_start["2024-05-01"][column] is None
    # complete: s - W before the first order (Jan 5) for Jan and Feb; May ends after the data.
    assert [r["complete"] for r in table.iter_rows(named=True)] == [False, False, True, True, False]


def test_same_day_orders_count_once() -> None:
    # Two orders and three lines on one day are one purchase day.
    table = run(
        orders(
            [
                ("a", "2024-01-10", 5),
                ("a", "2024-01-10", 7),
                ("a", "2024-01-10", 1),
                ("a", "2024-02-10", 3),
                ("b", "2024-02-10", 3),
            ]
        )
    )
    assert rows(table) == {
        "2024-01-01": (0, 1, 1, 0, 0, 0, 0, 0),
        "2024-02-01": (1, 1, 2, 1, 0, 0, 0, 1),
    }
    assert table["repeat_rate"].to_list() == [None, 1.0]


def test_empty_period_still_has_a_row() -> None:
    # No order at all in February or March.
    table = run(orders([("a", "2024-01-10", 5), ("a", "2024-04-02", 5)]), window="1mo")
    assert table["period_start"].cast(pl.String).to_list() == [
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
    ]
    assert rows(table) == {
        "2024-01-01": (0, 1, 1, 0, 0, 0, 0, 0),
        "2024-02-01": (1, 0, 0, 0, 1, 0, 0, 0),
        "2024-03-01": (0, 0, 0, 0, 0, 0, 0, 0),
        "2024-04-01": (0, 0, 1, 0, 0, 1, 0, 0),
    }
    assert table.filter(pl.col("period_start") == D("2024-03-01"))["crr"].item() is None


@pytest.mark.parametrize(
    ("day", "active_at_march"),
    [
        ("2024-01-31", False),  # the day before s - W = Feb 1: outside [s - W, s)
        ("2024-02-01", True),  # exactly s - W: inside
        ("2024-02-29", True),  # the last day before s
        ("2024-03-01", False),  # exactly s: not active at s (it is a purchase in the period)
    ],
    ids=["before-window", "at-window-start", "day-before-s", "at-s"],
)
def test_window_edges(day: str, active_at_march: bool) -> None:
    # Customer z anchors the grid from January; x buys once on `day`.
    table = run(
        orders([("z", "2024-01-01", 1), ("x", day, 1), ("z", "2024-03-20", 1)]), window="1mo"
    )
    march = table.filter(pl.col("period_start") == D("2024-03-01")).row(0, named=True)
    z_active = 0  # z bought Jan 1: active at Feb 1 only
    assert march["customers_start"] == z_active + int(active_at_march)


def test_window_in_days_boundary_exact() -> None:
    # W = 30d, s = 2024-03-01, s - W = 2024-01-31.
    table = run(
        orders([("a", "2024-01-31", 1), ("b", "2024-01-30", 1), ("c", "2024-03-05", 1)]),
        window="30d",
    )
    march = table.filter(pl.col("period_start") == D("2024-03-01")).row(0, named=True)
    # Active at Mar 1: a (Jan 31 >= Jan 31) but not b (Jan 30).
    assert march["customers_start"] == 1
    feb = table.filter(pl.col("period_start") == D("2024-02-01")).row(0, named=True)
    # Active at Feb 1 (window Jan 2..Jan 31): a and b; at Mar 1: a. So 1 retained, 1 churned.
    assert (feb["customers_start"], feb["retained"], feb["churned"], feb["customers_end"]) == (
        2,
        1,
        1,
        1,
    )


def test_new_lost_when_window_is_shorter_than_period() -> None:
    # Quarter periods with a 30-day window: a buys Jan 5 only and is gone by Apr 1.
    table = run(
        orders([("a", "2024-01-05", 1), ("b", "2024-03-20", 1)]), period="quarter", window="30d"
    )
    q1 = table.row(0, named=True)
    assert (q1["new_customers"], q1["new_lost"], q1["customers_end"]) == (2, 1, 1)


def test_as_of_cuts_a_period() -> None:
    frame = orders(
        [
            ("a", "2024-01-05", 1),
            ("a", "2024-02-03", 1),
            ("b", "2024-02-20", 1),
            ("c", "2024-03-01", 1),
        ]
    )
    table = run(frame, window="1mo", as_of=D("2024-02-15"))
    # b (Feb 20) and c (Mar 1) are on or after as-of: ignored; the grid ends with February.
    assert table["period_start"].cast(pl.String).to_list() == ["2024-01-01", "2024-02-01"]
    feb = table.row(1, named=True)
    assert (
        feb["customers_start"],
        feb["new_customers"],
        feb["customers_end"],
        feb["returning"],
    ) == (1, 0, 1, 1)
    # February ends after the as-of date: not complete.
    assert feb["complete"] is False


def test_weeks_across_a_year_end() -> None:
    # 2024-12-30 is a Monday: the week of Dec 31 2024 and Jan 1 2025 starts then.
    frame = orders(
        [
            ("a", "2024-12-24", 1),
            ("a", "2024-12-31", 1),
            ("b", "2025-01-01", 1),
            ("a", "2025-01-06", 1),
        ]
    )
    table = run(frame, period="week", window="1w")
    assert table["period_start"].cast(pl.String).to_list() == [
        "2024-12-23",
        "2024-12-30",
        "2025-01-06",
    ]
    assert rows(table) == {
        # Week of Dec 23: a new; active at Dec 30 (window Dec 23..29) = {a}.
        "2024-12-23": (0, 1, 1, 0, 0, 0, 0, 0),
        # Week of Dec 30: CS {a}; b new; active at Jan 6 (Dec 30..Jan 5) = {a, b}.
        "2024-12-30": (1, 1, 2, 1, 0, 0, 0, 1),
        # Week of Jan 6: CS {a, b}; at Jan 13 (Jan 6..12) = {a}.
        "2025-01-06": (2, 0, 1, 1, 1, 0, 0, 1),
    }


def test_returns_and_cancellations_never_make_anyone_active() -> None:
    frame = orders(
        [
            ("a", "2024-01-05", 10, 1, None),
            ("a", "2024-02-05", -10, -1, "returned"),
            ("b", "2024-02-07", 30, 1, "cancelled"),  # a meaning (retcalc.meanings)
            ("c", "2024-02-09", 30, 1, "completed"),
        ],
        columns=("customer_id", "day", "amount", "quantity", "status"),
    )
    table = run(frame, window="1mo")
    feb = table.row(1, named=True)
    # Active at Mar 1 = {c}: neither a's return nor b's cancelled order count.
    assert (
        feb["customers_start"],
        feb["new_customers"],
        feb["customers_end"],
        feb["returning"],
    ) == (1, 1, 1, 0)


def test_window_all_and_start_end_bounds() -> None:
    frame = orders([("a", "2023-06-01", 1), ("b", "2024-01-15", 1), ("a", "2024-03-10", 1)])
    table = run(frame, window="all", start=D("2024-02-10"), end=D("2024-03-31"))
    assert table["period_start"].cast(pl.String).to_list() == ["2024-02-01", "2024-03-01"]
    # With W = all, everyone who ever bought before s is active: a and b at Feb 1.
    assert rows(table) == {
        "2024-02-01": (2, 0, 2, 2, 0, 0, 0, 0),
        "2024-03-01": (2, 0, 2, 2, 0, 0, 0, 1),
    }
    # For `all` only the data end matters for completeness.
    assert table["complete"].to_list() == [True, False]


def test_by_dimension_splits_everything() -> None:
    frame = orders(
        [
            ("a", "2024-01-05", 1, "web"),
            ("a", "2024-02-05", 1, "app"),
            ("b", "2024-02-06", 1, "web"),
        ],
        columns=("customer_id", "day", "amount", "channel"),
    )
    table = retention(
        frame, params=Params(period=Period.month, window=parse_window("1mo"), by=("channel",))
    )
    assert table.columns[0] == "channel"
    got = {
        (r["channel"], str(r["period_start"])): (r["customers_start"], r["new_customers"])
        for r in table.iter_rows(named=True)
    }
    # Within "app", a's first app order is in February.
    assert got == {
        ("app", "2024-01-01"): (0, 0),
        ("app", "2024-02-01"): (0, 1),
        ("web", "2024-01-01"): (0, 1),
        ("web", "2024-02-01"): (1, 1),
    }


def test_identities_hold() -> None:
    frame = orders(
        [
            ("a", "2023-01-03", 1),
            ("a", "2023-04-03", 1),
            ("b", "2023-02-10", 1),
            ("c", "2023-02-11", 1),
            ("c", "2023-09-30", 1),
            ("d", "2023-05-05", 1),
            ("a", "2023-12-31", 1),
            ("e", "2023-12-01", 1),
            ("b", "2023-11-11", 1),
        ]
    )
    for window in ("30d", "8w", "3mo", "1y", "all"):
        for period in ("day", "week", "month", "quarter"):
            t = run(frame, period=period, window=window)
            assert (
                t["customers_end"]
                == t["retained"] + t["reactivated"] + t["new_customers"] - t["new_lost"]
            ).all()
            assert (t["churned"] + t["retained"] == t["customers_start"]).all()
            # CE of a period is CS of the next one.
            assert t["customers_end"][:-1].to_list() == t["customers_start"][1:].to_list()
