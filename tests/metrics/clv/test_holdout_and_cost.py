"""Calibration/holdout comparison and CLV net of the cost to serve."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from retcalc.metrics.clv import (
    ModelParams,
    by_group,
    customer_costs,
    duration_days,
    fit_models,
    month_steps,
    monthly_rate,
    net_of_cost,
    score,
)
from retcalc.metrics.clv.bgnbd import BgNbdParams, expected_purchases
from retcalc.metrics.clv.gamma_gamma import GammaGammaParams
from retcalc.metrics.clv.holdout import HOLDOUT_COLUMNS, holdout_table
from retcalc.metrics.clv.summary import TimeUnit, rfm_summary
from retcalc.periods import parse_window
from retcalc.sample import generate
from tests.metrics.conftest import D, orders

PARAMS = ModelParams(
    BgNbdParams(0.5, 10.0, 0.8, 2.5), GammaGammaParams(6.0, 3.0, 15.0), TimeUnit.day
)


def test_holdout_counts_actual_purchase_days_of_calibration_customers() -> None:
    frame = orders(
        [
            ("A", "2024-01-01", 10.0),
            ("A", "2024-01-10", 10.0),
            ("A", "2024-02-05", 10.0),
            ("A", "2024-02-06", 10.0),
            ("A", "2024-02-06", 10.0),  # same day: one purchase
            ("B", "2024-01-03", 10.0),
            ("B", "2024-01-20", 10.0),
            ("C", "2024-01-05", 10.0),
            ("C", "2024-02-10", 10.0),
            ("D", "2024-02-03", 10.0),  # first seen in the holdout: not scored
        ]
    )
    check = holdout_table(frame, holdout=parse_window("14d"), as_of=D("2024-02-15"), params=PARAMS)
    assert check.calibration_end == D("2024-02-01") and check.end == D("2024-02-15")
    table = check.table
    assert table.columns == list(HOLDOUT_COLUMNS)
    assert table.select("frequency", "customers", "actual_purchases").rows() == [
        ("0", 1, 1),
        ("1", 2, 2),
        ("total", 3, 3),
    ]
    # calibration: A x=1 t_x=9 T=30, B x=1 t_x=17 T=28, C x=0 T=26; holdout 14 days
    predicted = expected_purchases(
        PARAMS.bgnbd,
        14.0,
        np.array([1.0, 1.0, 0.0]),
        np.array([9.0, 17.0, 0.0]),
        np.array([30.0, 28.0, 26.0]),
    )
    got = dict(zip(table["frequency"], table["predicted_purchases"], strict=True))
    assert got["1"] == pytest.approx(predicted[0] + predicted[1])
    assert got["0"] == pytest.approx(predicted[2])
    mae = (abs(predicted[0] - 2) + abs(predicted[1] - 0) + abs(predicted[2] - 1)) / 3
    assert table["mean_absolute_error"][-1] == pytest.approx(mae)


def test_holdout_on_a_simulated_shop_groups_up_to_seven_plus() -> None:
    data = generate(customers=1500, seed=9)
    frame = data.orders.lazy().select(
        "customer_id", pl.col("order_date").dt.date().alias("day"), "amount", "order_id", "quantity"
    )
    table = holdout_table(frame, holdout=parse_window("26w")).table
    assert table["frequency"].to_list() == ["0", "1", "2", "3", "4", "5", "6", "7+", "total"]
    groups, total = table.head(-1), table.tail(1)
    assert total["customers"].item() == groups["customers"].sum()
    assert total["actual_purchases"].item() == groups["actual_purchases"].sum()
    assert total["predicted_purchases"].item() == pytest.approx(groups["predicted_purchases"].sum())
    # a fitted model predicts the holdout total within 25 % on this shop
    assert total["predicted_purchases"].item() == pytest.approx(
        total["actual_purchases"].item(), rel=0.25
    )


def test_month_steps_cut_the_last_month_at_the_horizon() -> None:
    assert month_steps(90.0, 30.0) == [30.0, 60.0, 90.0]
    assert month_steps(365.0, 365 / 12) == pytest.approx([(k + 1) * 365 / 12 for k in range(12)])
    assert month_steps(70.0, 30.0) == [30.0, 60.0, 70.0]


def test_horizons_and_yearly_discount_rates() -> None:
    assert duration_days(parse_window("1y")) == 365.0
    assert duration_days(parse_window("12mo")) == pytest.approx(365.0)
    assert duration_days(parse_window("26w")) == 182.0
    assert (1 + monthly_rate(0.1)) ** 12 == pytest.approx(1.1)


def test_cost_to_serve_nets_clv_and_flags_negative_segments() -> None:
    frame = orders(
        [
            ("A", "2024-01-01", 100.0, "gold"),
            ("A", "2024-03-01", 120.0, "gold"),
            ("B", "2024-01-05", 20.0, "basic"),
            ("B", "2024-02-05", 30.0, "basic"),
            ("C", "2024-02-01", 25.0, "basic"),
        ],
        ("customer_id", "day", "amount", "segment"),
    )
    summary = rfm_summary(frame, keys=("segment",), as_of=D("2024-04-01"))
    scored = score(summary, PARAMS, horizon=365.0, discount_per_month=0.0)
    costs = customer_costs(
        pl.LazyFrame(
            {"customer_id": ["A", "B", "B", "C"], "cost_to_serve": [1.0, None, 500.0, 400.0]}
        )
    )
    net = net_of_cost(scored, costs, years=0.5)
    assert net["cost_to_serve"].to_list() == [1.0, 500.0, 400.0]
    assert net["clv_net"].to_list() == pytest.approx(
        [c - k * 0.5 for c, k in zip(scored["clv"], [1.0, 500.0, 400.0], strict=True)]
    )
    groups = by_group(net, ("segment",), years=0.5)
    assert groups["segment"].to_list() == ["basic", "gold"]
    assert groups["net_clv_negative"].to_list() == [True, False]
    basic = groups.row(0, named=True)
    assert basic["customers"] == 2 and basic["cost_to_serve"] == pytest.approx(450.0)
    assert basic["clv_net"] == pytest.approx(net["clv_net"][1] + net["clv_net"][2])


def test_fit_leaves_non_positive_spend_out_of_the_spend_model_with_a_note() -> None:
    data = generate(customers=800, seed=3)
    frame = data.orders.lazy().select(
        "customer_id", pl.col("order_date").dt.date().alias("day"), "amount", "order_id", "quantity"
    )
    summary = rfm_summary(frame)
    repeat = summary.frame.filter(pl.col("frequency") > 0)
    non_positive = repeat.filter(pl.col("monetary_value") <= 0).height
    assert non_positive > 0
    params = fit_models(summary)
    assert params.gamma_gamma is not None
    assert params.gamma_gamma.customers == repeat.height - non_positive
    assert any(f"{non_positive} repeat buyer" in note for note in params.warnings)
