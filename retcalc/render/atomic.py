"""Safe ``--output`` files: never an input file, replaced only by an atomic rename (SPEC §6)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO

from retcalc.errors import UsageError


def check_output_path(output: Path, protected_paths: Collection[Path]) -> Path:
    """Refuse an output that is a directory or one of the input files; return the real target.

    Symlinks are followed, so the file a link points to is the one replaced.
    """
    if output.is_dir():
        raise UsageError(f"--output {output} is a directory; give a file name")
    target = output.resolve()
    for path in protected_paths:
        if str(path) == "-":
            continue
        if path.resolve() == target or _same_file(path, target):
            raise UsageError(f"refusing to overwrite input file {path}; choose another --output")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {target.parent} does not exist")
    return target


def _same_file(a: Path, b: Path) -> bool:
    """True when both exist and are the same file (hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _new_file_mode(target: Path) -> int:
    """Permissions for the replacement: the old file's, else the umask default."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[IO[bytes]]:
    """Yield a binary temp file beside ``target``; on success fsync it and rename it over
    ``target``, on any exception (KeyboardInterrupt too) delete it and re-raise."""
    tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept on success
        delete=False, dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    tmp_path = Path(tmp.name)
    try:
        with tmp:
            yield tmp
            tmp.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(tmp.fileno(), _new_file_mode(target))
            os.fsync(tmp.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it (POSIX)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
