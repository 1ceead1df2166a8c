"""Money that 64-bit sums cannot hold is refused, never wrapped around (issue 27).

Totals are sums of integer millionths in 64 bits: at most 9,223,372,036,854.78 units.
Two orders of 5,000,000,000,000 used to add up to a negative revenue with exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retcalc.io.load import ENGINE_VARIABLE
from tests.cli.test_cli_contract import fails_cleanly, invoke, ok

H = "customer_id,order_date,amount\n"
TOO_MUCH = H + "a,2024-01-05,5000000000000\nb,2024-01-06,5000000000000\nc,2024-02-06,10\n"


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
@pytest.mark.parametrize("command", ["kpis", "churn", "rfm", "returns", "cohorts"])
def test_sums_beyond_64_bits_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, command: str
) -> None:
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    path = tmp_path / "orders.csv"
    path.write_text(TOO_MUCH)
    stderr = fails_cleanly(invoke([command, str(path), "-f", "json"]))
    assert f"{path}: the amounts of column 'amount' add up to 10,000,000,000,010" in stderr
    assert "--amount-scale 0.001" in stderr


def test_the_way_out_counts_in_thousands(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(TOO_MUCH)
    [row] = json.loads(
        ok(invoke(["kpis", str(path), "-f", "json", "--amount-scale", "0.001"])).stdout
    )
    # (5e12 + 5e12 + 10) / 1000
    assert row["revenue"] == pytest.approx(10_000_000_000.01, rel=1e-15)


def test_just_below_the_limit_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(H + "a,2024-01-05,4550000000000.25\nb,2024-01-06,4549999999999.75\n")
    [row] = json.loads(ok(invoke(["kpis", str(path), "-f", "json"])).stdout)
    assert row["revenue"] == 9_100_000_000_000.0


def test_one_value_too_large_names_the_input() -> None:
    stderr = fails_cleanly(invoke(["retention", "-", "-f", "csv"], input=H + "a,2024-01-05,1e19\n"))
    assert "<stdin>: the amounts of column 'amount' add up to" in stderr
