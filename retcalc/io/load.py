"""Opening an input: a CSV or Parquet path, a directory or glob of files, or ``-``.

Files are scanned lazily; standard input is read once into memory. CSV
columns are read as text so that identifiers keep their leading zeros and
every value is parsed, and reported, by retcalc itself.
"""

from __future__ import annotations

import codecs
import glob
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from retcalc.errors import InputError

ROW = "_retcalc_row"
FILE = "_retcalc_file"
LOCAL = "_retcalc_local_row"
PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
PARQUET_MAGIC = b"PAR1"
UTF8 = {"utf8", "utf-8", "utf_8"}


@dataclass(frozen=True)
class Table:
    """A lazily read input with a name to show in messages."""

    name: str
    frame: pl.LazyFrame  # has a ROW column: 0-based index of the data row
    columns: tuple[str, ...]
    is_csv: bool
    path: Path | None  # None for stdin and globs
    files: tuple[Path, ...] = ()  # every file read, to refuse overwriting any of them
    parts: tuple[str, ...] = ()  # names of the files of a multi-file CSV, by FILE index

    def location(self, row: int) -> str:
        """Where data row ``row`` (0-based) is, in words a person can find in the file."""
        if self.parts:
            found = (
                self.frame.filter(pl.col(ROW) == row).select(FILE, LOCAL).collect().row(0)
            )
            return f"{self.parts[found[0]]}, line {found[1] + 2}"
        if self.is_csv:
            return f"line {row + 2}"
        return f"row {row + 1}"


