"""The Python API (SPEC §7): every function on a Polars, a pandas and a PyArrow frame
gives the table the command line prints (its JSON), and the API's own contract:
keyword-only parameters named as the options, RetcalcError subclasses, warnings."""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import retcalc
from retcalc.render.text import write_json
from tests.cli.test_cli_contract import invoke, ok

SAMPLE = Path(__file__).parents[2] / "sample_data"
ORDERS = SAMPLE / "orders.csv"
CUSTOMERS = SAMPLE / "customers.csv"

# The sample as a plain frame: the columns as exported, read by Polars with no help.
RAW = pl.read_csv(ORDERS, infer_schema_length=0)


def frames() -> dict[str, Any]:
    return {"polars": RAW, "pandas": RAW.to_pandas(), "arrow": RAW.to_arrow()}


def as_cli_json(table: pl.DataFrame) -> list[dict[str, Any]]:
    """``table`` rendered as the command line renders ``-f json``."""
    sink = io.BytesIO()
    write_json(table, sink)
    return json.loads(sink.getvalue())


def cli(*args: str) -> list[dict[str, Any]]:
    return json.loads(ok(invoke([*args, "-f", "json"])).stdout)


# Each case: the API call on a frame, and the same on the command line.
CASES: dict[str, tuple[Callable[[Any], pl.DataFrame], list[str]]] = {
    "retention": (
        lambda o: retcalc.retention(o, period="quarter"),
        ["retention", str(ORDERS), "--period", "quarter"],
    ),
    "retention-by": (
        lambda o: retcalc.retention(o, by="channel", window="6mo", start="2023-04-01"),
        [
            "retention",
            str(ORDERS),
            "--by",
            "channel",
            "--active-window",
            "6mo",
            "--start",
            "2023-04-01",
        ],
    ),
    "churn": (
        lambda o: retcalc.churn(o, as_of=dt.date(2024, 7, 1)),
        ["churn", str(ORDERS), "--as-of", "2024-07-01"],
    ),
    "cohorts": (
        lambda o: retcalc.cohorts(o, period="quarter", mode="on-or-after"),
        ["cohorts", str(ORDERS), "--period", "quarter", "--mode", "on-or-after"],
    ),
    "kpis": (lambda o: retcalc.kpis(o), ["kpis", str(ORDERS)]),
    "kpis-period": (
        lambda o: retcalc.kpis(o, period="quarter", by="channel", by_sequence=True),
        ["kpis", str(ORDERS), "--period", "quarter", "--by", "channel", "--by-sequence"],
    ),
    "rfm": (lambda o: retcalc.rfm(o), ["rfm", str(ORDERS)]),
    "rfm-per-customer": (
        lambda o: retcalc.rfm(o, per_customer=True, as_of="2024-06-01"),
        ["rfm", str(ORDERS), "--per-customer", "--as-of", "2024-06-01"],
    ),
    "returns": (lambda o: retcalc.returns(o), ["returns", str(ORDERS)]),
    "returns-top": (
        lambda o: retcalc.returns(o, top=5, min_units=1),
        ["returns", str(ORDERS), "--top", "5", "--min-units", "1"],
    ),
    "clv": (lambda o: retcalc.clv_historical(o), ["clv", str(ORDERS)]),
    "clv-per-customer": (
        lambda o: retcalc.clv_historical(o, per_customer=True),
        ["clv", str(ORDERS), "--per-customer"],
    ),
    "clv-formula": (
        lambda o: retcalc.clv_formula(o, margin=0.3),
        ["clv", str(ORDERS), "--model", "formula", "--margin", "0.3"],
    ),
    "clv-bgnbd": (
        lambda o: retcalc.clv_bgnbd(o, horizon="6mo"),
        ["clv", str(ORDERS), "--model", "bgnbd", "--horizon", "6mo"],
    ),
}


