"""The cohort triangle for people at a terminal: cohorts as rows, offsets as columns.

Takes the long cohort frame (``keys..., cohort, offset, cohort_size, <value>,
complete``), one row per cell, and pivots it for display (the average rows, ``cohort``
null, last in each group as ``all``, their size the largest of their cells): cells are shaded by
value (background intensity), cells of a period that is not complete are dimmed
and marked ``*``. On a terminal too narrow for every offset, the triangle is
split into parts of the offsets that fit, each repeating the cohort and its size;
nothing is left out or cut. ``render`` never
imports ``metrics``: the column names are the only contract.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import polars as pl
from rich import box
from rich.color import Color
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from retcalc.errors import RetcalcError
from retcalc.render.atomic import atomic_write, check_output_path
from retcalc.render.table import Fit, fit, print_parts, split_columns, table_width
from retcalc.render.values import human_frame

NULL_MARK = "\u2013"  # en dash
INCOMPLETE_MARK = "*"
INCOMPLETE_CAPTION = "* dim: period not complete"
EMPTY_CAPTION = "no cohorts"
AVERAGE_LABEL = "all"  # the cohort of the average rows (cohort null)

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
    #: The column whose values head the cell columns, and the one that orders them.
    column: str = "offset"
    order: str = "offset"
    incomplete_caption: str = INCOMPLETE_CAPTION


def _shade_style(t: float | None, incomplete: bool) -> Style:
    if incomplete:
        return Style(dim=True)
    if t is None:
        return Style()
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(_LIGHT, _DARK, strict=True))
    return Style(bgcolor=Color.from_rgb(r, g, b), color="white" if t >= 0.5 else "black")


def _shades(df: pl.DataFrame, value: str, order: str) -> pl.Expr:
    """value / scale clipped to [0, 1]; the scale is the largest complete value after
    offset 0 (offset 0 is the cohort itself, 100 % retention, and would wash out the rest)."""
    complete = df.filter(pl.col("complete").fill_null(True))
    later = complete.filter(pl.col(order) >= 1).get_column(value).drop_nulls()
    pool = later if later.len() else complete.get_column(value).drop_nulls()
    scale = pool.max() if pool.len() else None
    if not isinstance(scale, int | float) or scale <= 0:
        return pl.lit(None, dtype=pl.Float64)
    return (pl.col(value).cast(pl.Float64) / float(scale)).clip(0.0, 1.0)


@dataclass(frozen=True)
class _Cells:
    leading: pl.DataFrame  # display text of keys..., cohort, size
    offsets: list[str]
    text: pl.DataFrame  # one column per offset (named str(offset)); null beyond the data
    shade: pl.DataFrame
    incomplete: pl.DataFrame


def _cells(df: pl.DataFrame, spec: Triangle) -> _Cells:
    index = [*spec.keys, "cohort", "cohort_size"]
    row = [*spec.keys, "cohort"]
    long = df.sort([*row, spec.order], nulls_last=True).with_columns(
        pl.col("cohort_size").max().over(row),
        pl.col("cohort").cast(pl.String).fill_null(AVERAGE_LABEL),
    )
    rows = long.select(index).unique(maintain_order=True)
    leading = human_frame(rows).rename({"cohort_size": "size"})
    by_order = long.sort(spec.order).get_column(spec.column).cast(pl.String)
    offsets: list[str] = by_order.unique(maintain_order=True).to_list()
    if long.height == 0:
        empty = pl.DataFrame()
        return _Cells(leading, offsets, empty, empty, empty)
    text = human_frame(
        long.select(spec.value), percent_columns=[spec.value] if spec.percent else ()
    )
    long = long.with_columns(
        text.get_column(spec.value).alias(_TEXT),
        _shades(long, spec.value, spec.order).alias(_SHADE),
        pl.col("complete").not_().fill_null(False).alias(_INCOMPLETE),
    ).with_columns(
        # The mark keeps incomplete cells recognisable where dim text is not shown (files, pipes).
        pl.when(pl.col(_INCOMPLETE))
        .then(pl.col(_TEXT) + pl.lit(INCOMPLETE_MARK))
        .otherwise(pl.col(_TEXT))
        .alias(_TEXT)
    )
    names = offsets

    def wide(column: str) -> pl.DataFrame:
        pivoted = long.with_columns(pl.col(spec.column).cast(pl.String)).pivot(
            on=spec.column, index=index, values=column, maintain_order=True
        )
        return pivoted.select(names)

    return _Cells(leading, offsets, wide(_TEXT), wide(_SHADE), wide(_INCOMPLETE))


def _fits(cells: _Cells) -> dict[str, Fit]:
    """The leading columns' and every offset's :class:`Fit` (headers as shown)."""
    fits = {
        name: fit(name.replace("_", " "), cells.leading.get_column(name))
        for name in cells.leading.columns
    }
    if cells.text.width:
        fits |= {name: fit(name, cells.text.get_column(name)) for name in cells.text.columns}
    return fits


def _notes(df: pl.DataFrame, spec: Triangle) -> list[str]:
    if df.height == 0:
        return [EMPTY_CAPTION]
    if bool(df.get_column("complete").not_().fill_null(False).any()):
        return [spec.incomplete_caption]
    return []


def _table(
    df: pl.DataFrame,
    cells: _Cells,
    widths: Mapping[str, int],
    *,
    notes: list[str],
    unicode: bool,
) -> Table:
    """The triangle's columns in ``widths`` (the leading ones and some offsets), each
    exactly that wide, so Rich never shrinks a column below its values."""
    null_mark = NULL_MARK if unicode else "-"
    table = Table(
        caption=Text("\n".join(notes)) if notes else None,
        box=box.SIMPLE_HEAD,
    )
    lead = [name for name in cells.leading.columns if name in widths]
    names = [name for name in widths if name not in lead]
    for name in lead:
        table.add_column(
            Text(name.replace("_", " ")),
            justify="right" if name == "size" else "left",
            width=widths[name],
            overflow="fold",
        )
    for name in names:
        table.add_column(Text(name), justify="right", width=widths[name])
    if not names:
        return table
    null = Text(null_mark, style="dim")
    for leading, texts, shades, flags in zip(
        cells.leading.select(lead).rows(),
        cells.text.select(names).rows(),
        cells.shade.select(names).rows(),
        cells.incomplete.select(names).rows(),
        strict=True,
    ):
        if all(flag is None for flag in flags):
            continue  # a cohort too young for any offset of this part
        row: list[Text] = [Text(v, no_wrap=True) if v is not None else null for v in leading]
        for value, t, flag in zip(texts, shades, flags, strict=True):
            if flag is None:
                row.append(Text(""))  # beyond the data: the empty corner of the triangle
            elif value is None:
                row.append(null)
            else:
                row.append(Text(value, style=_shade_style(t, flag), no_wrap=True))
        table.add_row(*row)
    return table


def print_triangle(
    df: pl.DataFrame, spec: Triangle, *, file: TextIO | None = None, console: Console | None = None
) -> None:
    """Print the triangle. On a terminal too narrow for every offset it is split into
    parts of the offsets that fit, each repeating the keys, cohort and size; elsewhere
    (a file, a pipe) the console is widened so every offset is on one line."""
    if console is None:
        console = Console(file=file if file is not None else sys.stdout)
    unicode = _encodable(console, NULL_MARK)
    cells = _cells(df, spec)
    fits = _fits(cells)
    title = Text(spec.title, style="table.title") if spec.title else None
    notes = _notes(df, spec)
    if console.is_terminal:
        groups = split_columns(fits, list(cells.leading.columns), console.width)
        if len(groups) > 1:
            notes.append(
                f"offsets in {len(groups)} parts"
                + (f"; {spec.overflow_hint}" if spec.overflow_hint else "")
            )
        last = len(groups) - 1
        parts = [
            _table(df, cells, widths, notes=notes if i == last else [], unicode=unicode)
            for i, widths in enumerate(groups)
        ]
        if title is not None:
            console.print(title)
        print_parts(console, parts)
        return
    natural = {name: f.natural for name, f in fits.items()}
    table = _table(df, cells, natural, notes=notes, unicode=unicode)
    console.width = max(table_width(natural.values()), len(spec.title or ""))
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
