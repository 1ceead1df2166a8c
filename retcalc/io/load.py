"""Opening an input: a CSV or Parquet path, a directory or glob of files, or ``-``.

Regular files are scanned lazily; standard input, pipes (``<(zcat ...)``) and
gzip files are first copied to a temporary file (:mod:`retcalc.io.spool`) and
scanned the same way; only text that must be re-encoded is read into memory. CSV
columns are read as text so that identifiers keep their leading zeros and
every value is parsed, and reported, by retcalc itself.

Text is UTF-8 (a byte-order mark is dropped; UTF-16 is recognised by its
mark). A file that is not valid UTF-8 is read as Windows-1252, with a warning
naming the first line that is not UTF-8: a one-byte encoding maps distinct
bytes to distinct characters, so no two customer ids can merge and no
figure changes; ``--encoding`` chooses another encoding.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import difflib
import functools
import glob
import io
import os
import re
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import polars as pl

from retcalc.errors import InputError, UsageError, first_line
from retcalc.io import spool
from retcalc.io.quoting import CsvText, read_error

ROW = "_retcalc_row"
FILE = "_retcalc_file"
LOCAL = "_retcalc_local_row"
#: Hidden columns past the header's last one: a non-empty value there means the
#: line has more fields than the header (an unquoted separator inside a value).
EXTRA = tuple(f"_retcalc_extra_{i}" for i in range(4))
HIDDEN = frozenset({ROW, FILE, LOCAL, *EXTRA})
PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
PARQUET_MAGIC = b"PAR1"
UTF8 = {"utf8", "utf-8", "utf_8", "u8"}
SEPARATORS = (",", ";", "\t", "|")
CHUNK = 1 << 24

#: Leading bytes of files that are not text, and what to tell the user.
NOT_TEXT: tuple[tuple[bytes, str], ...] = (
    (
        b"PK\x03\x04",
        "is a ZIP archive or an Excel workbook (.xlsx), not CSV text; "
        "save the sheet as CSV (or unzip the archive) and give that file",
    ),
    (
        b"\xd0\xcf\x11\xe0",
        "is an Excel 97-2003 workbook (.xls), not CSV text; save the sheet as CSV",
    ),
    (b"\x28\xb5\x2f\xfd", "is zstd-compressed; decompress it first (zstd -d FILE)"),
    (b"BZh", "is bzip2-compressed; decompress it first (bunzip2 -k FILE)"),
    (b"\xfd7zXZ\x00", "is xz-compressed; decompress it first (unxz -k FILE)"),
    (b"SQLite format 3\x00", "is an SQLite database; export the table as CSV"),
)
GZIP_MAGIC = b"\x1f\x8b"


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
    warnings: tuple[str, ...] = ()  # what the reader had to guess (encoding)
    raw: pl.LazyFrame | None = None  # ``frame`` plus the EXTRA columns of CSV input
    header_lines: tuple[int, ...] = (1,)  # line of the header, per file (after blank lines)
    texts: tuple[CsvText, ...] = ()  # CSV: the text of each file, to say where a read failed
    spool: Path | None = None  # the temporary copy read (stdin, a pipe, gzip), never shown

    @property
    def scan(self) -> pl.LazyFrame:
        """The frame with the hidden EXTRA columns, for reading every row once."""
        return self.raw if self.raw is not None else self.frame

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The hidden columns that catch lines with more fields than the header."""
        names = self.scan.collect_schema().names()
        return tuple(c for c in EXTRA if c in names)

    def location(self, row: int) -> str:
        """Where data row ``row`` (0-based) is, in words a person can find in the file.

        CSV: ``line N`` (the header is line 1). When fields with line breaks come
        before the row, the data row and its physical line differ:
        ``row M (line N)``. Parquet: ``row M``.
        """
        if not self.is_csv:
            return f"row {row + 1}"
        prefix = ""
        frame = self.frame
        local = row
        index = 0
        if self.parts:
            index, local = frame.filter(pl.col(ROW) == row).select(FILE, LOCAL).collect().row(0)
            prefix = f"{self.parts[index]}, "
            frame = frame.filter((pl.col(FILE) == index) & (pl.col(LOCAL) < local))
        else:
            frame = frame.filter(pl.col(ROW) < row)
        shown = set(self.columns)
        text = [c for c, t in frame.collect_schema().items() if t == pl.String and c in shown]
        breaks = 0
        if text:
            counted = frame.select(
                pl.concat_str(pl.col(text), ignore_nulls=True)
                .str.count_matches("\n", literal=True)
                .sum()
            ).collect()
            breaks = int(counted.item() or 0)
        header = sum(c.count("\n") for c in self.columns)
        first = self.header_lines[index] if index < len(self.header_lines) else 1
        line = local + first + 1 + header + breaks
        if breaks:
            return f"{prefix}row {local + 1} (line {line})"
        return f"{prefix}line {line}"


