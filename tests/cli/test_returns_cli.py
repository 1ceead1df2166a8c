"""``retcalc returns`` end to end: output columns and values, warnings, exports, errors."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app

COLUMNS = [
    "period_start",
    "period_end",
    "orders",
    "orders_returned",
    "units_sold",
    "units_returned",
    "gross_sales",
    "refunded",
    "unit_return_rate",
    "value_return_rate",
    "order_return_rate",
    "complete",
]

# O1 (Jan) is partly returned in February, O3 (Feb) in full; C9 is a return with no sale.
ORDERS = """\
order_id,customer_id,order_date,product_id,quantity,amount,status,channel,segment
O1,A,2024-01-10,P1,2,20.00,completed,web,retail
O1,A,2024-02-05,P1,-1,-10.00,returned,web,retail
O2,B,2024-01-20,P2,1,15.00,completed,app,retail
O3,B,2024-02-10,P2,3,30.00,completed,app,retail
O3,B,2024-02-12,P2,-3,-30.00,returned,app,retail
O4,A,2024-02-11,P3,2,50.00,cancelled,web,retail
C9,A,2024-02-20,P1,-2,-8.00,,web,retail
"""

SHOPIFY = """\
Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Shipping,Taxes,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Cancelled at,Refunded Amount,Id,Source
#1001,ann@example.com,paid,2024-01-03 10:00:00 -0500,fulfilled,USD,30.00,2.00,0.00,32.00,2024-01-03 10:00:00 -0500,1,Mug,30.00,MUG-1,,0.00,5001,web
#1002,bob@example.com,paid,2024-01-20 11:00:00 -0500,fulfilled,USD,25.00,2.00,0.00,27.00,2024-01-20 11:00:00 -0500,2,Tea,10.00,TEA-1,,0.00,5002,pos
#1002,bob@example.com,,,,,,,,,2024-01-20 11:00:00 -0500,1,Spoon,5.00,SPN-1,,,,
#1003,ann@example.com,paid,2024-02-10 09:00:00 -0500,fulfilled,USD,15.00,2.00,0.00,17.00,2024-02-10 09:00:00 -0500,1,Tea,15.00,TEA-1,,0.00,5003,web
#1004,cat@example.com,refunded,2024-02-15 09:00:00 -0500,,USD,40.00,2.00,0.00,42.00,2024-02-15 09:00:00 -0500,1,Pot,40.00,POT-1,,42.00,5004,web
#1005,bob@example.com,paid,2024-03-05 23:30:00 -0500,fulfilled,USD,10.00,2.00,0.00,12.00,2024-03-05 23:30:00 -0500,1,Tea,10.00,TEA-1,,0.00,5005,pos
"""

UCI = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/10 8:26,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/10 8:26,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,12/13/10 8:28,1.85,13047.0,United Kingdom
C536379,D,Discount,-1,12/14/10 9:41,27.50,17850.0,United Kingdom
536500,22632,HAND WARMER RED POLKA DOT,12,1/5/11 10:00,1.85,17850.0,United Kingdom
"""

runner = CliRunner()


def invoke(args: Sequence[str], input: str | None = None) -> Result:
    return runner.invoke(app, ["returns", *args], input=input)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}\n{result.exception!r}"
    return result


