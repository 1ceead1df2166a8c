"""kpis --engine spark on the executors (SPEC §8): the output is the Polars engine's, and
the driver receives one row per range plus the ranges' histograms of day gaps, however
many customers; what needs every customer's rows (NPS, aov's bootstrap) collects them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from tests.spark.conftest import needs_spark
from tests.spark.generated import shop

pytestmark = pytest.mark.xdist_group("spark")

#: The most days a range of each period holds (a gap inside it is shorter).
LONGEST = {"day": 1, "week": 7, "month": 31, "quarter": 92}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def messy_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shop(tmp_path_factory.mktemp("shop"), customers=300, seed=13)


@needs_spark
@pytest.mark.parametrize(
    "args",
    [
        ("-p", "month", "--by", "channel", "--by-sequence"),
        ("-p", "week", "-w", "90d", "--as-of", "2024-03-01"),
        ("-p", "quarter", "--start", "2022-06-01", "--loyal-orders", "2"),
        ("-p", "day", "-w", "30d", "--convention", "baremetrics"),
        ("--by", "channel", "--by-sequence", "--loyal-orders", "3"),
        ("--start", "2023-01-01", "--end", "2023-12-31", "-w", "90d"),
    ],
    ids=["month-by-sequence", "week-as-of", "quarter-start", "day", "range-by", "range-year"],
)
def test_kpis_run_on_the_executors(spark: Any, messy_shop: Path, args: tuple[str, ...]) -> None:
    from retcalc.engines.spark import partials

    orders = str(messy_shop / "orders_messy.csv")
    partials.collected.update(rows=0, bytes=0)
    ours = run("kpis", orders, *args, "--format", "csv")
    theirs = run("kpis", orders, *args, "--format", "csv", "--engine", "spark")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    ranges = ours.stdout.count("\n") - 1
    # One row per range, and per range one per gap length (and rank with --by-sequence).
    received = partials.collected["rows"]
    if "-p" in args:
        longest = LONGEST[args[args.index("-p") + 1]]
    else:  # one range: from --start to --end, or the whole history
        longest = 365 if "--end" in args else 900
    ranks = 5 if "--by-sequence" in args else 1
    assert ranges <= received <= ranges * (1 + ranks * longest)
    if longest > 1:  # two purchase days never fall in one day: no gap per day
        assert received > ranges


@needs_spark
@pytest.mark.parametrize(
    "extra",
    [("--nps", "NPS"), ("--ci", "0.9", "--ci-resamples", "30")],
    ids=["nps", "ci-bootstrap"],
)
def test_what_needs_every_customer_collects_the_rows(
    spark: Any, messy_shop: Path, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    from retcalc.engines.spark import partials

    if "NPS" in extra:
        responses = tmp_path / "nps.csv"
        responses.write_text("customer_id,date,score\nC00001,2023-05-02,9\nC00002,2023-06-01,3\n")
        extra = ("--nps", str(responses))
    orders = str(messy_shop / "orders_messy.csv")
    partials.collected.update(rows=0, bytes=0)
    args = ("kpis", orders, "-p", "quarter", *extra, "--format", "csv")
    ours, theirs = run(*args), run(*args, "--engine", "spark")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    assert partials.collected["rows"] == 0  # not through the executors' partials


@needs_spark
def test_a_file_rewritten_is_read_again(spark: Any, tmp_path: Path) -> None:
    """The rows left on Spark are cached: a second read of the same path in the session
    sees the file as it is then."""
    path = tmp_path / "orders.csv"
    for amount in ("10", "25"):
        path.write_text(f"customer_id,order_date,amount\na,2024-01-05,{amount}\n")
        args = ("kpis", str(path), "-f", "json")
        ours, theirs = run(*args), run(*args, "--engine", "spark")
        assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
        assert theirs.stdout == ours.stdout
        assert json.loads(theirs.stdout)[0]["revenue"] == float(amount)
