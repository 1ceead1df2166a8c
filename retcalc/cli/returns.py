"""``retcalc returns``: unit, value and order return rates per period (SPEC §2.6)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from retcalc.cli.options import RANGE, CiResamples, Common, Confidence, Seed, data_command
from retcalc.cli.runner import emit, progress, run, warn
from retcalc.engines import Level
from retcalc.errors import UsageError
from retcalc.validate import MAX_TOP


@data_command
def returns(
    common: Common,
    ci: Confidence = None,
    ci_resamples: CiResamples = 1000,
    seed: Seed = 0,
    returns_file: Annotated[
        str | None,
        typer.Option(
            "--returns",
            metavar="FILE",
            help="Separate returns file (order_id or customer_id, return_date, quantity, amount); - for stdin.",
            show_default=False,
        ),
    ] = None,
    by_return_date: Annotated[
        bool,
        typer.Option(
            "--by-return-date",
            help="Count a return in the period of its own date, not of the order it returns.",
            rich_help_panel=RANGE,
        ),
    ] = False,
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            metavar="N",
            min=1,
            max=MAX_TOP,
            help="Instead of periods: the N products (or --by customer_id) with the highest unit return rate over the range.",
            show_default=False,
        ),
    ] = None,
    min_units: Annotated[
        float,
        typer.Option(
            "--min-units",
            metavar="UNITS",
            min=0,
            help="With --top: leave out keys with fewer units sold than this.",
        ),
    ] = 20,
) -> None:
    """Unit, value and order return rates per period, or the products that are returned most (--top)."""
    from retcalc import api
    from retcalc.cli import common as c
    from retcalc.io.returns_file import load_returns
    from retcalc.metrics.returns import RATE_COLUMNS, TOP_KEYS

    def body() -> None:
        by = list(dict.fromkeys(common.by or ()))
        if top is not None and not by:
            by = ["product_id"]
        if top is not None and (len(by) != 1 or by[0] not in TOP_KEYS):
            raise UsageError(
                f"--top ranks --by product_id or --by customer_id, not --by {', '.join(by)}"
            )
        if returns_file == "-" and "-" in (common.orders, common.customers):
            raise UsageError("only one input can be read from stdin ('-')")
        chosen = dataclasses.replace(common, by=by)
        metric_params = c.params(chosen)
        # A large input is summed into pieces as it is read, unless a return may need
        # the customer of its order (a returns file, a customer key or dimension).
        whole = returns_file is not None or common.customers or "customer_id" in by
        # customer_id is always loaded; asking the loader for it as a dimension would load it twice.
        inputs = c.load(
            dataclasses.replace(chosen, by=[d for d in by if d != "customer_id"]),
            need_amount=True,
            level=Level.lines if whole else Level.pieces,
            # On Spark, the executors compute the table unless rows across orders are needed.
            remote=returns_file is None and ci is None and top is None,
        )
        paths = inputs.paths
        returns_frame = None
        if returns_file is not None:
            options = c.load_options(common)
            with progress(f"Reading {returns_file}"):
                loaded = load_returns(
                    returns_file,
                    config=options.config,
                    date_style=options.date_style,
                    encoding=options.encoding,
                    dimensions=by,
                    tz=options.tz,
                    decimal=options.decimal,
                    dedupe=options.dedupe,
                    latest=options.latest_date,
                )
            for message in loaded.warnings:
                warn(message)
            returns_frame = loaded.frame.lazy()
            if loaded.table.path is not None:
                paths = [*paths, loaded.table.path.resolve()]
        with progress("Computing returns"):
            table = api.returns(
                inputs.orders_api(),
                ci=ci,
                ci_resamples=ci_resamples,
                seed=seed,
                returns=returns_frame,
                period=common.period,
                start=common.start,
                end=common.end,
                as_of=common.as_of,
                by=by,
                by_return_date=by_return_date,
                top=top,
                min_units=min_units,
            )
        if top is None:
            title = f"Returns by {common.period}"
        else:
            title = f"Top {top} {by[0]} by unit return rate (at least {min_units:g} units sold)"
        emit(
            table,
            fmt=common.fmt,
            output=common.output,
            percent_columns=RATE_COLUMNS,
            title=title + (", by return date" if by_return_date else ""),
            inputs=paths,
            excel_safe=common.excel_safe,
            fail_if=common.fail_if or (),
            keys=metric_params.by,
        )

    run(body, debug=common.debug)
