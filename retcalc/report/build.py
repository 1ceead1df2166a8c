"""Assemble the report: run the metrics each section needs, draw its charts.

Every table is the frame the matching command prints (``retcalc kpis``,
``retention``, ``churn``, ``cohorts``, ``clv --model bgnbd``, ``returns``,
``returns --top``), computed by the same functions with the same parameters,
so a figure in the report can be checked against the command. A section whose
inputs are missing (no amount column, no returns information, a CLV model that
the data cannot identify) is left out with the reason; it never fails the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from retcalc.definitions import COLUMNS
from retcalc.errors import InputError
from retcalc.metrics import churn as churn_metrics
from retcalc.metrics import cohorts as cohort_metrics
from retcalc.metrics import kpis as kpi_metrics
from retcalc.metrics import retention as retention_metrics
from retcalc.metrics import returns as returns_metrics
from retcalc.metrics import rfm as rfm_metrics
from retcalc.metrics.common import Basis, Params, Prepared, prepare_activity
from retcalc.render import charts
from retcalc.report import SECTIONS
from retcalc.report.model import Chart, Omitted, Report, ReportTable, Section, View
from retcalc.report.output import cap_triangle

"""Section keys in their default order."""

TITLES: dict[str, str] = {
    "kpis": "KPI summary",
    "retention": "Retention and churn",
    "revenue": "Revenue retention and the revenue bridge",
    "cohorts": "Cohorts",
    "clv": "Customer lifetime value",
    "returns": "Returns",
}

#: Money columns of the KPI table, left out when the orders have no amount.
KPI_MONEY = ("revenue", "aov", "revenue_per_customer", kpi_metrics.GROWTH)

#: CLV settings of the report: the defaults of ``retcalc clv --model bgnbd``.
CLV_HORIZON_DAYS = 365.0
CLV_DISCOUNT_RATE = 0.10  # a year
TOP_PRODUCTS = 10
MIN_UNITS = 20.0


@dataclass(frozen=True)
class Sources:
    """The loaded inputs (canonical frames) and the names to show for them."""

    orders: pl.LazyFrame
    customers: pl.LazyFrame | None = None
    returns: pl.LazyFrame | None = None
    orders_name: str = "orders"
    customers_name: str | None = None
    returns_name: str | None = None

    @property
    def has_amount(self) -> bool:
        return "amount" in self.orders.collect_schema()

    def has(self, column: str) -> bool:
        return column in self.orders.collect_schema()


class _LeftOut(Exception):
    """A section cannot be made from these inputs; the message says why."""


def _d(name: str) -> str:
    return COLUMNS[name].meaning


def _after_colon(text: str) -> str:
    return text.split(": ", 1)[1] if ": " in text else text


def _active(prep: Prepared) -> str:
    if prep.basis is Basis.subscription:
        return "active = signed up before the instant and not yet churned"
    return f"active = ordered in the {prep.grid.window} before the instant"


def _basis(prep: Prepared) -> str:
    """The basis a section's churn is counted on, said in its definition and table titles."""
    source = (
        "the customers' signup and churn dates" if prep.basis is Basis.subscription else "orders"
    )
    return f"{prep.basis} basis ({source}; {_active(prep)})"


#: Said in every section that shows churn when the report shows it on two bases.
TWO_BASES = (
    "This report counts churn on two bases: the KPI summary on the activity basis (customers "
    "who stopped ordering), retention and the revenue bridge on the subscription basis "
    "(customers whose subscription ended); their churn rates differ by definition."
)


def _say_two_bases(built: list[Section]) -> list[Section]:
    """``built`` with the TWO_BASES note in each section with churn, when there are two bases."""
    bases = {section.basis for section in built if section.basis}
    if len(bases) < 2:
        return built
    return [
        dataclasses.replace(section, notes=(*section.notes, TWO_BASES))
        if section.basis
        else section
        for section in built
    ]


@dataclass(frozen=True)
class _Context:
    sources: Sources
    prep: Prepared
    params: Params
    draw: bool

    @property
    def period(self) -> str:
        return str(self.params.period)

    def activity(self) -> Prepared:
        if self.prep.basis is Basis.activity:
            return self.prep
        return prepare_activity(self.sources.orders, dataclasses.replace(self.params, by=()))

    def need_amount(self, what: str) -> None:
        if not self.sources.has_amount:
            raise _LeftOut(
                f"{self.sources.orders_name} has no amount column, so there is no {what} "
                "(map one with --amount-col or columns.orders.amount in a spec)"
            )


