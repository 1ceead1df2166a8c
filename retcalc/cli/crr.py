"""``retcalc crr``: the classic retention formula on three numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retcalc.cli.options import Debug
from retcalc.cli.runner import emit, run
from retcalc.render import OutputFormat
from retcalc.validate import MAX_COUNT


def crr(
    start: Annotated[
        int,
        typer.Option(
            "--start", metavar="N", max=MAX_COUNT, help="Customers at the start of the period (CS)."
        ),
    ],
    new: Annotated[
        int,
        typer.Option(
            "--new", metavar="N", max=MAX_COUNT, help="New customers acquired during it (CN)."
        ),
    ],
    end: Annotated[
        int,
        typer.Option(
            "--end", metavar="N", max=MAX_COUNT, help="Customers at the end of the period (CE)."
        ),
    ],
    fmt: Annotated[
        OutputFormat | None, typer.Option("--format", "-f", help="Output format.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write to this file.")
    ] = None,
    fail_if: Annotated[
        list[str] | None, typer.Option("--fail-if", metavar="CONDITION", help='e.g. "crr < 0.8"')
    ] = None,
    debug: Debug = False,
) -> None:
    """Customer retention rate = (CE - CN) / CS, from counts you already have."""

    def body() -> None:
        import polars as pl

        from retcalc.metrics.crr import classic_crr

        rate = classic_crr(start=start, new=new, end=end)
        table = pl.DataFrame(
            {
                "customers_start": [start],
                "new_customers": [new],
                "customers_end": [end],
                "crr": [rate],
            }
        )
        emit(
            table,
            fmt=fmt,
            output=output,
            percent_columns=["crr"],
            title="(CE - CN) / CS",
            fail_if=fail_if or (),
        )

    run(body, debug=debug)
