"""``retcalc diff``: the cells that changed between two runs, restated history, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retcalc.cli.options import Debug
from retcalc.cli.runner import emit, run
from retcalc.render import OutputFormat


def diff(
    old: Annotated[
        str,
        typer.Argument(
            metavar="OLD",
            help="The earlier run: a JSON report, or a command output (csv, tsv, json, ndjson, parquet) with its manifest.",
            show_default=False,
        ),
    ],
    new: Annotated[
        str,
        typer.Argument(metavar="NEW", help="The later run, of the same kind.", show_default=False),
    ],
    old_manifest: Annotated[
        str | None,
        typer.Option(
            "--old-manifest",
            metavar="FILE",
            help="OLD's manifest (default: OLD.manifest.json; a JSON report holds its own).",
        ),
    ] = None,
    new_manifest: Annotated[
        str | None,
        typer.Option(
            "--new-manifest",
            metavar="FILE",
            help="NEW's manifest (default: NEW.manifest.json; a JSON report holds its own).",
        ),
    ] = None,
    orders: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--orders",
            metavar="OLD_INPUT NEW_INPUT",
            help="The two runs' order files: name the orders added, removed or changed behind each restated cell.",
        ),
    ] = None,
    effects: Annotated[
        bool,
        typer.Option(
            "--effects",
            help="For --by outputs: per period and rate, the pooled rate's change split into rate and mix effects (instead of the cells).",
        ),
    ] = False,
    fail_on_restated: Annotated[
        bool,
        typer.Option(
            "--fail-on-restated",
            help="Exit 1 when a figure of a complete period changed (restated history).",
        ),
    ] = False,
    fmt: Annotated[
        OutputFormat | None, typer.Option("--format", "-f", help="Output format.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write to this file.")
    ] = None,
    debug: Debug = False,
) -> None:
    """The cells that changed between two runs (old, new, delta), the restated ones, and the parameters, definitions and inputs that differ (on stderr)."""

    def body() -> None:
        from retcalc import api
        from retcalc.errors import ThresholdCrossed

        result = api.diff(
            old,
            new,
            old_manifest=old_manifest,
            new_manifest=new_manifest,
            orders=orders,
            effects=effects,
        )
        for change in result.changes:
            typer.echo(f"retcalc: changed: {change}", err=True)
        for note in result.notes:
            typer.echo(f"retcalc: note: {note}", err=True)
        percent = ["rate_effect", "mix_effect"] if effects else []
        inputs = [Path(p) for p in (old, new, *(orders or ()))]
        emit(
            result.cells,
            fmt=fmt,
            output=output,
            percent_columns=percent,
            title=f"Changes from {old} to {new}",
            inputs=[p for p in inputs if p.exists()],
        )
        if fail_on_restated and result.restated:
            from retcalc.changes import restated_message

            raise ThresholdCrossed(restated_message(result))

    run(body, debug=debug)
