"""``retcalc report`` is a layer over the Python API: each section's table is what the
API function returns on the same inputs; and ``kpis(money=False)``, which the report's
KPI section uses on orders without amounts."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import polars as pl
import pytest

import retcalc
from tests.api.test_api import CUSTOMERS, ORDERS, as_cli_json
from tests.cli.test_cli_contract import invoke, ok

RETURNS = ORDERS.parent / "returns.csv"


def test_kpis_without_money_counts_orders_without_amounts() -> None:
    # a: two orders (Jan, Feb); b: one (Jan); c: one (Feb). No amount column.
    orders = pl.DataFrame(
        {
            "customer_id": ["a", "b", "a", "c"],
            "order_date": ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10"],
        }
    )
    with pytest.raises(retcalc.InputError, match="no amount column"):
        retcalc.kpis(orders, period="month")
    jan, feb = retcalc.kpis(orders, period="month", money=False).iter_rows(named=True)
    assert (jan["customers"], jan["orders"], jan["new_customers"]) == (2, 2, 2)
    assert (feb["customers"], feb["orders"], feb["new_customers"]) == (2, 2, 1)
    assert feb["purchase_frequency"] == 1.0  # 2 orders / 2 customers
    money = {"revenue", "aov", "revenue_per_customer", "existing_customer_revenue_growth"}
    assert not money & set(retcalc.kpis(orders, money=False).columns)


def test_kpis_without_money_is_kpis_less_the_money_columns() -> None:
    full = retcalc.kpis(ORDERS, period="quarter")
    counts = retcalc.kpis(ORDERS, period="quarter", money=False)
    assert counts.equals(full.select(counts.columns))
    assert set(full.columns) - set(counts.columns) == {
        "revenue",
        "aov",
        "revenue_per_customer",
        "existing_customer_revenue_growth",
    }


def test_report_sections_are_the_api_tables(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    args = ["report", str(ORDERS), "--customers", str(CUSTOMERS), "--returns", str(RETURNS)]
    ok(invoke([*args, "--as-of", "2024-06-01", "--today", "2024-07-15", "-o", str(out)]))
    tables = {k: v["tables"] for k, v in json.loads(out.read_text())["sections"].items()}
    orders = retcalc.read_orders(ORDERS, by="product_id", warn=False)
    people = retcalc.read_customers(CUSTOMERS, warn=False)
    on = {"customers": people, "as_of": "2024-06-01"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {
            ("kpis", "kpis"): retcalc.kpis(orders, period="month", as_of="2024-06-01"),
            ("retention", "retention"): retcalc.retention(orders, **on),
            ("revenue", "churn"): retcalc.churn(orders, **on),
            ("cohorts", "cohorts"): retcalc.cohorts(orders, **on),
            ("clv", "clv"): retcalc.clv_bgnbd(orders, as_of="2024-06-01"),
            ("returns", "returns"): retcalc.returns(orders, returns=RETURNS, as_of="2024-06-01"),
            ("returns", "worst_products"): retcalc.returns(
                orders, returns=RETURNS, as_of="2024-06-01", by="product_id", top=10
            ),
        }
    for (section, name), table in expected.items():
        assert tables[section][name] == as_cli_json(table), (section, name)
    # The segments come from the customers file, summed as the API's by_group sums them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = retcalc.clv_bgnbd_fit(orders, as_of="2024-06-01")
    segments = people.frame.select("customer_id", "segment").unique("customer_id", keep="first")
    with_segment = fit.customers.join(segments, on="customer_id", how="left").with_columns(
        pl.col("segment").fill_null("(none)")
    )
    by_segment = fit.by_group("segment", customers=with_segment).sort(
        "clv", descending=True, nulls_last=True
    )
    assert tables["clv"]["clv_segments"] == as_cli_json(by_segment)
