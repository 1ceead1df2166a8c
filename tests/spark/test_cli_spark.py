"""``--engine spark`` end to end: the six commands print what the Polars engine prints;
errors and exit codes are the same; stderr says where the work ran."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

import retcalc
from retcalc.cli.app import app
from retcalc.errors import RetcalcWarning
from tests.api.test_empty_group import HEADER, ROWS
from tests.cli.test_cli_contract import SHOPIFY, UCI
from tests.spark.compare import assert_same_table, csv_table
from tests.spark.conftest import SAMPLE, needs_spark
from tests.spark.generated import shop

# One worker runs every Spark test under pytest-xdist: one JVM, started once.
pytestmark = pytest.mark.xdist_group("spark")

ORDERS = str(SAMPLE / "orders.csv")
CUSTOMERS = str(SAMPLE / "customers.csv")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def both(*args: str) -> tuple[Result, Result]:
    return run(*args), run(*args, "--engine", "spark")


CASES = {
    "retention-quarter-90d": ("retention", ORDERS, "-p", "quarter", "-w", "90d"),
    "retention-week-by-segment": (
        "retention",
        ORDERS,
        "--customers",
        CUSTOMERS,
        "--basis",
        "activity",
        "-p",
        "week",
        "--by",
        "segment",
        "--as-of",
        "2025-07-01",
    ),
    "retention-subscription": ("retention", ORDERS, "--customers", CUSTOMERS),
    "churn-month-by-channel": ("churn", ORDERS, "--by", "channel", "-w", "all"),
    "cohorts-quarter": ("cohorts", ORDERS, "-p", "quarter", "--mode", "on-or-after"),
    "returns-month": ("returns", ORDERS, "--by", "channel"),
    "returns-file-top": (
        "returns",
        ORDERS,
        "--returns",
        str(SAMPLE / "returns.csv"),
        "--top",
        "5",
        "--min-units",
        "5",
    ),
    "kpis-quarter-by-segment-sequence": (
        "kpis",
        ORDERS,
        "--customers",
        CUSTOMERS,
        "-p",
        "quarter",
        "--by",
        "segment",
        "--by-sequence",
    ),
    "clv-historical-by-segment": ("clv", ORDERS, "--customers", CUSTOMERS, "--by", "segment"),
    "clv-formula": ("clv", ORDERS, "--model", "formula", "--margin", "30%", "--basis", "activity"),
    "clv-bgnbd": ("clv", ORDERS, "--model", "bgnbd", "--as-of", "2025-10-01"),
    "rfm-per-customer-by-channel": ("rfm", ORDERS, "--per-customer", "--by", "channel"),
    "rfm-segments": ("rfm", ORDERS, "--start", "2024-06-01", "--as-of", "2025-09-01"),
}


@needs_spark
@pytest.mark.parametrize("case", list(CASES))
def test_same_output_on_both_engines(spark: Any, case: str) -> None:
    args = (*CASES[case], "--format", "csv")
    ours, theirs = both(*args)
    assert ours.exit_code == 0, ours.stderr
    assert theirs.exit_code == 0, theirs.stderr
    if ours.stdout != theirs.stdout:  # the last digit of a float may differ: 1e-12
        assert_same_table(csv_table(ours.stdout), csv_table(theirs.stdout), case)
    assert "retcalc: computed on Spark (local[2], " in theirs.stderr
    assert "computed on" not in ours.stderr


@needs_spark
@pytest.mark.parametrize("text", [SHOPIFY, UCI], ids=["shopify", "uci"])
def test_exports_with_awkward_shapes(spark: Any, tmp_path: Path, text: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(text)
    for command in ("retention", "kpis"):
        ours, theirs = both(command, str(path), "-w", "1mo", "--format", "json")
        assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
        assert ours.stdout == theirs.stdout


@needs_spark
def test_an_empty_group_on_both_engines(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "\n".join(r.format("") for r in ROWS) + "\n")
    for command in ("retention", "churn", "returns", "kpis"):
        ours, theirs = both(command, str(path), "--by", "channel", "--format", "csv")
        assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
        assert ours.stdout == theirs.stdout
        assert "\n,20" in ours.stdout  # the empty group's rows are there


@pytest.fixture(scope="module")
def messy_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shop(tmp_path_factory.mktemp("shop"), customers=300)


@needs_spark
@pytest.mark.parametrize(
    "args",
    [
        ("-p", "day", "-w", "30d", "--by", "channel"),
        ("-p", "week", "-w", "90d"),
        ("-p", "month", "--by", "channel", "--as-of", "2024-05-01", "--ci", "0.9"),
        ("-p", "quarter", "-w", "all", "--start", "2022-06-01"),
        ("-p", "month", "-w", "1mo", "--convention", "baremetrics"),
    ],
    ids=["day", "week", "month", "quarter", "baremetrics"],
)
def test_retention_runs_on_the_executors(
    spark: Any, messy_shop: Path, args: tuple[str, ...]
) -> None:
    from retcalc.engines.spark import partials

    orders = str(messy_shop / "orders_messy.csv")
    ours, theirs = both("retention", orders, *args, "--format", "csv")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    # Only the partial counts reached the driver: one row per group and period.
    assert partials.collected["rows"] == ours.stdout.count("\n") - 1


@needs_spark
@pytest.mark.parametrize(
    "args",
    [
        ("-p", "month", "--by", "channel", "-f", "json"),
        ("-p", "quarter", "--mode", "on-or-after", "--start", "2022-09-01", "--min-cohort", "5"),
        ("-p", "week", "--max-offset", "6", "--as-of", "2023-06-01"),
        ("-p", "month", "--convention", "amplitude", "--metric", "ltv"),
    ],
    ids=["month-by", "quarter-on-or-after", "week", "amplitude"],
)
def test_cohorts_run_on_the_executors(spark: Any, messy_shop: Path, args: tuple[str, ...]) -> None:
    from retcalc.engines.spark import partials

    orders = str(messy_shop / "orders_messy.csv")
    shown = args if "-f" in args else (*args, "--format", "csv")
    partials.collected.update(rows=0, bytes=0)
    ours, theirs = both("cohorts", orders, *shown)
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    assert partials.collected["rows"] > 0  # the cells' sums came from the executors


@needs_spark
@pytest.mark.parametrize(
    ("args", "on_executors"),
    [
        (("churn", "-p", "quarter", "--by", "channel"), True),
        (("churn", "-p", "week", "-w", "90d", "--as-of", "2024-03-01"), True),
        (("churn", "-p", "month", "--convention", "baremetrics", "-w", "1mo"), True),
        (("churn", "-p", "quarter", "--ci", "0.9", "--ci-resamples", "30"), False),
        (("cohorts", "--brackets", "0-1,2-5"), False),
    ],
    ids=["churn-by", "churn-week", "churn-baremetrics", "churn-ci", "cohorts-brackets"],
)
def test_churn_on_the_executors_and_what_needs_the_rows(
    spark: Any, messy_shop: Path, args: tuple[str, ...], on_executors: bool
) -> None:
    """A bootstrap (--ci) or brackets need every customer's rows: those are collected."""
    from retcalc.engines.spark import partials

    partials.collected.update(rows=0, bytes=0)
    command, *rest = args
    ours, theirs = both(command, str(messy_shop / "orders_messy.csv"), *rest, "--format", "csv")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    if ours.stdout != theirs.stdout:  # the last digit of a float may differ: 1e-12
        assert_same_table(csv_table(ours.stdout), csv_table(theirs.stdout), " ".join(args))
    assert (partials.collected["rows"] > 0) is on_executors


