"""XLSX workbooks: one sheet per table, frozen header row, rates as percentages.

Written by Polars' ``write_excel`` into an xlsxwriter workbook that retcalc opens
itself with text-safe options (SPEC §6): ``strings_to_formulas``,
``strings_to_urls`` and ``strings_to_numbers`` are all off, so a text value such
as ``=HYPERLINK(...)``, ``+1``, ``-2`` or ``@SUM(A1)`` is stored as a string cell,
never as a formula, a link or a number. ``--excel-safe`` is for CSV only: XLSX
needs no prefix because its cells carry their type.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

import polars as pl

from retcalc.render.values import clean_floats, is_id_column

if TYPE_CHECKING:
    import xlsxwriter

PERCENT_FORMAT = "0.0%"
FLOAT_FORMAT = "#,##0.00"
INTEGER_FORMAT = "#,##0"
ID_FORMAT = "0"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
    "default_date_format": DATE_FORMAT,
}
"""Text stays text (SPEC §6)."""

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
MAX_SHEET_NAME = 31


@dataclass(frozen=True)
class Sheet:
    """One table to write: its sheet name, the frame and which columns are rates."""

    name: str
    frame: pl.DataFrame
    percent_columns: Collection[str] = ()
    notes: Sequence[str] = field(default_factory=tuple)


def sheet_name(text: str, taken: Collection[str] = ()) -> str:
    """A valid, unique worksheet name: no ``[]:*?/\\``, at most 31 characters."""
    base = _SHEET_BAD.sub("_", text).strip("'") or "sheet"
    base = base[:MAX_SHEET_NAME]
    name, n = base, 2
    lowered = {t.lower() for t in taken}
    while name.lower() in lowered:
        suffix = f"_{n}"
        name = base[: MAX_SHEET_NAME - len(suffix)] + suffix
        n += 1
    return name


def _column_formats(df: pl.DataFrame, percent_columns: Collection[str]) -> dict[str, str]:
    formats: dict[str, str] = {}
    percent = set(percent_columns)
    for name, dtype in df.schema.items():
        if name in percent and dtype.is_numeric():
            formats[name] = PERCENT_FORMAT
        elif dtype.is_float() or isinstance(dtype, pl.Decimal):
            formats[name] = FLOAT_FORMAT
        elif dtype.is_integer():
            formats[name] = ID_FORMAT if is_id_column(name) else INTEGER_FORMAT
        elif dtype == pl.Date:
            formats[name] = DATE_FORMAT
        elif isinstance(dtype, pl.Datetime):
            formats[name] = DATETIME_FORMAT
    return formats


def _writable(df: pl.DataFrame) -> pl.DataFrame:
    """Floats cleaned (NaN/inf as empty cells), nested and odd types as text, time zones dropped."""
    df = clean_floats(df)
    fixes: list[pl.Expr] = []
    for name, dtype in df.schema.items():
        if dtype.is_nested() or isinstance(dtype, pl.Duration | pl.Time | pl.Object | pl.Binary):
            fixes.append(pl.col(name).cast(pl.String, strict=False))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            fixes.append(pl.col(name).cast(pl.String))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            fixes.append(pl.col(name).dt.replace_time_zone(None))
        elif dtype == pl.Null:
            fixes.append(pl.col(name).cast(pl.String))
    return df.with_columns(fixes) if fixes else df


#: The most characters an XLSX cell holds; longer text is cut (Excel's limit).
MAX_CELL = 32_767


def cut_cells(df: pl.DataFrame) -> list[str]:
    """What to say of the text cells of ``df`` longer than :data:`MAX_CELL`, which a
    workbook cuts at that length: per column, how many rows."""
    df = _writable(df)
    text = [name for name, dtype in df.schema.items() if dtype == pl.String]
    if not text:
        return []
    counts = df.select((pl.col(c).str.len_chars() > MAX_CELL).sum() for c in text).row(0)
    return [
        f"column {name!r}: {n} {'cell is' if n == 1 else 'cells are'} longer than "
        f"{MAX_CELL:,} characters, the most an XLSX cell holds, and cut at that length; "
        "use --format csv or parquet for the whole text"
        for name, n in zip(text, counts, strict=True)
        if n
    ]


def _write_sheet(workbook: xlsxwriter.Workbook, sheet: Sheet) -> None:
    df = _writable(sheet.frame)
    start_row = len(sheet.notes)
    worksheet = workbook.add_worksheet(sheet.name)
    for row, note in enumerate(sheet.notes):
        worksheet.write_string(row, 0, note)  # never a formula, whatever it says
    if df.width == 0:
        return
    df.write_excel(
        workbook,
        worksheet=worksheet,
        position=(start_row, 0),
        column_formats=_column_formats(df, sheet.percent_columns),  # type: ignore[arg-type]
        float_precision=2,
        autofit=True,
        freeze_panes=(start_row + 1, 0),
        table_style="Table Style Light 9",
        include_header=True,
    )


def write_workbook(sheets: Sequence[Sheet], sink: IO[bytes], *, title: str | None = None) -> None:
    """Write ``sheets`` (in order) as one XLSX workbook to ``sink``."""
    import xlsxwriter  # imported when needed: most runs write no workbook

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS)
    if title:
        workbook.set_properties({"title": title, "comments": "written by retcalc"})
    if not sheets:
        workbook.add_worksheet("data")
    for sheet in sheets:
        _write_sheet(workbook, sheet)
    workbook.close()
    sink.write(buffer.getvalue())


def write_xlsx(
    df: pl.DataFrame,
    sink: IO[bytes],
    *,
    percent_columns: Collection[str] = (),
    title: str | None = None,
) -> None:
    """``--format xlsx``: the table on one sheet named ``data`` (the title in the properties)."""
    write_workbook([Sheet("data", df, tuple(percent_columns))], sink, title=title)