def _sniff_separator(head: bytes) -> str:
    first_line = head.split(b"\n", 1)[0]
    counts = {sep: first_line.count(sep.encode()) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _decode(data: bytes, name: str, encoding: str) -> bytes:
    """UTF-8 bytes of a text input: UTF-16 by its byte-order mark, else ``encoding``."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if encoding.lower() in UTF8:
        return data
    try:
        return data.decode(encoding).encode("utf-8")
    except LookupError:
        raise InputError(f"--encoding {encoding!r} is not a known text encoding") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: cannot read as {encoding} text at byte {exc.start}; check --encoding"
        ) from None


def _check_text(head: bytes, name: str) -> None:
    if not head.strip():
        raise InputError(f"{name}: the file is empty; expected a header row and order rows")
    if b"\x00" in head[:4096]:
        raise InputError(f"{name}: this looks like a binary file, not CSV text or Parquet")


def _csv_from_bytes(data: bytes, name: str, encoding: str) -> pl.LazyFrame:
    data = _decode(data, name, encoding)
    _check_text(data[:65536], name)
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            infer_schema=False,
            separator=_sniff_separator(data[:65536]),
            encoding="utf8-lossy",
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: cannot read as CSV: {exc}") from None
    return frame.lazy()


def _is_parquet_bytes(data: bytes) -> bool:
    return data.startswith(PARQUET_MAGIC) and data.endswith(PARQUET_MAGIC)


def _is_parquet_file(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4)
        if head != PARQUET_MAGIC:
            return False
        handle.seek(-4, 2)
        return handle.read(4) == PARQUET_MAGIC


def open_table(spec: str, *, encoding: str = "utf8", stdin: BinaryIO | None = None) -> Table:
    """Open ``spec`` (path, directory, glob or ``-``) as a lazily read table."""
    if spec == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read()
        if _is_parquet_bytes(data):
            try:
                frame = pl.read_parquet(io.BytesIO(data)).lazy()
            except pl.exceptions.PolarsError as exc:
                raise InputError(f"<stdin>: cannot read as Parquet: {exc}") from None
            return _finish("<stdin>", frame, is_csv=False, path=None)
        frame = _csv_from_bytes(data, "<stdin>", encoding)
        return _finish("<stdin>", frame, is_csv=True, path=None)

    path = Path(spec)
    if any(ch in spec for ch in "*?[") and not path.exists():
        matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True)) if Path(m).is_file()]
        if not matches:
            raise InputError(f"{spec}: no file matches this pattern")
        if all(m.suffix.lower() in PARQUET_SUFFIXES for m in matches):
            frame = _scan_parquet([str(m) for m in matches], spec)
            return _finish(spec, frame, is_csv=False, path=None, files=matches)
        if all(m.suffix.lower() not in PARQUET_SUFFIXES for m in matches):
            return _csv_many(matches, spec, encoding)
        raise InputError(f"{spec}: the pattern matches both Parquet and CSV files; pick one kind")
    if not path.exists():
        raise InputError(f"{spec}: no such file")
    if path.is_dir():
        parquet = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in PARQUET_SUFFIXES
            and p.is_file()
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not parquet:
            raise InputError(f"{spec}: is a directory with no Parquet files; give a file")
        hive = any("=" in part for p in parquet for part in p.relative_to(path).parts[:-1])
        frame = _scan_parquet([str(p) for p in parquet], spec, hive=hive, root=path)
        return _finish(spec, frame, is_csv=False, path=path, files=parquet)
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
        parquet_file = _is_parquet_file(path) if head.startswith(PARQUET_MAGIC) else False
    except OSError as exc:
        raise InputError(f"{spec}: cannot read the file ({exc.strerror})") from None
    if parquet_file or path.suffix.lower() in PARQUET_SUFFIXES:
        if not parquet_file:
            raise InputError(f"{spec}: is not a Parquet file (or it is truncated)")
        return _finish(spec, _scan_parquet([str(path)], spec), is_csv=False, path=path)
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if utf16 or encoding.lower() not in UTF8:
        text = _csv_from_bytes(path.read_bytes(), spec, encoding)
        return _finish(spec, text, is_csv=True, path=path)
    _check_text(head, spec)
    frame = pl.scan_csv(
        path,
        infer_schema=False,
        separator=_sniff_separator(head),
        encoding="utf8-lossy",
        truncate_ragged_lines=True,
    )
    return _finish(spec, frame, is_csv=True, path=path)


def _csv_many(paths: list[Path], name: str, encoding: str) -> Table:
    frames = []
    for index, p in enumerate(paths):
        part = open_table(str(p), encoding=encoding)
        frames.append(
            part.frame.rename({ROW: LOCAL}).with_columns(pl.lit(index, dtype=pl.Int64).alias(FILE))
        )
    try:
        frame = pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: the matched files do not share columns: {exc}") from None
    table = _finish(name, frame, is_csv=True, path=None, files=paths, keep=(FILE, LOCAL))
    return Table(
        table.name,
        table.frame,
        table.columns,
        True,
        None,
        table.files,
        tuple(str(p) for p in paths),
    )


def _scan_parquet(
    sources: list[str], name: str, *, hive: bool = False, root: Path | None = None
) -> pl.LazyFrame:
    try:
        if hive and root is not None:
            # Partition columns (key=value folders) are read from the paths below the root.
            frame = pl.scan_parquet(
                str(root / "**" / "*.parquet"), hive_partitioning=True, missing_columns="insert"
            )
        else:
            frame = pl.scan_parquet(sources, hive_partitioning=False, missing_columns="insert")
        frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{name}: cannot read as Parquet: {exc}") from None
    return frame


def _finish(
    name: str,
    frame: pl.LazyFrame,
    *,
    is_csv: bool,
    path: Path | None,
    files: list[Path] | None = None,
    keep: tuple[str, ...] = (),
) -> Table:
    try:
        schema = frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: cannot read the file: {exc}") from None
    hidden = {ROW, FILE, LOCAL}
    columns = tuple(c for c in schema.names() if c not in hidden)
    if not columns:
        raise InputError(f"{name}: has no columns; expected a header row")
    drop = [c for c in schema.names() if c in hidden and c not in keep]
    if drop:
        frame = frame.drop(drop)
    all_files = tuple(files) if files is not None else ((path,) if path is not None else ())
    return Table(name, frame.with_row_index(ROW), columns, is_csv, path, all_files)
