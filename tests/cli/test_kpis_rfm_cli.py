"""``retcalc kpis`` and ``retcalc rfm`` end to end: parsed output, NPS and paid-date files, errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app

# The shop of tests/metrics/test_kpis.py as an export: March 2024 has 4 customers,
# 8 orders and 180.00 of net revenue; a and b were active at Mar 1, b churned.
ORDERS = """\
order_id,customer_id,order_date,quantity,amount,paid_on
o8,d,2023-12-01,1,50.00,2023-12-01
o1,a,2024-01-10,1,10.00,2024-01-10
o2,a,2024-02-15,1,20.00,2024-02-15
o6,b,2024-02-20,1,40.00,2024-02-20
o3,a,2024-03-05 10:00,1,30.00,2024-03-06
o4,a,2024-03-05 18:00,1,5.00,
o7,c,2024-03-10,1,25.00,2024-03-10
o10,e,2024-03-12,2,30.00,2024-03-12
o10,e,2024-03-12,1,10.00,2024-03-12
o12,c,2024-03-13,1,5.00,2024-04-01
o10,e,2024-03-18,-1,-10.00,
o5,a,2024-03-20,1,15.00,2024-04-10
o9,d,2024-03-25,1,60.00,2024-03-25
o13,a,2024-03-28,1,10.00,2024-03-31
o11,f,2024-04-05,1,100.00,2024-04-05
"""

NPS = """\
Customer ID,Response Date,Score
a,2024-03-02,10
b,2024-03-03,3
b,2024-03-25,7
c,2024-03-11,8
x,2024-03-15,0
a,2024-02-10,0
,2024-03-20,9
"""

MARCH = ["--start", "2024-03-01", "--end", "2024-03-31", "-w", "1mo"]

runner = CliRunner()


def invoke(args: Sequence[str], input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}\n{result.exception!r}"
    return result


def fails_cleanly(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    return result.stderr


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


@pytest.fixture
def nps(tmp_path: Path) -> Path:
    path = tmp_path / "nps.csv"
    path.write_text(NPS)
    return path


def test_kpis_csv_one_row(orders: Path) -> None:
    result = ok(invoke(["kpis", str(orders), *MARCH, "--format", "csv"]))
    rows = parse_csv(result.stdout)
    assert len(rows) == 1
    row = rows[0]
    assert list(row)[:3] == ["range_start", "range_end", "customers"]
    assert (row["range_start"], row["range_end"]) == ("2024-03-01", "2024-03-31")
    assert (row["customers"], row["orders"], row["revenue"]) == ("4", "8", "180.0")
    assert (float(row["churn_rate"]), float(row["crr"])) == (0.5, 1.0)
    assert float(row["repeat_purchase_rate"]) == 0.5
    assert float(row["existing_customer_revenue_growth"]) == 1.0
    assert "complete" not in row and "nps" not in row and "dso" not in row
    assert result.stderr == ""


def test_kpis_json_with_nps_and_dso(orders: Path, nps: Path) -> None:
    args = ["kpis", str(orders), *MARCH, "--nps", str(nps), "--paid-col", "Paid On"]
    result = ok(invoke([*args, "--format", "json"]))
    [row] = json.loads(result.stdout)
    assert (row["nps_responses"], row["nps"]) == (5, -20.0)
    assert (row["nps_churned"], row["nps_retained"]) == (-50.0, 100.0)
    assert row["dso"] == pytest.approx(25 / 190 * 31)
    assert row["median_days_between_purchases"] == 8.0
    # The anonymous response is left out, with a warning.
    assert "1 responses have no customer id" in result.stderr


def test_kpis_per_period_when_period_is_given(orders: Path) -> None:
    result = ok(invoke(["kpis", str(orders), "--period", "month", "-w", "1mo", "-f", "csv"]))
    rows = parse_csv(result.stdout)
    assert list(rows[0])[:2] == ["period_start", "period_end"]
    assert list(rows[0])[-1] == "complete"
    assert [r["period_start"] for r in rows] == [
        "2023-12-01",
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
    ]
    march = rows[3]
    assert (march["customers"], march["revenue"], march["churn_rate"]) == ("4", "180.0", "0.5")


def test_kpis_by_sequence_columns(orders: Path) -> None:
    result = ok(invoke(["kpis", str(orders), *MARCH, "--by-sequence", "-f", "json"]))
    [row] = json.loads(result.stdout)
    assert row["median_days_1_to_2"] == 3.0
    assert row["median_days_2_to_3"] is None
    assert (row["median_days_3_to_4"], row["median_days_4_to_5"]) == (15.0, 8.0)


def test_kpis_one_screen_table(orders: Path) -> None:
    result = ok(invoke(["kpis", str(orders), *MARCH, "--format", "table"]))
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "metric value" in lines
    assert "churn_rate 50.0%" in lines
    assert "revenue 180.00" in lines
    assert "range_end 2024-03-31" in lines


def test_kpis_fail_if_reads_the_real_columns_in_the_one_screen_view(orders: Path) -> None:
    result = invoke(["kpis", str(orders), *MARCH, "-f", "table", "--fail-if", "churn_rate > 0.4"])
    assert result.exit_code == 1
    assert "churn_rate 50.0%" in " ".join(result.stdout.split())
    assert "threshold crossed: churn_rate = 0.5" in result.stderr


def test_kpis_fail_if_on_csv(orders: Path) -> None:
    result = invoke(["kpis", str(orders), *MARCH, "-f", "csv", "--fail-if", "crr < 90%"])
    assert result.exit_code == 0, result.stderr


def test_kpis_from_stdin(orders: Path) -> None:
    result = ok(invoke(["kpis", "-", *MARCH, "-f", "csv"], input=ORDERS))
    assert parse_csv(result.stdout)[0]["customers"] == "4"


def test_kpis_refuses_the_subscription_basis(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["kpis", str(orders), "--basis", "subscription"]))
    assert "activity basis" in stderr


def test_kpis_unknown_paid_column(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["kpis", str(orders), "--paid-col", "paid_at_date"]))
    assert "paid_at_date" in stderr and "--paid-col" in stderr


def test_kpis_bad_paid_date_names_the_line(orders: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(ORDERS.replace("2024-03-06", "soon"))
    stderr = fails_cleanly(invoke(["kpis", str(path), "--paid-col", "paid_on"]))
    assert "line 6" in stderr and "'soon'" in stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer_id,date,score\na,2024-03-02,11\n", "line 2"),
        ("customer_id,date,score\na,2024-03-02,8.5\n", "whole number"),
        ("customer_id,date,score\na,2024-03-02,great\n", "'great'"),
        ("customer_id,when,score\na,2024-03-02,9\n", "no date column"),
    ],
    ids=["out-of-range", "fraction", "text", "no-date-column"],
)
def test_kpis_bad_nps_file(orders: Path, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "nps.csv"
    path.write_text(text)
    stderr = fails_cleanly(invoke(["kpis", str(orders), "--nps", str(path)]))
    assert message in stderr


def test_kpis_loyal_orders_must_be_positive(orders: Path) -> None:
    result = invoke(["kpis", str(orders), "--loyal-orders", "0"])
    assert result.exit_code == 2


def test_rfm_summary_csv(orders: Path) -> None:
    result = ok(invoke(["rfm", str(orders), "--format", "csv"]))
    rows = parse_csv(result.stdout)
    assert list(rows[0]) == [
        "segment",
        "customers",
        "share",
        "revenue",
        "avg_recency_days",
        "avg_frequency",
        "avg_monetary",
    ]
    assert rows[0]["segment"] == "Champions" and rows[-1]["segment"] == "Lost"
    assert sum(int(r["customers"]) for r in rows) == 6
    assert sum(float(r["share"]) for r in rows) == pytest.approx(1.0)
    assert sum(float(r["revenue"]) for r in rows) == pytest.approx(400.0)


def test_rfm_per_customer_json(orders: Path) -> None:
    result = ok(
        invoke(["rfm", str(orders), "--per-customer", "--as-of", "2024-04-06", "-f", "json"])
    )
    data = json.loads(result.stdout)
    assert [r["customer_id"] for r in data] == ["a", "b", "c", "d", "e", "f"]
    a = data[0]
    # a: last purchase Mar 28 (9 days before Apr 6), 5 purchase days, 90.00 net.
    assert (a["recency_days"], a["frequency"], a["monetary"]) == (9, 5, 90.0)
    assert isinstance(a["rfm_score"], str) and len(a["rfm_score"]) == 3
    assert a["rfm_score"] == f"{a['r_score']}{a['f_score']}{a['m_score']}"
    f = data[-1]
    assert (f["recency_days"], f["r_score"]) == (1, 5)


def test_rfm_by_channel(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "customer_id,order_date,amount,channel\na,2024-01-01,5,web\nb,2024-01-02,5,shop\n"
    )
    result = ok(invoke(["rfm", str(path), "--by", "channel", "--per-customer", "-f", "csv"]))
    rows = parse_csv(result.stdout)
    assert [(r["channel"], r["customer_id"]) for r in rows] == [("shop", "b"), ("web", "a")]


@pytest.mark.parametrize("per_customer", [[], ["--per-customer"]])
def test_rfm_by_a_column_named_like_its_own_says_so(
    tmp_path: Path, per_customer: list[str]
) -> None:
    # A customers file's segment column against rfm's segment (Champions ... Lost).
    path = tmp_path / "o.csv"
    path.write_text("customer_id,order_date,amount,segment\na,2024-01-01,5,b2b\n")
    result = invoke(["rfm", str(path), "--by", "segment", *per_customer])
    fails_cleanly(result)
    assert "--by segment: the rfm table has a column of that name" in result.stderr
    assert "(e.g. by_segment)" in result.stderr


def test_rfm_refuses_the_subscription_basis(orders: Path) -> None:
    fails_cleanly(invoke(["rfm", str(orders), "--basis", "subscription"]))
