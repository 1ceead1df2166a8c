"""Reading a separate returns export (SPEC §1, "Returns"): one row per returned line.

Canonical columns: ``order_id`` (or ``customer_id``), ``return_date``, ``quantity``,
``amount`` and, optionally, ``product_id``. Headers are matched by the YAML
config's ``returns:`` section, then by case- and punctuation-insensitive
synonyms (``Return Date``, ``returned_at``, ``refund_date``, ``qty``,
``refund_amount``...). Quantities and amounts are read as magnitudes: a returns
export that writes them as negative numbers means the same thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from retcalc.errors import InputError, UsageError
from retcalc.io import dates
from retcalc.io.checks import AHEAD, no_date_warning
from retcalc.io.frames import (
    _first_bad,
    _Numbers,
    check_date_range,
    clean_id,
    date_with_presence,
    read_rows,
)
from retcalc.io.load import Table, open_table
from retcalc.io.mapping import suggest
from retcalc.io.numbers import DecimalMark
from retcalc.schema import normalize

#: canonical column -> synonyms, in priority order (compared after ``normalize``).
RETURN_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": (
        "order_id",
        "orderid",
        "order_no",
        "order_number",
        "original_order_id",
        "original_order",
        "invoice_no",
        "invoiceno",
        "invoice",
        "invoice_id",
        "transaction_id",
        "receipt_id",
    ),
    "customer_id": (
        "customer_id",
        "customerid",
        "customer",
        "cust_id",
        "client_id",
        "user_id",
        "account_id",
        "buyer_id",
        "email",
        "customer_email",
    ),
    "return_date": (
        "return_date",
        "returned_at",
        "returned_on",
        "returned_date",
        "date_returned",
        "refund_date",
        "refunded_at",
        "refunded_on",
        "refund_created_at",
        "return_created_at",
        "created_at",
        "date",
    ),
    "quantity": (
        "quantity",
        "qty",
        "returned_quantity",
        "return_quantity",
        "quantity_returned",
        "qty_returned",
        "returned_units",
        "units",
    ),
    "amount": (
        "amount",
        "refund_amount",
        "refunded_amount",
        "amount_refunded",
        "refund",
        "refund_total",
        "return_amount",
        "returned_amount",
        "total",
        "value",
    ),
    "product_id": (
        "product_id",
        "productid",
        "sku",
        "stock_code",
        "stockcode",
        "product",
        "item_id",
    ),
}


@dataclass
class LoadedReturns:
    """The canonical returns frame and what was learnt while reading it."""

    table: Table
    columns: dict[str, str]  # canonical -> source header
    frame: pl.DataFrame  # order_id?, customer_id?, day, quantity, amount, product_id?
    date_format: dates.DateFormat
    warnings: list[str]

    @property
    def name(self) -> str:
        return self.table.name


def _config_section(config: Mapping[str, Any]) -> dict[str, str]:
    section: Any = config.get("returns", {})
    if isinstance(section, dict) and "columns" in section:
        section = section["columns"]
    if not isinstance(section, dict):
        raise UsageError("config: 'returns' must map canonical names to column names")
    for key in section:
        if key not in RETURN_COLUMNS:
            raise UsageError(
                f"config: 'returns.{key}' is not a returns column; known: {', '.join(RETURN_COLUMNS)}"
            )
    return {str(k): str(v) for k, v in section.items() if v is not None}


def resolve_returns(
    headers: Sequence[str], *, name: str, config: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Map each canonical returns column to one of ``headers`` (config first, then synonyms)."""
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(normalize(header), header)
    wanted = _config_section(config or {})
    found: dict[str, str] = {}
    used: set[str] = set()
    for canonical, synonyms in RETURN_COLUMNS.items():
        if canonical in wanted:
            chosen = (
                wanted[canonical]
                if wanted[canonical] in headers
                else by_norm.get(normalize(wanted[canonical]))
            )
            if chosen is None:
                raise InputError(
                    f"{name}: no column {wanted[canonical]!r} (config maps returns.{canonical} to it)"
                    f"{suggest(wanted[canonical], headers)}"
                )
            found[canonical] = chosen
            used.add(chosen)
            continue
        for synonym in synonyms:
            candidate = by_norm.get(normalize(synonym))
            if candidate is not None and candidate not in used:
                found[canonical] = candidate
                used.add(candidate)
                break
    return found


