"""Writing a report as HTML, Markdown (with its charts beside it), XLSX or JSON, atomically.

- ``.html``: one self-contained page; charts are SVG ``data:`` images, styles
  inline, a Content-Security-Policy forbids scripts and remote loads.
- ``.md``: Markdown tables; each chart is an SVG file beside the report
  (``NAME-CHART.svg``), linked relatively. The charts are written first, the
  Markdown last, so the report never links a file that is not there.
- ``.xlsx``: a ``report`` sheet (facts, definitions, notes), then one sheet per
  table; rates formatted as percentages, header rows frozen, text kept as text.
- ``.json``: ``{"report": {...}, "sections": {KEY: {"tables": {NAME: [rows]}}},
  "omitted": {KEY: reason}, "manifest": {...}}``; each table's rows are what the
  matching command writes with ``--format json``; ``manifest`` is the run's
  (:mod:`retcalc.manifest`; the other kinds write it beside the report).

Every file is written through ``render.atomic`` (a temporary file, then a
rename) and never over an input file.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from retcalc.errors import RetcalcError, UsageError
from retcalc.render import html as h
from retcalc.render.atomic import atomic_write, check_output_path
from retcalc.render.charts import SVG_MIME
from retcalc.render.text import markdown_table
from retcalc.render.triangle import Triangle
from retcalc.render.values import human_frame, machine_frame
from retcalc.render.xlsx import Sheet, sheet_name, write_workbook
from retcalc.report.model import Omitted, Report, ReportTable, Section, View


class ReportFormat(StrEnum):
    """The kinds of report file; ``--format`` or the ``--output`` extension picks one."""

    html = "html"
    markdown = "markdown"
    xlsx = "xlsx"
    json = "json"


EXTENSIONS: dict[str, ReportFormat] = {
    ".html": ReportFormat.html,
    ".htm": ReportFormat.html,
    ".md": ReportFormat.markdown,
    ".markdown": ReportFormat.markdown,
    ".xlsx": ReportFormat.xlsx,
    ".json": ReportFormat.json,
}


def report_format(fmt: str | None, output: Path) -> ReportFormat:
    """``fmt`` when given, else from ``output``'s extension; anything else is a usage error."""
    accepted = ", ".join(EXTENSIONS)
    if fmt is not None:
        try:
            return ReportFormat(str(fmt))
        except ValueError:
            raise UsageError(
                f"a report is written as html, markdown, xlsx or json, not {fmt}"
            ) from None
    ext = output.suffix.lower()
    if ext not in EXTENSIONS:
        what = f"extension '{output.suffix}'" if ext else "no extension"
        raise UsageError(
            f"cannot tell the report format of {output} ({what}); use one of {accepted}"
        )
    return EXTENSIONS[ext]


# ------------------------------------------------------------------------------ HTML

OPEN_ROWS = 15
"""Tables longer than this are folded (``<details>``) in the HTML report."""

MAX_COHORTS = 60
MAX_OFFSETS = 60
"""The triangle shown to people keeps the latest cohorts and the first offsets (a daily
grid would make a million cells); JSON and XLSX keep every cell."""


def cap_triangle(frame: pl.DataFrame) -> tuple[pl.DataFrame, str | None]:
    """The long cohort frame cut to the latest ``MAX_COHORTS`` cohorts and offsets
    ``0..MAX_OFFSETS - 1``, and a note saying what was cut (None when nothing was)."""
    cohorts = frame.get_column("cohort").unique().sort()
    kept = cohorts.tail(MAX_COHORTS)
    top = frame.get_column("offset").max()
    last_offset = top if isinstance(top, int) else 0
    cut_offsets = last_offset >= MAX_OFFSETS
    if kept.len() == cohorts.len() and not cut_offsets:
        return frame, None
    shown = frame.filter(pl.col("cohort").is_in(kept.implode()) & (pl.col("offset") < MAX_OFFSETS))
    note = (
        f"showing the latest {kept.len()} of {cohorts.len()} cohorts and offsets 0-"
        f"{min(MAX_OFFSETS, last_offset + 1) - 1}; the JSON and XLSX reports have every cell"
    )
    return shown, note


def _html_table(table: ReportTable) -> str:
    if table.view is View.cards:
        return h.kpi_cards(table.frame, percent_columns=table.percent_columns)
    if table.view is View.triangle and table.value is not None:
        spec = Triangle(value=table.value, percent=table.value in table.percent_columns)
        frame, note = cap_triangle(table.frame)
        return h.html_triangle(frame, spec, caption=note)
    return h.html_table(table.frame, percent_columns=table.percent_columns)


