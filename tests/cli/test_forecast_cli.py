"""``retcalc forecast`` end to end on tiny shops whose survivors are counted by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.metrics import sbg

# Subscription basis, months. The orders end on Apr 30, so May 1 is the last observed
# boundary. Jan cohort a, b, c, d: c cancels within January; at Feb 1: a, b, d; Mar 1:
# a, d (b cancelled Feb 15); Apr 1: a (d cancelled Mar 10); May 1: a.
# Feb cohort e, f: Mar 1 and Apr 1 both (f cancels Apr 2); May 1: e. Mar cohort g: 1, 1.
CUSTOMERS = """\
customer_id,signup_date,churn_date
a,2024-01-05,
b,2024-01-10,2024-02-15
c,2024-01-20,2024-01-25
d,2024-01-28,2024-03-10
e,2024-02-03,
f,2024-02-14,2024-04-02
g,2024-03-05,
"""
SUB_ORDERS = """\
customer_id,order_date,amount
a,2024-01-05,10
e,2024-02-03,10
g,2024-03-05,10
a,2024-04-30,10
"""
SUB_SURVIVORS = {"2024-01-01": [4, 3, 2, 1, 1], "2024-02-01": [2, 2, 2, 1], "2024-03-01": [1, 1, 1]}

# Activity basis, months, --active-window 1mo: active at a boundary = ordered in the month
# before it. The data ends Apr 10, so Apr 1 is the last observed boundary.
# Jan cohort x, y: at Feb 1 both; Mar 1: x (y skipped February); Apr 1: x. y orders again
# in March: a reactivation, still lost. Feb cohort z (one customer): Mar 1 yes, Apr 1 no.
# w's cohort (April) is not complete: left out.
ACT_ORDERS = """\
customer_id,order_date
x,2024-01-10
y,2024-01-15
x,2024-02-05
z,2024-02-10
y,2024-03-01
x,2024-03-20
w,2024-04-05
x,2024-04-10
"""
ACT_SURVIVORS = {"2024-01-01": [2, 2, 1, 1], "2024-02-01": [1, 1, 0]}

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, ["forecast", *args], env={"COLUMNS": "200"})


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, str]:
    files = {"customers": CUSTOMERS, "sub": SUB_ORDERS, "act": ACT_ORDERS}
    out = {}
    for name, text in files.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        out[name] = str(path)
    return out


def rows_of(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


def by_cohort(rows: list[dict[str, object]]) -> dict[object, list[dict[str, object]]]:
    out: dict[object, list[dict[str, object]]] = {}
    for row in rows:
        out.setdefault(row["cohort"], []).append(row)
    return out


def survival(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    return sbg.survival(alpha, beta, np.maximum(t, 0))


def test_subscription_survivors_rates_and_forecasts(shop: dict[str, str], tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    result = invoke(
        shop["sub"], "--customers", shop["customers"], "--horizon", "2",
        "--format", "json", "--params-out", str(params),
    )  # fmt: skip
    cohorts = by_cohort(rows_of(result))
    assert set(cohorts) == {*SUB_SURVIVORS, None}
    document = json.loads(params.read_text())
    used = {c["cohort"]: c for c in document["cohorts"]}
    for cohort, survivors in SUB_SURVIVORS.items():
        rows = cohorts[cohort]
        # Offsets 0..K_max + horizon = 0..6 for every cohort.
        assert [r["offset"] for r in rows] == list(range(7))
        observed = [r["survivors"] for r in rows if r["observed"]]
        assert observed == survivors
        assert all(r["survivors"] is None for r in rows if not r["observed"])
        assert all(r["cohort_size"] == survivors[0] for r in rows)
        for k in range(1, len(survivors)):
            assert rows[k]["retention_rate"] == pytest.approx(survivors[k] / survivors[k - 1])
            assert rows[k]["survival_rate"] == pytest.approx(survivors[k] / survivors[0])
        # The forecasts follow from the parameters written to --params-out.
        alpha, beta = used[cohort]["alpha"], used[cohort]["beta"]
        assert rows[0]["fit"] == used[cohort]["fit"]
        last = len(survivors) - 1
        s = survival(alpha, beta, np.arange(7))
        for k, row in enumerate(rows):
            want = survivors[0] * s[k] if k <= last else survivors[last] * s[k] / s[last]
            assert row["survivors_forecast"] == pytest.approx(want, rel=1e-9)
            if k:
                assert row["retention_rate_forecast"] == pytest.approx(s[k] / s[k - 1], rel=1e-9)
    # The pooled fit is the fit of the three series together.
    expected = sbg.fit(sbg.Counts.from_survivors(list(SUB_SURVIVORS.values())))
    (pooled,) = document["pooled"]
    assert pooled["alpha"] == pytest.approx(expected.alpha, rel=1e-6)
    assert pooled["beta"] == pytest.approx(expected.beta, rel=1e-6)
    assert pooled["n"] == 7
    # Pooled observed retention: (3 + 2 + 1) / (4 + 2 + 1), (2 + 2 + 1) / (3 + 2 + 1), 2 / 4, 1.
    pooled_rows = cohorts[None]
    assert [r["retention_rate"] for r in pooled_rows[1:5]] == pytest.approx(
        [6 / 7, 5 / 6, 2 / 4, 1.0]
    )
    s = survival(pooled["alpha"], pooled["beta"], np.arange(7))
    assert [r["survival_rate_forecast"] for r in pooled_rows] == pytest.approx(list(s))
    # g's cohort lost nobody: it cannot be fitted alone.
    assert used["2024-03-01"]["fit"] == "pooled"
    assert "2024-03-01" in result.stderr


def test_activity_basis_lost_from_the_first_lapse(shop: dict[str, str]) -> None:
    result = invoke(shop["act"], "--active-window", "1mo", "--horizon", "1", "--format", "json")
    cohorts = by_cohort(rows_of(result))
    assert set(cohorts) == {*ACT_SURVIVORS, None}
    for cohort, survivors in ACT_SURVIVORS.items():
        assert [r["survivors"] for r in cohorts[cohort] if r["observed"]] == survivors
    # The model's clock starts one month in (a month's window keeps everyone active at
    # the end of their first month): offset 1's forecast retention is 100 %.
    assert cohorts["2024-01-01"][1]["retention_rate_forecast"] == pytest.approx(1.0)
    # y's return in March is a reactivation, not a survivor again; w's April is incomplete;
    # z's cohort of one is forecast with the pooled parameters.
    err = " ".join(result.stderr.split())
    assert "1 customers of the fitted cohorts lapsed and came back" in err
    assert "left out" in err and "2024-04-01" in err
    assert "pooled parameters" in err and "2024-02-01" in err
    assert {r["fit"] for r in cohorts["2024-02-01"]} == {"pooled"}


def test_intervals_hold_the_estimate_and_repeat_from_the_seed(shop: dict[str, str]) -> None:
    args = [shop["sub"], "--customers", shop["customers"], "--horizon", "3", "--format", "json"]
    first = rows_of(invoke(*args, "--ci", "0.9", "--ci-resamples", "50", "--seed", "3"))
    again = rows_of(invoke(*args, "--ci", "0.9", "--ci-resamples", "50", "--seed", "3"))
    other = rows_of(invoke(*args, "--ci", "0.9", "--ci-resamples", "50", "--seed", "4"))
    assert first == again
    assert first != other
    for row in first:
        for name in ("survivors_forecast", "retention_rate_forecast", "survival_rate_forecast"):
            value, lo, hi = row[name], row[f"{name}_lo"], row[f"{name}_hi"]
            if value is None:
                assert lo is None and hi is None
                continue
            assert lo is not None and hi is not None
            assert lo <= hi
    result = invoke(*args, "--ci", "0.9", "--ci-resamples", "50", "--seed", "3")
    assert "parametric bootstrap, 50 resamples, seed 3" in " ".join(result.stderr.split())
    plain = rows_of(invoke(*args))
    assert "survivors_forecast_lo" not in plain[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizon", "0"], "--horizon"),
        (["--horizon", "-3"], "--horizon"),
        (["--horizon", "2", "--ci", "1.5"], "--ci"),
        (["--horizon", "2", "--active-window", "all"], "bounded --active-window"),
    ],
    ids=["horizon-0", "horizon-negative", "ci-out-of-range", "window-all"],
)
def test_bad_options_exit_2(shop: dict[str, str], args: list[str], message: str) -> None:
    result = invoke(shop["act"], *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_no_complete_period_exits_2(tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text("customer_id,order_date\na,2024-01-05\nb,2024-01-20\n")
    result = invoke(str(orders), "--horizon", "3")
    assert result.exit_code == 2
    assert "no cohort has a complete period" in result.stderr


def test_nobody_lost_exits_2(tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(
        "customer_id,order_date\na,2024-01-05\na,2024-02-05\na,2024-03-05\na,2024-04-05\n"
    )
    result = invoke(str(orders), "--horizon", "3", "--active-window", "1mo")
    assert result.exit_code == 2
    assert "no customer was lost" in result.stderr


def test_params_out_refuses_an_input_file(shop: dict[str, str]) -> None:
    result = invoke(shop["act"], "-w", "1mo", "--horizon", "1", "--params-out", shop["act"])
    assert result.exit_code == 2
    assert "refusing to overwrite input file" in result.stderr