# Text.


def _record_counts(text: str, limit: int = 6) -> list[dict[str, int]]:
    """Separators outside quotes in each of the first ``limit`` complete records of ``text``
    (the header always counts, complete or not)."""
    records: list[dict[str, int]] = []
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "\n":
            records.append(counts)
            if len(records) >= limit:
                return records
            counts = dict.fromkeys(SEPARATORS, 0)
        elif ch in counts:
            counts[ch] += 1
    if not records:
        records.append(counts)
    return records


def _sniff_separator(head: bytes) -> str:
    """The separator of the header: the most frequent of , ; tab | outside quotes.

    A tie is broken by the next records: the separator that splits them into as
    many fields as the header wins.
    """
    records = _record_counts(head.decode("utf-8", "replace").lstrip("\ufeff"))
    header = records[0]
    best = max(header.values())
    if best == 0:
        return ","
    tied = [s for s in SEPARATORS if header[s] == best]
    if len(tied) > 1 and len(records) > 1:
        rows = [r for r in records[1:] if any(r.values())]
        steady = [s for s in tied if all(r[s] == header[s] for r in rows)]
        if steady:
            return steady[0]
    return tied[0]


def _not_an_archive(head: bytes, name: str) -> None:
    """Refuse workbooks, archives and databases, saying what they are."""
    for magic, what in NOT_TEXT:
        if head.startswith(magic):
            raise InputError(f"{name}: {what}")


