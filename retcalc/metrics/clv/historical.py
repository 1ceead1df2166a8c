"""Historical customer value (SPEC §2.7): what each customer has bought so far.

Per customer (per ``--by`` group, each group its own data set as in the
retention table):

- ``orders`` = distinct ``order_id`` of their purchase rows (a purchase row
  without an order id is one order; without an ``order_id`` column every
  purchase row is one order);
- ``revenue`` = net revenue (returns netted, ``events.classify``) dated in range;
- ``aov`` = revenue / orders;
- ``first_order``, ``last_order`` = their first and last purchase day;
- ``tenure_days`` = last_order − first_order.

Per group: ``customers``, ``orders``, ``revenue``, ``aov`` = revenue / orders,
``orders_per_customer``, ``revenue_per_customer`` (the historical CLV) and
``mean_tenure_days``.

The group table is a kernel and a merge (SPEC §8): :func:`historical_counts` gives, for
the rows of a set of whole customers, additive sums per group (:data:`SUM_COLUMNS`:
customers, orders, revenue in integer micros, tenure days); :func:`finish_historical`
turns the sums of any number of such sets into the table. :func:`summary` is the merge
of one set holding every customer, so the Spark engine (the kernel on each executor's
customers, ``retcalc.engines.spark.clv_remote``) and Polars agree by construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from retcalc.engines import Rows, as_rows
from retcalc.errors import InputError
from retcalc.kernels.keys import encode_orders, keyed_lines, with_ids
from retcalc.kernels.parts import in_parts, parts_for
from retcalc.metrics.common import ratio
from retcalc.metrics.events import CUSTOMER, before, events_of
from retcalc.metrics.money import event_micros, money, to_micros

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "orders",
    "revenue",
    "aov",
    "first_order",
    "last_order",
    "tenure_days",
)
SUMMARY_COLUMNS: tuple[str, ...] = (
    "customers",
    "orders",
    "revenue",
    "aov",
    "orders_per_customer",
    "revenue_per_customer",
    "mean_tenure_days",
)


def order_days(events: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """``keys..., customer_id, day``: one row per order, on its first purchase day (see
    module docstring)."""
    purchases = events.filter(pl.col("is_purchase"))
    group = [*keys, CUSTOMER]
    if "order_id" not in events.collect_schema():
        return purchases.select(*group, "day")
    # An order spanning several days counts on its first purchase day.
    with_id = (
        purchases.filter(pl.col("order_id").is_not_null())
        .group_by([*group, "order_id"])
        .agg(pl.col("day").min())
        .select(*group, "day")
    )
    without_id = purchases.filter(pl.col("order_id").is_null()).select(*group, "day")
    return pl.concat([with_id, without_id])


def order_count(events: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """``keys..., customer_id, day, orders``: orders per purchase day (see module docstring)."""
    group = [*keys, CUSTOMER, "day"]
    return order_days(events, keys).group_by(group).agg(pl.len().cast(pl.Int64).alias("orders"))


def in_range(day: pl.Expr, start: dt.date | None, end: dt.date | None) -> pl.Expr:
    """``start <= day <= end`` (either bound optional)."""
    keep = pl.lit(True)
    if start is not None:
        keep &= day >= start
    if end is not None:
        keep &= day <= end
    return keep


def per_customer(
    orders: Rows | pl.LazyFrame,
    *,
    keys: Sequence[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    as_of: dt.date | None = None,
    micros: bool = False,
) -> pl.DataFrame:
    """One row per ``keys..., customer_id`` with :data:`CUSTOMER_COLUMNS` (module docstring);
    ``micros``: with ``micros`` too, the revenue in exact integer micros (for :func:`summary`)."""
    keys = list(keys)
    group = [*keys, CUSTOMER]
    orders = encode_orders(before(as_rows(orders), as_of))
    events = events_of(orders)
    # Every figure is a customer's: a large input is done in parts of its customers,
    # each reading the classified lines, kept in memory for them.
    parts = parts_for(orders.frame.select(pl.len()).collect().item())
    ids = None
    if parts > 1:
        # Grouped on integer keys, the ids put back at the end (the rows are sorted then):
        # the text ids of every line are not held through the parts, nor the orders (if
        # the caller handed them over).
        lines = orders.but(events.collect().lazy())
        del orders, events  # read: the rows go now if the caller handed them over
        keyed, ids = keyed_lines(lines)
        del lines
        events = keyed.frame
        del keyed
    frame = in_parts(
        events, CUSTOMER, lambda part: _customers(part, keys, start, end, micros), parts
    )
    del events  # the lines, before the ids are put back
    if frame.height == 0:
        raise InputError("no purchases in range: every row is a return, a cancellation or outside")
    if ids is not None:
        frame = with_ids(frame, ids)
    return frame.sort(group)


def _customers(
    events: pl.LazyFrame,
    keys: list[str],
    start: dt.date | None,
    end: dt.date | None,
    micros: bool = False,
) -> pl.LazyFrame:
    """:func:`per_customer` of classified ``events``, in no order."""
    group = [*keys, CUSTOMER]
    customers = (
        order_days(events, keys)
        .filter(in_range(pl.col("day"), start, end))
        .group_by(group)
        .agg(
            pl.len().cast(pl.Int64).alias("orders"),
            pl.col("day").min().alias("first_order"),
            pl.col("day").max().alias("last_order"),
        )
    )
    # Summed per row: the same integer micros as summing daily_revenue's days.
    revenue = (
        events.filter(in_range(pl.col("revenue_day"), start, end))
        .group_by(group)
        .agg(event_micros(events).sum().alias("micros"))
    )
    return (
        customers.join(revenue, on=group, how="left", nulls_equal=True)
        .with_columns(pl.col("micros").fill_null(0))
        .with_columns(
            money("micros").alias("revenue"),
            (pl.col("last_order") - pl.col("first_order")).dt.total_days().alias("tenure_days"),
        )
        .with_columns(
            ratio(money("micros"), "orders").alias("aov"),
        )
        .select(*group, *CUSTOMER_COLUMNS, *(["micros"] if micros else []))
    )


#: The kernel's additive sums per group: customers, orders, net revenue in integer
#: micros and tenure days (summed; their mean is the merge's).
SUM_SCHEMA: dict[str, pl.DataType] = {
    "customers": pl.Int64(),
    "orders": pl.Int64(),
    "_micros": pl.Int128(),
    "_tenure_days": pl.Int64(),
}
SUM_COLUMNS: tuple[str, ...] = tuple(SUM_SCHEMA)


def group_sums(customers: pl.LazyFrame, keys: Sequence[str] = ()) -> pl.LazyFrame:
    """:data:`SUM_COLUMNS` per group (one row without keys) of per-customer rows
    (:func:`per_customer`)."""
    keys = list(keys)
    # Exact when per_customer kept them; else from the revenue figures as read.
    schema = customers.collect_schema()
    micros = pl.col("micros") if "micros" in schema else to_micros(pl.col("revenue"))
    aggs = [
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("orders").sum().cast(pl.Int64).alias("orders"),
        micros.sum().cast(pl.Int128).alias("_micros"),
        pl.col("tenure_days").sum().cast(pl.Int64).alias("_tenure_days"),
    ]
    return customers.group_by(keys).agg(aggs) if keys else customers.select(aggs)


def customer_rows(
    orders: Rows | pl.LazyFrame,
    *,
    keys: Sequence[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    as_of: dt.date | None = None,
    micros: bool = False,
) -> pl.LazyFrame:
    """:func:`per_customer`'s rows of the customers of ``orders`` (every row of each
    customer in it), in no order, none when none bought in range: what a kernel writes
    for its customers, or sums (:func:`historical_counts`)."""
    events = events_of(encode_orders(before(as_rows(orders), as_of)))
    return _customers(events, list(keys), start, end, micros)


def historical_counts(
    orders: Rows | pl.LazyFrame,
    *,
    keys: Sequence[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    as_of: dt.date | None = None,
) -> pl.LazyFrame:
    """The kernel: :data:`SUM_COLUMNS` per group of the customers of ``orders`` (every
    row of each customer in it), in no order; a group without customers has no row."""
    rows = customer_rows(orders, keys=keys, start=start, end=end, as_of=as_of, micros=True)
    return group_sums(rows, keys).filter(pl.col("customers") > 0)


def finish_historical(summed: pl.DataFrame, keys: Sequence[str] = ()) -> pl.DataFrame:
    """The merge: the table (:data:`SUMMARY_COLUMNS` per group, sorted by ``keys``) from
    :data:`SUM_COLUMNS` summed per group over any sets of whole customers. No customer
    at all is refused as :func:`per_customer` refuses it."""
    keys = list(keys)
    if summed.height == 0 or summed["customers"].sum() == 0:
        raise InputError("no purchases in range: every row is a return, a cancellation or outside")
    frame = summed.sort(keys) if keys else summed
    return frame.with_columns(
        money("_micros").alias("revenue"),
        ratio(money("_micros"), "orders").alias("aov"),
        ratio("orders", "customers").alias("orders_per_customer"),
        ratio(money("_micros"), "customers").alias("revenue_per_customer"),
        ratio("_tenure_days", "customers").alias("mean_tenure_days"),
    ).select(*keys, *SUMMARY_COLUMNS)


def summary(customers: pl.DataFrame, keys: Sequence[str] = ()) -> pl.DataFrame:
    """One row per group (one row in all without keys) with :data:`SUMMARY_COLUMNS`: the
    merge of one set holding every customer."""
    return finish_historical(group_sums(customers.lazy(), keys).collect(), keys)
