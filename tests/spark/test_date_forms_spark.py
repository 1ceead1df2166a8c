"""The new date forms on ``--engine spark``: the driver picks the form from a sample and the
executors read every row with the same expressions, so the output is the Polars engine's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from tests.cli.test_date_forms_cli import CUSTOMERS, EPOCHS, FORMS, MONTHS, months, write
from tests.spark.conftest import needs_spark

pytestmark = pytest.mark.xdist_group("spark")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@needs_spark
@pytest.mark.parametrize(
    ("form", "flags"),
    [
        ("epoch-milliseconds", ()),
        ("epoch-seconds", ("--tz", "Asia/Tokyo")),
        ("mon-d-yyyy-12-hour", ()),
    ],
)
def test_same_months_on_spark(
    spark: Any, tmp_path: Path, form: str, flags: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    from retcalc.engines.spark import load

    monkeypatch.setattr(load, "SAMPLE_ROWS", 2)  # the rest is read by the executors only
    path = write(tmp_path / "orders.csv", FORMS[form])
    args = ("retention", str(path), "--period", "month", "--format", "csv", *flags)
    ours, theirs = run(*args), run(*args, "--engine", "spark")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert theirs.stdout == ours.stdout
    if not flags:
        assert months(theirs.stdout) == MONTHS


@needs_spark
def test_parquet_epochs_on_spark(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame({"customer_id": CUSTOMERS, "order_date": EPOCHS}).write_parquet(path)
    args = ("retention", str(path), "--period", "month", "--format", "csv")
    theirs = run(*args, "--engine", "spark")
    assert theirs.exit_code == 0, theirs.stderr
    assert months(theirs.stdout) == MONTHS


@needs_spark
def test_epoch_out_of_range_past_the_sample_on_spark(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retcalc.engines.spark import load

    monkeypatch.setattr(load, "SAMPLE_ROWS", 2)
    path = write(tmp_path / "orders.csv", [*FORMS["epoch-seconds"][:5], "99999999999"])
    theirs = run("retention", str(path), "--engine", "spark")
    assert theirs.exit_code == 2
    assert "'99999999999'" in theirs.stderr and "order_date" in theirs.stderr
