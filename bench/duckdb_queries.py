"""The tables of retcalc's commands as an analyst would write them in DuckDB SQL (issue 6).

This is the "hand-written query" the benchmark compares retcalc with: plain,
efficient SQL over the same files (a directory of Parquet files or one CSV),
not the deliberately naive reference of ``tests/reference/duckdb_ref.py``. It
shares no code with retcalc. Definitions follow SPEC §2 and the README:

- purchase row: quantity >= 0, amount >= 0 and a status that is not
  returned/refunded/cancelled/canceled/voided/void/failed/declined/uncaptured;
  only purchase *days* make a customer active, new or returning;
- net revenue of a row: a negative row carries -|amount|, a row reversed by its
  status 0, a purchase row its amount; a negative row sharing its order_id with
  a purchase counts on that order's first purchase day. Money is summed as
  DECIMAL(18, 2), so sums are exact;
- periods are ``date_trunc`` periods (weeks start on Monday), half-open; the grid
  runs from the period of the first purchase day to the period of the last;
- active at x = a purchase day in [x - W, x).

Queries (the first argument):

- ``retention``: SPEC §2.1 per period. Active customers per boundary come from a
  range join of the distinct customer-days with the boundary table.
- ``churn``: customers_start, churned and churn_rate as above, revenue, NRR,
  GRR, the revenue bridge and lost_revenue (SPEC §2.4; revenue per customer and
  period floored at 0 for NRR/GRR/bridge, as retcalc does).
- ``cohorts``: cohort size, customers, retention, revenue and cumulative revenue
  per customer per cohort (period of the first purchase) and offset.
- ``returns``: orders, orders_returned, units sold/returned, gross sales,
  refunded, the three rates and ``complete`` (the period ends by the day after
  the last row) per period of the order (negative lines are
  returns; a returned/refunded status marks a whole sale line when the order
  has no negative lines).
- ``summary``: per-customer orders, net revenue, first and last purchase day,
  then the totals of ``retcalc clv --model historical``.

The plain queries (issue 32): the same figures as a short query, the first one
an analyst would try, with none of the edge cases above (no status marks, no
returns without their order, no classified rows CTE):

- ``rates``: per month of the order, the three return rates of ``retcalc
  returns``: sale lines (not negative, not cancelled) and negative lines joined
  on ``order_id``;
- ``customers``: per customer, orders, net revenue, first and last purchase day
  (the columns of ``retcalc clv --model historical --per-customer``), sorted.

Usage: ``python bench/duckdb_queries.py QUERY SOURCE [--period month] [--window 12mo] [--out FILE]
[--memory-limit 12GB]``
(SOURCE: a directory of Parquet files, a Parquet file or a CSV file; --out
defaults to standard output, CSV with a header).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

QUERIES = ("retention", "churn", "cohorts", "returns", "summary", "rates", "customers")

REVERSED = "('returned','refunded','cancelled','canceled','voided','void','failed','declined','uncaptured')"
CANCELLED = "('cancelled','canceled','voided','void','failed','declined','uncaptured')"

# Rows with their classification; every query starts from here.
ROWS = f"""
rows AS (
    SELECT customer_id, order_id, CAST(order_date AS DATE) AS d, quantity,
           CAST(amount AS DECIMAL(18, 2)) AS amount, lower(status) AS status,
           (quantity < 0 OR amount < 0) AS neg,
           lower(status) IN {REVERSED} AS reversed
    FROM src
    WHERE customer_id IS NOT NULL AND order_date IS NOT NULL
),
pd AS (  -- distinct purchase days per customer
    SELECT DISTINCT customer_id, d FROM rows WHERE NOT neg AND NOT reversed
),
firsts AS (SELECT customer_id, min(d) AS f FROM pd GROUP BY customer_id),
lim AS (  -- the grid: first to last purchase period; data end = day after the last purchase
    SELECT CAST(date_trunc('{{unit}}', min(d)) AS DATE) AS g0,
           CAST(date_trunc('{{unit}}', max(d)) AS DATE) AS g1,
           max(d) + 1 AS data_end, min(d) AS first_day
    FROM pd
),
grid AS (
    SELECT CAST(unnest(generate_series(g0, g1, INTERVAL {{period}})) AS DATE) AS s FROM lim
)"""

# Net revenue per customer and revenue day (returns moved onto their order's day).
REVENUE = """
order_day AS (SELECT order_id, min(d) AS od FROM rows WHERE NOT neg AND NOT reversed GROUP BY order_id),
rev AS (
    SELECT r.customer_id,
           CASE WHEN r.neg THEN coalesce(o.od, r.d) ELSE r.d END AS d,
           sum(CASE WHEN r.neg THEN -abs(r.amount) WHEN r.reversed THEN 0 ELSE r.amount END) AS net
    FROM rows r LEFT JOIN order_day o ON r.neg AND o.order_id = r.order_id
    GROUP BY ALL
)"""

# Who is active at each boundary, and per period start s whether at s and at e = s + P.
ACTIVE = """
bounds AS (
    SELECT CAST(unnest(generate_series(g0, g1 + INTERVAL {period}, INTERVAL {period})) AS DATE) AS b
    FROM lim
),
act AS (  -- customers with a purchase day in [b - W, b)
    SELECT DISTINCT bounds.b, pd.customer_id
    FROM bounds JOIN pd ON pd.d >= bounds.b - INTERVAL {window} AND pd.d < bounds.b
),
flags AS (
    SELECT s, customer_id, bool_or(side = 0) AS at_s, bool_or(side = 1) AS at_e
    FROM (
        SELECT b AS s, customer_id, 0 AS side FROM act
        UNION ALL
        SELECT CAST(b - INTERVAL {period} AS DATE) AS s, customer_id, 1 AS side FROM act
    )
    GROUP BY ALL
)"""

RETENTION = f"""
WITH {ROWS}, {ACTIVE},
pp AS (SELECT DISTINCT customer_id, CAST(date_trunc('{{unit}}', d) AS DATE) AS s FROM pd),
counts AS (
    SELECT fl.s,
           count(*) FILTER (WHERE at_s) AS customers_start,
           count(*) FILTER (WHERE at_e) AS customers_end,
           count(*) FILTER (WHERE at_s AND at_e) AS retained,
           count(*) FILTER (WHERE at_e AND NOT at_s AND fi.f < fl.s) AS reactivated,
           count(*) FILTER (WHERE at_e AND fi.f >= fl.s) AS new_active_end,
           count(*) FILTER (WHERE at_s AND pp.s IS NOT NULL) AS "returning"
    FROM flags fl
    JOIN firsts fi USING (customer_id)
    LEFT JOIN pp ON pp.customer_id = fl.customer_id AND pp.s = fl.s
    GROUP BY fl.s
),
newc AS (
    SELECT CAST(date_trunc('{{unit}}', f) AS DATE) AS s, count(*) AS new_customers
    FROM firsts GROUP BY ALL
),
t AS (
    SELECT grid.s, coalesce(customers_start, 0) AS cs, coalesce(new_customers, 0) AS cn,
           coalesce(customers_end, 0) AS ce, coalesce(retained, 0) AS retained,
           coalesce(reactivated, 0) AS reactivated,
           coalesce(new_customers, 0) - coalesce(new_active_end, 0) AS new_lost,
           coalesce("returning", 0) AS "returning"
    FROM grid LEFT JOIN counts USING (s) LEFT JOIN newc USING (s)
)
SELECT s AS period_start, CAST(s + INTERVAL {{period}} AS DATE) AS period_end,
       cs AS customers_start, cn AS new_customers, ce AS customers_end, retained,
       cs - retained AS churned, reactivated, new_lost, "returning",
       (ce - cn) / nullif(cs, 0) AS crr,
       retained / nullif(cs, 0) AS retention_rate,
       (cs - retained) / nullif(cs, 0) AS churn_rate,
       "returning" / nullif(cs, 0) AS repeat_rate,
       NOT (s - INTERVAL {{window}} < lim.first_day) AND s + INTERVAL {{period}} <= lim.data_end AS complete
