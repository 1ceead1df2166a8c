"""``retcalc retention``: the retention table of SPEC §2.1/§2.2 per period."""

from __future__ import annotations

from retcalc.cli import common as c
from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run
from retcalc.metrics.retention import RATE_COLUMNS, retention_table


@data_command
def retention(common: Common) -> None:
    """Customers at the start and end of each period, new, retained, churned, reactivated, and the rates."""

    def body() -> None:
        metric_params = c.params(common)
        inputs = c.load(common)
        with progress("Computing retention"):
            prep = c.prepare(common, inputs, metric_params)
            table = retention_table(prep)
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

    run(body, debug=common.debug)
