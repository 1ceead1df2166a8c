"""Terminal tables never crop a value (issue 26, item 9).

Every command that prints a table is run on a small generated shop as if on a
terminal (``TTY_COMPATIBLE=1``, ``COLUMNS=w``) at widths from 50 to 200, and every
value of the same command's machine output must appear whole, as one cell, in the
table text: formatted by ``human_frame`` (the table's own formatting), so the test is
about cropping and wrapping, not about formatting.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.cli.inspect import print_summary
from retcalc.render.values import human_frame
from retcalc.sample import generate, write_sample

WIDTHS = (50, 60, 80, 100, 120, 140, 160, 200)

# id -> (the command's arguments, the columns of its machine output the table shows;
# None: all but period_end and complete, which the table folds into the period's *).
# Quarters keep the tables short (the test is about columns, not rows).
Q = ["--period", "quarter"]
CASES: dict[str, tuple[list[str], list[str] | None]] = {
    "retention": (["retention", "{orders}", *Q], None),
    "churn": (["churn", "{orders}", *Q], None),
    "cohorts": (["cohorts", "{orders}", *Q], ["cohort", "cohort_size", "retention"]),
    "cohorts-revenue": (
        ["cohorts", "{orders}", "--metric", "revenue", *Q],
        ["cohort", "cohort_size", "revenue"],
    ),
    "returns": (["returns", "{orders}", *Q], None),
    "returns-top": (["returns", "{orders}", "--top", "5", "--min-units", "1"], None),
    "kpis": (["kpis", "{orders}"], None),
    "kpis-period": (["kpis", "{orders}", *Q], None),
    "rfm": (["rfm", "{orders}"], None),
    "rfm-per-customer": (["rfm", "{orders}", "--per-customer"], None),
    "clv": (["clv", "{orders}"], None),
    "clv-per-customer": (["clv", "{orders}", "--per-customer"], None),
    "clv-formula": (["clv", "{orders}", "-m", "formula"], None),
    "clv-bgnbd": (["clv", "{orders}", "-m", "bgnbd"], None),
    "clv-bgnbd-per-customer": (["clv", "{orders}", "-m", "bgnbd", "--per-customer"], None),
    "crr": (["crr", "--start", "1234567", "--new", "234567", "--end", "1200000"], None),
}

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_GAP = re.compile(r"\s{3,}")  # a cell's padding and the column divider: 3 spaces or more

runner = CliRunner()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shop")
    write_sample(generate(customers=80, seed=7, years=3.5), directory)
    return directory / "orders.csv"


def _invoke(args: list[str], width: int | None = None) -> Result:
    env = {"NO_COLOR": "1"}
    if width is not None:
        env |= {"COLUMNS": str(width), "TTY_COMPATIBLE": "1"}
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.stderr}"
    return result


def _cells(text: str) -> set[str]:
    """Every cell of a printed table: lines split where 3 or more spaces separate text."""
    return {
        cell
        for line in ANSI.sub("", text).splitlines()
        for cell in CELL_GAP.split(line.strip())
        if cell
    }


def _expected(frame: pl.DataFrame) -> Iterator[tuple[str, set[str]]]:
    """Each value of ``frame`` with the texts the table may show it as: a fraction as a
    percentage or with 2 decimals (which one is the command's choice), a value of a
    period that is not complete followed by its ``*`` mark."""
    floats = [n for n, dtype in frame.schema.items() if dtype.is_float()]
    plain = human_frame(frame)
    percent = human_frame(frame, percent_columns=floats)
    for name in frame.columns:
        for a, b in zip(plain.get_column(name), percent.get_column(name), strict=True):
            if a is not None:
                yield name, {f"{t}{mark}" for t in (a, b) for mark in ("", "*", " *")}


def _fit(case: str, shop: Path, way: str) -> list[str]:
    """BG/NBD: fit once (with the machine output), then score the tables with that fit."""
    if "bgnbd" not in CASES[case][0]:
        return []
    return [f"--params-{way}", str(shop.parent / f"{case}.json")]


def _machine(case: str, shop: Path, tmp_path: Path) -> pl.DataFrame:
    args, columns = CASES[case]
    target = tmp_path / f"{case}.parquet"
    _invoke(
        [a.format(orders=shop) for a in args] + ["--output", str(target), *_fit(case, shop, "out")]
    )
    frame = pl.read_parquet(target)
    if "cohort" in frame.columns and "offset" in frame.columns:
        # The average rows are one row of the triangle ("all", the largest size): their
        # size per offset is not a cell of it.
        frame = frame.filter(pl.col("cohort").is_not_null())
    if columns is None:
        hidden = {"period_end", "complete"} if "period_start" in frame.columns else set()
        columns = [c for c in frame.columns if c not in hidden]
    return frame.select(columns)


@pytest.mark.parametrize("case", list(CASES))
def test_every_value_is_whole_in_the_terminal_table(case: str, shop: Path, tmp_path: Path) -> None:
    frame = _machine(case, shop, tmp_path)
    args = [a.format(orders=shop) for a in CASES[case][0]]
    args += ["--format", "table", *_fit(case, shop, "in")]
    for width in WIDTHS:
        text = _invoke(args, width).stdout
        cells = _cells(text)
        missing = [
            (name, sorted(shown)[0]) for name, shown in _expected(frame) if not shown & cells
        ]
        assert not missing, f"{case} at {width} columns: {missing[:5]} not whole in\n{text}"
        assert "\u2026" not in text  # no ellipsis
        widest = max(len(line) for line in ANSI.sub("", text).splitlines())
        assert widest <= width, f"{case} at {width} columns: a line of {widest}\n{text}"


def test_inspect_columns_table_is_whole(shop: Path) -> None:
    # inspect prints its table only when stdout is a real terminal: render its findings
    # on a terminal console of each width.
    summary = json.loads(_invoke(["inspect", str(shop), "--json"]).stdout)
    for width in WIDTHS:
        out = io.StringIO()
        print_summary(summary, Console(file=out, force_terminal=True, width=width))
        text = out.getvalue()
        cells = _cells(text)
        for row in summary["columns"]:
            for value in row.values():
                if value is not None:
                    assert str(value) in cells, f"{value!r} at {width} columns:\n{text}"
        assert max(len(line) for line in ANSI.sub("", text).splitlines()) <= width
