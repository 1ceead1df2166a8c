"""``retcalc sample``: write a realistic, reproducible data set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retcalc.cli.options import Debug
from retcalc.cli.runner import progress, run
from retcalc.errors import UsageError
from retcalc.validate import MAX_COUNT, parse_day


def sample(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="DIRECTORY", help="Directory to write the files into."
        ),
    ],
    customers: Annotated[
        int, typer.Option("--customers", metavar="N", max=MAX_COUNT, help="Number of customers.")
    ] = 3000,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Random seed (same seed, same files).")
    ] = 42,
    start: Annotated[
        str, typer.Option("--start", metavar="DATE", help="First day of the data (YYYY-MM-DD).")
    ] = "2023-01-01",
    years: Annotated[
        float,
        typer.Option("--years", metavar="YEARS", max=100, help="Length of the history in years."),
    ] = 3.0,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the files if the directory holds them.")
    ] = False,
    debug: Debug = False,
) -> None:
    """Write customers.csv, orders.csv, orders.parquet and returns.csv into a directory.

    A directory already holding any of them is refused unless --force.
    """
    from retcalc.sample import check_sample_directory, generate, write_sample

    def body() -> None:
        if customers <= 0:
            raise UsageError("--customers must be at least 1")
        if years <= 0:
            raise UsageError("--years must be positive")
        first = parse_day(start, "--start")
        if output.exists() and not output.is_dir():
            raise UsageError(f"--output {output}: exists and is not a directory")
        check_sample_directory(output, force=force)  # before the work
        with progress(f"Generating {customers} customers"):
            data = generate(customers=customers, seed=seed, start=first, years=years)
            paths = write_sample(data, output, force=force)
        for path in paths:
            typer.echo(str(path), err=True)

    run(body, debug=debug)
