"""The command line end to end: formats, stdout/stderr, exit codes, errors (SPEC §3-§6).

Every test runs ``retcalc`` through Typer's CliRunner (stdout and stderr kept
apart) on small CSV files written into ``tmp_path``, and parses what comes out.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app

RETENTION_COLUMNS = [
    "period_start",
    "period_end",
    "customers_start",
    "new_customers",
    "customers_end",
    "retained",
    "churned",
    "reactivated",
    "new_lost",
    "returning",
    "crr",
    "retention_rate",
    "churn_rate",
    "repeat_rate",
    "complete",
]
CHURN_SPEC_COLUMNS = {
    "period_start",
    "period_end",
    "customers_start",
    "churned",
    "churn_rate",
    "nrr",
    "grr",
    "lost_revenue",
    "new_revenue",
    "expansion",
    "contraction",
    "churned_revenue",
    "reactivation_revenue",
    "quick_ratio",
    "complete",
}
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A shop's orders with canonical names: c1 buys in Jan and Feb, c2 in Jan and Apr,
# c3 in Mar; one row has no customer id. With a one-month window the months are:
#   Jan: CS 0, CN 2, CE 2                     (incomplete: s - W before first order)
#   Feb: CS 2, CE 1 (c1), churned 1 (c2)      (incomplete: s - W before first order)
#   Mar: CS 1, CN 1 (c3), CE 1, churned 1     (complete)
#   Apr: CS 1, CE 1 (c2 reactivated)          (incomplete: ends after the data)
ORDERS = """\
customer_id,order_date,amount,channel
c1,2023-01-05,10.00,web
c2,2023-01-20,20.00,shop
c1,2023-02-10,15.00,web
c3,2023-03-01,30.00,web
,2023-03-02,5.00,web
c2,2023-04-15,25.00,shop
"""

EXPECTED_1MO = [
    # start, end, CS, CN, CE, retained, churned, reactivated, new_lost, returning,
    # crr, retention, churn, repeat, complete
    ("2023-01-01", "2023-02-01", 0, 2, 2, 0, 0, 0, 0, 0, None, None, None, None, False),
    ("2023-02-01", "2023-03-01", 2, 0, 1, 1, 1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5, False),
    ("2023-03-01", "2023-04-01", 1, 1, 1, 0, 1, 0, 0, 0, 0.0, 0.0, 1.0, 0.0, True),
    ("2023-04-01", "2023-05-01", 1, 0, 1, 0, 1, 1, 0, 0, 1.0, 0.0, 1.0, 0.0, False),
]

# Shopify "Orders > Export": line items, only an order's first line carries Total,
# the customer is the Email, dates carry the store's UTC offset; one order is refunded.
SHOPIFY = """\
Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Shipping,Taxes,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Cancelled at,Refunded Amount,Id,Source
#1001,ann@example.com,paid,2024-01-03 10:00:00 -0500,fulfilled,USD,30.00,2.00,0.00,32.00,2024-01-03 10:00:00 -0500,1,Mug,30.00,MUG-1,,0.00,5001,web
#1002,bob@example.com,paid,2024-01-20 11:00:00 -0500,fulfilled,USD,25.00,2.00,0.00,27.00,2024-01-20 11:00:00 -0500,2,Tea,10.00,TEA-1,,0.00,5002,pos
#1002,bob@example.com,,,,,,,,,2024-01-20 11:00:00 -0500,1,Spoon,5.00,SPN-1,,,,
#1003,ann@example.com,paid,2024-02-10 09:00:00 -0500,fulfilled,USD,15.00,2.00,0.00,17.00,2024-02-10 09:00:00 -0500,1,Tea,15.00,TEA-1,,0.00,5003,web
#1004,cat@example.com,refunded,2024-02-15 09:00:00 -0500,,USD,40.00,2.00,0.00,42.00,2024-02-15 09:00:00 -0500,1,Pot,40.00,POT-1,,42.00,5004,web
#1005,bob@example.com,paid,2024-03-05 23:30:00 -0500,fulfilled,USD,10.00,2.00,0.00,12.00,2024-03-05 23:30:00 -0500,1,Tea,10.00,TEA-1,,0.00,5005,pos
#1006,,paid,2024-03-06 09:00:00 -0500,fulfilled,USD,10.00,2.00,0.00,12.00,2024-03-06 09:00:00 -0500,1,Tea,10.00,TEA-1,,0.00,5006,pos
"""

# UCI Online Retail I: month-first two-digit-year dates, float customer ids,
# a "C" cancellation with negative quantity, a row with no customer.
UCI = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/10 8:26,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/10 8:26,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,12/13/10 8:28,1.85,13047.0,United Kingdom
C536379,D,Discount,-1,12/14/10 9:41,27.50,17850.0,United Kingdom
536414,22139,RETROSPOT TEA SET,56,12/15/10 11:52,0.00,,United Kingdom
536500,22632,HAND WARMER RED POLKA DOT,12,1/5/11 10:00,1.85,17850.0,United Kingdom
"""

runner = CliRunner()


