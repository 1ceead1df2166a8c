"""The ``retcalc`` command: one Typer app, one module per command."""

from __future__ import annotations

import typer

from retcalc import __version__
from retcalc.cli.calc import calc
from retcalc.cli.churn import churn
from retcalc.cli.clv import clv
from retcalc.cli.cohorts import cohorts
from retcalc.cli.compare import compare
from retcalc.cli.crr import crr
from retcalc.cli.customers import customers
from retcalc.cli.diff import diff
from retcalc.cli.explain import explain
from retcalc.cli.forecast import forecast
from retcalc.cli.help import Command, Group
from retcalc.cli.inspect import inspect
from retcalc.cli.kpis import kpis
from retcalc.cli.report import report
from retcalc.cli.retention import retention
from retcalc.cli.returns import returns
from retcalc.cli.rfm import rfm
from retcalc.cli.sample import sample
from retcalc.cli.survival import survival

app = typer.Typer(
    name="retcalc",
    cls=Group,
    help="Retention, churn and revenue retention from order exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"retcalc {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Retention, churn and revenue retention from order exports."""


# In the order of `retcalc --help` (a new command: its import above and its name here).
COMMANDS = (
    retention,
    churn,
    cohorts,
    compare,
    customers,
    forecast,
    returns,
    kpis,
    rfm,
    clv,
    survival,
    diff,
    report,
    explain,
    crr,
    inspect,
    sample,
)
for command in COMMANDS:
    app.command(cls=Command)(command)
app.add_typer(calc)  # a group: one subcommand a formula


def main() -> None:
    """Console-script entry point."""
    app()
