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


# ------------------------------------------------- intervals, forecasts, survival


def _fills(fig: object) -> dict[str, object]:
    from matplotlib.collections import PolyCollection

    (ax,) = fig.axes  # type: ignore[attr-defined]
    return {c.get_gid(): c for c in ax.collections if isinstance(c, PolyCollection)}


def _band_edges(band: object) -> list[tuple[float, float]]:
    """The (x, y) points of a fill_between band's outline (its lower edge, then its
    upper edge)."""
    vertices = band.get_paths()[0].vertices  # type: ignore[attr-defined]
    return [(float(x), float(y)) for x, y in vertices]


def test_ci_bounds_are_drawn_as_a_band_around_their_line(rates: pl.DataFrame) -> None:
    lo = [None, 0.4, 0.6, 0.9, 0.3, 0.1]
    hi = [None, 0.6, 0.85, 1.0, 0.7, 0.4]
    with_ci = rates.with_columns(
        pl.Series("retention_rate_lo", lo), pl.Series("retention_rate_hi", hi)
    )
    series = [("retention_rate", "retention rate"), ("churn_rate", "churn rate")]
    fills = _fills(charts.line_figure(with_ci, x="period_start", series=series))
    assert set(fills) == {"band:retention_rate"}  # churn_rate has no bounds: no band
    outline = _band_edges(fills["band:retention_rate"])
    for x in range(1, 6):  # every period with bounds: both ends on the outline
        assert (x, lo[x]) in outline and (x, hi[x]) in outline
    assert not _fills(charts.line_figure(rates, x="period_start", series=series))


def forecast_table() -> pl.DataFrame:
    """Pooled rows of two groups and one cohort row: observed to offset 2 (g1) and 1
    (g2), then forecast with bounds."""
    return pl.DataFrame(
        {
            "g": ["x", "x", "x", "x", "x", "y", "y", "y"],
            "cohort": [None, None, None, None, dt.date(2024, 1, 1), None, None, None],
            "offset": [0, 1, 2, 3, 0, 0, 1, 2],
            "survival_rate": [1.0, 0.8, 0.7, None, 1.0, 1.0, 0.5, None],
            "observed": [True, True, True, False, True, True, True, False],
            "survival_rate_forecast": [1.0, 0.79, 0.69, 0.6, 1.0, 1.0, 0.52, 0.3],
            "survival_rate_forecast_lo": [1.0, 0.75, 0.6, 0.5, 1.0, 1.0, 0.4, 0.2],
            "survival_rate_forecast_hi": [1.0, 0.85, 0.75, 0.7, 1.0, 1.0, 0.6, 0.45],
        }
    )


def test_forecast_is_a_dashed_line_from_the_last_observed_offset() -> None:
    fig = charts.forecast_figure(forecast_table(), keys=["g"])
    (ax,) = fig.axes
    lines = {line.get_gid(): line for line in ax.get_lines()}
    x = lines["forecast:g=x"]
    assert x.get_linestyle() == "--"
    assert list(x.get_xdata()) == [2.0, 3.0] and list(x.get_ydata()) == [0.69, 0.6]
    y = lines["forecast:g=y"]
    assert list(y.get_xdata()) == [1.0, 2.0] and list(y.get_ydata()) == [0.52, 0.3]
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert [list(line.get_ydata()) for line in solid] == [[1.0, 0.8, 0.7], [1.0, 0.5]]
    outline = _band_edges(_fills(fig)["band:g=x"])
    assert (3.0, 0.5) in outline and (3.0, 0.7) in outline and (2.0, 0.6) in outline


def test_forecast_text_dims_the_projection_and_gives_its_interval() -> None:
    text = charts.forecast_lines(forecast_table(), keys=["g"])
    plain = text.plain
    assert "g=x: survival by offset 0 to 3" in plain
    assert "observed to offset 2: 70.0%  forecast at offset 3: 60.0% (50.0%–70.0%)" in plain
    assert "observed to offset 1: 50.0%  forecast at offset 2: 30.0% (20.0%–45.0%)" in plain
    spark = plain.splitlines()[1].strip().split(" ")[0]
    dim = [span for span in text.spans if span.style == "dim"]
    start = plain.index(spark)
    # The one projected offset of x (the fourth character) is dim, the observed ones not.
    dimmed = {i - start for span in dim for i in range(span.start, span.end)}
    assert 3 in dimmed and not {0, 1, 2} & dimmed


