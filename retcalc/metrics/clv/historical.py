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
from collections.abc import Callable, Sequence

import polars as pl

from retcalc.engines import Rows, as_rows
from retcalc.errors import InputError
from retcalc.kernels.keys import encode_orders, id_hashes
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
    frame = _per_customer(orders, list(keys), start, end, as_of, micros=micros, ids=True)
    return frame.sort([*keys, CUSTOMER])


def table(
    orders: Rows | pl.LazyFrame,
    *,
    keys: Sequence[str] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    as_of: dt.date | None = None,
) -> pl.DataFrame:
    """:func:`summary` of :func:`per_customer`'s rows, without their ids (none is shown)."""
    keys = list(keys)
    return summary(_per_customer(orders, keys, start, end, as_of, micros=True, ids=False), keys)


def _per_customer(
    orders: Rows | pl.LazyFrame,
    keys: list[str],
    start: dt.date | None,
    end: dt.date | None,
    as_of: dt.date | None,
    *,
    micros: bool,
    ids: bool,
) -> pl.DataFrame:
    """:func:`per_customer`'s rows in no order; without ``ids``, ``customer_id`` may hold
    keys instead of the ids."""
    orders = encode_orders(before(as_rows(orders), as_of))
    keyed = orders.keyed
    events = events_of(orders)
    del orders  # the rows go once read if the caller handed them over
    frame = None if keyed else _hashed(events, keys, start, end, micros, ids=ids)
    if frame is None:  # keyed rows, or two ids share a hash: grouped on the ids
        frame = _in_parts(events, lambda part: _customers(part, keys, start, end, micros))
    if frame.height == 0:
        raise InputError("no purchases in range: every row is a return, a cancellation or outside")
    return frame


def _in_parts(
    events: pl.LazyFrame, compute: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    """``compute`` of ``events`` (in memory or cheap to read again), in parts of the
    customers when they are many (every figure is a customer's)."""
    parts = parts_for(events.select(pl.len()).collect().item())
    if parts > 1:
        events = events.collect().lazy()  # each part reads them
    return in_parts(events, CUSTOMER, compute, parts)


#: Columns of :func:`_hashed`: the two hashes of a line's customer id, the line's number.
KEY, CHECK, LINE = "_key", "_check", "_line"


def _hashed(
    events: pl.LazyFrame,
    keys: list[str],
    start: dt.date | None,
    end: dt.date | None,
    micros: bool,
    *,
    ids: bool,
) -> pl.DataFrame | None:
    """:func:`_customers` of classified ``events`` (text ids) grouped on a hash of each
    customer id rather than its text (several times cheaper); with ``ids``, each id
    taken back from one of its customer's lines. ``None`` when a second hash differs
    within a customer (two ids share the first hash): the caller groups on the text."""
    first, second = id_hashes(pl.col(CUSTOMER))
    order = ["order_id"] if "order_id" in events.collect_schema() else []
    # In memory, what the figures read of the lines (each part reads them again).
    lines = (
        events.select(
            *keys,
            *([CUSTOMER] if ids else []),
            *order,
            "day",
            "is_purchase",
            "revenue_day",
            event_micros(events).alias("micros"),
            first.alias(KEY),
            second.alias(CHECK),
        )
        .with_row_index(LINE)
        .collect()
    )
    frame = in_parts(
        lines.lazy(),
        KEY,
        lambda part: _customers(part, keys, start, end, micros, customer=KEY, carry=True),
        parts_for(lines.height),
    )
    if (frame["_low"] != frame["_high"]).any():
        return None
    customers = lines[CUSTOMER].gather(frame[LINE]) if ids else frame[KEY].alias(CUSTOMER)
    return frame.select(*keys, customers, *CUSTOMER_COLUMNS, *(["micros"] if micros else []))


def _customers(
    events: pl.LazyFrame,
    keys: list[str],
    start: dt.date | None,
    end: dt.date | None,
    micros: bool = False,
    *,
    customer: str = CUSTOMER,
    carry: bool = False,
) -> pl.LazyFrame:
    """:func:`per_customer` of classified ``events``, in no order, grouped on column
    ``customer``. ``carry`` (:func:`_hashed`'s lines): with each customer's smallest and
    largest second hash (``_low``, ``_high``) and their first line's number."""
    group = [*keys, customer]
    amount = event_micros(events)
    low, high, line = pl.col(CHECK).alias("_low"), pl.col(CHECK).alias("_high"), pl.col(LINE)
    carried = ["_low", "_high", LINE] if carry else []
    # Per order: its first purchase day, and its revenue dated in range (summed per row:
    # the same integer micros as summing daily_revenue's days).
    order_aggs = [
        pl.col("day").filter(pl.col("is_purchase")).min().alias("first"),
        amount.filter(in_range(pl.col("revenue_day"), start, end)).sum().alias("micros"),
        *([low.min(), high.max(), line.min()] if carry else []),
    ]
    # A line without an order id is an order of its own when it is a purchase.
    single = [
        pl.when(pl.col("is_purchase")).then(pl.col("day")).alias("first"),
        pl.when(in_range(pl.col("revenue_day"), start, end)).then(amount).alias("micros"),
        *([low, high, line] if carry else []),
    ]
    if "order_id" in events.collect_schema():
        present = pl.col("order_id").is_not_null()
        with_id = events.filter(present).group_by([*group, "order_id"]).agg(order_aggs)
        per_order = pl.concat(
            [with_id.drop("order_id"), events.filter(~present).select(*group, *single)]
        )
    else:
        per_order = events.select(*group, *single)
    days = pl.col("first").filter(in_range(pl.col("first"), start, end))
    return (
        per_order.group_by(group)
        .agg(
            days.count().cast(pl.Int64).alias("orders"),
            days.min().alias("first_order"),
            days.max().alias("last_order"),
            pl.col("micros").sum(),
            *([pl.col("_low").min(), pl.col("_high").max(), pl.col(LINE).min()] if carry else []),
        )
        .filter(pl.col("orders") > 0)
        .with_columns(
            money("micros").alias("revenue"),
            (pl.col("last_order") - pl.col("first_order")).dt.total_days().alias("tenure_days"),
        )
        .with_columns(
            ratio(money("micros"), "orders").alias("aov"),
        )
        .select(*group, *CUSTOMER_COLUMNS, *(["micros"] if micros else []), *carried)
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
