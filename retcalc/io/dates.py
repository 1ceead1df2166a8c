"""Reading dates as they appear in exports (SPEC §1).

Accepted: ISO 8601 (``2024-01-05``, ``2024-01-05T10:00:00Z``,
``2021-07-12 04:57:56 -0400``), ``YYYY-MM-DD HH:MM[:SS]``, ``YYYYMMDD``, and
``DD/MM/YYYY`` or ``MM/DD/YYYY`` (``/``, ``-`` or ``.``; two- or four-digit
years) when the file itself shows which comes first. retcalc works in calendar
days, so only the date part is kept: the local date as written in the export
(a UTC offset is not applied; see the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from retcalc.errors import InputError, UsageError

ISO_RE = r"^\s*(\d{4}-\d{1,2}-\d{1,2})(?:$|[T\s])"
COMPACT_RE = r"^\s*(\d{8})(?:$|[T\s])"
DMY_RE = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:$|[T\s,])"


class DateStyle(StrEnum):
    """How the dates of one column are written."""

    native = "native"  # already a Date or Datetime column (Parquet)
    iso = "iso"
    compact = "compact"  # YYYYMMDD
    day_first = "day_first"
    month_first = "month_first"


EXPECTED = "a date such as 2024-01-31, 2024-01-31 14:05, 20240131, 31/01/2024 or 01/31/2024"


@dataclass(frozen=True)
class DateFormat:
    """The style chosen for a column and, for display, why."""

    style: DateStyle
    reason: str


def _four_digit_year(year: pl.Expr) -> pl.Expr:
    # Two-digit years follow the C library rule: 69-99 -> 19xx, 00-68 -> 20xx.
    y = year.cast(pl.Int32, strict=False)
    return (
        pl.when(year.str.len_chars() == 2)
        .then(pl.when(y >= 69).then(y + 1900).otherwise(y + 2000))
        .otherwise(y)
    )


def parse_expr(raw: pl.Expr, style: DateStyle) -> pl.Expr:
    """Expression turning a text (or native) column into ``pl.Date``; null where unreadable."""
    if style is DateStyle.native:
        # For a time-zone-aware Datetime, dt.date() is the local date in that zone.
        return raw.dt.date()
    text = raw.cast(pl.String)
    if style is DateStyle.iso:
        return text.str.extract(ISO_RE, 1).str.to_date("%Y-%m-%d", strict=False)
    if style is DateStyle.compact:
        return text.str.extract(COMPACT_RE, 1).str.to_date("%Y%m%d", strict=False)
    first = text.str.extract(DMY_RE, 1)
    second = text.str.extract(DMY_RE, 2)
    year = _four_digit_year(text.str.extract(DMY_RE, 3))
    day, month = (first, second) if style is DateStyle.day_first else (second, first)
    iso = pl.concat_str([year.cast(pl.String), month.str.zfill(2), day.str.zfill(2)], separator="-")
    return iso.str.to_date("%Y-%m-%d", strict=False)


_FORMAT_FLAGS = {
    "iso": DateStyle.iso,
    "ymd": DateStyle.iso,
    "yyyymmdd": DateStyle.compact,
    "compact": DateStyle.compact,
    "dmy": DateStyle.day_first,
    "day-first": DateStyle.day_first,
    "mdy": DateStyle.month_first,
    "month-first": DateStyle.month_first,
}


def style_from_flag(text: str) -> DateStyle:
    """``--date-format iso|yyyymmdd|dmy|mdy``."""
    try:
        return _FORMAT_FLAGS[text.strip().lower()]
    except KeyError:
        raise UsageError(
            f"--date-format {text!r} is not known: use iso, yyyymmdd, dmy (31/01/2024) "
            "or mdy (01/31/2024)"
        ) from None


def detect_style(
    frame: pl.LazyFrame, column: str, *, where: str, optional: bool = False
) -> DateFormat:
    """Choose the date style of ``column`` from its values.

    The first non-empty value picks the family; for ``a/b/y`` dates the whole
    column decides the order: a first number above 12 means day-first, a second
    above 12 month-first, and a file with neither is refused as ambiguous.
    """
    dtype = frame.collect_schema()[column]
    if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime):
        return DateFormat(DateStyle.native, f"stored as {dtype}")
    if dtype.is_numeric():
        return DateFormat(DateStyle.compact, "numbers read as YYYYMMDD")
    text = pl.col(column).cast(pl.String).str.strip_chars()
    sample = (
        frame.select(text.alias("v"))
        .filter(pl.col("v").is_not_null() & (pl.col("v") != ""))
        .head(1)
        .collect()
    )
    if sample.height == 0:
        if optional:
            return DateFormat(DateStyle.iso, "every value is empty")
        if frame.select(pl.len()).collect().item() == 0:
            raise InputError(f"{where}: the file has a header but no rows")
        raise InputError(f"{where}: no dates at all (every value is empty)")
    value = sample.item()
    first = pl.select(
        pl.lit(value).str.contains(ISO_RE).alias("iso"),
        pl.lit(value).str.contains(COMPACT_RE).alias("compact"),
        pl.lit(value).str.contains(DMY_RE).alias("dmy"),
    ).row(0, named=True)
    if first["iso"]:
        return DateFormat(DateStyle.iso, f"ISO dates like {value!r}")
    if first["compact"]:
        return DateFormat(DateStyle.compact, f"YYYYMMDD dates like {value!r}")
    if not first["dmy"]:
        raise InputError(f"{where}: cannot read {value!r} as a date; expected {EXPECTED}")
    bounds = (
        frame.select(
            text.str.extract(DMY_RE, 1).cast(pl.Int32, strict=False).max().alias("a"),
            text.str.extract(DMY_RE, 2).cast(pl.Int32, strict=False).max().alias("b"),
            (text.str.extract(DMY_RE, 1) != text.str.extract(DMY_RE, 2)).any().alias("differ"),
        )
        .collect()
        .row(0, named=True)
    )
    a, b = bounds["a"] or 0, bounds["b"] or 0
    if a > 12 and b > 12:
        raise InputError(
            f"{where}: dates such as {value!r} have values above 12 in both the first and the "
            "second place, so they are neither day-first nor month-first; fix the column or "
            "pass --date-format"
        )
    if a > 12:
        return DateFormat(DateStyle.day_first, f"day-first: a first number reaches {a}")
    if b > 12:
        return DateFormat(DateStyle.month_first, f"month-first: a second number reaches {b}")
    if not bounds["differ"]:
        return DateFormat(DateStyle.day_first, "day and month are equal in every value")
    raise InputError(
        f"{where}: dates such as {value!r} could be day-first (DD/MM) or month-first (MM/DD): "
        "no value has a day above 12 to tell; pass --date-format dmy or --date-format mdy"
    )