def _not_text(head: bytes, name: str) -> None:
    """Refuse empty and binary inputs with a message saying what they look like."""
    _not_an_archive(head, name)
    if not head.removeprefix(codecs.BOM_UTF8).strip():
        raise InputError(f"{name}: the file is empty; expected a header row and order rows")
    sample = head[:4096]
    if b"\x00" in sample:
        odd = sample[1::2]
        even = sample[0::2]
        if odd.count(0) > len(odd) * 0.4 or even.count(0) > len(even) * 0.4:
            raise InputError(
                f"{name}: looks like UTF-16 text without a byte-order mark; "
                "pass --encoding utf-16-le (or utf-16-be)"
            )
        raise InputError(f"{name}: this looks like a binary file, not CSV text or Parquet")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _invalid_utf8(data: bytes) -> tuple[int, int] | None:
    """``(offset, byte)`` of the first byte that is not UTF-8, or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start, data[exc.start]
    return None


def _scan_utf8(path: Path, name: str) -> tuple[int, int, int] | None:
    """Check a file is UTF-8 text, reading it in chunks.

    Returns ``(line, byte, offset)`` of the first byte that is not UTF-8, or None.
    A NUL byte anywhere means the file is not text. A chunk of ASCII is valid as it
    is; the others are decoded up to their last line end (so that no character is
    cut in two). Lines are counted only to name the line of a fault (counting them
    in every chunk took most of the time).
    """
    offset = 0
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            data = carry + chunk if carry else chunk
            if not data:
                return None
            nul = data.find(b"\x00")
            if nul >= 0:
                raise InputError(
                    f"{name}: line {_line_at(path, offset + nul)} contains a NUL byte; "
                    "this is a binary or damaged file, not CSV text"
                )
            if data.isascii():
                offset += len(data)
                carry = b""
                continue
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            if cut == 0:  # one very long line: keep reading
                carry = data
                continue
            bad = _invalid_utf8(data[:cut])
            if bad is not None:
                return _line_at(path, offset + bad[0]), bad[1], offset + bad[0]
            carry = data[cut:]
            offset += cut
            if not chunk:
                return None


def _line_at(path: Path, offset: int) -> int:
    """The line of ``path`` that holds byte ``offset``."""
    lines, done = 1, 0
    with path.open("rb") as handle:
        while done < offset:
            chunk = handle.read(min(CHUNK, offset - done))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            done += len(chunk)
    return lines


#: A character beyond ASCII written in UTF-8 (two to four bytes): a file with one of
#: these and bytes that are not UTF-8 may mix the two encodings.
_UTF8_BEYOND_ASCII = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _by_line(data: bytes) -> tuple[str, int | None, str]:
    """``data`` decoded line by line: UTF-8 where a line is UTF-8, else Windows-1252
    (Latin-1 where Windows-1252 leaves a byte undefined). Returns the text, how many
    lines were not UTF-8 (None when no line is UTF-8 beyond ASCII: not a mix) and the
    encoding they were read in.

    Only the lines that are not UTF-8 take a step of their own; the runs of UTF-8
    lines between them are decoded whole.
    """
    view = memoryview(data)
    parts: list[str] = []
    pos, lines, mixed, used = 0, 0, False, "Windows-1252"
    while True:
        try:
            text = codecs.utf_8_decode(view[pos:], "strict", True)[0]
        except UnicodeDecodeError as exc:
            bad = pos + exc.start
            start = data.rfind(b"\n", pos, bad) + 1 or pos
            end = data.find(b"\n", bad)
            end = len(data) if end < 0 else end
            good = codecs.utf_8_decode(view[pos:start], "strict", True)[0]
            parts.append(good)
            mixed = mixed or not good.isascii()
            line = data[start:end]
            try:
                parts.append(line.decode("cp1252"))
            except UnicodeDecodeError:
                parts.append(line.decode("latin-1"))
                used = "Latin-1"
            lines += 1
            pos = end
            continue
        parts.append(text)
        mixed = mixed or not text.isascii()
        break
    return "".join(parts), lines if mixed else None, used


def _to_utf8(data: bytes, name: str, encoding: str, warnings: list[str]) -> bytes:
    """UTF-8 bytes of a text input: UTF-16 by its byte-order mark, else ``encoding``.

    UTF-8 input that is not valid UTF-8 is read as Windows-1252 (Latin-1 where
    Windows-1252 leaves a byte undefined), with a warning.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if encoding.lower() in UTF8:
        bad = _invalid_utf8(data)
        if bad is None:
            return data
        offset, byte = bad
        if _UTF8_BEYOND_ASCII.search(data) is not None:
            text, lines, used = _by_line(data)
            if lines is not None:
                warnings.append(
                    f"{name}: mixes UTF-8 and {used} text: {lines} "
                    f"{'line is' if lines == 1 else 'lines are'} not UTF-8 (the first is line "
                    f"{_line_of(data, offset)}, byte 0x{byte:02X}) and {'was' if lines == 1 else 'were'} "
                    f"read as {used}, the other lines as UTF-8, so that a name is one name "
                    "in both; if names look wrong, pass --encoding"
                )
                return text.encode("utf-8")
        body = data.removeprefix(codecs.BOM_UTF8)
        try:
            text, used = body.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:
            text, used = body.decode("latin-1"), "Latin-1"
        warnings.append(
            f"{name}: is not UTF-8 text (line {_line_of(data, offset)} has the byte "
            f"0x{byte:02X}), so it was read as {used}; if names look wrong, pass "
            "--encoding (e.g. --encoding latin-1, cp1250 or mac-roman)"
        )
        return text.encode("utf-8")
    try:
        return data.decode(encoding).encode("utf-8")
    except LookupError:
        raise InputError(f"--encoding {encoding!r} is not a known text encoding") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: cannot read as {encoding} text at line {_line_of(data, exc.start)} "
            f"(byte 0x{data[exc.start]:02X}); check --encoding"
        ) from None


