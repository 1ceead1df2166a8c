"""Kaplan-Meier survival (SPEC §9): hand-computed curves, the lifetime rules of both
bases, and the edge cases (one customer, all censored, an empty group)."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import retcalc
from retcalc.errors import InputError, UsageError
from retcalc.metrics import survival as km
from retcalc.periods import Window
from tests.metrics.conftest import D

Z95 = 1.959963984540054  # the 97.5 % normal quantile


def loglog(s: float, v: float, z: float = Z95) -> tuple[float, float]:
    """The log-log interval of S with Greenwood sum V, written out from its definition."""
    theta = math.log(-math.log(s))
    half = z * math.sqrt(v) / abs(math.log(s))
    return math.exp(-math.exp(theta + half)), math.exp(-math.exp(theta - half))


def lifetimes(rows: list[tuple], keys: tuple[str, ...] = ()) -> pl.DataFrame:
    """``(keys..., entry, days, event)`` rows as a lifetimes frame."""
    return pl.DataFrame(rows, schema=[*keys, "entry", "days", "event"], orient="row").with_columns(
        pl.col("entry", "days").cast(pl.Int64), pl.col("event").cast(pl.Boolean)
    )


# Six subscriptions, as_of 2024-03-01 (E), data from 2024-01-01 (S):
#   a: 01-01 -> 01-11  event at 10        f: 01-31 -> 02-10  event at 10
#   b: 01-01 -> 01-21  event at 20        c: 01-01 -> 01-21  event at 20
#   e: 02-10, active   censored at 20 (E - signup), the same day as b and c's churn
#   d: 01-01, churns 03-05 (after E)      censored at 60
PEOPLE = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "signup_date": ["2024-01-01"] * 4 + ["2024-02-10", "2024-01-31"],
        "churn_date": ["2024-01-11", "2024-01-21", "2024-01-21", "2024-03-05", None, "2024-02-10"],
    }
)
ONE_ORDER = pl.DataFrame({"customer_id": ["a"], "order_date": ["2024-01-01"]})


def test_hand_computed_curve_with_ties_of_events_and_censoring() -> None:
    table = retcalc.survival(ONE_ORDER, customers=PEOPLE, as_of="2024-03-01")
    # t=10: n=6, d=2 -> S = 4/6, V = 2/(6*4)
    # t=20: n=4, d=2, c=1 (events first: e is at risk on day 20) -> S = 4/6 * 2/4, V += 2/(4*2)
    # t=60: n=1, c=1 -> unchanged
    s10, v10 = 4 / 6, 2 / 24
    s20, v20 = 4 / 6 * 2 / 4, 2 / 24 + 2 / 8
    lo10, hi10 = loglog(s10, v10)
    lo20, hi20 = loglog(s20, v20)
    expected = pl.DataFrame(
        {
            "days": [10, 20, 60],
            "at_risk": [6, 4, 1],
            "events": [2, 2, 0],
            "censored": [0, 1, 1],
            "survival": [s10, s20, s20],
            "survival_lo": [lo10, lo20, lo20],
            "survival_hi": [hi10, hi20, hi20],
        }
    )
    assert_frame_equal(table, expected, check_dtypes=False, abs_tol=1e-12)
    summary = retcalc.survival(ONE_ORDER, customers=PEOPLE, as_of="2024-03-01", summary=True)
    row = summary.row(0, named=True)
    assert (row["customers"], row["events"], row["censored"]) == (6, 4, 2)
    assert row["median_days"] == 20  # S(10) = 0.67 > 1/2 >= S(20) = 0.33
    # the lower bound is below 1/2 from day 10 (0.19), the upper one never (0.68 at 20)
    assert lo10 < 0.5 < hi20
    assert (row["median_lo"], row["median_hi"]) == (10, None)
    assert row["logrank_p"] is None  # no groups


def test_the_level_widens_the_interval() -> None:
    narrow = retcalc.survival(ONE_ORDER, customers=PEOPLE, as_of="2024-03-01", ci=0.8)
    z80 = 1.2815515655446004
    lo, hi = loglog(4 / 6, 2 / 24, z80)
    assert narrow.row(0, named=True)["survival_lo"] == pytest.approx(lo, abs=1e-12)
    assert narrow.row(0, named=True)["survival_hi"] == pytest.approx(hi, abs=1e-12)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.2, float("nan")])
def test_a_level_outside_0_1_is_refused(level: float) -> None:
    with pytest.raises(UsageError, match="--ci"):
        retcalc.survival(ONE_ORDER, customers=PEOPLE, ci=level)


def test_left_truncation_on_the_subscription_basis() -> None:
    # S = 2024-01-15: a (churned 01-11, before S) is left out; b and c (signed up 01-01,
    # churned 01-21) enter at 14 and churn at 20; d enters at 14, censored at 60;
    # e and f sign up after S (entry 0).
    fit = retcalc.survival_fit(ONE_ORDER, customers=PEOPLE, as_of="2024-03-01", start="2024-01-15")
    assert (fit.start, fit.end) == (D("2024-01-15"), D("2024-03-01"))
    assert (fit.truncated, fit.left_out) == (3, 1)
    got = fit.lifetimes.select("customer_id", "entry", "days", "event", "counted").rows()
    assert got == [
        ("a", 14, 10, True, False),
        ("b", 14, 20, True, True),
        ("c", 14, 20, True, True),
        ("d", 14, 60, False, True),
        ("e", 0, 20, False, True),
        ("f", 0, 10, True, True),
    ]
    # t=10: at risk are e and f (entry 0) only: b, c, d enter after day 14 -> n=2, d=1
    # t=20: b, c, d, e -> n=4, d=2, c=1
    table = fit.table.select("days", "at_risk", "events", "censored", "survival").rows()
    assert table == [(10, 2, 1, 0, 0.5), (20, 4, 2, 1, 0.25), (60, 1, 0, 1, 0.25)]
    assert fit.summary["median_days"].item() == 10  # S(10) is exactly 1/2


def test_churn_on_or_after_as_of_is_not_seen() -> None:
    fit = retcalc.survival_fit(ONE_ORDER, customers=PEOPLE, as_of="2024-01-21")
    # b and c churn on 01-21 = as_of: censored at 20 like everyone still active
    rows = fit.lifetimes.filter(pl.col("customer_id").is_in(["b", "c"]))
    assert rows.select("days", "event", "lapse").rows() == [(20, False, None)] * 2
    assert fit.lifetimes["customer_id"].to_list() == ["a", "b", "c", "d"]  # e, f: later


def test_end_is_the_last_day_observed() -> None:
    by_end = retcalc.survival(ONE_ORDER, customers=PEOPLE, end="2024-01-20")
    by_as_of = retcalc.survival(ONE_ORDER, customers=PEOPLE, as_of="2024-01-21")
    assert_frame_equal(by_end, by_as_of)


def test_without_as_of_the_data_ends_on_its_last_day() -> None:
    fit = retcalc.survival_fit(ONE_ORDER, customers=PEOPLE)
    assert fit.end == D("2024-03-06")  # the day after d's churn on 03-05, the last date
    assert fit.lifetimes.filter(pl.col("customer_id") == "d").row(0, named=True)["days"] == 64


def test_churn_before_signup_is_refused_naming_the_customer() -> None:
    bad = PEOPLE.with_columns(
        pl.when(pl.col("customer_id") == "c")
        .then(pl.lit("2023-12-01"))
        .otherwise(pl.col("churn_date"))
        .alias("churn_date")
    )
    with pytest.raises(InputError, match=r"customer_id c, signup_date 2024-01-01, churn_date"):
        retcalc.survival(ONE_ORDER, customers=bad)


# The activity basis, window 30d, as_of 2024-04-01, data from 2024-01-01:
#   a: Jan 1, Jan 20, Mar 15: after Jan 20 the next purchase (Mar 15) is beyond Feb 19,
#      so the first lapse is Feb 19: event at 49 days (Mar 15 does not undo it)
#   b: Jan 5: lapse Feb 4: event at 30
#   c: Feb 20, Mar 10: Mar 10 is within Feb 20's reach, lapse Apr 9 >= as_of:
#      censored at Apr 1 - Feb 20 = 41
SHOP = pl.DataFrame(
    {
        "customer_id": ["a", "a", "a", "b", "c", "c"],
        "order_date": [
            "2024-01-01",
            "2024-01-20",
            "2024-03-15",
            "2024-01-05",
            "2024-02-20",
            "2024-03-10",
        ],
        "channel": ["web", "web", "web", "app", "web", "web"],
    }
)


def test_activity_lifetimes_end_at_the_first_lapse() -> None:
    fit = retcalc.survival_fit(SHOP, window="30d", as_of="2024-04-01")
    got = fit.lifetimes.select("customer_id", "origin", "lapse", "days", "event").rows()
    assert got == [
        ("a", D("2024-01-01"), D("2024-02-19"), 49, True),
        ("b", D("2024-01-05"), D("2024-02-04"), 30, True),
        ("c", D("2024-02-20"), None, 41, False),
    ]
    table = fit.table.select("days", "at_risk", "events", "censored", "survival").rows()
    assert table == [(30, 3, 1, 0, 2 / 3), (41, 2, 0, 1, 2 / 3), (49, 1, 1, 0, 0.0)]
    # S = 0: the interval collapses to 0
    assert fit.table.row(2, named=True)["survival_lo"] == 0.0
    assert fit.table.row(2, named=True)["survival_hi"] == 0.0


def test_activity_lapse_on_as_of_is_censored() -> None:
    # b lapses on Feb 4: with as_of Feb 4 b is still active at as_of -> censored at 30
    fit = retcalc.survival_fit(SHOP, window="30d", as_of="2024-02-04")
    row = fit.lifetimes.filter(pl.col("customer_id") == "b").row(0, named=True)
    assert (row["days"], row["event"]) == (30, False)
    fit = retcalc.survival_fit(SHOP, window="30d", as_of="2024-02-05")
    row = fit.lifetimes.filter(pl.col("customer_id") == "b").row(0, named=True)
    assert (row["days"], row["event"]) == (30, True)


def test_activity_basis_with_a_start_truncates() -> None:
    # S = Jan 10: a (first purchase Jan 1, lapse Feb 19 > S) enters at 9, b (Jan 5,
    # lapse Feb 4) at 5; c begins after S
    fit = retcalc.survival_fit(SHOP, window="30d", as_of="2024-04-01", start="2024-01-10")
    got = fit.lifetimes.select("customer_id", "entry", "counted").rows()
    assert got == [("a", 9, True), ("b", 5, True), ("c", 0, True)]
    # S = Feb 10: b lapsed on Feb 4 (before S) and is left out
    fit = retcalc.survival_fit(SHOP, window="30d", as_of="2024-04-01", start="2024-02-10")
    assert fit.lifetimes.filter(~pl.col("counted"))["customer_id"].to_list() == ["b"]


def test_window_all_never_lapses() -> None:
    table = retcalc.survival(SHOP, window="all", as_of="2024-04-01")
    assert table["events"].sum() == 0
    assert table["survival"].to_list() == [1.0] * table.height


def lapse_by_definition(day: dt.date, window: Window) -> dt.date:
    """The last x with x - W <= day: x - W grows with x, so the last such x is found by
    halving the days after ``day`` (a window of at most 800 days here)."""

    def within(k: int) -> bool:
        x = day + dt.timedelta(days=k)
        return pl.select(pl.lit(x).dt.offset_by(window.offset())).item() <= day

    lo, hi = 0, 800  # within(lo) holds, within(hi) does not
    assert within(lo) and not within(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if within(mid) else (lo, mid)
    return day + dt.timedelta(days=lo)


@pytest.mark.parametrize(
    "window",
    [Window(1, "mo"), Window(3, "mo"), Window(1, "q"), Window(1, "y"), Window(30, "d")],
    ids=str,
)
def test_lapse_day_is_the_last_active_instant(window: Window) -> None:
    # Month ends and leap days are where calendar arithmetic is not d + W.
    first, last = D("2023-01-25"), D("2024-03-05")
    days = pl.date_range(first, last, eager=True)
    got = pl.select(km.lapse_day(pl.lit(days), window, first, last)).to_series().to_list()
    want = [lapse_by_definition(d, window) for d in days]
    assert got == want
    assert lapse_by_definition(D("2023-02-28"), Window(1, "mo")) == D("2023-03-31")


def test_one_customer() -> None:
    table = km.kaplan_meier(lifetimes([(0, 7, True)]), (), level=0.95)
    assert table.rows() == [(7, 1, 1, 0, 0.0, 0.0, 0.0)]
    assert km.medians(table, ()).row(0) == (7, 7, 7)
    alone = km.kaplan_meier(lifetimes([(0, 7, False)]), (), level=0.95)
    assert alone.rows() == [(7, 1, 0, 1, 1.0, 1.0, 1.0)]


def test_all_censored_stays_at_one_without_a_median() -> None:
    data = lifetimes([(0, 3, False), (0, 3, False), (0, 9, False), (2, 12, False)])
    table = km.kaplan_meier(data, (), level=0.95)
    # the fourth entered on day 2: at risk from day 3 on
    assert table.select("days", "at_risk", "censored").rows() == [(3, 4, 2), (9, 2, 1), (12, 1, 1)]
    assert set(table["survival"]) == set(table["survival_lo"]) == set(table["survival_hi"]) == {1.0}
    groups = km.summary(data.with_columns(counted=True), table, (), None)
    assert groups.select("customers", "events", "median_days", "median_lo").row(0) == (
        4,
        0,
        None,
        None,
    )


def test_an_empty_group_has_a_summary_row_and_no_curve() -> None:
    data = lifetimes(
        [("x", 0, 5, True), ("x", 0, 8, False), ("y", 0, 4, True), ("y", 0, 6, True)],
        ("segment",),
    ).with_columns(counted=pl.lit(True))
    # every lifetime of z began and ended before the observation
    empty = lifetimes([("z", 9, 3, True)], ("segment",)).with_columns(counted=pl.lit(False))
    both = pl.concat([data, empty])
    table = km.kaplan_meier(both, ("segment",), level=0.95)
    assert table["segment"].unique().sort().to_list() == ["x", "y"]
    test = km.logrank(both, ("segment",))
    assert test is not None and test.df == 1  # two groups with lifetimes
    groups = km.summary(both, table, ("segment",), test)
    assert groups.select("segment", "customers", "events", "median_days").rows() == [
        ("x", 2, 1, 5),
        ("y", 2, 2, 4),
        ("z", 0, 0, None),
    ]
    assert groups["logrank_p"].n_unique() == 1


def test_by_groups_include_a_null_value() -> None:
    data = lifetimes([("x", 0, 5, True), (None, 0, 4, True), (None, 0, 6, False)], ("segment",))
    table = km.kaplan_meier(data, ("segment",), level=0.95)
    assert table.select("segment", "days", "at_risk").rows() == [
        ("x", 5, 1),
        (None, 4, 2),
        (None, 6, 1),
    ]


def test_no_one_to_follow_is_an_input_error() -> None:
    with pytest.raises(InputError, match="empty"):
        retcalc.survival(SHOP, start="2024-05-01")
