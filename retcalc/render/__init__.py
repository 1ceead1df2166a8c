"""Write a result frame as a Rich table for people or as CSV/JSON/Parquet/XLSX/HTML/... for machines.

SPEC §4 (formats, stdout vs --output) and §6 (atomic replace, never overwrite an
input, optional spreadsheet-safe CSV). ``render`` never imports ``metrics``: it
takes any DataFrame and a stream or a path.
"""

from __future__ import annotations

import errno
import io
import sys
from collections.abc import Collection, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from retcalc.errors import RetcalcError, UsageError, first_line
from retcalc.lazy import LazyModule
from retcalc.render.atomic import atomic_write, check_output_path

if TYPE_CHECKING:
    import polars as pl
else:
    pl = LazyModule("polars")  # see retcalc.lazy

__all__ = ["EXTENSIONS", "OutputFormat", "resolve_format", "write_output"]


class OutputFormat(StrEnum):
    """Values of ``--format``."""

    table = "table"
    json = "json"
    ndjson = "ndjson"
    csv = "csv"
    tsv = "tsv"
    markdown = "markdown"
    parquet = "parquet"
    xlsx = "xlsx"
    html = "html"


BINARY_FORMATS = frozenset({OutputFormat.parquet, OutputFormat.xlsx})
"""Formats refused on a terminal (they would print bytes)."""

EXTENSIONS: dict[str, OutputFormat] = {
    ".csv": OutputFormat.csv,
    ".tsv": OutputFormat.tsv,
    ".tab": OutputFormat.tsv,
    ".json": OutputFormat.json,
    ".ndjson": OutputFormat.ndjson,
    ".jsonl": OutputFormat.ndjson,
    ".md": OutputFormat.markdown,
    ".markdown": OutputFormat.markdown,
    ".parquet": OutputFormat.parquet,
    ".pq": OutputFormat.parquet,
    ".xlsx": OutputFormat.xlsx,
    ".html": OutputFormat.html,
    ".htm": OutputFormat.html,
    ".txt": OutputFormat.table,
}
"""``--output`` extension (lower case) -> format, when ``--format`` is not given."""


def _is_stdout(output: Path | None) -> bool:
    """``--output -`` means standard output, like no ``--output``."""
    return output is None or str(output) == "-"


def resolve_format(
    fmt: OutputFormat | None, output: Path | None, *, stdout_is_tty: bool
) -> OutputFormat:
    """Pick the output format: ``--format`` wins, else ``--output``'s extension, else
    a table on a terminal and CSV on a pipe or file."""
    if fmt is not None:
        return OutputFormat(fmt)
    if output is not None and not _is_stdout(output):
        ext = output.suffix.lower()
        if ext in EXTENSIONS:
            return EXTENSIONS[ext]
        accepted = " ".join(EXTENSIONS)
        what = f"extension '{output.suffix}'" if ext else "no extension"
        raise UsageError(
            f"cannot tell the output format of {output} ({what}); "
            f"use one of {accepted} or pass --format"
        )
    return OutputFormat.table if stdout_is_tty else OutputFormat.csv


