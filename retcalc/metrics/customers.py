"""The customers behind the retention table (SPEC §10): each customer's status in one
period ``[s, e)``, under the definitions ``retention`` counts with (SPEC §2.1, §2.2).

Statuses, one per customer (``status``), from the same runs and first periods as the
retention table (:mod:`retcalc.metrics.activity`):

- ``new``: first purchase (subscription basis: signup) in ``[s, e)``;
- ``retained``: active at s and at e;
- ``churned``: active at s, not at e;
- ``reactivated``: first purchase before s, not active at s, active at e;
- ``lapsed``: first purchase before s, active neither at s nor at e;
- ``not_yet_acquired``: no first purchase (signup) before e: a customer of the inputs
  (the orders, or the customers file) whose history starts later or never.

And flags, which cut across them: ``active_at_start`` (retained or churned),
``active_at_end``, ``is_returning`` (active at s and purchased in ``[s, e)``), and
``is_new_lost`` (new, not active at e).

For every period and group, counting customers gives the retention table's row:
customers_start = active_at_start, customers_end = active_at_end, new_customers = new,
retained, churned, reactivated = their status, returning = is_returning, new_lost =
is_new_lost; and the customers acquired before s are customers_start + reactivated +
lapsed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from retcalc.errors import UsageError
from retcalc.metrics.activity import CUSTOMER
from retcalc.metrics.common import Prepared

STATUSES: tuple[str, ...] = (
    "new",
    "retained",
    "churned",
    "reactivated",
    "lapsed",
    "not_yet_acquired",
)
#: ``--status`` values that select a flag rather than the status.
FLAG_STATUSES: dict[str, str] = {"returning": "is_returning", "new_lost": "is_new_lost"}

STATUS_COLUMNS: tuple[str, ...] = (
    "period_start",
    "period_end",
    "status",
    "active_at_start",
    "active_at_end",
    "is_returning",
    "is_new_lost",
)
HISTORY_COLUMNS: tuple[str, ...] = ("first_order", "last_order", "orders", "revenue")
CLV_COLUMNS: tuple[str, ...] = ("p_alive", "expected_purchases", "clv")
CUSTOMER_COLUMNS: tuple[str, ...] = (*STATUS_COLUMNS, *HISTORY_COLUMNS)


def check_statuses(wanted: Sequence[str]) -> tuple[str, ...]:
    """The ``--status`` values, each once; an unknown one exits 2 naming the valid ones."""
    valid = (*STATUSES, *FLAG_STATUSES)
    for value in wanted:
        if value not in valid:
            raise UsageError(f"--status {value!r}: use one of {', '.join(valid)}")
    return tuple(dict.fromkeys(wanted))


def period_of(prep: Prepared, day: dt.date) -> int:
    """Index of the grid's period containing ``day`` (exit 2 outside the grid)."""
    bounds = prep.grid.bounds
    k = int(bounds.search_sorted(day, side="right")) - 1
    if not 0 <= k < prep.grid.n_periods:
        raise UsageError(
            f"--period-start {day} is outside the periods of the data ({bounds[0]} to "
            f"{bounds[-1] - dt.timedelta(days=1)}); give a day in that range, or widen it with "
            "--start / --end"
        )
    return k


def _marked(frame: pl.LazyFrame, group: list[str], name: str) -> pl.LazyFrame:
    return frame.select(group).unique().with_columns(pl.lit(True).alias(name))


def status_table(prep: Prepared, k: int, population: pl.LazyFrame) -> pl.LazyFrame:
    """One row per ``keys..., customer_id`` of ``population`` (and every customer with a
    first purchase or signup) with :data:`STATUS_COLUMNS` in period ``k``."""
    keys = list(prep.keys)
    group = [*keys, CUSTOMER]
    runs = prep.runs

    def covering(j: int) -> pl.Expr:  # a run [P, Q) covers boundary j
        return (pl.col("P") <= j) & (pl.col("Q") > j)

    at_start = _marked(runs.filter(covering(k)), group, "active_at_start")
    at_end = _marked(runs.filter(covering(k + 1)), group, "active_at_end")
    firsts = prep.first_period.select(*group, "first_idx")
    people = pl.concat([population.select(group), firsts.select(group)]).unique()
    parts = [firsts, at_start, at_end]
    if prep.purchases is not None:
        bought = prep.purchases.filter(prep.grid.period_index(pl.col("day")) == k)
        parts.append(_marked(bought, group, "_bought"))
    frame = people
    for part in parts:
        frame = frame.join(part, on=group, how="left", nulls_equal=True)
    if prep.purchases is None:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Boolean).alias("_bought"))
    flags = ["active_at_start", "active_at_end"]
    frame = frame.with_columns(pl.col(f).fill_null(False) for f in flags)
    start, end = pl.col("active_at_start"), pl.col("active_at_end")
    first = pl.col("first_idx")
    status = (
        pl.when(first.is_null() | (first > k))
        .then(pl.lit("not_yet_acquired"))
        .when(first == k)
        .then(pl.lit("new"))
        .when(start & end)
        .then(pl.lit("retained"))
        .when(start)
        .then(pl.lit("churned"))
        .when(end)
        .then(pl.lit("reactivated"))
        .otherwise(pl.lit("lapsed"))
    )
    bounds = prep.grid.bounds
    return frame.with_columns(
        pl.lit(bounds[k], dtype=pl.Date).alias("period_start"),
        pl.lit(bounds[k + 1], dtype=pl.Date).alias("period_end"),
        status.alias("status"),
        # Without orders (never here: the command needs them) returning is unknown.
        (start & pl.col("_bought").fill_null(False)).alias("is_returning")
        if prep.purchases is not None
        else pl.lit(None, dtype=pl.Boolean).alias("is_returning"),
        ((first == k) & ~end).fill_null(False).alias("is_new_lost"),
    ).select(*group, *STATUS_COLUMNS)


def keep_statuses(table: pl.DataFrame, wanted: Sequence[str]) -> pl.DataFrame:
    """The rows with any of the ``wanted`` statuses (a flag's name selects the flag)."""
    if not wanted:
        return table
    keep = pl.lit(False)
    plain = [s for s in wanted if s in STATUSES]
    if plain:
        keep = keep | pl.col("status").is_in(plain)
    for name in wanted:
        if name in FLAG_STATUSES:
            keep = keep | pl.col(FLAG_STATUSES[name]).fill_null(False)
    return table.filter(keep)