def _html_section(item: Section | Omitted) -> str:
    if isinstance(item, Omitted):
        return (
            f'<section id="{h.escape(item.key)}" class="omitted">'
            f"<h2>{h.escape(item.title)}</h2>"
            f'<p class="note">Left out: {h.escape(item.reason)}</p></section>'
        )
    parts = [
        f'<section id="{h.escape(item.key)}">',
        f"<h2>{h.escape(item.title)}</h2>",
        f'<p class="definition">{h.escape(item.definition)}</p>',
    ]
    for chart in item.charts:
        parts.append(h.image(chart.svg, mime=SVG_MIME, alt=chart.title, caption=_caption(chart)))
    for table in item.tables:
        if table.view is View.table and table.frame.height > OPEN_ROWS:
            # Long tables fold away: the charts carry the story, the numbers are one click away.
            parts.append(
                f"<details><summary><h3>{h.escape(table.title)} "
                f"({table.frame.height} rows)</h3></summary>{_html_table(table)}</details>"
            )
            continue
        parts.append(f"<h3>{h.escape(table.title)}</h3>")
        parts.append(_html_table(table))
    if item.notes:
        parts.append(
            "<ul>" + "".join(f'<li class="note">{h.escape(n)}</li>' for n in item.notes) + "</ul>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _caption(chart: Any) -> str:
    return chart.title + (f". {chart.caption}" if chart.caption else "")


def to_html(report: Report) -> str:
    """The whole report as one self-contained HTML page."""
    items = report.in_order()
    facts = " · ".join(f"{name}: {value}" for name, value in report.facts)
    nav = "".join(
        f'<li><a href="#{h.escape(i.key)}">{h.escape(i.title)}</a>'
        + (" (left out)" if isinstance(i, Omitted) else "")
        + "</li>"
        for i in items
    )
    body = [
        "<header>",
        f"<h1>{h.escape(report.title)}</h1>",
        f'<p class="facts">{h.escape(facts)}</p>',
        f"<nav><ul>{nav}</ul></nav>",
        "</header>",
        "<main>",
        *(_html_section(i) for i in items),
        "</main>",
        f"<footer>{h.escape(report.footer)}</footer>",
    ]
    return h.page(report.title, body)


# -------------------------------------------------------------------------- Markdown


def _md_text(text: str) -> str:
    """Prose from names and messages, with Markdown's special characters escaped."""
    out = text
    for char in ("\\", "`", "*", "_", "[", "]", "<", ">", "|", "#", "&"):
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def cohort_pivot(frame: pl.DataFrame, value: str) -> pl.DataFrame:
    """The long cohort frame as ``cohort, cohort_size, 0, 1, ...`` (one column per offset);
    the average rows (``cohort`` null) as one row, last, its size the largest of its cells."""
    if frame.height == 0:
        return frame.select("cohort", "cohort_size")
    offsets = sorted(frame.get_column("offset").unique().to_list())
    frame = frame.sort("cohort", "offset", nulls_last=True).with_columns(
        pl.col("cohort_size").max().over("cohort")
    )
    wide = frame.pivot(
        on="offset", index=["cohort", "cohort_size"], values=value, maintain_order=True
    )
    return wide.select("cohort", "cohort_size", *[str(o) for o in offsets])


def _offset_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.isdigit()]


def _metric_rows(frame: pl.DataFrame, percent_columns: Collection[str]) -> pl.DataFrame:
    text = human_frame(frame.head(1), percent_columns=percent_columns)
    return pl.DataFrame(
        {"metric": text.columns, "value": list(text.row(0)) if text.height else []},
        schema={"metric": pl.String, "value": pl.String},
    )


def _md_table(table: ReportTable) -> str:
    if table.view is View.cards:
        return markdown_table(_metric_rows(table.frame, table.percent_columns))
    if table.view is View.triangle and table.value is not None:
        frame, note = cap_triangle(table.frame)
        wide = cohort_pivot(frame, table.value)
        percent = _offset_columns(wide) if table.value in table.percent_columns else []
        text = markdown_table(wide, percent_columns=percent)
        if note:
            text += f"\n{_md_text(note[0].upper() + note[1:])}.\n"
        if bool(frame.get_column("complete").not_().fill_null(False).any()):
            text += (
                "\nThe cells of the latest period are not complete (the data ends inside it); "
                "the JSON and XLSX reports carry a `complete` flag per cell.\n"
            )
        return text
    return markdown_table(table.frame, percent_columns=table.percent_columns)


def chart_files(report: Report, output: Path) -> dict[tuple[str, str], Path]:
    """Where each chart of a Markdown report goes: ``STEM-CHART.svg`` beside it."""
    return {
        (section.key, chart.name): output.with_name(f"{output.stem}-{chart.name}.svg")
        for section in report.sections
        for chart in section.charts
    }