def invoke(args: Sequence[str], input: str | bytes | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}\n{result.exception!r}"
    return result


def fails_cleanly(result: Result, code: int = 2) -> str:
    """The run failed with ``code``, through an exit (no uncaught exception), without a traceback."""
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    return result.stderr


def parse_csv(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory so a ./retcalc.yaml of the checkout cannot change results."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


def as_json_rows(expected: list[tuple[object, ...]]) -> list[dict[str, object]]:
    return [dict(zip(RETENTION_COLUMNS, row, strict=True)) for row in expected]


# Formats.


def test_retention_json(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--format", "json"]))
    data = json.loads(result.stdout)
    assert [list(row) for row in data] == [RETENTION_COLUMNS] * 4
    assert data == as_json_rows(EXPECTED_1MO)


def test_retention_ndjson(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--format", "ndjson"]))
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == as_json_rows(EXPECTED_1MO)


@pytest.mark.parametrize(("fmt", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_retention_csv_and_tsv(orders: Path, fmt: str, delimiter: str) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--format", fmt]))
    assert result.stdout.splitlines()[0] == delimiter.join(RETENTION_COLUMNS)
    rows = parse_csv(result.stdout, delimiter)
    assert len(rows) == 4
    first, second = rows[0], rows[1]
    # Nulls are empty cells, rates are fractions, booleans are words, dates are ISO.
    assert first["crr"] == "" and first["churn_rate"] == ""
    assert float(second["crr"]) == 0.5 and float(second["retention_rate"]) == 0.5
    assert [r["complete"] for r in rows] == ["false", "false", "true", "false"]
    assert all(ISO_DAY.match(r["period_start"]) and ISO_DAY.match(r["period_end"]) for r in rows)
    assert [int(r["customers_end"]) for r in rows] == [2, 1, 1, 1]


def test_retention_markdown(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--format", "markdown"]))
    lines = result.stdout.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == RETENTION_COLUMNS
    assert set(lines[1].replace("|", "").replace(" ", "")) <= {"-", ":"}
    assert len(lines) == 2 + 4
    assert "2023-03-01" in lines[4]


def test_retention_parquet_to_a_file(orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--output", str(out)]))
    assert result.stdout == ""
    frame = pl.read_parquet(out)
    assert frame.columns == RETENTION_COLUMNS
    assert frame.schema["period_start"] == pl.Date
    assert frame.schema["complete"] == pl.Boolean
    assert frame["crr"].to_list() == [None, 0.5, 0.0, 1.0]
    assert frame["customers_start"].to_list() == [0, 2, 1, 1]


def test_retention_parquet_format_to_stdout(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--format", "parquet"]))
    frame = pl.read_parquet(io.BytesIO(result.stdout_bytes))
    assert frame.columns == RETENTION_COLUMNS
    assert frame.height == 4


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("x.json", lambda p: json.loads(p.read_text())),
        ("x.ndjson", lambda p: [json.loads(line) for line in p.read_text().splitlines()]),
        ("x.csv", lambda p: parse_csv(p.read_text())),
        ("x.tsv", lambda p: parse_csv(p.read_text(), "\t")),
    ],
    ids=["json", "ndjson", "csv", "tsv"],
)
def test_output_format_is_inferred_from_the_extension(
    orders: Path, tmp_path: Path, name: str, read: object
) -> None:
    out = tmp_path / name
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--output", str(out)]))
    assert result.stdout == ""
    rows = read(out)  # type: ignore[operator]
    assert len(rows) == 4
    assert list(rows[0]) == RETENTION_COLUMNS


def test_output_json_values(orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    ok(invoke(["retention", str(orders), "-w", "1mo", "-o", str(out)]))
    assert json.loads(out.read_text()) == as_json_rows(EXPECTED_1MO)


def test_stdout_is_csv_by_default_off_a_terminal(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo"]))
    assert result.stdout.splitlines()[0] == ",".join(RETENTION_COLUMNS)
    assert len(parse_csv(result.stdout)) == 4


def test_stdin_input(orders: Path) -> None:
    from_file = ok(invoke(["retention", str(orders), "-w", "1mo"])).stdout
    from_stdin = ok(invoke(["retention", "-", "-w", "1mo"], input=ORDERS.encode()))
    assert from_stdin.stdout == from_file
    assert "<stdin>" in from_stdin.stderr


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_churn_formats(orders: Path, fmt: str) -> None:
    result = ok(invoke(["churn", str(orders), "-w", "1mo", "--format", fmt]))
    rows = json.loads(result.stdout) if fmt == "json" else parse_csv(result.stdout)
    assert len(rows) == 4
    assert set(rows[0]) >= CHURN_SPEC_COLUMNS
    assert list(rows[0])[:2] == ["period_start", "period_end"]
    assert all(ISO_DAY.match(str(r["period_start"])) for r in rows)
    empty = None if fmt == "json" else ""
    assert rows[0]["churn_rate"] == empty  # no customers at the start of January
    assert rows[0]["nrr"] == empty
    # Same definition of churn as the retention table.
    assert [float(r["churn_rate"]) for r in rows[1:]] == [0.5, 1.0, 1.0]  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["ndjson", "tsv", "markdown", "parquet"])
def test_churn_other_formats(orders: Path, tmp_path: Path, fmt: str) -> None:
    if fmt == "parquet":
        out = tmp_path / "churn.parquet"
        ok(invoke(["churn", str(orders), "-w", "1mo", "-o", str(out)]))
        frame = pl.read_parquet(out)
        assert set(frame.columns) >= CHURN_SPEC_COLUMNS
        assert frame.schema["period_start"] == pl.Date
        assert frame["churn_rate"].to_list() == [None, 0.5, 1.0, 1.0]
        return
    result = ok(invoke(["churn", str(orders), "-w", "1mo", "--format", fmt]))
    if fmt == "ndjson":
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["churn_rate"] for r in rows] == [None, 0.5, 1.0, 1.0]
    elif fmt == "tsv":
        rows = parse_csv(result.stdout, "\t")
        assert [r["churn_rate"] for r in rows] == ["", "0.5", "1.0", "1.0"]
    else:
        header = [c.strip() for c in result.stdout.splitlines()[0].strip("|").split("|")]
        assert set(header) >= CHURN_SPEC_COLUMNS


def test_churn_needs_an_amount(tmp_path: Path) -> None:
    path = tmp_path / "no_amount.csv"
    path.write_text("customer_id,order_date\na,2024-01-01\n")
    stderr = fails_cleanly(invoke(["churn", str(path)]))
    assert "amount" in stderr and "--amount-col" in stderr


# stdout carries data only.


def test_warning_goes_to_stderr_and_stdout_still_parses(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo"]))
    assert "retcalc: warning:" in result.stderr
    assert "1 rows have no customer id" in result.stderr
    assert "warning" not in result.stdout
    rows = parse_csv(result.stdout)
    assert list(rows[0]) == RETENTION_COLUMNS and len(rows) == 4


def test_many_empty_ids_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    body = "".join(f",2024-01-{d:02d}\n" for d in range(1, 8)) + "a,2024-01-09\n"
    path.write_text("customer_id,order_date\n" + body)
    result = ok(invoke(["retention", str(path), "--format", "json"]))
    assert "7 rows have no customer id" in result.stderr
    assert json.loads(result.stdout)[0]["new_customers"] == 1


# Never overwrite an input.


@pytest.mark.parametrize("spelling", ["same", "dotdot"])
def test_output_onto_the_input_is_refused(orders: Path, tmp_path: Path, spelling: str) -> None:
    target = str(orders) if spelling == "same" else str(tmp_path / "sub" / ".." / orders.name)
    (tmp_path / "sub").mkdir()
    before = orders.read_bytes()
    stderr = fails_cleanly(invoke(["retention", str(orders), "--output", target]))
    assert "orders.csv" in stderr
    assert orders.read_bytes() == before


def test_output_onto_the_customers_file_is_refused(orders: Path, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS)
    before = customers.read_bytes()
    args = ["retention", str(orders), "--customers", str(customers), "-o", str(customers)]
    stderr = fails_cleanly(invoke(args))
    assert "customers.csv" in stderr
    assert customers.read_bytes() == before


def test_output_onto_a_file_matched_by_the_input_glob_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jan.csv").write_text("customer_id,order_date\na,2024-01-05\n")
    (tmp_path / "feb.csv").write_text("customer_id,order_date\nb,2024-02-05\n")
    before = (tmp_path / "jan.csv").read_bytes()
    result = invoke(["retention", str(tmp_path / "*.csv"), "-o", str(tmp_path / "jan.csv")])
    assert (tmp_path / "jan.csv").read_bytes() == before
    fails_cleanly(result)


def test_output_onto_a_parquet_file_of_the_input_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    part = folder / "part-0.parquet"
    pl.DataFrame({"customer_id": ["a"], "order_date": ["2024-01-05"]}).write_parquet(part)
    before = part.read_bytes()
    result = invoke(["retention", str(folder), "-o", str(part)])
    assert part.read_bytes() == before
    fails_cleanly(result)


# Bad usage and bad input: exit 2, a message, no traceback.


def test_missing_argument() -> None:
    stderr = fails_cleanly(invoke(["retention"]))
    assert "Missing argument" in stderr


def test_stdin_twice_is_refused(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", "-", "--customers", "-"], input=ORDERS))
    assert "stdin" in stderr


def test_missing_file(tmp_path: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", str(tmp_path / "nope.csv")]))
    assert "nope.csv" in stderr and "no such file" in stderr


def test_missing_column_names_it_and_suggests(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("custmer,order_date\na,2024-01-01\n")
    stderr = fails_cleanly(invoke(["retention", str(path)]))
    assert stderr.startswith("retcalc: error:")
    assert "orders.csv" in stderr and "customer_id" in stderr
    assert "'custmer'" in stderr and "--customer-col" in stderr


def test_missing_flag_column_suggests(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), "--customer-col", "customerid_x"]))
    assert "'customerid_x'" in stderr and "'customer_id'" in stderr


def test_bad_date_names_file_column_line_value(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_date\na,2024-01-01\nb,2024-01-02\nc,2024-13-45\nd,2024-01-04\n"
    )
    stderr = fails_cleanly(invoke(["retention", str(path)]))
    assert "orders.csv" in stderr
    assert "'order_date'" in stderr
    assert "line 4" in stderr
    assert "'2024-13-45'" in stderr


def test_ambiguous_dates_suggest_date_format_and_the_flag_works(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_date\na,01/02/2024\nb,03/04/2024\n")
    stderr = fails_cleanly(invoke(["retention", str(path)]))
    assert "--date-format" in stderr
    result = ok(invoke(["retention", str(path), "--date-format", "dmy", "-f", "json"]))
    assert json.loads(result.stdout)[0]["period_start"] == "2024-02-01"


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "empty"), (b"customer_id,order_date,amount\n", "header.csv")],
    ids=["empty", "header-only"],
)
def test_empty_and_header_only_files(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "header.csv"
    path.write_bytes(content)
    stderr = fails_cleanly(invoke(["retention", str(path)]))
    assert "header.csv" in stderr and words in stderr


def test_binary_input(tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")
    stderr = fails_cleanly(invoke(["retention", str(path)]))
    assert "orders.xlsx" in stderr and "binary" in stderr


def test_bad_period(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), "--period", "fortnight"]))
    assert "--period" in stderr and "fortnight" in stderr


@pytest.mark.parametrize("window", ["12 months", "0d", "-3mo", "soon"])
def test_bad_active_window(orders: Path, window: str) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), f"--active-window={window}"]))
    assert "--active-window" in stderr and "30d" in stderr


