"""``retcalc cohorts`` on the shipped sample against an independent DuckDB SQL implementation.

The SQL below is written straight from SPEC §2.5 in the most obvious form: a
customer's cohort is ``date_trunc`` of their first purchase day, each cohort
gets one row per period from its own period to the period of the last purchase
(``generate_series``), and each cell counts distinct customers with a purchase
day in that period (mode on) or in that period or later (mode on-or-after) and
sums their net revenue with correlated sub-queries. It shares no code with
``retcalc.metrics``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from tests.reference.duckdb_ref import load_sample_orders

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
STEP = {"month": "INTERVAL 1 MONTH", "quarter": "INTERVAL 3 MONTH", "week": "INTERVAL 7 DAY"}

COHORT_SQL = """
WITH classified AS (
    SELECT
        customer_id,
        CAST(order_date AS DATE) AS day,
        order_id,
        amount,
        coalesce(quantity < 0, false) OR coalesce(amount < 0, false) AS negative,
        -- SPEC "What a row means": pending, failed and cancelled rows are no sale;
        -- returned and refunded rows are purchases given back (revenue 0 without a refund)
        coalesce(lower(trim(status)) IN
            ('pending', 'cancelled', 'canceled', 'voided', 'void', 'expired',
             'failed', 'declined', 'uncaptured'), false) AS reversed,
        coalesce(lower(trim(status)) IN ('returned', 'refunded'), false) AS given_back
    FROM orders
    WHERE customer_id IS NOT NULL AND order_date IS NOT NULL
),
purchases AS (  -- purchase days: rows that are neither negative nor reversed
    SELECT DISTINCT customer_id, day FROM classified WHERE NOT negative AND NOT reversed
),
order_days AS (  -- a return sharing an order_id with a purchase counts on that order's day
    SELECT order_id, min(day) AS order_day
    FROM classified WHERE NOT negative AND NOT reversed AND order_id IS NOT NULL
    GROUP BY order_id
),
revenue AS (
    SELECT
        c.customer_id,
        CASE WHEN c.negative AND o.order_day IS NOT NULL THEN o.order_day ELSE c.day END AS day,
        CAST(CASE WHEN c.negative THEN -abs(coalesce(c.amount, 0))
                  WHEN c.reversed OR c.given_back THEN 0
                  ELSE coalesce(c.amount, 0) END AS DECIMAL(38, 10)) AS amount
    FROM classified c LEFT JOIN order_days o ON c.order_id = o.order_id
),
members AS (
    SELECT customer_id, date_trunc('{period}', min(day)) AS cohort
    FROM purchases GROUP BY customer_id
),
bounds AS (
    SELECT date_trunc('{period}', max(day)) AS last_period, max(day) + 1 AS data_end
    FROM purchases
),
sizes AS (
    SELECT cohort, count(*) AS cohort_size FROM members GROUP BY cohort
),
grid AS (
    SELECT s.cohort, s.cohort_size, CAST(p.period_start AS DATE) AS period_start
    FROM sizes s, bounds b,
         unnest(generate_series(s.cohort, b.last_period, {step})) AS p(period_start)
),
cells AS (
    SELECT
        g.cohort,
        g.period_start,
        g.cohort_size,
        CAST(g.period_start + {step} AS DATE) AS period_end,
        (SELECT count(DISTINCT p.customer_id)
           FROM purchases p JOIN members m USING (customer_id)
          WHERE m.cohort = g.cohort
            AND date_trunc('{period}', p.day) {compare} g.period_start) AS customers,
        (SELECT coalesce(sum(r.amount), 0)
           FROM revenue r JOIN members m USING (customer_id)
          WHERE m.cohort = g.cohort
            AND date_trunc('{period}', r.day) = g.period_start) AS revenue
    FROM grid g
)
SELECT
    CAST(cohort AS DATE) AS cohort,
    row_number() OVER (PARTITION BY cohort ORDER BY period_start) - 1 AS "offset",
    period_start,
    cohort_size,
    customers,
    -- Only a period that is over counts: its cohort is eligible, else no one is.
    CASE WHEN period_end <= (SELECT data_end FROM bounds) THEN customers / cohort_size END
        AS retention,
    CAST(revenue AS DOUBLE) AS revenue,
    CAST(sum(revenue) OVER (PARTITION BY cohort ORDER BY period_start) AS DOUBLE)
        / cohort_size AS cumulative_revenue_per_customer,
    period_end <= (SELECT data_end FROM bounds) AS complete
