"""The Rich table for people at a terminal (SPEC §4: tables show rates as percentages)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TextIO

import polars as pl
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


def build_table(
    df: pl.DataFrame,
    *,
    percent_columns: Collection[str] = (),
    title: str | None = None,
    unicode: bool = True,
) -> Table:
    """A Rich Table of ``df``: numbers right-aligned, rates as ``60.0%``, nulls as a dim
    dash, rows with ``complete == False`` dimmed. Values are Text, never Rich markup."""
    check_mark, null_mark = (CHECK_MARK, NULL_MARK) if unicode else ("yes", "-")
    text = human_frame(df, percent_columns=percent_columns, check_mark=check_mark)
    incomplete: list[bool] = [False] * df.height
    if df.schema.get("complete") == pl.Boolean:
        incomplete = df.get_column("complete").eq(False).fill_null(False).to_list()
    caption = EMPTY_CAPTION if df.height == 0 else INCOMPLETE_CAPTION if any(incomplete) else None
    table = Table(title=Text(title) if title else None, caption=caption)
    for name, dtype in df.schema.items():
        numeric = is_numeric(dtype)
        table.add_column(
            Text(name),
            justify="right" if numeric else "left",
            overflow="fold",
            no_wrap=numeric,
        )
    null = Text(null_mark, style="dim")
    for values, dim in zip(text.iter_rows(), incomplete, strict=True):
        cells = [null if value is None else Text(value) for value in values]
        table.add_row(*cells, style="dim" if dim else None)
    return table


def print_table(
    df: pl.DataFrame,
    *,
    file: TextIO | None = None,
    console: Console | None = None,
    percent_columns: Collection[str] = (),
    title: str | None = None,
) -> None:
    """Print ``df`` as a table on ``console`` (default: a Console on ``file``).

    Styling is Rich's own decision (isatty, NO_COLOR, FORCE_COLOR). On a terminal the
    table fits the terminal width (text folds); elsewhere the console is widened to the
    table's natural width so a file or pipe gets whole lines.
    """
    if console is None:
        console = Console(file=file)
    unicode = _encodable(console, CHECK_MARK + NULL_MARK)
    table = build_table(df, percent_columns=percent_columns, title=title, unicode=unicode)
    if not console.is_terminal:
        natural = Measurement.get(console, console.options.update_width(100_000), table)
        console.width = max(natural.maximum, len(title or ""))
    console.print(table)