FROM t, lim
ORDER BY s
"""

CHURN = f"""
WITH {ROWS}, {REVENUE}, {ACTIVE},
per AS (  -- net revenue per customer and period
    SELECT customer_id, CAST(date_trunc('{{unit}}', d) AS DATE) AS s, sum(net) AS raw
    FROM rev GROUP BY ALL
),
fl AS (SELECT customer_id, s, greatest(raw, 0) AS r FROM per),
pairs AS (  -- revenue in k and in k - 1, floored at 0
    SELECT coalesce(c.customer_id, p.customer_id) AS customer_id, coalesce(c.s, p.s) AS s,
           coalesce(c.r, 0) AS rk, coalesce(p.r, 0) AS rp
    FROM fl c
    FULL JOIN (SELECT customer_id, CAST(s + INTERVAL {{period}} AS DATE) AS s, r FROM fl) p
      ON c.customer_id = p.customer_id AND c.s = p.s
),
mov AS (
    SELECT pairs.s,
           sum(rk) FILTER (WHERE rp > 0) AS kept_now,
           sum(rp) FILTER (WHERE rp > 0) AS previous_revenue,
           sum(least(rk, rp)) FILTER (WHERE rp > 0) AS kept_floor,
           sum(rk) FILTER (WHERE date_trunc('{{unit}}', fi.f) = pairs.s) AS new_revenue,
           sum(rk - rp) FILTER (WHERE rp > 0 AND rk > rp) AS expansion,
           sum(rp - rk) FILTER (WHERE rp > 0 AND rk > 0 AND rk < rp) AS contraction,
           sum(rp) FILTER (WHERE rp > 0 AND rk = 0) AS churned_revenue,
           sum(rk) FILTER (WHERE rp = 0 AND rk > 0 AND date_trunc('{{unit}}', fi.f) < pairs.s)
               AS reactivation_revenue
    FROM pairs LEFT JOIN firsts fi USING (customer_id)
    GROUP BY pairs.s
),
tot AS (SELECT s, sum(raw) AS revenue FROM per GROUP BY s),
counts AS (
    SELECT s, count(*) FILTER (WHERE at_s) AS customers_start,
           count(*) FILTER (WHERE at_s AND NOT at_e) AS churned
    FROM flags GROUP BY s
),
lost AS (  -- unfloored revenue in [s - W, s) of the customers who churned in the period at s
    SELECT fl.s, sum(rev.net) AS lost_revenue
    FROM flags fl JOIN rev ON rev.customer_id = fl.customer_id
    WHERE fl.at_s AND NOT fl.at_e AND rev.d >= fl.s - INTERVAL {{window}} AND rev.d < fl.s
    GROUP BY fl.s
)
SELECT grid.s AS period_start, CAST(grid.s + INTERVAL {{period}} AS DATE) AS period_end,
       coalesce(customers_start, 0) AS customers_start, coalesce(churned, 0) AS churned,
       churned / nullif(customers_start, 0) AS churn_rate,
       CAST(coalesce(revenue, 0) AS DOUBLE) AS revenue,
       CAST(coalesce(previous_revenue, 0) AS DOUBLE) AS previous_revenue,
       CAST(coalesce(lost_revenue, 0) AS DOUBLE) AS lost_revenue,
       CAST(kept_now / nullif(previous_revenue, 0) AS DOUBLE) AS nrr,
       CAST(kept_floor / nullif(previous_revenue, 0) AS DOUBLE) AS grr,
       CAST(coalesce(new_revenue, 0) AS DOUBLE) AS new_revenue,
       CAST(coalesce(expansion, 0) AS DOUBLE) AS expansion,
       CAST(coalesce(contraction, 0) AS DOUBLE) AS contraction,
       CAST(coalesce(churned_revenue, 0) AS DOUBLE) AS churned_revenue,
       CAST(coalesce(reactivation_revenue, 0) AS DOUBLE) AS reactivation_revenue,
       CAST((coalesce(new_revenue, 0) + coalesce(expansion, 0) + coalesce(reactivation_revenue, 0))
            / nullif(coalesce(contraction, 0) + coalesce(churned_revenue, 0), 0) AS DOUBLE) AS quick_ratio,
       NOT (grid.s - INTERVAL {{window}} < lim.first_day)
           AND grid.s + INTERVAL {{period}} <= lim.data_end AS complete