def _kpis(ctx: _Context) -> Section:
    params = dataclasses.replace(ctx.params, by=())
    activity = ctx.activity()
    table = kpi_metrics.kpi_table(activity, params=params, per_period=True)
    notes: list[str] = []
    if not ctx.sources.has_amount:
        table = table.drop([c for c in KPI_MONEY if c in table.columns])
        notes.append(f"{ctx.sources.orders_name} has no amount column: revenue figures left out")
    complete = table.filter(pl.col("complete"))
    latest = complete.tail(1) if complete.height else table.tail(1)
    if not complete.height:
        notes.append(f"no {ctx.period} is complete yet: the cards show the latest one")
    rates = tuple(c for c in kpi_metrics.RATE_COLUMNS if c in table.columns)
    tables: list[ReportTable] = []
    if latest.height:
        start, end = (
            latest.row(0, named=True)["period_start"],
            latest.row(0, named=True)["period_end"],
        )
        cards = latest.drop("period_start", "period_end", "complete")
        tables.append(
            ReportTable(
                "kpis_latest",
                f"The {'last complete' if complete.height else 'latest (not complete)'} "
                f"{ctx.period}: {start} to {end - dt.timedelta(days=1)} "
                f"({activity.basis} basis)",
                cards,
                rates,
                View.cards,
                machine=False,
            )
        )
    tables.append(
        ReportTable("kpis", f"KPIs by {ctx.period} ({activity.basis} basis)", table, rates)
    )
    definition = (
        f"Per {ctx.period}: customers with a purchase in it, their orders and net revenue; aov "
        f"is the {_d('aov')}, repeat purchase rate the {_d('repeat_purchase_rate')}, and churn "
        f"rate the {_d('churn_rate')}. Churn on the {_basis(activity)}."
    )
    return Section(
        "kpis",
        TITLES["kpis"],
        definition,
        tables=tuple(tables),
        notes=tuple(notes),
        basis=str(activity.basis),
    )


def _retention(ctx: _Context) -> Section:
    table = retention_metrics.retention_table(ctx.prep)
    definition = (
        f"Per {ctx.period}: retention rate is the {_d('retention_rate')}, churn rate the "
        f"{_d('churn_rate')}, and crr the {_after_colon(_d('crr'))}. Churn on the "
        f"{_basis(ctx.prep)}."
    )
    chart_list: tuple[Chart, ...] = ()
    if ctx.draw and table.height:
        svg = charts.line_chart(
            table,
            x="period_start",
            series=[
                ("retention_rate", "retention rate"),
                ("churn_rate", "churn rate"),
                ("crr", "crr"),
            ],
        )
        chart_list = (
            Chart(
                "retention",
                f"Retention rate, churn rate and crr by {ctx.period}",
                svg,
                "Hollow points: period not complete.",
            ),
        )
    return Section(
        "retention",
        TITLES["retention"],
        definition,
        tables=(
            ReportTable(
                "retention",
                f"Retention by {ctx.period} ({ctx.prep.basis} basis, window {ctx.prep.grid.window})",
                table,
                retention_metrics.RATE_COLUMNS,
            ),
        ),
        charts=chart_list,
        basis=str(ctx.prep.basis),
    )


_GAINS = (
    ("new_revenue", "new"),
    ("expansion", "expansion"),
    ("reactivation_revenue", "reactivation"),
)
_LOSSES = (("contraction", "contraction"), ("churned_revenue", "churned"))


def _revenue(ctx: _Context) -> Section:
    ctx.need_amount("revenue retention")
    if ctx.prep.events is None:
        raise _LeftOut("revenue retention needs the orders")
    table = churn_metrics.churn_table(ctx.prep)
    definition = (
        f"Per {ctx.period}: nrr is the {_d('nrr')}, grr caps each customer at their revenue "
        "then, and the bridge splits the change into new, expansion and reactivation revenue "
        "against contraction and churned revenue (quick ratio = gains over losses). Churned "
        f"customers counted on the {_basis(ctx.prep)}."
    )
    chart_list: tuple[Chart, ...] = ()
    if ctx.draw and table.height:
        svg = charts.bridge_chart(table, x="period_start", gains=_GAINS, losses=_LOSSES)
        chart_list = (
            Chart(
                "revenue-bridge",
                f"Revenue bridge by {ctx.period}",
                svg,
                "Gains above zero, losses below.",
            ),
        )
    return Section(
        "revenue",
        TITLES["revenue"],
        definition,
        tables=(
            ReportTable(
                "churn",
                f"Churn and revenue retention by {ctx.period} ({ctx.prep.basis} basis)",
                table,
                churn_metrics.RATE_COLUMNS,
            ),
        ),
        charts=chart_list,
        basis=str(ctx.prep.basis),
    )


