"""``retcalc customers``: the customers behind a period's retention figures (SPEC §10)."""

from __future__ import annotations

from typing import Annotated

import typer

from retcalc.cli.options import Common, data_command
from retcalc.cli.runner import emit, progress, run
from retcalc.engines import Level

PANEL = "Customers"


@data_command
def customers(
    common: Common,
    period_start: Annotated[
        str,
        typer.Option(
            "--period-start",
            metavar="DATE",
            help="A day of the period to list (YYYY-MM-DD): the --period that starts on or contains it.",
            rich_help_panel=PANEL,
            show_default=False,
        ),
    ],
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Keep the customers with this status (repeatable): new, retained, churned, reactivated, lapsed, not_yet_acquired, returning, new_lost.",
            rich_help_panel=PANEL,
        ),
    ] = None,
    with_clv: Annotated[
        bool,
        typer.Option(
            "--with-clv",
            help="Add p_alive, expected_purchases and clv (BG/NBD + Gamma-Gamma over 1 year, fitted on the history to the period end).",
            rich_help_panel=PANEL,
        ),
    ] = False,
) -> None:
    """Each customer's status in one period (new, retained, churned, reactivated, lapsed, not yet acquired), as retention counts them.

    One row per customer (per --by group) with the flags active_at_start,
    active_at_end, is_returning and is_new_lost, and first_order, last_order,
    orders and revenue up to the period end. Counting the rows of a status
    gives retention's figure for the same period. CSV when piped:
    retcalc customers orders.csv --period-start 2025-03-01 --status churned > winback.csv
    """
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.metrics.customers import CLV_COLUMNS, CUSTOMER_COLUMNS, check_statuses

    def body() -> None:
        wanted = check_statuses(status or ())
        metric_params = c.params(
            common, shows=(*CUSTOMER_COLUMNS, *CLV_COLUMNS, "customer_id"), command="customers"
        )
        inputs = c.load(common, level=Level.orders)
        with progress("Finding each customer's status"):
            table = api.customers(
                inputs.orders_api(),
                customers=inputs.customers_api(),
                period_start=period_start,
                basis=common.basis,
                status=wanted,
                with_clv=with_clv,
                **c.metric_options(common),
            )
        basis = api.basis_of(inputs.customers_api(), common.basis)
        when = table["period_start"][0] if table.height else period_start
        emit(
            table,
            fmt=common.fmt,
            output=common.output,
            percent_columns=("p_alive",),
            title=f"Customers in the {common.period} from {when} ({basis} basis, "
            f"window {metric_params.window})",
            inputs=inputs.paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=metric_params.by,
        )

    run(body, debug=common.debug)
