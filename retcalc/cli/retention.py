"""``retcalc retention``: the retention table of SPEC §2.1/§2.2 per period."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from retcalc.cli import common as c
from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run, warn
from retcalc.engines import Level
from retcalc.errors import ThresholdCrossed
from retcalc.metrics.retention import RATE_COLUMNS, retention_table
from retcalc.render import OutputFormat, resolve_format
from retcalc.render.charts import print_sparklines


@data_command
def retention(
    common: Common,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot",
            help="Draw a compact chart of the rates under the table (terminal table output only).",
        ),
    ] = False,
) -> None:
    """Customers at the start and end of each period, new, retained, churned, reactivated, and the rates."""

    def body() -> None:
        metric_params = c.params(common)
        inputs = c.load(common, level=Level.days)
        with progress("Computing retention"):
            prep = c.prepare(common, inputs, metric_params, anonymous=True)
            table = retention_table(prep)
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
                title=f"Retention by {common.period} ({prep.basis} basis, window {metric_params.window})",
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
                title=f"Rates by {common.period}",
            )
        if crossed is not None:
            raise crossed

    run(body, debug=common.debug)
