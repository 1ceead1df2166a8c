"""What Spark runs on each batch of rows: retcalc's own Polars code, not a second copy.

Spark hands these functions Arrow batches (``mapInArrow``); each batch becomes
a Polars frame and goes through the very expressions the Polars engine uses:

- :func:`canonical_rows`: raw rows to canonical order rows with
  ``retcalc.io.frames.clean_id``, ``frames.date_with_presence`` (``retcalc.io.dates``),
  ``retcalc.io.numbers.readings``/``native`` and the same status and dimension
  cleaning as ``frames.load_orders``, plus a flag per unreadable value;
- :func:`reduce_partition`: ``retcalc.metrics.events.classify`` on a partition that
  holds every line of each of its orders (classify only ever looks across the
  lines of one order, so per-partition results equal whole-frame results), then
  the sums the metrics need, in the integer micros of ``events.daily_revenue``.

This module imports no pyspark: it is tested with Polars alone, and Spark's
Python workers import it from the installed ``retcalc``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import polars as pl

from retcalc.engines import Level
from retcalc.io import currency, dates, numbers
from retcalc.io.frames import (
    ADJUSTED,
    cleaned_id,
    date_with_presence,
    refund_from_adjusted,
    status_expr,
    with_date_flags,
)
from retcalc.metrics.events import CUSTOMER, classify
from retcalc.metrics.money import MICROS, to_micros

#: Hidden columns the Spark reader adds: the file a row came from and a row id
#: that increases in file order within a file.
FILE = "_retcalc_file"
ID = "_retcalc_id"
#: A row without an order id is an order of its own: this id keeps it apart.
SOLO = "_retcalc_solo"
#: Column of the canonical rows with ``--currency``: true on a row in that currency.
IN_CURRENCY = "_retcalc_in_currency"
NUMBER_COLUMNS = (
    "amount",
    "quantity",
    "unit_price",
    "refund_amount",
    "returned_quantity",
    *ADJUSTED,
)


@dataclass(frozen=True)
class NumberSpec:
    canonical: str
    source: str
    native: bool  # a numeric (Parquet) column
    mark: str  # "." or ","; chosen on the driver


@dataclass(frozen=True)
class Plan:
    """How raw rows become canonical order rows, decided on the driver (see ``load``)."""

    raw_columns: tuple[str, ...]
    extras: tuple[str, ...]
    customer: str
    day: str
    day_style: dates.Style
    tz: str | None
    numbers: tuple[NumberSpec, ...]
    order_id: str | None
    status: str | None
    dims: tuple[tuple[str, str], ...]  # (name, source)
    status_values: tuple[tuple[str, str | None], ...] = ()  # raw status -> meaning
    captured: str | None = None
    with_file: bool = False  # pass FILE through (only the line-level path needs file order)
    money: currency.MoneyPlan = field(default_factory=currency.MoneyPlan)  # --currency, --fx

    @property
    def has_amount(self) -> bool:
        names = {n.canonical for n in self.numbers}
        return "amount" in names or {"unit_price", "quantity"} <= names

    @property
    def refund_derived(self) -> bool:
        """The refund comes from the totals before and after (see ``refund_from_adjusted``)."""
        return set(ADJUSTED) <= {n.canonical for n in self.numbers}

    def canonical_columns(self) -> list[str]:
        """The canonical columns, in the order ``frames.load_orders`` gives them."""
        out = [CUSTOMER, "day"]
        out += [n.canonical for n in self.numbers if n.canonical != "unit_price"]
        if self.has_amount and "amount" not in out:
            out.append("amount")
        if self.refund_derived and "refund_amount" not in out:
            out.append("refund_amount")
        if self.order_id is not None:
            out.append("order_id")
        if self.status is not None or self.captured is not None:
            out.append("status")
        out += [name for name, _ in self.dims]
        return out

    def output_schema(self) -> dict[str, pl.DataType]:
        """Polars types of :func:`canonical_rows`' columns."""
        schema: dict[str, pl.DataType] = {CUSTOMER: pl.String(), "day": pl.Date()}
        for n in self.numbers:
            schema[n.canonical] = pl.Float64()
        if self.has_amount:
            schema["amount"] = pl.Float64()
        if self.refund_derived:
            schema["refund_amount"] = pl.Float64()
        if self.order_id is not None:
            schema["order_id"] = pl.String()
        if self.status is not None or self.captured is not None:
            schema["status"] = pl.String()
        for name, _ in self.dims:
            schema[name] = pl.String()
        if self.with_file:
            schema[FILE] = pl.String()
        schema[ID] = pl.Int64()
        if self.money.keep is not None:
            schema[IN_CURRENCY] = pl.Boolean()
        schema.update({"_blank": pl.Boolean(), "_ragged": pl.Boolean()})
        for canonical in ["day", *(n.canonical for n in self.numbers)]:
            schema[f"_bad_{canonical}"] = pl.Boolean()
            schema[f"_raw_{canonical}"] = pl.String()
        return schema


