"""Assemble the report: its sections' layout, texts and charts around the Python API.

Every table is the frame the matching command prints (``retcalc kpis``,
``retention``, ``churn``, ``cohorts``, ``clv --model bgnbd``, ``returns``,
``returns --top``), computed by the same :mod:`retcalc.api` function with the same
parameters on the orders read once, so a figure in the report can be checked
against the command. A section whose
inputs are missing (no amount column, no returns information, a CLV model that
the data cannot identify) is left out with the reason; it never fails the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import polars as pl

from retcalc import api
from retcalc.definitions import COLUMNS
from retcalc.errors import InputError, RetcalcWarning
from retcalc.metrics import churn as churn_metrics
from retcalc.metrics import cohorts as cohort_metrics
from retcalc.metrics import kpis as kpi_metrics
from retcalc.metrics import retention as retention_metrics
from retcalc.metrics import returns as returns_metrics
from retcalc.metrics.common import Basis, Params, Prepared
from retcalc.periods import Window
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

#: CLV settings of the report: the defaults of ``retcalc clv --model bgnbd``.
CLV_HORIZON = "1y"  # 365 days
CLV_DISCOUNT_RATE = 0.10  # a year
TOP_PRODUCTS = 10
MIN_UNITS = 20.0


@dataclass(frozen=True)
class Sources:
    """The inputs read once, as the Python API takes them, and the names to show."""

    orders: api.Orders
    customers: api.Customers | None = None
    returns: pl.LazyFrame | None = None
    returns_name: str | None = None

    @property
    def orders_name(self) -> str:
        return self.orders.name

    @property
    def customers_name(self) -> str | None:
        return self.customers.name if self.customers is not None else None

    @property
    def has_amount(self) -> bool:
        return self.has("amount")

    def has(self, column: str) -> bool:
        return column in self.orders.frame.columns


class _LeftOut(Exception):
    """A section cannot be made from these inputs; the message says why."""


def _d(name: str) -> str:
    return COLUMNS[name].meaning


def _after_colon(text: str) -> str:
    return text.split(": ", 1)[1] if ": " in text else text


def _active(basis: Basis, window: Window) -> str:
    if basis is Basis.subscription:
        return "active = signed up before the instant and not yet churned"
    return f"active = ordered in the {window} before the instant"


def _basis(basis: Basis, window: Window) -> str:
    """The basis a section's churn is counted on, said in its definition and table titles."""
    source = "the customers' signup and churn dates" if basis is Basis.subscription else "orders"
    return f"{basis} basis ({source}; {_active(basis, window)})"


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


_T = TypeVar("_T")