def to_markdown(report: Report, files: dict[tuple[str, str], Path]) -> str:
    """The report as Markdown, linking each chart to its file name in ``files``."""
    lines = [f"# {_md_text(report.title)}", ""]
    lines += [f"- {_md_text(name)}: {_md_text(value)}" for name, value in report.facts]
    for item in report.in_order():
        lines += ["", f"## {_md_text(item.title)}", ""]
        if isinstance(item, Omitted):
            lines.append(f"*Left out: {_md_text(item.reason)}*")
            continue
        lines.append(_md_text(item.definition))
        for chart in item.charts:
            target = quote(files[(item.key, chart.name)].name)
            lines += ["", f"![{_md_text(chart.title)}]({target})"]
            if chart.caption:
                lines += ["", f"*{_md_text(chart.caption)}*"]
        for table in item.tables:
            lines += ["", f"### {_md_text(table.title)}", "", _md_table(table).rstrip("\n")]
        if item.notes:
            lines.append("")
            lines += [f"> Note: {_md_text(n)}" for n in item.notes]
    if report.footer:
        lines += ["", f"*{_md_text(report.footer)}*"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ JSON


def table_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``--format json`` (dates as text, non-finite floats as null)."""
    rows: list[dict[str, Any]] = json.loads(machine_frame(frame, for_json=True).write_json())
    return rows


def to_json(report: Report) -> str:
    """Every table in one document, keyed by section then by table name."""
    sections: dict[str, Any] = {}
    for section in report.sections:
        sections[section.key] = {
            "title": section.title,
            **({"basis": section.basis} if section.basis else {}),
            "definition": section.definition,
            "tables": {t.name: table_rows(t.frame) for t in section.tables if t.machine},
            "notes": list(section.notes),
        }
    document = {
        "report": report.meta,
        "sections": sections,
        "omitted": {o.key: o.reason for o in report.omitted},
        **({"manifest": report.manifest} if report.manifest is not None else {}),
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ------------------------------------------------------------------------------ XLSX


def _overview(report: Report) -> pl.DataFrame:
    rows: list[tuple[str, str]] = [("title", report.title)]
    rows += list(report.facts)
    for item in report.in_order():
        if isinstance(item, Omitted):
            rows.append((item.key, f"{item.title}: left out: {item.reason}"))
            continue
        rows.append((item.key, f"{item.title}: {item.definition}"))
        rows += [(item.key, f"note: {n}") for n in item.notes]
        rows += [(item.key, f"sheet {t.name}: {t.title}") for t in item.tables if t.machine]
    if report.footer:
        rows.append(("written", report.footer))
    return pl.DataFrame(rows, schema={"item": pl.String, "text": pl.String}, orient="row")


def to_sheets(report: Report) -> list[Sheet]:
    """The ``report`` sheet, then one sheet per table (and the cohort triangle)."""
    sheets = [Sheet("report", _overview(report))]
    taken = {"report"}

    def add(name: str, frame: pl.DataFrame, percent: Collection[str], title: str) -> None:
        unique = sheet_name(name, taken)
        taken.add(unique)
        sheets.append(Sheet(unique, frame, tuple(percent), notes=(title,)))

    for section in report.sections:
        for table in section.tables:
            if not table.machine:
                continue
            add(table.name, table.frame, table.percent_columns, table.title)
            if table.view is View.triangle and table.value is not None:
                wide = cohort_pivot(table.frame, table.value)
                percent = _offset_columns(wide) if table.value in table.percent_columns else []
                add(f"{table.name}_triangle", wide, percent, table.title + " (triangle)")
    return sheets


# ----------------------------------------------------------------------------- write


def _write_bytes(path: Path, data: bytes, protected: Collection[Path]) -> Path:
    target = check_output_path(path, protected)
    try:
        with atomic_write(target) as sink:
            sink.write(data)
    except OSError as exc:
        raise RetcalcError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def write_report(
    report: Report,
    output: Path,
    fmt: ReportFormat,
    *,
    protected_paths: Collection[Path] = (),
) -> list[Path]:
    """Write ``report`` to ``output`` (and, for Markdown, its charts beside it); return the
    paths written, the report last."""
    protected = list(protected_paths)
    check_output_path(output, protected)
    if fmt is ReportFormat.html:
        return [_write_bytes(output, to_html(report).encode("utf-8"), protected)]
    if fmt is ReportFormat.json:
        return [_write_bytes(output, to_json(report).encode("utf-8"), protected)]
    if fmt is ReportFormat.xlsx:
        target = check_output_path(output, protected)
        try:
            with atomic_write(target) as sink:
                write_workbook(to_sheets(report), sink, title=report.title)
        except OSError as exc:
            raise RetcalcError(f"cannot write {output}: {exc.strerror or exc}") from exc
        return [output]
    files = chart_files(report, output)
    for path in files.values():
        check_output_path(path, protected)
    written = []
    charts = {(s.key, c.name): c for s in report.sections for c in s.charts}
    for key, path in files.items():
        written.append(_write_bytes(path, charts[key].svg, protected))
    written.append(_write_bytes(output, to_markdown(report, files).encode("utf-8"), protected))
    return written
