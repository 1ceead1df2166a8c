"""One validation layer for values from flags, report specs and configs (docs/inputs.md).

Every date, duration and count a user writes on the command line or in a YAML
file is checked here against the same bounds, so that a typo becomes exit 2
with a message naming the flag or the key path (and line), never a traceback
or a run that does not end:

- dates lie in the years 1900-2200 (:data:`FIRST_DAY` to :data:`LAST_DAY`);
- look-back windows are at most :data:`MAX_WINDOW_YEARS` years, ``--horizon``
  at most :data:`MAX_HORIZON_YEARS`;
- count options have a ``max=`` from :data:`MAX_TOP` / :data:`MAX_COUNT`;
- YAML files (every loader uses :func:`retcalc.yamlsafe.load_yaml_file`) are at most
  :data:`MAX_YAML_BYTES`, nested at most :data:`MAX_DEPTH` levels, at most
  :data:`MAX_NODES` values with every alias expanded (a "billion laughs" file
  is refused before anything walks it), with integers of at most
  :data:`MAX_INT_DIGITS` digits; dates in YAML stay text and are read where
  they are used, through :func:`parse_day`.
"""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

from retcalc.errors import UsageError

FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2200, 12, 31)
#: A window longer than this spans more than every date retcalc accepts: write ``all``.
MAX_WINDOW_YEARS = 300
#: How far ahead ``clv --model bgnbd --horizon`` may predict.
MAX_HORIZON_YEARS = 100
#: ``--top``: the most rows a ranking may ask for.
MAX_TOP = 1_000_000
#: Other counts (``--min-cohort``, ``--loyal-orders``, ``crr --start``...).
MAX_COUNT = 10**12
#: ``cohorts --max-offset``: periods since joining (300 years of days is 109,573).
MAX_OFFSET = 1_000_000
#: ``forecast --horizon``: periods projected (a thousand months is 83 years).
MAX_FORECAST_HORIZON = 1000
#: ``forecast --ci-resamples``.
MAX_RESAMPLES = 100_000

MAX_YAML_BYTES = 1 << 20
MAX_DEPTH = 50
MAX_NODES = 100_000
MAX_INT_DIGITS = 100

#: Units of a window or duration per year (``m`` is read as ``mo`` before this).
PER_YEAR = {"d": 365.25, "w": 365.25 / 7, "mo": 12, "q": 4, "y": 1}
#: Digits of a window's count: more than this is beyond every bound anyway.
_MAX_COUNT_DIGITS = 9


# ------------------------------------------------------------------------- dates


def check_day(day: dt.date, where: str) -> dt.date:
    """``day`` when it lies in the years 1900-2200; else a :class:`UsageError` naming ``where``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise UsageError(
            f"{where} {day.isoformat()} is outside the dates retcalc accepts "
            f"({FIRST_DAY} to {LAST_DAY}); a typo in the year?"
        )
    return day


def parse_day(text: str, where: str) -> dt.date:
    """A ``YYYY-MM-DD`` date in the years 1900-2200, for the flag or key ``where``."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise UsageError(
            f"{where} {shown!r} is not a date: expected YYYY-MM-DD, a day that exists "
            f"between {FIRST_DAY} and {LAST_DAY}"
        ) from None
    return check_day(day, where)


# --------------------------------------------------------------- lengths and counts


def window_count(
    digits: str, unit: str, where: str, text: str, *, max_years: int, all_allowed: bool
) -> int:
    """The count of a window or duration ``text`` (``digits`` of ``unit``), at most
    ``max_years`` years long; ``all_allowed`` says so in the message."""
    count = int(digits) if len(digits.lstrip("0")) <= _MAX_COUNT_DIGITS else None
    if count is None or count / PER_YEAR[unit] > max_years:
        most = int(max_years * PER_YEAR[unit])
        unbounded = " (or 'all' for no limit)" if all_allowed else ""
        raise UsageError(
            f"{where} {_short(text)!r} is too long: at most {max_years} years "
            f"({most}{unit}){unbounded}"
        )
    return count


def _short(text: str, most: int = 40) -> str:
    return text if len(text) <= most else text[:most] + "..."


# ---------------------------------------------------------------------------- YAML


def read_small_file(
    path: Path, flag: str, *, limit: int = MAX_YAML_BYTES, error: type[UsageError] = UsageError
) -> str:
    """The UTF-8 text of a small file (a config or a report spec) named by ``flag``.

    A directory or a device is refused; at most ``limit`` bytes are read, so that
    ``--config /dev/zero`` or an endless pipe ends with a message.
    """
    shown = f"{flag} {path}"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error(f"{shown}: no such file") from None
    except OSError as exc:
        raise error(f"{shown}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise error(f"{shown}: is a directory; give the YAML file")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise error(f"{shown}: is a device, not a file; give the YAML file")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"{shown}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(
            f"{shown}: is larger than {limit // 1024} KiB; a config or spec is a few lines of YAML"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{shown}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