@pytest.mark.parametrize("kind", ["polars", "pandas", "arrow"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_function_on_every_frame_kind_matches_the_cli(case: str, kind: str) -> None:
    call, args = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = call(frames()[kind])
    assert isinstance(table, pl.DataFrame)
    assert as_cli_json(table) == cli(*args)


def test_subscription_basis_with_customers_matches_the_cli() -> None:
    customers = retcalc.read_customers(CUSTOMERS)
    table = retcalc.retention(ORDERS, customers=customers, period="quarter")
    args = ["retention", str(ORDERS), "--customers", str(CUSTOMERS), "--period", "quarter"]
    assert as_cli_json(table) == cli(*args)
    formula = retcalc.clv_formula(ORDERS, customers=pl.read_csv(CUSTOMERS))
    args = ["clv", str(ORDERS), "--customers", str(CUSTOMERS), "--model", "formula"]
    assert as_cli_json(formula) == cli(*args)


def test_read_orders_once_then_several_metrics() -> None:
    orders = retcalc.read_orders(ORDERS, by="channel")
    assert isinstance(orders, retcalc.Orders)
    assert {"customer_id", "day", "amount", "channel"} <= set(orders.frame.columns)
    first = retcalc.retention(orders, by="channel")
    assert first.equals(retcalc.retention(ORDERS, by="channel"))
    assert retcalc.churn(orders).height > 0
    # The rows are still there for the next call.
    assert orders.frame.height == RAW.height


def test_a_by_column_not_read_is_named() -> None:
    orders = retcalc.read_orders(ORDERS)
    with pytest.raises(retcalc.InputError, match=r"by channel: no such column .* read_orders"):
        retcalc.retention(orders, by="channel")


def test_hand_computed_retention_on_a_small_frame() -> None:
    # a: Jan and Feb; b: Jan only; c: Feb. Monthly periods, 12-month window.
    orders = pl.DataFrame(
        {
            "customer_id": ["a", "b", "a", "c"],
            "order_date": ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10"],
            "amount": [10.0, 20.0, 15.0, 5.0],
        }
    )
    jan, feb = retcalc.retention(orders).iter_rows(named=True)
    assert (jan["customers_start"], jan["new_customers"], jan["customers_end"]) == (0, 2, 2)
    assert (feb["customers_start"], feb["new_customers"], feb["customers_end"]) == (2, 1, 3)
    assert feb["crr"] == 1.0  # (3 - 1) / 2
    assert feb["repeat_rate"] == 0.5  # a bought again of the 2 at the start
    jan_kpis = retcalc.kpis(orders, period="month").row(0, named=True)
    assert (jan_kpis["orders"], jan_kpis["revenue"], jan_kpis["aov"]) == (2, 30.0, 15.0)


def test_columns_are_mapped_as_on_the_command_line() -> None:
    shop = pl.DataFrame(
        {"Email": ["A@x.com", "a@x.com"], "Created at": ["2024-01-05", "2024-02-05"],
         "Total": ["1,234.50", "10"]}
    )  # fmt: skip
    orders = retcalc.read_orders(
        shop, columns={"customer_id": "Email", "order_date": "Created at", "amount": "Total"}
    )
    assert orders.frame["customer_id"].to_list() == ["a@x.com", "a@x.com"]  # case-folded
    assert orders.frame["amount"].to_list() == [1234.5, 10.0]


def test_warnings_are_retcalc_warnings_and_errors_retcalc_errors() -> None:
    guests = pl.DataFrame(
        {"customer_id": ["a", "guest"], "order_date": ["2024-01-05", "2024-01-06"],
         "amount": [1.0, 2.0]}
    )  # fmt: skip
    with pytest.warns(retcalc.RetcalcWarning, match="no customer id"):
        retcalc.read_orders(guests)
    with pytest.raises(retcalc.UsageError, match="--period 'fortnight'"):
        retcalc.retention(guests, period="fortnight")
    with pytest.raises(retcalc.InputError, match="no customer_id column"):
        retcalc.retention(pl.DataFrame({"x": [1]}))
    with pytest.raises(retcalc.UsageError, match="cannot read a list"):
        retcalc.retention([1, 2])  # type: ignore[arg-type]
    assert issubclass(retcalc.InputError, retcalc.RetcalcError)


PUBLIC = [
    "retention", "churn", "cohorts", "kpis", "rfm", "returns",
    "clv_historical", "clv_formula", "clv_bgnbd",
]  # fmt: skip


@pytest.mark.parametrize("name", PUBLIC)
def test_parameters_are_keyword_only_and_named_as_the_options(name: str) -> None:
    signature = inspect.signature(getattr(retcalc, name))
    params = list(signature.parameters.values())
    assert params[0].name == "orders"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
    names = {p.name for p in params}
    assert {"as_of", "by"} <= names
    assert getattr(retcalc, name).__doc__


def test_crr_is_the_formula() -> None:
    assert retcalc.crr(start=200, new=40, end=180).row(0) == (200, 40, 180, 0.7)


def test_import_retcalc_is_cheap() -> None:
    code = "import sys, retcalc; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_docstring_examples_run() -> None:
    import doctest

    import retcalc.api

    failures, tried = doctest.testmod(retcalc.api, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 3
    assert failures == 0


@pytest.mark.parametrize("case", ["retention", "churn", "kpis", "rfm", "clv"])
def test_typed_columns_read_as_their_text(case: str) -> None:
    # Dates as datetimes, amounts as floats, quantities as integers: the same figures.
    typed = pl.read_csv(ORDERS, try_parse_dates=True)
    assert typed.schema["order_date"] == pl.Datetime("us")
    call, args = CASES[case]
    assert as_cli_json(call(typed)) == cli(*args)
    assert as_cli_json(call(typed.to_pandas())) == cli(*args)


def test_a_customers_column_groups_the_orders_as_on_the_command_line() -> None:
    # segment is a column of the customers file only.
    table = retcalc.retention(ORDERS, customers=CUSTOMERS, by="segment", basis="activity")
    args = ["retention", str(ORDERS), "--customers", str(CUSTOMERS), "--by", "segment",
            "--basis", "activity"]  # fmt: skip
    assert as_cli_json(table) == cli(*args)
    assert set(table["segment"]) == set(pl.read_csv(CUSTOMERS)["segment"])
    with pytest.raises(retcalc.InputError, match="--by region: no such column"):
        retcalc.churn(ORDERS, customers=CUSTOMERS, by="region")


def test_messages_name_the_input_columns_never_retcalc_own() -> None:
    no_money = retcalc.read_orders(
        pl.DataFrame({"customer_id": ["a"], "order_date": ["2024-01-05"], "sku": ["x"]})
    )
    with pytest.raises(retcalc.InputError) as caught:
        retcalc.churn(no_money)
    message = caught.value.message
    assert "no amount column found; columns are: customer_id, order_date, sku." in message
    with pytest.raises(retcalc.InputError) as caught:
        retcalc.retention(no_money, by="channel")
    assert "columns are: customer_id, day" in caught.value.message
    assert "_retcalc_row" not in caught.value.message