FROM grid CROSS JOIN lim
LEFT JOIN counts ON counts.s = grid.s
LEFT JOIN mov ON mov.s = grid.s
LEFT JOIN tot ON tot.s = grid.s
LEFT JOIN lost ON lost.s = grid.s
ORDER BY grid.s
"""

COHORTS = f"""
WITH {ROWS}, {REVENUE},
cohort AS (SELECT customer_id, CAST(date_trunc('{{unit}}', f) AS DATE) AS c FROM firsts),
sizes AS (SELECT c, count(*) AS cohort_size FROM cohort GROUP BY c),
cells AS (  -- every cohort with every period from its own to the last one
    SELECT sizes.c, sizes.cohort_size, grid.s FROM sizes JOIN grid ON grid.s >= sizes.c
),
buyers AS (
    SELECT co.c, CAST(date_trunc('{{unit}}', pd.d) AS DATE) AS s, count(DISTINCT pd.customer_id) AS customers
    FROM pd JOIN cohort co USING (customer_id) GROUP BY ALL
),
money AS (
    SELECT co.c, CAST(date_trunc('{{unit}}', rev.d) AS DATE) AS s, sum(rev.net) AS revenue
    FROM rev JOIN cohort co USING (customer_id) GROUP BY ALL
)
SELECT cells.c AS cohort, date_diff('{{unit}}', cells.c, cells.s) AS "offset", cells.s AS period_start,
       cohort_size, coalesce(customers, 0) AS customers,
       coalesce(customers, 0) / cohort_size AS retention,
       CAST(coalesce(revenue, 0) AS DOUBLE) AS revenue,
       CAST(sum(coalesce(revenue, 0)) OVER (PARTITION BY cells.c ORDER BY cells.s) AS DOUBLE)
           / cohort_size AS cumulative_revenue_per_customer,
       cells.s + INTERVAL {{period}} <= lim.data_end AS complete
