"""``--convention``: each vendor's published worked example reproduced, and each switch
changing exactly the cells it should against retcalc's default (docs/conventions.md)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from retcalc import api
from retcalc.errors import UsageError
from retcalc.metrics.conventions import CONVENTIONS, DEFAULT, convention_for

SAMPLE = Path(__file__).parents[2] / "sample_data" / "orders.csv"


def subscriptions(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["customer_id", "signup_date", "churn_date"], orient="row")


def orders_of(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["customer_id", "order_date", "amount"], orient="row")


def period(table: pl.DataFrame, start: str) -> dict:
    return table.filter(pl.col("period_start").cast(pl.String) == start).row(0, named=True)


# --- ChartMogul -------------------------------------------------------------------
# https://help.chartmogul.com/hc/en-us/articles/207340419 (Churn rate formulas), Standard
# (B2B): "If you had 100 customers at the beginning of the month, and during the month
# 12 customers churned, one of whom reactivated, and one of whom joined during the
# period": churned customers less those who joined and churned and those who churned and
# reactivated in the period, over customers at the start: (12 - 1 - 1) / 100 = 10 %.


def chartmogul_customers() -> pl.DataFrame:
    ids = [f"c{i:03d}" for i in range(100)]
    rows: list[tuple[str, str, str | None]] = [(i, "2024-01-05", None) for i in ids]
    for n in range(10):  # ten customers of the start churn in February
        rows[n] = (ids[n], "2024-01-05", "2024-02-10")
    rows[10] = (ids[10], "2024-01-05", "2024-02-05")  # the eleventh churns ...
    rows.append((ids[10], "2024-02-20", None))  # ... and reactivates in February
    rows.append(("joiner", "2024-02-03", "2024-02-25"))  # joins and churns in February
    return subscriptions(rows)


NO_ORDERS = orders_of([("c000", "2024-01-06", 1.0)])


def test_chartmogul_customer_churn_rate_worked_example() -> None:
    table = api.retention(NO_ORDERS, customers=chartmogul_customers(), convention="chartmogul")
    feb = period(table, "2024-02-01")
    assert feb["customers_start"] == 100
    assert feb["churned"] == 10  # 12 churn events - 1 joined and churned - 1 reactivated
    assert feb["churn_rate"] == pytest.approx(0.10)


# https://help.chartmogul.com/hc/en-us/articles/203359341-Metric-MRR-Churn-Rate and
# .../4414075567250 (Net MRR Churn Rate): "$100 MRR at the beginning of the month ... lost
# $10 to churn MRR, and $10 to contraction MRR, while one customer increased their MRR by
# $10": net MRR churn 10 % ((10 + 10) - (10 + 0)) / 100, gross 20 % (10 + 10) / 100.
CHARTMOGUL_MRR = orders_of(
    [
        ("a", "2024-01-10", 50.0),
        ("a", "2024-02-10", 60.0),  # expansion 10
        ("b", "2024-01-10", 10.0),  # churn 10 (nothing in February)
        ("c", "2024-01-10", 20.0),
        ("c", "2024-02-10", 10.0),  # contraction 10
        ("d", "2024-01-10", 20.0),
        ("d", "2024-02-10", 20.0),
    ]
)


def test_chartmogul_net_mrr_churn_rate_worked_example() -> None:
    feb = period(api.churn(CHARTMOGUL_MRR, convention="chartmogul"), "2024-02-01")
    assert feb["previous_revenue"] == 100.0
    assert (feb["churned_revenue"], feb["contraction"], feb["expansion"]) == (10.0, 10.0, 10.0)
    assert feb["revenue_churn_rate"] == pytest.approx(0.10)


def test_chartmogul_and_baremetrics_gross_revenue_churn_on_the_same_example() -> None:
    # ChartMogul's Gross MRR churn rate on its example is 20 %; Baremetrics' Revenue
    # Churn is the same formula ("MRR Lost to Downgrades & Cancellations ÷ MRR 30 days
    # ago"), which publishes no figures of its own.
    feb = period(api.churn(CHARTMOGUL_MRR, convention="baremetrics"), "2024-02-01")
    assert feb["revenue_churn_rate"] == pytest.approx(0.20)


# --- Baremetrics ------------------------------------------------------------------
# https://help.baremetrics.com/en/articles/5380347-user-and-revenue-churn: "User Churn
# (Cancelled Customers in the last 30 days ÷ Active Customers 30 days ago) x 100" and "A 5%
# User Churn Rate means that 5% of the total customers you had 30 days ago have canceled
# within the last 30 days"; https://changelog.baremetrics.com/churn-update-4pqo9O:
# "Customers who sign up and cancel within the same 30 day window are now included in
# your churn rate." No worked example with figures: hand-computed, 100 customers at the
# start, 4 of them cancel, 1 signs up and cancels in the period: 5 / 100 = 5 % (retcalc's
# default: 4 / 100).


def baremetrics_customers() -> pl.DataFrame:
    ids = [f"c{i:03d}" for i in range(100)]
    rows: list[tuple[str, str, str | None]] = [(i, "2024-01-05", None) for i in ids]
    for n in range(4):
        rows[n] = (ids[n], "2024-01-05", "2024-02-12")
    rows.append(("joiner", "2024-02-03", "2024-02-20"))
    return subscriptions(rows)


def test_baremetrics_user_churn_counts_who_joined_and_cancelled() -> None:
    people = baremetrics_customers()
    ours = period(api.retention(NO_ORDERS, customers=people), "2024-02-01")
    theirs = period(
        api.retention(NO_ORDERS, customers=people, convention="baremetrics"), "2024-02-01"
    )
    assert (ours["churned"], ours["churn_rate"]) == (4, pytest.approx(0.04))
    assert (theirs["churned"], theirs["churn_rate"]) == (5, pytest.approx(0.05))
    assert theirs["customers_start"] == ours["customers_start"] == 100


# https://changelog.baremetrics.com/new-quick-ratio-metric-4ohZDy: "Quick Ratio = (New
# MRR + Expansion MRR) / (Contraction MRR + Churned MRR)" (no reactivation; no figures).
# Hand-computed: January's customers bring 100; in February new 20, expansion 8,
# contraction 3, churn 5, reactivation 4 (f bought in December, not in January).
# Baremetrics: 28 / 8 = 3.5; retcalc and ChartMogul count reactivation: 32 / 8 = 4.0.
# ChartMogul's net revenue churn nets reactivation: (5 + 3 - 8 - 4) / 100 = -4 %.
BRIDGE = orders_of(
    [
        ("f", "2023-12-10", 4.0),
        ("a", "2024-01-10", 50.0),
        ("b", "2024-01-10", 5.0),
        ("c", "2024-01-10", 10.0),
        ("d", "2024-01-10", 35.0),
        ("a", "2024-02-10", 58.0),
        ("c", "2024-02-10", 7.0),
        ("d", "2024-02-10", 35.0),
        ("e", "2024-02-10", 20.0),
        ("f", "2024-02-10", 4.0),
    ]
)


def test_quick_ratio_and_reactivation_per_convention() -> None:
    feb = {
        name: period(api.churn(BRIDGE, convention=name), "2024-02-01")
        for name in (None, "chartmogul", "baremetrics")
    }
    movements = ("new_revenue", "expansion", "contraction", "churned_revenue")
    assert tuple(feb[None][m] for m in movements) == (20.0, 8.0, 3.0, 5.0)
    assert feb[None]["reactivation_revenue"] == 4.0
    assert feb[None]["quick_ratio"] == pytest.approx(4.0)
    assert feb["chartmogul"]["quick_ratio"] == pytest.approx(4.0)
    assert feb["baremetrics"]["quick_ratio"] == pytest.approx(3.5)
    assert feb["chartmogul"]["revenue_churn_rate"] == pytest.approx(-0.04)
    assert feb["baremetrics"]["revenue_churn_rate"] == pytest.approx(0.08)
    assert "revenue_churn_rate" not in feb[None]


# --- Amplitude --------------------------------------------------------------------
# https://amplitude.com/docs/analytics/charts/retention-analysis/retention-analysis-time:
# "if a user triggers their first event on December 1st at 5:59 PM, and then a second
# event on December 2nd at 5:00 PM, Amplitude counts that user as Day 1 retained"; "A
# week is defined as seven days"; "A month is defined as 30 days", counted from the
# user's starting event. retcalc reads days, not hours: the day example holds on dates.


def cells(table: pl.DataFrame) -> dict[tuple[str, int], int]:
    return {
        (str(r["cohort"]), r["offset"]): r["customers"]
        for r in table.iter_rows(named=True)
        if r["customers"] and r["cohort"] is not None  # not the average rows
    }


def test_amplitude_day_one_worked_example() -> None:
    orders = orders_of([("u", "2024-12-01", 1.0), ("u", "2024-12-02", 1.0)])
    table = api.cohorts(orders, period="day", convention="amplitude")
    assert cells(table) == {("2024-12-01", 0): 1, ("2024-12-01", 1): 1}


def test_amplitude_weeks_of_seven_days_and_months_of_thirty() -> None:
    # 2024-12-01 is a Sunday: Monday 2024-12-02 starts the next calendar week (to Sunday
    # 2024-12-08), but it is day 1, week 0, for Amplitude; 2024-12-08 is day 7, week 1.
    orders = orders_of(
        [
            ("u", "2024-12-01", 1.0),
            ("u", "2024-12-02", 1.0),
            ("v", "2024-12-01", 1.0),
            ("v", "2024-12-08", 1.0),
        ]
    )
    ours = cells(api.cohorts(orders, period="week"))
    theirs = cells(api.cohorts(orders, period="week", convention="amplitude"))
    assert ours == {("2024-11-25", 0): 2, ("2024-11-25", 1): 2}
    assert theirs == {("2024-11-25", 0): 2, ("2024-11-25", 1): 1}
    # January 31 then February 1: calendar month 1, but day 1 of Amplitude's month 0;
    # January 1 then March 1 is day 60: month 2 both ways. March 2 is day 61 of w.
    orders = orders_of(
        [
            ("a", "2024-01-31", 1.0),
            ("a", "2024-02-01", 1.0),
            ("w", "2024-01-01", 1.0),
            ("w", "2024-03-01", 1.0),
            ("w", "2024-03-02", 1.0),
        ]
    )
    ours = cells(api.cohorts(orders))
    theirs = cells(api.cohorts(orders, convention="amplitude"))
    assert ours == {("2024-01-01", 0): 2, ("2024-01-01", 1): 1, ("2024-01-01", 2): 1}
    assert theirs == {("2024-01-01", 0): 2, ("2024-01-01", 2): 1}


def test_amplitude_cells_period_start_and_completeness() -> None:
    # One customer from 2024-01-31; data ends 2024-03-10 (exclusive 2024-03-11): 40 days
    # after the January cohort's start, so offsets 0 and 1 exist; offset k is complete
    # when the cohort's last day (Jan 31) + (k + 1) * 30 days <= 2024-03-11.
    orders = orders_of([("a", "2024-01-31", 1.0), ("b", "2024-03-10", 1.0)])
    table = api.cohorts(orders, convention="amplitude").filter(
        pl.col("cohort").cast(pl.String) == "2024-01-01"
    )
    got = [
        (r["offset"], str(r["period_start"]), r["complete"]) for r in table.iter_rows(named=True)
    ]
    assert got == [(0, "2024-01-01", True), (1, "2024-01-31", False), (2, "2024-03-01", False)]


# --- Each switch against the default, on the sample shop ---------------------------
# With a 14-day window some customers join and lapse within a month (new_lost > 0); with
# retcalc's default 12-month window none can, and Baremetrics' switch changes nothing.
WINDOW = "14d"


@pytest.fixture(scope="module")
def shop() -> api.Orders:
    return api.read_orders(str(SAMPLE))


def test_chartmogul_adds_only_revenue_churn_rate(shop: api.Orders) -> None:
    ours = api.churn(shop)
    theirs = api.churn(shop, convention="chartmogul")
    assert theirs.drop("revenue_churn_rate").equals(ours)
    net = (
        pl.col("churned_revenue")
        + pl.col("contraction")
        - pl.col("expansion")
        - pl.col("reactivation_revenue")
    ) / pl.col("previous_revenue")
    expected = ours.select(pl.when(pl.col("previous_revenue") > 0).then(net).alias("r"))["r"]
    assert theirs["revenue_churn_rate"].to_list() == pytest.approx(expected.to_list(), nan_ok=True)
    assert api.retention(shop, convention="chartmogul").equals(api.retention(shop))


def test_baremetrics_changes_churned_quick_ratio_and_adds_gross_revenue_churn(
    shop: api.Orders,
) -> None:
    ours = api.churn(shop, window=WINDOW)
    theirs = api.churn(shop, window=WINDOW, convention="baremetrics")
    changed = {"churned", "churn_rate", "quick_ratio", "revenue_churn_rate"}
    same = [c for c in theirs.columns if c not in changed]
    assert theirs.select(same).equals(ours.select(same))
    new_lost = api.retention(shop, window=WINDOW)["new_lost"]
    assert new_lost.sum() > 0  # the sample shop has some: the test can fail
    assert (theirs["churned"] - ours["churned"]).to_list() == new_lost.to_list()
    gains = pl.col("new_revenue") + pl.col("expansion")
    losses = pl.col("contraction") + pl.col("churned_revenue")
    expected = ours.select(pl.when(losses > 0).then(gains / losses).alias("q"))["q"]
    assert theirs["quick_ratio"].to_list() == pytest.approx(expected.to_list(), nan_ok=True)
    retained = api.retention(shop, window=WINDOW, convention="baremetrics")
    base = api.retention(shop, window=WINDOW)
    same = [c for c in base.columns if c not in {"churned", "churn_rate"}]
    assert retained.select(same).equals(base.select(same))
    assert (retained["churned"] - base["churned"]).to_list() == new_lost.to_list()


def test_baremetrics_kpis_churn_rate_only(shop: api.Orders) -> None:
    ours = api.kpis(shop, period="month", window=WINDOW)
    theirs = api.kpis(shop, period="month", window=WINDOW, convention="baremetrics")
    assert theirs.drop("churn_rate").equals(ours.drop("churn_rate"))
    lost = api.retention(shop, window=WINDOW, convention="baremetrics")
    assert theirs["churn_rate"].to_list() == lost["churn_rate"].to_list()
    assert not theirs["churn_rate"].equals(ours["churn_rate"])


def test_amplitude_by_day_is_the_default(shop: api.Orders) -> None:
    # Days counted from the first day are the calendar days since it (no hours read).
    ours = api.cohorts(shop, period="day", start="2025-06-01")
    assert api.cohorts(shop, period="day", start="2025-06-01", convention="amplitude").equals(ours)


def test_amplitude_monthly_keeps_cohorts_and_sizes(shop: api.Orders) -> None:
    ours, theirs = (
        table.filter(pl.col("cohort").is_not_null())  # the cohorts, not the average rows
        for table in (api.cohorts(shop), api.cohorts(shop, convention="amplitude"))
    )
    sizes = ["cohort", "cohort_size"]
    assert (
        theirs.select(sizes)
        .unique()
        .sort("cohort")
        .equals(ours.select(sizes).unique().sort("cohort"))
    )
    assert not theirs.equals(ours)
    # every customer is in offset 0 on both counts, and the cohort's revenue is all there
    for table in (ours, theirs):
        first = table.filter(pl.col("offset") == 0)
        assert (first["customers"] == first["cohort_size"]).all()
    total = pl.col("revenue").sum()
    assert theirs.select(total).item() == pytest.approx(ours.select(total).item())


# --- Where a convention does not apply -----------------------------------------------


def test_conventions_refuse_commands_they_do_not_define() -> None:
    with pytest.raises(UsageError, match="does not apply to cohorts"):
        convention_for("chartmogul", "cohorts")
    with pytest.raises(UsageError, match="does not apply to churn"):
        convention_for("amplitude", "churn")
    with pytest.raises(UsageError, match="use one of chartmogul, baremetrics, amplitude"):
        convention_for("stripe", "churn")
    with pytest.raises(UsageError, match="--period day, week or month"):
        api.cohorts(orders_of([("u", "2024-12-01", 1.0)]), period="quarter", convention="amplitude")
    assert convention_for(None, "churn") is DEFAULT
    assert convention_for("Baremetrics", "churn") is CONVENTIONS["baremetrics"]
