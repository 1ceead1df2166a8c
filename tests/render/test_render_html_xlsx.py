"""``--format html`` and ``--format xlsx``: data escaped, text kept as text (SPEC §6)."""

from __future__ import annotations

import datetime as dt
import html
import io
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.render import OutputFormat, resolve_format, write_output
from retcalc.render.html import html_triangle
from retcalc.render.triangle import Triangle

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","x")'
HOSTILE = [SCRIPT, IMG, FORMULA, "+1", "-2", "@SUM(A1)", "http://evil.example", "a&b 'q'"]


@pytest.fixture
def hostile() -> pl.DataFrame:
    n = len(HOSTILE)
    return pl.DataFrame(
        {
            "product_id": HOSTILE,
            "period_start": [dt.date(2024, 1, 1)] * n,
            "units": list(range(1000, 1000 + n)),
            "unit_return_rate": [0.125] * (n - 1) + [None],
            "revenue": [1234.5] * n,
            "complete": [True] * (n - 1) + [False],
        }
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.xlsx", OutputFormat.xlsx), ("a.html", OutputFormat.html), ("A.HTM", OutputFormat.html)],
)
def test_format_from_extension(name: str, expected: OutputFormat) -> None:
    assert resolve_format(None, Path(name), stdout_is_tty=False) is expected


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.rows: list[dict[str, str | None]] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append(dict(attrs))
        if tag == "td":
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def parse(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    return parser


def render_html(df: pl.DataFrame, **kwargs: object) -> str:
    out = io.BytesIO()
    stream = io.TextIOWrapper(out, encoding="utf-8")
    write_output(df, fmt=OutputFormat.html, stdout=stream, **kwargs)  # type: ignore[arg-type]
    stream.flush()
    return out.getvalue().decode("utf-8")


def test_html_escapes_every_value(hostile: pl.DataFrame) -> None:
    text = render_html(hostile, percent_columns=["unit_return_rate"], title=f"Top {SCRIPT}")
    page = parse(text)
    assert "script" not in page.tags and "img" not in page.tags
    assert SCRIPT not in text and "&lt;script&gt;" in text
    cells = page.cells
    for value in HOSTILE:
        assert value in cells  # shown as the text it is
    assert "12.5%" in cells and "1,234.50" in cells and "2024-01-01" in cells
    assert "default-src 'none'" in html.unescape(text)
    assert sum(1 for row in page.rows if row.get("class") == "incomplete") == 1


def test_html_triangle_is_escaped_and_shaded() -> None:
    frame = pl.DataFrame(
        {
            "channel": [SCRIPT, SCRIPT, SCRIPT],
            "cohort": [dt.date(2024, 1, 1)] * 2 + [dt.date(2024, 2, 1)],
            "offset": [0, 1, 0],
            "cohort_size": [10, 10, 4],
            "retention": [1.0, 0.3, 1.0],
            "complete": [True, False, False],
        }
    )
    text = html_triangle(frame, Triangle(value="retention", keys=("channel",), percent=True))
    page = parse(text)
    assert "script" not in page.tags
    assert SCRIPT in page.cells
    assert "30.0%*" in page.cells and "100.0%" in page.cells
    assert "background:rgb(8,81,156)" in text  # the largest complete value after offset 0


def test_xlsx_round_trip(hostile: pl.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "top.xlsx"
    write_output(hostile, fmt=OutputFormat.xlsx, output=out, percent_columns=["unit_return_rate"])
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["data"]
    sheet = book["data"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == hostile.columns
    products = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in products] == HOSTILE
    assert all(c.data_type == "s" for c in products)
    second = sheet[2]
    assert second[1].number_format == "yyyy-mm-dd" and second[1].value == dt.datetime(2024, 1, 1)
    assert second[2].number_format == "#,##0" and second[2].value == 1000
    assert second[3].number_format == "0.0%" and second[3].value == 0.125
    assert second[4].number_format == "#,##0.00"
    assert second[5].value is True
    assert sheet.cell(row=len(HOSTILE) + 1, column=4).value is None  # null stays empty
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
        assert b"<f>" not in xml and b"<f " not in xml
        assert b"<hyperlink" not in xml


def test_xlsx_and_html_on_every_command(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    products = [FORMULA, SCRIPT] * 12
    pl.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(products))] + ["O0"],
            "customer_id": [f"c{i % 3}" for i in range(len(products))] + ["c0"],
            "order_date": [f"2024-0{1 + i % 3}-0{1 + i % 7}" for i in range(len(products))]
            + ["2024-01-20"],
            "product_id": [*products, FORMULA],
            "quantity": [1] * len(products) + [-1],
            "amount": [10.0] * len(products) + [-10.0],
        }
    ).write_csv(orders)
    runner = CliRunner()
    result = runner.invoke(
        app, ["returns", str(orders), "--top", "2", "--min-units", "1", "-f", "xlsx"]
    )
    assert result.exit_code == 0, result.stderr
    book = openpyxl.load_workbook(io.BytesIO(result.stdout_bytes))
    values = [row[0].value for row in book["data"].iter_rows(min_row=2)]
    assert FORMULA in values
    result = runner.invoke(
        app, ["returns", str(orders), "--top", "2", "--min-units", "1", "-f", "html"]
    )
    assert result.exit_code == 0, result.stderr
    page = parse(result.stdout)
    assert "script" not in page.tags and SCRIPT in page.cells
