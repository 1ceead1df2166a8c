"""``retcalc clv`` end to end: models, outputs, parameter files, holdout, errors (SPEC §2.7)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.cli.common import Inputs
from retcalc.io.frames import LoadOptions, load_orders

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
ORDERS = str(SAMPLE / "orders.csv")
CUSTOMERS = str(SAMPLE / "customers.csv")

# c1: two orders on one day then one more (a line of it returned); c2: one order; c3 two days.
SMALL = """\
customer_id,order_date,amount,order_id,quantity,segment
c1,2024-01-01,10.00,o1,1,gold
c1,2024-01-01,20.00,o2,1,gold
c1,2024-02-01,40.00,o3,2,gold
c1,2024-02-10,-10.00,o3,-1,gold
c2,2024-01-15,25.00,o4,1,basic
c3,2024-01-20,5.00,o5,1,basic
c3,2024-03-01,15.00,o6,1,basic
"""

runner = CliRunner()


def invoke(args: Sequence[str], input: str | None = None) -> Result:
    return runner.invoke(app, ["clv", *args], input=input)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}\n{result.exception!r}"
    return result


def rows(result: Result) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(ok(result).stdout)))


def fails_cleanly(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    return result.stderr


def test_historical_summary_per_customer_and_by_segment() -> None:
    summary = rows(invoke(["-", "--format", "csv"], input=SMALL))
    assert summary == [
        {
            "customers": "3",
            "orders": "6",
            "revenue": "105.0",
            "aov": "17.5",
            "orders_per_customer": "2.0",
            "revenue_per_customer": "35.0",
            "mean_tenure_days": "24.0",
        }
    ]
    per_customer = rows(invoke(["-", "--per-customer", "--format", "csv"], input=SMALL))
    assert [
        (r["customer_id"], r["orders"], r["revenue"], r["tenure_days"]) for r in per_customer
    ] == [
        ("c1", "3", "60.0", "31"),
        ("c2", "1", "25.0", "0"),
        ("c3", "2", "20.0", "41"),
    ]
    by_segment = rows(invoke(["-", "--by", "segment", "--format", "csv"], input=SMALL))
    assert [(r["segment"], r["customers"]) for r in by_segment] == [("basic", "2"), ("gold", "1")]


def test_formula_json_shows_its_inputs() -> None:
    result = ok(invoke([ORDERS, "--model", "formula", "--margin", "40%", "--format", "json"]))
    (row,) = json.loads(result.stdout)
    assert row["margin"] == 0.4 and row["discount_rate"] == 0.1
    expected = (
        row["aov"] * row["purchases_per_year"] * row["margin"] * row["discounted_lifetime_years"]
    )
    assert row["clv"] == pytest.approx(expected)
    assert row["discounted_lifetime_years"] == pytest.approx(
        1 / (row["annual_churn_rate"] + row["discount_rate"])
    )


def test_bgnbd_by_segment_nets_cost_to_serve_and_warns_on_negative_segments() -> None:
    result = invoke(
        [ORDERS, "--model", "bgnbd", "--customers", CUSTOMERS, "--by", "segment", "--format", "csv"]
    )
    table = rows(result)
    assert [r["segment"] for r in table] == ["consumer", "enterprise", "small_business"]
    assert set(table[0]) >= {"clv", "cost_to_serve", "clv_net", "net_clv_negative"}
    negative = [r["segment"] for r in table if r["net_clv_negative"] == "true"]
    assert negative == ["small_business"]
    assert "negative for segment=small_business" in result.stderr
    for r in table:
        assert float(r["clv_net"]) == pytest.approx(float(r["clv"]) - float(r["cost_to_serve"]))


def test_bgnbd_per_customer_columns() -> None:
    table = rows(invoke([ORDERS, "--model", "bgnbd", "--per-customer", "--time-unit", "week"]))
    assert list(table[0]) == [
        "customer_id",
        "first_purchase",
        "last_purchase",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases",
        "expected_avg_order_value",
        "clv",
    ]
    assert len(table) == 2853
    assert all(0 <= float(r["p_alive"]) <= 1 for r in table)


def test_params_out_then_params_in_scores_the_same(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    fitted = ok(invoke([ORDERS, "--model", "bgnbd", "--per-customer", "--params-out", str(params)]))
    saved = json.loads(params.read_text())
    assert set(saved["bgnbd"]) == {
        "r", "alpha", "a", "b", "log_likelihood", "customers", "standard_errors"
    }  # fmt: skip
    assert set(saved["bgnbd"]["standard_errors"]) == {"r", "alpha", "a", "b"}
    assert set(saved["gamma_gamma"]) == {
        "p", "q", "v", "log_likelihood", "customers", "standard_errors"
    }  # fmt: skip
    assert set(saved["gamma_gamma"]["standard_errors"]) == {"p", "q", "v"}
    assert all(v > 0 for v in saved["gamma_gamma"]["standard_errors"].values())
    assert saved["bgnbd"]["customers"] == 2853 and saved["time_unit"] == "day"
    assert not list(tmp_path.glob(".*.tmp"))
    scored = ok(invoke([ORDERS, "--model", "bgnbd", "--per-customer", "--params-in", str(params)]))
    assert scored.stdout == fitted.stdout
    # parameters fitted in days score week summaries: the same predictions
    weekly = rows(
        invoke(
            [
                ORDERS,
                "--model",
                "bgnbd",
                "--per-customer",
                "--params-in",
                str(params),
                "--time-unit",
                "week",
            ]
        )
    )
    daily = list(csv.DictReader(io.StringIO(fitted.stdout)))
    assert float(weekly[5]["clv"]) == pytest.approx(float(daily[5]["clv"]), rel=1e-9)


def test_holdout_prints_predicted_versus_actual() -> None:
    table = rows(invoke([ORDERS, "--model", "bgnbd", "--holdout", "26w"]))
    assert [r["frequency"] for r in table] == ["0", "1", "2", "3", "4", "5", "6", "7+", "total"]
    assert list(table[0]) == [
        "frequency",
        "customers",
        "actual_purchases",
        "predicted_purchases",
        "actual_per_customer",
        "predicted_per_customer",
        "error",
        "mean_absolute_error",
    ]
    total = table[-1]
    assert int(total["customers"]) == sum(int(r["customers"]) for r in table[:-1])
    assert float(total["mean_absolute_error"]) > 0


def test_no_repeat_buyers_is_a_clear_error() -> None:
    once = "customer_id,order_date,amount\na,2024-01-01,5\nb,2024-01-02,6\nc,2024-02-01,7\n"
    stderr = fails_cleanly(invoke(["-", "--model", "bgnbd"], input=once))
    assert "retcalc: error: no customer bought on more than one day" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizon", "1y"], "--horizon is for the predictive model"),
        (["--model", "bgnbd", "--horizon", "soon"], "--horizon 'soon' is not a duration"),
        (["--model", "formula", "--margin", "lots"], "--margin 'lots' is not a number"),
        (["--model", "bgnbd", "--start", "2024-01-01"], "--start/--end do not apply"),
        (["--model", "bgnbd", "--params-in", "/nonexistent/p.json"], "no such file"),
        (["--model", "bgnbd", "--holdout", "10y"], "leaves no calibration period"),
    ],
    ids=["flag-for-bgnbd", "bad-horizon", "bad-margin", "start", "missing-params", "holdout"],
)
def test_usage_errors(args: list[str], message: str) -> None:
    stderr = fails_cleanly(invoke([ORDERS, *args]))
    assert message in stderr


def test_bad_params_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"bgnbd": {"r": 1, "alpha": 2, "a": 0.5}}')
    stderr = fails_cleanly(invoke([ORDERS, "--model", "bgnbd", "--params-in", str(bad)]))
    assert "bgnbd.b must be a number" in stderr


def test_take_orders_hands_the_rows_over(tmp_path: Path) -> None:
    """``clv --model bgnbd`` hands its orders to the summary, which lets them go once
    read: the inputs keep what they tell of the file (paths, name), not its rows."""
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_date,amount\nA,2024-01-05,10\nB,2024-02-01,5\n")
    inputs = Inputs(load_orders(str(path), LoadOptions(), need_amount=True), None)
    paths = inputs.paths
    taken = inputs.take_orders().collect()
    assert taken["customer_id"].to_list() == ["A", "B"]
    assert inputs.orders is not None
    assert inputs.orders.frame.height == 0
    assert inputs.orders.frame.columns == taken.columns
    assert inputs.paths == paths and inputs.orders.name == str(path)


def flat_spend_shop(customers: int = 300) -> tuple[str, float]:
    """Orders of 20.00 ± 0.01 (rounding) on random days, and the mean repeat-day spend
    by hand: every repeat purchase day's spend summed, over the repeat purchase days."""
    import random

    rng = random.Random(7)
    lines = ["customer_id,order_date,amount"]
    repeat_total, repeat_days = 0, 0  # in cents
    for c in range(customers):
        days = sorted(rng.sample(range(365), rng.randint(1, 8)))
        for k, day in enumerate(days):
            cents = 2000 + rng.choice((-1, 0, 1))
            date = (dt.date(2024, 1, 1) + dt.timedelta(days=day)).isoformat()
            lines.append(f"c{c},{date},{cents / 100:.2f}")
            if k > 0:
                repeat_total += cents
                repeat_days += 1
    return "\n".join(lines) + "\n", repeat_total / repeat_days / 100


