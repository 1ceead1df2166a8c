"""Definitions of the metrics retcalc prints, and their formulas filled in with a row's numbers.

Each entry says which command prints the metric, what it means (in SPEC.md's
words), and, for derived figures, a formula over other columns of the same
row so that ``retcalc explain`` can show ``(1,310 − 223) / 1,231 = 88.3 %``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    """One metric: the command that prints it, its definition and optional formula."""

    name: str
    command: str
    definition: str
    formula: str | None = None  # e.g. "({customers_end} - {new_customers}) / {customers_start}"
    percent: bool = False


def _m(
    name: str, command: str, definition: str, formula: str | None = None, percent: bool = False
) -> Metric:
    return Metric(name, command, definition, formula, percent)


ACTIVE = "active at x = ordered in [x - W, x), W the --active-window"
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        _m("customers_start", "retention", f"customers active at the period start s; {ACTIVE}"),
        _m("customers_end", "retention", f"customers active at the period end e; {ACTIVE}"),
        _m("new_customers", "retention", "customers whose first purchase ever is in [s, e)"),
        _m("retained", "retention", "customers active at both s and e"),
        _m(
            "churned",
            "retention",
            "customers active at s but not at e",
            "{customers_start} - {retained}",
        ),
        _m(
            "reactivated",
            "retention",
            "customers active at e, not active at s, whose first purchase is before s",
        ),
        _m(
            "new_lost",
            "retention",
            "customers whose first purchase is in [s, e) but who are not active at e",
        ),
        _m("returning", "retention", "customers active at s who purchased inside [s, e)"),
        _m(
            "crr",
            "retention",
            "customer retention rate: customers at the end less the new ones, over customers "
            "at the start",
            "({customers_end} - {new_customers}) / {customers_start}",
            True,
        ),
        _m(
            "retention_rate",
            "retention",
            "share of the customers at the start still active at the end",
            "{retained} / {customers_start}",
            True,
        ),
        _m(
            "churn_rate",
            "retention",
            "share of the customers at the start no longer active at the end",
            "{churned} / {customers_start}",
            True,
        ),
        _m(
            "repeat_rate",
            "retention",
            "share of the customers at the start who purchased during the period",
            "{returning} / {customers_start}",
            True,
        ),
        _m(
            "complete",
            "retention",
            "false when s - W is before the first purchase in the data (the customer base at s "
            "is not fully observed) or when e is after the data end",
        ),
        _m(
            "revenue",
            "churn",
            "net revenue in the period (returns netted into their order's period)",
        ),
        _m(
            "previous_revenue",
            "churn",
            "revenue in the previous period of the customers who had revenue then (the base of "
            "nrr and grr)",
        ),
        _m(
            "nrr",
            "churn",
            "net revenue retention over customers with revenue in the previous period: their "
            "revenue now over their revenue then",
            "({previous_revenue} + {expansion} - {contraction} - {churned_revenue}) / "
            "{previous_revenue}",
            True,
        ),
        _m(
            "grr",
            "churn",
            "gross revenue retention: sum of min(revenue now, revenue then) over the customers "
            "with revenue in the previous period, over their revenue then",
            "({previous_revenue} - {contraction} - {churned_revenue}) / {previous_revenue}",
            True,
        ),
        _m(
            "lost_revenue",
            "churn",
            "revenue in the window [s - W, s) of the customers counted in churned",
        ),
        _m("new_revenue", "churn", "revenue of customers whose first purchase is in the period"),
        _m(
            "expansion",
            "churn",
            "revenue increases of customers who also had revenue in the previous period",
        ),
        _m(
            "contraction",
            "churn",
            "revenue decreases of customers who still have some revenue this period",
        ),
        _m(
            "churned_revenue",
            "churn",
            "previous-period revenue of customers with no revenue this period",
        ),
        _m(
            "reactivation_revenue",
            "churn",
            "revenue of earlier customers who had no revenue in the previous period",
        ),
        _m(
            "quick_ratio",
            "churn",
            "revenue gained over revenue lost",
            "({new_revenue} + {expansion} + {reactivation_revenue}) / "
            "({contraction} + {churned_revenue})",
        ),
        _m(
            "cohort_size",
            "cohorts",
            "customers whose first purchase (or signup) is in the cohort's period",
        ),
        _m(
            "cumulative_revenue_per_customer",
            "cohorts",
            "the cohort's revenue over offsets 0..k divided by the cohort size (the LTV curve)",
        ),
        _m(
            "unit_return_rate",
            "returns",
            "returned units over sold units",
            "{units_returned} / {units_sold}",
            True,
        ),
        _m(
            "value_return_rate",
            "returns",
            "refunded amount over gross sales",
            "{refunded} / {gross_sales}",
            True,
        ),
        _m(
            "order_return_rate",
            "returns",
            "orders with at least one return over orders",
            "{orders_returned} / {orders}",
            True,
        ),
        _m("aov", "kpis", "average order value: revenue over orders", "{revenue} / {orders}"),
        _m(
            "purchase_frequency",
            "kpis",
            "orders per customer",
            "{orders} / {customers}",
        ),
        _m(
            "revenue_per_customer",
            "kpis",
            "revenue over customers with a purchase in the range",
            "{revenue} / {customers}",
        ),
        _m(
            "repeat_purchase_rate",
            "kpis",
            "share of customers with two or more orders in the range",
            percent=True,
        ),
        _m(
            "loyal_customer_rate",
            "kpis",
            "share of customers with at least --loyal-orders (default 4) orders in the range",
            percent=True,
        ),
        _m(
            "median_days_between_purchases",
            "kpis",
            "median gap in days between a customer's consecutive purchase days, pooled",
        ),
        _m(
            "mean_days_between_purchases",
            "kpis",
            "mean gap in days between a customer's consecutive purchase days, pooled",
        ),
        _m(
            "existing_customer_revenue_growth",
            "kpis",
            "revenue in the range from customers who purchased before it, over their revenue in "
            "the previous range of equal length, minus 1",
            percent=True,
        ),
        _m(
            "nps",
            "kpis",
            "net promoter score: % scoring 9-10 minus % scoring 0-6, in points (-100..100)",
        ),
        _m(
            "dso",
            "kpis",
            "days sales outstanding: receivables at the range end over credit sales in the "
            "range, times the days in the range",
        ),
    )
}

_FIELD = re.compile(r"\{([a-z_]+)\}")


def fields(metric: Metric) -> list[str]:
    """The columns a metric's formula uses, each once."""
    return list(dict.fromkeys(_FIELD.findall(metric.formula or "")))


def number(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value - round(value)) > 1e-9 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _shown(value: Any, percent: bool) -> str:
    if value is None:
        return "null (the denominator is 0)"
    if percent:
        return f"{value:.4f} ({value * 100:.1f} %)"
    return number(value)


def filled(metric: Metric, row: Mapping[str, Any]) -> str:
    """The formula with the row's numbers, then ``=`` and the value the command printed."""
    value = row.get(metric.name)
    if metric.formula is None:
        return f"{metric.name} = {_shown(value, metric.percent)}"
    text = _FIELD.sub(lambda m: number(row.get(m.group(1))), metric.formula)
    return f"{metric.name} = {text} = {_shown(value, metric.percent)}"
