"""``rfm --engine spark`` on the executors (SPEC §8): the segment summary is the Polars
engine's, byte for byte, and what reached the driver is the added partials of the three
passes (histogram, refinement, segment sums), not a row per customer."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

import retcalc
from retcalc.api import metric_params
from retcalc.cli.app import app
from retcalc.errors import RetcalcWarning
from retcalc.metrics.rfm import (
    crossings,
    customer_values,
    reference_day,
    refinement,
    segment_partials,
    value_histogram,
)
from retcalc.metrics.rfm import cuts_of as found_cuts
from tests.spark.conftest import needs_spark
from tests.spark.generated import shop

pytestmark = pytest.mark.xdist_group("spark")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shop(tmp_path_factory.mktemp("shop"), customers=400) / "orders_messy.csv"


def cells(orders: Path, by: tuple[str, ...], ranges: dict[str, str]) -> tuple[int, int]:
    """The rows of the three passes' added partials, computed on Polars over every
    customer at once, and the number of customers."""
    with warnings.catch_warnings():  # the messy rows, said on stderr by the commands
        warnings.simplefilter("ignore", RetcalcWarning)
        read = retcalc.read_orders(orders, by=list(by))
    params = metric_params(by=by, shows=(), command="rfm", **ranges)
    rows = read.rows()
    values = customer_values(rows, params, reference_day(rows, params)).collect().lazy()
    histogram = value_histogram(values, by).collect()
    crossing = crossings(histogram.lazy(), by)
    refined = refinement(values, by, crossing).collect()
    sums = segment_partials(values, by, found_cuts(crossing, refined.lazy(), by)).collect()
    return histogram.height + refined.height + sums.height, values.collect().height


@needs_spark
@pytest.mark.parametrize(
    ("by", "ranges"),
    [
        ((), {}),
        (("channel",), {}),
        (("channel",), {"start": "2022-09-01", "as_of": "2024-01-01"}),
        ((), {"end": "2023-12-31"}),
    ],
    ids=["whole", "by", "start-as-of", "end"],
)
def test_rfm_runs_on_the_executors(
    spark: Any, messy: Path, by: tuple[str, ...], ranges: dict[str, str]
) -> None:
    from retcalc.engines.spark import partials

    args = ["rfm", str(messy), "--format", "csv"]
    for key in by:
        args += ["--by", key]
    for name, value in ranges.items():
        args += [f"--{name.replace('_', '-')}", value]
    partials.collected.update(rows=0, bytes=0)
    ours, theirs = run(*args), run(*args, "--engine", "spark")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    expected, customers = cells(messy, by, ranges)
    assert partials.collected["rows"] == expected
    assert pl.read_csv(ours.stdout.encode())["customers"].sum() == customers > 0


@needs_spark
def test_per_customer_and_nothing_to_score_as_on_polars(spark: Any, messy: Path) -> None:
    """--per-customer without a Parquet output collects the rows; an as-of before every
    purchase is refused alike."""
    from retcalc.engines.spark import partials

    for extra in (("--per-customer", "--by", "channel"), ("--as-of", "2020-01-01")):
        args = ("rfm", str(messy), "--format", "csv", *extra)
        partials.collected.update(rows=0, bytes=0)
        ours, theirs = run(*args), run(*args, "--engine", "spark")
        assert ours.exit_code == theirs.exit_code, theirs.stderr
        assert ours.stdout == theirs.stdout
        if ours.exit_code:
            assert "nothing to score" in theirs.stderr
            assert ours.stderr.splitlines()[-1] == theirs.stderr.splitlines()[-1]