def test_end_before_start(orders: Path) -> None:
    stderr = fails_cleanly(
        invoke(["retention", str(orders), "--start", "2023-03-01", "--end", "2023-01-01"])
    )
    assert "--end" in stderr and "--start" in stderr


@pytest.mark.parametrize("flag", ["--start", "--end", "--as-of"])
def test_bad_date_option(orders: Path, flag: str) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), flag, "31/01/2023"]))
    assert flag in stderr and "YYYY-MM-DD" in stderr


def test_unknown_output_extension(orders: Path, tmp_path: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), "-o", str(tmp_path / "x.xls")]))
    assert ".xls" in stderr


def test_unsafe_yaml_config_is_refused_not_run(orders: Path, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    config = tmp_path / "evil.yaml"
    config.write_text(f"orders: !!python/object/apply:os.mkdir [{str(target)!r}]\n")
    stderr = fails_cleanly(invoke(["retention", str(orders), "--config", str(config)]))
    assert "evil.yaml" in stderr
    assert not target.exists()


def test_config_maps_columns(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("Kunde,Datum\nA,2024-01-05\nB,2024-02-05\n")
    config = tmp_path / "map.yaml"
    config.write_text("orders:\n  columns:\n    customer_id: Kunde\n    order_date: Datum\n")
    result = ok(invoke(["retention", str(data), "--config", str(config), "-f", "json"]))
    assert sum(r["new_customers"] for r in json.loads(result.stdout)) == 2


def test_odd_csv_never_shows_a_traceback(tmp_path: Path) -> None:
    """A ragged or odd CSV still fails through the runner, never with a traceback."""
    path = tmp_path / "odd.csv"
    path.write_text('customer_id,order_date\n"a,2024-01-01\n')
    result = invoke(["retention", str(path)])
    assert result.exit_code in (0, 2)
    assert isinstance(result.exception, SystemExit | None)
    assert "Traceback" not in result.stderr


# crr by hand (SPEC §2.3).


@pytest.mark.parametrize(
    ("cs", "cn", "ce", "expected"),
    [(1000, 200, 800, 0.6), (100, 20, 110, 0.9), (50000, 1000, 40000, 0.78)],
)
def test_crr_worked_examples(cs: int, cn: int, ce: int, expected: float) -> None:
    args = ["crr", "--start", str(cs), "--new", str(cn), "--end", str(ce)]
    data = json.loads(ok(invoke([*args, "--format", "json"])).stdout)
    assert data == [
        {
            "customers_start": cs,
            "new_customers": cn,
            "customers_end": ce,
            "crr": pytest.approx(expected, abs=1e-12),
        }
    ]
    rows = parse_csv(ok(invoke(args)).stdout)
    assert float(rows[0]["crr"]) == pytest.approx(expected, abs=1e-12)


def test_crr_not_the_copied_slip() -> None:
    """50000/1000/40000 is 78 %, not 81 % (40000 / 49000)."""
    data = json.loads(
        ok(
            invoke(["crr", "--start", "50000", "--new", "1000", "--end", "40000", "-f", "json"])
        ).stdout
    )
    assert round(data[0]["crr"], 4) == 0.78


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--start", "-5", "--new", "1", "--end", "3"], "negative"),
        (["--start", "10", "--new", "-1", "--end", "3"], "negative"),
        (["--start", "10", "--new", "1", "--end", "-3"], "negative"),
        (["--start", "0", "--new", "1", "--end", "3"], "--start 0"),
        (["--start", "10", "--new", "5", "--end", "3"], "--new 5"),
        (["--start", "ten", "--new", "5", "--end", "3"], "--start"),
        (["--start", "10", "--end", "3"], "--new"),
    ],
    ids=[
        "negative-cs",
        "negative-cn",
        "negative-ce",
        "cs-zero",
        "cn-above-ce",
        "not-int",
        "missing",
    ],
)
def test_crr_errors(args: list[str], words: str) -> None:
    stderr = fails_cleanly(invoke(["crr", *args]))
    assert words in stderr