def _warnings(stderr: str) -> list[str]:
    return sorted(set(line for line in stderr.splitlines() if line.startswith("retcalc: warning")))


@needs_spark
@pytest.mark.parametrize(
    "args",
    [
        ("-p", "month"),
        ("-p", "week", "--by", "channel", "--by-return-date"),
        ("-p", "quarter", "--by", "product_id", "--as-of", "2023-09-01"),
        ("-p", "month", "--by", "customer_id", "--start", "2023-06-01"),
        ("-p", "day", "--start", "2024-03-01", "-f", "json"),
    ],
    ids=["month", "week-by-return-date", "quarter-by-product", "by-customer", "day"],
)
def test_returns_run_on_the_executors(spark: Any, messy_shop: Path, args: tuple[str, ...]) -> None:
    """Only each cell's sums (and one row of the whole's) reach the driver, not the lines."""
    from retcalc.api import metric_params
    from retcalc.engines.spark import partials
    from retcalc.metrics import returns as r

    orders = str(messy_shop / "orders_messy.csv")
    shown = args if "-f" in args else (*args, "--format", "csv")
    partials.collected.update(rows=0, bytes=0)
    ours, theirs = both("returns", orders, *shown)
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    assert _warnings(ours.stderr) == _warnings(theirs.stderr)
    # The cells: the Polars kernel on the whole shop (one part) has as many rows.
    options = dict(zip(args[::2], args[1::2], strict=False))
    by = [options["--by"]] if "--by" in options else []
    with pytest.warns(RetcalcWarning, match="no customer id"):
        read = retcalc.read_orders(orders, by=[k for k in by if k != "customer_id"])
    lines = read.view().frame
    params = metric_params(
        period=options["-p"], by=by, start=options.get("--start"), as_of=options.get("--as-of")
    )
    first, last = r.sale_span(r.lines_span(lines, params.as_of), has_file=False, as_of=None)
    grid = r.sales_grid(params, first, last)
    cells = r.returns_counts(
        lines,
        keys=by,
        grid=grid,
        as_of=params.as_of,
        by_return_date="--by-return-date" in args,
    )
    assert partials.collected["rows"] == cells.height
    assert cells.height < lines.select(pl.len()).collect().item() / 2


