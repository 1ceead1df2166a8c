"""A --by value that is empty on some rows is a group like any other: every command counts
its customers exactly as it would had the rows carried a label, and shows the group's key
empty (a null, an empty CSV cell)."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.io.load import ENGINE_VARIABLE

HEADER = "order_id,customer_id,order_date,amount,quantity,financial_status,channel\n"
ROWS = [
    "1,a,2024-01-05,10,1,paid,web",
    "2,a,2024-02-05,12,1,paid,web",
    "3,b,2024-01-10,20,2,paid,{}",
    "4,b,2024-02-10,5,1,refunded,{}",
    "5,b,2024-04-11,7,1,paid,{}",
    "6,c,2024-01-15,10,1,paid,store",
    "7,d,2024-01-20,30,3,paid,{}",
    "8,d,2024-03-20,10,1,paid,{}",
    "9,e,2024-02-02,9,1,paid,store",
    "10,e,2024-02-03,9,1,refunded,web",
    "11,f,2024-03-03,40,4,paid,{}",
    "12,f,2024-03-03,4,1,paid,web",
]
LABEL = "zz-none"

COMMANDS = [
    ["retention", "--active-window", "1mo"],
    ["retention", "--active-window", "all"],
    ["churn", "--active-window", "1mo"],
    ["cohorts"],
    ["kpis"],
    ["kpis", "--period", "month"],
    ["returns"],
    ["rfm"],
    ["clv", "--model", "historical"],
    ["customers", "--period-start", "2024-02-01", "--active-window", "1mo"],
    ["compare", "--active-window", "1mo"],
    ["forecast", "--active-window", "1mo", "--horizon", "2"],
    ["survival", "--active-window", "1mo"],
]


def _shop(tmp_path: Path, empty: str) -> Path:
    path = tmp_path / f"orders-{empty or 'empty'}.csv"
    path.write_text(HEADER + "\n".join(r.format(empty) for r in ROWS) + "\n")
    return path


def _run(args: list[str]) -> tuple[pl.DataFrame, str]:
    result = CliRunner().invoke(app, [*args, "-f", "csv"])
    assert result.exit_code == 0, result.output
    return pl.read_csv(io.StringIO(result.stdout), infer_schema=False), result.stderr


CASES = [
    pytest.param(command, by, id=f"{' '.join(command)} --by {by}")
    for command in COMMANDS
    for by in ("channel", "first:channel")
    if not (command[0] == "returns" and by.startswith("first:"))  # refused: returns splits
]  # orders by their own value only


@pytest.mark.parametrize(("command", "by"), CASES)
@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_the_empty_group_counts_as_a_labelled_one(
    tmp_path: Path, command: list[str], by: str, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    key = by.replace(":", "_")
    empty, said = _run([command[0], str(_shop(tmp_path, "")), *command[1:], "--by", by])
    labelled, _ = _run([command[0], str(_shop(tmp_path, LABEL)), *command[1:], "--by", by])
    assert "empty" not in said  # nothing to warn about: the group is counted
    named = labelled.with_columns(
        pl.when(pl.col(key) == LABEL).then(None).otherwise(pl.col(key)).alias(key)
    )
    assert empty.null_count()[key].item() > 0
    columns = empty.columns
    assert sorted(empty.rows(), key=str) == sorted(named.select(columns).rows(), key=str)