# --fail-if for cron (SPEC §5).


def test_fail_if_crossed_exits_1_and_still_writes(orders: Path) -> None:
    result = invoke(["retention", str(orders), "-w", "1mo", "--fail-if", "churn_rate > 0.5"])
    assert result.exit_code == 1, result.stderr
    assert isinstance(result.exception, SystemExit)
    rows = parse_csv(result.stdout)
    assert len(rows) == 4 and list(rows[0]) == RETENTION_COLUMNS
    assert "churn_rate" in result.stderr
    assert "2023-03-01" in result.stderr  # the last complete period
    assert re.search(r"churn_rate = 1(\.0*)? ", result.stderr)
    assert "Traceback" not in result.stderr


def test_fail_if_not_crossed_exits_0(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--fail-if", "churn_rate > 1"]))
    assert len(parse_csv(result.stdout)) == 4
    assert "threshold" not in result.stderr


def test_fail_if_percent_and_several_conditions(orders: Path) -> None:
    result = invoke(
        [
            "retention",
            str(orders),
            "-w",
            "1mo",
            "--fail-if",
            "crr > 5%",
            "--fail-if",
            "churn_rate >= 100%",
        ]
    )
    assert result.exit_code == 1
    assert "churn_rate" in result.stderr
    assert "crr" not in result.stderr.replace("retcalc", "")  # crr is 0 in March


def test_fail_if_output_file_is_still_written(orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = invoke(
        ["retention", str(orders), "-w", "1mo", "-o", str(out), "--fail-if", "churn_rate > 0.5"]
    )
    assert result.exit_code == 1
    assert len(json.loads(out.read_text())) == 4


def test_fail_if_unknown_column_lists_numeric_columns(orders: Path) -> None:
    stderr = fails_cleanly(
        invoke(["retention", str(orders), "-w", "1mo", "--fail-if", "churn > 0.5"])
    )
    assert "'churn'" in stderr
    for column in ("churn_rate", "retention_rate", "customers_start", "crr"):
        assert column in stderr
    listed = stderr.split("numeric columns are:")[-1]
    assert "period_start" not in listed and "complete" not in listed


def test_fail_if_bad_expression(orders: Path) -> None:
    stderr = fails_cleanly(
        invoke(["retention", str(orders), "-w", "1mo", "--fail-if", "churn_rate is high"])
    )
    assert "--fail-if" in stderr and "churn_rate > 0.07" in stderr


def test_fail_if_without_a_complete_period(orders: Path) -> None:
    # With the default 12-month window no period of this short history is complete.
    stderr = fails_cleanly(invoke(["retention", str(orders), "--fail-if", "churn_rate > 0.5"]))
    assert "no complete period" in stderr


def test_fail_if_on_crr() -> None:
    result = invoke(
        ["crr", "--start", "1000", "--new", "200", "--end", "800", "--fail-if", "crr < 0.8"]
    )
    assert result.exit_code == 1
    assert "crr" in result.stderr and "0.6" in result.stderr
    assert float(parse_csv(result.stdout)[0]["crr"]) == 0.6


# --by and the subscription basis.


def test_by_channel_adds_a_leading_column_with_one_block_per_value(orders: Path) -> None:
    result = ok(invoke(["retention", str(orders), "-w", "1mo", "--by", "channel", "-f", "json"]))
    rows = json.loads(result.stdout)
    assert list(rows[0]) == ["channel", *RETENTION_COLUMNS]
    channels = [r["channel"] for r in rows]
    blocks = [c for i, c in enumerate(channels) if i == 0 or channels[i - 1] != c]
    assert sorted(blocks) == ["shop", "web"]  # each value in one contiguous block
    periods = ["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01"]
    for channel in ("shop", "web"):
        block = [r for r in rows if r["channel"] == channel]
        assert [r["period_start"] for r in block] == periods
    web = {r["period_start"]: r for r in rows if r["channel"] == "web"}
    assert web["2023-02-01"]["retained"] == 1  # c1 bought on the web in Jan and Feb
    assert sum(r["new_customers"] for r in rows) == 3


def test_fail_if_with_by_names_the_group(orders: Path) -> None:
    args = ["retention", str(orders), "-w", "1mo", "--by", "channel"]
    result = invoke([*args, "--fail-if", "churn_rate > 0.5"])
    assert result.exit_code == 1
    assert "channel=web" in result.stderr and "2023-03-01" in result.stderr
    assert "channel=shop" not in result.stderr  # no customers at the start: a null rate
    assert len(parse_csv(result.stdout)) == 8


def test_by_unknown_column(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), "--by", "region"]))
    assert "region" in stderr and "channel" in stderr


