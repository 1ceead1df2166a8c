"""``retcalc churn``: churn per period with revenue retention (SPEC §2.4)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from retcalc.cli import common as c
from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run, warn
from retcalc.engines import Level
from retcalc.errors import ThresholdCrossed
from retcalc.metrics.churn import RATE_COLUMNS, churn_table
from retcalc.render import OutputFormat, resolve_format
from retcalc.render.charts import print_sparklines


@data_command
def churn(
    common: Common,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Draw a compact chart of churn rate, NRR and GRR under the table (terminal table output only).",
        ),
    ] = False,
) -> None:
    """Churned customers, churn rate, NRR, GRR, lost revenue and the revenue bridge per period."""

    def body() -> None:
        metric_params = c.params(common)
        inputs = c.load(common, need_amount=True, level=Level.days)
        with progress("Computing churn"):
            prep = c.prepare(common, inputs, metric_params, anonymous=True)
            table = churn_table(prep)
        chosen = resolve_format(common.fmt, common.output, stdout_is_tty=sys.stdout.isatty())
        to_stdout = common.output is None or str(common.output) == "-"
        draw = plot and chosen is OutputFormat.table and to_stdout
        if plot and not draw:
            warn("--plot draws under a table on standard output; no chart with this output")
        crossed: ThresholdCrossed | None = None
        try:
            emit(
                table,
                fmt=common.fmt,
                output=common.output,
                percent_columns=RATE_COLUMNS,
                title=f"Churn and revenue retention by {common.period} (window {metric_params.window})",
                inputs=inputs.paths,
                excel_safe=common.excel_safe,
                fail_if=common.fail_if or (),
                keys=metric_params.by,
            )
        except ThresholdCrossed as exc:
            crossed = exc  # the chart belongs under the table all the same
        if draw:
            print_sparklines(
                table,
                columns=RATE_COLUMNS,
                keys=metric_params.by,
                title=f"Churn and revenue retention by {common.period}",
            )
        if crossed is not None:
            raise crossed

    run(body, debug=common.debug)
