"""``retcalc report`` end to end: each format opened and checked against the commands' output."""

from __future__ import annotations

import base64
import json
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.report.build import SECTIONS
from tests.report.shop import FORMULA, HOSTILE, IMG, SCRIPT, TODAY, Shop

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}\n{result.exception!r}"
    return result


def full(shop: Shop, output: Path, *extra: str) -> Result:
    return invoke(
        "report",
        str(shop.orders),
        "--customers",
        str(shop.customers),
        "--returns",
        str(shop.returns),
        "--output",
        str(output),
        "--today",
        TODAY,
        *extra,
    )


def command_json(*args: str) -> list[dict[str, object]]:
    result = ok(invoke(*args, "--format", "json"))
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


class Page(HTMLParser):
    """Collects what the checks need: sections, images, scripts, links, text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}  # id -> image sources inside it
        self.omitted: set[str] = set()
        self.current: str | None = None
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.csp = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.current = values.get("id") or ""
            self.sections[self.current] = []
            if "omitted" in (values.get("class") or ""):
                self.omitted.add(self.current)
        if tag == "img" and self.current is not None:
            self.sections[self.current].append(values.get("src") or "")
        for name in ("src", "href", "action", "data"):
            if values.get(name):
                self.urls.append(values[name] or "")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = values.get("content") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def html_page(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Page:
    out = tmp_path_factory.mktemp("html") / "report.html"
    ok(full(shop, out))
    page = Page()
    page.feed(out.read_text(encoding="utf-8"))
    return page


def test_html_has_every_section_and_chart(html_page: Page) -> None:
    assert list(html_page.sections) == list(SECTIONS)
    assert not html_page.omitted
    expected = {"kpis": 0, "retention": 1, "revenue": 1, "cohorts": 1, "clv": 2, "returns": 2}
    for section, count in expected.items():
        images = html_page.sections[section]
        assert len(images) == count, section
        for src in images:
            assert src.startswith("data:image/svg+xml;base64,")
            svg = base64.b64decode(src.split(",", 1)[1])
            assert b"<svg" in svg and b"</svg>" in svg
            assert b"<script" not in svg


def test_html_is_self_contained_and_escapes_data(html_page: Page) -> None:
    assert "script" not in html_page.tags
    assert html_page.tags.count("img") == 7  # the charts, and no image from the data
    assert all(url.startswith(("data:", "#")) for url in html_page.urls), html_page.urls
    assert "default-src 'none'" in html_page.csp and "script-src" not in html_page.csp
    text = "".join(html_page.text)
    for hostile in (SCRIPT, IMG, FORMULA):  # products and segments, shown as text
        assert hostile in text


def test_json_report_equals_the_commands(shop: Shop, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = ok(full(shop, out))
    assert f"wrote {out}" in result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert list(document["sections"]) == list(SECTIONS)
    assert document["omitted"] == {}
    assert document["report"]["generated"] == TODAY
    tables = {k: v["tables"] for k, v in document["sections"].items()}
    inputs = [str(shop.orders), "--customers", str(shop.customers)]
    assert tables["retention"]["retention"] == command_json("retention", *inputs)
    assert tables["cohorts"]["cohorts"] == command_json("cohorts", *inputs)
    assert tables["kpis"]["kpis"] == command_json("kpis", str(shop.orders), "--period", "month")
    returns = ["returns", str(shop.orders), "--returns", str(shop.returns)]
    assert tables["returns"]["returns"] == command_json(*returns)
    clv = command_json("clv", str(shop.orders), "--model", "bgnbd")
    assert tables["clv"]["clv"] == clv
    segments = {row["segment"] for row in tables["clv"]["clv_segments"]}
    assert segments == {SCRIPT, IMG, FORMULA}


def test_markdown_report_tables_and_charts(shop: Shop, tmp_path: Path) -> None:
    out = tmp_path / "monthly report.md"
    result = ok(full(shop, out, "--section", "revenue", "--section", "returns"))
    text = out.read_text(encoding="utf-8")
    inputs = [str(shop.orders), "--customers", str(shop.customers), "-f", "markdown"]
    assert ok(invoke("churn", *inputs)).stdout in text
    top = ["returns", str(shop.orders), "--returns", str(shop.returns), "--top", "10"]
    assert ok(invoke(*top, "-f", "markdown")).stdout in text
    assert "<script>" not in text and "\\<script\\>" in text
    charts = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert charts == [
        "monthly report-returns.svg",
        "monthly report-revenue-bridge.svg",
        "monthly report-worst-products.svg",
    ]
    for name in charts:
        assert f"]({name.replace(' ', '%20')})" in text
        assert (tmp_path / name).read_bytes().lstrip().startswith(b"<?xml")
    written = [line for line in result.stderr.splitlines() if line.startswith("wrote ")]
    # the report after its charts, then the run's manifest beside it
    assert written[-2:] == [f"wrote {out}", f"wrote {out}.manifest.json"]
    assert "## Revenue retention and the revenue bridge" in text and "## Returns" in text
    assert "## Cohorts" not in text


def test_xlsx_report_sheets_formats_and_text(shop: Shop, tmp_path: Path) -> None:
    out = tmp_path / "report.xlsx"
    ok(full(shop, out))
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [
        "report",
        "kpis",
        "retention",
        "churn",
        "cohorts",
        "cohorts_triangle",
        "clv",
        "clv_segments",
        "returns",
        "worst_products",
    ]
    sheet = book["retention"]
    assert sheet.freeze_panes == "A3"  # the table's title, then its frozen header row
    header = [c.value for c in sheet[2]]
    first = {name: cell for name, cell in zip(header, sheet[3], strict=True)}
    assert first["retention_rate"].number_format == "0.0%"
    assert first["customers_start"].number_format == "#,##0"
    assert first["period_start"].number_format == "yyyy-mm-dd"
    products = [row[0].value for row in book["worst_products"].iter_rows(min_row=3)]
    cells = [row[0] for row in book["worst_products"].iter_rows(min_row=3)]
    assert set(HOSTILE) <= set(products)
    assert all(cell.data_type == "s" for cell in cells)
    with zipfile.ZipFile(out) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)


def test_sections_without_inputs_are_left_out(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer_id,order_date\n"
        "a,2024-01-05\nb,2024-01-20\na,2024-02-10\nc,2024-02-11\nb,2024-03-02\n"
    )
    out = tmp_path / "r.html"
    result = ok(invoke("report", str(orders), "-o", str(out), "--today", TODAY, "-w", "1mo"))
    assert "Revenue retention and the revenue bridge left out: " in result.stderr
    page = Page()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.omitted == {"revenue", "clv", "returns"}
    assert {"kpis", "retention", "cohorts"} <= set(page.sections) - page.omitted
    assert "no amount column" in "".join(page.text)


def _spec(tmp_path: Path, shop: Shop, extra: str) -> Path:
    spec = tmp_path / "report.yaml"
    spec.write_text(
        f"inputs:\n  orders: {shop.orders}\n  customers: {shop.customers}\n"
        "period: quarter\nas_of: last_complete_quarter\nsections: [retention, kpis]\n"
        "output: out/{period}/retention-{as_of}.json\n" + extra,
        encoding="utf-8",
    )
    return spec


def test_spec_writes_the_pattern_then_fails_on_a_threshold(shop: Shop, tmp_path: Path) -> None:
    spec = _spec(tmp_path, shop, "fail_if: ['churn_rate >= 0', 'kpis.aov > 1000000']\n")
    result = invoke("report", "--spec", str(spec), "--today", "2024-11-20")
    assert result.exit_code == 1, result.stderr
    out = tmp_path / "out" / "quarter" / "retention-2024-10-01.json"
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["report"]["as_of"] == "2024-10-01"
    assert document["report"]["period"] == "quarter"
    assert "retcalc: retention: threshold crossed: churn_rate" in result.stderr
    assert "in period 2024-07-01" in result.stderr
    assert "aov" not in result.stderr


def test_command_line_overrides_the_spec(shop: Shop, tmp_path: Path) -> None:
    spec = _spec(tmp_path, shop, "fail_if: ['churn_rate >= 0']\n")
    out = tmp_path / "mine.json"
    result = invoke(
        "report", "--spec", str(spec), "-p", "year", "--as-of", "2024-01-01", "-o", str(out),
        "--fail-if", "churn_rate > 2",
    )  # fmt: skip
    ok(result)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["report"]["period"] == "year"
    assert document["report"]["as_of"] == "2024-01-01"
    assert not (tmp_path / "out").exists()


def test_threshold_on_a_left_out_section_is_exit_2_after_writing(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date\na,2024-01-05\nb,2024-02-20\n")
    out = tmp_path / "r.json"
    result = invoke(
        "report", str(orders), "-o", str(out), "--section", "retention", "--section", "returns",
        "--fail-if", "unit_return_rate > 0.1",
    )  # fmt: skip
    assert result.exit_code == 2
    assert out.exists()
    assert "cannot be checked: the returns section is not in the report (left out" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "r.csv"], "cannot tell the report format"),
        ([], "report needs --output"),
        (["-o", "r.html", "--by", "channel"], "not split by --by"),
        (["-o", "r.html", "--section", "cohort"], "--section 'cohort'"),
        (["-o", "r.html", "-f", "csv"], "html, markdown, xlsx or json, not csv"),
        (["-o", "r.html", "--fail-if", "churn_rat > 1"], "did you mean churn_rate"),
        (["-o", "r.html", "--as-of", "last_month"], "as_of 'last_month' is not a date"),
    ],
    ids=["extension", "no-output", "by", "section", "format", "fail-if", "as-of"],
)
def test_usage_errors(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date\na,2024-01-05\n")
    result = invoke("report", str(orders), *args)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("r.*"))


def test_no_orders_anywhere() -> None:
    result = invoke("report", "-o", "r.html")
    assert result.exit_code == 2
    assert "report needs the orders" in result.stderr


def test_an_interrupted_write_leaves_nothing(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retcalc.report.output as output

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "write_workbook", broken)
    out = tmp_path / "r.xlsx"
    result = invoke("report", str(shop.orders), "-o", str(out), "--section", "retention")
    assert result.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_html_to_stdout_is_refused_for_reports(shop: Shop) -> None:
    result = invoke("report", str(shop.orders), "-o", "-", "-f", "html")
    assert result.exit_code == 2
    assert "give --output FILE" in result.stderr


def _charts(page: Path) -> dict[str, str]:
    """The report page's SVG charts by their alt text."""
    import base64
    import re

    found = re.findall(
        r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"',
        page.read_text(encoding="utf-8"),
    )
    return {alt: base64.b64decode(data).decode() for data, alt in found}


def test_ci_puts_the_intervals_in_the_tables_and_bands_on_the_chart(
    shop: Shop, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    ok(full(shop, out, "--ci", "0.9", "--section", "retention", "--section", "cohorts"))
    tables = {
        k: v["tables"] for k, v in json.loads(out.read_text(encoding="utf-8"))["sections"].items()
    }
    inputs = [str(shop.orders), "--customers", str(shop.customers), "--ci", "0.9"]
    assert tables["retention"]["retention"] == command_json("retention", *inputs)
    assert tables["cohorts"]["cohorts"] == command_json("cohorts", *inputs)
    assert "retention_rate_lo" in tables["retention"]["retention"][0]
    band = "opacity: 0.18"  # charts.band's shading
    with_ci, without = tmp_path / "ci.html", tmp_path / "plain.html"
    ok(full(shop, with_ci, "--ci", "0.9", "--section", "retention"))
    ok(full(shop, without, "--section", "retention"))
    (drawn,) = (svg for alt, svg in _charts(with_ci).items() if alt.startswith("Retention"))
    (plain,) = (svg for alt, svg in _charts(without).items() if alt.startswith("Retention"))
    assert band in drawn and band not in plain