CUSTOMERS = """\
customer_id,signup_date,churn_date
c1,2023-01-01,
c2,2023-01-15,2023-03-10
c3,2023-02-20,
"""


def test_customers_with_signup_dates_switch_to_the_subscription_basis(
    orders: Path, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS)
    base = ["retention", str(orders), "-w", "1mo", "--customers", str(customers)]
    default = json.loads(ok(invoke([*base, "-f", "json"])).stdout)
    subscription = json.loads(ok(invoke([*base, "-f", "json", "--basis", "subscription"])).stdout)
    activity = json.loads(ok(invoke([*base, "-f", "json", "--basis", "activity"])).stdout)
    plain = json.loads(ok(invoke(["retention", str(orders), "-w", "1mo", "-f", "json"])).stdout)
    assert default == subscription
    assert activity == plain
    assert default != activity
    # SPEC §2.2 by hand: active at x when signup < x and (no churn or churn >= x).
    by_start = {r["period_start"]: r for r in default}
    feb, mar = by_start["2023-02-01"], by_start["2023-03-01"]
    assert (feb["customers_start"], feb["new_customers"], feb["customers_end"]) == (2, 1, 3)
    assert (mar["customers_start"], mar["churned"], mar["customers_end"]) == (3, 1, 2)
    table = ok(invoke([*base, "-f", "table"])).stdout
    assert "subscription basis" in one_line(table)
    table = ok(invoke([*base, "-f", "table", "--basis", "activity"])).stdout
    assert "activity basis" in one_line(table)


