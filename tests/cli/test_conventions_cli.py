"""``--convention`` end to end: the vendor's figures in JSON/CSV, the note on stderr, and
exit 2 where a vendor does not define a command's figures (docs/conventions.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app

runner = CliRunner()

# ChartMogul's Net MRR Churn Rate example: $100 at the start of February, $10 lost to
# churn (b), $10 to contraction (c), $10 gained from expansion (a): 10 %.
ORDERS = """\
customer_id,order_date,amount
a,2024-01-10,50
b,2024-01-10,10
c,2024-01-10,20
d,2024-01-10,20
a,2024-02-10,60
c,2024-02-10,10
d,2024-02-10,20
"""


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), input=ORDERS, env={"COLUMNS": "200"})


def ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}"
    return result


def february(rows: list[dict]) -> dict:
    return next(r for r in rows if r["period_start"] == "2024-02-01")


def test_chartmogul_net_mrr_churn_in_json_and_said_on_stderr() -> None:
    result = ok("churn", "-", "--convention", "chartmogul", "--format", "json")
    row = february(json.loads(result.stdout))
    assert row["revenue_churn_rate"] == pytest.approx(0.10)
    assert "retcalc: note: convention chartmogul: revenue_churn_rate" in result.stderr


def test_baremetrics_gross_revenue_churn_in_csv() -> None:
    result = ok("churn", "-", "--convention", "baremetrics", "--format", "csv")
    row = february(list(csv.DictReader(io.StringIO(result.stdout))))
    assert float(row["revenue_churn_rate"]) == pytest.approx(0.20)
    assert "quick_ratio = (new + expansion)" in result.stderr


def test_without_the_flag_no_column_and_no_note() -> None:
    result = ok("churn", "-", "--format", "json")
    assert "revenue_churn_rate" not in february(json.loads(result.stdout))
    assert "convention" not in result.stderr


def test_a_convention_that_changes_nothing_says_so() -> None:
    result = ok("retention", "-", "--convention", "chartmogul", "--format", "json")
    assert "nothing changes" in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("cohorts", "-", "--convention", "chartmogul"), "does not apply to cohorts"),
        (("churn", "-", "--convention", "amplitude"), "does not apply to churn"),
        (("kpis", "-", "--convention", "amplitude"), "does not apply to kpis"),
        (("cohorts", "-", "--convention", "amplitude", "-p", "quarter"), "--period day, week"),
        (("churn", "-", "--convention", "stripe"), "--convention"),
    ],
)
def test_refusals_exit_2(args: tuple[str, ...], said: str) -> None:
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 2, result.stderr
    assert said in result.stderr
    assert result.stdout == ""


def test_amplitude_cohorts_on_the_command_line() -> None:
    result = ok("cohorts", "-", "--convention", "amplitude", "--format", "json")
    rows = json.loads(result.stdout)
    # Every January customer returned 31 days later: month 1 under 30-day months.
    jan = {r["offset"]: r["customers"] for r in rows if r["cohort"] == "2024-01-01"}
    assert jan == {0: 4, 1: 3}
    assert "convention amplitude: offsets count" in result.stderr


def test_explain_fills_the_vendor_figure_in_and_names_the_convention(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    result = runner.invoke(
        app,
        ["explain", "revenue_churn_rate", str(orders), "--convention", "chartmogul"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.stderr
    assert "convention chartmogul: revenue_churn_rate = (churned + contraction" in result.stdout
    assert "revenue_churn_rate = 0.1000 (10.0 %)" in result.stdout
