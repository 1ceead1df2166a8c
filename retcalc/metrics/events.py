"""What an order row means: a purchase, a return, and how much revenue it carries (SPEC §2).

The ``status`` column holds each row's meaning (``retcalc.meanings``), read once
by the readers from whatever the export calls it.

- A row is a *return row* when its quantity or amount is negative. A row whose
  meaning is pending, failed or cancelled is no sale at all. A line without a
  status takes the status of its order (Shopify writes it on the first line only).
- Every other row is a *purchase row* (refunded and returned rows included: the
  customer bought); only purchase days make a customer active, new or returning.
- Revenue of a row: a negative-quantity or negative-amount row carries
  ``-|amount|``; a pending, failed or cancelled row 0; a refunded or returned row
  without a refund figure 0 (given back whole); any other row
  ``amount - |refund_amount|``.
- A negative row that shares its ``order_id`` with a purchase counts on the
  date of that order (its first purchase day); otherwise on its own date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

import polars as pl

from retcalc.engines import Rows
from retcalc.kernels.words import sorted_days
from retcalc.meanings import NO_SALE, REFUNDED
from retcalc.metrics.money import event_micros

CUSTOMER = "customer_id"


def _col_or(frame: pl.LazyFrame, name: str, default: pl.Expr) -> pl.Expr:
    return pl.col(name) if name in frame.collect_schema() else default


def negative_line(columns: Collection[str]) -> pl.Expr:
    """True on a line with a negative quantity or amount (of those among ``columns``)."""
    negative = pl.lit(False)
    for name in ("quantity", "amount"):
        if name in columns:
            negative = negative | (pl.col(name) < 0).fill_null(False)
    return negative


def classify(orders: pl.LazyFrame, *, by_order: bool = True) -> pl.LazyFrame:
    """Add ``is_purchase`` (bool), ``revenue`` (float) and ``revenue_day`` (date) to canonical orders.

    Rows may come back in a different order. The two order-level steps (a line
    without a status takes its order's; a negative line counts on its order's
    day) join only the rows that need them, so data without such rows pays nothing.
    ``by_order=False`` leaves them out: on rows of which none needs its order
    (each has a status and is not negative, or has no order id) the result is the same.
    """
    schema = orders.collect_schema()
    null_f = pl.lit(None, dtype=pl.Float64)
    amount = _col_or(orders, "amount", null_f)
    refund = _col_or(orders, "refund_amount", null_f)
    has_orders = "order_id" in schema

    status = _col_or(orders, "status", pl.lit(None, dtype=pl.String))  # its meaning
    frame = orders.with_columns(
        negative_line(schema.names()).alias("_negative"),
        status.alias("_status"),
    )
    has_orders = has_orders and by_order
    if has_orders:
        # Collected here, once: the order-level steps below look at these rows several times.
        frame = frame.collect().lazy()
    if has_orders and "status" in schema:
        # Exports such as Shopify's put the order's status on its first line only:
        # a sale line without a status takes the status of its order's sale lines.
        frame = _fill_order_status(frame)
    no_sale = pl.col("_status").is_in(NO_SALE).fill_null(False)
    given_back = pl.col("_status").is_in(REFUNDED).fill_null(False)
    negative = pl.col("_negative")
    frame = frame.with_columns(
        (~negative & ~no_sale).alias("is_purchase"),
        pl.when(negative)
        .then(-amount.abs().fill_null(0.0))
        .when(no_sale | (given_back & refund.is_null()))
        .then(pl.lit(0.0))
        .otherwise(amount.fill_null(0.0) - refund.abs().fill_null(0.0))
        .alias("revenue"),
        pl.col("day").alias("revenue_day"),
    )
    if has_orders:
        frame = _returns_on_order_day(frame)
    return frame.drop("_negative", "_status")


def _split(frame: pl.LazyFrame, needs: pl.Expr) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.Series]:
    """Rows that need an order-level value, the others, and the order ids concerned."""
    part = frame.filter(needs)
    ids = part.select(pl.col("order_id").unique()).collect().to_series()
    return part, frame.filter(~needs), ids


def _fill_order_status(frame: pl.LazyFrame) -> pl.LazyFrame:
    needs = ~pl.col("_negative") & pl.col("_status").is_null() & pl.col("order_id").is_not_null()
    part, rest, ids = _split(frame, needs)
    if ids.len() == 0:
        return frame
    donors = (
        frame.filter(
            ~pl.col("_negative")
            & pl.col("_status").is_not_null()
            & pl.col("order_id").is_in(ids.implode())
        )
        .group_by("order_id")
        .agg(pl.col("_status").first().alias("_order_status"))
    )
    filled = (
        part.join(donors, on="order_id", how="left")
        .with_columns(pl.col("_order_status").alias("_status"))
        .drop("_order_status")
    )
    return pl.concat([rest, filled], how="vertical")


def _returns_on_order_day(frame: pl.LazyFrame) -> pl.LazyFrame:
    needs = pl.col("_negative") & pl.col("order_id").is_not_null()
    part, rest, ids = _split(frame, needs)
    if ids.len() == 0:
        return frame
    order_day = (
        frame.filter(pl.col("is_purchase") & pl.col("order_id").is_in(ids.implode()))
        .group_by("order_id")
        .agg(pl.col("day").min().alias("_order_day"))
    )
    moved = (
        part.join(order_day, on="order_id", how="left")
        .with_columns(pl.coalesce("_order_day", "day").alias("revenue_day"))
        .drop("_order_day")
    )
    return pl.concat([rest, moved], how="vertical")


def before(rows: Rows, as_of: dt.date | None) -> Rows:
    """The rows dated before ``as_of`` (SPEC §2: ``--as-of`` ignores events on or after it)."""
    return rows if as_of is None else rows.but(rows.frame.filter(pl.col("day") < as_of))


def events_of(rows: Rows, as_of: dt.date | None = None) -> pl.LazyFrame:
    """The classified rows of ``rows`` dated before ``as_of``: as they are when their
    reader classified them (a large input summed while read, the Spark engine), else
    :func:`classify`."""
    rows = before(rows, as_of)
    return rows.frame if rows.holds.classified else classify(rows.frame)


def purchase_days(events: pl.LazyFrame, keys: Sequence[str], *, keyed: bool) -> pl.LazyFrame:
    """Distinct ``(keys..., customer_id, day)`` of purchase rows, each customer's rows
    together and in day order (text ids: sorted by id; integer keys, ``keyed``: in key
    order)."""
    cols = [*keys, CUSTOMER]
    purchases = events.filter(pl.col("is_purchase")).select(*cols, "day")
    if not keys and keyed:
        return sorted_days(purchases.collect()).lazy()
    return purchases.unique().sort([*cols, "day"])


def revenue_lines(
    events: pl.LazyFrame, keys: Sequence[str], *, purchase: bool = False
) -> pl.LazyFrame:
    """``keys..., customer_id, day, micros`` of every row, on its revenue day: what
    ``daily_revenue`` sums, for a caller that sums further anyway (per period, per
    cohort cell) and so need not group by day first. ``purchase``: with the row's
    ``is_purchase`` too (a purchase's revenue day is its day)."""
    return events.select(
        *keys,
        CUSTOMER,
        pl.col("revenue_day").alias("day"),
        event_micros(events).alias("micros"),
        *(["is_purchase"] if purchase else []),
    )


def daily_revenue(events: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Net revenue per ``(keys..., customer_id, revenue_day)`` as integer ``micros``."""
    return (
        events.group_by([*keys, CUSTOMER, "revenue_day"])
        .agg(event_micros(events).sum().alias("micros"))
        .rename({"revenue_day": "day"})
    )


def first_values(rows: Rows, columns: Mapping[str, str]) -> pl.LazyFrame:
    """``customer_id`` and, for each ``key: column`` of ``columns``, the customer's value
    of ``column`` on their first purchase (``--by first:DIM``, SPEC §10): the value on the
    purchase rows of their earliest purchase day; when those rows differ, the smallest
    (text in character order, numbers by value); empty only when none of them has one.
    Customers without a purchase have no row."""
    events = events_of(rows).filter(pl.col("is_purchase"))
    first_day = events.group_by(CUSTOMER).agg(pl.col("day").min())
    return (
        events.join(first_day, on=[CUSTOMER, "day"], how="inner")
        .group_by(CUSTOMER)
        .agg(pl.col(column).min().alias(key) for key, column in columns.items())
    )