def test_subscription_basis_without_customers_is_refused(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), "--basis", "subscription"]))
    assert "--customers" in stderr


# Real export shapes, read with no flags.


def test_shopify_export_reads_with_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "orders_export_1.csv"
    path.write_text(SHOPIFY)
    result = ok(invoke(["retention", str(path), "-w", "1mo", "-f", "json"]))
    assert "1 rows have no customer id" in result.stderr
    rows = {r["period_start"]: r for r in json.loads(result.stdout)}
    # ann and bob in January; cat's only order was refunded: she bought (a refunded order is
    # a purchase, SPEC "What a row means"), for no revenue; bob's 23:30 -0500 order stays on
    # March 5 (the store's local date).
    assert rows["2024-01-01"]["new_customers"] == 2
    assert rows["2024-02-01"]["new_customers"] == 1
    assert rows["2024-02-01"]["customers_end"] == 2  # ann and cat
    assert rows["2024-03-01"]["reactivated"] == 1
    churn = json.loads(ok(invoke(["churn", str(path), "-w", "1mo", "-f", "json"])).stdout)
    revenue = {r["period_start"]: r["revenue"] for r in churn}
    # Total sits on an order's first line only: no double counting of #1002.
    assert revenue["2024-01-01"] == pytest.approx(32.0 + 27.0)
    assert revenue["2024-02-01"] == pytest.approx(17.0 + (42.0 - 42.0))  # Total - Refunded Amount


def test_shopify_inspect_names_the_export(tmp_path: Path) -> None:
    path = tmp_path / "orders_export_1.csv"
    path.write_text(SHOPIFY)
    summary = json.loads(ok(invoke(["inspect", str(path), "--json"])).stdout)
    assert summary["export"] == "shopify"
    found = {c["column"]: c["source"] for c in summary["columns"]}
    assert found["customer_id"] == "Email" and found["order_date"] == "Created at"


def test_uci_export_reads_with_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "Online Retail.csv"
    path.write_text(UCI)
    result = ok(invoke(["churn", str(path), "-w", "1mo", "-f", "json"]))
    assert "1 rows have no customer id" in result.stderr
    rows = {r["period_start"]: r for r in json.loads(result.stdout)}
    assert list(rows) == ["2010-12-01", "2011-01-01"]
    # 6 x 2.55 + 6 x 3.39 + 6 x 1.85 - 27.50 (the C invoice is a return).
    assert rows["2010-12-01"]["revenue"] == pytest.approx(15.3 + 20.34 + 11.1 - 27.5)
    retention = json.loads(ok(invoke(["retention", str(path), "-w", "1mo", "-f", "json"])).stdout)
    assert retention[0]["new_customers"] == 2  # 17850 and 13047; ids read as floats


def test_uci_ii_with_bom_on_stdin() -> None:
    text = "\ufeff" + UCI.replace("InvoiceNo", "Invoice").replace("UnitPrice", "Price").replace(
        "CustomerID", "Customer ID"
    )
    result = ok(invoke(["retention", "-", "-w", "1mo", "-f", "json"], input=text.encode("utf-8")))
    assert json.loads(result.stdout)[0]["new_customers"] == 2