def _heard(call: Callable[[], _T]) -> tuple[_T, list[str]]:
    """``call()`` and what it said as :class:`RetcalcWarning` (a section's notes, not
    lines on stderr)."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", RetcalcWarning)
        result = call()
    notes = []
    for message in said:
        if issubclass(message.category, RetcalcWarning):
            notes.append(str(message.message))
        else:
            warnings.warn_explicit(
                message.message, message.category, message.filename, message.lineno
            )
    return result, notes


@dataclass(frozen=True)
class _Context:
    sources: Sources
    basis: Basis  # the basis chosen for retention, the revenue bridge and cohorts
    params: Params
    draw: bool
    ci: float | None = None  # --ci: the rates' intervals, in the tables and as bands

    @property
    def period(self) -> str:
        return str(self.params.period)

    @property
    def window(self) -> Window:
        return self.params.window

    def options(self, **more: Any) -> dict[str, Any]:
        """The report's period, window and range as the API's keyword arguments."""
        p = self.params
        return {
            "period": p.period, "window": p.window, "start": p.start, "end": p.end,
            "as_of": p.as_of, **more,
        }  # fmt: skip

    def on_basis(self) -> dict[str, Any]:
        """:meth:`options` with the customers and the chosen basis."""
        return self.options(customers=self.sources.customers, basis=self.basis)

    def need_amount(self, what: str) -> None:
        if not self.sources.has_amount:
            raise _LeftOut(
                f"{self.sources.orders_name} has no amount column, so there is no {what} "
                "(map one with --amount-col or columns.orders.amount in a spec)"
            )


def _kpis(ctx: _Context) -> Section:
    # The KPIs count on the activity basis whatever the report's basis (as `retcalc kpis`).
    activity = Basis.activity
    table = api.kpis(ctx.sources.orders, **ctx.options(money=ctx.sources.has_amount))
    notes: list[str] = []
    if not ctx.sources.has_amount:
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
                f"({activity} basis)",
                cards,
                rates,
                View.cards,
                machine=False,
            )
        )
    tables.append(ReportTable("kpis", f"KPIs by {ctx.period} ({activity} basis)", table, rates))
    definition = (
        f"Per {ctx.period}: customers with a purchase in it, their orders and net revenue; aov "
        f"is the {_d('aov')}, repeat purchase rate the {_d('repeat_purchase_rate')}, and churn "
        f"rate the {_d('churn_rate')}. Churn on the {_basis(activity, ctx.window)}."
    )
    return Section(
        "kpis",
        TITLES["kpis"],
        definition,
        tables=tuple(tables),
        notes=tuple(notes),
        basis=str(activity),
    )


def _retention(ctx: _Context) -> Section:
    table = api.retention(ctx.sources.orders, ci=ctx.ci, **ctx.on_basis())
    definition = (
        f"Per {ctx.period}: retention rate is the {_d('retention_rate')}, churn rate the "
        f"{_d('churn_rate')}, and crr the {_after_colon(_d('crr'))}. Churn on the "
        f"{_basis(ctx.basis, ctx.window)}."
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
                "Hollow points: period not complete."
                + (f" Shaded: the {ctx.ci:g} interval." if ctx.ci is not None else ""),
            ),
        )
    return Section(
        "retention",
        TITLES["retention"],
        definition,
        tables=(
            ReportTable(
                "retention",
                f"Retention by {ctx.period} ({ctx.basis} basis, window {ctx.window})",
                table,
                retention_metrics.RATE_COLUMNS,
            ),
        ),
        charts=chart_list,
        basis=str(ctx.basis),
    )


_GAINS = (
    ("new_revenue", "new"),
    ("expansion", "expansion"),
    ("reactivation_revenue", "reactivation"),
)
_LOSSES = (("contraction", "contraction"), ("churned_revenue", "churned"))


def _revenue(ctx: _Context) -> Section:
    ctx.need_amount("revenue retention")
    table = api.churn(ctx.sources.orders, ci=ctx.ci, **ctx.on_basis())
    definition = (
        f"Per {ctx.period}: nrr is the {_d('nrr')}, grr caps each customer at their revenue "
        "then, and the bridge splits the change into new, expansion and reactivation revenue "
        "against contraction and churned revenue (quick ratio = gains over losses). Churned "
        f"customers counted on the {_basis(ctx.basis, ctx.window)}."
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
                f"Churn and revenue retention by {ctx.period} ({ctx.basis} basis)",
                table,
                churn_metrics.RATE_COLUMNS,
            ),
        ),
        charts=chart_list,
        basis=str(ctx.basis),
    )


def _cohorts(ctx: _Context) -> Section:
    table = api.cohorts(ctx.sources.orders, ci=ctx.ci, **ctx.on_basis())
    joined = "signup" if ctx.basis is Basis.subscription else "first purchase"
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
    if customers is not None and "segment" in customers.frame.columns:
        source = customers.lazy().select("customer_id", "segment")
        origin = f"segment column of {ctx.sources.customers_name}"
    elif ctx.sources.has("segment"):
        source = ctx.sources.orders.lazy().select("customer_id", "segment")
        origin = f"segment column of {ctx.sources.orders_name}"
    else:
        # Every purchase up to --as-of, as the CLV model sees them.
        rfm = api.rfm(ctx.sources.orders, as_of=ctx.params.as_of, per_customer=True)
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
    # No customers: the report's CLV is before the cost to serve.
    fit, notes = _heard(
        lambda: api.clv_bgnbd_fit(
            ctx.sources.orders,
            as_of=ctx.params.as_of,
            horizon=CLV_HORIZON,
            discount_rate=CLV_DISCOUNT_RATE,
        )
    )
    overall = fit.groups
    scored = fit.customers
    with_segment, origin = _segments(ctx, scored)
    segments = fit.by_group("segment", customers=with_segment).sort(
        "clv", descending=True, nulls_last=True
    )
    definition = (
        "Each customer's expected net revenue over the next 12 months: BG/NBD expected "
        "purchases times the Gamma-Gamma expected order value, discounted at "
        f"{CLV_DISCOUNT_RATE:.0%} a year, fitted on every purchase up to "
        f"{fit.observation_end} (retcalc clv --model bgnbd)."
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
        notes=tuple(notes),
    )


def _returns(ctx: _Context) -> Section:
    options = ctx.options(returns=ctx.sources.returns)
    del options["window"]  # returns count no activity window
    try:
        table, notes = _heard(lambda: api.returns(ctx.sources.orders, **options))
    except InputError as exc:
        if exc.message == returns_metrics.NO_RETURNS_INFO:
            raise _LeftOut(
                "the orders carry no returns information (negative quantities, a "
                "returned/refunded status, refund columns) and no --returns file was given"
            ) from None
        raise
    tables = [
        ReportTable(
            "returns",
            f"Returns by {ctx.period}",
            table,
            returns_metrics.RATE_COLUMNS,
        )
    ]
    chart_list: list[Chart] = []
    if ctx.draw and table.height:
        chart_list.append(
            Chart(
                "returns",
                f"Return rates by {ctx.period}",
                charts.line_chart(
                    table,
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
        top, said = _heard(
            lambda: api.returns(
                ctx.sources.orders,
                **options,
                by="product_id",
                top=TOP_PRODUCTS,
                min_units=MIN_UNITS,
            )
        )
        notes += said
        tables.append(
            ReportTable(
                "worst_products",
                f"Top {TOP_PRODUCTS} products by unit return rate "
                f"(at least {MIN_UNITS:g} units sold)",
                top,
                returns_metrics.RATE_COLUMNS,
            )
        )
        if ctx.draw and top.height:
            chart_list.append(
                Chart(
                    "worst-products",
                    "Products returned most (unit return rate)",
                    charts.bar_chart(
                        top, label="product_id", value="unit_return_rate", percent=True
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
    ci: float | None = None,
) -> Report:
    """The report's sections in the order given; ``prep`` is the groundwork on the chosen
    basis (:func:`retcalc.api.prepare`), for the basis and the range the report states;
    ``charts`` whether to draw images."""
    if params.by:
        raise ValueError("a report is not split by --by")
    ctx = _Context(sources, prep.basis, params, charts, ci)
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