FROM cells CROSS JOIN lim
LEFT JOIN buyers ON buyers.c = cells.c AND buyers.s = cells.s
LEFT JOIN money ON money.c = cells.c AND money.s = cells.s
ORDER BY cohort, "offset"
"""

RETURNS = f"""
WITH {ROWS},
orders AS (  -- sale rows per order: not negative, not cancelled; marks of returned lines
    SELECT order_id, min(d) AS od,
           sum(coalesce(quantity, 1)) AS units, sum(amount) AS gross,
           sum(coalesce(quantity, 1)) FILTER (WHERE status IN ('returned', 'refunded')) AS mark_units,
           sum(amount) FILTER (WHERE status IN ('returned', 'refunded')) AS mark_amount
    FROM rows WHERE NOT neg AND coalesce(status NOT IN {CANCELLED}, true)
    GROUP BY order_id
),
neg AS (  -- return lines, on the day of the order they return (else their own)
    SELECT n.order_id, o.order_id IS NOT NULL AS matched, coalesce(o.od, n.d) AS d,
           abs(n.quantity) AS units, abs(n.amount) AS refunded
    FROM rows n LEFT JOIN orders o ON o.order_id = n.order_id
    WHERE n.neg
),
rets AS (  -- negative lines, else the status marks of the order's lines
    SELECT order_id, matched, d, units, refunded FROM neg
    UNION ALL
    SELECT order_id, true, od, mark_units, mark_amount FROM orders
    WHERE mark_units IS NOT NULL AND order_id NOT IN (SELECT order_id FROM neg WHERE order_id IS NOT NULL)
),
sold AS (
    SELECT CAST(date_trunc('{{unit}}', od) AS DATE) AS s, count(*) AS orders,
           sum(units) AS units_sold, sum(gross) AS gross_sales
    FROM orders GROUP BY ALL
),
back AS (
    SELECT CAST(date_trunc('{{unit}}', d) AS DATE) AS s,
           count(DISTINCT order_id) FILTER (WHERE matched) AS orders_returned,
           sum(units) AS units_returned, sum(refunded) AS refunded
    FROM rets GROUP BY ALL
),
periods AS (SELECT s FROM sold UNION SELECT s FROM back)
SELECT periods.s AS period_start, CAST(periods.s + INTERVAL {{period}} AS DATE) AS period_end,
       coalesce(orders, 0) AS orders, coalesce(orders_returned, 0) AS orders_returned,
       coalesce(units_sold, 0) AS units_sold, coalesce(units_returned, 0) AS units_returned,
       CAST(coalesce(gross_sales, 0) AS DOUBLE) AS gross_sales,
       CAST(coalesce(refunded, 0) AS DOUBLE) AS refunded,
       units_returned / nullif(units_sold, 0) AS unit_return_rate,
       CAST(refunded / nullif(gross_sales, 0) AS DOUBLE) AS value_return_rate,
       orders_returned / nullif(orders, 0) AS order_return_rate,
       periods.s + INTERVAL {{period}} <= (SELECT max(d) + 1 FROM rows) AS complete
