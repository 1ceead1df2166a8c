"""Opening an input: a CSV or Parquet path, a directory or glob of Parquet files, or ``-``.

Files are scanned lazily; standard input is read once into memory. CSV
columns are read as text so that identifiers keep their leading zeros and
every value is parsed, and reported, by retcalc itself.
"""

from __future__ import annotations

import glob
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from retcalc.errors import InputError

ROW = "_retcalc_row"
PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Table:
    """A lazily read input with a name to show in messages."""

    name: str
    frame: pl.LazyFrame  # has a ROW column: 0-based index of the data row
    columns: tuple[str, ...]
    is_csv: bool
    path: Path | None  # None for stdin and globs

    def location(self, row: int) -> str:
        """Where data row ``row`` (0-based) is, in words a person can find in the file."""
        if self.is_csv:
            return f"line {row + 2}"
        return f"row {row + 1}"


def _sniff_separator(head: bytes) -> str:
    first_line = head.split(b"\n", 1)[0]
    counts = {sep: first_line.count(sep.encode()) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _check_text(head: bytes, name: str) -> None:
    if not head.strip():
        raise InputError(f"{name}: the file is empty; expected a header row and order rows")
    if b"\x00" in head[:4096]:
        raise InputError(f"{name}: this looks like a binary file, not CSV text or Parquet")


def _csv_from_bytes(data: bytes, name: str, encoding: str) -> pl.LazyFrame:
    _check_text(data[:65536], name)
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            infer_schema=False,
            separator=_sniff_separator(data[:65536]),
            encoding="utf8-lossy" if encoding.lower() in {"utf8", "utf-8"} else "utf8",
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: cannot read as CSV: {exc}") from None
    return frame.lazy()


def open_table(spec: str, *, encoding: str = "utf8", stdin: BinaryIO | None = None) -> Table:
    """Open ``spec`` (path, directory, glob or ``-``) as a lazily read table."""
    if spec == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read()
        if data.startswith(PARQUET_MAGIC):
            frame = pl.read_parquet(io.BytesIO(data)).lazy()
            return _finish("<stdin>", frame, is_csv=False, path=None)
        return _finish(
            "<stdin>", _csv_from_bytes(data, "<stdin>", encoding), is_csv=True, path=None
        )

    path = Path(spec)
    if any(ch in spec for ch in "*?[") and not path.exists():
        matches = sorted(glob.glob(spec, recursive=True))
        if not matches:
            raise InputError(f"{spec}: no file matches this pattern")
        if all(Path(m).suffix.lower() in PARQUET_SUFFIXES for m in matches):
            return _finish(spec, _scan_parquet(spec, spec), is_csv=False, path=None)
        if all(Path(m).suffix.lower() not in PARQUET_SUFFIXES for m in matches):
            frame = _scan_csv_many(matches, spec, encoding)
            return _finish(spec, frame, is_csv=True, path=None)
        raise InputError(f"{spec}: the pattern matches both Parquet and CSV files; pick one kind")
    if not path.exists():
        raise InputError(f"{spec}: no such file")
    if path.is_dir():
        parquet = [p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES]
        if not parquet:
            raise InputError(f"{spec}: is a directory with no Parquet files; give a file")
        return _finish(spec, _scan_parquet(str(path), spec), is_csv=False, path=path)
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise InputError(f"{spec}: cannot read the file ({exc.strerror})") from None
    if head.startswith(PARQUET_MAGIC) or path.suffix.lower() in PARQUET_SUFFIXES:
        if not head.startswith(PARQUET_MAGIC):
            raise InputError(f"{spec}: has a Parquet name but is not a Parquet file")
        return _finish(spec, _scan_parquet(str(path), spec), is_csv=False, path=path)
    _check_text(head, spec)
    if encoding.lower() not in {"utf8", "utf-8"}:
        text = path.read_bytes().decode(encoding, errors="replace").encode()
        return _finish(spec, _csv_from_bytes(text, spec, "utf8"), is_csv=True, path=path)
    frame = pl.scan_csv(
        path,
        infer_schema=False,
        separator=_sniff_separator(head),
        encoding="utf8-lossy",
        truncate_ragged_lines=True,
    )
    return _finish(spec, frame, is_csv=True, path=path)


def _scan_csv_many(paths: list[str], name: str, encoding: str) -> pl.LazyFrame:
    frames = [open_table(p, encoding=encoding).frame.drop(ROW) for p in paths]
    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: the matched files do not share columns: {exc}") from None


def _scan_parquet(source: str, name: str) -> pl.LazyFrame:
    try:
        frame = pl.scan_parquet(source, hive_partitioning=None, missing_columns="insert")
        frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{name}: cannot read as Parquet: {exc}") from None
    return frame


def _finish(name: str, frame: pl.LazyFrame, *, is_csv: bool, path: Path | None) -> Table:
    try:
        schema = frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: cannot read the file: {exc}") from None
    columns = tuple(c for c in schema.names() if c != ROW)
    if not columns:
        raise InputError(f"{name}: has no columns; expected a header row")
    if ROW in schema:
        frame = frame.drop(ROW)
    return Table(name, frame.with_row_index(ROW), columns, is_csv, path)
