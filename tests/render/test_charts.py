"""Charts: SVG images from matplotlib and block-character charts under terminal tables."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.render import charts

PERIODS = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 6, 1), "1mo", eager=True)


@pytest.fixture
def rates() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period_start": PERIODS,
            "retention_rate": [None, 0.5, 0.75, 1.0, 0.5, 0.25],
            "churn_rate": [None, 0.5, 0.25, 0.0, 0.5, 0.75],
            "complete": [False, True, True, True, True, False],
        }
    )


def test_line_chart_is_a_deterministic_svg(rates: pl.DataFrame) -> None:
    series = [("retention_rate", "retention rate"), ("churn_rate", "churn rate")]
    svg = charts.line_chart(rates, x="period_start", series=series)
    assert svg == charts.line_chart(rates, x="period_start", series=series)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert b"<script" not in svg and b"<text" not in svg  # text drawn as paths


def test_labels_from_the_data_are_plain_text() -> None:
    frame = pl.DataFrame(
        {
            "product_id": ["$\\frac{1", "<script>alert(1)</script>", "x" * 80],
            "rate": [0.5, 0.2, 0.1],
        }
    )
    svg = charts.bar_chart(frame, label="product_id", value="rate", percent=True)
    assert b"<script" not in svg
    ET.fromstring(svg)


def test_heatmap_histogram_and_bridge_draw() -> None:
    cohorts = pl.DataFrame(
        {
            "cohort": [dt.date(2024, 1, 1)] * 2 + [dt.date(2024, 2, 1)],
            "offset": [0, 1, 0],
            "retention": [1.0, 0.4, 1.0],
            "complete": [True, False, True],
        }
    )
    bridge = pl.DataFrame({"period_start": PERIODS[:2], "new": [10.0, 5.0], "lost": [3.0, None]})
    for svg in (
        charts.heatmap(cohorts, value="retention"),
        charts.histogram(pl.Series([1.0, 2.0, 2.5, None, 1000.0]), xlabel="clv"),
        charts.bridge_chart(
            bridge, x="period_start", gains=[("new", "new")], losses=[("lost", "lost")]
        ),
    ):
        ET.fromstring(svg)


def test_sparkline_scales_from_min_to_max() -> None:
    assert charts.sparkline([0.0, 0.5, 1.0, None]).plain == "▁▅█ "
    assert charts.sparkline([0.3, 0.3]).plain == "▄▄"


def test_columns_chart_in_eighths() -> None:
    lines = [line.plain for line in charts.columns_chart([1.0, 0.5, 0.0625], height=2, top=1.0)]
    assert lines == ["█     ", "█ █ ▁ "]


def test_pooled_retention_by_offset_counts_complete_cells_only() -> None:
    cells = pl.DataFrame(
        {
            "offset": [0, 1, 0, 1],
            "cohort_size": [10, 10, 30, 30],
            "customers": [10, 4, 30, 3],
            "complete": [True, True, True, False],
        }
    )
    pooled = charts.pooled_by_offset(cells)
    assert pooled.get_column("retention").to_list() == [1.0, 0.4]
    assert pooled.get_column("cohorts").to_list() == [2, 1]


def test_sparklines_text(rates: pl.DataFrame) -> None:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    charts.print_sparklines(rates, columns=["retention_rate", "churn_rate"], console=console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "2024-01-01 to 2024-06-01 (dim: not complete)" in text
    assert "retention rate   ▃▆█▃▁" in text and "last 50.0%  min 50.0%  max 100.0%" in text


ORDERS = """\
order_id,customer_id,order_date,amount
O1,a,2024-01-05,10
O2,b,2024-01-20,10
O3,a,2024-02-10,10
O4,c,2024-02-11,10
O5,b,2024-03-02,10
O6,a,2024-03-03,10
O7,c,2024-04-15,10
"""


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


runner = CliRunner()


def test_retention_plot_under_the_table(orders: Path) -> None:
    result = runner.invoke(
        app, ["retention", str(orders), "-w", "1mo", "-f", "table", "--plot"], env={"NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.stderr
    table, _, chart = result.stdout.partition("2024-01-01 to 2024-04-01")
    assert "retention" in table and "churned" in table
    assert "crr" in chart and "retention rate" in chart and "last " in chart
    assert any(block in chart for block in charts.BLOCKS)


def test_churn_plot_is_drawn_before_a_threshold_exit(orders: Path) -> None:
    result = runner.invoke(
        app,
        [
            "churn",
            str(orders),
            "-w",
            "1mo",
            "-f",
            "table",
            "--plot",
            "--fail-if",
            "churn_rate >= 0",
        ],
        env={"NO_COLOR": "1"},
    )
    assert result.exit_code == 1
    assert "nrr" in result.stdout.split("2024-01-01 to")[-1]
    assert "threshold crossed" in result.stderr


def test_cohorts_plot(orders: Path) -> None:
    result = runner.invoke(
        app, ["cohorts", str(orders), "-f", "table", "--plot"], env={"NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.stderr
    assert "offset 0: 100.0%" in result.stdout
    assert "(offset)" in result.stdout


def test_plot_is_only_for_tables(orders: Path) -> None:
    result = runner.invoke(app, ["retention", str(orders), "-f", "csv", "--plot"])
    assert result.exit_code == 0
    assert result.stdout.startswith("period_start,")
    assert not any(block in result.stdout for block in charts.BLOCKS)
    assert "--plot draws under a table" in result.stderr
