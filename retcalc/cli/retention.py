"""``retcalc retention``: the retention table of SPEC §2.1/§2.2 per period."""

from __future__ import annotations

from typing import Annotated

import typer

from retcalc.cli.options import Common, Confidence, ConventionOption, data_command
from retcalc.cli.runner import note, progress, run
from retcalc.engines import Level


@data_command
def retention(
    common: Common,
    ci: Confidence = None,
    convention: ConventionOption = None,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Draw a compact chart of the rates under the table (terminal table output only).",
        ),
    ] = False,
) -> None:
    """Customers at the start and end of each period, new, retained, churned, reactivated, and the rates."""
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.conventions import convention_for, said
    from retcalc.metrics.retention import RATE_COLUMNS, RETENTION_COLUMNS

    def body() -> None:
        rules = convention_for(convention, "retention")
        metric_params = c.params(common, shows=RETENTION_COLUMNS, command="retention")
        inputs = c.load(common, level=Level.days, anonymous=True, revenue=False, remote=True)
        with progress("Computing retention"):
            table = api.retention(
                inputs.orders_api(),
                ci=ci,
                customers=inputs.customers_api(),
                basis=common.basis,
                convention=convention,
                **c.metric_options(common),
            )
        if convention is not None:
            note(said(rules, "retention"))
        basis = api.basis_of(inputs.customers_api(), common.basis)
        c.emit_with_sparklines(
            table,
            common,
            inputs,
            rates=RATE_COLUMNS,
            keys=metric_params.by,
            title=f"Retention by {common.period} ({basis} basis, window {metric_params.window})",
            chart_title=f"Rates by {common.period}",
            plot=plot,
        )

    run(body, debug=common.debug)
