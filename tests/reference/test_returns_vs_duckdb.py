"""``retcalc returns`` on the shipped sample against independent DuckDB SQL (SPEC §2.6).

The SQL is written straight from the definitions, sharing no code with
``retcalc.metrics.returns``:

- a row is a return line when quantity or amount is negative; it is cancelled
  when its status is cancelled/canceled/voided/void (case-insensitive);
- sale rows: neither; an order's day is the first day of its sale rows, and its
  sale rows count in that day's period;
- return lines of orders with no sale row but a cancelled row are left out;
- a sale row with status returned/refunded is returned in full unless its order
  has return lines;
- a return counts in the period of its order's day (``--by-return-date``: its
  own day); a return whose order_id has no sale counts on its own day and not in
  orders_returned;
- the grid runs from the period of the first sale to the period of the last;
  complete = period_end <= the day after the last sale or return (or --as-of).
"""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
INTERVAL = {"month": "1 month", "quarter": "3 months"}
# No sale at all (SPEC "What a row means"): pending, failed and cancelled rows.
CANCELLED = (
    "('cancelled', 'canceled', 'voided', 'void', 'pending', 'failed', 'declined', "
    "'uncaptured', 'expired')"
)

SQL = """
WITH raw AS (
    SELECT
        NULLIF(trim(order_id), '') AS order_id,
        CAST(substr(order_date, 1, 10) AS DATE) AS d,
        CAST(quantity AS DOUBLE) AS q,
        CAST(amount AS DECIMAL(18, 2)) AS a,
        lower(trim(status)) AS st
    FROM read_csv('{path}', all_varchar = true)
    WHERE CAST(substr(order_date, 1, 10) AS DATE) < DATE '{as_of}'
),
cls AS (
    SELECT *,
        coalesce(q < 0, false) OR coalesce(a < 0, false) AS neg,
        coalesce(st IN {cancelled}, false) AS canc,
        coalesce(st IN ('returned', 'refunded'), false) AS stret
    FROM raw
),
sales AS (SELECT * FROM cls WHERE NOT neg AND NOT canc),
orders AS (SELECT order_id, min(d) AS od FROM sales GROUP BY order_id),
cancelled_orders AS (
    SELECT DISTINCT c.order_id FROM cls c
    WHERE c.canc AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = c.order_id)
),
lines AS (
    SELECT c.order_id, c.d AS rd, abs(coalesce(c.q, 1)) AS units, abs(c.a) AS money FROM cls c
    WHERE c.neg AND NOT c.canc
      AND NOT EXISTS (SELECT 1 FROM cancelled_orders x WHERE x.order_id = c.order_id)
),
marks AS (
    SELECT s.order_id, s.d AS rd, coalesce(s.q, 1) AS units, s.a AS money FROM sales s
    WHERE s.stret AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.order_id = s.order_id)
),
rets AS (
    SELECT r.*, o.od,
        date_trunc('{period}', CASE WHEN {by_return_date} OR o.od IS NULL THEN r.rd ELSE o.od END) AS ps
    FROM (SELECT * FROM lines UNION ALL SELECT * FROM marks) r
    LEFT JOIN orders o ON o.order_id = r.order_id
),
sold AS (
    SELECT s.*, date_trunc('{period}', o.od) AS ps FROM sales s JOIN orders o USING (order_id)
),
bounds AS (
    SELECT date_trunc('{period}', min(d)) AS lo, date_trunc('{period}', max(d)) AS hi,
        least(DATE '{as_of}', greatest(max(d), (SELECT max(rd) FROM rets)) + 1) AS data_end
    FROM sales
),
grid AS (
    SELECT CAST(g.ps AS DATE) AS ps FROM bounds,
        generate_series(bounds.lo, bounds.hi, INTERVAL '{interval}') AS g(ps)
)
SELECT
    grid.ps AS period_start,
    CAST(grid.ps + INTERVAL '{interval}' AS DATE) AS period_end,
    (SELECT count(DISTINCT order_id) FROM sold WHERE sold.ps = grid.ps) AS orders,
    (SELECT count(DISTINCT order_id) FROM rets WHERE rets.ps = grid.ps AND rets.od IS NOT NULL)
        AS orders_returned,
    (SELECT CAST(coalesce(sum(coalesce(q, 1)), 0) AS BIGINT) FROM sold WHERE sold.ps = grid.ps)
        AS units_sold,
    (SELECT CAST(coalesce(sum(units), 0) AS BIGINT) FROM rets WHERE rets.ps = grid.ps)
        AS units_returned,
    (SELECT CAST(coalesce(sum(a), 0) AS DOUBLE) FROM sold WHERE sold.ps = grid.ps) AS gross_sales,
    (SELECT CAST(coalesce(sum(money), 0) AS DOUBLE) FROM rets WHERE rets.ps = grid.ps) AS refunded,
    CAST(grid.ps + INTERVAL '{interval}' AS DATE) <= (SELECT data_end FROM bounds) AS complete
FROM grid
ORDER BY grid.ps
"""


