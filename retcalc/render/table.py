"""The Rich table for people at a terminal (SPEC §4: tables show rates as percentages)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TextIO

import polars as pl
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from retcalc.render.values import human_frame, is_numeric

INCOMPLETE_CAPTION = "dim rows: period not complete"
EMPTY_CAPTION = "no rows"
CHECK_MARK = "\u2713"  # ✓
NULL_MARK = "\u2013"  # en dash


def _encodable(console: Console, text: str) -> bool:
    try:
        text.encode(console.encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _header(name: str) -> Text:
    # Spaces let Rich wrap a long snake_case name over two lines instead of cutting it.
    return Text(name.replace("_", " "))


def _prepare(
    df: pl.DataFrame, percent_columns: Collection[str], check_mark: str
) -> tuple[pl.DataFrame, pl.DataFrame, list[bool]]:
    """The columns to show, their display text, and which rows are incomplete periods.

    ``period_end`` is left out when ``period_start`` is shown (periods are contiguous)
    and ``complete`` becomes a ``*`` after the period.
    """
    incomplete: list[bool] = [False] * df.height
    if df.schema.get("complete") == pl.Boolean:
        incomplete = df.get_column("complete").eq(False).fill_null(False).to_list()
    shown = df
    if "period_start" in df.columns:
        shown = shown.drop([c for c in ("period_end", "complete") if c in shown.columns])
    text = human_frame(shown, percent_columns=percent_columns, check_mark=check_mark)
    if "period_start" in shown.columns and "complete" in df.columns:
        marks = pl.Series([" *" if flag else "" for flag in incomplete], dtype=pl.String)
        text = text.with_columns(pl.col("period_start") + marks)
    return shown, text, incomplete


def _width(name: str, values: pl.Series) -> int:
    widest = max((len(v) for v in values.to_list() if v is not None), default=1)
    return max(widest, *(len(word) for word in name.split("_")))


def build_table(
    df: pl.DataFrame,
    *,
    percent_columns: Collection[str] = (),
    title: str | None = None,
    unicode: bool = True,
    columns: list[str] | None = None,
) -> Table:
    """A Rich Table of ``df``: numbers right-aligned, rates as ``60.0%``, nulls as a dim
    dash, rows with ``complete == False`` dimmed. Values are Text, never Rich markup.
    ``columns`` picks a subset of the shown columns (for splitting a wide table)."""
    check_mark, null_mark = (CHECK_MARK, NULL_MARK) if unicode else ("yes", "-")
    shown, text, incomplete = _prepare(df, percent_columns, check_mark)
    if columns is not None:
        shown, text = shown.select(columns), text.select(columns)
    caption = None
    if df.height == 0:
        caption = EMPTY_CAPTION
    elif any(incomplete):
        caption = ("* " if "period_start" in shown.columns else "") + INCOMPLETE_CAPTION
    table = Table(title=Text(title) if title else None, caption=caption, box=box.SIMPLE_HEAD)
    for name, dtype in shown.schema.items():
        table.add_column(
            _header(name),
            justify="right" if is_numeric(dtype) else "left",
            overflow="fold",
            min_width=min(_width(name, text.get_column(name)), 30),
        )
    null = Text(null_mark, style="dim")
    for values, dim in zip(text.iter_rows(), incomplete, strict=True):
        cells = [null if value is None else Text(value) for value in values]
        table.add_row(*cells, style="dim" if dim else None)
    return table


def column_groups(
    df: pl.DataFrame, *, width: int, percent_columns: Collection[str] = ()
) -> list[list[str]]:
    """Split the shown columns into groups that fit ``width``; the leading text
    columns (group keys and the period) are repeated in every group."""
    shown, text, _ = _prepare(df, percent_columns, CHECK_MARK)
    names = shown.columns
    leading: list[str] = []
    for name in names:
        if is_numeric(shown.schema[name]):
            break
        leading.append(name)
    rest = [n for n in names if n not in leading]
    cost = {n: _width(n, text.get_column(n)) + 3 for n in names}  # padding and gap
    base = sum(cost[n] for n in leading) + 2
    groups: list[list[str]] = []
    current: list[str] = []
    used = base
    for name in rest:
        if current and used + cost[name] > width - 4:
            groups.append(leading + current)
            current, used = [], base
        current.append(name)
        used += cost[name]
    if current or not groups:
        groups.append(leading + current)
    return groups


def print_table(
    df: pl.DataFrame,
    *,
    file: TextIO | None = None,
    console: Console | None = None,
    percent_columns: Collection[str] = (),
    title: str | None = None,
) -> None:
    """Print ``df`` as a table on ``console`` (default: a Console on ``file``).

    Styling is Rich's own decision (isatty, NO_COLOR, FORCE_COLOR). On a terminal a
    table wider than the screen is split into several tables, each repeating the period
    (and group) columns, so no value is ever cut; elsewhere the console is widened to
    the table's natural width so a file or pipe gets whole lines.
    """
    if console is None:
        console = Console(file=file)
    unicode = _encodable(console, CHECK_MARK + NULL_MARK)
    if console.is_terminal:
        groups = column_groups(df, width=console.width, percent_columns=percent_columns)
        for i, group in enumerate(groups):
            part = build_table(
                df,
                percent_columns=percent_columns,
                title=title if i == 0 else None,
                unicode=unicode,
                columns=group,
            )
            if i < len(groups) - 1:
                part.caption = None
            console.print(part)
        return
    table = build_table(df, percent_columns=percent_columns, title=title, unicode=unicode)
    natural = Measurement.get(console, console.options.update_width(100_000), table)
    console.width = max(natural.maximum, len(title or ""))
    console.print(table)
