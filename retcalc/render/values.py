"""Column-wise value formatting with Polars expressions (no per-row Python).

``machine_frame`` prepares a frame for csv/tsv/json/ndjson (SPEC §4): ISO dates
and datetimes, fractions untouched, non-finite floats as null, no ``-0.0``.
``human_frame`` turns every column into display text for the table and markdown.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

DATE_FORMAT = "%Y-%m-%d"
TIME_FORMAT = "%H:%M:%S%.f"  # %.f prints fractional seconds only when non-zero
DATETIME_FORMAT = "%Y-%m-%dT" + TIME_FORMAT
DATETIME_TZ_FORMAT = DATETIME_FORMAT + "%:z"
HUMAN_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

EXCEL_TRIGGERS = r"^[=+\-@\t\r]"
"""Leading characters a spreadsheet may read as a formula (OWASP CSV injection list)."""

_CONTROL_CHARS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
_NUMBER_TEXT = r"^-?\d+(\.\d+)?$"


def clean_float(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """-0.0 -> 0.0 and NaN/±inf -> null, keeping the float dtype."""
    return (
        pl.when(expr == 0)
        .then(pl.lit(0.0, dtype))
        .when(expr.is_finite())
        .then(expr)
        .otherwise(pl.lit(None, dtype))
    )


def clean_floats(df: pl.DataFrame) -> pl.DataFrame:
    """Apply :func:`clean_float` to every float column (used for parquet too)."""
    floats = [name for name, dtype in df.schema.items() if dtype.is_float()]
    if not floats:
        return df
    return df.with_columns(clean_float(pl.col(n), df.schema[n]).alias(n) for n in floats)


def _nested_as_json(expr: pl.Expr) -> pl.Expr:
    """A list/array/struct cell as its JSON text, null staying null."""
    encoded = pl.struct(expr.alias("v")).struct.json_encode()
    return (
        pl.when(expr.is_null())
        .then(pl.lit(None, pl.String))
        .otherwise(encoded.str.strip_prefix('{"v":').str.strip_suffix("}"))
    )


def _machine_expr(name: str, dtype: pl.DataType, *, for_json: bool, excel_safe: bool) -> pl.Expr:
    col = pl.col(name)
    if dtype.is_float():
        out = clean_float(col, dtype)
    elif dtype == pl.Date:
        out = col.dt.strftime(DATE_FORMAT)
    elif isinstance(dtype, pl.Datetime):
        out = col.dt.strftime(DATETIME_TZ_FORMAT if dtype.time_zone else DATETIME_FORMAT)
    elif dtype == pl.Time:
        out = col.dt.strftime(TIME_FORMAT)
    elif isinstance(dtype, pl.Duration):
        out = col.dt.to_string("iso")
    elif isinstance(dtype, pl.Decimal) and for_json:
        out = col.cast(pl.Float64)  # polars writes Decimal as a JSON string otherwise
    elif isinstance(dtype, pl.Categorical | pl.Enum):
        out = col.cast(pl.String)
    elif dtype.is_nested() and not for_json:
        out = _nested_as_json(col)  # CSV cannot hold nested values
    else:
        out = col
    if excel_safe and (dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)):
        text = out.cast(pl.String)
        out = pl.when(text.str.contains(EXCEL_TRIGGERS)).then(pl.lit("'") + text).otherwise(text)
    return out.alias(name)


def machine_frame(df: pl.DataFrame, *, for_json: bool, excel_safe: bool = False) -> pl.DataFrame:
    """The frame as csv/json writers should see it (SPEC §4, §6 for ``excel_safe``)."""
    return df.select(
        _machine_expr(name, dtype, for_json=for_json, excel_safe=excel_safe)
        for name, dtype in df.schema.items()
    )


def group_thousands(text: pl.Expr) -> pl.Expr:
    """'-1234567.89' -> '-1,234,567.89'; text that is not a plain number is left alone."""
    sign = text.str.extract(r"^(-?)", 1)
    digits = text.str.extract(r"^-?(\d+)", 1)
    rest = text.str.extract(r"^-?\d+(.*)$", 1)
    grouped = digits.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse()
    joined = pl.concat_str([sign, grouped.str.strip_chars_start(","), rest])
    return pl.when(text.str.contains(_NUMBER_TEXT)).then(joined).otherwise(text)


def _fixed(expr: pl.Expr, decimals: int) -> pl.Expr:
    """A number as text with exactly ``decimals`` places (half-to-even on its decimal
    value); values too large for a Decimal(38) fall back to Polars' own text."""
    fixed = expr.cast(pl.Decimal(38, decimals), strict=False).cast(pl.String)
    # "-0.00" would be an artefact of rounding a tiny negative number.
    fixed = fixed.str.replace(r"^-(0\.0*)$", "$1")
    return pl.when(fixed.is_null()).then(expr.cast(pl.String)).otherwise(fixed)


