"""``--as-of`` past the data, one rule for every command; stale data said on stderr, and
``--max-age`` (``max_age:`` in a report spec) exits 2 (issue 26, item 8).

The rule: every grid and range ends at the period holding the day before ``--as-of``
(``--end`` may end it earlier); without ``--as-of``, at the last day of the data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app

# a buys in Jan and Feb, b in Jan, c on Mar 1: the last order is 2024-03-01.
# With a one-month window, active at each month start:
#   Feb 1: a, b   Mar 1: a   Apr 1: c   May 1, Jun 1, Jul 1: nobody
ORDERS = """\
order_id,customer_id,order_date,quantity,amount
1,a,2024-01-10,2,20.00
2,b,2024-01-20,1,20.00
3,a,2024-02-05,1,30.00
4,c,2024-03-01,1,40.00
1,a,2024-02-10,-1,-10.00
"""
LAST = "2024-03-01"
AS_OF = "2024-06-15"  # 106 days after the last order
AGE = (dt.date(2024, 6, 15) - dt.date(2024, 3, 1)).days
STALE = f"the last order is on {LAST}, {AGE} days before --as-of {AS_OF}, more than one"

runner = CliRunner()


def invoke(args: Sequence[str]) -> Result:
    return runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}\n{result.exception!r}"
    return result


def rows(result: Result) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(ok(result).stdout)))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orders.csv").write_text(ORDERS)


# --------------------------------------------------------------- one rule, every command

MONTHS_TO_JUNE = [
    "2024-01-01",
    "2024-02-01",
    "2024-03-01",
    "2024-04-01",
    "2024-05-01",
    "2024-06-01",
]


@pytest.mark.parametrize(
    "command",
    [
        ["retention", "-w", "1mo"],
        ["churn", "-w", "1mo"],
        ["kpis", "-p", "month", "-w", "1mo"],
        ["returns"],
    ],
    ids=["retention", "churn", "kpis-period", "returns"],
)
def test_period_grid_runs_to_the_period_of_the_day_before_as_of(command: list[str]) -> None:
    args = [*command, "orders.csv", "-f", "csv"]
    before = rows(invoke(args))
    assert [r["period_start"] for r in before] == MONTHS_TO_JUNE[:3]  # the data's last period
    after = rows(invoke([*args, "--as-of", AS_OF]))
    assert [r["period_start"] for r in after] == MONTHS_TO_JUNE
    complete = [r["complete"] for r in after]
    # June ends after --as-of; April and May are observed (with no orders in them).
    assert complete[-1] == "false" and complete[3:5] == ["true", "true"]
    # The day before --as-of holds: Jun 14 is in the grid, Jun 15 (--as-of) is the last
    # period's day too, so --as-of 2024-06-01 ends the grid with May.
    may = rows(invoke([*args, "--as-of", "2024-06-01"]))
    assert [r["period_start"] for r in may] == MONTHS_TO_JUNE[:5]


def test_retention_after_the_data_counts_the_customers_who_stopped() -> None:
    table = rows(invoke(["retention", "orders.csv", "-w", "1mo", "-f", "csv", "--as-of", AS_OF]))
    april, may = table[3], table[4]
    # c, active at Apr 1 (bought Mar 1), buys nothing in April: churned.
    assert (april["customers_start"], april["customers_end"], april["churned"]) == ("1", "0", "1")
    assert april["churn_rate"] == "1.0"
    assert (may["customers_start"], may["customers_end"]) == ("0", "0")
    assert may["churn_rate"] == ""


def test_end_before_as_of_still_ends_the_grid() -> None:
    table = rows(
        invoke(
            [
                "retention",
                "orders.csv",
                "-w",
                "1mo",
                "-f",
                "csv",
                "--as-of",
                AS_OF,
                "--end",
                "2024-04-10",
            ]
        )
    )
    assert [r["period_start"] for r in table] == MONTHS_TO_JUNE[:4]


def test_end_after_as_of_stops_at_the_day_before_as_of() -> None:
    table = rows(
        invoke(
            [
                "retention",
                "orders.csv",
                "-w",
                "1mo",
                "-f",
                "csv",
                "--as-of",
                "2024-04-10",
                "--end",
                "2024-12-31",
            ]
        )
    )
    assert [r["period_start"] for r in table] == MONTHS_TO_JUNE[:4]


def test_kpis_range_ends_the_day_before_as_of() -> None:
    (row,) = rows(invoke(["kpis", "orders.csv", "-f", "csv", "--as-of", AS_OF]))
    assert (row["range_start"], row["range_end"]) == ("2024-01-10", "2024-06-14")
    # customers a, b, c; orders 1-4 (the return line is order 1); revenue 20+20+30+40-10.
    assert (row["customers"], row["orders"], row["revenue"]) == ("3", "4", "100.0")
    (plain,) = rows(invoke(["kpis", "orders.csv", "-f", "csv"]))
    assert (plain["range_start"], plain["range_end"]) == ("2024-01-10", LAST)


def test_cohorts_run_to_the_period_of_the_day_before_as_of() -> None:
    table = rows(invoke(["cohorts", "orders.csv", "-f", "csv", "--as-of", AS_OF]))
    january = [r for r in table if r["cohort"] == "2024-01-01"]
    assert [r["offset"] for r in january] == ["0", "1", "2", "3", "4", "5"]
    assert [r["customers"] for r in january] == ["2", "1", "0", "0", "0", "0"]
    march = [r for r in table if r["cohort"] == "2024-03-01"]
    assert [r["period_start"] for r in march] == MONTHS_TO_JUNE[2:]


def test_rfm_recency_counts_to_as_of() -> None:
    table = rows(invoke(["rfm", "orders.csv", "--per-customer", "-f", "csv", "--as-of", AS_OF]))
    recency = {r["customer_id"]: int(r["recency_days"]) for r in table}
    # Jun 15 - Feb 5, Jun 15 - Jan 20, Jun 15 - Mar 1.
    assert recency == {"a": 131, "b": 147, "c": 106}


# --------------------------------------------------------------------------- stale data

EVERY_COMMAND = [
    ["retention"],
    ["churn"],
    ["cohorts"],
    ["kpis"],
    ["kpis", "--period", "month"],
    ["returns"],
    ["clv"],
    ["rfm"],
]
IDS = [" ".join(c) for c in EVERY_COMMAND]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=IDS)
def test_stale_data_is_said_on_stderr(command: list[str]) -> None:
    result = ok(invoke([*command, "orders.csv", "-f", "json", "--as-of", AS_OF]))
    json.loads(result.stdout)  # stdout carries the data only
    message = flat(result.stderr)
    assert f"orders.csv: {STALE} month" in message  # a month: --period's default
    assert "--max-age DURATION makes this an error" in message


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=IDS)
def test_max_age_exits_2_before_any_output(command: list[str]) -> None:
    result = invoke([*command, "orders.csv", "-f", "json", "--as-of", AS_OF, "--max-age", "90d"])
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    message = flat(result.stderr)
    assert f"{LAST}, {AGE} days before --as-of {AS_OF}, more than 90d (--max-age)" in message
    assert "the data is stale. Refresh the export" in message


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=IDS)
def test_fresh_enough_data_says_nothing(command: list[str]) -> None:
    # Apr 1 - 1 month = Mar 1: the last order is exactly one month old, not more.
    result = ok(invoke([*command, "orders.csv", "-f", "json", "--as-of", "2024-04-01"]))
    assert "last order" not in result.stderr


@pytest.mark.parametrize(
    ("period", "as_of", "stale"),
    [
        ("week", "2024-03-08", False),  # Mar 8 - 1 week = Mar 1
        ("week", "2024-03-09", True),
        ("month", "2024-04-01", False),
        ("month", "2024-04-02", True),  # Apr 2 - 1 month = Mar 2, after Mar 1
        ("day", "2024-03-02", False),  # the day after the last order: current
        ("day", "2024-03-03", True),
        ("quarter", "2024-06-01", False),  # Jun 1 - 3 months = Mar 1
        ("quarter", "2024-06-02", True),
    ],
)
def test_one_period_is_the_period_given(period: str, as_of: str, stale: bool) -> None:
    result = ok(invoke(["retention", "orders.csv", "-p", period, "-f", "csv", "--as-of", as_of]))
    age = (dt.date.fromisoformat(as_of) - dt.date(2024, 3, 1)).days
    expected = f"{age} days before --as-of {as_of}, more than one {period}"
    assert (expected in flat(result.stderr)) is stale


def test_retention_fail_if_with_stale_data_fails_with_max_age() -> None:
    args = [
        "retention",
        "orders.csv",
        "-w",
        "1mo",
        "--as-of",
        AS_OF,
        "--fail-if",
        "churn_rate > 0.9",
    ]
    warned = invoke([*args, "-f", "csv"])
    assert STALE in flat(warned.stderr)  # the cron log says it, whatever --fail-if finds
    assert invoke([*args, "-f", "csv", "--max-age", "30d"]).exit_code == 2


@pytest.mark.parametrize(("limit", "code"), [("106d", 0), ("105d", 2), ("4mo", 0), ("3mo", 2)])
def test_max_age_boundary(limit: str, code: int) -> None:
    # Jun 15 - 106 days = Mar 1 (not older); Jun 15 - 3 months = Mar 15 (older).
    result = invoke(["kpis", "orders.csv", "-f", "csv", "--as-of", AS_OF, "--max-age", limit])
    assert result.exit_code == code, result.stderr
    # Within the allowed age: no warning either (the user said what age is fine).
    assert ("last order" in result.stderr) is (code == 2)


def test_max_age_without_as_of_counts_to_today(tmp_path: Path) -> None:
    today = dt.date.today()
    last = today - dt.timedelta(days=3)
    (tmp_path / "recent.csv").write_text(
        f"customer_id,order_date,amount\na,{today - dt.timedelta(days=40)},10\nb,{last},20\n"
    )
    assert ok(invoke(["kpis", "recent.csv", "-f", "csv", "--max-age", "3d"])).stderr == ""
    result = invoke(["kpis", "recent.csv", "-f", "csv", "--max-age", "2d"])
    assert result.exit_code == 2
    assert f"the last order is on {last}, 3 days before today ({today}), more than 2d" in flat(
        result.stderr
    )
    # Without --as-of and --max-age nothing is compared with today.
    assert "last order" not in ok(invoke(["kpis", "orders.csv", "-f", "csv"])).stderr


@pytest.mark.parametrize("text", ["all", "soon", "0d", "-3d"])
def test_bad_max_age(text: str) -> None:
    result = invoke(["retention", "orders.csv", "--max-age", text])
    assert result.exit_code == 2
    assert f"--max-age {text!r} is not a duration" in result.stderr


# ------------------------------------------------------------------------------ report


def spec(tmp_path: Path, **keys: str) -> Path:
    lines = ["inputs: {orders: orders.csv}", "output: out/report-{as_of}.json"]
    lines += [f"{k}: {v}" for k, v in keys.items()]
    path = tmp_path / "report.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_report_spec_rule_counts_the_age_to_today(tmp_path: Path) -> None:
    spec(tmp_path, as_of="last_complete_month")
    result = ok(invoke(["report", "--spec", "report.yaml", "--today", "2024-04-20"]))
    # as_of Apr 1; the age is counted to today, Apr 20: 50 days, more than a month.
    assert (
        "the last order is on 2024-03-01, 50 days before today (2024-04-20), more than one month"
        in flat(result.stderr)
    )
    assert (tmp_path / "out" / "report-2024-04-01.json").is_file()
    # On Mar 31 the report ends with February (as_of Mar 1), but the file's last order,
    # Mar 1, is 30 days old: current.
    fresh = ok(invoke(["report", "--spec", "report.yaml", "--today", "2024-03-31"]))
    assert "last order" not in fresh.stderr
    assert (tmp_path / "out" / "report-2024-03-01.json").is_file()


def test_report_spec_max_age_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    spec(tmp_path, as_of="last_complete_month", max_age="30d")
    result = invoke(["report", "--spec", "report.yaml", "--today", "2024-04-20"])
    assert result.exit_code == 2
    assert "50 days before today (2024-04-20), more than 30d (max_age in report.yaml)" in flat(
        result.stderr
    )
    assert not (tmp_path / "out").exists()
    # --max-age on the command line overrides the spec's.
    assert (
        invoke(
            ["report", "--spec", "report.yaml", "--today", "2024-04-20", "--max-age", "2mo"]
        ).exit_code
        == 0
    )


def test_report_with_a_date_counts_to_that_date(tmp_path: Path) -> None:
    result = invoke(["report", "orders.csv", "-o", "r.json", "--as-of", AS_OF, "--max-age", "90d"])
    assert result.exit_code == 2
    assert f"{AGE} days before --as-of {AS_OF}, more than 90d (--max-age)" in flat(result.stderr)
    assert not (tmp_path / "r.json").exists()


def test_spec_max_age_must_be_a_duration(tmp_path: Path) -> None:
    spec(tmp_path, max_age="soon")
    result = invoke(["report", "--spec", "report.yaml"])
    assert result.exit_code == 2
    assert "line 3: max_age: 'soon' is not a duration" in result.stderr