SHOPIFY_REFUNDED_TWO_LINES = """\
Name,Email,Financial Status,Paid at,Currency,Subtotal,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Cancelled at,Refunded Amount,Id,Source
#1001,ann@example.com,paid,2024-01-03 10:00:00 -0500,USD,30.00,32.00,2024-01-03 10:00:00 -0500,1,Mug,30.00,MUG-1,,0.00,5001,web
#1004,cat@example.com,refunded,2024-01-15 09:00:00 -0500,USD,50.00,52.00,2024-01-15 09:00:00 -0500,1,Pot,40.00,POT-1,,52.00,5004,web
#1004,cat@example.com,,,,,,2024-01-15 09:00:00 -0500,1,Lid,10.00,LID-1,,,,
"""


def test_shopify_refunded_order_with_two_lines_is_a_purchase_of_no_revenue(tmp_path: Path) -> None:
    path = tmp_path / "orders_export_1.csv"
    path.write_text(SHOPIFY_REFUNDED_TWO_LINES)
    rows = json.loads(ok(invoke(["retention", str(path), "-f", "json"])).stdout)
    assert rows[0]["new_customers"] == 2  # ann, and cat: she bought, then was refunded
    churn = json.loads(ok(invoke(["churn", str(path), "-f", "json"])).stdout)
    # 32 + (52 - 52): the second line (the Lid) carries no order value of its own.
    assert churn[0]["revenue"] == pytest.approx(32.0)


SQUARE = """\
Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,Location,Dining Option,Customer ID,Customer Name,Customer Reference ID
2024-01-05,09:15:00,Eastern Time (US & Canada),Coffee,Latte,1,Regular,LAT-1,,$4.50,$0.00,$4.50,$0.40,T1,P1,iPad,,,Payment,Main St,,CUST1,Ann,
2024-01-05,09:15:00,Eastern Time (US & Canada),Food,Bagel,2,Regular,BAG-1,,$6.00,-$0.50,$5.50,$0.50,T1,P1,iPad,,,Payment,Main St,,CUST1,Ann,
2024-01-09,10:00:00,Eastern Time (US & Canada),Coffee,Latte,1,Regular,LAT-1,,$4.50,$0.00,$4.50,$0.40,T2,P2,iPad,,,Payment,Main St,,,,
2024-02-02,11:00:00,Eastern Time (US & Canada),Coffee,Mocha,1,Regular,MOC-1,,$5.00,$0.00,$5.00,$0.45,T3,P3,iPad,,,Payment,Main St,,CUST2,Bo,
2024-02-03,11:00:00,Eastern Time (US & Canada),Coffee,Mocha,-1,Regular,MOC-1,,-$5.00,$0.00,-$5.00,-$0.45,T9,P3,iPad,,,Refund,Main St,,CUST2,Bo,
2024-02-20,08:00:00,Eastern Time (US & Canada),Coffee,Latte,1,Regular,LAT-1,,$4.50,$0.00,$4.50,$0.40,T4,P5,iPad,,,Payment,Main St,,CUST1,Ann,
"""


def test_square_export_reads_with_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "items-2024-01-01-2024-03-01.csv"
    path.write_text(SQUARE)
    result = ok(invoke(["churn", str(path), "-w", "1mo", "-f", "json"]))
    assert "1 rows have no customer id" in result.stderr
    rows = {r["period_start"]: r for r in json.loads(result.stdout)}
    # Money as $4.50 / -$0.50; the refund of T3 nets out in the sale's month.
    assert rows["2024-01-01"]["revenue"] == pytest.approx(10.0)
    assert rows["2024-02-01"]["revenue"] == pytest.approx(4.5)
    retention = json.loads(ok(invoke(["retention", str(path), "-w", "1mo", "-f", "json"])).stdout)
    assert [r["new_customers"] for r in retention] == [1, 1]


WOOCOMMERCE = """\
Order Number,Order Status,Order Date,First Name (Billing),Last Name (Billing),Email (Billing),Phone (Billing),Item #,Item Name,Quantity (- Refund),Item Cost,Coupon Code,Order Subtotal Amount,Order Refund Amount,Order Total Amount,Order Total Tax Amount
1001,completed,2024-01-05 10:00,Ann,Lee,ann@example.com,555,1,Mug,1,20.00,,20.00,0.00,25.00,0.00
1002,cancelled,2024-01-06 10:00,Bo,Chan,bo@example.com,556,1,Tea,1,10.00,,10.00,0.00,15.00,0.00
1003,completed,2024-02-07 10:00,Ann,Lee,ann@example.com,555,1,Tea,1,10.00,,10.00,5.00,15.00,0.00
"""


def test_woocommerce_export_reads_with_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "orders-2024.csv"
    path.write_text(WOOCOMMERCE)
    retention = json.loads(ok(invoke(["retention", str(path), "-w", "1mo", "-f", "json"])).stdout)
    assert [r["new_customers"] for r in retention] == [1, 0]  # Bo's order was cancelled
    churn = json.loads(ok(invoke(["churn", str(path), "-w", "1mo", "-f", "json"])).stdout)
    # net = Order Total Amount - Order Refund Amount
    assert [r["revenue"] for r in churn] == pytest.approx([25.0, 10.0])