def write_output(
    df: pl.DataFrame,
    *,
    fmt: OutputFormat,
    output: Path | None = None,
    percent_columns: Collection[str] = (),
    title: str | None = None,
    protected_paths: Collection[Path] = (),
    excel_safe: bool = False,
    stdout: TextIO | None = None,
    images: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Write ``df`` as ``fmt`` to ``output`` (atomically) or to ``stdout``.

    ``images``: ``(title, SVG)`` charts that the ``html`` page shows under the table
    (other formats leave them out).

    ``percent_columns`` are fractions shown as percentages in table/markdown
    (machine formats keep the fraction). ``protected_paths`` are the input files,
    which are never overwritten. ``excel_safe`` applies to csv/tsv only.
    BrokenPipeError propagates to the caller.
    """
    fmt = OutputFormat(fmt)
    if output is None or _is_stdout(output):
        try:
            _write_stream(
                df,
                fmt=fmt,
                stream=stdout if stdout is not None else sys.stdout,
                percent_columns=percent_columns,
                title=title,
                excel_safe=excel_safe,
                images=images,
            )
        except (OSError, pl.exceptions.PolarsError) as exc:
            if closed_pipe(exc):
                raise
            raise output_error("standard output", exc) from exc
        return
    target = check_output_path(output, protected_paths)
    try:
        with atomic_write(target) as sink:
            if fmt is OutputFormat.table:
                from retcalc.render.table import print_table

                wrapper = io.TextIOWrapper(sink, encoding="utf-8", newline="\n", write_through=True)
                try:
                    print_table(df, file=wrapper, percent_columns=percent_columns, title=title)
                    wrapper.flush()
                finally:
                    wrapper.detach()
            else:
                _write_binary(
                    df,
                    fmt=fmt,
                    sink=sink,
                    percent_columns=percent_columns,
                    excel_safe=excel_safe,
                    title=title,
                    images=images,
                )
    except (OSError, pl.exceptions.PolarsError) as exc:
        if closed_pipe(exc):
            raise
        raise output_error(str(output), exc) from exc


def closed_pipe(exc: BaseException) -> bool:
    """A write that failed because the reader went away (``| head``): not an error."""
    return (
        isinstance(exc, BrokenPipeError)
        or getattr(exc, "errno", None) == errno.EPIPE
        or "Broken pipe" in str(exc)
    )


def output_error(where: str, exc: OSError | pl.exceptions.PolarsError) -> RetcalcError:
    """The error for a failed write to ``where`` (a file or standard output) that names it."""
    reason = getattr(exc, "strerror", None) or first_line(exc)
    if "(os error" in reason:  # Polars' writers: "parquet: ...: underlying IO error: ..."
        reason = reason.rsplit(": ", 1)[-1]
    return RetcalcError(f"cannot write {where}: {reason}")


def _write_binary(
    df: pl.DataFrame,
    *,
    fmt: OutputFormat,
    sink: IO[bytes],
    percent_columns: Collection[str],
    excel_safe: bool,
    title: str | None = None,
    images: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Write every format but ``table`` to a byte stream (UTF-8 for text)."""
    # Each writer imported when its format is asked for (see retcalc.lazy).
    from retcalc.render.text import write_csv, write_json, write_markdown, write_ndjson

    if fmt is OutputFormat.parquet:
        from retcalc.render.binary import write_parquet

        write_parquet(df, sink)
    elif fmt is OutputFormat.xlsx:
        from retcalc.render.xlsx import write_xlsx

        write_xlsx(df, sink, percent_columns=percent_columns, title=title)
    elif fmt is OutputFormat.html:
        from retcalc.render.html import write_html

        write_html(df, sink, percent_columns=percent_columns, title=title, images=images)
    elif fmt is OutputFormat.csv:
        write_csv(df, sink, separator=",", excel_safe=excel_safe)
    elif fmt is OutputFormat.tsv:
        write_csv(df, sink, separator="\t", excel_safe=excel_safe)
    elif fmt is OutputFormat.json:
        write_json(df, sink)
    elif fmt is OutputFormat.ndjson:
        write_ndjson(df, sink)
    elif fmt is OutputFormat.markdown:
        write_markdown(df, sink, percent_columns=percent_columns)
    else:  # table goes through Rich, never here
        raise ValueError(f"not a byte format: {fmt}")


def _write_stream(
    df: pl.DataFrame,
    *,
    fmt: OutputFormat,
    stream: TextIO,
    percent_columns: Collection[str],
    title: str | None,
    excel_safe: bool,
    images: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Write to standard output: Rich for tables, the byte buffer for the rest."""
    if fmt is OutputFormat.table:
        from retcalc.render.table import print_table

        print_table(df, file=stream, percent_columns=percent_columns, title=title)
        return
    buffer: IO[bytes] | None = getattr(stream, "buffer", None)
    if fmt in BINARY_FORMATS:
        if stream.isatty():
            raise UsageError(
                f"refusing to write binary {fmt} to a terminal; "
                f"use --output FILE.{fmt} or redirect stdout"
            )
        if buffer is None:
            raise UsageError(f"{fmt} needs a binary output; use --output FILE.{fmt}")
    if buffer is None:
        # A text-only stream (io.StringIO in tests, some embedding hosts).
        data = io.BytesIO()
        _write_binary(
            df,
            fmt=fmt,
            sink=data,
            percent_columns=percent_columns,
            excel_safe=excel_safe,
            title=title,
            images=images,
        )
        stream.write(data.getvalue().decode("utf-8"))
        stream.flush()
        return
    stream.flush()  # keep anything already written in text mode in order
    _write_binary(
        df,
        fmt=fmt,
        sink=buffer,
        percent_columns=percent_columns,
        excel_safe=excel_safe,
        title=title,
        images=images,
    )
    buffer.flush()