FROM periods LEFT JOIN sold USING (s) LEFT JOIN back USING (s)
ORDER BY period_start
"""

SUMMARY = f"""
WITH {ROWS},
per_customer AS (
    SELECT customer_id,
           count(DISTINCT order_id) FILTER (WHERE NOT neg AND NOT reversed) AS orders,
           sum(CASE WHEN neg THEN -abs(amount) WHEN reversed THEN 0 ELSE amount END) AS revenue,
           min(d) FILTER (WHERE NOT neg AND NOT reversed) AS first_order,
           max(d) FILTER (WHERE NOT neg AND NOT reversed) AS last_order
    FROM rows GROUP BY customer_id
)
SELECT count(*) AS customers, sum(orders) AS orders, CAST(sum(revenue) AS DOUBLE) AS revenue,
       CAST(sum(revenue) / nullif(sum(orders), 0) AS DOUBLE) AS aov,
       sum(orders) / count(*) AS orders_per_customer,
       CAST(sum(revenue) / count(*) AS DOUBLE) AS revenue_per_customer,
       avg(last_order - first_order) AS mean_tenure_days
FROM per_customer
WHERE orders > 0
"""

RATES = f"""
WITH lines AS (
    SELECT order_id, CAST(order_date AS DATE) AS d, quantity AS q, CAST(amount AS DECIMAL(18, 2)) AS a,
           lower(status) AS status
    FROM src WHERE order_date IS NOT NULL
),
sold AS (
    SELECT order_id, min(d) AS d, sum(q) AS units, sum(a) AS gross FROM lines
    WHERE q >= 0 AND a >= 0 AND status NOT IN {CANCELLED} GROUP BY order_id
),
back AS (SELECT order_id, -sum(q) AS units, -sum(a) AS refunded FROM lines WHERE q < 0 OR a < 0 GROUP BY order_id)
SELECT CAST(date_trunc('{{unit}}', sold.d) AS DATE) AS period_start,
       sum(back.units) / sum(sold.units) AS unit_return_rate,
       CAST(sum(back.refunded) / sum(sold.gross) AS DOUBLE) AS value_return_rate,
       count(back.order_id) / count(*) AS order_return_rate