def is_id_column(name: str) -> bool:
    """Integer identifiers read better without thousands separators."""
    lowered = name.lower()
    return lowered == "id" or lowered.endswith("_id")


def _human_expr(name: str, dtype: pl.DataType, *, percent: bool, check_mark: str) -> pl.Expr:
    col = clean_float(pl.col(name), dtype) if dtype.is_float() else pl.col(name)
    if percent and dtype.is_numeric():
        out = pl.concat_str([group_thousands(_fixed(col.cast(pl.Float64) * 100, 1)), pl.lit("%")])
    elif dtype.is_float() or isinstance(dtype, pl.Decimal):
        out = group_thousands(_fixed(col, 2))
    elif dtype.is_integer():
        out = col.cast(pl.String)
        if not is_id_column(name):
            out = group_thousands(out)
    elif dtype == pl.Boolean:
        yes, no = (check_mark, "partial") if name == "complete" else ("yes", "no")
        out = pl.when(col).then(pl.lit(yes)).when(col.not_()).then(pl.lit(no))
    elif dtype == pl.Date:
        out = col.dt.strftime(DATE_FORMAT)
    elif isinstance(dtype, pl.Datetime):
        out = col.dt.strftime(HUMAN_DATETIME_FORMAT)
    elif isinstance(dtype, pl.Duration):
        out = col.dt.to_string("polars")  # e.g. "3d 5h"
    elif dtype.is_nested():
        out = _nested_as_json(col)
    elif dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        # Control characters (terminal escape sequences) from the data must not reach a
        # terminal; tabs and newlines are layout the table and markdown handle themselves.
        out = col.cast(pl.String).str.replace_all(_CONTROL_CHARS, "\ufffd")
    else:
        out = col.cast(pl.String, strict=False)
    return out.cast(pl.String).alias(name)


def with_bounds(percent_columns: Collection[str]) -> list[str]:
    """``percent_columns`` and the ``_lo``/``_hi`` bounds a rate may have (``--ci``)."""
    return [b for c in percent_columns for b in (c, f"{c}_lo", f"{c}_hi")]


def fold_intervals(df: pl.DataFrame, text: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A rate with ``_lo`` and ``_hi`` bounds (``--ci``) shown as one cell, ``12.3% (11.1-13.6)``:
    ``df`` and its display ``text`` (:func:`human_frame`) without the bounds' columns."""
    rates = [c for c in df.columns if f"{c}_lo" in df.columns and f"{c}_hi" in df.columns]
    if not rates:
        return df, text
    bare = [
        (
            pl.col(c)
            + pl.when(pl.col(f"{c}_lo").is_not_null() & pl.col(f"{c}_hi").is_not_null())
            .then(
                pl.concat_str(
                    pl.lit(" ("),
                    pl.col(f"{c}_lo").str.strip_suffix("%"),
                    # "-2.3% (-11.0 to 2.6)": a dash between negative bounds would read as one
                    pl.when(pl.col(f"{c}_lo").str.starts_with("-"))
                    .then(pl.lit(" to "))
                    .otherwise(pl.lit("-")),
                    pl.col(f"{c}_hi").str.strip_suffix("%"),
                    pl.lit(")"),
                )
            )
            .otherwise(pl.lit(""))
        ).alias(c)
        for c in rates
    ]
    drop = [b for c in rates for b in (f"{c}_lo", f"{c}_hi")]
    return df.drop(drop), text.with_columns(bare).drop(drop)


def human_frame(
    df: pl.DataFrame, *, percent_columns: Collection[str] = (), check_mark: str = "✓"
) -> pl.DataFrame:
    """Every column as display text, nulls (and NaN/inf) as null: percentages with 1
    decimal, other floats with 2, thousands separators (not on ``*_id`` integers),
    dates YYYY-MM-DD, booleans yes/no (``complete``: check mark/partial). A rate's
    ``_lo``/``_hi`` bounds are percentages too."""
    percent = set(with_bounds(percent_columns))
    return df.select(
        _human_expr(name, dtype, percent=name in percent, check_mark=check_mark)
        for name, dtype in df.schema.items()
    )


def is_numeric(dtype: pl.DataType) -> bool:
    """Right-align these."""
    return dtype.is_numeric()
