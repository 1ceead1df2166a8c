"""Reading numbers as people write them in exports and spreadsheets.

Accepted, after trimming: currency symbols (``$ € £ ¥ ₹ ...``) and ISO codes
(``EUR 12,50``, ``12.50 USD``) anywhere around the number; a sign in front
(``-``, ``+``, the minus sign ``−``), a trailing minus (``12.50-``) or
accounting parentheses (``(12.50)``); thousands grouped by ``,`` ``.``
spaces or ``'`` (``1,234.56``, ``1.234,56``, ``1 234,56``, ``1'234.56``);
scientific notation with a decimal point (``1.5E+03``). A lone ``-`` (the
zero of spreadsheet accounting formats) is 0.

The decimal mark is chosen per column from the values themselves: every
value is read both ways, with a decimal point (``,`` groups thousands) and
with a decimal comma (``.`` groups thousands). A value only one reading
accepts (``12.50``, ``12,5``, ``1.234,56``) is evidence; a value both
readings accept with different results (``1,234``, ``1.234``) is ambiguous.
A column with evidence both ways, or ambiguous values and no evidence in the
file, is refused with the values that show it; ``--decimal`` forces a mark.
"""

from __future__ import annotations

import re
from enum import StrEnum

import polars as pl

#: Texts that mean "no value" in exports (SQL dumps' NULL and \N, pandas' nan, Python's
#: None), compared case-insensitively. Other words (``n/a``, ``-``...) are values.
MISSING = ("", "null", "nan", "none", "\\n")

_SPACE = r"\s\u00a0\u2007\u2009\u202f"
_DOT = r"^(\d+(\.\d*)?|\.\d+|[1-9]\d{0,2}(,\d{3})+(\.\d*)?|\d+(\.\d*)?[eE][-+]?\d+)$"
_COMMA = r"^(\d+(,\d*)?|[1-9]\d{0,2}(\.\d{3})+(,\d*)?)$"
_MINUS = "-\u2212\u2012\u2013"


class DecimalMark(StrEnum):
    """The decimal mark of a column of numbers written as text."""

    point = "."
    comma = ","


def mark_from_flag(text: str) -> DecimalMark:
    """``--decimal .`` or ``--decimal ,`` (also the words ``point``/``dot`` and ``comma``)."""
    from retcalc.errors import UsageError

    value = text.strip().lower()
    if value in (".", "point", "dot", "period"):
        return DecimalMark.point
    if value in (",", "comma"):
        return DecimalMark.comma
    raise UsageError(
        f"--decimal {text!r} is not known: use --decimal . (1,234.56) or --decimal , (1.234,56)"
    )


#: A text that, trimmed and in lower case, is one of MISSING: one match per value, a
#: third of the cost of trimming and lowering each value and looking it up.
_MISSING_RE = r"(?i)^\s*(?:" + "|".join(re.escape(m) for m in MISSING if m) + r")?\s*$"


def is_missing(raw: pl.Expr) -> pl.Expr:
    """True where a cell holds no value: null, blank or a missing marker such as NULL or nan."""
    return raw.is_null() | raw.cast(pl.String).str.contains(_MISSING_RE)


_SHAPE = (
    rf"^(?P<open>\()?[{_SPACE}]*(?P<lead>[{_MINUS}+])?[{_SPACE}]*"
    rf"(?P<core>[0-9.,eE+\-]*?)[{_SPACE}]*(?P<trail>[{_MINUS}])?[{_SPACE}]*(?P<close>\))?$"
)


def shape(raw: pl.Expr) -> pl.Expr:
    """A struct of the pieces of a number: ``open, lead, core, trail, close``.

    Currency, ISO codes and grouping spaces are removed first. Every step uses
    the previous one once: compute this as a column, then read it with
    :func:`point_from` and :func:`comma_from` (which use its fields many times).
    """
    text = raw.cast(pl.String).str.strip_chars().str.replace_all(r"\p{Sc}", "")
    # An ISO currency code (EUR 12,50; 12.50 USD) next to the number.
    text = text.str.replace(rf"^[A-Z]{{3}}[{_SPACE}]*([{_MINUS}+(]?[{_SPACE}]*[0-9.,])", "$1")
    text = text.str.replace(rf"([0-9.,)]|\d[{_MINUS}])[{_SPACE}]*[A-Z]{{3}}$", "$1")
    text = text.str.strip_chars()
    # A lone minus (what is left of "$ -") is the zero of accounting formats.
    text = text.str.replace(rf"^[{_MINUS}]$", "0")
    # Thousands grouped by spaces or apostrophes (1 234,56; 1'234.56): two passes
    # remove every such separator between a digit and three digits.
    for _ in range(2):
        text = text.str.replace_all(rf"(\d)[{_SPACE}']+(\d{{3}})", "${1}${2}")
    return text.str.extract_groups(_SHAPE)


