"""Reading dates as they appear in exports (SPEC §1).

Accepted: ISO 8601 (``2024-01-05``, ``2024-01-05T10:00:00Z``,
``2021-07-12 04:57:56 -0400``), ``YYYY-MM-DD HH:MM[:SS]``, ``YYYY/MM/DD`` and
``YYYY.MM.DD``, ``YYYYMMDD``, ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (``/``, ``-`` or
``.``; two- or four-digit years) when the file itself shows which comes first,
English month names or abbreviations in any case (``Mar 5, 2024``,
``05-Mar-2024``, ``5 March 2024``, ``Tue, 05 Mar 2024 14:05:00 +0000``), Unix
epoch seconds or milliseconds (numbers or numeric text of 9 digits or more;
the first value's size tells which), and with ``--date-format`` a strftime
pattern (``%d.%m.%Y %Hh%M``). Any of these may carry a time, on a 24-hour or a
12-hour clock (``1:05 PM``). retcalc works in calendar days, so only the date
part is kept: by default the local date as written in the export (a UTC offset
is not applied; see the README); an epoch is an instant, so its date is the
UTC date. With ``--tz ZONE``, a timestamp that carries an offset (``Z``,
``+02:00``, ``-0400``), a time-zone-aware Parquet datetime, an epoch, and a
timestamp in a column whose header says ``UTC`` (Stripe's ``Created (UTC)``)
are converted to ZONE first, and the date is taken there.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from retcalc.errors import InputError, UsageError
from retcalc.io.numbers import is_missing

ISO_RE = r"^\s*(\d{4}-\d{1,2}-\d{1,2})(?:$|[T\s])"
#: ISO's order with any of ``-``, ``/`` or ``.``: ``2024/03/05``, ``2024.03.05 14:05``.
YMD_RE = r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})(?:$|[T\s])"
COMPACT_RE = r"^\s*(\d{8})(?:$|[T\s])"
DMY_RE = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:$|[T\s,])"
#: The shape of nearly every ISO date (``2024-01-31``, ``2024-01-31 14:05``): ISO_RE then
#: captures the first 10 characters, which a match (several times cheaper than a capture)
#: tells.
ISO_PADDED_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:$|[T\s])"
#: A time after the date, up to the end of the value: ``14:05``, ``T14:05:00.123``,
#: ``1:05 PM``, ``12:30 a.m.``, then an optional offset (Z, UTC, +02:00, -0400, +05).
#: Groups: hour, minute, second, AM/PM, offset.
TIME_RE = (
    r"(?:^|[T\s,:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s*([AaPp]\.?[Mm]\.?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
#: English month names and the abbreviations exports write, lower case.
MONTHS: dict[str, int] = {}
for _number, _name in enumerate(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ],
    start=1,
):
    MONTHS[_name] = MONTHS[_name[:3]] = _number
MONTHS["sept"] = 9
#: ``Mar 5, 2024``, ``March 05 2024 1:05 PM``, ``Tuesday, March 5th, 2024``: month, day, year.
NAMED_MDY_RE = (
    r"^\s*(?:[A-Za-z]{3,9}\.?,\s*)?([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})"
    r"(?:$|[T\s,])"
)
#: ``05-Mar-2024``, ``5 March 2024``, ``5-Mar-24``, ``05MAR2024``, ``Tue, 05 Mar 2024``,
#: ``05/Mar/2024:14:05:00`` (web server logs): day, month, year.
NAMED_DMY_RE = (
    r"^\s*(?:[A-Za-z]{3,9}\.?,\s*)?(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*([A-Za-z]{3,9})\.?"
    r"[\s\-/.,]*(\d{4}|\d{2})(?:$|[T\s,:])"
)
#: A Unix epoch written as a number (a fraction is allowed and ignored).
EPOCH_RE = r"^\s*([+-]?\d+(?:\.\d+)?)\s*$"
#: Epoch values that put dates in [1900-01-01, 2200-01-01), in seconds; milliseconds are
#: 1000 times these.
EPOCH_SECONDS = (-2_208_988_800, 7_258_118_400)
#: Fewer digits than this (before any fraction) is not taken for an epoch by detection: it
#: would be a date in 1966-1973, and is far more likely a spreadsheet serial date or a typo.
EPOCH_MIN_DIGITS = 9
_UNIT = {"s": 1, "ms": 1000}
_DAY_SECONDS = 86_400


class DateStyle(StrEnum):
    """How the dates of one column are written."""

    native = "native"  # already a Date or Datetime column (Parquet)
    iso = "iso"  # also YYYY/MM/DD and YYYY.MM.DD
    compact = "compact"  # YYYYMMDD
    day_first = "day_first"
    month_first = "month_first"
    month_name = "month_name"  # Mar 5, 2024 / 05-Mar-2024
    epoch_s = "epoch_seconds"
    epoch_ms = "epoch_milliseconds"


@dataclass(frozen=True)
class Pattern:
    """``--date-format`` given as a strftime pattern (``%d.%m.%Y %Hh%M``)."""

    pattern: str

    @property
    def value(self) -> str:
        return self.pattern


#: How a column's dates are read: a detected style or the user's pattern.
Style = DateStyle | Pattern

EXPECTED = (
    "a date such as 2024-01-31, 2024-01-31 14:05, 2024/01/31, 20240131, 31/01/2024, "
    "01/31/2024, Jan 31, 2024, 31-Jan-2024 (a time may follow, also 2:05 PM), or Unix "
    "epoch seconds (1706659200) or milliseconds (1706659200000) between 1900 and 2200"
)


@dataclass(frozen=True)
class DateFormat:
    """The style chosen for a column and, for display, why."""

    style: Style
    reason: str


def _four_digit_year(year: pl.Expr) -> pl.Expr:
    # Two-digit years follow the C library rule: 69-99 -> 19xx, 00-68 -> 20xx.
    y = year.cast(pl.Int32, strict=False)
    return (
        pl.when(year.str.len_chars() == 2)
        .then(pl.when(y >= 69).then(y + 1900).otherwise(y + 2000))
        .otherwise(y)
    )


def header_says_utc(header: str) -> bool:
    """True for headers such as ``Created (UTC)`` or ``created_at_utc``: the times are UTC."""
    return re.search(r"(?<![a-z])utc(?![a-z])", header.lower()) is not None


def _zone_names() -> list[str]:
    try:
        import zoneinfo

        return sorted(zoneinfo.available_timezones())
    except Exception:  # no time zone database on this system: no suggestions
        return []


def _known_zone(tz: str) -> bool:
    try:
        pl.Series([dt.datetime(2024, 1, 1)]).dt.replace_time_zone(tz)
    except (pl.exceptions.PolarsError, ValueError):
        return False
    return True


def check_zone(tz: str) -> str:
    """``--tz``: an IANA time zone name (``Europe/Paris``, any case) or ``UTC``."""
    if _known_zone(tz):
        return tz
    names = _zone_names()
    same = [n for n in names if n.lower() == tz.lower()]
    if same and _known_zone(same[0]):
        return same[0]
    close = difflib.get_close_matches(tz, names, n=3, cutoff=0.5)
    hint = " (closest: " + ", ".join(close) + ")" if close else ""
    raise UsageError(
        f"--tz {tz!r} is not a known time zone{hint}; use a name such as "
        "Europe/Paris, America/New_York or UTC"
    )


def _zoned(day: pl.Expr, text: pl.Expr, tz: str, utc: bool) -> pl.Expr:
    """The date in ``tz`` of a timestamp whose date reads as ``day`` and whose time (see
    TIME_RE) carries an offset (or any time, when ``utc``); null for the other values."""
    time = text.str.extract_groups(TIME_RE)
    clock = time.struct.field("1").cast(pl.Int64, strict=False)
    minute = time.struct.field("2").cast(pl.Int64, strict=False)
    second = time.struct.field("3").cast(pl.Int64, strict=False).fill_null(0)
    half = time.struct.field("4").str.to_lowercase().str.slice(0, 1)
    # 12-hour clock: 12:30 AM is 00:30, 12:30 PM is 12:30, 1:05 PM is 13:05.
    hour = (
        pl.when(half == "a")
        .then(clock % 12)
        .when(half == "p")
        .then(clock % 12 + 12)
        .otherwise(clock)
    )
    offset = time.struct.field("5").str.to_uppercase()
    if utc:
        offset = pl.when(minute.is_not_null()).then(offset.fill_null("Z")).otherwise(offset)
    digits = offset.str.replace_all(r"[^0-9]", "")
    sign = pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
    shift = (
        pl.when(offset.is_in(["Z", "UTC", "GMT"]))
        .then(0)
        .otherwise(
            sign
            * (
                digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
                + digits.str.slice(2, 2).cast(pl.Int64, strict=False).fill_null(0)
            )
        )
    )
    instant = day.cast(pl.Datetime("us")) + pl.duration(
        hours=hour, minutes=minute - shift, seconds=second
    )
    local = instant.dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()
    return pl.when(offset.is_not_null() & minute.is_not_null()).then(local).otherwise(None)


def _iso_date_part(text: pl.Expr) -> pl.Expr:
    """YMD_RE's date with dashes (``2024-1-31`` of `` 2024/1/31T10:00``), null where it does
    not match: the first 10 characters of a padded ISO date, the capture only for the other
    values (a capture on every value costs several times more)."""
    padded = text.str.contains(ISO_PADDED_RE)
    others = pl.when(~padded).then(text).str.extract(YMD_RE, 1).str.replace_all(r"[/.]", "-")
    return pl.when(padded).then(text.str.slice(0, 10)).otherwise(others)


def _ymd(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """The date of year, month and day numbers (text or integers); null where impossible."""
    iso = pl.concat_str(
        [
            year.cast(pl.String),
            month.cast(pl.String).str.zfill(2),
            day.cast(pl.String).str.zfill(2),
        ],
        separator="-",
    )
    return iso.str.to_date("%Y-%m-%d", strict=False)


def month_number(word: pl.Expr) -> pl.Expr:
    """1-12 for an English month name or abbreviation in any case; null for other words."""
    return word.str.to_lowercase().replace_strict(MONTHS, default=None, return_dtype=pl.Int8)


def _named(text: pl.Expr) -> pl.Expr:
    """Dates with a month name: ``Mar 5, 2024`` (NAMED_MDY_RE) or ``05-Mar-2024`` (NAMED_DMY_RE)."""
    mdy = text.str.extract_groups(NAMED_MDY_RE)
    dmy = text.str.extract_groups(NAMED_DMY_RE)
    month = pl.coalesce(mdy.struct.field("1"), dmy.struct.field("2"))
    day = pl.coalesce(mdy.struct.field("2"), dmy.struct.field("1"))
    year = pl.coalesce(mdy.struct.field("3"), _four_digit_year(dmy.struct.field("3")))
    return _ymd(year, month_number(month), day)


def epoch_number(raw: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """The whole number of an epoch value (a fraction dropped, toward the past)."""
    if dtype is not None and dtype.is_integer():
        return raw.cast(pl.Int64, strict=False)
    if dtype is not None and dtype.is_float():
        return raw.floor().cast(pl.Int64, strict=False)
    value = raw.cast(pl.String).str.extract(EPOCH_RE, 1).cast(pl.Float64, strict=False)
    return value.floor().cast(pl.Int64, strict=False)


def _epoch(raw: pl.Expr, unit: str, tz: str | None, dtype: pl.DataType | None) -> pl.Expr:
    """The UTC date (or the date in ``tz``) of epoch seconds or milliseconds; null outside
    1900-2199."""
    scale = _UNIT[unit]
    number = epoch_number(raw, dtype)
    low, high = EPOCH_SECONDS[0] * scale, EPOCH_SECONDS[1] * scale
    number = pl.when((number >= low) & (number < high)).then(number)
    if tz is None:
        return number.floordiv(_DAY_SECONDS * scale).cast(pl.Int32).cast(pl.Date)
    instant = pl.from_epoch(number, time_unit="s" if unit == "s" else "ms")
    return instant.dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()


def _with_pattern(text: pl.Expr, pattern: str, tz: str | None, utc: bool) -> pl.Expr:
    """``--date-format`` as a strftime pattern, with Polars' own parser."""
    stamp = text.str.strip_chars().str.to_datetime(pattern, strict=False, time_unit="us")
    if re.search(r"%[:#]?z", pattern):
        if tz is None:
            raise UsageError(
                f"--date-format {pattern!r} reads UTC offsets (%z): pass --tz ZONE to say "
                "in which time zone the dates are taken"
            )
        return stamp.dt.convert_time_zone(tz).dt.date()
    if tz is not None and utc:
        return stamp.dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()
    return stamp.dt.date()


