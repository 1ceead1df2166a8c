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
    """One metric: the command that prints it, its definition and optional formula.

    ``command`` is the command whose table ``explain`` fills the formula in from;
    ``also`` the other commands that print a column of that name (the definition
    then says what it means in each).
    """

    name: str
    command: str
    definition: str
    formula: str | None = None  # e.g. "({customers_end} - {new_customers}) / {customers_start}"
    percent: bool = False
    also: tuple[str, ...] = ()

    @property
    def commands(self) -> tuple[str, ...]:
        return (self.command, *self.also)


def _m(
    name: str,
    command: str,
    definition: str,
    formula: str | None = None,
    percent: bool = False,
    also: tuple[str, ...] = (),
) -> Metric:
    return Metric(name, command, definition, formula, percent, also)


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
            "net revenue in the period (returns netted into their order's period); in clv, "
            "the customer's or group's net revenue in the range; in rfm, the summed monetary "
            "of the segment's customers",
            also=("kpis", "clv", "rfm"),
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
        _m(
            "aov",
            "kpis",
            "average order value: revenue over orders",
            "{revenue} / {orders}",
            also=("clv",),
        ),
        _m(
            "purchase_frequency",
            "kpis",
            "orders per customer",
            "{orders} / {customers}",
        ),
        _m(
            "revenue_per_customer",
            "kpis",
            "revenue over customers with a purchase in the range (in clv: the historical CLV)",
            "{revenue} / {customers}",
            also=("clv",),
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
        _m(
            "active_customers",
            "kpis",
            f"customers active at the end of the range or period (customers_end); {ACTIVE}",
        ),
        # --- clv and rfm: one row per customer or per group; explain gives their definitions
        # (the filled-in formula is for the period tables of retention, churn and returns).
        _m(
            "customers",
            "kpis",
            "customers with a purchase in the range (kpis, clv), in the group (clv), in the "
            "segment (rfm), or in the calibration frequency group (clv --holdout)",
            also=("clv", "rfm"),
        ),
        _m(
            "orders",
            "kpis",
            "orders: distinct order_id among purchase rows (a purchase row without one, or a "
            "file without the column, counts each row as an order)",
            also=("clv",),
        ),
        _m(
            "orders_per_customer",
            "clv",
            "historical: orders over customers",
            "{orders} / {customers}",
        ),
        _m("first_order", "clv", "historical: the customer's first purchase day in the range"),
        _m("last_order", "clv", "historical: the customer's last purchase day in the range"),
        _m("tenure_days", "clv", "historical: last_order - first_order, in days"),
        _m("mean_tenure_days", "clv", "historical: the mean of the customers' tenure_days"),
        _m(
            "range_start",
            "clv",
            "formula: the first day of the complete calendar years used (kpis: of the range)",
            also=("kpis",),
        ),
        _m(
            "range_end",
            "clv",
            "formula: the last day of the complete calendar years used (kpis: of the range)",
            also=("kpis",),
        ),
        _m(
            "complete_years",
            "clv",
            "formula: calendar years complete in the data with customers at their start (the "
            "years of the yearly retention table whose complete is true)",
        ),
        _m(
            "customer_years",
            "clv",
            "formula: customers counted once for each of those years in which they purchased",
        ),
        _m(
            "purchases_per_year",
            "clv",
            "formula: orders per customer and year",
            "{orders} / {customer_years}",
        ),
        _m("margin", "clv", "the gross margin as a fraction of revenue (--margin, default 1)"),
        _m(
            "annual_churn_rate",
            "clv",
            "formula: the mean churn_rate of the complete years (churned / customers at the "
            "year start, on the retention table's basis)",
            percent=True,
        ),
        _m(
            "expected_lifetime_years",
            "clv",
            "formula: 1 / annual_churn_rate",
            "1 / {annual_churn_rate}",
        ),
        _m(
            "discount_rate",
            "clv",
            "the yearly discount rate (--discount-rate, default 0.1)",
            percent=True,
        ),
        _m(
            "discounted_lifetime_years",
            "clv",
            "formula: years of value, each earned at its end by a customer still there and "
            "discounted: the sum over k >= 1 of (1 - c)^(k - 1) / (1 + d)^k = 1 / (c + d)",
            "1 / ({annual_churn_rate} + {discount_rate})",
        ),
        _m(
            "clv",
            "clv",
            "customer lifetime value. --model formula: aov x purchases_per_year x margin x "
            "discounted_lifetime_years. --model bgnbd, per customer: margin x "
            "expected_avg_order_value x the expected purchases of each month of --horizon, "
            "discounted month by month at --discount-rate; per group, the sum over customers",
        ),
        _m(
            "cost_to_serve",
            "clv",
            "from the customers file: the yearly cost of serving a customer; formula: the "
            "mean over the group's customers who purchased in the years used; bgnbd per group: "
            "the summed cost over --horizon of the customers with a known cost",
        ),
        _m(
            "clv_net",
            "clv",
            "clv less the cost to serve over the lifetime (formula: cost_to_serve x "
            "discounted_lifetime_years) or the horizon (bgnbd: cost_to_serve x horizon years)",
        ),
        _m("net_clv_negative", "clv", "true when the group's clv_net is below 0"),
        _m(
            "customers_with_cost",
            "clv",
            "bgnbd: customers of the group with a cost_to_serve in the customers file",
        ),
        _m(
            "clv_net_per_customer",
            "clv",
            "bgnbd: the mean clv_net of the group's customers with a cost",
        ),
        _m(
            "first_purchase",
            "clv",
            "bgnbd: the customer's first purchase day (before --as-of)",
        ),
        _m(
            "last_purchase",
            "clv",
            "bgnbd: the customer's last purchase day (before --as-of)",
        ),
        _m(
            "frequency",
            "rfm",
            "rfm: the customer's purchase days in the range (orders on one day are one). clv "
            "bgnbd: repeat purchase days, purchase days - 1 (as in lifetimes); clv --holdout: "
            "the calibration frequency of the group's customers (7 = 7 or more)",
            also=("clv",),
        ),
        _m(
            "recency",
            "clv",
            "bgnbd: last purchase day - first purchase day, in --time-unit (days, or days / 7)",
        ),
        _m(
            "T",
            "clv",
            "bgnbd: the last observed day (the day before --as-of, else the last purchase day) "
            "- the first purchase day, in --time-unit",
        ),
        _m(
            "monetary_value",
            "clv",
            "bgnbd: the mean net revenue of the customer's repeat purchase days (0 without "
            "repeats)",
        ),
        _m(
            "p_alive",
            "clv",
            "bgnbd: the probability that the customer is still active (has not dropped out) at "
            "the end of the observation, from their frequency, recency and T",
        ),
        _m(
            "expected_purchases",
            "clv",
            "bgnbd: the expected repeat purchase days over --horizon (per group: the sum)",
        ),
        _m(
            "expected_avg_order_value",
            "clv",
            "bgnbd: the Gamma-Gamma expected spend per purchase day given the customer's "
            "monetary_value and frequency",
        ),
        _m(
            "repeat_customers",
            "clv",
            "bgnbd: customers of the group with at least one repeat purchase day",
        ),
        _m(
            "spend_model_customers",
            "clv",
            "bgnbd: repeat customers with a positive monetary_value, those the Gamma-Gamma "
            "spend model is fitted on",
        ),
        _m("mean_p_alive", "clv", "bgnbd: the mean p_alive of the group's customers"),
        _m(
            "clv_per_customer",
            "clv",
            "bgnbd: the mean clv of the group's customers",
        ),
        _m(
            "actual_purchases",
            "clv",
            "--holdout: the group's purchase days in the holdout (the last --holdout of the data)",
        ),
        _m(
            "predicted_purchases",
            "clv",
            "--holdout: the repeat purchase days the model fitted before the holdout expects "
            "of the group in it",
        ),
        _m(
            "actual_per_customer",
            "clv",
            "--holdout: actual_purchases over customers",
            "{actual_purchases} / {customers}",
        ),
        _m(
            "predicted_per_customer",
            "clv",
            "--holdout: predicted_purchases over customers",
            "{predicted_purchases} / {customers}",
        ),
        _m(
            "error",
            "clv",
            "--holdout: predicted_per_customer - actual_per_customer",
            "{predicted_per_customer} - {actual_per_customer}",
        ),
        _m(
            "mean_absolute_error",
            "clv",
            "--holdout: the mean over the group's customers of |predicted - actual| purchases",
        ),
        _m(
            "recency_days",
            "rfm",
            "--as-of (default the day after the last purchase) - the customer's last purchase "
            "day, in days (1 for a purchase the day before)",
        ),
        _m(
            "monetary",
            "rfm",
            "the customer's net revenue in the range (returns netted)",
        ),
        _m(
            "r_score",
            "rfm",
            "recency quintile, 1-5: 1 + floor(5 x w / n), w the customers with a larger "
            "recency_days, n the customers (per --by group); equal values share a score",
        ),
        _m(
            "f_score",
            "rfm",
            "frequency quintile, 1-5: 1 + floor(5 x w / n), w the customers with a smaller "
            "frequency, n the customers (per --by group); equal values share a score",
        ),
        _m(
            "m_score",
            "rfm",
            "monetary quintile, 1-5: 1 + floor(5 x w / n), w the customers with a smaller "
            "monetary, n the customers (per --by group); equal values share a score",
        ),
        _m("rfm_score", "rfm", "r_score, f_score and m_score as three digits, e.g. 545"),
        _m(
            "segment",
            "rfm",
            "the customer's RFM segment, from r_score and FM = floor((f_score + m_score) / 2) "
            "on the R x FM grid: Champions, Loyal, Potential loyalist, New, Promising, Need "
            "attention, About to sleep, Cannot lose them, At risk, Hibernating, Lost",
        ),
        _m(
            "share",
            "rfm",
            "the segment's customers over all customers scored (per --by group)",
            percent=True,
        ),
        _m("avg_recency_days", "rfm", "the mean recency_days of the segment's customers"),
        _m("avg_frequency", "rfm", "the mean frequency of the segment's customers"),
        _m("avg_monetary", "rfm", "the mean monetary of the segment's customers"),
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