def test_spend_at_the_boundary_is_the_limit_model_with_a_note(tmp_path: Path) -> None:
    """Every customer spends the same up to rounding: lifetimes and retcalc gave up; now
    the spend model is its limit, every expected order value is the population mean, and
    stderr says so."""
    text, mean = flat_spend_shop()
    params = tmp_path / "params.json"
    args = ["-", "--model", "bgnbd", "--per-customer", "-f", "json", "--params-out", str(params)]
    result = ok(invoke(args, input=text))
    assert "limit model is used" in result.stderr
    assert f"population mean {mean:.6g}" in result.stderr
    table = json.loads(result.stdout)
    assert len(table) == 300
    values = {r["expected_avg_order_value"] for r in table}
    assert len(values) == 1 and values.pop() == pytest.approx(mean, rel=1e-12)
    saved = json.loads(params.read_text())["gamma_gamma"]
    assert saved["limit"] == "common_spend_rate" and saved["q"] is None and saved["v"] is None
    assert saved["mean"] == pytest.approx(mean, rel=1e-12)
    again = ok(invoke(["-", "--model", "bgnbd", "--per-customer", "-f", "json",
                       "--params-in", str(params)], input=text))  # fmt: skip
    assert again.stdout == result.stdout


def test_penalizer_is_written_and_changes_the_fit(tmp_path: Path) -> None:
    plain, penalized = tmp_path / "plain.json", tmp_path / "pen.json"
    ok(invoke([ORDERS, "--model", "bgnbd", "--params-out", str(plain)]))
    ok(invoke([ORDERS, "--model", "bgnbd", "--penalizer", "0.01", "--spend-penalizer", "1e-6",
               "--params-out", str(penalized)]))  # fmt: skip
    a, b = json.loads(plain.read_text()), json.loads(penalized.read_text())
    assert "penalizer" not in a and b["penalizer"] == 0.01 and b["spend_penalizer"] == 1e-6
    # the penalty pulls the parameters towards 0
    assert b["bgnbd"]["a"] < a["bgnbd"]["a"] and b["gamma_gamma"]["v"] < a["gamma_gamma"]["v"]
    holdout = tmp_path / "holdout.json"
    ok(invoke([ORDERS, "--model", "bgnbd", "--holdout", "26w", "--penalizer", "0.01",
               "--params-out", str(holdout)]))  # fmt: skip
    assert json.loads(holdout.read_text())["penalizer"] == 0.01


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--penalizer", "0.1"], "--penalizer is for the predictive model"),
        (["--model", "bgnbd", "--penalizer", "-1"], "--penalizer -1.0: give a number ≥ 0"),
        (["--model", "bgnbd", "--penalizer", "nan"], "--penalizer nan: give a number ≥ 0"),
        (["--model", "bgnbd", "--spend-penalizer", "-2"], "--spend-penalizer -2.0: give"),
        (["--model", "bgnbd", "--holdout", "26w", "--spend-penalizer", "1"], "fits no spend"),
    ],
    ids=["not-bgnbd", "negative", "nan", "spend-negative", "spend-holdout"],
)
def test_penalizer_usage_errors(args: list[str], message: str) -> None:
    assert message in fails_cleanly(invoke([ORDERS, *args]))


def test_penalizer_with_params_in_is_refused(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    ok(invoke([ORDERS, "--model", "bgnbd", "--params-out", str(params)]))
    stderr = fails_cleanly(
        invoke([ORDERS, "--model", "bgnbd", "--params-in", str(params), "--penalizer", "0.1"])
    )
    assert "--penalizer is for fitting" in stderr


def test_bgnbd_per_customer_with_costs_still_warns_on_negative_segments() -> None:
    options = ["--by", "segment", "--per-customer", "--format", "csv"]
    result = invoke([ORDERS, "--model", "bgnbd", "--customers", CUSTOMERS, *options])
    table = rows(result)
    assert {"customer_id", "clv", "clv_net"} <= set(table[0])
    assert "negative for segment=small_business" in result.stderr