def parse_expr(
    raw: pl.Expr,
    style: Style,
    *,
    tz: str | None = None,
    utc: bool = False,
    dtype: pl.DataType | None = None,
) -> pl.Expr:
    """Expression turning a text (or native) column into ``pl.Date``; null where unreadable.

    ``tz``: convert timestamps that carry a zone (an offset after the time, a zone-aware
    Datetime, an epoch, or any time of day when ``utc``: the header says the times are
    UTC) to that zone before taking the date. Without ``tz``, the date as written (an
    epoch's UTC date).
    """
    if isinstance(style, Pattern):
        return _with_pattern(raw.cast(pl.String), style.pattern, tz, utc)
    if style is DateStyle.native:
        # For a time-zone-aware Datetime, dt.date() is the local date in its own zone.
        if tz is not None and isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                return raw.dt.convert_time_zone(tz).dt.date()
            if utc:
                return raw.dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()
        return raw.dt.date()
    if style is DateStyle.epoch_s:
        return _epoch(raw, "s", tz, dtype)
    if style is DateStyle.epoch_ms:
        return _epoch(raw, "ms", tz, dtype)
    if style is DateStyle.compact and dtype is not None and dtype.is_float():
        raw = raw.cast(pl.Int64, strict=False)  # 20240131.0, as pandas writes integers with gaps
    text = raw.cast(pl.String)
    if style is DateStyle.iso:
        plain = _iso_date_part(text).str.to_date("%Y-%m-%d", strict=False)
    elif style is DateStyle.compact:
        plain = text.str.extract(COMPACT_RE, 1).str.to_date("%Y%m%d", strict=False)
    elif style is DateStyle.month_name:
        plain = _named(text)
    else:
        first = text.str.extract(DMY_RE, 1)
        second = text.str.extract(DMY_RE, 2)
        year = _four_digit_year(text.str.extract(DMY_RE, 3))
        day, month = (first, second) if style is DateStyle.day_first else (second, first)
        plain = _ymd(year, month, day)
    if tz is None:
        return plain
    return pl.coalesce(_zoned(plain, text, tz, utc), plain)