@needs_spark
@pytest.mark.parametrize(
    ("args", "on_executors"),
    [
        (("--by", "channel"), True),
        (("--ci", "0.9", "--ci-resamples", "20"), False),
        (("--top", "5", "--min-units", "2"), False),
        (("--returns", str(SAMPLE / "returns.csv")), False),
    ],
    ids=["by-channel", "ci", "top", "returns-file"],
)
def test_returns_collect_what_needs_rows_across_orders(
    spark: Any, args: tuple[str, ...], on_executors: bool
) -> None:
    """A bootstrap (--ci), --top and a returns file (matched by customer too) are
    computed on the driver from the lines collected."""
    from retcalc.engines.spark import partials

    partials.collected.update(rows=0, bytes=0)
    ours, theirs = both("returns", ORDERS, *args, "--format", "csv")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    if ours.stdout != theirs.stdout:  # the last digit of a float may differ: 1e-12
        assert_same_table(csv_table(ours.stdout), csv_table(theirs.stdout), " ".join(args))
    assert _warnings(ours.stderr) == _warnings(theirs.stderr)
    assert (partials.collected["rows"] > 0) is on_executors


@needs_spark
def test_the_manifest_counts_rows_as_the_polars_engine(spark: Any, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,order_date,amount,currency\n1,a,2024-01-05,10,EUR\n"
        "2,b,2024-01-06,10,USD\n3,,2024-01-07,5,EUR\n4,c,,5,EUR\n5,a,2024-02-05,7,EUR\n"
        "1,a,2024-01-05,10,EUR\n"
    )
    found = []
    for engine in ("polars", "spark"):
        manifest = tmp_path / f"{engine}.json"
        args = ("retention", str(orders), "--currency", "EUR", "--dedupe", "-f", "csv")
        result = run(*args, "--engine", engine, "--manifest", str(manifest))
        assert result.exit_code == 0, result.stderr
        found.append(json.loads(manifest.read_text())["inputs"][0]["rows"])
    assert (
        found[0]
        == found[1]
        == {
            "read": 6,
            "used": 2,
            "dropped": {
                "repeated row (--dedupe)": 1,
                "no order date": 1,
                "no customer id": 1,
                "other currency (--currency)": 1,
            },
        }
    )


