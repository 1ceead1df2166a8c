"""Standard input, pipes and gzip files copied, in chunks, to a temporary file.

Such inputs can be read only once, from the start, so retcalc copies them (gzip
decompressed on the way) to a file in the temporary directory (``$TMPDIR``) and
then reads that file as it reads a file given by path: lazily, so that memory
is what the same file by path costs, not the whole input.

The file never outlives the run. On Linux it is deleted as soon as it is
created and read through ``/proc/self/fd/N``, which stays readable while the
descriptor is open: not even ``kill -9`` leaves it behind. Elsewhere it is
deleted when the command ends (:func:`release`, called by the runner) or when
the process exits.

An endless input (``yes | retcalc retention -``) would fill the disk: past
``RETCALC_MAX_INPUT_BYTES`` bytes (default :data:`DEFAULT_LIMIT`) the copy stops with
exit 2.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gzip
import io
import os
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from retcalc.errors import InputError, UsageError

CHUNK = 8 << 20
GZIP_MAGIC = b"\x1f\x8b"
LIMIT_VARIABLE = "RETCALC_MAX_INPUT_BYTES"
DEFAULT_LIMIT = 64 << 30
PREFIX = "retcalc-input-"
_PROC_FD = Path("/proc/self/fd")

#: Descriptors and names of the files made in this run.
_open: list[tuple[int, Path | None]] = []


def limit() -> int:
    """The most bytes copied from one input: ``RETCALC_MAX_INPUT_BYTES`` or
    :data:`DEFAULT_LIMIT`."""
    value = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_LIMIT
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        number = 0
    if number <= 0:
        raise UsageError(
            f"{LIMIT_VARIABLE}={value!r} is not a number of bytes; give a whole number "
            f"such as {DEFAULT_LIMIT} ({DEFAULT_LIMIT >> 30} GiB)"
        )
    return number


class _Prefixed(io.RawIOBase):
    """``head`` and then the rest of ``stream``: the bytes read to look at the start."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _head(stream: BinaryIO) -> bytes:
    """The first bytes of ``stream`` (two at least unless it ends sooner)."""
    head = b""
    while len(head) < 2:
        data = stream.read(CHUNK)
        if not data:
            break
        head += data
    return head


def _new_file() -> tuple[int, Path]:
    """A new temporary file: its descriptor and the path to read it by."""
    fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=".spool")
    if _PROC_FD.is_dir():
        os.unlink(name)
        _open.append((fd, None))
        return fd, _PROC_FD / str(fd)
    _open.append((fd, Path(name)))
    return fd, Path(name)


def spool(stream: BinaryIO, name: str) -> Path | None:
    """Copy ``stream`` (gzip decompressed) to a temporary file and return the path to read
    it by; None when the stream is empty."""
    most = limit()
    head = _head(stream)
    if not head:
        return None
    source: BinaryIO = _Prefixed(head, stream)  # type: ignore[assignment]
    packed = head.startswith(GZIP_MAGIC)
    if packed:
        source = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[assignment]
    fd, path = _new_file()
    written = 0
    with open(fd, "wb", closefd=False) as sink:
        while True:
            try:
                data = source.read(CHUNK)
            except (OSError, EOFError, zlib.error) as exc:
                if not packed:
                    raise InputError(f"{name}: cannot read the input ({exc})") from None
                raise InputError(
                    f"{name}: is gzip-compressed but cannot be decompressed ({exc}); "
                    "the file may be truncated"
                ) from None
            if not data:
                break
            written += len(data)
            if written > most:
                release(path)
                raise InputError(
                    f"{name}: is larger than {most} bytes{' once decompressed' if packed else ''}, "
                    f"the most retcalc copies from standard input, a pipe or a gzip file "
                    f"({LIMIT_VARIABLE}); if the input is not endless, raise the limit "
                    f"({LIMIT_VARIABLE}={most * 4}) or give an uncompressed file by its path"
                )
            try:
                sink.write(data)
            except OSError as exc:
                release(path)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise InputError(
                        f"{name}: the temporary directory {tempfile.gettempdir()} is full "
                        f"after {written} bytes of the input; set TMPDIR to a directory "
                        "with more free space, or give an uncompressed file by its path"
                    ) from None
                raise InputError(
                    f"{name}: cannot copy the input to the temporary directory "
                    f"{tempfile.gettempdir()} ({exc.strerror or exc}); set TMPDIR to "
                    "another directory"
                ) from None
    return path


def release(only: Path | None = None) -> None:
    """Close and delete the temporary files of this run (or just ``only``)."""
    keep: list[tuple[int, Path | None]] = []
    for fd, name in _open:
        if only is not None and only not in (name, _PROC_FD / str(fd)):
            keep.append((fd, name))
            continue
        with contextlib.suppress(OSError):
            os.close(fd)
        if name is not None:
            with contextlib.suppress(OSError):
                name.unlink()
    _open[:] = keep


atexit.register(release)
