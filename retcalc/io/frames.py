"""Turning an opened table into retcalc's canonical orders and customers frames.

Every value is parsed here, once; an unreadable value stops the run with a
message naming the file, the column, the line and the value (SPEC §5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from retcalc.errors import InputError
from retcalc.io import dates
from retcalc.io.load import ROW, Table, open_table
from retcalc.io.mapping import EXPORTS, ColumnMap, config_columns, require, resolve
from retcalc.schema import Kind


@dataclass(frozen=True)
class LoadOptions:
    """How to read inputs: column flags per kind, config, date format, encoding, export."""

    order_flags: Mapping[str, str | None] = field(default_factory=dict)
    customer_flags: Mapping[str, str | None] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    date_style: dates.DateStyle | None = None
    encoding: str = "utf8"
    source: str | None = None


@dataclass
class Loaded:
    """A canonical frame and what was learnt while reading it."""

    table: Table
    mapping: ColumnMap
    frame: pl.DataFrame
    date_formats: dict[str, dates.DateFormat]
    warnings: list[str]

    @property
    def name(self) -> str:
        return self.table.name


def clean_number(raw: pl.Expr) -> pl.Expr:
    """Text such as ``$1,234.50``, `` -9 `` or ``-$0.95`` as a float; null where unreadable."""
    text = raw.cast(pl.String).str.replace_all(r"[\s$€£¥]", "")
    grouped = text.str.contains(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
    text = pl.when(grouped).then(text.str.replace_all(",", "")).otherwise(text)
    return text.cast(pl.Float64, strict=False)


def clean_id(raw: pl.Expr) -> pl.Expr:
    """An identifier as text: trimmed, without Shopify's leading apostrophe or a float's ``.0``."""
    text = raw.cast(pl.String).str.strip_chars().str.strip_prefix("'")
    text = text.str.replace(r"^(\d+)\.0+$", "${1}")
    return pl.when(text == "").then(None).otherwise(text)


def _present(raw: pl.Expr) -> pl.Expr:
    return raw.is_not_null() & (raw.cast(pl.String).str.strip_chars() != "")


def _first_bad(
    table: Table, frame: pl.DataFrame, flag: str, source: str, canonical: str, expected: str
) -> None:
    bad = frame.filter(pl.col(flag)).select(ROW).head(1)
    if bad.height == 0:
        return
    row = int(bad.item())
    count = int(frame[flag].sum())
    value = table.frame.filter(pl.col(ROW) == row).select(source).collect().item()
    more = f" ({count - 1} more such rows)" if count > 1 else ""
    raise InputError(
        f"{table.name}: column {source!r} ({canonical}), {table.location(row)}: "
        f"cannot read {value!r}; expected {expected}{more}"
    )


def _date_columns(
    table: Table, mapping: ColumnMap, names: Sequence[str], style: dates.DateStyle | None
) -> dict[str, dates.DateFormat]:
    found: dict[str, dates.DateFormat] = {}
    export = next((e for e in EXPORTS if e.name == mapping.export), None)
    reason = "--date-format"
    if style is None and export is not None and export.date_order is not None:
        style = dates.style_from_flag(export.date_order)
        reason = f"{export.name} exports write dates {export.date_order}"
    for canonical in names:
        source = mapping.get(canonical)
        if source is None:
            continue
        if style is not None:
            found[canonical] = dates.DateFormat(style, reason)
        else:
            found[canonical] = dates.detect_style(
                table.frame,
                source,
                where=f"{table.name}: column {source!r} ({canonical})",
                optional=canonical != "order_date",
            )
    return found


def load_orders(
    spec: str,
    options: LoadOptions,
    *,
    need_amount: bool = False,
    dimensions: Sequence[str] = (),
    table: Table | None = None,
) -> Loaded:
    """Read orders into ``customer_id, day, amount, refund_amount, quantity, order_id, status, dims``."""
    table = table or open_table(spec, encoding=options.encoding)
    mapping = resolve(
        table.columns,
        Kind.orders,
        name=table.name,
        flags=options.order_flags,
        config=config_columns(options.config, Kind.orders),
        source=options.source,
    )
    require(mapping, ["customer_id", "order_date"], table.columns, name=table.name)
    has_amount = "amount" in mapping or ("unit_price" in mapping and "quantity" in mapping)
    if need_amount and not has_amount:
        require(mapping, ["amount"], table.columns, name=table.name)
    formats = _date_columns(table, mapping, ["order_date"], options.date_style)
    warnings: list[str] = []

    def src(canonical: str) -> pl.Expr:
        return pl.col(mapping.get(canonical))  # type: ignore[arg-type]

    columns: list[pl.Expr] = [
        pl.col(ROW),
        clean_id(src("customer_id")).alias("customer_id"),
        dates.parse_expr(src("order_date"), formats["order_date"].style).alias("day"),
    ]
    checks: list[tuple[str, str, str, str]] = []  # flag column, source, canonical, expected
    date_flag = "_bad_order_date"
    columns.append(
        (
            _present(src("order_date"))
            & dates.parse_expr(src("order_date"), formats["order_date"].style).is_null()
        ).alias(date_flag)
    )
    checks.append((date_flag, mapping.get("order_date") or "", "order_date", dates.EXPECTED))

    numeric = ["amount", "quantity", "unit_price", "refund_amount", "returned_quantity"]
    for canonical in numeric:
        if canonical not in mapping:
            continue
        columns.append(clean_number(src(canonical)).alias(canonical))
        flag = f"_bad_{canonical}"
        columns.append(
            (_present(src(canonical)) & clean_number(src(canonical)).is_null()).alias(flag)
        )
        checks.append((flag, mapping.get(canonical) or "", canonical, "a number such as 12.50"))
    if "order_id" in mapping:
        columns.append(clean_id(src("order_id")).alias("order_id"))
    if "status" in mapping:
        columns.append(
            src("status").cast(pl.String).str.strip_chars().str.to_lowercase().alias("status")
        )
    for dim in dimensions:
        if dim == "customer_id":
            continue  # already there
        if dim in mapping:
            columns.append(src(dim).cast(pl.String).str.strip_chars().alias(dim))
        elif dim in table.columns:
            columns.append(pl.col(dim).cast(pl.String).str.strip_chars().alias(dim))

    frame = table.frame.select(columns).collect()
    for flag, source, canonical, expected in checks:
        _first_bad(table, frame, flag, source, canonical, expected)
    frame = frame.drop([c for c in frame.columns if c.startswith("_bad_")])

    missing_date = frame.filter(pl.col("day").is_null()).height
    if missing_date:
        warnings.append(f"{table.name}: {missing_date} rows have no order date and were left out")
    missing_id = frame.filter(pl.col("customer_id").is_null() & pl.col("day").is_not_null()).height
    if missing_id:
        warnings.append(f"{table.name}: {missing_id} rows have no customer id and were left out")
    frame = frame.filter(pl.col("customer_id").is_not_null() & pl.col("day").is_not_null())
    if (
        "amount" not in frame.columns
        and "unit_price" in frame.columns
        and "quantity" in frame.columns
    ):
        frame = frame.with_columns((pl.col("unit_price") * pl.col("quantity")).alias("amount"))
    if "unit_price" in frame.columns:
        frame = frame.drop("unit_price")
    if frame.height == 0:
        raise InputError(f"{table.name}: has a header but no order rows with a customer and a date")
    return Loaded(table, mapping, frame, formats, warnings)


def load_customers(spec: str, options: LoadOptions, *, table: Table | None = None) -> Loaded:
    """Read customers into ``customer_id, signup_date, churn_date, segment, cost_to_serve``."""
    table = table or open_table(spec, encoding=options.encoding)
    mapping = resolve(
        table.columns,
        Kind.customers,
        name=table.name,
        flags=options.customer_flags,
        config=config_columns(options.config, Kind.customers),
    )
    require(mapping, ["customer_id"], table.columns, name=table.name)
    formats = _date_columns(table, mapping, ["signup_date", "churn_date"], options.date_style)

    def src(canonical: str) -> pl.Expr:
        return pl.col(mapping.get(canonical))  # type: ignore[arg-type]

    columns: list[pl.Expr] = [pl.col(ROW), clean_id(src("customer_id")).alias("customer_id")]
    checks: list[tuple[str, str, str, str]] = []
    for canonical, fmt in formats.items():
        parsed = dates.parse_expr(src(canonical), fmt.style)
        columns.append(parsed.alias(canonical))
        columns.append((_present(src(canonical)) & parsed.is_null()).alias(f"_bad_{canonical}"))
        checks.append(
            (f"_bad_{canonical}", mapping.get(canonical) or "", canonical, dates.EXPECTED)
        )
    if "segment" in mapping:
        columns.append(src("segment").cast(pl.String).str.strip_chars().alias("segment"))
    if "cost_to_serve" in mapping:
        columns.append(clean_number(src("cost_to_serve")).alias("cost_to_serve"))
        columns.append(
            (_present(src("cost_to_serve")) & clean_number(src("cost_to_serve")).is_null()).alias(
                "_bad_cost_to_serve"
            )
        )
        checks.append(
            ("_bad_cost_to_serve", mapping.get("cost_to_serve") or "", "cost_to_serve", "a number")
        )
    frame = table.frame.select(columns).collect()
    for flag, source, canonical, expected in checks:
        _first_bad(table, frame, flag, source, canonical, expected)
    frame = frame.drop([c for c in frame.columns if c.startswith("_bad_")])
    warnings: list[str] = []
    missing_id = frame.filter(pl.col("customer_id").is_null()).height
    if missing_id:
        warnings.append(f"{table.name}: {missing_id} rows have no customer id and were left out")
    frame = frame.filter(pl.col("customer_id").is_not_null())
    if frame.height == 0:
        raise InputError(f"{table.name}: has a header but no customer rows")
    return Loaded(table, mapping, frame, formats, warnings)


def input_paths(*tables: Table | None) -> list[Path]:
    """Resolved paths of the inputs, for refusing to overwrite them."""
    return [f.resolve() for t in tables if t is not None for f in t.files]
