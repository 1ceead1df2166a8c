"""With ``--customers``, a report shows churn on two bases (KPIs on orders, retention and
the revenue bridge on subscriptions): every format says which is which (issue 26, item 10)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.report.build import TWO_BASES

# a orders in Jan, Feb and Mar; b only in Jan, and cancels on Mar 15. One-month window:
#   activity:     active at Feb 1 a, b; Mar 1 a; Apr 1 a -> churn Feb 1/2, Mar 0/1
#   subscription: active at Feb 1, Mar 1 a, b; Apr 1 a  -> churn Feb 0/2, Mar 1/2
ORDERS = """\
customer_id,order_date,amount
a,2024-01-10,10
b,2024-01-20,20
a,2024-02-10,10
a,2024-03-10,10
"""
CUSTOMERS = """\
customer_id,signup_date,churn_date
a,2024-01-01,
b,2024-01-01,2024-03-15
"""
ARGS = ["--as-of", "2024-04-01", "-w", "1mo", "--section", "kpis", "--section", "retention"]
ARGS += ["--section", "revenue"]

runner = CliRunner()


def make(tmp_path: Path, name: str, *extra: str) -> Result:
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    args = ["report", str(tmp_path / "orders.csv"), "-o", str(tmp_path / name), *ARGS, *extra]
    result = runner.invoke(app, [*args, "--customers", str(tmp_path / "customers.csv")])
    assert result.exit_code == 0, result.stderr
    return result


def churn_by_month(rows: list[dict[str, object]]) -> dict[str, object]:
    return {str(r["period_start"]): r["churn_rate"] for r in rows}


def test_json_says_each_sections_basis_and_the_rates_differ(tmp_path: Path) -> None:
    make(tmp_path, "report.json")
    sections = json.loads((tmp_path / "report.json").read_text())["sections"]
    assert sections["kpis"]["basis"] == "activity"
    assert sections["retention"]["basis"] == "subscription"
    assert sections["revenue"]["basis"] == "subscription"
    assert "Churn on the activity basis (orders;" in sections["kpis"]["definition"]
    assert "Churn on the subscription basis" in sections["retention"]["definition"]
    assert "counted on the subscription basis" in sections["revenue"]["definition"]
    for key in ("kpis", "retention", "revenue"):
        assert TWO_BASES in sections[key]["notes"]
    kpis = churn_by_month(sections["kpis"]["tables"]["kpis"])
    retention = churn_by_month(sections["retention"]["tables"]["retention"])
    assert (kpis["2024-02-01"], kpis["2024-03-01"]) == (0.5, 0.0)
    assert (retention["2024-02-01"], retention["2024-03-01"]) == (0.0, 0.5)


def test_one_basis_has_no_two_bases_note(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(ORDERS)
    out = tmp_path / "report.json"
    args = ["report", str(tmp_path / "orders.csv"), "-o", str(out), *ARGS]
    assert runner.invoke(app, args).exit_code == 0
    sections = json.loads(out.read_text())["sections"]
    assert {s["basis"] for s in sections.values()} == {"activity"}
    assert all(TWO_BASES not in s["notes"] for s in sections.values())


@pytest.mark.parametrize("name", ["report.html", "report.md"])
def test_html_and_markdown_label_each_table(tmp_path: Path, name: str) -> None:
    make(tmp_path, name)
    text = " ".join((tmp_path / name).read_text().split())
    assert "KPIs by month (activity basis)" in text
    assert "Retention by month (subscription basis, window 1mo)" in text
    assert "Churn and revenue retention by month (subscription basis)" in text
    assert text.count("This report counts churn on two bases") == 3


def test_xlsx_labels_each_sheet(tmp_path: Path) -> None:
    make(tmp_path, "report.xlsx")
    book = openpyxl.load_workbook(tmp_path / "report.xlsx")
    assert "(activity basis)" in str(book["kpis"]["A1"].value)
    assert "(subscription basis" in str(book["retention"]["A1"].value)
    assert "(subscription basis)" in str(book["churn"]["A1"].value)
    overview = [str(c.value) for row in book["report"].iter_rows() for c in row]
    assert sum(TWO_BASES in v for v in overview) == 3