_FORMAT_FLAGS = {
    "iso": DateStyle.iso,
    "ymd": DateStyle.iso,
    "yyyymmdd": DateStyle.compact,
    "compact": DateStyle.compact,
    "dmy": DateStyle.day_first,
    "day-first": DateStyle.day_first,
    "mdy": DateStyle.month_first,
    "month-first": DateStyle.month_first,
    "epoch": DateStyle.epoch_s,
    "epoch-s": DateStyle.epoch_s,
    "epoch-seconds": DateStyle.epoch_s,
    "epoch-ms": DateStyle.epoch_ms,
    "epoch-milliseconds": DateStyle.epoch_ms,
}


def style_from_flag(text: str) -> Style:
    """``--date-format iso|yyyymmdd|dmy|mdy|epoch-s|epoch-ms`` or a strftime pattern."""
    if "%" in text:
        return Pattern(text)
    try:
        return _FORMAT_FLAGS[text.strip().lower()]
    except KeyError:
        raise UsageError(
            f"--date-format {text!r} is not known: use iso, yyyymmdd, dmy (31/01/2024), "
            "mdy (01/31/2024), epoch-s, epoch-ms, or a strftime pattern such as %d.%m.%Y"
        ) from None


def _epoch_style(value: str, where: str) -> DateFormat:
    """Seconds or milliseconds, from the size of the column's first value."""
    digits = re.sub(r"[^0-9]", "", value.strip().lstrip("+-").split(".")[0])
    number = int(float(value))
    low, high = EPOCH_SECONDS
    if len(digits) < EPOCH_MIN_DIGITS:
        raise InputError(
            f"{where}: cannot read {value!r} as a date: a number of {len(digits)} digits is "
            "neither YYYYMMDD nor a Unix epoch (9 digits or more); pass --date-format epoch-s "
            f"if these are epoch seconds; expected {EXPECTED}"
        )
    if low <= number < high:
        return DateFormat(DateStyle.epoch_s, f"Unix epoch seconds like {value!r}")
    if low * 1000 <= number < high * 1000:
        return DateFormat(DateStyle.epoch_ms, f"Unix epoch milliseconds like {value!r}")
    raise InputError(
        f"{where}: cannot read {value!r} as a date: as Unix epoch seconds or milliseconds it "
        "is not between 1900 and 2200; fix the column or pass --date-format"
    )