def _check_encoding_name(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(
            f"--encoding {encoding!r} is not a known text encoding; "
            "try utf-8, latin-1, cp1252 or utf-16"
        ) from None


def _preamble(head: bytes) -> tuple[int, str | None]:
    """Lines before the header: blank lines, and Excel's ``sep=;`` line (which names the
    separator). Returns how many, and the separator named."""
    skipped = 0
    separator = None
    for line in head.removeprefix(codecs.BOM_UTF8).split(b"\n"):
        text = line.strip()
        if not text:
            skipped += 1
            continue
        if len(text) == 5 and text.lower().startswith(b"sep=") and skipped == 0:
            skipped += 1
            separator = text[4:].decode("latin-1")
            continue
        break
    return skipped, separator


def _scan_text(source: Path | bytes, name: str, head: bytes) -> tuple[pl.LazyFrame, int, CsvText]:
    """Every column as text, with hidden columns catching fields past the header.

    Returns the frame, the line of the header and where the text is.
    """
    skipped, named = _preamble(head)
    separator = named or _sniff_separator(
        b"\n".join(head.removeprefix(codecs.BOM_UTF8).split(b"\n")[skipped:])
    )

    def src() -> Path | io.BytesIO:
        return source if isinstance(source, Path) else io.BytesIO(source)

    try:
        names = (
            pl.scan_csv(
                src(),
                separator=separator,
                infer_schema=False,
                truncate_ragged_lines=True,
                encoding="utf8-lossy",
                skip_lines=skipped,
            )
            .collect_schema()
            .names()
        )
        schema = {n: pl.String for n in names} | {c: pl.String for c in EXTRA}
        # Skip the header as a record (it may hold quoted line breaks), or, after a
        # preamble, as the lines it takes.
        skip = (
            {"skip_rows": 1}
            if not skipped
            else {"skip_lines": skipped + 1 + sum(n.count("\n") for n in names)}
        )
        frame = pl.scan_csv(
            src(),
            separator=separator,
            has_header=False,
            schema=schema,
            missing_columns="insert",
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
            **skip,  # type: ignore[arg-type]
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(name, (CsvText(source, separator),), (), exc) from None
    return frame, skipped + 1, CsvText(source, separator)


def _text_from_bytes(data: bytes, name: str, encoding: str, path: Path | None) -> Table:
    warnings: list[str] = []
    _check_encoding_name(encoding)
    _not_an_archive(data[:64], name)
    if encoding.lower() in UTF8 and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _not_text(data[:65536], name)
    data = _to_utf8(data, name, encoding, warnings)
    if b"\x00" in data:
        nul = data.index(b"\x00")
        raise InputError(
            f"{name}: line {_line_of(data, nul)} contains a NUL byte; "
            "this is a binary or damaged file, not CSV text"
        )
    data = _lone_carriage_returns(data)
    head = data[:65536]
    if not head.removeprefix(codecs.BOM_UTF8).strip():
        raise InputError(f"{name}: the file is empty; expected a header row and order rows")
    frame, header_line, text = _scan_text(data, name, head)
    return _finish(
        name,
        frame,
        is_csv=True,
        path=path,
        warnings=warnings,
        header_line=header_line,
        texts=(text,),
    )


def _lone_carriage_returns(data: bytes) -> bytes:
    """Classic Mac line ends (CR only) as LF, so that lines are lines."""
    if b"\r" in data and b"\n" not in data:
        return data.replace(b"\r", b"\n")
    return data


# Parquet.


def _is_parquet_file(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4)
        if head != PARQUET_MAGIC:
            return False
        handle.seek(-4, 2)
        return handle.read(4) == PARQUET_MAGIC


# Opening.


def _no_such_file(spec: str, path: Path) -> InputError:
    if path.is_symlink():
        return InputError(
            f"{spec}: is a symbolic link to {os.readlink(path)}, which does not exist"
        )
    hint = ""
    parent = path.parent if str(path.parent) else Path(".")
    if parent.is_dir():
        try:
            siblings = [p.name for p in parent.iterdir()]
        except OSError:
            siblings = []
        close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.75)
        if close:
            hint = f" (did you mean {str(parent / close[0])!r}?)"
    elif str(path.parent) not in ("", "."):
        hint = f" (directory {path.parent} does not exist)"
    return InputError(f"{spec}: no such file{hint}")


def table_from_frame(frame: pl.DataFrame | pl.LazyFrame, name: str) -> Table:
    """A Polars frame as a table, read as a Parquet file would be (typed columns kept)."""
    return _finish(name, frame.lazy(), is_csv=False, path=None)


def open_table(spec: str, *, encoding: str = "utf8", stdin: BinaryIO | None = None) -> Table:
    """Open ``spec`` (path, directory, glob or ``-``) as a lazily read table."""
    _check_encoding_name(encoding)
    if spec == "-":
        if stdin is None and sys.stdin is not None and sys.stdin.isatty():
            raise InputError(
                "-: standard input is a terminal, not a file; pipe the orders in "
                "(retcalc retention - < orders.csv) or give a file name"
            )
        stream = stdin if stdin is not None else sys.stdin.buffer
        return _spooled(stream, "<stdin>", encoding, None)

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
        raise _no_such_file(spec, path)
    if path.is_dir():
        return _directory(spec, path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            # /dev/zero or /dev/urandom would be read until memory runs out.
            raise InputError(
                f"{spec}: is a device, not a file; give a file, a pipe (<(zcat orders.csv.gz)) "
                "or - for standard input"
            )
        if not stat.S_ISREG(mode):
            # A pipe (<(zcat orders.csv.gz)) or /dev/stdin that is one: read it once.
            with path.open("rb") as handle:
                return _spooled(handle, spec, encoding, path)
    except OSError as exc:
        raise InputError(f"{spec}: cannot read the file ({exc.strerror or exc})") from None
    return _open_file(path, spec, encoding, path)


def _spooled(stream: BinaryIO, name: str, encoding: str, path: Path | None) -> Table:
    """Standard input or a pipe, copied to a temporary file and read as a file."""
    copy = spool.spool(stream, name)
    if copy is None:
        raise InputError(f"{name}: the input is empty; expected a header row and order rows")
    return _open_file(copy, name, encoding, path, copy=True)


def _open_file(
    real: Path, spec: str, encoding: str, path: Path | None, *, copy: bool = False
) -> Table:
    """The regular file ``real``, shown as ``spec``, read lazily where it can be.

    ``path`` is the user's file (None for standard input); ``copy`` says that
    ``real`` is a temporary copy (:mod:`retcalc.io.spool`), which no message names.
    """
    try:
        table = _open_regular(real, spec, encoding, path, copy=copy)
    except InputError as exc:
        if copy:
            exc.message = exc.message.replace(str(real), spec)
        raise
    return dataclasses.replace(table, spool=real) if copy else table


def _open_regular(real: Path, spec: str, encoding: str, path: Path | None, *, copy: bool) -> Table:
    try:
        with real.open("rb") as handle:
            head = handle.read(65536)
        parquet_file = _is_parquet_file(real) if head.startswith(PARQUET_MAGIC) else False
    except OSError as exc:
        raise InputError(f"{spec}: cannot read the file ({exc.strerror or exc})") from None
    if parquet_file:
        return _finish(spec, _scan_parquet([str(real)], spec), is_csv=False, path=path)
    if head.startswith(PARQUET_MAGIC):
        raise InputError(
            f"{spec}: is a truncated Parquet file (it does not end with the Parquet footer); "
            "copy or export it again"
        )
    if path is not None and path.suffix.lower() in PARQUET_SUFFIXES:
        raise InputError(f"{spec}: is not a Parquet file (it does not start with PAR1)")
    if head.startswith(GZIP_MAGIC) and not copy:
        try:
            with real.open("rb") as handle:
                return _spooled(handle, spec, encoding, path)
        except OSError as exc:
            raise InputError(f"{spec}: cannot read the file ({exc.strerror or exc})") from None
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if utf16 or encoding.lower() not in UTF8:
        return _text_from_bytes(_read(real, spec), spec, encoding, path)
    _not_text(head, spec)
    try:
        invalid = _scan_utf8(real, spec)
    except OSError as exc:
        raise InputError(f"{spec}: cannot read the file ({exc.strerror or exc})") from None
    if invalid is not None or (b"\r" in head and b"\n" not in head):
        return _text_from_bytes(_read(real, spec), spec, encoding, path)
    frame, header_line, text = _scan_text(real, spec, head)
    return _finish(spec, frame, is_csv=True, path=path, header_line=header_line, texts=(text,))


def _read(path: Path, spec: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{spec}: cannot read the file ({exc.strerror or exc})") from None


def _directory(spec: str, path: Path) -> Table:
    parquet = sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in PARQUET_SUFFIXES
        and p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not parquet:
        raise InputError(
            f"{spec}: is a directory with no Parquet files; give a file "
            "(or a glob such as 'exports/*.csv')"
        )
    hive = any("=" in part for p in parquet for part in p.relative_to(path).parts[:-1])
    frame = _scan_parquet([str(p) for p in parquet], spec, hive=hive, root=path)
    return _finish(spec, frame, is_csv=False, path=path, files=parquet)


def _csv_many(paths: list[Path], name: str, encoding: str) -> Table:
    frames = []
    warnings: list[str] = []
    header_lines: list[int] = []
    texts: list[CsvText] = []
    for index, p in enumerate(paths):
        part = open_table(str(p), encoding=encoding)
        warnings.extend(part.warnings)
        header_lines.append(part.header_lines[0])
        texts.extend(part.texts)
        frames.append(
            part.scan.rename({ROW: LOCAL}).with_columns(pl.lit(index, dtype=pl.Int64).alias(FILE))
        )
    try:
        frame = pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: the matched files do not share columns: {exc}") from None
    table = _finish(
        name, frame, is_csv=True, path=None, files=paths, keep=(FILE, LOCAL), texts=tuple(texts)
    )
    return Table(
        table.name,
        table.frame,
        table.columns,
        True,
        None,
        table.files,
        tuple(str(p) for p in paths),
        tuple(warnings),
        table.raw,
        tuple(header_lines),
        table.texts,
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
        raise InputError(f"{name}: cannot read as Parquet: {first_line(exc)}") from None
    return frame


#: How Polars names the second, third... column of a header name given more than once.
_POLARS_TWIN = re.compile(r"^(.*)_duplicated_(\d+)$")


def twin_name(name: str, occurrence: int) -> str:
    """The name of the ``occurrence``-th (2, 3...) column of a header that gives ``name``
    more than once, or of a column whose header cell is empty (``name`` empty)."""
    return f"{name} ({occurrence})" if name else f"(no name {occurrence})"


def _twin_names(names: list[str]) -> dict[str, str]:
    """Polars' names of repeated header names (``amount_duplicated_0``) and empty ones,
    as :func:`twin_name` says them: no message shows a name the file does not have."""
    renames: dict[str, str] = {}
    seen = set(names)
    for column in names:
        match = _POLARS_TWIN.match(column)
        if column == "":
            renames[column] = twin_name("", 1)
        elif match and match.group(1) in seen:
            renames[column] = twin_name(match.group(1), int(match.group(2)) + 2)
    return {old: new for old, new in renames.items() if new not in seen}


def _finish(
    name: str,
    frame: pl.LazyFrame,
    *,
    is_csv: bool,
    path: Path | None,
    files: list[Path] | None = None,
    keep: tuple[str, ...] = (),
    warnings: list[str] | None = None,
    header_line: int = 1,
    texts: tuple[CsvText, ...] = (),
) -> Table:
    try:
        schema = frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        if texts:
            raise read_error(name, texts, tuple(str(f) for f in files or ()), exc) from None
        raise InputError(f"{name}: cannot read the file: {first_line(exc)}") from None
    renames = _twin_names(schema.names()) if is_csv else {}
    if renames:
        frame = frame.rename(renames)
        schema = frame.collect_schema()
    columns = tuple(c for c in schema.names() if c not in HIDDEN)
    if not columns:
        raise InputError(f"{name}: has no columns; expected a header row")
    drop = [c for c in schema.names() if c in {ROW, FILE, LOCAL} and c not in keep]
    if drop:
        frame = frame.drop(drop)
    all_files = tuple(files) if files is not None else ((path,) if path is not None else ())
    raw = frame.with_row_index(ROW)
    extras = [c for c in schema.names() if c in EXTRA]
    return Table(
        name,
        raw.drop(extras) if extras else raw,
        columns,
        is_csv,
        path,
        all_files,
        warnings=tuple(warnings or ()),
        raw=raw if extras else None,
        header_lines=(header_line,),
        texts=texts,
    )


#: Inputs from this size on are read by Polars' streaming engine, in batches:
#: columns read only to be checked (the whole-row duplicate check reads every
#: column) are never held in memory whole.
STREAMING_FROM = 256 * 1024 * 1024
#: ``RETCALC_POLARS_ENGINE``: ``streaming`` or ``in-memory`` overrides the size rule.
ENGINE_VARIABLE = "RETCALC_POLARS_ENGINE"


def engine_for(table: Table) -> Literal["streaming", "in-memory"]:
    """The Polars engine that reads ``table``: by its size, unless the variable says."""
    chosen = os.environ.get(ENGINE_VARIABLE, "").strip().lower()
    if chosen in ("streaming", "in-memory"):
        return chosen  # type: ignore[return-value]
    if chosen not in ("", "auto"):
        raise UsageError(
            f"{ENGINE_VARIABLE}={chosen!r} is not known: use streaming, in-memory or auto"
        )
    size = 0
    for file in (*table.files, *((table.spool,) if table.spool is not None else ())):
        with contextlib.suppress(OSError):
            size += file.stat().st_size
    return "streaming" if size >= STREAMING_FROM else "in-memory"


def collect(table: Table, frame: pl.LazyFrame) -> pl.DataFrame:
    """``frame.collect()``, a read error becoming an InputError that names the input."""
    try:
        if engine_for(table) == "streaming":
            return frame.collect(engine="streaming")
        return frame.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise reading_error(table, exc) from None


_Loader = TypeVar("_Loader", bound=Callable[..., Any])


def reads_table(func: _Loader) -> _Loader:
    """Give ``func(spec, options, ..., table=...)`` its opened table, and turn a read
    error anywhere in it (a query that is not collected through :func:`collect`) into
    :func:`reading_error`."""

    @functools.wraps(func)
    def wrapper(spec: str, options: Any, *args: Any, table: Table | None = None, **kw: Any) -> Any:
        table = table or open_table(spec, encoding=options.encoding)
        try:
            return func(spec, options, *args, table=table, **kw)
        except (pl.exceptions.ComputeError, OSError) as exc:
            raise reading_error(table, exc) from None

    return wrapper  # type: ignore[return-value]


def reading_error(table: Table, exc: BaseException) -> InputError:
    """The error for ``table`` when reading its rows failed: for CSV, the line whose
    quotes are wrong (see :mod:`retcalc.io.quoting`) when one is found."""
    if table.is_csv and table.texts:
        error = read_error(table.name, table.texts, table.parts, exc)
    else:
        error = InputError(f"{table.name}: cannot read the data: {first_line(exc)}")
    if table.spool is not None:
        error.message = error.message.replace(str(table.spool), table.name)
    return error
