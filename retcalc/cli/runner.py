"""The one place where errors become messages and exit codes (SPEC §5).

Also: warnings and progress on stderr, a quiet end on a closed pipe, and
writing a result through the render layer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import polars as pl
import typer
from rich.console import Console

from retcalc import thresholds
from retcalc.errors import ExitStatus, RetcalcError, ThresholdCrossed
from retcalc.render import OutputFormat, resolve_format, write_output

_stderr = Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    """A warning on stderr."""
    _stderr.print(f"retcalc: warning: {message}", markup=False, soft_wrap=True)


def error(message: str) -> None:
    """An error line on stderr."""
    _stderr.print(f"retcalc: error: {message}", markup=False, soft_wrap=True)


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while slow work runs, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    with _stderr.status(message, spinner="dots"):
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


def run(body: Callable[[], Any], *, debug: bool = False) -> None:
    """Run a command body, mapping every failure to a message and an exit code."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not in the main thread (e.g. some test runners)
        signal.signal(signal.SIGTERM, on_term)
    try:
        body()
    except ThresholdCrossed as exc:
        _stderr.print(f"retcalc: {exc.message}", markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_status) from None
    except RetcalcError as exc:
        if debug:
            raise
        error(exc.message)
        raise typer.Exit(exc.exit_status) from None
    except BrokenPipeError:
        _quiet_broken_pipe()
    except KeyboardInterrupt:
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        if _is_broken_pipe(exc):
            _quiet_broken_pipe()
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        error(f"could not process the input: {first}")
        raise typer.Exit(ExitStatus.BAD_INPUT) from None
    finally:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)


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
) -> None:
    """Write ``table`` to stdout or ``output``, then apply ``--fail-if``."""
    conditions = [thresholds.parse(text) for text in fail_if]
    breaches = thresholds.check(table, conditions, keys=keys) if conditions else []
    chosen = resolve_format(fmt, output, stdout_is_tty=sys.stdout.isatty())
    write_output(
        table,
        fmt=chosen,
        output=output,
        percent_columns=percent_columns,
        title=title,
        protected_paths=[p.resolve() for p in inputs],
        excel_safe=excel_safe,
    )
    if output is None:
        sys.stdout.flush()
    if breaches:
        for breach in breaches[1:]:
            _stderr.print(f"retcalc: {breach.message()}", markup=False, soft_wrap=True)
        raise ThresholdCrossed(breaches[0].message())
