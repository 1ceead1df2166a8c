"""What to say when the CSV reader refuses a file: the line whose quotes are wrong.

Polars reports a stray quote as "expected 0 rows, actual 2 rows, in chunk starting
at row_offset 1": no line, and nothing a person can act on. Once the reader has
refused an input, this module reads its text again, line by line (an error path:
the run stops anyway), and finds the first value whose quotes break the CSV
rules: a quote inside a value that does not start with one (``Monitor 27" wide``),
text after the quote that closes a quoted value (``"Monitor 27" wide"``), or a
quoted value that no later line closes.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from retcalc.errors import InputError, first_line

#: Characters of a line or value shown in a message.
SHOWN = 80


@dataclass(frozen=True)
class CsvText:
    """Where the text of one CSV input is, and its separator."""

    source: Path | bytes
    separator: str


@dataclass(frozen=True)
class Fault:
    """A value whose quotes break the CSV rules: its line, the line, the value, what is wrong."""

    line: int
    text: str
    value: str
    problem: str

    def message(self, name: str) -> str:
        """One line saying where, what and what to do."""
        inner = self.value.strip()
        if inner.startswith('"'):
            inner = inner[1:-1] if inner.endswith('"') and len(inner) > 1 else inner[1:]
            inner = inner.replace('""', '"')
        fixed = '"' + inner.replace('"', '""') + '"'
        if self.problem == "unclosed":
            what = (
                f"opens a quoted value that no later line closes ({_cut(self.value)}); "
                "close the quote, or double a quote that belongs to the value"
            )
        else:
            what = (
                f"has a quote inside the value {_cut(self.value)}, which CSV reads as the "
                f"start or end of a quoted value; write the value as {_cut(fixed)} (in quotes, "
                "its own quotes doubled) or remove the quote"
            )
        return f"{name}: line {self.line} {what}. The line: {_cut(self.text)}"


def _cut(text: str) -> str:
    text = text.replace("\r", "").replace("\n", " ")
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


@contextlib.contextmanager
def _lines(source: Path | bytes) -> Iterator[BinaryIO]:
    if isinstance(source, Path):
        with source.open("rb") as handle:
            yield handle
    else:
        yield io.BytesIO(source)


def find_fault(text: CsvText) -> Fault | None:
    """The first value of ``text`` whose quotes break the CSV rules, or None."""
    sep = text.separator.encode("utf-8")
    tokens = re.compile(b'"|' + re.escape(sep))
    opened: tuple[int, bytes, int] | None = None  # line, its text, where the value began
    with _lines(text.source) as lines:
        for number, raw in enumerate(lines, start=1):
            if opened is None and b'"' not in raw:
                continue
            line = raw.rstrip(b"\r\n")
            quoted = opened is not None
            closed_at = -2  # where the quote that closed a value is
            start = 0  # where the current value began (on this line)
            skip = -1
            for match in tokens.finditer(line):
                pos = match.start()
                if pos == skip:
                    continue
                is_quote = match.group() == b'"'
                if quoted:
                    if is_quote:
                        if line[pos + 1 : pos + 2] == b'"':
                            skip = pos + 1  # a doubled quote: part of the value
                        else:
                            quoted, closed_at = False, pos
                    continue
                if closed_at >= 0:
                    if is_quote or pos != closed_at + 1:
                        return _fault(number, line, start, sep, "after")
                    closed_at, start, opened = -2, pos + 1, None
                    continue
                if not is_quote:
                    start = pos + 1
                elif pos == start:
                    quoted, opened = True, (number, line, pos)
                else:
                    return _fault(number, line, start, sep, "inside")
            if closed_at >= 0 and closed_at != len(line) - 1:
                return _fault(number, line, start, sep, "after")
            if not quoted:
                opened = None
    if opened is not None:
        number, line, pos = opened
        return Fault(number, _text(line), _text(line[pos:]), "unclosed")
    return None


def _fault(number: int, line: bytes, start: int, sep: bytes, problem: str) -> Fault:
    value = line[start:]
    if problem == "inside":
        value = value.split(sep, 1)[0]
    else:
        # The quoted value and what follows its closing quote, up to the next separator.
        close = value.find(b'"', 1)
        end = value.find(sep, close + 1) if close >= 0 else -1
        value = value if end < 0 else value[:end]
    return Fault(number, _text(line), _text(value), problem)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def read_error(
    name: str, texts: tuple[CsvText, ...], names: tuple[str, ...], exc: BaseException
) -> InputError:
    """The error for a CSV input the reader refused: the line whose quotes are wrong
    when one is found (``names``: the file of each text, for several files), else the
    reader's own words."""
    for index, text in enumerate(texts):
        try:
            fault = find_fault(text)
        except OSError:
            fault = None
        if fault is not None:
            where = names[index] if index < len(names) and len(texts) > 1 else name
            return InputError(fault.message(where))
    return InputError(f"{name}: cannot read the data: {first_line(exc)}")
