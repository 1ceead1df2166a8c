"""Per-customer frequency, recency, T and monetary value, as lifetimes defines them (SPEC §2.7).

This is ``lifetimes.utils.summary_data_from_transaction_data`` in Polars, on
retcalc's own definition of a purchase (``events.classify``):

- purchases on the same day merge into one purchase (a *purchase day*);
- ``frequency`` = purchase days − 1 (repeat purchase days);
- ``recency`` = last purchase day − first purchase day;
- ``T`` = observation end − first purchase day, where the observation end is
  the last observed day: the day before ``--as-of``, else the last purchase day;
- ``monetary_value`` = mean over the repeat purchase days of each day's net
  revenue (0 without repeats). Returns are netted first: a return sharing its
  ``order_id`` with a sale counts on that sale's day (``revenue_day``); any
  other net revenue counts on the customer's latest purchase day on or before
  it (and is dropped when it comes before their first purchase);
- ``--time-unit week`` divides the day counts by 7 (no binning to weeks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from retcalc.engines import Rows, as_rows
from retcalc.errors import InputError
from retcalc.kernels.keys import keyed_customers, with_ids
from retcalc.kernels.parts import in_parts, parts_for
from retcalc.kernels.words import DAY_BITS, run_differences, run_ends, summed_runs
from retcalc.metrics.choices import TimeUnit
from retcalc.metrics.events import CUSTOMER, daily_revenue, events_of, purchase_days
from retcalc.metrics.money import MICROS, event_micros
from retcalc.periods import observed_end

SUMMARY_COLUMNS: tuple[str, ...] = (
    "first_purchase",
    "last_purchase",
    "frequency",
    "recency",
    "T",
    "monetary_value",
)


@dataclass(frozen=True)
class RfmSummary:
    """The per-customer summary and the day it was observed up to (inclusive)."""

    frame: pl.DataFrame
    observation_end: dt.date
    time_unit: TimeUnit
    keys: tuple[str, ...] = ()


def customer_attributes(events: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Each customer's ``keys`` values on their first purchase day (the smallest when several)."""
    purchases = events.filter(pl.col("is_purchase"))
    first = purchases.group_by(CUSTOMER).agg(pl.col("day").min().alias("_first"))
    return (
        purchases.join(first, on=CUSTOMER)
        .filter(pl.col("day") == pl.col("_first"))
        .group_by(CUSTOMER)
        .agg(pl.col(k).drop_nulls().min().alias(k) for k in keys)
    )