def _raw_text(raw: pl.Expr, bad: pl.Expr) -> pl.Expr:
    """The value as written, only where it is unreadable (for the error message)."""
    return pl.when(bad).then(raw.cast(pl.String)).otherwise(None)


def canonical_rows(raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
    """Canonical order rows of one batch, with ``_bad_*`` flags and the raw bad values.

    The expressions are those of ``frames.load_orders``; rows are neither
    dropped nor reordered here (the caller filters blank rows and rows without
    a customer or a date once every check has passed).
    """
    table = SimpleNamespace(frame=raw.lazy())  # the date's parse reads its type from it
    exprs: list[pl.Expr] = [
        cleaned_id(pl.col(plan.customer)).alias(CUSTOMER),
        *date_with_presence(
            table,  # type: ignore[arg-type]
            "day",
            plan.day,
            dates.DateFormat(plan.day_style, ""),
            plan.tz,
        ),
    ]
    for n in plan.numbers:
        col = pl.col(n.source)
        if n.native:
            value = numbers.native(col, raw.schema[n.source])
            bad = value.is_infinite().fill_null(False)
            exprs += [value.alias(n.canonical), bad.alias(f"_bad_{n.canonical}")]
            exprs.append(_raw_text(col, bad).alias(f"_raw_{n.canonical}"))
    if plan.order_id is not None:
        exprs.append(cleaned_id(pl.col(plan.order_id)).alias("order_id"))
    status = status_expr(plan.status, dict(plan.status_values), plan.captured)
    if status is not None:
        exprs.append(status.alias("status"))
    exprs += plan.money.columns()
    for name, source in plan.dims:
        if name == "currency" and plan.money.source is not None:
            exprs.append(plan.money.dimension())
            continue
        exprs.append(pl.col(source).cast(pl.String).str.strip_chars().alias(name))
    raw_cols = [pl.col(c) for c in plan.raw_columns]
    exprs.append(pl.all_horizontal(c.is_null() for c in raw_cols).alias("_blank"))
    if plan.extras:
        ragged = pl.any_horizontal(
            (pl.col(e).cast(pl.String).str.strip_chars() != "").fill_null(False)
            for e in plan.extras
        )
    else:
        ragged = pl.lit(False)
    exprs.append(ragged.alias("_ragged"))
    exprs += [pl.col(FILE), pl.col(ID)] if plan.with_file else [pl.col(ID)]
    frame = with_date_flags(raw.select(exprs)).with_columns(
        _raw_text(pl.lit(raw[plan.day]), pl.col("_bad_day")).alias("_raw_day")
    )
    for n in plan.numbers:
        if n.native:
            continue
        text = raw[n.source].cast(pl.String)
        both = numbers.readings(text)
        chosen = both["point" if n.mark == "." else "comma"]
        missing = text.to_frame("t").select(numbers.is_missing(pl.col("t")))["t"]
        frame = frame.with_columns(
            pl.when(missing).then(None).otherwise(chosen).alias(n.canonical),
            (~missing & chosen.is_null()).alias(f"_bad_{n.canonical}"),
        ).with_columns(
            _raw_text(pl.lit(text), pl.col(f"_bad_{n.canonical}")).alias(f"_raw_{n.canonical}")
        )
    frame = refund_from_adjusted(plan.money.convert(frame))
    in_currency = plan.money.kept()
    if in_currency is not None:
        frame = frame.with_columns(in_currency.alias(IN_CURRENCY))
    if "amount" not in {n.canonical for n in plan.numbers} and plan.has_amount:
        frame = frame.with_columns((pl.col("unit_price") * pl.col("quantity")).alias("amount"))
    schema = plan.output_schema()
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def census_batches(
    batches: Iterable[Any], source: str, customer: str, amount: str | None
) -> Iterator[Any]:
    """``mapInArrow`` body: each batch's rows per currency (``currency.census_rows``)."""
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        found = currency.code(pl.col(source))
        part = currency.census_rows(frame, found, customer, amount, row=ID)
        yield from part.with_columns(pl.col("n").cast(pl.Int64)).to_arrow().to_batches()


def canonical_batches(batches: Iterable[Any], plan: Plan) -> Iterator[Any]:
    """``mapInArrow`` body: Arrow batches in, canonical Arrow batches out."""
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield from canonical_rows(frame, plan).to_arrow().to_batches()


# Classifying and reducing.


def reduce_keys(level: Level, keys: Sequence[str], has_order_id: bool) -> list[str]:
    """The group of a reduced row (see :class:`retcalc.engines.Level`)."""
    group = [*keys, CUSTOMER, "day", "revenue_day", "is_purchase"]
    if level is Level.orders:
        group += ["order_id", SOLO] if has_order_id else [SOLO]
    return group


def reduce_partition(
    frame: pl.DataFrame, level: Level, keys: Sequence[str], *, has_amount: bool
) -> pl.DataFrame:
    """Classify canonical rows (every line of each order present) and sum them per group.

    ``micros`` is the row's revenue in integer millionths, rounded per row as
    ``events.daily_revenue`` does, so that sums of sums equal the Polars sums.
    """
    has_order_id = "order_id" in frame.columns
    events = classify(frame.sort(ID).lazy()).collect()
    solo = pl.col(ID)
    if has_order_id:
        solo = pl.when(pl.col("order_id").is_null()).then(pl.col(ID)).otherwise(None)
    events = events.with_columns(
        to_micros(pl.col("revenue")).alias("micros"),
        solo.cast(pl.Int64).alias(SOLO),
    )
    group = reduce_keys(level, keys, has_order_id)
    sums = [pl.col("micros").sum()]
    if has_amount:
        sums.append(pl.col("amount").sum().alias("amount"))
    # Arrow (and so Spark) has no 128-bit integer: micros travel as decimal(38, 0).
    return events.group_by(group).agg(sums).with_columns(pl.col("micros").cast(pl.Decimal(38, 0)))


def reduce_batches(
    batches: Iterable[Any], level: Level, keys: Sequence[str], *, has_amount: bool
) -> Iterator[Any]:
    """``mapInArrow`` body over a whole partition (orders are never split across partitions)."""
    import pyarrow as pa

    parts = list(batches)
    if not parts:
        return
    table = pa.Table.from_batches(parts)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return
    yield from reduce_partition(frame, level, keys, has_amount=has_amount).to_arrow().to_batches()


def events_frame(reduced: pl.DataFrame, level: Level) -> pl.DataFrame:
    """The driver's view of the reduced rows: classified events the metrics accept as they are.

    ``micros`` is the group's revenue (the metrics read it, ``money.event_micros``),
    ``revenue`` the same as a float.
    """
    out = reduced.with_columns((pl.col("micros") / MICROS).alias("revenue"))
    if SOLO in out.columns:
        out = out.drop(SOLO)
    return out
