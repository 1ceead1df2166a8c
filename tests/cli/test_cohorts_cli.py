"""``retcalc cohorts`` end to end: machine formats parsed, the triangle rendered, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.render.triangle import Triangle, print_triangle

# a: Jan 5, Jan 31, Mar 1. b: Jan 20 only. c: two orders on Feb 29, Mar 20.
# d: Feb 10 (O4, 50) with a return of 20 on Mar 15 netted into February.
# The data ends Mar 20, so March is not complete.
ORDERS = """\
order_id,customer_id,order_date,amount,channel
O1,a,2024-01-05,10.00,web
O2,a,2024-01-31,5.00,web
O3,b,2024-01-20,7.00,app
O5,c,2024-02-29,30.00,web
O6,c,2024-02-29,4.00,web
O4,d,2024-02-10,50.00,app
O7,a,2024-03-01,20.00,web
O4,d,2024-03-15,-20.00,app
O9,c,2024-03-20,6.00,web
"""

COLUMNS = [
    "cohort",
    "offset",
    "period_start",
    "cohort_size",
    "customers",
    "eligible",
    "eligible_active",
    "retention",
    "revenue",
    "cumulative_revenue_per_customer",
    "complete",
]

EXPECTED = [
    # cohort, offset, period_start, size, customers, eligible, eligible_active, retention,
    # revenue, cum/customer, complete. March is not over: no customer is eligible in it.
    ("2024-01-01", 0, "2024-01-01", 2, 2, 2, 2, 1.0, 22.0, 11.0, True),
    ("2024-01-01", 1, "2024-02-01", 2, 0, 2, 0, 0.0, 0.0, 11.0, True),
    ("2024-01-01", 2, "2024-03-01", 2, 1, 0, 0, None, 20.0, 21.0, False),
    ("2024-02-01", 0, "2024-02-01", 2, 2, 2, 2, 1.0, 64.0, 32.0, True),
    ("2024-02-01", 1, "2024-03-01", 2, 1, 0, 0, None, 6.0, 35.0, False),
    # The average rows: sums over the cohorts; cumulative revenue of the eligible cohorts
    # per eligible customer: (22 + 64) / 4, then January's 22 / 2.
    (None, 0, None, 4, 4, 4, 4, 1.0, None, 21.5, True),
    (None, 1, None, 4, 1, 2, 0, 0.0, None, 11.0, False),
    (None, 2, None, 2, 1, 0, 0, None, None, None, False),
]

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["cohorts", *args], input=input, env={"COLUMNS": "200"})


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}\n{result.exception!r}"
    return result


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


def test_csv(orders: Path) -> None:
    result = ok(invoke(str(orders), "--format", "csv"))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == COLUMNS
    assert [tuple(r.values()) for r in rows] == [
        tuple(
            "true" if v is True else "false" if v is False else "" if v is None else str(v)
            for v in row
        )
        for row in EXPECTED
    ]
    assert result.stderr == ""


def test_json_from_stdin(orders: Path) -> None:
    result = ok(invoke("-", "--format", "json", input=ORDERS))
    assert json.loads(result.stdout) == [dict(zip(COLUMNS, row, strict=True)) for row in EXPECTED]


def test_default_on_a_pipe_is_csv(orders: Path) -> None:
    result = ok(invoke(str(orders)))
    assert result.stdout.startswith(",".join(COLUMNS) + "\n")


def test_mode_min_cohort_max_offset(orders: Path) -> None:
    result = ok(
        invoke(
            str(orders),
            "--format",
            "json",
            "--mode",
            "on-or-after",
            "--max-offset",
            "1",
            "--min-cohort",
            "2",
        )
    )
    data = json.loads(result.stdout)
    assert [(r["cohort"], r["offset"], r["customers"]) for r in data] == [
        ("2024-01-01", 0, 2),
        ("2024-01-01", 1, 1),  # a buys again in March
        ("2024-02-01", 0, 2),
        ("2024-02-01", 1, 1),
        (None, 0, 4),
        (None, 1, 2),
    ]
    hidden = json.loads(ok(invoke(str(orders), "--format", "json", "--min-cohort", "3")).stdout)
    assert hidden == []


def test_by_channel_comes_first(orders: Path) -> None:
    result = ok(invoke(str(orders), "--format", "csv", "--by", "channel", "--max-offset", "0"))
    frame = pl.read_csv(io.StringIO(result.stdout))
    assert frame.columns[:2] == ["channel", "cohort"]
    assert frame.select("channel", "cohort", "cohort_size").rows() == [
        ("app", "2024-01-01", 1),
        ("app", "2024-02-01", 1),
        ("app", None, 2),  # each channel's average row
        ("web", "2024-01-01", 1),
        ("web", "2024-02-01", 1),
        ("web", None, 2),
    ]


def test_subscription_basis_and_override(orders: Path, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_id,signup_date,churn_date\na,2024-01-02,\nb,2024-02-02,\nc,2024-02-03,\n"
        "d,2024-02-04,\nx,2024-02-05,2024-03-10\n"
    )
    result = ok(invoke(str(orders), "--customers", str(customers), "--format", "json"))
    first = {(r["cohort"], r["offset"]): r for r in json.loads(result.stdout)}
    # Signup cohorts: Jan {a}, Feb {b, c, d, x}; b's January order is before its cohort.
    assert first[("2024-02-01", 0)]["cohort_size"] == 4
    assert first[("2024-02-01", 0)]["customers"] == 2  # c and d; x never bought
    assert first[("2024-01-01", 0)]["cohort_size"] == 1
    activity = ok(
        invoke(str(orders), "--customers", str(customers), "--basis", "activity", "--format", "csv")
    )
    assert activity.stdout == ok(invoke(str(orders), "--format", "csv")).stdout


def test_triangle_renders(orders: Path) -> None:
    result = ok(invoke(str(orders), "--format", "table"))
    out = result.stdout
    assert (
        "Cohort retention by month (activity basis, mode on); columns: months since first purchase"
        in out.splitlines()[0]
    )
    lines = [line.split() for line in out.splitlines()]
    assert ["cohort", "size", "0", "1", "2"] in lines
    # March is not over: no eligible customer, no retention (the count is under --metric customers).
    assert ["2024-01-01", "2", "100.0%", "0.0%", "\u2013"] in lines
    assert ["2024-02-01", "2", "100.0%", "\u2013"] in lines
    assert ["all", "4", "100.0%", "0.0%*", "\u2013"] in lines
    assert lines.index(["all", "4", "100.0%", "0.0%*", "\u2013"]) > lines.index(
        ["2024-02-01", "2", "100.0%", "\u2013"]
    )
    assert "* dim: period not complete" in out


@pytest.mark.parametrize(
    ("metric", "january", "february"),
    [
        ("customers", ["2", "0", "1*"], ["2", "1*"]),
        ("retention", ["100.0%", "0.0%", "\u2013"], ["100.0%", "\u2013"]),
        ("revenue", ["22.00", "0.00", "20.00*"], ["64.00", "6.00*"]),
        ("ltv", ["11.00", "11.00", "21.00*"], ["32.00", "35.00*"]),
    ],
    ids=["customers", "retention", "revenue", "ltv"],
)
def test_metric_picks_the_cells(
    orders: Path, metric: str, january: list[str], february: list[str]
) -> None:
    result = ok(invoke(str(orders), "--format", "table", "--metric", metric))
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["2024-01-01", "2", *january] in lines
    assert ["2024-02-01", "2", *february] in lines


def test_metric_does_not_change_machine_output(orders: Path) -> None:
    plain = ok(invoke(str(orders), "--format", "csv")).stdout
    assert ok(invoke(str(orders), "--format", "csv", "--metric", "ltv")).stdout == plain


def test_table_to_a_file(orders: Path, tmp_path: Path) -> None:
    target = tmp_path / "triangle.txt"
    result = ok(invoke(str(orders), "--output", str(target)))
    assert result.stdout == ""
    assert "100.0%" in target.read_text()
    refused = invoke(str(orders), "--format", "table", "--output", str(orders))
    assert refused.exit_code == 2
    assert "refusing to overwrite" in refused.stderr


def test_wide_triangle_is_split_into_parts_that_repeat_the_cohort() -> None:
    rows = [
        {
            "cohort": "2024-01-01",
            "offset": k,
            "cohort_size": 1000,
            "retention": 0.123456,
            "complete": True,
        }
        for k in range(30)
    ]
    frame = pl.DataFrame(rows).with_columns(pl.col("cohort").str.to_date())
    console = Console(width=60, force_terminal=True, file=io.StringIO(), color_system=None)
    spec = Triangle("retention", percent=True, overflow_hint="use --max-offset")
    print_triangle(frame, spec, console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in out.splitlines()) <= 60
    headers = [line.split() for line in out.splitlines() if line.split()[:2] == ["cohort", "size"]]
    parts = len(headers)
    assert parts > 1
    assert [int(k) for header in headers for k in header[2:]] == list(range(30))
    values = [line.split() for line in out.splitlines() if line.startswith("  2024-01-01")]
    assert len(values) == parts
    assert all(v[:2] == ["2024-01-01", "1,000"] for v in values)
    assert sum(len(v) - 2 for v in values) == 30
    assert all(cell == "12.3%" for v in values for cell in v[2:])
    assert f"offsets in {parts} parts; use --max-offset" in " ".join(out.split())


def test_fail_if_checks_the_latest_complete_cell_of_each_offset(orders: Path) -> None:
    # Offset 1: the latest complete cell is the January cohort in February (0 %).
    result = invoke(
        str(orders), "--format", "csv", "--max-offset", "1", "--fail-if", "retention < 0.2"
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("cohort,")
    assert "retention = 0 < 0.2 in period 2024-02-01 (offset=1)" in result.stderr
    table = invoke(
        str(orders), "--format", "table", "--max-offset", "1", "--fail-if", "retention < 0.2"
    )
    assert table.exit_code == 1
    assert "100.0%" in table.stdout
    assert "offset=1" in table.stderr
    fine = invoke(str(orders), "--format", "csv", "--fail-if", "retention < 0")
    assert fine.exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "churn"], "churn"),
        (["--mode", "after"], "after"),
        (["--min-cohort", "0"], "min-cohort"),
        (["--max-offset", "-1"], "max-offset"),
        (["--fail-if", "nope > 1"], "no column 'nope'"),
        (["--start", "2025-01-01"], "range is empty"),
    ],
    ids=["metric", "mode", "min-cohort", "max-offset", "fail-if", "start"],
)
def test_usage_errors_exit_2(orders: Path, args: list[str], message: str) -> None:
    result = invoke(str(orders), "--format", "csv", *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_money_metric_needs_an_amount(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("customer_id,order_date\na,2024-01-05\na,2024-02-05\n")
    counts = ok(invoke(str(path), "--format", "json"))
    assert [r["revenue"] for r in json.loads(counts.stdout)] == [None] * 4  # 2 cells, 2 averages
    result = invoke(str(path), "--format", "table", "--metric", "ltv")
    assert result.exit_code == 2
    assert "amount" in result.stderr


def test_day_brackets_in_json(orders: Path) -> None:
    # The last day observed is Mar 20. Days since first purchase (days observed): a 0, 26,
    # 56 (76); b 0 (61); c 0, 20 (21); d 0 (40).
    result = ok(
        invoke(str(orders), "--format", "json", "--brackets", "1-30,31-60", "--bracket-unit", "day")
    )
    rows = [
        (r["cohort"], r["bracket"], r["customers"], r["eligible"], r["retention"])
        for r in json.loads(result.stdout)
    ]
    assert rows == [
        ("2024-01-01", "1-30", 1, 2, 0.5),  # a on day 26
        ("2024-01-01", "31-60", 1, 2, 0.5),  # a on day 56; b's day 60 is Mar 20, observed
        # c bought on day 20 but is not eligible (21 days observed); d is and did not buy.
        ("2024-02-01", "1-30", 1, 1, 0.0),
        ("2024-02-01", "31-60", 0, 0, None),  # begun for d, over for nobody
        (None, "1-30", 2, 3, 1 / 3),  # a alone of a, b and d
        (None, "31-60", 1, 2, 0.5),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--brackets", "0-7,5-9"], "--brackets: 5-9 overlaps 0-7"),
        (["--brackets", "9-2"], "--brackets: '9-2' ends before it starts"),
        (["--brackets", "0-7,,9"], "an empty bracket"),
        (["--brackets", "x"], "--brackets: 'x' is not a bracket"),
        (["--brackets", "0-1", "--mode", "on-or-after"], "--mode on-or-after does not apply"),
        (["--brackets", "0-1", "--max-offset", "2"], "--brackets and --max-offset"),
        (["--brackets", "0-1", "--bracket-unit", "week"], "week"),
        (["--brackets", "0-1", "--metric", "ltv", "-f", "table"], "--metric ltv with --brackets"),
    ],
)
def test_bad_brackets_exit_2(orders: Path, args: list[str], message: str) -> None:
    result = invoke(str(orders), "--format", "csv", *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
