"""``retcalc survival`` end to end on a tiny shop: the curve and the summary parsed from
JSON and CSV, the table and its note on stderr, and refusals (exit 2)."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app

ROOT = Path(__file__).resolve().parents[2]

ORDERS = """\
order_id,customer_id,order_date,amount,channel
1,a,2024-01-01,10.00,web
2,b,2024-01-03,12.00,app
3,c,2024-01-05,8.00,web
4,e,2024-02-12,20.00,web
5,a,2024-01-08,5.00,web
"""

# As of 2024-03-01; the data starts 2024-01-01 (first order), nobody signed up before.
#   basic: a 01-01 -> 01-11 (event 10), b 01-01 -> 01-21 (event 20), f 01-31 -> 02-10 (10)
#   pro:   c 01-01 -> 01-21 (event 20), e 02-10 active (censored 20), d 01-01 active (60)
CUSTOMERS = """\
customer_id,signup_date,churn_date,segment
a,2024-01-01,2024-01-11,basic
b,2024-01-01,2024-01-21,basic
c,2024-01-01,2024-01-21,pro
d,2024-01-01,,pro
e,2024-02-10,,pro
f,2024-01-31,2024-02-10,basic
"""

runner = CliRunner()


@pytest.fixture
def shop(tmp_path: Path) -> tuple[str, str]:
    orders, customers = tmp_path / "orders.csv", tmp_path / "customers.csv"
    orders.write_text(ORDERS)
    customers.write_text(CUSTOMERS)
    return str(orders), str(customers)


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["survival", *args], input=input, env={"COLUMNS": "200"})


def rows(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_curve_per_segment(shop: tuple[str, str]) -> None:
    orders, customers = shop
    got = rows(
        invoke(orders, "--customers", customers, "--as-of", "2024-03-01", "--by", "segment",
               "--format", "json")
    )  # fmt: skip
    short = [
        (r["segment"], r["days"], r["at_risk"], r["events"], r["censored"], r["survival"])
        for r in got
    ]
    assert short == [
        ("basic", 10, 3, 2, 0, pytest.approx(1 / 3)),
        ("basic", 20, 1, 1, 0, 0.0),
        ("pro", 20, 3, 1, 1, pytest.approx(2 / 3)),
        ("pro", 60, 1, 0, 1, pytest.approx(2 / 3)),
    ]
    assert list(got[0]) == [
        "segment", "days", "at_risk", "events", "censored", "survival", "survival_lo",
        "survival_hi",
    ]  # fmt: skip
    for r in got:
        assert r["survival_lo"] <= r["survival"] <= r["survival_hi"]


def test_summary_with_median_and_logrank(shop: tuple[str, str]) -> None:
    from lifelines.statistics import logrank_test

    orders, customers = shop
    got = rows(
        invoke(orders, "--customers", customers, "--as-of", "2024-03-01", "--by", "segment",
               "--summary", "--format", "json")
    )  # fmt: skip
    assert [(r["segment"], r["customers"], r["events"], r["censored"]) for r in got] == [
        ("basic", 3, 3, 0),
        ("pro", 3, 1, 2),
    ]
    assert [r["median_days"] for r in got] == [10, None]  # basic: S(10) = 1/3; pro: 2/3
    expected = logrank_test([10, 20, 10], [20, 20, 60], [1, 1, 1], [1, 0, 0])
    for r in got:
        assert r["logrank_df"] == 1
        assert r["logrank_chi2"] == pytest.approx(expected.test_statistic, abs=1e-9)
        assert r["logrank_p"] == pytest.approx(expected.p_value, abs=1e-9)


def test_csv_and_ci_level(shop: tuple[str, str]) -> None:
    orders, customers = shop
    wide = invoke(orders, "--customers", customers, "--as-of", "2024-03-01", "-f", "csv")
    narrow = invoke(
        orders, "--customers", customers, "--as-of", "2024-03-01", "-f", "csv", "--ci", "0.5"
    )
    assert wide.exit_code == 0 and narrow.exit_code == 0, wide.stderr + narrow.stderr
    first_wide = next(csv.DictReader(io.StringIO(wide.stdout)))
    first_narrow = next(csv.DictReader(io.StringIO(narrow.stdout)))
    assert first_wide["days"] == "10" and first_wide["survival"] == first_narrow["survival"]
    assert float(first_wide["survival_lo"]) < float(first_narrow["survival_lo"])
    assert float(first_narrow["survival_hi"]) < float(first_wide["survival_hi"])


def test_table_shows_percent_and_says_the_medians_on_stderr(shop: tuple[str, str]) -> None:
    orders, customers = shop
    result = invoke(
        orders, "--customers", customers, "--as-of", "2024-03-01", "--by", "segment",
        "-f", "table",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Kaplan-Meier survival (subscription basis" in result.stdout
    assert "33.3%" in result.stdout
    note = result.stderr.strip()
    assert note.startswith("retcalc: median lifetime by segment (95% interval): basic: 10 days")
    assert "pro: not reached" in note and "log-rank chi-square" in note
    assert len(note.splitlines()) == 1


def test_activity_basis_from_stdin(shop: tuple[str, str]) -> None:
    # window 7d: a buys 01-01 and 01-08 (within 01-01's reach, 01-08): lapse 01-15, 14 days;
    # b 01-03 -> 01-10 (7), c 01-05 -> 01-12 (7), e 02-12: lapse 02-19 >= as-of 02-15:
    # censored at 3
    got = rows(
        invoke("-", "--active-window", "7d", "--as-of", "2024-02-15", "-f", "json", input=ORDERS)
    )
    assert [(r["days"], r["at_risk"], r["events"], r["censored"]) for r in got] == [
        (3, 4, 0, 1),
        (7, 3, 2, 0),
        (14, 1, 1, 0),
    ]


def test_basis_activity_with_a_customers_file(shop: tuple[str, str]) -> None:
    orders, customers = shop
    got = rows(invoke(orders, "--customers", customers, "--basis", "activity", "-w", "7d",
                      "--as-of", "2024-02-15", "--summary", "-f", "json"))  # fmt: skip
    assert got[0]["customers"] == 4  # customers who purchased, not the six subscribers


def test_truncation_is_said_on_stderr(shop: tuple[str, str]) -> None:
    orders, customers = shop
    result = invoke(
        orders, "--customers", customers, "--as-of", "2024-03-01", "--start", "2024-01-15",
        "-f", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (
        "4 customers signed up before 2024-01-15, where the observation starts (--start, else "
        "the first purchase in the data): 3 count from that day on (left truncation), 1 who "
        "churned before it are left out"
    ) in " ".join(result.stderr.split())


def test_fail_if_reads_the_last_row_of_each_group(shop: tuple[str, str]) -> None:
    orders, customers = shop
    result = invoke(orders, "--customers", customers, "--as-of", "2024-03-01", "--by", "segment",
                    "-f", "csv", "--fail-if", "survival < 0.5")  # fmt: skip
    assert result.exit_code == 1
    assert "segment=basic" in result.stderr and "segment=pro" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--basis", "subscription"], "--basis subscription needs --customers"),
        (["--ci", "1.5"], "--ci 1.5: give a level between 0 and 1"),
        (["--period", "week"], "survival takes no --period"),
        (["--by", "customer_id"], "--by customer_id"),
        (["--by", "days"], "--by days: the survival table has a column of that name"),
        (["--start", "2025-01-01"], "the observation is empty"),
        (["--as-of", "2023-06-01"], "no purchases or signups before 2023-06-01"),
        (["--engine", "spark"], "--engine spark is available on"),
    ],
    ids=["no-customers", "ci", "period", "by-customer", "by-days", "start", "as-of", "spark"],
)
def test_bad_usage_exits_2(shop: tuple[str, str], args: list[str], message: str) -> None:
    orders, _ = shop
    result = invoke(orders, *args, "-f", "json")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_customers_without_signup_dates_exit_2(shop: tuple[str, str], tmp_path: Path) -> None:
    orders, _ = shop
    people = tmp_path / "people.csv"
    people.write_text("customer_id,segment\na,basic\n")
    result = invoke(orders, "--customers", str(people), "--basis", "subscription", "-f", "json")
    assert result.exit_code == 2
    assert "signup_date" in result.stderr


def test_churn_before_signup_exits_2_naming_the_file_and_customer(
    shop: tuple[str, str], tmp_path: Path
) -> None:
    orders, _ = shop
    people = tmp_path / "people.csv"
    people.write_text(
        "customer_id,signup_date,churn_date\na,2024-01-05,2024-01-02\nb,2024-01-01,\n"
    )
    result = invoke(orders, "--customers", str(people), "-f", "json")
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert str(people) in said or "people.csv" in said
    assert "customer_id a, signup_date 2024-01-05, churn_date 2024-01-02" in said


def _doc_examples() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "survival.md").read_text(encoding="utf-8")
    block = re.compile(r"```console\n\$ (retcalc [^\n]*--format csv[^\n]*)\n(.*?)```", re.DOTALL)
    return block.findall(text)


def test_docs_have_examples() -> None:
    assert len(_doc_examples()) >= 2


@pytest.mark.parametrize(("command", "expected"), _doc_examples())
def test_docs_examples_are_real_output(
    command: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.stderr
    got_rows = [line.split(",") for line in result.stdout.splitlines()]
    want_rows = [line.split(",") for line in expected.splitlines()]
    assert len(got_rows) == len(want_rows)
    for got, want in zip(got_rows, want_rows, strict=True):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            if a != b:  # floating point: the last digits may differ between builds
                assert float(a) == pytest.approx(float(b), rel=1e-12), (a, b)