FROM cells
ORDER BY cohort, period_start
"""

SCHEMA = {
    "cohort": pl.Date,
    "offset": pl.Int64,
    "period_start": pl.Date,
    "cohort_size": pl.Int64,
    "customers": pl.Int64,
    "retention": pl.Float64,
    "revenue": pl.Float64,
    "cumulative_revenue_per_customer": pl.Float64,
    "complete": pl.Boolean,
}


def duckdb_cohorts(orders: pl.DataFrame, *, period: str, mode: str) -> pl.DataFrame:
    """The cohort table in plain SQL (mode ``on`` or ``on-or-after``)."""
    sql = COHORT_SQL.format(period=period, step=STEP[period], compare="=" if mode == "on" else ">=")
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.parquet"
        orders.write_parquet(path)
        con.execute("CREATE TABLE orders AS SELECT * FROM read_parquet(?)", [str(path)])
    rows = con.execute(sql).fetchall()
    con.close()
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


@pytest.fixture(scope="module")
def reference_orders() -> pl.DataFrame:
    return load_sample_orders(SAMPLE / "orders.csv")


def run_cli(*args: str) -> pl.DataFrame:
    result = CliRunner().invoke(
        app, ["cohorts", str(SAMPLE / "orders.csv"), "--format", "csv", *args]
    )
    assert result.exit_code == 0, result.output
    return pl.read_csv(io.StringIO(result.stdout), schema_overrides=SCHEMA)


CASES = [("month", "on"), ("month", "on-or-after"), ("quarter", "on"), ("quarter", "on-or-after")]


@pytest.mark.parametrize(("period", "mode"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_cohorts_match_duckdb(reference_orders: pl.DataFrame, period: str, mode: str) -> None:
    table = run_cli("--period", period, "--mode", mode)
    got = table.filter(pl.col("cohort").is_not_null()).select(list(SCHEMA))
    expected = duckdb_cohorts(reference_orders, period=period, mode=mode)
    assert got.height == expected.height > 0
    exact = ["cohort", "offset", "period_start", "cohort_size", "customers", "complete"]
    assert got.select(exact).equals(expected.select(exact))
    for column in ("retention", "revenue", "cumulative_revenue_per_customer"):
        assert got[column].to_list() == pytest.approx(
            expected[column].to_list(), rel=1e-9, abs=1e-6
        )
    # Every customer with a purchase is in exactly one cohort.
    sizes = got.filter(pl.col("offset") == 0)["cohort_size"].sum()
    assert (
        sizes
        == reference_orders.filter(
            ~(pl.col("quantity") < 0).fill_null(False)
            & ~(pl.col("amount") < 0).fill_null(False)
            & ~pl.col("status").str.to_lowercase().is_in(["cancelled"]).fill_null(False)
        )["customer_id"].n_unique()
    )
    # The average rows: per offset, the eligible cohorts' customers over their sizes.
    complete = expected.filter(pl.col("complete"))
    weighted = (
        expected.group_by("offset")
        .agg(
            pl.col("customers").filter(pl.col("complete")).sum().alias("_active"),
            pl.col("cohort_size").filter(pl.col("complete")).sum().alias("_eligible"),
        )
        .sort("offset")
    )
    averages = table.filter(pl.col("cohort").is_null()).sort("offset")
    assert averages["offset"].to_list() == weighted["offset"].to_list()
    assert averages["eligible"].to_list() == weighted["_eligible"].to_list()
    assert averages["retention"].to_list() == pytest.approx(
        [a / e if e else None for a, e in weighted.select("_active", "_eligible").rows()]
    )
    assert complete.height > 0
