"""Errors that reach the user, and the exit codes they map to.

Metrics and loaders raise these with a message a person can act on; only
``retcalc.cli.runner`` turns them into ``retcalc: error: ...`` and an exit code.
"""

from __future__ import annotations

import re
from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes (SPEC §5)."""

    SUCCESS = 0
    THRESHOLD_CROSSED = 1
    BAD_INPUT = 2
    STOPPED_AFTER_WRITING = 3  # SIGINT/SIGTERM after an output file was written
    INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug in retcalc, not a problem with the input
    INTERRUPTED = 130
    TERMINATED = 143


class RetcalcError(Exception):
    """An error with a message meant for the user and an exit code."""

    exit_status: ExitStatus = ExitStatus.BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(RetcalcError):
    """Bad flags or contradictory options."""


class InputError(RetcalcError):
    """An input file that cannot be read or does not hold what is needed."""


class RetcalcWarning(UserWarning):
    """What reading or computing had to guess, said from the Python API (the command
    line prints the same text on stderr)."""


class ThresholdCrossed(RetcalcError):
    """A ``--fail-if`` condition held; the data was still written."""

    exit_status = ExitStatus.THRESHOLD_CROSSED


#: A quoted name of a column retcalc adds while it works (``'_retcalc_row'``, ``"_hash"``)
#: or Polars' name of a repeated header name (``amount_duplicated_0``), in a library's text.
_INTERNAL_NAME = re.compile(r"""(['"`])(?:_[A-Za-z0-9_]*|[^'"`\s]*_duplicated_\d+)\1""")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type's name when it has none), without
    the names of columns that are retcalc's own (a message names only what the user has)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return _INTERNAL_NAME.sub("a working column", line)


def more_such(count: int, what: str = "rows") -> str:
    """`` (3 more such rows)`` after the first of ``count`` bad rows (nothing for one)."""
    if count <= 1:
        return ""
    return f" ({count - 1} more such {what if count > 2 else what.rstrip('s')})"
