"""``retcalc cohorts``: retention and revenue by cohort and period since joining (SPEC §2.5)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from retcalc.cli.options import Common, Confidence, ConventionOption, data_command
from retcalc.cli.runner import (
    emit,
    fail_if_breaches,
    note,
    progress,
    raise_breaches,
    run,
    warn,
)
from retcalc.engines import Level
from retcalc.errors import UsageError
from retcalc.metrics.choices import Basis, BracketUnit, Mode
from retcalc.render import OutputFormat, resolve_format
from retcalc.validate import MAX_COUNT, MAX_OFFSET

COHORTS = "Cohorts"


class TriangleMetric(StrEnum):
    """What the terminal triangle shows in its cells."""

    customers = "customers"
    retention = "retention"
    revenue = "revenue"
    ltv = "ltv"


_COLUMN = {
    TriangleMetric.customers: "customers",
    TriangleMetric.retention: "retention",
    TriangleMetric.revenue: "revenue",
    TriangleMetric.ltv: "cumulative_revenue_per_customer",
}
_LABEL = {
    TriangleMetric.customers: "customers",
    TriangleMetric.retention: "retention",
    TriangleMetric.revenue: "net revenue",
    TriangleMetric.ltv: "cumulative revenue per customer",
}


@data_command
def cohorts(
    common: Common,
    ci: Confidence = None,
    convention: ConventionOption = None,
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            help="on: purchased in the offset; on-or-after: in the offset or any later one.",
            rich_help_panel=COHORTS,
        ),
    ] = Mode.on,
    metric: Annotated[
        TriangleMetric,
        typer.Option(
            "--metric",
            "-m",
            help="What the terminal triangle shows (ltv = cumulative revenue per customer).",
            rich_help_panel=COHORTS,
        ),
    ] = TriangleMetric.retention,
    min_cohort: Annotated[
        int,
        typer.Option(
            "--min-cohort",
            metavar="N",
            min=1,
            max=MAX_COUNT,
            help="Hide cohorts with fewer customers.",
            rich_help_panel=COHORTS,
        ),
    ] = 1,
    max_offset: Annotated[
        int | None,
        typer.Option(
            "--max-offset",
            metavar="N",
            min=0,
            max=MAX_OFFSET,
            help="Show offsets 0..N only.",
            rich_help_panel=COHORTS,
        ),
    ] = None,
    brackets: Annotated[
        str | None,
        typer.Option(
            "--brackets",
            metavar="A-B,C-D,...",
            help=(
                "Bracket retention: the share of each cohort who purchased at least once in "
                "each bracket of offsets (both ends included), e.g. 0,1-3,4-12; in days with "
                "--bracket-unit day."
            ),
            rich_help_panel=COHORTS,
        ),
    ] = None,
    bracket_unit: Annotated[
        BracketUnit,
        typer.Option(
            "--bracket-unit",
            help=(
                "What --brackets counts: period (offsets, as the columns of the triangle) or "
                "day (days since the customer's first purchase or signup; day 0 is that day)."
            ),
            rich_help_panel=COHORTS,
        ),
    ] = BracketUnit.period,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Draw retention by offset (pooled over the complete cells) under the triangle.",
            rich_help_panel=COHORTS,
        ),
    ] = False,
) -> None:
    """Cohorts by first purchase (or signup): customers, retention and revenue per period since."""

    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.cohorts import BRACKET_COLUMNS, COHORT_COLUMNS, RATE_COLUMNS
    from retcalc.metrics.conventions import check_period, convention_for, said
    from retcalc.render.charts import print_offset_chart
    from retcalc.render.triangle import INCOMPLETE_CAPTION, Triangle, write_triangle

    def body() -> None:
        rules = convention_for(convention, "cohorts")
        check_period(rules, common.period)
        shows = COHORT_COLUMNS if brackets is None else BRACKET_COLUMNS
        metric_params = c.params(common, shows=shows, command="cohorts")
        needs_money = metric in (TriangleMetric.revenue, TriangleMetric.ltv)
        if brackets is not None and needs_money:
            raise UsageError(
                f"--metric {metric} with --brackets: brackets show customers and retention; "
                "leave --brackets out for revenue by offset"
            )
        if brackets is not None and plot:
            raise UsageError("--plot draws retention by offset; leave --brackets out for it")
        inputs = c.load(
            common,
            need_amount=needs_money,
            level=Level.days,
            anonymous=True,
            remote=True,
        )
        with progress("Computing cohorts"):
            table = api.cohorts(
                inputs.orders_api(),
                ci=ci,
                customers=inputs.customers_api(),
                basis=common.basis,
                mode=mode,
                min_cohort=min_cohort,
                max_offset=max_offset,
                brackets=brackets,
                bracket_unit=bracket_unit,
                convention=convention,
                **c.metric_options(common),
            )
        if convention is not None:
            note(said(rules, "cohorts"))
        basis = api.basis_of(inputs.customers_api(), common.basis)
        # --fail-if looks at the latest complete cell of each offset (and --by group).
        keys = (*metric_params.by, "offset" if brackets is None else "bracket")
        chosen = resolve_format(common.fmt, common.output, stdout_is_tty=sys.stdout.isatty())
        to_stdout = common.output is None or str(common.output) == "-"
        if plot and not (chosen is OutputFormat.table and to_stdout):
            warn("--plot draws under the triangle on standard output; no chart with this output")
        if chosen is not OutputFormat.table:
            emit(
                table,
                fmt=chosen,
                output=common.output,
                percent_columns=RATE_COLUMNS,
                title=None,
                inputs=inputs.paths,
                excel_safe=common.excel_safe,
                fail_if=common.fail_if or (),
                keys=keys,
            )
            return
        breaches = fail_if_breaches(table, common.fail_if or (), keys)
        joined = "signup" if basis is Basis.subscription else "first purchase"
        average = "last row: all cohorts, weighted by their eligible customers"
        if brackets is None:
            title = (
                f"Cohort {_LABEL[metric]} by {common.period} ({basis} basis, mode {mode}); "
                f"columns: {common.period}s since {joined}; {average}"
            )
        else:
            unit = "day" if bracket_unit is BracketUnit.day else common.period
            since = f"{joined} day" if bracket_unit is BracketUnit.day else joined
            title = (
                f"Cohort {_LABEL[metric]} by {common.period} ({basis} basis), in brackets of "
                f"{unit}s since {since}; {average}"
            )
        spec = Triangle(
            value=_COLUMN[metric],
            keys=metric_params.by,
            percent=metric is TriangleMetric.retention,
            title=title,
            overflow_hint="use --max-offset or a longer --period (e.g. quarter)",
            column="offset" if brackets is None else "bracket",
            order="offset" if brackets is None else "bracket_start",
            incomplete_caption=(
                INCOMPLETE_CAPTION
                if brackets is None
                else "* dim: bracket not over for every customer of the cohort"
            ),
        )
        write_triangle(table, spec, output=common.output, protected_paths=inputs.paths)
        if plot and to_stdout:
            print_offset_chart(
                table,
                keys=metric_params.by,
                title=f"Retention by {common.period}s since {joined}, pooled over the cohorts shown",
            )
        raise_breaches(breaches)

    run(body, debug=common.debug)
