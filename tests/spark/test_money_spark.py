"""``--engine spark`` sums money as exactly as the Polars engine beyond 64 bits (its
partial sums travel as decimal(38, 0) micros), and refuses the same too-large amount."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.engines.spark.load import SAMPLE_ROWS
from tests.cli.test_money_exact import big15
from tests.spark.conftest import needs_spark

# One worker runs every Spark test under pytest-xdist: one JVM, started once.
pytestmark = pytest.mark.xdist_group("spark")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@needs_spark
def test_money_beyond_64_bits_on_spark(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(big15(returned=True))
    for args in (
        ("kpis", str(path), "--period", "month"),
        ("churn", str(path)),
        ("rfm", str(path), "--per-customer"),
        ("clv", str(path)),
        ("returns", str(path)),
    ):
        ours = run(*args, "-f", "json")
        theirs = run(*args, "-f", "json", "--engine", "spark")
        assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
        assert json.loads(theirs.stdout) == json.loads(ours.stdout)
    path.write_text(big15())
    args = ("kpis", str(path), "--period", "month", "-f", "json", "--engine", "spark")
    jan = json.loads(run(*args).stdout)[0]
    assert jan["revenue"] == 10**15


@needs_spark
def test_too_large_an_amount_is_refused_on_spark(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_date,amount\na,2024-01-05,10\nb,2024-01-06,1e16\n")
    result = run("kpis", str(path), "-f", "json", "--engine", "spark")
    assert result.exit_code == 2
    # In the driver's first rows: the row is named.
    assert "column 'amount' (amount), line 3: '1e16' is more than the 9,007,199," in result.stderr
    # Past them: the executors find it, and the message gives the amount.
    lines = [f"c{i},2024-01-05,10" for i in range(SAMPLE_ROWS)]
    path.write_text("customer_id,order_date,amount\n" + "\n".join([*lines, "z,2024-01-06,-2e16"]))
    result = run("kpis", str(path), "-f", "json", "--engine", "spark")
    assert result.exit_code == 2
    assert "(amount): an amount of 20,000,000,000,000,000 is more than the" in result.stderr
