"""The streaming engine (large inputs) and the in-memory engine give identical output."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.io import load
from retcalc.io.load import ENGINE_VARIABLE

SAMPLE = Path(__file__).parents[2] / "sample_data"

COMMANDS = [
    ["retention", "--period", "month"],
    ["retention", "--period", "week", "--active-window", "90d", "--by", "channel"],
    ["retention", "--customers", str(SAMPLE / "customers.csv"), "--basis", "subscription"],
    ["churn", "--period", "quarter"],
    ["cohorts", "--period", "month", "--mode", "on-or-after"],
    ["returns", "--period", "month"],
    ["kpis", "--period", "quarter"],
    ["clv", "--model", "historical"],
    ["rfm"],
    ["retention", "--by", "first:channel", "--period", "quarter"],
    ["kpis", "--by", "first:channel"],
    ["customers", "--period-start", "2025-03-01", "--by", "first:channel"],
]


def _run(args: list[str], orders: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    result = CliRunner().invoke(app, [args[0], str(orders), *args[1:], "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("orders", ["orders.csv", "orders.parquet"])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_streaming_equals_in_memory(
    args: list[str], orders: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    streamed = _run(args, SAMPLE / orders, "streaming", monkeypatch)
    assert streamed == _run(args, SAMPLE / orders, "in-memory", monkeypatch)
    assert streamed.count("\n") >= 2  # a header and data


def test_size_picks_the_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENGINE_VARIABLE, raising=False)
    table = load.open_table(str(SAMPLE / "orders.csv"))
    assert load.engine_for(table) == "in-memory"
    monkeypatch.setattr(load, "STREAMING_FROM", 1)
    assert load.engine_for(table) == "streaming"


def test_unknown_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_VARIABLE, "turbo")
    result = CliRunner().invoke(app, ["retention", str(SAMPLE / "orders.csv")])
    assert result.exit_code == 2
    assert "RETCALC_POLARS_ENGINE='turbo' is not known" in result.stderr