def _cohorts(ctx: _Context) -> Section:
    table = cohort_metrics.cohort_table(ctx.prep)
    joined = "signup" if ctx.prep.basis is Basis.subscription else "first purchase"
    definition = (
        f"A cohort is the {_d('cohort_size')}; the cell k {ctx.period}s later is the share of "
        f"them who purchased in that {ctx.period} (retention = "
        f"{COLUMNS['retention'].formula_text})."
    )
    chart_list: tuple[Chart, ...] = ()
    if ctx.draw and table.height:
        svg = charts.heatmap(cap_triangle(table)[0], value="retention")
        chart_list = (
            Chart(
                "cohorts",
                f"Cohort retention by {ctx.period}s since {joined}",
                svg,
                "Faint cells: period not complete.",
            ),
        )
    return Section(
        "cohorts",
        TITLES["cohorts"],
        definition,
        tables=(
            ReportTable(
                "cohorts",
                f"Cohort retention by {ctx.period}s since {joined}",
                table,
                cohort_metrics.RATE_COLUMNS,
                View.triangle,
                value="retention",
            ),
        ),
        charts=chart_list,
    )


def _segments(ctx: _Context, scored: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Each scored customer's segment: the customers file's, else the orders', else RFM."""
    customers = ctx.sources.customers
    if customers is not None and "segment" in customers.collect_schema():
        source = customers.select("customer_id", "segment")
        origin = f"segment column of {ctx.sources.customers_name}"
    elif ctx.sources.has("segment"):
        source = ctx.sources.orders.select("customer_id", "segment")
        origin = f"segment column of {ctx.sources.orders_name}"
    else:
        rfm = rfm_metrics.rfm_scores(
            ctx.sources.orders, params=dataclasses.replace(ctx.params, by=(), start=None, end=None)
        )
        source = rfm.lazy().select("customer_id", "segment")
        origin = "RFM segments of retcalc rfm"
    per_customer = (
        source.filter(pl.col("segment").is_not_null())
        .unique("customer_id", keep="first", maintain_order=True)
        .collect()
    )
    joined = scored.join(per_customer, on="customer_id", how="left").with_columns(
        pl.col("segment").fill_null("(none)")
    )
    return joined, origin


def _clv(ctx: _Context) -> Section:
    ctx.need_amount("customer value")
    # Imported here: the model pulls in scipy, which the other sections do not need.
    from retcalc.metrics import clv as model
    from retcalc.metrics.clv.summary import TimeUnit, rfm_summary

    summary = rfm_summary(ctx.sources.orders, as_of=ctx.params.as_of, time_unit=TimeUnit.day)
    fitted = model.fit_models(summary)
    scored = model.score(
        summary,
        fitted,
        horizon=CLV_HORIZON_DAYS,
        margin=1.0,
        discount_per_month=(1.0 + CLV_DISCOUNT_RATE) ** (1.0 / 12.0) - 1.0,
    )
    overall = model.by_group(scored, (), years=None)
    with_segment, origin = _segments(ctx, scored)
    segments = model.by_group(with_segment, ("segment",), years=None).sort(
        "clv", descending=True, nulls_last=True
    )
    definition = (
        "Each customer's expected net revenue over the next 12 months: BG/NBD expected "
        "purchases times the Gamma-Gamma expected order value, discounted at "
        f"{CLV_DISCOUNT_RATE:.0%} a year, fitted on every purchase up to "
        f"{summary.observation_end} (retcalc clv --model bgnbd)."
    )
    chart_list: list[Chart] = []
    if ctx.draw:
        chart_list.append(
            Chart(
                "clv-distribution",
                "Distribution of CLV per customer (next 12 months)",
                charts.histogram(scored.get_column("clv"), xlabel="clv"),
            )
        )
        if segments.height:
            chart_list.append(
                Chart(
                    "clv-segments",
                    f"CLV by segment ({origin})",
                    charts.bar_chart(segments.head(12), label="segment", value="clv"),
                )
            )
    percent = ("mean_p_alive",)
    return Section(
        "clv",
        TITLES["clv"],
        definition,
        tables=(
            ReportTable("clv", "CLV over all customers (next 12 months)", overall, percent),
            ReportTable(
                "clv_segments", f"CLV by segment, highest first ({origin})", segments, percent
            ),
        ),
        charts=tuple(chart_list),
        notes=fitted.warnings,
    )


def _returns(ctx: _Context) -> Section:
    params = dataclasses.replace(ctx.params, by=())
    try:
        result = returns_metrics.returns_table(
            ctx.sources.orders, params=params, returns=ctx.sources.returns
        )
    except InputError as exc:
        if exc.message == returns_metrics.NO_RETURNS_INFO:
            raise _LeftOut(
                "the orders carry no returns information (negative quantities, a "
                "returned/refunded status, refund columns) and no --returns file was given"
            ) from None
        raise
    notes = list(result.warnings)
    tables = [
        ReportTable(
            "returns",
            f"Returns by {ctx.period}",
            result.table,
            returns_metrics.RATE_COLUMNS,
        )
    ]
    chart_list: list[Chart] = []
    if ctx.draw and result.table.height:
        chart_list.append(
            Chart(
                "returns",
                f"Return rates by {ctx.period}",
                charts.line_chart(
                    result.table,
                    x="period_start",
                    series=[
                        ("unit_return_rate", "unit return rate"),
                        ("value_return_rate", "value return rate"),
                        ("order_return_rate", "order return rate"),
                    ],
                ),
                "Hollow points: period not complete.",
            )
        )
    if ctx.sources.has("product_id"):
        top = returns_metrics.top_returns(
            ctx.sources.orders,
            params=dataclasses.replace(params, by=("product_id",)),
            n=TOP_PRODUCTS,
            min_units=MIN_UNITS,
            returns=ctx.sources.returns,
        )
        tables.append(
            ReportTable(
                "worst_products",
                f"Top {TOP_PRODUCTS} products by unit return rate "
                f"(at least {MIN_UNITS:g} units sold)",
                top.table,
                returns_metrics.RATE_COLUMNS,
            )
        )
        if ctx.draw and top.table.height:
            chart_list.append(
                Chart(
                    "worst-products",
                    "Products returned most (unit return rate)",
                    charts.bar_chart(
                        top.table, label="product_id", value="unit_return_rate", percent=True
                    ),
                )
            )
    else:
        notes.append(f"{ctx.sources.orders_name} has no product_id column: no product ranking")
    definition = (
        f"Per {ctx.period}: unit return rate is {_d('unit_return_rate')}, value return rate "
        f"{_d('value_return_rate')}, and order return rate {_d('order_return_rate')}, each "
        "return counted in the period of the order it returns."
    )
    return Section(
        "returns",
        TITLES["returns"],
        definition,
        tables=tuple(tables),
        charts=tuple(chart_list),
        notes=tuple(dict.fromkeys(notes)),
    )


_BUILDERS: dict[str, Callable[[_Context], Section]] = {
    "kpis": _kpis,
    "retention": _retention,
    "revenue": _revenue,
    "cohorts": _cohorts,
    "clv": _clv,
    "returns": _returns,
}


def build_report(
    sources: Sources,
    *,
    prep: Prepared,
    params: Params,
    sections: Sequence[str] = SECTIONS,
    charts: bool = True,
    title: str | None = None,
    today: dt.date | None = None,
    version: str = "",
) -> Report:
    """The report's sections in the order given; ``prep`` is the groundwork on the chosen
    basis (as ``retcalc retention`` would make it), ``charts`` whether to draw images."""
    if params.by:
        raise ValueError("a report is not split by --by")
    ctx = _Context(sources, prep, params, charts)
    built: list[Section] = []
    omitted: list[Omitted] = []
    for key in sections:
        try:
            built.append(_BUILDERS[key](ctx))
        except _LeftOut as exc:
            omitted.append(Omitted(key, TITLES[key], str(exc)))
        except InputError as exc:
            if key not in ("clv", "returns"):
                raise
            omitted.append(Omitted(key, TITLES[key], exc.message))
    built = _say_two_bases(built)
    last_day = prep.data_end - dt.timedelta(days=1)
    facts: list[tuple[str, str]] = [("orders", sources.orders_name)]
    if sources.customers_name:
        facts.append(("customers", sources.customers_name))
    if sources.returns_name:
        facts.append(("returns", sources.returns_name))
    facts += [
        ("period", str(params.period)),
        ("active window", str(params.window)),
        ("basis", str(prep.basis)),
        ("periods", f"{prep.grid.bounds[0]} to {prep.grid.end - dt.timedelta(days=1)}"),
        ("data up to", str(last_day)),
    ]
    if params.as_of:
        facts.append(("as of", f"{params.as_of} (events on or after it ignored)"))
    footer = "Written by retcalc" + (f" {version}" if version else "")
    if today:
        footer += f" on {today}"
    meta = {
        "title": title or f"Retention report: {sources.orders_name}",
        "orders": sources.orders_name,
        "customers": sources.customers_name,
        "returns": sources.returns_name,
        "period": str(params.period),
        "active_window": str(params.window),
        "basis": str(prep.basis),
        "start": str(prep.grid.bounds[0]),
        "end": str(prep.grid.end),
        "data_end": str(prep.data_end),
        "as_of": str(params.as_of) if params.as_of else None,
        "generated": str(today) if today else None,
        "retcalc_version": version or None,
    }
    return Report(
        title=meta["title"] or "Retention report",
        facts=tuple(facts),
        sections=tuple(built),
        omitted=tuple(omitted),
        order=tuple(sections),
        footer=footer,
        meta=meta,
    )
