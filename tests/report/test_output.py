"""The report writers on a small literal report: JSON keys, Markdown escaping, sheet names."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

import retcalc.report.output as output
from retcalc.errors import UsageError
from retcalc.report.model import Chart, Omitted, Report, ReportTable, Section, View
from retcalc.report.output import (
    ReportFormat,
    cap_triangle,
    report_format,
    to_json,
    to_markdown,
    to_sheets,
    write_report,
)

SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'


def cohorts(n: int) -> pl.DataFrame:
    rows = [
        (dt.date(2024, 1 + c, 1), k, 10, 0.5, k < n - c - 1) for c in range(n) for k in range(n - c)
    ]
    return pl.DataFrame(
        rows,
        schema=["cohort", "offset", "cohort_size", "retention", "complete"],
        orient="row",
    )


@pytest.fixture
def report() -> Report:
    rates = pl.DataFrame(
        {"period_start": [dt.date(2024, 1, 1)], "churn_rate": [0.25], "complete": [True]}
    )
    section = Section(
        "retention",
        "Retention <and> churn",
        "Per month: churn rate is churned / customers_start.",
        tables=(
            ReportTable(
                "cards",
                "Latest",
                rates.drop("complete"),
                ("churn_rate",),
                View.cards,
                machine=False,
            ),
            ReportTable("retention", "By month", rates, ("churn_rate",)),
            ReportTable(
                "cohorts", "Cohorts", cohorts(3), ("retention",), View.triangle, "retention"
            ),
        ),
        charts=(Chart("retention", "Churn [rate]", SVG, "Hollow: not complete."),),
        notes=("a note with *stars*",),
    )
    return Report(
        title="Report of `shop` | <b>",
        facts=(("orders", "my_orders.csv"),),
        sections=(section,),
        omitted=(Omitted("returns", "Returns", "no returns information"),),
        order=("returns", "retention"),
        meta={"title": "t", "as_of": None},
    )


def test_json_keys(report: Report) -> None:
    document = json.loads(to_json(report))
    assert document["report"] == {"title": "t", "as_of": None}
    assert list(document["sections"]["retention"]["tables"]) == ["retention", "cohorts"]
    assert document["sections"]["retention"]["tables"]["retention"] == [
        {"period_start": "2024-01-01", "churn_rate": 0.25, "complete": True}
    ]
    assert document["omitted"] == {"returns": "no returns information"}


def test_markdown_order_escaping_and_links(report: Report, tmp_path: Path) -> None:
    text = to_markdown(report, {("retention", "retention"): tmp_path / "r-retention.svg"})
    assert text.startswith("# Report of \\`shop\\` \\| \\<b\\>\n")
    assert text.index("## Returns") < text.index("## Retention \\<and\\> churn")
    assert "*Left out: no returns information*" in text
    assert "![Churn \\[rate\\]](r-retention.svg)" in text
    assert "| churn_rate   | 25.0%      |" in text  # the cards as metric / value rows
    assert "> Note: a note with \\*stars\\*" in text
    assert "| cohort     | cohort_size |     0 |     1 |     2 |" in text
    assert "| 2024-02-01 |          10 | 50.0% | 50.0% |       |" in text


def test_sheets_skip_views_and_add_the_triangle(report: Report) -> None:
    names = [sheet.name for sheet in to_sheets(report)]
    assert names == ["report", "retention", "cohorts", "cohorts_triangle"]


def test_cap_triangle(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = cohorts(4)
    assert cap_triangle(frame) == (frame, None)
    monkeypatch.setattr(output, "MAX_COHORTS", 2)
    monkeypatch.setattr(output, "MAX_OFFSETS", 1)
    shown, note = cap_triangle(frame)
    assert shown.get_column("cohort").unique().sort().to_list() == [
        dt.date(2024, 3, 1),
        dt.date(2024, 4, 1),
    ]
    assert shown.get_column("offset").to_list() == [0, 0]
    assert note == (
        "showing the latest 2 of 4 cohorts and offsets 0-0; the JSON and XLSX reports have every cell"
    )


def test_markdown_charts_are_written_first_and_never_over_an_input(
    report: Report, tmp_path: Path
) -> None:
    out = tmp_path / "r.md"
    written = write_report(report, out, ReportFormat.markdown)
    assert written == [tmp_path / "r-retention.svg", out]
    assert (tmp_path / "r-retention.svg").read_bytes() == SVG
    with pytest.raises(UsageError, match="refusing to overwrite input file"):
        write_report(
            report, out, ReportFormat.markdown, protected_paths=[tmp_path / "r-retention.svg"]
        )


@pytest.mark.parametrize(
    ("fmt", "name", "expected"),
    [
        (None, "a.HTML", ReportFormat.html),
        (None, "a.markdown", ReportFormat.markdown),
        ("json", "a.html", ReportFormat.json),
    ],
)
def test_report_format(fmt: str | None, name: str, expected: ReportFormat) -> None:
    assert report_format(fmt, Path(name)) is expected
