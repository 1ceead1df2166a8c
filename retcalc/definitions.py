"""The registry of definitions: every column any command prints, defined once.

Each :class:`Column` gives a column's name, its unit, the commands that print
it, its meaning in SPEC.md's words and, for a figure derived from other columns
of the same row, its formula. Where a column means different things in two
commands, the meaning says so for each (``revenue``, ``customers``,
``frequency``...).

Everything that defines a column reads it from here:

- ``retcalc explain`` lists and prints these entries, and fills the formulas in
  with a row's numbers (:mod:`retcalc.explain`);
- the report's section texts quote the meanings (:mod:`retcalc.report.build`);
- the table "Every column" of docs/definitions.md is :func:`markdown`, written
  by ``scripts/write_definitions.py`` (a test checks that the file equals it);
- a test runs every command and fails on a printed column that has no entry
  here, or an entry that does not name the command that prints it.

The ``*_COLUMNS`` tuples of the metric modules say which columns a command
prints and in which order; this module says what they mean. It imports nothing
heavy (no Polars), so ``explain`` without data starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    """What a column's values are."""

    count = "count"  # type: ignore[assignment]  # (str.count: the member wins, as intended)
    rate = "rate"  # a share or a change as a fraction: 0.25 is 25 %
    ratio = "ratio"  # a quotient that is no share: orders per customer, gains over losses
    money = "money"  # in the currency of the amounts, net of returns
    number = "number"  # a mean or an expected count (fractional)
    days = "days"
    time = "time"  # days, or weeks with --time-unit week
    years = "years"
    periods = "periods"  # calendar periods of --period
    date = "date"  # a calendar day, YYYY-MM-DD
    score = "score"  # a quintile score, 1-5
    points = "points"  # net promoter score, -100..100
    flag = "flag"  # true or false
    text = "text"
    table = "table"  # inspect: a list of rows, each column of which has its entry


@dataclass(frozen=True)
class Column:
    """One printed column: its unit, the commands that print it, its meaning, its formula.

    ``command`` is the command whose table ``explain`` fills the formula in
    from; ``also`` the other commands that print a column of that name (the
    meaning then says what it means in each). ``formula`` is over other columns
    of the same row, e.g. ``"({customers_end} - {new_customers}) / {customers_start}"``.
    """

    name: str
    unit: Unit
    command: str
    meaning: str
    formula: str | None = None
    also: tuple[str, ...] = ()

    @property
    def commands(self) -> tuple[str, ...]:
        return (self.command, *self.also)

    @property
    def percent(self) -> bool:
        """Whether the value is a share shown as a percent."""
        return self.unit is Unit.rate

    @property
    def formula_text(self) -> str | None:
        """The formula as people read it: ``(customers_end - new_customers) / customers_start``."""
        if self.formula is None:
            return None
        return self.formula.replace("{", "").replace("}", "")


def _c(
    name: str,
    unit: Unit,
    command: str,
    meaning: str,
    formula: str | None = None,
    also: tuple[str, ...] = (),
) -> Column:
    return Column(name, unit, command, meaning, formula, also)


ACTIVE = (
    "active at x = ordered in [x - W, x), W the --active-window (subscription basis: signed "
    "up before x, churn_date empty or on or after x)"
)

COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        _c(
            "period_start",
            Unit.date,
            "retention",
            "the first day s of the period [s, e) (calendar-aligned; weeks start on Monday); "
            "cohorts: the first day of the cell's period (offset k after the cohort; empty on the "
            "average rows); forecast: the "
            "first day of offset k's period, the instant at which survivors are counted; "
            "customers: of the period that starts on or contains --period-start",
            also=("churn", "cohorts", "returns", "kpis", "forecast", "compare", "customers"),
        ),
        _c(
            "period_end",
            Unit.date,
            "retention",
            "the end e of the period [s, e): the day after its last day",
            also=("churn", "returns", "kpis", "compare", "customers"),
        ),
        _c(
            "customers_start",
            Unit.count,
            "retention",
            f"customers active at the period start s; {ACTIVE}; in crr, the count given with "
            "--start",
            also=("churn", "crr", "calc"),
        ),
        _c(
            "customers_end",
            Unit.count,
            "retention",
            f"customers active at the period end e; {ACTIVE}; in crr, the count given with --end",
            also=("crr",),
        ),
        _c(
            "new_customers",
            Unit.count,
            "retention",
            "customers whose first purchase ever is in [s, e) (subscription basis: whose first "
            "signup is); kpis: in the range or period; crr: the count given with --new",
            also=("kpis", "crr"),
        ),
        _c(
            "retained",
            Unit.count,
            "retention",
            "customers active at both s and e",
        ),
        _c(
            "churned",
            Unit.count,
            "retention",
            "customers active at s but not at e (--convention baremetrics also counts new_lost: "
            "customers who joined and left in the period)",
            formula="{customers_start} - {retained}",
            also=("churn", "calc"),
        ),
        _c(
            "reactivated",
            Unit.count,
            "retention",
            "customers active at e, not active at s, whose first purchase is before s",
        ),
        _c(
            "new_lost",
            Unit.count,
            "retention",
            "customers whose first purchase is in [s, e) but who are not active at e",
        ),
        _c(
            "returning",
            Unit.count,
            "retention",
            "customers active at s who purchased inside [s, e)",
        ),
        _c(
            "crr",
            Unit.rate,
            "retention",
            "customer retention rate: customers at the end less the new ones, over customers at "
            "the start",
            formula="({customers_end} - {new_customers}) / {customers_start}",
            also=("kpis", "crr"),
        ),
        _c(
            "retention_rate",
            Unit.rate,
            "retention",
            "share of the customers at the start still active at the end; forecast: survivors / "
            "the survivors one offset before (pooled rows: summed over the cohorts observed at k)",
            formula="{retained} / {customers_start}",
            also=("forecast",),
        ),
        _c(
            "churn_rate",
            Unit.rate,
            "retention",
            "share of the customers at the start no longer active at the end",
            formula="{churned} / {customers_start}",
            also=("churn", "kpis", "calc"),
        ),
        _c(
            "repeat_rate",
            Unit.rate,
            "retention",
            "share of the customers at the start who purchased during the period",
            formula="{returning} / {customers_start}",
        ),
        _c(
            "complete",
            Unit.flag,
            "retention",
            "false when s - W is before the first purchase in the data (the customer base at s is"
            " not fully observed) or when e is after the data end (on the subscription basis or "
            "with --active-window all, only the second); cohorts and returns: false when the "
            "cell's or period's end is after the data end (cohorts --brackets: when some member's "
            "bracket is not over; average rows: when some cohort's cell is not complete)",
            also=("churn", "kpis", "cohorts", "returns"),
        ),
        _c(
            "revenue",
            Unit.money,
            "churn",
            "net revenue in the period (returns netted into their order's period); in clv, the "
            "customer's or group's net revenue in the range; in rfm, the summed monetary of the "
            "segment's customers; in cohorts, the net revenue of the cohort's members in offset "
            "k (empty on the average rows); in customers, the customer's net revenue (as clv counts it) before the period end"
            " e (or --as-of, when earlier)",
            also=("kpis", "clv", "rfm", "cohorts", "customers"),
        ),
        _c(
            "previous_revenue",
            Unit.money,
            "churn",
            "revenue in the previous period of the customers who had revenue then (the base of "
            "nrr and grr)",
            also=("calc",),
        ),
        _c(
            "nrr",
            Unit.rate,
            "churn",
            "net revenue retention over customers with revenue in the previous period: their "
            "revenue now over their revenue then",
            formula="({previous_revenue} + {expansion} - {contraction} - {churned_revenue}) / {previous_revenue}",
            also=("calc",),
        ),
        _c(
            "grr",
            Unit.rate,
            "churn",
            "gross revenue retention: sum of min(revenue now, revenue then) over the customers "
            "with revenue in the previous period, over their revenue then",
            formula="({previous_revenue} - {contraction} - {churned_revenue}) / {previous_revenue}",
            also=("calc",),
        ),
        _c(
            "lost_revenue",
            Unit.money,
            "churn",
            "revenue in the window [s - W, s) of the customers counted in churned",
        ),
        _c(
            "new_revenue",
            Unit.money,
            "churn",
            "revenue of customers whose first purchase is in the period",
        ),
        _c(
            "expansion",
            Unit.money,
            "churn",
            "revenue increases of customers who also had revenue in the previous period",
            also=("calc",),
        ),
        _c(
            "contraction",
            Unit.money,
            "churn",
            "revenue decreases of customers who still have some revenue this period",
            also=("calc",),
        ),
        _c(
            "churned_revenue",
            Unit.money,
            "churn",
            "previous-period revenue of customers with no revenue this period",
            also=("calc",),
        ),
        _c(
            "reactivation_revenue",
            Unit.money,
            "churn",
            "revenue of earlier customers who had no revenue in the previous period",
        ),
        _c(
            "quick_ratio",
            Unit.ratio,
            "churn",
            "revenue gained over revenue lost (--convention baremetrics leaves reactivation "
            "revenue out of the gains)",
            formula="({new_revenue} + {expansion} + {reactivation_revenue}) / ({contraction} + {churned_revenue})",
        ),
        _c(
            "revenue_churn_rate",
            Unit.rate,
            "churn",
            "printed only with --convention chartmogul or baremetrics (docs/conventions.md): "
            "revenue lost from the previous period's customers over their previous revenue; "
            "chartmogul nets expansion and reactivation revenue out of the loss ((churned_revenue "
            "+ contraction - expansion - reactivation_revenue) / previous_revenue, its Net MRR "
            "Churn Rate), baremetrics does not ((churned_revenue + contraction) / "
            "previous_revenue, its Revenue Churn)",
        ),
        _c(
            "cohort",
            Unit.date,
            "cohorts",
            "the first day of the cohort's period: the period of its customers' first purchase "
            "(or signup); empty on the average rows of cohorts and the pooled rows of forecast",
            also=("forecast",),
        ),
        _c(
            "offset",
            Unit.periods,
            "cohorts",
            "k: periods since the cohort's period (0 = the cohort's period itself); with "
            "--convention amplitude, whole 1-, 7- or 30-day steps since the customer's first day",
            also=("forecast",),
        ),
        _c(
            "cohort_size",
            Unit.count,
            "cohorts",
            "customers whose first purchase (or signup) is in the cohort's period; cohorts' "
            "average rows: summed over the cohorts that have the offset or bracket; forecast's "
            "pooled rows: the customers of every cohort fitted",
            also=("forecast",),
        ),
        _c(
            "eligible",
            Unit.count,
            "cohorts",
            "cohort members for whom offset k (or the bracket) is over before the data end "
            "(--as-of): offset k's period ends by the data end (then the whole cohort is "
            "eligible, else none of it); a bracket in days: the member's last day of it is "
            "before the data end. Average rows: summed over the cohorts",
        ),
        _c(
            "eligible_active",
            Unit.count,
            "cohorts",
            "the eligible members counted in customers (who purchased in offset k, in k or "
            "later with --mode on-or-after, or in the bracket). Average rows: summed over the "
            "cohorts",
        ),
        _c(
            "retention",
            Unit.rate,
            "cohorts",
            "share of the eligible cohort members who purchased in offset k (--mode "
            "on-or-after: in k or a later offset; --brackets: in the bracket); empty when no "
            "member is eligible (the cell is not over). Average rows: every cohort weighted "
            "by its eligible members",
            formula="{eligible_active} / {eligible}",
        ),
        _c(
            "bracket",
            Unit.text,
            "cohorts",
            "cohorts --brackets: the bracket START-END of offsets, both included (in periods "
            "of --period since the cohort's period, or with --bracket-unit day in days since "
            "the member's first purchase or signup day, day 0 being that day)",
        ),
        _c(
            "bracket_start",
            Unit.number,
            "cohorts",
            "cohorts --brackets: the bracket's first offset (periods, or days with "
            "--bracket-unit day)",
        ),
        _c(
            "bracket_end",
            Unit.number,
            "cohorts",
            "cohorts --brackets: the bracket's last offset, included (periods, or days with "
            "--bracket-unit day)",
        ),
        _c(
            "cumulative_revenue_per_customer",
            Unit.money,
            "cohorts",
            "the cohort's revenue over offsets 0..k divided by the cohort size (the LTV curve); "
            "average rows: the revenue of the cohorts with offset k over, divided by their "
            "eligible members",
        ),
        _c(
            "survivors",
            Unit.count,
            "forecast",
            "cohort members not yet lost at offset k: active at every period boundary from the "
            "end of the cohort's period to the start of offset k's (a customer who lapses stays "
            "lost); the whole cohort at k = 0; empty where not observed",
        ),
        _c(
            "survival_rate",
            Unit.rate,
            "forecast",
            "share of the cohort not yet lost at offset k (pooled rows: the product of the "
            "pooled retention rates up to k)",
            formula="{survivors} / {cohort_size}",
        ),
        _c(
            "observed",
            Unit.flag,
            "forecast",
            "true when offset k's survivors are observed: the period before it ends at or before "
            "the data end",
        ),
        _c(
            "fit",
            Unit.text,
            "forecast",
            "which shifted-beta-geometric parameters give the forecast: cohort (fitted to the "
            "cohort alone) or pooled (fitted to every cohort of the group; a cohort with too few "
            "periods or nobody lost)",
        ),
        _c(
            "survivors_forecast",
            Unit.number,
            "forecast",
            "expected survivors under the model: cohort_size × S(k) up to the last observed "
            "offset K, then survivors at K × S(k) / S(K); S(t) = B(alpha, beta + t) / B(alpha, "
            "beta)",
        ),
        _c(
            "retention_rate_forecast",
            Unit.rate,
            "forecast",
            "the model's retention from offset k - 1 to k: S(k) / S(k - 1) = (beta + t - 1) / "
            "(alpha + beta + t - 1), t = k less the offsets the --active-window keeps everyone",
        ),
        _c(
            "survival_rate_forecast",
            Unit.rate,
            "forecast",
            "expected share of the cohort not yet lost at offset k (pooled rows: S(k))",
            formula="{survivors_forecast} / {cohort_size}",
        ),
        _c(
            "survivors_forecast_lo",
            Unit.number,
            "forecast",
            "--ci: lower end of survivors_forecast's interval (parametric bootstrap percentile, seed "
            "on stderr)",
        ),
        _c(
            "survivors_forecast_hi",
            Unit.number,
            "forecast",
            "--ci: upper end of survivors_forecast's interval (parametric bootstrap percentile, seed "
            "on stderr)",
        ),
        _c(
            "retention_rate_forecast_lo",
            Unit.rate,
            "forecast",
            "--ci: lower end of retention_rate_forecast's interval (parametric bootstrap percentile, seed "
            "on stderr)",
        ),
        _c(
            "retention_rate_forecast_hi",
            Unit.rate,
            "forecast",
            "--ci: upper end of retention_rate_forecast's interval (parametric bootstrap percentile, seed "
            "on stderr)",
        ),
        _c(
            "survival_rate_forecast_lo",
            Unit.rate,
            "forecast",
            "--ci: lower end of survival_rate_forecast's interval (parametric bootstrap percentile, seed "
            "on stderr)",
        ),
        _c(
            "survival_rate_forecast_hi",
            Unit.rate,
            "forecast",
            "--ci: upper end of survival_rate_forecast's interval (parametric bootstrap percentile, seed "
            "on stderr)",
        ),
        _c(
            "orders_returned",
            Unit.count,
            "returns",
            "sale orders with at least one return (a return matching no sale order counts in "
            "the units and money only)",
        ),
        _c(
            "units_sold",
            Unit.count,
            "returns",
            "the quantities of the sale rows (a row without a quantity is one unit)",
        ),
        _c(
            "units_returned",
            Unit.count,
            "returns",
            "the units returned: by the --returns file, negative lines, or returned quantities "
            "and statuses of sale rows (one source per order, no double counting)",
        ),
        _c(
            "gross_sales",
            Unit.money,
            "returns",
            "the amounts of the sale rows, before returns",
        ),
        _c(
            "refunded",
            Unit.money,
            "returns",
            "the money returned, from the same sources as units_returned",
        ),
        _c(
            "unit_return_rate",
            Unit.rate,
            "returns",
            "returned units over sold units",
            formula="{units_returned} / {units_sold}",
        ),
        _c(
            "value_return_rate",
            Unit.rate,
            "returns",
            "refunded amount over gross sales",
            formula="{refunded} / {gross_sales}",
        ),
        _c(
            "order_return_rate",
            Unit.rate,
            "returns",
            "orders with at least one return over orders",
            formula="{orders_returned} / {orders}",
        ),
        _c(
            "aov",
            Unit.money,
            "kpis",
            "average order value: revenue over orders",
            formula="{revenue} / {orders}",
            also=("clv", "calc"),
        ),
        _c(
            "purchase_frequency",
            Unit.ratio,
            "kpis",
            "orders per customer",
            formula="{orders} / {customers}",
        ),
        _c(
            "revenue_per_customer",
            Unit.money,
            "kpis",
            "revenue over customers with a purchase in the range (in clv: the historical CLV)",
            formula="{revenue} / {customers}",
            also=("clv",),
        ),
        _c(
            "repeat_purchase_rate",
            Unit.rate,
            "kpis",
            "share of customers with two or more orders in the range",
            also=("calc",),
        ),
        _c(
            "loyal_customer_rate",
            Unit.rate,
            "kpis",
            "share of customers with at least --loyal-orders (default 4) orders in the range",
        ),
        _c(
            "median_days_between_purchases",
            Unit.days,
            "kpis",
            "median gap in days between a customer's consecutive purchase days, pooled",
        ),
        _c(
            "mean_days_between_purchases",
            Unit.days,
            "kpis",
            "mean gap in days between a customer's consecutive purchase days, pooled",
        ),
        _c(
            "median_days_1_to_2",
            Unit.days,
            "kpis",
            "--by-sequence: median gap in days between the customers' purchase day 1 and "
            "2 (of their whole history)",
        ),
        _c(
            "median_days_2_to_3",
            Unit.days,
            "kpis",
            "--by-sequence: median gap in days between the customers' purchase day 2 and "
            "3 (of their whole history)",
        ),
        _c(
            "median_days_3_to_4",
            Unit.days,
            "kpis",
            "--by-sequence: median gap in days between the customers' purchase day 3 and "
            "4 (of their whole history)",
        ),
        _c(
            "median_days_4_to_5",
            Unit.days,
            "kpis",
            "--by-sequence: median gap in days between the customers' purchase day 4 and "
            "5 (of their whole history)",
        ),
        _c(
            "existing_customer_revenue_growth",
            Unit.rate,
            "kpis",
            "revenue in the range from customers who purchased before it, over their revenue in "
            "the previous range of equal length, minus 1",
        ),
        _c(
            "nps",
            Unit.points,
            "kpis",
            "net promoter score: % scoring 9-10 minus % scoring 0-6, in points (-100..100)",
            also=("calc",),
        ),
        _c(
            "nps_responses",
            Unit.count,
            "kpis",
            "--nps: the responses dated in the range or period",
            also=("calc",),
        ),
        _c(
            "nps_churned",
            Unit.points,
            "kpis",
            "--nps: nps over the responses of customers active at the start but not at the end",
        ),
        _c(
            "nps_retained",
            Unit.points,
            "kpis",
            "--nps: nps over the responses of customers active at the start and at the end",
        ),
        _c(
            "dso",
            Unit.days,
            "kpis",
            "days sales outstanding: receivables at the range end over credit sales in the range,"
            " times the days in the range",
        ),
        _c(
            "active_customers",
            Unit.count,
            "kpis",
            "customers active at the end of the range or period (customers_end); active at x = "
            "ordered in [x - W, x), W the --active-window",
        ),
        _c(
            "customers",
            Unit.count,
            "kpis",
            "customers with a purchase in the range (kpis, clv), in the group (clv), in the "
            "segment (rfm), or in the calibration frequency group (clv --holdout); cohorts: the "
            "cohort's members who purchased in offset k (--mode on-or-after: in k or a later "
            "offset; --brackets: in the bracket), so far as observed; inspect: the distinct customer ids of the file; survival --summary: the "
            "lifetimes followed in the group (subscription basis: subscriptions, a customer "
            "with two signups counts twice)",
            also=("clv", "rfm", "cohorts", "inspect", "survival", "calc"),
        ),
        _c(
            "orders",
            Unit.count,
            "kpis",
            "orders: distinct order_id among purchase rows (a purchase row without one, or a file"
            " without the column, counts each row as an order); returns: the same among sale rows "
            "(not pending, failed or cancelled; not a return line); inspect: the distinct "
            "order ids of the file; customers: the customer's orders (as clv counts them) "
            "before the period end e (or --as-of, when earlier), 0 without any",
            also=("clv", "returns", "inspect", "customers"),
        ),
        _c(
            "customer_id",
            Unit.text,
            "clv",
            "--per-customer: the customer's id as read (trimmed, emails in lower case)",
            also=("rfm", "customers"),
        ),
        _c(
            "orders_per_customer",
            Unit.ratio,
            "clv",
            "historical: orders over customers",
            formula="{orders} / {customers}",
        ),
        _c(
            "first_order",
            Unit.date,
            "clv",
            "historical: the customer's first purchase day in the range; customers: their "
            "first purchase day ever, when it is before the period end e (else empty)",
            also=("customers",),
        ),
        _c(
            "last_order",
            Unit.date,
            "clv",
            "historical: the customer's last purchase day in the range; customers: their last "
            "purchase day before the period end e (or --as-of, when earlier)",
            also=("customers",),
        ),
        _c(
            "tenure_days",
            Unit.days,
            "clv",
            "historical: last_order - first_order, in days",
        ),
        _c(
            "mean_tenure_days",
            Unit.days,
            "clv",
            "historical: the mean of the customers' tenure_days",
        ),
        _c(
            "range_start",
            Unit.date,
            "clv",
            "formula: the first day of the complete calendar years used (kpis: of the range)",
            also=("kpis",),
        ),
        _c(
            "range_end",
            Unit.date,
            "clv",
            "formula: the day after the last of the complete calendar years used, the years "
            "being [range_start, range_end) (kpis: the last day of the range, included)",
            also=("kpis",),
        ),
        _c(
            "complete_years",
            Unit.count,
            "clv",
            "formula: calendar years complete in the data with customers at their start (the "
            "years of the yearly retention table whose complete is true)",
        ),
        _c(
            "customer_years",
            Unit.count,
            "clv",
            "formula: customers counted once for each of those years in which they purchased",
        ),
        _c(
            "purchases_per_year",
            Unit.ratio,
            "clv",
            "formula: orders per customer and year",
            formula="{orders} / {customer_years}",
            also=("calc",),
        ),
        _c(
            "margin",
            Unit.rate,
            "clv",
            "the gross margin as a fraction of revenue (--margin, default 1)",
            also=("calc",),
        ),
        _c(
            "annual_churn_rate",
            Unit.rate,
            "clv",
            "formula: the mean churn_rate of the complete years (churned / customers at the year "
            "start, on the retention table's basis)",
            also=("calc",),
        ),
        _c(
            "expected_lifetime_years",
            Unit.years,
            "clv",
            "formula: 1 / annual_churn_rate",
            formula="1 / {annual_churn_rate}",
            also=("calc",),
        ),
        _c(
            "discount_rate",
            Unit.rate,
            "clv",
            "the yearly discount rate (--discount-rate, default 0.1)",
            also=("calc",),
        ),
        _c(
            "discounted_lifetime_years",
            Unit.years,
            "clv",
            "formula: years of value, each earned at its end by a customer still there and "
            "discounted: the sum over k >= 1 of (1 - c)^(k - 1) / (1 + d)^k = 1 / (c + d)",
            formula="1 / ({annual_churn_rate} + {discount_rate})",
            also=("calc",),
        ),
        _c(
            "clv",
            Unit.money,
            "clv",
            "customer lifetime value. --model formula: aov x purchases_per_year x margin x "
            "discounted_lifetime_years. --model bgnbd, per customer: margin x "
            "expected_avg_order_value x the expected purchases of each month of --horizon, "
            "discounted month by month at --discount-rate; per group, the sum over customers; "
            "customers --with-clv: bgnbd's, fitted on the history to the period end. "
            "calc clv: the formula's on the numbers given",
            also=("calc", "customers"),
        ),
        _c(
            "cost_to_serve",
            Unit.money,
            "clv",
            "from the customers file: the yearly cost of serving a customer; formula: the mean "
            "over the group's customers who purchased in the years used; bgnbd per group: the "
            "summed cost over --horizon of the customers with a known cost",
        ),
        _c(
            "clv_net",
            Unit.money,
            "clv",
            "clv less the cost to serve over the lifetime (formula: cost_to_serve x "
            "discounted_lifetime_years) or the horizon (bgnbd: cost_to_serve x horizon years)",
        ),
        _c(
            "net_clv_negative",
            Unit.flag,
            "clv",
            "true when the group's clv_net is below 0",
        ),
        _c(
            "customers_with_cost",
            Unit.count,
            "clv",
            "bgnbd: customers of the group with a cost_to_serve in the customers file",
        ),
        _c(
            "clv_net_per_customer",
            Unit.money,
            "clv",
            "bgnbd: the mean clv_net of the group's customers with a cost",
        ),
        _c(
            "first_purchase",
            Unit.date,
            "clv",
            "bgnbd: the customer's first purchase day (before --as-of)",
        ),
        _c(
            "last_purchase",
            Unit.date,
            "clv",
            "bgnbd: the customer's last purchase day (before --as-of)",
        ),
        _c(
            "frequency",
            Unit.count,
            "rfm",
            "rfm: the customer's purchase days in the range (orders on one day are one). clv "
            "bgnbd: repeat purchase days, purchase days - 1 (as in lifetimes); clv --holdout: the"
            " calibration frequency of the group's customers (7+ = 7 or more; total = all of them)",
            also=("clv",),
        ),
        _c(
            "recency",
            Unit.time,
            "clv",
            "bgnbd: last purchase day - first purchase day, in --time-unit (days, or days / 7)",
        ),
        _c(
            "T",
            Unit.time,
            "clv",
            "bgnbd: the last observed day (the day before --as-of, else the last purchase day) - "
            "the first purchase day, in --time-unit",
        ),
        _c(
            "monetary_value",
            Unit.money,
            "clv",
            "bgnbd: the mean net revenue of the customer's repeat purchase days (0 without "
            "repeats)",
        ),
        _c(
            "p_alive",
            Unit.rate,
            "clv",
            "bgnbd: the probability that the customer is still active (has not dropped out) at "
            "the end of the observation, from their frequency, recency and T; customers "
            "--with-clv: fitted on the history to the period end (to --as-of or the data end "
            "when the period ends after it)",
            also=("customers",),
        ),
        _c(
            "expected_purchases",
            Unit.number,
            "clv",
            "bgnbd: the expected repeat purchase days over --horizon (per group: the sum); "
            "customers --with-clv: over 1 year from the period end",
            also=("customers",),
        ),
        _c(
            "expected_avg_order_value",
            Unit.money,
            "clv",
            "bgnbd: the Gamma-Gamma expected spend per purchase day given the customer's "
            "monetary_value and frequency",
        ),
        _c(
            "repeat_customers",
            Unit.count,
            "clv",
            "bgnbd: customers of the group with at least one repeat purchase day; calc "
            "repeat-rate: customers with two or more orders (--repeat)",
            also=("calc",),
        ),
        _c(
            "spend_model_customers",
            Unit.count,
            "clv",
            "bgnbd: repeat customers with a positive monetary_value, those the Gamma-Gamma spend "
            "model is fitted on",
        ),
        _c(
            "mean_p_alive",
            Unit.rate,
            "clv",
            "bgnbd: the mean p_alive of the group's customers",
        ),
        _c(
            "clv_per_customer",
            Unit.money,
            "clv",
            "bgnbd: the mean clv of the group's customers",
        ),
        _c(
            "actual_purchases",
            Unit.number,
            "clv",
            "--holdout: the group's purchase days in the holdout (the last --holdout of the data)",
        ),
        _c(
            "predicted_purchases",
            Unit.number,
            "clv",
            "--holdout: the repeat purchase days the model fitted before the holdout expects of "
            "the group in it",
        ),
        _c(
            "actual_per_customer",
            Unit.ratio,
            "clv",
            "--holdout: actual_purchases over customers",
            formula="{actual_purchases} / {customers}",
        ),
        _c(
            "predicted_per_customer",
            Unit.ratio,
            "clv",
            "--holdout: predicted_purchases over customers",
            formula="{predicted_purchases} / {customers}",
        ),
        _c(
            "error",
            Unit.ratio,
            "clv",
            "--holdout: predicted_per_customer - actual_per_customer",
            formula="{predicted_per_customer} - {actual_per_customer}",
        ),
        _c(
            "mean_absolute_error",
            Unit.number,
            "clv",
            "--holdout: the mean over the group's customers of |predicted - actual| purchases",
        ),
        _c(
            "recency_days",
            Unit.days,
            "rfm",
            "--as-of (default the day after the last purchase) - the customer's last purchase "
            "day, in days (1 for a purchase the day before)",
        ),
        _c(
            "monetary",
            Unit.money,
            "rfm",
            "the customer's net revenue in the range (returns netted)",
        ),
        _c(
            "r_score",
            Unit.score,
            "rfm",
            "recency quintile, 1-5: 1 + floor(5 x w / n), w the customers with a larger "
            "recency_days, n the customers (per --by group); equal values share a score",
        ),
        _c(
            "f_score",
            Unit.score,
            "rfm",
            "frequency quintile, 1-5: 1 + floor(5 x w / n), w the customers with a smaller "
            "frequency, n the customers (per --by group); equal values share a score",
        ),
        _c(
            "m_score",
            Unit.score,
            "rfm",
            "monetary quintile, 1-5: 1 + floor(5 x w / n), w the customers with a smaller "
            "monetary, n the customers (per --by group); equal values share a score",
        ),
        _c(
            "rfm_score",
            Unit.text,
            "rfm",
            "r_score, f_score and m_score as three digits, e.g. 545",
        ),
        _c(
            "segment",
            Unit.text,
            "rfm",
            "the customer's RFM segment, from r_score and FM = floor((f_score + m_score) / 2) on "
            "the R x FM grid: Champions, Loyal, Potential loyalist, New, Promising, Need "
            "attention, About to sleep, Cannot lose them, At risk, Hibernating, Lost",
        ),
        _c(
            "share",
            Unit.rate,
            "rfm",
            "the segment's customers over all customers scored (per --by group)",
        ),
        _c(
            "avg_recency_days",
            Unit.days,
            "rfm",
            "the mean recency_days of the segment's customers",
        ),
        _c(
            "avg_frequency",
            Unit.number,
            "rfm",
            "the mean frequency of the segment's customers",
        ),
        _c(
            "avg_monetary",
            Unit.money,
            "rfm",
            "the mean monetary of the segment's customers",
        ),
        # --- survival: Kaplan-Meier curves of customer lifetimes (SPEC §9)
        _c(
            "days",
            Unit.days,
            "survival",
            "days since the lifetime began (signup; activity basis: the first purchase) on "
            "which at least one lifetime ends, with a lapse or censored",
        ),
        _c(
            "at_risk",
            Unit.count,
            "survival",
            "lifetimes still running at the start of that day: begun (or, left-truncated, "
            "entered after --start) before it and not ended before it",
        ),
        _c(
            "events",
            Unit.count,
            "survival",
            "lifetimes that end on that day with a lapse seen before --as-of: a churn_date "
            "(subscription basis) or the last day still active under --active-window after a "
            "purchase not followed by another (activity basis); --summary: in the group",
        ),
        _c(
            "censored",
            Unit.count,
            "survival",
            "lifetimes still running at --as-of (else the data's end), whose last day observed "
            "is that day; --summary: in the group",
        ),
        _c(
            "survival",
            Unit.rate,
            "survival",
            "Kaplan-Meier estimate of the share of lifetimes lasting beyond that many days: the "
            "product over the days so far of (at_risk - events) / at_risk",
        ),
        _c(
            "survival_lo",
            Unit.rate,
            "survival",
            "lower bound of the --ci interval of survival: log-log (exponential Greenwood) "
            "interval, exp(-exp(log(-log S) + z sqrt(V) / (-log S))), z the normal quantile of "
            "the level, V the Greenwood sum of events / (at_risk (at_risk - events))",
        ),
        _c(
            "survival_hi",
            Unit.rate,
            "survival",
            "upper bound of the --ci interval of survival: exp(-exp(log(-log S) - z sqrt(V) / "
            "(-log S))), as survival_lo",
        ),
        _c(
            "median_days",
            Unit.days,
            "survival",
            "--summary: median lifetime, the first day on which survival is 50 % or less; "
            "empty when survival never falls that low",
        ),
        _c(
            "median_lo",
            Unit.days,
            "survival",
            "--summary: lower bound of the median's --ci interval, the first day on which "
            "survival_lo is 50 % or less (empty: never)",
        ),
        _c(
            "median_hi",
            Unit.days,
            "survival",
            "--summary: upper bound of the median's --ci interval, the first day on which "
            "survival_hi is 50 % or less (empty: not reached in the data)",
        ),
        _c(
            "logrank_chi2",
            Unit.number,
            "survival",
            "--summary: the log-rank statistic comparing the --by groups' survival (chi-square"
            " of observed minus expected events); the same on every row, empty without --by",
        ),
        _c(
            "logrank_df",
            Unit.count,
            "survival",
            "--summary: degrees of freedom of the log-rank test, the groups with a lifetime "
            "less one",
        ),
        _c(
            "logrank_p",
            Unit.number,
            "survival",
            "--summary: p-value of the log-rank test: the chance of differences at least this "
            "large between the groups if they all had the same survival",
        ),
        # --- inspect: the findings about a file (its tables and facts)
        _c("file", Unit.text, "inspect", "the file read"),
        _c("kind", Unit.text, "inspect", "orders or customers (--customers)"),
        _c(
            "export",
            Unit.text,
            "inspect",
            "the export layout recognised (shopify, stripe, woocommerce, uci-online-retail, etsy, "
            "square), else null",
        ),
        _c(
            "rows", Unit.count, "inspect", "the file's rows; in statuses, the rows with that status"
        ),
        _c(
            "rows_used",
            Unit.count,
            "inspect",
            "the rows retcalc keeps after reading (the others are said in warnings)",
        ),
        _c(
            "columns",
            Unit.table,
            "inspect",
            "one row per column retcalc knows: column, source, found_by, empty",
        ),
        _c(
            "column",
            Unit.text,
            "inspect",
            "inspect columns: the canonical column (customer_id, order_date, amount...); diff: "
            "the column of the compared output whose figure changed (with --effects, the rate)",
            also=("diff",),
        ),
        _c("source", Unit.text, "inspect", "columns: the file's column read as it, null when none"),
        _c(
            "found_by",
            Unit.text,
            "inspect",
            "columns: how it was found: synonym (a known header), export:NAME (the export "
            "layout), flag (an option such as --customer-col) or config",
        ),
        _c("empty", Unit.count, "inspect", "columns: the rows where that column is empty"),
        _c("unmapped", Unit.text, "inspect", "the file's columns retcalc does not use"),
        _c("warnings", Unit.text, "inspect", "what reading warned about"),
        _c("date_format", Unit.text, "inspect", "the date format used for order_date, and why"),
        _c("first_date", Unit.date, "inspect", "the first order day"),
        _c("last_date", Unit.date, "inspect", "the last order day"),
        _c("order_ids_with_several_lines", Unit.count, "inspect", "order ids on more than one row"),
        _c(
            "order_ids_with_several_customers",
            Unit.count,
            "inspect",
            "order ids on rows of more than one customer",
        ),
        _c(
            "statuses", Unit.table, "inspect", "one row per raw status: status, rows, meaning, from"
        ),
        _c(
            "status",
            Unit.text,
            "inspect",
            "statuses: the raw status as written in the file; customers: the customer's status "
            "in the period [s, e): new (first purchase, or signup, in [s, e)), retained (active "
            "at s and e), churned (active at s, not at e), reactivated (first purchase before s, "
            "active at e, not at s), lapsed (first purchase before s, active at neither), "
            "not_yet_acquired (no first purchase before e)",
            also=("customers",),
        ),
        _c(
            "active_at_start",
            Unit.flag,
            "customers",
            f"active at the period start s ({ACTIVE}); counted, retention's customers_start",
        ),
        _c(
            "active_at_end",
            Unit.flag,
            "customers",
            "active at the period end e; counted, retention's customers_end",
        ),
        _c(
            "is_returning",
            Unit.flag,
            "customers",
            "active at s and purchased inside [s, e); counted, retention's returning",
        ),
        _c(
            "is_new_lost",
            Unit.flag,
            "customers",
            "new in [s, e) but not active at e; counted, retention's new_lost",
        ),
        _c(
            "meaning",
            Unit.text,
            "inspect",
            "statuses: what it means (paid, pending, failed, cancelled, refunded, partially_refunded, returned)",
        ),
        _c(
            "from",
            Unit.text,
            "inspect",
            "statuses: which table gave the meaning: user, layout or built-in (unknown: none, "
            "counted as paid)",
        ),
        _c(
            "currencies",
            Unit.count,
            "inspect",
            "with a currency column: the rows of each currency code",
        ),
        _c(
            "rows_without_currency",
            Unit.count,
            "inspect",
            "with a currency column: the rows whose currency is empty",
        ),
        _c(
            "exact_duplicate_rows",
            Unit.count,
            "inspect",
            "rows that repeat an earlier row exactly (--dedupe drops them)",
        ),
        _c(
            "promoters",
            Unit.count,
            "calc",
            "calc nps: responses scoring 9-10 (--promoters)",
        ),
        _c(
            "passives",
            Unit.count,
            "calc",
            "calc nps: responses scoring 7-8 (--passives)",
        ),
        _c(
            "detractors",
            Unit.count,
            "calc",
            "calc nps: responses scoring 0-6 (--detractors)",
        ),
        _c(
            "sold",
            Unit.number,
            "calc",
            "calc return-rate: units, orders or money sold (--sold)",
        ),
        _c(
            "returned",
            Unit.number,
            "calc",
            "calc return-rate: how much of it came back (--returned)",
        ),
        _c(
            "return_rate",
            Unit.rate,
            "calc",
            "calc return-rate: the share of what was sold that came back",
            formula="{returned} / {sold}",
        ),
        _c(
            "metric",
            Unit.text,
            "compare",
            "the figure compared (--metric): a share (retention_rate, churn_rate or "
            "repeat_rate, as the retention table defines it) or a revenue ratio (nrr, grr as "
            "churn, aov as kpis, value_return_rate as returns)",
        ),
        _c(
            "group_n",
            Unit.count,
            "compare",
            "the base of the group's share in the period (customers_start of the --by group); "
            "for a revenue ratio, the customers in the ratio's sums (nrr, grr: with revenue "
            "in the period before)",
        ),
        _c(
            "group_rate",
            Unit.rate,
            "compare",
            "the group's share in the period: its count (retained, churned or returning) over "
            "group_n",
        ),
        _c(
            "rest_n",
            Unit.count,
            "compare",
            "the base of the rest's share: everybody's customers_start less group_n when each "
            "customer is in one group (a customer attribute); else customers_start computed on "
            "the orders of the other groups (may share customers with the group); for a revenue "
            "ratio, the customers in the other groups' sums",
        ),
        _c(
            "rest_rate",
            Unit.rate,
            "compare",
            "the rest's share in the period: everybody's count less the group's over rest_n "
            "(or the share on the other groups' orders, as rest_n); a revenue ratio: the other "
            "groups' numerators over their denominators, pooled",
        ),
        _c(
            "period_a",
            Unit.date,
            "compare",
            "--between A B: the first day of period A",
        ),
        _c(
            "period_b",
            Unit.date,
            "compare",
            "--between A B: the first day of period B",
        ),
        _c("a_n", Unit.count, "compare", "--between: the share's base in period A"),
        _c("a_rate", Unit.rate, "compare", "--between: the share in period A"),
        _c("b_n", Unit.count, "compare", "--between: the share's base in period B"),
        _c("b_rate", Unit.rate, "compare", "--between: the share in period B"),
        _c(
            "difference",
            Unit.rate,
            "compare",
            "group_rate - rest_rate (--between: b_rate - a_rate), in shares (0.05 is 5 points)",
        ),
        _c(
            "difference_lo",
            Unit.rate,
            "compare",
            "lower end of difference's interval at level 1 - alpha: Newcombe's hybrid score "
            "interval (1998, method 10), d - sqrt((p1 - l1)^2 + (u2 - p2)^2) from the two "
            "Wilson intervals; for a revenue ratio, the alpha/2 quantile of the differences "
            "under the bootstrap's resamples of customers (--ci-resamples, --seed)",
        ),
        _c(
            "difference_hi",
            Unit.rate,
            "compare",
            "upper end of difference's interval: d + sqrt((u1 - p1)^2 + (p2 - l2)^2); for a "
            "revenue ratio, the 1 - alpha/2 quantile of the resampled differences",
        ),
        _c(
            "p_value",
            Unit.number,
            "compare",
            "two-sided p-value of the pooled two-proportion z-test of the two shares; empty "
            "when either base is 0; for a revenue ratio, the bootstrap's two-sided p: "
            "min(1, 2 min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (B + 1)) over the B resamples "
            "with a difference d*",
        ),
        _c(
            "p_adjusted",
            Unit.number,
            "compare",
            "p_value adjusted by Holm's step-down method over every row shown (m = rows with "
            "a p_value)",
        ),
        _c(
            "significant",
            Unit.flag,
            "compare",
            "true when p_adjusted < --alpha (default 0.05)",
        ),
        _c(
            "table",
            Unit.text,
            "diff",
            "two reports: the section and table of the cell, SECTION/TABLE (retention/retention)",
        ),
        _c(
            "old",
            Unit.number,
            "diff",
            "the figure in OLD (with --effects, the pooled rate of the groups in OLD: sum of "
            "w_old * r_old, w a group's share of the rate's denominator); empty when OLD has "
            "none",
        ),
        _c("new", Unit.number, "diff", "the figure in NEW (with --effects, sum of w_new * r_new)"),
        _c("delta", Unit.number, "diff", "new - old: the change of the figure"),
        _c(
            "restated",
            Unit.flag,
            "diff",
            "true when the cell's period had ended in the OLD run (its end on or before OLD's "
            "data end: --as-of, else the day after its last order): a complete period's figure "
            "changed",
        ),
        _c(
            "orders_added",
            Unit.text,
            "diff",
            "--orders: ids of the orders in NEW_INPUT and not OLD_INPUT dated in [s - W, e) "
            "of a restated cell's period [s, e) (W the run's --active-window), comma-separated",
        ),
        _c(
            "orders_removed",
            Unit.text,
            "diff",
            "--orders: ids of the orders in OLD_INPUT and not NEW_INPUT, dated as for orders_added",
        ),
        _c(
            "orders_changed",
            Unit.text,
            "diff",
            "--orders: ids of the orders in both whose customer, first day, amount, refund, "
            "quantity, status or number of lines differ, dated as for orders_added",
        ),
        _c(
            "rate_effect",
            Unit.rate,
            "diff",
            "--effects: the change of the pooled rate due to the groups' rates: sum of w_old * "
            "(r_new - r_old); rate_effect + mix_effect = delta",
        ),
        _c(
            "mix_effect",
            Unit.rate,
            "diff",
            "--effects: the change of the pooled rate due to the groups' weights: sum of "
            "(w_new - w_old) * r_new; a group in one run only has weight 0 in the other",
        ),
    )
}

