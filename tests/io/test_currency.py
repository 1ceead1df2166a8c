"""Currencies and minor units (``retcalc.io.currency``, docs/inputs.md): amounts in two
currencies are never summed; ``--currency``, ``--by currency`` and ``--fx`` are the ways
out; ``*_cents`` columns are divided by 100. Small hand-made exports in the real layouts,
every expected figure computed by hand in the comments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.io import batched
from retcalc.io.currency import MoneyPlan, Rates
from retcalc.io.load import ENGINE_VARIABLE

# Shopify line items: an order's first line carries Currency and Total; #1002's second
# line has neither (it takes its order's EUR). USD: #1001 (Jan, 32), #1003 (Feb, 17),
# #1006 (Mar, 10). EUR: #1002 (Jan, 27), #1004 (Feb 15, 42), #1005 (Mar, 12).
SHOPIFY = """\
Name,Email,Financial Status,Currency,Subtotal,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Refunded Amount
#1001,ann@example.com,paid,USD,30.00,32.00,2024-01-03 10:00:00 -0500,1,Mug,30.00,0.00
#1002,bob@example.com,paid,EUR,25.00,27.00,2024-01-20 11:00:00 +0100,2,Tea,10.00,0.00
#1002,bob@example.com,,,,,2024-01-20 11:00:00 +0100,1,Spoon,5.00,
#1003,ann@example.com,paid,usd ,15.00,17.00,2024-02-10 09:00:00 -0500,1,Tea,15.00,0.00
#1004,cat@example.com,paid,EUR,40.00,42.00,2024-02-15 09:00:00 +0100,1,Pot,40.00,0.00
#1005,bob@example.com,paid,eur,10.00,12.00,2024-03-05 09:00:00 +0100,1,Tea,10.00,0.00
#1006,dan@example.com,paid,USD,8.00,10.00,2024-03-06 09:00:00 -0500,1,Tea,8.00,0.00
"""

# Stripe's older unified payments: each charge in its own currency, and converted to the
# account's (USD): Converted Amount goes with Converted Currency.
STRIPE = """\
id,Description,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,Converted Amount Refunded,Fee,Converted Currency,Status,Customer ID,Customer Email,Captured
ch_1,,2024-01-05 10:00,20.00,0.00,eur,22.00,0.00,0.9,usd,Paid,cus_A,a@x.com,true
ch_2,,2024-01-06 10:00,30.00,0.00,usd,30.00,0.00,1.2,usd,Paid,cus_B,b@x.com,true
ch_3,,2024-02-07 10:00,10.00,0.00,eur,11.50,0.00,0.5,usd,Paid,cus_A,a@x.com,true
"""

MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def revenue(result: Result, *keys: str) -> dict[tuple[str, ...], float]:
    """Revenue per (key columns..., period_start) from ``kpis --format json``."""
    assert result.exit_code == 0, result.stderr
    return {
        (*(row[k] for k in keys), row["period_start"]): row["revenue"]
        for row in json.loads(result.stdout)
    }


def kpis(path: Path, *args: str) -> Result:
    return invoke("kpis", str(path), "--period", "month", "--format", "json", *args)


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def shopify(tmp_path: Path) -> Path:
    path = tmp_path / "orders_export.csv"
    path.write_text(SHOPIFY)
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# Two currencies.


def test_two_currencies_are_refused_naming_them_and_the_ways_out(shopify: Path) -> None:
    result = kpis(shopify)
    assert result.exit_code == 2
    assert result.stdout == ""
    message = " ".join(result.stderr.split())
    # Rows that name a currency, plus #1002's second line, counted in its order's EUR.
    assert "2 currencies, EUR (4 rows), USD (3 rows)" in message
    assert "column 'Currency' (currency)" in message
    for way in ("--currency CODE", "--by currency", "--fx", "--report-currency CODE"):
        assert way in message
    assert "Traceback" not in result.stderr


def test_currency_keeps_the_rows_of_one_and_says_what_was_left_out(shopify: Path) -> None:
    result = kpis(shopify, "--currency", "usd")
    assert revenue(result) == {("2024-01-01",): 32.0, ("2024-02-01",): 17.0, ("2024-03-01",): 10.0}
    assert "--currency USD left out 4 rows in other currencies: EUR (4 rows)" in " ".join(
        result.stderr.split()
    )
    # bob and cat bought only in EUR: Jan has ann only.
    assert [r["customers"] for r in json.loads(result.stdout)] == [1, 1, 1]


def test_currency_not_in_the_file(shopify: Path) -> None:
    result = kpis(shopify, "--currency", "GBP")
    assert result.exit_code == 2
    assert "no row in GBP; the currencies are EUR (4 rows), USD (3 rows)" in " ".join(
        result.stderr.split()
    )


def test_by_currency_shows_each_in_its_own(shopify: Path) -> None:
    found = revenue(kpis(shopify, "--by", "currency"), "currency")
    assert found == {
        ("EUR", "2024-01-01"): 27.0,
        ("EUR", "2024-02-01"): 42.0,
        ("EUR", "2024-03-01"): 12.0,
        ("USD", "2024-01-01"): 32.0,
        ("USD", "2024-02-01"): 17.0,
        ("USD", "2024-03-01"): 10.0,
    }


def test_fx_constant_rates(shopify: Path, tmp_path: Path) -> None:
    rates = write(tmp_path, "rates.csv", "currency,rate\nEUR,1.1\n")
    found = revenue(kpis(shopify, "--fx", str(rates), "--report-currency", "USD"))
    # Jan 32 + 27 x 1.1; Feb 17 + 42 x 1.1; Mar 10 + 12 x 1.1.
    assert found == {("2024-01-01",): 61.7, ("2024-02-01",): 63.2, ("2024-03-01",): 23.2}


def test_fx_dated_rates_use_the_latest_on_or_before_the_day(shopify: Path, tmp_path: Path) -> None:
    rates = write(
        tmp_path,
        "rates.csv",
        "date,currency,rate\n2024-01-01,EUR,1.1\n2024-02-15,EUR,1.2\n2024-03-01,eur,1.25\n"
        "2024-01-01,GBP,1.3\n",
    )
    found = revenue(kpis(shopify, "--fx", str(rates), "--report-currency", "usd"))
    # Jan 32 + 27 x 1.1; Feb 17 + 42 x 1.2 (a rate from that very day); Mar 10 + 12 x 1.25.
    assert found == {("2024-01-01",): 61.7, ("2024-02-01",): 67.4, ("2024-03-01",): 25.0}


def test_fx_to_the_other_currency(shopify: Path, tmp_path: Path) -> None:
    rates = write(tmp_path, "rates.csv", "currency,rate\nUSD,0.8\n")
    found = revenue(kpis(shopify, "--fx", str(rates), "--report-currency", "EUR"))
    # Jan 27 + 32 x 0.8; Feb 42 + 17 x 0.8; Mar 12 + 10 x 0.8.
    assert found == {("2024-01-01",): 52.6, ("2024-02-01",): 55.6, ("2024-03-01",): 20.0}


def test_a_row_before_the_first_rate_of_its_currency_is_named(
    shopify: Path, tmp_path: Path
) -> None:
    rates = write(tmp_path, "rates.csv", "currency,date,rate\nEUR,2024-02-01,1.2\n")
    result = kpis(shopify, "--fx", str(rates), "--report-currency", "USD")
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "line 3: EUR on 2024-01-20 has no rate in" in message
    assert "(its first rate is on 2024-02-01)" in message
    assert "(1 more such row)" in message  # #1002's second line


def test_a_currency_without_a_rate_is_named(shopify: Path, tmp_path: Path) -> None:
    rates = write(tmp_path, "rates.csv", "currency,rate\nGBP,1.3\n")
    result = kpis(shopify, "--fx", str(rates), "--report-currency", "USD")
    assert result.exit_code == 2
    assert "no rate for EUR (4 rows)" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("currency,rate\nEUR,abc\n", "column 'rate', line 2: cannot read 'abc'"),
        ("currency,rate\nEUR,1.1\neur,1.2\n", "line 3: a second rate for EUR"),
        ("currency,date,rate\nEUR,05/01/2024,1.1\n", "expected a date written YYYY-MM-DD"),
        ("code,value\nEUR,1.1\n", "no currency or rate column"),
    ],
    ids=["rate", "twice", "date", "columns"],
)
def test_bad_rates_files(shopify: Path, tmp_path: Path, text: str, words: str) -> None:
    rates = write(tmp_path, "rates.csv", text)
    result = kpis(shopify, "--fx", str(rates), "--report-currency", "USD")
    assert result.exit_code == 2
    assert words in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--fx", "rates.csv"], "--fx needs --report-currency"),
        (["--report-currency", "USD"], "--report-currency USD needs --fx FILE"),
        (["--currency", "US D"], "expected a currency code"),
    ],
)
def test_flags_that_need_each_other(shopify: Path, args: list[str], words: str) -> None:
    result = kpis(shopify, *args)
    assert result.exit_code == 2
    assert words in result.stderr


def test_report_currency_alone_is_fine_when_it_is_the_only_one(tmp_path: Path) -> None:
    path = write(tmp_path, "o.csv", "customer_id,order_date,amount,currency\na,2024-01-02,5,USD\n")
    assert revenue(kpis(path, "--report-currency", "USD")) == {("2024-01-01",): 5.0}


def test_no_currency_column(tmp_path: Path) -> None:
    path = write(tmp_path, "o.csv", "customer_id,order_date,amount\na,2024-01-02,5\n")
    assert revenue(kpis(path)) == {("2024-01-01",): 5.0}
    result = kpis(path, "--currency", "USD")
    assert result.exit_code == 2
    assert "--currency needs a currency column" in result.stderr
    assert "--currency-col" in result.stderr


def test_currency_col_flag(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "o.csv",
        "customer_id,order_date,amount,ccy\na,2024-01-02,5,USD\nb,2024-01-03,7,EUR\n",
    )
    assert revenue(kpis(path)) == {("2024-01-01",): 12.0}  # not recognised: one sum
    found = revenue(kpis(path, "--currency-col", "ccy", "--currency", "EUR"))
    assert found == {("2024-01-01",): 7.0}


# Rows without a currency.


def test_rows_without_a_currency_in_a_file_of_one_take_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "o.csv",
        "customer_id,order_date,amount,currency\na,2024-01-02,5,EUR\nb,2024-01-03,7,\n",
    )
    result = kpis(path, "--currency", "EUR")
    assert revenue(result) == {("2024-01-01",): 12.0}
    assert "1 row with an amount have no currency; counted in EUR" in " ".join(
        result.stderr.split()
    )


def test_rows_without_a_currency_in_a_file_of_several_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "o.csv",
        "customer_id,order_date,amount,currency,order_id\n"
        "a,2024-01-02,5,EUR,1\nb,2024-01-03,7,USD,2\nc,2024-01-04,9,,3\nc,2024-01-05,1,,3\n",
    )
    result = kpis(path, "--by", "currency")
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "line 4: 2 rows have no currency or another line of its order" in message
    assert "EUR (1 row), USD (1 row)" in message


# Stripe.


def test_stripe_converted_amount_goes_with_converted_currency(tmp_path: Path) -> None:
    path = write(tmp_path, "unified_payments.csv", STRIPE)
    result = kpis(path)
    assert revenue(result) == {("2024-01-01",): 52.0, ("2024-02-01",): 11.5}
    inspected = json.loads(invoke("inspect", str(path), "--json").stdout)
    assert inspected["currencies"] == {"USD": 3}
    columns = {c["column"]: c["source"] for c in inspected["columns"]}
    assert columns["currency"] == "Converted Currency"


def test_stripe_amount_goes_with_its_currency(tmp_path: Path) -> None:
    path = write(tmp_path, "unified_payments.csv", STRIPE)
    result = kpis(path, "--amount-col", "Amount")
    assert result.exit_code == 2
    assert "EUR (2 rows), USD (1 row)" in " ".join(result.stderr.split())
    found = revenue(kpis(path, "--amount-col", "Amount", "--currency", "EUR"))
    assert found == {("2024-01-01",): 20.0, ("2024-02-01",): 10.0}


def test_inspect_lists_the_currencies(shopify: Path) -> None:
    result = invoke("inspect", str(shopify), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["currencies"] == {"EUR": 3, "USD": 3}
    assert summary["rows_without_currency"] == 1
    columns = {c["column"]: (c["source"], c["found_by"]) for c in summary["columns"]}
    assert columns["currency"] == ("Currency", "export:shopify")


# Minor units.

DUMP = "user_id,created_at,total_cents\nu1,2024-01-03,1999\nu2,2024-01-10,500\nu1,2024-02-01,250\n"


def test_cents_are_divided_by_100_and_said_once(tmp_path: Path) -> None:
    path = write(tmp_path, "dump.csv", DUMP)
    result = kpis(path)
    # Jan 19.99 + 5.00; Feb 2.50.
    assert revenue(result) == {("2024-01-01",): 24.99, ("2024-02-01",): 2.5}
    assert result.stderr.count("minor units") == 1
    assert "column 'total_cents' (amount)" in result.stderr
    assert "--amount-scale 1" in " ".join(result.stderr.split())


def test_amount_scale_one_keeps_units(tmp_path: Path) -> None:
    path = write(tmp_path, "dump.csv", DUMP)
    result = kpis(path, "--amount-scale", "1")
    assert revenue(result) == {("2024-01-01",): 2499.0, ("2024-02-01",): 250.0}
    assert "minor units" not in result.stderr


def test_amount_scale_applies_to_every_money_column(tmp_path: Path) -> None:
    # Value = quantity x unit price when there is no amount: 2 x 150 and 1 x 1000 yen
    # written in hundredths.
    path = write(
        tmp_path,
        "o.csv",
        "customer_id,order_date,quantity,unit_price\na,2024-01-02,2,150\nb,2024-01-09,1,1000\n",
    )
    assert revenue(kpis(path, "--amount-scale", "0.01")) == {("2024-01-01",): 13.0}
    assert revenue(kpis(path)) == {("2024-01-01",): 1300.0}


@pytest.mark.parametrize("scale", ["0", "-1"])
def test_amount_scale_must_be_positive(tmp_path: Path, scale: str) -> None:
    path = write(tmp_path, "dump.csv", DUMP)
    result = kpis(path, f"--amount-scale={scale}")
    assert result.exit_code == 2
    assert "expected a positive number" in result.stderr


@pytest.mark.parametrize(
    "header", ["amount_cents", "amount_minor", "total_in_cents", "gross_amount", "total_amount"]
)
def test_amount_synonyms(tmp_path: Path, header: str) -> None:
    path = write(tmp_path, "o.csv", f"user_id,created_at,{header}\nu1,2024-01-03,1200\n")
    minor = header.endswith(("cents", "minor"))
    assert revenue(kpis(path)) == {("2024-01-01",): 12.0 if minor else 1200.0}


# The conversion itself.


def test_convert_scales_and_converts_every_money_column() -> None:
    plan = MoneyPlan(
        source="currency",
        scales=(("amount", 0.01), ("refund_amount", 0.01)),
        rates=Rates("r.csv", "USD", ("EUR", "USD"), (1.1, 1.0)),
        keep="EUR",
    )
    frame = pl.DataFrame(
        {"_currency": ["EUR", "USD"], "amount": [1000.0, 500.0], "refund_amount": [200.0, None]}
    )
    out = plan.convert(frame).with_columns(pl.col("amount", "refund_amount").round(9))
    assert out["amount"].to_list() == [11.0, 5.0]
    assert out["refund_amount"].to_list() == [2.2, None]
    assert frame.filter(plan.kept())["amount"].to_list() == [1000.0]  # type: ignore[arg-type]


# The streaming reader agrees.


def _same_both_ways(args: list[str], monkeypatch: pytest.MonkeyPatch, rows: int = 2) -> Result:
    monkeypatch.setattr(batched, "BATCH_ROWS", rows)
    out: list[Any] = []
    for engine in ("in-memory", "streaming"):
        monkeypatch.setenv(ENGINE_VARIABLE, engine)
        result = invoke(*args)
        out.append((result.exit_code, result.stdout, result.stderr))
    assert out[0] == out[1]
    return result


@pytest.mark.parametrize(
    "extra",
    [
        ["--currency", "EUR"],
        ["--by", "currency"],
        ["--fx", "rates.csv", "--report-currency", "USD"],
        ["--fx", "dated.csv", "--report-currency", "USD"],
        ["--fx", "late.csv", "--report-currency", "USD"],
        [],
    ],
    ids=["currency", "by", "fx", "fx-dated", "fx-too-late", "refused"],
)
@pytest.mark.parametrize("command", ["retention", "kpis", "clv", "returns", "cohorts"])
def test_streaming_reader_agrees(
    shopify: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    extra: list[str],
) -> None:
    write(tmp_path, "rates.csv", "currency,rate\nEUR,1.1\n")
    write(tmp_path, "dated.csv", "currency,date,rate\nEUR,2024-01-01,1.1\nEUR,2024-02-15,1.2\n")
    write(tmp_path, "late.csv", "currency,date,rate\nEUR,2024-02-01,1.2\n")
    args = [command, str(shopify), "--format", "csv", *extra]
    if command == "cohorts":
        args += ["--metric", "revenue"]
    _same_both_ways(args, monkeypatch)


def test_streaming_reader_agrees_on_cents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "dump.csv", DUMP)
    result = _same_both_ways(["kpis", str(path), "--period", "month", "-f", "json"], monkeypatch)
    assert revenue(result) == {("2024-01-01",): 24.99, ("2024-02-01",): 2.5}
