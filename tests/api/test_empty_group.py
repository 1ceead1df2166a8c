"""A --by column empty on some rows is said on stderr (its group is not counted correctly
yet: a known limit, see docs/commands.md), never passed over in silence."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import retcalc
from retcalc.cli.app import app

ORDERS = """order_id,customer_id,order_date,amount,channel
1,a,2024-01-05,10,web
2,a,2024-02-05,10,web
3,b,2024-01-10,10,
4,b,2024-02-10,10,
5,c,2024-01-15,10,store
"""


def test_an_empty_group_is_said(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    with pytest.warns(retcalc.RetcalcWarning, match="--by channel is empty on 2 rows"):
        retcalc.retention(path, by="channel", window="1mo")
    result = CliRunner().invoke(app, ["kpis", str(path), "--by", "channel", "-f", "csv"])
    assert result.exit_code == 0
    assert "--by channel is empty on 2 rows" in result.stderr
    plain = CliRunner().invoke(app, ["kpis", str(path), "-f", "csv"])
    assert "is empty on" not in plain.stderr  # only where the column groups
