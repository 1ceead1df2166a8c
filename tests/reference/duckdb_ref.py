"""Reference implementation of retcalc's retention and churn tables in DuckDB SQL.

This module is deliberately naive. It is written straight from the metric
definitions (SPEC.md §2.1 / §2.4 plus the product decisions listed below), in
the most obvious SQL: a cross join of customers x period boundaries with
``EXISTS`` sub-queries for "active at x", and correlated sums for revenue. It
shares no code with ``retcalc.metrics`` so that comparing the two catches bugs
in either.

Definitions implemented (quoted in the SQL comments as [D1]..[D9]):

[D1] Row classification. A row is a RETURN row when ``quantity < 0`` or
     ``amount < 0`` (nulls count as not negative), or when ``lower(status)`` is
     one of returned/refunded/cancelled/canceled/voided. Every other row is a
     PURCHASE row.
[D2] Purchase days of a customer = distinct ``CAST(order_date AS DATE)`` over
     its purchase rows. Only purchase days make a customer active/new/returning.
     First purchase day = min purchase day (over all data after ``as_of``).
[D3] Revenue contribution of a row: negative quantity or amount -> ``-abs(amount)``;
     else a return status -> 0; else ``amount`` (null amount -> 0).
[D4] Revenue date of a row: for a negative row whose ``order_id`` matches an
     order with at least one purchase row, the MIN purchase date of that order;
     otherwise its own date.
[D5] Periods are calendar aligned (``date_trunc``; weeks start on Monday) and
     half-open ``[s, e)``. The grid runs from the period of the first purchase
     day (or ``start``) to the period of the last purchase day (or ``end``).
     ``as_of`` drops every row with ``order_date >= as_of`` before anything else.
[D6] Window W (``Nd``, ``Nw``, ``Nmo``, ``Ny`` = 12N months, or ``all``). A customer
     is ACTIVE AT x when they have a purchase day d with ``x - W <= d < x``
     (``all``: ``d < x``).
[D7] Retention counts per period (customers_start, new_customers, ...); the
     rates are NULL when customers_start = 0.
[D8] complete = NOT (s - W < first purchase day in the data) AND e <= data_end,
     data_end = as_of, else last purchase day + 1 day. For ``all`` only the
     second condition applies.
[D9] Revenue table: rev(c, k) = GREATEST(0, net contributions of c dated in k);
     k-1 is the calendar period before k (even before the grid start); the
     NRR/GRR population P is the customers with rev(c, k-1) > 0; bridge
     movements (new, expansion, contraction, churned, reactivation) and the
     quick ratio; lost_revenue = UNFLOORED revenue of the customers counted in
     ``churned`` dated in ``[s - W, s)`` (``all``: ``< s``).

Choices made where the brief is silent:

* Rows with a null ``order_date`` or a null/blank ``customer_id`` are dropped
  (SPEC §1: rows with an empty customer id are dropped).
* ``order_id`` matching in [D4] is on ``order_id`` alone (not per customer), as
  written in the definition; a null ``order_id`` never matches.
* Sums over an empty set (expansion, contraction, revenue of a period with no
  rows, lost_revenue with nobody churned, ...) are 0.0, not NULL. Only the
  ratios (crr, rates, nrr, grr, quick_ratio) are NULL, when their denominator
  is 0.
* ``x - W`` for month/year windows uses DuckDB's INTERVAL arithmetic, which
  clamps to the end of a shorter month (2024-03-31 - 1 month = 2024-02-29).
* When there are no purchase days at all and no ``as_of``, data_end is
  unknown and ``complete`` is false.
* Revenue contributions are summed as DECIMAL(38, 10) (amounts rounded to 10
  decimal places), so the ``rev = 0`` / ``rev > 0`` tests of [D9] are exact and
  do not depend on summation order; results are returned as Float64.

pyarrow is not a dependency of the project, so frames are moved into DuckDB
through a temporary Parquet file and back through ``fetchall``.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

__all__ = [
    "CHURN_COLUMNS",
    "CHURN_SCHEMA",
    "NO_SALE_STATUSES",
    "RETENTION_COLUMNS",
    "RETENTION_SCHEMA",
    "RETURN_STATUSES",
    "churn_table",
    "load_sample_orders",
    "retention_table",
]

# SPEC "What a row means", written out independently of retcalc.meanings: rows with these
# statuses are no sale at all (not a purchase, no revenue)...
NO_SALE_STATUSES: tuple[str, ...] = (
    "pending",
    "failed",
    "declined",
    "uncaptured",
    "voided",
    "expired",
    "cancelled",
    "canceled",
    "void",
)
# ... and these are purchases given back whole (no refund figure here): revenue 0.
RETURN_STATUSES: tuple[str, ...] = ("returned", "refunded")

# Canonical order-line shape accepted by retention_table / churn_table.
CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "order_date": pl.Datetime("us"),
    "amount": pl.Float64(),
    "order_id": pl.String(),
    "quantity": pl.Float64(),
    "status": pl.String(),
}

RETENTION_SCHEMA: dict[str, pl.DataType] = {
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "customers_start": pl.Int64(),
    "new_customers": pl.Int64(),
    "customers_end": pl.Int64(),
    "retained": pl.Int64(),
    "churned": pl.Int64(),
    "reactivated": pl.Int64(),
    "new_lost": pl.Int64(),
    "returning": pl.Int64(),
    "crr": pl.Float64(),
    "retention_rate": pl.Float64(),
    "churn_rate": pl.Float64(),
    "repeat_rate": pl.Float64(),
    "complete": pl.Boolean(),
}
RETENTION_COLUMNS: tuple[str, ...] = tuple(RETENTION_SCHEMA)

CHURN_SCHEMA: dict[str, pl.DataType] = {
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "customers_start": pl.Int64(),
    "churned": pl.Int64(),
    "churn_rate": pl.Float64(),
    "revenue": pl.Float64(),
    "previous_revenue": pl.Float64(),
    "lost_revenue": pl.Float64(),
    "nrr": pl.Float64(),
    "grr": pl.Float64(),
    "new_revenue": pl.Float64(),
    "expansion": pl.Float64(),
    "contraction": pl.Float64(),
    "churned_revenue": pl.Float64(),
    "reactivation_revenue": pl.Float64(),
    "quick_ratio": pl.Float64(),
    "complete": pl.Boolean(),
}
CHURN_COLUMNS: tuple[str, ...] = tuple(CHURN_SCHEMA)

# One period as a DuckDB interval, and the date_trunc part that aligns it.
_PERIOD_INTERVAL: dict[str, str] = {
    "day": "INTERVAL 1 DAY",
    "week": "INTERVAL 7 DAY",  # date_trunc('week', ...) is the ISO week: Monday
    "month": "INTERVAL 1 MONTH",
    "quarter": "INTERVAL 3 MONTH",
    "year": "INTERVAL 12 MONTH",
}

# Revenue is summed as an exact decimal so that a purchase fully offset by its
# returns nets to exactly 0 whatever the summation order (in DOUBLE,
# 20.99 + 12.99 - 12.99 - 20.99 can be +-3.6e-15, which flooring would turn into
# a tiny positive revenue). Amounts are rounded to 10 decimal places first.
_MONEY = "DECIMAL(38, 10)"
_ZERO = f"CAST(0 AS {_MONEY})"

_WINDOW_RE = re.compile(r"^(\d+)(d|w|mo|y)$")

DateLike = dt.date | str | None


# --------------------------------------------------------------------------- #
# Parameter handling
# --------------------------------------------------------------------------- #
def _window_interval(window: str) -> str | None:
    """[D6] ``Nd``/``Nw``/``Nmo``/``Ny`` -> a DuckDB INTERVAL literal; ``all`` -> None."""
    w = window.strip().lower()
    if w == "all":
        return None
    m = _WINDOW_RE.match(w)
    if m is None or int(m.group(1)) <= 0:
        raise ValueError(f"bad window {window!r}: expected Nd, Nw, Nmo, Ny or 'all'")
    n, unit = int(m.group(1)), m.group(2)
    if unit == "d":
        return f"INTERVAL {n} DAY"
    if unit == "w":
        return f"INTERVAL {7 * n} DAY"
    if unit == "mo":
        return f"INTERVAL {n} MONTH"
    return f"INTERVAL {12 * n} MONTH"  # 1y = 12 calendar months


def _date_sql(value: DateLike, name: str) -> str:
    """A validated date -> a SQL DATE literal (or NULL)."""
    if value is None:
        return "CAST(NULL AS DATE)"
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if not isinstance(value, dt.date):
        raise TypeError(f"{name} must be a date or ISO string, got {type(value).__name__}")
    return f"DATE '{value.isoformat()}'"


@dataclass(frozen=True)
class _Params:
    period: str
    period_interval: str
    window: str | None  # INTERVAL literal, None for 'all'
    start: str
    end: str
    as_of: str

    def window_start(self, x: str) -> str:
        """SQL for ``x - W`` as a DATE (only meaningful when the window is not 'all')."""
        assert self.window is not None
        return f"CAST({x} - {self.window} AS DATE)"

    def active_condition(self, day: str, x: str) -> str:
        """[D6] SQL predicate: purchase day ``day`` makes the customer active at ``x``."""
        if self.window is None:
            return f"{day} < {x}"
        return f"{day} < {x} AND {day} >= {self.window_start(x)}"


def _params(period: str, window: str, start: DateLike, end: DateLike, as_of: DateLike) -> _Params:
    p = period.strip().lower()
    if p not in _PERIOD_INTERVAL:
        raise ValueError(f"bad period {period!r}: expected one of {sorted(_PERIOD_INTERVAL)}")
    return _Params(
        period=p,
        period_interval=_PERIOD_INTERVAL[p],
        window=_window_interval(window),
        start=_date_sql(start, "start"),
        end=_date_sql(end, "end"),
        as_of=_date_sql(as_of, "as_of"),
    )


# --------------------------------------------------------------------------- #
# Moving frames in and out of DuckDB (no pyarrow available)
# --------------------------------------------------------------------------- #
def _canonical_frame(orders: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in ("customer_id", "order_date") if c not in orders.columns]
    if missing:
        raise ValueError(f"orders frame lacks required column(s): {missing}")
    exprs: list[pl.Expr] = []
    for name, dtype in CANONICAL_SCHEMA.items():
        if name not in orders.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        col = pl.col(name)
        src = orders.schema[name]
        if name == "order_date":
            if src == pl.String:
                col = col.str.to_datetime(time_unit="us")
            elif isinstance(src, pl.Datetime) and src.time_zone is not None:
                col = col.dt.replace_time_zone(None)
        exprs.append(col.cast(dtype).alias(name))
    return orders.select(exprs)


def _load_orders(con: duckdb.DuckDBPyConnection, orders: pl.DataFrame) -> None:
    frame = _canonical_frame(orders)
    with tempfile.TemporaryDirectory(prefix="retcalc_ref_") as tmp:
        path = Path(tmp) / "orders.parquet"
        frame.write_parquet(path)
        con.execute(
            f"""
            CREATE TEMP TABLE raw_orders AS
            SELECT CAST(customer_id AS VARCHAR)  AS customer_id,
                   CAST(order_date AS TIMESTAMP) AS order_date,
                   CAST(amount AS DOUBLE)        AS amount,
                   CAST(order_id AS VARCHAR)     AS order_id,
                   CAST(quantity AS DOUBLE)      AS quantity,
                   CAST(status AS VARCHAR)       AS status
            FROM read_parquet('{path.as_posix()}')
            """
        )


def _to_polars(rows: list[tuple[object, ...]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


# --------------------------------------------------------------------------- #
# Shared base tables
# --------------------------------------------------------------------------- #
def _build_base(con: duckdb.DuckDBPyConnection, prm: _Params) -> None:
    statuses = ", ".join(f"'{s}'" for s in RETURN_STATUSES)
    no_sale = ", ".join(f"'{s}'" for s in NO_SALE_STATUSES)

    # [D5] as_of first, then [D1] classification and [D3] contributions.
    con.execute(
        f"""
        CREATE TEMP TABLE lines AS
        WITH filtered AS (
            -- [D5] as_of: drop every row with order_date >= as_of before anything else.
            -- Rows without a date or with an empty customer id cannot be used (SPEC §1).
            SELECT *
            FROM raw_orders
            WHERE order_date IS NOT NULL
              AND customer_id IS NOT NULL
              AND trim(customer_id) <> ''
              AND ({prm.as_of} IS NULL OR order_date < CAST({prm.as_of} AS TIMESTAMP))
        ),
        classified AS (
            SELECT *,
                   CAST(order_date AS DATE) AS order_day,
                   -- [D1] negative quantity or amount (NULL counts as not negative)
                   (coalesce(quantity < 0, false) OR coalesce(amount < 0, false)) AS is_negative,
                   -- [D1] no sale (pending, failed, cancelled) / given back whole
                   coalesce(lower(trim(status)) IN ({no_sale}), false) AS has_no_sale_status,
                   coalesce(lower(trim(status)) IN ({statuses}), false) AS has_return_status
            FROM filtered
        )
        SELECT *,
               (is_negative OR has_no_sale_status)     AS is_return,
               NOT (is_negative OR has_no_sale_status) AS is_purchase,
               -- [D3] revenue contribution, as an exact DECIMAL (see _MONEY)
               CAST(CASE
                   WHEN is_negative       THEN coalesce(-abs(amount), {_ZERO})
                   WHEN has_no_sale_status OR has_return_status THEN {_ZERO}
                   ELSE coalesce(amount, {_ZERO})
               END AS {_MONEY}) AS contribution
        FROM classified
        """
    )

    # [D2] purchase days: distinct (customer, day) over purchase rows only.
    con.execute(
        """
        CREATE TEMP TABLE purchase_days AS
        SELECT DISTINCT customer_id, order_day AS day
        FROM lines
        WHERE is_purchase
        """
    )

    # [D2] first purchase day per customer (customers with at least one purchase day).
    con.execute(
        """
        CREATE TEMP TABLE customer_first AS
        SELECT customer_id, min(day) AS first_day
        FROM purchase_days
        GROUP BY customer_id
        """
    )

    # [D4] revenue date: a negative row of an order that has a purchase row is
    # dated at that order's earliest purchase date; everything else at its own date.
    con.execute(
        """
        CREATE TEMP TABLE revenue_rows AS
        WITH order_purchase_day AS (
            SELECT order_id, min(order_day) AS purchase_day
            FROM lines
            WHERE is_purchase AND order_id IS NOT NULL
            GROUP BY order_id
        )
        SELECT l.customer_id,
               l.contribution,
               CASE
                   WHEN l.is_negative AND o.purchase_day IS NOT NULL THEN o.purchase_day
                   ELSE l.order_day
               END AS revenue_day
        FROM lines AS l
        LEFT JOIN order_purchase_day AS o ON l.order_id = o.order_id
        """
    )

    # [D8] data bounds: first/last purchase day; data_end = as_of else last day + 1.
    con.execute(
        f"""
        CREATE TEMP TABLE data_bounds AS
        SELECT min(day) AS first_day,
               max(day) AS last_day,
               coalesce({prm.as_of}, max(day) + 1) AS data_end
        FROM purchase_days
        """
    )

    # [D5] grid: every period from the period containing start (or the first
    # purchase day) to the period containing end (or the last purchase day).
    # prev_start is the calendar period before (for rev(c, k-1)).
    con.execute(
        f"""
        CREATE TEMP TABLE grid AS
        WITH starts AS (
            SELECT unnest(generate_series(
                       CAST(date_trunc('{prm.period}', grid_from) AS TIMESTAMP),
                       CAST(date_trunc('{prm.period}', grid_to) AS TIMESTAMP),
                       {prm.period_interval})) AS s
            FROM (
                SELECT coalesce({prm.start}, first_day) AS grid_from,
                       coalesce({prm.end}, last_day)    AS grid_to
                FROM data_bounds
            )
        )
        SELECT CAST(s AS DATE)                          AS period_start,
               CAST(s + {prm.period_interval} AS DATE) AS period_end,
               CAST(s - {prm.period_interval} AS DATE) AS prev_start
        FROM starts
        """
    )

    # [D6] active at x, for every period boundary x: the obvious cross join of
    # customers x boundaries filtered by an EXISTS over purchase days.
    con.execute(
        f"""
        CREATE TEMP TABLE active_at AS
        WITH boundaries AS (
            SELECT period_start AS x FROM grid
            UNION
            SELECT period_end AS x FROM grid
        )
        SELECT c.customer_id, b.x
        FROM customer_first AS c
        CROSS JOIN boundaries AS b
        WHERE EXISTS (
            SELECT 1
            FROM purchase_days AS d
            WHERE d.customer_id = c.customer_id
              AND {prm.active_condition("d.day", "b.x")}
        )
        """
    )


def _complete_sql(prm: _Params) -> str:
    """[D8] complete flag for grid row ``g`` joined with ``data_bounds b``."""
    observed_end = "g.period_end <= b.data_end"
    if prm.window is None:
        cond = observed_end
    else:
        cond = f"NOT ({prm.window_start('g.period_start')} < b.first_day) AND {observed_end}"
    return f"coalesce({cond}, false)"


def _rate(num: str, den: str) -> str:
    """``num / den`` as DOUBLE, NULL when the denominator is 0."""
    return f"CASE WHEN ({den}) = 0 THEN NULL ELSE CAST(({num}) AS DOUBLE) / ({den}) END"


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def retention_table(
    orders: pl.DataFrame,
    *,
    period: str,
    window: str,
    start: DateLike = None,
    end: DateLike = None,
    as_of: DateLike = None,
) -> pl.DataFrame:
    """Retention table ([D7]) computed naively in DuckDB; one row per grid period."""
    prm = _params(period, window, start, end, as_of)
    con = duckdb.connect()
    try:
        _load_orders(con, orders)
        _build_base(con, prm)
        rows = con.execute(
            f"""
            WITH per_customer AS (
                -- one row per (period, customer with a purchase day)
                SELECT g.period_start, g.period_end, c.customer_id, c.first_day,
                       EXISTS (SELECT 1 FROM active_at AS a
                               WHERE a.customer_id = c.customer_id
                                 AND a.x = g.period_start) AS active_s,
                       EXISTS (SELECT 1 FROM active_at AS a
                               WHERE a.customer_id = c.customer_id
                                 AND a.x = g.period_end) AS active_e,
                       EXISTS (SELECT 1 FROM purchase_days AS d
                               WHERE d.customer_id = c.customer_id
                                 AND d.day >= g.period_start
                                 AND d.day < g.period_end) AS purchased_in_period
                FROM grid AS g
                CROSS JOIN customer_first AS c
            ),
            counts AS (
                SELECT period_start,
                       -- customers_start: active at s
                       count(*) FILTER (WHERE active_s) AS customers_start,
                       -- new_customers: first purchase day in [s, e)
                       count(*) FILTER (WHERE first_day >= period_start
                                          AND first_day < period_end) AS new_customers,
                       -- customers_end: active at e
                       count(*) FILTER (WHERE active_e) AS customers_end,
                       -- retained: active at both s and e
                       count(*) FILTER (WHERE active_s AND active_e) AS retained,
                       -- churned, computed directly: active at s and not active at e
                       count(*) FILTER (WHERE active_s AND NOT active_e) AS churned_direct,
                       -- reactivated: active at e, not at s, first purchase day < s
                       count(*) FILTER (WHERE active_e AND NOT active_s
                                          AND first_day < period_start) AS reactivated,
                       -- new_lost: first purchase day in [s, e) and not active at e
                       count(*) FILTER (WHERE first_day >= period_start
                                          AND first_day < period_end
                                          AND NOT active_e) AS new_lost,
                       -- returning: active at s with a purchase day in [s, e)
                       count(*) FILTER (WHERE active_s AND purchased_in_period) AS "returning"
                FROM per_customer
                GROUP BY period_start
            ),
            filled AS (
                -- periods with no customers at all still get a row of zeros
                SELECT g.period_start, g.period_end,
                       coalesce(n.customers_start, 0) AS customers_start,
                       coalesce(n.new_customers, 0)   AS new_customers,
                       coalesce(n.customers_end, 0)   AS customers_end,
                       coalesce(n.retained, 0)        AS retained,
                       coalesce(n.churned_direct, 0)  AS churned_direct,
                       coalesce(n.reactivated, 0)     AS reactivated,
                       coalesce(n.new_lost, 0)        AS new_lost,
                       coalesce(n."returning", 0)     AS "returning",
                       {_complete_sql(prm)}           AS complete
                FROM grid AS g
                CROSS JOIN data_bounds AS b
                LEFT JOIN counts AS n ON n.period_start = g.period_start
            )
            SELECT period_start,
                   period_end,
                   customers_start,
                   new_customers,
                   customers_end,
                   retained,
                   customers_start - retained AS churned,
                   reactivated,
                   new_lost,
                   "returning",
                   {_rate("customers_end - new_customers", "customers_start")} AS crr,
                   {_rate("retained", "customers_start")} AS retention_rate,
                   {_rate("customers_start - retained", "customers_start")} AS churn_rate,
                   {_rate('"returning"', "customers_start")} AS repeat_rate,
                   complete,
                   churned_direct
            FROM filled
            ORDER BY period_start
            """
        ).fetchall()
    finally:
        con.close()

    for row in rows:
        churned, churned_direct = row[6], row[-1]
        assert churned == churned_direct, (
            f"churned mismatch in period {row[0]}: CS - retained = {churned}, "
            f"active at s and not at e = {churned_direct}"
        )
    return _to_polars([row[:-1] for row in rows], RETENTION_SCHEMA)


def churn_table(
    orders: pl.DataFrame,
    *,
    period: str,
    window: str,
    start: DateLike = None,
    end: DateLike = None,
    as_of: DateLike = None,
) -> pl.DataFrame:
    """Churn and revenue-retention table ([D9]) computed naively in DuckDB."""
    prm = _params(period, window, start, end, as_of)
    if prm.window is None:
        trailing = "r.revenue_day < g.period_start"
    else:
        trailing = (
            f"r.revenue_day >= {prm.window_start('g.period_start')} "
            "AND r.revenue_day < g.period_start"
        )
    quick_ratio = _rate(
        "new_revenue + expansion + reactivation_revenue", "contraction + churned_revenue"
    )
    con = duckdb.connect()
    try:
        _load_orders(con, orders)
        _build_base(con, prm)
        rows = con.execute(
            f"""
            WITH all_customers AS (
                -- every customer with any row (a customer with no rows has rev = 0)
                SELECT DISTINCT customer_id FROM lines
            ),
            per_customer AS (
                SELECT g.period_start, g.period_end, c.customer_id, f.first_day,
                       -- rev(c, k): floored net contributions dated in [s, e)
                       greatest({_ZERO}, coalesce((
                           SELECT sum(r.contribution) FROM revenue_rows AS r
                           WHERE r.customer_id = c.customer_id
                             AND r.revenue_day >= g.period_start
                             AND r.revenue_day < g.period_end), {_ZERO})) AS rev_k,
                       -- rev(c, k-1): same over the calendar period before k
                       greatest({_ZERO}, coalesce((
                           SELECT sum(r.contribution) FROM revenue_rows AS r
                           WHERE r.customer_id = c.customer_id
                             AND r.revenue_day >= g.prev_start
                             AND r.revenue_day < g.period_start), {_ZERO})) AS rev_prev,
                       -- UNFLOORED contributions in the trailing window [s - W, s)
                       coalesce((
                           SELECT sum(r.contribution) FROM revenue_rows AS r
                           WHERE r.customer_id = c.customer_id
                             AND {trailing}), {_ZERO}) AS trailing_revenue,
                       EXISTS (SELECT 1 FROM active_at AS a
                               WHERE a.customer_id = c.customer_id
                                 AND a.x = g.period_start) AS active_s,
                       EXISTS (SELECT 1 FROM active_at AS a
                               WHERE a.customer_id = c.customer_id
                                 AND a.x = g.period_end) AS active_e
                FROM grid AS g
                CROSS JOIN all_customers AS c
                LEFT JOIN customer_first AS f ON f.customer_id = c.customer_id
            ),
            sums AS (
                SELECT period_start,
                       count(*) FILTER (WHERE active_s) AS customers_start,
                       count(*) FILTER (WHERE active_s AND active_e) AS retained,
                       count(*) FILTER (WHERE active_s AND NOT active_e) AS churned_direct,
                       -- lost_revenue: churned customers' unfloored trailing revenue
                       sum(trailing_revenue) FILTER (WHERE active_s AND NOT active_e)
                           AS lost_revenue,
                       -- population P: rev(c, k-1) > 0
                       sum(rev_prev) FILTER (WHERE rev_prev > 0) AS p_prev,
                       sum(rev_k) FILTER (WHERE rev_prev > 0) AS p_now,
                       sum(least(rev_k, rev_prev)) FILTER (WHERE rev_prev > 0) AS p_kept,
                       -- new: first purchase day in period k
                       sum(rev_k) FILTER (WHERE first_day >= period_start
                                            AND first_day < period_end) AS new_revenue,
                       -- expansion: P with rev_k > rev_{{k-1}}
                       sum(rev_k - rev_prev) FILTER (WHERE rev_prev > 0
                                                       AND rev_k > rev_prev) AS expansion,
                       -- contraction: P with 0 < rev_k < rev_{{k-1}}
                       sum(rev_prev - rev_k) FILTER (WHERE rev_prev > 0 AND rev_k > 0
                                                       AND rev_k < rev_prev) AS contraction,
                       -- churned revenue: P with rev_k = 0
                       sum(rev_prev) FILTER (WHERE rev_prev > 0 AND rev_k = 0)
                           AS churned_revenue,
                       -- reactivation: rev_{{k-1}} = 0, rev_k > 0, first purchase before k
                       sum(rev_k) FILTER (WHERE rev_prev = 0 AND rev_k > 0
                                            AND first_day < period_start)
                           AS reactivation_revenue
                FROM per_customer
                GROUP BY period_start
            ),
            filled AS (
                SELECT g.period_start, g.period_end,
                       coalesce(s.customers_start, 0) AS customers_start,
                       coalesce(s.retained, 0) AS retained,
                       coalesce(s.churned_direct, 0) AS churned_direct,
                       -- revenue: plain UNFLOORED sum of contributions dated in [s, e)
                       coalesce((SELECT sum(r.contribution) FROM revenue_rows AS r
                                 WHERE r.revenue_day >= g.period_start
                                   AND r.revenue_day < g.period_end), {_ZERO}) AS revenue,
                       coalesce(s.lost_revenue, {_ZERO}) AS lost_revenue,
                       coalesce(s.p_prev, {_ZERO}) AS p_prev,
                       coalesce(s.p_now, {_ZERO}) AS p_now,
                       coalesce(s.p_kept, {_ZERO}) AS p_kept,
                       coalesce(s.new_revenue, {_ZERO}) AS new_revenue,
                       coalesce(s.expansion, {_ZERO}) AS expansion,
                       coalesce(s.contraction, {_ZERO}) AS contraction,
                       coalesce(s.churned_revenue, {_ZERO}) AS churned_revenue,
                       coalesce(s.reactivation_revenue, {_ZERO}) AS reactivation_revenue,
                       {_complete_sql(prm)} AS complete
                FROM grid AS g
                CROSS JOIN data_bounds AS b
                LEFT JOIN sums AS s ON s.period_start = g.period_start
            )
            SELECT period_start,
                   period_end,
                   customers_start,
                   customers_start - retained AS churned,
                   {_rate("customers_start - retained", "customers_start")} AS churn_rate,
                   CAST(revenue AS DOUBLE) AS revenue,
                   CAST(p_prev AS DOUBLE) AS previous_revenue,
                   CAST(lost_revenue AS DOUBLE) AS lost_revenue,
                   {_rate("p_now", "p_prev")} AS nrr,
                   {_rate("p_kept", "p_prev")} AS grr,
                   CAST(new_revenue AS DOUBLE) AS new_revenue,
                   CAST(expansion AS DOUBLE) AS expansion,
                   CAST(contraction AS DOUBLE) AS contraction,
                   CAST(churned_revenue AS DOUBLE) AS churned_revenue,
                   CAST(reactivation_revenue AS DOUBLE) AS reactivation_revenue,
                   {quick_ratio} AS quick_ratio,
                   complete,
                   churned_direct
            FROM filled
            ORDER BY period_start
            """
        ).fetchall()
    finally:
        con.close()

    for row in rows:
        churned, churned_direct = row[3], row[-1]
        assert churned == churned_direct, (
            f"churned mismatch in period {row[0]}: CS - retained = {churned}, "
            f"active at s and not at e = {churned_direct}"
        )
    return _to_polars([row[:-1] for row in rows], CHURN_SCHEMA)


def load_sample_orders(path: str | Path) -> pl.DataFrame:
    """Read the sample orders CSV into the canonical order-line shape.

    The CSV has ``order_id,customer_id,order_date,product_id,quantity,amount,
    status,channel`` with ``order_date`` like ``2023-01-05 14:03:00``. It is read
    with DuckDB's ``read_csv`` (independently of retcalc's Polars reader), every
    column as text, and cast explicitly (blank cells -> NULL);
    ``quantity``/``order_id``/``status`` may be absent and become NULL.
    """
    csv_path = Path(path)
    if not csv_path.is_file():
        raise FileNotFoundError(csv_path)
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TEMP TABLE raw_csv AS SELECT * FROM read_csv(?, header = true, "
            "all_varchar = true)",
            [csv_path.as_posix()],
        )
        present = {r[0] for r in con.execute("DESCRIBE raw_csv").fetchall()}
        for required in ("customer_id", "order_date"):
            if required not in present:
                raise ValueError(f"{csv_path}: missing column {required!r}")

        def col(name: str, sql_type: str) -> str:
            if name not in present:
                return f"CAST(NULL AS {sql_type}) AS {name}"
            if sql_type == "VARCHAR":  # text is kept verbatim; blank -> NULL
                return f"CASE WHEN trim({name}) = '' THEN NULL ELSE {name} END AS {name}"
            return f"CAST(nullif(trim({name}), '') AS {sql_type}) AS {name}"

        rows = con.execute(
            "SELECT "
            + ", ".join(
                [
                    col("customer_id", "VARCHAR"),
                    col("order_date", "TIMESTAMP"),
                    col("amount", "DOUBLE"),
                    col("order_id", "VARCHAR"),
                    col("quantity", "DOUBLE"),
                    col("status", "VARCHAR"),
                ]
            )
            + " FROM raw_csv"
        ).fetchall()
    finally:
        con.close()
    return pl.DataFrame(rows, schema=CANONICAL_SCHEMA, orient="row")