def detect_style(
    frame: pl.LazyFrame, column: str, *, where: str, optional: bool = False
) -> DateFormat:
    """Choose the date style of ``column`` from its values.

    The first non-empty value picks the family (for epochs, also seconds or
    milliseconds); for ``a/b/y`` dates the whole column decides the order: a
    first number above 12 means day-first, a second above 12 month-first, and a
    file with neither is refused as ambiguous.
    """
    dtype = frame.collect_schema()[column]
    if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime):
        return DateFormat(DateStyle.native, f"stored as {dtype}")
    text = pl.col(column).cast(pl.String).str.strip_chars()
    text = pl.when(is_missing(text)).then(None).otherwise(text)
    sample = frame.select(text.alias("v")).filter(pl.col("v").is_not_null()).head(1).collect()
    if sample.height == 0:
        if optional:
            return DateFormat(DateStyle.iso, "every value is empty")
        if frame.select(pl.len()).collect().item() == 0:
            raise InputError(f"{where}: the file has a header but no rows")
        raise InputError(f"{where}: no dates at all (every value is empty)")
    value = sample.item()
    if dtype.is_numeric():
        if re.fullmatch(r"\d{8}(?:\.0+)?", value):  # a float column's 20240131.0 too
            return DateFormat(DateStyle.compact, "numbers read as YYYYMMDD")
        if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", value):
            return _epoch_style(value, where)
        raise InputError(f"{where}: cannot read {value!r} as a date; expected {EXPECTED}")
    first = pl.select(
        pl.lit(value).str.contains(ISO_RE).alias("iso"),
        pl.lit(value).str.contains(COMPACT_RE).alias("compact"),
        pl.lit(value).str.contains(YMD_RE).alias("ymd"),
        pl.lit(value).str.contains(EPOCH_RE).alias("epoch"),
        _named(pl.lit(value)).is_not_null().alias("named"),
        pl.lit(value).str.contains(DMY_RE).alias("dmy"),
    ).row(0, named=True)
    if first["iso"]:
        return DateFormat(DateStyle.iso, f"ISO dates like {value!r}")
    if first["compact"]:
        return DateFormat(DateStyle.compact, f"YYYYMMDD dates like {value!r}")
    if first["ymd"]:
        return DateFormat(DateStyle.iso, f"year-month-day dates like {value!r}")
    if first["epoch"]:
        return _epoch_style(value, where)
    if first["named"]:
        return DateFormat(DateStyle.month_name, f"dates with month names like {value!r}")
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