def fails(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    return " ".join(result.stderr.split())


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_default_attribution_csv(tmp_path: Path) -> None:
    result = ok(invoke([write(tmp_path, "orders.csv", ORDERS), "--format", "csv"]))
    assert result.stdout.splitlines()[0] == ",".join(COLUMNS)
    table = pl.read_csv(io.StringIO(result.stdout))
    assert table.select("period_start", *COLUMNS[2:8]).rows() == [
        # Jan: O1 + O2 sold 3 units for 35; O1's February return belongs here.
        ("2024-01-01", 2, 1, 3, 1, 35.0, 10.0),
        # Feb: O3 returned in full; C9 (no sale) adds 2 units and 8.00 but no order;
        # O4 is cancelled: neither sold nor returned.
        ("2024-02-01", 1, 1, 3, 5, 30.0, 38.0),
    ]
    assert table["unit_return_rate"].to_list() == pytest.approx([1 / 3, 5 / 3])
    assert table["order_return_rate"].to_list() == [0.5, 1.0]
    assert table["complete"].to_list() == [True, False]
    assert "1 return line (2 units, 8.00 refunded) without a matching sale order" in " ".join(
        result.stderr.split()
    )


def test_by_return_date_json(tmp_path: Path) -> None:
    args = [write(tmp_path, "orders.csv", ORDERS), "--by-return-date", "--format", "json"]
    data = json.loads(ok(invoke(args)).stdout)
    assert [
        (r["period_start"], r["orders_returned"], r["units_returned"], r["refunded"]) for r in data
    ] == [
        ("2024-01-01", 0, 0, 0.0),
        ("2024-02-01", 2, 6, 48.0),
    ]
    assert data[0]["unit_return_rate"] == 0.0


def test_by_product_and_by_customer(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", ORDERS)
    by_product = pl.read_csv(
        io.StringIO(ok(invoke([path, "--by", "product_id", "--format", "csv"])).stdout)
    )
    assert by_product.columns[0] == "product_id"
    totals = (
        by_product.group_by("product_id")
        .agg(pl.col("units_sold", "units_returned").sum())
        .sort("product_id")
    )
    assert totals.rows() == [("P1", 2, 3), ("P2", 4, 3)]
    by_customer = pl.read_csv(
        io.StringIO(ok(invoke([path, "--by", "customer_id", "--format", "csv"])).stdout)
    )
    assert by_customer.columns[0] == "customer_id"
    assert by_customer.filter(pl.col("customer_id") == "B")["units_returned"].sum() == 3


def test_segment_from_the_customers_file(tmp_path: Path) -> None:
    orders = write(tmp_path, "orders.csv", ORDERS.replace(",segment", "").replace(",retail", ""))
    customers = write(tmp_path, "customers.csv", "customer_id,segment\nA,vip\nB,retail\n")
    out = ok(invoke([orders, "--customers", customers, "--by", "segment", "--format", "csv"]))
    table = pl.read_csv(io.StringIO(out.stdout))
    assert table.filter(pl.col("segment") == "retail")["units_returned"].to_list() == [0, 3]


def test_shopify_refunded_order(tmp_path: Path) -> None:
    out = ok(invoke([write(tmp_path, "shopify.csv", SHOPIFY), "--format", "csv"]))
    table = pl.read_csv(io.StringIO(out.stdout))
    # The refunded order (#1004) was sold in February and returned in full: 1 unit, 42.00.
    assert table.select("period_start", *COLUMNS[2:8]).rows() == [
        ("2024-01-01", 2, 0, 4, 0, 59.0, 0.0),
        ("2024-02-01", 2, 1, 2, 1, 59.0, 42.0),
        ("2024-03-01", 1, 0, 1, 0, 12.0, 0.0),
    ]


def test_uci_cancellation_invoice_is_counted_and_warned(tmp_path: Path) -> None:
    out = ok(invoke([write(tmp_path, "uci.csv", UCI), "--format", "csv"]))
    table = pl.read_csv(io.StringIO(out.stdout))
    assert table.select("period_start", *COLUMNS[2:8]).rows() == [
        ("2010-12-01", 2, 0, 18, 1, 46.74, 27.5),
        ("2011-01-01", 1, 0, 12, 0, 22.2, 0.0),
    ]
    assert "1 return line (1 units, 27.50 refunded) without a matching sale order" in " ".join(
        out.stderr.split()
    )


RETURNS = """\
Order Number,Return Date,qty,refund_amount
O1,2024-02-03,1,10.00
O3,2024-02-20,2,20.00
"""


def test_separate_returns_file_with_export_headers(tmp_path: Path) -> None:
    sales = "\n".join(line for line in ORDERS.splitlines() if ",-" not in line) + "\n"
    orders = write(tmp_path, "orders.csv", sales)
    returns = write(tmp_path, "returns.csv", RETURNS)
    table = pl.read_csv(
        io.StringIO(ok(invoke([orders, "--returns", returns, "--format", "csv"])).stdout)
    )
    assert table.select(*COLUMNS[2:8]).rows() == [
        (2, 1, 3, 1, 35.0, 10.0),
        (1, 1, 3, 2, 30.0, 20.0),
    ]
    # The returns file can come on stdin.
    piped = ok(invoke([orders, "--returns", "-", "--format", "csv"], input=RETURNS))
    assert pl.read_csv(io.StringIO(piped.stdout)).equals(table)


def test_returns_file_errors(tmp_path: Path) -> None:
    orders = write(tmp_path, "orders.csv", ORDERS)
    bad_date = write(
        tmp_path,
        "bad.csv",
        "order_id,return_date,quantity,amount\nO1,2024-02-03,1,5\nO3,soon,1,5\n",
    )
    message = fails(invoke([orders, "--returns", bad_date]))
    assert (
        "bad.csv" in message
        and "'return_date'" in message
        and "line 3" in message
        and "'soon'" in message
    )
    no_date = write(tmp_path, "nodate.csv", "order_id,quantity,amount\nO1,1,5\n")
    assert "no return_date column" in fails(invoke([orders, "--returns", no_date]))
    assert "stdin" in fails(invoke(["-", "--returns", "-"], input=ORDERS))


def test_no_returns_information_exits_2(tmp_path: Path) -> None:
    plain = "customer_id,order_date,amount,quantity\nA,2024-01-05,10,1\nB,2024-01-06,20,2\n"
    message = fails(invoke([write(tmp_path, "plain.csv", plain)]))
    assert "no returns information" in message
    assert "returned_quantity" in message and "--returns" in message


def test_top_products_json_with_minimum_volume(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", ORDERS)
    data = json.loads(
        ok(invoke([path, "--top", "5", "--min-units", "3", "--format", "json"])).stdout
    )
    # P1 sold 2 units (below 3); P2 sold 4 and had 3 returned.
    assert [(r["product_id"], r["units_sold"], r["units_returned"]) for r in data] == [("P2", 4, 3)]
    assert list(data[0]) == [
        "product_id", "units_sold", "units_returned", "unit_return_rate", "gross_sales",
        "refunded", "value_return_rate", "orders", "orders_returned", "order_return_rate",
    ]  # fmt: skip
    by_customer = json.loads(
        ok(
            invoke(
                [path, "--top", "1", "--by", "customer_id", "--min-units", "0", "--format", "json"]
            )
        ).stdout
    )
    assert by_customer[0]["customer_id"] == "A"  # 3 of 2 units back (with the unmatched C9)
    assert "--top ranks" in fails(invoke([path, "--top", "3", "--by", "channel"]))


def test_table_shows_percentages_and_fail_if(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", ORDERS)
    out = ok(invoke([path, "--format", "markdown", "--end", "2024-01-31"]))
    assert "33.3%" in out.stdout
    crossed = invoke([path, "--fail-if", "unit_return_rate > 0.2", "--format", "csv"])
    assert crossed.exit_code == 1
    assert "unit_return_rate" in crossed.stderr


def test_returns_columns_named_in_the_config(tmp_path: Path) -> None:
    orders = write(tmp_path, "orders.csv", ORDERS)
    returns = write(tmp_path, "returns.csv", "Ref,When,Pieces,Money\nO2,2024-03-01,1,15.00\n")
    config = write(
        tmp_path,
        "retcalc.yaml",
        "returns:\n  order_id: Ref\n  return_date: When\n  quantity: Pieces\n  amount: Money\n",
    )
    out = ok(invoke([orders, "--returns", returns, "--config", config, "--format", "csv"]))
    table = pl.read_csv(io.StringIO(out.stdout))
    # O2 (January) now has a return; the orders' own return lines still count for O1 and O3.
    assert table.select("orders_returned", "units_returned", "refunded").rows()[0] == (2, 2, 25.0)
    typo = write(tmp_path, "typo.yaml", "returns:\n  return_day: When\n")
    assert "not a returns column" in fails(invoke([orders, "--returns", returns, "--config", typo]))