def rfm_summary(
    orders: Rows | pl.LazyFrame,
    *,
    as_of: dt.date | None = None,
    time_unit: TimeUnit = TimeUnit.day,
    keys: Sequence[str] = (),
    last_purchase: dt.date | None = None,
) -> RfmSummary:
    """One row per customer: ``keys..., customer_id`` and :data:`SUMMARY_COLUMNS` (module docstring).

    ``last_purchase``: the whole data's last purchase day, when ``orders`` hold only
    some of the customers (a kernel's part, SPEC §8): the observation end is the whole
    data's (default: the last purchase day in ``orders``)."""
    keys = tuple(keys)
    events = events_of(as_rows(orders), as_of)
    # Rows a reader summed already keep their exact micros (money.event_micros).
    exact = ["micros"] if "micros" in events.collect_schema() else []
    lines = events.select(
        CUSTOMER, "day", "is_purchase", "revenue", "revenue_day", *exact, *keys
    ).collect()
    del orders  # read: its rows go now if the caller handed them over (kept no reference)
    # The span of days (for the day words below) and the last purchase day, in one scan.
    first, last, last_day = lines.select(
        pl.min_horizontal(pl.col("day").min(), pl.col("revenue_day").min()).alias("first"),
        pl.max_horizontal(pl.col("day").max(), pl.col("revenue_day").max()).alias("last"),
        pl.col("day").filter(pl.col("is_purchase")).max().alias("last_day"),
    ).row(0)
    if last_day is None:
        when = f" before --as-of {as_of}" if as_of else ""
        raise InputError(
            f"no purchases{when}: every row is a return, a cancellation or out of range"
        )
    # Grouped and joined on integer keys, the ids put back at the end: the same frame
    # (the same rows in the same order), computed several times faster.
    bits = (last - first).days.bit_length()
    packed = bits <= DAY_BITS  # room below the keys for every day's number
    coded, ids = keyed_customers(lines, bits if packed else 0)
    del lines
    observation_end = observed_end(last_purchase or last_day, as_of) - dt.timedelta(days=1)
    unit = float(time_unit.days)
    end = pl.lit(observation_end, dtype=pl.Date)

    def summarised(part: pl.LazyFrame) -> pl.LazyFrame:
        """The summary of the customers of ``part`` (every figure is a customer's)."""
        events = part.collect()
        per_day = (
            _day_revenue_packed(events, bits, first)
            if packed
            else _day_revenue_joined(events.lazy())
        )
        summary = (
            per_day.lazy()
            .group_by(CUSTOMER)
            .agg(
                pl.col("day").min().alias("first_purchase"),
                pl.col("day").max().alias("last_purchase"),
                (pl.len() - 1).cast(pl.Int64).alias("frequency"),
                (pl.col("micros").sum() - pl.col("micros").sort_by("day").first()).alias(
                    "_repeat_micros"
                ),
            )
            .with_columns(
                ((pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days() / unit).alias(
                    "recency"
                ),
                ((end - pl.col("first_purchase")).dt.total_days() / unit).alias("T"),
                pl.when(pl.col("frequency") > 0)
                .then(pl.col("_repeat_micros") / pl.col("frequency") / MICROS)
                .otherwise(0.0)
                .alias("monetary_value"),
            )
        )
        if keys:
            attributes = customer_attributes(events.lazy(), keys).collect()
            summary = summary.join(attributes.lazy(), on=CUSTOMER, how="left")
        return summary.select(*keys, CUSTOMER, *SUMMARY_COLUMNS)

    # A large input in parts of its customers, each part's days and sums held only
    # while it is summarised.
    keyed = in_parts(coded.lazy(), CUSTOMER, summarised, parts_for(coded.height))
    del coded
    frame = with_ids(keyed, ids)
    del keyed, ids
    # In the order of the ids (the streaming engine sorts text faster).
    frame = frame.lazy().sort(CUSTOMER).collect(engine="streaming")
    return RfmSummary(frame, observation_end, time_unit, keys)


def _day_revenue_joined(events: pl.LazyFrame) -> pl.DataFrame:
    """``customer_id, day, micros``: each purchase day of each customer with the net
    revenue counted on it (module docstring), by joins on the customer and the day."""
    days = purchase_days(events, (), keyed=True).collect()
    revenue = daily_revenue(events, ()).collect()
    # Revenue dated on a purchase day stays there; the rest (returns without the
    # sale's order id) moves back to the customer's latest purchase day before it.
    on_day = revenue.join(days, on=[CUSTOMER, "day"], how="semi")
    elsewhere = revenue.join(days, on=[CUSTOMER, "day"], how="anti")
    if elsewhere.height:
        moved = (
            elsewhere.sort(CUSTOMER, "day")
            .join_asof(
                days.with_columns(pl.col("day").alias("purchase_day")).sort(CUSTOMER, "day"),
                on="day",
                by=CUSTOMER,
                strategy="backward",
                check_sortedness=False,
            )
            .filter(pl.col("purchase_day").is_not_null())
            .select(CUSTOMER, pl.col("purchase_day").alias("day"), "micros")
        )
        on_day = pl.concat([on_day, moved]).group_by(CUSTOMER, "day").agg(pl.col("micros").sum())
    return days.join(on_day, on=[CUSTOMER, "day"], how="left").with_columns(
        pl.col("micros").fill_null(0)
    )


def _day_revenue_packed(events: pl.DataFrame, bits: int, first_day: dt.date) -> pl.DataFrame:
    """:func:`_day_revenue_joined` on customer keys whose low ``bits`` bits are free for a
    day's distance from the first: each row's (customer, revenue day) is one word; in
    word order, the rows of a word are summed as a run, and the revenue of a day without
    a purchase goes to the customer's word before it that has one (a forward fill).
    ``first_day``: the earliest day or revenue day, whose distance is 0. One sort and no
    joins or group-bys."""
    first = (first_day - dt.date(1970, 1, 1)).days  # as Polars numbers days
    days = pl.lit((1 << bits) - 1, dtype=pl.UInt64)

    def word(day: pl.Expr) -> pl.Expr:
        return (pl.col(CUSTOMER) | (day.cast(pl.Int32) - first).cast(pl.UInt64)).alias("_w")

    frame = events.lazy()
    purchase, moved = pl.col("is_purchase"), pl.col("revenue_day") != pl.col("day")
    rows = pl.concat(
        [
            frame.select(
                word(pl.col("revenue_day")),
                event_micros(frame).alias("micros"),
                (purchase & ~moved).alias("_purchase"),
            ),
            # A purchase counts on its own day (classify); were one not to, its day
            # would still be a purchase day.
            frame.filter(purchase & moved).select(
                word(pl.col("day")),
                pl.lit(0, dtype=pl.Int128).alias("micros"),
                pl.lit(True).alias("_purchase"),
            ),
        ]
    )
    # The streaming engine sorts faster, the in-memory one runs the running sums faster.
    ordered = rows.sort("_w").collect(engine="streaming")
    w, to, total = pl.col("_w"), pl.col("_to"), pl.col("_total")
    per_word = summed_runs(ordered.lazy(), "_w", "_purchase")
    return (
        per_word.with_columns(pl.when(pl.col("_purchase")).then(w).forward_fill().alias("_to"))
        # Revenue before a customer's first purchase day stays nowhere (no word to go to,
        # or another customer's).
        .filter((to & ~days) == (w & ~days))
        .select("_to", pl.col("micros").cum_sum().alias("_total"))
        .filter(run_ends(to))
        .select(
            (to & ~days).alias(CUSTOMER),
            ((to & days).cast(pl.Int32) + first).cast(pl.Date).alias("day"),
            run_differences(total).alias("micros"),
        )
        .collect(engine="in-memory")
    )
