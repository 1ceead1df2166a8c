"""``retcalc compare``: significant differences of a share between groups or periods (SPEC §9)."""

from __future__ import annotations

from typing import Annotated

import typer

from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run
from retcalc.engines import Level

COMPARE = "Compare"
RATES = (
    "group_rate",
    "rest_rate",
    "a_rate",
    "b_rate",
    "difference",
    "difference_lo",
    "difference_hi",
)


@data_command
def compare(
    common: Common,
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            metavar="RATE",
            help="What to compare: a share (retention_rate, churn_rate, repeat_rate; a two-proportion test) or a revenue ratio (nrr, grr, aov, value_return_rate; a bootstrap over customers).",
            rich_help_panel=COMPARE,
        ),
    ] = "retention_rate",
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            metavar="LEVEL",
            help="Significance level: significant = Holm-adjusted p < alpha; intervals at 1 - alpha.",
            rich_help_panel=COMPARE,
        ),
    ] = 0.05,
    between: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--between",
            metavar="A B",
            help="Compare the share in period B with period A (2025-Q3, 2025-07, 2025 or a date in the period), per --by group if given.",
            rich_help_panel=COMPARE,
            show_default=False,
        ),
    ] = None,
    ci_resamples: Annotated[
        int,
        typer.Option(
            "--ci-resamples",
            metavar="N",
            min=1,
            max=100_000,
            help="Revenue ratios: resamples of the customers for the bootstrap.",
            rich_help_panel=COMPARE,
        ),
    ] = 1000,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="N",
            min=0,
            help="Revenue ratios: the bootstrap's random seed (said on stderr).",
            rich_help_panel=COMPARE,
        ),
    ] = 0,
) -> None:
    """Significant differences of a share: each --by group against the rest per period, or two periods (--between), with intervals and Holm-adjusted p-values."""
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.compare import COMPARE_COLUMNS
    from retcalc.metrics.retention import RETENTION_COLUMNS

    def body() -> None:
        api.check_compare(metric=metric, alpha=alpha, by=tuple(common.by or ()), between=between)
        metric_params = c.params(
            common, shows=(*RETENTION_COLUMNS, *COMPARE_COLUMNS), command="compare"
        )
        if metric in api.COMPARE_METRICS:
            inputs = c.load(common, level=Level.days, anonymous=True, revenue=False)
        else:  # a revenue ratio: read as its own command reads the orders
            level = {"aov": Level.orders, "value_return_rate": Level.lines}.get(metric, Level.days)
            inputs = c.load(common, need_amount=True, level=level, anonymous=True)
        with progress("Comparing"):
            table = api.compare(
                inputs.orders_api(),
                customers=inputs.customers_api(),
                basis=common.basis,
                metric=metric,
                alpha=alpha,
                between=between,
                ci_resamples=ci_resamples,
                seed=seed,
                **c.metric_options(common),
            )
        what = (
            f"periods {between[0]} and {between[1]}"
            if between
            else f"each {', '.join(metric_params.by)} against the rest"
        )
        emit(
            table,
            fmt=common.fmt,
            output=common.output,
            percent_columns=RATES if metric != "aov" else (),
            title=f"{metric}: {what}, by {common.period} (Holm-adjusted, alpha {alpha})",
            inputs=inputs.paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=tuple(metric_params.by) if between else ("period_start", *metric_params.by),
        )

    run(body, debug=common.debug)
