"""KPIs (SPEC §2.8) against hand-computed values on a small shop."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from retcalc.io import nps as nps_io
from retcalc.kernels import parts as parts_module
from retcalc.metrics import kpis as kpis_metric
from retcalc.metrics.common import Params, prepare_activity
from retcalc.metrics.kpis import kpi_table
from retcalc.metrics.retention import retention
from retcalc.periods import Period, parse_window
from tests.metrics.conftest import D, orders

COLUMNS = ("customer_id", "day", "order_id", "quantity", "amount", "paid_day")

# March 2024 is the range; the window is one month.
#   a: Jan 10, Feb 15, Mar 5 (two orders, one purchase day), Mar 20, Mar 28
#   b: Feb 20 only: active at Mar 1, gone by Apr 1 (churned), no order in the range
#   c: new on Mar 10, again Mar 13
#   d: Dec 1 2023, then Mar 25 (lapsed, reactivated)
#   e: new on Mar 12 with a two-line order and a return line of that order on Mar 18
#   f: Apr 5, after the range
SHOP = [
    ("d", "2023-12-01", "o8", 1, 50, "2023-12-01"),
    ("a", "2024-01-10", "o1", 1, 10, "2024-01-10"),
    ("a", "2024-02-15", "o2", 1, 20, "2024-02-15"),
    ("b", "2024-02-20", "o6", 1, 40, "2024-02-20"),
    ("a", "2024-03-05", "o3", 1, 30, "2024-03-06"),
    ("a", "2024-03-05", "o4", 1, 5, None),
    ("c", "2024-03-10", "o7", 1, 25, "2024-03-10"),
    ("e", "2024-03-12", "o10", 2, 30, "2024-03-12"),
    ("e", "2024-03-12", "o10", 1, 10, None),  # paid with its order's first line
    ("c", "2024-03-13", "o12", 1, 5, "2024-04-01"),
    ("e", "2024-03-18", "o10", -1, -10, None),
    ("a", "2024-03-20", "o5", 1, 15, "2024-04-10"),
    ("d", "2024-03-25", "o9", 1, 60, "2024-03-25"),
    ("a", "2024-03-28", "o13", 1, 10, "2024-03-31"),
    ("f", "2024-04-05", "o11", 1, 100, "2024-04-05"),
]

RESPONSES = [
    ("a", "2024-03-02", 10),  # active at Mar 1 and Apr 1: retained
    ("b", "2024-03-03", 3),  # active at Mar 1, not at Apr 1: churned
    ("b", "2024-03-25", 7),
    ("c", "2024-03-11", 8),  # not active at Mar 1: neither
    ("x", "2024-03-15", 0),  # not a customer: counts in nps only
    ("a", "2024-02-10", 0),  # before the range
]


def shop() -> pl.LazyFrame:
    return orders(SHOP, COLUMNS).with_columns(pl.col("paid_day").str.to_date())


def responses(rows: list[tuple[str, str, int]]) -> pl.LazyFrame:
    return (
        pl.DataFrame(
            rows,
            schema={"customer_id": pl.String, "day": pl.String, "score": pl.Int64},
            orient="row",
        )
        .with_columns(pl.col("day").str.to_date())
        .lazy()
    )


def params(**kw: object) -> Params:
    base: dict[str, object] = {"window": parse_window("1mo")}
    base.update(kw)
    return Params(**base)  # type: ignore[arg-type]


def march(frame: pl.LazyFrame | None = None, **kw: object) -> dict[str, object]:
    p = params(start=D("2024-03-01"), end=D("2024-03-31"))
    prep = prepare_activity(frame if frame is not None else shop(), p)
    table = kpi_table(prep, params=p, **kw)  # type: ignore[arg-type]
    assert table.height == 1
    return table.row(0, named=True)


def test_every_kpi_over_march() -> None:
    row = march(loyal_orders=4, by_sequence=True, nps=responses(RESPONSES), dso=True)
    assert row["range_start"] == D("2024-03-01")
    assert row["range_end"] == D("2024-03-31")
    # Purchasers in March: a, c, d, e (b has no order in the range, f is in April).
    assert row["customers"] == 4
    # a: o3, o4, o5, o13; c: o7, o12; d: o9; e: o10 (two lines, one order).
    assert row["orders"] == 8
    # a 30+5+15+10, c 25+5, d 60, e 30+10-10 (the return shares o10).
    assert row["revenue"] == 180.0
    assert row["new_customers"] == 2  # c, e
    # Active at Mar 1 (ordered Feb 1..29): a, b. At Apr 1 (Mar 1..31): a, c, d, e.
    assert row["active_customers"] == 4
    assert row["churn_rate"] == 0.5  # b churned out of {a, b}
    assert row["crr"] == 1.0  # (CE 4 - CN 2) / CS 2
    assert row["purchase_frequency"] == 2.0  # 8 / 4
    assert row["aov"] == 22.5  # 180 / 8
    assert row["revenue_per_customer"] == 45.0  # 180 / 4
    assert row["repeat_purchase_rate"] == 0.5  # a, c
    assert row["loyal_customer_rate"] == 0.25  # a (4 orders)
    # Gaps inside March: a Mar 5 -> 20 (15), Mar 20 -> 28 (8); c Mar 10 -> 13 (3).
    assert row["median_days_between_purchases"] == 8.0
    assert row["mean_days_between_purchases"] == pytest.approx(26 / 3)
    # Lifetime sequence: c's 1st -> 2nd is 3 days; a's 3rd -> 4th 15, 4th -> 5th 8.
    assert row["median_days_1_to_2"] == 3.0
    assert row["median_days_2_to_3"] is None  # a's 2nd -> 3rd spans Feb -> Mar
    assert row["median_days_3_to_4"] == 15.0
    assert row["median_days_4_to_5"] == 8.0
    # Existing (first purchase before Mar 1): a, b, d. Now: 60 + 0 + 60.
    # Previous 31 days, Jan 30 .. Feb 29: a 20, b 40, d 0. 120 / 60 - 1.
    assert row["existing_customer_revenue_growth"] == 1.0
    # 5 responses in March: promoters a(10); detractors b(3), x(0) -> 100 * (1 - 2) / 5.
    assert row["nps_responses"] == 5
    assert row["nps"] == -20.0
    assert row["nps_churned"] == -50.0  # b: 3 and 7
    assert row["nps_retained"] == 100.0  # a: 10
    # Credit sales = purchase rows in March: 30+5+15+10+25+5+60+30+10 = 190.
    # Unpaid by Apr 1: o4 (no date) 5, o5 (Apr 10) 15, o12 (paid on Apr 1) 5 = 25.
    assert row["dso"] == pytest.approx(25 / 190 * 31)


def test_columns_in_order() -> None:
    p = params(start=D("2024-03-01"), end=D("2024-03-31"))
    table = kpi_table(prepare_activity(shop(), p), params=p)
    assert table.columns == [
        "range_start",
        "range_end",
        *kpis_metric.KPI_COLUMNS,
        "existing_customer_revenue_growth",
    ]
    assert table.schema["range_start"] == pl.Date
    assert table.schema["customers"] == pl.Int64


def test_loyal_orders_threshold() -> None:
    assert march(loyal_orders=2)["loyal_customer_rate"] == 0.5
    assert march(loyal_orders=5)["loyal_customer_rate"] == 0.0


def test_same_day_orders_are_one_purchase_day_but_two_orders() -> None:
    frame = orders(
        [("a", "2024-03-01", "o1", 1, 5), ("a", "2024-03-01", "o2", 1, 5)],
        ("customer_id", "day", "order_id", "quantity", "amount"),
    )
    p = params()
    row = kpi_table(prepare_activity(frame, p), params=p).row(0, named=True)
    assert (row["customers"], row["orders"], row["repeat_purchase_rate"]) == (1, 2, 1.0)
    assert row["median_days_between_purchases"] is None  # one purchase day: no gap


def test_without_order_ids_each_purchase_row_is_an_order() -> None:
    # b has only a return row: not a customer of the range, but its amount is netted.
    frame = orders([("a", "2024-03-01", 5), ("a", "2024-03-01", 7), ("b", "2024-03-01", -3)])
    p = params()
    row = kpi_table(prepare_activity(frame, p), params=p).row(0, named=True)
    assert (row["customers"], row["orders"], row["revenue"]) == (1, 2, 9.0)
    assert row["revenue_per_customer"] == 9.0


def test_a_range_without_purchases_gives_nulls_not_errors() -> None:
    # May 2024: nobody buys. f (Apr 5) is active at May 1 and gone by Jun 1.
    p = params(start=D("2024-05-01"), end=D("2024-05-31"))
    row = kpi_table(prepare_activity(shop(), p), params=p, nps=responses([])).row(0, named=True)
    assert (row["customers"], row["orders"], row["revenue"]) == (0, 0, 0.0)
    assert (row["active_customers"], row["churn_rate"], row["crr"]) == (0, 1.0, 0.0)
    for column in (
        "purchase_frequency",
        "aov",
        "revenue_per_customer",
        "repeat_purchase_rate",
        "loyal_customer_rate",
        "median_days_between_purchases",
        "mean_days_between_purchases",
        "nps",
        "nps_churned",
        "nps_retained",
    ):
        assert row[column] is None, column
    assert row["nps_responses"] == 0
    # Existing customers earned 100 in the previous 31 days (f on Apr 5) and 0 now.
    assert row["existing_customer_revenue_growth"] == -1.0


def test_rates_are_null_when_nobody_is_active_at_the_start() -> None:
    # Default range: the first to the last purchase day, so nobody is active at its start.
    p = params()
    row = kpi_table(prepare_activity(shop(), p), params=p).row(0, named=True)
    assert (row["range_start"], row["range_end"]) == (D("2023-12-01"), D("2024-04-05"))
    assert row["churn_rate"] is None and row["crr"] is None
    assert row["existing_customer_revenue_growth"] is None  # nobody bought before
    assert row["customers"] == 6 and row["new_customers"] == 6


def test_growth_is_null_when_previous_revenue_is_not_positive() -> None:
    frame = orders([("a", "2024-01-10", 10), ("a", "2024-03-10", 10)])
    p = params(start=D("2024-03-01"), end=D("2024-03-31"))
    row = kpi_table(prepare_activity(frame, p), params=p).row(0, named=True)
    assert row["existing_customer_revenue_growth"] is None


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([9, 10, 10], 100.0),
        ([0, 6, 3], -100.0),
        ([7, 8], 0.0),
        ([10, 8, 6, 9], 25.0),
        ([], None),
    ],
    ids=["all-promoters", "all-detractors", "all-passives", "mixed", "no-responses"],
)
def test_nps_edge_cases(scores: list[int], expected: float | None) -> None:
    rows = [("a", "2024-03-15", s) for s in scores]
    row = march(nps=responses(rows))
    assert row["nps"] == expected
    assert row["nps_responses"] == len(scores)


def test_as_of_cuts_the_range_and_the_responses() -> None:
    p = params(start=D("2024-03-01"), as_of=D("2024-03-15"))
    prep = prepare_activity(shop(), p)
    row = kpi_table(prep, params=p, nps=responses(RESPONSES)).row(0, named=True)
    assert row["range_end"] == D("2024-03-14")
    # a (Mar 5), c (Mar 10, 13), e (Mar 12).
    assert row["customers"] == 3
    assert row["nps_responses"] == 3  # Mar 2, 3 and 11; Mar 15 and 25 are cut


def test_per_period_matches_retention_and_flags_completeness() -> None:
    p = params(period=Period.month)
    prep = prepare_activity(shop(), p)
    table = kpi_table(prep, params=p, per_period=True)
    assert table.columns[:2] == ["period_start", "period_end"]
    assert table.columns[-1] == "complete"
    reference = retention(shop(), params=p)
    assert table["period_start"].to_list() == reference["period_start"].to_list()
    assert table["churn_rate"].to_list() == reference["churn_rate"].to_list()
    assert table["crr"].to_list() == reference["crr"].to_list()
    assert table["active_customers"].to_list() == reference["customers_end"].to_list()
    by_month = {str(r["period_start"]): r for r in table.iter_rows(named=True)}
    assert by_month["2024-03-01"]["customers"] == 4
    assert by_month["2024-03-01"]["revenue"] == 180.0
    # Per period, the previous range is the previous calendar month: Feb = a 20 + b 40.
    assert by_month["2024-03-01"]["existing_customer_revenue_growth"] == 1.0
    # February: only a and b buy (one order each), no gap inside the month.
    feb = by_month["2024-02-01"]
    assert (feb["customers"], feb["orders"], feb["median_days_between_purchases"]) == (2, 2, None)
    # A month with no purchase has a row with zeros and nulls.
    jan = by_month["2024-01-01"]
    assert (jan["customers"], jan["aov"]) == (1, 10.0)


@pytest.mark.parametrize("per_period", [False, True])
def test_the_customers_in_parts_give_the_same_table(
    per_period: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large input's per-customer counts and revenue run in parts of the customers:
    # one row per part here, so every part holds a customer or none.
    frame = shop().with_columns(
        pl.when(pl.col("customer_id") < "c")
        .then(pl.lit("web"))
        .otherwise(pl.lit("shop"))
        .alias("channel")
    )
    march = {} if per_period else {"start": D("2024-03-01"), "end": D("2024-03-31")}
    p = params(period=Period.month, by=("channel",), **march)
    whole = kpi_table(prepare_activity(frame, p), params=p, per_period=per_period, by_sequence=True)
    monkeypatch.setattr(parts_module, "PART_ROWS", 1)
    parts = kpi_table(prepare_activity(frame, p), params=p, per_period=per_period, by_sequence=True)
    assert parts.equals(whole)
    assert whole["customers"].sum() > 0
    assert whole["existing_customer_revenue_growth"].drop_nulls().len() > 0


def test_by_dimension_splits_every_figure() -> None:
    frame = shop().with_columns(
        pl.when(pl.col("customer_id").is_in(["a", "b"]))
        .then(pl.lit("web"))
        .otherwise(pl.lit("shop"))
        .alias("channel")
    )
    p = params(start=D("2024-03-01"), end=D("2024-03-31"), by=("channel",))
    table = kpi_table(prepare_activity(frame, p), params=p)
    assert table.columns[0] == "channel"
    rows = {r["channel"]: r for r in table.iter_rows(named=True)}
    assert (rows["web"]["customers"], rows["web"]["churn_rate"]) == (1, 0.5)
    assert (rows["shop"]["customers"], rows["shop"]["revenue"]) == (3, 120.0)


def test_dso_needs_paid_dates() -> None:
    frame = orders([("a", "2024-03-01", 5)])
    p = params()
    with pytest.raises(kpis_metric.InputError, match="paid"):
        kpi_table(prepare_activity(frame, p), params=p, dso=True)


def test_empty_range_is_an_input_error() -> None:
    p = params(start=D("2024-03-10"), end=D("2024-03-20"), as_of=D("2024-03-05"))
    with pytest.raises(kpis_metric.InputError, match="range is empty"):
        kpi_table(prepare_activity(shop(), params(as_of=D("2024-03-05"))), params=p)


def test_money_is_the_nearest_float() -> None:
    frame = pl.DataFrame({"m": [184_408_790_000] * 5})
    assert frame.select(kpis_metric.money(pl.col("m")))["m"].to_list() == [184408.79] * 5


def test_paid_column_name_is_shared_with_the_loader() -> None:
    assert nps_io.PAID == kpis_metric.PAID


def test_one_range_grid_is_the_range() -> None:
    p = params(start=D("2024-03-01"), end=D("2024-03-31"))
    prep = kpis_metric.one_range(prepare_activity(shop(), p), p)
    assert prep.grid.bounds.to_list() == [D("2024-03-01"), D("2024-04-01")]
    assert prep.grid.starts is not None
    assert prep.grid.starts.to_list() == [D("2024-02-01"), D("2024-03-01")]
    assert isinstance(prep.grid.end, dt.date)


def test_dso_rows_without_order_id_keep_their_own_paid_date() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "day": [D("2024-03-01"), D("2024-03-01")],
            "order_id": [None, None],
            "amount": [10.0, 10.0],
            "paid_day": [D("2024-03-01"), None],
        },
        schema_overrides={"order_id": pl.String},
    ).lazy()
    p = params()
    row = kpi_table(prepare_activity(frame, p), params=p, dso=True).row(0, named=True)
    assert row["dso"] == 0.5  # 10 of 20 unpaid over a one-day range