STRIPE = """\
id,Description,Seller Message,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,Converted Amount Refunded,Fee,Taxes On Fee,Converted Currency,Status,Statement Descriptor,Customer ID,Customer Description,Customer Email,Captured,Card ID,Invoice ID,Transfer
ch_1,Subscription,Payment complete.,2023-08-28 20:18,10.00,0.00,usd,10.00,0.00,0.59,0,usd,Paid,ACME,cus_A,,a@example.com,true,card_1,in_1,
ch_2,Subscription,Payment complete.,2023-09-28 20:18,10.00,0.00,usd,10.00,0.00,0.59,0,usd,Paid,ACME,cus_A,,a@example.com,true,card_1,in_2,
ch_3,Subscription,Your card was declined.,2023-09-02 10:00,25.00,0.00,usd,25.00,0.00,0,0,usd,Failed,ACME,cus_B,,b@example.com,false,card_2,in_3,
"""


def test_stripe_failed_charges_are_not_purchases(tmp_path: Path) -> None:
    path = tmp_path / "unified_payments.csv"
    path.write_text(STRIPE)
    rows = json.loads(ok(invoke(["retention", str(path), "-w", "1mo", "-f", "json"])).stdout)
    assert [r["new_customers"] for r in rows] == [1, 0]


def test_stripe_export_reads_with_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "unified_payments.csv"
    path.write_text(STRIPE)
    rows = json.loads(ok(invoke(["retention", str(path), "-w", "1mo", "-f", "json"])).stdout)
    assert [r["period_start"] for r in rows] == ["2023-08-01", "2023-09-01"]
    assert rows[1]["retained"] == 1  # cus_A paid in August and September


ETSY = """\
Sale Date,Order ID,Buyer User ID,Full Name,First Name,Last Name,Number of Items,Payment Method,Date Shipped,Currency,Order Value,Coupon Code,Coupon Details,Discount Amount,Shipping Discount,Shipping,Sales Tax,Order Total,Status,Card Processing Fees,Order Net,Buyer,SKU
01/05/23,2901,111,Ann Lee,Ann,Lee,1,Credit Card,01/07/23,USD,20.00,,,0,0,5,0,25.00,Completed,0.8,24.2,annlee,SKU1
02/03/23,2902,222,Bo Chan,Bo,Chan,1,PayPal,02/04/23,USD,15.00,,,0,0,5,0,20.00,Completed,0.6,19.4,bochan,SKU2
"""


def test_etsy_dates_are_month_first_without_flags(tmp_path: Path) -> None:
    path = tmp_path / "EtsySoldOrders2023.csv"
    path.write_text(ETSY)
    rows = json.loads(ok(invoke(["retention", str(path), "-f", "json"])).stdout)
    assert [r["period_start"] for r in rows] == ["2023-01-01", "2023-02-01"]


def test_etsy_export_reads_when_dates_tell(tmp_path: Path) -> None:
    path = tmp_path / "EtsySoldOrders2023.csv"
    path.write_text(ETSY.replace("02/03/23,2902", "12/31/23,2902"))
    rows = json.loads(ok(invoke(["retention", str(path), "-f", "json"])).stdout)
    assert rows[0]["period_start"] == "2023-01-01"
    assert rows[-1]["period_start"] == "2023-12-01"
    assert sum(r["new_customers"] for r in rows) == 2


# A closed pipe ends quietly (subprocess: a real pipe and a real `head`).


@pytest.fixture(scope="module")
def long_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4000 days of orders: with --period day the output is far bigger than a pipe buffer."""
    import datetime as dt

    path = tmp_path_factory.mktemp("pipe") / "long.csv"
    first = dt.date(2010, 1, 1)
    lines = ["customer_id,order_date"]
    lines += [f"c{i % 97},{first + dt.timedelta(days=i)}" for i in range(4000)]
    path.write_text("\n".join(lines) + "\n")
    return path


RETCALC = Path(sys.executable).with_name("retcalc")


@pytest.mark.skipif(not RETCALC.exists(), reason="the retcalc script is not installed")
@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param(None, id="csv-default"),
        pytest.param("tsv", id="tsv"),
        pytest.param("json", id="json"),
        pytest.param("ndjson", id="ndjson"),
    ],
)
def test_closed_pipe_ends_quietly(long_history: Path, fmt: str | None) -> None:
    fmt_args = f" --format {fmt}" if fmt else ""
    script = (
        f"'{RETCALC}' retention '{long_history}' --period day --active-window 30d{fmt_args}"
        ' | head -1; echo "status=${PIPESTATUS[0]}"'
    )
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
        cwd=long_history.parent,
    )
    first, status = done.stdout.splitlines()
    assert first.startswith("period_start") or first.startswith(("[", "{"))
    assert "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr and "Broken pipe" not in done.stderr
    assert done.stderr == ""
    assert status == "status=0"