#: The shares that ``--ci`` gives Wilson score bounds, and the commands that print them
#: (:data:`retcalc.metrics.intervals.SHARES` names their counts; a test keeps the two alike).
INTERVAL_RATES: dict[str, tuple[str, ...]] = {
    "retention_rate": ("retention",),
    "churn_rate": ("retention", "churn", "kpis"),
    "repeat_rate": ("retention",),
    "retention": ("cohorts",),
    "order_return_rate": ("returns",),
    "repeat_purchase_rate": ("kpis",),
    "loyal_customer_rate": ("kpis",),
}
for _rate, _commands in INTERVAL_RATES.items():
    for _side, _end in (("lo", "lower"), ("hi", "upper")):
        COLUMNS[f"{_rate}_{_side}"] = Column(
            f"{_rate}_{_side}",
            Unit.rate,
            _commands[0],
            f"--ci LEVEL: the {_end} end of the Wilson score interval of {_rate} at that level",
            also=_commands[1:],
        )

#: The revenue ratios with bootstrap bounds under --ci (retcalc.metrics.intervals.RATIOS).
BOOTSTRAP_RATES: dict[str, tuple[str, ...]] = {
    "nrr": ("churn",),
    "grr": ("churn",),
    "aov": ("kpis",),
    "value_return_rate": ("returns",),
}
for _rate, _commands in BOOTSTRAP_RATES.items():
    for _side, _end in (("lo", "lower"), ("hi", "upper")):
        COLUMNS[f"{_rate}_{_side}"] = Column(
            f"{_rate}_{_side}",
            COLUMNS[_rate].unit,
            _commands[0],
            f"--ci LEVEL: the {_end} end of {_rate}'s percentile bootstrap interval at that "
            "level (customers resampled with Poisson(1) weights; --ci-resamples, --seed)",
            also=_commands[1:],
        )


