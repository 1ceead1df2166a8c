"""``retcalc calc``: the hand calculator (:mod:`retcalc.metrics.calc`), one subcommand a
formula, each printing one row in any output format; ``--explain`` prints the formula
filled in on stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from retcalc.cli.help import Command, Group
from retcalc.cli.options import Debug
from retcalc.cli.runner import emit, run
from retcalc.render import OutputFormat
from retcalc.validate import MAX_COUNT

calc = typer.Typer(
    name="calc",
    cls=Group,
    help="Retention formulas by hand, on numbers you already have (one row each).",
    no_args_is_help=True,
)

Fmt = Annotated[OutputFormat | None, typer.Option("--format", "-f", help="Output format.")]
Output = Annotated[
    Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write to this file.")
]
Explain = Annotated[
    bool, typer.Option("--explain", help="Print the formula filled in with your numbers (stderr).")
]


def _count(flag: str, text: str) -> Any:
    return typer.Option(flag, metavar="N", min=0, max=MAX_COUNT, help=text)


def _amount(flag: str, text: str) -> Any:
    return typer.Option(flag, metavar="AMOUNT", help=text)


def _show(
    name: str, values: dict[str, Any], fmt: Any, output: Any, explain: bool, debug: bool
) -> None:
    def body() -> None:
        from retcalc import api
        from retcalc.definitions import COLUMNS, Unit
        from retcalc.metrics.calc import explained

        table = api.calc(name, **values)
        if explain:
            for line in explained(name, table.row(0, named=True)):
                print(line, file=sys.stderr)
        emit(
            table,
            fmt=fmt,
            output=output,
            percent_columns=[c for c in table.columns if COLUMNS[c].unit is Unit.rate],
            title=f"calc {name}",
        )

    run(body, debug=debug)


@calc.command("churn", cls=Command)
def churn(
    start: Annotated[int, _count("--start", "Customers at the start of the period.")],
    lost: Annotated[int, _count("--lost", "Of those, customers lost by its end.")],
    fmt: Fmt = None,
    output: Output = None,
    explain: Explain = False,
    debug: Debug = False,
) -> None:
    """churn_rate = lost / start."""
    _show("churn", {"start": start, "lost": lost}, fmt, output, explain, debug)


@calc.command("nrr", cls=Command)
def nrr(
    start_revenue: Annotated[
        float, _amount("--start-revenue", "Revenue of the existing customers last period.")
    ],
    expansion: Annotated[float, _amount("--expansion", "Their revenue increases.")] = 0.0,
    contraction: Annotated[float, _amount("--contraction", "Their revenue decreases.")] = 0.0,
    churned: Annotated[
        float, _amount("--churned", "Last period's revenue of the customers lost.")
    ] = 0.0,
    fmt: Fmt = None,
    output: Output = None,
    explain: Explain = False,
    debug: Debug = False,
) -> None:
    """nrr = (start + expansion - contraction - churned) / start, and grr without expansion."""
    values = {
        "start_revenue": start_revenue,
        "expansion": expansion,
        "contraction": contraction,
        "churned": churned,
    }
    _show("nrr", values, fmt, output, explain, debug)


@calc.command("clv", cls=Command)
def clv(
    aov: Annotated[float, _amount("--aov", "Average order value.")],
    frequency: Annotated[float, _amount("--frequency", "Purchases per customer and year.")],
    lifetime: Annotated[float, _amount("--lifetime", "Expected customer lifetime, in years.")],
    margin: Annotated[
        float, typer.Option("--margin", metavar="FRACTION", help="Gross margin, 0 to 1.")
    ] = 1.0,
    discount_rate: Annotated[
        float,
        typer.Option("--discount-rate", metavar="RATE", help="Yearly discount rate, e.g. 0.1."),
    ] = 0.0,
    fmt: Fmt = None,
    output: Output = None,
    explain: Explain = False,
    debug: Debug = False,
) -> None:
    """clv = aov x frequency x margin x discounted lifetime, as clv --model formula."""
    values = {
        "aov": aov,
        "frequency": frequency,
        "margin": margin,
        "lifetime": lifetime,
        "discount_rate": discount_rate,
    }
    _show("clv", values, fmt, output, explain, debug)


@calc.command("nps", cls=Command)
def nps(
    promoters: Annotated[int, _count("--promoters", "Responses scoring 9-10.")],
    passives: Annotated[int, _count("--passives", "Responses scoring 7-8.")],
    detractors: Annotated[int, _count("--detractors", "Responses scoring 0-6.")],
    fmt: Fmt = None,
    output: Output = None,
    explain: Explain = False,
    debug: Debug = False,
) -> None:
    """nps = 100 x (promoters - detractors) / responses, in points."""
    values = {"promoters": promoters, "passives": passives, "detractors": detractors}
    _show("nps", values, fmt, output, explain, debug)


@calc.command("repeat-rate", cls=Command)
def repeat_rate(
    customers: Annotated[int, _count("--customers", "Customers with a purchase.")],
    repeat: Annotated[int, _count("--repeat", "Of those, customers with two or more.")],
    fmt: Fmt = None,
    output: Output = None,
    explain: Explain = False,
    debug: Debug = False,
) -> None:
    """repeat_purchase_rate = repeat / customers."""
    _show("repeat-rate", {"customers": customers, "repeat": repeat}, fmt, output, explain, debug)


@calc.command("return-rate", cls=Command)
def return_rate(
    sold: Annotated[float, _amount("--sold", "Units, orders or money sold.")],
    returned: Annotated[float, _amount("--returned", "Of those, how much came back.")],
    fmt: Fmt = None,
    output: Output = None,
    explain: Explain = False,
    debug: Debug = False,
) -> None:
    """return_rate = returned / sold."""
    _show("return-rate", {"sold": sold, "returned": returned}, fmt, output, explain, debug)
