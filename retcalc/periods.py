"""The period grid and activity windows (SPEC §2).

Periods are calendar-aligned and half-open, ``[period_start, period_end)``;
weeks start on Monday. A window ``W`` such as ``12mo`` or ``90d`` is applied
backwards from an instant: a customer is active at ``x`` when they purchased
in ``[x - W, x)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from retcalc.errors import UsageError
from retcalc.lazy import LazyModule
from retcalc.validate import MAX_WINDOW_YEARS, parse_day, window_count

if TYPE_CHECKING:
    import polars as pl
else:
    pl = LazyModule("polars")  # retcalc.lazy: option parsing needs Period, not Polars


class Period(StrEnum):
    """Calendar period lengths accepted by ``--period``."""

    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"

    @property
    def every(self) -> str:
        """The Polars duration string of one period."""
        return {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}[
            self.value
        ]


_WINDOW_RE = re.compile(r"^\s*(\d+)\s*(d|w|mo|m|q|y)\s*$", re.IGNORECASE)
_UNIT_WORDS = {"d": "d", "w": "w", "mo": "mo", "m": "mo", "q": "q", "y": "y"}


@dataclass(frozen=True)
class Window:
    """A look-back window: ``count`` units, or unbounded when ``count`` is None."""

    count: int | None
    unit: str = "d"

    @property
    def is_all(self) -> bool:
        return self.count is None

    def __str__(self) -> str:
        return "all" if self.count is None else f"{self.count}{self.unit}"

    def offset(self) -> str:
        """Polars ``offset_by`` string that moves an instant back by the window."""
        if self.count is None:
            raise ValueError("an unbounded window has no offset")
        return f"-{self.count}{self.unit}"


def parse_window(
    text: str, flag: str = "--active-window", *, max_years: int = MAX_WINDOW_YEARS
) -> Window:
    """Parse ``30d``, ``8w``, ``3mo``, ``1q``, ``1y`` or ``all`` (``m`` is read as months);
    at most ``max_years`` years (retcalc.validate)."""
    if text.strip().lower() in {"all", "inf", "forever"}:
        return Window(None)
    match = _WINDOW_RE.match(text)
    if not match or not match.group(1).strip("0"):
        raise UsageError(
            f"{flag} {text!r} is not a window: use a positive count and a unit, "
            "e.g. 30d, 8w, 3mo, 1q, 1y, or 'all'"
        )
    return _bounded(match, text, flag, max_years=max_years, all_allowed=True)


def parse_duration(text: str, flag: str, *, max_years: int = MAX_WINDOW_YEARS) -> Window:
    """A bounded length for ``flag``: ``90d``, ``26w``, ``6mo``, ``1q``, ``1y`` (no ``all``),
    at most ``max_years`` years."""
    match = _WINDOW_RE.match(text)
    if not match or not match.group(1).strip("0"):
        raise UsageError(f"{flag} {text!r} is not a duration: use e.g. 90d, 26w, 6mo or 1y")
    return _bounded(match, text, flag, max_years=max_years, all_allowed=False)


def _bounded(
    match: re.Match[str], text: str, flag: str, *, max_years: int, all_allowed: bool
) -> Window:
    unit = _UNIT_WORDS[match.group(2).lower()]
    count = window_count(
        match.group(1), unit, flag, text, max_years=max_years, all_allowed=all_allowed
    )
    return Window(count, unit)


def back(day: dt.date, length: Window | Period) -> dt.date:
    """``day`` moved back by a duration or by one period (calendar arithmetic)."""
    offset = f"-{length.every}" if isinstance(length, Period) else length.offset()
    return pl.select(pl.lit(day, dtype=pl.Date).dt.offset_by(offset)).item()


def range_end(last: dt.date, *, end: dt.date | None, as_of: dt.date | None) -> dt.date:
    """The last day a period grid or range covers: one rule for every command.

    ``--end`` when given; else the day before ``--as-of`` when given (every day
    before ``--as-of`` counts as observed, with orders or without); else ``last``,
    the last day of the data. Never on or after ``--as-of``.
    """
    hi = end if end is not None else last if as_of is None else as_of - dt.timedelta(days=1)
    if as_of is not None:
        hi = min(hi, as_of - dt.timedelta(days=1))
    return hi


def observed_end(last: dt.date, as_of: dt.date | None) -> dt.date:
    """The first day not observed: ``--as-of``, else the day after ``last``."""
    return as_of if as_of is not None else last + dt.timedelta(days=1)


def truncate(expr: pl.Expr, period: Period) -> pl.Expr:
    """Start of the period containing each date."""
    return expr.dt.truncate(period.every)


def period_start(day: dt.date, period: Period) -> dt.date:
    """Start of the period containing ``day``."""
    return pl.select(truncate(pl.lit(day, dtype=pl.Date), period)).item()


def boundaries(first: dt.date, last: dt.date, period: Period) -> pl.Series:
    """Period boundaries from the period containing ``first`` to the end of the one containing ``last``.

    ``n`` periods give ``n + 1`` boundaries: period ``i`` is ``[b[i], b[i + 1])``.
    """
    start = period_start(first, period)
    stop = pl.select(
        truncate(pl.lit(last, dtype=pl.Date), period).dt.offset_by(period.every)
    ).item()
    return pl.date_range(start, stop, period.every, eager=True).alias("boundary")


def window_starts(bounds: pl.Series, window: Window) -> pl.Series:
    """``b - W`` for each boundary ``b`` (calendar arithmetic for months and years)."""
    if window.is_all:
        raise ValueError("an unbounded window has no start")
    return bounds.dt.offset_by(window.offset()).alias("window_start")


def parse_date_option(text: str | None, flag: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` value given on the command line, in the years 1900-2200."""
    if text is None:
        return None
    return parse_day(text, flag)
