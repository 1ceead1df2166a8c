"""`retcalc explain`: every printed metric is defined, and each formula reproduces its value."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc import explain as defs
from retcalc.cli.app import app
from retcalc.metrics import clv, rfm
from retcalc.metrics.churn import CHURN_COLUMNS, churn_table
from retcalc.metrics.clv import formula, historical
from retcalc.metrics.clv import summary as clv_summary
from retcalc.metrics.clv.holdout import HOLDOUT_COLUMNS
from retcalc.metrics.common import Params, prepare_activity
from retcalc.metrics.kpis import KPI_COLUMNS
from retcalc.metrics.retention import RETENTION_COLUMNS, retention_table
from retcalc.metrics.returns import RETURNS_COLUMNS
from retcalc.periods import Period
from tests.reference.duckdb_ref import load_sample_orders

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "orders.csv"
SKIP = {"period_start", "period_end", "orders", "orders_returned", "units_sold"}
SKIP |= {"units_returned", "gross_sales", "refunded"}


@pytest.mark.parametrize(
    "columns",
    [RETENTION_COLUMNS, CHURN_COLUMNS, RETURNS_COLUMNS],
    ids=["retention", "churn", "returns"],
)
def test_every_metric_column_has_a_definition(columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in SKIP and c not in defs.METRICS]
    assert missing == []


def evaluate(formula: str, row: dict) -> float:
    expression = re.sub(r"\{([a-z_]+)\}", lambda m: repr(float(row[m.group(1)])), formula)
    return float(eval(expression))  # the formula text is ours, the numbers are floats


@pytest.mark.parametrize("period", ["month", "quarter"])
def test_formulas_reproduce_the_printed_values(period: str) -> None:
    orders = load_sample_orders(SAMPLE).with_columns(pl.col("order_date").dt.date().alias("day"))
    prep = prepare_activity(orders.lazy(), Params(period=Period(period)))
    checked = 0
    for table in (retention_table(prep), churn_table(prep)):
        for row in table.iter_rows(named=True):
            for name in table.columns:
                metric = defs.METRICS.get(name)
                if metric is None or metric.formula is None or row[name] is None:
                    continue
                if any(field not in row for field in defs.fields(metric)):
                    continue
                assert evaluate(metric.formula, row) == pytest.approx(row[name], rel=1e-9), name
                checked += 1
    assert checked > 50


def test_definition_only() -> None:
    result = CliRunner().invoke(app, ["explain", "crr"])
    assert result.exit_code == 0
    assert "(customers_end - new_customers) / customers_start" in result.stdout


def test_filled_with_the_users_numbers() -> None:
    result = CliRunner().invoke(
        app, ["explain", "crr", str(SAMPLE), "--period-start", "2025-02-10"]
    )
    assert result.exit_code == 0, result.output
    table = CliRunner().invoke(
        app,
        [
            "retention",
            str(SAMPLE),
            "--start",
            "2025-02-01",
            "--end",
            "2025-02-28",
            "--format",
            "csv",
        ],
    )
    row = table.stdout.splitlines()[1].split(",")
    header = table.stdout.splitlines()[0].split(",")
    values = dict(zip(header, row, strict=True))
    cs, cn, ce = (int(values[k]) for k in ("customers_start", "new_customers", "customers_end"))
    assert f"crr = ({ce:,} - {cn:,}) / {cs:,} = {(ce - cn) / cs:.4f}" in result.stdout
    assert "For the period 2025-02-01 to 2025-03-01" in result.stdout


def test_unknown_metric_suggests_close_names() -> None:
    result = CliRunner().invoke(app, ["explain", "crx"])
    assert result.exit_code == 2
    assert "crr" in result.stderr


def test_period_start_outside_the_data() -> None:
    result = CliRunner().invoke(
        app, ["explain", "crr", str(SAMPLE), "--period-start", "1999-01-01"]
    )
    assert result.exit_code == 2
    assert "outside" in result.stderr


def test_listing_every_metric() -> None:
    result = CliRunner().invoke(app, ["explain"])
    assert result.exit_code == 0
    assert all(name in result.stdout for name in ("crr", "nrr", "unit_return_rate"))


# --- clv (every model) and rfm: every column they print is defined (issue 26, item 10)

CLV_AND_RFM = {
    "clv historical": (*historical.CUSTOMER_COLUMNS, *historical.SUMMARY_COLUMNS),
    "clv formula": (*formula.FORMULA_COLUMNS, *formula.COST_COLUMNS),
    "clv bgnbd": (
        *clv_summary.SUMMARY_COLUMNS,
        *clv.SCORE_COLUMNS,
        *clv.COST_COLUMNS,
        *clv.GROUP_COLUMNS,
        *clv.GROUP_COST_COLUMNS,
    ),
    "clv --holdout": HOLDOUT_COLUMNS,
    "rfm": (*rfm.CUSTOMER_COLUMNS, *rfm.SUMMARY_COLUMNS),
    "kpis": (*KPI_COLUMNS, "range_start", "range_end"),
}


@pytest.mark.parametrize("columns", list(CLV_AND_RFM.values()), ids=list(CLV_AND_RFM))
def test_every_clv_rfm_and_kpi_column_has_a_definition(columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c != "customer_id" and c not in defs.METRICS]
    assert missing == []


@pytest.mark.parametrize(
    "args",
    [["clv"], ["clv", "-m", "formula"], ["clv", "-m", "bgnbd", "--holdout", "26w"]],
    ids=["historical", "formula", "holdout"],
)
def test_clv_formulas_reproduce_the_printed_values(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, str(SAMPLE), "--format", "json"])
    assert result.exit_code == 0, result.output
    checked = 0
    for row in json.loads(result.stdout):
        for name, value in row.items():
            metric = defs.METRICS.get(name)
            if metric is None or metric.formula is None or value is None:
                continue
            assert evaluate(metric.formula, row) == pytest.approx(value, rel=1e-9), name
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    ("name", "commands", "words"),
    [
        (
            "p_alive",
            "`retcalc clv`, `retcalc customers`",
            "probability that the customer is still active",
        ),
        (
            "clv",
            "`retcalc clv`, `retcalc calc`, `retcalc customers`",
            "aov x purchases_per_year x margin x discounted_lifetime",
        ),
        ("r_score", "`retcalc rfm`", "recency quintile, 1-5"),
        ("segment", "`retcalc rfm`", "Champions"),
        ("frequency", "`retcalc rfm`, `retcalc clv`", "purchase days - 1"),
    ],
)
def test_clv_and_rfm_definitions(name: str, commands: str, words: str) -> None:
    result = CliRunner().invoke(app, ["explain", name])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{name} (printed by {commands})\n")
    assert words in result.stdout


def test_clv_and_rfm_with_data_give_the_definition_and_say_so() -> None:
    result = CliRunner().invoke(app, ["explain", "m_score", str(SAMPLE)])
    assert result.exit_code == 0
    assert "monetary quintile" in result.stdout
    assert "(definition only here)" in result.stdout
    assert f"Run `retcalc rfm {SAMPLE}`" in result.stdout