KM = pl.DataFrame(
    {
        "segment": ["a", "a", "a", "b", "b"],
        "days": [3, 7, 10, 5, 9],
        "survival": [0.9, 0.6, 0.5, 0.8, 0.8],
        "survival_lo": [0.7, 0.4, 0.3, 0.5, 0.5],
        "survival_hi": [0.97, 0.8, 0.7, 0.95, 0.95],
    }
)


def test_survival_is_a_step_function_of_the_table_with_its_band() -> None:
    fig = charts.survival_figure(KM, keys=["segment"])
    (ax,) = fig.axes
    lines = {line.get_gid(): line for line in ax.get_lines()}
    a = lines["survival:segment=a"]
    assert a.get_drawstyle() == "steps-post"
    assert list(a.get_xdata()) == [0.0, 3.0, 7.0, 10.0]
    assert list(a.get_ydata()) == [1.0, 0.9, 0.6, 0.5]
    assert list(lines["survival:segment=b"].get_ydata()) == [1.0, 0.8, 0.8]
    outline = _band_edges(_fills(fig)["band:segment=a"])
    # A step band: the bound holds from its day to the next (both corners present).
    assert (3.0, 0.7) in outline and (7.0, 0.7) in outline and (7.0, 0.4) in outline
    assert (3.0, 0.97) in outline and (7.0, 0.97) in outline


def test_survival_text_reads_the_step_function() -> None:
    plain = charts.survival_lines(KM, keys=["segment"], points=10).plain
    assert "segment=a: survival, day 3 to 10 every 1 days" in plain
    assert "day 10: 50.0% (30.0%–70.0%)" in plain and "day 9: 80.0% (50.0%–95.0%)" in plain
    # a, days 3 to 10: 0.9 on days 3-6, 0.6 on 7-9, 0.5 on 10; scaled from 0.5 to 0.9,
    # 0.6 is (0.1 / 0.4) × 7 = 1.75, block 2. b: nothing before its first day (5) and
    # after its last (9): spaces on days 3, 4 and 10, five blocks between.
    a_line, b_line = plain.splitlines()[1], plain.splitlines()[3]
    assert a_line.strip().startswith("████▃▃▃▁")
    assert b_line.startswith("    ") and len(b_line.split()[0]) == 5


def test_html_page_holds_the_charts_and_escapes_the_data(tmp_path: Path) -> None:
    import base64
    import re

    from retcalc.render.html import write_html

    frame = KM.with_columns(pl.lit("<b>&</b>").alias("segment"))
    sink = io.BytesIO()
    svg = charts.survival_chart(frame, keys=["segment"])
    write_html(frame, sink, title="t", images=[("curves <by> segment", svg)])
    page = sink.getvalue().decode()
    assert "<b>&</b>" not in page and "&lt;b&gt;&amp;&lt;/b&gt;" in page
    assert 'alt="curves &lt;by&gt; segment"' in page
    (encoded,) = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert base64.b64decode(encoded) == svg


def test_ci_range_beside_the_sparkline(rates: pl.DataFrame) -> None:
    with_ci = rates.with_columns(
        pl.Series("retention_rate_lo", [None, 0.4, 0.6, 0.9, 0.3, 0.1]),
        pl.Series("retention_rate_hi", [None, 0.6, 0.85, 1.0, 0.7, 0.4]),
    )
    plain = charts.sparklines(with_ci, columns=["retention_rate", "churn_rate"]).plain
    # The last complete period (2024-05) is 50.0% with 30.0-70.0%; churn has no bounds.
    assert "last 50.0% (30.0%–70.0%)  min" in plain
    assert "churn rate" in plain and "last 50.0%  min" in plain


def test_survival_and_forecast_plot_on_the_command_line(orders: Path, tmp_path: Path) -> None:
    env = {"NO_COLOR": "1", "COLUMNS": "200"}
    result = runner.invoke(
        app, ["survival", str(orders), "-w", "1mo", "-f", "table", "--plot"], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert "survival, day" in result.stdout and "Kaplan-Meier survival by days" in result.stdout
    page = tmp_path / "s.html"
    result = runner.invoke(
        app, ["survival", str(orders), "-w", "1mo", "--plot", "-o", str(page)], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert page.read_text().count("data:image/svg+xml;base64,") == 1
    result = runner.invoke(
        app,
        ["forecast", str(orders), "-w", "1mo", "--horizon", "2", "-f", "table", "--plot"],
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    assert "survival by offset" in result.stdout and "forecast at offset" in result.stdout
    result = runner.invoke(
        app, ["forecast", str(orders), "-w", "1mo", "--horizon", "2", "-f", "csv", "--plot"]
    )
    assert "--plot draws under a table" in result.stderr