def reference(period: str, *, by_return_date: bool, as_of: str = "9999-12-31") -> pl.DataFrame:
    query = SQL.format(
        path=SAMPLE / "orders.csv",
        period=period,
        interval=INTERVAL[period],
        cancelled=CANCELLED,
        by_return_date="true" if by_return_date else "false",
        as_of=as_of,
    )
    con = duckdb.connect()
    try:
        cursor = con.execute(query)
        names = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    frame = pl.DataFrame(rows, schema=names, orient="row")

    def rate(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) != 0).then(pl.col(num) / pl.col(den)).otherwise(None)

    return frame.with_columns(
        rate("units_returned", "units_sold").alias("unit_return_rate"),
        rate("refunded", "gross_sales").alias("value_return_rate"),
        rate("orders_returned", "orders").alias("order_return_rate"),
    ).select(
        "period_start", "period_end", "orders", "orders_returned", "units_sold", "units_returned",
        "gross_sales", "refunded", "unit_return_rate", "value_return_rate", "order_return_rate",
        "complete",
    )  # fmt: skip


def run_cli(orders: Path, *extra: str) -> pl.DataFrame:
    result = CliRunner().invoke(app, ["returns", str(orders), "--format", "csv", *extra])
    assert result.exit_code == 0, result.output
    return pl.read_csv(io.StringIO(result.stdout), try_parse_dates=True)


def assert_same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert got.columns == expected.columns
    assert got.height == expected.height
    for column in expected.columns:
        want = expected[column].to_list()
        have = got[column].to_list()
        if expected[column].dtype == pl.Float64:
            for i, (x, y) in enumerate(zip(have, want, strict=True)):
                assert (x is None) == (y is None), (column, i)
                if y is not None:
                    assert x == pytest.approx(y, rel=1e-12, abs=1e-9), (column, i)
        else:
            assert have == want, column


CASES = [("month", False), ("month", True), ("quarter", False), ("quarter", True)]


@pytest.mark.parametrize(
    ("period", "by_return_date"),
    CASES,
    ids=[f"{p}-{'return-date' if b else 'order-date'}" for p, b in CASES],
)
def test_returns_match_duckdb(period: str, by_return_date: bool) -> None:
    extra = ["--by-return-date"] if by_return_date else []
    got = run_cli(SAMPLE / "orders.csv", "--period", period, *extra)
    assert_same(got, reference(period, by_return_date=by_return_date))


def test_returns_match_duckdb_with_as_of() -> None:
    got = run_cli(SAMPLE / "orders.csv", "--period", "month", "--as-of", "2025-07-15")
    assert_same(got, reference("month", by_return_date=False, as_of="2025-07-15"))


@pytest.mark.parametrize("by_return_date", [False, True], ids=["order-date", "return-date"])
def test_returns_file_gives_the_same_figures_as_the_negative_lines(
    tmp_path: Path, by_return_date: bool
) -> None:
    orders = pl.read_csv(SAMPLE / "orders.csv", infer_schema=False)
    sales_only = tmp_path / "sales.csv"
    orders.filter(~pl.col("quantity").str.starts_with("-")).write_csv(sales_only)
    assert orders.height - pl.read_csv(sales_only).height == 646
    extra = ["--period", "quarter", *(["--by-return-date"] if by_return_date else [])]
    from_lines = run_cli(SAMPLE / "orders.csv", *extra)
    from_file = run_cli(sales_only, "--returns", str(SAMPLE / "returns.csv"), *extra)
    for column in ("units_returned", "refunded", "orders_returned"):
        assert from_file[column].sum() == pytest.approx(from_lines[column].sum()), column
    assert from_lines["units_returned"].sum() == 981
    assert from_lines["refunded"].sum() == pytest.approx(43963.19)
    assert_same(from_file, from_lines)
    # Both at once: the file and the lines describe the same returns, counted once.
    both = run_cli(SAMPLE / "orders.csv", "--returns", str(SAMPLE / "returns.csv"), *extra)
    assert_same(both, from_lines)