def lookup(name: str) -> Column | None:
    """The entry of a column name as typed (exact, else case-insensitive)."""
    found = COLUMNS.get(name.strip())
    if found is not None:
        return found
    folded = {key.lower(): column for key, column in COLUMNS.items()}
    return folded.get(name.strip().lower())


#: The lines around the generated table in docs/definitions.md.
DOCS_START = "<!-- generated from retcalc/definitions.py by scripts/write_definitions.py -->"
DOCS_END = "<!-- end of generated table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The definitions table of docs/definitions.md, one row per column."""
    lines = [
        "| column | unit | printed by | meaning | formula |",
        "|---|---|---|---|---|",
    ]
    for c in COLUMNS.values():
        formula = f"`{_cell(c.formula_text)}`" if c.formula_text else ""
        printed = ", ".join(c.commands)
        lines.append(f"| `{c.name}` | {c.unit} | {printed} | {_cell(c.meaning)} | {formula} |")
    return "\n".join(lines) + "\n"


def _registry_version() -> str:
    """A fingerprint of what every column means: the first 12 hex digits of the SHA-256 of
    each entry's name, unit, meaning and formula, in the registry's order."""
    import hashlib

    digest = hashlib.sha256()
    for c in COLUMNS.values():
        digest.update("\x1f".join((c.name, str(c.unit), c.meaning, c.formula or "")).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()[:12]


#: The definitions' version a run's manifest records (``retcalc diff`` says when two runs
#: differ in it): it changes whenever a column is added or its meaning or formula changes.
VERSION: str = _registry_version()
