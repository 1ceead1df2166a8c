"""``retcalc churn``: churn per period with revenue retention (SPEC §2.4)."""

from __future__ import annotations

from typing import Annotated

import typer

from retcalc.cli.options import (
    CiResamples,
    Common,
    Confidence,
    ConventionOption,
    Seed,
    data_command,
)
from retcalc.cli.runner import note, progress, run
from retcalc.engines import Level


@data_command
def churn(
    common: Common,
    ci: Confidence = None,
    ci_resamples: CiResamples = 1000,
    seed: Seed = 0,
    convention: ConventionOption = None,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Draw a compact chart of churn rate, NRR and GRR under the table (terminal table output only).",
        ),
    ] = False,
) -> None:
    """Churned customers, churn rate, NRR, GRR, lost revenue and the revenue bridge per period."""
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.churn import RATE_COLUMNS, churn_columns
    from retcalc.metrics.conventions import convention_for, said

    def body() -> None:
        rules = convention_for(convention, "churn")
        metric_params = c.params(common, shows=churn_columns(rules), command="churn")
        inputs = c.load(common, need_amount=True, level=Level.days, anonymous=True, remote=True)
        with progress("Computing churn"):
            table = api.churn(
                inputs.orders_api(),
                ci=ci,
                ci_resamples=ci_resamples,
                seed=seed,
                customers=inputs.customers_api(),
                basis=common.basis,
                convention=convention,
                **c.metric_options(common),
            )
        if convention is not None:
            note(said(rules, "churn"))
        c.emit_with_sparklines(
            table,
            common,
            inputs,
            rates=RATE_COLUMNS,
            keys=metric_params.by,
            title=f"Churn and revenue retention by {common.period} (window {metric_params.window})",
            chart_title=f"Churn and revenue retention by {common.period}",
            plot=plot,
        )

    run(body, debug=common.debug)
