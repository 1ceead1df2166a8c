"""``retcalc rfm``: recency, frequency and monetary scores with named segments."""

from __future__ import annotations

from typing import Annotated

import typer

from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run
from retcalc.engines import Level
from retcalc.errors import UsageError
from retcalc.metrics.choices import Basis

#: Shared options that rfm refuses rather than ignore.
NOT_USED = {
    "period": "RFM scores every customer once, as of --as-of (no periods); use --start and "
    "--as-of to choose the days scored",
    "active_window": "recency is measured in days to --as-of, not against an activity window",
}


@data_command
def rfm(
    common: Common,
    ctx: typer.Context,
    per_customer: Annotated[
        bool,
        typer.Option(
            "--per-customer",
            help="One row per customer (scores and segment, for CRM import) instead of the segment summary.",
        ),
    ] = False,
) -> None:
    """RFM segments: customers, share and revenue per segment (Champions ... Lost), or per-customer scores.

    Scores are quintiles (1-5) of recency, purchase days and net revenue as of
    --as-of (default: the day after the last purchase). rfm has no periods and
    no activity window: --period and --active-window are refused.
    """
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.rfm import (
        CUSTOMER_COLUMNS,
        RATE_COLUMNS,
        SUMMARY_COLUMNS,
    )

    def body() -> None:
        c.refuse_given(ctx, "rfm", NOT_USED)
        shown = CUSTOMER_COLUMNS if per_customer else SUMMARY_COLUMNS
        metric_params = c.params(common, shows=shown, command="rfm")
        if common.basis is Basis.subscription:
            raise UsageError("rfm scores purchases; drop --basis subscription")
        # A large input is read in batches, summed per customer and day; the segment
        # summary shows no customer id, so its customers may be hashed ids.
        # On Spark, the rows stay on the executors (the summary is computed there), and
        # --per-customer with a Parquet --output is written by them; else it collects.
        write_to = c.executors_write(common, per_customer)
        if write_to is not None:
            c.write_on_executors(common, write_to, api.rfm, Level.days, "RFM scores")
            return
        inputs = c.load(
            common,
            need_amount=True,
            level=Level.days,
            anonymous=not per_customer,
            remote=True,
        )
        with progress("Scoring customers"):
            # The orders handed over, so that the scoring lets their rows go once read.
            table = api.rfm(
                inputs.orders_api(hand_over=True),
                per_customer=per_customer,
                **c.range_options(common),
            )
        as_of = f" as of {metric_params.as_of}" if metric_params.as_of else ""
        emit(
            table,
            fmt=common.fmt,
            output=common.output,
            percent_columns=RATE_COLUMNS if not per_customer else (),
            title=("RFM scores" if per_customer else "RFM segments") + as_of,
            inputs=inputs.paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=metric_params.by,
        )

    run(body, debug=common.debug)
