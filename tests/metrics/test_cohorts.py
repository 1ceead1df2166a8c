"""Cohort tables (SPEC §2.5) against hand-computed triangles."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from retcalc.errors import InputError, UsageError
from retcalc.metrics.choices import parse_brackets
from retcalc.metrics.cohorts import BRACKET_COLUMNS, COHORT_COLUMNS, Mode, cohort_table
from retcalc.metrics.common import Params, prepare_activity, prepare_subscription
from retcalc.periods import Period
from tests.metrics.conftest import D, orders

ORDER_COLUMNS = ("customer_id", "day", "amount", "order_id")

# a: Jan 5 and Jan 31 (last day of January), Mar 1.
# b: Jan 20 only: no activity after offset 0.
# c: two orders on Feb 29 (last day of February, same day), Mar 31 (last day of the data).
# d: Feb 10 order O4 of 50; a return of 20 on Mar 15 sharing O4, netted into February.
# e: Mar 20, a cohort of one.
BASE = [
    ("a", "2024-01-05", 10, "O1"),
    ("a", "2024-01-31", 5, "O2"),
    ("b", "2024-01-20", 7, "O3"),
    ("c", "2024-02-29", 30, "O5"),
    ("c", "2024-02-29", 4, "O6"),
    ("d", "2024-02-10", 50, "O4"),
    ("a", "2024-03-01", 20, "O7"),
    ("d", "2024-03-15", -20, "O4"),
    ("e", "2024-03-20", 15, "O8"),
    ("c", "2024-03-31", 6, "O9"),
]


def table(
    rows: list[tuple] = BASE,
    *,
    period: str = "month",
    columns: tuple[str, ...] = ORDER_COLUMNS,
    mode: Mode = Mode.on,
    min_cohort: int = 1,
    max_offset: int | None = None,
    average: bool = False,
    **params: object,
) -> pl.DataFrame:
    prep = prepare_activity(orders(rows, columns), Params(period=Period(period), **params))
    return cohort_table(
        prep, mode=mode, min_cohort=min_cohort, max_offset=max_offset, average=average
    )


def cells(result: pl.DataFrame, *columns: str) -> dict[tuple[str, int], tuple]:
    return {
        (str(r["cohort"]), r["offset"]): tuple(r[c] for c in columns)
        for r in result.iter_rows(named=True)
    }


def test_columns_and_types() -> None:
    result = table()
    assert tuple(result.columns) == COHORT_COLUMNS
    assert result.schema == pl.Schema(
        {
            "cohort": pl.Date,
            "offset": pl.Int64,
            "period_start": pl.Date,
            "cohort_size": pl.Int64,
            "customers": pl.Int64,
            "eligible": pl.Int64,
            "eligible_active": pl.Int64,
            "retention": pl.Float64,
            "revenue": pl.Float64,
            "cumulative_revenue_per_customer": pl.Float64,
            "complete": pl.Boolean,
        }
    )


def test_hand_computed_triangle() -> None:
    result = table()
    assert cells(result, "period_start", "cohort_size", "customers", "retention") == {
        # Jan {a, b}: b never comes back (a zero row, not a missing one); a returns in March.
        ("2024-01-01", 0): (D("2024-01-01"), 2, 2, 1.0),
        ("2024-01-01", 1): (D("2024-02-01"), 2, 0, 0.0),
        ("2024-01-01", 2): (D("2024-03-01"), 2, 1, 0.5),
        # Feb {c, d}: c's two Feb 29 orders are one purchase day; d's return is no purchase.
        ("2024-02-01", 0): (D("2024-02-01"), 2, 2, 1.0),
        ("2024-02-01", 1): (D("2024-03-01"), 2, 1, 0.5),
        ("2024-03-01", 0): (D("2024-03-01"), 1, 1, 1.0),
    }
    assert cells(result, "revenue", "cumulative_revenue_per_customer") == {
        ("2024-01-01", 0): (22.0, 11.0),  # 10 + 5 (Jan 31 is still January) + 7
        ("2024-01-01", 1): (0.0, 11.0),
        ("2024-01-01", 2): (20.0, 21.0),  # (22 + 0 + 20) / 2
        ("2024-02-01", 0): (64.0, 32.0),  # 30 + 4 + 50 - 20 (the March return of O4)
        ("2024-02-01", 1): (6.0, 35.0),  # Mar 31
        ("2024-03-01", 0): (15.0, 15.0),
    }
    # The last purchase is Mar 31: March ends on the data end, every cell is complete.
    assert result["complete"].all()


def test_cohort_sizes_sum_to_the_customers() -> None:
    result = table()
    sizes = result.filter(pl.col("offset") == 0)["cohort_size"].sum()
    assert sizes == len({row[0] for row in BASE}) == 5


def test_on_or_after_counts_any_later_purchase() -> None:
    result = table(mode=Mode.on_or_after)
    assert cells(result, "customers", "retention") == {
        ("2024-01-01", 0): (2, 1.0),
        ("2024-01-01", 1): (1, 0.5),  # a buys again in March, after offset 1
        ("2024-01-01", 2): (1, 0.5),
        ("2024-02-01", 0): (2, 1.0),
        ("2024-02-01", 1): (1, 0.5),
        ("2024-03-01", 0): (1, 1.0),
    }
    # Revenue does not depend on the mode.
    assert result["revenue"].to_list() == table()["revenue"].to_list()


def test_min_cohort_hides_small_cohorts() -> None:
    result = table(min_cohort=2)
    assert sorted({str(c) for c in result["cohort"]}) == ["2024-01-01", "2024-02-01"]


def test_max_offset_limits_offsets_but_on_or_after_still_sees_later_purchases() -> None:
    result = table(max_offset=1, mode=Mode.on_or_after)
    assert cells(result, "customers") == {
        ("2024-01-01", 0): (2,),
        ("2024-01-01", 1): (1,),  # a's March purchase (offset 2) still counts
        ("2024-02-01", 0): (2,),
        ("2024-02-01", 1): (1,),
        ("2024-03-01", 0): (1,),
    }
    assert table(max_offset=0)["offset"].to_list() == [0, 0, 0]


def test_as_of_cuts_events_and_marks_the_open_period() -> None:
    # As of Mar 15: c's Mar 31 order, d's Mar 15 return and e's cohort are gone.
    result = table(as_of=D("2024-03-15"))
    assert cells(result, "customers", "revenue", "complete") == {
        ("2024-01-01", 0): (2, 22.0, True),
        ("2024-01-01", 1): (0, 0.0, True),
        ("2024-01-01", 2): (1, 20.0, False),  # March ends after the data end (Mar 15)
        ("2024-02-01", 0): (2, 84.0, True),
        ("2024-02-01", 1): (0, 0.0, False),
    }


def test_start_and_end_choose_cohorts_not_offsets() -> None:
    late = table(start=D("2024-02-10"))
    assert sorted({str(c) for c in late["cohort"]}) == ["2024-02-01", "2024-03-01"]
    early = table(end=D("2024-01-15"))
    # Only the January cohort, still followed up to the last period of the data.
    assert cells(early, "period_start") == {
        ("2024-01-01", 0): (D("2024-01-01"),),
        ("2024-01-01", 1): (D("2024-02-01"),),
        ("2024-01-01", 2): (D("2024-03-01"),),
    }


def test_weeks_across_a_year_end() -> None:
    # 2024-12-30 is a Monday; 2024-12-29 a Sunday; 2025-01-05 a Sunday; 2025-01-06 a Monday.
    result = table(
        [
            ("x", "2024-12-29", 1, "W1"),
            ("x", "2024-12-30", 2, "W2"),
            ("x", "2025-01-05", 4, "W3"),
            ("x", "2025-01-06", 8, "W4"),
            ("y", "2025-01-01", 16, "W5"),
        ],
        period="week",
    )
    assert cells(result, "period_start", "customers", "revenue", "complete") == {
        ("2024-12-23", 0): (D("2024-12-23"), 1, 1.0, True),
        ("2024-12-23", 1): (D("2024-12-30"), 1, 6.0, True),  # Dec 30 and Jan 5: one week
        ("2024-12-23", 2): (D("2025-01-06"), 1, 8.0, False),  # ends Jan 13, data ends Jan 7
        ("2024-12-30", 0): (D("2024-12-30"), 1, 16.0, True),
        ("2024-12-30", 1): (D("2025-01-06"), 0, 0.0, False),
    }


def test_return_without_a_matching_order_counts_on_its_own_date() -> None:
    result = table(
        [
            ("a", "2024-01-05", 10, "O1"),
            ("a", "2024-02-07", -4, "R9"),  # no purchase O9: netted on its own date
            ("b", "2024-02-20", 1, "O2"),
        ]
    )
    assert cells(result, "customers", "revenue") == {
        ("2024-01-01", 0): (1, 10.0),
        ("2024-01-01", 1): (0, -4.0),  # a return is revenue, never activity
        ("2024-02-01", 0): (1, 1.0),
    }


def test_by_dimension_is_its_own_data_set() -> None:
    # a first buys on the web in January and in the app in February: two cohorts.
    result = table(
        [
            ("a", "2024-01-05", 10, "web"),
            ("a", "2024-02-05", 20, "app"),
            ("b", "2024-02-06", 30, "app"),
        ],
        columns=("customer_id", "day", "amount", "channel"),
        by=("channel",),
    )
    assert result.columns[0] == "channel"
    assert {
        (r["channel"], str(r["cohort"]), r["offset"]): (r["cohort_size"], r["customers"])
        for r in result.iter_rows(named=True)
    } == {
        ("app", "2024-02-01", 0): (2, 2),
        ("web", "2024-01-01", 0): (1, 1),
        ("web", "2024-01-01", 1): (1, 0),
    }


def test_without_amount_revenue_is_null() -> None:
    result = table([("a", "2024-01-05"), ("a", "2024-02-05")], columns=("customer_id", "day"))
    assert result["customers"].to_list() == [1, 1]
    assert result["revenue"].null_count() == result.height
    assert result["cumulative_revenue_per_customer"].null_count() == result.height


def test_money_is_exact() -> None:
    # 0.1 + 0.2 summed in micros is exactly 0.3; a refunded order nets to exactly 0.
    result = table(
        [
            ("a", "2024-01-05", 0.1, "O1"),
            ("a", "2024-01-06", 0.2, "O2"),
            ("b", "2024-01-07", 20.99, "O3"),
            ("b", "2024-01-08", -20.99, "O3"),
        ]
    )
    assert result["revenue"].to_list() == [0.3]
    assert result["cumulative_revenue_per_customer"].to_list() == [0.15]


def subscription_table(mode: Mode = Mode.on) -> pl.DataFrame:
    customers = pl.DataFrame(
        {
            "customer_id": ["s1", "s2", "s3"],
            "signup_date": [D("2024-01-10"), D("2024-01-20"), D("2024-02-05")],
            "churn_date": pl.Series([None, None, None], dtype=pl.Date),
        }
    ).lazy()
    rows = [
        ("s1", "2024-01-15", 10),
        ("s1", "2024-02-03", 10),
        ("s3", "2024-01-25", 5),  # before s3's signup period: not in any offset
        ("s3", "2024-03-01", 8),
        ("z", "2024-01-02", 99),  # not a subscriber: in no cohort
    ]
    prep = prepare_subscription(customers, orders(rows), Params())
    return cohort_table(prep, mode=mode, average=False)


def test_subscription_cohorts_are_signup_periods() -> None:
    result = subscription_table()
    assert cells(result, "cohort_size", "customers", "retention", "revenue", "complete") == {
        # s2 signed up and never bought: in the cohort, not among its customers.
        ("2024-01-01", 0): (2, 1, 0.5, 10.0, True),
        ("2024-01-01", 1): (2, 1, 0.5, 10.0, True),
        # The data ends Mar 2: March has not elapsed, no member is eligible, retention null.
        ("2024-01-01", 2): (2, 0, None, 0.0, False),
        ("2024-02-01", 0): (1, 0, 0.0, 0.0, True),
        ("2024-02-01", 1): (1, 1, None, 8.0, False),
    }
    after = subscription_table(Mode.on_or_after)
    assert after.filter(pl.col("cohort") == dt.date(2024, 2, 1))["customers"].to_list() == [1, 1]


def test_no_purchases_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no purchases"):
        table([("a", "2024-01-05", -5, "O1")])


# Elapsed denominators, brackets and average rows on a four-customer shop, every order
# 10. Day offsets since the first purchase day (the data ends Mar 20, so each customer
# has observed days 0..N-1: a 70, b 55, c 46, d 22):
# a: Jan 10 (0), Jan 12 (2), Feb 15 (36)   b: Jan 25 (0), Jan 30 (5)
# c: Feb 3 (0), Feb 20 (17), Mar 19 (45)   d: Feb 27 (0), Mar 5 (7)
SHOP = [
    ("a", "2024-01-10", 10, "A1"),
    ("a", "2024-01-12", 10, "A2"),
    ("a", "2024-02-15", 10, "A3"),
    ("b", "2024-01-25", 10, "B1"),
    ("b", "2024-01-30", 10, "B2"),
    ("c", "2024-02-03", 10, "C1"),
    ("c", "2024-02-20", 10, "C2"),
    ("c", "2024-03-19", 10, "C3"),
    ("d", "2024-02-27", 10, "D1"),
    ("d", "2024-03-05", 10, "D2"),
]
COUNTS = ("cohort_size", "customers", "eligible", "eligible_active", "retention", "complete")


def shop(brackets: str | None = None, unit: str = "period", **kw: object) -> pl.DataFrame:
    prep = prepare_activity(orders(SHOP, ORDER_COLUMNS), Params(period=Period.month))
    chosen = parse_brackets(brackets, unit) if brackets else None
    return cohort_table(prep, brackets=chosen, **kw)  # type: ignore[arg-type]


def bracket_cells(result: pl.DataFrame, *columns: str) -> dict[tuple[str, str], tuple]:
    return {
        (str(r["cohort"]), r["bracket"]): tuple(r[c] for c in columns)
        for r in result.iter_rows(named=True)
    }


def test_offsets_not_yet_over_have_no_eligible_customers() -> None:
    # March (offset 2 of January, 1 of February) ends after the data end (Mar 20).
    result = shop()
    assert cells(result, *COUNTS) == {
        ("2024-01-01", 0): (2, 2, 2, 2, 1.0, True),
        ("2024-01-01", 1): (2, 1, 2, 1, 0.5, True),  # a on Feb 15
        ("2024-01-01", 2): (2, 0, 0, 0, None, False),
        ("2024-02-01", 0): (2, 2, 2, 2, 1.0, True),
        # c and d bought in March, but March is not over: null, not 2 / 2 = 100 %.
        ("2024-02-01", 1): (2, 2, 0, 0, None, False),
        # Average rows: Σ eligible_active / Σ eligible. Offset 1 is January's 1 of 2
        # (February has no eligible customer), not (1 + 2) / 4.
        ("None", 0): (4, 4, 4, 4, 1.0, True),
        ("None", 1): (4, 3, 2, 1, 0.5, False),
        ("None", 2): (2, 0, 0, 0, None, False),
    }
    # The average rows come after the cohorts, with no period of their own.
    assert result["cohort"].to_list()[-3:] == [None, None, None]
    assert result.filter(pl.col("cohort").is_null())["period_start"].null_count() == 3


def test_average_revenue_per_customer_weights_the_eligible_cohorts() -> None:
    result = shop()
    assert cells(result, "revenue", "cumulative_revenue_per_customer") == {
        ("2024-01-01", 0): (40.0, 20.0),
        ("2024-01-01", 1): (10.0, 25.0),
        ("2024-01-01", 2): (0.0, 25.0),
        ("2024-02-01", 0): (30.0, 15.0),
        ("2024-02-01", 1): (20.0, 25.0),
        ("None", 0): (None, 17.5),  # (40 + 30) / 4
        ("None", 1): (None, 25.0),  # January alone: 50 / 2
        ("None", 2): (None, None),  # no cohort has offset 2 over
    }


def test_on_or_after_uses_the_same_eligible_customers() -> None:
    result = shop(mode=Mode.on_or_after)
    assert cells(result, "customers", "eligible", "retention") == {
        ("2024-01-01", 0): (2, 2, 1.0),
        ("2024-01-01", 1): (1, 2, 0.5),
        ("2024-01-01", 2): (0, 0, None),
        ("2024-02-01", 0): (2, 2, 1.0),
        ("2024-02-01", 1): (2, 0, None),
        ("None", 0): (4, 4, 1.0),
        ("None", 1): (3, 2, 0.5),
        ("None", 2): (0, 0, None),
    }


def test_day_brackets() -> None:
    result = shop("1-7,8-30,31-60,61-90", unit="day")
    assert tuple(result.columns) == BRACKET_COLUMNS
    assert bracket_cells(result, *COUNTS) == {
        # Jan {a: 70 days observed, b: 55}. 1-7: a (day 2) and b (day 5).
        ("2024-01-01", "1-7"): (2, 2, 2, 2, 1.0, True),
        ("2024-01-01", "8-30"): (2, 0, 2, 0, 0.0, True),
        # Day 60 is observed for a (70 days) but not for b (55): a alone, who bought on day 36.
        ("2024-01-01", "31-60"): (2, 1, 1, 1, 1.0, False),
        # Begun for a (day 61 < 70), over for nobody: null, not 0.
        ("2024-01-01", "61-90"): (2, 0, 0, 0, None, False),
        # Feb {c: 46 days, d: 22}. d's day 7 (Mar 5); c's day 17 (Feb 20), day 45 (Mar 19).
        ("2024-02-01", "1-7"): (2, 1, 2, 1, 0.5, True),
        ("2024-02-01", "8-30"): (2, 1, 1, 1, 1.0, False),  # d's day 30 is not observed
        ("2024-02-01", "31-60"): (2, 1, 0, 0, None, False),
        # 61-90 has begun for no member of February: no row.
        ("None", "1-7"): (4, 3, 4, 3, 0.75, True),
        # Weighted by the eligible: 1 / 3, not the mean of 0 % and 100 %.
        ("None", "8-30"): (4, 1, 3, 1, 1 / 3, False),
        ("None", "31-60"): (4, 2, 1, 1, 1.0, False),
        ("None", "61-90"): (2, 0, 0, 0, None, False),
    }
    assert result.filter(pl.col("cohort").is_null())["bracket_start"].to_list() == [1, 8, 31, 61]
    assert result.filter(pl.col("cohort").is_null())["bracket_end"].to_list() == [7, 30, 60, 90]


def test_period_brackets() -> None:
    # Month offsets: a Jan, Feb; b Jan; c Feb, Mar; d Feb, Mar. Jan and Feb are over.
    result = shop("0,1,2-5")
    assert bracket_cells(result, *COUNTS) == {
        ("2024-01-01", "0-0"): (2, 2, 2, 2, 1.0, True),
        ("2024-01-01", "1-1"): (2, 1, 2, 1, 0.5, True),
        ("2024-01-01", "2-5"): (2, 0, 0, 0, None, False),
        ("2024-02-01", "0-0"): (2, 2, 2, 2, 1.0, True),
        ("2024-02-01", "1-1"): (2, 2, 0, 0, None, False),
        ("None", "0-0"): (4, 4, 4, 4, 1.0, True),
        ("None", "1-1"): (4, 3, 2, 1, 0.5, False),
        ("None", "2-5"): (2, 0, 0, 0, None, False),
    }
    # A bracket of one offset is that offset of --mode on.
    on = shop().filter(pl.col("offset") <= 1)
    assert (
        on["retention"].to_list()
        == result.filter(pl.col("bracket_end") <= 1)["retention"].to_list()
    )


def test_brackets_min_cohort_and_no_average() -> None:
    result = shop("0-1", min_cohort=3)
    assert result.height == 0
    result = shop("1-7", unit="day", average=False)
    assert result["cohort"].null_count() == 0
    assert result["retention"].to_list() == [1.0, 0.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0-7,5-9", "5-9 overlaps 0-7"),
        ("8-3", "'8-3' ends before it starts"),
        ("0-7,,8-9", "an empty bracket"),
        ("", "an empty bracket"),
        ("a-7", "'a-7' is not a bracket"),
        ("1.5-3", "'1.5-3' is not a bracket"),
        ("-1-3", "'-1-3' is not a bracket"),
        ("0-99999999", "goes past"),
    ],
)
def test_bad_brackets(text: str, message: str) -> None:
    with pytest.raises(UsageError, match="--brackets") as raised:
        parse_brackets(text)
    assert message in str(raised.value)
