"""The extra inputs of ``retcalc kpis``: NPS survey responses and the orders' paid dates.

An NPS file has one row per response: who answered (``customer_id``), when
(``date``) and the score (0–10). Its columns are found by the same
case- and punctuation-insensitive matching as the orders' columns. Every value
is parsed here; an unreadable one stops the run with the file, column, line
and value (SPEC §5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from retcalc.errors import InputError
from retcalc.io import checks, dates
from retcalc.io.frames import Loaded, clean_id, clean_number
from retcalc.io.load import ROW, Table, open_table
from retcalc.io.mapping import suggest
from retcalc.io.numbers import is_missing
from retcalc.schema import ORDER_COLUMNS, normalize

#: Canonical NPS columns and the headers that name them, in priority order.
NPS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": next(c.synonyms for c in ORDER_COLUMNS if c.name == "customer_id"),
    "date": (
        "date",
        "response_date",
        "responded_at",
        "survey_date",
        "submitted_at",
        "answered_at",
        "completed_at",
        "created_at",
        "timestamp",
        "day",
    ),
    "score": (
        "score",
        "nps",
        "nps_score",
        "rating",
        "likelihood_to_recommend",
        "recommend",
        "answer",
    ),
}

#: The column added to the orders by :func:`with_paid_dates`.
PAID = "paid_day"


@dataclass
class Responses:
    """NPS responses as ``customer_id, day, score`` and what was learnt reading them."""

    table: Table
    frame: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def _find(headers: Sequence[str], wanted: Sequence[str]) -> str | None:
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(normalize(header), header)
    for name in wanted:
        found = by_norm.get(normalize(name))
        if found is not None:
            return found
    return None


def _present(raw: pl.Expr) -> pl.Expr:
    return ~is_missing(raw)


def _stop_at_first_bad(
    table: Table, frame: pl.DataFrame, flag: str, source: str, what: str, expected: str
) -> None:
    bad = frame.filter(pl.col(flag))
    if bad.height == 0:
        return
    row = int(bad.get_column(ROW)[0])
    raise checks.unreadable_at(table, row, bad.height, source, what, expected)


def _date_style(
    table: Table, source: str, style: dates.Style | None, what: str
) -> dates.Style | None:
    """The date style of a column; None when the column has no value at all."""
    if style is not None:
        return style
    if not table.frame.select(_present(pl.col(source)).any()).collect().item():
        return None
    where = f"{table.name}: column {source!r} ({what})"
    return dates.detect_style(table.frame, source, where=where).style


def load_nps(
    spec: str, *, encoding: str = "utf8", date_style: dates.Style | None = None
) -> Responses:
    """Read NPS responses into ``customer_id, day, score`` (score an integer 0–10).

    Rows without a customer id, a date or a score are left out with a warning; a
    score that is not a whole number from 0 to 10 is an error.
    """
    table = open_table(spec, encoding=encoding)
    sources: dict[str, str] = {}
    for canonical, synonyms in NPS_SYNONYMS.items():
        found = _find(table.columns, synonyms)
        if found is None:
            raise InputError(
                f"{table.name}: no {canonical} column found in the NPS file"
                f"{suggest(canonical, table.columns)}; columns are: {', '.join(table.columns)}. "
                "An NPS file needs customer_id, date and score (0-10) columns"
            )
        sources[canonical] = found
    style = _date_style(table, sources["date"], date_style, "date")
    if style is None:
        raise InputError(f"{table.name}: column {sources['date']!r} (date) has no dates at all")
    raw_date, raw_score = pl.col(sources["date"]), pl.col(sources["score"])
    day = dates.parse_expr(raw_date, style)
    score = clean_number(raw_score)
    frame = table.frame.select(
        pl.col(ROW),
        clean_id(pl.col(sources["customer_id"])).alias("customer_id"),
        day.alias("day"),
        score.alias("_score"),
        (_present(raw_date) & day.is_null()).alias("_bad_date"),
        (
            _present(raw_score)
            & (score.is_null() | (score != score.round(0)) | ~score.is_between(0, 10))
        ).alias("_bad_score"),
    ).collect()
    _stop_at_first_bad(table, frame, "_bad_date", sources["date"], "date", dates.EXPECTED)
    _stop_at_first_bad(
        table, frame, "_bad_score", sources["score"], "score", "a whole number from 0 to 10"
    )
    warnings: list[str] = []
    complete = (
        pl.col("customer_id").is_not_null()
        & pl.col("day").is_not_null()
        & pl.col("_score").is_not_null()
    )
    left_out = frame.filter(~complete).height
    if left_out:
        warnings.append(
            f"{table.name}: {left_out} responses have no customer id, date or score and were "
            "left out"
        )
    frame = frame.filter(complete).select(
        "customer_id", "day", pl.col("_score").cast(pl.Int64).alias("score")
    )
    return Responses(table, frame, warnings)


def with_paid_dates(
    orders: Loaded, column: str, *, date_style: dates.Style | None = None
) -> pl.DataFrame:
    """The orders frame with ``paid_day``: the date in the orders' ``column`` (empty = unpaid).

    The column is read from the same opened table, joined on the row index.
    """
    table = orders.table
    source = column if column in table.columns else _find(table.columns, [column])
    if source is None:
        raise InputError(
            f"{table.name}: no column {column!r} (given for --paid-col)"
            f"{suggest(column, table.columns)}; columns are: {', '.join(table.columns)}"
        )
    style = _date_style(table, source, date_style, "paid date")
    if style is None:
        paid = pl.lit(None, dtype=pl.Date)
        parsed = table.frame.select(pl.col(ROW), paid.alias(PAID)).collect()
    else:
        raw = pl.col(source)
        day = dates.parse_expr(raw, style)
        parsed = table.frame.select(
            pl.col(ROW), day.alias(PAID), (_present(raw) & day.is_null()).alias("_bad")
        ).collect()
        _stop_at_first_bad(table, parsed, "_bad", source, "paid date", dates.EXPECTED)
        parsed = parsed.drop("_bad")
    frame = orders.frame.drop(PAID, strict=False)
    return frame.join(parsed, on=ROW, how="left", maintain_order="left")
