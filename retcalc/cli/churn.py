"""``retcalc churn``: churn per period with revenue retention (SPEC §2.4)."""

from __future__ import annotations

from retcalc.cli import common as c
from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run
from retcalc.metrics.churn import RATE_COLUMNS, churn_table


@data_command
def churn(common: Common) -> None:
    """Churned customers, churn rate, NRR, GRR, lost revenue and the revenue bridge per period."""

    def body() -> None:
        metric_params = c.params(common)
        inputs = c.load(common, need_amount=True)
        with progress("Computing churn"):
            prep = c.prepare(common, inputs, metric_params)
            table = churn_table(prep)
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

    run(body, debug=common.debug)
