"""The textbook CLV formula (SPEC §2.7), with every input beside the result.

Over the *complete* calendar years of the yearly retention table (SPEC §2.1
or §2.2: ``complete`` true and ``customers_start`` > 0), per group:

- ``annual_churn_rate`` c = mean of the years' ``churn_rate`` (churned / CS);
- ``aov`` = net revenue / orders in those years;
- ``purchases_per_year`` = orders / ``customer_years``, where a customer who
  purchased in a year counts once for that year;
- ``expected_lifetime_years`` = 1 / c;
- ``discounted_lifetime_years`` = Σ_{k≥1} (1−c)^(k−1) / (1+d)^k = 1 / (c + d):
  a year's value is earned at its end by a customer still there, discounted
  at ``discount_rate`` d a year (with d = 0 it is the expected lifetime);
- ``clv`` = aov × purchases_per_year × margin × discounted_lifetime_years.

With yearly costs to serve: ``cost_to_serve`` = mean cost of the group's
customers who purchased in those years, ``clv_net`` = clv − cost_to_serve ×
discounted_lifetime_years, ``net_clv_negative`` = clv_net < 0.
"""

from __future__ import annotations

import polars as pl

from retcalc.errors import InputError
from retcalc.kernels.parts import in_parts, parts_for
from retcalc.metrics.clv import group_sums
from retcalc.metrics.clv.historical import order_count
from retcalc.metrics.common import Prepared, ratio
from retcalc.metrics.events import CUSTOMER, revenue_lines
from retcalc.metrics.money import MICROS, money, to_micros
from retcalc.metrics.retention import retention_table
from retcalc.periods import Period, truncate

FORMULA_COLUMNS: tuple[str, ...] = (
    "range_start",
    "range_end",
    "complete_years",
    "customer_years",
    "orders",
    "revenue",
    "aov",
    "purchases_per_year",
    "margin",
    "annual_churn_rate",
    "expected_lifetime_years",
    "discount_rate",
    "discounted_lifetime_years",
    "clv",
)
COST_COLUMNS: tuple[str, ...] = ("cost_to_serve", "clv_net", "net_clv_negative")
RATE_COLUMNS: tuple[str, ...] = ("margin", "annual_churn_rate", "discount_rate")


def formula_table(
    prep: Prepared,
    *,
    margin: float,
    discount_rate: float,
    costs: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """One row per group with :data:`FORMULA_COLUMNS` (module docstring); ``prep`` is yearly."""
    if prep.grid.period is not Period.year:
        raise ValueError("the CLV formula needs the yearly retention groundwork")
    if prep.events is None:
        raise InputError("the CLV formula needs an orders file (revenue and orders)")
    keys = list(prep.keys)
    table = retention_table(prep)
    years = table.filter(pl.col("complete") & (pl.col("customers_start") > 0)).select(
        *keys, "period_start", "churn_rate"
    )
    if years.height == 0:
        raise InputError(
            "the CLV formula needs at least one complete calendar year with customers at its "
            f"start (its active window {prep.grid.window} before it and its end inside the data); "
            "give more history, a shorter --active-window, or --as-of at a year end"
        )
    year_keys = [*keys, "period_start"]
    years = years.sort(year_keys).with_columns(pl.lit(0).alias("_all"))
    on = keys or ["_all"]
    # The mean of the yearly rates, summed in year order (the same bits on any machine).
    groups, sums = group_sums(years, on, ["churn_rate"])
    total, count = sums["churn_rate"]
    churn = (
        years.group_by(on)
        .agg(
            pl.col("period_start").min().alias("range_start"),
            pl.col("period_start").max().dt.offset_by("1y").alias("range_end"),
            pl.len().cast(pl.Int64).alias("complete_years"),
        )
        .join(
            groups.with_columns(pl.Series("annual_churn_rate", total / count)),
            on=on,
            how="left",
            nulls_equal=True,
        )
    )
    in_years = years.lazy().select(year_keys)
    year_of = truncate(pl.col("day"), Period.year).alias("period_start")

    def per_year(events: pl.LazyFrame) -> pl.LazyFrame:
        """Orders, customers (``customer_years``) and revenue of the years in range."""
        activity = (
            order_count(events, keys)
            .with_columns(year_of)
            .join(in_years, on=year_keys, how="semi", nulls_equal=True)
            .group_by(year_keys)
            .agg(pl.col("orders").sum(), pl.col(CUSTOMER).n_unique().alias("customer_years"))
        )
        revenue = (
            revenue_lines(events, keys)
            .with_columns(year_of)
            .join(in_years, on=year_keys, how="semi", nulls_equal=True)
            .group_by(year_keys)
            .agg(pl.col("micros").sum())
        )
        return activity.join(revenue, on=year_keys, how="full", coalesce=True, nulls_equal=True)

    # Per customer first (their orders, each customer once a year): a large input in
    # parts of its customers (parts.in_parts), whose figures add up.
    events = prep.events
    parts = parts_for(events.select(pl.len()).collect().item())
    if parts > 1:
        events = events.collect().lazy()
    totals = (
        in_parts(events, CUSTOMER, per_year, parts)
        .group_by(keys or pl.lit(0).alias("_all"))
        .agg(
            pl.col("customer_years").sum().cast(pl.Int64),
            pl.col("orders").sum().cast(pl.Int64),
            pl.col("micros").sum(),
        )
    )
    churn_rate = pl.col("annual_churn_rate")
    frame = (
        churn.join(totals, on=on, how="left", nulls_equal=True)
        .with_columns(
            money(pl.col("micros").fill_null(0)).alias("revenue"),
            pl.col("orders").fill_null(0),
            pl.col("customer_years").fill_null(0),
        )
        .with_columns(
            ratio("revenue", "orders").alias("aov"),
            ratio("orders", "customer_years").alias("purchases_per_year"),
            pl.lit(margin, dtype=pl.Float64).alias("margin"),
            ratio(pl.lit(1.0), churn_rate).alias("expected_lifetime_years"),
            pl.lit(discount_rate, dtype=pl.Float64).alias("discount_rate"),
            ratio(pl.lit(1.0), churn_rate + discount_rate).alias("discounted_lifetime_years"),
        )
        .with_columns(
            (
                pl.col("aov")
                * pl.col("purchases_per_year")
                * pl.col("margin")
                * pl.col("discounted_lifetime_years")
            ).alias("clv")
        )
    )
    columns = list(FORMULA_COLUMNS)
    if costs is not None:
        buyers = (
            order_count(events, keys)
            .with_columns(year_of)
            .join(in_years, on=year_keys, how="semi", nulls_equal=True)
            .select(*keys, CUSTOMER)
            .unique()
            .join(costs, on=CUSTOMER, how="inner")
            .group_by(keys or pl.lit(0).alias("_all"))
            .agg(
                (to_micros(pl.col("cost_to_serve")).sum() / pl.len() / MICROS).alias(
                    "cost_to_serve"
                )
            )
            .collect()
        )
        frame = (
            frame.join(buyers, on=on, how="left", nulls_equal=True)
            .with_columns(
                (
                    pl.col("clv") - pl.col("cost_to_serve") * pl.col("discounted_lifetime_years")
                ).alias("clv_net")
            )
            .with_columns((pl.col("clv_net") < 0).alias("net_clv_negative"))
        )
        columns += COST_COLUMNS
    return frame.sort(on).select(*keys, *columns)
