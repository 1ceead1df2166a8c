"""The Rich table for people at a terminal (SPEC §4: tables show rates as percentages)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TextIO

import polars as pl
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from retcalc.render.values import fold_intervals, human_frame, is_id_column, is_numeric

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
    # Spaces let Rich wrap a long snake_case name over several lines.
    return Text(name.replace("_", " "))


@dataclass(frozen=True)
class Fit:
    """How wide a column may be, in terminal cells: ``need`` holds its widest value and
    its header's longest word (headers wrap between words, values never wrap);
    ``natural`` also holds the whole header on one line."""

    need: int
    natural: int


def text_width(values: pl.Series) -> int:
    """The widest display text of ``values`` in terminal cells (at least 1, the null dash).

    ASCII text is measured by Polars; other text (wide characters, several lines) by
    Rich on the distinct values only."""
    present = values.drop_nulls().unique()
    if present.is_empty():
        return 1
    if not present.str.contains(r"[^\x20-\x7e]").any():
        longest = present.str.len_chars().max()
        return max(int(longest), 1) if isinstance(longest, int) else 1
    lines = (line for value in present.to_list() for line in value.splitlines())
    return max((cell_len(line) for line in lines), default=1) or 1


def fit(header: str, values: pl.Series) -> Fit:
    """The :class:`Fit` of a column headed ``header`` (as shown) holding ``values`` (text)."""
    widest = text_width(values)
    words = max((cell_len(word) for word in header.split()), default=1)
    return Fit(need=max(widest, words), natural=max(widest, cell_len(header)))


def table_width(widths: Collection[int]) -> int:
    """Width of a SIMPLE_HEAD table whose columns hold ``widths`` cells: each column has
    one cell of padding on either side, columns are parted by one divider, and the table
    has an edge of one cell on either side."""
    return sum(widths) + 3 * len(widths) + 1


def split_columns(fits: Mapping[str, Fit], leading: list[str], width: int) -> list[dict[str, int]]:
    """The parts of a table ``width`` cells wide: each maps its columns to their widths.

    Every part starts with the ``leading`` columns; the other columns follow in order,
    as many per part as fit at their ``need``. A part's spare cells then widen the
    columns that need the fewest to show their header on one line. A part that holds
    one column beside the leading ones is never split further: when even that is too
    wide, the part is wider than ``width`` (values are never cut nor wrapped)."""
    rest = [name for name in fits if name not in leading]
    groups: list[list[str]] = []
    current: list[str] = []
    for name in rest:
        trial = [*leading, *current, name]
        if current and table_width([fits[n].need for n in trial]) > width:
            groups.append(current)
            current = []
        current.append(name)
    groups.append(current)
    parts = []
    for group in groups:
        names = [*leading, *group]
        widths = {n: fits[n].need for n in names}
        spare = width - table_width(widths.values())
        for name in sorted(names, key=lambda n: fits[n].natural - fits[n].need):
            extra = fits[name].natural - fits[name].need
            if 0 < extra <= spare:
                widths[name] += extra
                spare -= extra
        parts.append(widths)
    return parts


def key_columns(schema: pl.Schema) -> list[str]:
    """The columns repeated in every part: the text (or ``*_id``) columns before the
    first other number, or the first column when no column is a number."""
    names = list(schema)
    measures = [n for n, t in schema.items() if is_numeric(t) and not is_id_column(n)]
    if not measures:
        return names[:1]
    return names[: names.index(measures[0])]


@dataclass(frozen=True)
class _Shown:
    """A frame as the table shows it: the columns, their text, the incomplete rows."""

    frame: pl.DataFrame
    text: pl.DataFrame
    incomplete: list[bool]
    has_incomplete: bool

    def fits(self) -> dict[str, Fit]:
        return {n: fit(_header(n).plain, self.text.get_column(n)) for n in self.text.columns}


def _prepare(df: pl.DataFrame, percent_columns: Collection[str], check_mark: str) -> _Shown:
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
    shown, text = fold_intervals(shown, text)
    if "period_start" in shown.columns and "complete" in df.columns:
        marks = pl.Series([" *" if flag else "" for flag in incomplete], dtype=pl.String)
        text = text.with_columns(pl.col("period_start") + marks)
    return _Shown(shown, text, incomplete, any(incomplete))


def _table(
    shown: _Shown, widths: Mapping[str, int], *, title: str | None, unicode: bool, caption: bool
) -> Table:
    """The table of ``shown``'s columns in ``widths``, each exactly that wide: Rich then
    has no width to negotiate, so it never shrinks a column below its values."""
    null_mark = NULL_MARK if unicode else "-"
    names = list(widths)
    note = None
    if caption and shown.frame.height == 0:
        note = EMPTY_CAPTION
    elif caption and shown.has_incomplete:
        note = ("* " if "period_start" in names else "") + INCOMPLETE_CAPTION
    table = Table(title=Text(title) if title else None, caption=note, box=box.SIMPLE_HEAD)
    for name in names:
        table.add_column(
            _header(name),
            justify="right" if is_numeric(shown.frame.schema[name]) else "left",
            width=widths[name],
            overflow="fold",  # for the header only: a value is never wider than its column
        )
    null = Text(null_mark, style="dim")
    for values, dim in zip(shown.text.select(names).iter_rows(), shown.incomplete, strict=True):
        cells = [null if value is None else Text(value, no_wrap=True) for value in values]
        table.add_row(*cells, style="dim" if dim else None)
    return table


def print_parts(console: Console, parts: list[Table]) -> None:
    """Print each table whole: a part wider than the console (one column beside the
    repeated ones that cannot fit) is printed at its own width, not cut to the screen."""
    for part in parts:
        wide = Measurement.get(console, console.options.update_width(100_000), part).maximum
        if wide <= console.width:
            console.print(part)
            continue
        screen = console.width
        console.width = wide
        try:
            console.print(part)
        finally:
            console.width = screen


def print_table(
    df: pl.DataFrame,
    *,
    file: TextIO | None = None,
    console: Console | None = None,
    percent_columns: Collection[str] = (),
    title: str | None = None,
    keys: list[str] | None = None,
) -> None:
    """Print ``df`` as a table on ``console`` (default: a Console on ``file``).

    Styling is Rich's own decision (isatty, NO_COLOR, FORCE_COLOR). On a terminal a
    table wider than the screen is split into parts, each repeating the period (and
    group) columns (``keys``, default :func:`key_columns`); headers wrap between words,
    values are never cut nor wrapped (:func:`split_columns`). Elsewhere the console is widened to the table's natural
    width so a file or pipe gets whole lines.
    """
    if console is None:
        console = Console(file=file)
    unicode = _encodable(console, CHECK_MARK + NULL_MARK)
    shown = _prepare(df, percent_columns, CHECK_MARK if unicode else "yes")
    fits = shown.fits()
    if console.is_terminal:
        leading = key_columns(shown.frame.schema) if keys is None else keys
        groups = split_columns(fits, leading, console.width)
        last = len(groups) - 1
        parts = [
            _table(
                shown,
                widths,
                title=title if i == 0 else None,
                unicode=unicode,
                caption=i == last,
            )
            for i, widths in enumerate(groups)
        ]
        print_parts(console, parts)
        return
    natural = {n: f.natural for n, f in fits.items()}
    table = _table(shown, natural, title=title, unicode=unicode, caption=True)
    console.width = max(table_width(natural.values()), len(title or ""))
    console.print(table)
