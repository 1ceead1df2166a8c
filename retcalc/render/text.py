"""Text formats written as UTF-8 bytes: csv, tsv, json, ndjson (SPEC §4) and markdown."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import IO

import polars as pl

from retcalc.render.values import fold_intervals, human_frame, is_numeric, machine_frame

# Characters that could turn a cell into markup or break the pipe table.
_MARKDOWN_SPECIAL = r"([\\|`<>&\[\]])"


def write_csv(df: pl.DataFrame, sink: IO[bytes], *, separator: str, excel_safe: bool) -> None:
    """Header then one line per row; nulls as empty cells, booleans true/false."""
    machine_frame(df, for_json=False, excel_safe=excel_safe).write_csv(sink, separator=separator)


def _ndjson_text(df: pl.DataFrame) -> str:
    return machine_frame(df, for_json=True).write_ndjson()


def write_ndjson(df: pl.DataFrame, sink: IO[bytes]) -> None:
    """One JSON object per line."""
    sink.write(_ndjson_text(df).encode("utf-8"))


def write_json(df: pl.DataFrame, sink: IO[bytes]) -> None:
    """A JSON array of objects, one object per line; ``[]`` when empty."""
    lines = _ndjson_text(df).rstrip("\n")
    # NDJSON lines cannot contain a raw newline (it is escaped inside strings).
    text = "[\n" + lines.replace("\n", ",\n") + "\n]\n" if lines else "[]\n"
    sink.write(text.encode("utf-8"))


def _escape_markdown(text: str) -> str:
    escaped = re.sub(_MARKDOWN_SPECIAL, r"\\\1", text)
    return re.sub(r"\r\n|\r|\n", "<br>", escaped)


def markdown_table(df: pl.DataFrame, *, percent_columns: Collection[str] = ()) -> str:
    """A GitHub pipe table: numbers right-aligned, rates as percentages, nulls empty."""
    if df.width == 0:
        return ""
    df, text = fold_intervals(df, human_frame(df, percent_columns=percent_columns))
    escaped = text.select(
        pl.all()
        .fill_null("")
        .str.replace_all(_MARKDOWN_SPECIAL, r"\$1")
        .str.replace_all(r"\r\n|\r|\n", "<br>")
    )
    headers = [_escape_markdown(name) for name in df.columns]
    if df.height:
        cell_widths = escaped.select(pl.all().str.len_chars().max()).row(0)
    else:
        cell_widths = (0,) * df.width
    widths = [max(3, len(h), w or 0) for h, w in zip(headers, cell_widths, strict=True)]
    right = [is_numeric(dtype) for dtype in df.dtypes]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    header_line = line(
        [h.rjust(w) if r else h.ljust(w) for h, w, r in zip(headers, widths, right, strict=True)]
    )
    rule = line(["-" * (w - 1) + ":" if r else "-" * w for w, r in zip(widths, right, strict=True)])
    padded = [
        pl.col(name).str.pad_start(w) if r else pl.col(name).str.pad_end(w)
        for name, w, r in zip(escaped.columns, widths, right, strict=True)
    ]
    rows = escaped.select(
        pl.concat_str([pl.lit("| "), pl.concat_str(padded, separator=" | "), pl.lit(" |")])
        .str.join("\n")
        .alias("rows")
    ).item()
    body = f"{rows}\n" if df.height else ""
    return f"{header_line}\n{rule}\n{body}"


def write_markdown(
    df: pl.DataFrame, sink: IO[bytes], *, percent_columns: Collection[str] = ()
) -> None:
    """See :func:`markdown_table`."""
    sink.write(markdown_table(df, percent_columns=percent_columns).encode("utf-8"))
