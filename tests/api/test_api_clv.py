"""The predictive CLV in Python (``clv_bgnbd_fit``, ``clv_bgnbd(params=)``,
``clv_holdout``): the tables, parameters and holdout check ``retcalc clv --model bgnbd``
prints and writes (``--params-out``, ``--params-in``, ``--holdout``)."""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path

import polars as pl
import pytest

import retcalc
from tests.api.test_api import CUSTOMERS, ORDERS, as_cli_json, cli


def quiet_fit(**kwargs: object) -> retcalc.BgNbdFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return retcalc.clv_bgnbd_fit(ORDERS, **kwargs)  # type: ignore[arg-type]


def test_fit_tables_and_parameters_are_those_of_the_cli(tmp_path: Path) -> None:
    written = tmp_path / "params.json"
    fit = quiet_fit(horizon="6mo", by="channel")
    base = ["clv", str(ORDERS), "--model", "bgnbd", "--horizon", "6mo", "--by", "channel"]
    assert as_cli_json(fit.groups) == cli(*base, "--params-out", str(written))
    assert as_cli_json(fit.customers) == cli(*base, "--per-customer")
    saved = json.loads(written.read_text())
    assert saved["observation_end"] == str(fit.observation_end)
    assert {k: saved[k] for k in fit.params.to_dict()} == fit.params.to_dict()
    assert fit.horizon_days == pytest.approx(365 / 2)
    assert fit.by == ("channel",)


def test_given_parameters_score_as_params_in(tmp_path: Path) -> None:
    written = tmp_path / "params.json"
    cli("clv", str(ORDERS), "--model", "bgnbd", "--time-unit", "week", "--params-out", str(written))
    given = retcalc.ModelParams.from_dict(json.loads(written.read_text()))
    table = retcalc.clv_bgnbd(ORDERS, per_customer=True, params=given, margin=0.3)
    args = ["clv", str(ORDERS), "--model", "bgnbd", "--per-customer", "--margin", "0.3"]
    assert as_cli_json(table) == cli(*args, "--params-in", str(written))
    # Given parameters are used as they are: nothing is refitted.
    assert retcalc.clv_bgnbd_fit(ORDERS, params=given).params is given


def test_costs_to_serve_net_the_value_and_missing_costs_are_said(tmp_path: Path) -> None:
    fit = quiet_fit(customers=CUSTOMERS, by="channel")
    args = ["clv", str(ORDERS), "--model", "bgnbd", "--customers", str(CUSTOMERS)]
    assert as_cli_json(fit.groups) == cli(*args, "--by", "channel")
    people = pl.read_csv(CUSTOMERS)
    # Two customers lose their cost: said, and their clv_net is empty.
    without = people.with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(None).otherwise(pl.col("cost_to_serve"))
        .alias("cost_to_serve")
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        fewer = retcalc.clv_bgnbd_fit(ORDERS, customers=without)
    assert [str(w.message) for w in said if "cost_to_serve" in str(w.message)] == [
        "2 customers have no cost_to_serve in <frame>: their clv_net is empty"
    ]
    assert fewer.customers["clv_net"].null_count() == 2
    assert fewer.groups["customers_with_cost"].item() == fit.groups["customers_with_cost"].sum() - 2


def test_by_group_over_a_joined_column_adds_up_to_the_total() -> None:
    fit = quiet_fit()
    total = fit.groups.row(0, named=True)
    # Split the customers in two by their id's last digit: counts and sums add up.
    halves = fit.customers.with_columns(
        (pl.col("customer_id").str.slice(-1).cast(pl.Int64) % 2).alias("half")
    )
    split = fit.by_group("half", customers=halves)
    assert split["half"].to_list() == [0, 1]
    assert split["customers"].sum() == total["customers"] == fit.customers.height
    assert split["repeat_customers"].sum() == total["repeat_customers"]
    assert split["clv"].sum() == pytest.approx(total["clv"], rel=1e-12)
    assert split["expected_purchases"].sum() == pytest.approx(
        total["expected_purchases"], rel=1e-12
    )
    # Without arguments: the fit's own grouping.
    assert fit.by_group().equals(fit.groups)


def test_parameters_without_the_spend_model_cannot_score() -> None:
    bg_only = retcalc.ModelParams.from_dict({"bgnbd": {"r": 1, "alpha": 2, "a": 0.5, "b": 3}})
    with pytest.raises(retcalc.UsageError, match="no Gamma-Gamma part"):
        retcalc.clv_bgnbd(ORDERS, params=bg_only)
    # The holdout check needs only BG/NBD.
    check = retcalc.clv_holdout(ORDERS, holdout="26w", params=bg_only)
    assert check.params is bg_only


def test_holdout_is_the_cli_check(tmp_path: Path) -> None:
    written = tmp_path / "params.json"
    check = retcalc.clv_holdout(ORDERS, holdout="26w", time_unit="week")
    args = ["clv", str(ORDERS), "--model", "bgnbd", "--holdout", "26w", "--time-unit", "week"]
    assert as_cli_json(check.table) == cli(*args, "--params-out", str(written))
    saved = json.loads(written.read_text())
    assert saved["bgnbd"] == check.params.to_dict()["bgnbd"]
    # The holdout is the last 26 weeks before the data's end (exclusive).
    assert (check.end - check.calibration_end).days == 26 * 7
    total = check.table.row(-1, named=True)
    assert total["frequency"] == "total"
    assert total["customers"] == check.table["customers"][:-1].sum()
    with pytest.raises(retcalc.UsageError, match="leaves no calibration period"):
        retcalc.clv_holdout(ORDERS, holdout="10y")


@pytest.mark.parametrize("name", ["clv_bgnbd_fit", "clv_holdout"])
def test_new_functions_are_keyword_only_and_documented(name: str) -> None:
    function = getattr(retcalc, name)
    params = list(inspect.signature(function).parameters.values())
    assert params[0].name == "orders"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
    assert {"as_of", "time_unit", "params"} <= {p.name for p in params}
    assert function.__doc__