def load_returns(
    spec: str,
    *,
    config: Mapping[str, Any] | None = None,
    date_style: dates.Style | None = None,
    encoding: str = "utf8",
    dimensions: Sequence[str] = (),
    table: Table | None = None,
    tz: str | None = None,
    decimal: DecimalMark | None = None,
    dedupe: bool = False,
    latest: dt.date | None = None,
) -> LoadedReturns:
    """Read a returns file into ``order_id, customer_id, day, quantity, amount, product_id``.

    ``quantity`` and ``amount`` are absolute values; a missing ``quantity`` column
    counts each row as one unit. Other ``dimensions`` are kept when the file has them.
    Numbers, dates, repeated rows and ragged lines are read as for the orders.
    """
    table = table or open_table(spec, encoding=encoding)
    found = resolve_returns(table.columns, name=table.name, config=config)
    headers = ", ".join(table.columns)
    if "return_date" not in found:
        raise InputError(
            f"{table.name}: no return_date column found{suggest('return_date', table.columns)}; "
            f"columns are: {headers}. Name it in retcalc.yaml (returns: {{return_date: ...}})"
        )
    if "order_id" not in found and "customer_id" not in found:
        raise InputError(
            f"{table.name}: a returns file needs an order_id column (or at least customer_id) to "
            f"match returns to orders; columns are: {headers}"
        )
    if "quantity" not in found and "amount" not in found:
        raise InputError(
            f"{table.name}: a returns file needs a quantity or an amount column "
            f"(e.g. qty, refund_amount); columns are: {headers}"
        )
    source = found["return_date"]
    fmt = (
        dates.DateFormat(date_style, "--date-format")
        if date_style is not None
        else dates.detect_style(
            table.frame, source, where=f"{table.name}: column {source!r} (return_date)"
        )
    )
    columns: list[pl.Expr] = date_with_presence(table, "day", source, fmt, tz)
    for canonical in ("order_id", "customer_id", "product_id"):
        if canonical in found:
            columns.append(clean_id(pl.col(found[canonical])).alias(canonical))
    number_columns = _Numbers(
        table, {c: found[c] for c in ("quantity", "amount") if c in found}, decimal
    )
    columns += number_columns.exprs()
    for dim in dimensions:
        if dim not in found and dim in table.columns and dim not in ("order_id", "customer_id"):
            columns.append(pl.col(dim).cast(pl.String).str.strip_chars().alias(dim))

    frame, warnings, _ = read_rows(table, columns, dedupe=dedupe)
    warnings = [*table.warnings, *warnings]
    _first_bad(table, frame, "_bad_day", source, "return_date", dates.EXPECTED)
    frame = frame.drop("_bad_day")
    check_date_range(table, frame, "day", source, "return_date", latest or dt.date.today() + AHEAD)
    frame = number_columns.finish(frame).with_columns(
        [pl.col(c).abs() for c in ("quantity", "amount") if c in found]
    )
    if "quantity" not in frame.columns:
        frame = frame.with_columns(pl.lit(1.0).alias("quantity"))
    if "amount" not in frame.columns:
        warnings.append(
            f"{table.name}: no amount column, so its returns add units but no refunded money"
        )
        frame = frame.with_columns(pl.lit(0.0).alias("amount"))
    missing_date = frame.filter(pl.col("day").is_null()).height
    if missing_date:
        warnings.append(no_date_warning(table.name, missing_date, "return"))
    frame = frame.filter(pl.col("day").is_not_null())
    return LoadedReturns(table, found, frame, fmt, warnings)