FROM sold LEFT JOIN back USING (order_id)
GROUP BY ALL ORDER BY period_start
"""

CUSTOMERS = f"""
WITH lines AS (
    SELECT customer_id, order_id, CAST(order_date AS DATE) AS d, CAST(amount AS DECIMAL(18, 2)) AS a,
           quantity < 0 OR amount < 0 AS neg, lower(status) IN {REVERSED} AS reversed
    FROM src WHERE customer_id IS NOT NULL AND order_date IS NOT NULL
)
SELECT customer_id,
       count(DISTINCT order_id) FILTER (WHERE NOT neg AND NOT reversed) AS orders,
       CAST(sum(CASE WHEN neg THEN -abs(a) WHEN reversed THEN 0 ELSE a END) AS DOUBLE) AS revenue,
       min(d) FILTER (WHERE NOT neg AND NOT reversed) AS first_order,
       max(d) FILTER (WHERE NOT neg AND NOT reversed) AS last_order
FROM lines GROUP BY customer_id
HAVING count(*) FILTER (WHERE NOT neg AND NOT reversed) > 0
ORDER BY customer_id
"""

SQL = {
    "retention": RETENTION,
    "churn": CHURN,
    "cohorts": COHORTS,
    "returns": RETURNS,
    "summary": SUMMARY,
    "rates": RATES,
    "customers": CUSTOMERS,
}

PERIODS = {
    "day": ("day", "'1 day'"),
    "week": ("week", "'7 days'"),
    "month": ("month", "'1 month'"),
    "quarter": ("quarter", "'3 months'"),
    "year": ("year", "'1 year'"),
}


def window_interval(text: str) -> str:
    """retcalc's ``12mo``, ``90d``, ``8w``, ``1y`` as a DuckDB interval literal."""
    match = re.fullmatch(r"(\d+)(d|w|mo|m|y)", text.strip().lower())
    if not match:
        raise SystemExit(f"--window {text!r}: use e.g. 12mo, 90d, 8w or 1y")
    n, unit = int(match[1]), match[2]
    return {
        "d": f"'{n} days'",
        "w": f"'{7 * n} days'",
        "mo": f"'{n} months'",
        "m": f"'{n} months'",
        "y": f"'{12 * n} months'",
    }[unit]


def source_sql(source: Path) -> str:
    """The FROM clause reading ``source``: Parquet directory or file, or CSV."""
    if source.is_dir():
        return f"read_parquet('{source.as_posix()}/**/*.parquet')"
    if source.suffix.lower() == ".parquet":
        return f"read_parquet('{source.as_posix()}')"
    return f"read_csv('{source.as_posix()}')"


def query(name: str, *, period: str = "month", window: str = "12mo") -> str:
    unit, every = PERIODS[period]
    return SQL[name].format(unit=unit, period=every, window=window_interval(window))


def run(
    name: str, source: Path, out: str, *, period: str, window: str, memory_limit: str | None = None
) -> None:
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    spill = tempfile.mkdtemp(prefix="duckdb-bench-")  # not ./.tmp in the working tree
    con.execute(f"SET temp_directory = '{spill}'")
    try:
        _copy(con, name, source, out, period=period, window=window)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _copy(
    con: duckdb.DuckDBPyConnection, name: str, source: Path, out: str, *, period: str, window: str
) -> None:
    con.execute(
        "CREATE VIEW src AS SELECT customer_id, order_id, order_date, quantity, amount, status "
        f"FROM {source_sql(source)}"
    )
    target = "/dev/stdout" if out == "-" else out
    sql = query(name, period=period, window=window)
    con.execute(f"COPY ({sql}) TO '{target}' (HEADER, DELIMITER ',')")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", choices=QUERIES)
    parser.add_argument("source", type=Path, help="Parquet directory or file, or a CSV file")
    parser.add_argument("--period", choices=tuple(PERIODS), default="month")
    parser.add_argument("--window", default="12mo")
    parser.add_argument("--out", default="-", help="CSV file to write (default: stdout)")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 12GB (default: DuckDB's)")
    parser.add_argument("--print-sql", action="store_true", help="print the query and exit")
    args = parser.parse_args()
    if args.print_sql:
        print(query(args.query, period=args.period, window=args.window))
        return
    run(
        args.query,
        args.source,
        args.out,
        period=args.period,
        window=args.window,
        memory_limit=args.memory_limit,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
