"""Messages name what the user has (issue 27): no "could not process the input" with a
library's text, no column name of retcalc's own (``_retcalc_row``, ``_hash``,
``amount_duplicated_0``), and a failed write names the output."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.errors import first_line

#: A name retcalc gives a column while it works, or Polars' name of a repeated header.
INTERNAL = re.compile(r"(?<![\w/.-])_\w+|_duplicated_|__")

ORDERS = (
    "customer_id,order_date,amount,channel\n"
    "c1,2024-01-05,10,web\nc2,2024-01-20,20,app\nc1,2024-02-10,15,web\n"
)


def invoke(args: Sequence[str], input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def refused(result: Result) -> str:
    """Exit 2 with one error line that names nothing internal; the line."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    said = result.stderr.strip()
    assert "could not process the input" not in said and "Traceback" not in said
    assert not INTERNAL.search(said), said
    return said


def write(tmp_path: Path, text: str, name: str = "orders.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_same_by_twice_is_one_split(tmp_path: Path) -> None:
    orders = write(tmp_path, ORDERS)
    twice = invoke(["retention", orders, "--by", "channel", "--by", "channel", "-f", "csv"])
    once = invoke(["retention", orders, "--by", "channel", "-f", "csv"])
    assert twice.exit_code == 0, twice.stderr
    assert twice.stdout == once.stdout
    assert next(csv.reader(io.StringIO(twice.stdout))).count("channel") == 1


@pytest.mark.parametrize(
    ("command", "column"),
    [
        ("retention", "period_start"),
        ("retention", "retained"),
        ("churn", "retained"),  # not a column of churn's table: one it computes
        ("cohorts", "period_start"),
        ("kpis", "customers"),
        ("clv", "customers"),
        ("rfm", "customers"),
    ],
)
def test_a_by_column_named_like_an_output_column(tmp_path: Path, command: str, column: str) -> None:
    orders = write(
        tmp_path,
        f"customer_id,order_date,amount,{column}\n"
        "c1,2024-01-05,10,a\nc2,2024-01-20,20,b\nc1,2024-02-10,15,a\n",
    )
    said = refused(invoke([command, orders, "--by", column, "-f", "csv"]))
    assert said.startswith(f"retcalc: error: --by {column}: ")
    assert "table has a column of that name (" in said or "computes a column of that name" in said
    assert said.endswith(f"group by a copy of the column under another name (e.g. by_{column})")


def test_a_header_name_given_twice_is_said_as_the_file_has_it(tmp_path: Path) -> None:
    orders = write(
        tmp_path,
        "customer_id,order_date,amount,channel,channel,,\nc1,2024-01-05,10,web,app,x,y\n",
    )
    said = refused(invoke(["retention", orders, "--by", "nope", "-f", "csv"]))
    assert said.endswith(
        "columns are: customer_id, order_date, amount, channel, channel (2), "
        "(no name 1), (no name 2)"
    )
    second = invoke(["retention", orders, "--by", "channel (2)", "-f", "csv"])
    assert second.exit_code == 0, second.stderr
    assert next(csv.reader(io.StringIO(second.stdout)))[0] == "channel (2)"
    assert "column 'channel' appears more than once in the header" in second.stderr


def test_a_hidden_column_is_no_column(tmp_path: Path) -> None:
    orders = write(tmp_path, ORDERS)
    for hidden in ("_retcalc_row", "_retcalc_extra_0"):
        result = invoke(["retention", orders, "--by", hidden, "-f", "csv"])
        assert result.exit_code == 2, result.stderr
        said = result.stderr.strip()
        assert said.startswith(f"retcalc: error: --by {hidden}: no such column in ")
        assert said.endswith("columns are: customer_id, order_date, amount, channel")


def test_a_stray_quote_on_stdin_names_the_line() -> None:
    text = ORDERS + 'c3,2024-02-11,5,Monitor 27" wide\n'
    said = refused(invoke(["retention", "-", "-f", "csv"], input=text))
    assert said.startswith(
        'retcalc: error: <stdin>: line 5 has a quote inside the value Monitor 27" wide,'
    )


def test_library_text_never_shows_internal_names() -> None:
    text = "column '_retcalc_row' not found; \"amount_duplicated_0\" or `_hash` in '/tmp/_x.csv'"
    assert first_line(ValueError(text)) == (
        "column a working column not found; a working column or a working column in '/tmp/_x.csv'"
    )


@pytest.mark.skipif(
    not os.path.exists("/dev/full") or not stat.S_ISCHR(os.stat("/dev/full").st_mode),
    reason="needs the /dev/full device",
)
@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "json", "table"])
def test_a_failed_write_to_stdout_names_it(tmp_path: Path, fmt: str) -> None:
    orders = write(tmp_path, ORDERS)
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "retcalc", "retention", orders, "--format", fmt],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("retcalc: error: cannot write standard output: No space left")
    assert "could not process" not in done.stderr