@needs_spark
def test_missing_column_names_it(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,amount\nc1,10\n")
    ours, theirs = both("retention", str(path))
    assert ours.exit_code == theirs.exit_code == 2
    assert theirs.stderr.splitlines()[-1] == ours.stderr.splitlines()[-1]
    assert "order" in theirs.stderr and "Traceback" not in theirs.stderr


@needs_spark
def test_unreadable_value_past_the_sample_names_file_column_and_value(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retcalc.engines.spark import load

    monkeypatch.setattr(load, "SAMPLE_ROWS", 2)  # the bad row is found by Spark, not the sample
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_date,amount\nc1,2024-01-05,10\nc2,2024-01-06,11\n"
        "c3,2024-01-07,12\nc4,2024-13-45,5\nc5,2024-01-09,abc\n"
    )
    ours, theirs = both("churn", str(path))
    assert ours.exit_code == theirs.exit_code == 2
    assert "'order_date'" in theirs.stderr and "'2024-13-45'" in theirs.stderr
    assert "orders.csv" in theirs.stderr and "Traceback" not in theirs.stderr
    path.write_text(
        "customer_id,order_date,amount\nc1,2024-01-05,10\nc2,2024-01-06,11\nc5,2024-01-09,abc\n"
    )
    theirs = run("churn", str(path), "--engine", "spark")
    assert theirs.exit_code == 2
    assert "'amount'" in theirs.stderr and "'abc'" in theirs.stderr


@needs_spark
def test_ragged_line_past_the_sample(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retcalc.engines.spark import load

    monkeypatch.setattr(load, "SAMPLE_ROWS", 1)
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_date,amount\nc1,2024-01-05,10\nc2,2024-01-06,1,234.50\n")
    result = run("retention", str(path), "--engine", "spark")
    assert result.exit_code == 2
    assert "more fields than the header" in result.stderr


def test_stdin_and_other_commands_are_refused() -> None:
    result = run("retention", "-", "--engine", "spark")
    assert result.exit_code == 2
    assert "not standard input" in result.stderr
    result = run("kpis", ORDERS, "--paid-col", "paid_at", "--engine", "spark")
    assert result.exit_code == 2
    assert "--paid-col" in result.stderr
    result = run("retention", str(SAMPLE / "nosuch.csv"), "--engine", "spark")
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    result = run("retention", ORDERS, "--spark-master", "local[2]")
    assert result.exit_code == 2
    assert "--spark-master is for --engine spark" in result.stderr


def test_without_pyspark_exit_2_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    result = run("retention", ORDERS, "--engine", "spark")
    assert result.exit_code == 2
    assert "pip install 'retcalc[spark]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_java_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    pytest.importorskip("pyarrow")
    from retcalc.engines.spark import session

    monkeypatch.setattr(session, "active", lambda: None)
    monkeypatch.setattr(session, "java_executable", lambda: None)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    result = run("churn", ORDERS, "--engine", "spark")
    assert result.exit_code == 2
    assert "needs Java" in result.stderr
    assert "Traceback" not in result.stderr


@needs_spark
@pytest.mark.skipif(
    not os.environ.get("RETCALC_TEST_SPARK_CONNECT"),
    reason="starts a second JVM (a local Spark Connect server): set RETCALC_TEST_SPARK_CONNECT=1",
)
def test_spark_connect_gives_the_same_table(tmp_path: Path) -> None:
    pytest.importorskip("grpc", reason="Spark Connect needs pip install 'retcalc[spark]'")
    retcalc = str(Path(sys.executable).with_name("retcalc"))
    args = [retcalc, "churn", ORDERS, "--format", "csv"]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    ours = subprocess.run(args, capture_output=True, text=True, check=True)
    theirs = subprocess.run(
        [*args, "--engine", "spark"],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "SPARK_REMOTE": "local[2]"},  # pyspark starts a local Connect server
    )
    assert theirs.stdout == ours.stdout
    assert "retcalc: computed on Spark Connect (local[2], " in theirs.stderr


@needs_spark
def test_currencies_on_both_engines(spark: Any, tmp_path: Path) -> None:
    """--currency, --by currency and constant --fx give the same tables; cents too; dated
    rates are refused on Spark (docs/inputs.md, Currencies)."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_date,amount_cents,currency\n"
        "a,2024-01-03,1000,USD\nb,2024-01-05,2000,EUR\nb,2024-02-05,500,eur\na,2024-02-07,750,usd\n"
    )
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nEUR,1.1\n")
    for extra in (
        ("--currency", "USD"),
        ("--by", "currency"),
        ("--fx", str(rates), "--report-currency", "USD"),
        (),
    ):
        ours, theirs = both("kpis", str(path), "-p", "month", "--format", "csv", *extra)
        assert ours.exit_code == theirs.exit_code, theirs.stderr
        assert ours.stdout == theirs.stdout
        assert ours.stderr.splitlines()[-1] == theirs.stderr.splitlines()[-1]
    dated = tmp_path / "dated.csv"
    dated.write_text("currency,date,rate\nEUR,2024-01-01,1.1\n")
    result = run(
        "kpis", str(path), "--fx", str(dated), "--report-currency", "USD", "--engine", "spark"
    )
    assert result.exit_code == 2
    assert "rates by date" in result.stderr


@needs_spark
def test_rows_left_out_are_said_once_counted_over_every_row(spark: Any, tmp_path: Path) -> None:
    """The sample's own counts of rows without a date or customer are not said beside the
    counts over every row."""
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,order_date,amount\n1,a,2024-01-05,10\n2,,2024-01-06,10\n"
        "3,guest,2024-01-07,5\n4,b,,5\n5,a,2024-02-05,7\n"
    )
    ours, theirs = both("retention", str(orders), "-f", "csv")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    said = [line for line in theirs.stderr.splitlines() if "warning" in line]
    assert said == [line for line in ours.stderr.splitlines() if "warning" in line]
    assert sum("2 rows have no customer id" in line for line in said) == 1
    assert sum("1 rows have no order date" in line for line in said) == 1


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--by", "channel", "-f", "json"),
        ("--start", "2022-09-01", "--end", "2023-12-31", "--by", "channel"),
        (
            "--as-of",
            "2024-03-01",
        ),
    ],
    ids=["whole", "by", "start-end", "as-of"],
)
def test_clv_historical_runs_on_the_executors(
    spark: Any, messy_shop: Path, args: tuple[str, ...]
) -> None:
    from retcalc.engines.spark import partials

    shown = args if "-f" in args else (*args, "--format", "csv")
    partials.collected.update(rows=0, bytes=0)
    ours, theirs = both("clv", str(messy_shop / "orders_messy.csv"), *shown)
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    # Only the groups' sums reached the driver: one row per group.
    groups = len(json.loads(ours.stdout)) if "-f" in args else ours.stdout.count("\n") - 1
    assert partials.collected["rows"] == groups


def sent_for_bgnbd(orders: Path, by: tuple[str, ...], as_of: str | None, unit: str) -> int:
    """The rows the executors send for a bgnbd group table: the distinct values of the fit
    and, per group, one row per column and binary exponent of the scores' sums."""
    import datetime as dt

    import retcalc
    from retcalc.metrics.clv import fit_counts, fit_models, score, sum_parts, summed_columns
    from retcalc.metrics.clv.summary import TimeUnit, rfm_summary

    cut = dt.date.fromisoformat(as_of) if as_of else None
    rows = retcalc.read_orders(orders, by=list(by)).rows()
    summary = rfm_summary(rows, as_of=cut, time_unit=TimeUnit(unit), keys=by)
    frame, columns, _ = summed_columns(
        score(summary, fit_models(summary), horizon=365.0 / TimeUnit(unit).days), years=None
    )
    return fit_counts(summary.frame.lazy()).collect().height + sum_parts(frame, by, columns).height


def fit_rows(orders: Path) -> int:
    """The distinct (x, t_x, T) and (x, m) values the fit receives."""
    import retcalc
    from retcalc.metrics.clv import fit_counts
    from retcalc.metrics.clv.summary import rfm_summary

    summary = rfm_summary(retcalc.read_orders(orders).rows())
    return fit_counts(summary.frame.lazy()).collect().height


@needs_spark
@pytest.mark.parametrize(
    ("args", "by", "as_of", "unit"),
    [
        ((), (), None, "day"),
        (("--by", "channel"), ("channel",), None, "day"),
        (("--as-of", "2024-03-01", "--time-unit", "week"), (), "2024-03-01", "week"),
    ],
    ids=["whole", "by", "week-as-of"],
)
def test_clv_bgnbd_fits_and_scores_on_the_executors(
    spark: Any,
    messy_shop: Path,
    tmp_path: Path,
    args: tuple[str, ...],
    by: tuple[str, ...],
    as_of: str | None,
    unit: str,
) -> None:
    from retcalc.engines.spark import partials

    orders = messy_shop / "orders.csv"
    partials.collected.update(rows=0, bytes=0)
    params = (str(tmp_path / "ours.json"), str(tmp_path / "theirs.json"))
    common = ("clv", str(orders), "--model", "bgnbd", *args, "--format", "csv")
    ours = run(*common, "--params-out", params[0])
    theirs = run(*common, "--params-out", params[1], "--engine", "spark")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout  # the same fit and exact sums: every digit
    assert Path(params[0]).read_text() == Path(params[1]).read_text()
    assert "clv" in ours.stdout and ",," not in ours.stdout  # the spend model is fitted
    # The distinct (x, t_x, T) and (x, m) values and the sums' parts reached the driver,
    # fewer rows than customers.
    sent = partials.collected["rows"]
    assert sent == sent_for_bgnbd(orders, by, as_of, unit)
    customers = sum(int(line.split(",")[len(by)]) for line in ours.stdout.splitlines()[1:])
    assert sent < customers * 2


@needs_spark
@pytest.mark.parametrize(
    "args",
    [
        ("--per-customer", "--by", "channel"),
        ("--model", "bgnbd", "--per-customer"),
        ("--model", "bgnbd", "--holdout", "26w"),
        ("--model", "formula", "--margin", "30%", "-w", "3mo"),
    ],
    ids=["historical-per-customer", "bgnbd-per-customer", "bgnbd-holdout", "formula"],
)
def test_clv_tables_that_collect_the_rows(
    spark: Any, messy_shop: Path, args: tuple[str, ...]
) -> None:
    """Per-customer tables, the holdout check and the formula collect the rows."""
    from retcalc.engines.spark import partials

    partials.collected.update(rows=0, bytes=0)
    ours, theirs = both("clv", str(messy_shop / "orders.csv"), *args, "--format", "csv")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    if ours.stdout != theirs.stdout:  # the last digit of a float may differ: 1e-12
        assert_same_table(csv_table(ours.stdout), csv_table(theirs.stdout), " ".join(args))
    assert partials.collected["rows"] == 0


@needs_spark
def test_clv_bgnbd_scores_given_parameters_on_the_executors(
    spark: Any, messy_shop: Path, tmp_path: Path
) -> None:
    from retcalc.engines.spark import partials

    orders, params = str(messy_shop / "orders.csv"), str(tmp_path / "params.json")
    assert run("clv", orders, "--model", "bgnbd", "--params-out", params).exit_code == 0
    partials.collected.update(rows=0, bytes=0)
    args = ("--model", "bgnbd", "--params-in", params, "--by", "channel", "--margin", "40%")
    ours, theirs = both("clv", orders, *args, "--format", "csv")
    assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    # No fit: only the scores' sums, per group, column and binary exponent.
    assert 0 < partials.collected["rows"] <= 3 * 5 * 64


@needs_spark
@pytest.mark.parametrize(
    "args",
    [
        ("clv", "--by", "channel"),
        ("clv", "--start", "2023-01-01"),
        ("clv", "--model", "bgnbd", "--by", "channel"),
        ("rfm", "--by", "channel"),
        ("rfm", "--as-of", "2024-01-01"),
    ],
    ids=["historical-by", "historical-start", "bgnbd-by", "rfm-by", "rfm-as-of"],
)
def test_per_customer_written_by_the_executors(
    spark: Any, messy_shop: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    import polars as pl

    from retcalc.engines.spark import partials

    orders = str(messy_shop / "orders.csv")
    command, *rest = args
    ours = run(command, orders, *rest, "--per-customer", "--output", str(tmp_path / "ours.parquet"))
    assert ours.exit_code == 0, ours.stderr
    expected = pl.read_parquet(tmp_path / "ours.parquet")
    target = tmp_path / "customers"
    for attempt in (1, 2):  # a second run replaces the directory the first one wrote
        partials.collected.update(rows=-1, bytes=-1)
        theirs = run(
            command, orders, *rest, "--per-customer", "--engine", "spark",
            "--output", str(target), "--format", "parquet",
        )  # fmt: skip
        assert theirs.exit_code == 0, theirs.stderr
        assert theirs.stdout == ""
        assert f"{expected.height} customers written to {target}" in theirs.stderr
        written = pl.read_parquet(target / "*.parquet")
        assert written.equals(expected), attempt
        # No customer's row reached the driver (bgnbd: the fit's distinct values only;
        # rfm: the histograms and refined values of its cuts).
        if "bgnbd" in args:
            assert partials.collected["rows"] == fit_rows(messy_shop / "orders.csv")
        elif command == "rfm":
            assert partials.collected["rows"] > 0
        else:
            assert partials.collected["rows"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers", "ours.parquet"]


@needs_spark
def test_clv_per_customer_directory_refusals(spark: Any, messy_shop: Path, tmp_path: Path) -> None:
    orders = str(messy_shop / "orders.csv")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    spark_args = ("--per-customer", "--engine", "spark", "--format", "parquet")
    refused = run("clv", orders, *spark_args, "--output", str(busy))
    assert refused.exit_code == 2
    assert "holds other files (notes.txt)" in refused.stderr
    assert (busy / "notes.txt").read_text() == "mine"
    inside = run("clv", orders, *spark_args, "--output", str(messy_shop))
    assert inside.exit_code == 2 and "refusing to write over input" in inside.stderr
    fail_if = run(
        "clv", orders, *spark_args, "--output", str(tmp_path / "x"), "--fail-if", "orders<1"
    )
    assert fail_if.exit_code == 2 and "--fail-if is not checked" in fail_if.stderr
