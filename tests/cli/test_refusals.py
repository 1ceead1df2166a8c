"""Options that would give a wrong or meaningless table are refused (exit 2, a reason and
what to use instead), never ignored: ``--by`` of a measure or of a row's identity, date
or status; ``--period``/``--active-window`` where they do not apply; ``report --engine``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app

# a buys on the web in Jan and Feb, b in the shop in Jan, c on the web in Mar.
ORDERS = """\
order_id,customer_id,order_date,quantity,unit_price,amount,status,channel
1,a,2024-01-10,1,10.00,10.00,paid,web
2,b,2024-01-20,2,10.00,20.00,paid,shop
3,a,2024-02-05,3,10.00,30.00,paid,web
4,c,2024-03-01,4,10.00,40.00,paid,web
"""

# Shopify's own headers: Total is read as amount, Financial Status as status, Name as
# the order id, Created at as the order date.
SHOPIFY = """\
Name,Email,Financial Status,Total,Created at,Lineitem quantity,Lineitem name,Source
#1001,ann@example.com,paid,32.00,2024-01-03 10:00:00 -0500,1,Mug,web
#1002,bob@example.com,paid,27.00,2024-01-20 11:00:00 -0500,2,Tea,pos
#1003,ann@example.com,paid,17.00,2024-02-10 09:00:00 -0500,1,Tea,web
"""

runner = CliRunner()


def invoke(args: Sequence[str]) -> Result:
    return runner.invoke(app, list(args))


def fails_cleanly(result: Result) -> str:
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return " ".join(result.stderr.split())


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


NOT_DIMENSIONS = [
    ("amount", "is a measure"),
    ("quantity", "is a measure"),
    ("unit_price", "is a measure"),
    ("order_id", "every order would be a group of its own"),
    ("order_date", "use --period"),
    ("status", "decides which rows count"),
]
COMMANDS = [
    ["retention"],
    ["churn"],
    ["cohorts"],
    ["kpis"],
    ["clv"],
    ["rfm"],
    ["returns"],
]


@pytest.mark.parametrize(("column", "why"), NOT_DIMENSIONS, ids=[c for c, _ in NOT_DIMENSIONS])
@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_by_a_measure_or_row_identity_is_refused(
    orders: Path, command: list[str], column: str, why: str
) -> None:
    message = fails_cleanly(invoke([*command, str(orders), "--by", column, "-f", "csv"]))
    assert f"--by {column}: {column} " in message
    assert why in message
    assert "not a dimension" in message
    assert "channel, segment, product_id or any other column of the file" in message


@pytest.mark.parametrize(
    ("column", "canonical"),
    [("Total", "amount"), ("Financial Status", "status"), ("Name", "order_id")],
)
def test_by_a_column_read_as_a_measure_or_identity_is_refused(
    tmp_path: Path, column: str, canonical: str
) -> None:
    path = tmp_path / "shopify.csv"
    path.write_text(SHOPIFY)
    message = fails_cleanly(invoke(["retention", "shopify.csv", "--by", column]))
    assert f"--by {column}: shopify.csv reads '{column}' as {canonical}" in message


def test_by_a_dimension_still_splits(orders: Path) -> None:
    result = invoke(["retention", str(orders), "--by", "channel", "-w", "1mo", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # shop: b is new in Jan; web: a new in Jan, c new in Mar.
    new = {(r["channel"], r["period_start"]): int(r["new_customers"]) for r in rows}
    assert new[("shop", "2024-01-01")] == 1
    assert new[("web", "2024-01-01")] == 1
    assert new[("web", "2024-03-01")] == 1
    assert sum(new.values()) == 3


def test_returns_by_customer_still_works(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,order_date,quantity,amount\n"
        "1,a,2024-01-10,2,20.00\n1,a,2024-01-15,-1,-10.00\n2,b,2024-01-20,1,5.00\n"
    )
    result = invoke(["returns", str(path), "--by", "customer_id", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["a"]["units_sold"] == "2" and rows["a"]["units_returned"] == "1"
    assert rows["b"]["units_returned"] == "0"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["rfm", "--period", "week"], "rfm takes no --period"),
        (["rfm", "-p", "month"], "rfm takes no --period"),
        (["rfm", "--active-window", "3mo"], "rfm takes no --active-window"),
        (["rfm", "--per-customer", "-w", "30d"], "rfm takes no --active-window"),
        (["clv", "--period", "quarter"], "clv takes no --period"),
        (["clv", "-m", "formula", "-p", "year"], "clv takes no --period"),
        (["clv", "-w", "3mo"], "clv --model historical takes no --active-window"),
        (["clv", "-m", "bgnbd", "-w", "3mo"], "clv --model bgnbd takes no --active-window"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_options_that_do_not_apply_are_refused(orders: Path, args: list[str], words: str) -> None:
    message = fails_cleanly(invoke([args[0], str(orders), *args[1:]]))
    assert words in message


def test_rfm_and_clv_without_those_options_still_run(orders: Path) -> None:
    for args in (["rfm"], ["clv"]):
        result = invoke([args[0], str(orders), "-f", "csv"])
        assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "args", [["--engine", "spark"], ["--spark-master", "local[2]"]], ids=["engine", "master"]
)
def test_report_refuses_spark(orders: Path, tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "report.json"
    message = fails_cleanly(invoke(["report", str(orders), "-o", str(out), *args]))
    assert "a report is computed in this process (--engine polars)" in message
    assert "with --engine spark for the tables on Spark" in message
    assert not out.exists()


def test_report_with_engine_polars_runs(orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = invoke(
        ["report", str(orders), "-o", str(out), "--engine", "polars", "--section", "kpis"]
    )
    assert result.exit_code == 0, result.stderr
    assert out.is_file()