def _sign_and_core(shaped: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    opened = shaped.struct.field("open").is_not_null()
    closed = shaped.struct.field("close").is_not_null()
    lead = shaped.struct.field("lead")
    leading = lead.is_not_null() & (lead != "+")
    trailing = shaped.struct.field("trail").is_not_null()
    signs = (opened & closed).cast(pl.Int8) + leading.cast(pl.Int8) + trailing.cast(pl.Int8)
    valid = (opened == closed) & (signs <= 1) & ~(lead.is_not_null() & trailing)
    core = shaped.struct.field("core")
    return (opened & closed) | leading | trailing, pl.when(valid).then(core).otherwise(None)


def _signed(negative: pl.Expr, value: pl.Expr) -> pl.Expr:
    return pl.when(negative & (value != 0)).then(-value).otherwise(value)


def point_from(shaped: pl.Expr) -> pl.Expr:
    """The number with a decimal point (``,`` groups thousands), from :func:`shape`."""
    negative, core = _sign_and_core(shaped)
    value = (
        core.str.extract(_DOT, 0)
        .str.replace_all(",", "", literal=True)
        .cast(pl.Float64, strict=False)
    )
    return _signed(negative, value)


def comma_from(shaped: pl.Expr) -> pl.Expr:
    """The number with a decimal comma (``.`` groups thousands), from :func:`shape`."""
    negative, core = _sign_and_core(shaped)
    value = (
        core.str.extract(_COMMA, 0)
        .str.replace_all(".", "", literal=True)
        .str.replace(",", ".", literal=True)
        .cast(pl.Float64, strict=False)
    )
    return _signed(negative, value)


def point_reading(raw: pl.Expr) -> pl.Expr:
    """The number with a decimal point (``,`` groups thousands); null where it does not fit.

    For small inputs; on a large frame compute :func:`shape` as a column first.
    """
    return point_from(shape(raw))


def comma_reading(raw: pl.Expr) -> pl.Expr:
    """The number with a decimal comma (``.`` groups thousands); null where it does not fit.

    For small inputs; on a large frame compute :func:`shape` as a column first.
    """
    return comma_from(shape(raw))


_PLAIN = r"^[-+]?\d+(\.\d+)?$"
_PLAIN_GROUPED = r"^[-+]?[1-9]\d{0,2}\.\d{3}$"


def is_plain(text: pl.Expr) -> pl.Expr:
    """For trimmed text: whether a value is plain (``-12``, ``12.50``), readable without
    :func:`shape`."""
    return text.str.contains(_PLAIN).fill_null(False)


def plain_readings(text: pl.Expr, plain: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """For trimmed text, its readings with a point and with a comma where ``plain``
    (:func:`is_plain`, computed once by the caller) holds; null elsewhere."""
    point = text.cast(pl.Float64, strict=False)
    grouped = text.str.replace(".", "", literal=True).cast(pl.Float64, strict=False)
    comma = (
        pl.when(~text.str.contains(".", literal=True))
        .then(point)
        .when(text.str.contains(_PLAIN_GROUPED))
        .then(grouped)
        .otherwise(None)
    )
    return pl.when(plain).then(point), pl.when(plain).then(comma)


def readings(values: pl.Series) -> pl.DataFrame:
    """Both readings of a text column, as columns ``point`` and ``comma`` (null where a
    reading does not fit).

    Plain values (``-12``, ``12.50``) take a fast path; only the others go
    through :func:`shape`.
    """
    t = pl.col("t")
    frame = pl.DataFrame({"t": values.cast(pl.String)}).with_columns(t.str.strip_chars())
    frame = frame.with_columns(is_plain(t).alias("plain"))
    point, comma = plain_readings(t, pl.col("plain"))
    out = frame.select(point.alias("point"), comma.alias("comma"))
    rest = frame.with_row_index("i").filter(~pl.col("plain") & t.is_not_null())
    if rest.height:
        slow = rest.select("i", shape(t).alias("s")).select(
            "i", point_from(pl.col("s")).alias("point"), comma_from(pl.col("s")).alias("comma")
        )
        index = slow["i"]
        out = out.with_columns(
            out["point"].scatter(index, slow["point"]),
            out["comma"].scatter(index, slow["comma"]),
        )
    return out


def native(raw: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """A numeric (Parquet) column of type ``dtype`` as Float64: NaN is a missing value.

    A Float32 value is read as the shortest decimal that the float32 rounds to (about 7
    significant digits: what the writer meant), not as its exact binary value
    (``10746.37`` is stored as 10746.3701171875 and printed as such in Float64).
    """
    text = dtype == pl.Float32
    value = (raw.cast(pl.String) if text else raw).cast(pl.Float64)
    return pl.when(value.is_nan()).then(None).otherwise(value)


def clean_number(raw: pl.Expr, mark: DecimalMark = DecimalMark.point) -> pl.Expr:
    """Text such as ``$1,234.50``, ``(12.50)`` or ``-$0.95`` as a float; null where unreadable."""
    reading = point_reading(raw) if mark is DecimalMark.point else comma_reading(raw)
    return pl.when(is_missing(raw)).then(None).otherwise(reading)
