"""Safe ``--output`` files (SPEC §6).

- Never an input file (:func:`check_output_path`).
- A regular file, new or existing, is replaced only by an atomic rename: the data
  goes to a temporary file beside it, ``.NAME.retcalc-PID@HOST-XXXXXXXX.tmp``, which
  is fsynced and renamed over it, so a reader sees the old file or the new one.
- Anything else that exists (a character device such as ``/dev/null`` or
  ``/dev/full``, a FIFO) is written straight to: a rename would replace the device
  or the pipe by a regular file.
- A temporary file of a run that was killed (``kill -9``, a power cut) is removed by
  the next write into the same directory once its process is gone; only names of
  that pattern, from this host, owned by this user, are ever removed.
- :data:`STATE` records what this process is writing and has written; the signal
  handling in ``retcalc.cli.runner`` reads it, so that a run stopped after a file
  was replaced never reports "nothing written".
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from retcalc.errors import UsageError
from retcalc.lazy import LazyModule

if TYPE_CHECKING:
    import polars as pl
else:
    pl = LazyModule("polars")  # see retcalc.lazy


class OutputState:
    """What this process is writing and has written, shared with the signal handling.

    ``lock`` is held while a write starts and while a file is committed (renamed into
    place, or a device's write recorded): the signal watcher takes it before ending
    the process, so it never ends it between a rename and its record. ``committing``
    tells the signal handler (which runs in the main thread, between two bytecodes)
    to defer a signal to :attr:`pending` until the commit is recorded.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget earlier writes (a new run begins)."""
        self.writing = 0
        self.committing = False
        self.pending: int | None = None
        self.written: list[Path] = []


STATE = OutputState()


def check_output_path(output: Path, protected_paths: Collection[Path]) -> Path:
    """Refuse an output that is a directory or one of the input files; return the target.

    Symlinks are followed, so the file a link points to is the one replaced. An
    existing target that is not a regular file (a device, a FIFO) is returned as
    given: it is written straight to, not replaced.
    """
    if output.is_dir():
        raise UsageError(f"--output {output} is a directory; give a file name")
    for path in protected_paths:
        if str(path) == "-":
            continue
        if path.resolve() == output.resolve() or _same_file(path, output):
            raise UsageError(f"refusing to overwrite input file {path}; choose another --output")
    if _is_special(output):
        return output
    target = output.resolve()
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {target.parent} does not exist")
    return target


def _same_file(a: Path, b: Path) -> bool:
    """True when both exist and are the same file (hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_special(path: Path) -> bool:
    """True when ``path`` exists (links followed) and is neither a regular file nor a
    directory: a device, a FIFO or a socket."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


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
    """Yield a binary file for ``target``.

    A regular file (or a new one) is written to a temporary file beside it; on
    success it is fsynced and renamed over ``target``; on any exception
    (KeyboardInterrupt too) it is deleted and the exception re-raised. A device or a
    FIFO is opened and written straight to. Write errors are raised as an
    :class:`OSError` with ``errno`` and ``strerror`` set, Polars' ones included.
    """
    with STATE.lock:
        STATE.writing += 1
    try:
        if _is_special(target):
            with _normalised_errors(target):
                yield from _write_straight(target)
        else:
            with _normalised_errors(target):
                yield from _write_replacing(target)
    finally:
        with STATE.lock:
            STATE.writing -= 1


def _write_straight(target: Path) -> Iterator[IO[bytes]]:
    """Write to a device or a FIFO as it is (opening a FIFO waits for its reader)."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "wb") as sink:
        yield sink
        sink.flush()
    with _commit(target):
        pass


def _write_replacing(target: Path) -> Iterator[IO[bytes]]:
    remove_stale_temporaries(target.parent)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target), suffix=".tmp")
    tmp_path = Path(name)
    try:
        with open(fd, "wb") as sink:
            yield sink
            sink.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(sink.fileno(), _new_file_mode(target))
            os.fsync(sink.fileno())
        with _commit(target):
            os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    _fsync_dir(target.parent)


@contextlib.contextmanager
def _commit(target: Path) -> Iterator[None]:
    """Run the commit (the rename) and record ``target`` as written, as one step for
    the signal handling: a stop signal meanwhile is deferred, then raised again."""
    with STATE.lock:
        STATE.committing = True
        try:
            yield
            STATE.written.append(target)
        finally:
            STATE.committing = False
    pending, STATE.pending = STATE.pending, None
    if pending is not None:
        signal.raise_signal(pending)


@contextlib.contextmanager
def _normalised_errors(target: Path) -> Iterator[None]:
    """Raise write errors as OSError with errno and strerror ("No space left on device").

    Polars reports them as an OSError without errno, or as a ComputeError (Parquet),
    whose text ends in ``(os error N)``.
    """
    try:
        yield
    except OSError as exc:
        if exc.strerror:
            raise
        raise _os_error(exc, target) from exc
    except pl.exceptions.PolarsError as exc:
        raise _os_error(exc, target) from exc


def _os_error(exc: BaseException, target: Path) -> OSError:
    found = re.search(r"os error (\d+)", str(exc))
    if found:
        code = int(found.group(1))
        return OSError(code, os.strerror(code), str(target))
    text = str(exc).strip().splitlines()
    return OSError(errno.EIO, text[0] if text else type(exc).__name__, str(target))


# ----------------------------------------------------------- temporary files


def _host_tag() -> str:
    """8 hex digits naming this host, so that a directory shared between machines
    never has a live run's temporary file taken for a dead one's."""
    import socket

    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


_HOST = _host_tag()
_TEMP_NAME = re.compile(r"\..*\.retcalc-(\d+)@([0-9a-f]{8})-[A-Za-z0-9_]+\.tmp", re.DOTALL)
"""A temporary file of :func:`atomic_write`: ``.NAME.retcalc-PID@HOST-XXXXXXXX.tmp``."""


def _temp_prefix(target: Path) -> str:
    """``.NAME.retcalc-PID@HOST-``, NAME cut so the whole stays within 255 bytes."""
    name = target.name.encode("utf-8", "surrogateescape")[:180]
    short = name.decode("utf-8", "ignore")
    return f".{short}.retcalc-{os.getpid()}@{_HOST}-"


def _alive(pid: int) -> bool:
    """True unless process ``pid`` surely does not exist (in doubt: alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True
    return True


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete the temporary files that killed runs of retcalc left in ``directory``.

    Only regular files named ``.NAME.retcalc-PID@HOST-XXXXXXXX.tmp``, made on this
    host by a process that no longer exists, owned by this user. Returns the paths
    removed. Nothing is raised: a directory that cannot be listed is left alone.
    """
    removed: list[Path] = []
    if os.name != "posix":  # os.kill(pid, 0) would not be a mere probe elsewhere
        return removed
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        found = _TEMP_NAME.fullmatch(entry.name)
        if found is None or found.group(2) != _HOST or _alive(int(found.group(1))):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


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
