"""The one place where errors become messages and exit codes (SPEC §5).

Also: warnings and progress on stderr, a quiet end on a closed pipe, an end
on Ctrl-C or SIGTERM that leaves no partial output, and writing a result
through the render layer.

Signals: Python runs a signal handler only between bytecodes, and polars
computes in Rust for seconds at a time, so a handler alone would make
Ctrl-C wait for the computation. A watcher thread, woken through
``signal.set_wakeup_fd``, gives the main thread a moment to stop itself and
then ends the process at once, unless an output file is being written
(``render.atomic.STATE.writing``): then the handler's exception unwinds
through the atomic writer, which deletes its temporary file.

The exit code says whether output was written: 128 + the signal number (130,
143) when no output file was replaced or written, :attr:`ExitStatus.STOPPED_AFTER_WRITING`
(3) when one was (its name on stderr). A signal during the rename itself is
deferred until the rename is recorded, and the watcher decides under the
writer's lock, so the code is exact whenever the signal comes.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from retcalc import manifest, thresholds
from retcalc.errors import ExitStatus, RetcalcError, RetcalcWarning, ThresholdCrossed, first_line
from retcalc.io import spool
from retcalc.lazy import LazyModule
from retcalc.render import OutputFormat, resolve_format, write_output
from retcalc.render.atomic import STATE as OUTPUT

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console
else:
    pl = LazyModule("polars")  # see retcalc.lazy


@functools.cache
def _stderr() -> Console:
    """Standard error through Rich, made at the first message: a run that says
    nothing does not import Rich."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    """A warning on stderr."""
    _stderr().print(f"retcalc: warning: {message}", markup=False, soft_wrap=True)


def note(message: str) -> None:
    """A note on stderr: what the run did that the data does not show (no warning)."""
    _stderr().print(f"retcalc: note: {message}", markup=False, soft_wrap=True)


def error(message: str) -> None:
    """An error line on stderr."""
    _stderr().print(f"retcalc: error: {message}", markup=False, soft_wrap=True)


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while slow work runs, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    with _stderr().status(message, spinner="dots"):
        yield


def _quiet_broken_pipe() -> NoReturn:
    # Point stdout at /dev/null so the interpreter's final flush does not fail again.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(ExitStatus.SUCCESS)


def _is_broken_pipe(exc: BaseException) -> bool:
    # Polars' writers report a closed pipe as a plain OSError without errno.
    return getattr(exc, "errno", None) == errno.EPIPE or "Broken pipe" in str(exc)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread; see :func:`stopped_status`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return stopped_status(self.signum)


def stopped_status(signum: int) -> int:
    """The exit code of a run stopped by ``signum``: 128 + ``signum`` when no output file
    was written, else :attr:`ExitStatus.STOPPED_AFTER_WRITING`."""
    return ExitStatus.STOPPED_AFTER_WRITING if OUTPUT.written else 128 + signum


def stopped_message(signum: int) -> str | None:
    """What a run stopped by ``signum`` says on stderr: the files it wrote, if any."""
    if not OUTPUT.written:
        return None
    names = ", ".join(str(p) for p in OUTPUT.written)
    return (
        f"retcalc: stopped by {signal.Signals(signum).name} after writing {names} "
        "(complete); nothing else was written"
    )


#: Signals that stop a run, and how long the main thread gets to stop by itself.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_SECONDS = 0.5
_finished = threading.Event()
_process_ends_with_the_run = False


def process_ends_with_the_run() -> None:
    """Say that this process exits when the run ends (the console script).

    Then, once a run is over, stop signals are ignored until the process exits: the
    output is written and the exit code chosen, and a SIGTERM's default action in
    those last milliseconds would report 143, "nothing written".
    """
    global _process_ends_with_the_run
    _process_ends_with_the_run = True


def _watch(fd: int) -> None:
    """End the process on a stop signal when the main thread cannot (it is inside Rust)."""
    while True:
        try:
            data = os.read(fd, 1)
        except OSError:
            return
        if not data:
            return
        signum = data[0]
        if signum not in STOP_SIGNALS:
            continue
        deadline = time.monotonic() + GRACE_SECONDS
        while not _finished.is_set():
            if time.monotonic() >= deadline:
                # Under the writer's lock: no output file is replaced while we decide.
                with OUTPUT.lock:
                    if not OUTPUT.writing and not _finished.is_set():
                        _end_now(signum)
            time.sleep(0.02)
        return


def _end_now(signum: int) -> NoReturn:
    """End the process from the watcher: the code and message the main thread would give."""
    with contextlib.suppress(OSError, ValueError):
        if sys.stderr.isatty():  # the spinner hid the cursor: clear its line, show it
            os.write(sys.stderr.fileno(), b"\r\x1b[2K\x1b[?25h")
        message = stopped_message(signum)
        if message is not None:
            os.write(sys.stderr.fileno(), (message + "\n").encode("utf-8", "replace"))
    os._exit(stopped_status(signum))


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted`; a watcher makes them prompt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: Any) -> None:
        if OUTPUT.committing:  # a file is being renamed into place: the writer raises
            OUTPUT.pending = signum  # the signal again once the rename is recorded
            return
        raise Interrupted(signum)

    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    OUTPUT.reset()
    for s in STOP_SIGNALS:
        signal.signal(s, on_signal)
    _finished.clear()
    read_fd = write_fd = old_wakeup = -1
    try:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (AttributeError, OSError, ValueError):  # no wakeup pipe here: the handler alone
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        read_fd = write_fd = -1
    watcher = None
    if write_fd >= 0:
        watcher = threading.Thread(
            target=_watch, args=(read_fd,), name="retcalc-signals", daemon=True
        )
        watcher.start()
    try:
        yield
    finally:
        _finished.set()
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_IGN if _process_ends_with_the_run else handler)
        if watcher is not None:
            signal.set_wakeup_fd(old_wakeup)
            os.close(write_fd)
            watcher.join(timeout=2)
            os.close(read_fd)


def run(body: Callable[[], Any], *, debug: bool = False) -> None:
    """Run a command body, mapping every failure to a message and an exit code."""
    try:
        with _stop_signals():
            _run(body, debug=debug)
    except Interrupted as exc:  # a signal while an error was being reported
        _say_stopped(exc.signum)
        raise typer.Exit(exc.exit_status) from None
    finally:
        manifest.RUN.reset()  # a run's manifest is written by _run or not at all
        spool.release()  # temporary copies of stdin, pipes and gzip inputs


def _say_stopped(signum: int) -> None:
    message = stopped_message(signum)
    if message is not None:
        _stderr().print(message, markup=False, soft_wrap=True)


@contextlib.contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """What the Python API says as :class:`RetcalcWarning`, printed as ``warn`` prints:
    one line on stderr per warning, each time it is said."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", RetcalcWarning)
        default = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, RetcalcWarning):
                warn(str(message))
            else:
                default(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


def _run(body: Callable[[], Any], *, debug: bool) -> None:
    try:
        with _warnings_on_stderr():
            body()
            manifest.finish()  # after the output: a manifest describes what was written
    except ThresholdCrossed as exc:
        manifest.finish()  # the output was written before the threshold was checked
        _stderr().print(f"retcalc: {exc.message}", markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_status) from None
    except RetcalcError as exc:
        if debug:
            raise
        error(exc.message)
        raise typer.Exit(exc.exit_status) from None
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Interrupted as exc:
        _say_stopped(exc.signum)
        raise typer.Exit(exc.exit_status) from None
    except KeyboardInterrupt:
        if OUTPUT.written:
            _say_stopped(signal.SIGINT)
            raise typer.Exit(ExitStatus.STOPPED_AFTER_WRITING) from None
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    except pl.exceptions.DuplicateError as exc:
        if debug:
            raise
        error(same_name(exc))
        raise typer.Exit(ExitStatus.BAD_INPUT) from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        if _is_broken_pipe(exc):
            _quiet_broken_pipe()
        if debug:
            raise
        error(f"could not process the input: {first_line(exc)}")
        raise typer.Exit(ExitStatus.BAD_INPUT) from None
    except (typer.Exit, typer.Abort, typer.TyperException):  # Typer's own ends
        raise
    except MemoryError:
        if debug:
            raise
        error(
            "out of memory: the input is too large for this machine's memory; give a "
            "smaller input (or a Parquet file), run with more memory, or use --engine spark"
        )
        raise typer.Exit(ExitStatus.BAD_INPUT) from None
    except Exception as exc:
        # A bug, not the input: one line and exit 70 (not 1, which cron reads as an alert).
        if debug:
            raise
        _stderr().print(
            f"retcalc: internal error: {type(exc).__name__}: {first_line(exc)[:300]}; "
            "rerun with --debug for the traceback",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(ExitStatus.INTERNAL_ERROR) from None


def same_name(exc: pl.exceptions.DuplicateError) -> str:
    """What to say when a column of the input (a ``--by`` column) has the name of a
    column retcalc computes: two columns of one name in one table."""
    found = re.search(r"'([^']+)'", str(exc))
    name = found.group(1) if found and not found.group(1).startswith("_") else None
    if name is None:
        return f"two columns of one name in a table: {first_line(exc)}"
    return (
        f"--by {name}: retcalc computes a column of that name for this table; "
        f"group by a copy of the column under another name (e.g. by_{name})"
    )


def emit(
    table: pl.DataFrame,
    *,
    fmt: OutputFormat | None,
    output: Path | None,
    percent_columns: Collection[str] = (),
    title: str | None = None,
    inputs: Collection[Path] = (),
    excel_safe: bool = False,
    fail_if: Sequence[str] = (),
    keys: Sequence[str] = (),
    images: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Write ``table`` to stdout or ``output``, then apply ``--fail-if``; ``images``:
    charts for an html page (``--plot``)."""
    breaches = fail_if_breaches(table, fail_if, keys)
    chosen = resolve_format(fmt, output, stdout_is_tty=sys.stdout.isatty())
    if chosen is OutputFormat.xlsx:
        from retcalc.render.xlsx import cut_cells

        for message in cut_cells(table):
            warn(message)
    write_output(
        table,
        fmt=chosen,
        output=output,
        percent_columns=percent_columns,
        title=title,
        protected_paths=[p.resolve() for p in inputs],
        excel_safe=excel_safe,
        images=images,
    )
    if output is None:
        sys.stdout.flush()
    raise_breaches(breaches)


def fail_if_breaches(
    table: pl.DataFrame, fail_if: Sequence[str], keys: Sequence[str] = ()
) -> list[thresholds.Breach]:
    """The ``--fail-if`` conditions that ``table`` crosses (checked before writing it)."""
    conditions = [thresholds.parse(text) for text in fail_if]
    return thresholds.check(table, conditions, keys=keys) if conditions else []


def raise_breaches(breaches: Sequence[thresholds.Breach]) -> None:
    """Say every crossed threshold but the first on stderr; raise with the first (exit 1)."""
    if breaches:
        for breach in breaches[1:]:
            _stderr().print(f"retcalc: {breach.message()}", markup=False, soft_wrap=True)
        raise ThresholdCrossed(breaches[0].message())
