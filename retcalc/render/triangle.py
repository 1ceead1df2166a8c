"""The cohort triangle for people at a terminal: cohorts as rows, offsets as columns.

Takes the long cohort frame (``keys..., cohort, offset, cohort_size, <value>,
complete``), one row per cell, and pivots it for display: cells are shaded by
value (background intensity), cells of a period that is not complete are dimmed
and marked ``*``. On a terminal too narrow for every offset, the first offsets
that fit are shown and a caption says how many were left out. ``render`` never
imports ``metrics``: the column names are the only contract.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import polars as pl
from rich import box
from rich.color import Color
from rich.console import Console
from rich.measure import Measurement
from rich.style import Style
from rich.table import Table
from rich.text import Text

from retcalc.errors import RetcalcError
from retcalc.render.atomic import atomic_write, check_output_path
from retcalc.render.values import human_frame

NULL_MARK = "\u2013"  # en dash
INCOMPLETE_MARK = "*"
INCOMPLETE_CAPTION = "* dim: period not complete"
EMPTY_CAPTION = "no cohorts"

# Light to dark blue; the text turns white past the middle so it stays readable.
_LIGHT = (239, 243, 255)
_DARK = (8, 81, 156)
_TEXT = "_text"
_SHADE = "_shade"
_INCOMPLETE = "_incomplete"


@dataclass(frozen=True)
class Triangle:
    """What to show: the cell ``value`` column, the leading ``keys``, and labels."""

    value: str
    keys: tuple[str, ...] = ()
    percent: bool = False
    title: str | None = None
    overflow_hint: str = ""


def _shade_style(t: float | None, incomplete: bool) -> Style:
    if incomplete:
        return Style(dim=True)
    if t is None:
        return Style()
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(_LIGHT, _DARK, strict=True))
    return Style(bgcolor=Color.from_rgb(r, g, b), color="white" if t >= 0.5 else "black")


def _shades(df: pl.DataFrame, value: str) -> pl.Expr:
    """value / scale clipped to [0, 1]; the scale is the largest complete value after
    offset 0 (offset 0 is the cohort itself, 100 % retention, and would wash out the rest)."""
    complete = df.filter(pl.col("complete").fill_null(True))
    later = complete.filter(pl.col("offset") >= 1).get_column(value).drop_nulls()
    pool = later if later.len() else complete.get_column(value).drop_nulls()
    scale = pool.max() if pool.len() else None
    if not isinstance(scale, int | float) or scale <= 0:
        return pl.lit(None, dtype=pl.Float64)
    return (pl.col(value).cast(pl.Float64) / float(scale)).clip(0.0, 1.0)


@dataclass(frozen=True)
class _Cells:
    leading: pl.DataFrame  # display text of keys..., cohort, size
    offsets: list[int]
    text: pl.DataFrame  # one column per offset (named str(offset)); null beyond the data
    shade: pl.DataFrame
    incomplete: pl.DataFrame


def _cells(df: pl.DataFrame, spec: Triangle) -> _Cells:
    index = [*spec.keys, "cohort", "cohort_size"]
    long = df.sort([*spec.keys, "cohort", "offset"])
    rows = long.select(index).unique(maintain_order=True)
    leading = human_frame(rows).rename({"cohort_size": "size"})
    offsets: list[int] = sorted(long.get_column("offset").unique().to_list())
    if long.height == 0:
        empty = pl.DataFrame()
        return _Cells(leading, offsets, empty, empty, empty)
    text = human_frame(
        long.select(spec.value), percent_columns=[spec.value] if spec.percent else ()
    )
    long = long.with_columns(
        text.get_column(spec.value).alias(_TEXT),
        _shades(long, spec.value).alias(_SHADE),
        pl.col("complete").not_().fill_null(False).alias(_INCOMPLETE),
    ).with_columns(
        # The mark keeps incomplete cells recognisable where dim text is not shown (files, pipes).
        pl.when(pl.col(_INCOMPLETE))
        .then(pl.col(_TEXT) + pl.lit(INCOMPLETE_MARK))
        .otherwise(pl.col(_TEXT))
        .alias(_TEXT)
    )
    names = [str(o) for o in offsets]

    def wide(column: str) -> pl.DataFrame:
        pivoted = long.pivot(on="offset", index=index, values=column, maintain_order=True)
        return pivoted.select(names)

    return _Cells(leading, offsets, wide(_TEXT), wide(_SHADE), wide(_INCOMPLETE))


def build_triangle(
    df: pl.DataFrame, spec: Triangle, *, max_offsets: int | None = None, unicode: bool = True
) -> Table:
    """A Rich Table: the ``keys`` columns, the cohort and its size, then one column per
    offset showing ``spec.value``; ``max_offsets`` keeps only the first offsets. The title
    is not part of it (a table's title wraps at the table's width)."""
    return _table(df, _cells(df, spec), spec, max_offsets=max_offsets, unicode=unicode)


def _table(
    df: pl.DataFrame, cells: _Cells, spec: Triangle, *, max_offsets: int | None, unicode: bool
) -> Table:
    null_mark = NULL_MARK if unicode else "-"
    shown = cells.offsets if max_offsets is None else cells.offsets[: max(max_offsets, 1)]
    left_out = len(cells.offsets) - len(shown)
    notes = []
    if df.height == 0:
        notes.append(EMPTY_CAPTION)
    elif bool(df.get_column("complete").not_().fill_null(False).any()):
        notes.append(INCOMPLETE_CAPTION)
    if left_out:
        notes.append(
            f"{left_out} more offset{'s' if left_out > 1 else ''} not shown "
            f"({shown[-1] + 1}-{cells.offsets[-1]})"
            + (f"; {spec.overflow_hint}" if spec.overflow_hint else "")
        )
    table = Table(
        caption=Text("\n".join(notes)) if notes else None,
        box=box.SIMPLE_HEAD,
    )
    for name in cells.leading.columns:
        table.add_column(
            Text(name.replace("_", " ")), justify="right" if name == "size" else "left"
        )
    for offset in shown:
        table.add_column(Text(str(offset)), justify="right")
    names = [str(o) for o in shown]
    if not names:
        return table
    null = Text(null_mark, style="dim")
    for lead, texts, shades, flags in zip(
        cells.leading.rows(),
        cells.text.select(names).rows(),
        cells.shade.select(names).rows(),
        cells.incomplete.select(names).rows(),
        strict=True,
    ):
        row: list[Text] = [Text(v) if v is not None else null for v in lead]
        for value, t, flag in zip(texts, shades, flags, strict=True):
            if flag is None:
                row.append(Text(""))  # beyond the data: the empty corner of the triangle
            elif value is None:
                row.append(null)
            else:
                row.append(Text(value, style=_shade_style(t, flag)))
        table.add_row(*row)
    return table


def _natural_width(console: Console, table: Table) -> int:
    return Measurement.get(console, console.options.update_width(100_000), table).maximum


def _column_width(header: str, values: pl.Series) -> int:
    longest = values.drop_nulls().str.len_chars().max()
    return max(len(header), longest if isinstance(longest, int) else 1)


def _fitting_offsets(cells: _Cells, width: int) -> int | None:
    """How many offsets fit ``width`` columns: None when all do, else at least 1.

    A SIMPLE_HEAD table is 1 edge + (column + 2 padding + 1 divider) per column - 1 divider
    + 1 edge wide.
    """
    used = 1 + sum(
        _column_width(name.replace("_", " "), cells.leading.get_column(name)) + 3
        for name in cells.leading.columns
    )
    for n, offset in enumerate(cells.offsets):
        name = str(offset)
        used += _column_width(name, cells.text.get_column(name)) + 3
        if used > width:
            return max(n, 1)
    return None


def print_triangle(
    df: pl.DataFrame, spec: Triangle, *, file: TextIO | None = None, console: Console | None = None
) -> None:
    """Print the triangle. On a terminal it is cut to the offsets that fit the screen;
    elsewhere (a file, a pipe) the console is widened so every offset is written."""
    if console is None:
        console = Console(file=file if file is not None else sys.stdout)
    unicode = _encodable(console, NULL_MARK)
    cells = _cells(df, spec)
    title = Text(spec.title, style="table.title") if spec.title else None
    if console.is_terminal:
        fit = _fitting_offsets(cells, console.width)
        if title is not None:
            console.print(title)
        console.print(_table(df, cells, spec, max_offsets=fit, unicode=unicode))
        return
    table = _table(df, cells, spec, max_offsets=None, unicode=unicode)
    console.width = max(_natural_width(console, table), len(spec.title or ""))
    if title is not None:
        console.print(title)
    console.print(table)


def write_triangle(
    df: pl.DataFrame,
    spec: Triangle,
    *,
    output: Path | None = None,
    protected_paths: Collection[Path] = (),
) -> None:
    """Print the triangle to stdout, or write it to ``output`` atomically (never an input)."""
    if output is None or str(output) == "-":
        print_triangle(df, spec)
        return
    target = check_output_path(output, protected_paths)
    try:
        with atomic_write(target) as sink:
            wrapper = io.TextIOWrapper(sink, encoding="utf-8", newline="\n", write_through=True)
            try:
                print_triangle(df, spec, file=wrapper)
                wrapper.flush()
            finally:
                wrapper.detach()
    except OSError as exc:
        raise RetcalcError(f"cannot write {output}: {exc.strerror or exc}") from exc


def _encodable(console: Console, text: str) -> bool:
    try:
        text.encode(console.encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
