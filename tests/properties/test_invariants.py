"""Invariants of the metrics on random order sets (hypothesis), and of reading the same
orders in different shapes.

What SPEC guarantees and is checked here:
- §2.1: CE = retained + reactivated + CN - new_lost; churned = CS - retained;
  crr = (CE - CN) / CS; retention_rate, churn_rate and repeat_rate lie in [0, 1],
  null exactly when CS = 0. crr is not bounded by [0, 1]: reactivations push it
  above 1 and new_lost (a window shorter than the period) below 0; see the two
  worked examples at the end.
- §2.4: churn's churn_rate is retention's; grr in [0, 1] and nrr >= 0, or null.
- §2.5: the cohort sizes add up to the customers with a purchase; retention in [0, 1].
- §2.6: units returned exceed units sold in a period only when a warning says why.
- The figures do not change when the rows are shuffled, split over two files
  (a glob) or stored as Parquet instead of CSV.

Runs are reproducible (``derandomize``, no example database) and small.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retcalc.errors import InputError
from retcalc.io.frames import LoadOptions, load_orders
from retcalc.metrics.churn import churn_table
from retcalc.metrics.cohorts import cohort_table
from retcalc.metrics.common import Params, prepare_activity, prepare_subscription
from retcalc.metrics.retention import retention_table
from retcalc.metrics.returns import returns_table
from retcalc.periods import Period, parse_window

PROPERTIES = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BASE = dt.date(2023, 1, 1)
WINDOWS = ["30d", "1mo", "3mo", "12mo", "all"]

# One sale line: customer, day offset, quantity, cents; and maybe a return of part of it.
LINE = st.tuples(
    st.integers(0, 7),
    st.integers(0, 720),
    st.integers(1, 3),
    st.integers(0, 20_000),
    st.sampled_from([None, None, None, None, "return", "over-return", "cancelled"]),
    st.integers(0, 90),
)


def build_orders(lines: list[tuple[int, int, int, int, str | None, int]]) -> pl.DataFrame:
    """Canonical orders (as the loader makes them) from drawn lines."""
    rows = []
    for i, (customer, day, quantity, cents, extra, later) in enumerate(lines):
        order = f"o{i}"
        status = "cancelled" if extra == "cancelled" else "paid"
        when = BASE + dt.timedelta(days=day)
        rows.append((f"c{customer}", when, float(quantity), cents / 100, order, status))
        if extra in ("return", "over-return"):
            back = quantity + 1 if extra == "over-return" else 1
            rows.append(
                (
                    f"c{customer}",
                    when + dt.timedelta(days=later),
                    float(-back),
                    -cents / 200,
                    order,
                    "returned",
                )
            )
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "day": pl.Date,
            "quantity": pl.Float64,
            "amount": pl.Float64,
            "order_id": pl.String,
            "status": pl.String,
        },
        orient="row",
    )


orders_strategy = st.lists(LINE, min_size=1, max_size=30).map(build_orders)
params_strategy = st.builds(
    lambda period, window: Params(period=period, window=parse_window(window)),
    st.sampled_from([Period.month, Period.quarter]),
    st.sampled_from(WINDOWS),
)


def has_purchase(orders: pl.DataFrame) -> bool:
    return (
        orders.filter(
            (pl.col("quantity") > 0) & ~pl.col("status").is_in(["cancelled", "returned"])
        ).height
        > 0
    )


def in_unit_interval_or_null(values: list[float | None]) -> bool:
    return all(v is None or 0.0 <= v <= 1.0 for v in values)


@PROPERTIES
@given(orders=orders_strategy, params=params_strategy)
def test_retention_identities(orders: pl.DataFrame, params: Params) -> None:
    if not has_purchase(orders):
        return
    table = retention_table(prepare_activity(orders.lazy(), params))
    for row in table.iter_rows(named=True):
        cs, cn, ce = row["customers_start"], row["new_customers"], row["customers_end"]
        assert ce == row["retained"] + row["reactivated"] + cn - row["new_lost"]
        assert row["churned"] + row["retained"] == cs
        assert row["returning"] <= cs
        for rate in ("retention_rate", "churn_rate", "repeat_rate", "crr"):
            assert (row[rate] is None) == (cs == 0), rate
        if cs:
            assert row["crr"] == pytest.approx((ce - cn) / cs)
            if row["reactivated"] == 0:
                assert row["crr"] <= 1.0 + 1e-12
            if row["new_lost"] == 0:
                assert row["crr"] >= 0.0
    for rate in ("retention_rate", "churn_rate", "repeat_rate"):
        assert in_unit_interval_or_null(table[rate].to_list()), rate


SUBSCRIPTION = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 700), st.one_of(st.none(), st.integers(1, 400))),
    min_size=1,
    max_size=15,
)


@PROPERTIES
@given(subs=SUBSCRIPTION, params=params_strategy)
def test_subscription_identities(subs: list[tuple[int, int, int | None]], params: Params) -> None:
    customers = pl.DataFrame(
        [
            (
                f"c{c}",
                BASE + dt.timedelta(days=start),
                None if length is None else BASE + dt.timedelta(days=start + length),
            )
            for c, start, length in subs
        ],
        schema={"customer_id": pl.String, "signup_date": pl.Date, "churn_date": pl.Date},
        orient="row",
    )
    table = retention_table(prepare_subscription(customers.lazy(), None, params))
    for row in table.iter_rows(named=True):
        cs = row["customers_start"]
        assert row["churned"] + row["retained"] == cs
        assert row["customers_end"] == (
            row["retained"] + row["reactivated"] + row["new_customers"] - row["new_lost"]
        )
        assert (row["churn_rate"] is None) == (cs == 0)
    for rate in ("retention_rate", "churn_rate"):
        assert in_unit_interval_or_null(table[rate].to_list()), rate


@PROPERTIES
@given(orders=orders_strategy, params=params_strategy)
def test_churn_agrees_with_retention_and_revenue_rates_are_bounded(
    orders: pl.DataFrame, params: Params
) -> None:
    if not has_purchase(orders):
        return
    prep = prepare_activity(orders.lazy(), params)
    churn = churn_table(prep)
    retention = retention_table(prep)
    assert churn["churn_rate"].to_list() == retention["churn_rate"].to_list()
    assert churn["churned"].to_list() == retention["churned"].to_list()
    assert in_unit_interval_or_null(churn["grr"].to_list())
    assert all(v is None or v >= 0 for v in churn["nrr"].to_list())
    for row in churn.iter_rows(named=True):
        assert (row["nrr"] is None) == (row["previous_revenue"] == 0)


@PROPERTIES
@given(orders=orders_strategy, params=params_strategy)
def test_cohort_sizes_add_up_to_the_customers(orders: pl.DataFrame, params: Params) -> None:
    if not has_purchase(orders):
        return
    table = cohort_table(prepare_activity(orders.lazy(), params), average=False)
    first_cells = table.filter(pl.col("offset") == 0)
    buyers = (
        orders.filter((pl.col("quantity") > 0) & ~pl.col("status").is_in(["cancelled", "returned"]))
        .select(pl.col("customer_id").n_unique())
        .item()
    )
    assert first_cells["cohort_size"].sum() == buyers
    # The whole cohort at offset 0, or null while the cohort's own period is not over.
    assert all(
        r == (1.0 if c else None) for r, c in first_cells.select("retention", "complete").rows()
    )
    assert in_unit_interval_or_null(table["retention"].to_list())
    assert (table["customers"] <= table["cohort_size"]).all()


@PROPERTIES
@given(orders=orders_strategy, params=params_strategy, seed=st.integers(0, 2**16))
def test_row_order_does_not_matter(orders: pl.DataFrame, params: Params, seed: int) -> None:
    if not has_purchase(orders):
        return
    shuffled = orders.sample(fraction=1.0, shuffle=True, seed=seed)
    a, b = prepare_activity(orders.lazy(), params), prepare_activity(shuffled.lazy(), params)
    assert retention_table(a).equals(retention_table(b))
    assert churn_table(a).equals(churn_table(b))
    assert cohort_table(a).equals(cohort_table(b))


@PROPERTIES
@given(orders=orders_strategy, params=params_strategy)
def test_returned_units_exceed_sold_units_only_with_a_warning(
    orders: pl.DataFrame, params: Params
) -> None:
    if not has_purchase(orders):
        return
    if orders.filter(pl.col("quantity") < 0).height == 0:
        with pytest.raises(InputError):  # no returns information: refused, not shown as 0 %
            returns_table(orders.lazy(), params=params)
        return
    result = returns_table(orders.lazy(), params=params)
    over = result.table.filter(pl.col("units_returned") > pl.col("units_sold"))
    if over.height:
        assert result.warnings, over
    if not result.warnings:
        assert in_unit_interval_or_null(result.table["unit_return_rate"].to_list())
        assert in_unit_interval_or_null(result.table["order_return_rate"].to_list())


# The same orders in other shapes: two files, Parquet, shuffled lines.


def as_export(orders: pl.DataFrame) -> pl.DataFrame:
    """The orders as an export would write them (text dates, an order_date column)."""
    return orders.rename({"day": "order_date"}).with_columns(pl.col("order_date").cast(pl.String))


def tables(spec: str, params: Params) -> tuple[pl.DataFrame, pl.DataFrame]:
    loaded = load_orders(spec, LoadOptions(), need_amount=True)
    prep = prepare_activity(loaded.frame.lazy(), params)
    return retention_table(prep), churn_table(prep)


@PROPERTIES
@given(orders=orders_strategy, params=params_strategy, cut=st.integers(0, 100))
def test_one_csv_two_csvs_and_parquet_give_the_same_figures(
    orders: pl.DataFrame, params: Params, cut: int
) -> None:
    if not has_purchase(orders):
        return
    export = as_export(orders)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        export.write_csv(root / "all.csv")
        split = min(cut * export.height // 100, export.height)
        (root / "parts").mkdir()
        export.head(split).write_csv(root / "parts" / "a.csv")
        export.tail(export.height - split).write_csv(root / "parts" / "b.csv")
        orders.rename({"day": "order_date"}).write_parquet(root / "all.parquet")
        expected = tables(str(root / "all.csv"), params)
        for spec in (str(root / "parts" / "*.csv"), str(root / "all.parquet")):
            got = tables(spec, params)
            assert got[0].equals(expected[0]), spec
            assert got[1].equals(expected[1]), spec


# crr outside [0, 1], which SPEC's formula allows.


def february(lines: list[tuple[int, int, int, int, str | None, int]], window: str) -> dict:
    orders = build_orders(lines)
    params = Params(period=Period.month, window=parse_window(window))
    table = retention_table(prepare_activity(orders.lazy(), params))
    return table.filter(pl.col("period_start") == dt.date(2023, 2, 1)).row(0, named=True)


def test_crr_above_one_with_a_reactivation() -> None:
    """Window 30d. c0 buys Jan 5 and Feb 20 (retained); c1 buys Jan 1 (lapsed by Feb 1)
    and Feb 15 (reactivated): CS = 1, CN = 0, CE = 2, crr = 2."""
    row = february(
        [
            (0, 4, 1, 100, None, 0),
            (0, 50, 1, 100, None, 0),
            (1, 0, 1, 100, None, 0),
            (1, 45, 1, 100, None, 0),
        ],
        "30d",
    )
    assert (row["customers_start"], row["new_customers"], row["customers_end"]) == (1, 0, 2)
    assert (row["retained"], row["reactivated"]) == (1, 1)
    assert row["crr"] == 2.0
    assert row["retention_rate"] == 1.0  # the bounded rate stays in [0, 1]


def test_crr_below_zero_with_a_new_customer_lost_inside_the_period() -> None:
    """Window 7d. c0 buys Jan 28 (active on Feb 1, gone by Mar 1); c1 buys only Feb 1
    (new, gone by Mar 1): CS = 1, CN = 1, CE = 0, new_lost = 1, crr = -1."""
    row = february([(0, 27, 1, 100, None, 0), (1, 31, 1, 100, None, 0)], "7d")
    assert (row["customers_start"], row["new_customers"], row["customers_end"]) == (1, 1, 0)
    assert row["new_lost"] == 1
    assert row["crr"] == -1.0
    assert row["churn_rate"] == 1.0
