"""What reading says: every check of the order and customer rows and its message, once.

Three readers read orders: :mod:`retcalc.io.frames` (in memory),
:mod:`retcalc.io.batched` (in batches, for large inputs) and
:mod:`retcalc.engines.spark.load` (Spark aggregations). Each counts what is wrong
its own way (a filter, a tally per batch, one aggregation) and hands the counts,
the first row and its value here for the words: so every reader says the same
sentence, and each sentence is written in one place.

The messages name the file, the column, the row (``where``: ``line 3``, ``row 2
(line 4)``, or :data:`NO_LINE` on Spark), what was expected and what to do (SPEC §5).
Functions whose name ends in ``_at`` take a :class:`~retcalc.io.load.Table` and a data
row, and read the value written there for the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from retcalc.errors import InputError, more_such

if TYPE_CHECKING:
    from retcalc.io.load import Table
    from retcalc.io.mapping import ColumnMap
    from retcalc.meanings import Census

#: Dates before this are typos (``0024-01-05``) or spreadsheet zero dates (``1899-12-30``).
EARLIEST = dt.date(1900, 1, 1)
#: How far after today (or ``--as-of``) a date may lie: a scheduled cancellation, not a typo.
AHEAD = dt.timedelta(days=366)
#: Float identifiers from this on cannot hold every digit (2**53).
EXACT_FLOAT = 2**53
#: The first amount (in absolute value) that a 64-bit float cannot hold to the unit
#: (2**53): the readers refuse the row (:func:`money_limits`). Sums of smaller amounts
#: are exact (``retcalc.metrics.money``).
LARGEST_AMOUNT = float(2**53)

#: Where a row is, on Spark (which reads no line numbers).
NO_LINE = "Spark does not tell line numbers"


def value_at(table: Table, row: int, source: str) -> Any:
    """The value of column ``source`` on data row ``row`` of ``table`` (for a message)."""
    from retcalc.io.load import ROW

    return table.frame.filter(pl.col(ROW) == row).select(source).collect().item()


def column_of(name: str, source: str, canonical: str) -> str:
    """``orders.csv: column 'Total' (amount)``: how a message names a column."""
    return f"{name}: column {source!r} ({canonical})"


# Values that cannot be read.

#: What a value of a numeric (Parquet) column should be.
FINITE_NUMBER = "a finite number"


def number_expected(*, native: bool, mark: str) -> str:
    """What a value of a number column should look like: ``native`` for a numeric
    (Parquet) column, else text read with the decimal ``mark`` (``.`` or ``,``)."""
    if native:
        return FINITE_NUMBER
    if mark == ".":
        return "a number such as 1234.50 or 1,234.50 (decimal point)"
    return "a number such as 1234,50 or 1.234,50 (decimal comma)"


def unreadable(
    name: str, source: str, canonical: str, where: str, value: Any, expected: str, count: int
) -> InputError:
    """The error for ``count`` values of ``source`` that cannot be read, the first
    ``value`` (at ``where``)."""
    return InputError(
        f"{column_of(name, source, canonical)}, {where}: "
        f"cannot read {value!r}; expected {expected}{more_such(count)}"
    )


def unreadable_at(
    table: Table, row: int, count: int, source: str, canonical: str, expected: str
) -> InputError:
    """:func:`unreadable`, the first on data row ``row`` of ``table``."""
    value = value_at(table, row, source)
    return unreadable(table.name, source, canonical, table.location(row), value, expected, count)


def mixed_marks(
    table: Table, source: str, canonical: str, point_row: int, comma_row: int
) -> InputError:
    """The error for a column with a decimal point on one row and a comma on another."""
    point, comma = value_at(table, point_row, source), value_at(table, comma_row, source)
    return InputError(
        f"{column_of(table.name, source, canonical)} mixes a decimal point ({point!r}, "
        f"{table.location(point_row)}) and a decimal comma ({comma!r}, "
        f"{table.location(comma_row)}); fix the column, or pass --decimal . or --decimal , "
        "to read every value one way"
    )


def ambiguous_mark(
    table: Table, source: str, canonical: str, row: int, value: Any, readings: tuple[float, float]
) -> InputError:
    """The error for a column whose values read either way (``readings``: with a point,
    with a comma), none telling which."""
    point, comma = readings
    return InputError(
        f"{column_of(table.name, source, canonical)}, {table.location(row)}: {value!r} could "
        f"be {point:.15g} (decimal point) or {comma:.15g} (decimal comma), and no value in the "
        "file tells which; pass --decimal . or --decimal ,"
    )


# Dates out of range.

#: What is wrong with a date after the latest it may have (:func:`date_limits`).
TOO_LATE = "is more than a year in the future; a typo? Fix or remove the row"
#: What is wrong with a date before :data:`EARLIEST`.
TOO_EARLY = "is before 1900; a typo? Fix or remove the row"


def date_limits(column: str, latest: dt.date) -> list[tuple[str, pl.Expr]]:
    """What is wrong with a date, and the condition that finds it, in the order checked."""
    return [
        (TOO_LATE, (pl.col(column) > latest).fill_null(False)),
        (TOO_EARLY, (pl.col(column) < EARLIEST).fill_null(False)),
    ]


def out_of_range(
    name: str, source: str, canonical: str, where: str, shown: str, label: str, count: int
) -> InputError:
    """The error for ``count`` dates out of range (``label``: :data:`TOO_LATE` or
    :data:`TOO_EARLY`), the first ``shown`` (the value quoted, or :func:`read_as`)."""
    return InputError(
        f"{column_of(name, source, canonical)}, {where}: {shown} {label}{more_such(count)}"
    )


def out_of_range_at(
    table: Table, row: int, count: int, source: str, canonical: str, label: str
) -> InputError:
    """:func:`out_of_range`, the first on data row ``row`` of ``table``."""
    shown = repr(value_at(table, row, source))
    return out_of_range(table.name, source, canonical, table.location(row), shown, label, count)


def read_as(day: Any) -> str:
    """A date out of range as the reader parsed it, where the text is not at hand."""
    return f"a date read as {day}"


# Lines, rows and what is left out.


def ragged(name: str, fields: int, count: int, where: str | None = None) -> InputError:
    """The error for ``count`` lines with more fields than the header's ``fields``, the
    first at ``where`` (None: a reader that does not know which line, Spark)."""
    line = f"{where} has" if where is not None else "a line has"
    told = "" if where is not None else f" ({NO_LINE})"
    return InputError(
        f"{name}: {line} more fields than the header's {fields}{told}, so its values would "
        "shift columns: a value with an unquoted separator (such as 1,234.50 in a "
        f"comma-separated file)? Quote such values or fix the line{more_such(count, 'lines')}"
    )


def no_rows(name: str, what: str) -> InputError:
    """The error for an input with a header and no rows (``what``: the rows expected)."""
    return InputError(f"{name}: has a header but no rows; expected {what} below it")


def no_order_rows(name: str) -> InputError:
    """The error for orders none of whose rows has both a customer and a date."""
    return InputError(f"{name}: has a header but no order rows with a customer and a date")


def no_customer_rows(name: str) -> InputError:
    """The error for customers none of whose rows has a customer id."""
    return InputError(f"{name}: has a header but no customer rows")


@dataclass(frozen=True)
class RowCounts:
    """The rows of an input: read (not blank; a repeated row dropped by ``--dedupe`` is
    read and dropped), used (handed to the metrics) and dropped, by reason (in the
    words of ``DROPPED_*`` below). read = used + sum(dropped)."""

    read: int
    used: int
    dropped: dict[str, int] = field(default_factory=dict)


#: Why rows of an input were dropped, as a run's manifest names them (the warnings above
#: and below say the same on stderr).
DROPPED_REPEATED = "repeated row (--dedupe)"
DROPPED_NO_DATE = "no order date"
DROPPED_NO_ID = "no customer id"
DROPPED_CURRENCY = "other currency (--currency)"


def row_counts(
    read: int,
    used: int,
    *,
    repeated: int = 0,
    no_date: int = 0,
    no_id: int = 0,
    currency: int = 0,
) -> RowCounts:
    """The rows read, used and dropped (only the reasons that dropped a row)."""
    reasons = {
        DROPPED_REPEATED: repeated,
        DROPPED_NO_DATE: no_date,
        DROPPED_NO_ID: no_id,
        DROPPED_CURRENCY: currency,
    }
    return RowCounts(read, used, {k: int(v) for k, v in reasons.items() if v})


def no_date_warning(name: str, rows: int, what: str = "order") -> str:
    """What to say of ``rows`` rows left out for want of a date (``what``: of what)."""
    return f"{name}: {rows} rows have no {what} date and were left out"


def no_customer_warning(name: str, rows: int) -> str:
    """What to say of ``rows`` rows left out for want of a customer."""
    return (
        f"{name}: {rows} rows have no customer id (empty, or a placeholder such as guest, "
        "n/a, - or unknown) and were left out"
    )


def repeat_warning(name: str, count: int, example: str | None, *, dedupe: bool) -> str:
    """What to say of ``count`` rows that repeat an earlier row exactly (``example``:
    where one is, when the reader knows): counted, or left out with ``dedupe``."""
    shown = f" ({example})" if example else ""
    if dedupe:
        what = "1 row that repeats" if count == 1 else f"{count} rows that repeat"
        return f"{name}: --dedupe left out {what} an earlier row exactly{shown}"
    what = "1 row repeats" if count == 1 else f"{count} rows repeat"
    return (
        f"{name}: {what} an earlier row exactly{shown}; they are counted as separate lines. "
        "If the same rows were exported twice, pass --dedupe"
    )


def repeat_example(table: Table, copy: int, original: int) -> str:
    """``e.g. line 4 repeats line 2``, for :func:`repeat_warning`."""
    return f"e.g. {table.location(copy)} repeats {table.location(original)}"


def empty_amount_said(
    table: Table, mapping: ColumnMap, row: int | None, count: int, *, strict: bool
) -> list[str]:
    """What to say of ``count`` rows whose amount holds no value, the first on data row
    ``row``: a warning, or with ``strict`` an error."""
    if not count or row is None:
        return []
    canonical = "amount" if "amount" in mapping else "unit_price"
    where = column_of(table.name, mapping.get(canonical) or "", canonical)
    if strict:
        raise InputError(
            f"{where}, {table.location(row)}: no value (empty, NaN, NULL or past the end of a short line){more_such(count)}; "
            "--strict refuses an amount that would count as 0. Fill it in or remove the row"
        )
    rows = "1 row has" if count == 1 else f"{count} rows have"
    return [
        f"{where}: {rows} no value (empty, NaN, NULL or past the end of a short line; the first on "
        f"{table.location(row)}), counted as 0. Fill them in or remove the rows; --strict "
        "refuses them"
    ]


# Money too large to read exactly.

#: What is wrong with an amount of :data:`LARGEST_AMOUNT` or more.
TOO_MUCH_MONEY = (
    f"is more than the {LARGEST_AMOUNT:,.0f} units that retcalc reads exactly in one row "
    "(a 64-bit float holds no larger whole number exactly); a typo? Fix or remove the row"
)

#: The money columns whose amounts :func:`money_limits` checks.
MONEY_COLUMNS = ("amount", "refund_amount")


def money_limits(names: Sequence[str]) -> list[tuple[str, pl.Expr]]:
    """Per money column among ``names``: the condition that finds an amount too large
    to read exactly (sums of smaller amounts are exact: ``money.MICROS``)."""
    return [
        (c, (pl.col(c).abs() >= LARGEST_AMOUNT).fill_null(False))
        for c in MONEY_COLUMNS
        if c in names
    ]


def money_refused(
    table: Table,
    mapping: ColumnMap,
    canonical: str,
    count: int,
    *,
    row: int | None = None,
    value: float | None = None,
) -> InputError:
    """The error for ``count`` amounts of ``canonical`` beyond :func:`money_limits`, the
    first on data row ``row`` (or, where the row is not known, of size ``value``)."""
    source = mapping.get(canonical) or mapping.get("unit_price") or canonical
    if row is not None:
        where = f", {table.location(row)}: {value_at(table, row, source)!r}"
    else:
        where = f": an amount of {value or 0:,.0f}"
    return InputError(
        f"{column_of(table.name, source, canonical)}{where} {TOO_MUCH_MONEY}{more_such(count)}"
    )


# Statuses.


def unknown_statuses(found: Census, *, name: str, column: str, strict: bool) -> list[str]:
    """The warning about statuses no table knows (an error with ``strict``)."""
    from retcalc.meanings import DESCRIPTIONS, normal_word

    unknown = sorted(found.unknown(), key=lambda item: (-item[1], item[0]))
    if not unknown:
        return []
    listed = ", ".join(
        f"{raw!r} ({count} row{'s' if count != 1 else ''})" for raw, count in unknown[:8]
    )
    if len(unknown) > 8:
        listed += f" and {len(unknown) - 8} more"
    example = normal_word(unknown[0][0]) or unknown[0][0]
    how = (
        f"map each to a meaning ({', '.join(DESCRIPTIONS)}) with "
        f"--status-map '{example}=MEANING' or 'statuses:' in retcalc.yaml"
    )
    unknown_values = (
        f"{column_of(name, column, 'status')} has values retcalc does not know: {listed}"
    )
    if strict:
        raise InputError(f"{unknown_values}; {how} (--strict refuses unknown statuses)")
    return [f"{unknown_values}; counted as paid (a sale). If that is wrong, {how}"]


# Warnings about the header and the ids.


def twin_header_warning(name: str, source: str, canonical: str) -> str:
    """What to say of a mapped header ``source`` that appears more than once."""
    return (
        f"{name}: column {source!r} appears more than once in the header; "
        f"the first is used for {canonical}"
    )


def float_ids_warning(name: str, source: str, big: int) -> str:
    """What to say of ``big`` float customer ids of :data:`EXACT_FLOAT` or more."""
    return (
        f"{name}: column {source!r} stores customer ids as floating-point numbers and "
        f"{big} of them reach 2^53, where a float cannot hold every digit; distinct ids "
        "may have merged. Store ids as text or integers"
    )


def crowded_warning(name: str, top: Mapping[str, Any], share: float, total: int) -> str:
    """What to say of a customer id (``top``: its ``id`` and rows, ``len``) that holds
    ``share`` of the first ``total`` rows."""
    return (
        f"{name}: customer id {top['id']!r} holds {share:.0%} of the rows "
        f"({top['len']} of the first {total}), far more than any one person would: a "
        "stand-in for guest checkouts? Its rows count as one customer; if they are not, "
        "remove them or give them real ids"
    )


def unicode_forms_warning(name: str, merged: int, example: str) -> str:
    """What to say of ``merged`` customer ids written in more than one Unicode form
    (``example``: two forms of one, quoted)."""
    ids = "1 customer id was" if merged == 1 else f"{merged} customer ids were"
    return (
        f"{name}: {ids} written in more than one Unicode form (e.g. {example}); each is "
        "read as one customer (ids are compared in Unicode NFKC form, without zero-width "
        "characters)"
    )


def order_total_warning(name: str, source: str, orders: int) -> str:
    """What to say of an amount column ``source`` read as each order's total, repeated
    on the lines of ``orders`` orders of several lines."""
    return (
        f"{name}: column {source!r} (amount) is the same on every line of each of "
        f"the {orders} orders of several lines in the first rows: read as the "
        "order's total repeated on its lines, and counted once per order (on its first "
        "line). If each line carries its own value, pass --amount-level line"
    )
